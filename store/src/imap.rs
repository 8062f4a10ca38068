//! What IMAP sessions ask of a mailbox beyond delivery: one mailbox's
//! counts (STATUS), SELECT in pages, subscriptions, creation with a
//! special-use attribute (RFC 6154 CREATE-SPECIAL-USE), message metadata
//! and content by UID, and the UIDs expunged since a modseq (RFC 7162
//! §3.2.5.2 VANISHED (EARLIER)).

use ipc::store::{MAX_PAGE, MailboxInfo, MessageMeta};
use rusqlite::{Connection, OptionalExtension, TransactionBehavior};

use crate::error::{Result, StoreError};
use crate::files;
use crate::flags::{self, FlagSet};
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

/// Counts of one mailbox by id.
pub(crate) fn mailbox_info(conn: &Connection, mailbox_id: i64) -> Result<Option<MailboxInfo>> {
    let row = conn
        .prepare_cached(
            "SELECT m.id, m.name, m.special_use, m.uidvalidity, m.uidnext, m.modseq,
                    COUNT(x.id), COALESCE(SUM((x.flags & ?2) = 0), 0),
                    COALESCE(SUM(x.size), 0), COALESCE(SUM((x.flags & ?3) != 0), 0)
             FROM mailboxes m LEFT JOIN messages x ON x.mailbox_id = m.id AND x.expunged = 0
             WHERE m.id = ?1 GROUP BY m.id",
        )?
        .query_row(
            rusqlite::params![mailbox_id, flags::SEEN, flags::DELETED],
            |r| {
                Ok(MailboxInfo {
                    id: r.get(0)?,
                    name: r.get(1)?,
                    special_use: r.get(2)?,
                    uidvalidity: r.get(3)?,
                    uidnext: r.get(4)?,
                    highest_modseq: r.get(5)?,
                    messages: r.get(6)?,
                    unseen: r.get(7)?,
                    size: r.get(8)?,
                    deleted: r.get(9)?,
                })
            },
        )
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

    /// One page of a SELECT: the mailbox and its non-expunged messages with
    /// a UID above `after_uid`, ascending, at most `limit` (≤ [`MAX_PAGE`]).
    /// Mailbox and page come from one read transaction.
    pub fn mailbox_select(
        &self,
        account: &str,
        name: &str,
        after_uid: u32,
        limit: u32,
    ) -> Result<(MailboxInfo, Vec<MessageMeta>)> {
        let name = names::mailbox_name(name)?;
        let limit = limit.clamp(1, MAX_PAGE);
        let acc = self.account(account)?;
        acc.read(|c| {
            let tx = c.unchecked_transaction()?;
            let (id, _) = require_mailbox(&tx, account, &name)?;
            let info = mailbox_info(&tx, id)?
                .ok_or_else(|| StoreError::not_found(format!("no mailbox {name}")))?;
            let metas = {
                let mut stmt = tx.prepare_cached(&format!(
                    "SELECT {META_COLUMNS} FROM messages
                     WHERE mailbox_id = ?1 AND expunged = 0 AND uid > ?2 ORDER BY uid LIMIT ?3"
                ))?;
                let rows = stmt.query_map(rusqlite::params![id, after_uid, limit], meta_row)?;
                rows.collect::<rusqlite::Result<Vec<_>>>()?
            };
            tx.finish()?;
            Ok((info, metas))
        })
    }

    /// Metadata of those of `uids` that exist, ascending by UID.
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
                     WHERE mailbox_id = ?1 AND uid = ?2 AND expunged = 0"
                ))?;
                for uid in wanted {
                    if let Some(m) = stmt
                        .query_row(rusqlite::params![mailbox_id, uid], meta_row)
                        .optional()?
                    {
                        out.push(m);
                    }
                }
            }
            tx.finish()?;
            Ok(out)
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
