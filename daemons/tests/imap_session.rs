//! The IMAP commands one by one against the in-memory backend, with the
//! example exchanges of RFC 9051/3501 and the extensions' RFCs (moxd's
//! texts and quoting differ; the data must match).

mod imap_common;

use std::sync::Arc;

use imap_common::*;

async fn selected(b: &Arc<daemons::imap::testing::MemBackend>) -> Running {
    let mut r = logged_in(Arc::clone(b)).await;
    r.client.ok("SELECT INBOX").await;
    r
}

fn backend_with(n: usize) -> Arc<daemons::imap::testing::MemBackend> {
    let b = Arc::new(backend());
    for i in 1..=n {
        b.deliver(
            ACCOUNT,
            "Inbox",
            message(&format!("msg{i}"), &format!("body {i}")).as_bytes(),
            &[],
        )
        .expect("deliver");
    }
    b
}

#[tokio::test]
async fn greeting_capability_logout() {
    let mut r = start(config(), Arc::new(backend()));
    let g = r.client.line().await.unwrap();
    assert!(g.contains("AUTH=PLAIN"), "{g}");
    assert!(!g.contains("LOGINDISABLED"), "{g}");
    // RFC 9051 §6.1.1.
    let c = r.client.ok("CAPABILITY").await;
    let caps = &c.with("CAPABILITY")[0];
    for cap in [
        "IMAP4rev2",
        "IMAP4rev1",
        "LITERAL+",
        "IDLE",
        "UIDPLUS",
        "MOVE",
        "CONDSTORE",
        "QRESYNC",
        "ESEARCH",
        "SEARCHRES",
        "SPECIAL-USE",
        "LIST-STATUS",
        "APPENDLIMIT=104857600",
        "SORT",
        "THREAD=REFERENCES",
    ] {
        assert!(caps.split(' ').any(|c| c == cap), "{cap} missing in {caps}");
    }
    assert!(!caps.contains("STARTTLS"), "no TLS configured: {caps}");
    r.client.ok("NOOP").await;
    // RFC 9051 §6.1.3.
    let l = r.client.ok("LOGOUT").await;
    assert_eq!(l.untagged, vec!["* BYE logging out"]);
    assert!(r.client.closed().await);
    assert!(r.ended().await.is_ok());
}

#[tokio::test]
async fn login_without_tls_is_refused_by_default() {
    let mut cfg = config();
    cfg.login_without_tls = false;
    let mut r = start(cfg, Arc::new(backend()));
    let g = r.client.line().await.unwrap();
    assert!(
        g.contains("LOGINDISABLED") && !g.contains("AUTH=PLAIN"),
        "{g}"
    );
    let rep = r
        .client
        .status(&format!("LOGIN {USER} {PASSWORD}"), "NO")
        .await;
    assert!(rep.tagged.contains("[PRIVACYREQUIRED]"), "{rep:?}");
    r.client
        .status("AUTHENTICATE PLAIN AG1qb25lcwBzZWNyZXQ=", "NO")
        .await;
}

#[tokio::test]
async fn login_and_state_rules() {
    let b = Arc::new(backend());
    let mut r = start(config(), Arc::clone(&b));
    r.client.line().await;
    r.client.status("SELECT INBOX", "BAD").await;
    let rep = r.client.status("LOGIN mjones@local.test wrong", "NO").await;
    assert!(
        rep.tagged.starts_with("NO [AUTHENTICATIONFAILED]"),
        "{rep:?}"
    );
    let rep = r.client.ok(&format!("LOGIN {USER} \"{PASSWORD}\"")).await;
    assert!(
        rep.tagged.starts_with("OK [CAPABILITY IMAP4rev2"),
        "{rep:?}"
    );
    assert!(!rep.tagged.contains("AUTH="), "{rep:?}");
    r.client
        .status(&format!("LOGIN {USER} {PASSWORD}"), "BAD")
        .await;
    r.client.status("FETCH 1 FLAGS", "BAD").await;
    r.client.status("CLOSE", "BAD").await;
    let log = b.auth_log.lock().unwrap().clone();
    assert_eq!(
        log.iter().map(|(_, ok)| *ok).collect::<Vec<_>>(),
        vec![false, true]
    );
}

