//! The SMTP session driven over an in-memory pipe with an in-memory
//! backend: every command and extension, the smuggling table, limits,
//! pipelining and localserve behaviours. TLS and AUTH: `smtp_tls_auth.rs`.

mod smtp_common;

use std::sync::atomic::Ordering;
use std::time::Duration;

use daemons::smtp::params::{Body, Notify, Orcpt, Ret};
use daemons::smtp::{Kind, ReversePath, SessionError};
use smtp_common::*;

const MSG: &str = "Subject: hi\r\n\r\nhello\r\n";

#[tokio::test]
async fn greeting_helo_and_ehlo_keywords() {
    let mut r = start_with(config(Kind::Incoming), MemBackend::new());
    let g = r.client.expect_reply(220).await;
    assert_eq!(g.lines, ["mx.local.test ESMTP moxd"]);
    let h = r.client.expect("HELO client.test", 250).await;
    assert_eq!(h.lines, ["mx.local.test"]);
    let e = r.client.expect("EHLO client.test", 250).await;
    assert_eq!(
        e.lines,
        [
            "mx.local.test",
            "PIPELINING",
            "SIZE 104857600",
            "ENHANCEDSTATUSCODES",
            "8BITMIME",
            "CHUNKING",
            "BINARYMIME",
            "SMTPUTF8",
            "DSN",
            "LIMITS RCPTMAX=1000",
        ]
    );
    r.client.expect("QUIT", 221).await;
    assert!(r.client.closed().await);
    assert!(r.ended().await.is_ok());
}

#[tokio::test]
async fn ehlo_with_tls_configured_offers_starttls() {
    let mut cfg = config(Kind::Submission);
    cfg.tls = Some(daemons::smtp::TlsConfig {
        acceptor: acceptor(),
        server_end_point: None,
    });
    cfg.limits.max_message_size = 1000;
    cfg.limits.max_recipients = 50;
    let mut r = start_with(cfg, MemBackend::new());
    r.client.expect_reply(220).await;
    let e = r.client.expect("EHLO client.test", 250).await;
    // No AUTH before TLS on submission.
    assert_eq!(
        e.lines[1..],
        [
            "PIPELINING",
            "SIZE 1000",
            "STARTTLS",
            "ENHANCEDSTATUSCODES",
            "8BITMIME",
            "CHUNKING",
            "BINARYMIME",
            "SMTPUTF8",
            "DSN",
            "LIMITS RCPTMAX=50"
        ]
    );
}

#[tokio::test]
async fn simple_delivery_is_stored_with_received_prefix() {
    let mut r = start_ehlo(config(Kind::Incoming)).await;
    let done = r
        .client
        .send_mail("sender@remote.test", "Alice@Local.Test", MSG)
        .await;
    assert_eq!(done.code, 250, "{done:?}");
    assert!(
        done.text().starts_with("2.0.0 message accepted as "),
        "{done:?}"
    );
    r.client.expect("QUIT", 221).await;
    let d = r.backend.delivered();
    assert_eq!(d.len(), 1);
    assert_eq!(d[0].body, MSG.as_bytes());
    let prefix = String::from_utf8(d[0].prefix.clone()).unwrap();
    assert!(prefix.starts_with(
        "Received: from client.test ([192.0.2.1])\r\n\tby mx.local.test (moxd) with ESMTP id "
    ));
    assert!(
        prefix.contains("\r\n\tfor <Alice@local.test>;\r\n\t"),
        "{prefix}"
    );
    assert!(prefix.ends_with(" +0000\r\n"));
    assert!(!prefix.contains("Message-ID"), "smtp-in adds no Message-ID");
    assert_eq!(d[0].env.recipients[0].account.as_deref(), Some("alice"));
    assert_eq!(d[0].env.mail_from.to_string(), "<sender@remote.test>");
    assert_eq!(d[0].env.helo, "client.test");
    assert!(
        prefix.contains(&format!(" id {};", d[0].env.id))
            || prefix.contains(&format!(" id {}\r\n", d[0].env.id))
    );
}

#[tokio::test]
async fn null_sender_and_postmaster() {
    let mut r = start_ehlo(config(Kind::Incoming)).await;
    r.client.expect("MAIL FROM:<>", 250).await;
    r.client.expect("RCPT TO:<Postmaster>", 250).await;
    r.client.expect("DATA", 354).await;
    r.client.send(b"x\r\n.\r\n").await;
    r.client.expect_reply(250).await;
    let d = r.backend.delivered();
    assert_eq!(d[0].env.mail_from, ReversePath::Null);
    assert_eq!(
        d[0].env.recipients[0].address.to_string(),
        "postmaster@mx.local.test"
    );
}

