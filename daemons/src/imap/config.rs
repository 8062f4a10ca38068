//! What an IMAP session needs from its worker: limits (each named, with
//! the threat or RFC behind it), TLS, authentication settings.

use std::time::Duration;

use crate::imap::parse::frame::FrameLimits;
use crate::sasl::Mechanism;
pub use crate::smtp::config::{TlsConfig, tls_server_end_point};

/// Longest command line (without literals). Dovecot uses 64 KiB; long UID
/// sets need more than RFC 9051's suggested 8000 octets.
pub const MAX_LINE: usize = 64 * 1024;
/// Largest literal in a command other than APPEND (mox: 100 KiB).
pub const MAX_LITERAL: u64 = 100 * 1024;
/// Largest literal before authentication (threats T11: a few KB).
pub const MAX_PREAUTH_LITERAL: u64 = 4 * 1024;
/// Most octets of a command other than APPEND (mox: 1 MiB).
pub const MAX_COMMAND: u64 = 1024 * 1024;
/// Most octets of a command before authentication.
pub const MAX_PREAUTH_COMMAND: u64 = 16 * 1024;
/// Most literals in one command (mox: 1000).
pub const MAX_LITERALS: usize = 1000;
/// Largest message APPEND accepts (APPENDLIMIT, RFC 7889); mox's default
/// maximum message size.
pub const MAX_MESSAGE_SIZE: u64 = 100 * 1024 * 1024;
/// RFC 4954 §4 (as for SMTP): a SASL response line may be 12288 octets.
pub const MAX_AUTH_LINE: usize = 12288;
/// Inactivity before authentication.
pub const PREAUTH_TIMEOUT: Duration = Duration::from_secs(120);
/// RFC 9051 §5.4: the autologout timer is at least 30 minutes; it also
/// bounds IDLE.
pub const IDLE_TIMEOUT: Duration = Duration::from_secs(30 * 60);
/// Each read of a literal must make progress within this time (threats
/// T11: slow drip); mox uses 30 s.
pub const LITERAL_READ_TIMEOUT: Duration = Duration::from_secs(30);
/// Longest a command waits for the change events of changes already
/// committed to the selected mailbox (see `Session::catch_up`).
pub const CATCH_UP_WAIT: Duration = Duration::from_secs(1);
/// A client that does not read our responses.
pub const WRITE_TIMEOUT: Duration = Duration::from_secs(5 * 60);
/// TLS handshake after STARTTLS or on an implicit-TLS port.
pub const TLS_HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(60);
/// Wait after a failed login (mox authFailDelay).
pub const AUTH_FAIL_DELAY: Duration = Duration::from_secs(1);
/// Failed logins in one session before it is closed.
pub const MAX_AUTH_FAILURES: u32 = 3;
/// BAD responses in one session before it is closed.
pub const MAX_ERRORS: u32 = 30;
/// Queued response octets that trigger a write in the middle of a
/// command, so that a large FETCH does not grow memory.
pub const OUTPUT_FLUSH_SIZE: usize = 64 * 1024;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Limits {
    pub max_line: usize,
    pub max_literal: u64,
    pub max_preauth_literal: u64,
    pub max_command: u64,
    pub max_preauth_command: u64,
    pub max_literals: usize,
    pub max_message_size: u64,
    pub max_auth_line: usize,
    pub preauth_timeout: Duration,
    pub idle_timeout: Duration,
    pub literal_read_timeout: Duration,
    pub write_timeout: Duration,
    pub tls_handshake_timeout: Duration,
    pub auth_fail_delay: Duration,
    pub max_auth_failures: u32,
    pub max_errors: u32,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            max_line: MAX_LINE,
            max_literal: MAX_LITERAL,
            max_preauth_literal: MAX_PREAUTH_LITERAL,
            max_command: MAX_COMMAND,
            max_preauth_command: MAX_PREAUTH_COMMAND,
            max_literals: MAX_LITERALS,
            max_message_size: MAX_MESSAGE_SIZE,
            max_auth_line: MAX_AUTH_LINE,
            preauth_timeout: PREAUTH_TIMEOUT,
            idle_timeout: IDLE_TIMEOUT,
            literal_read_timeout: LITERAL_READ_TIMEOUT,
            write_timeout: WRITE_TIMEOUT,
            tls_handshake_timeout: TLS_HANDSHAKE_TIMEOUT,
            auth_fail_delay: AUTH_FAIL_DELAY,
            max_auth_failures: MAX_AUTH_FAILURES,
            max_errors: MAX_ERRORS,
        }
    }
}

impl Limits {
    /// Command framing limits before (`authenticated` false) and after login.
    pub fn frame(&self, authenticated: bool) -> FrameLimits {
        if authenticated {
            FrameLimits {
                max_literal: self.max_literal,
                max_append_literal: self.max_message_size,
                max_literals: self.max_literals,
                max_command: self.max_command,
                max_append_command: self.max_message_size,
            }
        } else {
            FrameLimits {
                max_literal: self.max_preauth_literal,
                max_append_literal: self.max_preauth_literal,
                max_literals: self.max_literals,
                max_command: self.max_preauth_command,
                max_append_command: self.max_preauth_command,
            }
        }
    }
}

/// A session's configuration, shared by the sessions of a listener.
#[derive(Debug, Clone)]
pub struct Config {
    /// Our host name, in the greeting.
    pub hostname: String,
    pub limits: Limits,
    /// None: no STARTTLS, no implicit TLS.
    pub tls: Option<TlsConfig>,
    /// Handshake before the greeting (port 993, RFC 8314 §3.3).
    pub implicit_tls: bool,
    /// Allow LOGIN and AUTHENTICATE PLAIN without TLS (localserve on
    /// loopback only).
    pub login_without_tls: bool,
    /// Mechanisms offered, in announcement order; -PLUS only under TLS.
    pub auth_mechanisms: Vec<Mechanism>,
    /// Announce LITERAL- instead of LITERAL+ (RFC 7888 §5): non-sync
    /// literals only up to 4096 octets.
    pub literal_minus: bool,
    /// Offer COMPRESS=DEFLATE (RFC 4978).
    pub compress: bool,
}

/// RFC 7888 §5: LITERAL- allows non-synchronizing literals up to this size.
pub const LITERAL_MINUS_MAX: u64 = 4096;

/// mox's announcement order; CRAM-MD5 is left out (the store keeps no
/// CRAM-MD5 derivation).
pub const DEFAULT_MECHANISMS: [Mechanism; 6] = [
    Mechanism::ScramSha256Plus,
    Mechanism::ScramSha256,
    Mechanism::ScramSha1Plus,
    Mechanism::ScramSha1,
    Mechanism::Plain,
    Mechanism::Login,
];

impl Config {
    /// Defaults: no TLS, plain-text logins refused, COMPRESS offered,
    /// default limits.
    pub fn new(hostname: impl Into<String>) -> Config {
        Config {
            hostname: hostname.into(),
            limits: Limits::default(),
            tls: None,
            implicit_tls: false,
            login_without_tls: false,
            auth_mechanisms: DEFAULT_MECHANISMS.to_vec(),
            literal_minus: false,
            compress: true,
        }
    }
}
