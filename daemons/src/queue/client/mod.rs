//! The SMTP client of the queue worker (RFC 5321 §3, §4): connect, read
//! the greeting, EHLO (HELO when EHLO is refused), opportunistic
//! STARTTLS, then one mail transaction for all recipients bound for this
//! host, with PIPELINING when offered, and a result per recipient.
//! What may be sent (SIZE, 8BITMIME, SMTPUTF8, REQUIRETLS) is decided by
//! the caller from [`Capabilities`]; this module only speaks the protocol.
//! Every read has the RFC 5321 §4.5.3.2 timeout of its step.

pub mod caps;
pub mod data;
pub mod reply;
pub mod stream;
pub mod tls;

#[cfg(test)]
mod tests;

use std::net::SocketAddr;
use std::time::Duration;

use tokio::io::{AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::queue::message::Message;
pub use caps::Capabilities;
use data::DataEncoder;
pub use reply::{ReadError, Reply, ReplyReader};
use stream::Stream;
pub use tls::{CertVerdict, TlsClient};

/// Timeouts of each step.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timeouts {
    pub connect: Duration,
    /// Initial 220 (RFC 5321 §4.5.3.2.1: 5 minutes); also EHLO/HELO and STARTTLS.
    pub greeting: Duration,
    /// MAIL (§4.5.3.2.2: 5 minutes).
    pub mail: Duration,
    /// RCPT (§4.5.3.2.3: 5 minutes).
    pub rcpt: Duration,
    /// DATA initiation (§4.5.3.2.4: 2 minutes).
    pub data_init: Duration,
    /// Each data block written (§4.5.3.2.5: 3 minutes).
    pub data_block: Duration,
    /// Reply to the final "." (§4.5.3.2.6: 10 minutes).
    pub data_end: Duration,
    /// TLS handshake.
    pub tls_handshake: Duration,
    /// Reply to QUIT (we do not wait long: the transaction is over).
    pub quit: Duration,
}

/// Connecting may take this long (not in RFC 5321).
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(30);
/// A TLS handshake may take this long.
pub const TLS_HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(60);
/// How long we wait for the reply to QUIT.
pub const QUIT_TIMEOUT: Duration = Duration::from_secs(10);

impl Timeouts {
    /// RFC 5321 §4.5.3.2 values, each capped at `limit` when given.
    pub fn rfc5321(limit: Option<Duration>) -> Timeouts {
        let cap = |d: Duration| limit.map_or(d, |l| d.min(l));
        let min = |m: u64| cap(Duration::from_secs(m * 60));
        Timeouts {
            connect: cap(CONNECT_TIMEOUT),
            greeting: min(5),
            mail: min(5),
            rcpt: min(5),
            data_init: min(2),
            data_block: min(3),
            data_end: min(10),
            tls_handshake: cap(TLS_HANDSHAKE_TIMEOUT),
            quit: cap(QUIT_TIMEOUT),
        }
    }
}

/// The protocol step something happened in (for messages and DSNs).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    Connect,
    Greeting,
    Ehlo,
    Helo,
    StartTls,
    Mail,
    Rcpt,
    Data,
    EndOfData,
}

impl std::fmt::Display for Step {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Step::Connect => "connect",
            Step::Greeting => "greeting",
            Step::Ehlo => "EHLO",
            Step::Helo => "HELO",
            Step::StartTls => "STARTTLS",
            Step::Mail => "MAIL FROM",
            Step::Rcpt => "RCPT TO",
            Step::Data => "DATA",
            Step::EndOfData => "end of data",
        })
    }
}

/// A failure of the connection or of a step for all recipients.
#[derive(Debug, thiserror::Error)]
pub enum SessionError {
    #[error("connect: {0}")]
    Connect(String),
    #[error("{step}: {}", reply.escaped())]
    Reply { step: Step, reply: Reply },
    #[error("{step}: {error}")]
    Read { step: Step, error: ReadError },
    #[error("{step}: write: {error}")]
    Write { step: Step, error: std::io::Error },
    #[error("TLS: {0}")]
    Tls(String),
    #[error("reading the queued message: {0}")]
    Message(std::io::Error),
}

impl SessionError {
    /// Only a 5xx reply is permanent; connection trouble is retried.
    pub fn is_permanent(&self) -> bool {
        matches!(self, SessionError::Reply { reply, .. } if reply.is_permanent())
    }

    pub fn reply(&self) -> Option<&Reply> {
        match self {
            SessionError::Reply { reply, .. } => Some(reply),
            _ => None,
        }
    }
}

