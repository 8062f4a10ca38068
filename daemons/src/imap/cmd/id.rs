//! ID (RFC 2971 §3.1). Any state. The client's values are logged; moxd
//! answers with its name only (no version, to tell attackers less).

use tokio::io::{AsyncRead, AsyncWrite};

use crate::imap::backend::Backend;
use crate::imap::response::Data;
use crate::imap::session::{CmdResult, Done, Session};

impl<S, B> Session<S, B>
where
    S: AsyncRead + AsyncWrite + Unpin + Send,
    B: Backend,
{
    pub(crate) fn cmd_id(&mut self, params: Option<Vec<(String, Option<String>)>>) -> CmdResult {
        if let Some(p) = &params {
            tracing::debug!(remote = %self.peer.remote, client = ?p, "imap client id");
        }
        self.send_data(Data::Id(vec![("name".into(), "moxd".into())]));
        Ok(Done::ok("ID completed"))
    }
}
