//! The DNS view of message authentication: one hickory resolver (the same
//! 0.26 line mail-auth is built on) asking a configured server or the
//! servers of resolv.conf, and TTL-bounded caches in front of it. mail-auth
//! does DKIM, DMARC and iprev lookups through its own entry points with our
//! caches plugged in; SPF and DNSBL lookups go through [`Dns::lookup`],
//! which tells a void answer (NXDOMAIN, or no records of the type: RFC
//! 7208 §4.6.4) from a temporary failure and caches both kinds of answer
//! it can (negative answers for the SOA's negative TTL, RFC 2308 §5).

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::Arc;
use std::time::{Duration, Instant};

use hickory_resolver::config::{ConnectionConfig, NameServerConfig, ResolverConfig, ResolverOpts};
use hickory_resolver::net::{DnsError, NetError};
use hickory_resolver::proto::op::ResponseCode;
use hickory_resolver::proto::rr::{Name, RData, RecordType};
use mail_auth::common::cache::NoCache;
use mail_auth::{MX, MessageAuthenticator, Parameters, RecordSet, Txt};

use super::cache::{MAX_ENTRIES, TtlCache};

/// How long one DNS query may take before it is tried again.
pub const DNS_TIMEOUT: Duration = Duration::from_secs(5);
/// Tries per DNS query.
pub const DNS_ATTEMPTS: usize = 2;
/// Responses the resolver itself keeps (hickory's own cache, below ours).
pub const RESOLVER_CACHE_RESPONSES: u64 = 4096;
/// How long a void answer is kept when the server sent no SOA, and the
/// longest any void answer is kept.
pub const NEGATIVE_TTL: Duration = Duration::from_secs(300);

/// Why a lookup has no answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DnsFailure {
    /// NXDOMAIN, or the name exists without records of the type.
    Void,
    /// Timeout, SERVFAIL, REFUSED, network trouble: try again later.
    Temporary(String),
}

impl std::fmt::Display for DnsFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            DnsFailure::Void => f.write_str("no such record"),
            DnsFailure::Temporary(e) => write!(f, "temporary DNS failure: {e}"),
        }
    }
}

type RawAnswer = Result<Arc<[RData]>, DnsFailure>;

/// mail-auth's lookup parameters with every cache of a [`Dns`] plugged in.
pub type Cached<'x, P> = Parameters<
    'x,
    P,
    TtlCache<Box<str>, Txt>,
    TtlCache<Box<str>, RecordSet<MX>>,
    TtlCache<Box<str>, RecordSet<Ipv4Addr>>,
    TtlCache<Box<str>, RecordSet<Ipv6Addr>>,
    TtlCache<IpAddr, RecordSet<Box<str>>>,
>;

/// The resolver and its caches, shared by every evaluation of a worker.
pub struct Dns {
    pub(crate) auth: MessageAuthenticator,
    raw: TtlCache<(Box<str>, RecordType), RawAnswer>,
    txt: TtlCache<Box<str>, Txt>,
    mx: TtlCache<Box<str>, RecordSet<MX>>,
    ipv4: TtlCache<Box<str>, RecordSet<Ipv4Addr>>,
    ipv6: TtlCache<Box<str>, RecordSet<Ipv6Addr>>,
    ptr: TtlCache<IpAddr, RecordSet<Box<str>>>,
}

/// The resolver could not be set up (unreadable resolv.conf).
#[derive(Debug, thiserror::Error)]
#[error("DNS resolver: {0}")]
pub struct ResolverError(String);

impl Dns {
    /// A resolver asking `server` (tests, a local validating resolver), or
    /// the servers of /etc/resolv.conf. Must be called inside a tokio runtime.
    pub fn new(server: Option<SocketAddr>) -> Result<Dns, ResolverError> {
        let (config, mut opts) = match server {
            Some(addr) => {
                let mut udp = ConnectionConfig::udp();
                udp.port = addr.port();
                let mut tcp = ConnectionConfig::tcp();
                tcp.port = addr.port();
                let ns = NameServerConfig::new(addr.ip(), true, vec![udp, tcp]);
                (
                    ResolverConfig::from_name_servers(vec![ns]),
                    ResolverOpts::default(),
                )
            }
            None => hickory_resolver::system_conf::read_system_conf()
                .map_err(|e| ResolverError(format!("reading resolv.conf: {e}")))?,
        };
        opts.timeout = DNS_TIMEOUT;
        opts.attempts = DNS_ATTEMPTS;
        opts.cache_size = RESOLVER_CACHE_RESPONSES;
        let auth =
            MessageAuthenticator::new(config, opts).map_err(|e| ResolverError(e.to_string()))?;
        Ok(Dns {
            auth,
            raw: TtlCache::new(MAX_ENTRIES),
            txt: TtlCache::new(MAX_ENTRIES),
            mx: TtlCache::new(MAX_ENTRIES),
            ipv4: TtlCache::new(MAX_ENTRIES),
            ipv6: TtlCache::new(MAX_ENTRIES),
            ptr: TtlCache::new(MAX_ENTRIES),
        })
    }

