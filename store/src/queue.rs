//! Outbound queue rows in system.db and their files in `queue/msg/D/ID`.
//! Adding follows the delivery discipline, with group commit: the file is
//! fsynced in tmp/ by the adding thread, then the queue's [`Committer`]
//! inserts the rows of every waiting addition in one transaction, renames
//! their files, fsyncs each touched directory once and commits; only then
//! does any of them get its id. Concurrent submissions share the
//! directory fsync and the commit, as concurrent deliveries do.
//!
//! Each recipient has its own row in `queue_recipients` with its state
//! (pending, delivered, failed), attempt count, next attempt and last
//! error, so the queue worker keeps nothing in memory: it asks for due
//! messages, claims an attempt (which moves the next attempt forward, so
//! a worker killed mid-delivery retries after the backoff instead of in a
//! tight loop), opens the file, and records the outcome per recipient. A
//! message with no pending recipient left is removed: the row is deleted
//! in a commit, then the file (a crash in between leaves a file without a
//! row, which the next open removes).
//!
//! Claims and results are committed without fsync ([`relaxed`]): atomic,
//! made durable by the next durable commit, but lost by a power failure
//! before it. Losing one only repeats work, as in Postfix, whose queue
//! manager does not fsync either: a lost claim means the attempt is made
//! again, a lost result that the recipient is tried again (at least once
//! delivery), and a lost removal leaves a row whose file is gone, which
//! [`Store::queue_open`] then removes. Only adding a message is durable
//! (file, directory and commit fsynced), which is what a 250 promises.

use std::fs::File;
use std::os::fd::OwnedFd;
use std::path::PathBuf;
use std::sync::atomic::Ordering;

use ipc::store::{
    QueueAdd, QueueEntry, QueueInfo, QueueRecipient, RecipientOutcome, RecipientResult,
    RecipientState,
};
use rusqlite::{Connection, OptionalExtension, TransactionBehavior};

use crate::db::{lock, relaxed};
use crate::deliver::{Committer, Ticketed};
use crate::error::{Result, StoreError};
use crate::files;
use crate::names::{self, Address};
use crate::store::{MAX_MESSAGE_SIZE, MAX_PREFIX_SIZE, Store, unix_now};

/// Most recipients of one queued message.
pub const MAX_QUEUE_RECIPIENTS: usize = 1000;
/// Largest `options` JSON of a queued message.
pub const MAX_QUEUE_OPTIONS: usize = 64 * 1024;
/// Longest last-error text kept per recipient (longer ones are cut).
pub const MAX_QUEUE_ERROR: usize = 1024;
/// Most messages one `QueueDue` answer lists.
pub const MAX_QUEUE_DUE: u32 = 1000;

/// A queue addition whose file is in tmp/, waiting for its commit.
#[derive(Debug)]
pub(crate) struct QueueJob {
    ticket: u64,
    account: String,
    mail_from: String,
    recipients: Vec<Address>,
    recipients_json: String,
    prefix: Vec<u8>,
    size: u64,
    options: String,
    tmp: files::TempPath,
}

impl Ticketed for QueueJob {
    fn ticket(&self) -> u64 {
        self.ticket
    }
    fn set_ticket(&mut self, ticket: u64) {
        self.ticket = ticket;
    }
}

/// The queue's group commit of additions: a queue id per job.
pub(crate) type QueueCommitter = Committer<QueueJob, i64>;

/// `queue_recipients.state` values.
const STATE_PENDING: i64 = 0;
const STATE_DELIVERED: i64 = 1;
const STATE_FAILED: i64 = 2;

fn state_of(v: i64) -> RecipientState {
    match v {
        STATE_DELIVERED => RecipientState::Delivered,
        STATE_FAILED => RecipientState::Failed,
        _ => RecipientState::Pending,
    }
}

/// A queued message file opened for delivery: `prefix`, then `file`.
#[derive(Debug)]
pub struct QueueFile {
    pub prefix: Vec<u8>,
    pub file: File,
    pub size: u64,
}

/// The reverse path as submitted: `addr`, `<addr>`, or `<>`/empty for the
/// null reverse path (RFC 5321 §4.5.5).
fn reverse_path(s: &str) -> Result<String> {
    let inner = s
        .strip_prefix('<')
        .and_then(|r| r.strip_suffix('>'))
        .unwrap_or(s);
    if inner.is_empty() {
        Ok(String::new())
    } else {
        Ok(Address::parse(inner)?.display())
    }
}

