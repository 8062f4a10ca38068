//! SUBSCRIBE and UNSUBSCRIBE (RFC 9051 §6.3.7, §6.3.8). Authenticated and
//! selected states. Subscriptions may name mailboxes that do not exist.

use tokio::io::{AsyncRead, AsyncWrite};

use crate::imap::backend::Backend;
use crate::imap::parse::Mailbox;
use crate::imap::session::state::{State, wrong_state};
use crate::imap::session::{CmdResult, Done, Session};

impl<S, B> Session<S, B>
where
    S: AsyncRead + AsyncWrite + Unpin + Send,
    B: Backend,
{
    pub(crate) async fn cmd_subscribe(
        &mut self,
        state: &mut State,
        mailbox: &Mailbox,
        subscribe: bool,
    ) -> CmdResult {
        let name = if subscribe {
            "SUBSCRIBE"
        } else {
            "UNSUBSCRIBE"
        };
        let Some(authed) = state.authed() else {
            return Err(wrong_state(state, name));
        };
        self.backend
            .set_subscribed(&authed.account, mailbox.as_str(), subscribe)
            .await?;
        Ok(Done::ok(format!("{name} completed")))
    }
}
