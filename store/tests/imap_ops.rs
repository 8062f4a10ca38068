//! The requests IMAP sessions make: SELECT in pages, STATUS counts,
//! APPEND all-or-none, STORE with UNCHANGEDSINCE, COPY/MOVE sharing files,
//! EXPUNGE of \Deleted with tombstones for VANISHED, quota, special-use
//! creation, subscriptions and the stored message structure.

mod common;

use std::io::Read;

use common::*;
use ipc::store::{AppendMessage, ChangeEvent, FlagChange, FlagOp, StoreErrorKind};
use store::Store;

fn append(store: &Store, mailbox: &str, bodies: &[&[u8]], flags: &[&str]) -> Vec<u32> {
    let msgs = bodies
        .iter()
        .map(|_| AppendMessage {
            flags: flags.iter().map(|f| f.to_string()).collect(),
            received: Some(1_700_000_000),
            parsed: Some(b"structure".to_vec()),
        })
        .collect();
    let fds = bodies.iter().map(|b| memfd(b)).collect();
    store.append("mox", mailbox, msgs, fds).unwrap().2
}

fn inbox_id(store: &Store) -> i64 {
    store.mailbox_status("mox", "Inbox").unwrap().id
}

fn change(
    mailbox_id: i64,
    uids: &[u32],
    op: FlagOp,
    flags: &[&str],
    since: Option<i64>,
) -> FlagChange {
    FlagChange {
        account: "mox".into(),
        mailbox_id,
        uids: uids.to_vec(),
        op,
        flags: flags.iter().map(|f| f.to_string()).collect(),
        unchanged_since: since,
    }
}

#[test]
fn append_stores_all_with_consecutive_uids_and_content() {
    let (_d, s) = with_account();
    let uids = append(&s, "Inbox", &[b"one\r\n", b"two two\r\n"], &["\\Seen"]);
    assert_eq!(uids, vec![1, 2]);
    let st = s.mailbox_status("mox", "Inbox").unwrap();
    assert_eq!(
        (st.messages, st.unseen, st.uidnext, st.size),
        (2, 0, 3, 5 + 9)
    );
    let c = s.message_content("mox", st.id, 2).unwrap().unwrap();
    let mut body = Vec::new();
    let mut f = c.file.file;
    f.read_to_end(&mut body).unwrap();
    assert_eq!(body, b"two two\r\n");
    assert_eq!(c.parsed.as_deref(), Some(&b"structure"[..]));
    assert!(s.message_content("mox", st.id, 9).unwrap().is_none());
}

#[test]
fn append_with_a_bad_message_stores_nothing() {
    let (_d, s) = with_account();
    let msgs = vec![
        AppendMessage {
            flags: vec![],
            received: None,
            parsed: None,
        },
        AppendMessage {
            flags: vec!["\\Bogus".into()],
            received: None,
            parsed: None,
        },
    ];
    let err = s
        .append("mox", "Inbox", msgs, vec![memfd(b"a\r\n"), memfd(b"b\r\n")])
        .unwrap_err();
    assert_eq!(err.kind, StoreErrorKind::Invalid);
    assert_eq!(s.mailbox_status("mox", "Inbox").unwrap().messages, 0);
    // Fd count must match.
    let one = vec![AppendMessage {
        flags: vec![],
        received: None,
        parsed: None,
    }];
    assert!(s.append("mox", "Inbox", one, vec![]).is_err());
    assert!(
        entries(&_d.path().join("tmp")).is_empty(),
        "temporary files left behind"
    );
}

