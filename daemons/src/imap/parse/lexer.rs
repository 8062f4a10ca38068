//! The lexical layer of IMAP commands (RFC 9051 §4 data formats, §9
//! formal syntax): a cursor over one complete command — its line or lines
//! with literal octets inline, as the session assembled them — with one
//! method per grammar token. Every method either consumes its token or
//! returns an error; none panics on any input.

use std::borrow::Cow;

use super::{Options, ParseError};

/// RFC 9051 §9 `atom-specials` minus CTL and SP (handled by the range check).
const ATOM_SPECIALS: &[u8] = b"(){%*\"\\]";

/// Deepest nesting of parenthesised lists and search keys (threats T11:
/// 10,000 nested `(` must not exhaust the stack).
pub const MAX_NESTING: usize = 64;

/// Longest decimal number the grammar allows (`number64`: 2^63-1 has 19 digits).
const MAX_DIGITS: usize = 19;

/// RFC 9051 §9 `ATOM-CHAR`.
pub fn is_atom_char(b: u8) -> bool {
    (0x21..=0x7e).contains(&b) && !ATOM_SPECIALS.contains(&b)
}

/// RFC 9051 §9 `ASTRING-CHAR = ATOM-CHAR / resp-specials`.
pub fn is_astring_char(b: u8) -> bool {
    is_atom_char(b) || b == b']'
}

/// RFC 9051 §9 `tag = 1*<any ASTRING-CHAR except "+">`.
pub fn is_tag_char(b: u8) -> bool {
    is_astring_char(b) && b != b'+'
}

/// RFC 9051 §9 `list-char = ATOM-CHAR / list-wildcards / resp-specials`.
pub fn is_list_char(b: u8) -> bool {
    is_astring_char(b) || b == b'%' || b == b'*'
}

/// A literal as found in the command (RFC 9051 §4.3, RFC 3516 §4.2 `literal8`).
#[derive(Debug, Clone, Copy)]
pub struct Literal<'a> {
    pub data: &'a [u8],
    /// `~{n}`: may hold any octet, including NUL.
    pub binary: bool,
}

pub struct Cursor<'a> {
    buf: &'a [u8],
    pos: usize,
    depth: usize,
    pub opts: Options,
}

impl<'a> Cursor<'a> {
    pub fn new(buf: &'a [u8], opts: Options) -> Cursor<'a> {
        Cursor {
            buf,
            pos: 0,
            depth: 0,
            opts,
        }
    }

    pub fn err(&self, msg: impl Into<String>) -> ParseError {
        ParseError::syntax(msg)
    }

    pub fn peek(&self) -> Option<u8> {
        self.buf.get(self.pos).copied()
    }

    pub fn peek_at(&self, n: usize) -> Option<u8> {
        self.buf.get(self.pos + n).copied()
    }

    pub fn rest(&self) -> &'a [u8] {
        &self.buf[self.pos.min(self.buf.len())..]
    }

    /// Skips `n` octets (callers have looked at them with [`Cursor::rest`]).
    pub fn advance(&mut self, n: usize) {
        self.pos = (self.pos + n).min(self.buf.len());
    }

    /// Consumes `b` if it is next.
    pub fn eat(&mut self, b: u8) -> bool {
        if self.peek() == Some(b) {
            self.pos += 1;
            true
        } else {
            false
        }
    }

    pub fn expect(&mut self, b: u8) -> Result<(), ParseError> {
        if self.eat(b) {
            Ok(())
        } else {
            Err(self.err(format!("expected {:?}", char::from(b))))
        }
    }

    /// Exactly one space (RFC 9051 §9 `SP`).
    pub fn sp(&mut self) -> Result<(), ParseError> {
        self.expect(b' ')
    }

    /// True at the command's final line end.
    pub fn at_end(&self) -> bool {
        matches!(self.rest(), b"\r\n" | b"\n" | b"")
    }

    /// The end of the command: CRLF (a bare LF is tolerated) and nothing after.
    pub fn end(&mut self) -> Result<(), ParseError> {
        if self.at_end() {
            self.pos = self.buf.len();
            Ok(())
        } else {
            Err(self.err("unexpected characters at end of command"))
        }
    }

    /// A space followed by more arguments (not the end of the command).
    pub fn more(&mut self) -> bool {
        if self.peek() == Some(b' ') && !matches!(self.peek_at(1), Some(b'\r' | b'\n') | None) {
            self.pos += 1;
            true
        } else {
            false
        }
    }

    /// Enter a nested construct; errors beyond [`MAX_NESTING`].
    pub fn enter(&mut self) -> Result<(), ParseError> {
        self.depth += 1;
        if self.depth > MAX_NESTING {
            return Err(self.err(format!("nested more than {MAX_NESTING} levels deep")));
        }
        Ok(())
    }