#[tokio::test]
async fn select_and_examine() {
    let b = backend_with(3);
    b.deliver(
        ACCOUNT,
        "Inbox",
        message("flagged", "x").as_bytes(),
        &["\\Seen", "Custom"],
    )
    .unwrap();
    let mut r = logged_in(Arc::clone(&b)).await;
    // RFC 9051 §6.3.2 (IMAP4rev1 client: RECENT and UNSEEN are sent; the
    // four new messages are \Recent in this session, RFC 3501 §2.3.2).
    let s = r.client.ok("SELECT INBOX").await;
    assert!(s.tagged.starts_with("OK [READ-WRITE]"), "{s:?}");
    assert!(s.has("* 4 EXISTS"), "{s:?}");
    assert!(s.has("* 4 RECENT"), "{s:?}");
    assert!(s.has("* OK [UNSEEN 1] first unseen message"), "{s:?}");
    assert!(s.has("* OK [UIDVALIDITY 1] UIDs valid"), "{s:?}");
    assert!(s.has("* OK [UIDNEXT 5] predicted next UID"), "{s:?}");
    let flags = &s.with("FLAGS")[0];
    assert!(
        flags.contains("\\Seen") && flags.contains("custom"),
        "{flags}"
    );
    let perm = s.with("OK [PERMANENTFLAGS")[0].clone();
    assert!(perm.contains("\\*"), "{perm}");
    assert!(!s.with("OK [HIGHESTMODSEQ").is_empty(), "{s:?}");
    // EXAMINE: read-only, no permanent flags, and the old one is closed.
    let e = r.client.ok("EXAMINE inbox").await;
    assert!(e.tagged.starts_with("OK [READ-ONLY]"), "{e:?}");
    assert!(e.has("* 0 RECENT"), "claimed by the SELECT: {e:?}");
    assert!(e.has("* OK [PERMANENTFLAGS ()] flags that can be changed permanently"));
    r.client.status("STORE 1 +FLAGS (\\Seen)", "NO").await;
    r.client.status("EXPUNGE", "NO").await;
    // A failed SELECT leaves no mailbox selected.
    let n = r.client.status("SELECT nosuch", "NO").await;
    assert!(n.tagged.starts_with("NO [NONEXISTENT]"), "{n:?}");
    r.client.status("FETCH 1 FLAGS", "BAD").await;
}

#[tokio::test]
async fn imap4rev2_select_sends_list_and_closed() {
    let b = backend_with(1);
    let mut r = logged_in(b).await;
    let e = r.client.ok("ENABLE IMAP4rev2 CONDSTORE X-UNKNOWN").await;
    assert_eq!(e.untagged, vec!["* ENABLED IMAP4rev2 CONDSTORE"]);
    let s = r.client.ok("SELECT INBOX").await;
    assert!(s.has("* LIST () \"/\" \"Inbox\""), "{s:?}");
    assert!(s.with("0 RECENT").is_empty(), "{s:?}");
    let s = r.client.ok("SELECT Sent").await;
    assert!(s.has("* OK [CLOSED] previous mailbox closed"), "{s:?}");
    // ENABLE only before SELECT (RFC 9051 §6.3.1).
    r.client.status("ENABLE UTF8=ACCEPT", "BAD").await;
}