/// Error text as kept: no control characters, at most [`MAX_QUEUE_ERROR`] bytes.
fn clean_error(s: &str) -> String {
    let mut out = String::with_capacity(s.len().min(MAX_QUEUE_ERROR));
    for c in s.chars() {
        let c = if c.is_control() { ' ' } else { c };
        if out.len() + c.len_utf8() > MAX_QUEUE_ERROR {
            break;
        }
        out.push(c);
    }
    out
}

fn load_entry(conn: &Connection, id: i64) -> Result<Option<QueueEntry>> {
    let head = conn
        .prepare_cached(
            "SELECT account, mail_from, size, queued, hold, options FROM queue WHERE id = ?1",
        )?
        .query_row([id], |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, u64>(2)?,
                r.get::<_, i64>(3)?,
                r.get::<_, bool>(4)?,
                r.get::<_, String>(5)?,
            ))
        })
        .optional()?;
    let Some((account, mail_from, size, queued, hold, options)) = head else {
        return Ok(None);
    };
    let mut stmt = conn.prepare_cached(
        "SELECT idx, address, state, attempts, next_attempt, last_attempt, last_error, delay_notified
         FROM queue_recipients WHERE queue_id = ?1 ORDER BY idx",
    )?;
    let recipients = stmt
        .query_map([id], |r| {
            Ok(QueueRecipient {
                index: r.get(0)?,
                address: r.get(1)?,
                state: state_of(r.get(2)?),
                attempts: r.get(3)?,
                next_attempt: r.get(4)?,
                last_attempt: r.get(5)?,
                last_error: r.get(6)?,
                delay_notified: r.get(7)?,
            })
        })?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    Ok(Some(QueueEntry {
        id,
        account,
        mail_from,
        size,
        queued,
        hold,
        options,
        recipients,
    }))
}

/// Keeps the message row's summary columns (used by `QueueList`) in step
/// with its recipients: earliest pending next attempt, most attempts.
fn update_summary(conn: &Connection, id: i64) -> Result<()> {
    conn.prepare_cached(
        "UPDATE queue SET
            next_attempt = COALESCE(
                (SELECT MIN(next_attempt) FROM queue_recipients WHERE queue_id = ?1 AND state = 0),
                next_attempt),
            attempts = COALESCE(
                (SELECT MAX(attempts) FROM queue_recipients WHERE queue_id = ?1), attempts)
         WHERE id = ?1",
    )?
    .execute([id])?;
    Ok(())
}

fn require_row(conn: &Connection, id: i64) -> Result<()> {
    let found: Option<i64> = conn
        .prepare_cached("SELECT id FROM queue WHERE id = ?1")?
        .query_row([id], |r| r.get(0))
        .optional()?;
    match found {
        Some(_) => Ok(()),
        None => Err(StoreError::not_found(format!("no queued message {id}"))),
    }
}

impl Store {
    /// Queues a message for outbound delivery; returns its queue id once
    /// file and row are durable. An empty `mail_from` (or `<>`) is the null
    /// reverse path (RFC 5321 §4.5.5).
    pub fn queue_add(&self, q: QueueAdd, msg: OwnedFd) -> Result<i64> {
        names::account_name(&q.account)?;
        let mail_from = reverse_path(&q.mail_from)?;
        if q.recipients.is_empty() || q.recipients.len() > MAX_QUEUE_RECIPIENTS {
            return Err(StoreError::invalid(format!(
                "need 1 to {MAX_QUEUE_RECIPIENTS} recipients"
            )));
        }
        let recipients = q
            .recipients
            .iter()
            .map(|r| Address::parse(r))
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
        let shown: Vec<String> = recipients.iter().map(Address::display).collect();
        let recipients_json = serde_json::to_string(&shown)
            .map_err(|e| StoreError::temporary(format!("encoding recipients: {e}")))?;
        let prefix_len = q.prefix.len() as u64;
        let src = File::from(msg);
        let (tmp, file_len) = files::copy_to_tmp(
            &src,
            &self.layout.tmp(),
            &self.tmp_name("queue"),
            MAX_MESSAGE_SIZE - prefix_len,
        )?;
        drop(src);
        let job = QueueJob {
            ticket: 0,
            account: q.account,
            mail_from,
            recipients,
            recipients_json,
            size: prefix_len + file_len,
            prefix: q.prefix,
            options: options.to_string(),
            tmp,
        };
        self.queue_adds
            .submit(job, |batch| self.commit_queue_batch(batch))
    }

