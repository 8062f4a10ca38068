//! Durable delivery with group commit.
//!
//! A delivery is acknowledged only when its file and its row are durable:
//! the file is copied into tmp/ and fsynced by the delivering thread, then
//! handed to the account's [`Committer`]. The first waiting thread becomes
//! the leader: it takes every pending delivery (up to
//! [`MAX_DELIVERY_BATCH`]) and, in one SQLite transaction, inserts their
//! rows (which allocates ids, uids and modseqs), renames each file to
//! `msg/D/ID`, fsyncs every touched directory once, and commits. Then it
//! wakes the others with their results. While it works, new deliveries
//! queue up for the next leader, so under load one commit and one round of
//! directory fsyncs serve many messages.
//!
//! If any step of a batch fails, every delivery in it fails, no row exists
//! (the transaction rolls back) and the files already renamed are removed;
//! a crash between rename and commit leaves files without rows, which the
//! next open of the account removes. Each account has its own committer,
//! so accounts commit in parallel.

use std::collections::{BTreeMap, BTreeSet, HashMap, VecDeque};
use std::fs::File;
use std::os::fd::OwnedFd;
use std::sync::atomic::Ordering;
use std::sync::{Condvar, Mutex};

use ipc::store::{AppendMessage, ChangeEvent, Delivered, Delivery};
use rusqlite::{Connection, TransactionBehavior};

use crate::account::Account;
use crate::counters::{self, Counts};
use crate::db::lock;
use crate::error::{Result, StoreError};
use crate::files::{self, TempPath};
use crate::flags::FlagSet;
use crate::mailbox::{find_mailbox, require_mailbox};
use crate::names;
use crate::store::{MAX_MESSAGE_SIZE, MAX_PARSED_SIZE, MAX_PREFIX_SIZE, Store, unix_now};

/// Most deliveries committed in one transaction.
pub const MAX_DELIVERY_BATCH: usize = 128;

/// A delivery whose file is in tmp/, waiting for its commit.
#[derive(Debug)]
pub(crate) struct Job {
    ticket: u64,
    mailbox: String,
    flags: FlagSet,
    prefix: Vec<u8>,
    received: i64,
    size: u64,
    /// Message structure from the delivering worker (opaque).
    parsed: Option<Vec<u8>>,
    tmp: TempPath,
}

/// A job a [`Committer`] numbers.
pub(crate) trait Ticketed {
    fn ticket(&self) -> u64;
    fn set_ticket(&mut self, ticket: u64);
}

impl Ticketed for Job {
    fn ticket(&self) -> u64 {
        self.ticket
    }
    fn set_ticket(&mut self, ticket: u64) {
        self.ticket = ticket;
    }
}

/// A group-commit queue: an account's deliveries (`Committer<Job,
/// Delivered>`), the outbound queue's additions.
#[derive(Debug)]
pub(crate) struct Committer<J, R> {
    state: Mutex<Queue<J, R>>,
    wake: Condvar,
}

impl<J, R> Default for Committer<J, R> {
    fn default() -> Self {
        Committer {
            state: Mutex::new(Queue {
                pending: VecDeque::new(),
                leading: false,
                done: HashMap::new(),
                next_ticket: 0,
            }),
            wake: Condvar::new(),
        }
    }
}

#[derive(Debug)]
struct Queue<J, R> {
    pending: VecDeque<J>,
    /// A leader is committing a batch.
    leading: bool,
    done: HashMap<u64, Result<R>>,
    next_ticket: u64,
}

type Outcome = Vec<(u64, Result<Delivered>)>;

