//! Messages of a mailbox: list, open (the delivery prefix plus the file as
//! received), flag changes (RFC 9051 §6.4.6 STORE; a change gets a new
//! modseq, RFC 7162 §3.1.3) and expunge (rows stay as tombstones with a new
//! modseq for QRESYNC, RFC 7162 §3.2.10; files are removed after commit).

use std::fs::File;

use ipc::store::{ChangeEvent, MessageInfo};
use rusqlite::{OptionalExtension, TransactionBehavior};

use crate::counters::{self, Counts};
use crate::error::{Result, StoreError};
use crate::files;
use crate::flags::FlagSet;
use crate::mailbox::{next_modseq, require_mailbox};
use crate::names;
use crate::store::Store;

/// An opened message: read `prefix`, then `file`; `size` is both together.
#[derive(Debug)]
pub struct MessageFile {
    pub prefix: Vec<u8>,
    pub file: File,
    pub size: u64,
}

impl Store {
    /// Non-expunged messages of a mailbox, by uid.
    pub fn message_list(&self, account: &str, mailbox: &str) -> Result<Vec<MessageInfo>> {
        let mailbox = names::mailbox_name(mailbox)?;
        let acc = self.account(account)?;
        acc.read(|c| {
            let (mailbox_id, _) = require_mailbox(c, account, &mailbox)?;
            let mut stmt = c.prepare_cached(
                "SELECT id, uid, modseq, flags, keywords, size, received FROM messages
                 WHERE mailbox_id = ?1 AND expunged = 0 ORDER BY uid",
            )?;
            let rows = stmt.query_map([mailbox_id], |r| {
                let flags = FlagSet::from_columns(r.get(3)?, &r.get::<_, String>(4)?);
                Ok(MessageInfo {
                    id: r.get(0)?,
                    uid: r.get(1)?,
                    modseq: r.get(2)?,
                    flags: flags.to_wire(),
                    size: r.get(5)?,
                    received: r.get(6)?,
                })
            })?;
            Ok(rows.collect::<rusqlite::Result<_>>()?)
        })
    }

    /// Opens a (non-expunged) message by id.
    pub fn message_open(&self, account: &str, message_id: i64) -> Result<MessageFile> {
        let acc = self.account(account)?;
        let (prefix, size): (Vec<u8>, u64) = acc
            .read(|c| {
                Ok(c.prepare_cached(
                    "SELECT msg_prefix, size FROM messages WHERE id = ?1 AND expunged = 0",
                )?
                .query_row([message_id], |r| Ok((r.get(0)?, r.get(1)?)))
                .optional()?)
            })?
            .ok_or_else(|| {
                StoreError::not_found(format!("account {account} has no message {message_id}"))
            })?;
        let path = files::msg_path(&acc.msg_dir, message_id);
        let file = File::open(&path).map_err(|e| match e.kind() {
            // Expunged between the query and the open.
            std::io::ErrorKind::NotFound => {
                StoreError::not_found(format!("message {message_id} is gone"))
            }
            _ => StoreError::io(format!("open {}", path.display()), e),
        })?;
        Ok(MessageFile { prefix, file, size })
    }

