//! STARTTLS (with the command injection test, threats T1), implicit TLS,
//! and AUTH with each mechanism, right and wrong, against the in-memory
//! backend.

mod smtp_common;

use std::time::Duration;

use base64::Engine as _;
use daemons::sasl::Mechanism;
use daemons::smtp::{Kind, TlsConfig};
use ipc::store::ScramMechanism;
use smtp_common::*;
use tokio::io::DuplexStream;
use tokio_rustls::client::TlsStream;

const MSG: &str = "Subject: hi\r\n\r\nhello\r\n";

fn b64(b: impl AsRef<[u8]>) -> String {
    base64::engine::general_purpose::STANDARD.encode(b)
}

fn unb64(s: &str) -> Vec<u8> {
    base64::engine::general_purpose::STANDARD
        .decode(s)
        .expect("server sends valid base64")
}

fn tls_config(kind: Kind) -> daemons::smtp::Config {
    let mut cfg = config(kind);
    let end_point = daemons::smtp::config::tls_server_end_point(&cert_der());
    cfg.tls = Some(TlsConfig {
        acceptor: acceptor(),
        server_end_point: Some(end_point),
    });
    cfg
}

/// Greeting, EHLO, STARTTLS, handshake, EHLO again: the client under TLS
/// and the second EHLO reply.
async fn start_tls(cfg: daemons::smtp::Config) -> (Client<TlsStream<DuplexStream>>, Running) {
    let mut r = start_with(cfg, MemBackend::new());
    r.client.expect_reply(220).await;
    r.client.expect("EHLO client.test", 250).await;
    r.client.expect("STARTTLS", 220).await;
    let io = std::mem::replace(&mut r.client, Client::new(tokio::io::duplex(1).0)).into_inner();
    let mut c = Client::new(tls_connect(io).await);
    c.expect("EHLO client.test", 250).await;
    (c, r)
}

#[tokio::test]
async fn starttls_discards_injected_commands() {
    let mut r = start_with(tls_config(Kind::Incoming), MemBackend::new());
    r.client.expect_reply(220).await;
    r.client.expect("EHLO client.test", 250).await;
    // Threats T1: STARTTLS and NOOP in one write.
    r.client.send(b"STARTTLS\r\nNOOP\r\n").await;
    let rep = r.client.expect_reply(220).await;
    assert_eq!(rep.lines, ["2.0.0 ready to start TLS"]);
    assert!(r.client.pending().is_empty(), "nothing else in plain text");
    let io = std::mem::replace(&mut r.client, Client::new(tokio::io::duplex(1).0)).into_inner();
    let mut c = Client::new(tls_connect(io).await);
    // No 250 for the injected NOOP arrives inside TLS.
    assert!(
        c.silent_for(Duration::from_millis(300)).await,
        "reply to injected command: {:?}",
        c.pending()
    );
    // The session starts over: EHLO first.
    c.expect("MAIL FROM:<a@remote.test>", 503).await;
    let ehlo = c.expect("EHLO client.test", 250).await;
    assert!(!ehlo.lines.iter().any(|l| l == "STARTTLS"), "{ehlo:?}");
    assert_eq!(ehlo.lines[3], "REQUIRETLS");
    c.expect("STARTTLS", 503).await;
    c.expect("MAIL FROM:<a@remote.test> REQUIRETLS", 250).await;
    c.expect("RCPT TO:<alice@local.test>", 250).await;
    c.expect("DATA", 354).await;
    c.send(MSG.as_bytes()).await;
    c.send(b".\r\n").await;
    c.expect_reply(250).await;
    c.expect("QUIT", 221).await;
    let d = r.backend.delivered();
    assert_eq!(d.len(), 1);
    assert!(d[0].env.params.requiretls);
    let tls = d[0].env.tls.clone().expect("TLS recorded");
    assert_eq!(tls.version, "TLS1.3");
    assert_eq!(tls.server_name.as_deref(), Some("localhost"));
    let prefix = String::from_utf8(d[0].prefix.clone()).unwrap();
    assert!(prefix.contains(" with ESMTPS id "), "{prefix}");
    assert!(
        prefix.contains(&format!(
            "\r\n\t(version=TLS1.3 cipher={} requiretls)",
            tls.cipher
        )),
        "{prefix}"
    );
    assert!(tls.cipher.starts_with("TLS13_"), "{tls:?}");
}

