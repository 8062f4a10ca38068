//! LOGOUT (RFC 9051 §6.1.3). Any state: `* BYE`, the tagged OK, close.

use tokio::io::{AsyncRead, AsyncWrite};

use crate::imap::backend::Backend;
use crate::imap::response::{Response, Status};
use crate::imap::session::state::{State, transition};
use crate::imap::session::{CmdResult, Done, Session};

impl<S, B> Session<S, B>
where
    S: AsyncRead + AsyncWrite + Unpin + Send,
    B: Backend,
{
    pub(crate) fn cmd_logout(&mut self, state: &mut State) -> CmdResult {
        self.send(&Response::untagged(Status::Bye, None, "logging out"));
        transition(state, |_| State::Logout);
        Ok(Done::ok("LOGOUT completed"))
    }
}
