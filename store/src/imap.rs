//! What IMAP sessions ask of a mailbox beyond delivery: one mailbox's
//! counts (STATUS), SELECT in pages, subscriptions, creation with a
//! special-use attribute (RFC 6154 CREATE-SPECIAL-USE), message metadata
//! and content by UID, and the UIDs expunged since a modseq (RFC 7162
//! §3.2.5.2 VANISHED (EARLIER)).

use ipc::store::{MAX_PAGE, MAX_SELECT_RANGES, MailboxInfo, MessageMeta, SelectPage};
use rusqlite::{Connection, OptionalExtension, TransactionBehavior};

use crate::counters;
use crate::error::{Result, StoreError};
use crate::files;
use crate::flags::FlagSet;
use crate::mailbox::require_mailbox;
use crate::messages::MessageFile;
use crate::names;
use crate::store::Store;

/// RFC 6154 §2 attributes a mailbox may be created with.
const SPECIAL_USES: &[&str] = &[
    "\\All",
    "\\Archive",
    "\\Drafts",
    "\\Flagged",
    "\\Junk",
    "\\Sent",
    "\\Trash",
];

/// A message's content as stored: prefix, file and structure.
#[derive(Debug)]
pub struct MessageContent {
    pub file: MessageFile,
    pub parsed: Option<Vec<u8>>,
}

/// The columns [`info_row`] reads, of `mailboxes m`: the counts kept in
/// the row (counters.rs) and the messages not yet claimed as \Recent (an
/// index range of `messages_meta`).
pub(crate) const INFO_COLUMNS: &str = "m.id, m.name, m.special_use, m.uidvalidity, m.uidnext,
     m.modseq, m.msg_count, m.unseen_count, m.msg_size, m.deleted_count,
     (SELECT COUNT(*) FROM messages x
      WHERE x.mailbox_id = m.id AND x.expunged = 0 AND x.uid >= m.first_unclaimed_uid)";

/// A count column; a negative value (never written) reads as 0.
fn count(r: &rusqlite::Row<'_>, i: usize) -> rusqlite::Result<u64> {
    Ok(u64::try_from(r.get::<_, i64>(i)?).unwrap_or(0))
}

/// A mailbox from the [`INFO_COLUMNS`] of a row.
pub(crate) fn info_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<MailboxInfo> {
    Ok(MailboxInfo {
        id: r.get(0)?,
        name: r.get(1)?,
        special_use: r.get(2)?,
        uidvalidity: r.get(3)?,
        uidnext: r.get(4)?,
        highest_modseq: r.get(5)?,
        messages: count(r, 6)?,
        unseen: count(r, 7)?,
        size: count(r, 8)?,
        deleted: count(r, 9)?,
        recent: count(r, 10)?,
    })
}

/// Counts of one mailbox by id.
pub(crate) fn mailbox_info(conn: &Connection, mailbox_id: i64) -> Result<Option<MailboxInfo>> {
    let row = conn
        .prepare_cached(&format!(
            "SELECT {INFO_COLUMNS} FROM mailboxes m WHERE m.id = ?1"
        ))?
        .query_row([mailbox_id], info_row)
        .optional()?;
    Ok(row)
}

fn meta_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<MessageMeta> {
    let flags = FlagSet::from_columns(r.get(2)?, &r.get::<_, String>(3)?);
    Ok(MessageMeta {
        uid: r.get(0)?,
        modseq: r.get(1)?,
        flags: flags.to_wire(),
        size: r.get(4)?,
        received: r.get(5)?,
        save_date: r.get(6)?,
    })
}

/// Adds `uid` to ascending `ranges`; false when that needs a new range and
/// there are `limit` already.
fn push_uid(ranges: &mut Vec<(u32, u32)>, uid: u32, limit: usize) -> bool {
    if let Some((_, last)) = ranges.last_mut()
        && last.checked_add(1) == Some(uid)
    {
        *last = uid;
    } else if ranges.len() == limit {
        return false;
    } else {
        ranges.push((uid, uid));
    }
    true
}

