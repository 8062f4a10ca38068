//! Durable delivery: bytes round-trip, uids and modseqs, group commit under
//! concurrency, all-or-nothing batches, crash recovery on open.

mod common;

use std::sync::{Arc, Barrier};
use std::time::Instant;

use ipc::store::StoreErrorKind;
use store::{MAX_MESSAGE_SIZE, MAX_PREFIX_SIZE};

fn message(i: usize, len: usize) -> Vec<u8> {
    let mut m = format!("Subject: message {i}\r\n\r\n").into_bytes();
    m.extend((0..len).map(|j| b'a' + ((i + j) % 26) as u8));
    m
}

#[test]
fn round_trip_keeps_bytes_and_prefix() {
    let (dir, s) = common::with_account();
    let prefix = b"Received: from test\r\nAuthentication-Results: x; none\r\n";
    let body1 = message(1, 100_000);
    let d1 = s
        .deliver(
            common::delivery("mox", "INBOX", prefix, &[]),
            common::memfd(&body1),
        )
        .unwrap();
    let body2 = message(2, 10);
    let d2 = s
        .deliver(
            common::delivery("mox", "Inbox", b"", &["\\Seen", "Custom"]),
            common::memfd(&body2),
        )
        .unwrap();

    assert_eq!((d1.uid, d2.uid), (1, 2));
    assert!(
        d2.modseq > d1.modseq && d1.modseq > 1,
        "{} {}",
        d1.modseq,
        d2.modseq
    );
    assert_eq!(d1.mailbox_id, d2.mailbox_id);
    assert_ne!(d1.message_id, d2.message_id);

    let (p, b, size) = common::read_message(&s, "mox", d1.message_id);
    assert_eq!(p, prefix);
    assert_eq!(b, body1);
    assert_eq!(size, (prefix.len() + body1.len()) as u64);
    let on_disk = dir
        .path()
        .join(format!("accounts/mox/msg/0/{}", d1.message_id));
    assert_eq!(
        std::fs::read(on_disk).unwrap(),
        body1,
        "the file is exactly what was received"
    );
    let (p, b, _) = common::read_message(&s, "mox", d2.message_id);
    assert!(p.is_empty());
    assert_eq!(b, body2);

    let list = s.message_list("mox", "inbox").unwrap();
    assert_eq!(list.len(), 2);
    assert_eq!(
        (list[0].uid, list[0].id, list[0].modseq),
        (1, d1.message_id, d1.modseq)
    );
    assert!(list[0].flags.is_empty());
    assert_eq!(list[1].flags, ["\\Seen", "custom"]);
    assert_eq!(list[1].received, 1_700_000_000);
    assert_eq!(list[1].size, body2.len() as u64);

    let inbox = s
        .mailboxes("mox")
        .unwrap()
        .into_iter()
        .find(|m| m.name == "Inbox")
        .unwrap();
    assert_eq!((inbox.messages, inbox.unseen, inbox.uidnext), (2, 1, 3));
    assert_eq!(
        inbox.size,
        (prefix.len() + body1.len() + body2.len()) as u64
    );
    assert_eq!(inbox.highest_modseq, d2.modseq);
    let acc = &s.account_list().unwrap()[0];
    assert_eq!((acc.messages, acc.size), (2, inbox.size));
    assert!(common::entries(&dir.path().join("tmp")).is_empty());
    assert_eq!(s.stats().deliveries, 2);

    // After reopening, numbering continues.
    drop(s);
    let s = common::open(dir.path());
    let d3 = s
        .deliver(
            common::delivery("mox", "Inbox", b"", &[]),
            common::memfd(b"x"),
        )
        .unwrap();
    assert_eq!(d3.uid, 3);
    assert!(d3.modseq > d2.modseq);
    assert_eq!(common::read_message(&s, "mox", d1.message_id).1, body1);
}