    /// Commits one batch of additions: all of them, or none (each then
    /// gets the error, and the files already renamed are removed).
    fn commit_queue_batch(&self, jobs: Vec<QueueJob>) -> Vec<(u64, Result<i64>)> {
        let tickets: Vec<u64> = jobs.iter().map(|j| j.ticket).collect();
        let mut placed: Vec<PathBuf> = Vec::new();
        let committed = (|| -> Result<Vec<(u64, i64)>> {
            let now = unix_now();
            let mut conn = lock(&self.system.writer);
            let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
            let mut added = Vec::with_capacity(jobs.len());
            for job in jobs {
                tx.execute(
                    "INSERT INTO queue (account, mail_from, recipients, prefix, size, queued, next_attempt, options)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?6, ?7)",
                    rusqlite::params![job.account, job.mail_from, job.recipients_json, job.prefix, job.size, now, job.options],
                )?;
                let id = tx.last_insert_rowid();
                let mut ins = tx.prepare_cached(
                    "INSERT INTO queue_recipients (queue_id, idx, address, domain, next_attempt)
                     VALUES (?1, ?2, ?3, ?4, ?5)",
                )?;
                for (i, r) in job.recipients.iter().enumerate() {
                    ins.execute(rusqlite::params![id, i as u32, r.display(), r.domain, now])?;
                }
                added.push((job, id));
            }
            // RFC 5321 §6.1: the 250 for DATA promises the message is safe;
            // files and directory entries are durable before the commit.
            let moves = added.iter_mut().map(|(job, id)| (&mut job.tmp, *id));
            files::place_files(&self.layout.queue_msg(), moves, &mut placed)?;
            tx.commit()?;
            Ok(added
                .into_iter()
                .map(|(job, id)| (job.ticket, id))
                .collect())
        })();
        self.counters.queue_batches.fetch_add(1, Ordering::Relaxed);
        match committed {
            Ok(ids) => {
                self.counters
                    .queue_adds
                    .fetch_add(ids.len() as u64, Ordering::Relaxed);
                let n = ids.len() as u64;
                self.queue_added.send_modify(|added| *added += n);
                ids.into_iter().map(|(t, id)| (t, Ok(id))).collect()
            }
            Err(e) => {
                tracing::error!(error = %e, count = tickets.len(), "queue batch failed");
                files::remove_placed(&placed, "queue add");
                tickets.into_iter().map(|t| (t, Err(e.clone()))).collect()
            }
        }
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

    /// Messages (not held) with a pending recipient due at `now`, oldest
    /// first, at most `limit` (capped at [`MAX_QUEUE_DUE`]); and when the
    /// earliest pending recipient not yet due falls due.
    pub fn queue_due(&self, now: i64, limit: u32) -> Result<(Vec<QueueEntry>, Option<i64>)> {
        let limit = limit.clamp(1, MAX_QUEUE_DUE);
        let conn = lock(&self.system.reader);
        let ids = conn
            .prepare_cached(
                "SELECT DISTINCT q.id FROM queue_recipients r JOIN queue q ON q.id = r.queue_id
                 WHERE r.state = 0 AND r.next_attempt <= ?1 AND q.hold = 0
                 ORDER BY q.id LIMIT ?2",
            )?
            .query_map(rusqlite::params![now, limit], |r| r.get::<_, i64>(0))?
            .collect::<rusqlite::Result<Vec<i64>>>()?;
        let next_due: Option<i64> = conn
            .prepare_cached(
                "SELECT MIN(r.next_attempt) FROM queue_recipients r JOIN queue q ON q.id = r.queue_id
                 WHERE r.state = 0 AND r.next_attempt > ?1 AND q.hold = 0",
            )?
            .query_row([now], |r| r.get(0))?;
        let mut out = Vec::with_capacity(ids.len());
        for id in ids {
            out.extend(load_entry(&conn, id)?);
        }
        Ok((out, next_due))
    }

    /// Starts an attempt for pending recipients of a message: their
    /// attempt count goes up, `last_attempt` is now and they are not due
    /// again before `next_attempt`.
    pub fn queue_claim(&self, id: i64, recipients: &[u32], next_attempt: i64) -> Result<()> {
        let now = unix_now();
        let mut conn = lock(&self.system.writer);
        relaxed(&mut conn, |conn| {
            let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
            require_row(&tx, id)?;
            {
                let mut stmt = tx.prepare_cached(
                    "UPDATE queue_recipients SET attempts = attempts + 1, last_attempt = ?3, next_attempt = ?4
                     WHERE queue_id = ?1 AND idx = ?2 AND state = 0",
                )?;
                for &idx in recipients {
                    if stmt.execute(rusqlite::params![id, idx, now, next_attempt])? != 1 {
                        return Err(StoreError::invalid(format!(
                            "queued message {id} has no pending recipient {idx}"
                        )));
                    }
                }
            }
            tx.execute(
                "UPDATE queue SET last_attempt = ?2 WHERE id = ?1",
                [id, now],
            )?;
            update_summary(&tx, id)?;
            tx.commit()?;
            Ok(())
        })
    }

    /// Opens a queued message file with its prefix.
    pub fn queue_open(&self, id: i64) -> Result<QueueFile> {
        let (prefix, size): (Vec<u8>, u64) = {
            let conn = lock(&self.system.reader);
            conn.prepare_cached("SELECT prefix, size FROM queue WHERE id = ?1")?
                .query_row([id], |r| Ok((r.get(0)?, r.get(1)?)))
                .optional()?
                .ok_or_else(|| StoreError::not_found(format!("no queued message {id}")))?
        };
        let path = files::msg_path(&self.layout.queue_msg(), id);
        let file = match File::open(&path) {
            Ok(f) => f,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                // Files go only after their row's deletion was committed:
                // this row's removal was lost in a crash (see the module
                // comment), so it goes now.
                tracing::warn!(id, "queued message without its file: row removed");
                let mut conn = lock(&self.system.writer);
                let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
                tx.execute("DELETE FROM queue_recipients WHERE queue_id = ?1", [id])?;
                tx.execute("DELETE FROM queue WHERE id = ?1", [id])?;
                tx.commit()?;
                return Err(StoreError::not_found(format!(
                    "queued message {id} is gone"
                )));
            }
            Err(e) => return Err(StoreError::io(format!("open {}", path.display()), e)),
        };
        Ok(QueueFile { prefix, file, size })
    }

