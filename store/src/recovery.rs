//! Crash recovery of message directories. A message file is renamed into
//! `msg/D/ID` before its row commits, and removed only after an expunge
//! commits; a crash in either window leaves a file no live row refers to.
//! Such files are removed when the directory's database is first opened.

use std::collections::HashSet;
use std::path::Path;

use crate::error::Result;
use crate::files::{self, MSG_DIR_SHIFT};

/// Removes every `base/D/ID` whose id `live(lo, hi)` does not return for
/// its directory's id range `lo..hi`. Returns how many files were removed.
pub fn remove_orphans(
    base: &Path,
    mut live: impl FnMut(i64, i64) -> Result<HashSet<i64>>,
) -> Result<usize> {
    let mut removed = 0;
    for (d, dir) in files::numeric_entries(base)? {
        if !dir.is_dir() {
            tracing::warn!(path = %dir.display(), "unexpected file in message directory");
            continue;
        }
        if d > (i64::MAX >> MSG_DIR_SHIFT) {
            tracing::warn!(path = %dir.display(), "message directory number out of range, left alone");
            continue;
        }
        let lo = d << MSG_DIR_SHIFT;
        let hi = lo.saturating_add(1 << MSG_DIR_SHIFT);
        let ids = live(lo, hi)?;
        let mut removed_here = 0;
        for (id, path) in files::numeric_entries(&dir)? {
            if id >> MSG_DIR_SHIFT != d {
                tracing::warn!(path = %path.display(), "message file in the wrong directory, left alone");
                continue;
            }
            if !ids.contains(&id) {
                tracing::info!(path = %path.display(), "removing message file without a row");
                files::remove_file_if_exists(&path)?;
                removed_here += 1;
            }
        }
        if removed_here > 0 {
            files::fsync_dir(&dir)?;
        }
        removed += removed_here;
    }
    Ok(removed)
}
