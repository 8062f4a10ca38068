//! Outbound delivery end to end: a real `moxd serve` whose queue worker
//! asks a test DNS server (hickory-server, in this process, on
//! 127.0.53.N:53) for MX records that point at fake SMTP peers (written
//! here, on 127.0.25.N:25): retry after 4xx, DSN after 5xx, timeout of a
//! silent peer, null MX and NXDOMAIN, MX fallback, `moxctl queue`, kill -9
//! of the queue worker in the middle of a delivery, and localserve.
//! Messages are submitted through the real submission port with AUTH.
//!
//! Port 25 and 53 on 127.0.0.0/8 need root (the queue's landlock rules
//! only allow connecting to those ports); without root these tests say
//! so and check nothing.

mod common;

use std::io::{BufRead, BufReader, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::str::FromStr;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use common::smtp_client::SmtpClient;
use common::{Server, SmtpServer, messages_containing, set_password, wait_for};
use hickory_server::Server as DnsServer;
use hickory_server::proto::rr::rdata::{A, MX, SOA};
use hickory_server::proto::rr::{LowerName, Name, RData, Record};
use hickory_server::store::in_memory::InMemoryZoneHandler;
use hickory_server::zone_handler::{AxfrPolicy, Catalog, ZoneHandler, ZoneType};
use ipc::control::{ControlReply, ControlRequest};
use ipc::store::{QueueEntry, RecipientState};

const ALICE: &str = "alice@example.org";
const ALICE_PASSWORD: &str = "queue-test-password";
/// The test zone; every scenario is a name below it.
const ZONE: &str = "queue.test.";
/// Upper bound on waiting for a delivery, a DSN or a retry.
const WAIT: Duration = Duration::from_secs(60);
/// Per read/write on a fake peer's connection.
const PEER_IO_TIMEOUT: Duration = Duration::from_secs(30);
/// Most commands a fake peer handles on one connection.
const PEER_MAX_COMMANDS: usize = 1000;

fn root_or_skip(test: &str) -> bool {
    if common::is_root() {
        return true;
    }
    eprintln!("{test}: not root: ports 25 and 53 cannot be bound; nothing checked");
    false
}

// ---------------------------------------------------------------------------
// Test DNS server.

/// hickory-server serving `queue.test` on `ip:53` from its own runtime.
struct TestDns {
    addr: SocketAddr,
    _rt: tokio::runtime::Runtime,
}

fn name(s: &str) -> Name {
    Name::from_str(s).expect("test name")
}

fn mx(owner: &str, pref: u16, exchange: &str) -> Record {
    Record::from_rdata(name(owner), 60, RData::MX(MX::new(pref, name(exchange))))
}

fn a(owner: &str, ip: Ipv4Addr) -> Record {
    Record::from_rdata(name(owner), 60, RData::A(A(ip)))
}

impl TestDns {
    fn start(ip: Ipv4Addr, records: Vec<Record>) -> TestDns {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .expect("dns runtime");
        let origin = name(ZONE);
        let mut zone: InMemoryZoneHandler =
            InMemoryZoneHandler::empty(origin.clone(), ZoneType::Primary, AxfrPolicy::Deny);
        let soa = SOA::new(
            name("ns.queue.test."),
            name("hostmaster.queue.test."),
            1,
            3600,
            600,
            86400,
            60,
        );
        assert!(zone.upsert_mut(Record::from_rdata(origin.clone(), 60, RData::SOA(soa)), 1));
        for r in records {
            assert!(zone.upsert_mut(r, 1), "record accepted");
        }
        let mut catalog = Catalog::new();
        let handler: Arc<dyn ZoneHandler> = Arc::new(zone);
        catalog.upsert(LowerName::new(&origin), vec![handler]);
        let addr = SocketAddr::from((ip, 53));
        rt.block_on(async {
            let sock = tokio::net::UdpSocket::bind(addr)
                .await
                .expect("bind test DNS :53");
            let mut server = DnsServer::new(catalog);
            server.register_socket(sock);
            tokio::spawn(async move {
                let _ = server.block_until_done().await;
            });
        });
        TestDns { addr, _rt: rt }
    }
}

// ---------------------------------------------------------------------------
// Fake SMTP peers.

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    /// 250 to everything.
    Accept,
    /// 451 to RCPT on the first connection, then like Accept.
    TempFirst,
    /// A hostile 550 to RCPT (header injection attempt, threat T2c).
    Reject,
    /// Accepts the TCP connection and never says anything.
    Hang,
    /// First connection: takes the message and never answers the final
    /// dot; later connections: like Accept.
    HoldFirstData,
}

