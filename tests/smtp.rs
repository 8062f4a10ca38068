//! End-to-end SMTP against a real moxd: the smtp-in and submission workers
//! driven by a raw TCP client (rustls for STARTTLS and implicit TLS), with
//! assertions on what the store holds — the message file byte for byte and
//! the Received header moxd put in the prefix — not only on reply codes.
//!
//! `moxd serve` instances listen on free loopback ports (one per test);
//! the localserve tests share one instance because its ports are fixed.

mod common;

use std::net::SocketAddr;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use base64::Engine as _;
use common::smtp_client::{ClientTls, SmtpClient, SmtpReply};
use common::*;
use hmac::Mac as _;
use ipc::control::{ControlReply, ControlRequest};

const HOST: &str = "mail.example.org";
const ALICE: &str = "alice@example.org";
const ALICE_PASSWORD: &str = "correct horse battery";
/// moxd's maximum message size (daemons::smtp::config::MAX_MESSAGE_SIZE).
const MAX_SIZE: u64 = 100 * 1024 * 1024;
/// RCPTMAX announced and enforced by moxd.
const MAX_RCPTS: usize = 1000;
/// Client errors moxd allows before `421` and close.
const MAX_ERRORS: usize = 10;
const AUTH_AFTER_TLS: &str =
    "AUTH SCRAM-SHA-256-PLUS SCRAM-SHA-256 SCRAM-SHA-1-PLUS SCRAM-SHA-1 PLAIN LOGIN";
const AUTH_PLAINTEXT: &str = "AUTH SCRAM-SHA-256 SCRAM-SHA-1 PLAIN LOGIN";

// ---------------------------------------------------------------------------
// Fixtures and helpers.

/// A serve instance with SMTP listeners and alice's password set.
fn serve() -> SmtpServer {
    let s = Server::serve_smtp("");
    set_password(&s, "alice", ALICE_PASSWORD);
    s
}

/// The one localserve of this test process (fixed ports 1025/1587/1465).
fn localserve() -> &'static Server {
    static LOCAL: OnceLock<Server> = OnceLock::new();
    LOCAL.get_or_init(Server::localserve_for_process)
}

const LOCAL_SMTP: SocketAddr =
    SocketAddr::new(std::net::IpAddr::V4(std::net::Ipv4Addr::LOCALHOST), 1025);
const LOCAL_SUBMISSION: SocketAddr =
    SocketAddr::new(std::net::IpAddr::V4(std::net::Ipv4Addr::LOCALHOST), 1587);
const LOCAL_SUBMISSIONS: SocketAddr =
    SocketAddr::new(std::net::IpAddr::V4(std::net::Ipv4Addr::LOCALHOST), 1465);

/// A tag unique in this process, to find a message in the store.
fn unique(label: &str) -> String {
    static N: AtomicU32 = AtomicU32::new(0);
    format!(
        "{label}-{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    )
}

/// A small message whose Subject is `tag`.
fn message(tag: &str, body: &str) -> Vec<u8> {
    format!(
        "From: <sender@remote.test>\r\nTo: <alice@example.org>\r\nSubject: {tag}\r\n\
         Message-ID: <{tag}@remote.test>\r\nDate: Thu, 26 Nov 2026 10:00:00 +0000\r\n\r\n{body}"
    )
    .into_bytes()
}

/// RFC 5321 §4.5.2: a line starting with "." gets another one.
fn dot_stuff(msg: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(msg.len() + 16);
    let mut line_start = true;
    for &b in msg {
        if line_start && b == b'.' {
            out.push(b'.');
        }
        out.push(b);
        line_start = b == b'\n';
    }
    out
}

/// Exactly one stored message of `account` contains `tag`; that message.
fn the_one(server: &Server, account: &str, tag: &str) -> StoredMessage {
    let found = messages_containing(server, account, tag.as_bytes());
    assert_eq!(
        found.len(),
        1,
        "messages of {account} containing {tag}: {:?}",
        found.iter().map(|m| m.prefix_text()).collect::<Vec<_>>()
    );
    found.into_iter().next().expect("one message")
}

fn none_stored(server: &Server, account: &str, tag: &str) {
    let found = messages_containing(server, account, tag.as_bytes());
    assert!(
        found.is_empty(),
        "{tag} must not be stored, found {}",
        found.len()
    );
}

/// The queue id moxd names in "250 2.0.0 message accepted as ID".
fn accepted_id(r: &SmtpReply) -> String {
    assert_eq!(r.code, 250, "{r:?}");
    let t = r.text();
    assert!(t.starts_with("2.0.0 message accepted as "), "{t}");
    t.rsplit(' ').next().unwrap_or_default().to_string()
}

/// What the Received field in a prefix must say.
struct ExpectReceived<'a> {
    helo: &'a str,
    with: &'a str,
    id: &'a str,
    tls: Option<&'a ClientTls>,
    /// The `for` clause (single recipient on smtp-in).
    recipient: Option<&'a str>,
}

fn check_received(prefix: &str, want: &ExpectReceived<'_>) {
    let head = format!(
        "Received: from {} ([127.0.0.1])\r\n\tby {HOST} (moxd) with {} id {}",
        want.helo, want.with, want.id
    );
    assert!(prefix.starts_with(&head), "want {head:?} in\n{prefix}");
    match want.tls {
        Some(t) => assert!(
            prefix.contains(&format!("\r\n\t(version={} cipher={}", t.version, t.cipher)),
            "TLS details {t:?} missing in\n{prefix}"
        ),
        None => assert!(!prefix.contains("(version="), "{prefix}"),
    }
    match want.recipient {
        Some(r) => assert!(prefix.contains(&format!("\r\n\tfor <{r}>;")), "{prefix}"),
        None => assert!(!prefix.contains("\tfor <"), "{prefix}"),
    }
    let received = prefix
        .split("\r\n")
        .take_while(|l| l.starts_with("Received:") || l.starts_with('\t'))
        .last()
        .unwrap_or_default();
    assert!(received.ends_with(" +0000"), "date in {prefix:?}");
}

/// The EHLO keywords moxd announces (mox's order).
fn keywords(tls: bool, auth: Option<&str>) -> Vec<String> {
    let mut k = vec![
        "PIPELINING".to_string(),
        format!("SIZE {MAX_SIZE}"),
        if tls { "REQUIRETLS" } else { "STARTTLS" }.to_string(),
    ];
    k.extend(auth.map(str::to_string));
    k.extend(
        [
            "ENHANCEDSTATUSCODES",
            "8BITMIME",
            "CHUNKING",
            "BINARYMIME",
            "SMTPUTF8",
            "DSN",
        ]
        .map(String::from),
    );
    k.push(format!("LIMITS RCPTMAX={MAX_RCPTS}"));
    k
}

fn b64(b: impl AsRef<[u8]>) -> String {
    base64::engine::general_purpose::STANDARD.encode(b)
}

fn unb64(s: &str) -> Vec<u8> {
    base64::engine::general_purpose::STANDARD
        .decode(s)
        .unwrap_or_else(|e| panic!("server sent bad base64 {s:?}: {e}"))
}

fn add_account(server: &Server, name: &str, address: &str) {
    let r = server
        .call(
            ControlRequest::AccountAdd {
                name: name.into(),
                address: address.into(),
                password: None,
            },
            &[],
        )
        .0;
    assert_eq!(r, ControlReply::Ok, "add account {name}");
}