#[tokio::test]
async fn unknown_and_relay_recipients_are_refused() {
    let mut r = start_ehlo(config(Kind::Incoming)).await;
    r.client.expect("MAIL FROM:<a@remote.test>", 250).await;
    // Threats T16: every non-local form is refused.
    for (rcpt, code) in [
        ("<nobody@local.test>", 550),
        ("<x@victim.test>", 550),
        ("<x%victim.test@local.test>", 550),
        ("<@local.test:x@victim.test>", 550),
        ("<\"x@victim.test\"@local.test>", 550),
        ("<x@victim.test.>", 501),
        ("<alice@LOCAL.TEST.>", 501),
    ] {
        let rep = r.client.cmd(&format!("RCPT TO:{rcpt}")).await;
        assert_eq!(rep.code, code, "{rcpt}: {rep:?}");
        if code == 550 {
            assert!(rep.text().starts_with("5.1.1 "), "{rep:?}");
        }
    }
    // Nothing valid: DATA is refused.
    let rep = r.client.expect("DATA", 554).await;
    assert!(rep.text().contains("no valid recipients"));
    assert!(r.backend.delivered().is_empty());
}

#[tokio::test]
async fn source_route_is_stripped() {
    let mut r = start_ehlo(config(Kind::Incoming)).await;
    r.client
        .expect("MAIL FROM:<@relay.test:a@remote.test>", 250)
        .await;
    r.client
        .expect("RCPT TO:<@relay.test,@other.test:bob@local.test>", 250)
        .await;
    r.client.expect("DATA", 354).await;
    r.client.send(b"x\r\n.\r\n").await;
    r.client.expect_reply(250).await;
    let d = r.backend.delivered();
    assert_eq!(d[0].env.mail_from.to_string(), "<a@remote.test>");
    assert_eq!(d[0].env.recipients[0].address.to_string(), "bob@local.test");
}

#[tokio::test]
async fn command_order_is_enforced() {
    let mut r = start_with(config(Kind::Incoming), MemBackend::new());
    r.client.expect_reply(220).await;
    r.client.expect("MAIL FROM:<a@remote.test>", 503).await;
    r.client.expect("EHLO client.test", 250).await;
    r.client.expect("RCPT TO:<bob@local.test>", 503).await;
    r.client.expect("DATA", 503).await;
    r.client.expect("MAIL FROM:<a@remote.test>", 250).await;
    let nested = r.client.expect("MAIL FROM:<a@remote.test>", 503).await;
    assert!(nested.text().starts_with("5.5.1 "));
    r.client.expect("RCPT TO:<bob@local.test>", 250).await;
    r.client.expect("RSET", 250).await;
    // RSET ended the transaction.
    r.client.expect("RCPT TO:<bob@local.test>", 503).await;
    // EHLO also resets it.
    r.client.expect("MAIL FROM:<a@remote.test>", 250).await;
    r.client.expect("EHLO again.test", 250).await;
    r.client.expect("RCPT TO:<bob@local.test>", 503).await;
}

#[tokio::test]
async fn noop_vrfy_help_rset_quit() {
    let mut r = start_ehlo(config(Kind::Incoming)).await;
    assert_eq!(r.client.expect("NOOP", 250).await.lines, ["2.0.0 ok"]);
    assert!(
        r.client
            .expect("VRFY bob", 252)
            .await
            .text()
            .contains("cannot verify")
    );
    r.client.expect("HELP", 214).await;
    r.client.expect("RSET", 250).await;
    r.client.expect("EXPN list", 500).await;
    r.client.expect("STARTTLS", 502).await;
    r.client.expect("AUTH PLAIN", 502).await;
    assert_eq!(r.client.expect("QUIT", 221).await.lines, ["2.0.0 bye"]);
    assert!(r.client.closed().await);
}

#[tokio::test]
async fn too_many_errors_closes_with_421() {
    let mut cfg = config(Kind::Incoming);
    cfg.limits.max_errors = 3;
    let mut r = start_ehlo(cfg).await;
    r.client.expect("FOO", 500).await;
    r.client.expect("BAR", 500).await;
    r.client.send(b"BAZ\r\n").await;
    r.client.expect_reply(500).await;
    let last = r.client.expect_reply(421).await;
    assert!(last.text().contains("too many errors"));
    assert!(r.client.closed().await);
    assert!(matches!(r.ended().await, Err(SessionError::TooManyErrors)));
}

