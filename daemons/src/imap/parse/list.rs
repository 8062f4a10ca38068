//! LIST with RFC 5258 LIST-EXTENDED selection and return options, RFC 5819
//! LIST-STATUS, RFC 6154 SPECIAL-USE; and the STATUS items (RFC 9051
//! §6.3.11, RFC 8438 STATUS=SIZE, RFC 7162 HIGHESTMODSEQ, RFC 7889
//! APPENDLIMIT).

use super::ParseError;
use super::lexer::Cursor;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StatusItem {
    Messages,
    /// IMAP4rev1 only; always 0 in moxd.
    Recent,
    UidNext,
    UidValidity,
    Unseen,
    /// RFC 9051 §6.3.11: messages with \Deleted.
    Deleted,
    /// RFC 8438.
    Size,
    /// RFC 7162 §3.1.2.3.
    HighestModSeq,
    /// RFC 7889 §3.
    AppendLimit,
}

impl StatusItem {
    pub fn name(self) -> &'static str {
        match self {
            StatusItem::Messages => "MESSAGES",
            StatusItem::Recent => "RECENT",
            StatusItem::UidNext => "UIDNEXT",
            StatusItem::UidValidity => "UIDVALIDITY",
            StatusItem::Unseen => "UNSEEN",
            StatusItem::Deleted => "DELETED",
            StatusItem::Size => "SIZE",
            StatusItem::HighestModSeq => "HIGHESTMODSEQ",
            StatusItem::AppendLimit => "APPENDLIMIT",
        }
    }

    pub const ALL: [StatusItem; 9] = [
        StatusItem::Messages,
        StatusItem::Recent,
        StatusItem::UidNext,
        StatusItem::UidValidity,
        StatusItem::Unseen,
        StatusItem::Deleted,
        StatusItem::Size,
        StatusItem::HighestModSeq,
        StatusItem::AppendLimit,
    ];
}

/// RFC 5258 §3.1 selection options.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ListSelect {
    pub subscribed: bool,
    pub remote: bool,
    pub recursive_match: bool,
    /// RFC 6154 §5.1.
    pub special_use: bool,
}

/// RFC 5258 §3.2 return options.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ListReturn {
    pub subscribed: bool,
    pub children: bool,
    /// RFC 6154 §5.1.
    pub special_use: bool,
    /// RFC 5819.
    pub status: Option<Vec<StatusItem>>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListCommand {
    pub select: ListSelect,
    pub reference: String,
    /// The patterns, decoded; those that were not valid modified UTF-7
    /// are left out, as they match no name (none left: nothing matches).
    pub patterns: Vec<String>,
    pub returns: ListReturn,
    /// Whether LIST-EXTENDED syntax was used (selection or return
    /// options, or several patterns): extended data items may be sent.
    pub extended: bool,
}

impl Cursor<'_> {
    /// RFC 9051 §9 `status-att`.
    pub fn status_att(&mut self) -> Result<StatusItem, ParseError> {
        let w = self.atom()?;
        StatusItem::ALL
            .into_iter()
            .find(|i| i.name().eq_ignore_ascii_case(w))
            .ok_or_else(|| self.err(format!("unknown status item {w}")))
    }

    pub fn status_atts(&mut self) -> Result<Vec<StatusItem>, ParseError> {
        self.paren_list(false, |c| c.status_att())
    }

    /// The arguments of LIST after `LIST SP`.
    pub fn list_command(&mut self) -> Result<ListCommand, ParseError> {
        let mut select = ListSelect::default();
        let mut extended = false;
        if self.peek() == Some(b'(') {
            extended = true;
            let opts = self.paren_list(true, |c| Ok(c.atom()?.to_ascii_uppercase()))?;
            for o in &opts {
                match o.as_str() {
                    "SUBSCRIBED" => select.subscribed = true,
                    "REMOTE" => select.remote = true,
                    "RECURSIVEMATCH" => select.recursive_match = true,
                    "SPECIAL-USE" => select.special_use = true,
                    _ => return Err(self.err(format!("unknown LIST selection option {o}"))),
                }
            }
            // RFC 5258 §3.1: RECURSIVEMATCH alone is an error.
            if select.recursive_match && !select.subscribed && !select.special_use {
                return Err(self.err("RECURSIVEMATCH needs another selection option"));
            }
            self.sp()?;
        }
        let reference = self.list_name_or_none()?;
        self.sp()?;
        let patterns = if self.peek() == Some(b'(') {
            extended = true;
            self.paren_list(false, |c| c.list_name_or_none())?
        } else {
            vec![self.list_name_or_none()?]
        };
        // A reference or pattern that is not valid modified UTF-7 matches
        // nothing: such patterns are left out (all of them for such a
        // reference), and LIST answers OK with no names.
        let (reference, patterns) = match reference {
            Some(r) => (r, patterns.into_iter().flatten().collect()),
            None => (String::new(), Vec::new()),
        };
        let mut returns = ListReturn::default();
        if self.more() {
            extended = true;
            self.keyword("RETURN")?;
            self.sp()?;
            self.paren_list(true, |c| {
                let w = c.atom()?.to_ascii_uppercase();
                match w.as_str() {
                    "SUBSCRIBED" => returns.subscribed = true,
                    "CHILDREN" => returns.children = true,
                    "SPECIAL-USE" => returns.special_use = true,
                    "STATUS" => {
                        c.sp()?;
                        returns.status = Some(c.status_atts()?);
                    }
                    _ => return Err(c.err(format!("unknown LIST return option {w}"))),
                }
                Ok(())
            })?;
        }
        Ok(ListCommand {
            select,
            reference,
            patterns,
            returns,
            extended,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::imap::parse::Options;

    fn list(s: &str) -> Result<ListCommand, ParseError> {
        let mut c = Cursor::new(s.as_bytes(), Options::default());
        let l = c.list_command()?;
        c.end()?;
        Ok(l)
    }

    #[test]
    fn rfc5258_examples() {
        let l = list("\"\" %\r\n").unwrap();
        assert!(!l.extended);
        assert_eq!(l.patterns, vec!["%"]);
        let l = list("(SUBSCRIBED RECURSIVEMATCH) \"\" (% \"Other Users/*\") RETURN (CHILDREN STATUS (MESSAGES UNSEEN))\r\n").unwrap();
        assert!(l.extended && l.select.subscribed && l.select.recursive_match);
        assert_eq!(l.patterns, vec!["%", "Other Users/*"]);
        assert!(l.returns.children);
        assert_eq!(
            l.returns.status,
            Some(vec![StatusItem::Messages, StatusItem::Unseen])
        );
        assert!(list("(RECURSIVEMATCH) \"\" %\r\n").is_err());
        assert!(list("(BOGUS) \"\" %\r\n").is_err());
        assert!(list("\"\" % RETURN (BOGUS)\r\n").is_err());
    }
}
