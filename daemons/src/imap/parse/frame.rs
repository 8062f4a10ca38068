//! Command framing (RFC 9051 §2.2.1, §4.3; RFC 7888 non-synchronizing
//! literals; RFC 3516 `literal8`). A command is one line, or several
//! joined by literals: a line that ends in `{n}` is followed by n octets
//! and then the rest of the command. [`Frame`] collects one command and
//! checks every announced literal against the limits *before* any octet
//! of it is read or `+` is sent (threats T11: literal bombs).

/// A literal announced at the end of a line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LiteralHeader {
    pub len: u64,
    /// `{n}` (true): the client waits for `+`; `{n+}` (false): it does not.
    pub sync: bool,
    /// `~{n}` (RFC 3516).
    pub binary: bool,
}

/// Limits on one command; the session picks them for its state
/// (small before authentication).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FrameLimits {
    /// Largest literal in a command other than APPEND.
    pub max_literal: u64,
    /// Largest APPEND message literal (APPENDLIMIT, RFC 7889).
    pub max_append_literal: u64,
    /// Most literals in one command.
    pub max_literals: usize,
    /// Most octets of a command other than APPEND, literals included.
    pub max_command: u64,
    /// Most octets of one APPEND command (all MULTIAPPEND messages).
    pub max_append_command: u64,
}

/// A literal the limits do not allow; nothing of it has been read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LiteralRefused {
    pub tag: Option<String>,
    pub header: LiteralHeader,
    pub reason: String,
}

/// The literal announced by a line, if any (`line` includes its LF).
pub fn trailing_literal(line: &[u8]) -> Option<LiteralHeader> {
    let l = line.strip_suffix(b"\n")?;
    let l = l.strip_suffix(b"\r").unwrap_or(l);
    let l = l.strip_suffix(b"}")?;
    let (l, sync) = match l.strip_suffix(b"+") {
        Some(rest) => (rest, false),
        None => (l, true),
    };
    let digits = l.iter().rev().take_while(|b| b.is_ascii_digit()).count();
    if digits == 0 {
        return None;
    }
    let (l, num) = l.split_at(l.len() - digits);
    let l = l.strip_suffix(b"{")?;
    let binary = l.ends_with(b"~");
    // An absurd number still frames as a literal, so that it is refused
    // rather than read as the end of a command.
    let len = std::str::from_utf8(num)
        .ok()
        .and_then(|s| s.parse::<u64>().ok())
        .unwrap_or(u64::MAX);
    Some(LiteralHeader { len, sync, binary })
}

/// One command being collected.
#[derive(Debug, Default)]
pub struct Frame {
    buf: Vec<u8>,
    literals: usize,
    tag: Option<String>,
    append: bool,
}

impl Frame {
    pub fn new() -> Frame {
        Frame::default()
    }

    /// The tag, once the first line is in (None if it has none).
    pub fn tag(&self) -> Option<&str> {
        self.tag.as_deref()
    }

    pub fn is_append(&self) -> bool {
        self.append
    }

    pub fn len(&self) -> usize {
        self.buf.len()
    }

    pub fn is_empty(&self) -> bool {
        self.buf.is_empty()
    }

    /// Adds a line (with its line ending). Returns the literal that
    /// follows it, if any, after checking it against `limits`.
    pub fn push_line(
        &mut self,
        line: &[u8],
        limits: &FrameLimits,
    ) -> Result<Option<LiteralHeader>, LiteralRefused> {
        if self.buf.is_empty() {
            let (tag, append) = command_start(line);
            self.tag = tag;
            self.append = append;
        }
        self.buf.extend_from_slice(line);
        let Some(header) = trailing_literal(line) else {
            return Ok(None);
        };
        self.literals += 1;
        let refuse = |reason: String| LiteralRefused {
            tag: self.tag.clone(),
            header,
            reason,
        };
        if self.literals > limits.max_literals {
            return Err(refuse(format!(
                "more than {} literals in one command",
                limits.max_literals
            )));
        }
        let (max_lit, max_cmd) = if self.append {
            (limits.max_append_literal, limits.max_append_command)
        } else {
            (limits.max_literal, limits.max_command)
        };
        if header.len > max_lit {
            return Err(refuse(format!(
                "literal of {} octets is larger than the limit of {max_lit}",
                header.len
            )));
        }
        let total = (self.buf.len() as u64).saturating_add(header.len);
        if total > max_cmd {
            return Err(refuse(format!(
                "command larger than the limit of {max_cmd} octets"
            )));
        }
        Ok(Some(header))
    }

