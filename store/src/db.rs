//! Opening SQLite the way the store needs it: WAL, `synchronous=FULL` (a
//! commit is the acknowledgement, so it must survive power loss),
//! `temp_store=MEMORY` (the sandboxed store may only touch the data
//! directory), foreign keys, a busy timeout. Each database gets one writer
//! connection and one reader connection: in WAL mode readers see the last
//! commit and are not blocked while the writer fsyncs.

use std::path::Path;
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

use rusqlite::{Connection, OpenFlags};

use crate::error::{Result, StoreError};
use crate::migrations::{self, DbKind};

/// How long a connection waits for another connection's lock.
const BUSY_TIMEOUT: Duration = Duration::from_secs(10);

/// Locks a mutex; a panic while it was held leaves no half-done work behind
/// (SQLite rolls back an unfinished transaction on drop), so the data stays
/// usable.
pub fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// A database with its writer and reader connections.
#[derive(Debug)]
pub struct Db {
    pub writer: Mutex<Connection>,
    pub reader: Mutex<Connection>,
}

impl Db {
    /// Opens (creating if needed) and migrates the database at `path`.
    pub fn open(path: &Path, kind: DbKind) -> Result<Db> {
        let mut writer = connect(path)?;
        migrations::migrate(&mut writer, kind)?;
        let reader = connect(path)?;
        Ok(Db {
            writer: Mutex::new(writer),
            reader: Mutex::new(reader),
        })
    }
}

fn connect(path: &Path) -> Result<Connection> {
    let flags = OpenFlags::SQLITE_OPEN_READ_WRITE
        | OpenFlags::SQLITE_OPEN_CREATE
        | OpenFlags::SQLITE_OPEN_NO_MUTEX;
    let conn = Connection::open_with_flags(path, flags)
        .map_err(|e| StoreError::temporary(format!("open database {}: {e}", path.display())))?;
    conn.busy_timeout(BUSY_TIMEOUT)?;
    let mode: String =
        conn.pragma_update_and_check(None, "journal_mode", "WAL", |row| row.get(0))?;
    if !mode.eq_ignore_ascii_case("wal") {
        return Err(StoreError::temporary(format!(
            "database {}: cannot enable WAL (mode {mode})",
            path.display()
        )));
    }
    conn.pragma_update(None, "synchronous", "FULL")?;
    conn.pragma_update(None, "temp_store", "MEMORY")?;
    conn.pragma_update(None, "foreign_keys", "ON")?;
    Ok(conn)
}

/// Runs `f` with `synchronous=NORMAL` on a writer: in WAL mode its
/// commit is atomic but not fsynced (the next durable commit or checkpoint
/// syncs it). Only for bookkeeping whose loss to a power failure merely
/// repeats work (queue claims and results, \Recent claims); `FULL` is
/// restored whatever `f` returns.
pub(crate) fn relaxed<T>(
    conn: &mut Connection,
    f: impl FnOnce(&mut Connection) -> Result<T>,
) -> Result<T> {
    conn.pragma_update(None, "synchronous", "NORMAL")?;
    let result = f(conn);
    conn.pragma_update(None, "synchronous", "FULL")?;
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn relaxed_restores_full_sync() {
        let dir = tempfile::tempdir().unwrap();
        let db = Db::open(&dir.path().join("t.db"), DbKind::System).unwrap();
        let mut conn = lock(&db.writer);
        let sync = |c: &Connection| -> i64 {
            c.query_row("PRAGMA synchronous", [], |r| r.get(0)).unwrap()
        };
        assert_eq!(relaxed(&mut conn, |c| Ok(sync(c))).unwrap(), 1, "NORMAL");
        assert_eq!(sync(&conn), 2, "FULL after");
        let failed: Result<()> = relaxed(&mut conn, |_| Err(StoreError::invalid("no")));
        assert!(failed.is_err());
        assert_eq!(sync(&conn), 2, "FULL after a failure too");
    }

    #[test]
    fn pragmas_are_set() {
        let dir = tempfile::tempdir().unwrap();
        let db = Db::open(&dir.path().join("t.db"), DbKind::System).unwrap();
        for conn in [lock(&db.writer), lock(&db.reader)] {
            let mode: String = conn
                .query_row("PRAGMA journal_mode", [], |r| r.get(0))
                .unwrap();
            assert_eq!(mode, "wal");
            let sync: i64 = conn
                .query_row("PRAGMA synchronous", [], |r| r.get(0))
                .unwrap();
            assert_eq!(sync, 2, "FULL");
            let temp: i64 = conn
                .query_row("PRAGMA temp_store", [], |r| r.get(0))
                .unwrap();
            assert_eq!(temp, 2, "MEMORY");
            let fk: i64 = conn
                .query_row("PRAGMA foreign_keys", [], |r| r.get(0))
                .unwrap();
            assert_eq!(fk, 1);
        }
    }
}