#[tokio::test]
async fn fetch_data_items() {
    let b = Arc::new(backend());
    let msg = message("hello", "Hello Joe");
    let uid = b.deliver(ACCOUNT, "Inbox", msg.as_bytes(), &[]).unwrap();
    assert_eq!(uid, 1);
    let mut r = selected(&b).await;
    // RFC 9051 §6.4.5 example items.
    let f = r
        .client
        .ok("FETCH 1 (FLAGS INTERNALDATE RFC822.SIZE ENVELOPE UID)")
        .await;
    let line = &f.with("1 FETCH")[0];
    assert!(
        line.starts_with("1 FETCH (FLAGS (\\Recent) INTERNALDATE \""),
        "{line}"
    );
    assert!(
        line.contains(&format!("RFC822.SIZE {}", msg.len())),
        "{line}"
    );
    assert!(
        line.contains("ENVELOPE (\"Mon, 7 Feb 1994 21:52:25 -0800\" \"hello\" ((\"Fred Foobar\" NIL \"foobar\" \"Blurdybloop.example\"))"),
        "{line}"
    );
    assert!(line.ends_with("UID 1)"), "{line}");
    // PEEK leaves \Seen alone; BODY[] sets it and says so.
    let f = r.client.ok("FETCH 1 BODY.PEEK[TEXT]").await;
    assert_eq!(
        f.with("1 FETCH")[0],
        "1 FETCH (BODY[TEXT] {11}\r\nHello Joe\r\n)"
    );
    assert_eq!(b.flags(ACCOUNT, "Inbox", 1).unwrap(), Vec::<String>::new());
    let f = r.client.ok("FETCH 1 BODY[HEADER.FIELDS (Subject)]").await;
    assert_eq!(
        f.with("1 FETCH")[0],
        "1 FETCH (BODY[HEADER.FIELDS (Subject)] {18}\r\nSubject: hello\r\n\r\n FLAGS (\\Recent \\Seen))"
    );
    assert_eq!(b.flags(ACCOUNT, "Inbox", 1).unwrap(), vec!["\\Seen"]);
    // Partial fetch (RFC 9051 §6.4.5 <origin>).
    let f = r.client.ok("UID FETCH 1 (BODY.PEEK[]<0.4>)").await;
    assert_eq!(
        f.with("1 FETCH")[0],
        "1 FETCH (UID 1 BODY[]<0> {4}\r\nFrom)"
    );
    let f = r.client.ok("FETCH 1 BODYSTRUCTURE").await;
    assert_eq!(
        f.with("1 FETCH")[0],
        "1 FETCH (BODYSTRUCTURE (\"TEXT\" \"PLAIN\" (\"charset\" \"us-ascii\") NIL NIL \"7BIT\" 11 1 NIL NIL NIL NIL))"
    );
    let f = r
        .client
        .ok("FETCH 1 (RFC822.HEADER PREVIEW BINARY.SIZE[1])")
        .await;
    let line = &f.with("1 FETCH")[0];
    assert!(line.contains("PREVIEW \"Hello Joe\""), "{line}");
    assert!(line.contains("BINARY.SIZE[1] 11"), "{line}");
    // Sequence numbers past the end are BAD; UIDs past the end match nothing.
    r.client.status("FETCH 2 FLAGS", "BAD").await;
    let f = r.client.ok("UID FETCH 5:7 FLAGS").await;
    assert!(f.untagged.is_empty(), "{f:?}");
    // RFC 9051 §6.4.8: n:* always includes the last message.
    let f = r.client.ok("UID FETCH 5:* FLAGS").await;
    assert_eq!(
        f.with("1 FETCH"),
        vec!["1 FETCH (UID 1 FLAGS (\\Recent \\Seen))"]
    );
}

#[tokio::test]
async fn fetch_binary_and_mime_parts() {
    let b = Arc::new(backend());
    let msg = "From: a@example.org\r\nContent-Type: multipart/mixed; boundary=x\r\n\r\n--x\r\nContent-Type: text/plain\r\n\r\nhello\r\n--x\r\nContent-Type: application/octet-stream\r\nContent-Transfer-Encoding: base64\r\n\r\nAAEC\r\n--x--\r\n";
    b.deliver(ACCOUNT, "Inbox", msg.as_bytes(), &[]).unwrap();
    let mut r = selected(&b).await;
    let f = r
        .client
        .ok("FETCH 1 (BINARY.PEEK[2] BODY.PEEK[2.MIME] BODY.PEEK[1])")
        .await;
    assert_eq!(
        f.with("1 FETCH")[0],
        "1 FETCH (BINARY[2] ~{3}\r\n\0\u{1}\u{2} BODY[2.MIME] {77}\r\nContent-Type: application/octet-stream\r\nContent-Transfer-Encoding: base64\r\n\r\n BODY[1] {5}\r\nhello)"
    );
    let f = r.client.ok("FETCH 1 BODYSTRUCTURE").await;
    assert!(
        f.with("1 FETCH")[0].starts_with("1 FETCH (BODYSTRUCTURE ((\"TEXT\" \"PLAIN\" NIL NIL NIL \"7BIT\" 5 1 NIL NIL NIL NIL)(\"APPLICATION\" \"OCTET-STREAM\" NIL NIL NIL \"BASE64\" 4 NIL NIL NIL NIL) \"MIXED\" (\"boundary\" \"x\")"),
        "{f:?}"
    );
}