impl<J: Ticketed, R> Committer<J, R> {
    /// Queues `job` and blocks until it is committed or failed, committing
    /// batches (its own and others') with `commit` whenever no other thread
    /// is doing so. `commit` answers every ticket of its batch.
    pub(crate) fn submit(
        &self,
        mut job: J,
        commit: impl Fn(Vec<J>) -> Vec<(u64, Result<R>)>,
    ) -> Result<R> {
        let mut q = lock(&self.state);
        let ticket = q.next_ticket;
        q.next_ticket += 1;
        job.set_ticket(ticket);
        q.pending.push_back(job);
        loop {
            if let Some(result) = q.done.remove(&ticket) {
                return result;
            }
            if q.leading {
                q = self
                    .wake
                    .wait(q)
                    .unwrap_or_else(std::sync::PoisonError::into_inner);
                continue;
            }
            q.leading = true;
            let n = q.pending.len().min(MAX_DELIVERY_BATCH);
            let batch: Vec<J> = q.pending.drain(..n).collect();
            let tickets: Vec<u64> = batch.iter().map(Ticketed::ticket).collect();
            drop(q);
            let results = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| commit(batch)))
                .unwrap_or_else(|_| Vec::new());
            q = lock(&self.state);
            q.done.extend(results);
            for t in tickets {
                q.done
                    .entry(t)
                    .or_insert_with(|| Err(StoreError::temporary("commit failed unexpectedly")));
            }
            q.leading = false;
            self.wake.notify_all();
        }
    }
}

impl Store {
    /// Delivers a message to a mailbox of an account. `msg` is the message
    /// as received (a memfd or a regular file, read from offset 0); the
    /// delivery prefix goes in the row. Returns once file and row are durable.
    pub fn deliver(&self, d: Delivery, msg: OwnedFd) -> Result<Delivered> {
        let mailbox = names::mailbox_name(&d.mailbox)?;
        let flags = FlagSet::parse(&d.flags)?;
        if d.prefix.len() > MAX_PREFIX_SIZE {
            return Err(StoreError::invalid(format!(
                "delivery prefix larger than {MAX_PREFIX_SIZE} bytes"
            )));
        }
        check_parsed_size(d.parsed.as_deref())?;
        let acc = self.account(&d.account)?;
        // Refuse early, before copying the message.
        acc.read(|c| require_mailbox(c, &acc.name, &mailbox))?;
        let job = self.spool(
            msg,
            mailbox,
            flags,
            d.prefix,
            d.received.unwrap_or_else(unix_now),
            d.parsed,
        )?;
        // The limit is checked before the group commit, so concurrent
        // deliveries may exceed it by what they carry together.
        self.check_quota(&acc, job.size)?;
        acc.committer
            .submit(job, |batch| self.commit_batch(&acc, batch))
    }

    /// Copies a message into tmp/ (fsynced) as a job for a commit.
    fn spool(
        &self,
        msg: OwnedFd,
        mailbox: String,
        flags: FlagSet,
        prefix: Vec<u8>,
        received: i64,
        parsed: Option<Vec<u8>>,
    ) -> Result<Job> {
        let prefix_len = prefix.len() as u64;
        let src = File::from(msg);
        let (tmp, file_len) = files::copy_to_tmp(
            &src,
            &self.layout.tmp(),
            &self.tmp_name("deliver"),
            MAX_MESSAGE_SIZE - prefix_len,
        )
        .map_err(|e| match e.kind {
            ipc::store::StoreErrorKind::Invalid => StoreError::invalid(format!(
                "{}; the limit is {MAX_MESSAGE_SIZE} bytes",
                e.message
            )),
            _ => e,
        })?;
        Ok(Job {
            ticket: 0,
            mailbox,
            flags,
            received,
            size: prefix_len + file_len,
            parsed,
            prefix,
            tmp,
        })
    }

