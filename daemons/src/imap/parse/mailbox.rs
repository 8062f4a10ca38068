//! Mailbox names as commands carry them (RFC 9051 §5.1): modified UTF-7
//! for IMAP4rev1 clients, UTF-8 once UTF8=ACCEPT or IMAP4rev2 is enabled
//! (RFC 6855 §3, RFC 9051 §6.3.1). INBOX is case-insensitive and is
//! spelled as the store spells it.

use std::borrow::Cow;

use super::ParseError;
use super::lexer::Cursor;
use crate::imap::utf7;

/// How moxd spells INBOX (the store's name for it).
pub const INBOX: &str = "Inbox";
/// The hierarchy separator (RFC 9051 §5.1.1).
pub const SEPARATOR: char = '/';

/// A decoded mailbox name (UTF-8), INBOX normalised.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Mailbox {
    name: String,
    /// Sent as modified UTF-7 but not valid as such (SELECT and EXAMINE
    /// only, see [`Cursor::mailbox_to_open`]): it names no mailbox, and
    /// `name` is empty, which no mailbox is called.
    undecodable: bool,
}

impl Mailbox {
    /// A name from UTF-8 text; `inbox` in any case (and as the first
    /// hierarchy level) becomes [`INBOX`].
    pub fn new(name: &str) -> Mailbox {
        let (first, rest) = match name.split_once(SEPARATOR) {
            Some((f, r)) => (f, Some(r)),
            None => (name, None),
        };
        let name = if first.eq_ignore_ascii_case("INBOX") {
            match rest {
                Some(r) => format!("{INBOX}{SEPARATOR}{r}"),
                None => INBOX.to_string(),
            }
        } else {
            name.to_string()
        };
        Mailbox {
            name,
            undecodable: false,
        }
    }

    /// A name that was not valid modified UTF-7.
    pub fn undecodable() -> Mailbox {
        Mailbox {
            name: String::new(),
            undecodable: true,
        }
    }

    pub fn as_str(&self) -> &str {
        &self.name
    }

    pub fn is_inbox(&self) -> bool {
        self.name == INBOX
    }

    /// Whether the name as sent was not valid modified UTF-7.
    pub fn is_undecodable(&self) -> bool {
        self.undecodable
    }
}

impl std::fmt::Display for Mailbox {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.name)
    }
}

/// RFC 6154 §2 special-use attributes of a mailbox.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub enum SpecialUse {
    All,
    Archive,
    Drafts,
    Flagged,
    Junk,
    Sent,
    Trash,
}

impl SpecialUse {
    pub const ALL: [SpecialUse; 7] = [
        SpecialUse::All,
        SpecialUse::Archive,
        SpecialUse::Drafts,
        SpecialUse::Flagged,
        SpecialUse::Junk,
        SpecialUse::Sent,
        SpecialUse::Trash,
    ];

    /// The attribute as written in LIST responses, e.g. `\Sent`.
    pub fn as_wire(self) -> &'static str {
        match self {
            SpecialUse::All => "\\All",
            SpecialUse::Archive => "\\Archive",
            SpecialUse::Drafts => "\\Drafts",
            SpecialUse::Flagged => "\\Flagged",
            SpecialUse::Junk => "\\Junk",
            SpecialUse::Sent => "\\Sent",
            SpecialUse::Trash => "\\Trash",
        }
    }

    /// From the wire spelling, case-insensitively.
    pub fn from_wire(s: &str) -> Option<SpecialUse> {
        SpecialUse::ALL
            .into_iter()
            .find(|u| u.as_wire().eq_ignore_ascii_case(s))
    }
}

/// Raw name octets to text, per the session's mode (threats T7: in
/// modified UTF-7 mode an 8-bit octet or a bad sequence is an error).
pub fn decode_name(raw: Cow<'_, [u8]>, utf8: bool) -> Result<String, ParseError> {
    if utf8 {
        String::from_utf8(raw.into_owned())
            .map_err(|_| ParseError::syntax("mailbox name is not valid UTF-8"))
    } else {
        utf7::decode(&raw).map_err(|e| {
            ParseError::syntax(format!(
                "bad mailbox name: {e} (use modified UTF-7, or ENABLE UTF8=ACCEPT)"
            ))
        })
    }
}