// ---------------------------------------------------------------------------
// SASL client side.

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mech {
    Plain,
    Login,
    ScramSha1,
    ScramSha256,
    /// SCRAM-SHA-256-PLUS with `tls-exporter` (RFC 9266, TLS 1.3).
    ScramSha256Plus,
    /// SCRAM-SHA-1-PLUS with `tls-server-end-point` (RFC 5929 §4).
    ScramSha1PlusEndPoint,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Hash {
    Sha1,
    Sha256,
}

impl Hash {
    fn pbkdf2(self, password: &str, salt: &[u8], iterations: u32) -> Vec<u8> {
        match self {
            Hash::Sha1 => {
                let mut out = [0u8; 20];
                pbkdf2::pbkdf2_hmac::<sha1::Sha1>(password.as_bytes(), salt, iterations, &mut out);
                out.to_vec()
            }
            Hash::Sha256 => {
                let mut out = [0u8; 32];
                pbkdf2::pbkdf2_hmac::<sha2::Sha256>(
                    password.as_bytes(),
                    salt,
                    iterations,
                    &mut out,
                );
                out.to_vec()
            }
        }
    }

    fn hmac(self, key: &[u8], data: &[u8]) -> Vec<u8> {
        match self {
            Hash::Sha1 => {
                let mut m = hmac::Hmac::<sha1::Sha1>::new_from_slice(key).expect("any key");
                m.update(data);
                m.finalize().into_bytes().to_vec()
            }
            Hash::Sha256 => {
                let mut m = hmac::Hmac::<sha2::Sha256>::new_from_slice(key).expect("any key");
                m.update(data);
                m.finalize().into_bytes().to_vec()
            }
        }
    }

    fn digest(self, data: &[u8]) -> Vec<u8> {
        use sha2::Digest as _;
        match self {
            Hash::Sha1 => sha1::Sha1::digest(data).to_vec(),
            Hash::Sha256 => sha2::Sha256::digest(data).to_vec(),
        }
    }
}

/// RFC 5802 §3 client side over an SMTP AUTH exchange (RFC 4954 §4).
/// `cb`: channel binding type and data for a -PLUS mechanism. Returns the
/// final reply; a wrong server signature fails the test.
fn scram(
    c: &mut SmtpClient,
    name: &str,
    hash: Hash,
    user: &str,
    password: &str,
    cb: Option<(&str, Vec<u8>)>,
) -> SmtpReply {
    let gs2 = match &cb {
        Some((t, _)) => format!("p={t},,"),
        None => "n,,".to_string(),
    };
    let cnonce = b64(unique("nonce"));
    let first_bare = format!("n={user},r={cnonce}");
    let first = c.cmd(&format!(
        "AUTH {name} {}",
        b64(format!("{gs2}{first_bare}"))
    ));
    if first.code != 334 {
        return first;
    }
    let server_first = String::from_utf8(unb64(&first.lines[0])).expect("server-first is UTF-8");
    let (mut nonce, mut salt, mut iterations) = ("", Vec::new(), 0u32);
    for attr in server_first.split(',') {
        match attr.split_at_checked(2) {
            Some(("r=", v)) => nonce = v,
            Some(("s=", v)) => salt = unb64(v),
            Some(("i=", v)) => iterations = v.parse().expect("iteration count"),
            _ => {}
        }
    }
    assert!(
        nonce.starts_with(&cnonce) && nonce.len() > cnonce.len(),
        "server nonce must extend ours: {server_first}"
    );
    assert!(iterations >= 4096, "{server_first}");
    let salted = hash.pbkdf2(password, &salt, iterations);
    let client_key = hash.hmac(&salted, b"Client Key");
    let stored_key = hash.digest(&client_key);
    let mut cbind = gs2.into_bytes();
    if let Some((_, data)) = cb {
        cbind.extend_from_slice(&data);
    }
    let without_proof = format!("c={},r={nonce}", b64(&cbind));
    let auth_message = format!("{first_bare},{server_first},{without_proof}");
    let signature = hash.hmac(&stored_key, auth_message.as_bytes());
    let proof: Vec<u8> = client_key
        .iter()
        .zip(&signature)
        .map(|(a, b)| a ^ b)
        .collect();
    let r = c.cmd(&b64(format!("{without_proof},p={}", b64(proof))));
    if r.code != 334 {
        return r;
    }
    // RFC 4954 §4: server-final in a 334, answered with an empty line.
    let server_key = hash.hmac(&salted, b"Server Key");
    let want = format!("v={}", b64(hash.hmac(&server_key, auth_message.as_bytes())));
    assert_eq!(
        String::from_utf8(unb64(&r.lines[0])).expect("server-final is UTF-8"),
        want,
        "server signature"
    );
    c.cmd("")
}

/// Authenticate with `mech`; the final reply.
fn auth(c: &mut SmtpClient, mech: Mech, user: &str, password: &str, cert_der: &[u8]) -> SmtpReply {
    match mech {
        Mech::Plain => c.cmd(&format!(
            "AUTH PLAIN {}",
            b64(format!("\0{user}\0{password}"))
        )),
        Mech::Login => {
            let u = c.expect("AUTH LOGIN", 334);
            assert_eq!(unb64(&u.lines[0]), b"Username:");
            let p = c.expect(&b64(user), 334);
            assert_eq!(unb64(&p.lines[0]), b"Password:");
            c.cmd(&b64(password))
        }
        Mech::ScramSha1 => scram(c, "SCRAM-SHA-1", Hash::Sha1, user, password, None),
        Mech::ScramSha256 => scram(c, "SCRAM-SHA-256", Hash::Sha256, user, password, None),
        Mech::ScramSha256Plus => {
            let cb = c.tls_exporter();
            scram(
                c,
                "SCRAM-SHA-256-PLUS",
                Hash::Sha256,
                user,
                password,
                Some(("tls-exporter", cb)),
            )
        }
        Mech::ScramSha1PlusEndPoint => {
            // RFC 5929 §4.1: SHA-256 of the certificate (signed with SHA-256).
            let cb = Hash::Sha256.digest(cert_der);
            scram(
                c,
                "SCRAM-SHA-1-PLUS",
                Hash::Sha1,
                user,
                password,
                Some(("tls-server-end-point", cb)),
            )
        }
    }
}

/// Submission after STARTTLS and a second EHLO.
fn submission_tls(s: &SmtpServer) -> SmtpClient {
    let mut c = SmtpClient::greeted(s.submission);
    c.ehlo("client.example");
    c.starttls();
    assert_eq!(
        c.ehlo("client.example"),
        keywords(true, Some(AUTH_AFTER_TLS))
    );
    c
}

// ---------------------------------------------------------------------------
// 1. EHLO and the simple commands.

#[test]
fn ehlo_and_simple_commands_on_smtp_in() {
    let s = serve();
    let mut c = SmtpClient::connect(s.smtp).unwrap();
    assert_eq!(c.expect_reply(220).lines, [format!("{HOST} ESMTP moxd")]);
    c.expect("MAIL FROM:<a@remote.test>", 503);
    let ehlo = c.expect("EHLO client.example", 250);
    assert_eq!(ehlo.lines[0], HOST);
    assert_eq!(ehlo.lines[1..], keywords(false, None));
    assert_eq!(c.expect("NOOP", 250).lines, ["2.0.0 ok"]);
    assert_eq!(c.expect("RSET", 250).lines, ["2.0.0 reset"]);
    let vrfy = c.expect("VRFY alice", 252);
    assert!(vrfy.text().starts_with("2.0.0 "), "{vrfy:?}");
    c.expect("HELP", 214);
    // AUTH exists only on submission.
    let a = c.expect(&format!("AUTH PLAIN {}", b64("\0alice\0x")), 502);
    assert!(a.text().starts_with("5.5.1 "), "{a:?}");
    c.starttls();
    // RFC 3207 §4.2: the session starts over under TLS.
    c.expect("MAIL FROM:<a@remote.test>", 503);
    assert_eq!(c.ehlo("client.example"), keywords(true, None));
    // STARTTLS is never offered or accepted twice.
    c.expect("STARTTLS", 503);
    c.expect(&format!("AUTH PLAIN {}", b64("\0alice\0x")), 502);
    assert_eq!(c.expect("HELO client.example", 250).lines, [HOST]);
    c.expect("NOOP", 250);
    c.expect("RSET", 250);
    assert_eq!(c.expect("QUIT", 221).lines, ["2.0.0 bye"]);
    assert!(c.closed(), "connection stays open after QUIT");
}

#[test]
fn ehlo_on_submission_and_submissions() {
    let s = serve();
    let mut c = SmtpClient::greeted(s.submission);
    // No AUTH before TLS in serve mode.
    assert_eq!(c.ehlo("client.example"), keywords(false, None));
    let a = c.expect(
        &format!("AUTH PLAIN {}", b64(format!("\0{ALICE}\0{ALICE_PASSWORD}"))),
        530,
    );
    assert_eq!(a.lines, ["5.7.0 must issue a STARTTLS command first"]);
    let m = c.expect(&format!("MAIL FROM:<{ALICE}>"), 530);
    assert!(m.text().starts_with("5.7.0 "), "{m:?}");
    c.starttls();
    assert_eq!(
        c.ehlo("client.example"),
        keywords(true, Some(AUTH_AFTER_TLS))
    );
    c.expect("STARTTLS", 503);
    c.expect("VRFY alice", 252);
    c.expect("QUIT", 221);

    // Implicit TLS (RFC 8314): STARTTLS never offered.
    let mut c = SmtpClient::greeted_tls(s.submissions);
    assert!(c.is_tls());
    assert_eq!(
        c.ehlo("client.example"),
        keywords(true, Some(AUTH_AFTER_TLS))
    );
    c.expect("STARTTLS", 503);
    c.expect("QUIT", 221);
}

// ---------------------------------------------------------------------------
// 2. Delivery on smtp-in, unknown recipients, relay attempts.

/// A message exercising the DATA transparency rules: dot lines, a line of
/// 998 octets, tabs, trailing white space and empty lines.
fn tricky_message(tag: &str) -> Vec<u8> {
    let mut body = String::new();
    body.push_str(".leading dot\r\n..two dots\r\n.\r\n\r\n \r\n\ttab\t \r\n");
    body.push_str(&"x".repeat(998));
    body.push_str("\r\n. .\r\nlast line\r\n");
    message(tag, &body)
}

#[test]
fn smtp_in_stores_the_message_byte_identical() {
    let s = serve();
    let tag = unique("plain");
    let msg = tricky_message(&tag);
    let mut c = SmtpClient::greeted(s.smtp);
    c.ehlo("client.example");
    let r = c.send_mail("sender@remote.test", ALICE, &dot_stuff(&msg));
    let id = accepted_id(&r);
    c.expect("QUIT", 221);
    let m = the_one(&s, "alice", &tag);
    assert_eq!(m.file, msg, "stored file differs from what was sent");
    check_received(
        &m.prefix_text(),
        &ExpectReceived {
            helo: "client.example",
            with: "ESMTP",
            id: &id,
            tls: None,
            recipient: Some(ALICE),
        },
    );

    // HELO: plain SMTP in the Received field.
    let tag = unique("helo");
    let msg = message(&tag, "hello\r\n");
    let mut c = SmtpClient::greeted(s.smtp);
    c.expect("HELO old.example", 250);
    let id = accepted_id(&c.send_mail("sender@remote.test", ALICE, &msg));
    let m = the_one(&s, "alice", &tag);
    assert_eq!(m.file, msg);
    check_received(
        &m.prefix_text(),
        &ExpectReceived {
            helo: "old.example",
            with: "SMTP",
            id: &id,
            tls: None,
            recipient: Some(ALICE),
        },
    );

    // Bare LF inside a line that is not a dot line: stored as CRLF.
    let tag = unique("barelf");
    let mut c = SmtpClient::greeted(s.smtp);
    c.ehlo("client.example");
    let sent = message(&tag, "one\ntwo\r\n");
    let r = c.send_mail("sender@remote.test", ALICE, &sent);
    accepted_id(&r);
    assert_eq!(
        the_one(&s, "alice", &tag).file,
        message(&tag, "one\r\ntwo\r\n")
    );
}

#[test]
fn smtp_in_over_starttls_records_tls_in_received() {
    let s = serve();
    let tag = unique("starttls");
    let msg = tricky_message(&tag);
    let mut c = SmtpClient::greeted(s.smtp);
    c.ehlo("client.example");
    c.starttls();
    c.ehlo("tls-client.example");
    let tls = c.tls().expect("TLS active");
    assert_eq!(tls.version, "TLS1.3");
    let id = accepted_id(&c.send_mail("sender@remote.test", ALICE, &dot_stuff(&msg)));
    c.expect("QUIT", 221);
    let m = the_one(&s, "alice", &tag);
    assert_eq!(m.file, msg);
    check_received(
        &m.prefix_text(),
        &ExpectReceived {
            helo: "tls-client.example",
            with: "ESMTPS",
            id: &id,
            tls: Some(&tls),
            recipient: Some(ALICE),
        },
    );
}

#[test]
fn unknown_recipients_and_relay_attempts_are_refused() {
    let s = serve();
    let tag = unique("relay");
    // Threats T16: relay forms, each on its own connection (the delay
    // after an unknown recipient grows within a connection).
    for rcpt in [
        "nobody@example.org",
        "x@victim.test",
        "x%victim.test@example.org",
        "@example.org:x@victim.test",
        "\"x@victim.test\"@example.org",
        "x!victim.test@example.org",
        "alice@example.org.victim.test",
    ] {
        let mut c = SmtpClient::greeted(s.smtp);
        c.ehlo("client.example");
        c.expect("MAIL FROM:<sender@remote.test>", 250);
        let r = c.cmd(&format!("RCPT TO:<{rcpt}>"));
        assert!(
            (500..600).contains(&r.code),
            "relay attempt {rcpt} accepted: {r:?}"
        );
        if r.code == 550 {
            assert_eq!(r.lines, ["5.1.1 no such user"], "{rcpt}");
        }
        // Without a recipient DATA is refused.
        let d = c.expect("DATA", 554);
        assert!(d.text().starts_with("5.5.1 "), "{d:?}");
        c.expect("QUIT", 221);
    }
    let mut c = SmtpClient::greeted(s.smtp);
    c.ehlo("client.example");
    c.expect("MAIL FROM:<sender@remote.test>", 250);
    assert_eq!(
        c.expect("RCPT TO:<nobody@example.org>", 550).lines,
        ["5.1.1 no such user"]
    );
    // Threats T3: message text pipelined behind a DATA that fails is not
    // read as commands; the connection is closed.
    let mut pipelined = b"DATA\r\n".to_vec();
    pipelined.extend_from_slice(&message(&tag, "body\r\n"));
    pipelined.extend_from_slice(b"MAIL FROM:<x@remote.test>\r\nRCPT TO:<alice@example.org>\r\n");
    pipelined.extend_from_slice(b"DATA\r\nsmuggled\r\n.\r\n");
    c.send(&pipelined);
    assert_eq!(c.reply().code, 554);
    let r = c.expect_reply(421);
    assert!(r.text().contains("before 354"), "{r:?}");
    assert!(c.closed());
    none_stored(&s, "alice", &tag);
    none_stored(&s, "alice", "smuggled");
}

// ---------------------------------------------------------------------------
// 3. Extensions.

#[test]
fn pipelining_8bitmime_and_size() {
    let s = serve();
    let (t1, t2) = (unique("pipe1"), unique("pipe2"));
    let (m1, m2) = (tricky_message(&t1), message(&t2, "second\r\n"));
    let mut c = SmtpClient::greeted(s.smtp);
    assert!(c.ehlo("client.example").contains(&"PIPELINING".to_string()));
    // RFC 2920: two transactions and QUIT in one write.
    let mut w = Vec::new();
    for m in [&m1, &m2] {
        w.extend_from_slice(
            b"MAIL FROM:<sender@remote.test>\r\nRCPT TO:<alice@example.org>\r\nDATA\r\n",
        );
        w.extend_from_slice(&dot_stuff(m));
        w.extend_from_slice(b".\r\n");
    }
    w.extend_from_slice(b"QUIT\r\n");
    c.send(&w);
    let codes: Vec<u16> = (0..9).map(|_| c.reply().code).collect();
    assert_eq!(codes, [250, 250, 354, 250, 250, 250, 354, 250, 221]);
    assert!(c.closed());
    assert_eq!(the_one(&s, "alice", &t1).file, m1);
    assert_eq!(the_one(&s, "alice", &t2).file, m2);

    // 8BITMIME (RFC 6152): 8-bit octets stored unchanged.
    let tag = unique("8bit");
    let mut msg = message(&tag, "");
    msg.extend_from_slice("Grüße, naïve café — ☃\r\n".as_bytes());
    msg.extend_from_slice(b"latin-1: \xe9\xe8\xff\x80\r\n");
    let mut c = SmtpClient::greeted(s.smtp);
    c.ehlo("client.example");
    c.expect("MAIL FROM:<sender@remote.test> BODY=8BITMIME", 250);
    c.expect(&format!("RCPT TO:<{ALICE}>"), 250);
    c.expect("DATA", 354);
    c.send(&msg);
    c.send(b".\r\n");
    c.expect_reply(250);
    assert_eq!(the_one(&s, "alice", &tag).file, msg);

    // SIZE (RFC 1870): announced, and a declared size above it refused.
    let big = c.expect(
        &format!("MAIL FROM:<sender@remote.test> SIZE={}", MAX_SIZE + 1),
        552,
    );
    assert!(big.text().starts_with("5.3.4 "), "{big:?}");
    c.expect("MAIL FROM:<sender@remote.test> SIZE=1000", 250);
    c.expect("RSET", 250);
    // BODY=BINARYMIME needs BDAT (RFC 3030 §3).
    c.expect("MAIL FROM:<sender@remote.test> BODY=BINARYMIME", 250);
    c.expect(&format!("RCPT TO:<{ALICE}>"), 250);
    c.expect("DATA", 503);
    c.expect("QUIT", 221);
}

#[test]
fn smtputf8_with_utf8_localpart_and_idna_domain() {
    let s = serve();
    // The store keeps domains in ASCII (A-label) form.
    let r = s
        .call(
            ControlRequest::DomainAdd {
                domain: "xn--bcher-kva.example".into(),
            },
            &[],
        )
        .0;
    assert_eq!(r, ControlReply::Ok);
    let r = s
        .call(
            ControlRequest::AddressAdd {
                address: "jö@xn--bcher-kva.example".into(),
                account: "alice".into(),
            },
            &[],
        )
        .0;
    assert_eq!(r, ControlReply::Ok);
    let tag = unique("utf8");
    let mut msg = format!(
        "From: δοκιμή <δοκιμή@παράδειγμα.δοκιμή>\r\nTo: <jö@bücher.example>\r\nSubject: {tag} ünïcødé\r\n\r\n"
    )
    .into_bytes();
    msg.extend_from_slice("Текст письма.\r\n".as_bytes());
    let mut c = SmtpClient::greeted(s.smtp);
    assert!(c.ehlo("client.example").contains(&"SMTPUTF8".to_string()));
    // RFC 6531 §3.5: a UTF-8 address needs SMTPUTF8.
    let r = c.expect("MAIL FROM:<δοκιμή@παράδειγμα.δοκιμή>", 553);
    assert!(r.text().starts_with("5.6.7 "), "{r:?}");
    c.expect(
        "MAIL FROM:<δοκιμή@παράδειγμα.δοκιμή> SMTPUTF8 BODY=8BITMIME",
        250,
    );
    // U-label form, resolved through the A-label the store holds.
    c.expect("RCPT TO:<jö@bücher.example>", 250);
    // A-label form of the same address.
    c.expect("RCPT TO:<jö@xn--bcher-kva.example>", 250);
    c.expect("RCPT TO:<nö@bücher.example>", 550);
    c.expect("DATA", 354);
    c.send(&msg);
    c.send(b".\r\n");
    let id = accepted_id(&c.reply());
    c.expect("QUIT", 221);
    // One account, so one message.
    let m = the_one(&s, "alice", &tag);
    assert_eq!(m.file, msg);
    let prefix = m.prefix_text();
    assert!(
        prefix.contains(&format!(" with UTF8SMTP id {id}")),
        "{prefix}"
    );
}

#[test]
fn chunking_and_binarymime() {
    let s = serve();
    let tag = unique("bdat");
    // Raw octets: nothing in a chunk is interpreted (RFC 3030 §2).
    let mut part1 = message(&tag, "");
    part1.extend_from_slice(b"binary:\0\x01\xff\xfe\r\n.\r\n");
    let part2 = b"\n.\n\r.\r\nQUIT\r\nMAIL FROM:<x@remote.test>\r\n\r\n.\r\nend".to_vec();
    let mut c = SmtpClient::greeted(s.smtp);
    let kw = c.ehlo("client.example");
    assert!(kw.contains(&"CHUNKING".to_string()) && kw.contains(&"BINARYMIME".to_string()));
    c.expect("MAIL FROM:<sender@remote.test> BODY=BINARYMIME", 250);
    c.expect(&format!("RCPT TO:<{ALICE}>"), 250);
    c.send(format!("BDAT {}\r\n", part1.len()).as_bytes());
    c.send(&part1);
    assert_eq!(
        c.expect_reply(250).lines,
        [format!("2.0.0 {} octets received", part1.len())]
    );
    c.send(format!("BDAT {} LAST\r\n", part2.len()).as_bytes());
    c.send(&part2);
    let id = accepted_id(&c.reply());
    let m = the_one(&s, "alice", &tag);
    let mut want = part1.clone();
    want.extend_from_slice(&part2);
    assert_eq!(m.file, want);
    check_received(
        &m.prefix_text(),
        &ExpectReceived {
            helo: "client.example",
            with: "ESMTP",
            id: &id,
            tls: None,
            recipient: Some(ALICE),
        },
    );

    // MAIL, RCPT and BDAT LAST pipelined in one write.
    let tag = unique("bdat-pipe");
    let msg = message(&tag, "pipelined chunk\r\n");
    let mut w = format!(
        "MAIL FROM:<sender@remote.test>\r\nRCPT TO:<{ALICE}>\r\nBDAT {} LAST\r\n",
        msg.len()
    )
    .into_bytes();
    w.extend_from_slice(&msg);
    c.send(&w);
    assert_eq!(
        [c.reply().code, c.reply().code, c.reply().code],
        [250, 250, 250]
    );
    assert_eq!(the_one(&s, "alice", &tag).file, msg);

    // BDAT out of sequence: the chunk is read and dropped, never executed.
    let chunk = b"NOOP\r\nNOOP\r\n";
    c.send(format!("BDAT {}\r\n", chunk.len()).as_bytes());
    c.send(chunk);
    c.expect_reply(503);
    assert_eq!(
        c.expect("HELP", 214).code,
        214,
        "chunk text was read as commands"
    );
    // A chunk larger than the maximum message size: 552 and close.
    let r = c.expect(&format!("BDAT {} LAST", MAX_SIZE + 1), 552);
    assert!(r.text().starts_with("5.3.4 "), "{r:?}");
    assert!(c.closed());
}

#[test]
fn requiretls_and_dsn_parameters() {
    let s = serve();
    let mut c = SmtpClient::greeted(s.smtp);
    c.ehlo("client.example");
    // RFC 8689 §4.1: REQUIRETLS only over TLS.
    let r = c.expect("MAIL FROM:<sender@remote.test> REQUIRETLS", 530);
    assert!(r.text().starts_with("5.7.10 "), "{r:?}");
    // DSN parameters (RFC 3461) parsed and checked.
    c.expect("MAIL FROM:<sender@remote.test> RET=BOGUS", 501);
    c.expect(
        "MAIL FROM:<sender@remote.test> RET=HDRS ENVID=QQ+2Bid-1",
        250,
    );
    c.expect(&format!("RCPT TO:<{ALICE}> NOTIFY=NEVER,SUCCESS"), 501);
    c.expect(
        &format!("RCPT TO:<{ALICE}> NOTIFY=SUCCESS,FAILURE ORCPT=rfc822;{ALICE}"),
        250,
    );
    let tag = unique("dsn");
    let msg = message(&tag, "dsn\r\n");
    c.expect("DATA", 354);
    c.send(&msg);
    c.send(b".\r\n");
    accepted_id(&c.reply());
    assert_eq!(the_one(&s, "alice", &tag).file, msg);

    c.starttls();
    let kw = c.ehlo("client.example");
    assert!(kw.contains(&"REQUIRETLS".to_string()), "{kw:?}");
    let tag = unique("requiretls");
    let msg = message(&tag, "must travel over TLS\r\n");
    c.expect("MAIL FROM:<sender@remote.test> REQUIRETLS", 250);
    c.expect(&format!("RCPT TO:<{ALICE}>"), 250);
    c.expect("DATA", 354);
    c.send(&msg);
    c.send(b".\r\n");
    let id = accepted_id(&c.reply());
    let tls = c.tls().expect("tls");
    let m = the_one(&s, "alice", &tag);
    assert_eq!(m.file, msg);
    check_received(
        &m.prefix_text(),
        &ExpectReceived {
            helo: "client.example",
            with: "ESMTPS",
            id: &id,
            tls: Some(&tls),
            recipient: Some(ALICE),
        },
    );
    // RFC 8689: REQUIRETLS is recorded with the message.
    assert!(
        m.prefix_text().contains(" requiretls)"),
        "{}",
        m.prefix_text()
    );
}

// ---------------------------------------------------------------------------
// 4. SMTP smuggling (threats T6): a table of every end-of-data variant.

/// What moxd must do with a smuggling variant.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Want {
    /// `500 5.5.2` naming smuggling; nothing stored.
    Refused,
    /// Refused like that, or one message holding everything as text.
    RefusedOrOne,
    /// The client stops sending: no reply, nothing stored.
    Eof,
}

