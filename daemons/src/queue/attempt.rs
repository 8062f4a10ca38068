//! One delivery attempt of one queued message: claim the due recipients
//! (so a crash retries after the backoff, never in a tight loop), open
//! the file, deliver per recipient domain ([`remote`](crate::queue::remote),
//! or locally in localserve), then send the DSNs the outcome calls for and
//! record the results (per domain, so recipients a peer accepted are not
//! sent again if the worker dies while another domain is in progress).
//!
//! 4xx replies and connection trouble are retried with backoff until the
//! maximum age; 5xx replies, NXDOMAIN and null MX fail at once.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use ipc::store::{QueueEntry, QueueRecipient, RecipientOutcome, RecipientResult, RecipientState};

use crate::queue::Context;
use crate::queue::backoff;
use crate::queue::dsn::{self, Dsn, DsnKind, DsnRecipient, Original};
use crate::queue::localserve;
use crate::queue::message::Message;
use crate::queue::options::QueueOptions;
use crate::queue::remote;
use crate::queue::store::StoreCallError;
use crate::queue::verdict::{Failure, Verdict};
use crate::smtp::received::now;

/// Attempts the due recipients of `entry`. Errors are store trouble; the
/// attempt is then retried when the claim runs out. `claimed` is dropped
/// once the store knows of the attempt (the message is no longer due).
pub async fn attempt(
    ctx: &Arc<Context>,
    entry: QueueEntry,
    claimed: crate::queue::scheduler::Unclaimed,
) -> Result<(), StoreCallError> {
    let t = now();
    let due: Vec<QueueRecipient> = entry
        .recipients
        .iter()
        .filter(|r| r.state == RecipientState::Pending && r.next_attempt <= t)
        .cloned()
        .collect();
    if due.is_empty() {
        return Ok(());
    }
    let attempts = due.iter().map(|r| r.attempts).max().unwrap_or(0) + 1;
    let retry_at = backoff::next_attempt(t, ctx.settings.retry_initial, attempts);
    ctx.store
        .claim(entry.id, due.iter().map(|r| r.index).collect(), retry_at)
        .await?;
    drop(claimed);
    let msg = match ctx.store.open(entry.id).await {
        Ok(m) => m,
        Err(StoreCallError::NotFound(_)) => return Ok(()),
        Err(e) => return Err(e),
    };
    let opts = QueueOptions::parse(entry.id, &entry.options);
    tracing::debug!(
        id = entry.id,
        recipients = due.len(),
        attempts,
        "delivery attempt"
    );
    if ctx.localserve {
        let verdicts = localserve::attempt(ctx, &entry, &msg, &due).await;
        return finish(ctx, &entry, &opts, &msg, &due, verdicts, attempts).await;
    }
    // RFC 5321 §5.1: the destination is per domain.
    let mut by_domain: BTreeMap<String, Vec<QueueRecipient>> = BTreeMap::new();
    for r in due {
        let domain = r
            .address
            .rsplit_once('@')
            .map(|(_, d)| d.to_ascii_lowercase())
            .unwrap_or_default();
        by_domain.entry(domain).or_default().push(r);
    }
    for (domain, rcpts) in by_domain {
        let verdicts = remote::deliver_domain(ctx, &entry, &opts, &msg, &domain, &rcpts).await;
        finish(ctx, &entry, &opts, &msg, &rcpts, verdicts, attempts).await?;
    }
    Ok(())
}

/// DSNs for this outcome, then the results in the store.
async fn finish(
    ctx: &Arc<Context>,
    entry: &QueueEntry,
    opts: &QueueOptions,
    msg: &Message,
    rcpts: &[QueueRecipient],
    verdicts: Vec<Verdict>,
    attempts: u32,
) -> Result<(), StoreCallError> {
    let t = now();
    let expired = backoff::expired(entry.queued, t, ctx.settings.max_age);
    let mut results = Vec::with_capacity(rcpts.len());
    let mut failed = Vec::new();
    let mut delayed = Vec::new();
    let mut relayed = Vec::new();
    for (r, v) in rcpts.iter().zip(verdicts) {
        let notify = opts.notify(r.index);
        let (outcome, error) = match v {
            Verdict::Delivered {
                mta,
                tls,
                relayed: without_dsn,
            } => {
                tracing::info!(
                    id = entry.id,
                    rcpt = %dsn_safe(&r.address),
                    mta = %mta,
                    tls = %tls.as_deref().unwrap_or("none"),
                    "delivered"
                );
                if notify.success && without_dsn {
                    relayed.push(dsn_recipient(
                        opts,
                        r,
                        "2.0.0",
                        Some(&mta),
                        None,
                        "delivered to the recipient's mail server".into(),
                        t,
                        None,
                    ));
                }
                (
                    RecipientOutcome::Delivered,
                    Some(format!("delivered to {mta}")),
                )
            }
            Verdict::Failed(f) => {
                tracing::info!(id = entry.id, rcpt = %dsn_safe(&r.address), error = %f.summary(), "failed");
                if notify.failure {
                    failed.push(failure_recipient(opts, r, &f, t));
                }
                (RecipientOutcome::Failed, Some(f.summary()))
            }
            Verdict::Deferred(f) if expired => {
                let f = Failure {
                    // RFC 3463 §3.5: X.4.7 delivery time expired.
                    status: "4.4.7".into(),
                    reason: format!(
                        "gave up after {attempts} attempt(s) over {}: {}",
                        human_age(t - entry.queued),
                        f.reason
                    ),
                    ..f
                };
                tracing::info!(id = entry.id, rcpt = %dsn_safe(&r.address), error = %f.summary(), "expired");
                if notify.failure {
                    failed.push(failure_recipient(opts, r, &f, t));
                }
                (RecipientOutcome::Failed, Some(f.summary()))
            }
            Verdict::Deferred(f) => {
                let next = backoff::next_attempt(t, ctx.settings.retry_initial, attempts);
                tracing::info!(id = entry.id, rcpt = %dsn_safe(&r.address), error = %f.summary(), next, "deferred");
                let waited = Duration::from_secs(u64::try_from(t - entry.queued).unwrap_or(0));
                let mut delay_notified = false;
                if notify.delay && !r.delay_notified && waited >= ctx.settings.delay_dsn_after {
                    let until = entry.queued.saturating_add(
                        i64::try_from(ctx.settings.max_age.as_secs()).unwrap_or(i64::MAX),
                    );
                    let mut d = failure_recipient(opts, r, &f, t);
                    d.will_retry_until = Some(until);
                    delayed.push(d);
                    delay_notified = true;
                }
                results.push(RecipientResult {
                    index: r.index,
                    outcome: RecipientOutcome::Retry { next_attempt: next },
                    error: Some(f.summary()),
                    delay_notified,
                });
                continue;
            }
        };
        results.push(RecipientResult {
            index: r.index,
            outcome,
            error,
            delay_notified: false,
        });
    }
    for (kind, list) in [
        (DsnKind::Failed, failed),
        (DsnKind::Delayed, delayed),
        (DsnKind::Relayed, relayed),
    ] {
        if !list.is_empty() {
            send_dsn(ctx, entry, opts, msg, kind, list).await;
        }
    }
    match ctx.store.result(entry.id, results).await {
        Ok(removed) => {
            if removed {
                tracing::debug!(id = entry.id, "message left the queue");
            }
            Ok(())
        }
        // Dropped meanwhile: nothing left to record.
        Err(StoreCallError::NotFound(_)) => Ok(()),
        Err(e) => Err(e),
    }
}

