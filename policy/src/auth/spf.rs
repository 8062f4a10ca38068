//! SPF's check_host() (RFC 7208 §4, §5), evaluated by moxd over records
//! parsed by mail-auth (its parser and macro expander, RFC 7208 §7). The
//! evaluation is ours because mail-auth 0.13.3's own check_host lacks the
//! void-lookup limit (§4.6.4), does not give permerror for two SPF records
//! (§4.5), and takes the result of a nested include from the wrong record.
//! Limits: 10 DNS-querying terms, 2 void lookups, 10 MX hosts and 10 PTR
//! names per term (§4.6.4), and an overall time limit.

use std::future::Future;
use std::net::IpAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use mail_auth::common::parse::TxtRecordParser;
use mail_auth::spf::{Macro, Mechanism, Qualifier, Spf, Variables};

use super::dns::{Dns, DnsFailure};
use super::result::SpfResult;

/// Terms that query DNS (include, a, mx, ptr, exists, redirect) per
/// evaluation (RFC 7208 §4.6.4).
pub const MAX_DNS_TERMS: u32 = 10;
/// Lookups answering NXDOMAIN or nothing, per evaluation (RFC 7208 §4.6.4).
pub const MAX_VOID_LOOKUPS: u32 = 2;
/// MX hosts one "mx" term may look up (RFC 7208 §4.6.4).
pub const MAX_MX_HOSTS: usize = 10;
/// PTR names one "ptr" term or %{p} may look up (RFC 7208 §4.6.4).
pub const MAX_PTR_NAMES: usize = 10;
/// A whole evaluation (RFC 7208 §4.6.4: at least 20 seconds).
pub const SPF_TIMEOUT: Duration = Duration::from_secs(20);
/// Longest domain name after macro expansion (RFC 7208 §7.3).
pub const MAX_DOMAIN_LEN: usize = 253;
/// Longest explanation kept (RFC 7208 §6.2 text is shown to senders).
pub const MAX_EXPLANATION_LEN: usize = 256;

/// The inputs of check_host() (RFC 7208 §4.1).
#[derive(Debug, Clone, Copy)]
pub struct SpfRequest<'a> {
    pub ip: IpAddr,
    /// The domain whose record is evaluated.
    pub domain: &'a str,
    /// The sender: "local@domain", or "postmaster@helo" for HELO checks.
    pub sender: &'a str,
    pub helo: &'a str,
    /// Our host name (%{r}).
    pub receiver: &'a str,
}

/// check_host()'s answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SpfOutcome {
    pub result: SpfResult,
    pub explanation: Option<String>,
    pub problem: Option<String>,
}

/// Why an evaluation ended early.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Stop {
    Temp(String),
    Perm(String),
}

type Step = Result<(SpfResult, Option<String>), Stop>;

/// check_host() for one identity.
pub async fn check_host(dns: &Dns, req: &SpfRequest<'_>) -> SpfOutcome {
    let domain = req.domain.trim_end_matches('.').to_ascii_lowercase();
    // RFC 7208 §4.3: a malformed or single-label domain gives "none".
    if !valid_domain(&domain) || !domain.contains('.') {
        return outcome(SpfResult::None, None, None);
    }
    let sender = match req.sender.rsplit_once('@') {
        // RFC 7208 §4.3: no local-part: "postmaster".
        Some(("", d)) => format!("postmaster@{d}"),
        Some(_) => req.sender.to_string(),
        None => format!("postmaster@{}", req.sender),
    };
    let ip = req.ip.to_canonical();
    let mut vars = Variables::new();
    vars.set_ip(&ip);
    vars.set_sender(sender.into_bytes());
    vars.set_helo_domain(req.helo.as_bytes().to_vec());
    vars.set_host_domain(req.receiver.as_bytes().to_vec());
    let mut eval = Eval {
        dns,
        ip,
        terms: 0,
        voids: 0,
        vars,
        validated: None,
    };
    match tokio::time::timeout(SPF_TIMEOUT, eval.domain(domain)).await {
        Ok(Ok((result, explanation))) => outcome(result, explanation, None),
        Ok(Err(Stop::Temp(p))) => outcome(SpfResult::Temperror, None, Some(p)),
        Ok(Err(Stop::Perm(p))) => outcome(SpfResult::Permerror, None, Some(p)),
        Err(_) => outcome(
            SpfResult::Temperror,
            None,
            Some("SPF evaluation took too long".into()),
        ),
    }
}

