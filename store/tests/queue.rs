//! Outbound queue rows and their files.

mod common;

use ipc::store::{QueueAdd, StoreErrorKind};

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
