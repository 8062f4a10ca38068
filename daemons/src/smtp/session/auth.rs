//! AUTH (RFC 4954 §4) on submission: after EHLO, outside a transaction,
//! once per session, and only under TLS unless the listener allows plain
//! text (localserve on loopback). The mechanisms live in `crate::sasl`;
//! this file frames them: base64 lines, `*` to cancel, `334` challenges.

use base64::Engine as _;
use tokio::io::{AsyncRead, AsyncWrite};

use super::io::Line;
use super::state::State;
use super::{Flow, Session, SessionError};
use crate::sasl::{Exchange, Mechanism, SaslError, Step};
use crate::smtp::backend::Backend;
use crate::smtp::config::Kind;
use crate::smtp::reply::{Code, Esc, Reply};

/// A client's line in an AUTH exchange.
enum Response {
    Data(Vec<u8>),
    Cancel,
    TooLong,
    BadBase64,
}

fn b64() -> base64::engine::GeneralPurpose {
    base64::engine::general_purpose::STANDARD
}

impl<S, B> Session<S, B>
where
    S: AsyncRead + AsyncWrite + Unpin + Send,
    B: Backend,
{
    /// Whether `m` is offered now: configured, and -PLUS only under TLS.
    pub(super) fn mechanism_offered(&self, m: Mechanism) -> bool {
        self.cfg.auth_mechanisms.contains(&m) && (!m.needs_channel_binding() || self.tls.is_some())
    }

    pub(super) async fn auth(
        &mut self,
        state: State,
        mech: String,
        initial: Option<Vec<u8>>,
    ) -> Result<Flow, SessionError> {
        if self.cfg.kind != Kind::Submission {
            self.error(Reply::new(
                Code::NOT_IMPLEMENTED,
                Esc::INVALID_COMMAND,
                "AUTH not available",
            ))
            .await?;
            return Ok(Flow::Next(state));
        }
        let hello = match state {
            State::Ready(h) => h,
            State::Fresh => return self.out_of_sequence(state, "send EHLO first").await,
            other => {
                return self
                    .out_of_sequence(other, "AUTH not allowed in a mail transaction")
                    .await;
            }
        };
        let next = || Ok(Flow::Next(State::Ready(hello.clone())));
        if self.account.is_some() {
            return self
                .out_of_sequence(State::Ready(hello), "already authenticated")
                .await;
        }
        if self.tls.is_none() && !self.cfg.auth_without_tls {
            // RFC 3207 §4.
            self.error(Reply::new(
                Code::AUTH_REQUIRED,
                Esc::SECURITY,
                "must issue a STARTTLS command first",
            ))
            .await?;
            return next();
        }
        let Some(m) = Mechanism::from_name(&mech).filter(|m| self.mechanism_offered(*m)) else {
            self.error(Reply::new(
                Code::PARAM_NOT_IMPLEMENTED,
                Esc::INVALID_ARGS,
                "mechanism not supported",
            ))
            .await?;
            return next();
        };
        let ip = self.peer.remote.ip();
        if !self.backend.auth_allowed(ip).await.unwrap_or(false) {
            // RFC 4954 §6: 454 4.7.0 temporary authentication failure.
            self.delay(self.cfg.limits.auth_fail_delay).await?;
            self.error(Reply::new(
                Code::AUTH_TEMP_FAILURE,
                Esc::SECURITY_TEMP,
                "too many failed authentication attempts from your address (limit: failed AUTH per IP), try again later",
            ))
            .await?;
            return next();
        }
        let cb = self
            .tls
            .as_ref()
            .map(|t| t.binding.clone())
            .unwrap_or_default();
        let mut ex = Exchange::new(m, cb);
        let mut step = ex.start(initial.as_deref(), &*self.backend).await;
        loop {
            match step {
                Ok(Step::Challenge(c)) => {
                    self.reply(Reply::plain(Code::AUTH_CHALLENGE, b64().encode(c)));
                    let data = match self.auth_response().await? {
                        Response::Data(d) => d,
                        other => {
                            // The exchange is over; its error adds nothing.
                            let _ = ex.abort();
                            return self.auth_aborted(other).await.and_then(|()| next());
                        }
                    };
                    step = ex.step(&data, &*self.backend).await;
                }
                Ok(Step::Success {
                    account,
                    server_final,
                }) => {
                    if let Some(f) = server_final {
                        // RFC 4954 §4: data with success goes in a 334; the
                        // client answers with an empty line.
                        self.reply(Reply::plain(Code::AUTH_CHALLENGE, b64().encode(f)));
                        match self.auth_response().await? {
                            Response::Data(d) if d.is_empty() => {}
                            other => {
                                let _ = ex.abort();
                                return self.auth_aborted(other).await.and_then(|()| next());
                            }
                        }
                    }
                    tracing::info!(remote = %self.peer.remote, account, mechanism = m.name(), "authenticated");
                    self.backend.auth_record(ip, true).await;
                    self.account = Some(account);
                    self.reply(Reply::new(
                        Code::AUTH_SUCCEEDED,
                        Esc::AUTH_OK,
                        "authentication successful",
                    ));
                    return next();
                }
                Err(e) => {
                    self.auth_failed(e, m).await?;
                    return next();
                }
            }
        }
    }

    async fn auth_response(&mut self) -> Result<Response, SessionError> {
        let limits = &self.cfg.limits;
        let line = match self
            .io
            .read_line(limits.max_auth_line, limits.command_timeout)
            .await?
        {
            Line::Line(l) => l,
            Line::TooLong => return Ok(Response::TooLong),
        };
        let line = line.strip_suffix(b"\n").unwrap_or(&line);
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        if line == b"*" {
            return Ok(Response::Cancel);
        }
        Ok(b64()
            .decode(line)
            .map_or(Response::BadBase64, Response::Data))
    }

    /// The client broke off the exchange (`*`, bad base64, long line or a
    /// non-empty answer to the final 334).
    async fn auth_aborted(&mut self, how: Response) -> Result<(), SessionError> {
        let reply = match how {
            // RFC 4954 §4.
            Response::Cancel => Reply::new(
                Code::PARAM_SYNTAX_ERROR,
                Esc::OTHER_PERM,
                "authentication cancelled",
            ),
            Response::TooLong => Reply::new(
                Code::SYNTAX_ERROR,
                Esc::AUTH_LINE_TOO_LONG,
                "authentication line too long",
            ),
            Response::BadBase64 => {
                Reply::new(Code::PARAM_SYNTAX_ERROR, Esc::SYNTAX, "invalid base64")
            }
            Response::Data(_) => Reply::new(
                Code::PARAM_SYNTAX_ERROR,
                Esc::SYNTAX,
                "expected an empty response",
            ),
        };
        self.error(reply).await
    }

    async fn auth_failed(&mut self, e: SaslError, m: Mechanism) -> Result<(), SessionError> {
        tracing::info!(remote = %self.peer.remote, mechanism = m.name(), error = %e, "authentication failed");
        let reply = match e {
            SaslError::Failed | SaslError::ChannelBinding => {
                self.backend.auth_record(self.peer.remote.ip(), false).await;
                // As mox: a delay after every failure slows guessing.
                self.delay(self.cfg.limits.auth_fail_delay).await?;
                Reply::new(
                    Code::AUTH_FAILED,
                    Esc::BAD_CREDENTIALS,
                    "authentication failed",
                )
            }
            SaslError::Malformed(m) => Reply::new(
                Code::PARAM_SYNTAX_ERROR,
                Esc::SYNTAX,
                format!("malformed response: {m}"),
            ),
            SaslError::Aborted => Reply::new(
                Code::PARAM_SYNTAX_ERROR,
                Esc::OTHER_PERM,
                "authentication cancelled",
            ),
            SaslError::Temporary(m) => {
                tracing::warn!(error = %m, "temporary authentication failure");
                self.reply(Reply::new(
                    Code::AUTH_TEMP_FAILURE,
                    Esc::SECURITY_TEMP,
                    "temporary authentication failure",
                ));
                return Ok(());
            }
        };
        self.error(reply).await
    }
}
