//! DELETE (RFC 9051 §6.3.5). Authenticated and selected states. Inbox and
//! mailboxes with children cannot be deleted (the store refuses).

use tokio::io::{AsyncRead, AsyncWrite};

use crate::imap::backend::Backend;
use crate::imap::parse::Mailbox;
use crate::imap::response::Code;
use crate::imap::session::state::{State, wrong_state};
use crate::imap::session::{CmdError, CmdResult, Done, Session};

impl<S, B> Session<S, B>
where
    S: AsyncRead + AsyncWrite + Unpin + Send,
    B: Backend,
{
    pub(crate) async fn cmd_delete(&mut self, state: &mut State, mailbox: &Mailbox) -> CmdResult {
        let Some(authed) = state.authed() else {
            return Err(wrong_state(state, "DELETE"));
        };
        if mailbox.is_inbox() {
            return Err(CmdError::no_code(Code::Cannot, "Inbox cannot be deleted"));
        }
        self.backend
            .delete_mailbox(&authed.account, mailbox.as_str())
            .await?;
        Ok(Done::ok("DELETE completed"))
    }
}
