//! One open account: its index.db (writer and reader connections), its
//! message directory, its delivery committer and its event channel.
//! Accounts are opened on first use and cached in the `Store`; at most
//! [`MAX_IDLE_ACCOUNTS`] stay open while nothing uses them (the least
//! recently used idle one is closed when another opens), so a server with
//! many accounts does not hold a database and an event buffer for each.
//!
//! Every change goes through [`Account::write`], which holds the writer
//! lock for the whole transaction and publishes the change's events before
//! releasing it, so events come out in commit order.

use std::collections::{HashMap, HashSet};
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

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
    pub committer: Committer<crate::deliver::Job, ipc::store::Delivered>,
    pub events: Events,
    /// [`AccountCache`]'s use counter when the account was last handed out.
    last_used: AtomicU64,
}

/// Idle accounts (no request, delivery or event subscriber holds them)
/// kept open; accounts in use are never closed.
pub const MAX_IDLE_ACCOUNTS: usize = 16;

/// The `Store`'s open accounts.
#[derive(Debug, Default)]
pub(crate) struct AccountCache {
    open: HashMap<String, Arc<Account>>,
    /// Accounts whose message directory was checked for files without a
    /// row since the store started: only a crash leaves such files, so an
    /// account closed and opened again is not checked again.
    recovered: HashSet<String>,
    uses: u64,
}

impl AccountCache {
    fn get(&mut self, name: &str) -> Option<Arc<Account>> {
        self.uses += 1;
        let acc = self.open.get(name)?;
        acc.last_used.store(self.uses, Ordering::Relaxed);
        Some(Arc::clone(acc))
    }

    /// Caches a newly opened account, then closes the least recently used
    /// idle accounts beyond [`MAX_IDLE_ACCOUNTS`].
    pub fn insert(&mut self, acc: Account) -> Arc<Account> {
        self.uses += 1;
        acc.last_used.store(self.uses, Ordering::Relaxed);
        self.recovered.insert(acc.name.clone());
        let acc = Arc::new(acc);
        self.open.insert(acc.name.clone(), Arc::clone(&acc));
        // Idle: only this map holds it (a holder gets its clone under the
        // cache lock, so none can appear while we hold it), and no session
        // listens to its events.
        let mut idle: Vec<(u64, String)> = self
            .open
            .values()
            .filter(|a| Arc::strong_count(a) == 1 && a.events.subscribers() == 0)
            .map(|a| (a.last_used.load(Ordering::Relaxed), a.name.clone()))
            .collect();
        if idle.len() > MAX_IDLE_ACCOUNTS {
            idle.sort_unstable();
            for (_, name) in &idle[..idle.len() - MAX_IDLE_ACCOUNTS] {
                self.open.remove(name);
            }
        }
        acc
    }

    pub fn remove(&mut self, name: &str) -> Option<Arc<Account>> {
        self.recovered.remove(name);
        self.open.remove(name)
    }

    /// Open accounts.
    #[cfg(test)]
    pub fn len(&self) -> usize {
        self.open.len()
    }
}

impl Account {
    /// Opens (creating when missing) `accounts/NAME`, migrates its database
    /// and, with `recover`, removes message files left without a row by a
    /// crash.
    pub fn open(layout: &Layout, name: &str, recover: bool) -> Result<Account> {
        let dir = layout.account_dir(names::account_name(name)?);
        let msg_dir = dir.join("msg");
        files::create_dir_all(&msg_dir)?;
        let db = Db::open(&dir.join("index.db"), DbKind::Account)?;
        if recover {
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
            last_used: AtomicU64::new(0),
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
            return Ok(acc);
        }
        if !self.account_exists(name)? {
            return Err(StoreError::not_found(format!("no account {name}")));
        }
        let recover = !cache.recovered.contains(name);
        let acc = Account::open(&self.layout, name, recover)?;
        Ok(cache.insert(acc))
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

#[cfg(test)]
mod tests {
    use super::*;

    fn open_count(store: &Store) -> usize {
        lock(&store.accounts).len()
    }

    #[test]
    fn idle_accounts_are_closed_beyond_the_limit_and_used_ones_stay() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        store.domain_add("example.org").unwrap();
        store.account_add("held", "held@example.org").unwrap();
        store
            .account_add("listened", "listened@example.org")
            .unwrap();
        let held = store.account("held").unwrap();
        let mut events = store.subscribe("listened").unwrap();
        let extra = MAX_IDLE_ACCOUNTS + 10;
        for i in 0..extra {
            let name = format!("a{i}");
            store
                .account_add(&name, &format!("{name}@example.org"))
                .unwrap();
        }
        // The two in use, the last opened (in use while it was opened) and
        // MAX_IDLE_ACCOUNTS idle ones.
        assert_eq!(open_count(&store), MAX_IDLE_ACCOUNTS + 3);
        // The held handle is the cached one, and the subscriber still hears
        // changes made through a handle opened after all the others.
        assert!(Arc::ptr_eq(&held, &store.account("held").unwrap()));
        store.mailbox_create("listened", "Later").unwrap();
        assert!(events.try_recv().is_ok(), "subscriber lost its account");
        // An account closed earlier opens again with its data.
        store.mailbox_create("a0", "Kept").unwrap();
        for i in 1..extra {
            store.account(&format!("a{i}")).unwrap();
        }
        assert!(open_count(&store) <= MAX_IDLE_ACCOUNTS + 3);
        let boxes = store.mailboxes("a0").unwrap();
        assert!(boxes.iter().any(|b| b.name == "Kept"), "{boxes:?}");
        drop(held);
        drop(events);
        // Opening a closed one now closes the two that were in use too.
        store.account("a1").unwrap();
        assert_eq!(open_count(&store), MAX_IDLE_ACCOUNTS + 1);
    }
}
