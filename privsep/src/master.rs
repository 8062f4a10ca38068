//! The master: starts one supervisor per worker role, brokers store
//! connections (a socketpair per client, handed out as fds), answers the
//! control socket, and stops everything in order on SIGTERM.

use std::collections::HashMap;
use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::net::UnixStream;
use std::os::unix::process::ExitStatusExt;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use ipc::client::Client;
use ipc::config::{ListenerSpec, SandboxMode, TlsMaterial, UserIds, WorkerBootstrap};
use ipc::control::{WorkerState, WorkerStatus};
use ipc::hello::handshake;
use ipc::master::{MasterToWorker, WorkerToMaster};
use ipc::role::Peer;
use ipc::sandbox::SandboxReport;
use ipc::store::{StoreReply, StoreRequest};
use ipc::{AsyncSender, Role};
use tokio::sync::{Notify, oneshot, watch};
use tokio_util::sync::CancellationToken;

use crate::spawn::spawn_worker;

/// Delay before the first restart of a crashed worker.
pub const RESTART_BACKOFF_INITIAL: Duration = Duration::from_millis(100);
/// Longest delay between restarts.
pub const RESTART_BACKOFF_MAX: Duration = Duration::from_secs(30);
/// A worker that ran this long before dying restarts after the initial delay again.
pub const RESTART_BACKOFF_RESET: Duration = Duration::from_secs(30);
/// How long a worker gets to finish after Shutdown before SIGKILL.
pub const WORKER_STOP_TIMEOUT: Duration = Duration::from_secs(10);
/// The store gets longer: in-flight commits must finish.
pub const STORE_STOP_TIMEOUT: Duration = Duration::from_secs(30);
/// How long a store connection request waits for a (re)starting store.
pub const STORE_WAIT: Duration = Duration::from_secs(30);
/// How long all workers get to report ready at start.
pub const STARTUP_TIMEOUT: Duration = Duration::from_secs(60);
/// How long a worker gets to answer a metrics request.
pub const METRICS_WAIT: Duration = Duration::from_secs(2);

pub type StoreClient = Client<StoreRequest, StoreReply>;

/// A bound listening socket and the role that serves it.
pub struct BoundListener {
    pub role: Role,
    pub spec: ListenerSpec,
    pub fd: OwnedFd,
}

/// Everything the master decided before starting workers.
pub struct Settings {
    pub hostname: String,
    pub localserve: bool,
    pub sandbox_mode: SandboxMode,
    pub user: Option<UserIds>,
    pub data_dir: PathBuf,
    pub domains: crate::config::DomainsFile,
    /// Where account/address changes are written back (None: nowhere).
    pub domains_path: Option<PathBuf>,
    pub catchall_account: Option<String>,
    pub tls: Option<TlsMaterial>,
    pub log_filter: String,
    pub escape_probe: Option<PathBuf>,
    pub listeners: Vec<BoundListener>,
    pub roles: Vec<Role>,
    /// DNS server for the queue (None: the system's).
    pub resolver: Option<std::net::SocketAddr>,
    pub queue: ipc::config::QueueSettings,
    pub smtp: ipc::config::SmtpSettings,
    /// IMAP session limits; the store reads `default_quota`.
    pub imap: ipc::config::ImapSettings,
    pub web: ipc::config::WebSettings,
    /// Message authentication on smtp-in (`enabled: false`: off).
    pub auth: ipc::config::AuthSettings,
}

#[derive(Default)]
struct Slot {
    pid: Option<u32>,
    state: Option<WorkerState>,
    restarts: u32,
    started: Option<Instant>,
    last_exit: Option<String>,
    sandbox: Option<SandboxReport>,
    fatal: Option<String>,
    /// The running worker's channel (for metrics requests).
    channel: Option<AsyncSender>,
}

pub struct Master {
    pub settings: Settings,
    slots: Mutex<HashMap<Role, Slot>>,
    pub started: Instant,
    /// Cancelled to stop every worker but the store.
    stop_workers: CancellationToken,
    /// Cancelled after the other workers are gone, to stop the store.
    stop_store: CancellationToken,
    /// Cancelled when the whole master should exit.
    pub shutdown: CancellationToken,
    /// The running store's channel, once it reported ready.
    store_tx: watch::Sender<Option<AsyncSender>>,
    admin_store: tokio::sync::Mutex<Option<StoreClient>>,
    /// Current domains/accounts/addresses (domains.toml as kept in sync).
    pub domains: Mutex<crate::config::DomainsFile>,
    /// Serializes changes to domains.toml.
    pub domains_lock: tokio::sync::Mutex<()>,
    state_changed: Notify,
    /// Metrics requests to workers waiting for their answer, by role and id.
    metrics_waiters: Mutex<HashMap<(Role, u64), oneshot::Sender<String>>>,
    next_request: AtomicU64,
}