#[tokio::test]
async fn store_flags() {
    let b = backend_with(3);
    let mut r = selected(&b).await;
    // RFC 9051 §6.4.6 example.
    let s = r.client.ok("STORE 2:3 +FLAGS (\\Deleted)").await;
    assert_eq!(
        s.untagged,
        vec![
            "* 2 FETCH (FLAGS (\\Recent \\Deleted))",
            "* 3 FETCH (FLAGS (\\Recent \\Deleted))"
        ]
    );
    let s = r.client.ok("STORE 2 FLAGS.SILENT (\\Seen Custom)").await;
    assert!(s.untagged.is_empty(), "{s:?}");
    assert_eq!(
        b.flags(ACCOUNT, "Inbox", 2).unwrap(),
        vec!["\\Seen", "custom"]
    );
    let s = r.client.ok("UID STORE 2 -FLAGS (\\Seen)").await;
    // The new keyword is announced in FLAGS before it is used (RFC 9051 §7.3.5).
    assert_eq!(
        s.untagged,
        vec![
            "* FLAGS (\\Seen \\Answered \\Flagged \\Deleted \\Draft $Forwarded $Junk $NotJunk $Phishing $MDNSent custom)",
            "* 2 FETCH (UID 2 FLAGS (\\Recent custom))"
        ]
    );
    r.client.status("STORE 1 +FLAGS (\\Recent)", "BAD").await;
    r.client.status("STORE 1 +FLAGS (\\Bogus)", "NO").await;
}

#[tokio::test]
async fn condstore_store_and_fetch() {
    let b = backend_with(3);
    let mut r = logged_in(Arc::clone(&b)).await;
    // RFC 7162 §3.1.8: SELECT (CONDSTORE).
    let s = r.client.ok("SELECT INBOX (CONDSTORE)").await;
    let hms: u64 = s.with("OK [HIGHESTMODSEQ ")[0]
        .trim_start_matches("OK [HIGHESTMODSEQ ")
        .split(']')
        .next()
        .unwrap()
        .parse()
        .unwrap();
    let f = r.client.ok("FETCH 1:3 (MODSEQ)").await;
    assert_eq!(f.untagged.len(), 3, "{f:?}");
    // RFC 7162 §3.1.3: UNCHANGEDSINCE.
    let s = r
        .client
        .ok(&format!(
            "STORE 1 (UNCHANGEDSINCE {hms}) +FLAGS.SILENT (\\Seen)"
        ))
        .await;
    let new = &s.with("1 FETCH")[0];
    assert!(
        new.starts_with("1 FETCH (MODSEQ ("),
        "silent still tells MODSEQ: {new}"
    );
    let s = r
        .client
        .ok(&format!(
            "STORE 1,2 (UNCHANGEDSINCE {hms}) +FLAGS (\\Flagged)"
        ))
        .await;
    assert!(s.tagged.starts_with("OK [MODIFIED 1]"), "{s:?}");
    assert_eq!(b.flags(ACCOUNT, "Inbox", 2).unwrap(), vec!["\\Flagged"]);
    assert_eq!(b.flags(ACCOUNT, "Inbox", 1).unwrap(), vec!["\\Seen"]);
    // RFC 7162 §3.1.4.1: CHANGEDSINCE.
    let f = r
        .client
        .ok(&format!("FETCH 1:* (FLAGS) (CHANGEDSINCE {hms})"))
        .await;
    assert_eq!(f.untagged.len(), 2, "{f:?}");
    assert!(f.untagged.iter().all(|l| l.contains("MODSEQ (")), "{f:?}");
    // RFC 7162 §3.1.5: SEARCH MODSEQ.
    let s = r.client.ok(&format!("SEARCH MODSEQ {}", hms + 1)).await;
    assert!(s.with("SEARCH 1 2 (MODSEQ ")[0].ends_with(')'), "{s:?}");
}