    /// Records the outcome of an attempt per recipient; removes the
    /// message (row, then file) when no recipient is pending any more.
    /// Returns whether it was removed.
    pub fn queue_result(&self, id: i64, results: &[RecipientResult]) -> Result<bool> {
        let now = unix_now();
        let removed = {
            let mut conn = lock(&self.system.writer);
            relaxed(&mut conn, |conn| {
                let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
                require_row(&tx, id)?;
                let mut last_error = None;
                {
                    let mut stmt = tx.prepare_cached(
                        "UPDATE queue_recipients SET state = ?3, next_attempt = ?4,
                        last_error = COALESCE(?5, last_error),
                        delay_notified = delay_notified OR ?6
                     WHERE queue_id = ?1 AND idx = ?2 AND state = 0",
                    )?;
                    for r in results {
                        let (state, next) = match r.outcome {
                            RecipientOutcome::Delivered => (STATE_DELIVERED, now),
                            RecipientOutcome::Failed => (STATE_FAILED, now),
                            RecipientOutcome::Retry { next_attempt } => {
                                (STATE_PENDING, next_attempt)
                            }
                        };
                        let error = r.error.as_deref().map(clean_error);
                        if error.is_some() {
                            last_error.clone_from(&error);
                        }
                        let n = stmt.execute(rusqlite::params![
                            id,
                            r.index,
                            state,
                            next,
                            error,
                            r.delay_notified
                        ])?;
                        if n != 1 {
                            return Err(StoreError::invalid(format!(
                                "queued message {id} has no pending recipient {}",
                                r.index
                            )));
                        }
                    }
                }
                let pending: i64 = tx
                    .prepare_cached(
                        "SELECT COUNT(*) FROM queue_recipients WHERE queue_id = ?1 AND state = 0",
                    )?
                    .query_row([id], |r| r.get(0))?;
                if pending == 0 {
                    tx.execute("DELETE FROM queue_recipients WHERE queue_id = ?1", [id])?;
                    tx.execute("DELETE FROM queue WHERE id = ?1", [id])?;
                } else {
                    if last_error.is_some() {
                        tx.execute(
                            "UPDATE queue SET last_error = ?2 WHERE id = ?1",
                            rusqlite::params![id, last_error],
                        )?;
                    }
                    update_summary(&tx, id)?;
                }
                tx.commit()?;
                Ok(pending == 0)
            })?
        };
        if removed {
            self.remove_queue_file(id);
        }
        Ok(removed)
    }

