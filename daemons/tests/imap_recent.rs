//! \Recent (RFC 3501 §2.3.2) across sessions: a message is recent in the
//! one read-write session that learned of it first (SELECT, or a NOOP
//! after it arrived), EXAMINE and STATUS count the messages no session
//! claimed yet without claiming them, SEARCH RECENT/NEW/OLD and FETCH
//! FLAGS follow, and IMAP4rev2 sessions have no \Recent.

mod imap_common;

use std::sync::Arc;

use daemons::imap::testing::MemBackend;
use imap_common::*;

fn with_messages(n: usize) -> Arc<MemBackend> {
    let b = Arc::new(backend());
    for i in 1..=n {
        b.deliver(
            ACCOUNT,
            "Inbox",
            message(&format!("m{i}"), "x").as_bytes(),
            &[],
        )
        .expect("deliver");
    }
    b
}

#[tokio::test]
async fn examine_and_status_look_select_claims() {
    // imaptest's "select" test.
    let b = with_messages(2);
    let mut r = logged_in(Arc::clone(&b)).await;
    let e = r.client.ok("EXAMINE INBOX").await;
    assert!(e.has("* 2 EXISTS") && e.has("* 2 RECENT"), "{e:?}");
    let f = r.client.ok("FETCH 1:2 (FLAGS)").await;
    assert_eq!(
        f.untagged,
        vec![
            "* 1 FETCH (FLAGS (\\Recent))",
            "* 2 FETCH (FLAGS (\\Recent))"
        ]
    );
    r.client.ok("CLOSE").await;
    let s = r.client.ok("STATUS INBOX (MESSAGES RECENT UNSEEN)").await;
    assert_eq!(
        s.untagged,
        vec!["* STATUS \"Inbox\" (MESSAGES 2 RECENT 2 UNSEEN 2)"]
    );
    let s = r.client.ok("SELECT INBOX").await;
    assert!(s.has("* 2 RECENT"), "{s:?}");
    r.client.ok("CLOSE").await;
    let s = r.client.ok("STATUS INBOX (RECENT)").await;
    assert_eq!(s.untagged, vec!["* STATUS \"Inbox\" (RECENT 0)"]);
    // Claimed by the first SELECT: recent nowhere else, not even in a
    // new SELECT of the same session.
    let s = r.client.ok("SELECT INBOX").await;
    assert!(s.has("* 0 RECENT"), "{s:?}");
    let f = r.client.ok("FETCH 1 (FLAGS)").await;
    assert_eq!(f.untagged, vec!["* 1 FETCH (FLAGS ())"]);
    let mut o = logged_in(Arc::clone(&b)).await;
    let s = o.client.ok("SELECT INBOX").await;
    assert!(s.has("* 0 RECENT"), "{s:?}");
}

#[tokio::test]
async fn new_messages_are_recent_in_one_session_only() {
    let b = with_messages(1);
    let mut a = logged_in(Arc::clone(&b)).await;
    let mut o = logged_in(Arc::clone(&b)).await;
    let s = a.client.ok("SELECT INBOX").await;
    assert!(s.has("* 1 RECENT"), "{s:?}");
    let s = o.client.ok("SELECT INBOX").await;
    assert!(s.has("* 0 RECENT"), "{s:?}");
    let mut x = logged_in(Arc::clone(&b)).await;
    x.client.ok("EXAMINE INBOX").await;
    for i in 2..=4 {
        b.deliver(
            ACCOUNT,
            "Inbox",
            message(&format!("n{i}"), "y").as_bytes(),
            &[],
        )
        .unwrap();
    }
    // The first read-write session to hear of them claims them.
    let n = o.client.ok("NOOP").await;
    assert_eq!(n.untagged, vec!["* 4 EXISTS", "* 3 RECENT"]);
    let n = a.client.ok("NOOP").await;
    assert_eq!(n.untagged, vec!["* 4 EXISTS"]);
    // A read-only session claims nothing and sees nothing unclaimed.
    let n = x.client.ok("NOOP").await;
    assert_eq!(n.untagged, vec!["* 4 EXISTS"]);
    let f = o.client.ok("FETCH 1:4 (FLAGS)").await;
    assert_eq!(
        f.untagged,
        vec![
            "* 1 FETCH (FLAGS ())",
            "* 2 FETCH (FLAGS (\\Recent))",
            "* 3 FETCH (FLAGS (\\Recent))",
            "* 4 FETCH (FLAGS (\\Recent))"
        ]
    );
    let f = a.client.ok("UID FETCH 1:* (FLAGS)").await;
    assert_eq!(f.untagged[0], "* 1 FETCH (UID 1 FLAGS (\\Recent))");
    assert!(
        f.untagged[1..].iter().all(|l| !l.contains("Recent")),
        "{f:?}"
    );
    // Flags changed by one session show \Recent only where it is recent.
    let s = o.client.ok("STORE 2 +FLAGS (\\Seen)").await;
    assert_eq!(s.untagged, vec!["* 2 FETCH (FLAGS (\\Recent \\Seen))"]);
    let n = a.client.ok("NOOP").await;
    assert_eq!(n.untagged, vec!["* 2 FETCH (UID 2 FLAGS (\\Seen))"]);
    // An expunge lowers the count: told with RECENT.
    o.client.ok("STORE 3 +FLAGS.SILENT (\\Deleted)").await;
    let e = o.client.ok("EXPUNGE").await;
    assert_eq!(e.untagged, vec!["* 3 EXPUNGE", "* 2 RECENT"]);
    // A client cannot set or clear \Recent.
    o.client.status("STORE 2 -FLAGS (\\Recent)", "BAD").await;
    let s = o.client.ok("STORE 2 FLAGS (\\Flagged)").await;
    assert_eq!(s.untagged, vec!["* 2 FETCH (FLAGS (\\Recent \\Flagged))"]);
}