#[tokio::test]
async fn search_and_esearch() {
    let b = backend_with(4);
    b.deliver(
        ACCOUNT,
        "Inbox",
        message("Café news", "Grüße aus Köln").as_bytes(),
        &["\\Flagged"],
    )
    .unwrap();
    let mut r = selected(&b).await;
    r.client.ok("STORE 2 +FLAGS (\\Seen)").await;
    let s = r.client.ok("SEARCH UNSEEN").await;
    assert_eq!(s.with("SEARCH"), vec!["SEARCH 1 3 4 5"]);
    let s = r.client.ok("SEARCH OR FLAGGED SEEN SUBJECT msg").await;
    assert_eq!(s.with("SEARCH"), vec!["SEARCH 2"]);
    let s = r.client.ok("UID SEARCH NOT (SEEN) BODY \"body 3\"").await;
    assert_eq!(s.with("SEARCH"), vec!["SEARCH 3"]);
    // A literal with UTF-8 and CHARSET (RFC 9051 §6.4.4).
    let tag = r.client.next_tag();
    r.client
        .send(format!("{tag} SEARCH CHARSET UTF-8 BODY {{7+}}\r\ngrüße\r\n").as_bytes())
        .await;
    let s = r.client.reply(&tag).await;
    assert_eq!(s.with("SEARCH"), vec!["SEARCH 5"], "{s:?}");
    let s = r.client.status("SEARCH CHARSET KOI8-R ALL", "NO").await;
    assert!(
        s.tagged
            .starts_with("NO [BADCHARSET (\"UTF-8\" \"US-ASCII\")]"),
        "{s:?}"
    );
    // RFC 4731 §4 example shapes.
    let tag = r.client.next_tag();
    r.client
        .send(format!("{tag} SEARCH RETURN (MIN COUNT) UNSEEN\r\n").as_bytes())
        .await;
    let s = r.client.reply(&tag).await;
    assert_eq!(
        s.with("ESEARCH"),
        vec![format!("ESEARCH (TAG \"{tag}\") MIN 1 COUNT 4")]
    );
    let s = r.client.ok("UID SEARCH RETURN () ALL").await;
    assert!(s.with("ESEARCH")[0].ends_with("UID ALL 1:5"), "{s:?}");
    let s = r.client.ok("SEARCH RETURN (MAX) SUBJECT nothing").await;
    assert!(
        s.with("ESEARCH")[0].ends_with(")"),
        "no MAX for no match: {s:?}"
    );
    // RFC 5182 SEARCHRES: SAVE then use $.
    let s = r.client.ok("SEARCH RETURN (SAVE) FLAGGED").await;
    assert!(s.untagged.is_empty(), "{s:?}");
    let f = r.client.ok("FETCH $ (UID)").await;
    assert_eq!(f.with("5 FETCH"), vec!["5 FETCH (UID 5)"]);
    let s = r.client.ok("UID SEARCH UID $").await;
    assert_eq!(s.with("SEARCH"), vec!["SEARCH 5"]);
}

#[tokio::test]
async fn copy_move_expunge_uidplus() {
    let b = backend_with(4);
    let mut r = selected(&b).await;
    // RFC 4315 §3 COPYUID.
    let c = r.client.ok("COPY 2:3 Trash").await;
    assert!(c.tagged.starts_with("OK [COPYUID 6 2:3 1:2]"), "{c:?}");
    let c = r.client.status("COPY 1 Nowhere", "NO").await;
    assert!(c.tagged.starts_with("NO [TRYCREATE]"), "{c:?}");
    // RFC 6851 §4.2 MOVE: COPYUID first, then EXPUNGE, then OK.
    let m = r.client.ok("MOVE 1 Archive").await;
    assert_eq!(
        m.untagged,
        vec!["* OK [COPYUID 2 1 1] moved", "* 1 EXPUNGE", "* 3 RECENT"]
    );
    assert_eq!(b.uids(ACCOUNT, "Inbox"), vec![2, 3, 4]);
    // RFC 9051 §6.4.3 EXPUNGE.
    r.client.ok("STORE 1,3 +FLAGS.SILENT (\\Deleted)").await;
    let e = r.client.ok("EXPUNGE").await;
    assert_eq!(e.untagged, vec!["* 3 EXPUNGE", "* 1 EXPUNGE", "* 1 RECENT"]);
    assert_eq!(b.uids(ACCOUNT, "Inbox"), vec![3]);
    // RFC 4315 §2.1 UID EXPUNGE only touches the given UIDs.
    b.deliver(
        ACCOUNT,
        "Inbox",
        message("n", "n").as_bytes(),
        &["\\Deleted"],
    )
    .unwrap();
    let n = r.client.ok("NOOP").await;
    assert_eq!(n.untagged, vec!["* 2 EXISTS", "* 2 RECENT"]);
    r.client.ok("STORE 1 +FLAGS.SILENT (\\Deleted)").await;
    let e = r.client.ok("UID EXPUNGE 5").await;
    assert_eq!(e.untagged, vec!["* 2 EXPUNGE", "* 1 RECENT"]);
    assert_eq!(b.uids(ACCOUNT, "Inbox"), vec![3]);
    // CLOSE expunges silently.
    let c = r.client.ok("CLOSE").await;
    assert!(c.untagged.is_empty(), "{c:?}");
    assert!(b.uids(ACCOUNT, "Inbox").is_empty());
}

