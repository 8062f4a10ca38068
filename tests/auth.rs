//! Message authentication end to end: a real `moxd serve` whose smtp-in
//! asks a test DNS server (written here, in this process, on
//! 127.0.53.N:53) for SPF and DMARC records while mail arrives over SMTP.
//! DMARC p=reject is refused with 550 5.7.1 and nothing is stored;
//! p=quarantine lands in Junk with $Junk; a DMARC pass lands in the Inbox
//! with Authentication-Results and Received-SPF above our Received field;
//! submission is not evaluated.
//!
//! The smtp-in sandbox only lets DNS reach port 53, which needs root to
//! bind; without root these tests say so and check nothing.

mod common;

use std::collections::{HashMap, HashSet};
use std::net::{Ipv4Addr, SocketAddr};
use std::str::FromStr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::smtp_client::SmtpClient;
use common::{Server, SmtpServer, set_password};
use hickory_server::proto::op::{Message, ResponseCode};
use hickory_server::proto::rr::rdata::{SOA, TXT};
use hickory_server::proto::rr::{Name, RData, Record, RecordType};
use ipc::store::{MessageInfo, StoreReply, StoreRequest};

const ALICE: &str = "alice@example.org";
const ALICE_PASSWORD: &str = "auth-test-password";
/// The test DNS server's address (each test binary has its own N).
const DNS_IP: Ipv4Addr = Ipv4Addr::new(127, 0, 53, 7);
/// Largest DNS query read.
const MAX_PACKET: usize = 4096;

fn root_or_skip(test: &str) -> bool {
    if common::is_root() {
        return true;
    }
    eprintln!("{test}: not root: port 53 cannot be bound; nothing checked");
    false
}

// ---------------------------------------------------------------------------
// Test DNS server: answers the records it was given, NODATA for names that
// exist with other types, NXDOMAIN otherwise.

fn name(s: &str) -> Name {
    Name::from_str(&format!("{}.", s.trim_end_matches('.'))).expect("test name")
}

fn txt(owner: &str, text: &str) -> Record {
    let parts = text
        .as_bytes()
        .chunks(255)
        .map(|c| String::from_utf8_lossy(c).into_owned())
        .collect();
    Record::from_rdata(name(owner), 300, RData::TXT(TXT::new(parts)))
}

/// Records by (name, type), and every name that exists.
#[derive(Default)]
struct Zone {
    table: HashMap<(Name, RecordType), Vec<Record>>,
    names: HashSet<Name>,
}

impl Zone {
    fn add(&mut self, r: Record) {
        let mut n = r.name.to_lowercase();
        while !n.is_root() {
            self.names.insert(n.clone());
            n = n.base_name();
        }
        self.table
            .entry((r.name.to_lowercase(), r.record_type()))
            .or_default()
            .push(r);
    }
}

struct TestDns {
    zone: Arc<Mutex<Zone>>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
}

impl Drop for TestDns {
    fn drop(&mut self) {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
    }
}

impl TestDns {
    /// Add a record while the server runs.
    fn add(&self, r: Record) {
        self.zone.lock().unwrap_or_else(|e| e.into_inner()).add(r);
    }

    fn start(bind: SocketAddr, records: Vec<Record>) -> TestDns {
        let zone = Arc::new(Mutex::new(Zone::default()));
        for r in records {
            zone.lock().unwrap_or_else(|e| e.into_inner()).add(r);
        }
        let served = zone.clone();
        let soa = Record::from_rdata(
            name("test"),
            60,
            RData::SOA(SOA::new(
                name("ns.test"),
                name("hostmaster.test"),
                1,
                3600,
                600,
                86400,
                60,
            )),
        );
        let (ready_tx, ready_rx) = std::sync::mpsc::channel();
        let (stop, mut stopped) = tokio::sync::oneshot::channel::<()>();
        std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("dns runtime");
            rt.block_on(async move {
                let sock = tokio::net::UdpSocket::bind(bind)
                    .await
                    .expect("bind test DNS :53");
                let _ = ready_tx.send(());
                let mut buf = vec![0u8; MAX_PACKET];
                loop {
                    let (n, peer) = tokio::select! {
                        r = sock.recv_from(&mut buf) => match r {
                            Ok(x) => x,
                            Err(_) => continue,
                        },
                        _ = &mut stopped => return,
                    };
                    let Ok(query) = Message::from_vec(&buf[..n]) else {
                        continue;
                    };
                    let Some(q) = query.queries.first() else {
                        continue;
                    };
                    let qname = q.name().to_lowercase();
                    let mut resp = Message::response(query.metadata.id, query.metadata.op_code);
                    resp.metadata.authoritative = true;
                    resp.metadata.recursion_desired = query.metadata.recursion_desired;
                    resp.metadata.recursion_available = true;
                    resp.add_query(q.clone());
                    {
                        let z = served.lock().unwrap_or_else(|e| e.into_inner());
                        match z.table.get(&(qname.clone(), q.query_type())) {
                            Some(rs) => {
                                resp.add_answers(rs.iter().cloned());
                            }
                            None => {
                                if !z.names.contains(&qname) {
                                    resp.metadata.response_code = ResponseCode::NXDomain;
                                }
                                resp.add_authority(soa.clone());
                            }
                        }
                    }
                    if let Ok(bytes) = resp.to_vec() {
                        let _ = sock.send_to(&bytes, peer).await;
                    }
                }
            });
        });
        ready_rx
            .recv_timeout(Duration::from_secs(10))
            .expect("test DNS started");
        TestDns {
            zone,
            stop: Some(stop),
        }
    }
}

