//! The IMAP command parser (RFC 9051 IMAP4rev2, RFC 3501 IMAP4rev1 and
//! the extensions moxd announces). Work is split in two:
//!
//! - [`frame`] looks at each line as it arrives and says whether a literal
//!   follows (`{n}`, `{n+}`, `~{n}`), so the session can check the size
//!   against the named limits, send `+` for a synchronizing literal and
//!   read the octets;
//! - [`parse_command`] turns the complete command (lines and literal
//!   octets as received) into a typed [`Command`].
//!
//! Parsing is pure and panic-free on any input (property tested).

mod command;
mod datetime;
mod fetch;
mod flags;
pub mod frame;
pub mod lexer;
mod list;
mod mailbox;
mod search;
mod sequence;
pub mod serialize;

#[cfg(test)]
mod tests;

pub use command::{
    AppendMessage, Command, CommandBody, MAX_APPEND_MESSAGES, MAX_ID_FIELD, MAX_ID_PAIRS,
    MAX_ID_VALUE, Qresync, SelectParams, SortCriterion, SortKey, StoreAction, StoreOp,
    ThreadAlgorithm,
};
pub use fetch::{FetchAttr, FetchModifiers, MAX_SECTION_PARTS, Partial, Section, SectionText};
pub use flags::Flag;
pub use lexer::MAX_NESTING;
pub use list::{ListCommand, ListReturn, ListSelect, StatusItem};
pub use mailbox::{INBOX, Mailbox, SEPARATOR, SpecialUse, decode_name};
pub use search::{SearchKey, SearchProgram, SearchReturn};
pub use sequence::{SeqNumber, SeqRange, SequenceSet, in_ranges};

use lexer::Cursor;

/// Session facts the grammar depends on.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Options {
    /// UTF8=ACCEPT or IMAP4rev2 enabled: mailbox names are UTF-8, not
    /// modified UTF-7 (RFC 6855 §3, RFC 9051 §6.3.1).
    pub utf8: bool,
}

/// Why a command was not understood; answered with BAD.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParseError {
    #[error("{0}")]
    Syntax(String),
    #[error("unknown command {0}")]
    UnknownCommand(String),
}

impl ParseError {
    pub fn syntax(msg: impl Into<String>) -> ParseError {
        ParseError::Syntax(msg.into())
    }
}

/// A command that did not parse, with its tag when that much was readable
/// (otherwise the BAD is untagged, RFC 9051 §7.1.3).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rejected {
    pub tag: Option<String>,
    pub error: ParseError,
}

/// Parses one complete command: `tag SP command CRLF`, with literal
/// octets inline after their `{n}CRLF` headers.
pub fn parse_command(buf: &[u8], opts: Options) -> Result<Command, Rejected> {
    let mut c = Cursor::new(buf, opts);
    let tag = match c.tag() {
        Ok(t) => t.to_string(),
        Err(error) => return Err(Rejected { tag: None, error }),
    };
    let body = c.sp().and_then(|()| command::body(&mut c)).and_then(|b| {
        c.end()?;
        Ok(b)
    });
    match body {
        Ok(body) => Ok(Command { tag, body }),
        Err(error) => Err(Rejected {
            tag: Some(tag),
            error,
        }),
    }
}