#[tokio::test]
async fn append_and_multiappend() {
    let b = Arc::new(backend());
    let mut r = logged_in(Arc::clone(&b)).await;
    // RFC 9051 §6.3.12 example, with a synchronizing literal.
    let msg = "Date: Mon, 7 Feb 1994 21:52:25 -0800 (PST)\r\nFrom: Fred Foobar <foobar@Blurdybloop.example>\r\nSubject: afternoon meeting\r\n\r\nHello Joe, do you think we can meet at 3:30 tomorrow?\r\n";
    let tag = r.client.next_tag();
    r.client
        .send(
            format!(
                "{tag} APPEND saved-messages (\\Seen) \" 7-Feb-1994 21:52:25 -0800\" {{{}}}\r\n",
                msg.len()
            )
            .as_bytes(),
        )
        .await;
    // The mailbox does not exist: still a continuation first, then TRYCREATE.
    assert_eq!(r.client.line().await.unwrap(), "+ ready for literal data");
    r.client.send(format!("{msg}\r\n").as_bytes()).await;
    let a = r.client.reply(&tag).await;
    assert!(a.tagged.starts_with("NO [TRYCREATE]"), "{a:?}");
    r.client.ok("CREATE saved-messages").await;
    let tag = r.client.next_tag();
    r.client
        .send(
            format!(
                "{tag} APPEND saved-messages (\\Seen) \" 7-Feb-1994 21:52:25 -0800\" {{{}}}\r\n",
                msg.len()
            )
            .as_bytes(),
        )
        .await;
    assert!(r.client.line().await.unwrap().starts_with('+'));
    r.client.send(format!("{msg}\r\n").as_bytes()).await;
    let a = r.client.reply(&tag).await;
    assert!(a.tagged.starts_with("OK [APPENDUID 7 1]"), "{a:?}");
    assert_eq!(
        b.content(ACCOUNT, "saved-messages", 1).unwrap(),
        msg.as_bytes()
    );
    assert_eq!(
        b.flags(ACCOUNT, "saved-messages", 1).unwrap(),
        vec!["\\Seen"]
    );
    // RFC 3502 MULTIAPPEND with non-synchronizing literals (RFC 7888).
    let a = r
        .client
        .ok("APPEND saved-messages {3+}\r\nab\n (\\Draft) {2+}\r\ncd ~{3+}\r\ne\0f")
        .await;
    assert!(a.tagged.starts_with("OK [APPENDUID 7 2:4]"), "{a:?}");
    assert_eq!(b.content(ACCOUNT, "saved-messages", 4).unwrap(), b"e\0f");
    let s = r
        .client
        .ok("STATUS saved-messages (MESSAGES UIDNEXT SIZE)")
        .await;
    assert_eq!(
        s.with("STATUS"),
        vec![format!(
            "STATUS \"saved-messages\" (MESSAGES 4 UIDNEXT 5 SIZE {})",
            msg.len() + 8
        )]
    );
    // INTERNALDATE was kept (in UTC).
    r.client.ok("SELECT saved-messages").await;
    let f = r.client.ok("FETCH 1 INTERNALDATE").await;
    assert_eq!(
        f.with("1 FETCH"),
        vec!["1 FETCH (INTERNALDATE \"08-Feb-1994 05:52:25 +0000\")"]
    );
}