/// What a fake peer received in one transaction.
#[derive(Debug, Clone)]
struct Received {
    rcpts: Vec<String>,
    /// The message after dot-unstuffing, without the final dot line.
    data: Vec<u8>,
    /// The peer answered 250 to it.
    acknowledged: bool,
}

struct Peer {
    received: Arc<Mutex<Vec<Received>>>,
    connections: Arc<AtomicUsize>,
    rcpt_attempts: Arc<AtomicUsize>,
    stop: Arc<AtomicBool>,
}

impl Drop for Peer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
    }
}

const EHLO_REPLY: &[u8] =
    b"250-mx.queue.test\r\n250-PIPELINING\r\n250-8BITMIME\r\n250-SIZE 50000000\r\n250 ENHANCEDSTATUSCODES\r\n";

impl Peer {
    fn start(ip: Ipv4Addr, mode: Mode) -> Peer {
        let l = TcpListener::bind((ip, 25)).expect("bind fake peer :25");
        l.set_nonblocking(true).expect("nonblocking");
        let p = Peer {
            received: Arc::default(),
            connections: Arc::default(),
            rcpt_attempts: Arc::default(),
            stop: Arc::default(),
        };
        let (received, connections, rcpts, stop) = (
            p.received.clone(),
            p.connections.clone(),
            p.rcpt_attempts.clone(),
            p.stop.clone(),
        );
        std::thread::spawn(move || {
            while !stop.load(Ordering::SeqCst) {
                match l.accept() {
                    Ok((s, _)) => {
                        let n = connections.fetch_add(1, Ordering::SeqCst);
                        let (received, rcpts, stop) =
                            (received.clone(), rcpts.clone(), stop.clone());
                        std::thread::spawn(move || {
                            let _ = serve_peer(s, mode, n, &received, &rcpts, &stop);
                        });
                    }
                    Err(_) => std::thread::sleep(Duration::from_millis(10)),
                }
            }
        });
        p
    }

    fn received(&self) -> Vec<Received> {
        self.received.lock().unwrap().clone()
    }
}

