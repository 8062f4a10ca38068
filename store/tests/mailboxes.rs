//! Mailboxes, flags and expunge, and the change events they publish.

mod common;

use std::sync::Arc;

use ipc::store::{ChangeEvent, StoreErrorKind};
use tokio::sync::broadcast::error::TryRecvError;

#[test]
fn new_account_has_subscribed_special_use_mailboxes() {
    let (_dir, s) = common::with_account();
    let boxes = s.mailboxes("mox").unwrap();
    let got: Vec<(&str, Option<&str>)> = boxes
        .iter()
        .map(|m| (m.name.as_str(), m.special_use.as_deref()))
        .collect();
    assert_eq!(
        got,
        [
            ("Inbox", None),
            ("Archive", Some("\\Archive")),
            ("Drafts", Some("\\Drafts")),
            ("Junk", Some("\\Junk")),
            ("Sent", Some("\\Sent")),
            ("Trash", Some("\\Trash")),
        ]
    );
    let mut validities: Vec<u32> = boxes.iter().map(|m| m.uidvalidity).collect();
    validities.sort_unstable();
    validities.dedup();
    assert_eq!(validities.len(), 6);
    assert!(boxes.iter().all(|m| m.uidnext == 1 && m.messages == 0));
    assert_eq!(
        s.subscriptions("mox").unwrap(),
        ["Archive", "Drafts", "Inbox", "Junk", "Sent", "Trash"]
    );
}

#[test]
fn create_rename_delete() {
    let (dir, s) = common::with_account();
    let id = s.mailbox_create("mox", "Lists/Rust/Announce").unwrap();
    assert!(id > 0);
    let names = |s: &store::Store| {
        s.mailboxes("mox")
            .unwrap()
            .into_iter()
            .map(|m| m.name)
            .collect::<Vec<_>>()
    };
    assert!(
        names(&s).contains(&"Lists/Rust".to_string()),
        "parents created"
    );
    assert_eq!(
        s.mailbox_create("mox", "Lists").unwrap_err().kind,
        StoreErrorKind::Exists
    );
    assert_eq!(
        s.mailbox_create("mox", "inbox").unwrap_err().kind,
        StoreErrorKind::Exists
    );
    for bad in ["", "a//b", "/a", "a%", "x*"] {
        assert_eq!(
            s.mailbox_create("mox", bad).unwrap_err().kind,
            StoreErrorKind::Invalid,
            "{bad:?}"
        );
    }
    let old_validity = s
        .mailboxes("mox")
        .unwrap()
        .into_iter()
        .find(|m| m.name == "Lists/Rust")
        .unwrap()
        .uidvalidity;

    s.mailbox_rename("mox", "Lists/Rust", "Old/Rust").unwrap();
    let n = names(&s);
    assert!(
        n.contains(&"Old/Rust".to_string())
            && n.contains(&"Old/Rust/Announce".to_string())
            && n.contains(&"Old".to_string())
    );
    assert!(!n.iter().any(|x| x.starts_with("Lists/")));
    let moved = s
        .mailboxes("mox")
        .unwrap()
        .into_iter()
        .find(|m| m.name == "Old/Rust")
        .unwrap();
    assert_eq!(moved.uidvalidity, old_validity);
    assert_eq!(
        s.mailbox_rename("mox", "Inbox", "X").unwrap_err().kind,
        StoreErrorKind::Invalid
    );
    assert_eq!(
        s.mailbox_rename("mox", "Old", "Old/Sub").unwrap_err().kind,
        StoreErrorKind::Invalid
    );
    assert_eq!(
        s.mailbox_rename("mox", "Old", "Sent").unwrap_err().kind,
        StoreErrorKind::Exists
    );
    assert_eq!(
        s.mailbox_rename("mox", "Nope", "X").unwrap_err().kind,
        StoreErrorKind::NotFound
    );
    s.mailbox_rename("mox", "Sent", "Sent Items").unwrap();
    assert!(
        s.subscriptions("mox")
            .unwrap()
            .contains(&"Sent Items".to_string()),
        "subscription follows rename"
    );

    assert_eq!(
        s.mailbox_delete("mox", "Old/Rust").unwrap_err().kind,
        StoreErrorKind::Invalid,
        "has children"
    );
    assert_eq!(
        s.mailbox_delete("mox", "INBOX").unwrap_err().kind,
        StoreErrorKind::Invalid
    );
    let d = s
        .deliver(
            common::delivery("mox", "Old/Rust/Announce", b"", &[]),
            common::memfd(b"hello"),
        )
        .unwrap();
    let file = dir
        .path()
        .join(format!("accounts/mox/msg/0/{}", d.message_id));
    assert!(file.exists());
    s.mailbox_delete("mox", "Old/Rust/Announce").unwrap();
    assert!(!file.exists(), "messages of a deleted mailbox are removed");
    assert_eq!(
        s.message_open("mox", d.message_id).unwrap_err().kind,
        StoreErrorKind::NotFound
    );
    assert_eq!(
        s.mailbox_delete("mox", "Old/Rust/Announce")
            .unwrap_err()
            .kind,
        StoreErrorKind::NotFound
    );

    // A mailbox created again gets a new UIDVALIDITY and starts at uid 1.
    let before = moved.uidvalidity;
    s.mailbox_create("mox", "Old/Rust/Announce").unwrap();
    let again = s
        .mailboxes("mox")
        .unwrap()
        .into_iter()
        .find(|m| m.name == "Old/Rust/Announce")
        .unwrap();
    assert!(again.uidvalidity > before);
    assert_eq!(again.uidnext, 1);
}