fn zone() -> Vec<Record> {
    vec![
        txt("pass.test", "v=spf1 ip4:127.0.0.1 -all"),
        txt("_dmarc.pass.test", "v=DMARC1; p=reject"),
        txt("_dmarc.reject.test", "v=DMARC1; p=reject"),
        txt("_dmarc.quar.test", "v=DMARC1; p=quarantine"),
        // SPF passes for this domain, but it is not the From domain.
        txt("other.test", "v=spf1 ip4:127.0.0.1 -all"),
    ]
}

fn serve(dns_port: u16) -> SmtpServer {
    let extra =
        format!("resolver = \"{DNS_IP}:{dns_port}\"\n[auth]\nenabled = true\ndnsbls = []\n");
    let s = Server::serve_smtp(&extra);
    set_password(&s, "alice", ALICE_PASSWORD);
    s
}

fn message(from: &str, tag: &str) -> Vec<u8> {
    format!(
        "From: <{from}>\r\nTo: <{ALICE}>\r\nSubject: {tag}\r\nMessage-ID: <{tag}@test>\r\n\r\nBody of {tag}.\r\n"
    )
    .into_bytes()
}

/// MAIL FROM `mail_from`, RCPT TO alice, DATA `msg`: the final reply.
fn send(s: &SmtpServer, mail_from: &str, msg: &[u8]) -> common::smtp_client::SmtpReply {
    let mut c = SmtpClient::greeted(s.smtp);
    c.ehlo("client.other.test");
    c.expect(&format!("MAIL FROM:<{mail_from}>"), 250);
    c.expect(&format!("RCPT TO:<{ALICE}>"), 250);
    c.expect("DATA", 354);
    c.send(msg);
    c.send(b".\r\n");
    let r = c.reply();
    c.expect("QUIT", 221);
    r
}

/// One stored message of a mailbox: metadata, prefix, file.
struct Stored {
    info: MessageInfo,
    prefix: String,
    file: Vec<u8>,
}

fn mailbox(s: &Server, name: &str) -> Vec<Stored> {
    use std::io::Read;
    let list = match s.store_call(StoreRequest::MessageList {
        account: "alice".into(),
        mailbox: name.into(),
    }) {
        StoreReply::Messages(m) => m,
        other => panic!("message list: {other:?}"),
    };
    let mut c = s.store_conn();
    let mut out = Vec::new();
    for (i, info) in list.into_iter().enumerate() {
        c.send(
            10 + i as u64,
            &StoreRequest::MessageOpen {
                account: "alice".into(),
                message_id: info.id,
            },
            &[],
        )
        .expect("send");
        let r = c.recv::<StoreReply>().expect("recv").expect("reply");
        let StoreReply::MessageFile { prefix, .. } = r.body else {
            panic!("message open: {:?}", r.body)
        };
        let mut f = std::fs::File::from(r.fds.into_iter().next().expect("fd"));
        let mut file = Vec::new();
        f.read_to_end(&mut file).expect("read");
        out.push(Stored {
            info,
            prefix: String::from_utf8_lossy(&prefix).into_owned(),
            file,
        });
    }
    out
}