    /// Replaces the flags of a message. Returns its modseq: a new one when
    /// the flags changed (and a `FlagsChanged` event), else the old one.
    pub fn set_flags(
        &self,
        account: &str,
        mailbox: &str,
        uid: u32,
        flags: &[String],
    ) -> Result<i64> {
        let mailbox = names::mailbox_name(mailbox)?;
        let new = FlagSet::parse(flags)?;
        let acc = self.account(account)?;
        acc.write(|conn, events| {
            let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
            let (mailbox_id, _) = require_mailbox(&tx, account, &mailbox)?;
            let row: Option<(i64, i64, i64, String)> = tx
                .query_row(
                    "SELECT id, modseq, flags, keywords FROM messages
                     WHERE mailbox_id = ?1 AND uid = ?2 AND expunged = 0",
                    rusqlite::params![mailbox_id, uid],
                    |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
                )
                .optional()?;
            let (id, old_modseq, bits, keywords) = row.ok_or_else(|| {
                StoreError::not_found(format!("mailbox {mailbox} has no uid {uid}"))
            })?;
            let old = FlagSet::from_columns(bits, &keywords);
            if old == new {
                return Ok(old_modseq);
            }
            let modseq = next_modseq(&tx)?;
            tx.execute(
                "UPDATE messages SET flags = ?1, keywords = ?2, modseq = ?3 WHERE id = ?4",
                rusqlite::params![new.bits, new.keywords_column(), modseq, id],
            )?;
            tx.execute(
                "UPDATE mailboxes SET modseq = ?1 WHERE id = ?2",
                [modseq, mailbox_id],
            )?;
            counters::apply(&tx, mailbox_id, Counts::flags_changed(old.bits, new.bits))?;
            counters::add_keywords(&tx, mailbox_id, new.keywords.iter().map(String::as_str))?;
            tx.commit()?;
            events.push(ChangeEvent::FlagsChanged {
                account: acc.name.clone(),
                mailbox_id,
                uid,
                modseq,
                flags: new.to_wire(),
            });
            Ok(modseq)
        })
    }

    /// Expunges the given uids (those that exist and are not yet expunged;
    /// the caller decides which, e.g. those with \Deleted). All get one new
    /// modseq. Returns the uids expunged, ascending.
    pub fn expunge(&self, account: &str, mailbox: &str, uids: &[u32]) -> Result<Vec<u32>> {
        let mailbox = names::mailbox_name(mailbox)?;
        let acc = self.account(account)?;
        let mut wanted = uids.to_vec();
        wanted.sort_unstable();
        wanted.dedup();
        let expunged = acc.write(|conn, events| {
            let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
            let (mailbox_id, _) = require_mailbox(&tx, account, &mailbox)?;
            let mut found: Vec<(u32, i64)> = Vec::new();
            let mut gone = Counts::default();
            {
                let mut stmt = tx.prepare_cached(
                    "SELECT id, flags, size FROM messages
                     WHERE mailbox_id = ?1 AND uid = ?2 AND expunged = 0",
                )?;
                for &uid in &wanted {
                    if let Some((id, bits, size)) = stmt
                        .query_row(rusqlite::params![mailbox_id, uid], |r| {
                            Ok((r.get(0)?, r.get::<_, i64>(1)?, r.get(2)?))
                        })
                        .optional()?
                    {
                        found.push((uid, id));
                        gone.sub(Counts::message(u32::try_from(bits).unwrap_or(0), size));
                    }
                }
            }
            if found.is_empty() {
                return Ok(found);
            }
            let modseq = next_modseq(&tx)?;
            {
                let mut stmt = tx.prepare_cached(
                    "UPDATE messages SET expunged = 1, modseq = ?1 WHERE id = ?2",
                )?;
                for (_, id) in &found {
                    stmt.execute([modseq, *id])?;
                }
            }
            tx.execute(
                "UPDATE mailboxes SET modseq = ?1 WHERE id = ?2",
                [modseq, mailbox_id],
            )?;
            counters::apply(&tx, mailbox_id, gone)?;
            tx.commit()?;
            events.push(ChangeEvent::Expunged {
                account: acc.name.clone(),
                mailbox_id,
                uids: found.iter().map(|(uid, _)| *uid).collect(),
                modseq,
            });
            Ok(found)
        })?;
        // After the commit: a crash before this leaves files of tombstones,
        // which the next open removes.
        for (_, id) in &expunged {
            if let Err(e) = files::remove_file_if_exists(&files::msg_path(&acc.msg_dir, *id)) {
                tracing::warn!(account, id, error = %e, "removing expunged message file");
            }
        }
        Ok(expunged.into_iter().map(|(uid, _)| uid).collect())
    }
}
