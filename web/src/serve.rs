//! Accepting connections: the HTTP, HTTPS (rustls with the master's
//! certificate) and metrics sockets the master passed in, each served by
//! hyper (HTTP/1.1, and HTTP/2 over TLS by ALPN) with the matching router.
//! Every request carries its connection's [`ConnInfo`]. Connections are
//! capped; header reads and TLS handshakes are bounded in time; on
//! Shutdown, accepting stops and open connections get a grace period.

use std::os::fd::OwnedFd;
use std::os::unix::net::UnixStream;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Result, bail};
use axum::Router;
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use ipc::config::{Protocol, WorkerBootstrap};
use ipc::sandbox::SandboxReport;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Semaphore;
use tokio_rustls::TlsAcceptor;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tower::ServiceExt;

use crate::app::App;
use crate::backend::WorkerBackend;
use crate::client::ConnInfo;
use crate::metrics::Metrics;
use crate::routes;

/// Connections open at once, over all listeners.
pub const MAX_CONNECTIONS: usize = 1000;
/// Time for a TLS handshake.
pub const TLS_HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
/// Time for a request's header to arrive (slowloris).
pub const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(10);
/// How long open connections may go on after Shutdown (below the master's
/// 10 s before it kills a worker).
pub const SHUTDOWN_GRACE: Duration = Duration::from_secs(5);

pub async fn serve(
    boot: WorkerBootstrap,
    channel: UnixStream,
    sandbox: SandboxReport,
    listeners: Vec<OwnedFd>,
) -> Result<()> {
    let specs = boot.listeners.clone();
    let tls = match &boot.tls {
        Some(m) => {
            let mut cfg = (*daemons::worker::tls_server_config(m)?).clone();
            cfg.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
            Some(TlsAcceptor::from(Arc::new(cfg)))
        }
        None => None,
    };
    let ctx = daemons::worker::start(boot, channel, sandbox).await?;
    let metrics = Arc::new(Metrics::default());
    let m = metrics.clone();
    ctx.set_metrics(Box::new(move || m.render()));
    let settings = ctx.boot.web.clone().unwrap_or_default();
    let app = App::new(
        Arc::new(WorkerBackend(ctx.clone())),
        &settings,
        &ctx.boot.hostname,
        metrics,
    );
    let public = routes::public(app.clone());
    let metrics_router = routes::metrics(app);
    let tracker = TaskTracker::new();
    let slots = Arc::new(Semaphore::new(MAX_CONNECTIONS));
    for (spec, fd) in specs.iter().zip(listeners) {
        let (router, acceptor) = match spec.protocol {
            Protocol::Http => (public.clone(), None),
            Protocol::Https => match &tls {
                Some(a) => (public.clone(), Some(a.clone())),
                None => {
                    tracing::warn!(addr = %spec.addr, "no TLS certificate: HTTPS listener not served");
                    continue;
                }
            },
            Protocol::Metrics => (metrics_router.clone(), None),
            other => bail!("the web worker cannot serve {other:?}"),
        };
        let std = std::net::TcpListener::from(fd);
        std.set_nonblocking(true)?;
        let listener = TcpListener::from_std(std)?;
        tracing::info!(addr = %spec.addr, protocol = ?spec.protocol, "listening");
        tracker.spawn(accept_loop(
            listener,
            router,
            acceptor,
            slots.clone(),
            ctx.shutdown.clone(),
            tracker.clone(),
        ));
    }
    ctx.shutdown.cancelled().await;
    tracker.close();
    if tokio::time::timeout(SHUTDOWN_GRACE, tracker.wait())
        .await
        .is_err()
    {
        tracing::info!("connections still open after the shutdown grace period; closing them");
    }
    Ok(())
}

async fn accept_loop(
    listener: TcpListener,
    router: Router,
    tls: Option<TlsAcceptor>,
    slots: Arc<Semaphore>,
    shutdown: CancellationToken,
    tracker: TaskTracker,
) {
    loop {
        let permit = tokio::select! {
            p = slots.clone().acquire_owned() => match p {
                Ok(p) => p,
                Err(_) => return,
            },
            _ = shutdown.cancelled() => return,
        };
        let (stream, peer) = tokio::select! {
            r = listener.accept() => match r {
                Ok(c) => c,
                Err(e) => {
                    // EMFILE and friends: back off instead of spinning.
                    tracing::warn!(error = %e, "accept");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            },
            _ = shutdown.cancelled() => return,
        };
        let _ = stream.set_nodelay(true);
        let info = ConnInfo {
            peer,
            tls: tls.is_some(),
        };
        let (router, tls, shutdown) = (router.clone(), tls.clone(), shutdown.clone());
        tracker.spawn(async move {
            let _permit = permit;
            if let Err(e) = connection(stream, info, router, tls, shutdown).await {
                tracing::debug!(%peer, error = %e, "connection ended");
            }
        });
    }
}

async fn connection(
    stream: TcpStream,
    info: ConnInfo,
    router: Router,
    tls: Option<TlsAcceptor>,
    shutdown: CancellationToken,
) -> Result<()> {
    let service = hyper::service::service_fn(move |mut req: hyper::Request<Incoming>| {
        req.extensions_mut().insert(info);
        router.clone().oneshot(req)
    });
    let mut builder = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(HEADER_READ_TIMEOUT);
    match tls {
        Some(acceptor) => {
            let stream = tokio::time::timeout(TLS_HANDSHAKE_TIMEOUT, acceptor.accept(stream))
                .await
                .map_err(|_| anyhow::anyhow!("TLS handshake timed out"))??;
            drive(
                builder.serve_connection(TokioIo::new(stream), service),
                shutdown,
            )
            .await
        }
        None => {
            drive(
                builder.serve_connection(TokioIo::new(stream), service),
                shutdown,
            )
            .await
        }
    }
}

/// Runs a connection; on shutdown, lets its current request finish.
async fn drive<F>(conn: F, shutdown: CancellationToken) -> Result<()>
where
    F: std::future::Future<Output = Result<(), Box<dyn std::error::Error + Send + Sync>>>,
{
    let mut conn = std::pin::pin!(conn);
    tokio::select! {
        r = conn.as_mut() => r.map_err(|e| anyhow::anyhow!("{e}")),
        _ = shutdown.cancelled() => {
            tokio::time::timeout(SHUTDOWN_GRACE, conn).await.ok();
            Ok(())
        }
    }
}
