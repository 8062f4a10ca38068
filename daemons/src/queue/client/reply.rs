//! SMTP replies as the client reads them (RFC 5321 §4.2): a three-digit
//! code, `-` on every line but the last, text. A peer is not trusted: a
//! reply line is at most [`MAX_REPLY_LINE`] bytes and a whole reply at
//! most [`MAX_REPLY_SIZE`]; every line of a reply must carry the same
//! code; control characters (NUL, a CR that does not end the line) make
//! the reply malformed. Reply text is never written anywhere raw: use
//! [`Reply::escaped`].

use std::time::Duration;

use tokio::io::{AsyncRead, AsyncReadExt};

/// Longest reply line accepted (RFC 5321 §4.5.3.1.5 says 512 octets;
/// real servers send longer ones).
pub const MAX_REPLY_LINE: usize = 4 * 1024;
/// Longest multi-line reply accepted, all lines together.
pub const MAX_REPLY_SIZE: usize = 64 * 1024;
/// Bytes read from the peer per read call.
const READ_CHUNK: usize = 8 * 1024;
/// Longest reply text kept in an escaped rendering.
pub const MAX_ESCAPED_TEXT: usize = 512;

/// One parsed reply.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reply {
    pub code: u16,
    /// Text of each line after `NNN-`/`NNN `, as received (lossy UTF-8).
    pub lines: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ReplyError {
    #[error("reply line longer than {MAX_REPLY_LINE} bytes")]
    LineTooLong,
    #[error("reply longer than {MAX_REPLY_SIZE} bytes")]
    TooLong,
    #[error("malformed reply line")]
    Malformed,
    #[error("invalid reply code")]
    BadCode,
    #[error("reply lines with different codes")]
    MixedCodes,
    #[error("control character in reply")]
    Control,
}

impl Reply {
    /// First digit: 2 success, 3 intermediate, 4 transient, 5 permanent.
    pub fn class(&self) -> u16 {
        self.code / 100
    }

    pub fn is_positive(&self) -> bool {
        matches!(self.class(), 2 | 3)
    }

    pub fn is_transient(&self) -> bool {
        self.class() == 4
    }

    pub fn is_permanent(&self) -> bool {
        self.class() == 5
    }

    /// The enhanced status code at the start of the first line (RFC 3463
    /// §2, RFC 2034), if its class matches the reply's.
    pub fn enhanced(&self) -> Option<String> {
        let first = self.lines.first()?;
        let word = first.split(' ').next()?;
        let mut parts = word.split('.');
        let (c, s, d) = (parts.next()?, parts.next()?, parts.next()?);
        let num = |p: &str, max: usize| {
            !p.is_empty() && p.len() <= max && p.bytes().all(|b| b.is_ascii_digit())
        };
        let class_ok = c.len() == 1 && u16::from(c.as_bytes()[0] - b'0') == self.class();
        (parts.next().is_none() && class_ok && num(s, 3) && num(d, 3)).then(|| word.to_string())
    }

    /// The reply on one line, safe to put in a log, a queue row or a DSN
    /// field: printable ASCII only (anything else as `\xNN`), lines joined
    /// with " / ", cut at [`MAX_ESCAPED_TEXT`] characters.
    pub fn escaped(&self) -> String {
        let mut out = format!("{}", self.code);
        for (i, l) in self.lines.iter().enumerate() {
            out.push_str(if i == 0 { " " } else { " / " });
            out.push_str(&escape(l));
            if out.len() > MAX_ESCAPED_TEXT {
                break;
            }
        }
        cut(out, MAX_ESCAPED_TEXT)
    }
}

/// Printable ASCII as is, everything else as `\xNN` per UTF-8 byte.
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if (0x20..0x7f).contains(&b) && b != b'\\' {
            out.push(b as char);
        } else {
            out.push_str(&format!("\\x{b:02x}"));
        }
    }
    out
}

/// At most `max` bytes of an ASCII string, with "..." when cut.
fn cut(mut s: String, max: usize) -> String {
    if s.len() > max {
        s.truncate(max.saturating_sub(3));
        s.push_str("...");
    }
    s
}

/// RFC 5321 §4.2: first digit 2-5, second 0-5, third 0-9.
fn parse_code(b: &[u8]) -> Result<u16, ReplyError> {
    match b {
        [a @ b'2'..=b'5', m @ b'0'..=b'5', c @ b'0'..=b'9'] => {
            Ok(u16::from(a - b'0') * 100 + u16::from(m - b'0') * 10 + u16::from(c - b'0'))
        }
        [a, m, c] if a.is_ascii_digit() && m.is_ascii_digit() && c.is_ascii_digit() => {
            Err(ReplyError::BadCode)
        }
        _ => Err(ReplyError::Malformed),
    }
}