#[tokio::test]
async fn long_lines_are_refused_and_drained() {
    let mut r = start_ehlo(config(Kind::Incoming)).await;
    // Threats T4: 1 MB without CRLF, then the CRLF: one 500, then normal.
    let mut big = b"EHLO ".to_vec();
    big.extend(std::iter::repeat_n(b'a', 1 << 20));
    r.client.send(&big).await;
    r.client.send(b"\r\n").await;
    let rep = r.client.expect_reply(500).await;
    assert!(rep.text().starts_with("5.5.2 line too long"), "{rep:?}");
    let mut addr = "MAIL FROM:<".to_string();
    addr.push_str(&"a".repeat(100 * 1024));
    addr.push_str("@remote.test>");
    r.client.expect(&addr, 500).await;
    r.client.expect("NOOP", 250).await;
    // Exactly at the limit (4096 octets with CRLF) is fine.
    let line = format!("NOOP {}", "x".repeat(4096 - 7));
    r.client.expect(&line, 250).await;
    r.client
        .expect(&format!("NOOP {}", "x".repeat(4096 - 6)), 500)
        .await;
}

#[tokio::test]
async fn nul_8bit_and_utf8_in_commands() {
    let mut r = start_ehlo(config(Kind::Incoming)).await;
    // Threats T5/T7.
    r.client.send(b"MAIL FROM:<a\0@remote.test>\r\n").await;
    assert!(r.client.expect_reply(500).await.text().starts_with("5.5.2"));
    r.client.send(b"EHLO a\0b\r\n").await;
    r.client.expect_reply(500).await;
    r.client.send(b"EHLO h\xe9llo\r\n").await;
    r.client.expect_reply(500).await;
    r.client.send("EHLO héllo\r\n".as_bytes()).await;
    r.client.expect_reply(501).await;
    r.client.send(b"MAIL FROM:<\xc0\xaf@remote.test>\r\n").await;
    r.client.expect_reply(500).await;
    let rep = r.client.expect("MAIL FROM:<jö@remote.test>", 553).await;
    assert!(rep.text().starts_with("5.6.7 "));
    r.client
        .expect("MAIL FROM:<jö@remote.test> SMTPUTF8", 250)
        .await;
    r.client.expect("RCPT TO:<jö@bücher.local.test>", 250).await;
    r.client.expect("DATA", 354).await;
    r.client
        .send("Subject: grüße\r\n\r\nx\r\n.\r\n".as_bytes())
        .await;
    r.client.expect_reply(250).await;
    let d = r.backend.delivered();
    let rcpt = &d[0].env.recipients[0].address;
    assert_eq!(rcpt.domain.ascii(), "xn--bcher-kva.local.test");
    assert!(d[0].env.params.smtputf8);
    assert!(String::from_utf8_lossy(&d[0].prefix).contains(" with UTF8SMTP id "));
    // Without SMTPUTF8 on MAIL, a UTF-8 recipient is refused.
    r.client.expect("MAIL FROM:<a@remote.test>", 250).await;
    r.client.expect("RCPT TO:<jö@bücher.local.test>", 553).await;
}

#[tokio::test]
async fn recipient_limit() {
    let mut cfg = config(Kind::Incoming);
    cfg.limits.max_recipients = 1000;
    let mut backend = MemBackend::new();
    for i in 0..1001 {
        backend
            .addresses
            .insert(format!("u{i}@local.test"), "bob".into());
    }
    let mut r = start_with(cfg, backend);
    r.client.expect_reply(220).await;
    r.client.expect("EHLO client.test", 250).await;
    // All pipelined in one write (threats T3).
    let mut w = b"MAIL FROM:<a@remote.test>\r\n".to_vec();
    for i in 0..1001 {
        w.extend_from_slice(format!("RCPT TO:<u{i}@local.test>\r\n").as_bytes());
    }
    r.client.send(&w).await;
    r.client.expect_reply(250).await;
    for _ in 0..1000 {
        r.client.expect_reply(250).await;
    }
    let last = r.client.expect_reply(452).await;
    assert!(
        last.text().starts_with("4.5.3 too many recipients"),
        "{last:?}"
    );
    r.client.expect("DATA", 354).await;
    r.client.send(b"x\r\n.\r\n").await;
    r.client.expect_reply(250).await;
    assert_eq!(r.backend.delivered()[0].env.recipients.len(), 1000);
}