    pub fn leave(&mut self) {
        self.depth = self.depth.saturating_sub(1);
    }

    fn take_while(&mut self, f: impl Fn(u8) -> bool) -> &'a [u8] {
        let start = self.pos;
        while self.peek().is_some_and(&f) {
            self.pos += 1;
        }
        &self.buf[start..self.pos]
    }

    /// Bytes of the given class, at least one, as ASCII text.
    fn chars(&mut self, f: impl Fn(u8) -> bool, what: &str) -> Result<&'a str, ParseError> {
        let s = self.take_while(f);
        if s.is_empty() {
            return Err(self.err(format!("expected {what}")));
        }
        // The classes above are all ASCII.
        std::str::from_utf8(s).map_err(|_| self.err(format!("expected {what}")))
    }

    /// RFC 9051 §9 `atom`.
    pub fn atom(&mut self) -> Result<&'a str, ParseError> {
        self.chars(is_atom_char, "atom")
    }

    /// RFC 9051 §9 `tag`.
    pub fn tag(&mut self) -> Result<&'a str, ParseError> {
        self.chars(is_tag_char, "tag")
    }

    /// An atom that must equal `word` (case-insensitively).
    pub fn keyword(&mut self, word: &str) -> Result<(), ParseError> {
        let start = self.pos;
        let a = self.atom()?;
        if a.eq_ignore_ascii_case(word) {
            Ok(())
        } else {
            self.pos = start;
            Err(self.err(format!("expected {word}")))
        }
    }

    /// Consumes `word` if the next atom is exactly it.
    pub fn eat_keyword(&mut self, word: &str) -> bool {
        let start = self.pos;
        match self.atom() {
            Ok(a) if a.eq_ignore_ascii_case(word) => true,
            _ => {
                self.pos = start;
                false
            }
        }
    }

    /// Consumes the literal text `s` (case-insensitively) if it is next.
    pub fn eat_str(&mut self, s: &str) -> bool {
        let r = self.rest();
        if r.len() >= s.len() && r[..s.len()].eq_ignore_ascii_case(s.as_bytes()) {
            self.pos += s.len();
            true
        } else {
            false
        }
    }

    fn digits(&mut self) -> Result<&'a str, ParseError> {
        let d = self.chars(|b| b.is_ascii_digit(), "number")?;
        if d.len() > MAX_DIGITS {
            return Err(self.err("number too large"));
        }
        Ok(d)
    }

    /// RFC 9051 §9 `number` (32 bits).
    pub fn number(&mut self) -> Result<u32, ParseError> {
        let d = self.digits()?;
        d.parse().map_err(|_| self.err("number too large"))
    }

    /// RFC 9051 §9 `nz-number`.
    pub fn nz_number(&mut self) -> Result<u32, ParseError> {
        match self.number()? {
            0 => Err(self.err("zero is not allowed here")),
            n => Ok(n),
        }
    }

    /// RFC 9051 §9 `number64` (0 ..= 2^63-1).
    pub fn number64(&mut self) -> Result<u64, ParseError> {
        let d = self.digits()?;
        let n: u64 = d.parse().map_err(|_| self.err("number too large"))?;
        if n > i64::MAX as u64 {
            return Err(self.err("number too large"));
        }
        Ok(n)
    }

    /// RFC 7162 §7 `mod-sequence-value` (1 ..= 2^63-1).
    pub fn modseq(&mut self) -> Result<u64, ParseError> {
        match self.number64()? {
            0 => Err(self.err("mod-sequence must not be zero")),
            n => Ok(n),
        }
    }

    /// RFC 9051 §9 `quoted`: no CR, LF or NUL (threats T5); `\` escapes
    /// only `"` and `\`; octets above 127 must form UTF-8 (§4.3).
    pub fn quoted(&mut self) -> Result<Cow<'a, [u8]>, ParseError> {
        self.expect(b'"')?;
        let start = self.pos;
        let mut owned: Option<Vec<u8>> = None;
        loop {
            let Some(b) = self.peek() else {
                return Err(self.err("unterminated quoted string"));
            };
            self.pos += 1;
            match b {
                b'"' => break,
                b'\\' => {
                    let e = self.peek();
                    let Some(e @ (b'"' | b'\\')) = e else {
                        return Err(self.err("invalid escape in quoted string"));
                    };
                    self.pos += 1;
                    let v = owned.get_or_insert_with(|| self.buf[start..self.pos - 2].to_vec());
                    v.push(e);
                }
                b'\r' | b'\n' | 0 => {
                    return Err(self.err("CR, LF or NUL in quoted string"));
                }
                _ => {
                    if let Some(v) = owned.as_mut() {
                        v.push(b);
                    }
                }
            }
        }
        let s: Cow<'a, [u8]> = match owned {
            Some(v) => Cow::Owned(v),
            None => Cow::Borrowed(&self.buf[start..self.pos - 1]),
        };
        if !s.is_ascii() && std::str::from_utf8(&s).is_err() {
            return Err(self.err("quoted string is not valid UTF-8"));
        }
        Ok(s)
    }

    /// RFC 9051 §4.3 `literal` (`{n}`, `{n+}` RFC 7888) or RFC 3516
    /// `literal8` (`~{n}`); the session already placed the octets after
    /// the CRLF.
    pub fn literal_any(&mut self) -> Result<Literal<'a>, ParseError> {
        let binary = self.eat(b'~');
        self.expect(b'{')?;
        let n = self.number64()?;
        self.eat(b'+');
        self.expect(b'}')?;
        if !self.eat_str("\r\n") && !self.eat(b'\n') {
            return Err(self.err("literal header must end the line"));
        }
        let n = usize::try_from(n).map_err(|_| self.err("literal too large"))?;
        let end = self
            .pos
            .checked_add(n)
            .filter(|&e| e <= self.buf.len())
            .ok_or_else(|| self.err("truncated literal"))?;
        let data = &self.buf[self.pos..end];
        self.pos = end;
        Ok(Literal { data, binary })
    }

    /// A `literal` where a string is expected: no NUL octets (RFC 9051 §4.3
    /// `CHAR8`, threats T5) and no `literal8`.
    pub fn literal(&mut self) -> Result<&'a [u8], ParseError> {
        if self.peek() == Some(b'~') {
            return Err(self.err("literal8 not allowed here"));
        }
        let lit = self.literal_any()?;
        if lit.data.contains(&0) {
            return Err(self.err("NUL in literal"));
        }
        Ok(lit.data)
    }

    /// RFC 9051 §9 `string = quoted / literal`.
    pub fn string(&mut self) -> Result<Cow<'a, [u8]>, ParseError> {
        match self.peek() {
            Some(b'"') => self.quoted(),
            Some(b'{') => self.literal().map(Cow::Borrowed),
            _ => Err(self.err("expected string")),
        }
    }

    /// RFC 9051 §9 `astring = 1*ASTRING-CHAR / string`.
    pub fn astring(&mut self) -> Result<Cow<'a, [u8]>, ParseError> {
        match self.peek() {
            Some(b'"' | b'{') => self.string(),
            _ => {
                let s = self.chars(is_astring_char, "astring")?;
                Ok(Cow::Borrowed(s.as_bytes()))
            }
        }
    }

    /// RFC 9051 §9 `nstring = string / nil`.
    pub fn nstring(&mut self) -> Result<Option<Cow<'a, [u8]>>, ParseError> {
        if matches!(self.peek(), Some(b'"' | b'{')) {
            return self.string().map(Some);
        }
        self.keyword("NIL").map(|()| None)
    }

    /// An astring that must be UTF-8 text.
    pub fn astring_utf8(&mut self) -> Result<String, ParseError> {
        let s = self.astring()?;
        utf8(s).map_err(|_| self.err("string is not valid UTF-8"))
    }

    /// A string that must be UTF-8 text.
    pub fn string_utf8(&mut self) -> Result<String, ParseError> {
        let s = self.string()?;
        utf8(s).map_err(|_| self.err("string is not valid UTF-8"))
    }

    /// RFC 9051 §9 `list-mailbox = 1*list-char / string`, raw.
    pub fn list_mailbox(&mut self) -> Result<Cow<'a, [u8]>, ParseError> {
        match self.peek() {
            Some(b'"' | b'{') => self.string(),
            _ => {
                let s = self.chars(is_list_char, "mailbox pattern")?;
                Ok(Cow::Borrowed(s.as_bytes()))
            }
        }
    }

    /// `"(" item *(SP item) ")"`, or `"()"` when `allow_empty`.
    pub fn paren_list<T>(
        &mut self,
        allow_empty: bool,
        mut item: impl FnMut(&mut Cursor<'a>) -> Result<T, ParseError>,
    ) -> Result<Vec<T>, ParseError> {
        self.expect(b'(')?;
        self.enter()?;
        let mut out = Vec::new();
        if self.eat(b')') {
            self.leave();
            if allow_empty {
                return Ok(out);
            }
            return Err(self.err("empty list"));
        }
        loop {
            out.push(item(self)?);
            if self.eat(b')') {
                break;
            }
            self.sp()?;
        }
        self.leave();
        Ok(out)
    }
}

/// Bytes to a `String`, rejecting invalid UTF-8 (overlong forms and
/// surrogates included: threats T7).
pub fn utf8(s: Cow<'_, [u8]>) -> Result<String, std::string::FromUtf8Error> {
    String::from_utf8(s.into_owned())
}
