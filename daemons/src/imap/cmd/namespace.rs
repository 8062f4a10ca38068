//! NAMESPACE (RFC 2342, RFC 9051 §6.3.10). Authenticated and selected
//! states. One personal namespace with `/` as separator.

use tokio::io::{AsyncRead, AsyncWrite};

use crate::imap::backend::Backend;
use crate::imap::response::Data;
use crate::imap::session::state::{State, wrong_state};
use crate::imap::session::{CmdResult, Done, Session};

impl<S, B> Session<S, B>
where
    S: AsyncRead + AsyncWrite + Unpin + Send,
    B: Backend,
{
    pub(crate) fn cmd_namespace(&mut self, state: &mut State) -> CmdResult {
        if !state.is_authenticated() {
            return Err(wrong_state(state, "NAMESPACE"));
        }
        self.send_data(Data::Namespace);
        Ok(Done::ok("NAMESPACE completed"))
    }
}