#[test]
fn refused_deliveries_leave_nothing() {
    let (dir, s) = common::with_account();
    let cases = [
        (
            common::delivery("nobody", "Inbox", b"", &[]),
            StoreErrorKind::NotFound,
        ),
        (
            common::delivery("../x", "Inbox", b"", &[]),
            StoreErrorKind::Invalid,
        ),
        (
            common::delivery("mox", "NoSuchBox", b"", &[]),
            StoreErrorKind::NotFound,
        ),
        (
            common::delivery("mox", "Inbox", b"", &["\\Recent"]),
            StoreErrorKind::Invalid,
        ),
        (
            common::delivery("mox", "Inbox", &vec![b'x'; MAX_PREFIX_SIZE + 1], &[]),
            StoreErrorKind::Invalid,
        ),
    ];
    for (d, kind) in cases {
        let err = s.deliver(d.clone(), common::memfd(b"hi")).unwrap_err();
        assert_eq!(err.kind, kind, "{d:?}");
    }
    // Too large (a sparse file: nothing is copied).
    let big = tempfile::tempfile().unwrap();
    big.set_len(MAX_MESSAGE_SIZE + 1).unwrap();
    let err = s
        .deliver(common::delivery("mox", "Inbox", b"", &[]), big.into())
        .unwrap_err();
    assert_eq!(err.kind, StoreErrorKind::Invalid);
    assert!(err.message.contains(&MAX_MESSAGE_SIZE.to_string()), "{err}");
    // A pipe cannot be read from offset 0.
    let (r, w) = nix::unistd::pipe().unwrap();
    nix::unistd::write(&w, b"data").unwrap();
    drop(w);
    assert_eq!(
        s.deliver(common::delivery("mox", "Inbox", b"", &[]), r)
            .unwrap_err()
            .kind,
        StoreErrorKind::Invalid
    );

    assert!(s.message_list("mox", "Inbox").unwrap().is_empty());
    assert!(common::entries(&dir.path().join("tmp")).is_empty());
    assert_eq!(s.stats().deliveries, 0);
}

#[test]
fn group_commit_200_deliveries_16_threads() {
    const THREADS: usize = 16;
    const TOTAL: usize = 200;
    let (dir, s) = common::with_account();
    let s = Arc::new(s);
    let store = Arc::clone(&s);
    let mut all = common::concurrently(THREADS, TOTAL, move |i| {
        let body = message(i, 500);
        let d = store
            .deliver(
                common::delivery("mox", "Inbox", b"", &[]),
                common::memfd(&body),
            )
            .unwrap();
        (i, d)
    });
    assert_eq!(all.len(), TOTAL);
    all.sort_by_key(|(_, d)| d.uid);
    let uids: Vec<u32> = all.iter().map(|(_, d)| d.uid).collect();
    assert_eq!(uids, (1..=TOTAL as u32).collect::<Vec<_>>());
    let mut modseqs: Vec<i64> = all.iter().map(|(_, d)| d.modseq).collect();
    assert!(
        modseqs.windows(2).all(|w| w[0] < w[1]),
        "modseq grows with uid"
    );
    modseqs.dedup();
    assert_eq!(modseqs.len(), TOTAL);
    for (i, d) in all.iter().step_by(17) {
        assert_eq!(
            common::read_message(&s, "mox", d.message_id).1,
            message(*i, 500)
        );
    }
    let stats = s.stats();
    println!(
        "group commit: {} deliveries in {} transactions",
        stats.deliveries, stats.delivery_batches
    );
    assert_eq!(stats.deliveries, TOTAL as u64);
    assert!(
        stats.delivery_batches < TOTAL as u64,
        "no batching: {stats:?}"
    );
    assert_eq!(s.message_list("mox", "Inbox").unwrap().len(), TOTAL);
    assert!(common::entries(&dir.path().join("tmp")).is_empty());
}

#[test]
fn failed_batch_leaves_no_row_and_no_file() {
    let (dir, s) = common::with_account();
    // A file where the message directory msg/0 must be created makes the
    // rename step fail.
    let blocker = dir.path().join("accounts/mox/msg/0");
    std::fs::write(&blocker, b"in the way").unwrap();
    let s = Arc::new(s);
    let handles: Vec<_> = (0..4)
        .map(|i| {
            let s = Arc::clone(&s);
            std::thread::spawn(move || {
                s.deliver(
                    common::delivery("mox", "Inbox", b"", &[]),
                    common::memfd(&message(i, 10)),
                )
            })
        })
        .collect();
    for h in handles {
        assert_eq!(
            h.join().unwrap().unwrap_err().kind,
            StoreErrorKind::Temporary
        );
    }
    assert!(s.message_list("mox", "Inbox").unwrap().is_empty());
    assert_eq!(
        s.mailboxes("mox").unwrap()[0].uidnext,
        1,
        "uid allocation rolled back"
    );
    assert!(common::entries(&dir.path().join("tmp")).is_empty());
    assert_eq!(s.stats().deliveries, 0);

    std::fs::remove_file(&blocker).unwrap();
    let d = s
        .deliver(
            common::delivery("mox", "Inbox", b"", &[]),
            common::memfd(b"ok"),
        )
        .unwrap();
    assert_eq!(d.uid, 1);
    assert_eq!(common::read_message(&s, "mox", d.message_id).1, b"ok");
}

