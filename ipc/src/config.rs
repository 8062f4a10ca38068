//! Configuration as the master sends it to a worker over the bootstrap fd.
//! Workers never read config or key files themselves.

use std::net::SocketAddr;
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
    /// DNS server to ask instead of the system's resolv.conf (queue).
    pub resolver: Option<SocketAddr>,
    /// Outbound delivery settings (queue only).
    pub queue: Option<QueueSettings>,
    /// Session limits (smtp-in and submission only).
    pub smtp: Option<SmtpSettings>,
    /// Session limits (imap only).
    pub imap: Option<ImapSettings>,
    /// Web interfaces (web only).
    pub web: Option<WebSettings>,
    /// Message authentication of incoming mail (smtp-in) and DMARC
    /// reports (smtp-in, queue); None: off.
    pub auth: Option<AuthSettings>,
    /// DKIM signing keys (submission only).
    pub dkim: Vec<DkimKeyMaterial>,
}

/// One DKIM private key, read by the master for the submission worker.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DkimKeyMaterial {
    /// d=, lower-case A-label.
    pub domain: String,
    /// s=
    pub selector: String,
    /// "ed25519" or "rsa".
    pub algorithm: String,
    /// PKCS#8 PEM.
    pub private_key_pem: Vec<u8>,
}

impl std::fmt::Debug for DkimKeyMaterial {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never print key material.
        f.debug_struct("DkimKeyMaterial")
            .field("domain", &self.domain)
            .field("selector", &self.selector)
            .field("algorithm", &self.algorithm)
            .finish_non_exhaustive()
    }
}

/// `[web]` in moxd.toml: where the web interfaces live, which reverse
/// proxies are trusted, and how long idle login sessions last.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct WebSettings {
    /// Path of the account interface; starts and ends with `/`.
    pub account_path: String,
    /// Path of the admin interface; starts and ends with `/`.
    pub admin_path: String,
    /// Peers whose `X-Forwarded-For` (and `X-Forwarded-Proto`) headers are
    /// believed; from anyone else the socket's address is the client's.
    pub trusted_proxies: Vec<std::net::IpAddr>,
    /// An account session ends after this long without use.
    pub account_session_idle_secs: u64,
    /// An admin session ends after this long without use.
    pub admin_session_idle_secs: u64,
}

impl Default for WebSettings {
    fn default() -> Self {
        WebSettings {
            account_path: "/".into(),
            admin_path: "/admin/".into(),
            trusted_proxies: Vec::new(),
            account_session_idle_secs: 24 * 3600,
            admin_session_idle_secs: 12 * 3600,
        }
    }
}

/// `[imap]` in moxd.toml: the limits of IMAP sessions.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ImapSettings {
    /// Longest command line without literals.
    pub max_command_line: usize,
    /// Largest literal in a command other than APPEND.
    pub max_literal: u64,
    /// Largest message APPEND accepts (RFC 7889 APPENDLIMIT).
    pub max_message_size: u64,
    /// Connections at once from one IP address (IPv6: its /64).
    pub max_connections_per_ip: u32,
    /// Sessions at once logged in to one account.
    pub max_connections_per_account: u32,
    /// Connections at once in total.
    pub max_connections: u32,
    /// Autologout timer, also bounding IDLE (RFC 9051 §5.4: ≥ 30 minutes).
    pub idle_timeout_secs: u64,
    /// Storage limit of every account without its own, in octets (RFC 9208
    /// QUOTA); None: unlimited.
    pub default_quota: Option<u64>,
}

impl Default for ImapSettings {
    fn default() -> Self {
        ImapSettings {
            max_command_line: 64 * 1024,
            max_literal: 100 * 1024,
            max_message_size: 100 * 1024 * 1024,
            max_connections_per_ip: 20,
            max_connections_per_account: 50,
            max_connections: 2000,
            idle_timeout_secs: 30 * 60,
            default_quota: None,
        }
    }
}

