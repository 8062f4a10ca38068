//! COMPRESS (RFC 4978 §3). Authenticated and selected states. The tagged
//! OK is the last uncompressed octet; after it both directions use raw
//! DEFLATE. A second COMPRESS is `NO [COMPRESSIONACTIVE]`.

use tokio::io::{AsyncRead, AsyncWrite};

use crate::imap::backend::Backend;
use crate::imap::response::{Code, Response, Status};
use crate::imap::session::state::{State, wrong_state};
use crate::imap::session::{CmdError, CmdResult, Done, Session};

impl<S, B> Session<S, B>
where
    S: AsyncRead + AsyncWrite + Unpin + Send,
    B: Backend,
{
    pub(crate) async fn cmd_compress(
        &mut self,
        state: &mut State,
        tag: &str,
        mechanism: &str,
    ) -> CmdResult {
        if !state.is_authenticated() {
            return Err(wrong_state(state, "COMPRESS"));
        }
        if !self.cfg.compress {
            return Err(CmdError::no("COMPRESS is not available"));
        }
        if !mechanism.eq_ignore_ascii_case("DEFLATE") {
            return Err(CmdError::bad(format!("unknown compression {mechanism}")));
        }
        if self.io.compressing() {
            return Err(CmdError::no_code(
                Code::CompressionActive,
                "compression already active",
            ));
        }
        self.send(&Response::tagged(tag, Status::Ok, None, "DEFLATE active"));
        self.io.flush().await?;
        self.io.start_deflate();
        Ok(Done::already_sent())
    }
}
