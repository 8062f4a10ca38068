//! What a session needs to know from its worker: which kind of listener it
//! serves, its limits (each named, RFC 5321 §4.5.3), TLS and AUTH settings
//! and the localserve switches (DESIGN.md "Run modes").

use std::sync::Arc;
use std::time::Duration;

use policy::auth::Authenticator;
use policy::dkimsign::Signers;
use tokio_rustls::TlsAcceptor;

use crate::sasl::Mechanism;

/// RFC 5321 §4.5.3.1.4: 512 octets for a command line, plus room for
/// extension parameters (RFC 5321 §4.5.3.1.4 allows more for extensions).
pub const MAX_COMMAND_LINE: usize = 4096;
/// RFC 4954 §4: a SASL response line may be at least 12288 octets.
pub const MAX_AUTH_LINE: usize = 12288;
/// mox's default (config.DefaultMaxMsgSize), announced in SIZE (RFC 1870).
pub const MAX_MESSAGE_SIZE: u64 = 100 * 1024 * 1024;
/// RFC 9422 LIMITS RCPTMAX; RFC 5321 §4.5.3.1.8 requires at least 100.
pub const MAX_RECIPIENTS: usize = 1000;
/// Client errors (syntax, sequence, failed AUTH) before `421` and close.
pub const MAX_ERRORS: u32 = 10;
/// RFC 5321 §4.5.3.2.7: server timeout waiting for the next command.
pub const COMMAND_TIMEOUT: Duration = Duration::from_secs(5 * 60);
/// RFC 5321 §4.5.3.2.5: 3 minutes per data block (each read in DATA/BDAT).
pub const DATA_BLOCK_TIMEOUT: Duration = Duration::from_secs(3 * 60);
/// Whole DATA/BDAT transfer of one message (mox: 30 minutes).
pub const DATA_TIMEOUT: Duration = Duration::from_secs(30 * 60);
/// RFC 5321 §4.5.3.2.6: the client waits 10 minutes for the reply to the
/// end of data, so delivery must be answered within that time.
pub const FINAL_REPLY_TIMEOUT: Duration = Duration::from_secs(10 * 60);
/// TLS handshake after STARTTLS or on an implicit-TLS port.
pub const TLS_HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(60);
/// Wait after a failed AUTH (mox authFailDelay).
pub const AUTH_FAIL_DELAY: Duration = Duration::from_secs(1);
/// Each unknown recipient adds this much delay to the next 550 …
pub const UNKNOWN_RCPT_DELAY_STEP: Duration = Duration::from_secs(1);
/// … up to this (mox unknownRecipientsDelay is 5 s).
pub const UNKNOWN_RCPT_DELAY_MAX: Duration = Duration::from_secs(5);
/// localserve `…timeout` localparts: no reply for this long (as mox).
pub const LOCALSERVE_TIMEOUT: Duration = Duration::from_secs(60 * 60);

/// Which listener this session serves.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum Kind {
    /// smtp-in (port 25): mail for local recipients, no AUTH.
    Incoming,
    /// submission (587/465): authenticated users, any recipient.
    Submission,
}

/// Every limit of a session; the defaults are the named constants above.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Limits {
    pub max_command_line: usize,
    pub max_auth_line: usize,
    pub max_message_size: u64,
    pub max_recipients: usize,
    pub max_errors: u32,
    pub command_timeout: Duration,
    pub data_block_timeout: Duration,
    pub data_timeout: Duration,
    pub final_reply_timeout: Duration,
    pub tls_handshake_timeout: Duration,
    pub auth_fail_delay: Duration,
    pub unknown_rcpt_delay_step: Duration,
    pub unknown_rcpt_delay_max: Duration,
    pub localserve_timeout: Duration,
    /// Wait this long before the greeting; a client that talks first is
    /// rejected as an early talker (threats T3). Zero: no wait, no check.
    pub greeting_delay: Duration,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            max_command_line: MAX_COMMAND_LINE,
            max_auth_line: MAX_AUTH_LINE,
            max_message_size: MAX_MESSAGE_SIZE,
            max_recipients: MAX_RECIPIENTS,
            max_errors: MAX_ERRORS,
            command_timeout: COMMAND_TIMEOUT,
            data_block_timeout: DATA_BLOCK_TIMEOUT,
            data_timeout: DATA_TIMEOUT,
            final_reply_timeout: FINAL_REPLY_TIMEOUT,
            tls_handshake_timeout: TLS_HANDSHAKE_TIMEOUT,
            auth_fail_delay: AUTH_FAIL_DELAY,
            unknown_rcpt_delay_step: UNKNOWN_RCPT_DELAY_STEP,
            unknown_rcpt_delay_max: UNKNOWN_RCPT_DELAY_MAX,
            localserve_timeout: LOCALSERVE_TIMEOUT,
            greeting_delay: Duration::ZERO,
        }
    }
}

