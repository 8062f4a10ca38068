//! One SMTP session over any byte stream (RFC 5321 §4.1.4 order of
//! commands, RFC 2920 PIPELINING). The session owns the connection; the
//! rest of moxd is reached through [`Backend`]. Each command is handled in
//! the file named after it; this file holds the loop and the one dispatch.

mod auth;
mod data;
mod deliver;
mod hello;
mod io;
mod mail;
mod state;
mod tls;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite};

use self::io::{Io, Line};
use self::state::State;
use super::address::Address;
use super::backend::{Backend, TlsInfo};
use super::command::Command;
use super::config::Config;
use super::reply::{Code, Esc, Reply};
use crate::sasl::ChannelBinding;

/// Why a session ended other than by QUIT.
#[derive(Debug, thiserror::Error)]
pub enum SessionError {
    #[error("i/o error: {0}")]
    Io(std::io::Error),
    #[error("TLS handshake failed: {0}")]
    Tls(std::io::Error),
    #[error("timeout")]
    Timeout,
    #[error("connection closed by peer")]
    Eof,
    #[error("too many errors")]
    TooManyErrors,
}

/// Who is on the other end.
#[derive(Debug, Clone)]
pub struct PeerInfo {
    pub remote: SocketAddr,
    /// Verified reverse DNS name, when the worker has one.
    pub remote_name: Option<String>,
}

/// What a command handler wants next.
#[allow(
    clippy::large_enum_variant,
    reason = "moved once per command; a box would cost more than the copy"
)]
pub(crate) enum Flow {
    Next(State),
    /// Close the connection after sending what is queued.
    Close,
}

/// TLS facts of the connection.
struct TlsState {
    info: TlsInfo,
    binding: ChannelBinding,
}

pub struct Session<S, B> {
    io: Io<S>,
    cfg: Arc<Config>,
    backend: Arc<B>,
    peer: PeerInfo,
    tls: Option<TlsState>,
    /// The authenticated account (submission, RFC 4954).
    account: Option<String>,
    errors: u32,
    failed_rcpts: u32,
    /// `postmaster@hostname` for RCPT TO:<Postmaster> (RFC 5321 §4.1.1.3).
    postmaster: Option<Address>,
}

