//! SASL mechanisms shared by submission, IMAP and web (RFC 4422), server side.
//!
//! A protocol front end (SMTP AUTH, IMAP AUTHENTICATE, the web login) creates
//! one [`Exchange`] per authentication attempt, feeds it the client's decoded
//! responses and sends back the challenges it returns. Protocol framing stays
//! with the caller:
//! - base64 encoding and decoding of challenges and responses;
//! - the SASL-IR initial response, where `=` means "empty" (RFC 4954 §4,
//!   RFC 9051 §6.2.2): pass `Some(&[])` for `=` and `None` for no initial
//!   response;
//! - the `*` cancel line (RFC 4954 §4, RFC 9051 §6.2.2): the caller recognises
//!   it before base64 decoding and calls [`Exchange::abort`], which ends the
//!   exchange and returns [`SaslError::Aborted`]. `step` never interprets `*`:
//!   the decoded bytes `*` are an ordinary response (a LOGIN user name, say).
//!
//! Credentials come through the [`Credentials`] trait: the store over IPC in
//! production, an in-memory table in tests. Every wrong password and unknown
//! user ends in the same [`SaslError::Failed`], with the same text, at the same
//! point of the exchange (for SCRAM: after the client's proof, see `scram.rs`).
//!
//! Usernames and passwords are passed to the store as received (valid UTF-8,
//! no SASLprep, RFC 4013): the store normalises login names, and stored SCRAM
//! keys are derived from the password exactly as typed.

pub mod cram_md5;
mod login;
mod plain;
pub mod scram;

#[cfg(test)]
mod tests;

use ipc::store::{ScramCredentials, ScramMechanism};

/// Largest decoded client response any mechanism accepts, in bytes. Callers
/// can bound their line reads with [`MAX_ENCODED_RESPONSE_LEN`].
pub const MAX_RESPONSE_LEN: usize = 4096;

/// Base64 length of a [`MAX_RESPONSE_LEN`] response (4 characters per 3 bytes,
/// padded), without the line ending.
pub const MAX_ENCODED_RESPONSE_LEN: usize = MAX_RESPONSE_LEN.div_ceil(3) * 4;

/// The SASL mechanisms moxd knows, in the order servers usually announce them
/// (strongest first).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mechanism {
    /// RFC 4616.
    Plain,
    /// draft-murchison-sasl-login.
    Login,
    /// RFC 2195; not verifiable with the keys the store keeps (see `cram_md5.rs`).
    CramMd5,
    /// RFC 5802.
    ScramSha1,
    /// RFC 5802 with channel binding.
    ScramSha1Plus,
    /// RFC 7677.
    ScramSha256,
    /// RFC 7677 with channel binding.
    ScramSha256Plus,
}

impl Mechanism {
    /// Every mechanism, strongest first (the order mox announces them in).
    pub const ALL: [Mechanism; 7] = [
        Mechanism::ScramSha256Plus,
        Mechanism::ScramSha256,
        Mechanism::ScramSha1Plus,
        Mechanism::ScramSha1,
        Mechanism::CramMd5,
        Mechanism::Plain,
        Mechanism::Login,
    ];

    /// The registered SASL mechanism name (RFC 4422 §3.1), upper case.
    pub fn name(self) -> &'static str {
        match self {
            Mechanism::Plain => "PLAIN",
            Mechanism::Login => "LOGIN",
            Mechanism::CramMd5 => "CRAM-MD5",
            Mechanism::ScramSha1 => "SCRAM-SHA-1",
            Mechanism::ScramSha1Plus => "SCRAM-SHA-1-PLUS",
            Mechanism::ScramSha256 => "SCRAM-SHA-256",
            Mechanism::ScramSha256Plus => "SCRAM-SHA-256-PLUS",
        }
    }

    /// Parses a mechanism name, case-insensitively (RFC 4422 §3.1 names are
    /// upper case, but clients send what they like).
    pub fn from_name(s: &str) -> Option<Self> {
        Self::ALL
            .into_iter()
            .find(|m| m.name().eq_ignore_ascii_case(s))
    }

    /// True for the -PLUS mechanisms, which need channel-binding data from
    /// the TLS layer (RFC 5802 §6, RFC 5056).
    pub fn needs_channel_binding(self) -> bool {
        matches!(self, Mechanism::ScramSha1Plus | Mechanism::ScramSha256Plus)
    }

    /// The store's key family for a SCRAM mechanism; None for the others.
    pub fn scram(self) -> Option<ScramMechanism> {
        match self {
            Mechanism::ScramSha1 | Mechanism::ScramSha1Plus => Some(ScramMechanism::Sha1),
            Mechanism::ScramSha256 | Mechanism::ScramSha256Plus => Some(ScramMechanism::Sha256),
            Mechanism::Plain | Mechanism::Login | Mechanism::CramMd5 => None,
        }
    }
}