    /// Parameters for a mail-auth call that use our caches.
    pub fn params<P>(&self, params: P) -> Cached<'_, P> {
        Parameters::<P, NoCache<_, _>, NoCache<_, _>, NoCache<_, _>, NoCache<_, _>, NoCache<_, _>>::new(
            params,
        )
        .with_txt_cache(&self.txt)
        .with_mx_cache(&self.mx)
        .with_ipv4_cache(&self.ipv4)
        .with_ipv6_cache(&self.ipv6)
        .with_ptr_cache(&self.ptr)
    }

    /// Records of `rtype` at `name` (absolute; a trailing dot is added).
    pub async fn lookup(&self, name: &str, rtype: RecordType) -> RawAnswer {
        let mut fqdn = name.trim_end_matches('.').to_ascii_lowercase();
        fqdn.push('.');
        let key = (fqdn.into_boxed_str(), rtype);
        if let Some(answer) = self.raw.lookup(&key) {
            return answer;
        }
        let qname = Name::from_str_relaxed(&*key.0)
            .map_err(|e| DnsFailure::Temporary(format!("invalid name {}: {e}", key.0)))?;
        match self.auth.resolver().lookup(qname, rtype).await {
            Ok(lookup) => {
                let records: Arc<[RData]> = lookup
                    .answers()
                    .iter()
                    .filter(|r| r.record_type() == rtype)
                    .map(|r| r.data.clone())
                    .collect();
                let answer = if records.is_empty() {
                    Err(DnsFailure::Void)
                } else {
                    Ok(records)
                };
                self.raw.store(key, answer.clone(), lookup.valid_until());
                answer
            }
            Err(NetError::Dns(DnsError::NoRecordsFound(no)))
                if matches!(
                    no.response_code,
                    ResponseCode::NXDomain | ResponseCode::NoError
                ) =>
            {
                let ttl = no
                    .negative_ttl
                    .map_or(NEGATIVE_TTL, |t| Duration::from_secs(u64::from(t)))
                    .min(NEGATIVE_TTL);
                self.raw
                    .store(key, Err(DnsFailure::Void), Instant::now() + ttl);
                Err(DnsFailure::Void)
            }
            Err(e) => Err(DnsFailure::Temporary(e.to_string())),
        }
    }

    /// TXT records at `name`, each with its strings joined (RFC 7208 §3.3).
    pub async fn txt(&self, name: &str) -> Result<Vec<Vec<u8>>, DnsFailure> {
        let records = self.lookup(name, RecordType::TXT).await?;
        Ok(records
            .iter()
            .filter_map(|r| match r {
                RData::TXT(t) => Some(t.txt_data.iter().flat_map(|s| s.iter().copied()).collect()),
                _ => None,
            })
            .collect())
    }

    /// IPv4 (`v6` false) or IPv6 addresses of `name`.
    pub async fn addresses(&self, name: &str, v6: bool) -> Result<Vec<IpAddr>, DnsFailure> {
        let rtype = if v6 { RecordType::AAAA } else { RecordType::A };
        let records = self.lookup(name, rtype).await?;
        Ok(records
            .iter()
            .filter_map(|r| match r {
                RData::A(a) => Some(IpAddr::V4(a.0)),
                RData::AAAA(a) => Some(IpAddr::V6(a.0)),
                _ => None,
            })
            .collect())
    }

    /// MX host names of `name`, most preferred first.
    pub async fn mx(&self, name: &str) -> Result<Vec<String>, DnsFailure> {
        let records = self.lookup(name, RecordType::MX).await?;
        let mut hosts: Vec<(u16, String)> = records
            .iter()
            .filter_map(|r| match r {
                RData::MX(mx) => Some((mx.preference, mx.exchange.to_lowercase().to_ascii())),
                _ => None,
            })
            .collect();
        hosts.sort_by_key(|(p, _)| *p);
        Ok(hosts.into_iter().map(|(_, h)| h).collect())
    }

    /// PTR names of `ip`.
    pub async fn ptr(&self, ip: IpAddr) -> Result<Vec<String>, DnsFailure> {
        let name = reverse_name(ip, "in-addr.arpa", "ip6.arpa");
        let records = self.lookup(&name, RecordType::PTR).await?;
        Ok(records
            .iter()
            .filter_map(|r| match r {
                RData::PTR(p) => Some(p.0.to_lowercase().to_ascii()),
                _ => None,
            })
            .collect())
    }
}

/// The reverse name of an address below `v4_zone` or `v6_zone`: dotted
/// octets or nibbles, least significant first (RFC 1035 §3.5, RFC 3596
/// §2.5, and DNSBLs per RFC 5782 §2.1, §2.4).
pub fn reverse_name(ip: IpAddr, v4_zone: &str, v6_zone: &str) -> String {
    match ip.to_canonical() {
        IpAddr::V4(v4) => {
            let o = v4.octets();
            format!("{}.{}.{}.{}.{v4_zone}", o[3], o[2], o[1], o[0])
        }
        IpAddr::V6(v6) => {
            let mut s = String::with_capacity(64 + v6_zone.len());
            for b in v6.octets().iter().rev() {
                s.push(char::from(b"0123456789abcdef"[usize::from(b & 0xf)]));
                s.push('.');
                s.push(char::from(b"0123456789abcdef"[usize::from(b >> 4)]));
                s.push('.');
            }
            s.push_str(v6_zone);
            s
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reverse_names() {
        assert_eq!(
            reverse_name("192.0.2.1".parse().unwrap(), "in-addr.arpa", "ip6.arpa"),
            "1.2.0.192.in-addr.arpa"
        );
        assert_eq!(
            reverse_name(
                "2001:db8::1".parse().unwrap(),
                "zen.example",
                "zen6.example"
            ),
            "1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.zen6.example"
        );
        // IPv4-mapped IPv6 is looked up as IPv4.
        assert_eq!(
            reverse_name("::ffff:192.0.2.1".parse().unwrap(), "bl.example", "x"),
            "1.2.0.192.bl.example"
        );
    }
}
