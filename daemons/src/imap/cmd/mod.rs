//! One file per command (RFC 9051 §6 and the extensions), each opening
//! with its RFC section and the states it is allowed in. This file holds
//! the one command → handler match; handlers check their state and
//! return a [`CmdResult`] that `Session::finish` turns into the tagged
//! response.

mod append;
mod authenticate;
mod capability;
mod check;
mod close;
mod compress;
mod copy;
mod create;
mod delete;
mod enable;
mod expunge;
mod fetch;
mod id;
mod idle;
mod list;
mod login;
mod logout;
mod lsub;
mod r#move;
mod namespace;
mod noop;
mod quota;
mod rename;
mod search;
mod select;
mod sort;
mod starttls;
mod status;
mod store;
mod subscribe;
mod thread;
mod unselect;

use tokio::io::{AsyncRead, AsyncWrite};

use crate::imap::backend::Backend;
use crate::imap::parse::{Command, CommandBody};
use crate::imap::session::state::State;
use crate::imap::session::{CmdResult, Session};

impl<S, B> Session<S, B>
where
    S: AsyncRead + AsyncWrite + Unpin + Send,
    B: Backend,
{
    /// The one command → handler match.
    pub(crate) async fn dispatch(&mut self, state: &mut State, cmd: Command) -> CmdResult {
        let Command { tag, body } = cmd;
        use CommandBody as C;
        match body {
            C::Capability => self.cmd_capability(state),
            C::Noop => self.cmd_noop(),
            C::Logout => self.cmd_logout(state),
            C::Id(params) => self.cmd_id(params),
            C::StartTls => self.cmd_starttls(state, &tag).await,
            C::Authenticate { mechanism, initial } => {
                self.cmd_authenticate(state, &tag, &mechanism, initial)
                    .await
            }
            C::Login { user, password } => self.cmd_login(state, &tag, &user, &password).await,
            C::Enable(names) => self.cmd_enable(state, &names),
            C::Select { mailbox, params } => self.cmd_select(state, &mailbox, &params, false).await,
            C::Examine { mailbox, params } => self.cmd_select(state, &mailbox, &params, true).await,
            C::Create {
                mailbox,
                special_use,
            } => self.cmd_create(state, &mailbox, &special_use).await,
            C::Delete(mailbox) => self.cmd_delete(state, &mailbox).await,
            C::Rename { from, to } => self.cmd_rename(state, &from, &to).await,
            C::Subscribe(mailbox) => self.cmd_subscribe(state, &mailbox, true).await,
            C::Unsubscribe(mailbox) => self.cmd_subscribe(state, &mailbox, false).await,
            C::List(l) => self.cmd_list(state, &l).await,
            C::Lsub { reference, pattern } => self.cmd_lsub(state, &reference, &pattern).await,
            C::Namespace => self.cmd_namespace(state),
            C::Status { mailbox, items } => self.cmd_status(state, &mailbox, &items).await,
            C::Append { mailbox, messages } => self.cmd_append(state, &mailbox, messages).await,
            C::Idle => self.cmd_idle(state).await,
            C::GetQuota(root) => self.cmd_getquota(state, &root).await,
            C::GetQuotaRoot(mailbox) => self.cmd_getquotaroot(state, &mailbox).await,
            C::SetQuota { .. } => self.cmd_setquota(state),
            C::Compress(mechanism) => self.cmd_compress(state, &tag, &mechanism).await,
            C::Check => self.cmd_check(state),
            C::Close => self.cmd_close(state).await,
            C::Unselect => self.cmd_unselect(state),
            C::Expunge => self.cmd_expunge(state, None).await,
            C::UidExpunge(set) => self.cmd_expunge(state, Some(&set)).await,
            C::Search { uid, program } => self.cmd_search(state, &tag, uid, &program).await,
            C::Fetch {
                uid,
                set,
                attrs,
                modifiers,
            } => self.cmd_fetch(state, uid, &set, &attrs, modifiers).await,
            C::Store { uid, set, action } => self.cmd_store(state, uid, &set, &action).await,
            C::Copy { uid, set, mailbox } => self.cmd_copy(state, uid, &set, &mailbox).await,
            C::Move { uid, set, mailbox } => self.cmd_move(state, uid, &set, &mailbox).await,
            C::Sort {
                uid,
                criteria,
                charset,
                key,
            } => self.cmd_sort(state, uid, &criteria, &charset, &key).await,
            C::Thread {
                uid,
                algorithm,
                charset,
                key,
            } => self.cmd_thread(state, uid, algorithm, &charset, &key).await,
        }
    }
}