/// Channel-binding data from the TLS layer (RFC 5929 / RFC 9266).
#[derive(Debug, Clone, Default)]
pub struct ChannelBinding {
    /// RFC 9266 `tls-exporter`: 32 bytes of keying material exported with the
    /// label "EXPORTER-Channel-Binding" and an empty context. Only sound on
    /// TLS 1.3 (or TLS 1.2 with extended master secret); the TLS layer leaves
    /// it out otherwise.
    pub tls_exporter: Option<Vec<u8>>,
    /// RFC 5929 §4 `tls-server-end-point`: the hash of the server certificate.
    pub tls_server_end_point: Option<Vec<u8>>,
}

impl ChannelBinding {
    /// True if any channel-binding type is available, i.e. the -PLUS
    /// mechanisms can be offered. SCRAM uses this to detect downgrades
    /// (RFC 5802 §6 `y` flag).
    pub fn is_available(&self) -> bool {
        self.tls_exporter.is_some() || self.tls_server_end_point.is_some()
    }
}

/// Where credentials come from (the store, over IPC, in production).
pub trait Credentials {
    /// Check a plain password; Ok(Some(account)) on success.
    fn verify_plain(
        &self,
        login: &str,
        password: &str,
    ) -> impl std::future::Future<Output = Result<Option<String>, SaslError>> + Send;
    /// Salted SCRAM credentials for a login, None if unknown.
    fn scram(
        &self,
        login: &str,
        mech: ScramMechanism,
    ) -> impl std::future::Future<Output = Result<Option<ScramCredentials>, SaslError>> + Send;
}

/// What the server does next.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    /// Send this challenge to the client and call `step` with its answer.
    Challenge(Vec<u8>),
    /// Authenticated as this account. `server_final` (SCRAM) goes to the client with the success reply
    /// (SMTP: 235 reply after a final 334 or as in RFC 4954 §4 "additional data with success"; the caller decides).
    Success {
        account: String,
        server_final: Option<Vec<u8>>,
    },
}

/// Why an exchange ended without success. Each ends the exchange.
#[derive(Debug, thiserror::Error)]
pub enum SaslError {
    /// Wrong password or unknown user: same error, same text.
    #[error("authentication failed")]
    Failed,
    #[error("malformed client response: {0}")]
    Malformed(String),
    #[error("channel binding mismatch or unavailable")]
    ChannelBinding,
    /// The client sent "*" (the caller called [`Exchange::abort`]).
    #[error("authentication aborted by client")]
    Aborted,
    /// The store failed or answered nonsense, the mechanism is not enabled,
    /// or the exchange was driven out of order; the client may retry later.
    #[error("temporary failure: {0}")]
    Temporary(String),
}

/// One server-side exchange. Data in and out is raw bytes (protocols base64 them).
///
/// Call [`Exchange::start`] once, then [`Exchange::step`] for every
/// [`Step::Challenge`] answered. After a success or any error the exchange is
/// finished and further calls return [`SaslError::Temporary`].
pub struct Exchange {
    mech: Mechanism,
    cb: ChannelBinding,
    state: State,
    /// Replaces the random SCRAM server nonce, so tests can replay the RFC
    /// example exchanges byte for byte.
    #[cfg(test)]
    test_server_nonce: Option<String>,
}

/// Where an exchange stands; each state holds only what exists in it.
enum State {
    /// `start` not called yet.
    New,
    /// PLAIN: an empty challenge was sent (no initial response).
    Plain,
    /// LOGIN: a prompt was sent.
    Login(login::Login),
    /// SCRAM: an empty challenge was sent, the client-first message is due.
    ScramFirst,
    /// SCRAM: the server-first message was sent, the client-final is due.
    ScramFinal(Box<scram::AwaitFinal>),
    /// Succeeded, failed or aborted.
    Finished,
}

impl Exchange {
    pub fn new(mech: Mechanism, cb: ChannelBinding) -> Self {
        Exchange {
            mech,
            cb,
            state: State::New,
            #[cfg(test)]
            test_server_nonce: None,
        }
    }

    /// Same as [`Exchange::new`] with a fixed SCRAM server nonce.
    #[cfg(test)]
    pub(crate) fn with_server_nonce(mech: Mechanism, cb: ChannelBinding, nonce: &str) -> Self {
        let mut ex = Exchange::new(mech, cb);
        ex.test_server_nonce = Some(nonce.to_owned());
        ex
    }

