//! The smtp-in and submission workers: accept connections on the sockets
//! the master passed, apply the per-IP connection limits, and run one SMTP
//! session per connection with the store (over IPC) as its backend.

mod limits;
mod store_backend;

use std::os::fd::OwnedFd;
use std::os::unix::net::UnixStream;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context as _, Result, bail};
use ipc::Role;
use ipc::config::{Protocol, WorkerBootstrap};
use ipc::sandbox::SandboxReport;
use policy::auth::{AuthConfig, Authenticator};
use policy::dkimsign::{Algorithm, DomainKey, Signers, SigningKey};
use tokio::io::AsyncWriteExt;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tracing::Instrument;

use crate::smtp::config::{TlsConfig, tls_server_end_point};
use crate::smtp::{Code, Config, Esc, Kind, PeerInfo, Reply, Session};
use crate::worker;
pub use limits::{CONCURRENT_PER_IP, CONNECTIONS_PER_MINUTE, ConnLimits, MAX_CONNECTIONS};
pub use store_backend::StoreBackend;

/// How long sessions may go on after Shutdown before the worker exits
/// (below the master's 10 s before it kills a worker).
pub const SHUTDOWN_GRACE: Duration = Duration::from_secs(8);
/// Runtime threads of an SMTP worker.
pub const THREADS: usize = 2;

/// Entry point of `moxd worker smtp-in` and `moxd worker submission`.
pub fn run(
    boot: WorkerBootstrap,
    channel: UnixStream,
    sandbox: SandboxReport,
    listeners: Vec<OwnedFd>,
) -> Result<()> {
    if !matches!(boot.role, Role::SmtpIn | Role::Submission) {
        bail!("smtpd cannot run role {}", boot.role);
    }
    worker::runtime(THREADS)?.block_on(serve(boot, channel, sandbox, listeners))
}

fn session_config(boot: &WorkerBootstrap, protocol: Protocol, tls: Option<TlsConfig>) -> Config {
    let kind = if protocol == Protocol::Smtp {
        Kind::Incoming
    } else {
        Kind::Submission
    };
    let mut cfg = Config::new(kind, boot.hostname.clone());
    cfg.tls = tls;
    cfg.implicit_tls = protocol == Protocol::Submissions;
    // localserve listens on loopback only; like mox it allows AUTH there
    // without TLS so local test clients can submit in plain text.
    cfg.auth_without_tls = boot.localserve;
    cfg.localserve = boot.localserve;
    cfg.pedantic = boot.localserve;
    if let Some(s) = &boot.smtp {
        let l = &mut cfg.limits;
        l.max_message_size = s.max_message_size;
        l.max_recipients = s.max_recipients;
        l.max_command_line = s.max_command_line;
        l.max_errors = s.max_errors;
        l.command_timeout = Duration::from_secs(s.command_timeout_secs);
        l.data_block_timeout = Duration::from_secs(s.data_block_timeout_secs);
        l.data_timeout = Duration::from_secs(s.data_timeout_secs);
    }
    cfg
}

/// The message authenticator of smtp-in, when `[auth]` is on; it asks
/// `resolver` or the servers of resolv.conf (read before the first
/// session, within the sandbox's resolver-file rule).
fn authenticator(boot: &WorkerBootstrap) -> Result<Option<Arc<Authenticator>>> {
    let Some(a) = boot
        .auth
        .as_ref()
        .filter(|a| a.enabled && boot.role == Role::SmtpIn)
    else {
        return Ok(None);
    };
    let cfg = AuthConfig {
        spf: a.spf,
        dkim: a.dkim,
        dmarc: a.dmarc,
        iprev: a.iprev,
        dnsbls: a.dnsbls.clone(),
    };
    let auth =
        Authenticator::new(&boot.hostname, boot.resolver, cfg).context("message authentication")?;
    tracing::info!(resolver = ?boot.resolver, dnsbls = a.dnsbls.len(), "message authentication on");
    Ok(Some(Arc::new(auth)))
}