fn serve_peer(
    s: TcpStream,
    mode: Mode,
    conn_no: usize,
    received: &Mutex<Vec<Received>>,
    rcpt_attempts: &AtomicUsize,
    stop: &AtomicBool,
) -> std::io::Result<()> {
    s.set_read_timeout(Some(PEER_IO_TIMEOUT))?;
    s.set_write_timeout(Some(PEER_IO_TIMEOUT))?;
    let mut w = s.try_clone()?;
    let mut r = BufReader::new(s);
    if mode == Mode::Hang {
        // Say nothing until the test ends (bounded by the read timeout).
        let t0 = Instant::now();
        while !stop.load(Ordering::SeqCst) && t0.elapsed() < WAIT {
            std::thread::sleep(Duration::from_millis(20));
        }
        return Ok(());
    }
    w.write_all(b"220 mx.queue.test ESMTP fake\r\n")?;
    let mut rcpts = Vec::new();
    for _ in 0..PEER_MAX_COMMANDS {
        let mut line = String::new();
        if r.read_line(&mut line)? == 0 {
            return Ok(());
        }
        let cmd = line.trim_end().to_string();
        let upper = cmd.to_ascii_uppercase();
        if upper.starts_with("EHLO") {
            w.write_all(EHLO_REPLY)?;
        } else if upper.starts_with("MAIL FROM:") {
            rcpts.clear();
            w.write_all(b"250 2.1.0 ok\r\n")?;
        } else if upper.starts_with("RCPT TO:") {
            rcpt_attempts.fetch_add(1, Ordering::SeqCst);
            let addr = cmd[8..]
                .trim_start_matches('<')
                .split('>')
                .next()
                .unwrap_or("")
                .to_string();
            match mode {
                Mode::TempFirst if conn_no == 0 => {
                    w.write_all(b"451 4.7.1 greylisted, try again\r\n")?
                }
                // Threat T2c: HTML and a would-be header line in the text.
                Mode::Reject => w.write_all(
                    b"550-5.1.1 <b>no such user</b>\r\n550 5.1.1 Subject: injected\r\n",
                )?,
                _ => {
                    rcpts.push(addr);
                    w.write_all(b"250 2.1.5 ok\r\n")?;
                }
            }
        } else if upper == "DATA" {
            if rcpts.is_empty() {
                w.write_all(b"554 5.5.1 no valid recipients\r\n")?;
                continue;
            }
            w.write_all(b"354 go ahead\r\n")?;
            let mut data = Vec::new();
            loop {
                let mut l = Vec::new();
                if r.read_until(b'\n', &mut l)? == 0 {
                    return Ok(());
                }
                if l == b".\r\n" {
                    break;
                }
                let l = if l.starts_with(b"..") {
                    &l[1..]
                } else {
                    &l[..]
                };
                data.extend_from_slice(l);
            }
            let hold = mode == Mode::HoldFirstData && conn_no == 0;
            received.lock().unwrap().push(Received {
                rcpts: rcpts.clone(),
                data,
                acknowledged: !hold,
            });
            if hold {
                let t0 = Instant::now();
                while !stop.load(Ordering::SeqCst) && t0.elapsed() < WAIT {
                    std::thread::sleep(Duration::from_millis(20));
                }
                return Ok(());
            }
            w.write_all(b"250 2.0.0 queued as fake\r\n")?;
        } else if upper == "QUIT" {
            w.write_all(b"221 2.0.0 bye\r\n")?;
            return Ok(());
        } else if upper == "RSET" || upper == "NOOP" {
            w.write_all(b"250 2.0.0 ok\r\n")?;
        } else {
            w.write_all(b"502 5.5.2 not implemented\r\n")?;
        }
    }
    Ok(())
}

// ---------------------------------------------------------------------------
// moxd and submission.

/// A `moxd serve` with submission, asking `dns`, retrying after 1 s, with
/// every SMTP timeout capped at `timeout_limit_secs`; `more` is added to
/// its `[queue]` table.
fn serve(dns: &TestDns, timeout_limit_secs: u64, more: &str) -> SmtpServer {
    let extra = format!(
        "resolver = \"{}\"\n[queue]\nretry_initial_secs = 1\ntimeout_limit_secs = {timeout_limit_secs}\n{more}\n",
        dns.addr
    );
    let s = Server::serve_smtp(&extra);
    set_password(&s, "alice", ALICE_PASSWORD);
    s
}

fn b64(s: &str) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(s)
}

/// Submits `msg` (CRLF, not dot-stuffed) from alice to `rcpts` through
/// the submission port with STARTTLS and AUTH PLAIN.
fn submit(s: &SmtpServer, rcpts: &[&str], msg: &[u8]) {
    let mut c = SmtpClient::greeted(s.submission);
    c.ehlo("client.example");
    c.starttls();
    c.ehlo("client.example");
    c.expect(
        &format!(
            "AUTH PLAIN {}",
            b64(&format!("\0{ALICE}\0{ALICE_PASSWORD}"))
        ),
        235,
    );
    c.expect(&format!("MAIL FROM:<{ALICE}>"), 250);
    for r in rcpts {
        c.expect(&format!("RCPT TO:<{r}>"), 250);
    }
    c.expect("DATA", 354);
    let mut stuffed = Vec::new();
    for line in msg.split_inclusive(|&b| b == b'\n') {
        if line.starts_with(b".") {
            stuffed.push(b'.');
        }
        stuffed.extend_from_slice(line);
    }
    c.send(&stuffed);
    c.send(b".\r\n");
    let r = c.reply();
    assert_eq!(r.code, 250, "submission: {r:?}");
    c.expect("QUIT", 221);
}

