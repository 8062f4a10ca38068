//! The session's connection: plain or TLS, a read buffer with a bounded
//! line reader and a literal reader, and an output buffer for responses.
//! Responses are written before a read would block, and in the middle of
//! a command once [`crate::imap::config::OUTPUT_FLUSH_SIZE`] octets are
//! queued.

use std::io;
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::time::{Instant, timeout, timeout_at};
use tokio_rustls::TlsAcceptor;

use super::SessionError;
use super::compress::{Deflate, MAX_PENDING_INPUT};
use crate::imap::config::OUTPUT_FLUSH_SIZE;
use crate::imap::parse::frame::{LiteralHeader, trailing_literal};

/// Read buffer size (at least one longest line plus one octet).
pub const READ_BUFFER: usize = 16 * 1024;
/// Octets kept from the start and end of an overlong line, to answer it
/// with its tag and to see whether a literal follows it.
const LINE_EDGE: usize = 128;

pub use crate::conn::Conn;
use crate::conn::UpgradeError;

/// A line, or the news that it was too long (it has been drained).
pub enum Line {
    Line(Vec<u8>),
    TooLong {
        /// The first octets (for the tag).
        head: Vec<u8>,
        /// A literal announced at its end, which the client may send.
        literal: Option<LiteralHeader>,
    },
}

pub struct Io<S> {
    conn: Conn<S>,
    buf: Box<[u8]>,
    start: usize,
    end: usize,
    out: Vec<u8>,
    write_timeout: Duration,
    /// COMPRESS=DEFLATE, once started (RFC 4978).
    deflate: Option<Box<Deflate>>,
}

/// Compressed octets read at a time.
const COMPRESSED_CHUNK: usize = 8 * 1024;

impl<S: AsyncRead + AsyncWrite + Unpin> Io<S> {
    /// `max_line`: the longest line any read will ask for.
    pub fn new(stream: S, max_line: usize, write_timeout: Duration) -> Io<S> {
        let size = READ_BUFFER.max(max_line.saturating_add(1));
        Io {
            conn: Conn::Plain(stream),
            buf: vec![0; size].into_boxed_slice(),
            start: 0,
            end: 0,
            out: Vec::new(),
            write_timeout,
            deflate: None,
        }
    }

    pub fn compressing(&self) -> bool {
        self.deflate.is_some()
    }

    /// Starts COMPRESS=DEFLATE: from now on input is inflated and output
    /// deflated. Octets already received count as compressed input.
    pub fn start_deflate(&mut self) {
        let pending = self.buf[self.start..self.end].to_vec();
        self.start = 0;
        self.end = 0;
        self.deflate = Some(Box::new(Deflate::new(pending)));
    }

    pub fn conn(&self) -> &Conn<S> {
        &self.conn
    }

    /// The output buffer; responses are encoded straight into it.
    pub fn out(&mut self) -> &mut Vec<u8> {
        &mut self.out
    }

    /// Write if enough output is queued.
    pub async fn maybe_flush(&mut self) -> Result<(), SessionError> {
        if self.out.len() >= OUTPUT_FLUSH_SIZE {
            self.flush().await?;
        }
        Ok(())
    }

    pub async fn flush(&mut self) -> Result<(), SessionError> {
        if self.out.is_empty() {
            return Ok(());
        }
        let out = std::mem::take(&mut self.out);
        let deflated = match self.deflate.as_mut() {
            Some(z) => Some(z.deflate(&out).map_err(SessionError::Io)?),
            None => None,
        };
        let data: &[u8] = deflated.as_deref().unwrap_or(&out);
        let w = async {
            self.conn.write_all(data).await?;
            self.conn.flush().await
        };
        let r = timeout(self.write_timeout, w)
            .await
            .map_err(|_| SessionError::Timeout)?
            .map_err(SessionError::Io);
        // Keep the allocation for the next responses.
        self.out = out;
        self.out.clear();
        if self.out.capacity() > 4 * OUTPUT_FLUSH_SIZE {
            self.out.shrink_to(OUTPUT_FLUSH_SIZE);
        }
        r
    }