const SMUGGLING: &[(&str, &[u8], Want)] = &[
    ("LF.LF", b"\n.\n", Want::Refused),
    ("LF.CRLF", b"\n.\r\n", Want::Refused),
    ("CR.CRLF", b"\r.\r\n", Want::Refused),
    ("CRLF.CR", b"\r\n.\r", Want::Refused),
    ("CRLF.LF", b"\r\n.\n", Want::Refused),
    ("LFLF.CRLF", b"\n\n.\r\n", Want::Refused),
    ("CRLF NUL.CRLF", b"\r\n\0.\r\n", Want::RefusedOrOne),
    ("CRLF.NUL CRLF", b"\r\n.\0\r\n", Want::RefusedOrOne),
    ("CRLF NUL.CR", b"\r\n\0.\r", Want::Refused),
    ("CRLF NUL.LF", b"\r\n\0.\n", Want::RefusedOrOne),
    ("CR.CR", b"\r.\r", Want::Refused),
    ("CRLF.CRCRLF", b"\r\n.\r\r\n", Want::Refused),
    ("LF.CRCRLF", b"\n.\r\r\n", Want::Refused),
    ("bare CR mid-line", b"\r\nab\rcd\r\n", Want::Refused),
    ("CRLF. EOF", b"\r\n.", Want::Eof),
];

