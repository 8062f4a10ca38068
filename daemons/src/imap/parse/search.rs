//! SEARCH criteria (RFC 9051 §6.4.4, RFC 3501 §6.4.4 for the IMAP4rev1
//! keys), with RFC 7162 §3.1.5 MODSEQ, RFC 5032 WITHIN (OLDER/YOUNGER),
//! RFC 8514 SAVEDATE keys, RFC 4731/9051 RETURN options and RFC 5182
//! SAVE. Nesting (parentheses, NOT, OR) is bounded (threats T11).

use super::ParseError;
use super::lexer::Cursor;
use super::sequence::SequenceSet;
use crate::imap::datetime::Date;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SearchKey {
    All,
    Answered,
    Bcc(String),
    Before(Date),
    Body(String),
    Cc(String),
    Deleted,
    Draft,
    Flagged,
    From(String),
    Header(String, String),
    Keyword(String),
    Larger(u64),
    New,
    Not(Box<SearchKey>),
    Old,
    On(Date),
    Or(Box<SearchKey>, Box<SearchKey>),
    Recent,
    Seen,
    SentBefore(Date),
    SentOn(Date),
    SentSince(Date),
    Since(Date),
    Smaller(u64),
    Subject(String),
    Text(String),
    To(String),
    Uid(SequenceSet),
    Unanswered,
    Undeleted,
    Undraft,
    Unflagged,
    Unkeyword(String),
    Unseen,
    /// Message sequence numbers (or `$`).
    Sequence(SequenceSet),
    /// A parenthesised list, or the top-level keys: all must match.
    And(Vec<SearchKey>),
    /// RFC 7162 §3.1.5; the optional entry name/type is accepted and ignored
    /// (moxd keeps one modseq per message).
    ModSeq(u64),
    /// RFC 5032: internal date at least this many seconds ago.
    Older(u64),
    /// RFC 5032: internal date at most this many seconds ago.
    Younger(u64),
    /// RFC 8514 §4.
    SavedBefore(Date),
    SavedOn(Date),
    SavedSince(Date),
    SaveDateSupported,
}

/// RFC 4731 §3.1 / RFC 9051 §6.4.4.1 `search-return-opt`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SearchReturn {
    Min,
    Max,
    All,
    Count,
    /// RFC 5182 §2.1.
    Save,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SearchProgram {
    /// `RETURN (...)`: None for a plain SEARCH (untagged SEARCH reply);
    /// Some(empty) means `RETURN ()` (= ALL, ESEARCH reply).
    pub returns: Option<Vec<SearchReturn>>,
    pub charset: Option<String>,
    pub key: SearchKey,
}