#[tokio::test]
async fn pipelined_transaction_in_one_write() {
    let mut r = start_ehlo(config(Kind::Incoming)).await;
    r.client.send(b"MAIL FROM:<a@remote.test>\r\nRCPT TO:<alice@local.test>\r\nRCPT TO:<bob@local.test>\r\nDATA\r\n").await;
    for code in [250, 250, 250, 354] {
        r.client.expect_reply(code).await;
    }
    // Body, end and the next transaction in one write.
    r.client
        .send(b"one\r\n.\r\nMAIL FROM:<b@remote.test>\r\nRCPT TO:<bob@local.test>\r\nDATA\r\n")
        .await;
    for code in [250, 250, 250, 354] {
        r.client.expect_reply(code).await;
    }
    r.client.send(b"two\r\n.\r\nQUIT\r\n").await;
    r.client.expect_reply(250).await;
    r.client.expect_reply(221).await;
    let d = r.backend.delivered();
    assert_eq!(d.len(), 2);
    assert_eq!(
        (d[0].body.as_slice(), d[1].body.as_slice()),
        (&b"one\r\n"[..], &b"two\r\n"[..])
    );
    assert_eq!(d[0].env.recipients.len(), 2);
}

#[tokio::test]
async fn body_after_failed_data_is_not_read_as_commands() {
    let mut r = start_ehlo(config(Kind::Incoming)).await;
    // Threats T3: the only RCPT fails, and the body follows DATA at once.
    r.client
        .send(b"MAIL FROM:<a@remote.test>\r\nRCPT TO:<nobody@local.test>\r\nDATA\r\nMAIL FROM:<x@ex.test>\r\nRCPT TO:<bob@local.test>\r\nDATA\r\nevil\r\n.\r\n")
        .await;
    r.client.expect_reply(250).await;
    r.client.expect_reply(550).await;
    r.client.expect_reply(554).await;
    r.client.expect_reply(421).await;
    assert!(r.client.closed().await);
    assert!(r.backend.delivered().is_empty());
}

/// Threats T6: each variant inside the body, followed by a smuggled
/// transaction, then the real end and QUIT. Exactly one message or a
/// `500 5.5.2`, and never a second message.
#[tokio::test]
async fn smuggling_table() {
    let cases: &[(&str, &[u8], bool)] = &[
        ("LF.LF", b"\n.\n", true),
        ("LF.CRLF", b"\n.\r\n", true),
        ("CR.CRLF", b"\r.\r\n", true),
        ("CRLF.CR", b"\r\n.\r", true),
        ("CRLF.LF", b"\r\n.\n", true),
        ("LFLF.CRLF", b"\n\n.\r\n", true),
        ("CRLF NUL.CRLF", b"\r\n\0.\r\n", false),
        ("CRLF.NUL CRLF", b"\r\n.\0\r\n", false),
        ("CRLF NUL.CR", b"\r\n\0.\r", true),
        ("CRLF NUL.LF", b"\r\n\0.\n", false),
        ("bare CR", b"a\rb", true),
    ];
    for (name, variant, smuggling) in cases {
        let mut r = start_ehlo(config(Kind::Incoming)).await;
        r.client.expect("MAIL FROM:<a@remote.test>", 250).await;
        r.client.expect("RCPT TO:<alice@local.test>", 250).await;
        r.client.expect("DATA", 354).await;
        let mut body = b"Subject: real\r\n\r\nbody".to_vec();
        body.extend_from_slice(variant);
        body.extend_from_slice(
            b"MAIL FROM:<x@ex.test>\r\nRCPT TO:<bob@local.test>\r\nDATA\r\nSubject: smuggled\r\n",
        );
        body.extend_from_slice(b"\r\n.\r\nQUIT\r\n");
        r.client.send(&body).await;
        let rep = r.client.reply().await.expect("reply to end of data");
        if *smuggling {
            assert_eq!(rep.code, 500, "{name}: {rep:?}");
            assert!(
                rep.text().starts_with("5.5.2 ") && rep.text().contains("SMTP smuggling"),
                "{name}: {rep:?}"
            );
        } else {
            assert_eq!(rep.code, 250, "{name}: {rep:?}");
        }
        // The next reply answers QUIT: nothing smuggled ran as a command.
        let quit = r.client.reply().await.expect("reply to QUIT");
        assert_eq!(quit.code, 221, "{name}: {quit:?}");
        let d = r.backend.delivered();
        assert_eq!(d.len(), usize::from(!smuggling), "{name}");
        if let Some(m) = d.first() {
            assert!(
                String::from_utf8_lossy(&m.body).contains("Subject: smuggled"),
                "{name}"
            );
            assert_eq!(m.env.recipients.len(), 1);
        }
    }
}