    /// Read more input, writing queued output first. Cancel-safe: octets
    /// read are kept in the buffer.
    pub async fn fill(&mut self, deadline: Instant) -> Result<(), SessionError> {
        self.flush().await?;
        if self.start > 0 {
            self.buf.copy_within(self.start..self.end, 0);
            self.end -= self.start;
            self.start = 0;
        }
        if self.end == self.buf.len() {
            return Err(SessionError::Io(io::Error::other("read buffer full")));
        }
        if let Some(z) = self.deflate.as_mut() {
            loop {
                let n = z
                    .inflate(&mut self.buf[self.end..])
                    .map_err(SessionError::Io)?;
                if n > 0 {
                    self.end += n;
                    return Ok(());
                }
                if z.input.len() > MAX_PENDING_INPUT {
                    return Err(SessionError::Io(io::Error::other(
                        "compressed input does not inflate",
                    )));
                }
                let mut chunk = [0u8; COMPRESSED_CHUNK];
                let n = timeout_at(deadline, self.conn.read(&mut chunk))
                    .await
                    .map_err(|_| SessionError::Timeout)?
                    .map_err(SessionError::Io)?;
                if n == 0 {
                    return Err(SessionError::Eof);
                }
                z.input.extend_from_slice(&chunk[..n]);
            }
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

    /// A complete line already in the buffer, if there is one of at most
    /// `max` octets.
    pub fn buffered_line(&mut self, max: usize) -> Option<Vec<u8>> {
        let avail = &self.buf[self.start..self.end];
        let pos = avail.iter().position(|&b| b == b'\n')?;
        if pos + 1 > max {
            return None;
        }
        let line = avail[..=pos].to_vec();
        self.start += pos + 1;
        Some(line)
    }

    /// Whether octets are waiting in the buffer.
    pub fn has_buffered(&self) -> bool {
        self.end > self.start
    }

    /// How many octets are waiting in the buffer.
    pub fn buffered_len(&self) -> usize {
        self.end - self.start
    }

    /// One line ending in LF of at most `max` octets, within `limit`. A
    /// longer line is drained to its end (memory stays flat, threats T11).
    pub async fn read_line(&mut self, max: usize, limit: Duration) -> Result<Line, SessionError> {
        let deadline = Instant::now() + limit;
        let mut head: Option<Vec<u8>> = None;
        let mut tail: Vec<u8> = Vec::new();
        loop {
            let avail = &self.buf[self.start..self.end];
            if let Some(pos) = avail.iter().position(|&b| b == b'\n') {
                let line = &avail[..=pos];
                let result = match head.take() {
                    None if line.len() <= max => Line::Line(line.to_vec()),
                    h => {
                        let head = h.unwrap_or_else(|| line[..line.len().min(LINE_EDGE)].to_vec());
                        tail.extend_from_slice(line);
                        let keep = tail.len().saturating_sub(LINE_EDGE);
                        Line::TooLong {
                            head,
                            literal: trailing_literal(&tail[keep..]),
                        }
                    }
                };
                self.start += pos + 1;
                return Ok(result);
            }
            if head.is_some() || avail.len() > max {
                if head.is_none() {
                    head = Some(avail[..avail.len().min(LINE_EDGE)].to_vec());
                }
                // Keep the last octets only, to see a literal at the end.
                tail.extend_from_slice(avail);
                let keep = tail.len().saturating_sub(LINE_EDGE);
                tail.drain(..keep);
                self.start = 0;
                self.end = 0;
            }
            self.fill(deadline).await?;
        }
    }

    /// Appends exactly `n` octets to `dst`. Each read must come within
    /// `per_read`, and all of it by `deadline`.
    pub async fn read_literal(
        &mut self,
        dst: &mut Vec<u8>,
        n: usize,
        per_read: Duration,
        deadline: Instant,
    ) -> Result<(), SessionError> {
        let mut left = n;
        loop {
            let take = left.min(self.end - self.start);
            dst.extend_from_slice(&self.buf[self.start..self.start + take]);
            self.start += take;
            left -= take;
            if left == 0 {
                return Ok(());
            }
            let d = (Instant::now() + per_read).min(deadline);
            self.fill(d).await?;
        }
    }

    /// Switch to TLS: buffered plaintext is discarded first, so nothing a
    /// client sent before the handshake is read as a command (RFC 9051
    /// §6.2.1, threats T1b). Returns how many octets were discarded.
    pub async fn start_tls(
        &mut self,
        acceptor: &TlsAcceptor,
        limit: Duration,
    ) -> Result<usize, SessionError> {
        self.flush().await?;
        let discarded = self.end - self.start;
        self.start = 0;
        self.end = 0;
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

    /// Write what is queued and close the write side (TLS close_notify).
    pub async fn close(&mut self) {
        // Errors here change nothing: the connection ends either way.
        let _ = self.flush().await;
        let _ = timeout(self.write_timeout, self.conn.shutdown()).await;
    }
}
