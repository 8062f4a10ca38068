//! The imap worker: accept connections on the sockets the master passed
//! (143 with STARTTLS, 993 with implicit TLS, RFC 8314), apply the
//! connection limits of `[imap]`, and run one IMAP session
//! ([`crate::imap::Session`]) per connection with the store, over IPC, as
//! its backend. It holds no database: every read and change is a store
//! request, and other sessions' changes arrive as the store's events.
//!
//! - [`settings`] — session configuration from the bootstrap;
//! - [`limits`] — connections per IP and in total;
//! - [`store_backend`] — the engine's `Backend` as store requests;
//! - [`changes`] — one event subscription per account, fanned out;
//! - [`cache`], [`content`], [`convert`] — message contents, files, types.

pub mod cache;
pub mod changes;
pub mod content;
pub mod convert;
pub mod limits;
pub mod settings;
pub mod store_backend;

#[cfg(test)]
mod tests;

use std::os::fd::OwnedFd;
use std::os::unix::net::UnixStream;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Result, bail};
use ipc::Role;
use ipc::config::{Protocol, WorkerBootstrap};
use ipc::sandbox::SandboxReport;
use tokio::io::AsyncWriteExt;
use tokio::net::{TcpListener, TcpStream};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tracing::Instrument;

use crate::imap::encode::Encoder;
use crate::imap::response::{Code, Response, Status};
use crate::imap::{Config, PeerInfo, Session};
use crate::worker;
pub use limits::{ConnGuard, ConnLimits, LimitError};
pub use settings::Configs;
pub use store_backend::StoreBackend;

/// How long sessions may go on after Shutdown before the worker exits
/// (below the master's 10 s before it kills a worker).
pub const SHUTDOWN_GRACE: Duration = Duration::from_secs(8);
/// Runtime threads of the imap worker.
pub const THREADS: usize = 2;
/// Time to tell a refused client why before closing.
pub const REFUSAL_WRITE_TIMEOUT: Duration = Duration::from_secs(5);
/// Pause after a failed accept (EMFILE and friends) instead of spinning.
pub const ACCEPT_BACKOFF: Duration = Duration::from_millis(100);

/// Entry point of `moxd worker imap`.
pub fn run(
    boot: WorkerBootstrap,
    channel: UnixStream,
    sandbox: SandboxReport,
    listeners: Vec<OwnedFd>,
) -> Result<()> {
    if boot.role != Role::Imap {
        bail!("imapd cannot run role {}", boot.role);
    }
    worker::runtime(THREADS)?.block_on(serve(boot, channel, sandbox, listeners))
}

async fn serve(
    boot: WorkerBootstrap,
    channel: UnixStream,
    sandbox: SandboxReport,
    listeners: Vec<OwnedFd>,
) -> Result<()> {
    let specs = boot.listeners.clone();
    let tls = settings::tls_config(&boot)?;
    let imap = boot.imap.clone().unwrap_or_default();
    let ctx = worker::start(boot, channel, sandbox).await?;
    let limits = Arc::new(ConnLimits::new(
        imap.max_connections,
        imap.max_connections_per_ip,
    ));
    let backend = Arc::new(StoreBackend::new(
        ctx.store.clone(),
        imap.max_connections_per_account,
    ));
    let tracker = TaskTracker::new();
    for (spec, fd) in specs.iter().zip(listeners) {
        let std = std::net::TcpListener::from(fd);
        std.set_nonblocking(true)?;
        let listener = TcpListener::from_std(std)?;
        let configs = Arc::new(Configs::new(&ctx.boot, &imap, spec.protocol, tls.clone()));
        tracing::info!(addr = %spec.addr, protocol = ?spec.protocol, "listening");
        tracker.spawn(accept_loop(Listener {
            listener,
            protocol: spec.protocol,
            configs,
            backend: backend.clone(),
            limits: limits.clone(),
            shutdown: ctx.shutdown.clone(),
            tracker: tracker.clone(),
        }));
    }
    ctx.shutdown.cancelled().await;
    tracker.close();
    if tokio::time::timeout(SHUTDOWN_GRACE, tracker.wait())
        .await
        .is_err()
    {
        tracing::warn!("sessions still open after the shutdown grace period; closing them");
    }
    Ok(())
}

/// One listening socket and what its sessions share.
struct Listener {
    listener: TcpListener,
    protocol: Protocol,
    configs: Arc<Configs>,
    backend: Arc<StoreBackend>,
    limits: Arc<ConnLimits>,
    shutdown: CancellationToken,
    tracker: TaskTracker,
}

async fn accept_loop(l: Listener) {
    loop {
        let (stream, remote) = tokio::select! {
            r = l.listener.accept() => match r {
                Ok(c) => c,
                Err(e) => {
                    tracing::warn!(error = %e, "accept");
                    tokio::time::sleep(ACCEPT_BACKOFF).await;
                    continue;
                }
            },
            _ = l.shutdown.cancelled() => return,
        };
        let guard = match l.limits.admit(remote.ip()) {
            Ok(g) => g,
            Err(which) => {
                tracing::info!(%remote, limit = %which, "connection refused by limit");
                l.tracker.spawn(refuse(stream, l.protocol, which));
                continue;
            }
        };
        let _ = stream.set_nodelay(true);
        let cfg = l.configs.for_peer(remote.ip());
        let backend = l.backend.clone();
        let shutdown = l.shutdown.clone();
        let span = tracing::info_span!("imap", %remote, protocol = ?l.protocol);
        l.tracker.spawn(
            async move {
                let _guard = guard;
                session(stream, remote, cfg, backend, shutdown).await;
            }
            .instrument(span),
        );
    }
}

async fn session(
    stream: TcpStream,
    remote: std::net::SocketAddr,
    cfg: Arc<Config>,
    backend: Arc<StoreBackend>,
    shutdown: CancellationToken,
) {
    let peer = PeerInfo {
        remote,
        remote_name: None,
    };
    match Session::new(stream, cfg, backend, peer)
        .with_shutdown(shutdown)
        .run()
        .await
    {
        Ok(()) => tracing::debug!("session done"),
        Err(e) => tracing::debug!(error = %e, "session ended"),
    }
}

/// RFC 9051 §7.1.5: a server that will not serve a connection greets it
/// with BYE. On an implicit-TLS port there is no plain text to say it in.
async fn refuse(mut stream: TcpStream, protocol: Protocol, why: LimitError) {
    if protocol == Protocol::Imap {
        let mut out = Vec::new();
        Encoder { utf8: false }.encode(
            &Response::untagged(Status::Bye, Some(Code::Unavailable), why.to_string()),
            &mut out,
        );
        let _ = tokio::time::timeout(REFUSAL_WRITE_TIMEOUT, stream.write_all(&out)).await;
    }
    let _ = stream.shutdown().await;
}
