//! Paths of the data directory and the file operations durability rests
//! on: creating directories (mode 0700), copying an incoming message fd into
//! tmp/, fsync of files and directories, and the `D/ID` naming of message
//! files (`D = ID >> 13`, about 8k files per directory).

use std::fs::{self, DirBuilder, File, OpenOptions};
use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, FileExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use crate::error::{IoContext, Result, StoreError};

/// Message files per directory is `1 << MSG_DIR_SHIFT` (8192).
pub const MSG_DIR_SHIFT: u32 = 13;

/// Read size when copying an incoming message into tmp/.
const COPY_BUFFER_SIZE: usize = 64 * 1024;

/// Lock file in the data directory, held while a `Store` is open.
const LOCK_FILE: &str = "store.lock";

/// Mode of every directory the store creates.
const DIR_MODE: u32 = 0o700;

/// Mode of every message file the store creates.
const FILE_MODE: u32 = 0o600;

/// The fixed layout of the data directory (see DESIGN.md "Storage layout").
#[derive(Debug, Clone)]
pub struct Layout {
    pub root: PathBuf,
}

impl Layout {
    pub fn system_db(&self) -> PathBuf {
        self.root.join("system.db")
    }

    pub fn accounts(&self) -> PathBuf {
        self.root.join("accounts")
    }

    /// `accounts/NAME`; `name` must already be a validated account name.
    pub fn account_dir(&self, name: &str) -> PathBuf {
        self.accounts().join(name)
    }

    pub fn queue_msg(&self) -> PathBuf {
        self.root.join("queue").join("msg")
    }

    pub fn tmp(&self) -> PathBuf {
        self.root.join("tmp")
    }

    /// Takes the data directory's lock: one store per data directory. The
    /// lock lasts as long as the returned file is open (a crashed store
    /// releases it with its last descriptor).
    pub fn lock(&self) -> Result<File> {
        let path = self.root.join(LOCK_FILE);
        let file = OpenOptions::new()
            .create(true)
            .write(true)
            .truncate(false)
            .mode(FILE_MODE)
            .open(&path)
            .ctx(|| format!("open {}", path.display()))?;
        match file.try_lock() {
            Ok(()) => Ok(file),
            Err(fs::TryLockError::WouldBlock) => Err(StoreError::temporary(format!(
                "data directory {} is in use by another store",
                self.root.display()
            ))),
            Err(fs::TryLockError::Error(e)) => {
                Err(StoreError::io(format!("lock {}", path.display()), e))
            }
        }
    }

    /// Creates every directory of the layout that is missing.
    pub fn create(&self) -> Result<()> {
        for dir in [
            self.root.clone(),
            self.accounts(),
            self.queue_msg(),
            self.tmp(),
        ] {
            create_dir_all(&dir)?;
        }
        Ok(())
    }
}

/// `BASE/D/ID` for a message id.
pub fn msg_path(base: &Path, id: i64) -> PathBuf {
    msg_dir(base, id).join(id.to_string())
}

/// `BASE/D` for a message id.
pub fn msg_dir(base: &Path, id: i64) -> PathBuf {
    base.join((id >> MSG_DIR_SHIFT).to_string())
}

pub fn create_dir_all(dir: &Path) -> Result<()> {
    DirBuilder::new()
        .mode(DIR_MODE)
        .recursive(true)
        .create(dir)
        .ctx(|| format!("create directory {}", dir.display()))
}

/// Makes the directory entries of `dir` durable (creations, renames, removals).
pub fn fsync_dir(dir: &Path) -> Result<()> {
    File::open(dir)
        .and_then(|d| d.sync_all())
        .ctx(|| format!("fsync directory {}", dir.display()))
}

/// Creates `BASE/D` for `id` when it is missing. Returns true when it was
/// created, so the caller fsyncs BASE too.
pub fn ensure_msg_dir(base: &Path, id: i64) -> Result<bool> {
    let dir = msg_dir(base, id);
    match DirBuilder::new().mode(DIR_MODE).create(&dir) {
        Ok(()) => Ok(true),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists && dir.is_dir() => Ok(false),
        Err(e) => Err(StoreError::io(
            format!("create directory {}", dir.display()),
            e,
        )),
    }
}

