//! Server responses as typed values (RFC 9051 §7): status responses with
//! their response codes, untagged data and continuation requests.
//! [`crate::imap::encode`] is the only place that turns them into octets.

use std::sync::Arc;

use crate::imap::capability::Capability;
use crate::imap::parse::{Section, StatusItem};
use crate::imap::parsed::{Envelope, ParsedMessage};

/// RFC 9051 §7.1 status conditions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    Ok,
    No,
    Bad,
    PreAuth,
    Bye,
}

/// A set of UIDs or sequence numbers as `uid-set` (ascending ranges).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct NumSet(pub Vec<u32>);

/// RFC 9051 §7.1 response codes, and those of the extensions.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Code {
    Alert,
    /// RFC 9051 §7.1: supported charsets.
    BadCharset(Vec<String>),
    Capability(Vec<Capability>),
    Parse,
    PermanentFlags(Vec<String>),
    ReadOnly,
    ReadWrite,
    TryCreate,
    UidNext(u32),
    UidValidity(u32),
    Unseen(u32),
    /// RFC 4315 §3.
    AppendUid {
        uidvalidity: u32,
        uids: NumSet,
    },
    CopyUid {
        uidvalidity: u32,
        source: NumSet,
        dest: NumSet,
    },
    /// RFC 7162 §3.1.2.1.
    HighestModSeq(u64),
    NoModSeq,
    /// RFC 7162 §3.1.3: messages not stored because of UNCHANGEDSINCE.
    Modified(NumSet),
    /// RFC 7162 §3.2.11.
    Closed,
    /// RFC 5530 §3.
    TooBig,
    AlreadyExists,
    NonExistent,
    Cannot,
    Limit,
    OverQuota,
    ServerBug,
    Unavailable,
    AuthenticationFailed,
    AuthorizationFailed,
    PrivacyRequired,
    ContactAdmin,
    NoPerm,
    InUse,
    ExpungeIssued,
    ClientBug,
    /// RFC 3516 §4.3.
    UnknownCte,
    /// RFC 4978 §4.
    CompressionActive,
    /// RFC 6154 §6.
    UseAttr,
    /// RFC 5182 §2.4.
    NotSaved,
    /// RFC 9051 §7.1.
    HasChildren,
}

/// RFC 4731 §3.1 / RFC 9051 §7.3.4 ESEARCH result items.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EsearchItem {
    Min(u32),
    Max(u32),
    All(NumSet),
    Count(u32),
    /// RFC 7162 §3.1.5.
    ModSeq(u64),
}

/// One entry of a LIST/LSUB response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListEntry {
    /// `\HasChildren`, `\Subscribed`, `\Sent`, …
    pub attrs: Vec<String>,
    pub name: String,
    /// RFC 5258 §3.5 CHILDINFO extended data.
    pub childinfo_subscribed: bool,
    /// RFC 5258 §4 OLDNAME (sent after RENAME), unused for now.
    pub old_name: Option<String>,
}

/// RFC 5256 §4 thread tree: a message and its replies; `id` None is a
/// dummy parent (several threads under a missing message).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ThreadNode {
    pub id: Option<u32>,
    pub children: Vec<ThreadNode>,
}

/// One data item of a FETCH response (RFC 9051 §7.5.2).
#[derive(Debug, Clone, PartialEq)]
pub enum FetchItem {
    Uid(u32),
    Flags(Vec<String>),
    ModSeq(u64),
    InternalDate(i64),
    Rfc822Size(u64),
    Envelope(Box<Envelope>),
    /// BODYSTRUCTURE (`extensible`) or BODY of a part of a message.
    Structure {
        parsed: Arc<ParsedMessage>,
        extensible: bool,
    },
    /// BODY[section]<origin>; None data is NIL.
    Section {
        section: Section,
        origin: Option<u64>,
        data: Option<Vec<u8>>,
    },
    /// RFC822, RFC822.HEADER, RFC822.TEXT (IMAP4rev1 names).
    Rfc822 {
        which: Rfc822Part,
        data: Vec<u8>,
    },
    /// RFC 3516 BINARY[part]<origin>.
    Binary {
        part: Vec<u32>,
        origin: Option<u64>,
        data: Option<Vec<u8>>,
    },
    BinarySize {
        part: Vec<u32>,
        size: u64,
    },
    /// RFC 8970; None is NIL.
    Preview(Option<String>),
    /// RFC 8514; None is NIL.
    SaveDate(Option<i64>),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rfc822Part {
    Whole,
    Header,
    Text,
}

/// Untagged data (RFC 9051 §7.2–§7.5 and extensions).
#[derive(Debug, Clone, PartialEq)]
pub enum Data {
    Capability(Vec<Capability>),
    /// RFC 5161 §3.2.
    Enabled(Vec<String>),
    Flags(Vec<String>),
    Exists(u32),
    /// IMAP4rev1 only.
    Recent(u32),
    Expunge(u32),
    /// RFC 7162 §3.2.10.
    Vanished {
        earlier: bool,
        uids: NumSet,
    },
    Fetch {
        seq: u32,
        items: Vec<FetchItem>,
    },
    List(ListEntry),
    Lsub(ListEntry),
    Status {
        mailbox: String,
        items: Vec<(StatusItem, u64)>,
    },
    /// IMAP4rev1 SEARCH, with RFC 7162 §3.1.5 MODSEQ.
    Search {
        nums: Vec<u32>,
        modseq: Option<u64>,
    },
    Esearch {
        tag: Option<String>,
        uid: bool,
        items: Vec<EsearchItem>,
    },
    /// RFC 5256.
    Sort {
        nums: Vec<u32>,
    },
    Thread(Vec<ThreadNode>),
    /// RFC 2342: one personal namespace `("" "/")`.
    Namespace,
    /// RFC 2971.
    Id(Vec<(String, String)>),
    /// RFC 9208 §5.1: resources (name, usage, limit).
    Quota {
        root: String,
        resources: Vec<(String, u64, u64)>,
    },
    /// RFC 9208 §5.2.
    QuotaRoot {
        mailbox: String,
        roots: Vec<String>,
    },
}

/// A complete response.
#[derive(Debug, Clone, PartialEq)]
pub enum Response {
    /// Tagged (with a tag) or untagged (`*`) status response.
    Status {
        tag: Option<String>,
        status: Status,
        code: Option<Code>,
        text: String,
    },
    Data(Data),
    /// `+ text` (RFC 9051 §7.6).
    Continue(String),
    /// `+ base64` for AUTHENTICATE challenges (RFC 9051 §6.2.2).
    Challenge(Vec<u8>),
}

impl Response {
    pub fn tagged(tag: &str, status: Status, code: Option<Code>, text: impl Into<String>) -> Self {
        Response::Status {
            tag: Some(tag.to_string()),
            status,
            code,
            text: text.into(),
        }
    }

    pub fn untagged(status: Status, code: Option<Code>, text: impl Into<String>) -> Self {
        Response::Status {
            tag: None,
            status,
            code,
            text: text.into(),
        }
    }
}
