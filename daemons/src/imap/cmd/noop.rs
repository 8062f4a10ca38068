//! NOOP (RFC 9051 §6.1.2). Any state. Changes of other sessions are told
//! by the command loop around every command, so NOOP has nothing to add.

use tokio::io::{AsyncRead, AsyncWrite};

use crate::imap::backend::Backend;
use crate::imap::session::{CmdResult, Done, Session};

impl<S, B> Session<S, B>
where
    S: AsyncRead + AsyncWrite + Unpin + Send,
    B: Backend,
{
    pub(crate) fn cmd_noop(&mut self) -> CmdResult {
        Ok(Done::ok("NOOP completed"))
    }
}
