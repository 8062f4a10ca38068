//! iprev (RFC 8601 §3): the client address has a PTR name that resolves
//! back to it. Done by mail-auth (it tries the first two names).

use std::net::IpAddr;

use super::dns::Dns;
use super::result::{IprevCheck, IprevResult};

pub async fn check(dns: &Dns, ip: IpAddr) -> IprevCheck {
    let out = dns.auth.verify_iprev(dns.params(ip.to_canonical())).await;
    let result = match out.result() {
        mail_auth::IprevResult::Pass => IprevResult::Pass,
        mail_auth::IprevResult::Fail(_) | mail_auth::IprevResult::None => IprevResult::Fail,
        mail_auth::IprevResult::TempError(_) => IprevResult::Temperror,
        mail_auth::IprevResult::PermError(_) => IprevResult::Permerror,
    };
    let names = out
        .ptr
        .iter()
        .flat_map(|p| p.iter())
        .map(|n| n.trim_end_matches('.').to_string())
        .collect();
    IprevCheck { result, names }
}