#[test]
fn flags_and_expunge() {
    let (dir, s) = common::with_account();
    let a = s
        .deliver(
            common::delivery("mox", "Inbox", b"", &[]),
            common::memfd(b"a"),
        )
        .unwrap();
    let b = s
        .deliver(
            common::delivery("mox", "Inbox", b"", &[]),
            common::memfd(b"b"),
        )
        .unwrap();

    let m1 = s
        .set_flags(
            "mox",
            "Inbox",
            a.uid,
            &["\\Seen".into(), "$Forwarded".into(), "Work".into()],
        )
        .unwrap();
    assert!(m1 > b.modseq);
    let same = s
        .set_flags(
            "mox",
            "Inbox",
            a.uid,
            &["work".into(), "\\seen".into(), "$forwarded".into()],
        )
        .unwrap();
    assert_eq!(same, m1, "no change, no new modseq");
    let list = s.message_list("mox", "Inbox").unwrap();
    assert_eq!(list[0].flags, ["\\Seen", "$Forwarded", "work"]);
    assert_eq!(list[0].modseq, m1);
    assert_eq!(s.mailboxes("mox").unwrap()[0].unseen, 1);
    assert_eq!(
        s.set_flags("mox", "Inbox", 99, &[]).unwrap_err().kind,
        StoreErrorKind::NotFound
    );
    assert_eq!(
        s.set_flags("mox", "Inbox", a.uid, &["\\Recent".into()])
            .unwrap_err()
            .kind,
        StoreErrorKind::Invalid
    );

    assert_eq!(
        s.expunge("mox", "Inbox", &[b.uid, 77, b.uid]).unwrap(),
        [b.uid]
    );
    assert!(
        s.expunge("mox", "Inbox", &[b.uid]).unwrap().is_empty(),
        "already expunged"
    );
    let list = s.message_list("mox", "Inbox").unwrap();
    assert_eq!(list.iter().map(|m| m.uid).collect::<Vec<_>>(), [a.uid]);
    assert!(
        !dir.path()
            .join(format!("accounts/mox/msg/0/{}", b.message_id))
            .exists()
    );
    assert_eq!(
        s.message_open("mox", b.message_id).unwrap_err().kind,
        StoreErrorKind::NotFound
    );
    let inbox = &s.mailboxes("mox").unwrap()[0];
    assert_eq!(
        (inbox.messages, inbox.uidnext),
        (1, 3),
        "uids are not reused"
    );
    assert!(inbox.highest_modseq > m1);
    assert_eq!(
        s.set_flags("mox", "Inbox", b.uid, &[]).unwrap_err().kind,
        StoreErrorKind::NotFound
    );
    let c = s
        .deliver(
            common::delivery("mox", "Inbox", b"", &[]),
            common::memfd(b"c"),
        )
        .unwrap();
    assert_eq!(c.uid, 3);
}

