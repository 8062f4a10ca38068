//! The client against scripted peers on 127.0.0.1: pipelined transaction
//! with a result per recipient and dot-stuffed data, HELO fallback,
//! STARTTLS with injected plaintext (threat T2), hostile greetings.

use std::net::SocketAddr;
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncWrite, AsyncWriteExt, BufReader};
use tokio::net::TcpListener;

use super::*;
use crate::queue::message::Message;

const T: Duration = Duration::from_secs(10);

fn timeouts() -> Timeouts {
    Timeouts::rfc5321(Some(T))
}

async fn listener() -> (TcpListener, SocketAddr) {
    let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let a = l.local_addr().unwrap();
    (l, a)
}

async fn line<R: AsyncRead + Unpin>(r: &mut BufReader<R>) -> String {
    let mut s = String::new();
    tokio::time::timeout(T, r.read_line(&mut s))
        .await
        .unwrap()
        .unwrap();
    s
}

async fn send<W: AsyncWrite + Unpin>(w: &mut W, b: &[u8]) {
    w.write_all(b).await.unwrap();
    w.flush().await.unwrap();
}

fn message(body: &[u8]) -> (tempfile::TempDir, Message) {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("m");
    std::fs::write(&p, body).unwrap();
    let prefix = b"Received: by test\r\n".to_vec();
    let size = (prefix.len() + body.len()) as u64;
    (
        dir,
        Message::new(prefix, std::fs::File::open(&p).unwrap(), size),
    )
}

fn rcpt(a: &str) -> RcptTo {
    RcptTo {
        address: a.into(),
        params: String::new(),
    }
}

#[tokio::test]
async fn pipelined_transaction_gives_a_result_per_recipient() {
    let (l, addr) = listener().await;
    let server = tokio::spawn(async move {
        let (s, _) = l.accept().await.unwrap();
        let (r, mut w) = s.into_split();
        let mut r = BufReader::new(r);
        send(&mut w, b"220 mx ESMTP\r\n").await;
        assert_eq!(line(&mut r).await, "EHLO mail.example.org\r\n");
        send(&mut w, b"250-mx\r\n250-PIPELINING\r\n250 SIZE 1000\r\n").await;
        // MAIL and every RCPT arrive before any reply is sent.
        let mut cmds = Vec::new();
        for _ in 0..4 {
            cmds.push(line(&mut r).await);
        }
        assert_eq!(
            cmds,
            [
                "MAIL FROM:<a@example.org> SIZE=60\r\n",
                "RCPT TO:<ok@x.example>\r\n",
                "RCPT TO:<no@x.example>\r\n",
                "RCPT TO:<later@x.example>\r\n"
            ]
        );
        send(
            &mut w,
            b"250 ok\r\n250 ok\r\n550 5.1.1 no\r\n451 4.2.0 later\r\n",
        )
        .await;
        assert_eq!(line(&mut r).await, "DATA\r\n");
        send(&mut w, b"354 go\r\n").await;
        let mut data = String::new();
        loop {
            let l = line(&mut r).await;
            if l == ".\r\n" {
                break;
            }
            data.push_str(&l);
        }
        send(&mut w, b"250 2.0.0 queued\r\n").await;
        assert_eq!(line(&mut r).await, "QUIT\r\n");
        send(&mut w, b"221 bye\r\n").await;
        data
    });
    let (_d, msg) = message(b"Subject: x\r\n\r\n.dot\r\nend\r\n");
    let mut c = Client::connect(addr, "mx", "mail.example.org", None, timeouts())
        .await
        .unwrap();
    assert!(c.caps.pipelining && c.tls.is_none());
    assert_eq!(c.caps.size, Some(1000));
    let out = c
        .transaction(
            "a@example.org",
            " SIZE=60",
            &[
                rcpt("ok@x.example"),
                rcpt("no@x.example"),
                rcpt("later@x.example"),
            ],
            &msg,
        )
        .await;
    c.quit().await;
    assert!(
        matches!(&out[0], RcptOutcome::Delivered(r) if r.code == 250),
        "{out:?}"
    );
    assert!(
        matches!(&out[1], RcptOutcome::Refused { step: Step::Rcpt, reply } if reply.code == 550),
        "{out:?}"
    );
    assert!(
        matches!(&out[2], RcptOutcome::Refused { step: Step::Rcpt, reply } if reply.code == 451),
        "{out:?}"
    );
    let data = server.await.unwrap();
    assert_eq!(
        data,
        "Received: by test\r\nSubject: x\r\n\r\n..dot\r\nend\r\n"
    );
}