/// TLS of a connection, as recorded with the delivery.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsInfo {
    pub version: String,
    pub cipher: String,
    pub cert: CertVerdict,
}

impl std::fmt::Display for TlsInfo {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.cert {
            CertVerdict::Verified => {
                write!(f, "{} {}, certificate verified", self.version, self.cipher)
            }
            CertVerdict::Unverified(why) => write!(
                f,
                "{} {}, certificate not verified: {}",
                self.version,
                self.cipher,
                reply::escape(why)
            ),
        }
    }
}

/// What the transaction did for one recipient.
#[derive(Debug)]
pub enum RcptOutcome {
    /// The final reply to the message data was 2xx.
    Delivered(Reply),
    /// A 4xx/5xx reply to RCPT, or to MAIL/DATA/end of data for all.
    Refused { step: Step, reply: Reply },
    /// The connection failed before a verdict (always retried).
    Failed(String),
}

/// One recipient of a transaction: address (as sent) and RCPT parameters
/// (leading space included, or empty).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RcptTo {
    pub address: String,
    pub params: String,
}

/// A connected, greeted session.
pub struct Client {
    stream: Stream,
    reader: ReplyReader,
    pub caps: Capabilities,
    pub tls: Option<TlsInfo>,
    timeouts: Timeouts,
}

async fn write_all<W: AsyncWrite + Unpin>(
    w: &mut W,
    buf: &[u8],
    step: Step,
    limit: Duration,
) -> Result<(), SessionError> {
    let io = async {
        w.write_all(buf).await?;
        w.flush().await
    };
    match tokio::time::timeout(limit, io).await {
        Ok(Ok(())) => Ok(()),
        Ok(Err(error)) => Err(SessionError::Write { step, error }),
        Err(_) => Err(SessionError::Write {
            step,
            error: std::io::Error::new(std::io::ErrorKind::TimedOut, "write timed out"),
        }),
    }
}

impl Client {
    /// Connects to `addr`, reads the greeting, says EHLO as `ehlo_name`
    /// and, when the peer offers it and `tls` is given, starts TLS with
    /// `host` as the name to verify (SNI).
    pub async fn connect(
        addr: SocketAddr,
        host: &str,
        ehlo_name: &str,
        tls: Option<&TlsClient>,
        timeouts: Timeouts,
    ) -> Result<Client, SessionError> {
        let tcp = match tokio::time::timeout(timeouts.connect, TcpStream::connect(addr)).await {
            Ok(Ok(s)) => s,
            Ok(Err(e)) => return Err(SessionError::Connect(e.to_string())),
            Err(_) => {
                return Err(SessionError::Connect(format!(
                    "no connection within {:?}",
                    timeouts.connect
                )));
            }
        };
        let _ = tcp.set_nodelay(true);
        let mut c = Client {
            stream: Stream::Plain(tcp),
            reader: ReplyReader::default(),
            caps: Capabilities::default(),
            tls: None,
            timeouts,
        };
        // RFC 5321 §3.1: the greeting is 220; anything else ends the session.
        let greeting = c.read(Step::Greeting, timeouts.greeting).await?;
        if greeting.code != 220 {
            return Err(SessionError::Reply {
                step: Step::Greeting,
                reply: greeting,
            });
        }
        c.hello(ehlo_name).await?;
        if let Some(tls) = tls.filter(|_| c.caps.starttls) {
            c.starttls(tls, host, ehlo_name).await?;
        }
        Ok(c)
    }

    async fn read(&mut self, step: Step, limit: Duration) -> Result<Reply, SessionError> {
        self.reader
            .read(&mut self.stream, limit)
            .await
            .map_err(|error| SessionError::Read { step, error })
    }

    async fn command(
        &mut self,
        step: Step,
        line: &str,
        limit: Duration,
    ) -> Result<Reply, SessionError> {
        write_all(
            &mut self.stream,
            format!("{line}\r\n").as_bytes(),
            step,
            limit,
        )
        .await?;
        self.read(step, limit).await
    }

    /// RFC 5321 §4.1.1.1: EHLO, and HELO when EHLO is refused with 5xx
    /// (a server that does not know EHLO); HELO means no extensions.
    async fn hello(&mut self, name: &str) -> Result<(), SessionError> {
        let t = self.timeouts.greeting;
        let r = self.command(Step::Ehlo, &format!("EHLO {name}"), t).await?;
        if r.code == 250 {
            self.caps = Capabilities::from_ehlo(&r);
            return Ok(());
        }
        if !r.is_permanent() {
            return Err(SessionError::Reply {
                step: Step::Ehlo,
                reply: r,
            });
        }
        let r = self.command(Step::Helo, &format!("HELO {name}"), t).await?;
        if r.code != 250 {
            return Err(SessionError::Reply {
                step: Step::Helo,
                reply: r,
            });
        }
        self.caps = Capabilities::default();
        Ok(())
    }