/// One complete reply from the start of `buf`: `Ok(None)` when more bytes
/// are needed, else the reply and how many bytes it took. Lines end in
/// CRLF; a bare LF is accepted as a line end, a CR anywhere else is not.
pub fn parse_reply(buf: &[u8]) -> Result<Option<(Reply, usize)>, ReplyError> {
    let mut pos = 0;
    let mut code = None;
    let mut lines = Vec::new();
    loop {
        let rest = &buf[pos..];
        let window = &rest[..rest.len().min(MAX_REPLY_LINE + 2)];
        let Some(nl) = window.iter().position(|&b| b == b'\n') else {
            if rest.len() > MAX_REPLY_LINE + 1 {
                return Err(ReplyError::LineTooLong);
            }
            if buf.len() > MAX_REPLY_SIZE {
                return Err(ReplyError::TooLong);
            }
            return Ok(None);
        };
        let end = pos + nl + 1;
        if end > MAX_REPLY_SIZE {
            return Err(ReplyError::TooLong);
        }
        let mut line = &rest[..nl];
        if let Some(l) = line.strip_suffix(b"\r") {
            line = l;
        }
        if line.len() > MAX_REPLY_LINE {
            return Err(ReplyError::LineTooLong);
        }
        if line.len() < 3 {
            return Err(ReplyError::Malformed);
        }
        let this = parse_code(&line[..3])?;
        if *code.get_or_insert(this) != this {
            return Err(ReplyError::MixedCodes);
        }
        let (last, text) = match line.get(3) {
            None => (true, &line[3..]),
            Some(b' ') => (true, &line[4..]),
            Some(b'-') => (false, &line[4..]),
            Some(_) => return Err(ReplyError::Malformed),
        };
        if text.iter().any(|&b| (b < 0x20 && b != b'\t') || b == 0x7f) {
            return Err(ReplyError::Control);
        }
        lines.push(String::from_utf8_lossy(text).into_owned());
        pos = end;
        if last {
            return Ok(Some((Reply { code: this, lines }, pos)));
        }
    }
}

