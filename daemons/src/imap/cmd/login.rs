//! LOGIN (RFC 9051 §6.2.3). Not authenticated state only; refused
//! without TLS unless the listener allows plain text (localserve on
//! loopback). Also the steps every successful or failed login shares
//! with AUTHENTICATE: rate limits, delays, the change subscription.

use tokio::io::{AsyncRead, AsyncWrite};

use crate::imap::backend::Backend;
use crate::imap::response::{Code, Response, Status};
use crate::imap::session::state::{Authed, Enabled, State, transition, wrong_state};
use crate::imap::session::{CmdError, CmdResult, Done, Session, SessionError};
use crate::sasl::SaslError;

impl<S, B> Session<S, B>
where
    S: AsyncRead + AsyncWrite + Unpin + Send,
    B: Backend,
{
    pub(crate) async fn cmd_login(
        &mut self,
        state: &mut State,
        tag: &str,
        user: &str,
        password: &str,
    ) -> CmdResult {
        if !matches!(state, State::NotAuthenticated) {
            return Err(wrong_state(state, "LOGIN"));
        }
        if !self.plaintext_allowed() {
            return Err(CmdError::no_code(
                Code::PrivacyRequired,
                "LOGIN needs TLS: use STARTTLS or port 993",
            ));
        }
        self.auth_gate().await?;
        match self.backend.verify_plain(user, password).await {
            Ok(Some(account)) => self.logged_in(state, account, "LOGIN").await,
            Ok(None) => self.auth_failed(tag, SaslError::Failed, "LOGIN").await,
            Err(e) => self.auth_failed(tag, e, "LOGIN").await,
        }
    }

    /// Failed-login rate limit per IP (shared with SMTP and web).
    pub(crate) async fn auth_gate(&mut self) -> Result<(), CmdError> {
        let ip = self.peer.remote.ip();
        if self.backend.auth_allowed(ip).await.unwrap_or(false) {
            return Ok(());
        }
        self.delay(self.cfg.limits.auth_fail_delay).await?;
        Err(CmdError::no_code(
            Code::Unavailable,
            "too many failed logins from your address, try again later",
        ))
    }

    /// A successful login: subscribe to the account's changes and enter
    /// the authenticated state; the OK carries the new capabilities.
    pub(crate) async fn logged_in(
        &mut self,
        state: &mut State,
        account: String,
        how: &str,
    ) -> CmdResult {
        let ip = self.peer.remote.ip();
        self.backend.auth_record(ip, true).await;
        let changes = self.backend.changes(&account).await?;
        let tls = self.tls.as_ref().map(|t| t.version.as_str());
        tracing::info!(remote = %self.peer.remote, account, how, ?tls, "imap login");
        let authed = Authed {
            account,
            changes,
            enabled: Enabled::default(),
        };
        transition(state, |_| State::Authenticated(authed));
        let caps = self.capabilities(state);
        Ok(Done::code(
            Code::Capability(caps),
            format!("{how} completed"),
        ))
    }

    /// A failed login: counted, delayed, and after too many the session
    /// ends. Every wrong password and unknown user gets the same answer.
    pub(crate) async fn auth_failed(&mut self, tag: &str, e: SaslError, how: &str) -> CmdResult {
        tracing::info!(remote = %self.peer.remote, how, error = %e, "imap login failed");
        match e {
            SaslError::Failed | SaslError::ChannelBinding => {}
            SaslError::Malformed(m) => {
                return Err(CmdError::bad(format!("malformed response: {m}")));
            }
            SaslError::Aborted => return Err(CmdError::bad("authentication cancelled")),
            SaslError::Temporary(m) => {
                tracing::warn!(error = %m, "imap: temporary authentication failure");
                return Err(CmdError::no_code(
                    Code::Unavailable,
                    "temporary authentication failure",
                ));
            }
        }
        self.backend.auth_record(self.peer.remote.ip(), false).await;
        self.delay(self.cfg.limits.auth_fail_delay).await?;
        self.auth_failures += 1;
        let text = "invalid credentials";
        if self.auth_failures >= self.cfg.limits.max_auth_failures {
            self.send(&Response::tagged(
                tag,
                Status::No,
                Some(Code::AuthenticationFailed),
                text,
            ));
            return Err(CmdError::Fatal(SessionError::TooManyErrors));
        }
        Err(CmdError::no_code(Code::AuthenticationFailed, text))
    }
}
