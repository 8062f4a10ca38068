//! A test DNS server for message authentication tests: a small
//! authoritative responder over UDP on 127.0.0.1 (its own thread and
//! runtime, so async tests can start it). It answers records it was
//! given; NODATA for names that exist with other types (or have names
//! below them); NXDOMAIN otherwise; SERVFAIL for names under
//! `servfail.test`; and never answers names under `timeout.test`.

#![allow(dead_code)]

use std::collections::{HashMap, HashSet};
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::str::FromStr;
use std::time::Duration;

use hickory_resolver::proto::op::{Message, ResponseCode};
use hickory_resolver::proto::rr::rdata::{A, AAAA, MX, PTR, SOA, TXT};
use hickory_resolver::proto::rr::{Name, RData, Record, RecordType};

/// TTL of every test record.
pub const TTL: u32 = 300;
/// Largest query read.
const MAX_PACKET: usize = 4096;

pub fn name(s: &str) -> Name {
    Name::from_str(&format!(
        "{}.",
        s.trim_end_matches('.').to_ascii_lowercase()
    ))
    .expect("test name")
}

/// A TXT record; text longer than 255 octets is split into strings.
pub fn txt(owner: &str, text: &str) -> Record {
    let parts: Vec<String> = text
        .as_bytes()
        .chunks(255)
        .map(|c| String::from_utf8_lossy(c).into_owned())
        .collect();
    Record::from_rdata(name(owner), TTL, RData::TXT(TXT::new(parts)))
}

pub fn a(owner: &str, ip: &str) -> Record {
    let ip: Ipv4Addr = ip.parse().expect("ipv4");
    Record::from_rdata(name(owner), TTL, RData::A(A(ip)))
}

pub fn aaaa(owner: &str, ip: &str) -> Record {
    Record::from_rdata(
        name(owner),
        TTL,
        RData::AAAA(AAAA(ip.parse().expect("ipv6"))),
    )
}

pub fn mx(owner: &str, pref: u16, host: &str) -> Record {
    Record::from_rdata(name(owner), TTL, RData::MX(MX::new(pref, name(host))))
}

/// The PTR record of `ip` (its owner is the reverse name).
pub fn ptr(ip: &str, host: &str) -> Record {
    let ip: IpAddr = ip.parse().expect("ip");
    let owner = policy::auth::dns::reverse_name(ip, "in-addr.arpa", "ip6.arpa");
    Record::from_rdata(name(&owner), TTL, RData::PTR(PTR(name(host))))
}

struct Zone {
    records: HashMap<(Name, RecordType), Vec<Record>>,
    /// Owner names and every name above them (empty non-terminals exist).
    names: HashSet<Name>,
    soa: Record,
}

impl Zone {
    fn answer(&self, query: &Message) -> Option<Message> {
        let q = query.queries.first()?;
        let qname = q.name().to_lowercase();
        let mut resp = Message::response(query.metadata.id, query.metadata.op_code);
        resp.metadata.authoritative = true;
        resp.metadata.recursion_desired = query.metadata.recursion_desired;
        resp.metadata.recursion_available = true;
        resp.add_query(q.clone());
        let under = |zone: &str| name(zone).zone_of(&qname);
        if under("timeout.test") {
            return None;
        }
        if under("servfail.test") {
            resp.metadata.response_code = ResponseCode::ServFail;
            return Some(resp);
        }
        match self.records.get(&(qname.clone(), q.query_type())) {
            Some(rs) => {
                resp.add_answers(rs.iter().cloned());
            }
            None => {
                if !self.names.contains(&qname) {
                    resp.metadata.response_code = ResponseCode::NXDomain;
                }
                resp.add_authority(self.soa.clone());
            }
        }
        Some(resp)
    }
}

/// Runs until dropped.
pub struct TestDns {
    pub addr: SocketAddr,
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
    /// Serve `records` on 127.0.0.1 at a free port.
    pub fn start(records: Vec<Record>) -> TestDns {
        Self::start_on("127.0.0.1:0".parse().expect("addr"), records)
    }

    /// Serve `records` at `bind` (e.g. 127.0.53.1:53, as root).
    pub fn start_on(bind: SocketAddr, records: Vec<Record>) -> TestDns {
        let mut zone = Zone {
            records: HashMap::new(),
            names: HashSet::new(),
            soa: Record::from_rdata(
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
            ),
        };
        for r in records {
            let mut n = r.name.to_lowercase();
            loop {
                zone.names.insert(n.clone());
                if n.is_root() {
                    break;
                }
                n = n.base_name();
            }
            zone.records
                .entry((r.name.to_lowercase(), r.record_type()))
                .or_default()
                .push(r);
        }
        let (addr_tx, addr_rx) = std::sync::mpsc::channel();
        let (stop, mut stopped) = tokio::sync::oneshot::channel::<()>();
        std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("dns runtime");
            rt.block_on(async move {
                let sock = tokio::net::UdpSocket::bind(bind)
                    .await
                    .expect("bind test DNS");
                let _ = addr_tx.send(sock.local_addr().expect("addr"));
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
                    if let Some(resp) = zone.answer(&query)
                        && let Ok(bytes) = resp.to_vec()
                    {
                        let _ = sock.send_to(&bytes, peer).await;
                    }
                }
            });
        });
        let addr = addr_rx
            .recv_timeout(Duration::from_secs(10))
            .expect("test DNS started");
        TestDns {
            addr,
            stop: Some(stop),
        }
    }
}
