//! Errors grouped by who sees them (as mox `imapserver/error.go`): the
//! client's protocol errors (BAD), the user's failed requests (NO), our
//! own failures (logged, NO with a server code), and the end of the
//! connection. `Session::finish` is the one place that turns a command's
//! result into its tagged response.

use crate::imap::backend::BackendError;
use crate::imap::response::Code;

/// Why a session ended other than by LOGOUT.
#[derive(Debug, thiserror::Error)]
pub enum SessionError {
    #[error("i/o error: {0}")]
    Io(std::io::Error),
    #[error("TLS handshake failed: {0}")]
    Tls(std::io::Error),
    #[error("timeout")]
    Timeout,
    #[error("connection closed by peer")]
    Eof,
    #[error("too many errors")]
    TooManyErrors,
    #[error("server shutting down")]
    Shutdown,
    #[error("change events from the store ended")]
    StoreGone,
    /// A protocol violation after which the stream cannot be resynchronised
    /// (a refused non-synchronizing literal); BYE was sent.
    #[error("protocol violation: {0}")]
    Violation(String),
}

/// A completed command: the code and text of its tagged OK.
#[derive(Debug, Clone, PartialEq)]
pub struct Done {
    pub code: Option<Code>,
    pub text: String,
    /// The command sent its tagged response itself (STARTTLS must, before
    /// the handshake).
    pub sent: bool,
}

impl Done {
    pub fn ok(text: impl Into<String>) -> Done {
        Done {
            code: None,
            text: text.into(),
            sent: false,
        }
    }

    pub fn code(code: Code, text: impl Into<String>) -> Done {
        Done {
            code: Some(code),
            text: text.into(),
            sent: false,
        }
    }

    pub fn already_sent() -> Done {
        Done {
            code: None,
            text: String::new(),
            sent: true,
        }
    }
}

/// A command that did not complete.
#[derive(Debug)]
pub enum CmdError {
    /// Protocol-level error in the client's command: tagged BAD.
    Bad(Option<Code>, String),
    /// The request cannot be done: tagged NO.
    No(Option<Code>, String),
    /// Our failure: logged, answered NO [SERVERBUG].
    Server(String),
    /// The connection is over.
    Fatal(SessionError),
}

pub type CmdResult = Result<Done, CmdError>;

impl CmdError {
    pub fn bad(text: impl Into<String>) -> CmdError {
        CmdError::Bad(None, text.into())
    }

    pub fn no(text: impl Into<String>) -> CmdError {
        CmdError::No(None, text.into())
    }

    pub fn no_code(code: Code, text: impl Into<String>) -> CmdError {
        CmdError::No(Some(code), text.into())
    }
}

impl From<SessionError> for CmdError {
    fn from(e: SessionError) -> CmdError {
        CmdError::Fatal(e)
    }
}

impl From<BackendError> for CmdError {
    fn from(e: BackendError) -> CmdError {
        match e {
            BackendError::Temporary(m) => {
                tracing::warn!(error = %m, "imap: temporary backend failure");
                CmdError::No(
                    Some(Code::Unavailable),
                    "temporary failure, try again later".into(),
                )
            }
            BackendError::NotFound(m) => CmdError::No(Some(Code::NonExistent), m),
            BackendError::Exists(m) => CmdError::No(Some(Code::AlreadyExists), m),
            BackendError::Cannot(m) => CmdError::No(Some(Code::Cannot), m),
            BackendError::OverQuota(m) => CmdError::No(Some(Code::OverQuota), m),
            BackendError::Limit(m) => CmdError::No(Some(Code::Limit), m),
        }
    }
}