/// Why reading a reply failed.
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    #[error("{0}")]
    Reply(#[from] ReplyError),
    #[error("connection closed by peer")]
    Closed,
    #[error("no reply within {0:?}")]
    Timeout(Duration),
    #[error("read: {0}")]
    Io(#[from] std::io::Error),
}

/// Buffered reply reading from a connection.
#[derive(Debug, Default)]
pub struct ReplyReader {
    buf: Vec<u8>,
}

impl ReplyReader {
    /// The next reply, within `limit` in total.
    pub async fn read<S: AsyncRead + Unpin>(
        &mut self,
        stream: &mut S,
        limit: Duration,
    ) -> Result<Reply, ReadError> {
        let work = async {
            loop {
                if let Some((reply, n)) = parse_reply(&self.buf)? {
                    self.buf.drain(..n);
                    return Ok(reply);
                }
                let old = self.buf.len();
                self.buf.resize(old + READ_CHUNK, 0);
                let n = stream.read(&mut self.buf[old..]).await;
                self.buf.truncate(old + *n.as_ref().unwrap_or(&0));
                match n? {
                    0 => return Err(ReadError::Closed),
                    _ => continue,
                }
            }
        };
        tokio::time::timeout(limit, work)
            .await
            .map_err(|_| ReadError::Timeout(limit))?
    }

    /// Drops bytes received but not yet parsed; returns how many. Used
    /// after `220` to STARTTLS: anything the peer sent before the TLS
    /// handshake must not be read as a reply after it (threat T2).
    pub fn discard(&mut self) -> usize {
        let n = self.buf.len();
        self.buf.clear();
        n
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn one(s: &[u8]) -> Result<Option<(Reply, usize)>, ReplyError> {
        parse_reply(s)
    }

    #[test]
    fn single_and_multi_line() {
        let (r, n) = one(b"250 ok\r\nrest").unwrap().unwrap();
        assert_eq!(
            (r.code, r.lines.clone(), n),
            (250, vec!["ok".to_string()], 8)
        );
        let (r, n) = one(b"250-mx.example\r\n250-PIPELINING\r\n250 SIZE 100\r\n")
            .unwrap()
            .unwrap();
        assert_eq!(r.code, 250);
        assert_eq!(r.lines, ["mx.example", "PIPELINING", "SIZE 100"]);
        assert_eq!(n, 46);
        // Code alone, and bare LF line ends.
        let (r, _) = one(b"220\n").unwrap().unwrap();
        assert_eq!((r.code, r.lines), (220, vec![String::new()]));
        let (r, _) = one(b"354-a\n354 b\n").unwrap().unwrap();
        assert_eq!(r.lines, ["a", "b"]);
    }

    #[test]
    fn incomplete_needs_more() {
        assert_eq!(one(b"").unwrap(), None);
        assert_eq!(one(b"25").unwrap(), None);
        assert_eq!(one(b"250-a\r\n250").unwrap(), None);
        // CR without LF: not a line end yet.
        assert_eq!(one(b"250 ok\r").unwrap(), None);
    }

    #[test]
    fn hostile_ten_megabyte_line() {
        let mut b = b"250 ".to_vec();
        b.extend(std::iter::repeat_n(b'a', 10 * 1024 * 1024));
        assert_eq!(one(&b).unwrap_err(), ReplyError::LineTooLong);
        // Also when the line does end, later.
        b.extend_from_slice(b"\r\n");
        assert_eq!(one(&b).unwrap_err(), ReplyError::LineTooLong);
        // Just below the limit is fine.
        let mut ok = b"250 ".to_vec();
        ok.extend(std::iter::repeat_n(b'a', MAX_REPLY_LINE - 4));
        ok.extend_from_slice(b"\r\n");
        assert_eq!(
            one(&ok).unwrap().unwrap().0.lines[0].len(),
            MAX_REPLY_LINE - 4
        );
    }

    #[test]
    fn hostile_hundred_thousand_continuations() {
        let b: Vec<u8> = b"250-x\r\n".repeat(100_000);
        assert_eq!(one(&b).unwrap_err(), ReplyError::TooLong);
        // Incomplete but already too long.
        let b: Vec<u8> = b"250-x\r\n".repeat(MAX_REPLY_SIZE / 7 + 1);
        assert_eq!(one(&b[..b.len() - 1]).unwrap_err(), ReplyError::TooLong);
    }

    #[test]
    fn hostile_nul_cr_and_codes() {
        assert_eq!(one(b"250 a\0b\r\n").unwrap_err(), ReplyError::Control);
        assert_eq!(one(b"250\0\r\n").unwrap_err(), ReplyError::Malformed);
        assert_eq!(one(b"250 a\rb\r\n").unwrap_err(), ReplyError::Control);
        assert_eq!(one(b"250-a\r250 b\r\n").unwrap_err(), ReplyError::Control);
        assert_eq!(one(b"999 no\r\n").unwrap_err(), ReplyError::BadCode);
        assert_eq!(one(b"160 no\r\n").unwrap_err(), ReplyError::BadCode);
        assert_eq!(one(b"2x0 no\r\n").unwrap_err(), ReplyError::Malformed);
        assert_eq!(one(b"250_no\r\n").unwrap_err(), ReplyError::Malformed);
        assert_eq!(one(b"25\r\n").unwrap_err(), ReplyError::Malformed);
        assert_eq!(
            one(b"250-a\r\n550 b\r\n").unwrap_err(),
            ReplyError::MixedCodes
        );
    }

    #[test]
    fn escaped_text_is_one_safe_line() {
        let r = Reply {
            code: 550,
            lines: vec!["5.1.1 no\tuser é".into(), "<b>x</b>".into()],
        };
        assert_eq!(r.escaped(), "550 5.1.1 no\\x09user \\xc3\\xa9 / <b>x</b>");
        let long = Reply {
            code: 550,
            lines: vec!["a".repeat(2000)],
        };
        let e = long.escaped();
        assert_eq!(e.len(), MAX_ESCAPED_TEXT);
        assert!(e.ends_with("..."));
    }

    #[test]
    fn enhanced_codes() {
        let r = |code, t: &str| Reply {
            code,
            lines: vec![t.into()],
        };
        assert_eq!(
            r(550, "5.1.1 no such user").enhanced().as_deref(),
            Some("5.1.1")
        );
        assert_eq!(r(451, "4.7.1 later").enhanced().as_deref(), Some("4.7.1"));
        assert_eq!(r(550, "4.1.1 mismatch").enhanced(), None);
        assert_eq!(r(550, "no code").enhanced(), None);
        assert_eq!(r(550, "5.1.1234 x").enhanced(), None);
    }

    #[tokio::test]
    async fn reader_splits_pipelined_replies_and_discards() {
        let (mut a, mut b) = tokio::io::duplex(1024);
        use tokio::io::AsyncWriteExt;
        b.write_all(b"250 a\r\n250 b\r\n220 go\r\n250-fake\r\n")
            .await
            .unwrap();
        let mut r = ReplyReader::default();
        let t = Duration::from_secs(5);
        assert_eq!(r.read(&mut a, t).await.unwrap().lines, ["a"]);
        assert_eq!(r.read(&mut a, t).await.unwrap().lines, ["b"]);
        assert_eq!(r.read(&mut a, t).await.unwrap().code, 220);
        // Injected bytes after 220 to STARTTLS are dropped.
        assert_eq!(r.discard(), 10);
        drop(b);
        assert!(matches!(r.read(&mut a, t).await, Err(ReadError::Closed)));
    }

    #[tokio::test]
    async fn reader_times_out_on_a_silent_peer() {
        let (mut a, _b) = tokio::io::duplex(64);
        let mut r = ReplyReader::default();
        let e = r.read(&mut a, Duration::from_millis(50)).await.unwrap_err();
        assert!(matches!(e, ReadError::Timeout(_)), "{e}");
    }
}
