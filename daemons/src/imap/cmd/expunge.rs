//! EXPUNGE (RFC 9051 §6.4.3) and UID EXPUNGE (RFC 4315 §2.1). Selected
//! state, read-write only. Also how this session tells messages it
//! removed itself (EXPUNGE, MOVE): EXPUNGE by sequence number, or
//! VANISHED with QRESYNC (RFC 7162 §3.2.10).

use tokio::io::{AsyncRead, AsyncWrite};

use crate::imap::backend::Backend;
use crate::imap::parse::SequenceSet;
use crate::imap::response::{Data, NumSet};
use crate::imap::session::state::{Enabled, State, wrong_state};
use crate::imap::session::view::Selected;
use crate::imap::session::{CmdError, CmdResult, Done, Session};

impl<S, B> Session<S, B>
where
    S: AsyncRead + AsyncWrite + Unpin + Send,
    B: Backend,
{
    pub(crate) async fn cmd_expunge(
        &mut self,
        state: &mut State,
        uid_set: Option<&SequenceSet>,
    ) -> CmdResult {
        let name = if uid_set.is_some() {
            "UID EXPUNGE"
        } else {
            "EXPUNGE"
        };
        let Some((authed, sel)) = state.selected() else {
            return Err(wrong_state(state, name));
        };
        if sel.read_only {
            return Err(CmdError::no("mailbox is read-only"));
        }
        let uids: Option<Vec<u32>> = match uid_set {
            Some(set) => Some(
                sel.resolve(set, true)?
                    .into_iter()
                    .map(|(_, u)| u)
                    .collect(),
            ),
            None => None,
        };
        if uids.as_ref().is_some_and(Vec::is_empty) {
            return Ok(Done::ok(format!("{name} completed")));
        }
        let gone = self
            .backend
            .expunge(&authed.account, sel.id, uids.as_deref())
            .await?;
        let enabled = authed.enabled;
        self.tell_expunged(sel, &gone, enabled);
        Ok(Done::ok(format!("{name} completed")))
    }

    /// Removes `uids` from the view and tells the client.
    pub(crate) fn tell_expunged(&mut self, sel: &mut Selected, uids: &[u32], enabled: Enabled) {
        let told: Vec<u32> = uids
            .iter()
            .copied()
            .filter(|u| sel.seq_of(*u).is_some())
            .collect();
        let seqs = sel.remove(uids);
        if enabled.qresync {
            if !told.is_empty() {
                self.send_data(Data::Vanished {
                    earlier: false,
                    uids: NumSet(told),
                });
            }
        } else {
            for s in seqs {
                self.send_data(Data::Expunge(s));
            }
        }
    }
}
