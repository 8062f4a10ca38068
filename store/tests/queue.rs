//! Outbound queue rows and their files.

mod common;

use ipc::store::{QueueAdd, RecipientOutcome, RecipientResult, RecipientState, StoreErrorKind};

fn add(account: &str, from: &str, rcpts: &[&str], options: &str) -> QueueAdd {
    QueueAdd {
        account: account.into(),
        mail_from: from.into(),
        recipients: rcpts.iter().map(|r| r.to_string()).collect(),
        prefix: b"DKIM-Signature: v=1\r\n".to_vec(),
        options: options.into(),
    }
}

#[test]
fn queue_add_and_list() {
    let (dir, s) = common::with_account();
    let body = b"Subject: out\r\n\r\nhello\r\n";
    let id = s
        .queue_add(
            add(
                "mox",
                "mox@example.org",
                &["a@Remote.Example", "b@remote.example"],
                r#"{"ret":"hdrs"}"#,
            ),
            common::memfd(body),
        )
        .unwrap();
    let id2 = s
        .queue_add(
            add("mox", "", &["c@remote.example"], ""),
            common::memfd(b"dsn"),
        )
        .unwrap();
    assert!(id2 > id);
    assert_eq!(
        std::fs::read(dir.path().join(format!("queue/msg/0/{id}"))).unwrap(),
        body
    );

    let list = s.queue_list().unwrap();
    assert_eq!(list.len(), 2);
    let q = &list[0];
    assert_eq!(
        (q.id, q.account.as_str(), q.mail_from.as_str()),
        (id, "mox", "mox@example.org")
    );
    assert_eq!(q.recipients, ["a@remote.example", "b@remote.example"]);
    assert_eq!(q.size, (21 + body.len()) as u64);
    assert_eq!((q.attempts, q.hold), (0, false));
    assert_eq!(q.next_attempt, q.queued);
    assert_eq!(list[1].mail_from, "", "null reverse path");

    for (bad, kind) in [
        (
            add("mox", "mox@example.org", &[], "{}"),
            StoreErrorKind::Invalid,
        ),
        (
            add("mox", "mox@example.org", &["a b@x.example"], "{}"),
            StoreErrorKind::Invalid,
        ),
        (
            add("mox", "mox@example.org", &["a@x.example\r\nX: y"], "{}"),
            StoreErrorKind::Invalid,
        ),
        (
            add("mox", "mox@example.org", &["a@x.example"], "{not json"),
            StoreErrorKind::Invalid,
        ),
        (
            add("nobody", "mox@example.org", &["a@x.example"], "{}"),
            StoreErrorKind::NotFound,
        ),
        (
            add("..", "mox@example.org", &["a@x.example"], "{}"),
            StoreErrorKind::Invalid,
        ),
    ] {
        assert_eq!(
            s.queue_add(bad.clone(), common::memfd(b"x"))
                .unwrap_err()
                .kind,
            kind,
            "{bad:?}"
        );
    }
    assert_eq!(s.queue_list().unwrap().len(), 2);
    assert!(common::entries(&dir.path().join("tmp")).is_empty());
    assert_eq!(
        common::entries(&dir.path().join("queue/msg/0")),
        [id.to_string(), id2.to_string()]
    );
}

#[test]
fn orphan_queue_files_are_removed_on_open() {
    let (dir, s) = common::with_account();
    let id = s
        .queue_add(
            add("mox", "mox@example.org", &["a@remote.example"], "{}"),
            common::memfd(b"q"),
        )
        .unwrap();
    drop(s);
    std::fs::write(dir.path().join("queue/msg/0/999"), b"orphan").unwrap();
    let s = common::open(dir.path());
    assert_eq!(
        common::entries(&dir.path().join("queue/msg/0")),
        [id.to_string()]
    );
    assert_eq!(s.queue_list().unwrap().len(), 1);
}

fn result(index: u32, outcome: RecipientOutcome, error: Option<&str>) -> RecipientResult {
    RecipientResult {
        index,
        outcome,
        error: error.map(str::to_string),
        delay_notified: false,
    }
}

fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

#[test]
fn due_claim_result_and_removal() {
    let (dir, s) = common::with_account();
    let id = s
        .queue_add(
            add(
                "mox",
                "<mox@example.org>",
                &["a@one.example", "b@two.example", "c@one.example"],
                "{}",
            ),
            common::memfd(b"Subject: q\r\n\r\nbody\r\n"),
        )
        .unwrap();
    let t = now();
    let (due, next) = s.queue_due(t + 1, 10).unwrap();
    assert_eq!(due.len(), 1);
    assert_eq!(next, None);
    let e = &due[0];
    assert_eq!((e.id, e.mail_from.as_str()), (id, "mox@example.org"));
    assert_eq!(
        e.recipients
            .iter()
            .map(|r| (r.index, r.address.as_str(), r.state, r.attempts))
            .collect::<Vec<_>>(),
        [
            (0, "a@one.example", RecipientState::Pending, 0),
            (1, "b@two.example", RecipientState::Pending, 0),
            (2, "c@one.example", RecipientState::Pending, 0)
        ]
    );

    // Claiming moves the recipients out of the due set.
    s.queue_claim(id, &[0, 1, 2], t + 100).unwrap();
    let (due, next) = s.queue_due(t + 1, 10).unwrap();
    assert!(due.is_empty());
    assert_eq!(next, Some(t + 100));
    assert_eq!(s.queue_list().unwrap()[0].attempts, 1);

    // Open: prefix and file.
    let f = s.queue_open(id).unwrap();
    let mut body = Vec::new();
    std::io::Read::read_to_end(&mut &f.file, &mut body).unwrap();
    assert_eq!(body, b"Subject: q\r\n\r\nbody\r\n");
    assert_eq!(f.prefix, b"DKIM-Signature: v=1\r\n");

    // One delivered, one failed, one to retry: the message stays.
    let removed = s
        .queue_result(
            id,
            &[
                result(0, RecipientOutcome::Delivered, None),
                result(1, RecipientOutcome::Failed, Some("550 no\r\nX: y")),
                result(
                    2,
                    RecipientOutcome::Retry {
                        next_attempt: t + 50,
                    },
                    Some("451 later"),
                ),
            ],
        )
        .unwrap();
    assert!(!removed);
    let e = &s.queue_entries(None).unwrap()[0];
    assert_eq!(e.recipients[0].state, RecipientState::Delivered);
    assert_eq!(e.recipients[1].state, RecipientState::Failed);
    assert_eq!(e.recipients[1].last_error.as_deref(), Some("550 no  X: y"));
    assert_eq!(
        (e.recipients[2].state, e.recipients[2].next_attempt),
        (RecipientState::Pending, t + 50)
    );
    assert_eq!(s.queue_list().unwrap()[0].next_attempt, t + 50);
    // A recipient that is no longer pending cannot get another result.
    assert_eq!(
        s.queue_result(id, &[result(0, RecipientOutcome::Failed, None)])
            .unwrap_err()
            .kind,
        StoreErrorKind::Invalid
    );

    // Filter by domain.
    assert_eq!(s.queue_entries(Some("ONE.example")).unwrap().len(), 1);
    assert!(s.queue_entries(Some("three.example")).unwrap().is_empty());

    // Hold hides it from due, kick makes it due now, release shows it.
    s.queue_hold(id, true).unwrap();
    s.queue_kick(id).unwrap();
    assert!(s.queue_due(now() + 1, 10).unwrap().0.is_empty());
    s.queue_hold(id, false).unwrap();
    let (due, _) = s.queue_due(now() + 1, 10).unwrap();
    assert_eq!(due[0].id, id);

    // The last pending recipient delivered: row and file are gone.
    s.queue_claim(id, &[2], now() + 100).unwrap();
    assert!(
        s.queue_result(id, &[result(2, RecipientOutcome::Delivered, None)])
            .unwrap()
    );
    assert!(s.queue_list().unwrap().is_empty());
    assert!(s.queue_entries(None).unwrap().is_empty());
    assert!(common::entries(&dir.path().join("queue/msg/0")).is_empty());
    assert_eq!(s.queue_open(id).unwrap_err().kind, StoreErrorKind::NotFound);
    assert_eq!(
        s.queue_claim(id, &[2], 0).unwrap_err().kind,
        StoreErrorKind::NotFound
    );
}