fn outcome(result: SpfResult, explanation: Option<String>, problem: Option<String>) -> SpfOutcome {
    SpfOutcome {
        result,
        explanation,
        problem,
    }
}

/// A syntactically valid domain name: labels of 1-63 octets, 253 in all.
fn valid_domain(d: &str) -> bool {
    !d.is_empty()
        && d.len() <= MAX_DOMAIN_LEN
        && d.split('.').all(|l| !l.is_empty() && l.len() <= 63)
}

/// Whether a TXT record is an SPF record (RFC 7208 §4.5: "v=spf1"
/// followed by a space or its end, case-insensitive).
fn is_spf_record(txt: &[u8]) -> bool {
    txt.len() >= 6 && txt[..6].eq_ignore_ascii_case(b"v=spf1") && (txt.len() == 6 || txt[6] == b' ')
}

/// The term grammar of RFC 7208 §12 that mail-auth's parser does not
/// enforce: unknown mechanisms (§4.6: permerror, unlike unknown
/// modifiers, which are ignored) and malformed ip4/ip6 networks.
fn check_terms(record: &str) -> Result<(), String> {
    for term in record.split(' ').skip(1).filter(|t| !t.is_empty()) {
        let body = term.strip_prefix(['+', '-', '?', '~']).unwrap_or(term);
        let qualified = body.len() != term.len();
        // modifier = name "=" macro-string, name = ALPHA *(ALPHA / DIGIT / "-" / "_" / ".")
        if let Some((name, _)) = body.split_once('=')
            && !qualified
            && name.starts_with(|c: char| c.is_ascii_alphabetic())
            && name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
        {
            continue;
        }
        let split = body.find([':', '/']).unwrap_or(body.len());
        let (mech, rest) = body.split_at(split);
        let network = |max: u8, v6: bool| -> bool {
            let Some(net) = rest.strip_prefix(':') else {
                return false;
            };
            let (addr, len) = match net.rsplit_once('/') {
                Some((a, l)) => (a, Some(l)),
                None => (net, None),
            };
            let addr_ok = if v6 {
                addr.parse::<std::net::Ipv6Addr>().is_ok()
            } else {
                addr.parse::<std::net::Ipv4Addr>().is_ok()
            };
            addr_ok
                && len.is_none_or(|l| {
                    !l.starts_with('0') || l == "0"
                } && l.parse::<u8>().is_ok_and(|n| n <= max))
        };
        let ok = match mech.to_ascii_lowercase().as_str() {
            "all" => rest.is_empty(),
            "include" | "exists" => rest.len() > 1 && rest.starts_with(':'),
            "a" | "mx" => true,
            "ptr" => rest.is_empty() || (rest.len() > 1 && rest.starts_with(':')),
            "ip4" => network(32, false),
            "ip6" => network(128, true),
            _ => false,
        };
        if !ok {
            return Err(format!("invalid term {term:?}"));
        }
    }
    Ok(())
}

struct Eval<'a> {
    dns: &'a Dns,
    ip: IpAddr,
    terms: u32,
    voids: u32,
    /// Macro variables (RFC 7208 §7.2); %{d} is set per record.
    vars: Variables<'static>,
    /// %{p}, computed on first use.
    validated: Option<String>,
}

impl<'a> Eval<'a> {
    fn count_term(&mut self) -> Result<(), Stop> {
        self.terms += 1;
        if self.terms > MAX_DNS_TERMS {
            return Err(Stop::Perm(format!(
                "more than {MAX_DNS_TERMS} DNS-querying terms"
            )));
        }
        Ok(())
    }

