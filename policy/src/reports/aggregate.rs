//! Outgoing aggregate reports (RFC 7489 §7.2): smtp-in keeps one
//! [`ReportRow`] per received message whose From domain asks for reports
//! (rua=); once a UTC day is over, the queue worker groups that day's rows
//! by domain, merges identical rows into counts, and sends each domain one
//! report (XML, gzip-compressed, as an email: mail-auth's generator) to
//! those rua addresses that consent (§7.1: an address outside the domain
//! must publish `<domain>._report._dmarc.<its domain>` TXT "v=DMARC1").

use std::collections::HashMap;

use mail_auth::report::{
    ActionDisposition, Alignment, DKIMAuthResult, Disposition, DmarcResult, Record, Report,
    SPFAuthResult, SPFDomainScope,
};
use serde::{Deserialize, Serialize};

use crate::auth::dmarc::PublishedPolicy;
use crate::auth::dns::Dns;
use crate::auth::{DkimResult, DmarcPolicy, Evaluation, SpfIdentity, SpfResult};

/// The reporting period: one UTC day (RFC 7489 §6.3 ri= default).
pub const REPORT_PERIOD_SECS: i64 = 86_400;
/// Most rua addresses one report goes to (RFC 7489 §6.2 lets receivers
/// limit them).
pub const MAX_RUA: usize = 5;
/// Longest text of an address or domain taken from a record.
const MAX_NAME: usize = 255;

/// One received message, as its aggregate report will show it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReportRow {
    /// rua= addresses of the From domain's record.
    pub rua: Vec<String>,
    pub published: PublishedPolicy,
    /// count = 1.
    pub record: Record,
}

/// Who sends reports.
#[derive(Debug, Clone)]
pub struct Reporter {
    /// <org_name>, e.g. our host name.
    pub org_name: String,
    /// <email> and the From address of report messages.
    pub email: String,
    /// Our host name (Message-ID, the report's "Submitter").
    pub submitter: String,
}

/// A composed report: its recipients and the message to queue.
#[derive(Debug, Clone)]
pub struct OutgoingReport {
    pub domain: String,
    pub report_id: String,
    pub rua: Vec<String>,
    pub message: String,
}

fn dkim_result(r: DkimResult) -> mail_auth::report::DkimResult {
    use mail_auth::report::DkimResult as R;
    match r {
        DkimResult::None => R::None,
        DkimResult::Pass => R::Pass,
        DkimResult::Fail => R::Fail,
        DkimResult::Policy => R::Policy,
        DkimResult::Neutral => R::Neutral,
        DkimResult::Temperror => R::TempError,
        DkimResult::Permerror => R::PermError,
    }
}

fn spf_result(r: SpfResult) -> mail_auth::report::SpfResult {
    use mail_auth::report::SpfResult as R;
    match r {
        SpfResult::None => R::None,
        SpfResult::Neutral => R::Neutral,
        SpfResult::Pass => R::Pass,
        SpfResult::Fail => R::Fail,
        SpfResult::Softfail => R::SoftFail,
        SpfResult::Temperror => R::TempError,
        SpfResult::Permerror => R::PermError,
    }
}

fn disposition(p: DmarcPolicy) -> Disposition {
    match p {
        DmarcPolicy::None => Disposition::None,
        DmarcPolicy::Quarantine => Disposition::Quarantine,
        DmarcPolicy::Reject => Disposition::Reject,
    }
}

fn alignment(s: &str) -> Alignment {
    if s == "s" {
        Alignment::Strict
    } else {
        Alignment::Relaxed
    }
}

fn clip(s: &str) -> String {
    s.chars().take(MAX_NAME).collect()
}

