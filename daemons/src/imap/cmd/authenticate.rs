//! AUTHENTICATE (RFC 9051 §6.2.2) with SASL-IR (RFC 4959). Not
//! authenticated state only. The mechanisms live in `crate::sasl`; this
//! file frames them: `+ base64` challenges, base64 lines back, `*` to
//! cancel (tagged BAD), and SCRAM's final message as one more challenge
//! answered by an empty line.

use base64::Engine as _;
use tokio::io::{AsyncRead, AsyncWrite};

use crate::imap::backend::Backend;
use crate::imap::response::{Code, Response};
use crate::imap::session::state::{State, wrong_state};
use crate::imap::session::{CmdError, CmdResult, Session};
use crate::sasl::{Exchange, Mechanism, Step};

fn b64() -> base64::engine::GeneralPurpose {
    base64::engine::general_purpose::STANDARD
}

impl<S, B> Session<S, B>
where
    S: AsyncRead + AsyncWrite + Unpin + Send,
    B: Backend,
{
    pub(crate) async fn cmd_authenticate(
        &mut self,
        state: &mut State,
        tag: &str,
        mechanism: &str,
        initial: Option<Vec<u8>>,
    ) -> CmdResult {
        if !matches!(state, State::NotAuthenticated) {
            return Err(wrong_state(state, "AUTHENTICATE"));
        }
        let Some(m) = Mechanism::from_name(mechanism) else {
            return Err(CmdError::no_code(Code::Cannot, "mechanism not supported"));
        };
        if !self.mechanism_offered(m) {
            if matches!(m, Mechanism::Plain | Mechanism::Login) && !self.plaintext_allowed() {
                return Err(CmdError::no_code(
                    Code::PrivacyRequired,
                    "plain-text mechanisms need TLS",
                ));
            }
            return Err(CmdError::no_code(Code::Cannot, "mechanism not supported"));
        }
        self.auth_gate().await?;
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
                    self.send(&Response::Challenge(c));
                    let data = match self.sasl_response().await {
                        Ok(d) => d,
                        Err(e) => {
                            let _ = ex.abort();
                            return Err(e);
                        }
                    };
                    step = ex.step(&data, &*self.backend).await;
                }
                Ok(Step::Success {
                    account,
                    server_final,
                }) => {
                    if let Some(f) = server_final {
                        // RFC 9051 §6.2.2: additional data with success
                        // goes in a continuation; the client answers with
                        // an empty line.
                        self.send(&Response::Challenge(f));
                        let data = self.sasl_response().await?;
                        if !data.is_empty() {
                            return Err(CmdError::bad("expected an empty response"));
                        }
                    }
                    return self.logged_in(state, account, "AUTHENTICATE").await;
                }
                Err(e) => return self.auth_failed(tag, e, "AUTHENTICATE").await,
            }
        }
    }

    /// One client line of the exchange, base64-decoded. `*` cancels.
    async fn sasl_response(&mut self) -> Result<Vec<u8>, CmdError> {
        let l = &self.cfg.limits;
        let line = match self
            .io
            .read_line(l.max_auth_line, l.literal_read_timeout)
            .await?
        {
            crate::imap::session::Line::Line(l) => l,
            crate::imap::session::Line::TooLong { .. } => {
                return Err(CmdError::bad("authentication line too long"));
            }
        };
        let line = line.strip_suffix(b"\n").unwrap_or(&line);
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        if line == b"*" {
            // RFC 9051 §6.2.2: a cancelled exchange gets a tagged BAD.
            return Err(CmdError::bad("authentication cancelled"));
        }
        b64()
            .decode(line)
            .map_err(|_| CmdError::bad("invalid base64 in authentication response"))
    }
}
