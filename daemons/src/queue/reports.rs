//! DMARC aggregate reports sent by moxd (RFC 7489 §7.2): once an hour
//! the queue worker takes the evaluations smtp-in kept for days that are
//! over (UTC), composes one report per domain and day, and queues it to
//! the rua addresses that consent (§7.1, checked in DNS), from the
//! configured reporting address (`[auth] dmarc_reports`), in whose
//! account failures come back as DSNs. Evaluations are removed once their
//! report is queued, or found unusable, so none is reported twice.

use std::collections::BTreeMap;
use std::os::fd::AsFd;
use std::sync::Arc;
use std::time::Duration;

use ipc::store::{QueueAdd, StoreReply, StoreRequest};
use policy::auth::Dns;
use policy::reports::aggregate::{self, ReportRow, Reporter};
use tokio_util::sync::CancellationToken;

use crate::smtp::received::now;
use crate::worker::StoreHandle;

/// How often due evaluations are looked for.
pub const CHECK_INTERVAL: Duration = Duration::from_secs(3600);
/// Evaluations read from the store at once.
pub const EVALUATION_BATCH: u32 = 10_000;
/// Batches per check (the rest waits for the next check).
pub const MAX_BATCHES: usize = 100;

/// What sending reports needs.
pub struct ReportSender {
    pub store: StoreHandle,
    pub dns: Dns,
    pub reporter: Reporter,
}

/// The hourly loop, until shutdown.
pub async fn run(sender: Arc<ReportSender>, shutdown: CancellationToken) {
    loop {
        match send_due(&sender).await {
            Ok(0) => {}
            Ok(n) => tracing::info!(reports = n, "DMARC aggregate reports queued"),
            Err(e) => tracing::warn!(error = %e, "DMARC aggregate reports"),
        }
        tokio::select! {
            _ = tokio::time::sleep(CHECK_INTERVAL) => {}
            _ = shutdown.cancelled() => return,
        }
    }
}

async fn call(store: &StoreHandle, req: StoreRequest) -> Result<StoreReply, String> {
    match store.call(&req).await {
        Ok(StoreReply::Error(e)) => Err(e.to_string()),
        Ok(r) => Ok(r),
        Err(e) => Err(format!("{e:#}")),
    }
}

/// Compose and queue the reports of every finished day; returns how many
/// were queued.
pub async fn send_due(s: &ReportSender) -> Result<usize, String> {
    let today = aggregate::period_start(now());
    let account = match call(
        &s.store,
        StoreRequest::ResolveRecipient {
            address: s.reporter.email.clone(),
        },
    )
    .await?
    {
        StoreReply::Recipient(Some(a)) => a,
        StoreReply::Recipient(None) => {
            return Err(format!(
                "reporting address {} has no account",
                s.reporter.email
            ));
        }
        other => return Err(format!("unexpected store reply {other:?}")),
    };
    let mut queued = 0;
    for _ in 0..MAX_BATCHES {
        let due = match call(
            &s.store,
            StoreRequest::DmarcEvaluationsDue {
                before: today,
                limit: EVALUATION_BATCH,
            },
        )
        .await?
        {
            StoreReply::DmarcEvaluations(d) => d,
            other => return Err(format!("unexpected store reply {other:?}")),
        };
        if due.is_empty() {
            break;
        }
        // (domain, day) → rows, in a stable order.
        let mut groups: BTreeMap<(String, i64), Vec<ReportRow>> = BTreeMap::new();
        let ids: Vec<i64> = due.iter().map(|(id, _)| *id).collect();
        for (id, e) in due {
            match serde_json::from_str::<ReportRow>(&e.row) {
                Ok(row) => groups
                    .entry((e.policy_domain, aggregate::period_start(e.received)))
                    .or_default()
                    .push(row),
                Err(err) => tracing::warn!(id, error = %err, "unreadable DMARC evaluation dropped"),
            }
        }
        for ((domain, day), rows) in groups {
            match send_one(s, &account, &domain, day, &rows).await {
                Ok(true) => queued += 1,
                Ok(false) => {}
                Err(e) => tracing::warn!(%domain, day, error = %e, "DMARC report not queued"),
            }
        }
        // A batch is done whether or not each report could go out: a
        // report that fails now would fail again.
        call(&s.store, StoreRequest::DmarcEvaluationsDone { ids }).await?;
    }
    Ok(queued)
}

/// Queue one domain's report for one day; false when no rua consents.
async fn send_one(
    s: &ReportSender,
    account: &str,
    domain: &str,
    day: i64,
    rows: &[ReportRow],
) -> Result<bool, String> {
    let Some(report) =
        aggregate::compose(domain, rows, day, &s.reporter).map_err(|e| e.to_string())?
    else {
        return Ok(false);
    };
    let to = aggregate::verified_destinations(&s.dns, domain, &report.rua).await;
    if to.is_empty() {
        tracing::info!(%domain, rua = ?report.rua, "no rua address consents to reports; none sent");
        return Ok(false);
    }
    let file = memfd(report.message.as_bytes()).map_err(|e| e.to_string())?;
    let req = StoreRequest::QueueAdd(QueueAdd {
        account: account.into(),
        mail_from: s.reporter.email.clone(),
        recipients: to.clone(),
        prefix: Vec::new(),
        options: String::new(),
    });
    let client = s.store.client().await.map_err(|e| format!("{e:#}"))?;
    match client.call_fds(&req, &[file.as_fd()]).await {
        Ok((StoreReply::Queued { queue_id }, _)) => {
            tracing::info!(%domain, report_id = %report.report_id, queue_id, to = ?to, "DMARC report queued");
            Ok(true)
        }
        Ok((other, _)) => Err(format!("unexpected store reply {other:?}")),
        Err(e) => Err(format!("store: {e}")),
    }
}

fn memfd(bytes: &[u8]) -> std::io::Result<std::fs::File> {
    use std::io::Write;
    let fd =
        nix::sys::memfd::memfd_create(c"moxd-dmarc-report", nix::sys::memfd::MFdFlags::MFD_CLOEXEC)
            .map_err(std::io::Error::from)?;
    let mut f = std::fs::File::from(fd);
    f.write_all(bytes)?;
    Ok(f)
}
