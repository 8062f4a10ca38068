//! Helpers shared by the store's integration tests. Data directories live
//! under cargo's target tmp dir (a real file system, so fsync is real).

#![allow(dead_code)]

use std::io::{Read, Write};
use std::os::fd::OwnedFd;
use std::path::Path;

use ipc::store::Delivery;
use store::Store;

pub fn tempdir() -> tempfile::TempDir {
    tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).unwrap()
}

pub fn open(dir: &Path) -> Store {
    Store::open(dir).unwrap()
}

/// A store with domain `example.org` and account `mox` (mox@example.org).
pub fn with_account() -> (tempfile::TempDir, Store) {
    let dir = tempdir();
    let store = open(dir.path());
    store.domain_add("example.org").unwrap();
    store.account_add("mox", "mox@example.org").unwrap();
    (dir, store)
}

/// A memfd holding `data`, its offset left at the end (as a sender leaves it).
pub fn memfd(data: &[u8]) -> OwnedFd {
    let fd = nix::sys::memfd::memfd_create("msg", nix::sys::memfd::MFdFlags::MFD_CLOEXEC).unwrap();
    let mut f = std::fs::File::from(fd);
    f.write_all(data).unwrap();
    OwnedFd::from(f)
}

pub fn delivery(account: &str, mailbox: &str, prefix: &[u8], flags: &[&str]) -> Delivery {
    Delivery {
        account: account.to_string(),
        mailbox: mailbox.to_string(),
        flags: flags.iter().map(|f| f.to_string()).collect(),
        prefix: prefix.to_vec(),
        received: Some(1_700_000_000),
        parsed: None,
    }
}

/// Prefix and file content of a stored message.
pub fn read_message(store: &Store, account: &str, id: i64) -> (Vec<u8>, Vec<u8>, u64) {
    let mut m = store.message_open(account, id).unwrap();
    let mut body = Vec::new();
    m.file.read_to_end(&mut body).unwrap();
    (m.prefix, body, m.size)
}

/// Names of the entries of a directory, sorted.
pub fn entries(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    v.sort();
    v
}

pub fn user_version(db: &Path) -> u32 {
    let conn = rusqlite::Connection::open(db).unwrap();
    conn.query_row("PRAGMA user_version", [], |r| r.get(0))
        .unwrap()
}

/// Runs `f(i)` for i in 0..total on `threads` threads started together
/// (thread t takes t, t + threads, ...); the results in no set order.
pub fn concurrently<T: Send + 'static>(
    threads: usize,
    total: usize,
    f: impl Fn(usize) -> T + Send + Sync + 'static,
) -> Vec<T> {
    use std::sync::{Arc, Barrier};
    let f = Arc::new(f);
    let barrier = Arc::new(Barrier::new(threads));
    let handles: Vec<_> = (0..threads)
        .map(|t| {
            let (f, barrier) = (Arc::clone(&f), Arc::clone(&barrier));
            std::thread::spawn(move || {
                barrier.wait();
                (t..total)
                    .step_by(threads)
                    .map(|i| f(i))
                    .collect::<Vec<_>>()
            })
        })
        .collect();
    handles
        .into_iter()
        .flat_map(|h| h.join().unwrap())
        .collect()
}