fn message(tag: &str) -> Vec<u8> {
    format!(
        "From: <{ALICE}>\r\nTo: <bob@example.net>\r\nSubject: {tag}\r\n\r\nHello {tag}.\r\n.leading dot line\r\n..two dots\r\nlast line\r\n"
    )
    .into_bytes()
}

fn queue_entries(s: &Server, domain: Option<&str>) -> Vec<QueueEntry> {
    match s
        .call(
            ControlRequest::QueueEntries {
                domain: domain.map(str::to_string),
            },
            &[],
        )
        .0
    {
        ControlReply::QueueEntries(q) => q,
        other => panic!("queue entries: {other:?}"),
    }
}

fn wait_queue_empty(s: &Server) {
    wait_for(WAIT, || queue_entries(s, None).is_empty().then_some(())).unwrap_or_else(|| {
        panic!(
            "queue not empty: {:?}\n{}",
            queue_entries(s, None),
            s.output_text()
        )
    });
}

/// The DSN in alice's Inbox whose text contains `needle`.
fn wait_dsn(s: &Server, needle: &str) -> common::StoredMessage {
    wait_for(WAIT, || {
        messages_containing(s, "alice", needle.as_bytes())
            .into_iter()
            .find(|m| m.contains(b"multipart/report"))
    })
    .unwrap_or_else(|| panic!("no DSN containing {needle:?}\n{}", s.output_text()))
}

/// The delivery-status part of a DSN, checked to be a proper RFC 3464 report.
fn delivery_status(m: &common::StoredMessage) -> String {
    use mail_parser::{MessageParser, MimeHeaders};
    let msg = MessageParser::default().parse(&m.file).expect("DSN parses");
    let ct = msg.content_type().expect("DSN content type");
    assert_eq!((ct.ctype(), ct.subtype()), ("multipart", Some("report")));
    assert_eq!(ct.attribute("report-type"), Some("delivery-status"));
    assert_eq!(
        msg.header_raw("Auto-Submitted").map(str::trim),
        Some("auto-replied")
    );
    assert_eq!(
        msg.header_raw("To").map(str::trim),
        Some(format!("<{ALICE}>").as_str())
    );
    let parts: Vec<_> = msg.parts.iter().skip(1).collect();
    assert_eq!(parts.len(), 3, "human text, delivery-status, original");
    let ds = parts[1].content_type().expect("part type");
    assert_eq!(
        (ds.ctype(), ds.subtype()),
        ("message", Some("delivery-status"))
    );
    String::from_utf8_lossy(parts[1].contents()).into_owned()
}

// ---------------------------------------------------------------------------
// Tests.