impl Master {
    pub fn new(settings: Settings) -> Arc<Self> {
        let slots = settings
            .roles
            .iter()
            .map(|r| (*r, Slot::default()))
            .collect();
        let domains = Mutex::new(settings.domains.clone());
        Arc::new(Master {
            settings,
            slots: Mutex::new(slots),
            started: Instant::now(),
            stop_workers: CancellationToken::new(),
            stop_store: CancellationToken::new(),
            shutdown: CancellationToken::new(),
            store_tx: watch::channel(None).0,
            admin_store: tokio::sync::Mutex::new(None),
            domains,
            domains_lock: tokio::sync::Mutex::new(()),
            state_changed: Notify::new(),
            metrics_waiters: Mutex::new(HashMap::new()),
            next_request: AtomicU64::new(1),
        })
    }

    fn with_slot<T>(&self, role: Role, f: impl FnOnce(&mut Slot) -> T) -> T {
        let mut slots = self.slots.lock().unwrap_or_else(|e| e.into_inner());
        f(slots.entry(role).or_default())
    }

    /// Status of every worker, for `moxctl status`.
    pub fn worker_status(&self) -> Vec<WorkerStatus> {
        let slots = self.slots.lock().unwrap_or_else(|e| e.into_inner());
        let mut out: Vec<WorkerStatus> = slots
            .iter()
            .map(|(role, s)| WorkerStatus {
                role: *role,
                pid: s.pid,
                state: s.state.unwrap_or(WorkerState::Starting),
                restarts: s.restarts,
                uptime_secs: s.started.map(|t| t.elapsed().as_secs()).unwrap_or(0),
                last_exit: s.last_exit.clone(),
                sandbox: s.sandbox.clone(),
            })
            .collect();
        out.sort_by_key(|w| w.role);
        out
    }

    /// Start every supervisor and wait until all workers report ready.
    pub async fn start(self: &Arc<Self>) -> Result<Vec<tokio::task::JoinHandle<()>>> {
        let mut handles = Vec::new();
        for role in self.settings.roles.clone() {
            let m = self.clone();
            handles.push(tokio::spawn(async move { m.supervise(role).await }));
        }
        let deadline = tokio::time::Instant::now() + STARTUP_TIMEOUT;
        loop {
            let notified = self.state_changed.notified();
            let (fatal, all_running) = {
                let slots = self.slots.lock().unwrap_or_else(|e| e.into_inner());
                let fatal = slots
                    .iter()
                    .find_map(|(r, s)| s.fatal.clone().map(|f| (*r, f)));
                (
                    fatal,
                    slots
                        .values()
                        .all(|s| s.state == Some(WorkerState::Running)),
                )
            };
            if let Some((role, reason)) = fatal {
                self.stop().await;
                bail!("worker {role} refused to start: {reason}");
            }
            if all_running {
                break;
            }
            if tokio::time::timeout_at(deadline, notified).await.is_err() {
                self.stop().await;
                bail!("workers did not become ready within {STARTUP_TIMEOUT:?}");
            }
        }
        Ok(handles)
    }

    /// Stop workers in order: everything but the store, then the store.
    pub async fn stop(&self) {
        self.stop_workers.cancel();
        let deadline = Instant::now() + WORKER_STOP_TIMEOUT + Duration::from_secs(2);
        while Instant::now() < deadline {
            let others_up = {
                let slots = self.slots.lock().unwrap_or_else(|e| e.into_inner());
                slots
                    .iter()
                    .any(|(r, s)| *r != Role::Store && s.pid.is_some())
            };
            if !others_up {
                break;
            }
            let _ = tokio::time::timeout(Duration::from_millis(100), self.state_changed.notified())
                .await;
        }
        self.stop_store.cancel();
        self.shutdown.cancel();
    }

    /// Ask a running worker to exit; its supervisor starts it again with a
    /// fresh bootstrap (e.g. new DKIM keys for submission). Returns whether
    /// one was running.
    pub async fn restart(&self, role: Role) -> bool {
        let tx = self.with_slot(role, |s| s.channel.clone());
        match tx {
            Some(tx) => {
                tracing::info!(role = %role, "restarting worker");
                tx.send(0, &MasterToWorker::Shutdown, &[]).await.is_ok()
            }
            None => false,
        }
    }

