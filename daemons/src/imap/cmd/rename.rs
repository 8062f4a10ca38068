//! RENAME (RFC 9051 §6.3.6). Authenticated and selected states. Children
//! move along; renaming Inbox is not supported (the store refuses).

use tokio::io::{AsyncRead, AsyncWrite};

use crate::imap::backend::Backend;
use crate::imap::parse::{Mailbox, SEPARATOR};
use crate::imap::response::Code;
use crate::imap::session::state::{State, wrong_state};
use crate::imap::session::{CmdError, CmdResult, Done, Session};

impl<S, B> Session<S, B>
where
    S: AsyncRead + AsyncWrite + Unpin + Send,
    B: Backend,
{
    pub(crate) async fn cmd_rename(
        &mut self,
        state: &mut State,
        from: &Mailbox,
        to: &Mailbox,
    ) -> CmdResult {
        let Some(authed) = state.authed() else {
            return Err(wrong_state(state, "RENAME"));
        };
        if from.is_inbox() {
            return Err(CmdError::no_code(
                Code::Cannot,
                "renaming Inbox is not supported",
            ));
        }
        if to.is_inbox() {
            return Err(CmdError::no_code(Code::AlreadyExists, "Inbox exists"));
        }
        let to = to.as_str().strip_suffix(SEPARATOR).unwrap_or(to.as_str());
        self.backend
            .rename_mailbox(&authed.account, from.as_str(), to)
            .await?;
        Ok(Done::ok("RENAME completed"))
    }
}