    /// RFC 3207 §4: STARTTLS, 220, handshake, and EHLO again (§4.2: all
    /// knowledge from before TLS is discarded). A refusal of STARTTLS
    /// leaves the session in plain text; a failed handshake ends it.
    async fn starttls(
        &mut self,
        tls: &TlsClient,
        host: &str,
        ehlo_name: &str,
    ) -> Result<(), SessionError> {
        let r = self
            .command(Step::StartTls, "STARTTLS", self.timeouts.greeting)
            .await?;
        if r.code != 220 {
            tracing::info!(host, reply = %r.escaped(), "STARTTLS refused; going on without TLS");
            return Ok(());
        }
        // Threat T2: bytes the peer sent after the 220 and before the
        // handshake are not part of the TLS session.
        let injected = self.reader.discard();
        if injected > 0 {
            tracing::warn!(
                host,
                bytes = injected,
                "discarded plaintext sent after 220 to STARTTLS"
            );
        }
        let (config, verdict) = tls.config().map_err(|e| SessionError::Tls(e.to_string()))?;
        let name = rustls::pki_types::ServerName::try_from(host.to_string())
            .map_err(|e| SessionError::Tls(format!("server name {host:?}: {e}")))?;
        let Stream::Plain(tcp) = std::mem::replace(&mut self.stream, Stream::Closed) else {
            return Err(SessionError::Tls("TLS is already active".into()));
        };
        let connector = tokio_rustls::TlsConnector::from(config);
        let s =
            match tokio::time::timeout(self.timeouts.tls_handshake, connector.connect(name, tcp))
                .await
            {
                Ok(Ok(s)) => s,
                Ok(Err(e)) => return Err(SessionError::Tls(format!("handshake: {e}"))),
                Err(_) => return Err(SessionError::Tls("handshake timed out".into())),
            };
        let (_, conn) = s.get_ref();
        let version = conn.protocol_version().map_or("TLS".to_string(), |v| {
            format!("{v:?}").replace("TLSv1_", "TLS1.")
        });
        let cipher = conn
            .negotiated_cipher_suite()
            .map_or(String::new(), |c| format!("{:?}", c.suite()));
        let cert = verdict
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
            .unwrap_or_else(|| CertVerdict::Unverified("no certificate checked".into()));
        self.stream = Stream::Tls(Box::new(s));
        self.tls = Some(TlsInfo {
            version,
            cipher,
            cert,
        });
        self.hello(ehlo_name).await
    }

    /// One mail transaction: MAIL FROM:<from>`mail_params`, RCPT TO for
    /// each recipient (pipelined when offered, RFC 2920 §3.1), DATA and
    /// the message. Returns an outcome per recipient, in order.
    pub async fn transaction(
        &mut self,
        from: &str,
        mail_params: &str,
        rcpts: &[RcptTo],
        msg: &Message,
    ) -> Vec<RcptOutcome> {
        match self.transaction_inner(from, mail_params, rcpts, msg).await {
            Ok(v) => v,
            Err((done, e)) => {
                let text = e.to_string();
                done.into_iter()
                    .chain(std::iter::repeat_with(|| None))
                    .take(rcpts.len())
                    .map(|o| o.unwrap_or_else(|| RcptOutcome::Failed(text.clone())))
                    .collect()
            }
        }
    }

