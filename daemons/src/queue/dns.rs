//! Where mail for a domain goes (RFC 5321 §5.1): the MX records in order
//! of preference, equal preferences in random order (§5.1: "the sender
//! MUST randomize them"); no MX records: the domain itself (implicit MX);
//! a null MX (RFC 7505: one MX "." with preference 0): no mail at all;
//! NXDOMAIN: no such domain. Addresses of a host: IPv6 first, then IPv4.
//! CNAME chains are followed by the resolver. Domains are looked up in
//! their A-label (IDNA) form, always as absolute names.

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use hickory_resolver::config::{ConnectionConfig, NameServerConfig, ResolverConfig};
use hickory_resolver::net::NetError;
use hickory_resolver::net::runtime::TokioRuntimeProvider;
use hickory_resolver::proto::rr::{Name, RData, RecordType};
use rand::Rng;
use rand::seq::SliceRandom;

use crate::smtp::idna;

pub type Resolver = hickory_resolver::TokioResolver;

/// How long one DNS query may take before it is tried again.
pub const DNS_TIMEOUT: Duration = Duration::from_secs(5);
/// Tries per DNS query.
pub const DNS_ATTEMPTS: usize = 2;
/// Most MX hosts tried for one domain.
pub const MAX_MX_HOSTS: usize = 10;
/// Most addresses tried for one host.
pub const MAX_HOST_ADDRESSES: usize = 4;

/// Why there is no destination.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LookupError {
    /// The domain cannot receive mail (NXDOMAIN, null MX, no address).
    #[error("{text}")]
    Permanent { status: &'static str, text: String },
    /// DNS trouble; try again later.
    #[error("{0}")]
    Temporary(String),
}

/// A resolver asking `server` (tests, a local validating resolver), or
/// the servers of /etc/resolv.conf.
pub fn resolver(server: Option<SocketAddr>) -> Result<Resolver, String> {
    let mut builder = match server {
        Some(addr) => {
            let mut udp = ConnectionConfig::udp();
            udp.port = addr.port();
            let mut tcp = ConnectionConfig::tcp();
            tcp.port = addr.port();
            let ns = NameServerConfig::new(addr.ip(), true, vec![udp, tcp]);
            Resolver::builder_with_config(
                ResolverConfig::from_name_servers(vec![ns]),
                TokioRuntimeProvider::default(),
            )
        }
        None => Resolver::builder_tokio().map_err(|e| format!("reading resolv.conf: {e}"))?,
    };
    let opts = builder.options_mut();
    opts.timeout = DNS_TIMEOUT;
    opts.attempts = DNS_ATTEMPTS;
    builder.build().map_err(|e| format!("DNS resolver: {e}"))
}

/// The absolute DNS name of a domain in A-label form.
fn dns_name(domain: &str) -> Result<Name, LookupError> {
    let ascii = idna::to_forms(domain.trim_end_matches('.'), false)
        .map_err(|e| LookupError::Permanent {
            status: "5.1.2",
            text: format!("invalid domain: {e}"),
        })?
        .ascii;
    Name::from_ascii(format!("{ascii}.")).map_err(|e| LookupError::Permanent {
        status: "5.1.2",
        text: format!("invalid domain: {e}"),
    })
}

fn temporary(what: &str, name: &str, e: &NetError) -> LookupError {
    LookupError::Temporary(format!("{what} lookup for {name}: {e}"))
}

/// RFC 5321 §5.1: lowest preference first; hosts with equal preference in
/// random order; a host listed twice is tried once.
pub fn order_mx(mut records: Vec<(u16, String)>, rng: &mut impl Rng) -> Vec<String> {
    records.shuffle(rng);
    // Stable: the shuffled order stays within each preference.
    records.sort_by_key(|(pref, _)| *pref);
    let mut out: Vec<String> = Vec::with_capacity(records.len());
    for (_, host) in records {
        if !out.contains(&host) {
            out.push(host);
        }
    }
    out.truncate(MAX_MX_HOSTS);
    out
}