/// One smuggling attempt on a fresh connection; `split` sends the
/// variant one octet per write so the decoder sees it across reads.
fn smuggle(s: &SmtpServer, name: &str, variant: &[u8], want: Want, split: bool) {
    let tag = unique("smuggle");
    let hidden = unique("hidden");
    let mut c = SmtpClient::greeted(s.smtp);
    c.ehlo("client.example");
    c.expect("MAIL FROM:<sender@remote.test>", 250);
    c.expect(&format!("RCPT TO:<{ALICE}>"), 250);
    c.expect("DATA", 354);
    let head = message(&tag, "first message");
    let tail = format!(
        "MAIL FROM:<spoof@example.org>\r\nRCPT TO:<{ALICE}>\r\nDATA\r\nSubject: {hidden}\r\n\r\nsmuggled\r\n"
    );
    c.send(&head);
    if split {
        for b in variant {
            c.send(&[*b]);
            std::thread::sleep(Duration::from_millis(5));
        }
    } else {
        c.send(variant);
    }
    if want == Want::Eof {
        c.shutdown_write();
        let r = c.try_reply();
        assert!(
            matches!(r, Ok(None) | Err(_)),
            "{name}: reply after EOF in DATA: {r:?}"
        );
        none_stored(s, "alice", &tag);
        return;
    }
    c.send(tail.as_bytes());
    c.send(b"\r\n.\r\n");
    let r = c.reply();
    match (r.code, want) {
        (500, _) => {
            assert!(r.text().starts_with("5.5.2 "), "{name}: {r:?}");
            assert!(r.text().contains("smuggling"), "{name}: {r:?}");
            none_stored(s, "alice", &tag);
        }
        (250, Want::RefusedOrOne) => {
            let m = the_one(s, "alice", &tag);
            assert!(
                m.contains(hidden.as_bytes()) && m.contains(b"MAIL FROM:<spoof@example.org>"),
                "{name}: the smuggled part must be text of the one message"
            );
        }
        _ => panic!("{name} (split {split}): {r:?}"),
    }
    // In sync: the next reply answers our next command, nothing in
    // between (no reply to a smuggled MAIL/RCPT/DATA).
    assert_eq!(c.expect("HELP", 214).code, 214, "{name}: out of sync");
    c.expect("QUIT", 221);
    // Never a second message: nothing starts with the hidden Subject.
    let second: Vec<_> = stored_messages(s, "alice")
        .into_iter()
        .filter(|m| m.file.starts_with(format!("Subject: {hidden}").as_bytes()))
        .collect();
    assert!(second.is_empty(), "{name}: a smuggled message was stored");
}