/// The DKIM keys of submission, from the key bytes the master sent; a key
/// that does not load is left out (and logged).
fn signers(boot: &WorkerBootstrap) -> Option<Arc<Signers>> {
    if boot.role != Role::Submission {
        return None;
    }
    let keys: Vec<DomainKey> = boot
        .dkim
        .iter()
        .filter_map(|k| {
            let Some(alg) = Algorithm::from_name(&k.algorithm) else {
                tracing::error!(domain = %k.domain, selector = %k.selector, algorithm = %k.algorithm, "unknown DKIM algorithm");
                return None;
            };
            match SigningKey::from_pem(alg, &k.private_key_pem) {
                Ok(key) => Some(DomainKey {
                    domain: k.domain.to_ascii_lowercase(),
                    selector: k.selector.clone(),
                    key,
                }),
                Err(e) => {
                    tracing::error!(domain = %k.domain, selector = %k.selector, error = %e, "DKIM key does not load");
                    None
                }
            }
        })
        .collect();
    if keys.is_empty() {
        return None;
    }
    tracing::info!(keys = keys.len(), "DKIM signing on");
    Some(Arc::new(Signers::new(keys)))
}

fn tls_config(boot: &WorkerBootstrap) -> Result<Option<TlsConfig>> {
    let Some(m) = &boot.tls else { return Ok(None) };
    let server = worker::tls_server_config(m)?;
    use rustls_pki_types::CertificateDer;
    use rustls_pki_types::pem::PemObject;
    let first = CertificateDer::pem_slice_iter(&m.cert_chain_pem)
        .next()
        .context("no certificate")?
        .map_err(|e| anyhow::anyhow!("certificate: {e:?}"))?;
    Ok(Some(TlsConfig {
        acceptor: tokio_rustls::TlsAcceptor::from(server),
        server_end_point: Some(tls_server_end_point(first.as_ref())),
    }))
}

async fn serve(
    boot: WorkerBootstrap,
    channel: UnixStream,
    sandbox: SandboxReport,
    listeners: Vec<OwnedFd>,
) -> Result<()> {
    let specs = boot.listeners.clone();
    let tls = tls_config(&boot)?;
    let ctx = worker::start(boot, channel, sandbox).await?;
    let auth = authenticator(&ctx.boot)?;
    let signers = signers(&ctx.boot);
    let limits = Arc::new(ConnLimits::new());
    let tracker = TaskTracker::new();
    for (spec, fd) in specs.iter().zip(listeners) {
        let std = std::net::TcpListener::from(fd);
        std.set_nonblocking(true)?;
        let listener = TcpListener::from_std(std)?;
        let mut cfg = session_config(&ctx.boot, spec.protocol, tls.clone());
        match cfg.kind {
            Kind::Incoming => {
                cfg.auth = auth.clone();
                if let Some(a) = ctx.boot.auth.as_ref().filter(|a| a.enabled) {
                    cfg.dmarc_reports = a.dmarc_reports.as_deref().map(str::to_ascii_lowercase);
                    cfg.record_dmarc = a.send_dmarc_reports && a.dmarc;
                }
            }
            Kind::Submission => cfg.dkim = signers.clone(),
        }
        let cfg = Arc::new(cfg);
        let backend = Arc::new(StoreBackend::new(ctx.store.clone(), cfg.kind));
        tracing::info!(addr = %spec.addr, protocol = ?spec.protocol, "listening");
        tracker.spawn(accept_loop(
            listener,
            cfg,
            backend,
            limits.clone(),
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
        tracing::warn!("sessions still open after the shutdown grace period; closing them");
    }
    Ok(())
}

async fn accept_loop(
    listener: TcpListener,
    cfg: Arc<Config>,
    backend: Arc<StoreBackend>,
    limits: Arc<ConnLimits>,
    shutdown: CancellationToken,
    tracker: TaskTracker,
) {
    loop {
        let (mut stream, remote) = tokio::select! {
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
        let guard = match limits.admit(remote.ip()) {
            Ok(g) => g,
            Err(which) => {
                // RFC 5321 §3.8: 421 and close.
                tracing::info!(%remote, limit = which, "connection refused by limit");
                let reply = Reply::new(
                    Code::SERVICE_UNAVAILABLE,
                    Esc::SECURITY_TEMP,
                    format!("too many connections ({which})"),
                );
                tracker.spawn(async move {
                    let _ = tokio::time::timeout(
                        Duration::from_secs(5),
                        stream.write_all(&reply.to_bytes()),
                    )
                    .await;
                });
                continue;
            }
        };
        let _ = stream.set_nodelay(true);
        let (cfg, backend) = (cfg.clone(), backend.clone());
        let span = tracing::info_span!("smtp", %remote, kind = ?cfg.kind);
        tracker.spawn(
            async move {
                let _guard = guard;
                let peer = PeerInfo {
                    remote,
                    remote_name: None,
                };
                match Session::new(stream, cfg, backend, peer).run().await {
                    Ok(()) => tracing::debug!("session done"),
                    Err(e) => tracing::debug!(error = %e, "session ended"),
                }
            }
            .instrument(span),
        );
    }
}