#[test]
fn crash_leftovers_are_removed_on_open() {
    let (dir, s) = common::with_account();
    let kept = s
        .deliver(
            common::delivery("mox", "Inbox", b"", &[]),
            common::memfd(b"kept"),
        )
        .unwrap();
    let gone = s
        .deliver(
            common::delivery("mox", "Inbox", b"", &[]),
            common::memfd(b"expunged"),
        )
        .unwrap();
    assert_eq!(s.expunge("mox", "Inbox", &[gone.uid]).unwrap(), [gone.uid]);
    drop(s);
    let msg = dir.path().join("accounts/mox/msg");
    // A crash between rename and commit: a file whose id has no row.
    std::fs::write(msg.join("0/4242"), b"orphan").unwrap();
    std::fs::create_dir(msg.join("7")).unwrap();
    std::fs::write(msg.join("7/57400"), b"orphan in another dir").unwrap();
    // A crash between an expunge's commit and its file removal.
    std::fs::write(msg.join(format!("0/{}", gone.message_id)), b"expunged").unwrap();
    // Incoming files not yet committed.
    std::fs::write(dir.path().join("tmp/deliver-1-1"), b"partial").unwrap();
    std::fs::create_dir(dir.path().join("tmp/deleted-account-1-2")).unwrap();

    let s = common::open(dir.path());
    assert!(
        common::entries(&dir.path().join("tmp")).is_empty(),
        "tmp emptied on open"
    );
    assert_eq!(s.message_list("mox", "Inbox").unwrap().len(), 1);
    assert_eq!(
        common::entries(&msg.join("0")),
        [kept.message_id.to_string()]
    );
    assert!(common::entries(&msg.join("7")).is_empty());
    assert_eq!(common::read_message(&s, "mox", kept.message_id).1, b"kept");
}

#[test]
fn accounts_commit_independently() {
    let (_dir, s) = common::with_account();
    s.account_add("other", "other@example.org").unwrap();
    let s = Arc::new(s);
    let handles: Vec<_> = (0..8)
        .map(|t| {
            let s = Arc::clone(&s);
            std::thread::spawn(move || {
                let account = if t % 2 == 0 { "mox" } else { "other" };
                for i in 0..10 {
                    s.deliver(
                        common::delivery(account, "Inbox", b"", &[]),
                        common::memfd(&message(i, 64)),
                    )
                    .unwrap();
                }
            })
        })
        .collect();
    for h in handles {
        h.join().unwrap();
    }
    for account in ["mox", "other"] {
        let uids: Vec<u32> = s
            .message_list(account, "Inbox")
            .unwrap()
            .iter()
            .map(|m| m.uid)
            .collect();
        assert_eq!(uids, (1..=40).collect::<Vec<_>>(), "{account}");
    }
}

/// Prints throughput; makes no timing assertion.
#[test]
fn bench_1000_deliveries_of_4k_from_20_threads() {
    const THREADS: usize = 20;
    const TOTAL: usize = 1000;
    let (_dir, s) = common::with_account();
    let s = Arc::new(s);
    let body = Arc::new(message(0, 4096 - 30));
    let barrier = Arc::new(Barrier::new(THREADS + 1));
    let handles: Vec<_> = (0..THREADS)
        .map(|_| {
            let (s, body, barrier) = (Arc::clone(&s), Arc::clone(&body), Arc::clone(&barrier));
            std::thread::spawn(move || {
                barrier.wait();
                for _ in 0..TOTAL / THREADS {
                    s.deliver(
                        common::delivery("mox", "Inbox", b"", &[]),
                        common::memfd(&body),
                    )
                    .unwrap();
                }
            })
        })
        .collect();
    barrier.wait();
    let start = Instant::now();
    for h in handles {
        h.join().unwrap();
    }
    let secs = start.elapsed().as_secs_f64();
    let stats = s.stats();
    println!(
        "{TOTAL} deliveries of 4 KiB from {THREADS} threads: {secs:.2} s, {:.0} deliveries/s, {} transactions ({:.1} per transaction)",
        TOTAL as f64 / secs,
        stats.delivery_batches,
        stats.deliveries as f64 / stats.delivery_batches as f64
    );
    assert_eq!(stats.deliveries, TOTAL as u64);
    assert_eq!(s.message_list("mox", "Inbox").unwrap().len(), TOTAL);
}
