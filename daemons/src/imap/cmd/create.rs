//! CREATE (RFC 9051 §6.3.4) with CREATE-SPECIAL-USE (RFC 6154 §3).
//! Authenticated and selected states. A trailing separator only says a
//! hierarchy is intended; missing parents are created too.

use tokio::io::{AsyncRead, AsyncWrite};

use crate::imap::backend::Backend;
use crate::imap::parse::{Mailbox, SEPARATOR, SpecialUse};
use crate::imap::response::Code;
use crate::imap::session::state::{State, wrong_state};
use crate::imap::session::{CmdError, CmdResult, Done, Session};

impl<S, B> Session<S, B>
where
    S: AsyncRead + AsyncWrite + Unpin + Send,
    B: Backend,
{
    pub(crate) async fn cmd_create(
        &mut self,
        state: &mut State,
        mailbox: &Mailbox,
        special_use: &[SpecialUse],
    ) -> CmdResult {
        let Some(authed) = state.authed() else {
            return Err(wrong_state(state, "CREATE"));
        };
        let name = mailbox
            .as_str()
            .strip_suffix(SEPARATOR)
            .unwrap_or(mailbox.as_str());
        let use_ = match special_use {
            [] => None,
            // \All and \Flagged are virtual mailboxes moxd does not have.
            [
                u @ (SpecialUse::Archive
                | SpecialUse::Drafts
                | SpecialUse::Junk
                | SpecialUse::Sent
                | SpecialUse::Trash),
            ] => Some(*u),
            _ => {
                return Err(CmdError::no_code(
                    Code::UseAttr,
                    "only one of \\Archive \\Drafts \\Junk \\Sent \\Trash",
                ));
            }
        };
        if Mailbox::new(name).is_inbox() {
            return Err(CmdError::no_code(Code::AlreadyExists, "Inbox exists"));
        }
        self.backend
            .create_mailbox(&authed.account, name, use_)
            .await?;
        Ok(Done::ok("CREATE completed"))
    }
}
