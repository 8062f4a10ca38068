//! Changes IMAP sessions make to messages, each in one transaction with
//! one new modseq (RFC 7162 §3.1: every change of metadata gets a higher
//! modseq): STORE with UNCHANGEDSINCE (RFC 9051 §6.4.6, RFC 7162 §3.1.3),
//! COPY and MOVE (RFC 9051 §6.4.7, RFC 6851: the copy and the expunge of
//! the source commit together) and EXPUNGE of \Deleted messages (RFC 9051
//! §6.4.3, UID EXPUNGE RFC 4315 §2.1).
//!
//! A copy shares the file of its source through a hard link (files never
//! change once written), so COPY costs no data copy. Links are made and
//! their directories fsynced before the commit; files of expunged rows are
//! removed after it (a crash in between leaves files that the next open of
//! the account removes).

use std::collections::BTreeSet;
use std::path::PathBuf;

use ipc::store::{ChangeEvent, FlagChange, FlagOp, FlagState, MAX_PAGE};
use rusqlite::{Connection, OptionalExtension, TransactionBehavior};

use crate::account::Account;
use crate::counters::{self, Counts};
use crate::error::{IoContext, Result, StoreError};
use crate::files;
use crate::flags::{self, FlagSet};
use crate::mailbox::{next_modseq, require_mailbox};
use crate::names;
use crate::store::{Store, unix_now};

/// Result of a STORE.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct StoreResult {
    pub messages: Vec<FlagState>,
    pub modified: Vec<u32>,
}

/// Result of a COPY or MOVE.
#[derive(Debug, PartialEq, Eq)]
pub struct CopyResult {
    pub uidvalidity: u32,
    pub mapping: Vec<(u32, u32)>,
}

fn sorted_unique(uids: &[u32]) -> Result<Vec<u32>> {
    if uids.len() > MAX_PAGE as usize {
        return Err(StoreError::invalid(format!(
            "more than {MAX_PAGE} UIDs in one request"
        )));
    }
    let set: BTreeSet<u32> = uids.iter().copied().collect();
    Ok(set.into_iter().collect())
}

fn apply(op: FlagOp, old: &FlagSet, given: &FlagSet) -> FlagSet {
    match op {
        FlagOp::Replace => given.clone(),
        FlagOp::Add => {
            let mut keywords: BTreeSet<String> = old.keywords.iter().cloned().collect();
            keywords.extend(given.keywords.iter().cloned());
            FlagSet {
                bits: old.bits | given.bits,
                keywords: keywords.into_iter().collect(),
            }
        }
        FlagOp::Remove => FlagSet {
            bits: old.bits & !given.bits,
            keywords: old
                .keywords
                .iter()
                .filter(|k| !given.keywords.contains(k))
                .cloned()
                .collect(),
        },
    }
}

/// Checks that the mailbox with this id exists in the account.
fn require_mailbox_id(conn: &Connection, account: &str, id: i64) -> Result<(String, u32)> {
    conn.prepare_cached("SELECT name, uidvalidity FROM mailboxes WHERE id = ?1")?
        .query_row([id], |r| Ok((r.get(0)?, r.get(1)?)))
        .optional()?
        .ok_or_else(|| StoreError::not_found(format!("account {account} has no mailbox {id}")))
}