#[tokio::test]
async fn mailbox_management_and_list() {
    let b = Arc::new(backend());
    let mut r = logged_in(Arc::clone(&b)).await;
    // RFC 9051 §6.3.9: the separator.
    let l = r.client.ok("LIST \"\" \"\"").await;
    assert_eq!(l.untagged, vec!["* LIST (\\Noselect) \"/\" \"\""]);
    r.client.ok("CREATE owatagusiam/").await;
    r.client.ok("CREATE owatagusiam/blurdybloop").await;
    let c = r.client.status("CREATE owatagusiam", "NO").await;
    assert!(c.tagged.starts_with("NO [ALREADYEXISTS]"), "{c:?}");
    let l = r.client.ok("LIST \"\" %").await;
    assert_eq!(
        l.untagged,
        vec![
            "* LIST (\\HasNoChildren) \"/\" \"Inbox\"",
            "* LIST (\\HasNoChildren \\Archive) \"/\" \"Archive\"",
            "* LIST (\\HasNoChildren \\Drafts) \"/\" \"Drafts\"",
            "* LIST (\\HasNoChildren \\Junk) \"/\" \"Junk\"",
            "* LIST (\\HasNoChildren \\Sent) \"/\" \"Sent\"",
            "* LIST (\\HasNoChildren \\Trash) \"/\" \"Trash\"",
            "* LIST (\\HasChildren) \"/\" \"owatagusiam\"",
        ]
    );
    let l = r.client.ok("LIST owatagusiam/ %").await;
    assert_eq!(
        l.untagged,
        vec!["* LIST (\\HasNoChildren) \"/\" \"owatagusiam/blurdybloop\""]
    );
    // RFC 9051 §6.3.6 RENAME with children.
    r.client.ok("RENAME owatagusiam sarasoop").await;
    let l = r.client.ok("LIST \"\" sarasoop*").await;
    assert_eq!(l.untagged.len(), 2, "{l:?}");
    r.client.status("DELETE sarasoop", "NO").await;
    r.client.ok("DELETE sarasoop/blurdybloop").await;
    r.client.ok("DELETE sarasoop").await;
    r.client.status("DELETE INBOX", "NO").await;
    r.client.status("RENAME INBOX x", "NO").await;
    // CREATE-SPECIAL-USE and LIST-EXTENDED (RFC 6154, RFC 5258, RFC 5819).
    r.client.ok("CREATE MySent (USE (\\Sent))").await;
    let c = r
        .client
        .status("CREATE Everything (USE (\\All))", "NO")
        .await;
    assert!(c.tagged.starts_with("NO [USEATTR]"), "{c:?}");
    r.client.ok("SUBSCRIBE MySent").await;
    r.client.ok("UNSUBSCRIBE Junk").await;
    r.client.ok("SUBSCRIBE gone/child").await;
    let l = r
        .client
        .ok("LIST (SUBSCRIBED RECURSIVEMATCH) \"\" % RETURN (STATUS (MESSAGES))")
        .await;
    assert!(
        l.has("* LIST (\\HasNoChildren \\Subscribed \\Sent) \"/\" \"MySent\""),
        "{l:?}"
    );
    assert!(l.has("* STATUS \"MySent\" (MESSAGES 0)"), "{l:?}");
    assert!(
        l.has("* LIST (\\NonExistent) \"/\" \"gone\" (\"CHILDINFO\" (\"SUBSCRIBED\"))"),
        "{l:?}"
    );
    assert!(!l.untagged.iter().any(|x| x.contains("Junk")), "{l:?}");
    let l = r.client.ok("LIST (SPECIAL-USE) \"\" *").await;
    assert_eq!(l.untagged.len(), 6, "{l:?}");
    // LSUB (RFC 3501 §6.3.9): the parent of a subscribed child is \Noselect.
    let l = r.client.ok("LSUB \"\" %").await;
    assert!(l.has("* LSUB (\\Noselect) \"/\" \"gone\""), "{l:?}");
    assert!(l.has("* LSUB () \"/\" \"MySent\""), "{l:?}");
    let n = r.client.ok("NAMESPACE").await;
    assert_eq!(n.untagged, vec!["* NAMESPACE ((\"\" \"/\")) NIL NIL"]);
}

#[tokio::test]
async fn utf8_and_modified_utf7_names() {
    let b = Arc::new(backend());
    let mut r = logged_in(Arc::clone(&b)).await;
    r.client.ok("CREATE Entw&APw-rfe").await;
    assert!(b.mailbox_names(ACCOUNT).contains(&"Entwürfe".to_string()));
    let l = r.client.ok("LIST \"\" Entw*").await;
    assert_eq!(
        l.untagged,
        vec!["* LIST (\\HasNoChildren) \"/\" \"Entw&APw-rfe\""]
    );
    // Threats T7: 8-bit and bad modified UTF-7 before UTF8=ACCEPT.
    r.client.status("CREATE \"Grüße\"", "BAD").await;
    r.client.status("CREATE &AGE-", "BAD").await;
    r.client.ok("ENABLE UTF8=ACCEPT").await;
    r.client.ok("CREATE \"Grüße\"").await;
    let l = r.client.ok("LIST \"\" *e").await;
    assert!(
        l.has("* LIST (\\HasNoChildren) \"/\" \"Entwürfe\""),
        "{l:?}"
    );
    assert!(l.has("* LIST (\\HasNoChildren) \"/\" \"Grüße\""), "{l:?}");
}