    fn count_void(&mut self) -> Result<(), Stop> {
        self.voids += 1;
        if self.voids > MAX_VOID_LOOKUPS {
            return Err(Stop::Perm(format!(
                "more than {MAX_VOID_LOOKUPS} void lookups"
            )));
        }
        Ok(())
    }

    /// The SPF record of `domain` (RFC 7208 §4.4, §4.5); None: no record.
    async fn record(&self, domain: &str) -> Result<Option<Arc<Spf>>, Stop> {
        let txts = match self.dns.txt(domain).await {
            Ok(t) => t,
            Err(DnsFailure::Void) => return Ok(None),
            Err(DnsFailure::Temporary(e)) => return Err(Stop::Temp(e)),
        };
        let mut spf = txts.iter().filter(|t| is_spf_record(t));
        let Some(first) = spf.next() else {
            return Ok(None);
        };
        if spf.next().is_some() {
            return Err(Stop::Perm(format!("{domain} has more than one SPF record")));
        }
        if let Err(e) = check_terms(&String::from_utf8_lossy(first)) {
            return Err(Stop::Perm(format!("invalid SPF record at {domain}: {e}")));
        }
        match Spf::parse(first) {
            Ok(r) => Ok(Some(Arc::new(r))),
            Err(e) => Err(Stop::Perm(format!("invalid SPF record at {domain}: {e}"))),
        }
    }