impl Store {
    /// STORE: applies a flag change to each of the UIDs that exists and,
    /// with UNCHANGEDSINCE, whose modseq is not above it.
    pub fn store_flags(&self, change: &FlagChange) -> Result<StoreResult> {
        let uids = sorted_unique(&change.uids)?;
        let given = FlagSet::parse(&change.flags)?;
        let acc = self.account(&change.account)?;
        acc.write(|conn, events| {
            let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
            require_mailbox_id(&tx, &acc.name, change.mailbox_id)?;
            let mut result = StoreResult::default();
            let mut updates: Vec<(i64, usize, FlagSet)> = Vec::new();
            let mut delta = Counts::default();
            {
                let mut stmt = tx.prepare_cached(
                    "SELECT id, modseq, flags, keywords FROM messages
                     WHERE mailbox_id = ?1 AND uid = ?2 AND expunged = 0",
                )?;
                for uid in uids {
                    let Some((id, modseq, bits, keywords)) = stmt
                        .query_row(rusqlite::params![change.mailbox_id, uid], |r| {
                            Ok((
                                r.get::<_, i64>(0)?,
                                r.get::<_, i64>(1)?,
                                r.get::<_, i64>(2)?,
                                r.get::<_, String>(3)?,
                            ))
                        })
                        .optional()?
                    else {
                        continue;
                    };
                    // RFC 7162 §3.1.3: not changed, reported as MODIFIED.
                    if change.unchanged_since.is_some_and(|u| modseq > u) {
                        result.modified.push(uid);
                        continue;
                    }
                    let old = FlagSet::from_columns(bits, &keywords);
                    let new = apply(change.op, &old, &given);
                    if new.keywords.len() > flags::MAX_KEYWORDS {
                        return Err(StoreError::invalid(format!(
                            "more than {} keywords on a message",
                            flags::MAX_KEYWORDS
                        )));
                    }
                    let changed = new != old;
                    if changed {
                        delta.add(Counts::flags_changed(old.bits, new.bits));
                        updates.push((id, result.messages.len(), new.clone()));
                    }
                    result.messages.push(FlagState {
                        uid,
                        flags: new.to_wire(),
                        modseq,
                        changed,
                    });
                }
            }
            if updates.is_empty() {
                return Ok(result);
            }
            let modseq = next_modseq(&tx)?;
            {
                let mut stmt = tx.prepare_cached(
                    "UPDATE messages SET flags = ?1, keywords = ?2, modseq = ?3 WHERE id = ?4",
                )?;
                for (id, i, new) in &updates {
                    stmt.execute(rusqlite::params![
                        new.bits,
                        new.keywords_column(),
                        modseq,
                        id
                    ])?;
                    result.messages[*i].modseq = modseq;
                }
            }
            tx.execute(
                "UPDATE mailboxes SET modseq = ?1 WHERE id = ?2",
                [modseq, change.mailbox_id],
            )?;
            counters::apply(&tx, change.mailbox_id, delta)?;
            if change.op != FlagOp::Remove {
                counters::add_keywords(
                    &tx,
                    change.mailbox_id,
                    given.keywords.iter().map(String::as_str),
                )?;
            }
            tx.commit()?;
            for (_, i, _) in &updates {
                let m = &result.messages[*i];
                events.push(ChangeEvent::FlagsChanged {
                    account: acc.name.clone(),
                    mailbox_id: change.mailbox_id,
                    uid: m.uid,
                    modseq,
                    flags: m.flags.clone(),
                });
            }
            Ok(result)
        })
    }