#[test]
fn retry_after_4xx_and_mx_fallback_deliver_byte_identical() {
    if !root_or_skip("retry_after_4xx") {
        return;
    }
    let dns = TestDns::start(
        Ipv4Addr::new(127, 0, 53, 1),
        vec![
            // Preference 10 has nothing listening; 20 greylists once.
            mx("temp.queue.test.", 10, "dead.queue.test."),
            mx("temp.queue.test.", 20, "mx1.queue.test."),
            a("dead.queue.test.", Ipv4Addr::new(127, 0, 25, 10)),
            a("mx1.queue.test.", Ipv4Addr::new(127, 0, 25, 1)),
        ],
    );
    let peer = Peer::start(Ipv4Addr::new(127, 0, 25, 1), Mode::TempFirst);
    let s = serve(&dns, 5, "");
    let msg = message("retry");
    submit(&s, &["bob@temp.queue.test"], &msg);
    let got = wait_for(WAIT, || {
        peer.received().into_iter().find(|r| r.acknowledged)
    })
    .unwrap_or_else(|| panic!("not delivered:\n{}", s.output_text()));
    assert_eq!(got.rcpts, ["bob@temp.queue.test"]);
    assert!(
        got.data.ends_with(&msg),
        "body byte-identical after the prefix"
    );
    assert!(
        got.data.starts_with(b"Received: "),
        "{}",
        String::from_utf8_lossy(&got.data)
    );
    assert!(
        peer.connections.load(Ordering::SeqCst) >= 2,
        "a retry happened"
    );
    assert_eq!(
        peer.rcpt_attempts.load(Ordering::SeqCst),
        2,
        "451 once, then 250"
    );
    wait_queue_empty(&s);
    assert_eq!(peer.received().len(), 1, "delivered exactly once");
}

#[test]
fn permanent_failure_sends_dsn_with_escaped_peer_text() {
    if !root_or_skip("permanent_failure") {
        return;
    }
    let dns = TestDns::start(
        Ipv4Addr::new(127, 0, 53, 2),
        vec![
            mx("reject.queue.test.", 10, "mx2.queue.test."),
            a("mx2.queue.test.", Ipv4Addr::new(127, 0, 25, 2)),
        ],
    );
    let peer = Peer::start(Ipv4Addr::new(127, 0, 25, 2), Mode::Reject);
    let s = serve(&dns, 5, "");
    submit(&s, &["bob@reject.queue.test"], &message("reject"));
    let dsn = wait_dsn(&s, "bob@reject.queue.test");
    let status = delivery_status(&dsn);
    assert!(
        status.contains("Final-Recipient: rfc822; bob@reject.queue.test\r\n"),
        "{status}"
    );
    assert!(
        status.contains("Action: failed\r\nStatus: 5.1.1\r\n"),
        "{status}"
    );
    assert!(
        status.contains("Remote-MTA: dns; mx2.queue.test\r\n"),
        "{status}"
    );
    assert!(
        status.contains(
            "Diagnostic-Code: smtp; 550 5.1.1 <b>no such user</b> / 5.1.1 Subject: injected\r\n"
        ),
        "{status}"
    );
    let text = String::from_utf8_lossy(&dsn.file);
    assert!(
        !text.contains("\nSubject: injected"),
        "no injected header: {text}"
    );
    assert!(text.contains("Subject: reject"), "original attached");
    wait_queue_empty(&s);
    assert!(peer.received().is_empty());
    assert_eq!(
        peer.rcpt_attempts.load(Ordering::SeqCst),
        1,
        "5xx is not retried"
    );
}

#[test]
fn null_mx_and_nxdomain_fail_at_once() {
    if !root_or_skip("null_mx") {
        return;
    }
    let dns = TestDns::start(
        Ipv4Addr::new(127, 0, 53, 3),
        vec![Record::from_rdata(
            name("nullmx.queue.test."),
            60,
            RData::MX(MX::new(0, Name::root())),
        )],
    );
    let s = serve(&dns, 5, "");
    submit(
        &s,
        &["bob@nullmx.queue.test", "carol@nx.queue.test"],
        &message("nomx"),
    );
    let null = wait_dsn(&s, "bob@nullmx.queue.test");
    let st = delivery_status(&null);
    assert!(st.contains("Action: failed\r\nStatus: 5.1.10\r\n"), "{st}");
    let nx = wait_dsn(&s, "carol@nx.queue.test");
    let st = delivery_status(&nx);
    assert!(st.contains("Action: failed\r\nStatus: 5.1.2\r\n"), "{st}");
    assert!(String::from_utf8_lossy(&nx.file).contains("NXDOMAIN"));
    wait_queue_empty(&s);
}