#[tokio::test]
async fn dot_then_eof_delivers_nothing() {
    let mut r = start_ehlo(config(Kind::Incoming)).await;
    r.client.expect("MAIL FROM:<a@remote.test>", 250).await;
    r.client.expect("RCPT TO:<alice@local.test>", 250).await;
    r.client.expect("DATA", 354).await;
    r.client.send(b"body\r\n.").await;
    drop(r.client);
    let ended = tokio::time::timeout(WAIT, r.task)
        .await
        .expect("ends")
        .expect("no panic");
    assert!(matches!(ended, Err(SessionError::Eof)), "{ended:?}");
    assert!(r.backend.delivered().is_empty());
}

#[tokio::test]
async fn dot_unstuffing_and_bare_lf() {
    let mut r = start_ehlo(config(Kind::Incoming)).await;
    r.client.expect("MAIL FROM:<a@remote.test>", 250).await;
    r.client.expect("RCPT TO:<alice@local.test>", 250).await;
    r.client.expect("DATA", 354).await;
    // RFC 5321 §4.5.2: a leading dot after CRLF is removed; after a bare
    // LF (not a line end in SMTP) it stays.
    r.client
        .send(b"Subject: x\n\r\n..leading dot\r\n...\r\nbare\n.lf\r\n.\r\n")
        .await;
    r.client.expect_reply(250).await;
    assert_eq!(
        r.backend.delivered()[0].body,
        b"Subject: x\r\n\r\n.leading dot\r\n..\r\nbare\r\n.lf\r\n"
    );
}

#[tokio::test]
async fn size_limit() {
    let mut cfg = config(Kind::Incoming);
    cfg.limits.max_message_size = 100;
    let mut r = start_ehlo(cfg).await;
    let rep = r
        .client
        .expect("MAIL FROM:<a@remote.test> SIZE=101", 552)
        .await;
    assert!(rep.text().starts_with("5.3.4 "));
    let big = format!("{}\r\n", "x".repeat(200));
    let rep = r
        .client
        .send_mail("a@remote.test", "alice@local.test", &big)
        .await;
    assert_eq!(rep.code, 552, "{rep:?}");
    assert!(rep.text().starts_with("5.3.4 "));
    // The session goes on; exactly 100 octets are fine.
    let ok = format!("{}\r\n", "y".repeat(98));
    assert_eq!(
        r.client
            .send_mail("a@remote.test", "alice@local.test", &ok)
            .await
            .code,
        250
    );
    let d = r.backend.delivered();
    assert_eq!(d.len(), 1);
    assert_eq!(d[0].body.len(), 100);
}

#[tokio::test]
async fn bdat_chunks_are_raw() {
    let mut r = start_ehlo(config(Kind::Incoming)).await;
    r.client
        .expect("MAIL FROM:<a@remote.test> BODY=BINARYMIME", 250)
        .await;
    r.client.expect("RCPT TO:<alice@local.test>", 250).await;
    r.client.send(b"BDAT 12\r\nSubject: x\r\n").await;
    assert_eq!(
        r.client.expect_reply(250).await.lines,
        ["2.0.0 12 octets received"]
    );
    // Raw octets: a dot line, bare CR/LF and a command inside a chunk.
    let chunk = b"\r\n.\r\nRSET\r\n\rbare\n\0";
    r.client
        .send(format!("BDAT {} LAST\r\n", chunk.len()).as_bytes())
        .await;
    r.client.send(chunk).await;
    r.client.expect_reply(250).await;
    r.client.expect("NOOP", 250).await;
    let d = r.backend.delivered();
    assert_eq!(d.len(), 1);
    let mut want = b"Subject: x\r\n".to_vec();
    want.extend_from_slice(chunk);
    assert_eq!(d[0].body, want);
    assert_eq!(d[0].env.params.body, Some(Body::BinaryMime));
}

