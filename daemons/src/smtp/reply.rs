//! SMTP replies as typed values: a reply code (RFC 5321 §4.2), an optional
//! enhanced status code (RFC 3463, RFC 2034) and one or more text lines.
//! This is the only place that turns replies into wire bytes.

use std::fmt;

/// A three-digit reply code, RFC 5321 §4.2.1. Always within 200..=599.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Code(u16);

impl Code {
    /// RFC 5321 §4.1.1.8: help message.
    pub const HELP: Code = Code(214);
    pub const SERVICE_READY: Code = Code(220);
    pub const CLOSING: Code = Code(221);
    /// RFC 4954 §6.
    pub const AUTH_SUCCEEDED: Code = Code(235);
    pub const OK: Code = Code(250);
    /// RFC 5321 §3.5.3: VRFY "cannot verify, but will accept".
    pub const CANNOT_VRFY: Code = Code(252);
    /// RFC 4954 §4: server challenge.
    pub const AUTH_CHALLENGE: Code = Code(334);
    pub const START_MAIL_INPUT: Code = Code(354);
    pub const SERVICE_UNAVAILABLE: Code = Code(421);
    pub const MAILBOX_BUSY: Code = Code(450);
    pub const LOCAL_ERROR: Code = Code(451);
    pub const INSUFFICIENT_STORAGE: Code = Code(452);
    /// RFC 4954 §6: temporary authentication failure.
    pub const AUTH_TEMP_FAILURE: Code = Code(454);
    pub const SYNTAX_ERROR: Code = Code(500);
    pub const PARAM_SYNTAX_ERROR: Code = Code(501);
    pub const NOT_IMPLEMENTED: Code = Code(502);
    pub const BAD_SEQUENCE: Code = Code(503);
    pub const PARAM_NOT_IMPLEMENTED: Code = Code(504);
    /// RFC 4954 §6 / RFC 3207 §4: authentication or TLS required.
    pub const AUTH_REQUIRED: Code = Code(530);
    /// RFC 4954 §6.
    pub const AUTH_FAILED: Code = Code(535);
    pub const MAILBOX_UNAVAILABLE: Code = Code(550);
    pub const EXCEEDED_STORAGE: Code = Code(552);
    pub const MAILBOX_NAME_NOT_ALLOWED: Code = Code(553);
    pub const TRANSACTION_FAILED: Code = Code(554);
    /// RFC 5321 §4.2.3: MAIL/RCPT parameters not recognized.
    pub const PARAMS_NOT_RECOGNIZED: Code = Code(555);

    /// A code from a number; `None` outside 200..=599.
    pub fn new(n: u16) -> Option<Code> {
        (200..=599).contains(&n).then_some(Code(n))
    }

    pub fn value(self) -> u16 {
        self.0
    }

    /// The first digit (2, 3, 4 or 5), RFC 5321 §4.2.1.
    pub fn class(self) -> u8 {
        // 200..=599 / 100 always fits in u8.
        (self.0 / 100) as u8
    }

    pub fn is_positive(self) -> bool {
        self.class() <= 3
    }
}

impl fmt::Display for Code {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// An enhanced status code `class.subject.detail`, RFC 3463 §2.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Esc {
    pub class: u8,
    pub subject: u16,
    pub detail: u16,
}

const fn esc(class: u8, subject: u16, detail: u16) -> Esc {
    Esc {
        class,
        subject,
        detail,
    }
}

impl Esc {
    pub const OK: Esc = esc(2, 0, 0);
    /// RFC 3463 §3.2: other address status (sender accepted).
    pub const SENDER_OK: Esc = esc(2, 1, 0);
    /// RFC 3463 §3.2: destination address valid.
    pub const RECIPIENT_OK: Esc = esc(2, 1, 5);
    /// RFC 3463 §3.6.
    pub const MESSAGE_OK: Esc = esc(2, 6, 0);
    /// RFC 4954 §6.
    pub const AUTH_OK: Esc = esc(2, 7, 0);
    pub const OTHER_TEMP: Esc = esc(4, 0, 0);
    pub const OTHER_PERM: Esc = esc(5, 0, 0);
    /// RFC 3463 §3.2: bad destination mailbox address.
    pub const BAD_MAILBOX: Esc = esc(5, 1, 1);
    /// RFC 3463 §3.2: bad destination mailbox address syntax.
    pub const BAD_DEST_SYNTAX: Esc = esc(5, 1, 3);
    /// RFC 3463 §3.2: bad sender's mailbox address syntax.
    pub const BAD_SENDER_SYNTAX: Esc = esc(5, 1, 7);
    /// RFC 3463 §3.4: other or undefined mail system status.
    pub const SYSTEM_TEMP: Esc = esc(4, 3, 0);
    /// RFC 3463 §3.4: message too big for system.
    pub const TOO_BIG: Esc = esc(5, 3, 4);
    /// RFC 3463 §3.5: bad connection (used for timeouts).
    pub const TIMEOUT: Esc = esc(4, 4, 2);
    /// RFC 3463 §3.5: invalid command.
    pub const INVALID_COMMAND: Esc = esc(5, 5, 1);
    /// RFC 3463 §3.5: syntax error.
    pub const SYNTAX: Esc = esc(5, 5, 2);
    /// RFC 3463 §3.5: too many recipients (temporary form).
    pub const TOO_MANY_RCPTS: Esc = esc(4, 5, 3);
    /// RFC 3463 §3.5: invalid command arguments.
    pub const INVALID_ARGS: Esc = esc(5, 5, 4);
    /// RFC 4954 §6: authentication exchange line too long.
    pub const AUTH_LINE_TOO_LONG: Esc = esc(5, 5, 6);
    /// RFC 3463 §3.6: other or undefined media error.
    pub const MEDIA: Esc = esc(5, 6, 0);
    /// RFC 6531 §3.5: non-ASCII addresses not permitted.
    pub const NON_ASCII_ADDRESS: Esc = esc(5, 6, 7);
    /// RFC 4954 §6: authentication required.
    pub const SECURITY: Esc = esc(5, 7, 0);
    pub const SECURITY_TEMP: Esc = esc(4, 7, 0);
    /// RFC 3463 §3.8: delivery not authorized.
    pub const NOT_AUTHORIZED: Esc = esc(5, 7, 1);
    /// RFC 4954 §6: authentication credentials invalid.
    pub const BAD_CREDENTIALS: Esc = esc(5, 7, 8);
    /// RFC 5248: encryption needed (REQUIRETLS without TLS, AUTH without TLS).
    pub const ENCRYPTION_NEEDED: Esc = esc(5, 7, 10);

