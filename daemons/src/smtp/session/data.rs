//! DATA (RFC 5321 §4.1.1.4; after MAIL with at least one recipient) and
//! BDAT (RFC 3030 §2; after MAIL, repeated until LAST). The message text is
//! decoded into a memory file; delivery is in `deliver.rs`.

use std::io::Write;

use tokio::io::{AsyncRead, AsyncWrite};
use tokio::time::Instant;

use super::state::{Chunks, State};
use super::{Flow, Session, SessionError};
use crate::smtp::backend::Backend;
use crate::smtp::bdat::{Chunk, ChunkedBody};
use crate::smtp::data::{DataDecoder, DataOutcome, Progress};
use crate::smtp::inspect::Inspect;
use crate::smtp::params::Body;
use crate::smtp::reply::{Code, Esc, Reply};
use crate::smtp::spool::Spool;

impl<S, B> Session<S, B>
where
    S: AsyncRead + AsyncWrite + Unpin + Send,
    B: Backend,
{
    pub(super) async fn data(&mut self, state: State) -> Result<Flow, SessionError> {
        let (hello, tx) = match state {
            State::Mail(h, t) => (h, t),
            s @ (State::Fresh | State::Ready(_)) => {
                return self.data_refused(s, "send MAIL first").await;
            }
            s @ State::Chunking(..) => {
                return self.data_refused(s.reset(), "DATA after BDAT").await;
            }
        };
        if tx.recipients.is_empty() {
            // RFC 5321 §3.3.
            let reply = Reply::new(
                Code::TRANSACTION_FAILED,
                Esc::INVALID_COMMAND,
                "no valid recipients",
            );
            return self.refuse_data(State::Mail(hello, tx), reply, false).await;
        }
        if tx.params.body == Some(Body::BinaryMime) {
            // RFC 3030 §3: BINARYMIME only with BDAT.
            return self
                .data_refused(State::Mail(hello, tx), "BODY=BINARYMIME requires BDAT")
                .await;
        }
        let spool = match Spool::new() {
            Ok(s) => s,
            Err(e) => {
                tracing::warn!(error = %e, "cannot create message spool");
                let reply = Reply::new(
                    Code::LOCAL_ERROR,
                    Esc::SYSTEM_TEMP,
                    "temporary failure, try again later",
                );
                return self.refuse_data(State::Mail(hello, tx), reply, false).await;
            }
        };
        self.reply(Reply::plain(
            Code::START_MAIL_INPUT,
            "end data with <CR><LF>.<CR><LF>",
        ));
        let mut sink = Inspect::new(spool);
        match self.read_data(&mut sink).await? {
            DataOutcome::Complete => self.finish(hello, tx, sink).await,
            DataOutcome::Smuggling => {
                // Threats T6: the whole message is refused; nothing in it
                // ended the message or was read as a command.
                let text =
                    "bare CR or LF near a dot line, possible SMTP smuggling: message refused";
                self.error(Reply::new(Code::SYNTAX_ERROR, Esc::SYNTAX, text))
                    .await?;
                Ok(Flow::Next(State::Ready(hello)))
            }
            DataOutcome::TooLarge => {
                self.reply(self.too_large());
                Ok(Flow::Next(State::Ready(hello)))
            }
        }
    }

    fn too_large(&self) -> Reply {
        // RFC 1870 §6.2, RFC 3030 §4.
        let text = format!(
            "message too large, max {} octets",
            self.cfg.limits.max_message_size
        );
        Reply::new(Code::EXCEEDED_STORAGE, Esc::TOO_BIG, text)
    }

    async fn data_refused(&mut self, next: State, text: &str) -> Result<Flow, SessionError> {
        self.refuse_data(
            next,
            Reply::new(Code::BAD_SEQUENCE, Esc::INVALID_COMMAND, text),
            true,
        )
        .await
    }

    /// DATA refused. RFC 2920 §3.1: DATA ends a pipelined group, so input
    /// already waiting now is message text sent before 354; it must not be
    /// read as commands (threats T3), so the connection is closed.
    async fn refuse_data(
        &mut self,
        next: State,
        reply: Reply,
        counts: bool,
    ) -> Result<Flow, SessionError> {
        let pipelined = !self.io.buffered().is_empty();
        if counts {
            self.error(reply).await?;
        } else {
            self.reply(reply);
        }
        if pipelined {
            let text = "message text sent before 354, closing connection";
            self.reply(Reply::new(
                Code::SERVICE_UNAVAILABLE,
                Esc::SYSTEM_TEMP,
                text,
            ));
            return Ok(Flow::Close);
        }
        Ok(Flow::Next(next))
    }

    /// Read the message text up to CRLF.CRLF into `sink`.
    async fn read_data(&mut self, sink: &mut Inspect<Spool>) -> Result<DataOutcome, SessionError> {
        let limits = &self.cfg.limits;
        let (block, total) = (
            limits.data_block_timeout,
            Instant::now() + limits.data_timeout,
        );
        let mut decoder = DataDecoder::new(limits.max_message_size);
        loop {
            if self.io.buffered().is_empty() {
                self.io.fill(total.min(Instant::now() + block)).await?;
            }
            let input = self.io.buffered();
            let len = input.len();
            match decoder.feed(input, sink).map_err(SessionError::Io)? {
                Progress::NeedMore => self.io.consume(len),
                Progress::End { consumed } => {
                    self.io.consume(consumed);
                    return Ok(decoder.outcome());
                }
            }
        }
    }

    pub(super) async fn bdat(
        &mut self,
        state: State,
        size: u64,
        last: bool,
    ) -> Result<Flow, SessionError> {
        if size > self.cfg.limits.max_message_size {
            // Reading a chunk this large only to refuse it is pointless;
            // without reading it we are out of sync, so close (threats T6b).
            self.reply(self.too_large());
            return Ok(Flow::Close);
        }
        // RFC 3030 §2: the chunk is read even when the command fails.
        let (hello, tx, mut chunks) = match state {
            State::Chunking(h, t, c) => (h, t, c),
            State::Mail(h, t) if !t.recipients.is_empty() => match Spool::new() {
                Ok(s) => {
                    let body = ChunkedBody::new(self.cfg.limits.max_message_size);
                    (
                        h,
                        t,
                        Box::new(Chunks {
                            sink: Inspect::new(s),
                            body,
                        }),
                    )
                }
                Err(e) => {
                    tracing::warn!(error = %e, "cannot create message spool");
                    self.skip_chunk(size).await?;
                    self.reply(Reply::new(
                        Code::LOCAL_ERROR,
                        Esc::SYSTEM_TEMP,
                        "temporary failure, try again later",
                    ));
                    return Ok(Flow::Next(State::Mail(h, t)));
                }
            },
            State::Mail(h, t) => {
                self.skip_chunk(size).await?;
                self.reply(Reply::new(
                    Code::TRANSACTION_FAILED,
                    Esc::INVALID_COMMAND,
                    "no valid recipients",
                ));
                return Ok(Flow::Next(State::Mail(h, t)));
            }
            s @ (State::Fresh | State::Ready(_)) => {
                self.skip_chunk(size).await?;
                return self.out_of_sequence(s, "send MAIL first").await;
            }
        };
        self.read_chunk(size, &mut chunks.body, &mut chunks.sink)
            .await?;
        if chunks.body.too_large() {
            self.reply(self.too_large());
            return Ok(Flow::Next(State::Ready(hello)));
        }
        if !last {
            self.reply(Reply::new(
                Code::OK,
                Esc::OK,
                format!("{size} octets received"),
            ));
            return Ok(Flow::Next(State::Chunking(hello, tx, chunks)));
        }
        self.finish(hello, tx, chunks.sink).await
    }

    async fn skip_chunk(&mut self, size: u64) -> Result<(), SessionError> {
        self.read_chunk(size, &mut ChunkedBody::new(0), &mut std::io::sink())
            .await
    }

    /// Read exactly `size` octets into `body`.
    async fn read_chunk(
        &mut self,
        size: u64,
        body: &mut ChunkedBody,
        sink: &mut impl Write,
    ) -> Result<(), SessionError> {
        let limits = &self.cfg.limits;
        let (block, total) = (
            limits.data_block_timeout,
            Instant::now() + limits.data_timeout,
        );
        let mut chunk = Chunk::new(size);
        while !chunk.is_complete() {
            if self.io.buffered().is_empty() {
                self.io.fill(total.min(Instant::now() + block)).await?;
            }
            let part = chunk.take(self.io.buffered());
            let n = part.len();
            body.write(part, sink).map_err(SessionError::Io)?;
            self.io.consume(n);
        }
        Ok(())
    }
}