/// The UIDs above `after_uid` of a mailbox's messages as at most `limit`
/// ranges, from an index scan of them; true when more follow.
fn live_ranges(
    conn: &Connection,
    mailbox_id: i64,
    after_uid: u32,
    limit: usize,
) -> Result<(Vec<(u32, u32)>, bool)> {
    let mut stmt = conn.prepare_cached(
        "SELECT uid FROM messages
         WHERE mailbox_id = ?1 AND expunged = 0 AND uid > ?2 ORDER BY uid",
    )?;
    let mut rows = stmt.query(rusqlite::params![mailbox_id, after_uid])?;
    let mut ranges = Vec::new();
    while let Some(row) = rows.next()? {
        if !push_uid(&mut ranges, row.get(0)?, limit) {
            return Ok((ranges, true));
        }
    }
    Ok((ranges, false))
}

/// The UIDs of all of a mailbox's messages as ranges, from its expunged
/// rows instead of its messages: every UID below UIDNEXT has a row, live
/// or kept as a tombstone (rows are removed only with their mailbox), so
/// the live ones are the gaps between tombstones. Used when there are
/// fewer tombstones than messages: a mailbox without expunges is then
/// one range read in no time, whatever its size. None (the caller scans
/// the messages) when the ranges are more than `limit` or their count is
/// not the mailbox's message count, as it is when the invariant holds.
fn ranges_between_tombstones(
    conn: &Connection,
    mailbox: &MailboxInfo,
    limit: usize,
) -> Result<Option<Vec<(u32, u32)>>> {
    let last = u64::from(mailbox.uidnext.saturating_sub(1));
    if last < mailbox.messages || last - mailbox.messages >= mailbox.messages {
        return Ok(None);
    }
    let mut stmt = conn.prepare_cached(
        "SELECT uid FROM messages WHERE mailbox_id = ?1 AND expunged = 1 ORDER BY uid",
    )?;
    let mut rows = stmt.query([mailbox.id])?;
    let mut ranges: Vec<(u32, u32)> = Vec::new();
    let mut next: u32 = 1;
    let end = mailbox.uidnext.saturating_sub(1);
    while let Some(row) = rows.next()? {
        let gone: u32 = row.get(0)?;
        if gone > next {
            if ranges.len() == limit {
                return Ok(None);
            }
            ranges.push((next, gone - 1));
        }
        next = next.max(gone.saturating_add(1));
    }
    if next <= end {
        if ranges.len() == limit {
            return Ok(None);
        }
        ranges.push((next, end));
    }
    let count: u64 = ranges.iter().map(|&(a, b)| u64::from(b - a) + 1).sum();
    if count != mailbox.messages {
        tracing::warn!(
            mailbox = mailbox.id,
            count,
            messages = mailbox.messages,
            "UIDs between tombstones do not match the message count; scanning the messages"
        );
        return Ok(None);
    }
    Ok(Some(ranges))
}

// The partial index `messages_unseen` (migration 3) and the first-unseen
// query spell \Seen as the literal 1.
const _: () = assert!(crate::flags::SEEN == 1);

/// Requested UIDs at most this far apart are read in one range scan
/// (`message_metas`): cheaper than a lookup each, and wasting at most this
/// many rows per gap.
const MAX_SCAN_GAP: u32 = 32;

/// The UIDs of `wanted` (ascending) grouped into scans: (first, last).
fn scans(wanted: &[u32]) -> Vec<(u32, u32)> {
    let mut out: Vec<(u32, u32)> = Vec::new();
    for &uid in wanted {
        match out.last_mut() {
            Some((_, last)) if uid.saturating_sub(*last) <= MAX_SCAN_GAP => *last = uid,
            _ => out.push((uid, uid)),
        }
    }
    out
}

const META_COLUMNS: &str = "uid, modseq, flags, keywords, size, received, save_date";

impl Store {
    /// Creates a mailbox (and missing parents) with an optional RFC 6154
    /// attribute.
    pub fn mailbox_create_special(
        &self,
        account: &str,
        name: &str,
        special_use: Option<&str>,
    ) -> Result<i64> {
        let special = special_use
            .map(|s| {
                SPECIAL_USES
                    .iter()
                    .find(|k| k.eq_ignore_ascii_case(s))
                    .copied()
                    .ok_or_else(|| StoreError::invalid(format!("unknown special-use {s}")))
            })
            .transpose()?;
        self.mailbox_create_with(account, name, special)
    }

    /// One mailbox's counts (RFC 9051 §6.3.11 STATUS).
    pub fn mailbox_status(&self, account: &str, name: &str) -> Result<MailboxInfo> {
        let name = names::mailbox_name(name)?;
        let acc = self.account(account)?;
        acc.read(|c| {
            let (id, _) = require_mailbox(c, account, &name)?;
            mailbox_info(c, id)?.ok_or_else(|| StoreError::not_found(format!("no mailbox {name}")))
        })
    }