impl<S, B> Session<S, B>
where
    S: AsyncRead + AsyncWrite + Unpin + Send,
    B: Backend,
{
    pub fn new(stream: S, cfg: Arc<Config>, backend: Arc<B>, peer: PeerInfo) -> Session<S, B> {
        let max_line = cfg.limits.max_command_line.max(cfg.limits.max_auth_line);
        let postmaster = super::address::Domain::parse(&cfg.hostname)
            .ok()
            .and_then(|d| Address::new("postmaster", d).ok());
        Session {
            io: Io::new(stream, max_line, cfg.limits.command_timeout),
            cfg,
            backend,
            peer,
            tls: None,
            account: None,
            errors: 0,
            failed_rcpts: 0,
            postmaster,
        }
    }

    /// Serve the connection until QUIT, an error or a timeout. A timeout is
    /// answered with `421 4.4.2` (RFC 5321 §4.5.3.2) before closing.
    pub async fn run(mut self) -> Result<(), SessionError> {
        let result = self.serve().await;
        if let Err(SessionError::Timeout) = result {
            self.io.queue(&Reply::new(
                Code::SERVICE_UNAVAILABLE,
                Esc::TIMEOUT,
                "timeout, closing connection",
            ));
        }
        self.io.close().await;
        tracing::debug!(remote = %self.peer.remote, ?result, "smtp session ended");
        result
    }

    async fn serve(&mut self) -> Result<(), SessionError> {
        if self.cfg.implicit_tls {
            self.handshake().await?;
        }
        if !self.greet().await? {
            return Ok(());
        }
        let mut state = State::Fresh;
        loop {
            let max = self.cfg.limits.max_command_line;
            let line = match self
                .io
                .read_line(max, self.cfg.limits.command_timeout)
                .await?
            {
                Line::Line(l) => l,
                Line::TooLong => {
                    // RFC 5321 §4.5.3.1.4, threats T4.
                    let text = format!("line too long, max {max} octets");
                    self.error(Reply::new(Code::SYNTAX_ERROR, Esc::SYNTAX, text))
                        .await?;
                    continue;
                }
            };
            let cmd = match Command::parse(&line) {
                Ok(c) => c,
                Err(e) => {
                    state = state.abort_chunking();
                    self.error(e.reply()).await?;
                    continue;
                }
            };
            state = match self.dispatch(state, cmd).await? {
                Flow::Next(s) => s,
                Flow::Close => return Ok(()),
            };
        }
    }

    /// The one command → handler match.
    async fn dispatch(&mut self, state: State, cmd: Command) -> Result<Flow, SessionError> {
        match cmd {
            Command::Ehlo(name) => Ok(self.hello(state, name, true)),
            Command::Helo(name) => Ok(self.hello(state, name, false)),
            Command::Mail { from, params } => self.mail(state, from, params).await,
            Command::Rcpt { to, params } => self.rcpt(state, to, params).await,
            Command::Data => self.data(state).await,
            Command::Bdat { size, last } => self.bdat(state, size, last).await,
            // RFC 5321 §4.1.1.5.
            Command::Rset => {
                self.reply(Reply::new(Code::OK, Esc::OK, "reset"));
                Ok(Flow::Next(state.reset()))
            }
            // RFC 5321 §4.1.1.9.
            Command::Noop => {
                self.reply(Reply::new(Code::OK, Esc::OK, "ok"));
                Ok(Flow::Next(state))
            }
            // RFC 5321 §4.1.1.10.
            Command::Quit => {
                self.reply(Reply::new(Code::CLOSING, Esc::OK, "bye"));
                Ok(Flow::Close)
            }
            // RFC 5321 §3.5.3: VRFY is disabled; 252 says "try it".
            Command::Vrfy(_) => {
                let text = "cannot verify user, but will accept message and attempt delivery";
                self.reply(Reply::new(Code::CANNOT_VRFY, Esc::OK, text));
                Ok(Flow::Next(state))
            }
            // RFC 5321 §4.1.1.8.
            Command::Help => {
                self.reply(Reply::new(Code::HELP, Esc::OK, "moxd, see RFC 5321"));
                Ok(Flow::Next(state))
            }
            Command::StartTls => self.starttls(state).await,
            Command::Auth { mechanism, initial } => self.auth(state, mechanism, initial).await,
        }
    }

    fn reply(&mut self, r: Reply) {
        self.io.queue(&r);
    }

    /// A client error: counted, and after too many the session ends with
    /// `421 4.7.0`.
    async fn error(&mut self, r: Reply) -> Result<(), SessionError> {
        self.io.queue(&r);
        self.errors += 1;
        if self.errors >= self.cfg.limits.max_errors {
            let text = format!("too many errors ({}), closing connection", self.errors);
            self.io.queue(&Reply::new(
                Code::SERVICE_UNAVAILABLE,
                Esc::SECURITY_TEMP,
                text,
            ));
            return Err(SessionError::TooManyErrors);
        }
        Ok(())
    }

    /// A command in the wrong state: `503 5.5.1` (RFC 5321 §4.1.4). A
    /// BDAT transfer in progress ends with it.
    async fn out_of_sequence(&mut self, next: State, text: &str) -> Result<Flow, SessionError> {
        self.error(Reply::new(Code::BAD_SEQUENCE, Esc::INVALID_COMMAND, text))
            .await?;
        Ok(Flow::Next(next.abort_chunking()))
    }

    /// Send what is queued, then wait.
    async fn delay(&mut self, d: Duration) -> Result<(), SessionError> {
        if d.is_zero() {
            return Ok(());
        }
        self.io.flush().await?;
        tokio::time::sleep(d).await;
        Ok(())
    }
}