#[tokio::test]
async fn starttls_needs_ehlo_and_no_transaction() {
    let mut r = start_with(tls_config(Kind::Incoming), MemBackend::new());
    r.client.expect_reply(220).await;
    r.client.expect("STARTTLS", 503).await;
    r.client.expect("EHLO client.test", 250).await;
    r.client.expect("MAIL FROM:<a@remote.test>", 250).await;
    r.client.expect("STARTTLS", 503).await;
    r.client.expect("STARTTLS now", 501).await;
}

#[tokio::test]
async fn implicit_tls() {
    let mut cfg = tls_config(Kind::Submission);
    cfg.implicit_tls = true;
    let r = start_with(cfg, MemBackend::new());
    let mut c = Client::new(tls_connect(r.client.into_inner()).await);
    assert_eq!(
        c.expect_reply(220).await.lines,
        ["mx.local.test ESMTP moxd"]
    );
    let ehlo = c.expect("EHLO client.test", 250).await;
    assert_eq!(ehlo.lines[3], "REQUIRETLS");
    assert_eq!(
        ehlo.lines[4],
        "AUTH SCRAM-SHA-256-PLUS SCRAM-SHA-256 SCRAM-SHA-1-PLUS SCRAM-SHA-1 PLAIN LOGIN"
    );
}

#[tokio::test]
async fn auth_plain_right_wrong_and_sender_check() {
    let (mut c, r) = start_tls(tls_config(Kind::Submission)).await;
    c.expect("MAIL FROM:<alice@local.test>", 530).await;
    let wrong = c
        .expect(
            &format!("AUTH PLAIN {}", b64("\0alice@local.test\0wrong")),
            535,
        )
        .await;
    assert_eq!(wrong.lines, ["5.7.8 authentication failed"]);
    let unknown = c
        .expect(
            &format!("AUTH PLAIN {}", b64("\0nobody@local.test\0secret")),
            535,
        )
        .await;
    assert_eq!(unknown.lines, wrong.lines);
    // No initial response: an empty challenge first.
    let ch = c.expect("AUTH PLAIN", 334).await;
    assert_eq!(ch.lines, [""]);
    let ok = c.expect(&b64("\0alice@local.test\0secret"), 235).await;
    assert_eq!(ok.lines, ["2.7.0 authentication successful"]);
    c.expect(
        &format!("AUTH PLAIN {}", b64("\0alice@local.test\0secret")),
        503,
    )
    .await;
    let not_own = c.expect("MAIL FROM:<bob@local.test>", 550).await;
    assert!(not_own.text().starts_with("5.7.1 "));
    c.expect("MAIL FROM:<>", 550).await;
    assert_eq!(
        c.send_mail("alice@local.test", "someone@remote.test", MSG)
            .await
            .code,
        250
    );
    let d = r.backend.delivered();
    assert_eq!(d[0].env.account.as_deref(), Some("alice"));
    assert!(String::from_utf8_lossy(&d[0].prefix).contains(" with ESMTPSA id "));
}

#[tokio::test]
async fn auth_login_right_wrong_and_cancel() {
    let (mut c, _r) = start_tls(tls_config(Kind::Submission)).await;
    let u = c.expect("AUTH LOGIN", 334).await;
    assert_eq!(unb64(&u.lines[0]), b"Username:");
    let p = c.expect(&b64("alice@local.test"), 334).await;
    assert_eq!(unb64(&p.lines[0]), b"Password:");
    c.expect(&b64("nope"), 535).await;
    // RFC 4954 §4: "*" cancels.
    c.expect("AUTH LOGIN", 334).await;
    c.expect("*", 501).await;
    // Invalid base64.
    c.expect("AUTH LOGIN", 334).await;
    c.expect("!!!", 501).await;
    // Line too long (RFC 4954 §4: 500 5.5.6).
    c.expect("AUTH LOGIN", 334).await;
    let long = c.expect(&"QUFB".repeat(5000), 500).await;
    assert!(long.text().starts_with("5.5.6 "));
    c.expect(&format!("AUTH LOGIN {}", b64("alice@local.test")), 334)
        .await;
    c.expect(&b64("secret"), 235).await;
}