    /// One page of a SELECT (RFC 9051 §6.3.2): the mailbox with its
    /// counts, keywords, first unseen and first unclaimed UID, and the
    /// UIDs above `after_uid` of its messages as at most `limit` ranges
    /// (≤ [`MAX_SELECT_RANGES`]), from one read transaction. Reads the
    /// mailbox row, one index entry per message and, for the first
    /// unseen, one entry of the partial index `messages_unseen`.
    pub fn mailbox_select(
        &self,
        account: &str,
        name: &str,
        after_uid: u32,
        limit: u32,
    ) -> Result<SelectPage> {
        let name = names::mailbox_name(name)?;
        let limit = limit.clamp(1, MAX_SELECT_RANGES) as usize;
        let acc = self.account(account)?;
        acc.read(|c| {
            let tx = c.unchecked_transaction()?;
            let (id, _) = require_mailbox(&tx, account, &name)?;
            let mailbox = mailbox_info(&tx, id)?
                .ok_or_else(|| StoreError::not_found(format!("no mailbox {name}")))?;
            let (keywords, first_unclaimed_uid): (String, u32) = tx
                .prepare_cached(
                    "SELECT keywords, first_unclaimed_uid FROM mailboxes WHERE id = ?1",
                )?
                .query_row([id], |r| Ok((r.get(0)?, r.get(1)?)))?;
            let first_unseen = if mailbox.unseen == 0 {
                None
            } else {
                tx.prepare_cached(
                    "SELECT uid FROM messages INDEXED BY messages_unseen
                     WHERE mailbox_id = ?1 AND expunged = 0 AND (flags & 1) = 0
                     ORDER BY uid LIMIT 1",
                )?
                .query_row([id], |r| r.get(0))
                .optional()?
            };
            let gaps = (after_uid == 0)
                .then(|| ranges_between_tombstones(&tx, &mailbox, limit))
                .transpose()?
                .flatten();
            let (uids, more) = match gaps {
                Some(uids) => (uids, false),
                None => live_ranges(&tx, id, after_uid, limit)?,
            };
            tx.finish()?;
            Ok(SelectPage {
                mailbox,
                uids,
                more,
                first_unseen,
                keywords: counters::keyword_list(&keywords),
                first_unclaimed_uid,
            })
        })
    }

    /// Metadata of those of `uids` that exist, ascending by UID. Runs of
    /// close UIDs (`1:*` is one) are read with one range scan each.
    pub fn message_metas(
        &self,
        account: &str,
        mailbox_id: i64,
        uids: &[u32],
    ) -> Result<Vec<MessageMeta>> {
        if uids.len() > MAX_PAGE as usize {
            return Err(StoreError::invalid(format!(
                "more than {MAX_PAGE} UIDs in one request"
            )));
        }
        let mut wanted = uids.to_vec();
        wanted.sort_unstable();
        wanted.dedup();
        let acc = self.account(account)?;
        acc.read(|c| {
            let tx = c.unchecked_transaction()?;
            let mut out = Vec::with_capacity(wanted.len());
            {
                let mut stmt = tx.prepare_cached(&format!(
                    "SELECT {META_COLUMNS} FROM messages
                     WHERE mailbox_id = ?1 AND expunged = 0 AND uid BETWEEN ?2 AND ?3
                     ORDER BY uid"
                ))?;
                for (first, last) in scans(&wanted) {
                    let rows =
                        stmt.query_map(rusqlite::params![mailbox_id, first, last], meta_row)?;
                    for m in rows {
                        let m = m?;
                        if wanted.binary_search(&m.uid).is_ok() {
                            out.push(m);
                        }
                    }
                }
            }
            tx.finish()?;
            Ok(out)
        })
    }