#[tokio::test]
async fn bdat_sequence_errors_consume_the_chunk() {
    let mut r = start_ehlo(config(Kind::Incoming)).await;
    // Without MAIL: refused, but the 6 octets are not read as a command.
    r.client.send(b"BDAT 6\r\nQUIT\r\n").await;
    r.client.expect_reply(503).await;
    r.client.expect("MAIL FROM:<a@remote.test>", 250).await;
    r.client.send(b"BDAT 4 LAST\r\nNOOP").await;
    assert!(
        r.client
            .expect_reply(554)
            .await
            .text()
            .contains("no valid recipients")
    );
    r.client.expect("RCPT TO:<alice@local.test>", 250).await;
    r.client.send(b"BDAT 3\r\nabc").await;
    r.client.expect_reply(250).await;
    // DATA in the middle of chunking ends the transaction.
    r.client.expect("DATA", 503).await;
    r.client.send(b"BDAT 3 LAST\r\nabc").await;
    r.client.expect_reply(503).await;
    assert!(r.backend.delivered().is_empty());
    // BINARYMIME needs BDAT.
    r.client
        .expect("MAIL FROM:<a@remote.test> BODY=BINARYMIME", 250)
        .await;
    r.client.expect("RCPT TO:<alice@local.test>", 250).await;
    r.client.expect("DATA", 503).await;
    // RSET drops the chunks.
    r.client.expect("RSET", 250).await;
    r.client.expect("MAIL FROM:<a@remote.test>", 250).await;
    r.client.expect("RCPT TO:<alice@local.test>", 250).await;
    r.client.send(b"BDAT 3\r\nabc").await;
    r.client.expect_reply(250).await;
    r.client.expect("RSET", 250).await;
    r.client.send(b"BDAT 3 LAST\r\nxyz").await;
    r.client.expect_reply(503).await;
    // A client error ends the chunked transaction too.
    r.client.expect("MAIL FROM:<a@remote.test>", 250).await;
    r.client.expect("RCPT TO:<alice@local.test>", 250).await;
    r.client.send(b"BDAT 3\r\nabc").await;
    r.client.expect_reply(250).await;
    r.client.expect("FOO", 500).await;
    r.client.send(b"BDAT 3 LAST\r\nxyz").await;
    r.client.expect_reply(503).await;
    assert!(r.backend.delivered().is_empty());
}

#[tokio::test]
async fn helo_client_gets_plain_smtp() {
    let mut r = start_with(config(Kind::Incoming), MemBackend::new());
    r.client.expect_reply(220).await;
    r.client.expect("HELO [192.0.2.1]", 250).await;
    r.client.expect("VRFY", 501).await;
    let rep = r
        .client
        .send_mail("a@remote.test", "bob@local.test", MSG)
        .await;
    assert_eq!(rep.code, 250);
    let d = r.backend.delivered();
    let prefix = String::from_utf8(d[0].prefix.clone()).unwrap();
    assert!(
        prefix.starts_with(
            "Received: from [192.0.2.1] ([192.0.2.1])\r\n\tby mx.local.test (moxd) with SMTP id "
        ),
        "{prefix}"
    );
}

#[tokio::test]
async fn bdat_size_limits() {
    let mut cfg = config(Kind::Incoming);
    cfg.limits.max_message_size = 10;
    let mut r = start_ehlo(cfg).await;
    r.client.expect("MAIL FROM:<a@remote.test>", 250).await;
    r.client.expect("RCPT TO:<alice@local.test>", 250).await;
    r.client.send(b"BDAT 6\r\nabcdef").await;
    r.client.expect_reply(250).await;
    r.client.send(b"BDAT 6 LAST\r\nghijkl").await;
    assert!(
        r.client
            .expect_reply(552)
            .await
            .text()
            .starts_with("5.3.4 ")
    );
    r.client.expect("NOOP", 250).await;
    // Threats T6b: a chunk of 2^63 octets is refused at once, and the
    // connection closed rather than read.
    r.client.expect("MAIL FROM:<a@remote.test>", 250).await;
    r.client.expect("RCPT TO:<alice@local.test>", 250).await;
    r.client.send(b"BDAT 9223372036854775808\r\nabc").await;
    r.client.expect_reply(552).await;
    assert!(r.client.closed().await);
    assert!(r.backend.delivered().is_empty());
}

#[tokio::test]
async fn dsn_and_mail_parameters_are_kept() {
    let mut r = start_ehlo(config(Kind::Incoming)).await;
    r.client
        .expect(
            "MAIL FROM:<a@remote.test> RET=HDRS ENVID=QQ+2B1 BODY=8BITMIME SIZE=50",
            250,
        )
        .await;
    r.client
        .expect(
            "RCPT TO:<alice@local.test> NOTIFY=SUCCESS,FAILURE ORCPT=rfc822;alice+40local.test",
            250,
        )
        .await;
    r.client
        .expect("RCPT TO:<bob@local.test> NOTIFY=NEVER", 250)
        .await;
    r.client
        .expect("RCPT TO:<bob@local.test> FOO=BAR", 555)
        .await;
    r.client.expect("DATA", 354).await;
    r.client.send(b"x\r\n.\r\n").await;
    r.client.expect_reply(250).await;
    let d = r.backend.delivered();
    let env = &d[0].env;
    assert_eq!(env.params.ret, Some(Ret::Hdrs));
    assert_eq!(env.params.envid.as_deref(), Some("QQ+1"));
    assert_eq!(env.params.size, Some(50));
    let r0 = &env.recipients[0].params;
    assert_eq!(
        r0.notify,
        Some(Notify {
            success: true,
            failure: true,
            delay: false
        })
    );
    assert_eq!(
        r0.orcpt,
        Some(Orcpt {
            addr_type: "rfc822".into(),
            addr: "alice@local.test".into()
        })
    );
    assert_eq!(env.recipients[1].params.notify, Some(Notify::default()));
    // REQUIRETLS needs TLS (RFC 8689).
    let rep = r
        .client
        .expect("MAIL FROM:<a@remote.test> REQUIRETLS", 530)
        .await;
    assert!(rep.text().starts_with("5.7.10 "));
}

