//! Limits and hostile input (threats T5, T7, T11): literal bombs before
//! and after login, endless and overlong lines, deep nesting, NUL octets,
//! slow drips, error and login-failure counts. Each case checks the
//! answer and that the session goes on (or ends) as it should.

mod imap_common;

use std::sync::Arc;
use std::time::Duration;

use imap_common::*;

#[tokio::test]
async fn preauth_literal_bomb_is_refused_before_reading() {
    let mut r = start(config(), Arc::new(backend()));
    r.client.line().await;
    // Threats T11: no continuation, no read, NO [TOOBIG].
    r.client.send(b"A LOGIN {4294967295}\r\n").await;
    let l = r.client.line().await.unwrap();
    assert!(
        l.starts_with("A NO [TOOBIG] literal of 4294967295 octets"),
        "{l}"
    );
    r.client.ok("NOOP").await;
    // A small literal before login is fine (and still checked for NUL).
    r.client.send(b"B LOGIN {17}\r\n").await;
    assert_eq!(r.client.line().await.unwrap(), "+ ready for literal data");
    r.client.send(format!("{USER} {{6}}\r\n").as_bytes()).await;
    assert!(r.client.line().await.unwrap().starts_with('+'));
    r.client.send(b"secret\r\n").await;
    let rep = r.client.reply("B").await;
    assert!(rep.is_ok(), "{rep:?}");
}

#[tokio::test]
async fn literal_limits_after_login() {
    let b = Arc::new(backend());
    let mut r = logged_in(Arc::clone(&b)).await;
    // A non-APPEND literal above 100 KiB.
    r.client
        .send(format!("A SEARCH SUBJECT {{{}}}\r\n", 200 * 1024).as_bytes())
        .await;
    let l = r.client.line().await.unwrap();
    assert!(l.starts_with("A NO [TOOBIG]"), "{l}");
    // APPEND above APPENDLIMIT, synchronizing: refused before reading.
    r.client.send(b"B APPEND INBOX {1000000000}\r\n").await;
    let l = r.client.line().await.unwrap();
    assert!(l.starts_with("B NO [TOOBIG]"), "{l}");
    r.client.ok("NOOP").await;
    // Non-synchronizing: the octets would follow, so the session ends.
    r.client.send(b"C APPEND INBOX {1000000000+}\r\n").await;
    let l = r.client.line().await.unwrap();
    assert!(l.starts_with("* BYE [TOOBIG]"), "{l}");
    assert!(r.client.closed().await);
    assert!(b.uids(ACCOUNT, "Inbox").is_empty());
}

#[tokio::test]
async fn too_many_literals() {
    let mut r = logged_in(Arc::new(backend())).await;
    let mut cmd = b"A SEARCH".to_vec();
    for _ in 0..1001 {
        cmd.extend_from_slice(b" SUBJECT {1+}\r\nx");
    }
    cmd.extend_from_slice(b"\r\n");
    r.client.send(&cmd).await;
    let l = r.client.line().await.unwrap();
    assert!(
        l.starts_with("* BYE [TOOBIG] more than 1000 literals"),
        "{l}"
    );
}

#[tokio::test]
async fn long_and_endless_lines() {
    let mut r = logged_in(Arc::new(backend())).await;
    let long = format!("A NOOP {}\r\n", "x".repeat(70 * 1024));
    r.client.send(long.as_bytes()).await;
    let l = r.client.line().await.unwrap();
    assert_eq!(l, "A BAD line too long, max 65536 octets");
    r.client.ok("NOOP").await;
    // 4 MB without a line end, in pieces: nothing is answered until the
    // line ends, and then it is one BAD (memory stays flat meanwhile).
    r.client.send(b"B ").await;
    let chunk = vec![b'y'; 256 * 1024];
    for _ in 0..16 {
        r.client.send(&chunk).await;
    }
    assert!(r.client.silent_for(Duration::from_millis(100)).await);
    r.client.send(b"\r\n").await;
    assert!(
        r.client
            .line()
            .await
            .unwrap()
            .starts_with("B BAD line too long")
    );
    // An overlong line that announces a non-synchronizing literal: the
    // literal's octets cannot be told from commands, so BYE.
    r.client
        .send(format!("C SEARCH {} {{5+}}\r\nhello\r\n", "z".repeat(70 * 1024)).as_bytes())
        .await;
    let l = r.client.line().await.unwrap();
    assert!(l.starts_with("* BYE"), "{l}");
}

#[tokio::test]
async fn deep_nesting_and_long_sections() {
    let b = Arc::new(backend());
    b.deliver(ACCOUNT, "Inbox", message("x", "y").as_bytes(), &[])
        .unwrap();
    let mut r = logged_in(Arc::clone(&b)).await;
    r.client.ok("SELECT INBOX").await;
    // Threats T11 (cf. dovecot#283): 10,000 nested parentheses.
    let deep = format!("SEARCH {}ALL{}", "(".repeat(10_000), ")".repeat(10_000));
    let rep = r.client.status(&deep, "BAD").await;
    assert!(rep.tagged.contains("nested"), "{rep:?}");
    let deep = format!("FETCH 1 (BODY[{}1])", "1.".repeat(1000));
    r.client.status(&deep, "BAD").await;
    r.client
        .status(&format!("STORE 1 FLAGS {}", "(".repeat(5000)), "BAD")
        .await;
    r.client.ok("FETCH 1 (UID)").await;
}

