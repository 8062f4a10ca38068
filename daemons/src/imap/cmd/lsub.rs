//! LSUB (RFC 3501 §6.3.9; deprecated in RFC 9051 but still used by
//! IMAP4rev1 clients). Authenticated and selected states. A `%` that
//! stops above a subscribed name lists its unsubscribed parent as
//! `\Noselect`.

use std::collections::BTreeSet;

use tokio::io::{AsyncRead, AsyncWrite};

use super::list::{full_pattern, matches};
use crate::imap::backend::Backend;
use crate::imap::parse::SEPARATOR;
use crate::imap::response::{Data, ListEntry};
use crate::imap::session::state::{State, wrong_state};
use crate::imap::session::{CmdResult, Done, Session};

impl<S, B> Session<S, B>
where
    S: AsyncRead + AsyncWrite + Unpin + Send,
    B: Backend,
{
    pub(crate) async fn cmd_lsub(
        &mut self,
        state: &mut State,
        reference: &str,
        pattern: &str,
    ) -> CmdResult {
        let Some(authed) = state.authed() else {
            return Err(wrong_state(state, "LSUB"));
        };
        let account = authed.account.clone();
        let pattern = full_pattern(reference, pattern);
        let subscribed: BTreeSet<String> = self
            .backend
            .subscriptions(&account)
            .await?
            .into_iter()
            .collect();
        let mut out: Vec<(String, bool)> = Vec::new();
        for s in &subscribed {
            if matches(&pattern, s) {
                out.push((s.clone(), false));
                continue;
            }
            let mut p = s.as_str();
            while let Some((parent, _)) = p.rsplit_once(SEPARATOR) {
                if matches(&pattern, parent) && !subscribed.contains(parent) {
                    out.push((parent.to_string(), true));
                    break;
                }
                p = parent;
            }
        }
        out.sort();
        out.dedup();
        for (name, noselect) in out {
            let attrs = if noselect {
                vec!["\\Noselect".to_string()]
            } else {
                Vec::new()
            };
            self.send_data(Data::Lsub(ListEntry {
                attrs,
                name,
                childinfo_subscribed: false,
                old_name: None,
            }));
        }
        Ok(Done::ok("LSUB completed"))
    }
}
