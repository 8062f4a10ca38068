//! Typed SMTP paths and mailboxes (RFC 5321 §4.1.2, with the UTF-8
//! extensions of RFC 6531 §3.3). Protocol input becomes an [`Address`] here
//! and the rest of the server never sees the raw path text.
//!
//! Decisions:
//! - Source routes (`<@a,@b:user@c>`) are accepted and the route is
//!   dropped, as RFC 5321 §4.1.2 and Appendix C tell servers to do.
//! - Address literals as the domain of a mailbox (`user@[192.0.2.1]`) are
//!   refused: moxd has no mailboxes at IP addresses.
//! - The local part is kept decoded (without quotes or backslashes); its
//!   `Display` form re-quotes it when needed. Domains are lower-cased.
//! - Non-ASCII is parsed here; whether it is allowed (SMTPUTF8 given on
//!   MAIL) is the session's decision (RFC 6531 §3.5).

use std::fmt;

use serde::{Deserialize, Serialize};

use super::idna::{self, IdnaError};

/// Why a path was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AddressError {
    #[error("path must be enclosed in <>")]
    Brackets,
    #[error("null path <> not allowed here")]
    Null,
    #[error("missing @ in address")]
    MissingAt,
    #[error("invalid local part")]
    LocalPart,
    #[error("invalid quoted local part")]
    Quoted,
    #[error("address literals are not accepted")]
    Literal,
    #[error("invalid source route")]
    Route,
    #[error("invalid domain: {0}")]
    Domain(#[from] IdnaError),
}

/// A domain name in both its ASCII (A-label) and Unicode (U-label) forms,
/// lower case (RFC 5890 §2.3.2).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Domain {
    ascii: String,
    unicode: String,
}

impl Domain {
    /// Parse a domain (RFC 5321 §4.1.2 `Domain`, RFC 6531 U-labels).
    pub fn parse(s: &str) -> Result<Domain, AddressError> {
        Self::parse_with(s, false)
    }

    fn parse_with(s: &str, allow_underscore: bool) -> Result<Domain, AddressError> {
        let f = idna::to_forms(s, allow_underscore)?;
        Ok(Domain {
            ascii: f.ascii,
            unicode: f.unicode,
        })
    }

    /// Lenient form for EHLO/HELO names: underscores are tolerated.
    pub(crate) fn parse_hello(s: &str) -> Result<Domain, AddressError> {
        Self::parse_with(s, true)
    }

    pub fn ascii(&self) -> &str {
        &self.ascii
    }

    pub fn unicode(&self) -> &str {
        &self.unicode
    }

    pub fn is_ascii(&self) -> bool {
        self.unicode.is_ascii()
    }
}

impl fmt::Display for Domain {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.unicode)
    }
}

/// The local part of a mailbox, decoded. Never contains control characters.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct LocalPart(String);

impl LocalPart {
    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn is_ascii(&self) -> bool {
        self.0.is_ascii()
    }

    /// Whether the decoded value is a Dot-string (RFC 5321 §4.1.2), i.e. can
    /// be written without quotes.
    fn is_dot_string(&self) -> bool {
        !self.0.is_empty()
            && self
                .0
                .split('.')
                .all(|atom| !atom.is_empty() && atom.chars().all(is_atext))
    }
}

impl fmt::Display for LocalPart {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.is_dot_string() {
            return f.write_str(&self.0);
        }
        f.write_str("\"")?;
        for c in self.0.chars() {
            if c == '"' || c == '\\' {
                f.write_str("\\")?;
            }
            write!(f, "{c}")?;
        }
        f.write_str("\"")
    }
}

/// A mailbox `local@domain` (RFC 5321 §4.1.2 `Mailbox`).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Address {
    pub local: LocalPart,
    pub domain: Domain,
}

impl Address {
    /// Parse `local@domain` without angle brackets.
    pub fn parse(s: &str) -> Result<Address, AddressError> {
        let mut p = Cursor { s, pos: 0 };
        let local = p.local_part()?;
        if !p.eat('@') {
            return Err(AddressError::MissingAt);
        }
        let domain = p.domain_until(|_| false)?;
        if !p.rest().is_empty() {
            return Err(AddressError::Brackets);
        }
        Ok(Address { local, domain })
    }

    /// Build from parts (e.g. `postmaster` at our hostname).
    pub fn new(local: &str, domain: Domain) -> Result<Address, AddressError> {
        let local = Cursor { s: local, pos: 0 }.local_part_exact()?;
        Ok(Address { local, domain })
    }

    /// Whether both parts are ASCII (no SMTPUTF8 needed, RFC 6531 §3.5).
    pub fn is_ascii(&self) -> bool {
        self.local.is_ascii() && self.domain.is_ascii()
    }

    /// The address with the domain in A-label form (local part unchanged).
    pub fn to_ascii_domain_string(&self) -> String {
        format!("{}@{}", self.local, self.domain.ascii)
    }
}

impl fmt::Display for Address {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}@{}", self.local, self.domain)
    }
}