#[test]
fn smtp_smuggling_variants_never_make_a_second_message() {
    let s = serve();
    let before = stored_messages(&s, "alice").len();
    let mut refused = 0;
    for &(name, variant, want) in SMUGGLING {
        for split in [false, true] {
            smuggle(&s, name, variant, want, split);
            if want == Want::Refused {
                refused += 1;
            }
        }
    }
    let after = stored_messages(&s, "alice");
    let at_most_one: usize = SMUGGLING
        .iter()
        .filter(|(_, _, w)| *w == Want::RefusedOrOne)
        .count()
        * 2;
    assert!(
        after.len() - before <= at_most_one,
        "{} messages stored for {refused} refused and {at_most_one} possible",
        after.len() - before
    );
    // A dot line at the very start of the data (after DATA's CRLF) ended by
    // a bare LF is refused too.
    let mut c = SmtpClient::greeted(s.smtp);
    c.ehlo("client.example");
    c.expect("MAIL FROM:<sender@remote.test>", 250);
    c.expect(&format!("RCPT TO:<{ALICE}>"), 250);
    c.expect("DATA", 354);
    c.send(b".\nSubject: x\r\n\r\n.\r\n");
    assert_eq!(c.expect_reply(500).lines.len(), 1);
}

// ---------------------------------------------------------------------------
// 5. Limits.

