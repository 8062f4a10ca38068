//! The worker side of the process split: every `moxd worker ROLE` starts
//! here. In order (CONVENTIONS.md "one entry per process"): take fd 3 (the
//! master channel), exchange hellos, receive the bootstrap and listener
//! fds, start logging, enter the sandbox — all while single-threaded —
//! and hand the role its ready-to-serve state.

use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::net::UnixStream;

use anyhow::{Context, Result, bail};
use ipc::config::WorkerBootstrap;
use ipc::hello::handshake_blocking;
use ipc::master::{MasterToWorker, WORKER_CHANNEL_FD, WorkerToMaster};
use ipc::role::Peer;
use ipc::sandbox::SandboxReport;
use ipc::{BlockingConn, Role};

use crate::sandbox::{self, SandboxSpec};

/// A worker after bootstrap and sandbox, before its runtime starts.
pub struct Started {
    pub bootstrap: WorkerBootstrap,
    /// The master channel (hello already exchanged).
    pub channel: UnixStream,
    /// Listening sockets, in `bootstrap.listeners` order.
    pub listeners: Vec<OwnedFd>,
    pub sandbox: SandboxReport,
}

/// Take the inherited master channel at fd 3, refusing anything else.
fn take_channel() -> Result<UnixStream> {
    let mut st = std::mem::MaybeUninit::<libc::stat>::zeroed();
    // SAFETY: fstat only writes into `st`; any fd number is acceptable
    // (a closed one gives EBADF).
    let rc = unsafe { libc::fstat(WORKER_CHANNEL_FD, st.as_mut_ptr()) };
    if rc != 0 {
        bail!("no master channel on fd 3: `moxd worker` is started by the master, not by hand");
    }
    // SAFETY: fstat succeeded and filled the struct.
    let st = unsafe { st.assume_init() };
    if st.st_mode & libc::S_IFMT != libc::S_IFSOCK {
        bail!("fd 3 is not a socket: `moxd worker` is started by the master, not by hand");
    }
    // SAFETY: fd 3 is open (fstat succeeded) and is a socket the master
    // placed there for us; nothing else in this fresh process owns it.
    let fd = unsafe { OwnedFd::from_raw_fd(WORKER_CHANNEL_FD) };
    Ok(UnixStream::from(fd))
}

/// Bootstrap and sandbox the calling worker process.
pub fn enter(role: Role) -> Result<Started> {
    let channel = take_channel()?;
    // The master set PR_SET_PDEATHSIG before exec; if it died before that
    // took effect we would be reparented: stop now.
    if nix::unistd::getppid().as_raw() == 1 {
        bail!("master is gone");
    }
    let mut conn = BlockingConn::new(channel);
    handshake_blocking(&mut conn, Peer::Worker(role)).context("hello with master")?;
    let msg = conn
        .recv::<MasterToWorker>()
        .context("reading bootstrap")?
        .context("master closed the channel")?;
    let MasterToWorker::Bootstrap(bootstrap) = msg.body else {
        bail!("first message from master was not a bootstrap");
    };
    let bootstrap = *bootstrap;
    if bootstrap.role != role {
        bail!("bootstrap is for role {}, not {role}", bootstrap.role);
    }
    if msg.fds.len() != bootstrap.listeners.len() {
        bail!(
            "bootstrap names {} listeners but {} fds came",
            bootstrap.listeners.len(),
            msg.fds.len()
        );
    }
    crate::logging::init(&bootstrap.log_filter, role.name());
    let mut spec = SandboxSpec::for_role(
        role,
        bootstrap.sandbox_mode,
        bootstrap.user.clone(),
        bootstrap.data_dir.as_deref(),
    );
    spec.escape_probe = bootstrap.escape_probe.clone();
    let report = match sandbox::enter(&spec) {
        Ok(r) => r,
        Err(e) => {
            let reason = e.to_string();
            let _ = conn.send(
                0,
                &WorkerToMaster::Fatal {
                    reason: reason.clone(),
                },
                &[],
            );
            bail!(reason);
        }
    };
    tracing::info!(role = %role, uid = report.uid, pid = std::process::id(), "worker sandboxed");
    Ok(Started {
        bootstrap,
        channel: conn.into_inner(),
        listeners: msg.fds,
        sandbox: report,
    })
}

impl Started {
    /// Tell the master we serve (after the role's runtime is up).
    pub fn ready_message(&self) -> WorkerToMaster {
        WorkerToMaster::Ready {
            sandbox: Box::new(self.sandbox.clone()),
        }
    }

    pub fn channel_fd(&self) -> i32 {
        self.channel.as_raw_fd()
    }
}