#[tokio::test]
async fn backend_failure_is_451_never_250() {
    let mut r = start_ehlo(config(Kind::Incoming)).await;
    r.backend.fail_deliver.store(true, Ordering::SeqCst);
    let rep = r
        .client
        .send_mail("a@remote.test", "alice@local.test", MSG)
        .await;
    assert_eq!(rep.code, 451);
    assert!(rep.text().starts_with("4.3.0 "));
    r.backend.fail_deliver.store(false, Ordering::SeqCst);
    assert_eq!(
        r.client
            .send_mail("a@remote.test", "alice@local.test", MSG)
            .await
            .code,
        250
    );
    assert_eq!(r.backend.delivered().len(), 1);
}

#[tokio::test]
async fn pedantic_8bit_needs_8bitmime() {
    let mut cfg = config(Kind::Incoming);
    cfg.pedantic = true;
    let mut r = start_ehlo(cfg).await;
    let rep = r
        .client
        .send_mail(
            "a@remote.test",
            "alice@local.test",
            "Subject: \u{e9}\r\n\r\nx\r\n",
        )
        .await;
    assert_eq!(rep.code, 554, "{rep:?}");
    assert!(rep.text().starts_with("5.6.0 "));
    r.client
        .expect("MAIL FROM:<a@remote.test> BODY=8BITMIME", 250)
        .await;
    r.client.expect("RCPT TO:<alice@local.test>", 250).await;
    r.client.expect("DATA", 354).await;
    r.client
        .send("Subject: \u{e9}\r\n\r\nx\r\n.\r\n".as_bytes())
        .await;
    r.client.expect_reply(250).await;
    assert!(r.backend.delivered()[0].env.eight_bit);
}

#[tokio::test]
async fn localserve_fake_failures() {
    let mut cfg = config(Kind::Incoming);
    cfg.localserve = true;
    let mut backend = MemBackend::new();
    for lp in [
        "temperror",
        "xpermerror",
        "rcptto550",
        "user452",
        "queuetemperror",
        "timeout",
        "mailfrom421",
    ] {
        backend
            .addresses
            .insert(format!("{lp}@local.test"), "mox".into());
    }
    let mut r = start_with(cfg, backend);
    r.client.expect_reply(220).await;
    r.client.expect("EHLO client.test", 250).await;
    for (rcpt, code) in [
        ("temperror", 451),
        ("xpermerror", 550),
        ("user452", 452),
        ("timeout", 451),
    ] {
        let rep = r
            .client
            .send_mail("a@remote.test", &format!("{rcpt}@local.test"), MSG)
            .await;
        assert_eq!(rep.code, code, "{rcpt}: {rep:?}");
    }
    r.client.expect("MAIL FROM:<a@remote.test>", 250).await;
    r.client.expect("RCPT TO:<rcptto550@local.test>", 550).await;
    r.client.expect("RSET", 250).await;
    let rep = r
        .client
        .expect("MAIL FROM:<mailfrom421@remote.test>", 421)
        .await;
    assert!(rep.text().starts_with("4.0.0 "));
    assert_eq!(
        r.client
            .send_mail("a@remote.test", "queuetemperror@local.test", MSG)
            .await
            .code,
        250
    );
    let d = r.backend.delivered();
    assert_eq!(d.len(), 1);
    assert_eq!(
        d[0].env.recipients[0].address.local.as_str(),
        "queuetemperror"
    );
}

#[tokio::test]
async fn submission_requires_auth_before_mail() {
    let mut r = start_ehlo(config(Kind::Submission)).await;
    let rep = r.client.expect("MAIL FROM:<alice@local.test>", 530).await;
    assert!(rep.text().starts_with("5.7.0 "));
    // Without TLS and without plain-text AUTH allowed: STARTTLS first.
    r.client
        .expect("AUTH PLAIN AGFsaWNlQGxvY2FsLnRlc3QAc2VjcmV0", 530)
        .await;
}

