//! CHECK (RFC 3501 §6.4.1; a NOOP in RFC 9051 §6.4.1). Selected state.
//! Every change is durable when the store answers, so there is nothing
//! to checkpoint.

use tokio::io::{AsyncRead, AsyncWrite};

use crate::imap::backend::Backend;
use crate::imap::session::state::{State, wrong_state};
use crate::imap::session::{CmdResult, Done, Session};

impl<S, B> Session<S, B>
where
    S: AsyncRead + AsyncWrite + Unpin + Send,
    B: Backend,
{
    pub(crate) fn cmd_check(&mut self, state: &mut State) -> CmdResult {
        if state.selected().is_none() {
            return Err(wrong_state(state, "CHECK"));
        }
        Ok(Done::ok("CHECK completed"))
    }
}
