//! GETQUOTA, GETQUOTAROOT and SETQUOTA (RFC 9208 §4). Authenticated and
//! selected states. One quota root `""` per account with the STORAGE
//! resource in units of 1024 octets, if the account has a limit; the
//! limit comes from the configuration, so SETQUOTA is refused.

use tokio::io::{AsyncRead, AsyncWrite};

use crate::imap::backend::{Backend, Quota};
use crate::imap::parse::Mailbox;
use crate::imap::response::{Code, Data};
use crate::imap::session::state::{State, wrong_state};
use crate::imap::session::{CmdError, CmdResult, Done, Session};

/// RFC 9208 §5.1: STORAGE is counted in units of 1024 octets.
const STORAGE_UNIT: u64 = 1024;

fn quota_data(q: Quota) -> Option<Data> {
    let limit = q.limit?;
    Some(Data::Quota {
        root: String::new(),
        resources: vec![(
            "STORAGE".into(),
            q.used.div_ceil(STORAGE_UNIT),
            limit / STORAGE_UNIT,
        )],
    })
}

impl<S, B> Session<S, B>
where
    S: AsyncRead + AsyncWrite + Unpin + Send,
    B: Backend,
{
    pub(crate) async fn cmd_getquotaroot(
        &mut self,
        state: &mut State,
        mailbox: &Mailbox,
    ) -> CmdResult {
        let Some(authed) = state.authed() else {
            return Err(wrong_state(state, "GETQUOTAROOT"));
        };
        let account = authed.account.clone();
        let info = self.backend.mailbox(&account, mailbox.as_str()).await?;
        let quota = self.backend.quota(&account).await?;
        let data = quota_data(quota);
        let roots = if data.is_some() {
            vec![String::new()]
        } else {
            Vec::new()
        };
        self.send_data(Data::QuotaRoot {
            mailbox: info.name,
            roots,
        });
        if let Some(d) = data {
            self.send_data(d);
        }
        Ok(Done::ok("GETQUOTAROOT completed"))
    }

    pub(crate) async fn cmd_getquota(&mut self, state: &mut State, root: &str) -> CmdResult {
        let Some(authed) = state.authed() else {
            return Err(wrong_state(state, "GETQUOTA"));
        };
        let quota = self.backend.quota(&authed.account).await?;
        match quota_data(quota) {
            Some(d) if root.is_empty() => {
                self.send_data(d);
                Ok(Done::ok("GETQUOTA completed"))
            }
            _ => Err(CmdError::no_code(Code::NonExistent, "no such quota root")),
        }
    }

    pub(crate) fn cmd_setquota(&mut self, state: &mut State) -> CmdResult {
        if !state.is_authenticated() {
            return Err(wrong_state(state, "SETQUOTA"));
        }
        Err(CmdError::no_code(
            Code::NoPerm,
            "quota limits are set in the configuration",
        ))
    }
}
