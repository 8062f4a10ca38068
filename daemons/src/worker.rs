//! What every network worker shares after its sandbox is in place: the
//! master channel (store connections arrive here, Shutdown too), a store
//! handle that asks the master for a new connection when the store went
//! away, and the TLS server configuration built from PEM bytes the master
//! sent (workers never open key files). Two generic hooks on the master
//! channel: a worker may register a metrics source that answers the
//! master's metrics requests ([`WorkerContext::set_metrics`]), and may ask
//! the master something and await the answer with the same request id
//! ([`WorkerContext::ask_master`]).

use std::collections::HashMap;
use std::os::unix::net::UnixStream;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use anyhow::{Context as _, Result, bail};
use ipc::Msg;
use ipc::client::Client;
use ipc::config::{TlsMaterial, WorkerBootstrap};
use ipc::hello::handshake;
use ipc::master::{MasterToWorker, WorkerToMaster};
use ipc::role::Peer;
use ipc::sandbox::SandboxReport;
use ipc::store::{StoreReply, StoreRequest};
use ipc::{AsyncSender, Role};
use tokio::sync::{mpsc, oneshot, watch};
use tokio_util::sync::CancellationToken;

pub type StoreClient = Client<StoreRequest, StoreReply>;

/// How long a request waits for a store connection (e.g. while the store restarts).
pub const STORE_CONNECT_WAIT: Duration = Duration::from_secs(30);
/// A request for a new store connection is repeated after this long
/// without an answer (one request serves every waiting session).
pub const STORE_ASK_INTERVAL: Duration = Duration::from_secs(5);

/// A worker's link to the store, renewed through the master.
#[derive(Clone)]
pub struct StoreHandle {
    role: Role,
    current: watch::Receiver<Option<StoreClient>>,
    master: AsyncSender,
    /// When we last asked the master for a connection.
    last_ask: Arc<std::sync::Mutex<Option<std::time::Instant>>>,
}

impl StoreHandle {
    /// A live store client, asking the master for a new connection if the
    /// current one is closed.
    pub async fn client(&self) -> Result<StoreClient> {
        let mut rx = self.current.clone();
        let wait = async {
            loop {
                if let Some(c) = rx.borrow_and_update().clone().filter(|c| !c.is_closed()) {
                    return Ok(c);
                }
                let ask = {
                    let mut last = self.last_ask.lock().unwrap_or_else(|e| e.into_inner());
                    let due = last.is_none_or(|t| t.elapsed() >= STORE_ASK_INTERVAL);
                    if due {
                        *last = Some(std::time::Instant::now());
                    }
                    due
                };
                if ask {
                    self.master
                        .send(0, &WorkerToMaster::NeedStoreConnection, &[])
                        .await?;
                }
                // Poll as well: a connection can close without a new value.
                let _ = tokio::time::timeout(Duration::from_millis(200), rx.changed()).await;
                if rx.has_changed().is_err() {
                    bail!("master channel closed");
                }
            }
        };
        tokio::time::timeout(STORE_CONNECT_WAIT, wait)
            .await
            .with_context(|| {
                format!(
                    "{}: no store connection within {STORE_CONNECT_WAIT:?}",
                    self.role
                )
            })?
    }

    /// One request/reply with the store.
    pub async fn call(&self, req: &StoreRequest) -> Result<StoreReply> {
        Ok(self.client().await?.call(req).await?)
    }