#[test]
fn select_pages_through_uid_ranges() {
    let (_d, s) = with_account();
    for _ in 0..5 {
        append(&s, "Inbox", &[b"x\r\n", b"y\r\n"], &[]);
    }
    let id = inbox_id(&s);
    // Gaps: 3 and 6 expunged, so UIDs 1:2, 4:5, 7:10.
    s.store_flags(&change(id, &[3, 6], FlagOp::Add, &["\\Deleted"], None))
        .unwrap();
    s.expunge_deleted("mox", id, None).unwrap();
    s.store_flags(&change(
        id,
        &[1, 2, 4],
        FlagOp::Add,
        &["\\Seen", "Work"],
        None,
    ))
    .unwrap();
    let p1 = s.mailbox_select("mox", "Inbox", 0, 2).unwrap();
    assert_eq!(p1.mailbox.messages, 8);
    assert_eq!(p1.uids, vec![(1, 2), (4, 5)]);
    assert!(p1.more);
    assert_eq!(p1.first_unseen, Some(5));
    assert_eq!(p1.keywords, vec!["work"]);
    assert_eq!(p1.first_unclaimed_uid, 1);
    let p2 = s.mailbox_select("mox", "Inbox", 5, 2).unwrap();
    assert_eq!(p2.uids, vec![(7, 10)]);
    assert!(!p2.more);
    let all = s.mailbox_select("mox", "Inbox", 0, 100).unwrap();
    assert_eq!(all.uids, vec![(1, 2), (4, 5), (7, 10)]);
    assert!(!all.more);
    let past = s.mailbox_select("mox", "Inbox", 10, 4).unwrap();
    assert!(past.uids.is_empty() && !past.more);
    assert_eq!(
        s.mailbox_select("mox", "Nope", 0, 4).unwrap_err().kind,
        StoreErrorKind::NotFound
    );
    // Found from the tombstones, and without them (as if they had been
    // removed) from the messages.
    let db = rusqlite::Connection::open(_d.path().join("accounts/mox/index.db")).unwrap();
    db.execute("DELETE FROM messages WHERE expunged = 1 AND uid = 3", [])
        .unwrap();
    let again = s.mailbox_select("mox", "Inbox", 0, 100).unwrap();
    assert_eq!(again.uids, vec![(1, 2), (4, 5), (7, 10)]);
    // Everything seen: no first unseen.
    s.store_flags(&change(
        id,
        &[5, 7, 8, 9, 10],
        FlagOp::Add,
        &["\\Seen"],
        None,
    ))
    .unwrap();
    assert_eq!(
        s.mailbox_select("mox", "Inbox", 0, 9).unwrap().first_unseen,
        None
    );
}

#[test]
fn messages_changed_since_a_modseq_in_pages() {
    let (_d, s) = with_account();
    append(&s, "Inbox", &[b"a\r\n", b"b\r\n", b"c\r\n", b"d\r\n"], &[]);
    let id = inbox_id(&s);
    let before = s.mailbox_status("mox", "Inbox").unwrap().highest_modseq;
    s.store_flags(&change(id, &[4, 2], FlagOp::Add, &["\\Flagged"], None))
        .unwrap();
    let changed = s.messages_changed("mox", id, before, 0).unwrap();
    assert_eq!(
        changed.iter().map(|m| m.uid).collect::<Vec<_>>(),
        vec![2, 4]
    );
    assert_eq!(changed[0].flags, vec!["\\Flagged"]);
    let rest = s.messages_changed("mox", id, before, 2).unwrap();
    assert_eq!(rest.iter().map(|m| m.uid).collect::<Vec<_>>(), vec![4]);
    assert_eq!(s.messages_changed("mox", id, 0, 0).unwrap().len(), 4);
    assert_eq!(
        s.messages_changed("mox", 999, 0, 0).unwrap_err().kind,
        StoreErrorKind::NotFound
    );
}

#[test]
fn metas_of_runs_and_scattered_uids() {
    let (_d, s) = with_account();
    let bodies: Vec<&[u8]> = vec![b"m\r\n"; 100];
    append(&s, "Inbox", &bodies, &[]);
    let id = inbox_id(&s);
    let wanted: Vec<u32> = (1..=40).chain([55, 99, 100, 150]).collect();
    let metas = s.message_metas("mox", id, &wanted).unwrap();
    let got: Vec<u32> = metas.iter().map(|m| m.uid).collect();
    assert_eq!(
        got,
        wanted[..wanted.len() - 1].to_vec(),
        "150 does not exist"
    );
    let metas = s.message_metas("mox", id, &[90, 2, 50]).unwrap();
    assert_eq!(
        metas.iter().map(|m| m.uid).collect::<Vec<_>>(),
        vec![2, 50, 90]
    );
}