    pub fn mechanism(&self) -> Mechanism {
        self.mech
    }

    /// `initial` is the SASL-IR initial response if the client sent one (None = none; Some(empty) = "=").
    pub async fn start<C: Credentials>(
        &mut self,
        initial: Option<&[u8]>,
        creds: &C,
    ) -> Result<Step, SaslError> {
        let State::New = std::mem::replace(&mut self.state, State::Finished) else {
            return Err(out_of_order());
        };
        if let Some(r) = initial {
            check_response_len(r)?;
        }
        match self.mech {
            // RFC 4616 §2: without an initial response the server sends an
            // empty challenge.
            Mechanism::Plain => match initial {
                None => {
                    self.state = State::Plain;
                    Ok(Step::Challenge(Vec::new()))
                }
                Some(r) => plain::authenticate(r, creds).await,
            },
            Mechanism::Login => match initial {
                None => {
                    self.state = State::Login(login::Login::AwaitUser);
                    Ok(Step::Challenge(login::USERNAME_PROMPT.to_vec()))
                }
                Some(r) => {
                    let user = login::username(r)?;
                    self.state = State::Login(login::Login::AwaitPassword(user));
                    Ok(Step::Challenge(login::PASSWORD_PROMPT.to_vec()))
                }
            },
            Mechanism::CramMd5 => Err(cram_md5::not_enabled()),
            Mechanism::ScramSha1
            | Mechanism::ScramSha1Plus
            | Mechanism::ScramSha256
            | Mechanism::ScramSha256Plus => {
                // RFC 5802 §6: a -PLUS mechanism without binding data cannot work.
                if self.mech.needs_channel_binding() && !self.cb.is_available() {
                    return Err(SaslError::ChannelBinding);
                }
                match initial {
                    // RFC 4422 §5: SCRAM is client-first; an empty challenge
                    // asks for the client-first message.
                    None => {
                        self.state = State::ScramFirst;
                        Ok(Step::Challenge(Vec::new()))
                    }
                    Some(r) => self.scram_first(r, creds).await,
                }
            }
        }
    }

    pub async fn step<C: Credentials>(
        &mut self,
        response: &[u8],
        creds: &C,
    ) -> Result<Step, SaslError> {
        let state = std::mem::replace(&mut self.state, State::Finished);
        if matches!(state, State::New | State::Finished) {
            return Err(out_of_order());
        }
        check_response_len(response)?;
        match state {
            State::Plain => plain::authenticate(response, creds).await,
            State::Login(login::Login::AwaitUser) => {
                let user = login::username(response)?;
                self.state = State::Login(login::Login::AwaitPassword(user));
                Ok(Step::Challenge(login::PASSWORD_PROMPT.to_vec()))
            }
            State::Login(login::Login::AwaitPassword(user)) => {
                login::authenticate(&user, response, creds).await
            }
            State::ScramFirst => self.scram_first(response, creds).await,
            State::ScramFinal(wait) => wait.client_final(response),
            State::New | State::Finished => Err(out_of_order()),
        }
    }

    /// Ends the exchange because the client sent `*` (RFC 4954 §4,
    /// RFC 9051 §6.2.2); returns the error to report.
    pub fn abort(&mut self) -> SaslError {
        self.state = State::Finished;
        SaslError::Aborted
    }

    /// Handles a SCRAM client-first message and sends the server-first one.
    async fn scram_first<C: Credentials>(
        &mut self,
        client_first: &[u8],
        creds: &C,
    ) -> Result<Step, SaslError> {
        let nonce = self.server_nonce();
        let wait = scram::client_first(self.mech, &self.cb, client_first, creds, nonce).await?;
        let challenge = wait.server_first().as_bytes().to_vec();
        self.state = State::ScramFinal(Box::new(wait));
        Ok(Step::Challenge(challenge))
    }

    fn server_nonce(&self) -> String {
        #[cfg(test)]
        if let Some(n) = &self.test_server_nonce {
            return n.clone();
        }
        scram::random_server_nonce()
    }
}

fn check_response_len(r: &[u8]) -> Result<(), SaslError> {
    if r.len() > MAX_RESPONSE_LEN {
        return Err(SaslError::Malformed(format!(
            "response longer than {MAX_RESPONSE_LEN} bytes"
        )));
    }
    Ok(())
}

/// The caller drove the exchange wrongly (a bug, not the client's fault):
/// answered as a temporary failure.
fn out_of_order() -> SaslError {
    SaslError::Temporary("SASL exchange used out of order".to_owned())
}