#[test]
fn long_lines_and_errors_before_disconnect() {
    let s = serve();
    let mut c = SmtpClient::greeted(s.smtp);
    c.ehlo("client.example");
    let long = format!("MAIL FROM:<{}@remote.test>", "a".repeat(5000));
    let r = c.expect(&long, 500);
    assert!(r.text().contains("line too long"), "{r:?}");
    // Threats T4: 1 MiB without a line end is drained, one 500, in sync.
    let mut huge = b"EHLO ".to_vec();
    huge.extend(std::iter::repeat_n(b'a', 1 << 20));
    c.send(&huge);
    c.send(b"\r\n");
    let r = c.expect_reply(500);
    assert!(r.text().contains("line too long"), "{r:?}");
    c.expect("NOOP", 250);
    // A normal transaction still works on the same connection.
    let tag = unique("after-long");
    accepted_id(&c.send_mail("sender@remote.test", ALICE, &message(&tag, "ok\r\n")));
    the_one(&s, "alice", &tag);
    c.expect("QUIT", 221);

    // Errors before disconnect: the 10th error ends with 421.
    let mut c = SmtpClient::greeted(s.smtp);
    c.ehlo("client.example");
    for i in 1..MAX_ERRORS {
        let r = c.expect("XYZZY", 500);
        assert!(r.text().starts_with("5.5.1 "), "error {i}: {r:?}");
    }
    c.send(b"XYZZY\r\n");
    c.expect_reply(500);
    let r = c.expect_reply(421);
    assert!(r.text().contains("too many errors"), "{r:?}");
    assert!(c.closed(), "not closed after 421");
}

#[test]
fn message_larger_than_the_limit_is_refused() {
    let s = serve();
    let tag = unique("too-big");
    let mut c = SmtpClient::greeted(s.smtp);
    c.ehlo("client.example");
    c.expect("MAIL FROM:<sender@remote.test>", 250);
    c.expect(&format!("RCPT TO:<{ALICE}>"), 250);
    c.expect("DATA", 354);
    c.send(&message(&tag, ""));
    let line = [b"y".repeat(998), b"\r\n".to_vec()].concat();
    let block: Vec<u8> = line.repeat(1024);
    let mut sent = 0u64;
    while sent <= MAX_SIZE {
        c.send(&block);
        sent += block.len() as u64;
    }
    c.send(b".\r\n");
    let r = c.expect_reply(552);
    assert_eq!(
        r.lines,
        [format!("5.3.4 message too large, max {MAX_SIZE} octets")]
    );
    // The connection is still in sync and usable.
    c.expect("NOOP", 250);
    c.expect("QUIT", 221);
    none_stored(&s, "alice", &tag);
}

// ---------------------------------------------------------------------------
// 6. AUTH on submission.

#[test]
fn auth_with_each_mechanism_right_and_wrong() {
    let s = serve();
    add_account(&s, "bob", "bob@example.org");
    for mech in [
        Mech::Plain,
        Mech::Login,
        Mech::ScramSha1,
        Mech::ScramSha256,
        Mech::ScramSha256Plus,
        Mech::ScramSha1PlusEndPoint,
    ] {
        let mut c = submission_tls(&s);
        let bad = auth(&mut c, mech, ALICE, "wrong password", &s.cert_der);
        assert_eq!(bad.code, 535, "{mech:?} wrong password: {bad:?}");
        assert_eq!(bad.lines, ["5.7.8 authentication failed"], "{mech:?}");
        // Not authenticated: no mail.
        c.expect(&format!("MAIL FROM:<{ALICE}>"), 530);
        let ok = auth(&mut c, mech, ALICE, ALICE_PASSWORD, &s.cert_der);
        assert_eq!(ok.code, 235, "{mech:?} right password: {ok:?}");
        assert_eq!(ok.lines, ["2.7.0 authentication successful"]);
        c.expect(
            &format!("AUTH PLAIN {}", b64(format!("\0{ALICE}\0{ALICE_PASSWORD}"))),
            503,
        );
        // RFC 6409 §6.1: only the account's own addresses as sender.
        let r = c.expect("MAIL FROM:<bob@example.org>", 550);
        assert!(r.text().starts_with("5.7.1 "), "{r:?}");
        c.expect("MAIL FROM:<>", 550);
        let tag = unique("auth");
        let msg = message(&tag, &format!("sent after {mech:?}\r\n"));
        let id = accepted_id(&c.send_mail(ALICE, ALICE, &msg));
        let tls = c.tls().expect("TLS");
        c.expect("QUIT", 221);
        let m = the_one(&s, "alice", &tag);
        assert_eq!(m.file, msg);
        check_received(
            &m.prefix_text(),
            &ExpectReceived {
                helo: "client.example",
                with: "ESMTPSA",
                id: &id,
                tls: Some(&tls),
                recipient: None,
            },
        );
    }
    // Channel binding data that is not ours fails.
    let mut c = submission_tls(&s);
    let bad = scram(
        &mut c,
        "SCRAM-SHA-256-PLUS",
        Hash::Sha256,
        ALICE,
        ALICE_PASSWORD,
        Some(("tls-exporter", vec![7u8; 32])),
    );
    assert_eq!(bad.code, 535, "{bad:?}");
    // An unknown login fails like a wrong password.
    let unknown = auth(
        &mut c,
        Mech::Plain,
        "nobody@example.org",
        ALICE_PASSWORD,
        &[],
    );
    assert_eq!(unknown.lines, ["5.7.8 authentication failed"]);
    c.expect("AUTH CRAM-MD5", 504);
    c.expect("QUIT", 221);
}

/// Settings that keep a queued message in the queue during a test: a DNS
/// server that does not answer, when this moxd has the `resolver` setting
/// (without it the system resolver is used).
fn unanswered_resolver() -> &'static str {
    const SETTING: &str = "resolver = \"127.0.0.1:9\"\n";
    let d = tempdir();
    let cfg = d.path().join("moxd.toml");
    std::fs::write(&cfg, format!("hostname = \"mail.example.org\"\n{SETTING}")).unwrap();
    std::fs::write(d.path().join("domains.toml"), "").unwrap();
    let out = std::process::Command::new(MOXD)
        .args(["config", "check", "-c"])
        .arg(&cfg)
        .output()
        .expect("moxd config check");
    if out.status.success() { SETTING } else { "" }
}

