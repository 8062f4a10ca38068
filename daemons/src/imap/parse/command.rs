//! A complete command → a typed [`Command`] (RFC 9051 §6 and the
//! extensions cited per variant). This is the only name → command match.
//! Whether a command is allowed in the session's state is the session's
//! business (`imap/cmd/`).

use base64::Engine as _;

use super::ParseError;
use super::fetch::{FetchAttr, FetchModifiers};
use super::flags::Flag;
use super::lexer::Cursor;
use super::list::{ListCommand, StatusItem};
use super::mailbox::{Mailbox, SpecialUse};
use super::search::{SearchKey, SearchProgram};
use super::sequence::SequenceSet;
use crate::imap::datetime::DateTime;

/// RFC 2971 §3.3: at most 30 field-value pairs …
pub const MAX_ID_PAIRS: usize = 30;
/// … fields of at most 30 octets …
pub const MAX_ID_FIELD: usize = 30;
/// … and values of at most 1024 octets.
pub const MAX_ID_VALUE: usize = 1024;
/// Most messages in one MULTIAPPEND (RFC 3502).
pub const MAX_APPEND_MESSAGES: usize = 1000;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Command {
    pub tag: String,
    pub body: CommandBody,
}

/// RFC 7162 §3.2.5 QRESYNC parameters of SELECT/EXAMINE.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Qresync {
    pub uidvalidity: u32,
    pub modseq: u64,
    pub known_uids: Option<SequenceSet>,
    /// `(known-sequence-set known-uid-set)`.
    pub seq_match: Option<(SequenceSet, SequenceSet)>,
}

/// SELECT/EXAMINE parameters (RFC 7162 §3.1.8, §3.2.5).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SelectParams {
    pub condstore: bool,
    pub qresync: Option<Qresync>,
}

/// One message of APPEND (RFC 9051 §6.3.12, RFC 3502 MULTIAPPEND).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AppendMessage {
    pub flags: Vec<Flag>,
    pub date: Option<DateTime>,
    pub data: Vec<u8>,
    /// Sent as `literal8` (RFC 3516 §4.4): may contain NUL.
    pub binary: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StoreOp {
    /// `FLAGS`
    Replace,
    /// `+FLAGS`
    Add,
    /// `-FLAGS`
    Remove,
}

/// RFC 9051 §6.4.6 with RFC 7162 §3.1.3 UNCHANGEDSINCE.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoreAction {
    pub op: StoreOp,
    pub silent: bool,
    pub flags: Vec<Flag>,
    pub unchanged_since: Option<u64>,
}

/// RFC 5256 §3 / RFC 5957 sort keys.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SortKey {
    Arrival,
    Cc,
    Date,
    From,
    Size,
    Subject,
    To,
    DisplayFrom,
    DisplayTo,
}

impl SortKey {
    pub const ALL: [SortKey; 9] = [
        SortKey::Arrival,
        SortKey::Cc,
        SortKey::Date,
        SortKey::From,
        SortKey::Size,
        SortKey::Subject,
        SortKey::To,
        SortKey::DisplayFrom,
        SortKey::DisplayTo,
    ];