    /// COPY (`expunge_source` false) or MOVE of those of `uids` that exist
    /// to the mailbox `to`. Copies keep flags, INTERNALDATE and content;
    /// SAVEDATE is now (RFC 8514).
    pub fn copy_messages(
        &self,
        account: &str,
        from_mailbox_id: i64,
        uids: &[u32],
        to: &str,
        expunge_source: bool,
    ) -> Result<CopyResult> {
        let uids = sorted_unique(uids)?;
        let to = names::mailbox_name(to)?;
        let acc = self.account(account)?;
        let (result, removed) = acc.write(|conn, events| {
            let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
            require_mailbox_id(&tx, account, from_mailbox_id)?;
            let (to_id, mut next_uid) = require_mailbox(&tx, account, &to)?;
            let uidvalidity: u32 = tx.query_row(
                "SELECT uidvalidity FROM mailboxes WHERE id = ?1",
                [to_id],
                |r| r.get(0),
            )?;
            let sources = source_rows(&tx, from_mailbox_id, &uids)?;
            if sources.is_empty() {
                return Ok((
                    CopyResult {
                        uidvalidity,
                        mapping: Vec::new(),
                    },
                    Vec::new(),
                ));
            }
            if !expunge_source {
                let add: u64 = sources.iter().map(|s| s.size).sum();
                self.check_quota(&acc, add)?;
            }
            let modseq = next_modseq(&tx)?;
            let now = unix_now();
            let mut mapping = Vec::with_capacity(sources.len());
            let mut links: Vec<(i64, i64)> = Vec::with_capacity(sources.len());
            {
                let mut insert = tx.prepare_cached(
                    "INSERT INTO messages
                       (mailbox_id, uid, modseq, createseq, expunged, flags, keywords, size,
                        received, save_date, msg_prefix, parsed)
                     SELECT ?1, ?2, ?3, ?3, 0, flags, keywords, size, received, ?4, msg_prefix, parsed
                     FROM messages WHERE id = ?5",
                )?;
                for s in &sources {
                    let uid = next_uid;
                    next_uid = next_uid.checked_add(1).ok_or_else(|| {
                        StoreError::invalid(format!("mailbox {to} has no uids left"))
                    })?;
                    insert.execute(rusqlite::params![to_id, uid, modseq, now, s.id])?;
                    links.push((s.id, tx.last_insert_rowid()));
                    mapping.push((s.uid, uid));
                }
            }
            tx.execute(
                "UPDATE mailboxes SET uidnext = ?1, modseq = ?2 WHERE id = ?3",
                rusqlite::params![next_uid, modseq, to_id],
            )?;
            let mut counts = Counts::default();
            let mut keywords = BTreeSet::new();
            for s in &sources {
                counts.add(Counts::message(s.bits, s.size));
                keywords.extend(s.keywords.split(' '));
            }
            counters::apply(&tx, to_id, counts)?;
            counters::add_keywords(&tx, to_id, keywords)?;
            if expunge_source {
                let mut stmt = tx.prepare_cached(
                    "UPDATE messages SET expunged = 1, modseq = ?1 WHERE id = ?2",
                )?;
                for s in &sources {
                    stmt.execute([modseq, s.id])?;
                }
                drop(stmt);
                tx.execute(
                    "UPDATE mailboxes SET modseq = ?1 WHERE id = ?2",
                    [modseq, from_mailbox_id],
                )?;
                let mut gone = Counts::default();
                gone.sub(counts);
                counters::apply(&tx, from_mailbox_id, gone)?;
            }
            let mut made = Vec::with_capacity(links.len());
            let linked = link_files(&acc, &links, &mut made).and_then(|()| Ok(tx.commit()?));
            if let Err(e) = linked {
                for path in &made {
                    if let Err(rm) = files::remove_file_if_exists(path) {
                        tracing::error!(path = %path.display(), error = %rm, "removing link of failed copy");
                    }
                }
                return Err(e);
            }
            for ((_, uid), (_, id)) in mapping.iter().zip(&links) {
                events.push(ChangeEvent::MessageAdded {
                    account: acc.name.clone(),
                    mailbox_id: to_id,
                    uid: *uid,
                    modseq,
                    message_id: *id,
                });
            }
            let mut removed = Vec::new();
            if expunge_source {
                events.push(ChangeEvent::Expunged {
                    account: acc.name.clone(),
                    mailbox_id: from_mailbox_id,
                    uids: sources.iter().map(|s| s.uid).collect(),
                    modseq,
                });
                removed = sources.iter().map(|s| s.id).collect();
            }
            Ok((
                CopyResult {
                    uidvalidity,
                    mapping,
                },
                removed,
            ))
        })?;
        remove_files(&acc, &removed);
        Ok(result)
    }

