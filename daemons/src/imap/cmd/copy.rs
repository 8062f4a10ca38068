//! COPY and UID COPY (RFC 9051 §6.4.7) with COPYUID (RFC 4315 §3).
//! Selected state. A missing destination is `NO [TRYCREATE]`.

use tokio::io::{AsyncRead, AsyncWrite};

use crate::imap::backend::{Backend, BackendError, Copied};
use crate::imap::parse::{Mailbox, SequenceSet};
use crate::imap::response::{Code, NumSet};
use crate::imap::session::state::{State, wrong_state};
use crate::imap::session::{CmdError, CmdResult, Done, Session};

/// The COPYUID code of a copy (RFC 4315 §3); None when nothing was copied.
pub(crate) fn copyuid(c: &Copied) -> Option<Code> {
    if c.mapping.is_empty() {
        return None;
    }
    Some(Code::CopyUid {
        uidvalidity: c.uidvalidity,
        source: NumSet(c.mapping.iter().map(|(s, _)| *s).collect()),
        dest: NumSet(c.mapping.iter().map(|(_, d)| *d).collect()),
    })
}

/// A missing destination mailbox is a hint to create it.
pub(crate) fn target_error(e: BackendError) -> CmdError {
    match e {
        BackendError::NotFound(m) => CmdError::no_code(Code::TryCreate, m),
        e => e.into(),
    }
}

impl<S, B> Session<S, B>
where
    S: AsyncRead + AsyncWrite + Unpin + Send,
    B: Backend,
{
    pub(crate) async fn cmd_copy(
        &mut self,
        state: &mut State,
        uid: bool,
        set: &SequenceSet,
        mailbox: &Mailbox,
    ) -> CmdResult {
        let name = if uid { "UID COPY" } else { "COPY" };
        let Some((authed, sel)) = state.selected() else {
            return Err(wrong_state(state, name));
        };
        let uids: Vec<u32> = sel.resolve(set, uid)?.into_iter().map(|(_, u)| u).collect();
        if uids.is_empty() {
            return Ok(Done::ok(format!("{name} completed")));
        }
        let copied = self
            .backend
            .copy(&authed.account, sel.id, &uids, mailbox.as_str())
            .await
            .map_err(target_error)?;
        Ok(Done {
            code: copyuid(&copied),
            text: format!("{name} completed"),
            sent: false,
        })
    }
}