    pub fn name(self) -> &'static str {
        match self {
            SortKey::Arrival => "ARRIVAL",
            SortKey::Cc => "CC",
            SortKey::Date => "DATE",
            SortKey::From => "FROM",
            SortKey::Size => "SIZE",
            SortKey::Subject => "SUBJECT",
            SortKey::To => "TO",
            SortKey::DisplayFrom => "DISPLAYFROM",
            SortKey::DisplayTo => "DISPLAYTO",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SortCriterion {
    pub reverse: bool,
    pub key: SortKey,
}

/// RFC 5256 §3 THREAD algorithms.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ThreadAlgorithm {
    OrderedSubject,
    References,
}

impl ThreadAlgorithm {
    pub fn name(self) -> &'static str {
        match self {
            ThreadAlgorithm::OrderedSubject => "ORDEREDSUBJECT",
            ThreadAlgorithm::References => "REFERENCES",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CommandBody {
    // RFC 9051 §6.1: any state.
    Capability,
    Noop,
    Logout,
    /// RFC 2971; None for `ID NIL`.
    Id(Option<Vec<(String, Option<String>)>>),

    // RFC 9051 §6.2: not authenticated.
    StartTls,
    /// RFC 9051 §6.2.2 with RFC 4959 SASL-IR; `initial` is decoded, and
    /// `=` is `Some(empty)`.
    Authenticate {
        mechanism: String,
        initial: Option<Vec<u8>>,
    },
    Login {
        user: String,
        password: String,
    },

    // RFC 9051 §6.3: authenticated.
    Enable(Vec<String>),
    Select {
        mailbox: Mailbox,
        params: SelectParams,
    },
    Examine {
        mailbox: Mailbox,
        params: SelectParams,
    },
    /// With RFC 6154 §3 `USE (...)`.
    Create {
        mailbox: Mailbox,
        special_use: Vec<SpecialUse>,
    },
    Delete(Mailbox),
    Rename {
        from: Mailbox,
        to: Mailbox,
    },
    Subscribe(Mailbox),
    Unsubscribe(Mailbox),
    List(ListCommand),
    /// IMAP4rev1 (RFC 3501 §6.3.9).
    Lsub {
        reference: String,
        pattern: String,
    },
    /// RFC 2342.
    Namespace,
    Status {
        mailbox: Mailbox,
        items: Vec<StatusItem>,
    },
    Append {
        mailbox: Mailbox,
        messages: Vec<AppendMessage>,
    },
    /// RFC 2177.
    Idle,
    /// RFC 9208 §4.2.
    GetQuota(String),
    /// RFC 9208 §4.3.
    GetQuotaRoot(Mailbox),
    /// RFC 9208 §4.1 (refused: limits come from the configuration).
    SetQuota {
        root: String,
        limits: Vec<(String, u64)>,
    },
    /// RFC 4978.
    Compress(String),

    // RFC 9051 §6.4: selected.
    Check,
    Close,
    /// RFC 3691.
    Unselect,
    Expunge,
    /// RFC 4315 §2.1.
    UidExpunge(SequenceSet),
    Search {
        uid: bool,
        program: SearchProgram,
    },
    Fetch {
        uid: bool,
        set: SequenceSet,
        attrs: Vec<FetchAttr>,
        modifiers: FetchModifiers,
    },
    Store {
        uid: bool,
        set: SequenceSet,
        action: StoreAction,
    },
    Copy {
        uid: bool,
        set: SequenceSet,
        mailbox: Mailbox,
    },
    /// RFC 6851.
    Move {
        uid: bool,
        set: SequenceSet,
        mailbox: Mailbox,
    },
    /// RFC 5256 §3.
    Sort {
        uid: bool,
        criteria: Vec<SortCriterion>,
        charset: String,
        key: SearchKey,
    },
    Thread {
        uid: bool,
        algorithm: ThreadAlgorithm,
        charset: String,
        key: SearchKey,
    },
}

impl CommandBody {
    /// The command name, for logs and error texts.
    pub fn name(&self) -> &'static str {
        use CommandBody::*;
        match self {
            Capability => "CAPABILITY",
            Noop => "NOOP",
            Logout => "LOGOUT",
            Id(_) => "ID",
            StartTls => "STARTTLS",
            Authenticate { .. } => "AUTHENTICATE",
            Login { .. } => "LOGIN",
            Enable(_) => "ENABLE",
            Select { .. } => "SELECT",
            Examine { .. } => "EXAMINE",
            Create { .. } => "CREATE",
            Delete(_) => "DELETE",
            Rename { .. } => "RENAME",
            Subscribe(_) => "SUBSCRIBE",
            Unsubscribe(_) => "UNSUBSCRIBE",
            List(_) => "LIST",
            Lsub { .. } => "LSUB",
            Namespace => "NAMESPACE",
            Status { .. } => "STATUS",
            Append { .. } => "APPEND",
            Idle => "IDLE",
            GetQuota(_) => "GETQUOTA",
            GetQuotaRoot(_) => "GETQUOTAROOT",
            SetQuota { .. } => "SETQUOTA",
            Compress(_) => "COMPRESS",
            Check => "CHECK",
            Close => "CLOSE",
            Unselect => "UNSELECT",
            Expunge => "EXPUNGE",
            UidExpunge(_) => "UID EXPUNGE",
            Search { uid: false, .. } => "SEARCH",
            Search { uid: true, .. } => "UID SEARCH",
            Fetch { uid: false, .. } => "FETCH",
            Fetch { uid: true, .. } => "UID FETCH",
            Store { uid: false, .. } => "STORE",
            Store { uid: true, .. } => "UID STORE",
            Copy { uid: false, .. } => "COPY",
            Copy { uid: true, .. } => "UID COPY",
            Move { uid: false, .. } => "MOVE",
            Move { uid: true, .. } => "UID MOVE",
            Sort { uid: false, .. } => "SORT",
            Sort { uid: true, .. } => "UID SORT",
            Thread { uid: false, .. } => "THREAD",
            Thread { uid: true, .. } => "UID THREAD",
        }
    }
}

/// Parses a command after its tag and the space that follows it.
pub(super) fn body(c: &mut Cursor<'_>) -> Result<CommandBody, ParseError> {
    let name = c.atom()?.to_ascii_uppercase();
    let body = match name.as_str() {
        "CAPABILITY" => CommandBody::Capability,
        "NOOP" => CommandBody::Noop,
        "LOGOUT" => CommandBody::Logout,
        "ID" => id(c)?,
        "STARTTLS" => CommandBody::StartTls,
        "AUTHENTICATE" => authenticate(c)?,
        "LOGIN" => {
            c.sp()?;
            let user = c.astring_utf8()?;
            c.sp()?;
            let password = c.astring_utf8()?;
            CommandBody::Login { user, password }
        }
        "ENABLE" => {
            let mut caps = Vec::new();
            while c.more() {
                caps.push(c.atom()?.to_string());
            }
            if caps.is_empty() {
                return Err(c.err("ENABLE needs a capability"));
            }
            CommandBody::Enable(caps)
        }
        "SELECT" | "EXAMINE" => {
            c.sp()?;
            let mailbox = c.mailbox_to_open()?;
            let params = select_params(c)?;
            if name == "SELECT" {
                CommandBody::Select { mailbox, params }
            } else {
                CommandBody::Examine { mailbox, params }
            }
        }
        "CREATE" => create(c)?,
        "DELETE" => CommandBody::Delete(mailbox_arg(c)?),
        "RENAME" => {
            let from = mailbox_arg(c)?;
            let to = mailbox_arg(c)?;
            CommandBody::Rename { from, to }
        }
        "SUBSCRIBE" => CommandBody::Subscribe(mailbox_arg(c)?),
        "UNSUBSCRIBE" => CommandBody::Unsubscribe(mailbox_arg(c)?),
        "LIST" => {
            c.sp()?;
            CommandBody::List(c.list_command()?)
        }
        "LSUB" => {
            c.sp()?;
            let reference = c.list_name()?;
            c.sp()?;
            let pattern = c.list_name()?;
            CommandBody::Lsub { reference, pattern }
        }
        "NAMESPACE" => CommandBody::Namespace,
        "STATUS" => {
            let mailbox = mailbox_arg(c)?;
            c.sp()?;
            CommandBody::Status {
                mailbox,
                items: c.status_atts()?,
            }
        }
        "APPEND" => append(c)?,
        "IDLE" => CommandBody::Idle,
        "GETQUOTA" => {
            c.sp()?;
            CommandBody::GetQuota(c.astring_utf8()?)
        }
        "GETQUOTAROOT" => CommandBody::GetQuotaRoot(mailbox_arg(c)?),
        "SETQUOTA" => {
            c.sp()?;
            let root = c.astring_utf8()?;
            c.sp()?;
            let limits = c.paren_list(true, |c| {
                let r = c.atom()?.to_ascii_uppercase();
                c.sp()?;
                Ok((r, c.number64()?))
            })?;
            CommandBody::SetQuota { root, limits }
        }
        "COMPRESS" => {
            c.sp()?;
            CommandBody::Compress(c.atom()?.to_ascii_uppercase())
        }
        "CHECK" => CommandBody::Check,
        "CLOSE" => CommandBody::Close,
        "UNSELECT" => CommandBody::Unselect,
        "EXPUNGE" => CommandBody::Expunge,
        "UID" => {
            c.sp()?;
            let sub = c.atom()?.to_ascii_uppercase();
            if sub == "EXPUNGE" {
                c.sp()?;
                CommandBody::UidExpunge(c.sequence_set()?)
            } else {
                selected(c, &sub, true)?
            }
        }
        "SEARCH" | "FETCH" | "STORE" | "COPY" | "MOVE" | "SORT" | "THREAD" => {
            selected(c, &name, false)?
        }
        _ => return Err(ParseError::UnknownCommand(name)),
    };
    Ok(body)
}

fn mailbox_arg(c: &mut Cursor<'_>) -> Result<Mailbox, ParseError> {
    c.sp()?;
    c.mailbox()
}

/// The commands that have a UID form (RFC 9051 §6.4.9).
fn selected(c: &mut Cursor<'_>, name: &str, uid: bool) -> Result<CommandBody, ParseError> {
    c.sp()?;
    Ok(match name {
        "SEARCH" => CommandBody::Search {
            uid,
            program: c.search_program()?,
        },
        "FETCH" => {
            let set = c.sequence_set()?;
            c.sp()?;
            let attrs = c.fetch_atts()?;
            let modifiers = if c.more() {
                c.fetch_modifiers()?
            } else {
                FetchModifiers::default()
            };
            CommandBody::Fetch {
                uid,
                set,
                attrs,
                modifiers,
            }
        }
        "STORE" => {
            let set = c.sequence_set()?;
            c.sp()?;
            let action = store_action(c)?;
            CommandBody::Store { uid, set, action }
        }
        "COPY" | "MOVE" => {
            let set = c.sequence_set()?;
            let mailbox = mailbox_arg(c)?;
            if name == "COPY" {
                CommandBody::Copy { uid, set, mailbox }
            } else {
                CommandBody::Move { uid, set, mailbox }
            }
        }
        "SORT" => {
            let criteria = c.paren_list(false, |c| {
                let reverse = c.eat_keyword("REVERSE");
                if reverse {
                    c.sp()?;
                }
                let w = c.atom()?;
                let key = SortKey::ALL
                    .into_iter()
                    .find(|k| k.name().eq_ignore_ascii_case(w))
                    .ok_or_else(|| c.err(format!("unknown sort key {w}")))?;
                Ok(SortCriterion { reverse, key })
            })?;
            c.sp()?;
            let charset = c.astring_utf8()?;
            c.sp()?;
            let key = c.search_keys()?;
            CommandBody::Sort {
                uid,
                criteria,
                charset,
                key,
            }
        }
        "THREAD" => {
            let w = c.atom()?.to_ascii_uppercase();
            let algorithm = match w.as_str() {
                "ORDEREDSUBJECT" => ThreadAlgorithm::OrderedSubject,
                "REFERENCES" => ThreadAlgorithm::References,
                _ => return Err(c.err(format!("unknown thread algorithm {w}"))),
            };
            c.sp()?;
            let charset = c.astring_utf8()?;
            c.sp()?;
            let key = c.search_keys()?;
            CommandBody::Thread {
                uid,
                algorithm,
                charset,
                key,
            }
        }
        _ => return Err(c.err(format!("unknown UID command {name}"))),
    })
}

/// RFC 2971 §3.3 `id_params_list`.
fn id(c: &mut Cursor<'_>) -> Result<CommandBody, ParseError> {
    c.sp()?;
    if c.peek() != Some(b'(') {
        c.keyword("NIL")?;
        return Ok(CommandBody::Id(None));
    }
    let mut pairs = Vec::new();
    c.expect(b'(')?;
    if !c.eat(b')') {
        loop {
            let field = c.string_utf8()?;
            c.sp()?;
            let value = match c.nstring()? {
                Some(v) => Some(
                    String::from_utf8(v.into_owned())
                        .map_err(|_| c.err("ID value is not valid UTF-8"))?,
                ),
                None => None,
            };
            if field.len() > MAX_ID_FIELD || value.as_ref().is_some_and(|v| v.len() > MAX_ID_VALUE)
            {
                return Err(c.err("ID field or value too long"));
            }
            pairs.push((field, value));
            if pairs.len() > MAX_ID_PAIRS {
                return Err(c.err(format!("more than {MAX_ID_PAIRS} ID pairs")));
            }
            if c.eat(b')') {
                break;
            }
            c.sp()?;
        }
    }
    Ok(CommandBody::Id(Some(pairs)))
}

/// RFC 9051 §6.2.2 / RFC 4959 §3 `authenticate`.
fn authenticate(c: &mut Cursor<'_>) -> Result<CommandBody, ParseError> {
    c.sp()?;
    let mechanism = c.atom()?.to_ascii_uppercase();
    let initial = if c.more() {
        let r = c.rest();
        let n = r
            .iter()
            .take_while(|b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'/' | b'='))
            .count();
        let text = &r[..n];
        c.advance(n);
        if text == b"=" {
            Some(Vec::new())
        } else {
            Some(
                base64::engine::general_purpose::STANDARD
                    .decode(text)
                    .map_err(|_| c.err("invalid base64 initial response"))?,
            )
        }
    } else {
        None
    };
    Ok(CommandBody::Authenticate { mechanism, initial })
}

/// RFC 7162 §3.1.8 / §3.2.5 select parameters.
fn select_params(c: &mut Cursor<'_>) -> Result<SelectParams, ParseError> {
    let mut params = SelectParams::default();
    if !c.more() {
        return Ok(params);
    }
    c.paren_list(false, |c| {
        let w = c.atom()?.to_ascii_uppercase();
        match w.as_str() {
            "CONDSTORE" => params.condstore = true,
            "QRESYNC" => {
                c.sp()?;
                c.expect(b'(')?;
                let uidvalidity = c.nz_number()?;
                c.sp()?;
                let modseq = c.modseq()?;
                let mut known_uids = None;
                let mut seq_match = None;
                if c.eat(b' ') {
                    if c.peek() != Some(b'(') {
                        known_uids = Some(c.sequence_set()?);
                        c.eat(b' ');
                    }
                    if c.peek() == Some(b'(') {
                        c.expect(b'(')?;
                        let seqs = c.sequence_set()?;
                        c.sp()?;
                        let uids = c.sequence_set()?;
                        c.expect(b')')?;
                        seq_match = Some((seqs, uids));
                    }
                }
                c.expect(b')')?;
                params.qresync = Some(Qresync {
                    uidvalidity,
                    modseq,
                    known_uids,
                    seq_match,
                });
            }
            _ => return Err(c.err(format!("unknown select parameter {w}"))),
        }
        Ok(())
    })?;
    Ok(params)
}

/// RFC 9051 §6.3.4 with RFC 6154 §3 `create-param`.
fn create(c: &mut Cursor<'_>) -> Result<CommandBody, ParseError> {
    let mailbox = mailbox_arg(c)?;
    let mut special_use = Vec::new();
    if c.more() {
        c.paren_list(false, |c| {
            c.keyword("USE")?;
            c.sp()?;
            let uses = c.paren_list(true, |c| {
                c.expect(b'\\')?;
                let a = c.atom()?;
                SpecialUse::from_wire(&format!("\\{a}"))
                    .ok_or_else(|| c.err(format!("unknown special-use \\{a}")))
            })?;
            special_use.extend(uses);
            Ok(())
        })?;
    }
    Ok(CommandBody::Create {
        mailbox,
        special_use,
    })
}

/// RFC 9051 §6.3.12 / RFC 3502 `append`.
fn append(c: &mut Cursor<'_>) -> Result<CommandBody, ParseError> {
    let mailbox = mailbox_arg(c)?;
    let mut messages = Vec::new();
    while c.more() {
        let flags = if c.peek() == Some(b'(') {
            let f = c.flag_list()?;
            c.sp()?;
            f
        } else {
            Vec::new()
        };
        let date = if c.peek() == Some(b'"') {
            let d = c.date_time()?;
            c.sp()?;
            Some(d)
        } else {
            None
        };
        if !matches!(c.peek(), Some(b'{' | b'~')) {
            return Err(c.err("expected message literal"));
        }
        let lit = c.literal_any()?;
        messages.push(AppendMessage {
            flags,
            date,
            data: lit.data.to_vec(),
            binary: lit.binary,
        });
        if messages.len() > MAX_APPEND_MESSAGES {
            return Err(c.err(format!(
                "more than {MAX_APPEND_MESSAGES} messages in one APPEND"
            )));
        }
    }
    if messages.is_empty() {
        return Err(c.err("APPEND needs a message"));
    }
    Ok(CommandBody::Append { mailbox, messages })
}

/// RFC 9051 §9 `store-att-flags` with RFC 7162 `store-modifiers`.
fn store_action(c: &mut Cursor<'_>) -> Result<StoreAction, ParseError> {
    let mut unchanged_since = None;
    if c.peek() == Some(b'(') {
        c.paren_list(false, |c| {
            c.keyword("UNCHANGEDSINCE")?;
            c.sp()?;
            unchanged_since = Some(c.number64()?);
            Ok(())
        })?;
        c.sp()?;
    }
    let op = if c.eat(b'+') {
        StoreOp::Add
    } else if c.eat(b'-') {
        StoreOp::Remove
    } else {
        StoreOp::Replace
    };
    let w = c.atom()?.to_ascii_uppercase();
    let silent = match w.as_str() {
        "FLAGS" => false,
        "FLAGS.SILENT" => true,
        _ => return Err(c.err("expected FLAGS or FLAGS.SILENT")),
    };
    c.sp()?;
    let flags = if c.peek() == Some(b'(') {
        c.flag_list()?
    } else {
        let mut f = vec![c.flag()?];
        while c.more() {
            f.push(c.flag()?);
        }
        f
    };
    if flags.contains(&Flag::Recent) {
        return Err(c.err("\\Recent cannot be stored"));
    }
    Ok(StoreAction {
        op,
        silent,
        flags,
        unchanged_since,
    })
}
