//! Two sessions on one mailbox: IDLE sees the other's changes at once,
//! sequence numbers stay right while expunges wait for an allowed moment,
//! CONDSTORE/QRESYNC resynchronisation after flag changes and expunges,
//! and recovery when change events were lost.

mod imap_common;

use std::sync::Arc;
use std::time::Duration;

use daemons::imap::testing::MemBackend;
use imap_common::*;

/// How soon an IDLE session must hear of a change (the issue: 1 s).
const PROMPT: Duration = Duration::from_secs(1);

fn backend_with(n: usize, b: MemBackend) -> Arc<MemBackend> {
    let b = Arc::new(b);
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

async fn next_within(c: &mut Client<tokio::io::DuplexStream>, d: Duration) -> String {
    tokio::time::timeout(d, c.line())
        .await
        .expect("no update in time")
        .expect("connection closed")
}

#[tokio::test]
async fn idle_sees_other_sessions_at_once() {
    let b = backend_with(3, backend());
    let mut a = logged_in(Arc::clone(&b)).await;
    let mut o = logged_in(Arc::clone(&b)).await;
    a.client.ok("SELECT INBOX").await;
    o.client.ok("SELECT INBOX").await;
    a.client.send(b"i1 IDLE\r\n").await;
    assert_eq!(next_within(&mut a.client, PROMPT).await, "+ idling");

    o.client.ok("APPEND INBOX {3+}\r\nhi\n").await;
    assert_eq!(next_within(&mut a.client, PROMPT).await, "* 4 EXISTS");
    o.client.ok("STORE 2 +FLAGS.SILENT (\\Seen)").await;
    // The new message is \Recent in whichever session claimed it first
    // (RFC 3501 §2.3.2); 1:3 are this one's, claimed at its SELECT.
    let mut line = next_within(&mut a.client, PROMPT).await;
    if line == "* 4 RECENT" {
        line = next_within(&mut a.client, PROMPT).await;
    }
    assert_eq!(line, "* 2 FETCH (UID 2 FLAGS (\\Recent \\Seen))");
    o.client.ok("STORE 1 +FLAGS.SILENT (\\Deleted)").await;
    assert_eq!(
        next_within(&mut a.client, PROMPT).await,
        "* 1 FETCH (UID 1 FLAGS (\\Recent \\Deleted))"
    );
    let e = o.client.ok("EXPUNGE").await;
    assert_eq!(e.untagged, vec!["* 1 EXPUNGE"]);
    assert_eq!(next_within(&mut a.client, PROMPT).await, "* 1 EXPUNGE");
    let n = next_within(&mut a.client, PROMPT).await;
    assert!(n == "* 2 RECENT" || n == "* 3 RECENT", "{n}");
    // Nothing else arrives; DONE ends IDLE.
    assert!(a.client.silent_for(Duration::from_millis(200)).await);
    a.client.send(b"DONE\r\n").await;
    let r = a.client.reply("i1").await;
    assert!(r.is_ok() && r.untagged.is_empty(), "{r:?}");
    let f = a.client.ok("FETCH 1:* (UID)").await;
    assert_eq!(
        f.untagged,
        vec![
            "* 1 FETCH (UID 2)",
            "* 2 FETCH (UID 3)",
            "* 3 FETCH (UID 4)"
        ]
    );
}

#[tokio::test]
async fn expunges_wait_during_sequence_commands() {
    let b = backend_with(4, backend());
    let mut a = logged_in(Arc::clone(&b)).await;
    let mut o = logged_in(Arc::clone(&b)).await;
    a.client.ok("SELECT INBOX").await;
    o.client.ok("SELECT INBOX").await;
    o.client.ok("STORE 2,4 +FLAGS.SILENT (\\Deleted)").await;
    o.client.ok("EXPUNGE").await;
    o.client.ok("APPEND INBOX {3+}\r\nhi\n").await;
    // RFC 9051 §7.5.1: no EXPUNGE during FETCH; the numbers the client
    // knows stay valid (expunged messages are simply left out).
    let f = a.client.ok("FETCH 1:4 (UID)").await;
    assert_eq!(
        f.untagged,
        vec!["* 5 EXISTS", "* 1 FETCH (UID 1)", "* 3 FETCH (UID 3)"],
        "{f:?}"
    );
    // NOOP may tell them: highest first, so each number is right.
    // The new message is the APPENDing session's \Recent.
    let n = a.client.ok("NOOP").await;
    assert_eq!(n.untagged, vec!["* 4 EXPUNGE", "* 2 EXPUNGE", "* 2 RECENT"]);
    let f = a.client.ok("FETCH 1:* (UID)").await;
    assert_eq!(
        f.untagged,
        vec![
            "* 1 FETCH (UID 1)",
            "* 2 FETCH (UID 3)",
            "* 3 FETCH (UID 5)"
        ]
    );
    // UID commands may tell expunges right away.
    o.client.ok("STORE 1 +FLAGS.SILENT (\\Deleted)").await;
    o.client.ok("EXPUNGE").await;
    let f = a.client.ok("UID FETCH 3 (FLAGS)").await;
    assert_eq!(
        f.untagged,
        vec![
            "* 1 EXPUNGE",
            "* 1 RECENT",
            "* 1 FETCH (UID 3 FLAGS (\\Recent))"
        ]
    );
}

fn number_after(line: &str, key: &str) -> u64 {
    let i = line
        .find(key)
        .unwrap_or_else(|| panic!("{key} not in {line}"))
        + key.len();
    line[i..]
        .chars()
        .take_while(char::is_ascii_digit)
        .collect::<String>()
        .parse()
        .unwrap()
}

#[tokio::test]
async fn qresync_after_flag_changes_and_expunges() {
    let b = backend_with(4, backend());
    let mut a = logged_in(Arc::clone(&b)).await;
    a.client.ok("ENABLE QRESYNC").await;
    let s = a.client.ok("SELECT INBOX").await;
    let hms = number_after(&s.with("OK [HIGHESTMODSEQ")[0], "HIGHESTMODSEQ ");
    let uv = number_after(&s.with("OK [UIDVALIDITY")[0], "UIDVALIDITY ");
    a.client.ok("LOGOUT").await;

    // Meanwhile: a flag change on UID 1, UID 3 expunged, a new message.
    let mut o = logged_in(Arc::clone(&b)).await;
    o.client.ok("SELECT INBOX").await;
    o.client.ok("STORE 1 +FLAGS (\\Answered)").await;
    o.client.ok("STORE 3 +FLAGS (\\Deleted)").await;
    o.client.ok("EXPUNGE").await;
    o.client.ok("APPEND INBOX {3+}\r\nhi\n").await;

    // RFC 7162 §3.2.5.1.
    let mut a = logged_in(Arc::clone(&b)).await;
    a.client.ok("ENABLE QRESYNC").await;
    let s = a
        .client
        .ok(&format!("SELECT INBOX (QRESYNC ({uv} {hms} 1:4))"))
        .await;
    assert!(s.has("* VANISHED (EARLIER) 3"), "{s:?}");
    let changed = s.with("1 FETCH");
    assert_eq!(changed.len(), 1, "{s:?}");
    assert!(
        changed[0].starts_with("1 FETCH (UID 1 FLAGS (\\Answered) MODSEQ ("),
        "{s:?}"
    );
    assert!(
        s.with("4 FETCH")[0].starts_with("4 FETCH (UID 5 FLAGS () MODSEQ"),
        "{s:?}"
    );
    assert!(s.has("* 4 EXISTS"), "{s:?}");
    // RFC 7162 §3.2.6: UID FETCH … (CHANGEDSINCE n VANISHED).
    let f = a
        .client
        .ok(&format!(
            "UID FETCH 1:* (FLAGS) (CHANGEDSINCE {hms} VANISHED)"
        ))
        .await;
    assert_eq!(f.untagged[0], "* VANISHED (EARLIER) 3", "{f:?}");
    assert_eq!(f.untagged.len(), 3, "{f:?}");
    // A wrong UIDVALIDITY gets no resync data.
    a.client.ok("UNSELECT").await;
    let s = a
        .client
        .ok(&format!("SELECT INBOX (QRESYNC ({} {hms}))", uv + 100))
        .await;
    assert!(
        s.with("VANISHED").is_empty() && s.with("1 FETCH").is_empty(),
        "{s:?}"
    );
    // With QRESYNC, other sessions' expunges come as VANISHED.
    o.client.ok("STORE 1 +FLAGS.SILENT (\\Deleted)").await;
    o.client.ok("EXPUNGE").await;
    let n = a.client.ok("NOOP").await;
    assert!(n.has("* VANISHED 1"), "{n:?}");
    // QRESYNC parameters without ENABLE are an error.
    let mut c = logged_in(Arc::clone(&b)).await;
    c.client
        .status(&format!("SELECT INBOX (QRESYNC ({uv} {hms}))"), "BAD")
        .await;
}

#[tokio::test]
async fn lost_events_are_recovered() {
    // Two buffered events per account: the idle session lags.
    let b = backend_with(3, backend().with_event_capacity(2));
    let mut a = logged_in(Arc::clone(&b)).await;
    let mut o = logged_in(Arc::clone(&b)).await;
    a.client.ok("SELECT INBOX").await;
    o.client.ok("SELECT INBOX").await;
    for f in ["\\Seen", "\\Flagged", "\\Answered", "$Junk"] {
        o.client.ok(&format!("STORE 1 +FLAGS.SILENT ({f})")).await;
    }
    o.client.ok("STORE 3 +FLAGS.SILENT (\\Deleted)").await;
    o.client.ok("EXPUNGE").await;
    o.client.ok("APPEND INBOX {3+}\r\nhi\n").await;
    let n = a.client.ok("NOOP").await;
    assert_eq!(
        n.untagged,
        vec![
            "* 3 EXPUNGE",
            "* 3 EXISTS",
            // 3 was expunged; 4, new, is the APPENDing session's.
            "* 2 RECENT",
            "* 1 FETCH (UID 1 FLAGS (\\Recent \\Seen \\Answered \\Flagged $Junk))",
        ],
        "{n:?}"
    );
}

#[tokio::test]
async fn sessions_of_other_accounts_see_nothing() {
    let b = backend_with(1, backend());
    let mut a = logged_in(Arc::clone(&b)).await;
    a.client.ok("SELECT INBOX").await;
    let mut o = start(config(), Arc::clone(&b));
    o.client.line().await;
    o.client.ok("LOGIN other@local.test pw2").await;
    let s = o.client.ok("SELECT INBOX").await;
    assert!(s.has("* 0 EXISTS"), "{s:?}");
    o.client.ok("APPEND INBOX {3+}\r\nhi\n").await;
    let n = a.client.ok("NOOP").await;
    assert!(n.untagged.is_empty(), "{n:?}");
}

#[tokio::test]
async fn deleted_mailbox_empties_the_view() {
    let b = Arc::new(backend());
    let mut a = logged_in(Arc::clone(&b)).await;
    a.client.ok("CREATE Projects").await;
    a.client.ok("APPEND Projects {3+}\r\nhi\n").await;
    a.client.ok("APPEND Projects {3+}\r\nho\n").await;
    a.client.ok("SELECT Projects").await;
    let mut o = logged_in(Arc::clone(&b)).await;
    o.client.ok("DELETE Projects").await;
    let n = a.client.ok("NOOP").await;
    assert_eq!(n.untagged, vec!["* 2 EXPUNGE", "* 1 EXPUNGE", "* 0 RECENT"]);
    let f = a.client.ok("UID FETCH 1:* FLAGS").await;
    assert!(f.untagged.is_empty(), "{f:?}");
}

#[tokio::test]
async fn idle_ends_with_bye_on_shutdown_and_rejects_garbage() {
    let b = Arc::new(backend());
    let token = tokio_util::sync::CancellationToken::new();
    let mut r = start_with_shutdown(config(), Arc::clone(&b), token.clone());
    r.client.line().await;
    r.client.ok(&format!("LOGIN {USER} {PASSWORD}")).await;
    r.client.ok("SELECT INBOX").await;
    // Anything but DONE ends IDLE with BAD.
    r.client.send(b"i1 IDLE\r\n").await;
    assert_eq!(r.client.line().await.unwrap(), "+ idling");
    r.client.send(b"NOPE\r\n").await;
    assert_eq!(r.client.line().await.unwrap(), "i1 BAD expected DONE");
    r.client.send(b"i2 IDLE\r\n").await;
    assert_eq!(r.client.line().await.unwrap(), "+ idling");
    token.cancel();
    assert_eq!(
        next_within(&mut r.client, PROMPT).await,
        "* BYE server shutting down"
    );
    assert!(r.client.closed().await);
    assert!(matches!(
        r.ended().await,
        Err(daemons::imap::SessionError::Shutdown)
    ));
}