/// MAIL FROM path: an address or the null path `<>` (RFC 5321 §4.1.1.2).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum ReversePath {
    Null,
    Address(Address),
}

impl ReversePath {
    /// Parse `<...>` at the start of `s`; returns the rest of the line.
    pub fn parse(s: &str) -> Result<(ReversePath, &str), AddressError> {
        match parse_path(s)? {
            (Path::Null, rest) => Ok((ReversePath::Null, rest)),
            (Path::Address(a), rest) => Ok((ReversePath::Address(a), rest)),
            (Path::Postmaster, _) => Err(AddressError::MissingAt),
        }
    }

    pub fn address(&self) -> Option<&Address> {
        match self {
            ReversePath::Null => None,
            ReversePath::Address(a) => Some(a),
        }
    }
}

impl fmt::Display for ReversePath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ReversePath::Null => f.write_str("<>"),
            ReversePath::Address(a) => write!(f, "<{a}>"),
        }
    }
}

/// RCPT TO path: an address or the bare `<Postmaster>` (RFC 5321 §4.1.1.3).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ForwardPath {
    Postmaster,
    Address(Address),
}

impl ForwardPath {
    /// Parse `<...>` at the start of `s`; returns the rest of the line.
    pub fn parse(s: &str) -> Result<(ForwardPath, &str), AddressError> {
        match parse_path(s)? {
            (Path::Null, _) => Err(AddressError::Null),
            (Path::Address(a), rest) => Ok((ForwardPath::Address(a), rest)),
            (Path::Postmaster, rest) => Ok((ForwardPath::Postmaster, rest)),
        }
    }
}

enum Path {
    Null,
    Postmaster,
    Address(Address),
}

/// RFC 5321 §4.1.2: `Path = "<" [ A-d-l ":" ] Mailbox ">"`.
fn parse_path(s: &str) -> Result<(Path, &str), AddressError> {
    let mut p = Cursor { s, pos: 0 };
    if !p.eat('<') {
        return Err(AddressError::Brackets);
    }
    if p.eat('>') {
        return Ok((Path::Null, p.rest()));
    }
    if p.peek() == Some('@') {
        p.source_route()?;
    }
    let local = p.local_part()?;
    if !p.eat('@') {
        // RFC 5321 §4.1.1.3: "<Postmaster>" without a domain.
        if local.as_str().eq_ignore_ascii_case("postmaster") && p.eat('>') {
            return Ok((Path::Postmaster, p.rest()));
        }
        return Err(AddressError::MissingAt);
    }
    let domain = p.domain_until(|c| c == '>')?;
    if !p.eat('>') {
        return Err(AddressError::Brackets);
    }
    Ok((Path::Address(Address { local, domain }), p.rest()))
}

/// RFC 5321 §4.1.2 `atext` (from RFC 5322 §3.2.3), plus UTF-8 (RFC 6531 §3.3).
fn is_atext(c: char) -> bool {
    c.is_ascii_alphanumeric()
        || "!#$%&'*+-/=?^_`{|}~".contains(c)
        || (!c.is_ascii() && !c.is_control())
}

/// RFC 5321 §4.1.2 `qtextSMTP` plus UTF-8 (RFC 6531 §3.3).
fn is_qtext(c: char) -> bool {
    matches!(c, ' '..='!' | '#'..='[' | ']'..='~') || (!c.is_ascii() && !c.is_control())
}

struct Cursor<'a> {
    s: &'a str,
    pos: usize,
}

impl<'a> Cursor<'a> {
    fn peek(&self) -> Option<char> {
        self.s[self.pos..].chars().next()
    }

    fn eat(&mut self, c: char) -> bool {
        if self.peek() == Some(c) {
            self.pos += c.len_utf8();
            true
        } else {
            false
        }
    }