#[test]
fn submission_needs_tls_and_queues_remote_recipients() {
    let s = Server::serve_smtp(unanswered_resolver());
    set_password(&s, "alice", ALICE_PASSWORD);
    // Serve mode: AUTH refused before TLS.
    let mut c = SmtpClient::greeted(s.submission);
    c.ehlo("client.example");
    c.expect(
        &format!("AUTH PLAIN {}", b64(format!("\0{ALICE}\0{ALICE_PASSWORD}"))),
        530,
    );
    c.expect("AUTH LOGIN", 530);
    c.expect("QUIT", 221);

    let mut c = submission_tls(&s);
    assert_eq!(
        auth(&mut c, Mech::Plain, ALICE, ALICE_PASSWORD, &[]).code,
        235
    );
    // An address in our domain that no account has is not remote.
    c.expect(&format!("MAIL FROM:<{ALICE}>"), 250);
    assert_eq!(
        c.expect("RCPT TO:<nobody@example.org>", 550).lines,
        ["5.1.1 no such user"]
    );
    c.expect("RSET", 250);
    let tag = unique("submit");
    // No Message-ID and no Date: moxd adds them (RFC 6409 §8).
    let msg = format!("From: <{ALICE}>\r\nTo: <bob@remote.test>\r\nSubject: {tag}\r\n\r\nhi\r\n")
        .into_bytes();
    c.expect(
        &format!("MAIL FROM:<{ALICE}> REQUIRETLS RET=HDRS ENVID=env-{tag}"),
        250,
    );
    c.expect(
        "RCPT TO:<bob@remote.test> NOTIFY=FAILURE,DELAY ORCPT=rfc822;bob@remote.test",
        250,
    );
    c.expect(&format!("RCPT TO:<{ALICE}>"), 250);
    c.expect("DATA", 354);
    c.send(&msg);
    c.send(b".\r\n");
    let id = accepted_id(&c.reply());
    c.expect("QUIT", 221);

    // The local copy.
    let m = the_one(&s, "alice", &tag);
    assert_eq!(m.file, msg);
    let prefix = m.prefix_text();
    assert!(
        prefix.contains(&format!(" with ESMTPSA id {id}")),
        "{prefix}"
    );
    assert!(prefix.contains("\r\nMessage-ID: <"), "{prefix}");
    assert!(prefix.contains("\r\nDate: "), "{prefix}");

    // The queued copy for the remote recipient.
    let q = queue_list(&s);
    let row = q
        .iter()
        .find(|r| r.recipients == ["bob@remote.test"])
        .unwrap_or_else(|| panic!("no queue row for bob@remote.test: {q:?}"));
    assert_eq!(row.account, "alice");
    assert_eq!(row.mail_from, ALICE);
    let db = rusqlite::Connection::open_with_flags(
        s.dir.path().join("data/system.db"),
        rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY,
    )
    .expect("open system.db");
    let (options, qprefix): (String, Vec<u8>) = db
        .query_row(
            "SELECT options, prefix FROM queue WHERE id = ?1",
            [row.id],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .expect("queue row");
    let o: serde_json::Value = serde_json::from_str(&options).expect("options are JSON");
    assert_eq!(o["params"]["requiretls"], true, "{o}");
    assert_eq!(o["params"]["ret"], "Hdrs", "{o}");
    assert_eq!(o["params"]["envid"], format!("env-{tag}"), "{o}");
    assert_eq!(o["recipients"][0][0], "bob@remote.test", "{o}");
    assert_eq!(o["recipients"][0][1]["notify"]["failure"], true, "{o}");
    assert_eq!(o["recipients"][0][1]["notify"]["success"], false, "{o}");
    assert_eq!(
        o["recipients"][0][1]["orcpt"]["addr"], "bob@remote.test",
        "{o}"
    );
    assert_eq!(
        qprefix, m.prefix,
        "queue and mailbox copies share the prefix"
    );
    let qfile = std::fs::read(s.dir.path().join(format!(
        "data/queue/msg/{}/{}",
        row.id >> 13,
        row.id
    )))
    .expect("queued message file");
    assert_eq!(qfile, msg);
    assert_eq!(row.size, (qprefix.len() + msg.len()) as u64);
}

#[test]
fn submissions_port_with_implicit_tls() {
    let s = serve();
    let mut c = SmtpClient::greeted_tls(s.submissions);
    let tls = c.tls().expect("TLS");
    assert_eq!(
        c.ehlo("client.example"),
        keywords(true, Some(AUTH_AFTER_TLS))
    );
    assert_eq!(
        auth(&mut c, Mech::ScramSha256Plus, ALICE, ALICE_PASSWORD, &[]).code,
        235
    );
    let tag = unique("465");
    let msg = message(&tag, "implicit TLS\r\n");
    let id = accepted_id(&c.send_mail(ALICE, ALICE, &msg));
    c.expect("QUIT", 221);
    let m = the_one(&s, "alice", &tag);
    assert_eq!(m.file, msg);
    check_received(
        &m.prefix_text(),
        &ExpectReceived {
            helo: "client.example",
            with: "ESMTPSA",
            id: &id,
            tls: Some(&tls),
            recipient: None,
        },
    );
}

// ---------------------------------------------------------------------------
// 7. Failed-AUTH rate limit (per IP, kept in the store).

#[test]
fn failed_auth_rate_limit() {
    /// FAILED_AUTH_PER_MINUTE for a /32.
    const LIMIT: usize = 10;
    let s = serve();
    let t0 = Instant::now();
    let wrong = format!("AUTH PLAIN {}", b64(format!("\0{ALICE}\0not it")));
    let right = format!("AUTH PLAIN {}", b64(format!("\0{ALICE}\0{ALICE_PASSWORD}")));
    // Two connections: each failure also counts as a connection error.
    let mut c = submission_tls(&s);
    for i in 0..LIMIT / 2 {
        assert_eq!(c.cmd(&wrong).code, 535, "attempt {i}");
    }
    c.expect("QUIT", 221);
    let mut c = submission_tls(&s);
    for i in LIMIT / 2..LIMIT {
        assert_eq!(c.cmd(&wrong).code, 535, "attempt {i}");
    }
    // The 11th attempt within a minute, and even the right password.
    for attempt in [&wrong, &right] {
        let r = c.cmd(attempt);
        assert_eq!(r.code, 454, "{r:?}");
        assert!(r.text().starts_with("4.7.0 "), "{r:?}");
        assert!(
            r.text().contains("limit"),
            "the text must name the limit: {r:?}"
        );
    }
    c.expect(&format!("MAIL FROM:<{ALICE}>"), 530);
    assert!(
        t0.elapsed() < Duration::from_secs(60),
        "took {:?}",
        t0.elapsed()
    );
}

// ---------------------------------------------------------------------------
// 8. localserve (one shared instance).

#[test]
fn localserve_catch_all_and_plaintext_auth() {
    let ls = localserve();
    let tag = unique("catchall");
    let msg = message(&tag, "to anyone\r\n");
    let mut c = SmtpClient::greeted(LOCAL_SMTP);
    c.ehlo("client.example");
    let r = c.send_mail("sender@remote.test", "anyone@elsewhere.test", &msg);
    let id = accepted_id(&r);
    c.expect("QUIT", 221);
    let m = the_one(ls, "mox", &tag);
    assert_eq!(m.file, msg);
    let prefix = m.prefix_text();
    assert!(
        prefix.starts_with(
            "Received: from client.example ([127.0.0.1])\r\n\tby localhost (moxd) with ESMTP id "
        ),
        "{prefix}"
    );
    assert!(prefix.contains(&id), "{prefix}");

    // localserve listens on ::1 too (when the host has IPv6 loopback).
    let v6 = SocketAddr::from((std::net::Ipv6Addr::LOCALHOST, LOCAL_SMTP.port()));
    if let Ok(mut c) = SmtpClient::connect(v6) {
        c.expect_reply(220);
        let tag = unique("catchall-v6");
        let msg = message(&tag, "over IPv6\r\n");
        c.ehlo("client6.example");
        accepted_id(&c.send_mail("sender@remote.test", "someone@elsewhere.test", &msg));
        c.expect("QUIT", 221);
        let m = the_one(ls, "mox", &tag);
        assert_eq!(m.file, msg);
        assert!(
            m.prefix_text()
                .starts_with("Received: from client6.example ([IPv6:::1])"),
            "{}",
            m.prefix_text()
        );
    }

    // Submission: AUTH allowed without TLS on loopback.
    let mut c = SmtpClient::greeted(LOCAL_SUBMISSION);
    assert_eq!(
        c.ehlo("client.example"),
        keywords(false, Some(AUTH_PLAINTEXT))
    );
    assert_eq!(
        auth(&mut c, Mech::ScramSha256, "mox@localhost", "moxmoxmox", &[]).code,
        235
    );
    let tag = unique("ls-submit");
    let msg = message(&tag, "submitted\r\n");
    accepted_id(&c.send_mail("mox@localhost", "someone@remote.test", &msg));
    c.expect("QUIT", 221);
    // A remote recipient is queued; localserve's queue delivers it back to
    // the local account (asynchronously), saying so in a header.
    let delivered = wait_for(Duration::from_secs(30), || {
        let found = messages_containing(ls, "mox", tag.as_bytes());
        (!found.is_empty()).then_some(found)
    })
    .expect("queued message delivered locally");
    assert_eq!(delivered.len(), 1);
    assert_eq!(delivered[0].file, msg);
    assert!(
        delivered[0].prefix_text().contains("X-Moxd-Localserve"),
        "{}",
        delivered[0].prefix_text()
    );

    // Implicit TLS on 1465.
    let mut c = SmtpClient::greeted_tls(LOCAL_SUBMISSIONS);
    assert_eq!(
        c.ehlo("client.example"),
        keywords(true, Some(AUTH_AFTER_TLS))
    );
    c.expect("QUIT", 221);
}

#[test]
fn localserve_fake_failures() {
    let ls = localserve();
    // (sender, recipient, stage, code): stage 0 MAIL, 1 RCPT, 2 after data.
    let cases: &[(&str, &str, u8, u16)] = &[
        ("sender@remote.test", "xtemperror@localhost", 2, 451),
        ("sender@remote.test", "xpermerror@localhost", 2, 550),
        ("sender@remote.test", "user452@localhost", 2, 452),
        ("sender@remote.test", "user503@localhost", 2, 503),
        ("sender@remote.test", "user554@localhost", 2, 554),
        ("mailfromtemperror@remote.test", "mox@localhost", 0, 451),
        ("mailfrompermerror@remote.test", "mox@localhost", 0, 550),
        ("sender@remote.test", "rcpttotemperror@localhost", 1, 451),
        ("sender@remote.test", "rcpttopermerror@localhost", 1, 550),
        ("sender@remote.test", "rcptto452@localhost", 1, 452),
    ];
    let mut c = SmtpClient::greeted(LOCAL_SMTP);
    c.ehlo("client.example");
    for &(from, to, stage, code) in cases {
        let tag = unique("fake");
        let r = c.cmd(&format!("MAIL FROM:<{from}>"));
        if stage == 0 {
            assert_eq!(r.code, code, "{from}: {r:?}");
            assert!(r.text().contains("special localpart"), "{r:?}");
            c.expect("RSET", 250);
            continue;
        }
        assert_eq!(r.code, 250, "{from}: {r:?}");
        let r = c.cmd(&format!("RCPT TO:<{to}>"));
        if stage == 1 {
            assert_eq!(r.code, code, "{to}: {r:?}");
            assert!(r.text().contains("special localpart"), "{r:?}");
            c.expect("RSET", 250);
            continue;
        }
        assert_eq!(r.code, 250, "{to}: {r:?}");
        c.expect("DATA", 354);
        c.send(&message(&tag, "fails\r\n"));
        c.send(b".\r\n");
        let r = c.reply();
        assert_eq!(r.code, code, "{to}: {r:?}");
        assert!(r.text().contains("special localpart"), "{r:?}");
        none_stored(ls, "mox", &tag);
    }
    // `queue…` localparts are accepted here (they fail later in the queue).
    let tag = unique("queue-lp");
    accepted_id(&c.send_mail(
        "sender@remote.test",
        "queuetemperror@localhost",
        &message(&tag, "q\r\n"),
    ));
    the_one(ls, "mox", &tag);
    c.expect("QUIT", 221);
}

#[test]
fn localserve_pedantic_eight_bit() {
    let ls = localserve();
    let mut c = SmtpClient::greeted(LOCAL_SMTP);
    c.ehlo("client.example");
    // RFC 6152 §3: 8-bit data only after BODY=8BITMIME.
    let tag = unique("8bit-undeclared");
    let mut msg = message(&tag, "");
    msg.extend_from_slice("Grüße\r\n".as_bytes());
    let r = c.send_mail("sender@remote.test", "mox@localhost", &msg);
    assert_eq!(r.code, 554, "{r:?}");
    assert!(r.text().contains("8BITMIME"), "{r:?}");
    none_stored(ls, "mox", &tag);
    // Also with BDAT.
    c.expect("MAIL FROM:<sender@remote.test>", 250);
    c.expect("RCPT TO:<mox@localhost>", 250);
    c.send(format!("BDAT {} LAST\r\n", msg.len()).as_bytes());
    c.send(&msg);
    assert_eq!(c.reply().code, 554);
    none_stored(ls, "mox", &tag);
    // Declared: accepted and stored unchanged.
    let tag = unique("8bit-declared");
    let mut msg = message(&tag, "");
    msg.extend_from_slice("Grüße\r\n".as_bytes());
    c.expect("MAIL FROM:<sender@remote.test> BODY=8BITMIME", 250);
    c.expect("RCPT TO:<mox@localhost>", 250);
    c.expect("DATA", 354);
    c.send(&msg);
    c.send(b".\r\n");
    accepted_id(&c.reply());
    assert_eq!(the_one(ls, "mox", &tag).file, msg);
    // Pedantic: parameters need EHLO.
    c.expect("HELO client.example", 250);
    c.expect("MAIL FROM:<sender@remote.test> BODY=8BITMIME", 555);
    c.expect("QUIT", 221);
}

#[test]
fn localserve_recipient_limit() {
    let ls = localserve();
    let tag = unique("rcptmax");
    let mut c = SmtpClient::greeted(LOCAL_SMTP);
    assert!(
        c.ehlo("client.example")
            .contains(&format!("LIMITS RCPTMAX={MAX_RCPTS}"))
    );
    // 1001 distinct recipients (catch-all) pipelined in one write.
    let mut w = b"MAIL FROM:<sender@remote.test>\r\n".to_vec();
    for i in 0..=MAX_RCPTS {
        // Not ending in three digits: those are fake-failure localparts.
        w.extend_from_slice(format!("RCPT TO:<to{i}x@localhost>\r\n").as_bytes());
    }
    c.send(&w);
    c.expect_reply(250);
    for i in 0..MAX_RCPTS {
        let r = c.reply();
        assert_eq!(r.code, 250, "recipient {i}: {r:?}");
    }
    let r = c.expect_reply(452);
    assert!(r.text().starts_with("4.5.3 "), "{r:?}");
    let msg = message(&tag, "to many\r\n");
    c.expect("DATA", 354);
    c.send(&msg);
    c.send(b".\r\n");
    accepted_id(&c.reply());
    c.expect("QUIT", 221);
    // All recipients are one account: stored once.
    assert_eq!(the_one(ls, "mox", &tag).file, msg);
}

/// The session limits come from moxd.toml's `[smtp]` and are announced.
#[test]
fn configured_limits_are_announced_and_enforced() {
    let s =
        Server::serve_smtp("[smtp]\nmax_message_size = 2000\nmax_recipients = 3\nmax_errors = 3\n");
    let mut c = SmtpClient::greeted(s.smtp);
    let kw = c.ehlo("client.example");
    assert!(kw.contains(&"SIZE 2000".to_string()), "{kw:?}");
    assert!(kw.contains(&"LIMITS RCPTMAX=3".to_string()), "{kw:?}");
    for i in 1..=4 {
        let req = ControlRequest::AddressAdd {
            address: format!("a{i}@example.org"),
            account: "alice".into(),
        };
        assert_eq!(s.call(req, &[]).0, ControlReply::Ok);
    }
    c.expect("MAIL FROM:<sender@remote.test>", 250);
    for i in 1..=3 {
        c.expect(&format!("RCPT TO:<a{i}@example.org>"), 250);
    }
    let r = c.expect("RCPT TO:<a4@example.org>", 452);
    assert!(r.lines[0].starts_with("4.5.3 "), "{r:?}");
    c.expect("DATA", 354);
    let big = format!("Subject: big\r\n\r\n{}\r\n", "x".repeat(3000));
    c.send(big.as_bytes());
    c.send(b".\r\n");
    assert_eq!(c.reply().code, 552);
    assert!(stored_messages(&s, "alice").is_empty());
}
