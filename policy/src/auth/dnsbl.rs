//! DNS blocklists (RFC 5782): the client address, reversed, below each
//! configured zone. An A record in 127.0.0.0/8 means listed (§2.1, §2.3);
//! the TXT record there says why. NXDOMAIN means not listed.

use std::net::IpAddr;

use super::dns::{Dns, DnsFailure, reverse_name};
use super::result::{DnsblCheck, DnsblStatus};

/// Longest reason text kept from a list's TXT record.
pub const MAX_REASON_LEN: usize = 200;

pub async fn check(dns: &Dns, ip: IpAddr, zone: &str) -> DnsblCheck {
    let zone = zone.trim_end_matches('.').to_ascii_lowercase();
    let name = reverse_name(ip, &zone, &zone);
    let status = match dns.addresses(&name, false).await {
        // RFC 5782 §2.3: only 127/8 answers are list entries.
        Ok(a)
            if a.iter()
                .any(|a| matches!(a, IpAddr::V4(v4) if v4.octets()[0] == 127)) =>
        {
            DnsblStatus::Listed
        }
        Ok(_) | Err(DnsFailure::Void) => DnsblStatus::Pass,
        Err(DnsFailure::Temporary(_)) => DnsblStatus::Temperror,
    };
    let text = if status == DnsblStatus::Listed {
        dns.txt(&name).await.ok().and_then(|t| {
            t.first().map(|t| {
                String::from_utf8_lossy(t)
                    .chars()
                    .filter(|c| (' '..='~').contains(c))
                    .take(MAX_REASON_LEN)
                    .collect()
            })
        })
    } else {
        None
    };
    DnsblCheck { zone, status, text }
}