    fn token_for(&self, role: Role) -> &CancellationToken {
        if role == Role::Store {
            &self.stop_store
        } else {
            &self.stop_workers
        }
    }

    fn bootstrap_for(&self, role: Role) -> WorkerBootstrap {
        let s = &self.settings;
        let store = role == Role::Store;
        WorkerBootstrap {
            role,
            hostname: s.hostname.clone(),
            localserve: s.localserve,
            sandbox_mode: s.sandbox_mode,
            user: s.user.clone(),
            data_dir: store.then(|| s.data_dir.clone()),
            domains: store.then(|| {
                self.domains
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .to_decl()
            }),
            catchall_account: s.catchall_account.clone(),
            listeners: s
                .listeners
                .iter()
                .filter(|l| l.role == role)
                .map(|l| l.spec.clone())
                .collect(),
            tls: if store { None } else { s.tls.clone() },
            log_filter: s.log_filter.clone(),
            escape_probe: s.escape_probe.clone(),
            resolver: matches!(role, Role::Queue | Role::SmtpIn)
                .then_some(s.resolver)
                .flatten(),
            queue: (role == Role::Queue).then(|| s.queue.clone()),
            smtp: matches!(role, Role::SmtpIn | Role::Submission).then(|| s.smtp.clone()),
            imap: matches!(role, Role::Imap | Role::Store).then(|| s.imap.clone()),
            web: (role == Role::Web).then(|| s.web.clone()),
            auth: (matches!(role, Role::SmtpIn | Role::Queue) && s.auth.enabled)
                .then(|| s.auth.clone()),
            dkim: if role == Role::Submission {
                crate::dkim::key_material(self)
            } else {
                Vec::new()
            },
        }
    }

    /// Keep one worker of `role` running until stopped.
    async fn supervise(self: Arc<Self>, role: Role) {
        let token = self.token_for(role).clone();
        let mut backoff = RESTART_BACKOFF_INITIAL;
        while !token.is_cancelled() {
            let began = Instant::now();
            match self.run_once(role, &token).await {
                Ok(reason) => {
                    if token.is_cancelled() {
                        tracing::info!(role = %role, %reason, "worker stopped");
                    } else {
                        tracing::error!(role = %role, %reason, "worker died; restarting");
                    }
                    self.with_slot(role, |s| s.last_exit = Some(reason));
                }
                Err(e) => {
                    tracing::error!(role = %role, error = %format!("{e:#}"), "starting worker failed");
                    self.with_slot(role, |s| s.last_exit = Some(format!("start failed: {e:#}")));
                }
            }
            if role == Role::Store {
                self.store_tx.send_replace(None);
            }
            self.with_slot(role, |s| {
                s.pid = None;
                s.sandbox = None;
                s.channel = None;
                s.state = Some(if token.is_cancelled() {
                    WorkerState::Stopping
                } else {
                    WorkerState::Backoff
                });
            });
            self.state_changed.notify_waiters();
            if token.is_cancelled() {
                break;
            }
            if began.elapsed() >= RESTART_BACKOFF_RESET {
                backoff = RESTART_BACKOFF_INITIAL;
            }
            tokio::select! {
                _ = tokio::time::sleep(backoff) => {}
                _ = token.cancelled() => break,
            }
            backoff = (backoff * 2).min(RESTART_BACKOFF_MAX);
            self.with_slot(role, |s| s.restarts += 1);
        }
    }