/// The hosts to try for `domain`, in order (RFC 5321 §5.1).
pub async fn mx_hosts(r: &Resolver, domain: &str) -> Result<Vec<String>, LookupError> {
    let name = dns_name(domain)?;
    let shown = name.to_ascii();
    let shown = shown.trim_end_matches('.');
    let lookup = match r.lookup(name.clone(), RecordType::MX).await {
        Ok(l) => l,
        // RFC 5321 §5.1: no such domain: no delivery.
        Err(e) if e.is_nx_domain() => {
            return Err(LookupError::Permanent {
                status: "5.1.2",
                text: format!("domain {shown} does not exist (NXDOMAIN)"),
            });
        }
        // No MX records: the domain itself is the implicit MX.
        Err(e) if e.is_no_records_found() => return Ok(vec![shown.to_string()]),
        Err(e) => return Err(temporary("MX", shown, &e)),
    };
    let mut records = Vec::new();
    let mut null_mx = false;
    for rec in lookup.answers() {
        if let RData::MX(mx) = &rec.data {
            if mx.exchange.is_root() {
                // RFC 7505 §3: a null MX has preference 0 and target ".".
                null_mx = true;
                continue;
            }
            let host = mx
                .exchange
                .to_ascii()
                .trim_end_matches('.')
                .to_ascii_lowercase();
            records.push((mx.preference, host));
        }
    }
    if records.is_empty() {
        if null_mx {
            // RFC 7505 §4.2: 5.1.10.
            return Err(LookupError::Permanent {
                status: "5.1.10",
                text: format!("domain {shown} does not accept mail (null MX, RFC 7505)"),
            });
        }
        return Ok(vec![shown.to_string()]);
    }
    Ok(order_mx(records, &mut rand::rng()))
}

/// Addresses of a host: IPv6, then IPv4. No address of either kind is a
/// permanent error only when the host does not exist or has neither.
pub async fn host_addresses(r: &Resolver, host: &str) -> Result<Vec<IpAddr>, LookupError> {
    let name = dns_name(host)?;
    let mut addrs = Vec::new();
    let mut temp = None;
    for rt in [RecordType::AAAA, RecordType::A] {
        match r.lookup(name.clone(), rt).await {
            Ok(l) => {
                for rec in l.answers() {
                    match &rec.data {
                        RData::AAAA(a) if rt == RecordType::AAAA => addrs.push(IpAddr::V6(a.0)),
                        RData::A(a) if rt == RecordType::A => addrs.push(IpAddr::V4(a.0)),
                        _ => {}
                    }
                }
            }
            Err(e) if e.is_nx_domain() || e.is_no_records_found() => {}
            Err(e) => temp = Some(temporary(&format!("{rt}"), host, &e)),
        }
    }
    let mut seen = Vec::with_capacity(addrs.len());
    for a in addrs {
        if !seen.contains(&a) {
            seen.push(a);
        }
    }
    seen.truncate(MAX_HOST_ADDRESSES);
    match (seen.is_empty(), temp) {
        (false, _) => Ok(seen),
        (true, Some(t)) => Err(t),
        (true, None) => Err(LookupError::Permanent {
            status: "5.1.2",
            text: format!("host {host} has no IPv6 or IPv4 address"),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand::rngs::StdRng;

    fn rec(v: &[(u16, &str)]) -> Vec<(u16, String)> {
        v.iter().map(|(p, h)| (*p, h.to_string())).collect()
    }

    #[test]
    fn mx_in_preference_order() {
        let mut rng = StdRng::seed_from_u64(1);
        let got = order_mx(rec(&[(20, "b"), (10, "a"), (30, "c"), (5, "z")]), &mut rng);
        assert_eq!(got, ["z", "a", "b", "c"]);
    }

    #[test]
    fn equal_preferences_are_shuffled_within_their_group() {
        let mut seen_first = std::collections::BTreeSet::new();
        for seed in 0..64 {
            let mut rng = StdRng::seed_from_u64(seed);
            let got = order_mx(
                rec(&[(20, "late"), (10, "a"), (10, "b"), (10, "c"), (5, "first")]),
                &mut rng,
            );
            assert_eq!(got[0], "first");
            assert_eq!(got[4], "late");
            let mut mid = got[1..4].to_vec();
            seen_first.insert(mid[0].clone());
            mid.sort();
            assert_eq!(mid, ["a", "b", "c"]);
        }
        // Each of the three came first at least once in 64 shuffles.
        assert_eq!(seen_first.len(), 3, "{seen_first:?}");
    }

    #[test]
    fn duplicates_once_and_bounded() {
        let mut rng = StdRng::seed_from_u64(3);
        let got = order_mx(rec(&[(10, "a"), (20, "a"), (30, "b")]), &mut rng);
        assert_eq!(got, ["a", "b"]);
        let many: Vec<(u16, String)> = (0..50).map(|i| (i, format!("h{i}"))).collect();
        assert_eq!(order_mx(many, &mut rng).len(), MAX_MX_HOSTS);
    }

    #[test]
    fn names_are_absolute_a_labels() {
        assert_eq!(dns_name("Example.ORG").unwrap().to_ascii(), "example.org.");
        assert_eq!(
            dns_name("bücher.example").unwrap().to_ascii(),
            "xn--bcher-kva.example."
        );
        assert!(matches!(
            dns_name("a..b"),
            Err(LookupError::Permanent { .. })
        ));
    }
}