#[tokio::test]
async fn ehlo_refused_falls_back_to_helo_and_data_refusal_counts_for_all() {
    let (l, addr) = listener().await;
    tokio::spawn(async move {
        let (s, _) = l.accept().await.unwrap();
        let (r, mut w) = s.into_split();
        let mut r = BufReader::new(r);
        send(&mut w, b"220 old\r\n").await;
        assert!(line(&mut r).await.starts_with("EHLO "));
        send(&mut w, b"502 what\r\n").await;
        assert!(line(&mut r).await.starts_with("HELO "));
        send(&mut w, b"250 old\r\n").await;
        // No pipelining: one command at a time.
        assert!(line(&mut r).await.starts_with("MAIL FROM:<>"));
        send(&mut w, b"250 ok\r\n").await;
        assert!(line(&mut r).await.starts_with("RCPT TO:"));
        send(&mut w, b"250 ok\r\n").await;
        assert_eq!(line(&mut r).await, "DATA\r\n");
        send(&mut w, b"554 no thanks\r\n").await;
    });
    let (_d, msg) = message(b"x\r\n");
    let mut c = Client::connect(addr, "mx", "m.example", None, timeouts())
        .await
        .unwrap();
    assert_eq!(c.caps, Capabilities::default());
    let out = c.transaction("", "", &[rcpt("b@x.example")], &msg).await;
    assert!(
        matches!(&out[0], RcptOutcome::Refused { step: Step::Data, reply } if reply.code == 554),
        "{out:?}"
    );
}

#[tokio::test]
async fn starttls_discards_injected_plaintext_and_asks_ehlo_again() {
    let ck = rcgen::generate_simple_self_signed(vec!["mx.example".to_string()]).unwrap();
    let material = ipc::config::TlsMaterial {
        cert_chain_pem: ck.cert.pem().into_bytes(),
        key_pem: ck.signing_key.serialize_pem().into_bytes(),
    };
    let acceptor =
        tokio_rustls::TlsAcceptor::from(crate::worker::tls_server_config(&material).unwrap());
    let (l, addr) = listener().await;
    tokio::spawn(async move {
        let (mut s, _) = l.accept().await.unwrap();
        send(&mut s, b"220 mx\r\n").await;
        let mut buf = [0u8; 512];
        let n = s.read_buf_line(&mut buf).await;
        assert!(buf[..n].starts_with(b"EHLO "));
        send(&mut s, b"250-mx\r\n250 STARTTLS\r\n").await;
        let n = s.read_buf_line(&mut buf).await;
        assert_eq!(&buf[..n], b"STARTTLS\r\n");
        // Threat T2: the 220 and fake EHLO lines in one segment.
        send(&mut s, b"220 go\r\n250-fake\r\n250 PIPELINING\r\n").await;
        let tls = acceptor.accept(s).await.unwrap();
        let (r, mut w) = tokio::io::split(tls);
        let mut r = BufReader::new(r);
        assert!(
            line(&mut r).await.starts_with("EHLO "),
            "EHLO again after TLS"
        );
        send(&mut w, b"250-real\r\n250 8BITMIME\r\n").await;
        assert_eq!(line(&mut r).await, "QUIT\r\n");
        send(&mut w, b"221 bye\r\n").await;
    });
    let tls = TlsClient::with_roots(rustls::RootCertStore::empty());
    let c = Client::connect(addr, "mx.example", "m.example", Some(&tls), timeouts())
        .await
        .unwrap();
    assert!(
        c.caps.eight_bit_mime,
        "capabilities from the EHLO after TLS"
    );
    assert!(!c.caps.pipelining, "the injected reply was discarded");
    let info = c.tls.clone().expect("TLS active");
    assert!(matches!(info.cert, CertVerdict::Unverified(_)), "{info:?}");
    assert!(info.version.starts_with("TLS1."), "{info:?}");
    c.quit().await;
}

#[tokio::test]
async fn hostile_or_failing_greetings_are_errors() {
    for (greeting, permanent) in [
        (&b"999 hi\r\n"[..], false),
        (b"554 go away\r\n", true),
        (b"421 busy\r\n", false),
        (b"220-a\r\n554 b\r\n", false),
    ] {
        let (l, addr) = listener().await;
        let g = greeting.to_vec();
        tokio::spawn(async move {
            let (mut s, _) = l.accept().await.unwrap();
            send(&mut s, &g).await;
            tokio::time::sleep(T).await;
        });
        let e = Client::connect(addr, "mx", "m.example", None, timeouts())
            .await
            .err()
            .expect("refused");
        assert_eq!(e.is_permanent(), permanent, "{greeting:?}: {e}");
    }
    // Nothing listening: a connection error, temporary.
    let (l, addr) = listener().await;
    drop(l);
    let e = Client::connect(addr, "mx", "m.example", None, timeouts())
        .await
        .err()
        .expect("refused");
    assert!(
        matches!(e, SessionError::Connect(_)) && !e.is_permanent(),
        "{e}"
    );
}

/// Reads one line byte by byte (so nothing after it is consumed).
trait ReadLineRaw {
    async fn read_buf_line(&mut self, buf: &mut [u8]) -> usize;
}

impl ReadLineRaw for tokio::net::TcpStream {
    async fn read_buf_line(&mut self, buf: &mut [u8]) -> usize {
        use tokio::io::AsyncReadExt;
        let mut n = 0;
        while n < buf.len() {
            let k = tokio::time::timeout(T, self.read(&mut buf[n..n + 1]))
                .await
                .unwrap()
                .unwrap();
            if k == 0 {
                break;
            }
            n += 1;
            if buf[n - 1] == b'\n' {
                break;
            }
        }
        n
    }
}