fn with_tag<'a>(msgs: &'a [Stored], tag: &str) -> Option<&'a Stored> {
    let needle = format!("Subject: {tag}\r\n");
    msgs.iter()
        .find(|m| m.file.windows(needle.len()).any(|w| w == needle.as_bytes()))
}

#[test]
fn dmarc_reject_quarantine_and_pass_over_smtp() {
    if !root_or_skip("dmarc_reject_quarantine_and_pass_over_smtp") {
        return;
    }
    let _dns = TestDns::start(SocketAddr::from((DNS_IP, 53)), zone());
    let s = serve(53);

    // p=reject without an aligned pass: 550 5.7.1 saying why.
    let r = send(&s, "x@other.test", &message("x@reject.test", "rejected"));
    assert_eq!(r.code, 550, "{r:?}\n{}", s.output_text());
    let text = r.text();
    assert!(text.starts_with("5.7.1 "), "{text}");
    assert!(
        text.contains("DMARC policy of reject.test is reject"),
        "{text}"
    );

    // p=quarantine: accepted into Junk, flagged $Junk.
    let r = send(&s, "x@other.test", &message("x@quar.test", "quarantined"));
    assert_eq!(r.code, 250, "{r:?}");

    // An SPF pass aligned with the From domain: the Inbox.
    let r = send(&s, "bounce@pass.test", &message("x@pass.test", "passed"));
    assert_eq!(r.code, 250, "{r:?}");

    let inbox = mailbox(&s, "Inbox");
    let junk = mailbox(&s, "Junk");
    assert!(with_tag(&inbox, "rejected").is_none() && with_tag(&junk, "rejected").is_none());
    assert!(
        with_tag(&inbox, "quarantined").is_none(),
        "not in the Inbox"
    );
    let q = with_tag(&junk, "quarantined").expect("quarantined message in Junk");
    assert!(
        q.info.flags.iter().any(|f| f == "$Junk"),
        "{:?}",
        q.info.flags
    );
    assert!(
        q.prefix
            .contains("dmarc=fail (p=quarantine dis=quarantine) header.from=quar.test"),
        "{}",
        q.prefix
    );
    assert!(
        q.prefix.contains("spf=pass smtp.mailfrom=x@other.test"),
        "{}",
        q.prefix
    );

    let p = with_tag(&inbox, "passed").expect("passed message in the Inbox");
    assert!(
        p.prefix
            .starts_with("Authentication-Results: mail.example.org;\r\n\tiprev="),
        "{}",
        p.prefix
    );
    for needle in [
        "\r\n\tspf=pass smtp.mailfrom=bounce@pass.test;\r\n",
        "\r\n\tspf=none smtp.helo=client.other.test;\r\n",
        "\r\n\tdmarc=pass (p=reject dis=none) header.from=pass.test\r\n",
        "Received-SPF: pass (mail.example.org: domain of bounce@pass.test designates\r\n\t127.0.0.1 as permitted sender) client-ip=127.0.0.1;\r\n\tenvelope-from=\"bounce@pass.test\"; helo=client.other.test; identity=mailfrom;\r\n\treceiver=mail.example.org;\r\nReceived: from client.other.test",
    ] {
        assert!(
            p.prefix.contains(needle),
            "missing {needle:?} in:\n{}",
            p.prefix
        );
    }
    // The file is exactly what the client sent.
    assert_eq!(p.file, message("x@pass.test", "passed"));
}

#[test]
fn submission_is_not_evaluated() {
    if !root_or_skip("submission_is_not_evaluated") {
        return;
    }
    let _dns = TestDns::start(SocketAddr::from((Ipv4Addr::new(127, 0, 53, 8), 53)), zone());
    let extra = "resolver = \"127.0.53.8:53\"\n[auth]\nenabled = true\n";
    let s = Server::serve_smtp(extra);
    set_password(&s, "alice", ALICE_PASSWORD);
    let mut c = SmtpClient::greeted(s.submission);
    c.ehlo("client.other.test");
    c.starttls();
    c.ehlo("client.other.test");
    use base64::Engine;
    let plain =
        base64::engine::general_purpose::STANDARD.encode(format!("\0{ALICE}\0{ALICE_PASSWORD}"));
    c.expect(&format!("AUTH PLAIN {plain}"), 235);
    c.expect(&format!("MAIL FROM:<{ALICE}>"), 250);
    c.expect(&format!("RCPT TO:<{ALICE}>"), 250);
    c.expect("DATA", 354);
    // From a p=reject domain without any pass: submission does not care.
    c.send(&message("x@reject.test", "submitted"));
    c.send(b".\r\n");
    let r = c.reply();
    assert_eq!(r.code, 250, "{r:?}");
    c.expect("QUIT", 221);
    let inbox = mailbox(&s, "Inbox");
    let m = with_tag(&inbox, "submitted").expect("delivered");
    assert!(!m.prefix.contains("Authentication-Results"), "{}", m.prefix);
    assert!(m.prefix.starts_with("Received: "), "{}", m.prefix);
}

