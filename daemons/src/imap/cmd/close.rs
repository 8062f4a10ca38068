//! CLOSE (RFC 9051 §6.4.2). Selected state: messages with \Deleted are
//! expunged without untagged EXPUNGE responses (unless the mailbox is
//! read-only), then back to the authenticated state.

use tokio::io::{AsyncRead, AsyncWrite};

use crate::imap::backend::Backend;
use crate::imap::session::state::{State, transition, wrong_state};
use crate::imap::session::{CmdResult, Done, Session};

impl<S, B> Session<S, B>
where
    S: AsyncRead + AsyncWrite + Unpin + Send,
    B: Backend,
{
    pub(crate) async fn cmd_close(&mut self, state: &mut State) -> CmdResult {
        let Some((authed, sel)) = state.selected() else {
            return Err(wrong_state(state, "CLOSE"));
        };
        if !sel.read_only {
            self.backend.expunge(&authed.account, sel.id, None).await?;
        }
        transition(state, State::deselect);
        Ok(Done::ok("CLOSE completed"))
    }
}