    /// On error, also the outcomes known so far (refusals of RCPT stand
    /// even when the connection fails later).
    async fn transaction_inner(
        &mut self,
        from: &str,
        mail_params: &str,
        rcpts: &[RcptTo],
        msg: &Message,
    ) -> Result<Vec<RcptOutcome>, (Vec<Option<RcptOutcome>>, SessionError)> {
        let t = self.timeouts;
        let mail = format!("MAIL FROM:<{from}>{mail_params}\r\n");
        let mut outcomes: Vec<Option<RcptOutcome>> = Vec::with_capacity(rcpts.len());
        let mail_reply;
        if self.caps.pipelining {
            let mut batch = mail.into_bytes();
            for r in rcpts {
                batch.extend_from_slice(
                    format!("RCPT TO:<{}>{}\r\n", r.address, r.params).as_bytes(),
                );
            }
            write_all(&mut self.stream, &batch, Step::Mail, t.mail)
                .await
                .map_err(|e| (Vec::new(), e))?;
            mail_reply = self
                .read(Step::Mail, t.mail)
                .await
                .map_err(|e| (Vec::new(), e))?;
            for _ in rcpts {
                let r = self
                    .read(Step::Rcpt, t.rcpt)
                    .await
                    .map_err(|e| (outcomes_so_far(&outcomes), e))?;
                outcomes.push(rcpt_outcome(r));
            }
        } else {
            write_all(&mut self.stream, mail.as_bytes(), Step::Mail, t.mail)
                .await
                .map_err(|e| (Vec::new(), e))?;
            mail_reply = self
                .read(Step::Mail, t.mail)
                .await
                .map_err(|e| (Vec::new(), e))?;
            if mail_reply.code == 250 {
                for r in rcpts {
                    let line = format!("RCPT TO:<{}>{}", r.address, r.params);
                    let reply = self
                        .command(Step::Rcpt, &line, t.rcpt)
                        .await
                        .map_err(|e| (outcomes_so_far(&outcomes), e))?;
                    outcomes.push(rcpt_outcome(reply));
                }
            }
        }
        if mail_reply.code != 250 {
            return Ok(rcpts
                .iter()
                .map(|_| RcptOutcome::Refused {
                    step: Step::Mail,
                    reply: mail_reply.clone(),
                })
                .collect());
        }
        let accepted = outcomes.iter().filter(|o| o.is_none()).count();
        if accepted == 0 {
            return Ok(outcomes.into_iter().flatten().collect());
        }
        let r = self
            .command(Step::Data, "DATA", t.data_init)
            .await
            .map_err(|e| (outcomes_so_far(&outcomes), e))?;
        if r.code != 354 {
            return Ok(fill(outcomes, |_| RcptOutcome::Refused {
                step: Step::Data,
                reply: r.clone(),
            }));
        }
        if let Err(e) = self.send_data(msg).await {
            return Err((outcomes_so_far(&outcomes), e));
        }
        let r = self
            .read(Step::EndOfData, t.data_end)
            .await
            .map_err(|e| (outcomes_so_far(&outcomes), e))?;
        Ok(fill(outcomes, |_| {
            if r.class() == 2 {
                RcptOutcome::Delivered(r.clone())
            } else {
                RcptOutcome::Refused {
                    step: Step::EndOfData,
                    reply: r.clone(),
                }
            }
        }))
    }

    async fn send_data(&mut self, msg: &Message) -> Result<(), SessionError> {
        let mut enc = DataEncoder::default();
        let mut out = Vec::new();
        let mut offset = 0u64;
        loop {
            let chunk = msg.chunk(offset).await.map_err(SessionError::Message)?;
            if chunk.is_empty() {
                break;
            }
            offset += chunk.len() as u64;
            out.clear();
            enc.encode(&chunk, &mut out);
            write_all(&mut self.stream, &out, Step::Data, self.timeouts.data_block).await?;
        }
        out.clear();
        enc.finish(&mut out);
        write_all(&mut self.stream, &out, Step::Data, self.timeouts.data_block).await
    }

    /// QUIT, waiting briefly for the reply (RFC 5321 §4.1.1.10).
    pub async fn quit(mut self) {
        let t = self.timeouts.quit;
        let _ = self.command(Step::Greeting, "QUIT", t).await;
        let _ = tokio::time::timeout(t, self.stream.shutdown()).await;
    }
}

/// RCPT replies: 250/251 accept (None: pending DATA), anything else refuses.
fn rcpt_outcome(r: Reply) -> Option<RcptOutcome> {
    if r.class() == 2 {
        None
    } else {
        Some(RcptOutcome::Refused {
            step: Step::Rcpt,
            reply: r,
        })
    }
}

/// Outcomes known for good after a failure: RCPT refusals only.
fn outcomes_so_far(o: &[Option<RcptOutcome>]) -> Vec<Option<RcptOutcome>> {
    o.iter()
        .map(|x| match x {
            Some(RcptOutcome::Refused { step, reply }) => Some(RcptOutcome::Refused {
                step: *step,
                reply: reply.clone(),
            }),
            _ => None,
        })
        .collect()
}

/// Accepted recipients (None) get `f`'s outcome; refusals stay.
fn fill(outcomes: Vec<Option<RcptOutcome>>, f: impl Fn(usize) -> RcptOutcome) -> Vec<RcptOutcome> {
    outcomes
        .into_iter()
        .enumerate()
        .map(|(i, o)| o.unwrap_or_else(|| f(i)))
        .collect()
}