/// A file in tmp/ that is removed when dropped, unless it was moved away.
#[derive(Debug)]
pub struct TempPath {
    path: Option<PathBuf>,
}

impl TempPath {
    pub fn path(&self) -> &Path {
        self.path.as_deref().unwrap_or(Path::new(""))
    }

    /// Renames the file to `dest`; from then on dropping this does nothing.
    pub fn rename_to(&mut self, dest: &Path) -> Result<()> {
        let Some(src) = self.path.as_deref() else {
            return Err(StoreError::temporary("temporary file already moved"));
        };
        fs::rename(src, dest).ctx(|| format!("rename {} to {}", src.display(), dest.display()))?;
        self.path = None;
        Ok(())
    }
}

impl Drop for TempPath {
    fn drop(&mut self) {
        if let Some(path) = self.path.take()
            && let Err(e) = fs::remove_file(&path)
        {
            tracing::warn!(path = %path.display(), error = %e, "removing temporary file");
        }
    }
}

/// Copies all of `src` (from offset 0, whatever its current position) into a
/// new file `tmp_dir/name`, fsyncs it, and returns it with its length.
/// A source longer than `max_size` bytes is refused as `Invalid`.
pub fn copy_to_tmp(
    src: &File,
    tmp_dir: &Path,
    name: &str,
    max_size: u64,
) -> Result<(TempPath, u64)> {
    // Refuse early when the size is known (memfd, regular file); the copy
    // loop below still enforces the limit if the file grows meanwhile.
    if let Ok(meta) = src.metadata()
        && meta.is_file()
        && meta.len() > max_size
    {
        return Err(StoreError::invalid(format!(
            "message larger than {max_size} bytes"
        )));
    }
    let path = tmp_dir.join(name);
    let mut out = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(FILE_MODE)
        .open(&path)
        .ctx(|| format!("create {}", path.display()))?;
    let tmp = TempPath { path: Some(path) };
    let mut buf = vec![0u8; COPY_BUFFER_SIZE];
    let mut offset: u64 = 0;
    loop {
        let n = match src.read_at(&mut buf, offset) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) if e.raw_os_error() == Some(libc::ESPIPE) => {
                return Err(StoreError::invalid(
                    "message must be passed as a file or memfd, not a pipe",
                ));
            }
            Err(e) => return Err(StoreError::io("read message", e)),
        };
        offset += n as u64;
        if offset > max_size {
            return Err(StoreError::invalid(format!(
                "message larger than {max_size} bytes"
            )));
        }
        out.write_all(&buf[..n])
            .ctx(|| format!("write {}", tmp.path().display()))?;
    }
    out.sync_all()
        .ctx(|| format!("fsync {}", tmp.path().display()))?;
    Ok((tmp, offset))
}

/// Removes everything inside `dir` (not `dir` itself).
pub fn empty_dir(dir: &Path) -> Result<usize> {
    let mut removed = 0;
    for entry in fs::read_dir(dir).ctx(|| format!("read directory {}", dir.display()))? {
        let entry = entry.ctx(|| format!("read directory {}", dir.display()))?;
        let path = entry.path();
        let is_dir = entry
            .file_type()
            .ctx(|| format!("stat {}", path.display()))?
            .is_dir();
        if is_dir {
            fs::remove_dir_all(&path).ctx(|| format!("remove {}", path.display()))?;
        } else {
            fs::remove_file(&path).ctx(|| format!("remove {}", path.display()))?;
        }
        removed += 1;
    }
    Ok(removed)
}

/// Removes a file; a file that is already gone is not an error.
pub fn remove_file_if_exists(path: &Path) -> Result<()> {
    match fs::remove_file(path) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(StoreError::io(format!("remove {}", path.display()), e)),
    }
}