    /// Start the worker once and wait for it to exit; returns why it exited.
    async fn run_once(self: &Arc<Self>, role: Role, token: &CancellationToken) -> Result<String> {
        let spawned = spawn_worker(role).context("spawn")?;
        let mut child = spawned.child;
        let pid = child.id();
        self.with_slot(role, |s| {
            s.pid = pid;
            s.state = Some(WorkerState::Starting);
            s.started = Some(Instant::now());
            s.fatal = None;
        });
        tracing::info!(role = %role, pid, "worker started");
        let (mut rx, tx) = ipc::conn::split_std(spawned.channel)?;
        let setup = async {
            handshake(&mut rx, &tx, Peer::Master).await?;
            let boot = self.bootstrap_for(role);
            let fds: Vec<_> = self
                .settings
                .listeners
                .iter()
                .filter(|l| l.role == role)
                .map(|l| l.fd.as_fd())
                .collect();
            tx.send(0, &MasterToWorker::Bootstrap(Box::new(boot)), &fds)
                .await?;
            Ok::<_, ipc::IpcError>(())
        };
        let reader = match setup.await {
            Ok(()) => {
                self.with_slot(role, |s| s.channel = Some(tx.clone()));
                let m = self.clone();
                let tx2 = tx.clone();
                Some(tokio::spawn(
                    async move { m.read_worker(role, rx, tx2).await },
                ))
            }
            Err(e) => {
                tracing::error!(role = %role, error = %e, "bootstrap failed");
                None
            }
        };
        let status = tokio::select! {
            st = child.wait() => st?,
            _ = token.cancelled() => {
                self.with_slot(role, |s| s.state = Some(WorkerState::Stopping));
                let _ = tx.send(0, &MasterToWorker::Shutdown, &[]).await;
                let limit = if role == Role::Store { STORE_STOP_TIMEOUT } else { WORKER_STOP_TIMEOUT };
                match tokio::time::timeout(limit, child.wait()).await {
                    Ok(st) => st?,
                    Err(_) => {
                        tracing::warn!(role = %role, "worker did not stop in time; killing it");
                        child.kill().await?;
                        child.wait().await?
                    }
                }
            }
        };
        if let Some(r) = reader {
            r.abort();
        }
        Ok(match (status.code(), status.signal()) {
            (Some(c), _) => format!("exited with code {c}"),
            (None, Some(sig)) => format!(
                "killed by signal {}",
                nix::sys::signal::Signal::try_from(sig)
                    .map(|s| s.as_str().to_string())
                    .unwrap_or(sig.to_string())
            ),
            _ => "exited".into(),
        })
    }

    async fn read_worker(self: Arc<Self>, role: Role, mut rx: ipc::AsyncReceiver, tx: AsyncSender) {
        loop {
            let msg = match rx.recv::<WorkerToMaster>().await {
                Ok(Some(m)) => m,
                Ok(None) => return,
                Err(e) => {
                    tracing::error!(role = %role, error = %e, "bad frame from worker; closing its channel");
                    return;
                }
            };
            match msg.body {
                WorkerToMaster::Ready { sandbox } => {
                    tracing::info!(role = %role, landlock = %sandbox.landlock_fs, seccomp = %sandbox.seccomp, "worker ready");
                    self.with_slot(role, |s| {
                        s.state = Some(WorkerState::Running);
                        s.sandbox = Some(*sandbox);
                    });
                    if role == Role::Store {
                        self.store_tx.send_replace(Some(tx.clone()));
                    }
                    self.state_changed.notify_waiters();
                }
                WorkerToMaster::NeedStoreConnection => {
                    let m = self.clone();
                    let tx = tx.clone();
                    tokio::spawn(async move {
                        match m.connect_store(Peer::Worker(role)).await {
                            Ok(fd) => {
                                if let Err(e) = tx
                                    .send(0, &MasterToWorker::StoreConnection, &[fd.as_fd()])
                                    .await
                                {
                                    tracing::warn!(role = %role, error = %e, "handing out store connection");
                                }
                            }
                            Err(e) => {
                                tracing::error!(role = %role, error = %format!("{e:#}"), "no store connection")
                            }
                        }
                    });
                }
                WorkerToMaster::Fatal { reason } => {
                    tracing::error!(role = %role, %reason, "worker refused to start");
                    self.with_slot(role, |s| s.fatal = Some(reason));
                    self.state_changed.notify_waiters();
                }
                WorkerToMaster::Metrics { text } => {
                    let waiter = self
                        .metrics_waiters
                        .lock()
                        .unwrap_or_else(|e| e.into_inner())
                        .remove(&(role, msg.id));
                    if let Some(w) = waiter {
                        let _ = w.send(text);
                    }
                }
                WorkerToMaster::Control(req) => {
                    let (m, tx) = (self.clone(), tx.clone());
                    tokio::spawn(async move {
                        let reply = if role == Role::Web {
                            crate::control::handle_for_web(&m, req).await
                        } else {
                            tracing::warn!(role = %role, "control request from a worker that may not make one");
                            ipc::control::ControlReply::Error("not allowed".into())
                        };
                        let answer = MasterToWorker::ControlReply(reply);
                        if let Err(e) = tx.send(msg.id, &answer, &[]).await {
                            tracing::warn!(role = %role, error = %e, "answering control request");
                        }
                    });
                }
                WorkerToMaster::GatherMetrics => {
                    let (m, tx) = (self.clone(), tx.clone());
                    tokio::spawn(async move {
                        let text = if role == Role::Web {
                            m.gather_metrics().await
                        } else {
                            String::new()
                        };
                        let answer = MasterToWorker::GatheredMetrics { text };
                        if let Err(e) = tx.send(msg.id, &answer, &[]).await {
                            tracing::warn!(role = %role, error = %e, "answering metrics gathering");
                        }
                    });
                }
            }
        }
    }