fn dsn_safe(s: &str) -> String {
    crate::queue::client::reply::escape(s)
}

fn human_age(secs: i64) -> String {
    match secs {
        s if s >= 2 * 86400 => format!("{} days", s / 86400),
        s if s >= 7200 => format!("{} hours", s / 3600),
        s if s >= 120 => format!("{} minutes", s / 60),
        s => format!("{s} seconds"),
    }
}

#[allow(clippy::too_many_arguments)]
fn dsn_recipient(
    opts: &QueueOptions,
    r: &QueueRecipient,
    status: &str,
    mta: Option<&str>,
    diagnostic: Option<String>,
    reason: String,
    t: i64,
    until: Option<i64>,
) -> DsnRecipient {
    DsnRecipient {
        address: r.address.clone(),
        original: opts
            .orcpt(r.index)
            .map(|o| (o.addr_type.clone(), o.addr.clone())),
        status: status.into(),
        remote_mta: mta.map(str::to_string),
        diagnostic,
        reason,
        last_attempt: t,
        will_retry_until: until,
    }
}

fn failure_recipient(opts: &QueueOptions, r: &QueueRecipient, f: &Failure, t: i64) -> DsnRecipient {
    dsn_recipient(
        opts,
        r,
        &f.status,
        f.mta.as_deref(),
        f.diagnostic.clone(),
        f.reason.clone(),
        t,
        None,
    )
}

/// Composes a DSN and delivers it to the sender's account. Never for the
/// null reverse path (RFC 3461 §6.1, RFC 5321 §4.5.5: no loops).
async fn send_dsn(
    ctx: &Arc<Context>,
    entry: &QueueEntry,
    opts: &QueueOptions,
    msg: &Message,
    kind: DsnKind,
    recipients: Vec<DsnRecipient>,
) {
    if entry.mail_from.is_empty() {
        return;
    }
    let original = if opts.return_headers_only() || msg.size as usize > dsn::MAX_RETURNED_MESSAGE {
        msg.headers(dsn::MAX_RETURNED_MESSAGE)
            .await
            .map(Original::Headers)
    } else {
        msg.head(dsn::MAX_RETURNED_MESSAGE)
            .await
            .map(Original::Full)
    };
    let original = match original {
        Ok(o) => o,
        Err(e) => {
            tracing::warn!(id = entry.id, error = %e, "reading message for DSN; sending without it");
            Original::Headers(Vec::new())
        }
    };
    let d = Dsn {
        kind,
        hostname: &ctx.hostname,
        to: &entry.mail_from,
        envid: opts.envid(),
        arrival: entry.queued,
        recipients,
        original,
        eight_bit: opts.eight_bit,
    };
    let bytes = dsn::compose(&d, now());
    let fd = match memfd(&bytes) {
        Ok(f) => f,
        Err(e) => {
            tracing::error!(id = entry.id, error = %e, "DSN memfd");
            return;
        }
    };
    match ctx.store.deliver(&entry.account, Vec::new(), &fd).await {
        Ok(()) => {
            tracing::info!(id = entry.id, account = %entry.account, kind = ?kind, "DSN delivered")
        }
        Err(e) => {
            tracing::error!(id = entry.id, account = %entry.account, error = %e, "DSN not delivered")
        }
    }
}

fn memfd(bytes: &[u8]) -> std::io::Result<std::fs::File> {
    use std::io::Write;
    let fd = nix::sys::memfd::memfd_create(c"moxd-dsn", nix::sys::memfd::MFdFlags::MFD_CLOEXEC)
        .map_err(std::io::Error::from)?;
    let mut f = std::fs::File::from(fd);
    f.write_all(bytes)?;
    Ok(f)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ages_in_words() {
        assert_eq!(human_age(5), "5 seconds");
        assert_eq!(human_age(600), "10 minutes");
        assert_eq!(human_age(5 * 3600), "5 hours");
        assert_eq!(human_age(5 * 86400), "5 days");
    }
}
