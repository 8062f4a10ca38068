//! CAPABILITY (RFC 9051 §6.1.1). Any state.

use tokio::io::{AsyncRead, AsyncWrite};

use crate::imap::backend::Backend;
use crate::imap::response::Data;
use crate::imap::session::state::State;
use crate::imap::session::{CmdResult, Done, Session};

impl<S, B> Session<S, B>
where
    S: AsyncRead + AsyncWrite + Unpin + Send,
    B: Backend,
{
    pub(crate) fn cmd_capability(&mut self, state: &State) -> CmdResult {
        let caps = self.capabilities(state);
        self.send_data(Data::Capability(caps));
        Ok(Done::ok("CAPABILITY completed"))
    }
}