#[tokio::test]
async fn quota_id_and_status() {
    let b = Arc::new(backend().with_quota(10 * 1024));
    let mut r = logged_in(Arc::clone(&b)).await;
    // RFC 9208 §4.3.
    let q = r.client.ok("GETQUOTAROOT INBOX").await;
    assert_eq!(
        q.untagged,
        vec!["* QUOTAROOT \"Inbox\" \"\"", "* QUOTA \"\" (STORAGE 0 10)"]
    );
    r.client.ok("GETQUOTA \"\"").await;
    r.client.status("SETQUOTA \"\" (STORAGE 1)", "NO").await;
    let big = "x".repeat(11 * 1024);
    let a = r
        .client
        .status(&format!("APPEND INBOX {{{}+}}\r\n{big}", big.len()), "NO")
        .await;
    assert!(a.tagged.starts_with("NO [OVERQUOTA]"), "{a:?}");
    // RFC 2971 §3.1.
    let i = r
        .client
        .ok("ID (\"name\" \"sodr\" \"version\" \"19.34\")")
        .await;
    assert_eq!(i.untagged, vec!["* ID (\"name\" \"moxd\")"]);
    r.client.ok("ID NIL").await;
    // RFC 9051 §6.3.11.
    let s = r
        .client
        .ok("STATUS Inbox (MESSAGES UNSEEN DELETED UIDVALIDITY HIGHESTMODSEQ APPENDLIMIT)")
        .await;
    assert!(
        s.with("STATUS \"Inbox\" (MESSAGES 0 UNSEEN 0 DELETED 0 UIDVALIDITY 1 HIGHESTMODSEQ ")[0]
            .ends_with("APPENDLIMIT 104857600)")
    );
}

#[tokio::test]
async fn sort_and_thread() {
    let b = Arc::new(backend());
    let m = |id: &str, subj: &str, date: &str, from: &str, refs: &str| {
        format!(
            "From: {from}\r\nSubject: {subj}\r\nDate: {date}\r\nMessage-ID: <{id}>\r\n{refs}\r\nbody\r\n"
        )
    };
    for msg in [
        m(
            "a@x",
            "Hello",
            "Tue, 1 Feb 2022 10:00:00 +0000",
            "zed@x",
            "",
        ),
        m(
            "b@x",
            "Re: Hello",
            "Tue, 1 Feb 2022 12:00:00 +0000",
            "amy@x",
            "In-Reply-To: <a@x>\r\n",
        ),
        m(
            "c@x",
            "Other",
            "Mon, 31 Jan 2022 10:00:00 +0000",
            "bob@x",
            "",
        ),
        m(
            "d@x",
            "Re: Re: Hello",
            "Wed, 2 Feb 2022 10:00:00 +0000",
            "cat@x",
            "References: <a@x> <b@x>\r\n",
        ),
    ] {
        b.deliver(ACCOUNT, "Inbox", msg.as_bytes(), &[]).unwrap();
    }
    let mut r = selected(&b).await;
    // RFC 5256 §3.
    let s = r.client.ok("SORT (DATE) UTF-8 ALL").await;
    assert_eq!(s.with("SORT"), vec!["SORT 3 1 2 4"]);
    let s = r.client.ok("SORT (REVERSE FROM) UTF-8 ALL").await;
    assert_eq!(s.with("SORT"), vec!["SORT 1 4 3 2"]);
    let s = r
        .client
        .ok("UID SORT (SUBJECT DATE) UTF-8 NOT FROM bob")
        .await;
    assert_eq!(s.with("SORT"), vec!["SORT 1 2 4"]);
    let t = r.client.ok("THREAD ORDEREDSUBJECT UTF-8 ALL").await;
    assert_eq!(t.with("THREAD"), vec!["THREAD (3)(1 (2)(4))"]);
    let t = r.client.ok("THREAD REFERENCES UTF-8 ALL").await;
    assert_eq!(t.with("THREAD"), vec!["THREAD (3)(1 2 4)"]);
    r.client.status("SORT (DATE) KOI8-R ALL", "NO").await;
}

#[tokio::test]
async fn pipelined_commands_are_answered_in_order() {
    let b = backend_with(2);
    let mut r = logged_in(b).await;
    r.client
        .send(b"p1 SELECT INBOX\r\np2 FETCH 1:2 (UID)\r\np3 STORE 2 +FLAGS (\\Seen)\r\np4 SEARCH SEEN\r\n")
        .await;
    assert!(r.client.reply("p1").await.is_ok());
    let f = r.client.reply("p2").await;
    assert_eq!(f.untagged, vec!["* 1 FETCH (UID 1)", "* 2 FETCH (UID 2)"]);
    let s = r.client.reply("p3").await;
    assert_eq!(s.untagged, vec!["* 2 FETCH (FLAGS (\\Recent \\Seen))"]);
    let s = r.client.reply("p4").await;
    assert_eq!(s.untagged, vec!["* SEARCH 2"]);
    r.client.ok("CHECK").await;
    r.client.ok("UNSELECT").await;
    r.client.status("CHECK", "BAD").await;
}