    /// IMAP APPEND and MULTIAPPEND (RFC 3502 §6.3.11): every message is
    /// stored, in one transaction, or none is. One fd per message.
    pub fn append(
        &self,
        account: &str,
        mailbox: &str,
        messages: Vec<AppendMessage>,
        fds: Vec<OwnedFd>,
    ) -> Result<(i64, u32, Vec<u32>)> {
        let mailbox = names::mailbox_name(mailbox)?;
        if messages.is_empty() || messages.len() != fds.len() {
            return Err(StoreError::invalid(format!(
                "{} messages but {} file descriptors",
                messages.len(),
                fds.len()
            )));
        }
        let acc = self.account(account)?;
        acc.read(|c| require_mailbox(c, &acc.name, &mailbox))?;
        let now = unix_now();
        let mut jobs = Vec::with_capacity(messages.len());
        for (m, fd) in messages.into_iter().zip(fds) {
            check_parsed_size(m.parsed.as_deref())?;
            let flags = FlagSet::parse(&m.flags)?;
            jobs.push(self.spool(
                fd,
                mailbox.clone(),
                flags,
                Vec::new(),
                m.received.unwrap_or(now),
                m.parsed,
            )?);
        }
        for (i, job) in jobs.iter_mut().enumerate() {
            job.ticket = i as u64;
        }
        let total: u64 = jobs.iter().map(|j| j.size).sum();
        let mut rejected = Vec::new();
        let delivered = acc.write(|conn, events| {
            // Checked under the writer lock: exact for APPEND.
            self.check_quota(&acc, total)?;
            commit_jobs(conn, &acc, jobs, &mut rejected, events, true)
        })?;
        if let Some((_, Err(e))) = rejected.into_iter().next() {
            return Err(e);
        }
        let first = delivered
            .first()
            .map(|(_, d)| d.mailbox_id)
            .ok_or_else(|| StoreError::temporary("append stored nothing"))?;
        let uidvalidity = acc.read(|c| {
            Ok(c.query_row(
                "SELECT uidvalidity FROM mailboxes WHERE id = ?1",
                [first],
                |r| r.get(0),
            )?)
        })?;
        Ok((
            first,
            uidvalidity,
            delivered.into_iter().map(|(_, d)| d.uid).collect(),
        ))
    }

    /// Commits one batch; every job of it gets a result.
    fn commit_batch(&self, acc: &Account, jobs: Vec<Job>) -> Outcome {
        self.counters
            .delivery_batches
            .fetch_add(1, Ordering::Relaxed);
        let tickets: Vec<u64> = jobs.iter().map(|j| j.ticket).collect();
        let mut results: Outcome = Vec::with_capacity(jobs.len());
        let committed =
            acc.write(|conn, events| commit_jobs(conn, acc, jobs, &mut results, events, false));
        match committed {
            Ok(delivered) => {
                self.counters
                    .deliveries
                    .fetch_add(delivered.len() as u64, Ordering::Relaxed);
                results.extend(delivered.into_iter().map(|(t, d)| (t, Ok(d))));
            }
            Err(e) => {
                tracing::error!(account = acc.name, error = %e, count = tickets.len(), "delivery batch failed");
                let failed: BTreeSet<u64> = results.iter().map(|(t, _)| *t).collect();
                results.extend(
                    tickets
                        .into_iter()
                        .filter(|t| !failed.contains(t))
                        .map(|t| (t, Err(e.clone()))),
                );
            }
        }
        results
    }
}

