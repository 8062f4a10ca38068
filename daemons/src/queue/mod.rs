//! The queue worker: outbound delivery. The only process that connects to
//! port 25 of other hosts (its landlock and seccomp rules say so). It takes
//! due messages from the store's queue, delivers them to the recipients'
//! MX hosts with its own SMTP client, retries temporary failures with
//! backoff, sends DSNs into the sender's Inbox, and records every attempt
//! in the store, so it can be killed at any moment.
//!
//! - [`scheduler`] — the loop: due messages, limits, sleeping;
//! - [`attempt`] — one attempt of one message: claim, DSNs, results;
//! - [`remote`] — one domain's recipients to its MX hosts; [`verdict`];
//! - [`dns`] — MX and address lookup (hickory-resolver);
//! - [`client`] — the SMTP client (replies, EHLO, STARTTLS, DATA);
//! - [`dsn`] — RFC 3464 delivery status notifications;
//! - [`reports`] — daily DMARC aggregate reports (RFC 7489 §7.2);
//! - [`backoff`], [`limits`], [`options`], [`message`], [`store`], [`localserve`].

pub mod attempt;
pub mod backoff;
pub mod client;
pub mod dns;
pub mod dsn;
pub mod limits;
pub mod localserve;
pub mod message;
pub mod options;
pub mod remote;
pub mod reports;
pub mod scheduler;
pub mod store;
pub mod verdict;

use std::os::unix::net::UnixStream;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Result, bail};
use ipc::Role;
use ipc::config::{QueueSettings, WorkerBootstrap};
use ipc::sandbox::SandboxReport;

use crate::worker;
use client::{Timeouts, TlsClient};

/// RFC 5321 §4.5.4.2 (relay to MX hosts): port 25.
pub const SMTP_PORT: u16 = 25;
/// Runtime threads of the queue worker.
pub const THREADS: usize = 2;

/// Settings derived from `[queue]` in moxd.toml.
#[derive(Debug, Clone)]
pub struct Settings {
    pub retry_initial: Duration,
    pub max_age: Duration,
    pub delay_dsn_after: Duration,
    pub timeouts: Timeouts,
}

impl Settings {
    pub fn from_config(q: &QueueSettings) -> Settings {
        Settings {
            retry_initial: Duration::from_secs(q.retry_initial_secs.max(1)),
            max_age: Duration::from_secs(q.max_age_secs),
            delay_dsn_after: Duration::from_secs(q.delay_dsn_after_secs),
            timeouts: Timeouts::rfc5321(q.timeout_limit_secs.map(Duration::from_secs)),
        }
    }
}

/// What every attempt shares.
pub struct Context {
    /// EHLO name, Reporting-MTA of DSNs.
    pub hostname: String,
    pub localserve: bool,
    /// localserve: where outbound mail goes instead.
    pub catchall: Option<String>,
    pub settings: Settings,
    pub resolver: dns::Resolver,
    pub tls: TlsClient,
    pub store: store::QueueStore,
    pub limits: limits::Limits,
}

/// Entry point of `moxd worker queue`.
pub fn run(boot: WorkerBootstrap, channel: UnixStream, sandbox: SandboxReport) -> Result<()> {
    if boot.role != Role::Queue {
        bail!("the queue worker cannot run role {}", boot.role);
    }
    worker::runtime(THREADS)?.block_on(serve(boot, channel, sandbox))
}

async fn serve(boot: WorkerBootstrap, channel: UnixStream, sandbox: SandboxReport) -> Result<()> {
    let cfg = boot.queue.clone().unwrap_or_default();
    let resolver = dns::resolver(boot.resolver).map_err(anyhow::Error::msg)?;
    let tls = TlsClient::from_system_roots();
    let wctx = worker::start(boot, channel, sandbox).await?;
    let ctx = Arc::new(Context {
        hostname: wctx.boot.hostname.clone(),
        localserve: wctx.boot.localserve,
        catchall: wctx.boot.catchall_account.clone(),
        settings: Settings::from_config(&cfg),
        resolver,
        tls,
        store: store::QueueStore::new(wctx.store.clone()),
        limits: limits::Limits::new(cfg.max_connections as usize, cfg.max_per_host as usize),
    });
    tracing::info!(
        resolver = ?wctx.boot.resolver,
        localserve = ctx.localserve,
        retry_initial = ?ctx.settings.retry_initial,
        "queue running"
    );
    if let Some(sender) = report_sender(&wctx) {
        tokio::spawn(reports::run(Arc::new(sender), wctx.shutdown.clone()));
    }
    scheduler::run(ctx, wctx.shutdown.clone()).await;
    Ok(())
}

/// The DMARC report sender, when `[auth] send_dmarc_reports` is on (with
/// `dmarc_reports` as the reporting address).
fn report_sender(w: &worker::WorkerContext) -> Option<reports::ReportSender> {
    let a = w.boot.auth.as_ref().filter(|a| a.send_dmarc_reports)?;
    let Some(email) = a.dmarc_reports.clone() else {
        tracing::warn!("send_dmarc_reports without dmarc_reports: no reports sent");
        return None;
    };
    let dns = match policy::auth::Dns::new(w.boot.resolver) {
        Ok(d) => d,
        Err(e) => {
            tracing::error!(error = %e, "DMARC reports: no resolver");
            return None;
        }
    };
    tracing::info!(from = %email, "DMARC aggregate reports on");
    Some(reports::ReportSender {
        store: w.store.clone(),
        dns,
        reporter: policy::reports::aggregate::Reporter {
            org_name: w.boot.hostname.clone(),
            email,
            submitter: w.boot.hostname.clone(),
        },
    })
}