#[test]
fn silent_peer_times_out_and_is_retried_and_moxctl_manages_the_queue() {
    if !root_or_skip("silent_peer") {
        return;
    }
    let dns = TestDns::start(
        Ipv4Addr::new(127, 0, 53, 4),
        vec![
            mx("hang.queue.test.", 10, "mx4.queue.test."),
            a("mx4.queue.test.", Ipv4Addr::new(127, 0, 25, 4)),
        ],
    );
    let peer = Peer::start(Ipv4Addr::new(127, 0, 25, 4), Mode::Hang);
    let s = serve(&dns, 2, "delay_dsn_after_secs = 1");
    submit(&s, &["bob@hang.queue.test"], &message("hang"));
    // Two attempts, each ending in the (2 s) greeting timeout.
    // The attempt count rises when an attempt is claimed, before its
    // connection is made: wait for the peer to have seen both.
    let e = wait_for(WAIT, || {
        if peer.connections.load(Ordering::SeqCst) < 2 {
            return None;
        }
        queue_entries(&s, None)
            .into_iter()
            .find(|e| e.recipients[0].attempts >= 2 && e.recipients[0].last_error.is_some())
    })
    .unwrap_or_else(|| {
        panic!(
            "no retry: {:?}\n{}",
            queue_entries(&s, None),
            s.output_text()
        )
    });
    let r = &e.recipients[0];
    assert_eq!(r.state, RecipientState::Pending);
    let err = r.last_error.as_deref().unwrap();
    assert!(
        err.contains("greeting") && err.contains("no reply within"),
        "{err}"
    );
    assert!(peer.connections.load(Ordering::SeqCst) >= 2);
    assert!(queue_entries(&s, Some("hang.queue.test")).len() == 1);
    assert!(queue_entries(&s, Some("other.queue.test")).is_empty());

    // moxctl queue: list with a domain filter, hold, release, kick, drop.
    let id = e.id.to_string();
    let out = s.moxctl(&["queue", "list", "--domain", "hang.queue.test"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && text.contains("bob@hang.queue.test"),
        "{text}"
    );
    assert!(text.contains("no reply within"), "{text}");
    let ok = |args: &[&str]| {
        let o = s.moxctl(args);
        assert!(
            o.status.success(),
            "{args:?}: {}",
            String::from_utf8_lossy(&o.stderr)
        );
    };
    ok(&["queue", "hold", &id]);
    assert!(queue_entries(&s, None)[0].hold);
    let held_attempts = queue_entries(&s, None)[0].recipients[0].attempts;
    ok(&["queue", "kick", &id]);
    std::thread::sleep(Duration::from_secs(3));
    assert_eq!(
        queue_entries(&s, None)[0].recipients[0].attempts,
        held_attempts,
        "a held message is not attempted, kicked or not"
    );
    ok(&["queue", "release", &id]);
    ok(&["queue", "kick", &id]);
    wait_for(WAIT, || {
        (queue_entries(&s, None)[0].recipients[0].attempts > held_attempts).then_some(())
    })
    .expect("attempted again after release and kick");
    ok(&["queue", "drop", &id]);
    assert!(queue_entries(&s, None).is_empty());
    let o = s.moxctl(&["queue", "drop", &id]);
    assert!(!o.status.success(), "dropping twice fails");
    // One delay DSN (after the first attempt that had waited 1 s), never
    // a second one, and no failure DSN for a dropped message.
    let dsns = messages_containing(&s, "alice", b"multipart/report");
    assert_eq!(dsns.len(), 1, "exactly one delay DSN");
    let st = delivery_status(&dsns[0]);
    assert!(st.contains("Action: delayed\r\nStatus: 4.4.2\r\n"), "{st}");
    assert!(st.contains("Will-Retry-Until: "), "{st}");
    assert!(
        String::from_utf8_lossy(&dsns[0].file)
            .contains("Subject: Delivery Status Notification (Delay)")
    );
}

#[test]
fn a_message_older_than_max_age_fails_with_a_dsn() {
    if !root_or_skip("max_age") {
        return;
    }
    let dns = TestDns::start(
        Ipv4Addr::new(127, 0, 53, 6),
        vec![
            mx("old.queue.test.", 10, "mx7.queue.test."),
            a("mx7.queue.test.", Ipv4Addr::new(127, 0, 25, 7)),
        ],
    );
    let _peer = Peer::start(Ipv4Addr::new(127, 0, 25, 7), Mode::Hang);
    let s = serve(&dns, 2, "max_age_secs = 2");
    submit(&s, &["bob@old.queue.test"], &message("old"));
    let dsn = wait_dsn(&s, "bob@old.queue.test");
    let st = delivery_status(&dsn);
    assert!(st.contains("Action: failed\r\nStatus: 4.4.7\r\n"), "{st}");
    assert!(String::from_utf8_lossy(&dsn.file).contains("gave up after 1 attempt(s)"));
    wait_queue_empty(&s);
}

#[test]
fn kill_9_of_the_queue_worker_mid_delivery_delivers_after_restart() {
    if !root_or_skip("kill_queue") {
        return;
    }
    let dns = TestDns::start(
        Ipv4Addr::new(127, 0, 53, 5),
        vec![
            mx("kill.queue.test.", 10, "mx5.queue.test."),
            a("mx5.queue.test.", Ipv4Addr::new(127, 0, 25, 5)),
            mx("other.queue.test.", 10, "mx6.queue.test."),
            a("mx6.queue.test.", Ipv4Addr::new(127, 0, 25, 6)),
        ],
    );
    let holding = Peer::start(Ipv4Addr::new(127, 0, 25, 5), Mode::HoldFirstData);
    let answering = Peer::start(Ipv4Addr::new(127, 0, 25, 6), Mode::Accept);
    // Long timeouts: only the kill can end the held delivery.
    let s = serve(&dns, 120, "");
    let msg = message("kill");
    submit(&s, &["bob@kill.queue.test", "carol@other.queue.test"], &msg);
    wait_for(WAIT, || (!holding.received().is_empty()).then_some(()))
        .unwrap_or_else(|| panic!("peer never got the data:\n{}", s.output_text()));
    let pid = s.worker_pid(ipc::Role::Queue).expect("queue worker pid");
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(pid as i32),
        nix::sys::signal::SIGKILL,
    )
    .expect("kill -9");
    wait_for(WAIT, || {
        s.worker_pid(ipc::Role::Queue).filter(|p| *p != pid)
    })
    .expect("queue worker restarted");
    let second = wait_for(WAIT, || {
        holding.received().into_iter().find(|r| r.acknowledged)
    })
    .unwrap_or_else(|| panic!("not delivered after restart:\n{}", s.output_text()));
    assert!(second.data.ends_with(&msg));
    wait_queue_empty(&s);
    let got = holding.received();
    assert_eq!(got.len(), 2, "once unanswered, once more after the restart");
    assert_eq!(got.iter().filter(|r| r.acknowledged).count(), 1);
    // The recipient whose peer had answered is not sent again, unless the
    // kill came before its result was recorded (at most once more).
    let other = answering.received();
    assert!(
        (1..=2).contains(&other.len()) && other.iter().all(|r| r.data.ends_with(&msg)),
        "{other:?}"
    );
    assert!(
        messages_containing(&s, "alice", b"multipart/report").is_empty(),
        "no DSN"
    );
}

