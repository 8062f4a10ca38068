//! One open account: its index.db (writer and reader connections), its
//! message directory, its delivery committer and its event channel.
//! Accounts are opened on first use and stay cached in the `Store`.
//!
//! Every change goes through [`Account::write`], which holds the writer
//! lock for the whole transaction and publishes the change's events before
//! releasing it, so events come out in commit order.

use std::collections::HashSet;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use ipc::store::ChangeEvent;
use rusqlite::{Connection, OptionalExtension};

use crate::db::{Db, lock};
use crate::deliver::Committer;
use crate::error::{Result, StoreError};
use crate::events::Events;
use crate::files::{self, Layout};
use crate::migrations::DbKind;
use crate::store::Store;
use crate::{names, recovery};

#[derive(Debug)]
pub(crate) struct Account {
    pub name: String,
    /// `accounts/NAME/msg`.
    pub msg_dir: PathBuf,
    db: Db,
    /// Set (under the writer lock) when the account is deleted; writes
    /// through handles still held elsewhere then fail.
    deleted: AtomicBool,
    pub committer: Committer,
    pub events: Events,
}

impl Account {
    /// Opens (creating when missing) `accounts/NAME`, migrates its database
    /// and removes message files left without a row by a crash.
    pub fn open(layout: &Layout, name: &str) -> Result<Account> {
        let dir = layout.account_dir(names::account_name(name)?);
        let msg_dir = dir.join("msg");
        files::create_dir_all(&msg_dir)?;
        let db = Db::open(&dir.join("index.db"), DbKind::Account)?;
        {
            let conn = lock(&db.reader);
            let mut stmt = conn
                .prepare("SELECT id FROM messages WHERE id >= ?1 AND id < ?2 AND expunged = 0")?;
            let removed = recovery::remove_orphans(&msg_dir, |lo, hi| {
                let ids = stmt.query_map([lo, hi], |r| r.get::<_, i64>(0))?;
                Ok(ids.collect::<rusqlite::Result<HashSet<i64>>>()?)
            })?;
            if removed > 0 {
                tracing::info!(
                    account = name,
                    removed,
                    "removed message files without a row"
                );
            }
        }
        Ok(Account {
            name: name.to_string(),
            msg_dir,
            db,
            deleted: AtomicBool::new(false),
            committer: Committer::default(),
            events: Events::new(),
        })
    }

    /// Runs a change under the writer lock. `f` commits its own transaction
    /// and pushes the events of the change; they are published only when
    /// `f` succeeds, before the lock is released.
    pub fn write<T>(
        &self,
        f: impl FnOnce(&mut Connection, &mut Vec<ChangeEvent>) -> Result<T>,
    ) -> Result<T> {
        let mut conn = lock(&self.db.writer);
        if self.deleted.load(Ordering::SeqCst) {
            return Err(StoreError::not_found(format!(
                "account {} was deleted",
                self.name
            )));
        }
        let mut events = Vec::new();
        let out = f(&mut conn, &mut events)?;
        self.events.publish(events);
        Ok(out)
    }

    /// Runs a query on the reader connection (sees the last commit).
    pub fn read<T>(&self, f: impl FnOnce(&Connection) -> Result<T>) -> Result<T> {
        f(&lock(&self.db.reader))
    }

    /// Marks the account deleted once no change is in progress.
    pub fn mark_deleted(&self) {
        let _writer = lock(&self.db.writer);
        self.deleted.store(true, Ordering::SeqCst);
    }
}

impl Store {
    /// The open account `name`, opening it when this is its first use.
    pub(crate) fn account(&self, name: &str) -> Result<Arc<Account>> {
        names::account_name(name)?;
        let mut cache = lock(&self.accounts);
        if let Some(acc) = cache.get(name) {
            return Ok(Arc::clone(acc));
        }
        if !self.account_exists(name)? {
            return Err(StoreError::not_found(format!("no account {name}")));
        }
        let acc = Arc::new(Account::open(&self.layout, name)?);
        cache.insert(name.to_string(), Arc::clone(&acc));
        Ok(acc)
    }

    pub(crate) fn account_exists(&self, name: &str) -> Result<bool> {
        let conn = lock(&self.system.reader);
        let found = conn
            .query_row("SELECT 1 FROM accounts WHERE name = ?1", [name], |_| Ok(()))
            .optional()?
            .is_some();
        Ok(found)
    }
}