#[test]
fn store_flags_with_unchangedsince_reports_modified() {
    let (_d, s) = with_account();
    append(&s, "Inbox", &[b"a\r\n", b"b\r\n", b"c\r\n"], &[]);
    let id = inbox_id(&s);
    let mut events = s.subscribe("mox").unwrap();
    let r = s
        .store_flags(&change(
            id,
            &[1, 2],
            FlagOp::Add,
            &["\\Flagged", "work"],
            None,
        ))
        .unwrap();
    assert_eq!(r.messages.len(), 2);
    assert!(r.messages.iter().all(|m| m.changed));
    let after_first = r.messages[0].modseq;
    assert_eq!(r.messages[0].flags, vec!["\\Flagged", "work"]);
    // Two events, same modseq.
    for uid in [1, 2] {
        match events.try_recv().unwrap() {
            ChangeEvent::FlagsChanged { uid: u, modseq, .. } => {
                assert_eq!((u, modseq), (uid, after_first));
            }
            other => panic!("{other:?}"),
        }
    }
    // uid 1 changed after modseq `after_first - 1`: MODIFIED; uid 3 not.
    let r = s
        .store_flags(&change(
            id,
            &[1, 3, 99],
            FlagOp::Add,
            &["\\Seen"],
            Some(after_first - 1),
        ))
        .unwrap();
    assert_eq!(r.modified, vec![1]);
    assert_eq!(
        r.messages.iter().map(|m| m.uid).collect::<Vec<_>>(),
        vec![3]
    );
    assert!(r.messages[0].modseq > after_first);
    // Removing a flag that is not there changes nothing and keeps modseq.
    let r = s
        .store_flags(&change(id, &[2], FlagOp::Remove, &["\\Seen"], None))
        .unwrap();
    assert!(!r.messages[0].changed);
    assert_eq!(r.messages[0].modseq, after_first);
    let r = s
        .store_flags(&change(id, &[2], FlagOp::Replace, &["\\Answered"], None))
        .unwrap();
    assert_eq!(r.messages[0].flags, vec!["\\Answered"]);
    let metas = s.message_metas("mox", id, &[3, 2, 2, 77]).unwrap();
    assert_eq!(metas.iter().map(|m| m.uid).collect::<Vec<_>>(), vec![2, 3]);
    assert_eq!(metas[0].flags, vec!["\\Answered"]);
}

#[test]
fn copy_and_move_share_files_and_expunge_the_source() {
    let (d, s) = with_account();
    append(&s, "Inbox", &[b"a\r\n", b"bb\r\n", b"ccc\r\n"], &["\\Seen"]);
    let id = inbox_id(&s);
    let r = s
        .copy_messages("mox", id, &[1, 3, 42], "Archive", false)
        .unwrap();
    assert_eq!(r.mapping, vec![(1, 1), (3, 2)]);
    let archive = s.mailbox_status("mox", "Archive").unwrap();
    assert_eq!((archive.messages, archive.unseen), (2, 0));
    assert_eq!(r.uidvalidity, archive.uidvalidity);
    let mut events = s.subscribe("mox").unwrap();
    let r = s.copy_messages("mox", id, &[2, 3], "Trash", true).unwrap();
    assert_eq!(r.mapping, vec![(2, 1), (3, 2)]);
    let kinds: Vec<String> = std::iter::from_fn(|| events.try_recv().ok())
        .map(|e| match e {
            ChangeEvent::MessageAdded { uid, .. } => format!("add {uid}"),
            ChangeEvent::Expunged { uids, .. } => format!("expunge {uids:?}"),
            other => format!("{other:?}"),
        })
        .collect();
    assert_eq!(kinds, vec!["add 1", "add 2", "expunge [2, 3]"]);
    assert_eq!(s.mailbox_status("mox", "Inbox").unwrap().messages, 1);
    let inbox_vanished = s.vanished("mox", id, 0).unwrap();
    assert_eq!(inbox_vanished, vec![2, 3]);
    // The moved copy is readable; the copy of 3 in Archive still too.
    let trash = s.mailbox_status("mox", "Trash").unwrap();
    let mut body = Vec::new();
    let c = s.message_content("mox", trash.id, 2).unwrap().unwrap();
    let mut f = c.file.file;
    f.read_to_end(&mut body).unwrap();
    assert_eq!(body, b"ccc\r\n");
    assert!(s.message_content("mox", archive.id, 2).unwrap().is_some());
    // Files: 3 originals + 2 copies + 2 moved - 2 moved away = 5.
    let msg_dir = d.path().join("accounts/mox/msg");
    let count: usize = std::fs::read_dir(&msg_dir)
        .unwrap()
        .map(|e| std::fs::read_dir(e.unwrap().path()).unwrap().count())
        .sum();
    assert_eq!(count, 5);
    assert_eq!(
        s.copy_messages("mox", id, &[1], "Nope", false)
            .unwrap_err()
            .kind,
        StoreErrorKind::NotFound
    );
}

