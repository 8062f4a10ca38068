//! Incoming aggregate reports: a message to the configured reporting
//! address is parsed (its XML, .xml.gz or .zip attachment, RFC 7489 §7.2.1.1)
//! into a summary and the report as JSON, for the store.

use mail_auth::report::{DmarcResult, Report};

/// Largest uncompressed report accepted.
pub const MAX_REPORT_SIZE: usize = 20 * 1024 * 1024;

/// What `moxctl dmarc reports` lists about a report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReportSummary {
    pub org_name: String,
    pub report_id: String,
    pub domain: String,
    pub begin: i64,
    pub end: i64,
    /// Messages reported.
    pub messages: u64,
    /// Of them, those with neither an aligned DKIM nor SPF pass.
    pub failed: u64,
    /// The whole report.
    pub json: String,
}

#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    #[error("not a DMARC aggregate report: {0}")]
    Parse(String),
    #[error("report does not serialize: {0}")]
    Json(String),
}

/// Parse the message `msg` as an aggregate report.
pub fn parse(msg: &[u8]) -> Result<ReportSummary, ReportError> {
    let r = Report::parse_rfc5322(msg, MAX_REPORT_SIZE)
        .map_err(|e| ReportError::Parse(format!("{e:?}")))?;
    let mut messages = 0u64;
    let mut failed = 0u64;
    for rec in r.records() {
        let n = u64::from(rec.count());
        messages += n;
        if rec.dmarc_dkim_result() != DmarcResult::Pass
            && rec.dmarc_spf_result() != DmarcResult::Pass
        {
            failed += n;
        }
    }
    let json = serde_json::to_string(&r).map_err(|e| ReportError::Json(e.to_string()))?;
    let time = |t: u64| i64::try_from(t).unwrap_or(i64::MAX);
    Ok(ReportSummary {
        org_name: r.org_name().to_string(),
        report_id: r.report_id().to_string(),
        domain: r.domain().to_ascii_lowercase(),
        begin: time(r.date_range_begin()),
        end: time(r.date_range_end()),
        messages,
        failed,
        json,
    })
}
