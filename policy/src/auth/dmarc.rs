//! DMARC (RFC 7489): mail-auth finds the policy record (the author
//! domain's, else its organizational domain's by a DNS tree walk, with sp=
//! for subdomains) and checks identifier alignment (§3.1, strict or
//! relaxed). mail-auth 0.13.3 follows DMARCbis, which dropped pct=; moxd
//! applies RFC 7489 §6.6.4 sampling itself, reading pct= (and the other
//! published tags, for aggregate reports) from the record's text.

use mail_auth::dmarc::Policy;
use mail_auth::dmarc::verify::DmarcParameters;
use mail_auth::{AuthenticatedMessage, DkimOutput, SpfOutput};
use serde::{Deserialize, Serialize};

use super::dns::Dns;
use super::result::{DmarcCheck, DmarcPolicy, DmarcResult};

/// Most names tried upward from the author domain to find its record
/// (RFC 9989 §4.10: at most 8 queries in a tree walk).
pub const MAX_TREE_WALK: usize = 8;

/// The tags of a published record that aggregate reports repeat (RFC 7489
/// Appendix C, PolicyPublishedType).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PublishedPolicy {
    /// The domain the record was found at.
    pub domain: String,
    /// adkim= and aspf=: "r" or "s".
    pub adkim: String,
    pub aspf: String,
    pub p: DmarcPolicy,
    pub sp: DmarcPolicy,
    pub pct: u8,
}

fn policy(p: Policy) -> DmarcPolicy {
    match p {
        Policy::Reject => DmarcPolicy::Reject,
        Policy::Quarantine => DmarcPolicy::Quarantine,
        Policy::None | Policy::Unspecified => DmarcPolicy::None,
    }
}

fn result(r: &mail_auth::DmarcResult) -> DmarcResult {
    match r {
        mail_auth::DmarcResult::Pass => DmarcResult::Pass,
        mail_auth::DmarcResult::Fail(_) => DmarcResult::Fail,
        mail_auth::DmarcResult::TempError(_) => DmarcResult::Temperror,
        mail_auth::DmarcResult::PermError(_) => DmarcResult::Permerror,
        mail_auth::DmarcResult::None => DmarcResult::None,
    }
}

/// Evaluate DMARC for a message whose SPF and DKIM results are known.
/// `spf_domain` is the domain SPF checked (MAIL FROM's, or HELO's for the
/// null reverse-path); `sample` is a number in 0..100 compared with pct=.
pub async fn check(
    dns: &Dns,
    msg: &AuthenticatedMessage<'_>,
    dkim: &[DkimOutput<'_>],
    spf_domain: &str,
    spf: &SpfOutput,
    sample: u8,
) -> (DmarcCheck, Option<PublishedPolicy>) {
    let out = dns
        .auth
        .verify_dmarc(dns.params(DmarcParameters::new(msg, dkim, spf_domain, spf)))
        .await;
    let from_domain = out.domain().to_ascii_lowercase();
    let res = result(&out.result());
    let published = match out.dmarc_record() {
        Some(_) => published(dns, &from_domain).await,
        None => None,
    };
    let pct = published.as_ref().map_or(100, |p| p.pct);
    let declared = policy(out.policy());
    // RFC 7489 §6.6.4: a failing message outside the pct= sample gets the
    // next weaker policy.
    let applied = match res {
        DmarcResult::Fail if sample < pct => declared,
        DmarcResult::Fail => declared.weaker(),
        _ => DmarcPolicy::None,
    };
    let check = DmarcCheck {
        result: res,
        from_domain,
        policy: declared,
        applied,
        pct,
        spf_aligned: *out.spf_result() == mail_auth::DmarcResult::Pass,
        dkim_aligned: *out.dkim_result() == mail_auth::DmarcResult::Pass,
        rua: out
            .dmarc_record()
            .map(|r| r.rua().iter().map(|u| u.uri().to_string()).collect())
            .unwrap_or_default(),
        published: published.clone(),
    };
    (check, published)
}

/// The record that applies to `from_domain`: its own, else the nearest
/// parent's (RFC 7489 §6.6.3), read as text.
async fn published(dns: &Dns, from_domain: &str) -> Option<PublishedPolicy> {
    let mut name = from_domain;
    for _ in 0..MAX_TREE_WALK {
        if let Ok(txts) = dns.txt(&format!("_dmarc.{name}")).await {
            let mut records = txts.iter().filter(|t| is_dmarc_record(t));
            if let (Some(r), None) = (records.next(), records.next()) {
                return Some(parse_tags(name, &String::from_utf8_lossy(r)));
            }
        }
        match name.split_once('.') {
            Some((_, rest)) if rest.contains('.') => name = rest,
            _ => break,
        }
    }
    None
}

/// RFC 7489 §6.4: "v=DMARC1" first.
fn is_dmarc_record(txt: &[u8]) -> bool {
    let t: Vec<u8> = txt.iter().copied().filter(|b| *b != b' ').collect();
    t.len() >= 8 && t[..8].eq_ignore_ascii_case(b"v=DMARC1") && (t.len() == 8 || t[8] == b';')
}

/// The tags reports repeat (RFC 7489 §6.3); unknown or invalid values
/// take their defaults.
fn parse_tags(domain: &str, record: &str) -> PublishedPolicy {
    let mut p = PublishedPolicy {
        domain: domain.to_string(),
        adkim: "r".into(),
        aspf: "r".into(),
        p: DmarcPolicy::None,
        sp: DmarcPolicy::None,
        pct: 100,
    };
    let mut sp = None;
    for tag in record.split(';') {
        let Some((k, v)) = tag.split_once('=') else {
            continue;
        };
        let (k, v) = (k.trim().to_ascii_lowercase(), v.trim().to_ascii_lowercase());
        let pol = match v.as_str() {
            "reject" => Some(DmarcPolicy::Reject),
            "quarantine" => Some(DmarcPolicy::Quarantine),
            "none" => Some(DmarcPolicy::None),
            _ => None,
        };
        match k.as_str() {
            "p" => p.p = pol.unwrap_or(DmarcPolicy::None),
            "sp" => sp = pol,
            "adkim" if v == "s" || v == "r" => p.adkim = v,
            "aspf" if v == "s" || v == "r" => p.aspf = v,
            "pct" => {
                if let Ok(n) = v.parse::<u8>() {
                    p.pct = n.min(100);
                }
            }
            _ => {}
        }
    }
    // RFC 7489 §6.3: sp= defaults to p=.
    p.sp = sp.unwrap_or(p.p);
    p
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tags() {
        let p = parse_tags(
            "example.org",
            "v=DMARC1; p=quarantine; pct=25; adkim=s; rua=mailto:d@example.org",
        );
        assert_eq!(p.p, DmarcPolicy::Quarantine);
        assert_eq!(p.sp, DmarcPolicy::Quarantine);
        assert_eq!(p.pct, 25);
        assert_eq!(p.adkim, "s");
        assert_eq!(p.aspf, "r");
        let p = parse_tags("x.org", "v=DMARC1;p=reject;sp=none;pct=900");
        assert_eq!(
            (p.p, p.sp, p.pct),
            (DmarcPolicy::Reject, DmarcPolicy::None, 100)
        );
        assert!(is_dmarc_record(b"v=DMARC1; p=none"));
        assert!(is_dmarc_record(b"v = DMARC1;p=none"));
        assert!(!is_dmarc_record(b"v=DMARC10; p=none"));
        assert!(!is_dmarc_record(b"v=spf1 -all"));
    }
}