    /// Adds the octets of the literal announced last.
    pub fn push_literal(&mut self, data: &[u8]) {
        self.buf.extend_from_slice(data);
    }

    /// Reserve room for a literal about to be read.
    pub fn reserve(&mut self, n: usize) {
        self.buf.reserve(n);
    }

    pub fn buf(&self) -> &[u8] {
        &self.buf
    }

    pub fn buf_mut(&mut self) -> &mut Vec<u8> {
        &mut self.buf
    }
}

/// The tag and whether the command is APPEND, from its first line.
fn command_start(line: &[u8]) -> (Option<String>, bool) {
    let tag_len = line
        .iter()
        .take_while(|&&b| super::lexer::is_tag_char(b))
        .count();
    if tag_len == 0 || line.get(tag_len) != Some(&b' ') {
        return (None, false);
    }
    let tag = String::from_utf8_lossy(&line[..tag_len]).into_owned();
    let rest = &line[tag_len + 1..];
    let name_len = rest
        .iter()
        .take_while(|&&b| super::lexer::is_atom_char(b))
        .count();
    let append = rest[..name_len].eq_ignore_ascii_case(b"APPEND");
    (Some(tag), append)
}

#[cfg(test)]
mod tests {
    use super::*;

    const LIMITS: FrameLimits = FrameLimits {
        max_literal: 100,
        max_append_literal: 1000,
        max_literals: 3,
        max_command: 300,
        max_append_command: 2000,
    };

    #[test]
    fn literal_headers() {
        let h = |s: &[u8]| trailing_literal(s);
        assert_eq!(
            h(b"a LOGIN {5}\r\n"),
            Some(LiteralHeader {
                len: 5,
                sync: true,
                binary: false
            })
        );
        assert_eq!(
            h(b"a APPEND x ~{7+}\n"),
            Some(LiteralHeader {
                len: 7,
                sync: false,
                binary: true
            })
        );
        assert_eq!(h(b"a NOOP\r\n"), None);
        assert_eq!(h(b"a X {}\r\n"), None);
        assert_eq!(h(b"a X 5}\r\n"), None);
        assert_eq!(
            h(b"a X {99999999999999999999999}\r\n").map(|l| l.len),
            Some(u64::MAX)
        );
    }

    #[test]
    fn limits_apply_before_reading() {
        let mut f = Frame::new();
        // Threats T11: a pre-authentication literal bomb.
        let e = f
            .push_line(b"A LOGIN {4294967295}\r\n", &LIMITS)
            .unwrap_err();
        assert_eq!(e.tag.as_deref(), Some("A"));
        assert!(e.header.sync);

        let mut f = Frame::new();
        let h = f.push_line(b"B APPEND Inbox {500}\r\n", &LIMITS).unwrap();
        assert_eq!(h.map(|h| h.len), Some(500));
        assert!(f.is_append());
        f.push_literal(&[b'x'; 500]);
        assert!(f.push_line(b" {1001}\r\n", &LIMITS).is_err());

        let mut f = Frame::new();
        for _ in 0..3 {
            assert!(f.push_line(b"C X {1}\r\n", &LIMITS).unwrap().is_some());
            f.push_literal(b"a");
        }
        assert!(f.push_line(b" {1}\r\n", &LIMITS).is_err(), "too many");
    }
}