#[tokio::test]
async fn early_talker_is_rejected() {
    let mut cfg = config(Kind::Incoming);
    cfg.limits.greeting_delay = Duration::from_millis(300);
    let mut r = start_with(cfg, MemBackend::new());
    r.client.send(b"EHLO eager.test\r\n").await;
    let rep = r.client.expect_reply(554).await;
    assert!(rep.text().contains("early talker"));
    assert!(r.client.closed().await);
    // A patient client is served.
    let mut cfg = config(Kind::Incoming);
    cfg.limits.greeting_delay = Duration::from_millis(50);
    let mut r = start_with(cfg, MemBackend::new());
    r.client.expect_reply(220).await;
    r.client.expect("EHLO patient.test", 250).await;
}

#[tokio::test]
async fn command_timeout_gives_421() {
    let mut cfg = config(Kind::Incoming);
    cfg.limits.command_timeout = Duration::from_millis(100);
    let mut r = start_ehlo(cfg).await;
    let rep = r.client.expect_reply(421).await;
    assert!(rep.text().starts_with("4.4.2 "));
    assert!(r.client.closed().await);
    assert!(matches!(r.ended().await, Err(SessionError::Timeout)));
}

#[tokio::test]
async fn submission_adds_message_id_and_date() {
    let mut cfg = config(Kind::Submission);
    cfg.auth_without_tls = true;
    let mut r = start_ehlo(cfg).await;
    // "\0alice@local.test\0secret"
    r.client
        .expect("AUTH PLAIN AGFsaWNlQGxvY2FsLnRlc3QAc2VjcmV0", 235)
        .await;
    let rep = r
        .client
        .send_mail("alice.other@local.test", "someone@remote.test", MSG)
        .await;
    assert_eq!(rep.code, 250, "{rep:?}");
    let with = "Message-Id: <x@y>\r\ndate: Thu, 1 Jan 1970 00:00:00 +0000\r\n\r\nx\r\n";
    assert_eq!(
        r.client
            .send_mail("alice@local.test", "bob@local.test", with)
            .await
            .code,
        250
    );
    let d = r.backend.delivered();
    let p0 = String::from_utf8(d[0].prefix.clone()).unwrap();
    assert!(
        p0.contains("\r\nMessage-ID: <") && p0.contains(&format!("@{HOST}>\r\n")),
        "{p0}"
    );
    assert!(p0.contains("\r\nDate: "), "{p0}");
    assert!(p0.contains(" with ESMTPA id "), "{p0}");
    assert!(!p0.contains("for <"), "no recipient named on submission");
    // Remote recipient queued (no account), local one resolved.
    assert_eq!(d[0].env.recipients[0].account, None);
    assert_eq!(d[0].env.account.as_deref(), Some("alice"));
    assert_eq!(d[0].body, MSG.as_bytes());
    let p1 = String::from_utf8(d[1].prefix.clone()).unwrap();
    assert!(!p1.contains("Message-ID") && !p1.contains("Date:"), "{p1}");
    assert_eq!(d[1].env.recipients[0].account.as_deref(), Some("bob"));
}

#[tokio::test]
async fn pedantic_submission_must_parse_as_mime() {
    let mut cfg = config(Kind::Submission);
    cfg.auth_without_tls = true;
    cfg.pedantic = true;
    let mut r = start_ehlo(cfg).await;
    r.client
        .expect("AUTH PLAIN AGFsaWNlQGxvY2FsLnRlc3QAc2VjcmV0", 235)
        .await;
    let broken = "this is not a header\r\n\r\nbody\r\n";
    let rep = r
        .client
        .send_mail("alice@local.test", "bob@local.test", broken)
        .await;
    assert_eq!(rep.code, 554, "{rep:?}");
    assert!(rep.text().contains("MIME"), "{rep:?}");
    assert!(r.backend.delivered().is_empty());
    let no_boundary = "Content-Type: multipart/mixed\r\n\r\nx\r\n";
    let rep = r
        .client
        .send_mail("alice@local.test", "bob@local.test", no_boundary)
        .await;
    assert_eq!(rep.code, 554, "{rep:?}");
    let rep = r
        .client
        .send_mail("alice@local.test", "bob@local.test", MSG)
        .await;
    assert_eq!(rep.code, 250, "{rep:?}");
    assert_eq!(r.backend.delivered().len(), 1);
}