#[tokio::test]
async fn auth_mechanisms_not_offered() {
    let (mut c, _r) = start_tls(tls_config(Kind::Submission)).await;
    c.expect("AUTH CRAM-MD5", 504).await;
    c.expect("AUTH EXTERNAL", 504).await;
    c.expect("AUTH PLAIN !!", 501).await;
}

#[tokio::test]
async fn failed_auth_counts_as_error() {
    let mut cfg = tls_config(Kind::Submission);
    cfg.limits.max_errors = 2;
    let (mut c, r) = start_tls(cfg).await;
    c.expect(&format!("AUTH PLAIN {}", b64("\0alice@local.test\0x")), 535)
        .await;
    c.send(format!("AUTH PLAIN {}\r\n", b64("\0alice@local.test\0y")).as_bytes())
        .await;
    c.expect_reply(535).await;
    c.expect_reply(421).await;
    assert!(c.closed().await);
    assert!(r.ended().await.is_err());
}

/// A SCRAM client exchange (RFC 5802 §3, RFC 7677); `cb` is the channel
/// binding type and data for -PLUS. Returns the final reply.
async fn scram(
    c: &mut Client<TlsStream<DuplexStream>>,
    mech_name: &str,
    mech: ScramMechanism,
    user: &str,
    password: &str,
    cb: Option<(&str, Vec<u8>)>,
) -> SmtpReply {
    let gs2 = match &cb {
        Some((name, _)) => format!("p={name},,"),
        None => "n,,".to_string(),
    };
    let cnonce = "fyko+d2lbbFgONRv9qkxdawL";
    let first_bare = format!("n={user},r={cnonce}");
    let first = c
        .expect(
            &format!("AUTH {mech_name} {}", b64(format!("{gs2}{first_bare}"))),
            334,
        )
        .await;
    let server_first = String::from_utf8(unb64(&first.lines[0])).expect("utf-8");
    let mut nonce = "";
    let mut salt = Vec::new();
    let mut iterations = 0u32;
    for attr in server_first.split(',') {
        match attr.split_at(2) {
            ("r=", v) => nonce = v,
            ("s=", v) => salt = unb64(v),
            ("i=", v) => iterations = v.parse().expect("iterations"),
            _ => {}
        }
    }
    assert!(
        nonce.starts_with(cnonce) && nonce.len() > cnonce.len(),
        "{server_first}"
    );
    let salted = salted_password(mech, password, &salt, iterations);
    let client_key = hmac(mech, &salted, b"Client Key");
    let stored_key = hash(mech, &client_key);
    let mut cbind = gs2.into_bytes();
    if let Some((_, data)) = cb {
        cbind.extend_from_slice(&data);
    }
    let final_without_proof = format!("c={},r={nonce}", b64(&cbind));
    let auth_message = format!("{first_bare},{server_first},{final_without_proof}");
    let signature = hmac(mech, &stored_key, auth_message.as_bytes());
    let proof: Vec<u8> = client_key
        .iter()
        .zip(&signature)
        .map(|(a, b)| a ^ b)
        .collect();
    let rep = c
        .cmd(&b64(format!("{final_without_proof},p={}", b64(proof))))
        .await;
    if rep.code != 334 {
        return rep;
    }
    // RFC 4954 §4: server-final in a 334, answered by an empty line.
    let server_key = hmac(mech, &salted, b"Server Key");
    let want = format!(
        "v={}",
        b64(hmac(mech, &server_key, auth_message.as_bytes()))
    );
    assert_eq!(
        String::from_utf8(unb64(&rep.lines[0])).expect("utf-8"),
        want
    );
    c.cmd("").await
}