/// The report row of a message received for `envelope_to_domain`, when
/// its From domain asks for aggregate reports: (policy domain, row).
pub fn row(e: &Evaluation, envelope_to_domain: &str) -> Option<(String, ReportRow)> {
    let d = e.dmarc.as_ref()?;
    let published = d.published.clone()?;
    if d.rua.is_empty() || d.from_domain.is_empty() {
        return None;
    }
    let pass = |aligned: bool| {
        if aligned {
            DmarcResult::Pass
        } else {
            DmarcResult::Fail
        }
    };
    let envelope_from = match e.mail_from.rsplit_once('@') {
        Some((_, dom)) => dom.to_ascii_lowercase(),
        None => e.helo.to_ascii_lowercase(),
    };
    let mut record = Record::new()
        .with_source_ip(e.remote_ip)
        .with_count(1)
        .with_action_disposition(match d.applied {
            DmarcPolicy::None => ActionDisposition::None,
            DmarcPolicy::Quarantine => ActionDisposition::Quarantine,
            DmarcPolicy::Reject => ActionDisposition::Reject,
        })
        .with_dmarc_dkim_result(pass(d.dkim_aligned))
        .with_dmarc_spf_result(pass(d.spf_aligned))
        .with_envelope_to(clip(&envelope_to_domain.to_ascii_lowercase()))
        .with_envelope_from(clip(&envelope_from))
        .with_header_from(clip(&d.from_domain));
    for k in e.dkim.iter().filter(|k| !k.domain.is_empty()) {
        record = record.with_dkim_auth_result(
            DKIMAuthResult::new()
                .with_domain(clip(&k.domain))
                .with_selector(clip(&k.selector))
                .with_result(dkim_result(k.result)),
        );
    }
    if let Some(s) = e.spf() {
        record = record.with_spf_auth_result(
            SPFAuthResult::new()
                .with_domain(clip(&s.domain))
                .with_scope(match s.identity {
                    SpfIdentity::MailFrom => SPFDomainScope::MailFrom,
                    SpfIdentity::Helo => SPFDomainScope::Helo,
                })
                .with_result(spf_result(s.result)),
        );
    }
    let rua = d.rua.iter().take(MAX_RUA).map(|a| clip(a)).collect();
    Some((
        d.from_domain.clone(),
        ReportRow {
            rua,
            published,
            record,
        },
    ))
}

/// The start of the UTC day (report period) `t` falls in.
pub fn period_start(t: i64) -> i64 {
    t - t.rem_euclid(REPORT_PERIOD_SECS)
}

/// One report for `domain` over [`begin`, `begin` + one day) from its
/// rows; identical rows become one record with their count. None when
/// there are no rows.
pub fn compose(
    domain: &str,
    rows: &[ReportRow],
    begin: i64,
    reporter: &Reporter,
) -> Result<Option<OutgoingReport>, std::io::Error> {
    let Some(last) = rows.last() else {
        return Ok(None);
    };
    let mut rua: Vec<String> = Vec::new();
    let mut counts: HashMap<Record, u32> = HashMap::new();
    let mut order: Vec<Record> = Vec::new();
    for r in rows {
        for a in &r.rua {
            if rua.len() < MAX_RUA && !rua.iter().any(|x| x.eq_ignore_ascii_case(a)) {
                rua.push(a.clone());
            }
        }
        let key = r.record.clone().with_count(0);
        let n = counts.entry(key.clone()).or_insert(0);
        if *n == 0 {
            order.push(key);
        }
        *n = n.saturating_add(r.record.count().max(1));
    }
    let p = &last.published;
    let report_id = format!("{begin}.{domain}");
    let begin_u = u64::try_from(begin).unwrap_or(0);
    let mut report = Report::new()
        .with_version(1.0)
        .with_org_name(reporter.org_name.clone())
        .with_email(reporter.email.clone())
        .with_report_id(report_id.clone())
        .with_date_range_begin(begin_u)
        .with_date_range_end(begin_u + REPORT_PERIOD_SECS as u64 - 1)
        .with_domain(domain)
        .with_adkim(alignment(&p.adkim))
        .with_aspf(alignment(&p.aspf))
        .with_p(disposition(p.p))
        .with_sp(disposition(p.sp))
        .with_testing(false);
    for key in order {
        let n = counts.get(&key).copied().unwrap_or(1);
        report = report.with_record(key.with_count(n));
    }
    let message = report.to_rfc5322(
        &reporter.submitter,
        (reporter.org_name.as_str(), reporter.email.as_str()),
        rua.iter().map(String::as_str),
    )?;
    Ok(Some(OutgoingReport {
        domain: domain.to_string(),
        report_id,
        rua,
        message,
    }))
}

