//! Configuration as the master sends it to a worker over the bootstrap fd.
//! Workers never read config or key files themselves.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use crate::Role;

/// `sandbox = "required" | "best-effort"` in moxd.toml.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "kebab-case")]
pub enum SandboxMode {
    /// Refuse to start a worker when any sandbox feature is unavailable.
    #[default]
    Required,
    /// Start anyway and log a warning naming what is missing.
    BestEffort,
}

/// The unprivileged identity workers switch to when the master runs as root.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserIds {
    pub name: String,
    pub uid: u32,
    pub gid: u32,
}

/// Which protocol a listening socket serves.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Protocol {
    Smtp,
    Submission,
    Submissions,
    Imap,
    Imaps,
    Http,
    Https,
    Metrics,
}

/// One listening socket; its fd travels with the bootstrap frame, in order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ListenerSpec {
    pub protocol: Protocol,
    pub addr: String,
}

/// Certificate chain and private key, read by the master (PEM).
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TlsMaterial {
    pub cert_chain_pem: Vec<u8>,
    pub key_pem: Vec<u8>,
}

impl std::fmt::Debug for TlsMaterial {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never print key material.
        f.debug_struct("TlsMaterial")
            .field("cert_chain_pem", &self.cert_chain_pem.len())
            .finish_non_exhaustive()
    }
}

/// Domains, accounts and addresses declared in domains.toml. The master
/// sends them to the store, which adds what its database lacks.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DomainsDecl {
    pub domains: Vec<String>,
    pub accounts: Vec<AccountDecl>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccountDecl {
    pub name: String,
    pub addresses: Vec<String>,
}

/// Everything a worker learns at start, in the first frame on its master
/// channel.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct WorkerBootstrap {
    pub role: Role,
    pub hostname: String,
    pub localserve: bool,
    pub sandbox_mode: SandboxMode,
    /// Set when the master runs as root: the worker switches to this user.
    pub user: Option<UserIds>,
    /// The data directory (store only).
    pub data_dir: Option<PathBuf>,
    /// Declared domains and accounts (store only).
    pub domains: Option<DomainsDecl>,
    /// Catch-all account for unknown local recipients (localserve).
    pub catchall_account: Option<String>,
    pub listeners: Vec<ListenerSpec>,
    pub tls: Option<TlsMaterial>,
    /// tracing filter, e.g. "info" or "moxd=debug".
    pub log_filter: String,
    /// Test builds only: a path the worker tries to open after sandboxing.
    pub escape_probe: Option<PathBuf>,
}