    /// Starts a subscription (a request whose replies keep coming:
    /// `Subscribe`, `QueueWatch`) and waits, at most [`SUBSCRIBE_TIMEOUT`],
    /// for the store's `Subscribed`; the stream then carries the rest and
    /// ends with the store connection.
    pub async fn subscribe(
        &self,
        req: &StoreRequest,
    ) -> std::result::Result<mpsc::Receiver<Msg<StoreReply>>, SubscribeError> {
        let client = self
            .client()
            .await
            .map_err(|e| SubscribeError::Failed(format!("{e:#}")))?;
        let mut stream = client
            .stream(req)
            .await
            .map_err(|e| SubscribeError::Failed(format!("subscribing: {e}")))?;
        match tokio::time::timeout(SUBSCRIBE_TIMEOUT, stream.recv()).await {
            Ok(Some(m)) => match m.body {
                StoreReply::Subscribed => Ok(stream),
                StoreReply::Error(e) => Err(SubscribeError::Refused(e)),
                other => Err(SubscribeError::Failed(format!(
                    "unexpected store reply {:?} to a subscription",
                    std::mem::discriminant(&other)
                ))),
            },
            Ok(None) => Err(SubscribeError::Failed(
                "store connection closed while subscribing".into(),
            )),
            Err(_) => Err(SubscribeError::Failed(
                "store did not confirm the subscription".into(),
            )),
        }
    }
}

/// How long the store may take to confirm a subscription.
pub const SUBSCRIBE_TIMEOUT: Duration = Duration::from_secs(30);

/// Why [`StoreHandle::subscribe`] failed.
#[derive(Debug)]
pub enum SubscribeError {
    /// The store answered with an error.
    Refused(ipc::store::StoreError),
    /// No store, a closed connection, no or a wrong confirmation.
    Failed(String),
}

/// How long a request to the master waits for its answer.
pub const MASTER_REPLY_WAIT: Duration = Duration::from_secs(10);
/// Request ids this worker uses for its own requests to the master start
/// here (the master's unsolicited messages carry id 0).
const FIRST_MASTER_REQUEST_ID: u64 = 1 << 32;

/// Produces a worker's metrics in Prometheus text exposition format.
pub type MetricsSource = Box<dyn Fn() -> String + Send + Sync>;

type Pending = Arc<std::sync::Mutex<HashMap<u64, oneshot::Sender<MasterToWorker>>>>;

/// A running worker's shared state.
pub struct WorkerContext {
    pub boot: WorkerBootstrap,
    pub store: StoreHandle,
    /// Cancelled when the master says Shutdown or goes away.
    pub shutdown: CancellationToken,
    /// Answers the master's metrics requests once set.
    metrics: Arc<OnceLock<MetricsSource>>,
    master: AsyncSender,
    /// Our requests to the master waiting for their answer, by id.
    pending: Pending,
    next_id: AtomicU64,
}

impl WorkerContext {
    /// Set what this worker answers to the master's metrics requests (the
    /// first call wins); without it the answer is empty.
    pub fn set_metrics(&self, source: MetricsSource) {
        if self.metrics.set(source).is_err() {
            tracing::warn!("metrics source already set");
        }
    }

    /// Send a request to the master and wait for the answer with its id.
    pub async fn ask_master(&self, req: &WorkerToMaster) -> Result<MasterToWorker> {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let (tx, rx) = oneshot::channel();
        lock_pending(&self.pending).insert(id, tx);
        let asked = async {
            self.master.send(id, req, &[]).await?;
            tokio::time::timeout(MASTER_REPLY_WAIT, rx)
                .await
                .context("no answer from the master in time")?
                .context("master channel closed")
        };
        let r = asked.await;
        lock_pending(&self.pending).remove(&id);
        r
    }
}

fn lock_pending(
    p: &Pending,
) -> std::sync::MutexGuard<'_, HashMap<u64, oneshot::Sender<MasterToWorker>>> {
    p.lock().unwrap_or_else(|e| e.into_inner())
}

