//! `Store`: the storage engine as one value the store daemon shares between
//! its request threads. It owns the data directory layout, system.db and a
//! cache of open account databases; every method is blocking and may be
//! called from many threads at once (call it from `spawn_blocking`).

use std::collections::HashSet;
use std::fs::File;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, RwLock};
use std::time::{SystemTime, UNIX_EPOCH};

use crate::account::AccountCache;
use crate::db::{Db, lock};
use crate::error::Result;
use crate::files::{self, Layout};
use crate::migrations::DbKind;
use crate::recovery;

/// Largest message the store accepts: delivery prefix plus file.
pub const MAX_MESSAGE_SIZE: u64 = 100 * 1024 * 1024;
/// Largest delivery prefix (headers added at delivery).
pub const MAX_PREFIX_SIZE: usize = 256 * 1024;
/// Largest serialized message structure kept beside a message.
pub const MAX_PARSED_SIZE: usize = 2 * 1024 * 1024;

/// The storage engine. `Send + Sync`; share it in an `Arc`.
#[derive(Debug)]
pub struct Store {
    pub(crate) layout: Layout,
    pub(crate) system: Db,
    /// Open account databases, by account name. Lock order: this map, then
    /// an account's writer, then the system writer.
    pub(crate) accounts: Mutex<AccountCache>,
    /// Account receiving mail for unknown recipients (localserve).
    pub(crate) catchall: RwLock<Option<String>>,
    pub(crate) counters: Counters,
    /// Failed-login limits per remote IP class, shared by every protocol.
    pub(crate) auth_limits: Mutex<crate::authlimit::AuthLimits>,
    /// Storage limit of accounts without their own (RFC 9208).
    pub(crate) default_quota: RwLock<Option<u64>>,
    tmp_seq: AtomicU64,
    /// Group commit of outbound queue additions.
    pub(crate) queue_adds: crate::queue::QueueCommitter,
    /// Additions to the outbound queue, for [`Store::queue_watch`].
    pub(crate) queue_added: tokio::sync::watch::Sender<u64>,
    /// Held open for the lock on the data directory.
    _lock: File,
}

#[derive(Debug, Default)]
pub(crate) struct Counters {
    pub deliveries: AtomicU64,
    pub delivery_batches: AtomicU64,
    pub queue_adds: AtomicU64,
    pub queue_batches: AtomicU64,
}

/// Counters since [`Store::open`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Stats {
    /// Deliveries that were committed.
    pub deliveries: u64,
    /// Delivery transactions (group commits); each covers one or more deliveries.
    pub delivery_batches: u64,
    /// Messages added to the outbound queue.
    pub queue_adds: u64,
    /// Queue-addition transactions (group commits).
    pub queue_batches: u64,
}

impl Store {
    /// Opens the data directory, creating its layout when missing: locks it
    /// (one store per data directory), migrates system.db, empties tmp/ and
    /// removes queue files without a row (left by a crash). Account
    /// databases are opened on first use, and their message directories
    /// checked the same way then.
    pub fn open(data_dir: &Path) -> Result<Store> {
        let layout = Layout {
            root: data_dir.to_path_buf(),
        };
        layout.create()?;
        let dir_lock = layout.lock()?;
        let leftovers = files::empty_dir(&layout.tmp())?;
        if leftovers > 0 {
            tracing::info!(count = leftovers, "removed leftover temporary files");
        }
        let system = Db::open(&layout.system_db(), DbKind::System)?;
        {
            let conn = lock(&system.reader);
            let mut stmt = conn.prepare("SELECT id FROM queue WHERE id >= ?1 AND id < ?2")?;
            recovery::remove_orphans(&layout.queue_msg(), |lo, hi| {
                let ids = stmt.query_map([lo, hi], |r| r.get::<_, i64>(0))?;
                Ok(ids.collect::<rusqlite::Result<HashSet<i64>>>()?)
            })?;
        }
        Ok(Store {
            layout,
            system,
            accounts: Mutex::new(AccountCache::default()),
            catchall: RwLock::new(None),
            counters: Counters::default(),
            auth_limits: Mutex::new(crate::authlimit::AuthLimits::new()),
            default_quota: RwLock::new(None),
            tmp_seq: AtomicU64::new(0),
            queue_adds: Default::default(),
            queue_added: tokio::sync::watch::Sender::new(0),
            _lock: dir_lock,
        })
    }

    pub fn stats(&self) -> Stats {
        Stats {
            deliveries: self.counters.deliveries.load(Ordering::Relaxed),
            delivery_batches: self.counters.delivery_batches.load(Ordering::Relaxed),
            queue_adds: self.counters.queue_adds.load(Ordering::Relaxed),
            queue_batches: self.counters.queue_batches.load(Ordering::Relaxed),
        }
    }

    /// A fresh file name in tmp/.
    pub(crate) fn tmp_name(&self, what: &str) -> String {
        let n = self.tmp_seq.fetch_add(1, Ordering::Relaxed);
        format!("{what}-{}-{n}", std::process::id())
    }
}

/// Unix seconds now.
pub(crate) fn unix_now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn store_is_send_and_sync() {
        fn check<T: Send + Sync>() {}
        check::<Store>();
    }
}
