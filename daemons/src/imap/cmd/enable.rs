//! ENABLE (RFC 5161, RFC 9051 §6.3.1). Authenticated state only (before
//! any SELECT). CONDSTORE, QRESYNC (RFC 7162 §3.2.3: implies CONDSTORE),
//! UTF8=ACCEPT (RFC 6855 §3) and IMAP4rev2; other names are ignored.

use tokio::io::{AsyncRead, AsyncWrite};

use crate::imap::backend::Backend;
use crate::imap::capability::Enableable;
use crate::imap::response::Data;
use crate::imap::session::state::{State, wrong_state};
use crate::imap::session::{CmdResult, Done, Session};

impl<S, B> Session<S, B>
where
    S: AsyncRead + AsyncWrite + Unpin + Send,
    B: Backend,
{
    pub(crate) fn cmd_enable(&mut self, state: &mut State, names: &[String]) -> CmdResult {
        let State::Authenticated(authed) = state else {
            return Err(wrong_state(state, "ENABLE"));
        };
        let mut list: Vec<String> = Vec::new();
        for e in names.iter().filter_map(|n| Enableable::from_name(n)) {
            let e_ = &mut authed.enabled;
            match e {
                Enableable::CondStore => e_.condstore = true,
                Enableable::QResync => {
                    e_.qresync = true;
                    e_.condstore = true;
                }
                Enableable::Utf8Accept => e_.utf8 = true,
                Enableable::Imap4rev2 => e_.rev2 = true,
            }
            if !list.iter().any(|x| x == e.name()) {
                list.push(e.name().to_string());
            }
        }
        if authed.enabled.utf8 || authed.enabled.rev2 {
            self.utf8 = true;
        }
        self.send_data(Data::Enabled(list));
        Ok(Done::ok("ENABLE completed"))
    }
}