    fn remove_queue_file(&self, id: i64) {
        let path = files::msg_path(&self.layout.queue_msg(), id);
        if let Err(e) = files::remove_file_if_exists(&path) {
            // The next open removes files without rows.
            tracing::warn!(id, error = %e, "removing queued message file");
        }
    }

    /// Queued messages with their recipients, oldest first; with `domain`,
    /// only those with a recipient in it.
    pub fn queue_entries(&self, domain: Option<&str>) -> Result<Vec<QueueEntry>> {
        let conn = lock(&self.system.reader);
        let ids: Vec<i64> = match domain {
            Some(d) => {
                let d = names::domain(d)?;
                conn.prepare_cached(
                    "SELECT DISTINCT queue_id FROM queue_recipients WHERE domain = ?1 ORDER BY queue_id",
                )?
                .query_map([d], |r| r.get(0))?
                .collect::<rusqlite::Result<_>>()?
            }
            None => conn
                .prepare_cached("SELECT id FROM queue ORDER BY id")?
                .query_map([], |r| r.get(0))?
                .collect::<rusqlite::Result<_>>()?,
        };
        let mut out = Vec::with_capacity(ids.len());
        for id in ids {
            out.extend(load_entry(&conn, id)?);
        }
        Ok(out)
    }

    /// Holds (true) or releases (false) a queued message.
    pub fn queue_hold(&self, id: i64, hold: bool) -> Result<()> {
        let conn = lock(&self.system.writer);
        let n = conn.execute(
            "UPDATE queue SET hold = ?2 WHERE id = ?1",
            rusqlite::params![id, hold],
        )?;
        if n == 0 {
            return Err(StoreError::not_found(format!("no queued message {id}")));
        }
        Ok(())
    }

    /// Makes every pending recipient of a message due now.
    pub fn queue_kick(&self, id: i64) -> Result<()> {
        let now = unix_now();
        let mut conn = lock(&self.system.writer);
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        require_row(&tx, id)?;
        tx.execute(
            "UPDATE queue_recipients SET next_attempt = ?2 WHERE queue_id = ?1 AND state = 0",
            [id, now],
        )?;
        tx.execute(
            "UPDATE queue SET next_attempt = ?2 WHERE id = ?1",
            [id, now],
        )?;
        tx.commit()?;
        Ok(())
    }

    /// Removes a message from the queue (row, then file); no DSN.
    pub fn queue_drop(&self, id: i64) -> Result<()> {
        {
            let mut conn = lock(&self.system.writer);
            let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
            require_row(&tx, id)?;
            tx.execute("DELETE FROM queue_recipients WHERE queue_id = ?1", [id])?;
            tx.execute("DELETE FROM queue WHERE id = ?1", [id])?;
            tx.commit()?;
        }
        self.remove_queue_file(id);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reverse_path_forms() {
        assert_eq!(reverse_path("").unwrap(), "");
        assert_eq!(reverse_path("<>").unwrap(), "");
        assert_eq!(reverse_path("<a@B.example>").unwrap(), "a@b.example");
        assert_eq!(reverse_path("a@b.example").unwrap(), "a@b.example");
        assert!(reverse_path("<a b@x>").is_err());
    }

    #[test]
    fn errors_are_cleaned_and_cut() {
        assert_eq!(clean_error("550 a\r\nSubject: x\0"), "550 a  Subject: x ");
        let long = "é".repeat(MAX_QUEUE_ERROR);
        let c = clean_error(&long);
        assert!(c.len() <= MAX_QUEUE_ERROR && c.len() >= MAX_QUEUE_ERROR - 1);
    }
}
