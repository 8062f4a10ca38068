//! End-to-end IMAP against a real moxd: the imap worker driven by a raw
//! IMAP client (tests/common/imap_client.rs) over plain text, STARTTLS,
//! implicit TLS and COMPRESS=DEFLATE, with assertions on what comes back
//! byte for byte (message octets, UIDs, flags, modseqs) and on what the
//! store holds.
//!
//! Most tests share one `moxd serve` (free loopback ports) and work in
//! mailboxes of their own; tests of limits, memory and restarts get their
//! own instance; the localserve tests share one instance because its
//! ports (1143, 1993, 1025) are fixed.

mod common;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

use base64::Engine as _;
use common::imap_client::{ImapClient, Reply, quote, tls_config};
use common::smtp_client::SmtpClient;
use common::*;
use ipc::Role;

const ALICE: &str = "alice@example.org";
/// IDLE must tell another session's change within this (issue 5).
const IDLE_LATENCY: Duration = Duration::from_secs(1);
/// Changes of this session reach its own view through the store's
/// events; NOOP is repeated until they have (bounded).
const SETTLE: Duration = Duration::from_secs(5);

// ---------------------------------------------------------------------------
// Fixtures.

static SHARED_CLEANUP: Mutex<Option<(u32, Vec<PathBuf>)>> = Mutex::new(None);

extern "C" fn stop_shared() {
    let Ok(mut g) = SHARED_CLEANUP.lock() else {
        return;
    };
    if let Some((pid, dirs)) = g.take() {
        let pid = nix::unistd::Pid::from_raw(pid as i32);
        let _ = nix::sys::signal::kill(pid, nix::sys::signal::SIGKILL);
        let _ = nix::sys::wait::waitpid(pid, None);
        for d in dirs {
            let _ = std::fs::remove_dir_all(d);
        }
    }
}

/// The `moxd serve` most tests share. Started from a thread that never
/// ends (moxd dies with it, PR_SET_PDEATHSIG), removed at exit.
fn shared() -> &'static ImapServer {
    static S: OnceLock<ImapServer> = OnceLock::new();
    S.get_or_init(|| {
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let _ = tx.send(Server::serve_imap(""));
            loop {
                std::thread::park();
            }
        });
        let s = rx.recv().expect("shared moxd serve started");
        *SHARED_CLEANUP.lock().unwrap() = Some((
            s.child.id(),
            vec![s.dir.path().to_path_buf(), s.tls_dir.path().to_path_buf()],
        ));
        // SAFETY: registers a plain extern "C" fn with the C library.
        unsafe {
            libc::atexit(stop_shared);
        }
        s
    })
}

/// The one localserve of this test process (fixed ports).
fn localserve() -> &'static Server {
    static LOCAL: OnceLock<Server> = OnceLock::new();
    LOCAL.get_or_init(Server::localserve_for_process)
}

const LOCAL_IMAP: SocketAddr =
    SocketAddr::new(std::net::IpAddr::V4(std::net::Ipv4Addr::LOCALHOST), 1143);
const LOCAL_IMAPS: SocketAddr =
    SocketAddr::new(std::net::IpAddr::V4(std::net::Ipv4Addr::LOCALHOST), 1993);
const LOCAL_SMTP: SocketAddr =
    SocketAddr::new(std::net::IpAddr::V4(std::net::Ipv4Addr::LOCALHOST), 1025);
const LOCAL_USER: &str = "mox@localhost";
const LOCAL_PASSWORD: &str = "moxmoxmox";