fn drain(rx: &mut tokio::sync::broadcast::Receiver<ChangeEvent>) -> Vec<ChangeEvent> {
    let mut out = Vec::new();
    for _ in 0..10_000 {
        match rx.try_recv() {
            Ok(ev) => out.push(ev),
            Err(TryRecvError::Empty) => break,
            Err(e) => panic!("{e}"),
        }
    }
    out
}

#[test]
fn events_in_commit_order() {
    let (_dir, s) = common::with_account();
    s.account_add("other", "other@example.org").unwrap();
    let mut rx = s.subscribe("mox").unwrap();
    let mut other_rx = s.subscribe("other").unwrap();
    assert_eq!(
        s.subscribe("nobody").unwrap_err().kind,
        StoreErrorKind::NotFound
    );

    let d = s
        .deliver(
            common::delivery("mox", "Inbox", b"", &[]),
            common::memfd(b"x"),
        )
        .unwrap();
    let m = s
        .set_flags("mox", "Inbox", d.uid, &["\\Flagged".into()])
        .unwrap();
    s.expunge("mox", "Inbox", &[d.uid]).unwrap();
    s.mailbox_create("mox", "A/B").unwrap();
    s.mailbox_rename("mox", "A", "C").unwrap();
    s.mailbox_delete("mox", "C/B").unwrap();
    let account = "mox".to_string();
    let events = drain(&mut rx);
    let expunge_modseq = match &events[2] {
        ChangeEvent::Expunged { modseq, .. } => *modseq,
        other => panic!("{other:?}"),
    };
    assert!(expunge_modseq > m);
    assert_eq!(
        events,
        [
            ChangeEvent::MessageAdded {
                account: account.clone(),
                mailbox_id: d.mailbox_id,
                uid: d.uid,
                modseq: d.modseq,
                message_id: d.message_id
            },
            ChangeEvent::FlagsChanged {
                account: account.clone(),
                mailbox_id: d.mailbox_id,
                uid: d.uid,
                modseq: m,
                flags: vec!["\\Flagged".into()]
            },
            ChangeEvent::Expunged {
                account: account.clone(),
                mailbox_id: d.mailbox_id,
                uids: vec![d.uid],
                modseq: expunge_modseq
            },
            ChangeEvent::MailboxCreated {
                account: account.clone(),
                name: "A".into()
            },
            ChangeEvent::MailboxCreated {
                account: account.clone(),
                name: "A/B".into()
            },
            ChangeEvent::MailboxRenamed {
                account: account.clone(),
                from: "A".into(),
                to: "C".into()
            },
            ChangeEvent::MailboxRenamed {
                account: account.clone(),
                from: "A/B".into(),
                to: "C/B".into()
            },
            ChangeEvent::MailboxDeleted {
                account: account.clone(),
                name: "C/B".into()
            },
        ]
    );
    assert!(drain(&mut other_rx).is_empty(), "events are per account");
    // Failed changes publish nothing.
    assert!(s.mailbox_create("mox", "C").is_err());
    assert!(drain(&mut rx).is_empty());
}

#[test]
fn concurrent_delivery_events_are_ordered() {
    let (_dir, s) = common::with_account();
    let mut rx = s.subscribe("mox").unwrap();
    let s = Arc::new(s);
    let handles: Vec<_> = (0..6)
        .map(|t| {
            let s = Arc::clone(&s);
            std::thread::spawn(move || {
                for i in 0..10 {
                    let body = format!("thread {t} message {i}");
                    s.deliver(
                        common::delivery("mox", "Inbox", b"", &[]),
                        common::memfd(body.as_bytes()),
                    )
                    .unwrap();
                }
            })
        })
        .collect();
    for h in handles {
        h.join().unwrap();
    }
    let events = drain(&mut rx);
    assert_eq!(events.len(), 60);
    let seq: Vec<(u32, i64)> = events
        .iter()
        .map(|e| match e {
            ChangeEvent::MessageAdded { uid, modseq, .. } => (*uid, *modseq),
            other => panic!("{other:?}"),
        })
        .collect();
    assert_eq!(
        seq.iter().map(|(u, _)| *u).collect::<Vec<_>>(),
        (1..=60).collect::<Vec<u32>>()
    );
    assert!(seq.windows(2).all(|w| w[0].1 < w[1].1));
}
