//! \Recent (RFC 3501 §2.3.2), as Dovecot keeps it: a message is recent in
//! exactly one IMAP session, the first read-write one (SELECT) to learn of
//! it. Each mailbox row holds the first UID no session has claimed
//! (`first_unclaimed_uid`); a session claims the UIDs up to the last one it
//! knows, atomically, and gets the range that became its own. EXAMINE only
//! looks (`claim: false`), and STATUS RECENT counts the messages from that
//! UID on (`imap.rs`), without claiming.
//!
//! A claim is committed with `synchronous=NORMAL`: atomic, and synced by
//! the next durable commit of the account. Losing one to a power failure
//! only makes its messages \Recent once more, so it need not wait for an
//! fsync as deliveries do.

use rusqlite::{Connection, OptionalExtension, TransactionBehavior};

use crate::db::relaxed;
use crate::error::{Result, StoreError};
use crate::store::Store;

/// The unclaimed UIDs of a mailbox up to `up_to`: (first, last), inclusive.
fn unclaimed(conn: &Connection, mailbox_id: i64, up_to: u32) -> Result<Option<(u32, u32)>> {
    let (first, uidnext): (u32, u32) = conn
        .prepare_cached("SELECT first_unclaimed_uid, uidnext FROM mailboxes WHERE id = ?1")?
        .query_row([mailbox_id], |r| Ok((r.get(0)?, r.get(1)?)))
        .optional()?
        .ok_or_else(|| StoreError::not_found(format!("no mailbox {mailbox_id}")))?;
    // UIDs from uidnext on do not exist yet: they are not claimed early.
    let last = up_to.min(uidnext.saturating_sub(1));
    Ok((first >= 1 && first <= last).then_some((first, last)))
}

impl Store {
    /// Claims for the asking session the messages of a mailbox with a UID
    /// up to `up_to` that no session has claimed yet; with `claim` false
    /// only tells which those are. Returns their UID range (first, last),
    /// inclusive; None when there is none.
    pub fn recent_claim(
        &self,
        account: &str,
        mailbox_id: i64,
        up_to: u32,
        claim: bool,
    ) -> Result<Option<(u32, u32)>> {
        let acc = self.account(account)?;
        // Most SELECTs find nothing to claim: no write lock for them.
        let seen = acc.read(|c| unclaimed(c, mailbox_id, up_to))?;
        if !claim || seen.is_none() {
            return Ok(seen);
        }
        acc.write(|conn, _| {
            relaxed(conn, |conn| {
                let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
                let Some((first, last)) = unclaimed(&tx, mailbox_id, up_to)? else {
                    return Ok(None);
                };
                tx.prepare_cached("UPDATE mailboxes SET first_unclaimed_uid = ?1 WHERE id = ?2")?
                    .execute(rusqlite::params![i64::from(last) + 1, mailbox_id])?;
                tx.commit()?;
                Ok(Some((first, last)))
            })
        })
    }
}