impl<'a> Cursor<'a> {
    /// RFC 9051 §9 `mailbox = "INBOX" / astring`.
    pub fn mailbox(&mut self) -> Result<Mailbox, ParseError> {
        let raw = self.astring()?;
        decode_name(raw, self.opts.utf8).map(|n| Mailbox::new(&n))
    }

    /// The mailbox of SELECT and EXAMINE: a name that is not valid
    /// modified UTF-7 (RFC 9051 §5.1.3) names no mailbox, so it is
    /// answered NO like any missing mailbox (as Dovecot does), not BAD.
    pub fn mailbox_to_open(&mut self) -> Result<Mailbox, ParseError> {
        let raw = self.astring()?;
        if self.opts.utf8 {
            return decode_name(raw, true).map(|n| Mailbox::new(&n));
        }
        Ok(utf7::decode(&raw).map_or_else(|_| Mailbox::undecodable(), |n| Mailbox::new(&n)))
    }

    /// A LIST reference or pattern (`list-mailbox` / `mailbox`), decoded
    /// but not normalised.
    pub fn list_name(&mut self) -> Result<String, ParseError> {
        let raw = self.list_mailbox()?;
        decode_name(raw, self.opts.utf8)
    }

    /// [`Cursor::list_name`] for LIST, where a reference or pattern that
    /// is not valid modified UTF-7 matches no name (None) instead of
    /// being a syntax error (as Dovecot answers).
    pub fn list_name_or_none(&mut self) -> Result<Option<String>, ParseError> {
        let raw = self.list_mailbox()?;
        if self.opts.utf8 {
            return decode_name(raw, true).map(Some);
        }
        Ok(utf7::decode(&raw).ok())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inbox_is_case_insensitive() {
        assert_eq!(Mailbox::new("inBOX").as_str(), INBOX);
        assert_eq!(Mailbox::new("INBOX/sub").as_str(), "Inbox/sub");
        assert_eq!(Mailbox::new("Inboxes").as_str(), "Inboxes");
        assert!(Mailbox::new("inbox").is_inbox());
    }

    #[test]
    fn decoding_depends_on_mode() {
        let raw = Cow::Borrowed("Entw&APw-rfe".as_bytes());
        assert_eq!(decode_name(raw.clone(), false).unwrap(), "Entwürfe");
        assert_eq!(decode_name(raw, true).unwrap(), "Entw&APw-rfe");
        assert!(decode_name(Cow::Borrowed("Entwürfe".as_bytes()), false).is_err());
        assert_eq!(
            decode_name(Cow::Borrowed("Entwürfe".as_bytes()), true).unwrap(),
            "Entwürfe"
        );
        assert!(decode_name(Cow::Borrowed(b"&AGE-"), false).is_err());
        assert!(decode_name(Cow::Borrowed(b"a\xc0\xaf"), true).is_err());
    }

    #[test]
    fn undecodable_names_name_nothing() {
        let opts = |utf8| crate::imap::parse::Options { utf8 };
        let mut c = Cursor::new(b"&AGE- rest", opts(false));
        let m = c.mailbox_to_open().unwrap();
        assert!(m.is_undecodable());
        assert_eq!(m.as_str(), "");
        let mut c = Cursor::new(b"Entw&APw-rfe", opts(false));
        let m = c.mailbox_to_open().unwrap();
        assert_eq!((m.as_str(), m.is_undecodable()), ("Entwürfe", false));
        // Other commands keep refusing such names as syntax.
        assert!(Cursor::new(b"&AGE-", opts(false)).mailbox().is_err());
        // In UTF-8 mode, `&` is just a character.
        let m = Cursor::new(b"&AGE-", opts(true)).mailbox_to_open().unwrap();
        assert_eq!((m.as_str(), m.is_undecodable()), ("&AGE-", false));
        let mut c = Cursor::new(b"a&b%", opts(false));
        assert_eq!(c.list_name_or_none().unwrap(), None);
        let mut c = Cursor::new(b"a&-b%", opts(false));
        assert_eq!(c.list_name_or_none().unwrap().as_deref(), Some("a&b%"));
    }
}