#[test]
fn drop_removes_row_and_file_and_state_survives_reopen() {
    let (dir, s) = common::with_account();
    let keep = s
        .queue_add(
            add("mox", "", &["a@one.example"], "{}"),
            common::memfd(b"keep"),
        )
        .unwrap();
    let gone = s
        .queue_add(
            add("mox", "<>", &["b@one.example"], "{}"),
            common::memfd(b"gone"),
        )
        .unwrap();
    s.queue_claim(keep, &[0], now() + 1000).unwrap();
    s.queue_drop(gone).unwrap();
    assert_eq!(
        s.queue_drop(gone).unwrap_err().kind,
        StoreErrorKind::NotFound
    );
    drop(s);
    let s = common::open(dir.path());
    let e = s.queue_entries(None).unwrap();
    assert_eq!(e.len(), 1);
    assert_eq!((e[0].id, e[0].mail_from.as_str()), (keep, ""));
    assert_eq!(e[0].recipients[0].attempts, 1);
    assert_eq!(
        common::entries(&dir.path().join("queue/msg/0")),
        [keep.to_string()]
    );
}

#[test]
fn a_row_whose_file_is_gone_is_removed_at_open() {
    // A removal whose commit was lost in a crash (results are committed
    // without fsync) leaves the row; the file was already gone.
    let (dir, s) = common::with_account();
    let id = s
        .queue_add(
            add("mox", "mox@example.org", &["a@remote.example"], ""),
            common::memfd(b"Subject: x\r\n\r\nx\r\n"),
        )
        .unwrap();
    std::fs::remove_file(dir.path().join(format!("queue/msg/0/{id}"))).unwrap();
    let Err(e) = s.queue_open(id) else {
        panic!("opened a message without its file")
    };
    assert_eq!(e.kind, StoreErrorKind::NotFound);
    assert!(s.queue_list().unwrap().is_empty(), "the row went with it");
    let Err(e) = s.queue_open(id) else {
        panic!("opened a removed message")
    };
    assert_eq!(e.kind, StoreErrorKind::NotFound);
}

#[test]
fn concurrent_additions_share_commits_and_each_gets_its_message() {
    const THREADS: usize = 16;
    const TOTAL: usize = 160;
    let (dir, s) = common::with_account();
    let s = std::sync::Arc::new(s);
    let store = std::sync::Arc::clone(&s);
    let all: Vec<(usize, i64)> = common::concurrently(THREADS, TOTAL, move |i| {
        let rcpt = format!("r{i}@remote.example");
        let body = format!("Subject: {i}\r\n\r\nbody {i}\r\n");
        let id = store
            .queue_add(
                add("mox", "mox@example.org", &[&rcpt], ""),
                common::memfd(body.as_bytes()),
            )
            .unwrap();
        (i, id)
    });
    let mut ids: Vec<i64> = all.iter().map(|(_, id)| *id).collect();
    ids.sort_unstable();
    ids.dedup();
    assert_eq!(ids.len(), TOTAL, "distinct ids");
    for (i, id) in &all {
        let mut f = s.queue_open(*id).unwrap();
        let mut body = String::new();
        std::io::Read::read_to_string(&mut f.file, &mut body).unwrap();
        assert_eq!(body, format!("Subject: {i}\r\n\r\nbody {i}\r\n"));
        let entry = s.queue_entries(None).unwrap();
        assert!(entry.iter().any(|e| e.id == *id));
    }
    let stats = s.stats();
    assert_eq!(stats.queue_adds, TOTAL as u64);
    assert!(stats.queue_batches < TOTAL as u64, "no batching: {stats:?}");
    assert!(common::entries(&dir.path().join("tmp")).is_empty());
}