#[test]
fn expunge_removes_only_deleted_and_leaves_tombstones() {
    let (_d, s) = with_account();
    append(&s, "Inbox", &[b"a\r\n", b"b\r\n", b"c\r\n", b"d\r\n"], &[]);
    let id = inbox_id(&s);
    let before = s.mailbox_status("mox", "Inbox").unwrap().highest_modseq;
    s.store_flags(&change(id, &[1, 2, 4], FlagOp::Add, &["\\Deleted"], None))
        .unwrap();
    assert_eq!(s.mailbox_status("mox", "Inbox").unwrap().deleted, 3);
    // UID EXPUNGE 1:2 removes only those.
    assert_eq!(
        s.expunge_deleted("mox", id, Some(&[1, 2, 3])).unwrap(),
        vec![1, 2]
    );
    assert_eq!(s.expunge_deleted("mox", id, None).unwrap(), vec![4]);
    assert!(s.expunge_deleted("mox", id, None).unwrap().is_empty());
    assert_eq!(s.vanished("mox", id, before).unwrap(), vec![1, 2, 4]);
    let page = s.mailbox_select("mox", "Inbox", 0, 100).unwrap();
    assert_eq!(page.uids, vec![(3, 3)]);
    let info = page.mailbox;
    assert_eq!((info.messages, info.deleted), (1, 0));
    assert!(
        s.vanished("mox", id, info.highest_modseq)
            .unwrap()
            .is_empty()
    );
}

#[test]
fn quota_refuses_append_and_copy_but_not_move() {
    let (_d, s) = with_account();
    assert_eq!(s.quota("mox").unwrap(), (0, None));
    s.quota_set("mox", Some(10)).unwrap();
    append(&s, "Inbox", &[b"12345678\r\n"], &[]);
    assert_eq!(s.quota("mox").unwrap(), (10, Some(10)));
    let msgs = vec![AppendMessage {
        flags: vec![],
        received: None,
        parsed: None,
    }];
    let e = s
        .append("mox", "Inbox", msgs, vec![memfd(b"x")])
        .unwrap_err();
    assert_eq!(e.kind, StoreErrorKind::OverQuota);
    let id = inbox_id(&s);
    let e = s
        .copy_messages("mox", id, &[1], "Archive", false)
        .unwrap_err();
    assert_eq!(e.kind, StoreErrorKind::OverQuota);
    s.copy_messages("mox", id, &[1], "Archive", true).unwrap();
    // Delivery too.
    let e = s
        .deliver(delivery("mox", "Inbox", b"", &[]), memfd(b"more"))
        .unwrap_err();
    assert_eq!(e.kind, StoreErrorKind::OverQuota);
    // The default applies to accounts without their own limit.
    s.quota_set("mox", None).unwrap();
    s.set_default_quota(Some(1000));
    assert_eq!(s.quota("mox").unwrap(), (10, Some(1000)));
    assert_eq!(
        s.quota_set("nobody", Some(1)).unwrap_err().kind,
        StoreErrorKind::NotFound
    );
}

#[test]
fn special_use_subscriptions_and_parsed_structure() {
    let (_d, s) = with_account();
    s.mailbox_create_special("mox", "Lists/All", Some("\\all"))
        .unwrap();
    let st = s.mailbox_status("mox", "Lists/All").unwrap();
    assert_eq!(st.special_use.as_deref(), Some("\\All"));
    assert_eq!(
        s.mailbox_create_special("mox", "X", Some("\\Bogus"))
            .unwrap_err()
            .kind,
        StoreErrorKind::Invalid
    );
    assert!(s.mailbox_status("mox", "X").is_err());
    s.subscription_set("mox", "Not/There", true).unwrap();
    s.subscription_set("mox", "Trash", false).unwrap();
    let subs = s.subscriptions("mox").unwrap();
    assert!(subs.contains(&"Not/There".to_string()));
    assert!(!subs.contains(&"Trash".to_string()));
    // A delivery without structure gets one stored later.
    let d = s
        .deliver(delivery("mox", "Inbox", b"", &[]), memfd(b"hi\r\n"))
        .unwrap();
    let c = s
        .message_content("mox", d.mailbox_id, d.uid)
        .unwrap()
        .unwrap();
    assert!(c.parsed.is_none());
    s.message_parsed_set("mox", d.mailbox_id, d.uid, b"tree")
        .unwrap();
    let c = s
        .message_content("mox", d.mailbox_id, d.uid)
        .unwrap()
        .unwrap();
    assert_eq!(c.parsed.as_deref(), Some(&b"tree"[..]));
}
