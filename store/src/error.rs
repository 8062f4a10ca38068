//! The one error type of the storage engine. Its kind is the wire kind
//! (`ipc::store::StoreErrorKind`) so the store daemon answers a request by
//! converting it, without a second classification.
//!
//! I/O and SQLite failures are `Temporary` (the operation did not happen;
//! try again later), bad input is `Invalid`, missing things `NotFound`,
//! duplicates `Exists`.

use ipc::store::StoreErrorKind;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{kind:?}: {message}")]
pub struct StoreError {
    pub kind: StoreErrorKind,
    pub message: String,
}

impl StoreError {
    pub fn new(kind: StoreErrorKind, message: impl Into<String>) -> Self {
        StoreError {
            kind,
            message: message.into(),
        }
    }

    pub fn invalid(message: impl Into<String>) -> Self {
        Self::new(StoreErrorKind::Invalid, message)
    }

    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(StoreErrorKind::NotFound, message)
    }

    pub fn exists(message: impl Into<String>) -> Self {
        Self::new(StoreErrorKind::Exists, message)
    }

    pub fn temporary(message: impl Into<String>) -> Self {
        Self::new(StoreErrorKind::Temporary, message)
    }

    /// An I/O error with what was being done, as a temporary failure.
    pub fn io(context: impl std::fmt::Display, err: std::io::Error) -> Self {
        Self::temporary(format!("{context}: {err}"))
    }
}

impl From<rusqlite::Error> for StoreError {
    fn from(err: rusqlite::Error) -> Self {
        // SQLITE_CONSTRAINT_UNIQUE and SQLITE_CONSTRAINT_PRIMARYKEY: a duplicate.
        let duplicate = err.sqlite_error().is_some_and(|e| {
            e.extended_code == rusqlite::ffi::SQLITE_CONSTRAINT_UNIQUE
                || e.extended_code == rusqlite::ffi::SQLITE_CONSTRAINT_PRIMARYKEY
        });
        if duplicate {
            StoreError::exists(format!("database: {err}"))
        } else {
            StoreError::temporary(format!("database: {err}"))
        }
    }
}

impl From<StoreError> for ipc::store::StoreError {
    fn from(err: StoreError) -> Self {
        ipc::store::StoreError {
            kind: err.kind,
            message: err.message,
        }
    }
}

/// Adds context to I/O results: `fs::rename(a, b).ctx(|| format!("rename {a:?}"))?`.
pub(crate) trait IoContext<T> {
    fn ctx<C: std::fmt::Display>(self, context: impl FnOnce() -> C) -> Result<T, StoreError>;
}

impl<T> IoContext<T> for std::io::Result<T> {
    fn ctx<C: std::fmt::Display>(self, context: impl FnOnce() -> C) -> Result<T, StoreError> {
        self.map_err(|e| StoreError::io(context(), e))
    }
}

pub type Result<T, E = StoreError> = std::result::Result<T, E>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sqlite_unique_violation_is_exists() {
        let conn = rusqlite::Connection::open_in_memory().unwrap();
        conn.execute_batch("CREATE TABLE t (a TEXT PRIMARY KEY); INSERT INTO t VALUES ('x');")
            .unwrap();
        let err: StoreError = conn
            .execute("INSERT INTO t VALUES ('x')", [])
            .unwrap_err()
            .into();
        assert_eq!(err.kind, StoreErrorKind::Exists);
        let err: StoreError = conn
            .execute("INSERT INTO nope VALUES ('x')", [])
            .unwrap_err()
            .into();
        assert_eq!(err.kind, StoreErrorKind::Temporary);
    }

    #[test]
    fn converts_to_wire_error() {
        let wire: ipc::store::StoreError = StoreError::not_found("account x").into();
        assert_eq!(wire.kind, StoreErrorKind::NotFound);
        assert_eq!(wire.message, "account x");
    }
}