    /// The generic code `N.0.0` for a reply code's class, for codes without
    /// a more specific meaning (localserve fake failures).
    pub fn generic(code: Code) -> Esc {
        esc(code.class(), 0, 0)
    }
}

impl fmt::Display for Esc {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}.{}", self.class, self.subject, self.detail)
    }
}

/// One reply, possibly multi-line (RFC 5321 §4.2.1: `code-text` lines and a
/// final `code text` line).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reply {
    code: Code,
    esc: Option<Esc>,
    lines: Vec<String>,
}

impl Reply {
    /// A single-line reply with an enhanced status code.
    pub fn new(code: Code, esc: Esc, text: impl Into<String>) -> Reply {
        Reply {
            code,
            esc: Some(esc),
            lines: vec![text.into()],
        }
    }

    /// A reply without an enhanced status code: the greeting and replies to
    /// EHLO/HELO (RFC 2034 §3), and SASL challenges (RFC 4954 §4).
    pub fn plain(code: Code, text: impl Into<String>) -> Reply {
        Reply {
            code,
            esc: None,
            lines: vec![text.into()],
        }
    }

    /// A multi-line reply without enhanced status codes (EHLO, RFC 5321 §4.1.1.1).
    pub fn multiline(code: Code, lines: Vec<String>) -> Reply {
        let lines = if lines.is_empty() {
            vec![String::new()]
        } else {
            lines
        };
        Reply {
            code,
            esc: None,
            lines,
        }
    }

    pub fn code(&self) -> Code {
        self.code
    }

    pub fn esc(&self) -> Option<Esc> {
        self.esc
    }

    pub fn lines(&self) -> &[String] {
        &self.lines
    }

    /// Append the wire form to `out`. Text that came from a peer cannot
    /// break the framing: control characters become `?`.
    pub fn encode(&self, out: &mut Vec<u8>) {
        let last = self.lines.len().saturating_sub(1);
        for (i, line) in self.lines.iter().enumerate() {
            let sep = if i == last { ' ' } else { '-' };
            out.extend_from_slice(format!("{}{}", self.code, sep).as_bytes());
            if let Some(esc) = self.esc {
                out.extend_from_slice(format!("{esc} ").as_bytes());
            }
            for c in line.chars() {
                let c = if c.is_control() { '?' } else { c };
                let mut b = [0u8; 4];
                out.extend_from_slice(c.encode_utf8(&mut b).as_bytes());
            }
            out.extend_from_slice(b"\r\n");
        }
    }

    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::new();
        self.encode(&mut out);
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn single_line_with_esc() {
        let r = Reply::new(Code::OK, Esc::OK, "ok");
        assert_eq!(r.to_bytes(), b"250 2.0.0 ok\r\n");
    }

    #[test]
    fn multiline_ehlo() {
        let r = Reply::multiline(
            Code::OK,
            vec!["host".into(), "PIPELINING".into(), "SIZE 10".into()],
        );
        assert_eq!(
            r.to_bytes(),
            b"250-host\r\n250-PIPELINING\r\n250 SIZE 10\r\n"
        );
    }

    #[test]
    fn control_characters_are_replaced() {
        let r = Reply::new(Code::MAILBOX_UNAVAILABLE, Esc::BAD_MAILBOX, "a\r\n250 b\0");
        assert_eq!(r.to_bytes(), b"550 5.1.1 a??250 b?\r\n");
    }

    #[test]
    fn code_range_and_class() {
        assert!(Code::new(199).is_none());
        assert!(Code::new(600).is_none());
        let c = Code::new(452).map(|c| (c.class(), Esc::generic(c).to_string()));
        assert_eq!(c, Some((4, "4.0.0".to_string())));
        assert!(Code::OK.is_positive());
        assert!(!Code::LOCAL_ERROR.is_positive());
    }
}