/// `[queue]` in moxd.toml: retry schedule, DSN timing, concurrency and
/// timeouts of outbound delivery.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct QueueSettings {
    /// First retry interval after a temporary failure; it doubles with each
    /// further attempt (up to 7 doublings).
    pub retry_initial_secs: u64,
    /// A recipient still failing temporarily this long after it was queued
    /// fails for good (with a DSN).
    pub max_age_secs: u64,
    /// A delay DSN is sent once a recipient has waited this long.
    pub delay_dsn_after_secs: u64,
    /// Outbound SMTP connections at once, in total.
    pub max_connections: u32,
    /// Outbound SMTP connections at once to one host.
    pub max_per_host: u32,
    /// Upper bound on every SMTP client timeout (RFC 5321 §4.5.3.2 gives
    /// minutes); None: the RFC's values.
    pub timeout_limit_secs: Option<u64>,
}

/// `[smtp]` in moxd.toml: the limits of smtp-in and submission sessions.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SmtpSettings {
    /// Largest message accepted (announced in SIZE, RFC 1870).
    pub max_message_size: u64,
    /// Recipients per transaction (announced as LIMITS RCPTMAX, RFC 9422).
    pub max_recipients: usize,
    /// Longest command line (RFC 5321 §4.5.3.1.4 requires at least 512).
    pub max_command_line: usize,
    /// Errors per connection before it is closed with 421.
    pub max_errors: u32,
    /// Waiting for a command (RFC 5321 §4.5.3.2.7: at least 5 minutes).
    pub command_timeout_secs: u64,
    /// Waiting for one block of message data (RFC 5321 §4.5.3.2.5: 3 minutes).
    pub data_block_timeout_secs: u64,
    /// The whole message transfer.
    pub data_timeout_secs: u64,
}

impl Default for SmtpSettings {
    fn default() -> Self {
        SmtpSettings {
            max_message_size: 100 * 1024 * 1024,
            max_recipients: 1000,
            max_command_line: 4096,
            max_errors: 10,
            command_timeout_secs: 5 * 60,
            data_block_timeout_secs: 3 * 60,
            data_timeout_secs: 30 * 60,
        }
    }
}

impl Default for QueueSettings {
    fn default() -> Self {
        QueueSettings {
            retry_initial_secs: 450,
            max_age_secs: 5 * 24 * 3600,
            delay_dsn_after_secs: 4 * 3600,
            max_connections: 100,
            max_per_host: 20,
            timeout_limit_secs: None,
        }
    }
}

/// `[auth]` in moxd.toml: message authentication of incoming mail on
/// smtp-in (SPF, DKIM, DMARC, iprev, DNSBLs) and DMARC reports.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AuthSettings {
    /// Evaluate incoming messages at all. Off unless configured: the
    /// checks ask DNS for every message, and a server without a working
    /// resolver would stall its deliveries (packaging/moxd.toml turns it on).
    pub enabled: bool,
    pub spf: bool,
    pub dkim: bool,
    /// Needs SPF and DKIM results; evaluates them even when those are off.
    pub dmarc: bool,
    pub iprev: bool,
    /// DNS blocklist zones asked for every client address (RFC 5782); a
    /// listed client's messages go to Junk.
    pub dnsbls: Vec<String>,
    /// Local address that receives DMARC aggregate reports; its messages
    /// are parsed and stored (None: reports are not collected). Also the
    /// sender of the reports moxd sends.
    pub dmarc_reports: Option<String>,
    /// Send daily DMARC aggregate reports about received mail to the rua
    /// addresses of the senders' domains (RFC 7489 §7.2); needs
    /// `dmarc_reports`.
    pub send_dmarc_reports: bool,
}

impl Default for AuthSettings {
    fn default() -> Self {
        AuthSettings {
            enabled: false,
            spf: true,
            dkim: true,
            dmarc: true,
            iprev: true,
            dnsbls: Vec::new(),
            dmarc_reports: None,
            send_dmarc_reports: false,
        }
    }
}
