//! STARTTLS (RFC 9051 §6.2.1). Not authenticated state only. The tagged
//! OK goes out before the handshake; everything the client sent after
//! the command in plain text is discarded (threats T1b), and the client
//! must ask for capabilities again.

use tokio::io::{AsyncRead, AsyncWrite};

use crate::imap::backend::Backend;
use crate::imap::response::{Response, Status};
use crate::imap::session::state::{State, wrong_state};
use crate::imap::session::{CmdError, CmdResult, Done, Session};

impl<S, B> Session<S, B>
where
    S: AsyncRead + AsyncWrite + Unpin + Send,
    B: Backend,
{
    pub(crate) async fn cmd_starttls(&mut self, state: &State, tag: &str) -> CmdResult {
        if !matches!(state, State::NotAuthenticated) {
            return Err(wrong_state(state, "STARTTLS"));
        }
        let Some(tls_cfg) = self.cfg.tls.clone() else {
            return Err(CmdError::bad("STARTTLS not available"));
        };
        if self.tls.is_some() {
            return Err(CmdError::bad("TLS already active"));
        }
        self.send(&Response::tagged(
            tag,
            Status::Ok,
            None,
            "begin TLS negotiation now",
        ));
        let discarded = self
            .io
            .start_tls(&tls_cfg.acceptor, self.cfg.limits.tls_handshake_timeout)
            .await?;
        if discarded > 0 {
            tracing::info!(remote = %self.peer.remote, discarded, "plaintext sent after STARTTLS discarded");
        }
        self.tls = self.tls_state(tls_cfg.server_end_point);
        Ok(Done::already_sent())
    }
}
