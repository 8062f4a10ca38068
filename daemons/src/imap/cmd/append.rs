//! APPEND (RFC 9051 §6.3.12) with MULTIAPPEND (RFC 3502), UIDPLUS
//! APPENDUID (RFC 4315 §3) and BINARY literals (RFC 3516 §4.4; binary
//! parts of such a message are stored base64-encoded, §4.3).
//! Authenticated and selected states. The literal size was checked
//! against APPENDLIMIT before it was read; the store checks the quota.

use tokio::io::{AsyncRead, AsyncWrite};

use crate::imap::backend::{Backend, BackendError, NewMessage};
use crate::imap::parse::{AppendMessage, Flag, Mailbox};
use crate::imap::parsed::convert;
use crate::imap::response::{Code, NumSet};
use crate::imap::session::state::{State, wrong_state};
use crate::imap::session::{CmdError, CmdResult, Done, Session};

impl<S, B> Session<S, B>
where
    S: AsyncRead + AsyncWrite + Unpin + Send,
    B: Backend,
{
    pub(crate) async fn cmd_append(
        &mut self,
        state: &mut State,
        mailbox: &Mailbox,
        messages: Vec<AppendMessage>,
    ) -> CmdResult {
        let Some(authed) = state.authed() else {
            return Err(wrong_state(state, "APPEND"));
        };
        let new: Vec<NewMessage> = messages
            .into_iter()
            .map(|m| NewMessage {
                // \Recent cannot be set by a client (RFC 9051 §2.3.2).
                flags: m
                    .flags
                    .iter()
                    .filter(|f| **f != Flag::Recent)
                    .map(Flag::as_wire)
                    .collect(),
                internal_date: m.date.map(|d| d.unix),
                // RFC 3516 §4.3: the content-transfer-encoding may change
                // as long as nothing is lost; BODY[] must not carry binary
                // data (RFC 9051 §6.4.5).
                data: if m.binary {
                    convert::binary_to_base64(&m.data).unwrap_or(m.data)
                } else {
                    m.data
                },
            })
            .collect();
        match self
            .backend
            .append(&authed.account, mailbox.as_str(), new)
            .await
        {
            Ok(a) => Ok(Done::code(
                Code::AppendUid {
                    uidvalidity: a.uidvalidity,
                    uids: NumSet(a.uids),
                },
                "APPEND completed",
            )),
            // RFC 9051 §6.3.12: TRYCREATE when the mailbox does not exist.
            Err(BackendError::NotFound(m)) => Err(CmdError::no_code(Code::TryCreate, m)),
            Err(e) => Err(e.into()),
        }
    }
}
