//! MOVE and UID MOVE (RFC 6851). Selected state, read-write only. The
//! store copies and expunges in one change; the client gets COPYUID in
//! an untagged OK, then the expunges, then the tagged OK (RFC 6851 §4.3).

use tokio::io::{AsyncRead, AsyncWrite};

use super::copy::{copyuid, target_error};
use crate::imap::backend::Backend;
use crate::imap::parse::{Mailbox, SequenceSet};
use crate::imap::response::{Response, Status};
use crate::imap::session::state::{State, wrong_state};
use crate::imap::session::{CmdError, CmdResult, Done, Session};

impl<S, B> Session<S, B>
where
    S: AsyncRead + AsyncWrite + Unpin + Send,
    B: Backend,
{
    pub(crate) async fn cmd_move(
        &mut self,
        state: &mut State,
        uid: bool,
        set: &SequenceSet,
        mailbox: &Mailbox,
    ) -> CmdResult {
        let name = if uid { "UID MOVE" } else { "MOVE" };
        let Some((authed, sel)) = state.selected() else {
            return Err(wrong_state(state, name));
        };
        if sel.read_only {
            return Err(CmdError::no("mailbox is read-only"));
        }
        let uids: Vec<u32> = sel.resolve(set, uid)?.into_iter().map(|(_, u)| u).collect();
        if uids.is_empty() {
            return Ok(Done::ok(format!("{name} completed")));
        }
        let moved = self
            .backend
            .move_messages(&authed.account, sel.id, &uids, mailbox.as_str())
            .await
            .map_err(target_error)?;
        if let Some(code) = copyuid(&moved) {
            self.send(&Response::untagged(Status::Ok, Some(code), "moved"));
        }
        let gone: Vec<u32> = moved.mapping.iter().map(|(s, _)| *s).collect();
        let enabled = authed.enabled;
        self.tell_expunged(sel, &gone, enabled);
        Ok(Done::ok(format!("{name} completed")))
    }
}