    /// Evaluate the record of `domain`: a result of pass, fail, softfail,
    /// neutral, or none when it has no record.
    fn domain(&mut self, domain: String) -> Pin<Box<dyn Future<Output = Step> + Send + '_>> {
        Box::pin(async move {
            let Some(rec) = self.record(&domain).await? else {
                return Ok((SpfResult::None, None));
            };
            for d in rec.directives.iter() {
                if !self.matches(&d.mechanism, &domain).await? {
                    continue;
                }
                // RFC 7208 §4.6.2: the first match's qualifier is the result.
                let result = match d.qualifier {
                    Qualifier::Pass => SpfResult::Pass,
                    Qualifier::Fail => SpfResult::Fail,
                    Qualifier::SoftFail => SpfResult::Softfail,
                    Qualifier::Neutral => SpfResult::Neutral,
                };
                let explanation = match (&rec.exp, result) {
                    (Some(exp), SpfResult::Fail) => self.explain(exp, &domain).await,
                    _ => None,
                };
                return Ok((result, explanation));
            }
            // RFC 7208 §6.1: no mechanism matched (so there is no "all").
            if let Some(redirect) = &rec.redirect {
                self.count_term()?;
                let target = self.expand(redirect, &domain)?;
                let (result, explanation) = self.domain(target.clone()).await?;
                if result == SpfResult::None {
                    return Err(Stop::Perm(format!(
                        "redirect target {target} has no SPF record"
                    )));
                }
                return Ok((result, explanation));
            }
            // RFC 7208 §4.7.
            Ok((SpfResult::Neutral, None))
        })
    }

    /// Whether one mechanism matches (RFC 7208 §5).
    async fn matches(&mut self, m: &Mechanism, domain: &str) -> Result<bool, Stop> {
        let ip = self.ip;
        if m.needs_ptr() && self.validated.is_none() {
            // RFC 7208 §7.3: %{p} is "unknown" when no name validates.
            let name = self.validated_name(domain).await?;
            self.validated = Some(name.unwrap_or_else(|| "unknown".into()));
        }
        match m {
            // RFC 7208 §5.1.
            Mechanism::All => Ok(true),
            // RFC 7208 §5.6.
            Mechanism::Ip4 { addr, mask } => Ok(match ip {
                IpAddr::V4(v4) => u32::from(v4) & mask == u32::from(*addr) & mask,
                IpAddr::V6(_) => false,
            }),
            Mechanism::Ip6 { addr, mask } => Ok(match ip {
                IpAddr::V6(v6) => u128::from(v6) & mask == u128::from(*addr) & mask,
                IpAddr::V4(_) => false,
            }),
            // RFC 7208 §5.3.
            Mechanism::A {
                macro_string,
                ip4_mask,
                ip6_mask,
            } => {
                self.count_term()?;
                let target = self.expand(macro_string, domain)?;
                self.address_match(&target, *ip4_mask, *ip6_mask, true)
                    .await
            }
            // RFC 7208 §5.4.
            Mechanism::Mx {
                macro_string,
                ip4_mask,
                ip6_mask,
            } => {
                self.count_term()?;
                let target = self.expand(macro_string, domain)?;
                let hosts = match self.dns.mx(&target).await {
                    Ok(h) => h,
                    Err(DnsFailure::Void) => {
                        self.count_void()?;
                        return Ok(false);
                    }
                    Err(DnsFailure::Temporary(e)) => return Err(Stop::Temp(e)),
                };
                if hosts.len() > MAX_MX_HOSTS {
                    return Err(Stop::Perm(format!(
                        "{target} has more than {MAX_MX_HOSTS} MX records"
                    )));
                }
                for host in hosts {
                    let host = host.trim_end_matches('.');
                    // A null MX (RFC 7505) names no host.
                    if host.is_empty() {
                        continue;
                    }
                    if self
                        .address_match(host, *ip4_mask, *ip6_mask, false)
                        .await?
                    {
                        return Ok(true);
                    }
                }
                Ok(false)
            }
            // RFC 7208 §5.2.
            Mechanism::Include { macro_string } => {
                self.count_term()?;
                let target = self.expand(macro_string, domain)?;
                match self.domain(target.clone()).await?.0 {
                    SpfResult::Pass => Ok(true),
                    SpfResult::None => Err(Stop::Perm(format!(
                        "include target {target} has no SPF record"
                    ))),
                    _ => Ok(false),
                }
            }
            // RFC 7208 §5.5.
            Mechanism::Ptr { macro_string } => {
                self.count_term()?;
                let target = self.expand(macro_string, domain)?;
                Ok(self
                    .validated_name(&target)
                    .await?
                    .is_some_and(|name| name == target || name.ends_with(&format!(".{target}"))))
            }
            // RFC 7208 §5.7: always an A query.
            Mechanism::Exists { macro_string } => {
                self.count_term()?;
                let target = self.expand(macro_string, domain)?;
                match self.dns.addresses(&target, false).await {
                    Ok(a) => Ok(!a.is_empty()),
                    Err(DnsFailure::Void) => {
                        self.count_void()?;
                        Ok(false)
                    }
                    Err(DnsFailure::Temporary(e)) => Err(Stop::Temp(e)),
                }
            }
        }
    }

    /// Whether an address of `host` (of the client's family) is in the
    /// client's network; `counts`: a void answer counts toward the limit.
    async fn address_match(
        &mut self,
        host: &str,
        mask4: u32,
        mask6: u128,
        counts: bool,
    ) -> Result<bool, Stop> {
        let ip = self.ip;
        let addrs = match self.dns.addresses(host, ip.is_ipv6()).await {
            Ok(a) => a,
            Err(DnsFailure::Void) => {
                if counts {
                    self.count_void()?;
                }
                return Ok(false);
            }
            Err(DnsFailure::Temporary(e)) => return Err(Stop::Temp(e)),
        };
        Ok(addrs.iter().any(|a| match (a, ip) {
            (IpAddr::V4(a), IpAddr::V4(c)) => u32::from(*a) & mask4 == u32::from(c) & mask4,
            (IpAddr::V6(a), IpAddr::V6(c)) => u128::from(*a) & mask6 == u128::from(c) & mask6,
            _ => false,
        }))
    }

    /// A PTR name of the client that resolves back to it, preferring one
    /// at or below `target` (RFC 7208 §5.5); lookup errors mean no match.
    async fn validated_name(&mut self, target: &str) -> Result<Option<String>, Stop> {
        let names = match self.dns.ptr(self.ip).await {
            Ok(n) => n,
            Err(DnsFailure::Void) => {
                self.count_void()?;
                return Ok(None);
            }
            Err(DnsFailure::Temporary(_)) => return Ok(None),
        };
        let suffix = format!(".{target}");
        let mut names: Vec<String> = names
            .into_iter()
            .take(MAX_PTR_NAMES)
            .map(|n| n.trim_end_matches('.').to_ascii_lowercase())
            .collect();
        // Names at or below the target first.
        names.sort_by_key(|n| !(n == target || n.ends_with(&suffix)));
        for name in names {
            if let Ok(addrs) = self.dns.addresses(&name, self.ip.is_ipv6()).await
                && addrs.contains(&self.ip)
            {
                return Ok(Some(name));
            }
        }
        Ok(None)
    }

    /// Expand a domain-spec (RFC 7208 §7) in the context of `domain`.
    fn expand(&self, m: &Macro, domain: &str) -> Result<String, Stop> {
        let mut vars = self.vars.clone();
        vars.set_domain(domain.as_bytes().to_vec());
        if let Some(p) = &self.validated {
            vars.set_validated_domain(p.as_bytes().to_vec());
        }
        let s = m
            .eval(&vars, domain, true)
            .trim_end_matches('.')
            .to_ascii_lowercase();
        // RFC 7208 §7.3: drop labels from the left until it fits.
        let mut s = s.as_str();
        while s.len() > MAX_DOMAIN_LEN {
            match s.split_once('.') {
                Some((_, rest)) => s = rest,
                None => break,
            }
        }
        if !valid_domain(s) {
            return Err(Stop::Perm(format!(
                "invalid domain after macro expansion: {s:?}"
            )));
        }
        Ok(s.to_string())
    }

    /// The explanation of a fail (RFC 7208 §6.2); None on any trouble.
    async fn explain(&mut self, exp: &Macro, domain: &str) -> Option<String> {
        let target = self.expand(exp, domain).ok()?;
        let txts = self.dns.txt(&target).await.ok()?;
        let [txt] = txts.as_slice() else {
            return None;
        };
        let m = Macro::parse(txt).ok()?;
        let mut vars = self.vars.clone();
        vars.set_domain(domain.as_bytes().to_vec());
        let text: String = m
            .eval(&vars, domain, false)
            .chars()
            .filter(|c| (' '..='~').contains(c))
            .take(MAX_EXPLANATION_LEN)
            .collect();
        Some(text).filter(|t| !t.trim().is_empty())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spf_record_selection() {
        assert!(is_spf_record(b"v=spf1"));
        assert!(is_spf_record(b"V=SPF1 -all"));
        assert!(!is_spf_record(b"v=spf10 -all"));
        assert!(!is_spf_record(b"spf2.0/pra -all"));
    }

    #[test]
    fn term_grammar() {
        assert!(check_terms("v=spf1 ip4:192.0.2.0/24 ip6:2001:db8::/32 a mx/24 -all").is_ok());
        assert!(check_terms("v=spf1 include:_spf.example.org ~all unknown=x exp=e.%{d}").is_ok());
        assert!(check_terms("v=spf1 foo:bar -all").is_err());
        assert!(check_terms("v=spf1 ip4:192.0.2.300 -all").is_err());
        assert!(check_terms("v=spf1 ip4:192.0.2.0/33").is_err());
        assert!(check_terms("v=spf1 ip6:2001:db8::/129").is_err());
        assert!(check_terms("v=spf1 include -all").is_err());
        assert!(check_terms("v=spf1 -redirect=x.example").is_err());
    }

    #[test]
    fn domain_validity() {
        assert!(valid_domain("example.org"));
        assert!(!valid_domain("example..org"));
        assert!(!valid_domain(&format!("{}.org", "a".repeat(64))));
    }
}
