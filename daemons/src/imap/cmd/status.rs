//! STATUS (RFC 9051 §6.3.11) with STATUS=SIZE (RFC 8438), HIGHESTMODSEQ
//! (RFC 7162 §3.1.2.3, enables CONDSTORE) and APPENDLIMIT (RFC 7889).
//! Authenticated and selected states.

use tokio::io::{AsyncRead, AsyncWrite};

use crate::imap::backend::{Backend, MailboxInfo};
use crate::imap::parse::{Mailbox, StatusItem};
use crate::imap::response::Data;
use crate::imap::session::state::{State, wrong_state};
use crate::imap::session::{CmdResult, Done, Session};

/// The STATUS values of a mailbox.
pub(crate) fn status_values(
    info: &MailboxInfo,
    items: &[StatusItem],
    append_limit: u64,
) -> Vec<(StatusItem, u64)> {
    items
        .iter()
        .map(|&i| {
            let v = match i {
                StatusItem::Messages => u64::from(info.messages),
                // RFC 3501 §6.3.10: the messages no session claimed yet
                // (session/recent.rs), counted without claiming them.
                StatusItem::Recent => u64::from(info.recent),
                StatusItem::UidNext => u64::from(info.uidnext),
                StatusItem::UidValidity => u64::from(info.uidvalidity),
                StatusItem::Unseen => u64::from(info.unseen),
                StatusItem::Deleted => u64::from(info.deleted),
                StatusItem::Size => info.size,
                StatusItem::HighestModSeq => info.highest_modseq.max(1),
                StatusItem::AppendLimit => append_limit,
            };
            (i, v)
        })
        .collect()
}

impl<S, B> Session<S, B>
where
    S: AsyncRead + AsyncWrite + Unpin + Send,
    B: Backend,
{
    pub(crate) async fn cmd_status(
        &mut self,
        state: &mut State,
        mailbox: &Mailbox,
        items: &[StatusItem],
    ) -> CmdResult {
        let Some(authed) = state.authed() else {
            return Err(wrong_state(state, "STATUS"));
        };
        if items.contains(&StatusItem::HighestModSeq) {
            authed.enabled.condstore = true;
        }
        let info = self
            .backend
            .mailbox(&authed.account, mailbox.as_str())
            .await?;
        let values = status_values(&info, items, self.cfg.limits.max_message_size);
        self.send_data(Data::Status {
            mailbox: info.name,
            items: values,
        });
        Ok(Done::ok("STATUS completed"))
    }
}