impl Cursor<'_> {
    /// A string argument of a search key (`astring`), as UTF-8 text (the
    /// charset, if any, is checked by the command).
    fn search_string(&mut self) -> Result<String, ParseError> {
        self.sp()?;
        self.astring_utf8()
    }

    fn search_date(&mut self) -> Result<Date, ParseError> {
        self.sp()?;
        self.date()
    }

    fn search_number(&mut self) -> Result<u64, ParseError> {
        self.sp()?;
        self.number64()
    }

    /// RFC 9051 §9 `search-key`.
    pub fn search_key(&mut self) -> Result<SearchKey, ParseError> {
        if self.peek() == Some(b'(') {
            let keys = self.paren_list(false, |c| c.search_key())?;
            return Ok(SearchKey::And(keys));
        }
        if self.at_sequence_set() {
            return self.sequence_set().map(SearchKey::Sequence);
        }
        let word = self.atom()?.to_ascii_uppercase();
        let key = match word.as_str() {
            "ALL" => SearchKey::All,
            "ANSWERED" => SearchKey::Answered,
            "BCC" => SearchKey::Bcc(self.search_string()?),
            "BEFORE" => SearchKey::Before(self.search_date()?),
            "BODY" => SearchKey::Body(self.search_string()?),
            "CC" => SearchKey::Cc(self.search_string()?),
            "DELETED" => SearchKey::Deleted,
            "DRAFT" => SearchKey::Draft,
            "FLAGGED" => SearchKey::Flagged,
            "FROM" => SearchKey::From(self.search_string()?),
            "HEADER" => {
                let name = self.search_string()?;
                let value = self.search_string()?;
                SearchKey::Header(name, value)
            }
            "KEYWORD" => {
                self.sp()?;
                SearchKey::Keyword(self.atom()?.to_string())
            }
            "LARGER" => SearchKey::Larger(self.search_number()?),
            "NEW" => SearchKey::New,
            "NOT" => {
                self.sp()?;
                self.enter()?;
                let k = self.search_key()?;
                self.leave();
                SearchKey::Not(Box::new(k))
            }
            "OLD" => SearchKey::Old,
            "ON" => SearchKey::On(self.search_date()?),
            "OR" => {
                self.enter()?;
                self.sp()?;
                let a = self.search_key()?;
                self.sp()?;
                let b = self.search_key()?;
                self.leave();
                SearchKey::Or(Box::new(a), Box::new(b))
            }
            "RECENT" => SearchKey::Recent,
            "SEEN" => SearchKey::Seen,
            "SENTBEFORE" => SearchKey::SentBefore(self.search_date()?),
            "SENTON" => SearchKey::SentOn(self.search_date()?),
            "SENTSINCE" => SearchKey::SentSince(self.search_date()?),
            "SINCE" => SearchKey::Since(self.search_date()?),
            "SMALLER" => SearchKey::Smaller(self.search_number()?),
            "SUBJECT" => SearchKey::Subject(self.search_string()?),
            "TEXT" => SearchKey::Text(self.search_string()?),
            "TO" => SearchKey::To(self.search_string()?),
            "UID" => {
                self.sp()?;
                SearchKey::Uid(self.sequence_set()?)
            }
            "UNANSWERED" => SearchKey::Unanswered,
            "UNDELETED" => SearchKey::Undeleted,
            "UNDRAFT" => SearchKey::Undraft,
            "UNFLAGGED" => SearchKey::Unflagged,
            "UNKEYWORD" => {
                self.sp()?;
                SearchKey::Unkeyword(self.atom()?.to_string())
            }
            "UNSEEN" => SearchKey::Unseen,
            "MODSEQ" => {
                self.sp()?;
                // RFC 7162 §3.1.5: [entry-name SP entry-type-req SP].
                if self.peek() == Some(b'"') {
                    let _entry = self.quoted()?;
                    self.sp()?;
                    let t = self.atom()?;
                    if !["priv", "shared", "all"]
                        .iter()
                        .any(|x| x.eq_ignore_ascii_case(t))
                    {
                        return Err(self.err("invalid MODSEQ entry type"));
                    }
                    self.sp()?;
                }
                SearchKey::ModSeq(self.number64()?)
            }
            "OLDER" => SearchKey::Older(self.search_nz()?),
            "YOUNGER" => SearchKey::Younger(self.search_nz()?),
            "SAVEDBEFORE" => SearchKey::SavedBefore(self.search_date()?),
            "SAVEDON" => SearchKey::SavedOn(self.search_date()?),
            "SAVEDSINCE" => SearchKey::SavedSince(self.search_date()?),
            "SAVEDATESUPPORTED" => SearchKey::SaveDateSupported,
            _ => return Err(self.err(format!("unknown search key {word}"))),
        };
        Ok(key)
    }

    fn search_nz(&mut self) -> Result<u64, ParseError> {
        self.sp()?;
        Ok(u64::from(self.nz_number()?))
    }

    /// `1*(SP search-key)` after the command name or charset: one key, or
    /// an [`SearchKey::And`] of several.
    pub fn search_keys(&mut self) -> Result<SearchKey, ParseError> {
        let mut keys = vec![self.search_key()?];
        while self.more() {
            keys.push(self.search_key()?);
        }
        Ok(match keys.len() {
            1 => keys.pop().unwrap_or(SearchKey::All),
            _ => SearchKey::And(keys),
        })
    }

    /// RFC 9051 §9 `search` arguments after `SEARCH SP`:
    /// `[search-return-opts SP] [CHARSET SP charset SP] search-key *(SP search-key)`.
    pub fn search_program(&mut self) -> Result<SearchProgram, ParseError> {
        let returns = if self.eat_keyword("RETURN") {
            self.sp()?;
            let opts = self.paren_list(true, |c| {
                let w = c.atom()?.to_ascii_uppercase();
                Ok(match w.as_str() {
                    "MIN" => SearchReturn::Min,
                    "MAX" => SearchReturn::Max,
                    "ALL" => SearchReturn::All,
                    "COUNT" => SearchReturn::Count,
                    "SAVE" => SearchReturn::Save,
                    _ => return Err(c.err(format!("unknown search return option {w}"))),
                })
            })?;
            self.sp()?;
            Some(opts)
        } else {
            None
        };
        let charset = if self.eat_keyword("CHARSET") {
            self.sp()?;
            let cs = self.astring_utf8()?;
            self.sp()?;
            Some(cs)
        } else {
            None
        };
        let key = self.search_keys()?;
        Ok(SearchProgram {
            returns,
            charset,
            key,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::imap::parse::Options;

    fn program(s: &str) -> Result<SearchProgram, ParseError> {
        let mut c = Cursor::new(s.as_bytes(), Options::default());
        let p = c.search_program()?;
        c.end()?;
        Ok(p)
    }

    #[test]
    fn rfc9051_examples() {
        // RFC 9051 §6.4.4.
        let p = program("FLAGGED SINCE 1-Feb-1994 NOT FROM \"Smith\"\r\n").unwrap();
        assert_eq!(
            p.key,
            SearchKey::And(vec![
                SearchKey::Flagged,
                SearchKey::Since(Date::new(1994, 2, 1).unwrap()),
                SearchKey::Not(Box::new(SearchKey::From("Smith".into()))),
            ])
        );
        let p = program("OR BODY \"one\" (TEXT two UID 1:*)\r\n").unwrap();
        assert!(matches!(p.key, SearchKey::Or(_, _)));
        let p =
            program("RETURN (MIN COUNT SAVE) CHARSET UTF-8 1:3 $ MODSEQ 620162338\r\n").unwrap();
        assert_eq!(
            p.returns,
            Some(vec![
                SearchReturn::Min,
                SearchReturn::Count,
                SearchReturn::Save
            ])
        );
        assert_eq!(p.charset.as_deref(), Some("UTF-8"));
        let p = program("MODSEQ \"/flags/\\\\draft\" all 620162338\r\n").unwrap();
        assert_eq!(p.key, SearchKey::ModSeq(620_162_338));
        assert!(program("RETURN () ALL\r\n").unwrap().returns == Some(vec![]));
    }

    #[test]
    fn nesting_is_bounded() {
        // Threats T11.
        let deep = format!("{}ALL{}\r\n", "(".repeat(10_000), ")".repeat(10_000));
        assert!(program(&deep).is_err());
        let nots = format!("{}ALL\r\n", "NOT ".repeat(10_000));
        assert!(program(&nots).is_err());
        let ors = format!("{}ALL{}\r\n", "OR ALL ".repeat(10_000), "");
        assert!(program(&ors).is_err());
        let ok = format!("{}ALL{}\r\n", "(".repeat(20), ")".repeat(20));
        assert!(program(&ok).is_ok());
    }

    #[test]
    fn bad_keys() {
        assert!(program("FOO\r\n").is_err());
        assert!(program("SINCE 31-Feb-2000\r\n").is_err());
        assert!(program("SUBJECT\r\n").is_err());
        assert!(program("LARGER x\r\n").is_err());
    }
}
