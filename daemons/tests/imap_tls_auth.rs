//! STARTTLS (with the command injection test of threats T1b), implicit
//! TLS, and AUTHENTICATE: PLAIN with and without SASL-IR, cancel, and
//! SCRAM-SHA-256 with and without channel binding.

mod imap_common;

use std::sync::Arc;
use std::time::Duration;

use daemons::imap::Config;
use imap_common::*;
use tokio::io::DuplexStream;
use tokio_rustls::client::TlsStream;

fn tls_cfg() -> Config {
    let mut c = config();
    c.login_without_tls = false;
    c.tls = Some(tls_config());
    c
}

async fn upgrade(r: &mut Running) -> Client<TlsStream<DuplexStream>> {
    let io = std::mem::replace(&mut r.client, Client::new(tokio::io::duplex(1).0)).into_inner();
    Client::new(tls_connect(io).await)
}

#[tokio::test]
async fn starttls_discards_injected_commands() {
    let mut r = start(tls_cfg(), Arc::new(backend()));
    let g = r.client.line().await.unwrap();
    assert!(g.contains("STARTTLS") && g.contains("LOGINDISABLED"), "{g}");
    assert!(!g.contains("AUTH=PLAIN") && !g.contains("-PLUS"), "{g}");
    // Threats T1b: STARTTLS and another command in one write.
    r.client.send(b"A STARTTLS\r\nXYZZY NOOP\r\n").await;
    assert_eq!(
        r.client.line().await.unwrap(),
        "A OK begin TLS negotiation now"
    );
    assert!(r.client.pending().is_empty());
    let mut c = upgrade(&mut r).await;
    assert!(
        c.silent_for(Duration::from_millis(300)).await,
        "response to injected command: {:?}",
        c.pending()
    );
    let rep = c.ok("NOOP").await;
    assert!(rep.untagged.is_empty(), "{rep:?}");
    let caps = c.ok("CAPABILITY").await;
    let caps = &caps.with("CAPABILITY")[0];
    assert!(
        !caps.contains("STARTTLS") && !caps.contains("LOGINDISABLED"),
        "{caps}"
    );
    assert!(
        caps.contains("AUTH=PLAIN") && caps.contains("AUTH=SCRAM-SHA-256-PLUS"),
        "{caps}"
    );
    c.status("STARTTLS", "BAD").await;
    c.ok(&format!("LOGIN {USER} {PASSWORD}")).await;
}

#[tokio::test]
async fn implicit_tls() {
    let mut cfg = tls_cfg();
    cfg.implicit_tls = true;
    let mut r = start(cfg, Arc::new(backend()));
    let mut c = upgrade(&mut r).await;
    let g = c.line().await.unwrap();
    assert!(g.starts_with("* OK [CAPABILITY IMAP4rev2"), "{g}");
    assert!(!g.contains("STARTTLS") && g.contains("AUTH=PLAIN"), "{g}");
    c.ok(&format!("LOGIN {USER} {PASSWORD}")).await;
    c.ok("SELECT INBOX").await;
}

#[tokio::test]
async fn authenticate_plain() {
    let mut r = start(config(), Arc::new(backend()));
    r.client.line().await;
    // RFC 4959 SASL-IR.
    let rep = r
        .client
        .status(
            &format!("AUTHENTICATE PLAIN {}", b64(format!("\0{USER}\0wrong"))),
            "NO",
        )
        .await;
    assert!(
        rep.tagged.starts_with("NO [AUTHENTICATIONFAILED]"),
        "{rep:?}"
    );
    // RFC 9051 §6.2.2: `*` cancels with a tagged BAD.
    r.client.send(b"b AUTHENTICATE PLAIN\r\n").await;
    assert_eq!(r.client.line().await.unwrap(), "+ ");
    r.client.send(b"*\r\n").await;
    assert_eq!(
        r.client.line().await.unwrap(),
        "b BAD authentication cancelled"
    );
    // Without an initial response: an empty challenge, then the data.
    r.client.send(b"c AUTHENTICATE PLAIN\r\n").await;
    assert_eq!(r.client.line().await.unwrap(), "+ ");
    r.client
        .send(format!("{}\r\n", b64(format!("\0{USER}\0{PASSWORD}"))).as_bytes())
        .await;
    let rep = r.client.reply("c").await;
    assert!(
        rep.tagged.starts_with("OK [CAPABILITY IMAP4rev2"),
        "{rep:?}"
    );
    r.client.ok("SELECT INBOX").await;
}

#[tokio::test]
async fn authenticate_bad_input() {
    let mut r = start(config(), Arc::new(backend()));
    r.client.line().await;
    r.client.status("AUTHENTICATE X-UNKNOWN", "NO").await;
    r.client.status("AUTHENTICATE PLAIN !!!", "BAD").await;
    r.client.send(b"d AUTHENTICATE PLAIN\r\n").await;
    assert_eq!(r.client.line().await.unwrap(), "+ ");
    r.client.send(b"not base64!\r\n").await;
    assert!(r.client.line().await.unwrap().starts_with("d BAD"));
    r.client.ok("NOOP").await;
}

#[tokio::test]
async fn authenticate_scram() {
    let mut r = start(config(), Arc::new(backend()));
    r.client.line().await;
    let bad = scram_sha256(&mut r.client, USER, "wrong", None).await;
    assert!(
        bad.tagged.starts_with("NO [AUTHENTICATIONFAILED]"),
        "{bad:?}"
    );
    let ok = scram_sha256(&mut r.client, USER, PASSWORD, None).await;
    assert!(ok.tagged.starts_with("OK [CAPABILITY"), "{ok:?}");
    r.client.ok("SELECT INBOX").await;
}

#[tokio::test]
async fn authenticate_scram_plus_under_tls() {
    let mut r = start(tls_cfg(), Arc::new(backend()));
    r.client.line().await;
    // No -PLUS without TLS.
    r.client
        .status("AUTHENTICATE SCRAM-SHA-256-PLUS biws", "NO")
        .await;
    r.client.ok("STARTTLS").await;
    let mut c = upgrade(&mut r).await;
    let exporter =
        c.io.get_ref()
            .1
            .export_keying_material([0u8; 32], b"EXPORTER-Channel-Binding", None)
            .expect("exporter")
            .to_vec();
    let bad = scram_sha256(
        &mut c,
        USER,
        PASSWORD,
        Some(("tls-exporter", vec![0u8; 32])),
    )
    .await;
    assert!(
        bad.tagged.starts_with("NO [AUTHENTICATIONFAILED]"),
        "{bad:?}"
    );
    let ok = scram_sha256(&mut c, USER, PASSWORD, Some(("tls-exporter", exporter))).await;
    assert!(ok.tagged.starts_with("OK [CAPABILITY"), "{ok:?}");
}