#[tokio::test]
async fn a_copy_is_recent_where_it_is_first_seen() {
    // imaptest's "copy" test.
    let b = with_messages(3);
    let mut a = logged_in(Arc::clone(&b)).await;
    let mut o = logged_in(Arc::clone(&b)).await;
    a.client.ok("SELECT INBOX").await;
    a.client.ok("STORE 1 FLAGS (\\Seen)").await;
    o.client.ok("CREATE Box2").await;
    o.client.ok("SELECT Box2").await;
    a.client.ok("COPY 1:2 Box2").await;
    let n = o.client.ok("NOOP").await;
    assert_eq!(n.untagged, vec!["* 2 EXISTS", "* 2 RECENT"]);
    let f = o.client.ok("FETCH 1:2 (FLAGS)").await;
    assert_eq!(
        f.untagged,
        vec![
            "* 1 FETCH (FLAGS (\\Recent \\Seen))",
            "* 2 FETCH (FLAGS (\\Recent))"
        ]
    );
}

#[tokio::test]
async fn search_recent_new_and_old() {
    // imaptest's "search-flags" test.
    let b = with_messages(3);
    b.deliver(ACCOUNT, "Inbox", message("m4", "x").as_bytes(), &["\\Seen"])
        .unwrap();
    let mut r = logged_in(Arc::clone(&b)).await;
    r.client.ok("SELECT INBOX").await;
    b.deliver(ACCOUNT, "Inbox", message("m5", "x").as_bytes(), &[])
        .unwrap();
    // Not yet known to the session: a SEARCH tells it (and claims it).
    let s = r.client.ok("SEARCH RECENT").await;
    assert_eq!(
        s.untagged,
        vec!["* 5 EXISTS", "* 5 RECENT", "* SEARCH 1 2 3 4 5"]
    );
    r.client.ok("STORE 2 +FLAGS.SILENT (\\Seen)").await;
    let s = r.client.ok("SEARCH NEW").await;
    assert_eq!(s.with("SEARCH"), vec!["SEARCH 1 3 5"]);
    let s = r.client.ok("SEARCH OLD").await;
    assert_eq!(s.with("SEARCH"), vec!["SEARCH"]);
    let s = r.client.ok("SEARCH NOT RECENT").await;
    assert_eq!(s.with("SEARCH"), vec!["SEARCH"]);
    // In another session none of them is recent.
    let mut o = logged_in(Arc::clone(&b)).await;
    o.client.ok("SELECT INBOX").await;
    let s = o.client.ok("SEARCH OLD").await;
    assert_eq!(s.with("SEARCH"), vec!["SEARCH 1 2 3 4 5"]);
    let s = o.client.ok("SEARCH OR RECENT NEW").await;
    assert_eq!(s.with("SEARCH"), vec!["SEARCH"]);
}

#[tokio::test]
async fn imap4rev2_sessions_neither_claim_nor_show_recent() {
    let b = with_messages(2);
    let mut r = logged_in(Arc::clone(&b)).await;
    r.client.ok("ENABLE IMAP4rev2").await;
    let s = r.client.ok("SELECT INBOX").await;
    assert!(s.with("RECENT").is_empty(), "{s:?}");
    let f = r.client.ok("FETCH 1 (FLAGS)").await;
    assert_eq!(f.untagged, vec!["* 1 FETCH (FLAGS ())"]);
    b.deliver(ACCOUNT, "Inbox", message("m3", "x").as_bytes(), &[])
        .unwrap();
    let n = r.client.ok("NOOP").await;
    assert_eq!(n.untagged, vec!["* 3 EXISTS"]);
    // Left for an IMAP4rev1 session.
    let mut o = logged_in(Arc::clone(&b)).await;
    let s = o.client.ok("SELECT INBOX").await;
    assert!(s.has("* 3 RECENT"), "{s:?}");
}
