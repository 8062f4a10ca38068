//! Mailboxes of an account: list with counts, create (with missing
//! parents, RFC 9051 §6.3.4), rename (with children, RFC 9051 §6.3.6),
//! delete (RFC 9051 §6.3.5; refused for Inbox and for mailboxes with
//! children). Hierarchy is by name with `/` as separator.

use ipc::store::{ChangeEvent, MailboxInfo};
use rusqlite::{Connection, OptionalExtension, TransactionBehavior};

use crate::error::{Result, StoreError};
use crate::files;
use crate::imap::{INFO_COLUMNS, info_row};
use crate::names::{self, INBOX, MAILBOX_SEPARATOR};
use crate::store::Store;

/// Allocates the next modification sequence of the account (RFC 7162 §3:
/// one counter per account, so every change gets a higher value).
pub(crate) fn next_modseq(conn: &Connection) -> Result<i64> {
    Ok(conn.query_row(
        "UPDATE sync_state SET last_modseq = last_modseq + 1 RETURNING last_modseq",
        [],
        |r| r.get(0),
    )?)
}

/// A mailbox's id and next uid, by (normalized) name.
pub(crate) fn find_mailbox(conn: &Connection, name: &str) -> Result<Option<(i64, u32)>> {
    let row = conn
        .prepare_cached("SELECT id, uidnext FROM mailboxes WHERE name = ?1")?
        .query_row([name], |r| Ok((r.get(0)?, r.get(1)?)))
        .optional()?;
    Ok(row)
}

pub(crate) fn require_mailbox(conn: &Connection, account: &str, name: &str) -> Result<(i64, u32)> {
    find_mailbox(conn, name)?
        .ok_or_else(|| StoreError::not_found(format!("account {account} has no mailbox {name}")))
}

/// Inserts one mailbox with a fresh UIDVALIDITY (RFC 9051 §2.3.1.1: never
/// reused within the account).
fn insert_mailbox(conn: &Connection, name: &str, modseq: i64) -> Result<i64> {
    let uidvalidity: i64 = conn.query_row(
        "UPDATE sync_state SET next_uidvalidity = next_uidvalidity + 1 RETURNING next_uidvalidity - 1",
        [],
        |r| r.get(0),
    )?;
    let uidvalidity = u32::try_from(uidvalidity)
        .map_err(|_| StoreError::temporary("UIDVALIDITY values of the account exhausted"))?;
    conn.execute(
        "INSERT INTO mailboxes (name, uidvalidity, uidnext, special_use, createseq, modseq)
         VALUES (?1, ?2, 1, NULL, ?3, ?3)",
        rusqlite::params![name, uidvalidity, modseq],
    )?;
    Ok(conn.last_insert_rowid())
}

/// Creates the missing parents of `name`; returns the names created.
fn create_parents(conn: &Connection, name: &str, modseq: i64) -> Result<Vec<String>> {
    let mut created = Vec::new();
    for parent in names::mailbox_parents(name) {
        if find_mailbox(conn, parent)?.is_none() {
            insert_mailbox(conn, parent, modseq)?;
            created.push(parent.to_string());
        }
    }
    Ok(created)
}