/// A name unique in this process.
fn unique(label: &str) -> String {
    static N: AtomicU32 = AtomicU32::new(0);
    format!(
        "{label}-{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    )
}

/// A logged-in session over implicit TLS.
fn login(s: &ImapServer) -> ImapClient {
    let (mut c, greeting) = ImapClient::greeted_tls(s.imaps, tls_config(&s.cert_pem));
    assert!(greeting.starts_with("* OK"), "{greeting}");
    c.login(ALICE, IMAP_ALICE_PASSWORD).ok();
    c
}

/// Creates a mailbox of its own for a test.
fn mailbox(c: &mut ImapClient, label: &str) -> String {
    let name = unique(label);
    c.cmd(&format!("CREATE {name}")).ok();
    name
}

/// A small message; `extra` header lines go before the body.
fn message(subject: &str, extra: &str, body: &str) -> Vec<u8> {
    format!(
        "From: Bob <bob@example.net>\r\nTo: alice@example.org\r\nSubject: {subject}\r\n\
         Date: Thu, 26 Nov 2026 10:00:00 +0000\r\nMessage-ID: <{subject}@example.net>\r\n\
         {extra}\r\n{body}"
    )
    .into_bytes()
}

/// The numbers of a response code, e.g. `APPENDUID 7 3:4` → ["7", "3:4"].
fn code_args(r: &Reply, name: &str) -> Vec<String> {
    let code = r.code().unwrap_or_else(|| panic!("no response code: {r}"));
    let mut parts = code.split(' ');
    assert_eq!(parts.next(), Some(name), "{r}");
    parts.map(str::to_string).collect()
}

/// (UIDVALIDITY, UID) of a one-message APPEND.
fn appended(r: &Reply) -> (u32, u32) {
    let a = code_args(r, "APPENDUID");
    (a[0].parse().unwrap(), a[1].parse().unwrap())
}

fn append(c: &mut ImapClient, mailbox: &str, flags: &str, data: &[u8]) -> (u32, u32) {
    appended(&c.append(mailbox, flags, data).ok())
}

/// The octets of the first literal of the first untagged FETCH.
fn fetched_literal(r: &Reply) -> Vec<u8> {
    let f = r
        .untagged
        .iter()
        .find(|l| l.windows(6).any(|w| w == b" FETCH"))
        .unwrap_or_else(|| panic!("no FETCH: {r}"));
    let open = f.iter().position(|&b| b == b'{').expect("a literal");
    let close = open + f[open..].iter().position(|&b| b == b'}').expect("}");
    let n: usize = std::str::from_utf8(&f[open + 1..close])
        .unwrap()
        .trim_end_matches('+')
        .parse()
        .unwrap();
    let start = close + 3;
    f[start..start + n].to_vec()
}

/// SEARCH/ESEARCH numbers of a `* SEARCH` response.
fn search_numbers(r: &Reply) -> Vec<u32> {
    let l = r.one("SEARCH");
    l.split(' ')
        .skip(1)
        .filter_map(|n| n.parse().ok())
        .collect()
}

/// The imap worker's resident memory in KiB.
fn imap_rss_kib(s: &Server) -> u64 {
    let pid = s.worker_pid(Role::Imap).expect("imap worker running");
    proc_status(pid, "VmRSS")
        .trim_end_matches(" kB")
        .trim()
        .parse()
        .expect("VmRSS")
}

// ---------------------------------------------------------------------------
// 1. Connections, TLS and login.

#[test]
fn serve_refuses_login_without_tls_and_allows_it_after_starttls() {
    let s = shared();
    let (mut c, greeting) = ImapClient::greeted(s.imap);
    assert!(greeting.contains("STARTTLS"), "{greeting}");
    assert!(greeting.contains("LOGINDISABLED"), "{greeting}");
    assert!(!greeting.contains("AUTH=PLAIN"), "{greeting}");
    let r = c.login(ALICE, IMAP_ALICE_PASSWORD);
    assert_eq!(r.status(), "NO", "{r}");
    assert_eq!(r.code(), Some("PRIVACYREQUIRED"), "{r}");
    let r = c.cmd(&format!(
        "AUTHENTICATE PLAIN {}",
        base64::engine::general_purpose::STANDARD.encode(format!("\0{ALICE}\0x"))
    ));
    assert_ne!(r.status(), "OK", "{r}");
    c.starttls(tls_config(&s.cert_pem));
    assert!(c.is_tls());
    let caps = c.cmd("CAPABILITY").ok().one("CAPABILITY");
    assert!(
        !caps.contains("STARTTLS") && !caps.contains("LOGINDISABLED"),
        "{caps}"
    );
    assert!(caps.contains("AUTH=SCRAM-SHA-256-PLUS"), "{caps}");
    let r = c.login(ALICE, IMAP_ALICE_PASSWORD).ok();
    let caps = r.code().unwrap();
    for cap in [
        "IMAP4rev2",
        "IMAP4rev1",
        "IDLE",
        "MOVE",
        "CONDSTORE",
        "QRESYNC",
    ] {
        assert!(caps.split(' ').any(|c| c == cap), "{cap} in {caps}");
    }
    c.cmd("LOGOUT").ok();
}

#[test]
fn implicit_tls_login_and_authenticate_plain() {
    let s = shared();
    let (mut c, greeting) = ImapClient::greeted_tls(s.imaps, tls_config(&s.cert_pem));
    assert!(greeting.starts_with("* OK [CAPABILITY"), "{greeting}");
    assert!(!greeting.contains("STARTTLS"), "{greeting}");
    // SASL-IR (RFC 4959): the initial response on the command line.
    let wrong = base64::engine::general_purpose::STANDARD.encode(format!("\0{ALICE}\0nope"));
    let r = c.cmd(&format!("AUTHENTICATE PLAIN {wrong}"));
    assert_eq!(r.status(), "NO", "{r}");
    assert_eq!(r.code(), Some("AUTHENTICATIONFAILED"), "{r}");
    let right = base64::engine::general_purpose::STANDARD
        .encode(format!("\0{ALICE}\0{IMAP_ALICE_PASSWORD}"));
    c.cmd(&format!("AUTHENTICATE PLAIN {right}")).ok();
    let r = c.cmd("SELECT INBOX").ok();
    assert!(r.code() == Some("READ-WRITE"), "{r}");
}

fn b64(b: impl AsRef<[u8]>) -> String {
    base64::engine::general_purpose::STANDARD.encode(b)
}

fn unb64(s: &str) -> Vec<u8> {
    base64::engine::general_purpose::STANDARD
        .decode(s.trim())
        .unwrap_or_else(|e| panic!("base64 {s:?}: {e}"))
}

fn hmac256(key: &[u8], data: &[u8]) -> Vec<u8> {
    use hmac::Mac as _;
    let mut m = hmac::Hmac::<sha2::Sha256>::new_from_slice(key).expect("any key");
    m.update(data);
    m.finalize().into_bytes().to_vec()
}

/// The text of a `+ …` continuation, base64-decoded.
fn challenge(c: &mut ImapClient) -> String {
    let r = c.response().expect("a continuation");
    let line = String::from_utf8_lossy(&r).trim_end().to_string();
    let data = line
        .strip_prefix("+ ")
        .unwrap_or_else(|| panic!("expected a continuation: {line}"));
    String::from_utf8(unb64(data)).expect("UTF-8 challenge")
}

#[test]
fn authenticate_scram_sha_256_plus_with_tls_exporter() {
    use sha2::Digest as _;
    let s = shared();
    let (mut c, _) = ImapClient::greeted_tls(s.imaps, tls_config(&s.cert_pem));
    // RFC 5802 §3 with RFC 9266 channel binding; first message as SASL-IR.
    let gs2 = "p=tls-exporter,,";
    let cnonce = b64(unique("nonce"));
    let first_bare = format!("n={ALICE},r={cnonce}");
    let tag = c.next_tag();
    c.send(
        format!(
            "{tag} AUTHENTICATE SCRAM-SHA-256-PLUS {}\r\n",
            b64(format!("{gs2}{first_bare}"))
        )
        .as_bytes(),
    );
    let server_first = challenge(&mut c);
    let attr = |k: &str| {
        server_first
            .split(',')
            .find_map(|a| a.strip_prefix(k))
            .unwrap_or_else(|| panic!("{k} in {server_first}"))
            .to_string()
    };
    let (nonce, salt, iterations) = (attr("r="), unb64(&attr("s=")), attr("i="));
    assert!(nonce.starts_with(&cnonce) && nonce.len() > cnonce.len());
    let iterations: u32 = iterations.parse().unwrap();
    let mut salted = [0u8; 32];
    pbkdf2::pbkdf2_hmac::<sha2::Sha256>(
        IMAP_ALICE_PASSWORD.as_bytes(),
        &salt,
        iterations,
        &mut salted,
    );
    let client_key = hmac256(&salted, b"Client Key");
    let stored_key = sha2::Sha256::digest(&client_key).to_vec();
    let mut cbind = gs2.as_bytes().to_vec();
    cbind.extend_from_slice(&c.tls_exporter());
    let without_proof = format!("c={},r={nonce}", b64(&cbind));
    let auth_message = format!("{first_bare},{server_first},{without_proof}");
    let signature = hmac256(&stored_key, auth_message.as_bytes());
    let proof: Vec<u8> = client_key
        .iter()
        .zip(&signature)
        .map(|(a, b)| a ^ b)
        .collect();
    c.send(format!("{}\r\n", b64(format!("{without_proof},p={}", b64(proof)))).as_bytes());
    // RFC 9051 §6.2.2: the server's final message in a continuation.
    let server_final = challenge(&mut c);
    let server_key = hmac256(&salted, b"Server Key");
    let want = format!("v={}", b64(hmac256(&server_key, auth_message.as_bytes())));
    assert_eq!(server_final, want, "server signature");
    c.send(b"\r\n");
    let r = c.read_until_tagged(&tag).expect("AUTHENTICATE completion");
    assert!(r.is_ok(), "{r}");
    c.cmd("SELECT INBOX").ok();
}

// ---------------------------------------------------------------------------
// 2. Mailboxes.

#[test]
fn create_rename_delete_subscribe_and_list() {
    let s = shared();
    let mut c = login(s);
    let base = unique("tree");
    c.cmd(&format!("CREATE {base}/a/b")).ok();
    let r = c.cmd(&format!("LIST \"\" \"{base}*\"")).ok();
    let names: Vec<String> = r.starting("LIST");
    assert_eq!(names.len(), 3, "parents are created too: {r}");
    assert_eq!(
        r.containing(&format!("(\\HasChildren) \"/\" \"{base}/a\""))
            .len(),
        1,
        "{r}"
    );
    let r = c.cmd(&format!("CREATE {base}/a"));
    assert_eq!(r.code(), Some("ALREADYEXISTS"), "{r}");
    c.cmd(&format!("RENAME {base}/a {base}/c")).ok();
    let r = c.cmd(&format!("LIST \"\" \"{base}/*\"")).ok();
    let lines = r.lines().join("\n");
    assert!(
        lines.contains(&format!("{base}/c/b")),
        "children follow: {r}"
    );
    assert!(!lines.contains(&format!("{base}/a")), "{r}");
    // SUBSCRIBE / LSUB / LIST-EXTENDED (RFC 5258).
    c.cmd(&format!("SUBSCRIBE {base}/c/b")).ok();
    let r = c.cmd(&format!("LSUB \"\" \"{base}/*\"")).ok();
    assert_eq!(r.starting("LSUB").len(), 1, "{r}");
    assert!(r.one("LSUB").ends_with(&format!("\"{base}/c/b\"")), "{r}");
    let r = c.cmd(&format!("LIST (SUBSCRIBED) \"\" \"{base}/*\"")).ok();
    let sub = r.one("LIST");
    assert!(
        sub.contains("\\Subscribed") && sub.ends_with(&format!("\"{base}/c/b\"")),
        "{r}"
    );
    c.cmd(&format!("UNSUBSCRIBE {base}/c/b")).ok();
    let r = c.cmd(&format!("LSUB \"\" \"{base}/*\"")).ok();
    assert!(r.starting("LSUB").is_empty(), "{r}");
    // LIST-STATUS (RFC 5819).
    let (_, _) = append(
        &mut c,
        &format!("{base}/c"),
        "",
        &message("ls", "", "x\r\n"),
    );
    let r = c
        .cmd(&format!(
            "LIST \"\" \"{base}/c\" RETURN (STATUS (MESSAGES UIDNEXT))"
        ))
        .ok();
    let st = r.one("STATUS");
    assert!(st.contains("MESSAGES 1") && st.contains("UIDNEXT 2"), "{r}");
    // SPECIAL-USE and CREATE-SPECIAL-USE (RFC 6154).
    let r = c.cmd("LIST (SPECIAL-USE) \"\" \"*\"").ok();
    for attr in ["\\Sent", "\\Drafts", "\\Junk", "\\Trash", "\\Archive"] {
        assert!(r.lines().iter().any(|l| l.contains(attr)), "{attr}: {r}");
    }
    let archive = unique("archive");
    c.cmd(&format!("CREATE {archive} (USE (\\Archive))")).ok();
    let r = c.cmd(&format!("LIST \"\" {archive}")).ok();
    assert!(r.one("LIST").contains("\\Archive"), "{r}");
    let r = c.cmd(&format!("CREATE {} (USE (\\Flagged))", unique("flagged")));
    assert_eq!(r.code(), Some("USEATTR"), "not a use moxd offers: {r}");
    // DELETE: Inbox cannot go; a mailbox can, and is gone.
    let r = c.cmd("DELETE INBOX");
    assert_eq!(r.status(), "NO", "{r}");
    c.cmd(&format!("DELETE {base}/c/b")).ok();
    let r = c.cmd(&format!("SELECT {base}/c/b"));
    assert_eq!(r.code(), Some("NONEXISTENT"), "{r}");
}

#[test]
fn status_select_and_examine() {
    let s = shared();
    let mut c = login(s);
    let mb = mailbox(&mut c, "status");
    let one = message("s1", "", "one\r\n");
    let two = message("s2", "", "two two\r\n");
    let (v, _) = append(&mut c, &mb, "\\Seen", &one);
    append(&mut c, &mb, "\\Deleted", &two);
    let size = one.len() + two.len();
    let r = c
        .cmd(&format!(
            "STATUS {mb} (MESSAGES UNSEEN UIDNEXT UIDVALIDITY SIZE DELETED HIGHESTMODSEQ)"
        ))
        .ok();
    let st = r.one("STATUS");
    for want in [
        "MESSAGES 2".to_string(),
        "UNSEEN 1".into(),
        "UIDNEXT 3".into(),
        format!("UIDVALIDITY {v}"),
        format!("SIZE {size}"),
        "DELETED 1".into(),
    ] {
        assert!(st.contains(&want), "{want} in {st}");
    }
    let r = c.cmd(&format!("EXAMINE {mb}")).ok();
    assert_eq!(r.code(), Some("READ-ONLY"), "{r}");
    assert!(r.lines().contains(&"2 EXISTS".to_string()), "{r}");
    let r = c.cmd("STORE 1 +FLAGS (\\Flagged)");
    assert_eq!(r.status(), "NO", "read-only: {r}");
    let r = c.cmd(&format!("SELECT {mb}")).ok();
    assert_eq!(r.code(), Some("READ-WRITE"), "{r}");
    assert!(
        r.containing(&format!("[UIDVALIDITY {v}]")).len() == 1,
        "{r}"
    );
    assert!(r.containing("[UIDNEXT 3]").len() == 1, "{r}");
    c.cmd("UNSELECT").ok();
    let r = c.cmd("FETCH 1 FLAGS");
    assert_eq!(r.status(), "BAD", "no mailbox selected: {r}");
}

// ---------------------------------------------------------------------------
// 3. APPEND and FETCH.

#[test]
fn append_multiappend_and_appenduid() {
    let s = shared();
    let mut c = login(s);
    let mb = mailbox(&mut c, "append");
    let (v, u1) = append(
        &mut c,
        &mb,
        "\\Seen $Forwarded",
        &message("a1", "", "first\r\n"),
    );
    assert_eq!(u1, 1);
    // LITERAL+ (RFC 7888): the octets follow without waiting for "+".
    let m2 = message("a2", "", "second\r\n");
    let mut raw = format!("p1 APPEND {mb} {{{}+}}\r\n", m2.len()).into_bytes();
    raw.extend_from_slice(&m2);
    raw.extend_from_slice(b"\r\n");
    c.send(&raw);
    let r = c
        .read_until_tagged("p1")
        .expect("APPEND with LITERAL+")
        .ok();
    assert_eq!(appended(&r), (v, 2));
    // MULTIAPPEND (RFC 3502): two messages, the first with flags and a
    // date, in one command; both get UIDs.
    let m4 = message("a4", "", "fourth\r\n");
    let m5 = message("a5", "", "fifth\r\n");
    let r = c
        .cmd_literals(
            &format!("APPEND {mb} (\\Flagged) \"01-Jan-2020 10:00:00 +0000\" "),
            &[(&m4, " () "), (&m5, "")],
        )
        .ok();
    let a = code_args(&r, "APPENDUID");
    assert_eq!(a[0], v.to_string(), "{r}");
    let uids = &a[1];
    let (lo, hi) = uids.split_once(':').expect("a range");
    let (lo, hi): (u32, u32) = (lo.parse().unwrap(), hi.parse().unwrap());
    assert_eq!(hi, lo + 1, "{r}");
    c.cmd(&format!("SELECT {mb}")).ok();
    let r = c
        .cmd(&format!(
            "UID FETCH {lo}:{hi} (FLAGS INTERNALDATE BODY.PEEK[])"
        ))
        .ok();
    let all = r.lines().join("\n");
    assert!(all.contains("\\Flagged"), "{r}");
    assert!(all.contains("01-Jan-2020 10:00:00 +0000"), "{r}");
    let lines = r.lines();
    assert!(lines.iter().any(|l| l.contains("fourth")), "{r}");
    assert!(lines.iter().any(|l| l.contains("fifth")), "{r}");
    // Flags of the first, and APPEND to a missing mailbox.
    let r = c.cmd(&format!("UID FETCH {u1} FLAGS")).ok();
    assert!(r.one("1 FETCH").contains("\\Seen $Forwarded"), "{r}");
    let r = c.append(&unique("missing"), "", b"x\r\n");
    assert_eq!(r.code(), Some("TRYCREATE"), "{r}");
}

/// A multipart message with a binary attachment in base64.
fn multipart(subject: &str) -> Vec<u8> {
    format!(
        "From: Alice <alice@example.org>\r\nTo: Bob <bob@example.net>\r\nSubject: {subject}\r\n\
         Date: Thu, 26 Nov 2026 10:00:00 +0000\r\nMessage-ID: <{subject}@example.org>\r\n\
         MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=\"XX\"\r\n\r\n\
         --XX\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nhello part one\r\n\
         --XX\r\nContent-Type: application/octet-stream\r\nContent-Transfer-Encoding: base64\r\n\r\n\
         AAECAwQFBgc=\r\n--XX--\r\n"
    )
    .into_bytes()
}

#[test]
fn fetch_body_bodystructure_envelope_binary_and_partial() {
    let s = shared();
    let mut c = login(s);
    let mb = mailbox(&mut c, "fetch");
    let msg = multipart("parts");
    let (_, uid) = append(&mut c, &mb, "", &msg);
    c.cmd(&format!("SELECT {mb}")).ok();
    // BODY[] is the message byte for byte; PEEK leaves \Seen alone.
    let r = c.cmd(&format!("UID FETCH {uid} BODY.PEEK[]")).ok();
    assert_eq!(fetched_literal(&r), msg);
    let r = c.cmd("FETCH 1 FLAGS").ok();
    assert!(!r.one("1 FETCH").contains("\\Seen"), "{r}");
    let r = c.cmd("FETCH 1 BODYSTRUCTURE").ok();
    let bs = r.one("1 FETCH");
    assert!(
        bs.contains("(\"TEXT\" \"PLAIN\" (\"charset\" \"utf-8\")"),
        "{bs}"
    );
    assert!(
        bs.contains("\"APPLICATION\" \"OCTET-STREAM\" NIL NIL NIL \"BASE64\" 12"),
        "{bs}"
    );
    assert!(bs.contains("\"MIXED\" (\"boundary\" \"XX\")"), "{bs}");
    let r = c.cmd("FETCH 1 ENVELOPE").ok();
    let env = r.one("1 FETCH");
    assert!(
        env.contains("\"Thu, 26 Nov 2026 10:00:00 +0000\" \"parts\" ((\"Alice\" NIL \"alice\" \"example.org\"))"),
        "{env}"
    );
    assert!(env.contains("\"<parts@example.org>\""), "{env}");
    // BINARY (RFC 3516): the attachment decoded, as a literal8.
    let r = c.cmd("FETCH 1 (BINARY.PEEK[2] BINARY.SIZE[2])").ok();
    assert_eq!(fetched_literal(&r), vec![0, 1, 2, 3, 4, 5, 6, 7]);
    assert!(r.one("1 FETCH").contains("BINARY.SIZE[2] 8"), "{r}");
    let r = c.cmd("FETCH 1 BODY.PEEK[1]").ok();
    assert_eq!(fetched_literal(&r), b"hello part one");
    // Partial fetch and header fields.
    let r = c.cmd("FETCH 1 BODY.PEEK[]<0.10>").ok();
    assert_eq!(fetched_literal(&r), &msg[..10]);
    assert!(r.one("1 FETCH").contains("BODY[]<0>"), "{r}");
    let r = c.cmd("FETCH 1 BODY.PEEK[HEADER.FIELDS (SUBJECT)]").ok();
    assert_eq!(fetched_literal(&r), b"Subject: parts\r\n\r\n");
    let r = c.cmd("FETCH 1 (RFC822.SIZE UID)").ok();
    assert!(
        r.one("1 FETCH")
            .contains(&format!("RFC822.SIZE {}", msg.len())),
        "{r}"
    );
    // BODY[] without PEEK sets \Seen (RFC 9051 §6.4.5).
    let r = c.cmd("FETCH 1 BODY[1]").ok();
    assert!(r.one("1 FETCH").contains("\\Seen"), "{r}");
    let r = c.cmd("FETCH 1 FLAGS").ok();
    assert!(r.one("1 FETCH").contains("\\Seen"), "{r}");
}

// ---------------------------------------------------------------------------
// 4. Changes: STORE, COPY, MOVE, EXPUNGE.

#[test]
fn store_with_condstore_and_unchangedsince() {
    let s = shared();
    let mut c = login(s);
    let mb = mailbox(&mut c, "store");
    for i in 0..3 {
        append(&mut c, &mb, "", &message(&format!("st{i}"), "", "x\r\n"));
    }
    c.cmd("ENABLE CONDSTORE").ok();
    let r = c.cmd(&format!("SELECT {mb}")).ok();
    assert_eq!(r.containing("HIGHESTMODSEQ").len(), 1, "{r}");
    let r = c.cmd("STORE 1:2 +FLAGS (\\Flagged $Label1)").ok();
    let f: Vec<String> = r.starting("1 FETCH");
    assert!(
        f[0].contains("\\Flagged") && f[0].contains("$label1"),
        "{r}"
    );
    assert!(f[0].contains("MODSEQ ("), "{r}");
    let r = c.cmd("FETCH 1:3 (MODSEQ)").ok();
    let modseq = |l: &str| -> u64 {
        let i = l.find("MODSEQ (").unwrap() + 8;
        l[i..].split(')').next().unwrap().parse().unwrap()
    };
    let m1 = modseq(&r.one("1 FETCH"));
    let m3 = modseq(&r.one("3 FETCH"));
    assert!(m1 > m3, "changed messages got new modseqs: {r}");
    // UNCHANGEDSINCE below message 1's modseq: 1 fails, 3 changes.
    let r = c
        .cmd(&format!(
            "STORE 1,3 (UNCHANGEDSINCE {m3}) +FLAGS (\\Answered)"
        ))
        .ok();
    assert_eq!(r.code(), Some("MODIFIED 1"), "{r}");
    assert!(r.one("3 FETCH").contains("\\Answered"), "{r}");
    let r = c.cmd("FETCH 1 FLAGS").ok();
    assert!(!r.one("1 FETCH").contains("\\Answered"), "{r}");
    // Replace and remove, silently.
    c.cmd("STORE 2 FLAGS.SILENT (\\Draft)").ok();
    c.cmd("STORE 1 -FLAGS.SILENT (\\Flagged)").ok();
    let r = c.cmd("FETCH 1:2 FLAGS").ok();
    // \Recent: the messages were new at this session's SELECT.
    assert!(r.one("2 FETCH").contains("FLAGS (\\Recent \\Draft)"), "{r}");
    assert!(r.one("1 FETCH").contains("FLAGS (\\Recent $label1)"), "{r}");
    // CHANGEDSINCE.
    let r = c
        .cmd(&format!("FETCH 1:3 (FLAGS) (CHANGEDSINCE {m1})"))
        .ok();
    assert_eq!(
        r.starting("")
            .iter()
            .filter(|l| l.contains("FETCH"))
            .count(),
        3,
        "{r}"
    );
}

#[test]
fn copy_move_and_copyuid() {
    let s = shared();
    let mut c = login(s);
    let from = mailbox(&mut c, "from");
    let to = mailbox(&mut c, "to");
    let msgs: Vec<Vec<u8>> = (0..3)
        .map(|i| message(&format!("cp{i}"), "", &format!("body {i}\r\n")))
        .collect();
    for m in &msgs {
        append(&mut c, &from, "\\Flagged", m);
    }
    let r = c.cmd(&format!("STATUS {to} (UIDVALIDITY)")).ok();
    let st = r.one("STATUS");
    let to_v: u32 = st
        .split("UIDVALIDITY ")
        .nth(1)
        .unwrap()
        .trim_end_matches(')')
        .parse()
        .unwrap();
    c.cmd(&format!("SELECT {from}")).ok();
    let r = c.cmd(&format!("COPY 1:2 {to}")).ok();
    assert_eq!(
        code_args(&r, "COPYUID"),
        vec![to_v.to_string(), "1:2".into(), "1:2".into()]
    );
    // MOVE (RFC 6851): COPYUID untagged, then EXPUNGE.
    let r = c.cmd(&format!("UID MOVE 3 {to}")).ok();
    let ok = r.one("OK [COPYUID");
    assert!(ok.starts_with(&format!("OK [COPYUID {to_v} 3 3]")), "{r}");
    assert!(r.lines().contains(&"3 EXPUNGE".to_string()), "{r}");
    let r = c.cmd(&format!("COPY 1 {}", unique("nowhere")));
    assert_eq!(r.code(), Some("TRYCREATE"), "{r}");
    c.cmd(&format!("SELECT {to}")).ok();
    let r = c.cmd("FETCH 1:3 (FLAGS BODY.PEEK[TEXT])").ok();
    let lines = r.lines().join("\n");
    for i in 0..3 {
        assert!(lines.contains(&format!("body {i}")), "{r}");
    }
    assert_eq!(r.containing("\\Flagged").len(), 3, "flags are copied: {r}");
    let r = c.cmd(&format!("STATUS {from} (MESSAGES)")).ok();
    assert!(r.one("STATUS").contains("MESSAGES 2"), "{r}");
}

#[test]
fn expunge_and_uid_expunge() {
    let s = shared();
    let mut c = login(s);
    let mb = mailbox(&mut c, "expunge");
    for i in 0..4 {
        append(
            &mut c,
            &mb,
            "\\Deleted",
            &message(&format!("ex{i}"), "", "x\r\n"),
        );
    }
    c.cmd(&format!("SELECT {mb}")).ok();
    // UIDPLUS (RFC 4315 §2.1): only the given UIDs go.
    let r = c.cmd("UID EXPUNGE 2:3").ok();
    assert_eq!(
        r.starting("")
            .iter()
            .filter(|l| l.ends_with("EXPUNGE"))
            .count(),
        2,
        "{r}"
    );
    assert_eq!(r.lines()[0], "3 EXPUNGE", "highest first: {r}");
    let r = c.cmd("UID SEARCH ALL").ok();
    assert_eq!(search_numbers(&r), vec![1, 4]);
    c.cmd("STORE 1 -FLAGS (\\Deleted)").ok();
    let r = c.cmd("EXPUNGE").ok();
    // The expunged message was \Recent here: the count is told again.
    assert_eq!(r.lines(), vec!["2 EXPUNGE", "1 RECENT"], "{r}");
    let r = c.cmd("UID SEARCH ALL").ok();
    assert_eq!(search_numbers(&r), vec![1]);
    // CLOSE expunges silently.
    c.cmd("STORE 1 +FLAGS.SILENT (\\Deleted)").ok();
    let r = c.cmd("CLOSE").ok();
    assert!(
        r.starting("").iter().all(|l| !l.ends_with("EXPUNGE")),
        "{r}"
    );
    let r = c.cmd(&format!("STATUS {mb} (MESSAGES)")).ok();
    assert!(r.one("STATUS").contains("MESSAGES 0"), "{r}");
}

// ---------------------------------------------------------------------------
// 5. SEARCH, SORT, THREAD.

#[test]
fn search_esearch_sort_and_thread() {
    let s = shared();
    let mut c = login(s);
    let mb = mailbox(&mut c, "search");
    let m1 = message("banana", "", "yellow fruit\r\n");
    let m2 = message(
        "apple",
        "References: <banana@example.net>\r\n",
        "red fruit\r\n",
    );
    let m3 = message(
        "Re: apple",
        "In-Reply-To: <apple@example.net>\r\nReferences: <apple@example.net>\r\n",
        "green, grüne Äpfel\r\n",
    );
    append(&mut c, &mb, "\\Seen", &m1);
    append(&mut c, &mb, "", &m2);
    append(&mut c, &mb, "\\Flagged", &m3);
    c.cmd(&format!("SELECT {mb}")).ok();
    let r = c.cmd("SEARCH UNSEEN").ok();
    assert_eq!(search_numbers(&r), vec![2, 3]);
    let r = c.cmd("SEARCH SUBJECT apple NOT FLAGGED").ok();
    assert_eq!(search_numbers(&r), vec![2]);
    let r = c.cmd("SEARCH BODY fruit").ok();
    assert_eq!(search_numbers(&r), vec![1, 2]);
    let r = c.cmd("SEARCH HEADER Message-ID <banana@example.net>").ok();
    assert_eq!(search_numbers(&r), vec![1]);
    // CHARSET UTF-8 text search with a literal.
    let needle = "grüne".as_bytes();
    let r = c
        .cmd_literals("SEARCH CHARSET UTF-8 TEXT ", &[(needle, "")])
        .ok();
    assert_eq!(search_numbers(&r), vec![3]);
    // ESEARCH (RFC 4731).
    let r = c.cmd("UID SEARCH RETURN (MIN MAX COUNT ALL) ALL").ok();
    let e = r.one("ESEARCH");
    assert!(
        e.contains("UID") && e.contains("MIN 1") && e.contains("MAX 3"),
        "{e}"
    );
    assert!(e.contains("COUNT 3") && e.contains("ALL 1:3"), "{e}");
    // SORT (RFC 5256): by base subject, then arrival.
    let r = c.cmd("SORT (SUBJECT) UTF-8 ALL").ok();
    assert_eq!(r.one("SORT"), "SORT 2 3 1", "{r}");
    let r = c.cmd("SORT (REVERSE SIZE) UTF-8 ALL").ok();
    assert_eq!(r.one("SORT"), "SORT 3 2 1", "{r}");
    // THREAD (RFC 5256).
    let r = c.cmd("THREAD REFERENCES UTF-8 ALL").ok();
    assert_eq!(r.one("THREAD"), "THREAD (1 2 3)", "{r}");
    let r = c.cmd("THREAD ORDEREDSUBJECT UTF-8 ALL").ok();
    assert_eq!(r.one("THREAD"), "THREAD (1)(2 3)", "{r}");
}

// ---------------------------------------------------------------------------
// 6. QUOTA, NAMESPACE, ID, ENABLE, COMPRESS.

#[test]
fn quota_namespace_id_and_enable() {
    let s = shared();
    let mut c = login(s);
    // No limit configured: Inbox has no quota root (RFC 9208 §4.3.2).
    let r = c.cmd("GETQUOTAROOT INBOX").ok();
    assert_eq!(r.lines(), vec!["QUOTAROOT \"Inbox\"".to_string()], "{r}");
    let r = c.cmd("NAMESPACE").ok();
    assert_eq!(
        r.one("NAMESPACE"),
        "NAMESPACE ((\"\" \"/\")) NIL NIL",
        "{r}"
    );
    let r = c.cmd("ID (\"name\" \"moxd-test\")").ok();
    assert!(r.one("ID").contains("\"name\" \"moxd\""), "{r}");
    let r = c.cmd("ENABLE CONDSTORE QRESYNC UTF8=ACCEPT").ok();
    let en = r.one("ENABLED");
    for e in ["CONDSTORE", "QRESYNC", "UTF8=ACCEPT"] {
        assert!(en.contains(e), "{e}: {r}");
    }
    // UTF8=ACCEPT: mailbox names in UTF-8 as quoted strings.
    let name = unique("Ünïcode");
    c.cmd(&format!("CREATE \"{name}\"")).ok();
    let r = c.cmd(&format!("LIST \"\" \"{name}\"")).ok();
    assert!(r.one("LIST").contains(&name), "{r}");
}

#[test]
fn quota_limit_is_enforced() {
    // An account with a small default quota.
    let s = Server::serve_imap("[imap]\ndefault_quota = 2000\n");
    let (mut c, _) = ImapClient::greeted_tls(s.imaps, tls_config(&s.cert_pem));
    c.login(ALICE, IMAP_ALICE_PASSWORD).ok();
    let r = c.cmd("GETQUOTAROOT INBOX").ok();
    assert_eq!(r.one("QUOTAROOT"), "QUOTAROOT \"Inbox\" \"\"", "{r}");
    assert!(r.one("QUOTA \"\"").contains("(STORAGE 0 1)"), "KiB: {r}");
    append(&mut c, "INBOX", "", &vec![b'a'; 1500]);
    let r = c.append("INBOX", "", &vec![b'b'; 1500]);
    assert_eq!(r.status(), "NO", "{r}");
    assert_eq!(r.code(), Some("OVERQUOTA"), "{r}");
}

#[test]
fn compress_deflate() {
    let s = shared();
    let mut c = login(s);
    let mb = mailbox(&mut c, "deflate");
    let body: String = (0..2000)
        .map(|i| format!("line {i} of a long message\r\n"))
        .collect();
    let msg = message("zip", "", &body);
    append(&mut c, &mb, "", &msg);
    c.compress();
    let r = c.cmd("CAPABILITY").ok();
    assert!(!r.one("CAPABILITY").contains("COMPRESS=DEFLATE"), "{r}");
    c.cmd(&format!("SELECT {mb}")).ok();
    let r = c.cmd("FETCH 1 BODY.PEEK[]").ok();
    assert_eq!(fetched_literal(&r), msg);
    // An APPEND through the compressed stream, read back.
    let small = message("zip2", "", "after compression\r\n");
    let (_, uid) = append(&mut c, &mb, "", &small);
    let r = c.cmd(&format!("UID FETCH {uid} BODY.PEEK[]")).ok();
    assert_eq!(fetched_literal(&r), small);
    c.cmd("LOGOUT").ok();
}

// ---------------------------------------------------------------------------
// 7. Two sessions: IDLE, CONDSTORE/QRESYNC resynchronisation.

#[test]
fn idle_tells_other_sessions_changes_within_a_second() {
    let s = shared();
    let mut a = login(s);
    let mut b = login(s);
    let mb = mailbox(&mut b, "idle");
    append(&mut b, &mb, "", &message("i0", "", "x\r\n"));
    a.cmd(&format!("SELECT {mb}")).ok();
    b.cmd(&format!("SELECT {mb}")).ok();
    let tag = a.idle();
    let mut latencies = Vec::new();
    // APPEND → EXISTS.
    let t0 = Instant::now();
    append(&mut b, &mb, "", &message("i1", "", "y\r\n"));
    let seen = a.wait_for("2 EXISTS", IDLE_LATENCY);
    latencies.push(t0.elapsed());
    assert!(seen.is_some(), "no EXISTS within {IDLE_LATENCY:?}");
    // STORE → FETCH (FLAGS).
    let t0 = Instant::now();
    b.cmd("STORE 1 +FLAGS (\\Flagged)").ok();
    let seen = a.wait_for("FETCH", IDLE_LATENCY).expect("FETCH within 1 s");
    latencies.push(t0.elapsed());
    let f = seen.last().unwrap();
    assert!(f.starts_with("* 1 FETCH") && f.contains("\\Flagged"), "{f}");
    // EXPUNGE → EXPUNGE.
    let t0 = Instant::now();
    b.cmd("STORE 1 +FLAGS.SILENT (\\Deleted)").ok();
    b.cmd("EXPUNGE").ok();
    let seen = a
        .wait_for("EXPUNGE", IDLE_LATENCY)
        .expect("EXPUNGE within 1 s");
    latencies.push(t0.elapsed());
    assert_eq!(seen.last().unwrap(), "* 1 EXPUNGE");
    a.done(&tag);
    println!("IDLE latencies: {latencies:?}");
    let r = a.cmd("UID SEARCH ALL").ok();
    assert_eq!(search_numbers(&r), vec![2]);
}

#[test]
fn own_and_other_changes_show_in_the_same_response() {
    let s = shared();
    let mut c = login(s);
    let mut other = login(s);
    let mb = mailbox(&mut c, "own");
    c.cmd(&format!("SELECT {mb}")).ok();
    // The session waits for the store's events of changes committed before
    // it answers (RFC 9051 §6.1.2), so its own APPEND, COPY and MOVE and
    // another session's changes show in the very next response.
    for i in 1..=10u32 {
        let r = c
            .append(&mb, "", &message(&format!("o{i}"), "", "x\r\n"))
            .ok();
        assert!(
            r.lines().contains(&format!("{i} EXISTS")),
            "APPEND {i} without EXISTS: {r}"
        );
    }
    other.cmd(&format!("SELECT {mb}")).ok();
    for i in 11..=20u32 {
        other
            .append(&mb, "", &message(&format!("p{i}"), "", "y\r\n"))
            .ok();
        other
            .cmd(&format!("STORE 1:{} +FLAGS (\\Seen)", i - 10))
            .ok();
        let r = c.cmd("NOOP").ok();
        assert!(
            r.lines().contains(&format!("{i} EXISTS")),
            "NOOP after another session's APPEND {i}: {r}"
        );
        assert!(
            r.containing("FETCH").iter().any(|l| l.contains("\\Seen")),
            "NOOP without the other session's flag change: {r}"
        );
    }
    let r = c.cmd("FETCH 1 (UID FLAGS)").ok();
    assert!(r.one("1 FETCH").contains("UID 1"), "{r}");
}

#[test]
fn recent_is_claimed_by_one_session() {
    let s = shared();
    let mut a = login(s);
    let mut b = login(s);
    let mb = mailbox(&mut a, "recent");
    append(&mut a, &mb, "", &message("r1", "", "x\r\n"));
    append(&mut a, &mb, "\\Seen", &message("r2", "", "x\r\n"));
    // RFC 3501 §2.3.2: STATUS and EXAMINE count them without claiming.
    let r = b.cmd(&format!("STATUS {mb} (RECENT UNSEEN)")).ok();
    assert!(r.one("STATUS").contains("(RECENT 2 UNSEEN 1)"), "{r}");
    let r = b.cmd(&format!("EXAMINE {mb}")).ok();
    assert!(r.lines().contains(&"2 RECENT".to_string()), "{r}");
    assert!(
        r.lines()
            .contains(&"OK [UNSEEN 1] first unseen message".to_string()),
        "{r}"
    );
    // The first SELECT claims them.
    let r = a.cmd(&format!("SELECT {mb}")).ok();
    assert!(r.lines().contains(&"2 RECENT".to_string()), "{r}");
    let r = a.cmd("FETCH 1:2 (FLAGS)").ok();
    assert_eq!(
        r.lines(),
        vec![
            "1 FETCH (FLAGS (\\Recent))",
            "2 FETCH (FLAGS (\\Recent \\Seen))"
        ],
        "{r}"
    );
    let r = b.cmd(&format!("SELECT {mb}")).ok();
    assert!(r.lines().contains(&"0 RECENT".to_string()), "{r}");
    let r = b.cmd("SEARCH RECENT").ok();
    assert!(search_numbers(&r).is_empty(), "{r}");
    // A new message is the first session's to learn of it: b's, its own
    // APPEND (told by the APPEND, or at the latest by a NOOP).
    let mut told = b.append(&mb, "", &message("r3", "", "y\r\n")).ok().lines();
    let deadline = Instant::now() + SETTLE;
    while !told.contains(&"3 EXISTS".to_string()) && Instant::now() < deadline {
        told.extend(b.cmd("NOOP").ok().lines());
    }
    assert!(told.contains(&"1 RECENT".to_string()), "{told:?}");
    let r = a.cmd("NOOP").ok();
    assert_eq!(r.lines(), vec!["3 EXISTS"], "{r}");
    let r = a.cmd("SEARCH RECENT").ok();
    assert_eq!(search_numbers(&r), vec![1, 2]);
    let r = b.cmd("FETCH 3 (FLAGS)").ok();
    assert_eq!(r.lines(), vec!["3 FETCH (FLAGS (\\Recent))"], "{r}");
    let r = login(s).cmd(&format!("STATUS {mb} (RECENT MESSAGES)")).ok();
    assert!(r.one("STATUS").contains("(RECENT 0 MESSAGES 3)"), "{r}");
}

#[test]
fn qresync_after_flag_changes_and_expunges() {
    let s = shared();
    let mut a = login(s);
    let mb = mailbox(&mut a, "qresync");
    for i in 0..5 {
        append(&mut a, &mb, "", &message(&format!("q{i}"), "", "x\r\n"));
    }
    a.cmd("ENABLE QRESYNC").ok();
    let r = a.cmd(&format!("SELECT {mb}")).ok();
    let uidvalidity: u32 = r.containing("[UIDVALIDITY ")[0]
        .split("[UIDVALIDITY ")
        .nth(1)
        .unwrap()
        .split(']')
        .next()
        .unwrap()
        .parse()
        .unwrap();
    let hms = r.containing("[HIGHESTMODSEQ ")[0].clone();
    let modseq: u64 = hms
        .split("[HIGHESTMODSEQ ")
        .nth(1)
        .unwrap()
        .split(']')
        .next()
        .unwrap()
        .parse()
        .unwrap();
    a.cmd("LOGOUT").ok();
    // Another session changes flags of 2 and expunges 4 and 5.
    let mut b = login(s);
    b.cmd(&format!("SELECT {mb}")).ok();
    b.cmd("UID STORE 2 +FLAGS (\\Answered)").ok();
    b.cmd("UID STORE 4:5 +FLAGS (\\Deleted)").ok();
    b.cmd("EXPUNGE").ok();
    // RFC 7162 §3.2.5: the client comes back with what it knew.
    let mut a = login(s);
    a.cmd("ENABLE QRESYNC").ok();
    let r = a
        .cmd(&format!(
            "SELECT {mb} (QRESYNC ({uidvalidity} {modseq} 1:5))"
        ))
        .ok();
    let vanished = r.one("VANISHED");
    assert_eq!(vanished, "VANISHED (EARLIER) 4:5", "{r}");
    let fetches = r.containing("FETCH");
    assert_eq!(fetches.len(), 1, "only the changed message: {r}");
    assert!(
        fetches[0].contains("UID 2") && fetches[0].contains("\\Answered"),
        "{r}"
    );
    assert!(fetches[0].contains("MODSEQ ("), "{r}");
    // Without changes since: nothing but the mailbox data.
    let r = a.cmd("UNSELECT").ok();
    drop(r);
    let now = a
        .cmd(&format!("STATUS {mb} (HIGHESTMODSEQ)"))
        .ok()
        .one("STATUS");
    let hms: u64 = now
        .split("HIGHESTMODSEQ ")
        .nth(1)
        .unwrap()
        .trim_end_matches(')')
        .parse()
        .unwrap();
    let r = a
        .cmd(&format!("SELECT {mb} (QRESYNC ({uidvalidity} {hms}))"))
        .ok();
    assert!(
        r.containing("FETCH").is_empty() && r.starting("VANISHED").is_empty(),
        "{r}"
    );
}

// ---------------------------------------------------------------------------
// 8. Hostile input, limits, restarts (own instances).

#[test]
fn literal_bomb_and_endless_line_do_not_grow_memory() {
    let s = Server::serve_imap("");
    let cfg = tls_config(&s.cert_pem);
    let (mut c, _) = ImapClient::greeted_tls(s.imaps, cfg.clone());
    let before = imap_rss_kib(&s);
    // Before login: a literal far over the pre-auth limit.
    c.send(b"a1 LOGIN {999999999999}\r\n");
    let r = c.read_until_tagged("a1").expect("tagged answer");
    assert_eq!(r.status(), "NO", "{r}");
    assert_eq!(r.code(), Some("TOOBIG"), "{r}");
    c.login(ALICE, IMAP_ALICE_PASSWORD).ok();
    // A synchronizing literal bomb: refused before any of it is read.
    c.send(b"a2 APPEND INBOX {999999999999}\r\n");
    let r = c.read_until_tagged("a2").expect("tagged answer");
    assert_eq!(r.code(), Some("TOOBIG"), "{r}");
    assert!(r.untagged.iter().all(|l| !l.starts_with(b"+")), "{r}");
    c.cmd("NOOP").ok();
    // An endless line: drained, answered BAD once it ends.
    let chunk = vec![b'x'; 1024 * 1024];
    c.send(b"a3 NOOP ");
    for _ in 0..20 {
        c.send(&chunk);
    }
    c.send(b"\r\n");
    let r = c.read_until_tagged("a3").expect("tagged answer");
    assert_eq!(r.status(), "BAD", "{r}");
    assert!(r.tagged.contains("too long"), "{r}");
    c.cmd("NOOP").ok();
    // A non-synchronizing literal bomb: the stream cannot recover, BYE.
    c.send(b"a4 APPEND INBOX {999999999999+}\r\n");
    let rest = String::from_utf8_lossy(&c.read_to_close()).into_owned();
    assert!(rest.contains("* BYE"), "{rest}");
    let after = imap_rss_kib(&s);
    println!("imap worker RSS: {before} KiB before, {after} KiB after");
    assert!(
        after < before + 8 * 1024,
        "RSS grew from {before} to {after} KiB"
    );
    // The worker still serves.
    let (mut d, _) = ImapClient::greeted_tls(s.imaps, cfg);
    d.login(ALICE, IMAP_ALICE_PASSWORD).ok();
}

/// An implicit-TLS connection, retried while the per-IP limit refuses it.
fn tls_when_admitted(s: &ImapServer, cfg: &std::sync::Arc<rustls::ClientConfig>) -> ImapClient {
    let t0 = Instant::now();
    while t0.elapsed() < SETTLE {
        if let Ok(mut c) = ImapClient::connect(s.imaps) {
            c.set_tls_config(cfg.clone());
            if c.handshake().is_ok() {
                return c;
            }
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    panic!("no TLS connection admitted within {SETTLE:?}");
}

#[test]
fn connection_and_session_limits() {
    let s =
        Server::serve_imap("[imap]\nmax_connections_per_ip = 3\nmax_connections_per_account = 2\n");
    let cfg = tls_config(&s.cert_pem);
    let mut open: Vec<ImapClient> = (0..3).map(|_| ImapClient::greeted(s.imap).0).collect();
    // The fourth from the same address is greeted with BYE and closed.
    let (mut fourth, greeting) = ImapClient::greeted(s.imap);
    assert!(greeting.starts_with("* BYE [UNAVAILABLE]"), "{greeting}");
    assert!(fourth.closed());
    open.pop();
    let t0 = Instant::now();
    let again = loop {
        let (c, g) = ImapClient::greeted(s.imap);
        if g.starts_with("* OK") || t0.elapsed() > SETTLE {
            break (c, g);
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    assert!(
        again.1.starts_with("* OK"),
        "a slot is free again: {}",
        again.1
    );
    drop(again);
    drop(open);
    // Sessions per account: the third LOGIN gets NO [LIMIT]. (The server
    // may not have seen the connections above close yet.)
    let mut sessions: Vec<ImapClient> = (0..2)
        .map(|_| {
            let mut c = tls_when_admitted(&s, &cfg);
            c.login(ALICE, IMAP_ALICE_PASSWORD).ok();
            c
        })
        .collect();
    let mut third = tls_when_admitted(&s, &cfg);
    let r = third.login(ALICE, IMAP_ALICE_PASSWORD);
    assert_eq!(r.status(), "NO", "{r}");
    assert_eq!(r.code(), Some("LIMIT"), "{r}");
    // After one logs out, a new login succeeds.
    sessions.pop().unwrap().cmd("LOGOUT").ok();
    let t0 = Instant::now();
    let ok = loop {
        let r = third.login(ALICE, IMAP_ALICE_PASSWORD);
        if r.is_ok() || t0.elapsed() > SETTLE {
            break r;
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(ok.is_ok(), "{ok}");
}

#[test]
fn killed_imap_worker_is_replaced_within_a_second() {
    let s = Server::serve_imap("");
    let cfg = tls_config(&s.cert_pem);
    let (mut c, _) = ImapClient::greeted_tls(s.imaps, cfg.clone());
    c.login(ALICE, IMAP_ALICE_PASSWORD).ok();
    let old = s.worker_pid(Role::Imap).expect("imap worker");
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(old as i32),
        nix::sys::signal::SIGKILL,
    )
    .unwrap();
    let t0 = Instant::now();
    assert!(c.try_cmd("NOOP").is_err(), "the old session is gone");
    let served = loop {
        if let Ok(mut d) = ImapClient::connect(s.imaps) {
            d.set_tls_config(cfg.clone());
            if d.handshake().is_ok() && d.try_response().ok().flatten().is_some() {
                break Some(d);
            }
        }
        if t0.elapsed() > Duration::from_secs(5) {
            break None;
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    let took = t0.elapsed();
    let mut d = served.expect("a new imap worker serves");
    println!("imap worker replaced in {took:?}");
    assert!(took < Duration::from_secs(1), "took {took:?}");
    d.login(ALICE, IMAP_ALICE_PASSWORD).ok();
    assert_ne!(s.worker_pid(Role::Imap), Some(old));
}

#[test]
fn shutdown_says_bye_to_idling_sessions() {
    let mut s = Server::serve_imap("");
    let (mut c, _) = ImapClient::greeted_tls(s.imaps, tls_config(&s.cert_pem));
    c.login(ALICE, IMAP_ALICE_PASSWORD).ok();
    c.cmd("SELECT INBOX").ok();
    c.idle();
    let st = s.server.terminate();
    assert!(st.success(), "{st}");
    let rest = String::from_utf8_lossy(&c.read_to_close()).into_owned();
    assert!(rest.contains("* BYE"), "{rest:?}");
}

// ---------------------------------------------------------------------------
// 9. localserve: fixed ports, plain-text login on loopback, SMTP to IMAP.

#[test]
fn localserve_plain_tls_and_starttls_logins() {
    let ls = localserve();
    let cert = ls.localserve_cert();
    // 1143 on loopback: plain-text LOGIN allowed in localserve.
    let (mut c, greeting) = ImapClient::greeted(LOCAL_IMAP);
    assert!(greeting.contains("STARTTLS"), "{greeting}");
    assert!(!greeting.contains("LOGINDISABLED"), "{greeting}");
    assert!(greeting.contains("AUTH=PLAIN"), "{greeting}");
    c.login(LOCAL_USER, LOCAL_PASSWORD).ok();
    c.cmd("SELECT INBOX").ok();
    // 1993: implicit TLS with the certificate localserve made.
    let (mut t, _) = ImapClient::greeted_tls(LOCAL_IMAPS, tls_config(&cert));
    t.login(LOCAL_USER, LOCAL_PASSWORD).ok();
    // STARTTLS on 1143.
    let (mut s, _) = ImapClient::greeted(LOCAL_IMAP);
    s.starttls(tls_config(&cert));
    s.login(LOCAL_USER, LOCAL_PASSWORD).ok();
    let r = s.login(LOCAL_USER, LOCAL_PASSWORD);
    assert_eq!(r.status(), "BAD", "already logged in: {r}");
    let r = t.cmd(&format!("LOGIN {} {}", quote(LOCAL_USER), quote("wrong")));
    assert_eq!(r.status(), "BAD", "{r}");
}

#[test]
fn localserve_message_from_smtp_is_fetched_byte_identical() {
    let ls = localserve();
    let tag = unique("smtp2imap");
    let msg = format!(
        "From: <sender@remote.test>\r\nTo: <mox@localhost>\r\nSubject: {tag}\r\n\
         Message-ID: <{tag}@remote.test>\r\nDate: Thu, 26 Nov 2026 10:00:00 +0000\r\n\
         Content-Type: text/plain; charset=utf-8\r\n\r\nGrüße over SMTP\r\n   trailing spaces   \r\n"
    );
    let mut smtp = SmtpClient::greeted(LOCAL_SMTP);
    smtp.ehlo("client.test");
    // 8-bit content: localserve is pedantic about declaring it.
    smtp.expect("MAIL FROM:<sender@remote.test> BODY=8BITMIME", 250);
    smtp.expect("RCPT TO:<mox@localhost>", 250);
    smtp.expect("DATA", 354);
    smtp.send(msg.as_bytes());
    smtp.send(b".\r\n");
    let r = smtp.reply();
    assert_eq!(r.code, 250, "{r:?}");
    smtp.expect("QUIT", 221);
    let stored = wait_for(SETTLE, || {
        messages_containing(ls, "mox", tag.as_bytes())
            .into_iter()
            .next()
    })
    .expect("message stored");
    assert_eq!(
        stored.file,
        msg.as_bytes(),
        "the store keeps the octets as sent"
    );
    let (mut c, _) = ImapClient::greeted(LOCAL_IMAP);
    c.login(LOCAL_USER, LOCAL_PASSWORD).ok();
    c.cmd("EXAMINE INBOX").ok();
    let r = c.cmd(&format!("UID SEARCH HEADER Subject {tag}")).ok();
    let uids = search_numbers(&r);
    assert_eq!(uids.len(), 1, "{r}");
    let r = c.cmd(&format!("UID FETCH {} BODY.PEEK[]", uids[0])).ok();
    let mut want = stored.prefix.clone();
    want.extend_from_slice(&stored.file);
    assert_eq!(fetched_literal(&r), want, "BODY[] = prefix + file");
    assert!(String::from_utf8_lossy(&stored.prefix).starts_with("Received: "));
    let r = c
        .cmd(&format!("UID FETCH {} (RFC822.SIZE ENVELOPE)", uids[0]))
        .ok();
    let f = r.containing("FETCH").join("\n");
    assert!(f.contains(&format!("RFC822.SIZE {}", want.len())), "{r}");
    assert!(f.contains(&tag), "{r}");
}

#[test]
fn a_large_store_by_another_session_is_resynchronised_not_ended() {
    // One STORE over thousands of messages publishes more change events
    // at once than the subscriptions buffer (1024): the selected session
    // of another client re-reads the mailbox's changes instead of ending.
    let s = shared();
    let mut a = login(s);
    let mut b = login(s);
    let mb = mailbox(&mut b, "bulk");
    append(&mut b, &mb, "", &message("bulk", "", "x\r\n"));
    b.cmd(&format!("SELECT {mb}")).ok();
    for _ in 0..12 {
        b.cmd(&format!("COPY 1:* {mb}")).ok();
    }
    let r = a.cmd(&format!("STATUS {mb} (MESSAGES)")).ok();
    let status = r.one("STATUS");
    let total: usize = status
        .rsplit("MESSAGES ")
        .next()
        .and_then(|t| t.trim_end_matches(')').parse().ok())
        .unwrap_or_else(|| panic!("{status}"));
    assert!(total > 2048, "{status}");
    let r = a.cmd(&format!("SELECT {mb}")).ok();
    assert!(r.lines().contains(&format!("{total} EXISTS")), "{r}");
    // A COPY's response may show only part of what it added (the rest
    // comes with the next command); b catches up before its STORE.
    let t0 = Instant::now();
    while search_numbers(&b.cmd("UID SEARCH ALL").ok()).len() < total
        && t0.elapsed() < Duration::from_secs(10)
    {
        b.cmd("NOOP").ok();
    }
    b.cmd("STORE 1:* +FLAGS.SILENT (\\Seen)").ok();
    let r = a.cmd("NOOP");
    assert!(r.is_ok(), "NOOP after the bulk STORE: {}", r.status());
    let r = a.cmd("UID SEARCH UNSEEN").ok();
    assert!(search_numbers(&r).is_empty(), "{r}");
    let r = a.cmd("FETCH 1:* (FLAGS)").ok();
    let seen = r.containing("\\Seen").len();
    assert_eq!(seen, total, "every message shows \\Seen");
    // The account's events still arrive afterwards.
    b.cmd("STORE 1 -FLAGS.SILENT (\\Seen)").ok();
    let r = a.cmd("NOOP").ok();
    assert!(r.containing("1 FETCH (UID 1 FLAGS ()").len() == 1, "{r}");
}