/// The one localserve of this test process (fixed ports).
fn localserve() -> &'static Server {
    static LOCAL: OnceLock<Server> = OnceLock::new();
    LOCAL.get_or_init(Server::localserve_for_process)
}

#[test]
fn localserve_delivers_outbound_mail_locally_and_fakes_queue_failures() {
    let s = localserve();
    let submission = SocketAddr::from((Ipv4Addr::LOCALHOST, 1587));
    let tag = format!("ls-{}", std::process::id());
    let msg = format!(
        "From: <mox@localhost>\r\nTo: <bob@remote.example>\r\nSubject: {tag}\r\nMessage-ID: <{tag}@localhost>\r\nDate: Mon, 1 Jan 2024 00:00:00 +0000\r\nMIME-Version: 1.0\r\nContent-Type: text/plain\r\n\r\nhello {tag}\r\n"
    );
    // Submission in localserve resolves every address through the
    // catch-all, so the row is queued directly, as submission would for
    // remote recipients.
    let _ = submission;
    let mut conn = s.store_conn();
    let fd = common::memfd(msg.as_bytes());
    use std::os::fd::AsFd;
    conn.send(
        1,
        &ipc::store::StoreRequest::QueueAdd(ipc::store::QueueAdd {
            account: "mox".into(),
            mail_from: "mox@localhost".into(),
            recipients: vec![
                "bob@remote.example".into(),
                "queuepermerror@remote.example".into(),
                "queuetemperror@remote.example".into(),
            ],
            prefix: b"Received: from test\r\n".to_vec(),
            options: "{}".into(),
        }),
        &[fd.as_fd()],
    )
    .unwrap();
    let reply = conn
        .recv::<ipc::store::StoreReply>()
        .unwrap()
        .expect("reply")
        .body;
    assert!(
        matches!(reply, ipc::store::StoreReply::Queued { .. }),
        "{reply:?}"
    );

    let copy = wait_for(WAIT, || {
        common::messages_containing(s, "mox", format!("hello {tag}").as_bytes())
            .into_iter()
            .find(|m| m.prefix_text().contains("X-Moxd-Localserve:"))
    })
    .unwrap_or_else(|| panic!("no local copy:\n{}", s.output_text()));
    let prefix = copy.prefix_text();
    assert!(
        prefix.contains("instead of to bob@remote.example"),
        "{prefix}"
    );
    assert!(!prefix.contains("queuepermerror"), "{prefix}");
    assert!(copy.file.ends_with(msg.as_bytes()));

    let dsn = wait_for(WAIT, || {
        common::messages_containing(s, "mox", b"queuepermerror@remote.example")
            .into_iter()
            .find(|m| m.contains(b"multipart/report") && m.contains(tag.as_bytes()))
    })
    .unwrap_or_else(|| panic!("no DSN:\n{}", s.output_text()));
    let text = String::from_utf8_lossy(&dsn.file);
    assert!(
        text.contains("Action: failed\r\nStatus: 5.0.0\r\n"),
        "{text}"
    );
    assert!(
        text.contains("Diagnostic-Code: smtp; 550 localserve fake failure"),
        "{text}"
    );

    // The temporary one stays queued, attempted once, with its error.
    let e = wait_for(WAIT, || {
        match s
            .call(
                ControlRequest::QueueEntries {
                    domain: Some("remote.example".into()),
                },
                &[],
            )
            .0
        {
            ControlReply::QueueEntries(q) => q.into_iter().find(|e| {
                e.recipients.iter().any(|r| {
                    r.address == "queuetemperror@remote.example"
                        && r.attempts >= 1
                        && r.last_error.is_some()
                })
            }),
            _ => None,
        }
    })
    .expect("temporary failure stays queued");
    let r = e
        .recipients
        .iter()
        .find(|r| r.address.starts_with("queuetemperror"))
        .unwrap();
    assert_eq!(r.state, RecipientState::Pending);
    assert!(r.last_error.as_deref().unwrap().contains("451"), "{r:?}");
    let delivered: Vec<_> = e
        .recipients
        .iter()
        .filter(|r| r.state != RecipientState::Pending)
        .map(|r| (r.address.as_str(), r.state))
        .collect();
    assert_eq!(
        delivered,
        [
            ("bob@remote.example", RecipientState::Delivered),
            ("queuepermerror@remote.example", RecipientState::Failed)
        ]
    );
    let r = s.call(ControlRequest::QueueDrop { id: e.id }, &[]).0;
    assert_eq!(r, ControlReply::Ok);
}