/// Submits `msg` from alice to alice through the submission port.
fn submit(s: &SmtpServer, msg: &[u8]) {
    use base64::Engine;
    let mut c = SmtpClient::greeted(s.submission);
    c.ehlo("client.other.test");
    c.starttls();
    c.ehlo("client.other.test");
    let plain =
        base64::engine::general_purpose::STANDARD.encode(format!("\0{ALICE}\0{ALICE_PASSWORD}"));
    c.expect(&format!("AUTH PLAIN {plain}"), 235);
    c.expect(&format!("MAIL FROM:<{ALICE}>"), 250);
    c.expect(&format!("RCPT TO:<{ALICE}>"), 250);
    c.expect("DATA", 354);
    c.send(msg);
    c.send(b".\r\n");
    let r = c.reply();
    assert_eq!(r.code, 250, "{r:?}");
    c.expect("QUIT", 221);
}

/// (owner, text) of the TXT lines moxctl printed.
fn txt_records(out: &str) -> Vec<(String, String)> {
    out.lines()
        .filter_map(|l| {
            let (owner, rest) = l.split_once(" TXT ")?;
            let text: String = rest.split('"').skip(1).step_by(2).collect();
            Some((owner.trim_end_matches('.').to_string(), text))
        })
        .collect()
}

#[test]
fn dkim_gen_signs_submissions_and_smtp_in_verifies_them() {
    if !root_or_skip("dkim_gen_signs_submissions_and_smtp_in_verifies_them") {
        return;
    }
    use std::os::unix::fs::{MetadataExt, PermissionsExt};
    let dns = TestDns::start(SocketAddr::from((Ipv4Addr::new(127, 0, 53, 9), 53)), zone());
    let s = Server::serve_smtp("resolver = \"127.0.53.9:53\"\n[auth]\nenabled = true\n");
    set_password(&s, "alice", ALICE_PASSWORD);
    let restarts = |s: &Server| {
        s.status()
            .workers
            .iter()
            .find(|w| w.role == ipc::Role::Submission)
            .map(|w| (w.restarts, w.state))
    };
    let before = restarts(&s).expect("submission worker").0;

    let out = s.moxctl(&["dkim", "gen", "example.org"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let printed = String::from_utf8_lossy(&out.stdout).into_owned();
    let keys = txt_records(&printed);
    assert_eq!(keys.len(), 2, "{printed}");
    assert!(keys[0].1.starts_with("v=DKIM1; k=ed25519; p="), "{printed}");
    assert!(keys[1].1.starts_with("v=DKIM1; k=rsa; p="), "{printed}");
    for (owner, text) in &keys {
        assert!(owner.ends_with("._domainkey.example.org"), "{owner}");
        dns.add(txt(owner, text));
    }
    // The key files: root's, mode 0600, listed in domains.toml.
    let key_dir = s.dir.path().join("dkim/example.org");
    let files: Vec<_> = std::fs::read_dir(&key_dir)
        .expect("key directory")
        .map(|e| e.expect("entry").path())
        .collect();
    assert_eq!(files.len(), 2, "{files:?}");
    for f in &files {
        let md = std::fs::metadata(f).expect("metadata");
        assert_eq!(md.permissions().mode() & 0o777, 0o600, "{}", f.display());
        assert_eq!(md.uid(), 0, "{}", f.display());
    }
    let domains = std::fs::read_to_string(s.dir.path().join("domains.toml")).expect("domains.toml");
    assert_eq!(domains.matches("[[dkim]]").count(), 2, "{domains}");

    // `dns records` repeats the keys and adds MX, SPF and DMARC.
    let out = s.moxctl(&["dns", "records", "example.org"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let all = String::from_utf8_lossy(&out.stdout).into_owned();
    let recs = txt_records(&all);
    for k in &keys {
        assert!(recs.contains(k), "{k:?} missing in\n{all}");
    }
    assert!(
        all.contains("example.org. MX 10 mail.example.org."),
        "{all}"
    );
    assert!(
        recs.contains(&("example.org".into(), "v=spf1 mx ~all".into())),
        "{all}"
    );
    assert!(
        recs.contains(&("mail.example.org".into(), "v=spf1 a -all".into())),
        "{all}"
    );
    assert!(
        recs.contains(&("_dmarc.example.org".into(), "v=DMARC1; p=reject".into())),
        "{all}"
    );

    // Submission restarts with the keys.
    common::wait_for(Duration::from_secs(60), || {
        restarts(&s).filter(|(n, st)| *n > before && *st == ipc::control::WorkerState::Running)
    })
    .unwrap_or_else(|| panic!("submission did not restart:\n{}", s.output_text()));

    let body = b"From: Alice <alice@example.org>\r\nTo: <alice@example.org>\r\nSubject: signed\r\n\r\nSigned body,  with  spaces \r\n\r\n";
    submit(&s, body);
    let inbox = mailbox(&s, "Inbox");
    let signed = with_tag(&inbox, "signed").expect("signed message delivered");
    let sels: Vec<&str> = keys
        .iter()
        .map(|(o, _)| o.split('.').next().unwrap_or_default())
        .collect();
    assert!(
        signed
            .prefix
            .starts_with("DKIM-Signature: v=1; a=ed25519-sha256; c=relaxed/relaxed;"),
        "{}",
        signed.prefix
    );
    assert_eq!(
        signed.prefix.matches("DKIM-Signature:").count(),
        2,
        "{}",
        signed.prefix
    );
    assert!(signed.prefix.contains("a=rsa-sha256"), "{}", signed.prefix);

    // The signed message, sent to smtp-in, verifies with both keys.
    let mut relayed = signed.prefix.clone().into_bytes();
    relayed.extend_from_slice(&signed.file);
    let mut stuffed = Vec::new();
    for line in relayed.split_inclusive(|&b| b == b'\n') {
        if line.starts_with(b".") {
            stuffed.push(b'.');
        }
        stuffed.extend_from_slice(line);
    }
    let r = send(&s, "bounce@other.test", &stuffed);
    assert_eq!(r.code, 250, "{r:?}");
    let inbox = mailbox(&s, "Inbox");
    let verified = inbox
        .iter()
        .find(|m| m.prefix.starts_with("Authentication-Results:"))
        .expect("relayed message stored");
    let ar = verified.prefix.replace("\r\n\t", " ");
    for (sel, alg) in [(sels[0], "ed25519-sha256"), (sels[1], "rsa-sha256")] {
        let needle = format!("dkim=pass header.d=example.org header.s={sel} header.a={alg}");
        assert!(
            ar.contains(&needle),
            "missing {needle:?} in\n{}",
            verified.prefix
        );
    }
}

/// An aggregate report (RFC 7489 Appendix C) as a text/xml attachment.
fn report_message(report_id: &str) -> Vec<u8> {
    let xml = format!(
        "<?xml version=\"1.0\"?>\r\n<feedback>\r\n<report_metadata><org_name>Reporter Org</org_name><email>dmarc@reporter.test</email><report_id>{report_id}</report_id><date_range><begin>1764028800</begin><end>1764115199</end></date_range></report_metadata>\r\n<policy_published><domain>example.org</domain><adkim>r</adkim><aspf>r</aspf><p>reject</p><sp>reject</sp><pct>100</pct></policy_published>\r\n<record><row><source_ip>192.0.2.1</source_ip><count>3</count><policy_evaluated><disposition>none</disposition><dkim>pass</dkim><spf>pass</spf></policy_evaluated></row><identifiers><header_from>example.org</header_from></identifiers><auth_results><dkim><domain>example.org</domain><result>pass</result></dkim><spf><domain>example.org</domain><result>pass</result></spf></auth_results></record>\r\n<record><row><source_ip>198.51.100.9</source_ip><count>2</count><policy_evaluated><disposition>reject</disposition><dkim>fail</dkim><spf>fail</spf></policy_evaluated></row><identifiers><header_from>example.org</header_from></identifiers><auth_results><spf><domain>spoofer.test</domain><result>fail</result></spf></auth_results></record>\r\n</feedback>\r\n"
    );
    format!(
        "From: <dmarc@reporter.test>\r\nTo: <{ALICE}>\r\nSubject: Report Domain: example.org Submitter: reporter.test Report-ID: {report_id}\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=\"b1\"\r\n\r\n--b1\r\nContent-Type: text/plain\r\n\r\nA DMARC aggregate report.\r\n--b1\r\nContent-Type: text/xml\r\nContent-Disposition: attachment; filename=\"reporter.test!example.org!1764028800!1764115199.xml\"\r\n\r\n{xml}--b1--\r\n"
    )
    .into_bytes()
}

#[test]
fn dmarc_reports_in_and_out() {
    if !root_or_skip("dmarc_reports_in_and_out") {
        return;
    }
    let mut records = zone();
    records.push(txt("rua.test", "v=spf1 ip4:127.0.0.1 -all"));
    records.push(txt(
        "_dmarc.rua.test",
        "v=DMARC1; p=none; rua=mailto:dmarc@rua.test",
    ));
    let _dns = TestDns::start(
        SocketAddr::from((Ipv4Addr::new(127, 0, 53, 10), 53)),
        records,
    );
    let s = Server::serve_smtp(&format!(
        "resolver = \"127.0.53.10:53\"\n[auth]\nenabled = true\ndmarc_reports = \"{ALICE}\"\nsend_dmarc_reports = true\n"
    ));
    set_password(&s, "alice", ALICE_PASSWORD);

    // Incoming: a report to the reporting address is parsed and listed.
    let r = send(&s, "dmarc@reporter.test", &report_message("rep-1"));
    assert_eq!(r.code, 250, "{r:?}");
    let listed = common::wait_for(Duration::from_secs(30), || {
        let out = s.moxctl(&["dmarc", "reports"]);
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        text.contains("rep-1").then_some(text)
    })
    .unwrap_or_else(|| panic!("report not listed:\n{}", s.output_text()));
    for needle in ["Reporter Org", "example.org", "5 messages", "2 failed"] {
        assert!(listed.contains(needle), "{needle:?} missing in {listed}");
    }
    let out = s.moxctl(&["dmarc", "reports", "--json"]);
    let json = String::from_utf8_lossy(&out.stdout);
    assert!(json.contains("198.51.100.9"), "{json}");

    // Outgoing: mail from a domain with rua= leaves an evaluation.
    let r = send(&s, "bounce@rua.test", &message("x@rua.test", "reported"));
    assert_eq!(r.code, 250, "{r:?}");
    let due = |s: &Server| match s.store_call(StoreRequest::DmarcEvaluationsDue {
        before: i64::MAX,
        limit: 100,
    }) {
        StoreReply::DmarcEvaluations(d) => d,
        other => panic!("evaluations: {other:?}"),
    };
    let evals = due(&s);
    assert_eq!(evals.len(), 1, "{evals:?}");
    let (id, e) = evals[0].clone();
    assert_eq!(e.policy_domain, "rua.test");
    assert!(
        e.row.contains("dmarc@rua.test") && e.row.contains("127.0.0.1"),
        "{}",
        e.row
    );
    // Make it yesterday's, and restart the queue worker, which reports
    // finished days when it starts.
    let mut old = e.clone();
    old.received -= 2 * 86_400;
    assert_eq!(
        s.store_call(StoreRequest::DmarcEvaluationAdd(old)),
        StoreReply::Ok
    );
    assert_eq!(
        s.store_call(StoreRequest::DmarcEvaluationsDone { ids: vec![id] }),
        StoreReply::Ok
    );
    let pid = s.worker_pid(ipc::Role::Queue).expect("queue worker");
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(pid as i32),
        nix::sys::signal::Signal::SIGKILL,
    )
    .expect("kill queue worker");
    common::wait_for(Duration::from_secs(60), || {
        let out = s.output_text();
        out.contains("DMARC report queued").then_some(())
    })
    .unwrap_or_else(|| panic!("no report queued:\n{}", s.output_text()));
    assert!(due(&s).is_empty(), "reported evaluations are removed");
    // rua.test has no mail host: the report bounces to the reporting
    // address, which shows what was sent.
    let dsn = common::wait_for(Duration::from_secs(60), || {
        mailbox(&s, "Inbox").into_iter().find(|m| {
            let t = String::from_utf8_lossy(&m.file).into_owned();
            t.contains("Report Domain: rua.test")
        })
    })
    .unwrap_or_else(|| panic!("no bounce of the report:\n{}", s.output_text()));
    let text = String::from_utf8_lossy(&dsn.file);
    assert!(text.contains("dmarc@rua.test"), "{text}");
}