#[tokio::test]
async fn auth_scram_right_and_wrong() {
    let (mut c, _r) = start_tls(tls_config(Kind::Submission)).await;
    let bad = scram(
        &mut c,
        "SCRAM-SHA-256",
        ScramMechanism::Sha256,
        "alice@local.test",
        "wrong",
        None,
    )
    .await;
    assert_eq!(bad.code, 535, "{bad:?}");
    let bad = scram(
        &mut c,
        "SCRAM-SHA-1",
        ScramMechanism::Sha1,
        "alice@local.test",
        "wrong",
        None,
    )
    .await;
    assert_eq!(bad.code, 535, "{bad:?}");
    let ok = scram(
        &mut c,
        "SCRAM-SHA-256",
        ScramMechanism::Sha256,
        "alice@local.test",
        "secret",
        None,
    )
    .await;
    assert_eq!(ok.code, 235, "{ok:?}");
    c.expect("MAIL FROM:<alice@local.test>", 250).await;
}

#[tokio::test]
async fn auth_scram_sha1_right() {
    let (mut c, _r) = start_tls(tls_config(Kind::Submission)).await;
    let ok = scram(
        &mut c,
        "SCRAM-SHA-1",
        ScramMechanism::Sha1,
        "alice@local.test",
        "secret",
        None,
    )
    .await;
    assert_eq!(ok.code, 235, "{ok:?}");
}

#[tokio::test]
async fn auth_scram_plus_with_channel_binding() {
    let (mut c, _r) = start_tls(tls_config(Kind::Submission)).await;
    let exporter = |c: &Client<TlsStream<DuplexStream>>| {
        c.io.get_ref()
            .1
            .export_keying_material([0u8; 32], b"EXPORTER-Channel-Binding", None)
            .expect("exporter")
            .to_vec()
    };
    // Wrong binding data fails.
    let bad = scram(
        &mut c,
        "SCRAM-SHA-256-PLUS",
        ScramMechanism::Sha256,
        "alice@local.test",
        "secret",
        Some(("tls-exporter", vec![0u8; 32])),
    )
    .await;
    assert_eq!(bad.code, 535, "{bad:?}");
    let cb = exporter(&c);
    let ok = scram(
        &mut c,
        "SCRAM-SHA-256-PLUS",
        ScramMechanism::Sha256,
        "alice@local.test",
        "secret",
        Some(("tls-exporter", cb)),
    )
    .await;
    assert_eq!(ok.code, 235, "{ok:?}");
}

#[tokio::test]
async fn auth_scram_plus_with_server_end_point() {
    let (mut c, _r) = start_tls(tls_config(Kind::Submission)).await;
    let cb = daemons::smtp::config::tls_server_end_point(&cert_der());
    let ok = scram(
        &mut c,
        "SCRAM-SHA-1-PLUS",
        ScramMechanism::Sha1,
        "alice@local.test",
        "secret",
        Some(("tls-server-end-point", cb)),
    )
    .await;
    assert_eq!(ok.code, 235, "{ok:?}");
}

#[tokio::test]
async fn plus_mechanisms_need_tls() {
    let mut cfg = config(Kind::Submission);
    cfg.auth_without_tls = true;
    let mut r = start_with(cfg, MemBackend::new());
    r.client.expect_reply(220).await;
    let ehlo = r.client.expect("EHLO client.test", 250).await;
    assert!(
        ehlo.lines
            .contains(&"AUTH SCRAM-SHA-256 SCRAM-SHA-1 PLAIN LOGIN".to_string()),
        "{ehlo:?}"
    );
    r.client
        .expect(
            &format!("AUTH SCRAM-SHA-256-PLUS {}", b64("p=tls-exporter,,n=a,r=x")),
            504,
        )
        .await;
    assert!(Mechanism::ScramSha256Plus.needs_channel_binding());
}