    /// Every process's metrics in Prometheus text exposition format: the
    /// master's own (per role: up, restarts) and each running worker's
    /// answer to a metrics request (a worker that does not answer within
    /// [`METRICS_WAIT`] is left out).
    pub async fn gather_metrics(self: &Arc<Self>) -> String {
        let status = self.worker_status();
        let mut out = String::new();
        out.push_str(
            "# HELP moxd_worker_up Whether the worker of a role is running (1) or not (0).\n",
        );
        out.push_str("# TYPE moxd_worker_up gauge\n");
        for w in &status {
            let up = u8::from(w.state == WorkerState::Running);
            out.push_str(&format!("moxd_worker_up{{role=\"{}\"}} {up}\n", w.role));
        }
        out.push_str("# HELP moxd_worker_restarts_total Restarts of the worker of a role since the master started.\n");
        out.push_str("# TYPE moxd_worker_restarts_total counter\n");
        for w in &status {
            out.push_str(&format!(
                "moxd_worker_restarts_total{{role=\"{}\"}} {}\n",
                w.role, w.restarts
            ));
        }
        out.push_str("# HELP moxd_master_uptime_seconds Seconds since the master started.\n");
        out.push_str("# TYPE moxd_master_uptime_seconds gauge\n");
        out.push_str(&format!(
            "moxd_master_uptime_seconds {}\n",
            self.started.elapsed().as_secs()
        ));
        let channels: Vec<(Role, AsyncSender)> = {
            let slots = self.slots.lock().unwrap_or_else(|e| e.into_inner());
            slots
                .iter()
                .filter(|(_, s)| s.state == Some(WorkerState::Running))
                .filter_map(|(r, s)| Some((*r, s.channel.clone()?)))
                .collect()
        };
        let mut asks = tokio::task::JoinSet::new();
        for (role, tx) in channels {
            let m = self.clone();
            asks.spawn(async move {
                let id = m.next_request.fetch_add(1, Ordering::Relaxed);
                let (wtx, wrx) = oneshot::channel();
                m.metrics_waiters
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .insert((role, id), wtx);
                let answer = match tx.send(id, &MasterToWorker::MetricsRequest, &[]).await {
                    Ok(()) => tokio::time::timeout(METRICS_WAIT, wrx)
                        .await
                        .ok()
                        .and_then(Result::ok),
                    Err(_) => None,
                };
                m.metrics_waiters
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .remove(&(role, id));
                (role, answer)
            });
        }
        let mut answers = Vec::new();
        while let Some(r) = asks.join_next().await {
            if let Ok(a) = r {
                answers.push(a);
            }
        }
        answers.sort_by_key(|(r, _)| *r);
        for (role, answer) in answers {
            match answer {
                Some(text) => out.push_str(&text),
                None => tracing::debug!(role = %role, "no metrics answer"),
            }
        }
        out
    }

    /// A new connection to the store with the rights of `peer`: a
    /// socketpair whose one end goes to the store, the other is returned.
    pub async fn connect_store(&self, peer: Peer) -> Result<OwnedFd> {
        let mut rx = self.store_tx.subscribe();
        let sender = tokio::time::timeout(STORE_WAIT, async {
            loop {
                if let Some(s) = rx.borrow_and_update().clone() {
                    return Ok(s);
                }
                if rx.changed().await.is_err() {
                    bail!("master is stopping");
                }
            }
        })
        .await
        .context("store not available")??;
        let (ours, theirs) = UnixStream::pair()?;
        sender
            .send(0, &MasterToWorker::NewClient { peer }, &[theirs.as_fd()])
            .await?;
        Ok(ours.into())
    }

    /// The master's own store client (for control requests), reconnecting
    /// after a store restart.
    pub async fn store(&self) -> Result<StoreClient> {
        let mut guard = self.admin_store.lock().await;
        if let Some(c) = guard.as_ref().filter(|c| !c.is_closed()) {
            return Ok(c.clone());
        }
        let fd = self.connect_store(Peer::Admin).await?;
        let (mut rx, tx) = ipc::conn::split_std(UnixStream::from(fd))?;
        handshake(&mut rx, &tx, Peer::Admin).await?;
        let client = StoreClient::spawn(rx, tx);
        *guard = Some(client.clone());
        Ok(client)
    }
}
