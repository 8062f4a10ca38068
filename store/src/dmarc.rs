//! DMARC reports in system.db: the evaluations smtp-in keeps for the
//! aggregate reports moxd sends (RFC 7489 §7.2; the queue worker takes
//! them once their day is over and removes them when the report is
//! queued), and the aggregate reports others sent us, parsed by smtp-in.
//! Both tables are bounded: the oldest rows go first.

use ipc::store::{DmarcEvaluation, DmarcReportInfo};
use rusqlite::TransactionBehavior;

use crate::db::lock;
use crate::error::{Result, StoreError};
use crate::store::{Store, unix_now};

/// Evaluations kept (the oldest are dropped beyond this).
pub const MAX_EVALUATIONS: i64 = 1_000_000;
/// Incoming reports kept.
pub const MAX_REPORTS: i64 = 10_000;
/// Largest evaluation row (JSON).
pub const MAX_ROW_SIZE: usize = 64 * 1024;
/// Largest stored report (JSON).
pub const MAX_REPORT_JSON: usize = 4 * 1024 * 1024;
/// Longest domain, organization or report id text kept.
const MAX_TEXT: usize = 512;

fn clip(s: &str) -> String {
    let mut end = s.len().min(MAX_TEXT);
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    s[..end].to_string()
}

impl Store {
    pub fn dmarc_evaluation_add(&self, e: &DmarcEvaluation) -> Result<()> {
        if e.row.len() > MAX_ROW_SIZE {
            return Err(StoreError::invalid("DMARC evaluation too large"));
        }
        let mut conn = lock(&self.system.writer);
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        tx.execute(
            "INSERT INTO dmarc_evaluations (received, policy_domain, row) VALUES (?1, ?2, ?3)",
            rusqlite::params![
                e.received,
                clip(&e.policy_domain.to_ascii_lowercase()),
                e.row
            ],
        )?;
        tx.execute(
            "DELETE FROM dmarc_evaluations WHERE id <= (SELECT max(id) FROM dmarc_evaluations) - ?1",
            [MAX_EVALUATIONS],
        )?;
        tx.commit()?;
        Ok(())
    }

    pub fn dmarc_evaluations_due(
        &self,
        before: i64,
        limit: u32,
    ) -> Result<Vec<(i64, DmarcEvaluation)>> {
        let limit = limit.min(ipc::store::MAX_PAGE);
        let conn = lock(&self.system.reader);
        let mut stmt = conn.prepare(
            "SELECT id, received, policy_domain, row FROM dmarc_evaluations
             WHERE received < ?1 ORDER BY id LIMIT ?2",
        )?;
        let rows = stmt.query_map(rusqlite::params![before, limit], |r| {
            Ok((
                r.get(0)?,
                DmarcEvaluation {
                    received: r.get(1)?,
                    policy_domain: r.get(2)?,
                    row: r.get(3)?,
                },
            ))
        })?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    pub fn dmarc_evaluations_done(&self, ids: &[i64]) -> Result<()> {
        let mut conn = lock(&self.system.writer);
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        {
            let mut stmt = tx.prepare("DELETE FROM dmarc_evaluations WHERE id = ?1")?;
            for id in ids {
                stmt.execute([id])?;
            }
        }
        tx.commit()?;
        Ok(())
    }

    /// Store an incoming report unless the same organization's report id
    /// is already there.
    pub fn dmarc_report_add(&self, r: &DmarcReportInfo) -> Result<()> {
        if r.json.len() > MAX_REPORT_JSON {
            return Err(StoreError::invalid("DMARC report too large"));
        }
        let mut conn = lock(&self.system.writer);
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        tx.execute(
            "INSERT OR IGNORE INTO dmarc_reports
             (received, org_name, report_id, domain, begin, end, messages, failed, json)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
            rusqlite::params![
                unix_now(),
                clip(&r.org_name),
                clip(&r.report_id),
                clip(&r.domain.to_ascii_lowercase()),
                r.begin,
                r.end,
                i64::try_from(r.messages).unwrap_or(i64::MAX),
                i64::try_from(r.failed).unwrap_or(i64::MAX),
                r.json
            ],
        )?;
        tx.execute(
            "DELETE FROM dmarc_reports WHERE id <= (SELECT max(id) FROM dmarc_reports) - ?1",
            [MAX_REPORTS],
        )?;
        tx.commit()?;
        Ok(())
    }

    pub fn dmarc_report_list(&self, limit: u32) -> Result<Vec<DmarcReportInfo>> {
        let limit = limit.min(ipc::store::MAX_PAGE);
        let conn = lock(&self.system.reader);
        let mut stmt = conn.prepare(
            "SELECT id, received, org_name, report_id, domain, begin, end, messages, failed, json
             FROM dmarc_reports ORDER BY id DESC LIMIT ?1",
        )?;
        let rows = stmt.query_map([limit], |r| {
            Ok(DmarcReportInfo {
                id: r.get(0)?,
                received: r.get(1)?,
                org_name: r.get(2)?,
                report_id: r.get(3)?,
                domain: r.get(4)?,
                begin: r.get(5)?,
                end: r.get(6)?,
                messages: u64::try_from(r.get::<_, i64>(7)?).unwrap_or(0),
                failed: u64::try_from(r.get::<_, i64>(8)?).unwrap_or(0),
                json: r.get(9)?,
            })
        })?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn report(org: &str, id: &str) -> DmarcReportInfo {
        DmarcReportInfo {
            id: 0,
            received: 0,
            org_name: org.into(),
            report_id: id.into(),
            domain: "Example.org".into(),
            begin: 10,
            end: 20,
            messages: 3,
            failed: 1,
            json: "{}".into(),
        }
    }

    #[test]
    fn evaluations_and_reports() {
        let dir = tempfile::tempdir().unwrap();
        let s = Store::open(dir.path()).unwrap();
        for (t, d) in [(100, "a.example"), (200, "b.example"), (300, "a.example")] {
            s.dmarc_evaluation_add(&DmarcEvaluation {
                received: t,
                policy_domain: d.into(),
                row: format!("{{\"t\":{t}}}"),
            })
            .unwrap();
        }
        let due = s.dmarc_evaluations_due(250, 100).unwrap();
        assert_eq!(due.len(), 2);
        assert_eq!(due[0].1.policy_domain, "a.example");
        assert_eq!(due[1].1.row, "{\"t\":200}");
        s.dmarc_evaluations_done(&[due[0].0]).unwrap();
        let due = s.dmarc_evaluations_due(1000, 100).unwrap();
        assert_eq!(
            due.iter().map(|d| d.1.received).collect::<Vec<_>>(),
            [200, 300]
        );

        s.dmarc_report_add(&report("Org", "r1")).unwrap();
        s.dmarc_report_add(&report("Org", "r1")).unwrap();
        s.dmarc_report_add(&report("Other", "r1")).unwrap();
        let l = s.dmarc_report_list(10).unwrap();
        assert_eq!(l.len(), 2, "a duplicate is not stored twice");
        assert_eq!(l[0].org_name, "Other");
        assert_eq!(l[1].domain, "example.org");
        assert_eq!((l[1].messages, l[1].failed), (3, 1));
    }
}