    /// Metadata of the messages with a modseq above `since` and a UID above
    /// `after_uid`, ascending by UID, at most [`MAX_PAGE`] (RFC 7162
    /// §3.2.5.1: what changed since the client's modseq).
    pub fn messages_changed(
        &self,
        account: &str,
        mailbox_id: i64,
        since: i64,
        after_uid: u32,
    ) -> Result<Vec<MessageMeta>> {
        let acc = self.account(account)?;
        acc.read(|c| {
            let tx = c.unchecked_transaction()?;
            if mailbox_info(&tx, mailbox_id)?.is_none() {
                return Err(StoreError::not_found(format!("no mailbox {mailbox_id}")));
            }
            let metas = {
                let mut stmt = tx.prepare_cached(&format!(
                    "SELECT {META_COLUMNS} FROM messages
                     WHERE mailbox_id = ?1 AND expunged = 0 AND modseq > ?2 AND uid > ?3
                     ORDER BY uid LIMIT ?4"
                ))?;
                let rows = stmt.query_map(
                    rusqlite::params![mailbox_id, since, after_uid, MAX_PAGE],
                    meta_row,
                )?;
                rows.collect::<rusqlite::Result<Vec<_>>>()?
            };
            tx.finish()?;
            Ok(metas)
        })
    }

    /// A message's content; None when it does not exist (expunged).
    pub fn message_content(
        &self,
        account: &str,
        mailbox_id: i64,
        uid: u32,
    ) -> Result<Option<MessageContent>> {
        let acc = self.account(account)?;
        type Row = (i64, Vec<u8>, u64, Option<Vec<u8>>);
        let row: Option<Row> = acc.read(|c| {
            Ok(c.prepare_cached(
                "SELECT id, msg_prefix, size, parsed FROM messages
                 WHERE mailbox_id = ?1 AND uid = ?2 AND expunged = 0",
            )?
            .query_row(rusqlite::params![mailbox_id, uid], |r| {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?))
            })
            .optional()?)
        })?;
        let Some((id, prefix, size, parsed)) = row else {
            return Ok(None);
        };
        let path = files::msg_path(&acc.msg_dir, id);
        let file = match std::fs::File::open(&path) {
            Ok(f) => f,
            // Expunged between the query and the open.
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(StoreError::io(format!("open {}", path.display()), e)),
        };
        Ok(Some(MessageContent {
            file: MessageFile { prefix, file, size },
            parsed,
        }))
    }

    /// A mailbox's highest modseq: the modseq of the last change event
    /// about its messages.
    pub fn mailbox_modseq(&self, account: &str, mailbox_id: i64) -> Result<i64> {
        let acc = self.account(account)?;
        acc.read(|c| {
            c.prepare_cached("SELECT modseq FROM mailboxes WHERE id = ?1")?
                .query_row([mailbox_id], |r| r.get(0))
                .optional()?
                .ok_or_else(|| StoreError::not_found(format!("no mailbox {mailbox_id}")))
        })
    }

    /// Keeps the structure computed for a message delivered without one.
    pub fn message_parsed_set(
        &self,
        account: &str,
        mailbox_id: i64,
        uid: u32,
        parsed: &[u8],
    ) -> Result<()> {
        if parsed.len() > crate::store::MAX_PARSED_SIZE {
            return Err(StoreError::invalid("message structure too large"));
        }
        let acc = self.account(account)?;
        acc.write(|conn, _| {
            conn.execute(
                "UPDATE messages SET parsed = ?1 WHERE mailbox_id = ?2 AND uid = ?3",
                rusqlite::params![parsed, mailbox_id, uid],
            )?;
            Ok(())
        })
    }

    /// UIDs expunged with a modseq above `since`, ascending.
    pub fn vanished(&self, account: &str, mailbox_id: i64, since: i64) -> Result<Vec<u32>> {
        let acc = self.account(account)?;
        acc.read(|c| {
            let mut stmt = c.prepare_cached(
                "SELECT uid FROM messages
                 WHERE mailbox_id = ?1 AND expunged = 1 AND modseq > ?2 ORDER BY uid",
            )?;
            let rows = stmt.query_map(rusqlite::params![mailbox_id, since], |r| r.get(0))?;
            Ok(rows.collect::<rusqlite::Result<_>>()?)
        })
    }

    /// Subscribes to or unsubscribes from a name (RFC 9051 §6.3.7: the name
    /// need not exist).
    pub fn subscription_set(&self, account: &str, name: &str, subscribed: bool) -> Result<()> {
        let name = names::mailbox_name(name)?;
        let acc = self.account(account)?;
        acc.write(|conn, _| {
            let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
            if subscribed {
                tx.execute(
                    "INSERT OR IGNORE INTO subscriptions (name) VALUES (?1)",
                    [&name],
                )?;
            } else {
                tx.execute("DELETE FROM subscriptions WHERE name = ?1", [&name])?;
            }
            tx.commit()?;
            Ok(())
        })
    }
}