#[tokio::test]
async fn nul_octets_are_rejected() {
    let mut r = start(config(), Arc::new(backend()));
    r.client.line().await;
    // Threats T5: in a quoted string and in a literal.
    r.client.send(b"A LOGIN \"mjo\0nes\" \"p\"\r\n").await;
    assert!(r.client.line().await.unwrap().starts_with("A BAD"));
    r.client.send(b"B LOGIN {3}\r\n").await;
    assert!(r.client.line().await.unwrap().starts_with('+'));
    r.client.send(b"a\0b p\r\n").await;
    let l = r.client.line().await.unwrap();
    assert!(l.starts_with("B BAD NUL in literal"), "{l}");
    // 8-bit garbage is not UTF-8: BAD, no truncation.
    r.client.send(b"C LOGIN \"\xc0\xaf\" p\r\n").await;
    assert!(r.client.line().await.unwrap().starts_with("C BAD"));
    r.client.ok("NOOP").await;
}

#[tokio::test]
async fn slow_drip_literal_times_out() {
    let mut cfg = config();
    cfg.limits.literal_read_timeout = Duration::from_millis(200);
    let b = Arc::new(backend());
    let mut r = start(cfg, Arc::clone(&b));
    r.client.line().await;
    r.client.ok(&format!("LOGIN {USER} {PASSWORD}")).await;
    r.client.send(b"A APPEND INBOX {100}\r\n").await;
    assert!(r.client.line().await.unwrap().starts_with('+'));
    r.client.send(b"abc").await;
    let l = r.client.line().await.unwrap();
    assert!(l.starts_with("* BYE autologout"), "{l}");
    assert!(r.client.closed().await);
    assert!(b.uids(ACCOUNT, "Inbox").is_empty());
}

#[tokio::test]
async fn preauth_idle_times_out() {
    let mut cfg = config();
    cfg.limits.preauth_timeout = Duration::from_millis(100);
    let mut r = start(cfg, Arc::new(backend()));
    r.client.line().await;
    let l = r.client.line().await.unwrap();
    assert!(l.starts_with("* BYE autologout"), "{l}");
    assert!(matches!(
        r.ended().await,
        Err(daemons::imap::SessionError::Timeout)
    ));
}

#[tokio::test]
async fn too_many_errors_end_the_session() {
    let mut r = start(config(), Arc::new(backend()));
    r.client.line().await;
    for _ in 0..29 {
        r.client.status("FOO", "BAD").await;
    }
    r.client.send(b"x FOO\r\n").await;
    assert!(r.client.line().await.unwrap().starts_with("x BAD"));
    assert_eq!(r.client.line().await.unwrap(), "* BYE too many errors");
    assert!(r.client.closed().await);
}

#[tokio::test]
async fn failed_logins_end_the_session_and_rate_limits_apply() {
    let b = Arc::new(backend());
    let mut r = start(config(), Arc::clone(&b));
    r.client.line().await;
    r.client.status("LOGIN mjones@local.test bad1", "NO").await;
    r.client.status("LOGIN nobody@local.test bad2", "NO").await;
    r.client.send(b"x LOGIN mjones@local.test bad3\r\n").await;
    let l = r.client.line().await.unwrap();
    assert_eq!(l, "x NO [AUTHENTICATIONFAILED] invalid credentials");
    assert_eq!(r.client.line().await.unwrap(), "* BYE too many errors");
    let log = b.auth_log.lock().unwrap().clone();
    assert_eq!(log.len(), 3);
    assert!(
        log.iter()
            .all(|(ip, ok)| !ok && ip.to_string() == "192.0.2.7")
    );

    b.auth_blocked
        .store(true, std::sync::atomic::Ordering::SeqCst);
    let mut r = start(config(), Arc::clone(&b));
    r.client.line().await;
    let rep = r
        .client
        .status(&format!("LOGIN {USER} {PASSWORD}"), "NO")
        .await;
    assert!(rep.tagged.starts_with("NO [UNAVAILABLE]"), "{rep:?}");
}

#[tokio::test]
async fn literal_minus() {
    let mut cfg = config();
    cfg.literal_minus = true;
    let mut r = start(cfg, Arc::new(backend()));
    let g = r.client.line().await.unwrap();
    assert!(g.contains("LITERAL-") && !g.contains("LITERAL+"), "{g}");
    r.client.ok(&format!("LOGIN {USER} {PASSWORD}")).await;
    let body = "x".repeat(4096);
    r.client
        .ok(&format!("APPEND INBOX {{4096+}}\r\n{body}"))
        .await;
    // RFC 7888 §5: a larger non-synchronizing literal ends the session.
    r.client.send(b"B APPEND INBOX {4097+}\r\n").await;
    assert!(r.client.line().await.unwrap().starts_with("* BYE"));
}

#[tokio::test]
async fn unknown_and_malformed_commands() {
    let mut r = logged_in(Arc::new(backend())).await;
    let rep = r.client.status("XYZZY", "BAD").await;
    assert_eq!(rep.tagged, "BAD unknown command XYZZY");
    r.client.send(b"\r\n").await;
    r.client.send(b"(bad-tag NOOP\r\n").await;
    assert!(r.client.line().await.unwrap().starts_with("* BAD"));
    r.client.status("SELECT", "BAD").await;
    r.client.status("FETCH 1 BODY[", "BAD").await;
    r.client.ok("NOOP").await;
}
