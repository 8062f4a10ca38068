//! The web worker of moxd: the account and admin web interfaces and the
//! Prometheus `/metrics` endpoint, on the HTTP/HTTPS/metrics sockets the
//! master passed in (with the master's TLS material; this process never
//! reads key files). All data comes from the store over IPC; process
//! status, metrics and the admin interface's domain/account changes go
//! through the master, so domains.toml stays in sync.
//!
//! Authentication is by server-side sessions with CSRF tokens (see
//! [`auth`]); pages are rendered on the server ([`pages`]) with a small
//! script (`assets/app.ts`, compiled to the committed `assets/app.js`).

pub mod api;
pub mod app;
pub mod assets;
pub mod auth;
pub mod backend;
pub mod client;
pub mod cookies;
pub mod format;
pub mod interface;
pub mod login;
pub mod methods;
pub mod metrics;
pub mod pages;
pub mod routes;
pub mod serve;

use std::os::fd::OwnedFd;
use std::os::unix::net::UnixStream;

use anyhow::{Result, bail};
use ipc::Role;
use ipc::config::WorkerBootstrap;
use ipc::sandbox::SandboxReport;

/// Runtime threads of the web worker.
pub const THREADS: usize = 2;

/// Entry point of `moxd worker web`.
pub fn run(
    boot: WorkerBootstrap,
    channel: UnixStream,
    sandbox: SandboxReport,
    listeners: Vec<OwnedFd>,
) -> Result<()> {
    if boot.role != Role::Web {
        bail!("the web worker cannot run role {}", boot.role);
    }
    daemons::worker::runtime(THREADS)?.block_on(serve::serve(boot, channel, sandbox, listeners))
}
