//! STORE and UID STORE (RFC 9051 §6.4.6) with UNCHANGEDSINCE (RFC 7162
//! §3.1.3). Selected state, read-write only. One store request changes
//! all messages; each changed message gets a new modseq. With CONDSTORE
//! the new MODSEQ is sent even for .SILENT.

use tokio::io::{AsyncRead, AsyncWrite};

use crate::imap::backend::{Backend, FlagChange, FlagOp};
use crate::imap::parse::{SequenceSet, StoreAction, StoreOp};
use crate::imap::response::{Code, Data, FetchItem, NumSet};
use crate::imap::session::state::{State, wrong_state};
use crate::imap::session::{CmdError, CmdResult, Done, Session};

impl<S, B> Session<S, B>
where
    S: AsyncRead + AsyncWrite + Unpin + Send,
    B: Backend,
{
    pub(crate) async fn cmd_store(
        &mut self,
        state: &mut State,
        uid: bool,
        set: &SequenceSet,
        action: &StoreAction,
    ) -> CmdResult {
        let name = if uid { "UID STORE" } else { "STORE" };
        let Some((authed, sel)) = state.selected() else {
            return Err(wrong_state(state, name));
        };
        if sel.read_only {
            return Err(CmdError::no("mailbox is read-only"));
        }
        if action.unchanged_since.is_some() {
            authed.enabled.condstore = true;
        }
        let enabled = authed.enabled;
        let targets = sel.resolve(set, uid)?;
        if targets.is_empty() {
            return Ok(Done::ok(format!("{name} completed")));
        }
        let change = FlagChange {
            uids: targets.iter().map(|(_, u)| *u).collect(),
            op: match action.op {
                StoreOp::Add => FlagOp::Add,
                StoreOp::Remove => FlagOp::Remove,
                StoreOp::Replace => FlagOp::Replace,
            },
            flags: action.flags.iter().map(|f| f.as_wire()).collect(),
            unchanged_since: action.unchanged_since,
        };
        let outcome = self
            .backend
            .store_flags(&authed.account, sel.id, &change)
            .await?;
        for fs in &outcome.messages {
            sel.set_modseq(fs.uid, fs.modseq);
        }
        for fs in outcome.messages {
            let tell_modseq = enabled.condstore && fs.changed;
            if action.silent && !tell_modseq {
                continue;
            }
            let Some(seq) = sel.seq_of(fs.uid) else {
                continue;
            };
            let mut items = Vec::new();
            if uid {
                items.push(FetchItem::Uid(fs.uid));
            }
            if !action.silent {
                items.push(FetchItem::Flags(fs.flags));
            }
            if enabled.condstore {
                items.push(FetchItem::ModSeq(fs.modseq));
            }
            self.send_data(Data::Fetch { seq, items });
            self.io.maybe_flush().await?;
        }
        if !outcome.modified.is_empty() {
            // RFC 7162 §3.1.3: UIDs for UID STORE, else sequence numbers.
            let nums: Vec<u32> = if uid {
                outcome.modified
            } else {
                outcome
                    .modified
                    .iter()
                    .filter_map(|u| sel.seq_of(*u))
                    .collect()
            };
            return Ok(Done::code(
                Code::Modified(NumSet(nums)),
                "conditional STORE failed for some messages",
            ));
        }
        Ok(Done::ok(format!("{name} completed")))
    }
}