fn children(conn: &Connection, name: &str) -> Result<Vec<String>> {
    let prefix = format!("{name}{MAILBOX_SEPARATOR}");
    let mut stmt =
        conn.prepare("SELECT name FROM mailboxes WHERE substr(name, 1, ?1) = ?2 ORDER BY name")?;
    let rows = stmt.query_map(rusqlite::params![prefix.chars().count(), prefix], |r| {
        r.get(0)
    })?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

impl Store {
    /// The account's mailboxes (Inbox first, then by name) with their
    /// counts (kept in their rows, counters.rs).
    pub fn mailboxes(&self, account: &str) -> Result<Vec<MailboxInfo>> {
        let acc = self.account(account)?;
        acc.read(|c| {
            let mut stmt = c.prepare(&format!(
                "SELECT {INFO_COLUMNS} FROM mailboxes m ORDER BY m.name != 'Inbox', m.name"
            ))?;
            let rows = stmt.query_map([], info_row)?;
            Ok(rows.collect::<rusqlite::Result<_>>()?)
        })
    }

    /// Creates a mailbox and any missing parents; returns its id.
    pub fn mailbox_create(&self, account: &str, name: &str) -> Result<i64> {
        self.mailbox_create_with(account, name, None)
    }

    /// Creates a mailbox with an RFC 6154 attribute (already checked) and
    /// any missing parents, in one transaction; returns its id.
    pub(crate) fn mailbox_create_with(
        &self,
        account: &str,
        name: &str,
        special_use: Option<&str>,
    ) -> Result<i64> {
        let name = names::mailbox_name(name)?;
        let acc = self.account(account)?;
        acc.write(|conn, events| {
            let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
            if find_mailbox(&tx, &name)?.is_some() {
                return Err(StoreError::exists(format!("mailbox {name} exists")));
            }
            let modseq = next_modseq(&tx)?;
            let parents = create_parents(&tx, &name, modseq)?;
            let id = insert_mailbox(&tx, &name, modseq)?;
            if let Some(special) = special_use {
                tx.execute(
                    "UPDATE mailboxes SET special_use = ?1 WHERE id = ?2",
                    rusqlite::params![special, id],
                )?;
            }
            tx.commit()?;
            for created in parents.into_iter().chain([name]) {
                events.push(ChangeEvent::MailboxCreated {
                    account: acc.name.clone(),
                    name: created,
                });
            }
            Ok(id)
        })
    }

    /// Renames a mailbox and its children, keeping their messages and
    /// UIDVALIDITY; subscriptions follow. Renaming Inbox is refused.
    pub fn mailbox_rename(&self, account: &str, from: &str, to: &str) -> Result<()> {
        let from = names::mailbox_name(from)?;
        let to = names::mailbox_name(to)?;
        if from == INBOX {
            return Err(StoreError::invalid("renaming Inbox is not supported"));
        }
        if to == from || to.starts_with(&format!("{from}{MAILBOX_SEPARATOR}")) {
            return Err(StoreError::invalid(format!("cannot rename {from} to {to}")));
        }
        let acc = self.account(account)?;
        acc.write(|conn, events| {
            let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
            require_mailbox(&tx, account, &from)?;
            if find_mailbox(&tx, &to)?.is_some() {
                return Err(StoreError::exists(format!("mailbox {to} exists")));
            }
            let modseq = next_modseq(&tx)?;
            let parents = create_parents(&tx, &to, modseq)?;
            let mut renames = vec![(from.clone(), to.clone())];
            for child in children(&tx, &from)? {
                let new = format!("{to}{}", &child[from.len()..]);
                if find_mailbox(&tx, &new)?.is_some() {
                    return Err(StoreError::exists(format!("mailbox {new} exists")));
                }
                renames.push((child, new));
            }
            for (old, new) in &renames {
                // The modseq of a mailbox is that of its messages' last
                // change (RFC 7162 §3.1.2); a rename changes none.
                tx.execute(
                    "UPDATE mailboxes SET name = ?1 WHERE name = ?2",
                    rusqlite::params![new, old],
                )?;
                tx.execute(
                    "UPDATE OR IGNORE subscriptions SET name = ?1 WHERE name = ?2",
                    [new, old],
                )?;
            }
            tx.commit()?;
            for created in parents {
                events.push(ChangeEvent::MailboxCreated {
                    account: acc.name.clone(),
                    name: created,
                });
            }
            for (old, new) in renames {
                events.push(ChangeEvent::MailboxRenamed {
                    account: acc.name.clone(),
                    from: old,
                    to: new,
                });
            }
            Ok(())
        })
    }

    /// Deletes a mailbox without children, with its messages and their
    /// files. Its subscription stays (RFC 9051 §6.3.5).
    pub fn mailbox_delete(&self, account: &str, name: &str) -> Result<()> {
        let name = names::mailbox_name(name)?;
        if name == INBOX {
            return Err(StoreError::invalid("Inbox cannot be deleted"));
        }
        let acc = self.account(account)?;
        let ids = acc.write(|conn, events| {
            let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
            let (mailbox_id, _) = require_mailbox(&tx, account, &name)?;
            if !children(&tx, &name)?.is_empty() {
                return Err(StoreError::invalid(format!("mailbox {name} has children")));
            }
            let ids: Vec<i64> = {
                let mut stmt = tx.prepare("SELECT id FROM messages WHERE mailbox_id = ?1")?;
                let rows = stmt.query_map([mailbox_id], |r| r.get(0))?;
                rows.collect::<rusqlite::Result<_>>()?
            };
            next_modseq(&tx)?;
            tx.execute("DELETE FROM messages WHERE mailbox_id = ?1", [mailbox_id])?;
            tx.execute("DELETE FROM mailboxes WHERE id = ?1", [mailbox_id])?;
            tx.commit()?;
            events.push(ChangeEvent::MailboxDeleted {
                account: acc.name.clone(),
                name: name.clone(),
            });
            Ok(ids)
        })?;
        // After the commit; a crash before this leaves files that the next
        // open removes.
        for id in ids {
            if let Err(e) = files::remove_file_if_exists(&files::msg_path(&acc.msg_dir, id)) {
                tracing::warn!(account, id, error = %e, "removing message file of deleted mailbox");
            }
        }
        Ok(())
    }

    /// Names the account is subscribed to (RFC 9051 §6.3.7), sorted.
    pub fn subscriptions(&self, account: &str) -> Result<Vec<String>> {
        let acc = self.account(account)?;
        acc.read(|c| {
            let mut stmt = c.prepare("SELECT name FROM subscriptions ORDER BY name")?;
            let rows = stmt.query_map([], |r| r.get(0))?;
            Ok(rows.collect::<rusqlite::Result<_>>()?)
        })
    }
}
