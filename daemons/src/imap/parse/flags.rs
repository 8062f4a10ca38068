//! Message flags (RFC 9051 §2.3.2, §9 `flag`): the system flags, keywords
//! (atoms) and flag extensions (`\` atom). On the backend side flags are
//! their wire spelling, as the store keeps them.

use super::ParseError;
use super::lexer::Cursor;

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Flag {
    Seen,
    Answered,
    Flagged,
    Deleted,
    Draft,
    /// Only valid in SEARCH and responses (not storable, RFC 9051 §2.3.2).
    Recent,
    /// A keyword atom, as sent.
    Keyword(String),
    /// `\` followed by an atom not defined above.
    Extension(String),
}

impl Flag {
    /// From the wire spelling (case-insensitive for system flags).
    pub fn from_wire(s: &str) -> Flag {
        if let Some(name) = s.strip_prefix('\\') {
            match name.to_ascii_lowercase().as_str() {
                "seen" => Flag::Seen,
                "answered" => Flag::Answered,
                "flagged" => Flag::Flagged,
                "deleted" => Flag::Deleted,
                "draft" => Flag::Draft,
                "recent" => Flag::Recent,
                _ => Flag::Extension(name.to_string()),
            }
        } else {
            Flag::Keyword(s.to_string())
        }
    }

    /// The wire spelling.
    pub fn as_wire(&self) -> String {
        match self {
            Flag::Seen => "\\Seen".into(),
            Flag::Answered => "\\Answered".into(),
            Flag::Flagged => "\\Flagged".into(),
            Flag::Deleted => "\\Deleted".into(),
            Flag::Draft => "\\Draft".into(),
            Flag::Recent => "\\Recent".into(),
            Flag::Keyword(k) => k.clone(),
            Flag::Extension(e) => format!("\\{e}"),
        }
    }

    /// Whether the wire spelling `s` names this flag (keywords compare
    /// case-insensitively, as the store lower-cases them).
    pub fn matches(&self, s: &str) -> bool {
        self.as_wire().eq_ignore_ascii_case(s)
    }
}

impl Cursor<'_> {
    /// RFC 9051 §9 `flag` (and `flag-keyword` for a bare atom).
    pub fn flag(&mut self) -> Result<Flag, ParseError> {
        if self.eat(b'\\') {
            let name = self.atom()?;
            Ok(Flag::from_wire(&format!("\\{name}")))
        } else {
            Ok(Flag::Keyword(self.atom()?.to_string()))
        }
    }

    /// RFC 9051 §9 `flag-list = "(" [flag *(SP flag)] ")"`.
    pub fn flag_list(&mut self) -> Result<Vec<Flag>, ParseError> {
        self.paren_list(true, |c| c.flag())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::imap::parse::Options;

    #[test]
    fn flags_parse() {
        let mut c = Cursor::new(b"(\\SEEN $Junk \\Foo custom)", Options::default());
        let f = c.flag_list().unwrap();
        assert_eq!(
            f,
            vec![
                Flag::Seen,
                Flag::Keyword("$Junk".into()),
                Flag::Extension("Foo".into()),
                Flag::Keyword("custom".into())
            ]
        );
        assert_eq!(f[2].as_wire(), "\\Foo");
        assert!(Flag::Seen.matches("\\seen"));
        let mut c = Cursor::new(b"(a(b)", Options::default());
        assert!(c.flag_list().is_err());
    }
}