/// Renames each temporary file to `base/D/ID` (its id) and fsyncs each
/// touched directory once, and `base` when a `D` was created, so the
/// names are durable before the caller commits the rows. `placed` lists
/// the files moved (for [`remove_placed`] if the commit fails).
pub fn place_files<'a>(
    base: &Path,
    moves: impl IntoIterator<Item = (&'a mut TempPath, i64)>,
    placed: &mut Vec<PathBuf>,
) -> Result<()> {
    let mut created_dir = false;
    let mut dirs = std::collections::BTreeSet::new();
    for (tmp, id) in moves {
        created_dir |= ensure_msg_dir(base, id)?;
        let dest = msg_path(base, id);
        tmp.rename_to(&dest)?;
        placed.push(dest);
        dirs.insert(msg_dir(base, id));
    }
    for dir in &dirs {
        fsync_dir(dir)?;
    }
    if created_dir {
        fsync_dir(base)?;
    }
    Ok(())
}

/// Removes files [`place_files`] moved for rows that were not committed
/// (`what`: the operation, for the log).
pub fn remove_placed(placed: &[PathBuf], what: &str) {
    for path in placed {
        if let Err(e) = remove_file_if_exists(path) {
            tracing::error!(path = %path.display(), error = %e, what, "removing file of a failed commit");
        }
    }
}

/// Numeric entries of a directory (`D` directories or `ID` files), with
/// their paths. Entries that are not decimal numbers are skipped with a
/// warning: the store never creates them.
pub fn numeric_entries(dir: &Path) -> Result<Vec<(i64, PathBuf)>> {
    let mut out = Vec::new();
    let rd = match fs::read_dir(dir) {
        Ok(rd) => rd,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(out),
        Err(e) => {
            return Err(StoreError::io(
                format!("read directory {}", dir.display()),
                e,
            ));
        }
    };
    for entry in rd {
        let entry = entry.ctx(|| format!("read directory {}", dir.display()))?;
        let path = entry.path();
        match entry
            .file_name()
            .to_str()
            .and_then(|s| s.parse::<i64>().ok())
        {
            Some(n) if n >= 0 => out.push((n, path)),
            _ => tracing::warn!(path = %path.display(), "unexpected entry in message directory"),
        }
    }
    out.sort_unstable_by_key(|(n, _)| *n);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{Seek, SeekFrom};
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn msg_paths_split_by_8192() {
        let base = Path::new("/d/msg");
        assert_eq!(msg_path(base, 1), Path::new("/d/msg/0/1"));
        assert_eq!(msg_path(base, 8191), Path::new("/d/msg/0/8191"));
        assert_eq!(msg_path(base, 8192), Path::new("/d/msg/1/8192"));
        assert_eq!(msg_path(base, 3 * 8192 + 5), Path::new("/d/msg/3/24581"));
    }

    #[test]
    fn copy_reads_from_start_and_enforces_limit() {
        let dir = tempfile::tempdir().unwrap();
        let mut src = tempfile::tempfile().unwrap();
        let data: Vec<u8> = (0..200_000u32).map(|i| (i % 251) as u8).collect();
        src.write_all(&data).unwrap();
        src.seek(SeekFrom::Start(1234)).unwrap();
        let (tmp, len) = copy_to_tmp(&src, dir.path(), "a", 1 << 20).unwrap();
        assert_eq!(len, data.len() as u64);
        assert_eq!(fs::read(tmp.path()).unwrap(), data);
        let mode = fs::metadata(tmp.path()).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, FILE_MODE);
        let path = tmp.path().to_path_buf();
        drop(tmp);
        assert!(!path.exists(), "dropping TempPath removes the file");

        let err = copy_to_tmp(&src, dir.path(), "b", 1000).unwrap_err();
        assert_eq!(err.kind, ipc::store::StoreErrorKind::Invalid);
        assert!(!dir.path().join("b").exists());
    }

    #[test]
    fn rename_disarms_removal() {
        let dir = tempfile::tempdir().unwrap();
        let src = tempfile::tempfile().unwrap();
        let (mut tmp, len) = copy_to_tmp(&src, dir.path(), "x", 10).unwrap();
        assert_eq!(len, 0);
        let dest = dir.path().join("y");
        tmp.rename_to(&dest).unwrap();
        drop(tmp);
        assert!(dest.exists());
    }
}