    /// EXPUNGE: removes the messages with \Deleted (among `uids` when
    /// given). Returns the UIDs expunged, ascending.
    pub fn expunge_deleted(
        &self,
        account: &str,
        mailbox_id: i64,
        uids: Option<&[u32]>,
    ) -> Result<Vec<u32>> {
        let wanted = uids.map(sorted_unique).transpose()?;
        let acc = self.account(account)?;
        let found = acc.write(|conn, events| {
            let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
            require_mailbox_id(&tx, account, mailbox_id)?;
            let deleted: Vec<(u32, i64, Counts)> = {
                let mut stmt = tx.prepare_cached(
                    "SELECT uid, id, flags, size FROM messages
                     WHERE mailbox_id = ?1 AND expunged = 0 AND (flags & ?2) != 0 ORDER BY uid",
                )?;
                let rows = stmt.query_map(rusqlite::params![mailbox_id, flags::DELETED], |r| {
                    let bits = u32::try_from(r.get::<_, i64>(2)?).unwrap_or(0);
                    Ok((r.get(0)?, r.get(1)?, Counts::message(bits, r.get(3)?)))
                })?;
                rows.collect::<rusqlite::Result<_>>()?
            };
            let found: Vec<(u32, i64, Counts)> = match &wanted {
                Some(w) => deleted
                    .into_iter()
                    .filter(|(uid, _, _)| w.binary_search(uid).is_ok())
                    .collect(),
                None => deleted,
            };
            if found.is_empty() {
                return Ok(found);
            }
            let modseq = next_modseq(&tx)?;
            {
                let mut stmt = tx.prepare_cached(
                    "UPDATE messages SET expunged = 1, modseq = ?1 WHERE id = ?2",
                )?;
                for (_, id, _) in &found {
                    stmt.execute([modseq, *id])?;
                }
            }
            tx.execute(
                "UPDATE mailboxes SET modseq = ?1 WHERE id = ?2",
                [modseq, mailbox_id],
            )?;
            let mut gone = Counts::default();
            for (_, _, c) in &found {
                gone.sub(*c);
            }
            counters::apply(&tx, mailbox_id, gone)?;
            tx.commit()?;
            events.push(ChangeEvent::Expunged {
                account: acc.name.clone(),
                mailbox_id,
                uids: found.iter().map(|(uid, _, _)| *uid).collect(),
                modseq,
            });
            Ok(found)
        })?;
        let ids: Vec<i64> = found.iter().map(|(_, id, _)| *id).collect();
        remove_files(&acc, &ids);
        Ok(found.into_iter().map(|(uid, _, _)| uid).collect())
    }
}

struct Source {
    id: i64,
    uid: u32,
    size: u64,
    /// Flag bits and keywords column (flags.rs).
    bits: u32,
    keywords: String,
}

fn source_rows(conn: &Connection, mailbox_id: i64, uids: &[u32]) -> Result<Vec<Source>> {
    let mut stmt = conn.prepare_cached(
        "SELECT id, size, flags, keywords FROM messages
         WHERE mailbox_id = ?1 AND uid = ?2 AND expunged = 0",
    )?;
    let mut out = Vec::new();
    for &uid in uids {
        if let Some(s) = stmt
            .query_row(rusqlite::params![mailbox_id, uid], |r| {
                Ok(Source {
                    id: r.get(0)?,
                    uid,
                    size: r.get(1)?,
                    bits: u32::try_from(r.get::<_, i64>(2)?).unwrap_or(0),
                    keywords: r.get(3)?,
                })
            })
            .optional()?
        {
            out.push(s);
        }
    }
    Ok(out)
}

/// Links each source file to its copy's path and fsyncs the touched
/// directories once. `made` lists the links created.
fn link_files(acc: &Account, links: &[(i64, i64)], made: &mut Vec<PathBuf>) -> Result<()> {
    let mut created_dir = false;
    let mut dirs = BTreeSet::new();
    for (src, dst) in links {
        created_dir |= files::ensure_msg_dir(&acc.msg_dir, *dst)?;
        let from = files::msg_path(&acc.msg_dir, *src);
        let to = files::msg_path(&acc.msg_dir, *dst);
        std::fs::hard_link(&from, &to)
            .ctx(|| format!("link {} to {}", from.display(), to.display()))?;
        made.push(to);
        dirs.insert(files::msg_dir(&acc.msg_dir, *dst));
    }
    for dir in &dirs {
        files::fsync_dir(dir)?;
    }
    if created_dir {
        files::fsync_dir(&acc.msg_dir)?;
    }
    Ok(())
}

/// Removes the files of expunged rows (after their commit).
fn remove_files(acc: &Account, ids: &[i64]) {
    for id in ids {
        if let Err(e) = files::remove_file_if_exists(&files::msg_path(&acc.msg_dir, *id)) {
            tracing::warn!(account = acc.name, id, error = %e, "removing expunged message file");
        }
    }
}
