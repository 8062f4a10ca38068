//! The session's connection: plain or TLS, a read buffer with a bounded
//! line reader, and an output buffer for replies. Replies are flushed only
//! before a read would block (RFC 2920 §3.2: PIPELINING), before a delay
//! and before TLS starts.

use std::io;
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::time::{Instant, timeout, timeout_at};
use tokio_rustls::TlsAcceptor;

use super::SessionError;
use crate::smtp::reply::Reply;

/// Read buffer size; also at least one maximum line plus one octet.
pub const READ_BUFFER: usize = 16 * 1024;

pub use crate::conn::Conn;
use crate::conn::UpgradeError;

/// A line, or the news that it was too long (and has been drained).
pub enum Line {
    Line(Vec<u8>),
    TooLong,
}

pub struct Io<S> {
    conn: Conn<S>,
    buf: Box<[u8]>,
    start: usize,
    end: usize,
    out: Vec<u8>,
    /// Bound on writing replies (a peer that does not read).
    write_timeout: Duration,
}

impl<S: AsyncRead + AsyncWrite + Unpin> Io<S> {
    pub fn new(stream: S, max_line: usize, write_timeout: Duration) -> Io<S> {
        let size = READ_BUFFER.max(max_line.saturating_add(1));
        Io {
            conn: Conn::Plain(stream),
            buf: vec![0; size].into_boxed_slice(),
            start: 0,
            end: 0,
            out: Vec::new(),
            write_timeout,
        }
    }

    pub fn conn(&self) -> &Conn<S> {
        &self.conn
    }

    /// Octets received but not yet consumed.
    pub fn buffered(&self) -> &[u8] {
        &self.buf[self.start..self.end]
    }

    pub fn consume(&mut self, n: usize) {
        self.start = (self.start + n).min(self.end);
    }

    /// Drop everything buffered (after STARTTLS: threats T1).
    pub fn discard_input(&mut self) -> usize {
        let n = self.end - self.start;
        self.start = 0;
        self.end = 0;
        n
    }

    /// Queue a reply; it is sent at the next flush.
    pub fn queue(&mut self, r: &Reply) {
        r.encode(&mut self.out);
    }

    pub async fn flush(&mut self) -> Result<(), SessionError> {
        if self.out.is_empty() {
            return Ok(());
        }
        let out = std::mem::take(&mut self.out);
        let w = async {
            self.conn.write_all(&out).await?;
            self.conn.flush().await
        };
        timeout(self.write_timeout, w)
            .await
            .map_err(|_| SessionError::Timeout)?
            .map_err(SessionError::Io)
    }

    /// Read more input, flushing replies first. Errors on EOF or deadline.
    pub async fn fill(&mut self, deadline: Instant) -> Result<(), SessionError> {
        self.flush().await?;
        if self.start > 0 {
            self.buf.copy_within(self.start..self.end, 0);
            self.end -= self.start;
            self.start = 0;
        }
        if self.end == self.buf.len() {
            // Callers consume before filling a full buffer; stay safe anyway.
            self.end = 0;
        }
        let n = timeout_at(deadline, self.conn.read(&mut self.buf[self.end..]))
            .await
            .map_err(|_| SessionError::Timeout)?
            .map_err(SessionError::Io)?;
        if n == 0 {
            return Err(SessionError::Eof);
        }
        self.end += n;
        Ok(())
    }

    /// Wait up to `wait` for input without a deadline error: Ok(true) when
    /// something arrived (early talker check).
    pub async fn input_within(&mut self, wait: Duration) -> Result<bool, SessionError> {
        match self.fill(Instant::now() + wait).await {
            Ok(()) => Ok(true),
            Err(SessionError::Timeout) => Ok(false),
            Err(e) => Err(e),
        }
    }

    /// One line ending in LF of at most `max` octets including the line
    /// ending (RFC 5321 §4.5.3.1.4), within `limit`. A longer line is
    /// drained to its end and reported as [`Line::TooLong`].
    pub async fn read_line(&mut self, max: usize, limit: Duration) -> Result<Line, SessionError> {
        let deadline = Instant::now() + limit;
        let mut draining = false;
        loop {
            let avail = &self.buf[self.start..self.end];
            if let Some(pos) = avail.iter().position(|&b| b == b'\n') {
                let line = &avail[..=pos];
                let result = if draining || line.len() > max {
                    Line::TooLong
                } else {
                    Line::Line(line.to_vec())
                };
                self.consume(pos + 1);
                return Ok(result);
            }
            if draining || avail.len() > max {
                // Keep memory flat: drop what we have and read on to the LF.
                draining = true;
                self.start = 0;
                self.end = 0;
            }
            self.fill(deadline).await?;
        }
    }

    /// Switch to TLS: buffered plaintext is discarded first, so nothing a
    /// client sent before the handshake is read as a command (RFC 3207 §4,
    /// threats T1). Returns how many octets were discarded.
    pub async fn start_tls(
        &mut self,
        acceptor: &TlsAcceptor,
        limit: Duration,
    ) -> Result<usize, SessionError> {
        self.flush().await?;
        let discarded = self.discard_input();
        self.conn
            .upgrade(acceptor, limit)
            .await
            .map_err(|e| match e {
                UpgradeError::NotPlain => SessionError::Io(io::Error::other("TLS already active")),
                UpgradeError::Timeout => SessionError::Timeout,
                UpgradeError::Handshake(e) => SessionError::Tls(e),
            })?;
        Ok(discarded)
    }

    /// Flush what is queued and close the write side (TLS close_notify).
    pub async fn close(&mut self) {
        // Errors here change nothing: the connection ends either way.
        let _ = self.flush().await;
        let _ = timeout(self.write_timeout, self.conn.shutdown()).await;
    }
}