/// TLS for STARTTLS (RFC 3207) or an implicit-TLS port (RFC 8314).
#[derive(Clone)]
pub struct TlsConfig {
    pub acceptor: TlsAcceptor,
    /// RFC 5929 §4.1 `tls-server-end-point` channel binding: the hash of
    /// our certificate (see [`tls_server_end_point`]). None: not offered.
    pub server_end_point: Option<Vec<u8>>,
}

impl std::fmt::Debug for TlsConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TlsConfig")
            .field("server_end_point", &self.server_end_point.is_some())
            .finish()
    }
}

/// RFC 5929 §4.1: SHA-256 of the DER certificate, correct for certificates
/// signed with SHA-256 (or MD5/SHA-1), which is what moxd generates.
pub fn tls_server_end_point(cert_der: &[u8]) -> Vec<u8> {
    use sha2::Digest as _;
    sha2::Sha256::digest(cert_der).to_vec()
}

/// A session's configuration, shared by all sessions of a listener.
#[derive(Debug, Clone)]
pub struct Config {
    pub kind: Kind,
    /// Our host name (ASCII), in the greeting, EHLO and Received.
    pub hostname: String,
    pub limits: Limits,
    /// None: no STARTTLS, no implicit TLS.
    pub tls: Option<TlsConfig>,
    /// Handshake before the greeting (port 465, RFC 8314 §3.3).
    pub implicit_tls: bool,
    /// Offer AUTH without TLS (localserve on loopback only).
    pub auth_without_tls: bool,
    /// Mechanisms offered on submission, in announcement order; the -PLUS
    /// variants are offered only under TLS.
    pub auth_mechanisms: Vec<Mechanism>,
    /// localserve fake failures by localpart (DESIGN.md "Run modes").
    pub localserve: bool,
    /// Stricter checks: 8-bit data needs BODY=8BITMIME, parameters need EHLO.
    pub pedantic: bool,
    /// Message authentication of incoming mail (smtp-in; None: off).
    pub auth: Option<Arc<Authenticator>>,
    /// DKIM keys that sign submitted mail (submission; None: no keys).
    pub dkim: Option<Arc<Signers>>,
    /// smtp-in: the address whose mail is parsed as DMARC aggregate
    /// reports (lower-case; None: none is).
    pub dmarc_reports: Option<String>,
    /// smtp-in: keep DMARC evaluations for the aggregate reports we send.
    pub record_dmarc: bool,
}

impl Config {
    /// Defaults for a listener: everything off except the limits.
    pub fn new(kind: Kind, hostname: impl Into<String>) -> Config {
        Config {
            kind,
            hostname: hostname.into(),
            limits: Limits::default(),
            tls: None,
            implicit_tls: false,
            auth_without_tls: false,
            auth_mechanisms: DEFAULT_MECHANISMS.to_vec(),
            localserve: false,
            pedantic: false,
            auth: None,
            dkim: None,
            dmarc_reports: None,
            record_dmarc: false,
        }
    }
}

/// mox's announcement order without CRAM-MD5, which needs a stored
/// CRAM-MD5 derivation and is off unless configured (issue: "only if enabled").
pub const DEFAULT_MECHANISMS: [Mechanism; 6] = [
    Mechanism::ScramSha256Plus,
    Mechanism::ScramSha256,
    Mechanism::ScramSha1Plus,
    Mechanism::ScramSha1,
    Mechanism::Plain,
    Mechanism::Login,
];
