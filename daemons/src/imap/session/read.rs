//! Reading one command (RFC 9051 §2.2.1, §4.3): its first line, then for
//! each literal announced at a line's end a check against the limits, a
//! `+` continuation for a synchronizing literal, the octets, and the next
//! line. A literal that is too big is refused before any of it is read
//! (threats T11); an overlong line is drained and answered BAD.

use tokio::io::{AsyncRead, AsyncWrite};
use tokio::time::Instant;

use super::io::Line;
use super::state::State;
use super::{Session, SessionError};
use crate::imap::backend::Backend;
use crate::imap::config::LITERAL_MINUS_MAX;
use crate::imap::parse::frame::Frame;
use crate::imap::parse::lexer::is_tag_char;
use crate::imap::parse::{Command, parse_command};
use crate::imap::response::Response;

pub enum Input {
    Command(Command),
    /// Not understood: BAD (tagged if the tag was readable).
    Bad {
        tag: Option<String>,
        text: String,
    },
    /// A synchronizing literal over the limits: `NO [TOOBIG]`, nothing of
    /// it was read (the client waits for `+` and gives up).
    TooBig {
        tag: Option<String>,
        text: String,
    },
    /// The stream cannot be resynchronised (a non-synchronizing literal
    /// over the limits): BYE and close.
    Fatal(String),
    /// An empty line, ignored.
    Empty,
}

/// The tag at the start of an overlong line, if it has one.
fn tag_of(head: &[u8]) -> Option<String> {
    let n = head.iter().take_while(|&&b| is_tag_char(b)).count();
    (n > 0 && head.get(n) == Some(&b' ')).then(|| String::from_utf8_lossy(&head[..n]).into_owned())
}

impl<S, B> Session<S, B>
where
    S: AsyncRead + AsyncWrite + Unpin + Send,
    B: Backend,
{
    pub(super) async fn read_command(&mut self, state: &State) -> Result<Input, SessionError> {
        let authed = state.is_authenticated();
        let limits = self.cfg.limits.frame(authed);
        let l = &self.cfg.limits;
        let (max_line, literal_timeout) = (l.max_line, l.literal_read_timeout);
        let idle = if authed {
            l.idle_timeout
        } else {
            l.preauth_timeout
        };
        // The whole command, literals included, must arrive within this.
        let deadline = Instant::now() + l.idle_timeout;
        let mut frame = Frame::new();
        loop {
            let wait = if frame.is_empty() {
                idle
            } else {
                literal_timeout
            };
            let line = match self.io.read_line(max_line, wait).await? {
                Line::Line(l) => l,
                Line::TooLong { head, literal } => {
                    let tag = frame.tag().map(str::to_string).or_else(|| tag_of(&head));
                    let text = format!("line too long, max {max_line} octets");
                    // The client will send a non-synchronizing literal's
                    // octets anyway: no way to find the next command.
                    if literal.is_some_and(|h| !h.sync) {
                        return Ok(Input::Fatal(text));
                    }
                    return Ok(Input::Bad { tag, text });
                }
            };
            if frame.is_empty() && matches!(line.as_slice(), b"\r\n" | b"\n") {
                return Ok(Input::Empty);
            }
            let header = match frame.push_line(&line, &limits) {
                Ok(None) => break,
                Ok(Some(h)) => h,
                Err(refused) if refused.header.sync => {
                    return Ok(Input::TooBig {
                        tag: refused.tag,
                        text: refused.reason,
                    });
                }
                Err(refused) => return Ok(Input::Fatal(refused.reason)),
            };
            // RFC 7888 §5: with LITERAL-, non-synchronizing literals are
            // at most 4096 octets.
            if !header.sync && self.cfg.literal_minus && header.len > LITERAL_MINUS_MAX {
                return Ok(Input::Fatal(format!(
                    "non-synchronizing literal larger than {LITERAL_MINUS_MAX} octets"
                )));
            }
            let Ok(n) = usize::try_from(header.len) else {
                return Ok(Input::Fatal("literal too large".into()));
            };
            if header.sync {
                self.send(&Response::Continue("ready for literal data".into()));
            }
            frame.reserve(n);
            self.io
                .read_literal(frame.buf_mut(), n, literal_timeout, deadline)
                .await?;
        }
        match parse_command(frame.buf(), self.options()) {
            Ok(cmd) => Ok(Input::Command(cmd)),
            Err(rejected) => Ok(Input::Bad {
                tag: rejected.tag,
                text: rejected.error.to_string(),
            }),
        }
    }
}
