//! IDLE (RFC 2177, RFC 9051 §6.3.13). Authenticated and selected states.
//! Changes of other sessions are sent as soon as the store reports them;
//! `DONE` ends the command; the autologout timer bounds it.

use tokio::io::{AsyncRead, AsyncWrite};
use tokio::sync::broadcast::error::RecvError;
use tokio::time::Instant;

use crate::imap::backend::Backend;
use crate::imap::response::Response;
use crate::imap::session::state::{State, wrong_state};
use crate::imap::session::{CmdError, CmdResult, Done, Session, SessionError};

/// Octets without a line end a client may send while idling.
const MAX_IDLE_INPUT: usize = 1024;

enum Wake {
    Input,
    Event(Result<ipc::store::ChangeEvent, RecvError>),
    Shutdown,
}

impl<S, B> Session<S, B>
where
    S: AsyncRead + AsyncWrite + Unpin + Send,
    B: Backend,
{
    pub(crate) async fn cmd_idle(&mut self, state: &mut State) -> CmdResult {
        if !state.is_authenticated() {
            return Err(wrong_state(state, "IDLE"));
        }
        self.send(&Response::Continue("idling".into()));
        self.io.flush().await?;
        let deadline = Instant::now() + self.cfg.limits.idle_timeout;
        let shutdown = self.shutdown.clone();
        loop {
            if let Some(line) = self.io.buffered_line(MAX_IDLE_INPUT) {
                let l = line.strip_suffix(b"\n").unwrap_or(&line);
                let l = l.strip_suffix(b"\r").unwrap_or(l);
                if l.eq_ignore_ascii_case(b"DONE") {
                    return Ok(Done::ok("IDLE terminated"));
                }
                return Err(CmdError::bad("expected DONE"));
            }
            if self.io.has_buffered() && self.io.buffered_len() > MAX_IDLE_INPUT {
                return Err(CmdError::Fatal(SessionError::Violation(
                    "garbage during IDLE".into(),
                )));
            }
            let Some(authed) = state.authed() else {
                return Err(wrong_state(state, "IDLE"));
            };
            let wake = tokio::select! {
                r = self.io.fill(deadline) => {
                    r?;
                    Wake::Input
                }
                ev = authed.changes.recv() => Wake::Event(ev),
                () = shutdown.cancelled() => Wake::Shutdown,
            };
            match wake {
                Wake::Input => {}
                Wake::Shutdown => return Err(CmdError::Fatal(SessionError::Shutdown)),
                Wake::Event(Err(RecvError::Closed)) => {
                    return Err(CmdError::Fatal(SessionError::StoreGone));
                }
                Wake::Event(ev) => {
                    let (events, lagged) = match ev {
                        Ok(e) => (vec![e], false),
                        Err(_) => (Vec::new(), true),
                    };
                    self.take_in(state, events, lagged, true).await?;
                    self.io.flush().await?;
                }
            }
        }
    }
}