/// Report ready to the master and start serving its channel. Must be
/// called inside the worker's tokio runtime.
pub async fn start(
    boot: WorkerBootstrap,
    channel: UnixStream,
    sandbox: SandboxReport,
) -> Result<Arc<WorkerContext>> {
    let role = boot.role;
    let (mut rx, tx) = ipc::conn::split_std(channel)?;
    let (set, current) = watch::channel(None::<StoreClient>);
    let last_ask: Arc<std::sync::Mutex<Option<std::time::Instant>>> = Arc::default();
    let answered = last_ask.clone();
    let shutdown = CancellationToken::new();
    let sd = shutdown.clone();
    let metrics: Arc<OnceLock<MetricsSource>> = Arc::default();
    let pending: Pending = Arc::default();
    let (metrics_r, pending_r, answer) = (metrics.clone(), pending.clone(), tx.clone());
    tokio::spawn(async move {
        loop {
            match rx.recv::<MasterToWorker>().await {
                Ok(Some(m)) => match m.body {
                    MasterToWorker::StoreConnection => {
                        let Some(fd) = m.fds.into_iter().next() else {
                            tracing::warn!("store connection without a descriptor");
                            continue;
                        };
                        match connect(role, fd).await {
                            Ok(c) => {
                                set.send_replace(Some(c));
                                *answered.lock().unwrap_or_else(|e| e.into_inner()) = None;
                            }
                            Err(e) => {
                                tracing::error!(error = %format!("{e:#}"), "store connection")
                            }
                        }
                    }
                    MasterToWorker::Shutdown => break,
                    MasterToWorker::MetricsRequest => {
                        let text = metrics_r.get().map(|f| f()).unwrap_or_default();
                        if let Err(e) = answer
                            .send(m.id, &WorkerToMaster::Metrics { text }, &[])
                            .await
                        {
                            tracing::warn!(error = %e, "answering metrics request");
                        }
                    }
                    reply @ (MasterToWorker::ControlReply(_)
                    | MasterToWorker::GatheredMetrics { .. }) => {
                        match lock_pending(&pending_r).remove(&m.id) {
                            Some(waiter) => {
                                let _ = waiter.send(reply);
                            }
                            None => tracing::warn!(id = m.id, "answer to no request from master"),
                        }
                    }
                    MasterToWorker::Bootstrap(_) | MasterToWorker::NewClient { .. } => {
                        tracing::warn!("unexpected message from master")
                    }
                },
                Ok(None) => break,
                Err(e) => {
                    tracing::error!(error = %e, "bad frame from master");
                    break;
                }
            }
        }
        sd.cancel();
    });
    tx.send(
        0,
        &WorkerToMaster::Ready {
            sandbox: Box::new(sandbox),
        },
        &[],
    )
    .await?;
    let store = StoreHandle {
        role,
        current,
        master: tx.clone(),
        last_ask,
    };
    Ok(Arc::new(WorkerContext {
        boot,
        store,
        shutdown,
        metrics,
        master: tx,
        pending,
        next_id: AtomicU64::new(FIRST_MASTER_REQUEST_ID),
    }))
}

async fn connect(role: Role, fd: std::os::fd::OwnedFd) -> Result<StoreClient> {
    let (mut rx, tx) = ipc::conn::split_std(UnixStream::from(fd))?;
    handshake(&mut rx, &tx, Peer::Worker(role)).await?;
    Ok(StoreClient::spawn(rx, tx))
}

/// A rustls server configuration from the master's PEM bytes.
pub fn tls_server_config(m: &TlsMaterial) -> Result<Arc<rustls::ServerConfig>> {
    use rustls_pki_types::pem::PemObject;
    use rustls_pki_types::{CertificateDer, PrivateKeyDer};
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_slice_iter(&m.cert_chain_pem)
        .collect::<Result<_, _>>()
        .map_err(|e| anyhow::anyhow!("certificate: {e:?}"))?;
    let key = PrivateKeyDer::from_pem_slice(&m.key_pem)
        .map_err(|e| anyhow::anyhow!("private key: {e:?}"))?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let cfg = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()?
        .with_no_client_auth()
        .with_single_cert(certs, key)?;
    Ok(Arc::new(cfg))
}

/// A multi-threaded runtime for a worker (threads inherit the sandbox).
pub fn runtime(threads: usize) -> Result<tokio::runtime::Runtime> {
    Ok(tokio::runtime::Builder::new_multi_thread()
        .worker_threads(threads)
        .enable_all()
        .build()?)
}