/// The transaction of one batch. Jobs refused on their own (mailbox gone,
/// uids exhausted) are answered in `rejected` and do not fail the others,
/// unless `all_or_none`: then nothing is committed.
fn commit_jobs(
    conn: &mut Connection,
    acc: &Account,
    jobs: Vec<Job>,
    rejected: &mut Outcome,
    events: &mut Vec<ChangeEvent>,
    all_or_none: bool,
) -> Result<Vec<(u64, Delivered)>> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let now = unix_now();
    let mut modseq: i64 = tx.query_row("SELECT last_modseq FROM sync_state", [], |r| r.get(0))?;
    // Mailbox name -> (id, next uid), as changed by this batch so far.
    let mut boxes: HashMap<String, Option<(i64, u32)>> = HashMap::new();
    let mut touched: BTreeMap<i64, (u32, i64)> = BTreeMap::new();
    // Per mailbox: what the batch adds to its counts and keywords.
    let mut added: BTreeMap<i64, (Counts, BTreeSet<String>)> = BTreeMap::new();
    let mut accepted: Vec<(Job, Delivered)> = Vec::with_capacity(jobs.len());
    {
        let mut insert = tx.prepare_cached(
            "INSERT INTO messages
               (mailbox_id, uid, modseq, createseq, expunged, flags, keywords, size, received, save_date, msg_prefix, parsed)
             VALUES (?1, ?2, ?3, ?3, 0, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
        )?;
        for job in jobs {
            let entry = match boxes.get(&job.mailbox) {
                Some(e) => *e,
                None => {
                    let e = find_mailbox(&tx, &job.mailbox)?;
                    boxes.insert(job.mailbox.clone(), e);
                    e
                }
            };
            let Some((mailbox_id, uid)) = entry else {
                let err = StoreError::not_found(format!(
                    "account {} has no mailbox {}",
                    acc.name, job.mailbox
                ));
                rejected.push((job.ticket, Err(err)));
                continue;
            };
            let Some(next_uid) = uid.checked_add(1) else {
                rejected.push((
                    job.ticket,
                    Err(StoreError::invalid(format!(
                        "mailbox {} has no uids left",
                        job.mailbox
                    ))),
                ));
                continue;
            };
            modseq += 1;
            insert.execute(rusqlite::params![
                mailbox_id,
                uid,
                modseq,
                job.flags.bits,
                job.flags.keywords_column(),
                job.size,
                job.received,
                now,
                job.prefix,
                job.parsed,
            ])?;
            let message_id = tx.last_insert_rowid();
            boxes.insert(job.mailbox.clone(), Some((mailbox_id, next_uid)));
            touched.insert(mailbox_id, (next_uid, modseq));
            let (counts, keywords) = added.entry(mailbox_id).or_default();
            counts.add(Counts::message(job.flags.bits, job.size));
            keywords.extend(job.flags.keywords.iter().cloned());
            accepted.push((
                job,
                Delivered {
                    message_id,
                    mailbox_id,
                    uid,
                    modseq,
                },
            ));
        }
    }
    if accepted.is_empty() || (all_or_none && !rejected.is_empty()) {
        // Dropping `tx` rolls back.
        return Ok(Vec::new());
    }
    for (mailbox_id, (uidnext, mb_modseq)) in &touched {
        tx.execute(
            "UPDATE mailboxes SET uidnext = ?1, modseq = ?2 WHERE id = ?3",
            rusqlite::params![uidnext, mb_modseq, mailbox_id],
        )?;
    }
    for (mailbox_id, (counts, keywords)) in &added {
        counters::apply(&tx, *mailbox_id, *counts)?;
        counters::add_keywords(&tx, *mailbox_id, keywords.iter().map(String::as_str))?;
    }
    tx.execute("UPDATE sync_state SET last_modseq = ?1", [modseq])?;

    let mut placed = Vec::with_capacity(accepted.len());
    let moves = accepted
        .iter_mut()
        .map(|(job, d)| (&mut job.tmp, d.message_id));
    let durable =
        files::place_files(&acc.msg_dir, moves, &mut placed).and_then(|()| Ok(tx.commit()?));
    if let Err(e) = durable {
        files::remove_placed(&placed, "delivery");
        return Err(e);
    }
    Ok(accepted
        .into_iter()
        .map(|(job, d)| {
            events.push(ChangeEvent::MessageAdded {
                account: acc.name.clone(),
                mailbox_id: d.mailbox_id,
                uid: d.uid,
                modseq: d.modseq,
                message_id: d.message_id,
            });
            (job.ticket, d)
        })
        .collect())
}

/// Refuses a message structure larger than [`MAX_PARSED_SIZE`].
fn check_parsed_size(parsed: Option<&[u8]>) -> Result<()> {
    match parsed {
        Some(p) if p.len() > MAX_PARSED_SIZE => Err(StoreError::invalid(format!(
            "message structure larger than {MAX_PARSED_SIZE} bytes"
        ))),
        _ => Ok(()),
    }
}
