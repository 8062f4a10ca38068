//! UNSELECT (RFC 3691, RFC 9051 §6.4.2 sibling). Selected state: back to
//! the authenticated state without expunging.

use tokio::io::{AsyncRead, AsyncWrite};

use crate::imap::backend::Backend;
use crate::imap::session::state::{State, transition, wrong_state};
use crate::imap::session::{CmdResult, Done, Session};

impl<S, B> Session<S, B>
where
    S: AsyncRead + AsyncWrite + Unpin + Send,
    B: Backend,
{
    pub(crate) fn cmd_unselect(&mut self, state: &mut State) -> CmdResult {
        if state.selected().is_none() {
            return Err(wrong_state(state, "UNSELECT"));
        }
        transition(state, State::deselect);
        Ok(Done::ok("UNSELECT completed"))
    }
}