    fn rest(&self) -> &'a str {
        &self.s[self.pos..]
    }

    /// `A-d-l = At-domain *( "," At-domain )`, then ":"; dropped.
    fn source_route(&mut self) -> Result<(), AddressError> {
        loop {
            if !self.eat('@') {
                return Err(AddressError::Route);
            }
            self.domain_until(|c| c == ',' || c == ':')
                .map_err(|_| AddressError::Route)?;
            if self.eat(':') {
                return Ok(());
            }
            if !self.eat(',') {
                return Err(AddressError::Route);
            }
        }
    }

    /// `Local-part = Dot-string / Quoted-string`.
    fn local_part(&mut self) -> Result<LocalPart, AddressError> {
        if self.eat('"') {
            return self.quoted();
        }
        let start = self.pos;
        let mut prev_dot = true;
        while let Some(c) = self.peek() {
            if c == '.' {
                if prev_dot {
                    return Err(AddressError::LocalPart);
                }
                prev_dot = true;
            } else if is_atext(c) {
                prev_dot = false;
            } else {
                break;
            }
            self.pos += c.len_utf8();
        }
        if prev_dot {
            // Empty, or a trailing dot.
            return Err(AddressError::LocalPart);
        }
        Ok(LocalPart(self.s[start..self.pos].to_string()))
    }

    /// A whole string that must be one local part.
    fn local_part_exact(&mut self) -> Result<LocalPart, AddressError> {
        let l = self.local_part()?;
        if self.pos != self.s.len() {
            return Err(AddressError::LocalPart);
        }
        Ok(l)
    }

    /// After the opening quote: `*QcontentSMTP DQUOTE`.
    fn quoted(&mut self) -> Result<LocalPart, AddressError> {
        let mut out = String::new();
        loop {
            let c = self.peek().ok_or(AddressError::Quoted)?;
            self.pos += c.len_utf8();
            match c {
                '"' => break,
                // quoted-pairSMTP = %d92 %d32-126
                '\\' => match self.peek() {
                    Some(q @ ' '..='~') => {
                        self.pos += 1;
                        out.push(q);
                    }
                    _ => return Err(AddressError::Quoted),
                },
                c if is_qtext(c) => out.push(c),
                _ => return Err(AddressError::Quoted),
            }
        }
        if out.is_empty() {
            return Err(AddressError::Quoted);
        }
        Ok(LocalPart(out))
    }

    /// A domain running until `stop` or the end of input.
    fn domain_until(&mut self, stop: impl Fn(char) -> bool) -> Result<Domain, AddressError> {
        if self.peek() == Some('[') {
            return Err(AddressError::Literal);
        }
        let start = self.pos;
        while let Some(c) = self.peek() {
            if stop(c) || c == '>' || c == ' ' {
                break;
            }
            self.pos += c.len_utf8();
        }
        Domain::parse(&self.s[start..self.pos])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rev(s: &str) -> Result<(ReversePath, &str), AddressError> {
        ReversePath::parse(s)
    }

    fn addr(p: &ReversePath) -> String {
        p.to_string()
    }

    #[test]
    fn simple_and_null() {
        let (p, rest) = rev("<A.b@Example.COM> SIZE=1").unwrap();
        assert_eq!(addr(&p), "<A.b@example.com>");
        assert_eq!(rest, " SIZE=1");
        assert_eq!(
            rev("<>").map(|(p, r)| (p, r.to_string())),
            Ok((ReversePath::Null, String::new()))
        );
    }

    #[test]
    fn quoted_local_part() {
        let (p, _) = rev(r#"<"a b\"c"@x.test>"#).unwrap();
        let a = p.address().unwrap();
        assert_eq!(a.local.as_str(), "a b\"c");
        assert_eq!(a.to_string(), r#""a b\"c"@x.test"#);
        // A quoted dot-string is the same mailbox as the unquoted one.
        let (q, _) = rev(r#"<"abc"@x.test>"#).unwrap();
        assert_eq!(q.to_string(), "<abc@x.test>");
        assert_eq!(
            rev(r#"<"x@victim.test"@ex.test>"#)
                .unwrap()
                .0
                .address()
                .unwrap()
                .local
                .as_str(),
            "x@victim.test"
        );
    }

    #[test]
    fn source_route_is_dropped() {
        let (p, _) = ForwardPath::parse("<@a.test,@b.test:user@c.test>").unwrap();
        assert_eq!(
            p,
            ForwardPath::Address(Address::parse("user@c.test").unwrap())
        );
        assert_eq!(
            ForwardPath::parse("<@a.test user@c.test>"),
            Err(AddressError::Route)
        );
    }

    #[test]
    fn postmaster() {
        assert_eq!(
            ForwardPath::parse("<PostMaster>").map(|x| x.0),
            Ok(ForwardPath::Postmaster)
        );
        assert!(ReversePath::parse("<postmaster>").is_err());
        assert_eq!(ForwardPath::parse("<>"), Err(AddressError::Null));
    }

    #[test]
    fn utf8_address_has_both_domain_forms() {
        let (p, _) = rev("<jö@bücher.example>").unwrap();
        let a = p.address().unwrap();
        assert!(!a.is_ascii());
        assert_eq!(a.domain.ascii(), "xn--bcher-kva.example");
        assert_eq!(a.to_ascii_domain_string(), "jö@xn--bcher-kva.example");
    }

    #[test]
    fn refusals() {
        for bad in [
            "a@x.test",
            "<a@x.test",
            "<a..b@x.test>",
            "<.a@x.test>",
            "<a.@x.test>",
            "<a@x.test.>",
            "<a@[192.0.2.1]>",
            "<a b@x.test>",
            "<@x.test>",
            "<a@>",
            "<\"\"@x.test>",
            "<\"a\u{1}\"@x.test>",
            "<a\u{0}@x.test>",
            "<a@x_y.test>",
        ] {
            assert!(rev(bad).is_err(), "{bad:?} accepted");
        }
    }

    #[test]
    fn shell_characters_stay_data() {
        // T8: these are valid atext; they never reach a shell.
        let (p, _) = rev("<`id`|${run}@ex.test>").unwrap();
        assert_eq!(p.address().unwrap().local.as_str(), "`id`|${run}");
        // ";" is not atext (RFC 5322 §3.2.3).
        assert!(rev("<;sleep 5;@ex.test>").is_err());
    }
}
