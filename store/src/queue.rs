//! Outbound queue rows in system.db and their files in `queue/msg/D/ID`.
//! Adding follows the delivery discipline without batching: file fsynced
//! in tmp/, row inserted, file renamed, directories fsynced, commit. The
//! delivery attempts themselves belong to the queue worker.

use std::fs::File;
use std::os::fd::OwnedFd;

use ipc::store::{QueueAdd, QueueInfo};
use rusqlite::TransactionBehavior;

use crate::db::lock;
use crate::error::{Result, StoreError};
use crate::files;
use crate::names::{self, Address};
use crate::store::{MAX_MESSAGE_SIZE, MAX_PREFIX_SIZE, Store, unix_now};

/// Most recipients of one queued message.
pub const MAX_QUEUE_RECIPIENTS: usize = 1000;
/// Largest `options` JSON of a queued message.
pub const MAX_QUEUE_OPTIONS: usize = 64 * 1024;

impl Store {
    /// Queues a message for outbound delivery; returns its queue id once
    /// file and row are durable. An empty `mail_from` is the null reverse
    /// path (RFC 5321 §4.5.5).
    pub fn queue_add(&self, q: QueueAdd, msg: OwnedFd) -> Result<i64> {
        names::account_name(&q.account)?;
        let mail_from = if q.mail_from.is_empty() {
            String::new()
        } else {
            Address::parse(&q.mail_from)?.display()
        };
        if q.recipients.is_empty() || q.recipients.len() > MAX_QUEUE_RECIPIENTS {
            return Err(StoreError::invalid(format!(
                "need 1 to {MAX_QUEUE_RECIPIENTS} recipients"
            )));
        }
        let recipients = q
            .recipients
            .iter()
            .map(|r| Address::parse(r).map(|a| a.display()))
            .collect::<Result<Vec<_>>>()?;
        let options = if q.options.is_empty() {
            "{}"
        } else {
            q.options.as_str()
        };
        if options.len() > MAX_QUEUE_OPTIONS
            || serde_json::from_str::<serde_json::Value>(options).is_err()
        {
            return Err(StoreError::invalid(format!(
                "options must be JSON of at most {MAX_QUEUE_OPTIONS} bytes"
            )));
        }
        if q.prefix.len() > MAX_PREFIX_SIZE {
            return Err(StoreError::invalid(format!(
                "prefix larger than {MAX_PREFIX_SIZE} bytes"
            )));
        }
        if !self.account_exists(&q.account)? {
            return Err(StoreError::not_found(format!("no account {}", q.account)));
        }
        let recipients_json = serde_json::to_string(&recipients)
            .map_err(|e| StoreError::temporary(format!("encoding recipients: {e}")))?;
        let prefix_len = q.prefix.len() as u64;
        let src = File::from(msg);
        let (mut tmp, file_len) = files::copy_to_tmp(
            &src,
            &self.layout.tmp(),
            &self.tmp_name("queue"),
            MAX_MESSAGE_SIZE - prefix_len,
        )?;
        drop(src);
        let now = unix_now();

        let mut conn = lock(&self.system.writer);
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        tx.execute(
            "INSERT INTO queue (account, mail_from, recipients, prefix, size, queued, next_attempt, options)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?6, ?7)",
            rusqlite::params![q.account, mail_from, recipients_json, q.prefix, prefix_len + file_len, now, options],
        )?;
        let id = tx.last_insert_rowid();
        let base = self.layout.queue_msg();
        let dest = files::msg_path(&base, id);
        let mut placed = false;
        let durable = (|| {
            let created = files::ensure_msg_dir(&base, id)?;
            tmp.rename_to(&dest)?;
            placed = true;
            files::fsync_dir(&files::msg_dir(&base, id))?;
            if created {
                files::fsync_dir(&base)?;
            }
            Ok(tx.commit()?)
        })();
        if let Err(e) = durable {
            if placed && let Err(rm) = files::remove_file_if_exists(&dest) {
                tracing::error!(path = %dest.display(), error = %rm, "removing file of failed queue add");
            }
            return Err(e);
        }
        Ok(id)
    }

    /// Every queued message, oldest first.
    pub fn queue_list(&self) -> Result<Vec<QueueInfo>> {
        let conn = lock(&self.system.reader);
        let mut stmt = conn.prepare(
            "SELECT id, account, mail_from, recipients, size, queued, next_attempt, attempts, hold
             FROM queue ORDER BY id",
        )?;
        let rows = stmt.query_map([], |r| {
            Ok((
                r.get::<_, i64>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, String>(2)?,
                r.get::<_, String>(3)?,
                r.get::<_, u64>(4)?,
                r.get::<_, i64>(5)?,
                r.get::<_, i64>(6)?,
                r.get::<_, u32>(7)?,
                r.get::<_, bool>(8)?,
            ))
        })?;
        let mut out = Vec::new();
        for row in rows {
            let (id, account, mail_from, recipients, size, queued, next_attempt, attempts, hold) =
                row?;
            let recipients: Vec<String> = serde_json::from_str(&recipients)
                .map_err(|e| StoreError::temporary(format!("queue row {id}: recipients: {e}")))?;
            out.push(QueueInfo {
                id,
                account,
                mail_from,
                recipients,
                size,
                queued,
                next_attempt,
                attempts,
                hold,
            });
        }
        Ok(out)
    }
}