/// The addresses of `rua` that may receive `domain`'s reports (RFC 7489
/// §7.1): those in the domain or below it, and those whose domain
/// publishes `<domain>._report._dmarc.<their domain>` with "v=DMARC1".
/// An address that cannot be checked now is left out.
pub async fn verified_destinations(dns: &Dns, domain: &str, rua: &[String]) -> Vec<String> {
    let domain = domain.to_ascii_lowercase();
    let mut out = Vec::new();
    for a in rua {
        let Some((_, d)) = a.rsplit_once('@') else {
            continue;
        };
        let d = d.to_ascii_lowercase();
        let inside = d == domain || d.ends_with(&format!(".{domain}"));
        let consent = inside
            || dns
                .txt(&format!("{domain}._report._dmarc.{d}"))
                .await
                .is_ok_and(|txts| {
                    txts.iter().any(|t| {
                        let t: Vec<u8> = t.iter().copied().filter(|b| *b != b' ').collect();
                        t.len() >= 8 && t[..8].eq_ignore_ascii_case(b"v=DMARC1")
                    })
                });
        if consent {
            out.push(a.clone());
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::{Disposition as Disp, DkimCheck, DmarcCheck, DmarcResult as DR, SpfCheck};

    fn evaluation(ip: &str, applied: DmarcPolicy) -> Evaluation {
        Evaluation {
            remote_ip: ip.parse().unwrap(),
            helo: "mail.sender.test".into(),
            mail_from: "bounce@sender.test".into(),
            iprev: None,
            spf_helo: None,
            spf_mailfrom: Some(SpfCheck {
                identity: SpfIdentity::MailFrom,
                domain: "sender.test".into(),
                result: SpfResult::Pass,
                explanation: None,
                problem: None,
            }),
            dkim: vec![DkimCheck {
                result: DkimResult::Fail,
                domain: "sender.test".into(),
                selector: "s1".into(),
                algorithm: "rsa-sha256".into(),
                identity: None,
                b: "abc".into(),
                reason: None,
            }],
            dmarc: Some(DmarcCheck {
                result: DR::Pass,
                from_domain: "sender.test".into(),
                policy: DmarcPolicy::Reject,
                applied,
                pct: 100,
                spf_aligned: true,
                dkim_aligned: false,
                rua: vec!["dmarc@sender.test".into(), "agg@reports.example".into()],
                published: Some(PublishedPolicy {
                    domain: "sender.test".into(),
                    adkim: "r".into(),
                    aspf: "s".into(),
                    p: DmarcPolicy::Reject,
                    sp: DmarcPolicy::Quarantine,
                    pct: 100,
                }),
            }),
            dnsbl: vec![],
            disposition: Disp::Accept,
        }
    }

    #[test]
    fn rows_merge_into_one_report() {
        let reporter = Reporter {
            org_name: "mx.moxd.test".into(),
            email: "postmaster@mx.moxd.test".into(),
            submitter: "mx.moxd.test".into(),
        };
        let rows: Vec<ReportRow> = [
            ("192.0.2.1", DmarcPolicy::None),
            ("192.0.2.1", DmarcPolicy::None),
            ("192.0.2.2", DmarcPolicy::None),
        ]
        .iter()
        .map(|(ip, p)| row(&evaluation(ip, *p), "moxd.test").unwrap().1)
        .collect();
        // Rows survive the store's JSON.
        let json = serde_json::to_string(&rows[0]).unwrap();
        assert_eq!(serde_json::from_str::<ReportRow>(&json).unwrap(), rows[0]);
        let day = period_start(1_764_150_000);
        assert_eq!(day % REPORT_PERIOD_SECS, 0);
        let r = compose("sender.test", &rows, day, &reporter)
            .unwrap()
            .unwrap();
        assert_eq!(r.rua, ["dmarc@sender.test", "agg@reports.example"]);
        assert!(
            r.message.contains("Report Domain: sender.test"),
            "{}",
            r.message
        );
        // The attachment parses back as the same report.
        let parsed = Report::parse_rfc5322(r.message.as_bytes(), 1 << 20).unwrap();
        assert_eq!(parsed.domain(), "sender.test");
        assert_eq!(parsed.records().len(), 2);
        let counts: Vec<u32> = parsed.records().iter().map(|x| x.count()).collect();
        assert_eq!(counts.iter().sum::<u32>(), 3);
        assert!(counts.contains(&2));
        assert_eq!(parsed.records()[0].dmarc_spf_result(), DmarcResult::Pass);
        assert_eq!(parsed.records()[0].dmarc_dkim_result(), DmarcResult::Fail);
        assert_eq!(parsed.aspf(), Alignment::Strict);
        assert_eq!(parsed.sp(), Disposition::Quarantine);
        assert_eq!(parsed.date_range_begin(), day as u64);
        // No rows, no report; no rua, no row.
        assert!(compose("x.test", &[], day, &reporter).unwrap().is_none());
        let mut e = evaluation("192.0.2.1", DmarcPolicy::None);
        e.dmarc.as_mut().unwrap().rua.clear();
        assert!(row(&e, "moxd.test").is_none());
    }
}
