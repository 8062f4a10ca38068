//! What an IMAP session asks of the rest of moxd: mailboxes, messages,
//! flag changes, copies and expunges of one account, and the account's
//! change events. Production implements it with the store over IPC (each
//! method is one store request); tests with [`crate::imap::testing`].
//!
//! Message flags are in wire spelling (`\Seen`, keywords as the store
//! keeps them); modification sequences are RFC 7162 values (≥ 1).

use std::future::Future;
use std::net::IpAddr;
use std::sync::Arc;

use ipc::store::ChangeEvent;
use tokio::sync::broadcast;

use super::parse::SpecialUse;
use super::parsed::ParsedMessage;
use crate::sasl::Credentials;

/// Flags in wire spelling.
pub type Flags = Vec<String>;

/// A backend failure, grouped by how the client is told.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BackendError {
    /// Try again later (`NO [UNAVAILABLE]`); nothing changed.
    #[error("temporary failure: {0}")]
    Temporary(String),
    /// `NO [NONEXISTENT]` (with `[TRYCREATE]` for APPEND/COPY targets).
    #[error("not found: {0}")]
    NotFound(String),
    /// `NO [ALREADYEXISTS]`.
    #[error("exists: {0}")]
    Exists(String),
    /// A request the store refuses as such (`NO [CANNOT]`), e.g. deleting
    /// Inbox or an invalid name.
    #[error("cannot: {0}")]
    Cannot(String),
    /// `NO [OVERQUOTA]`.
    #[error("over quota: {0}")]
    OverQuota(String),
    /// `NO [LIMIT]`, e.g. too many keywords.
    #[error("limit: {0}")]
    Limit(String),
}

/// One mailbox with its counts (RFC 9051 §6.3.11 STATUS items).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MailboxInfo {
    pub id: i64,
    pub name: String,
    pub special_use: Option<SpecialUse>,
    pub uidvalidity: u32,
    pub uidnext: u32,
    pub highest_modseq: u64,
    pub messages: u32,
    pub unseen: u32,
    /// Messages with \Deleted.
    pub deleted: u32,
    /// Sum of message sizes (RFC 8438).
    pub size: u64,
    /// Messages no session has claimed as \Recent yet (RFC 3501 §6.3.10
    /// STATUS RECENT).
    pub recent: u32,
}

/// Everything about a message but its content.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MessageMeta {
    pub uid: u32,
    pub modseq: u64,
    pub flags: Flags,
    /// RFC822.SIZE: the message as stored (delivery prefix included).
    pub size: u64,
    /// INTERNALDATE, unix seconds.
    pub internal_date: i64,
    /// RFC 8514 SAVEDATE, unix seconds.
    pub save_date: Option<i64>,
}

/// A mailbox as SELECT sees it: its counts and the UIDs of its messages,
/// nothing per message beyond that (commands read metadata when they
/// need it), so that opening a large mailbox is cheap.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Snapshot {
    pub mailbox: MailboxInfo,
    /// UIDs of the non-expunged messages, ascending.
    pub uids: Vec<u32>,
    /// Keywords set on messages of the mailbox (its FLAGS), sorted.
    pub keywords: Vec<String>,
    /// The lowest UID of a message without \Seen (RFC 3501 UNSEEN).
    pub first_unseen: Option<u32>,
    /// Messages from this UID on are \Recent in no session yet.
    pub first_unclaimed_uid: u32,
}

/// A message's octets (delivery prefix and file) and its structure as
/// computed at delivery.
#[derive(Debug, Clone)]
pub struct MessageContent {
    pub bytes: Arc<[u8]>,
    pub parsed: Arc<ParsedMessage>,
}

/// One message of an APPEND.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewMessage {
    pub data: Vec<u8>,
    pub flags: Flags,
    /// INTERNALDATE to record; None: now.
    pub internal_date: Option<i64>,
}

/// Result of an APPEND (RFC 4315 APPENDUID).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Appended {
    pub mailbox_id: i64,
    pub uidvalidity: u32,
    /// UIDs of the new messages, in the order given.
    pub uids: Vec<u32>,
}

/// How STORE changes flags (RFC 9051 §6.4.6).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FlagOp {
    Add,
    Remove,
    Replace,
}

/// One STORE: applied to each of `uids` that exists and, with
/// `unchanged_since`, whose modseq is not above it (RFC 7162 §3.1.3).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FlagChange {
    pub uids: Vec<u32>,
    pub op: FlagOp,
    pub flags: Flags,
    pub unchanged_since: Option<u64>,
}

/// A message's flags after a STORE.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FlagState {
    pub uid: u32,
    pub flags: Flags,
    pub modseq: u64,
    /// Whether this STORE changed them (and gave a new modseq).
    pub changed: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct StoreOutcome {
    /// Every existing message the STORE was applied to, ascending by UID.
    pub messages: Vec<FlagState>,
    /// UIDs not changed because of UNCHANGEDSINCE (`[MODIFIED]`).
    pub modified: Vec<u32>,
}

/// Result of COPY or MOVE (RFC 4315 COPYUID).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Copied {
    pub uidvalidity: u32,
    /// (source UID, destination UID), ascending by source UID.
    pub mapping: Vec<(u32, u32)>,
}

/// Storage use of an account (RFC 9208 STORAGE, in octets).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Quota {
    pub used: u64,
    /// None: unlimited.
    pub limit: Option<u64>,
}

/// The session's view of moxd. `Credentials` serves LOGIN and
/// AUTHENTICATE. Mailboxes are named as [`crate::imap::parse::Mailbox`]
/// spells them (`/` separated, `Inbox`); the selected mailbox is
/// addressed by id.
pub trait Backend: Credentials + Send + Sync + 'static {
    /// Whether a login attempt from `ip` may start now (failed-login rate
    /// limits shared with SMTP and web through the store).
    fn auth_allowed(&self, ip: IpAddr) -> impl Future<Output = Result<bool, BackendError>> + Send {
        let _ = ip;
        async { Ok(true) }
    }

    /// Count the outcome of a finished login attempt from `ip`.
    fn auth_record(&self, ip: IpAddr, success: bool) -> impl Future<Output = ()> + Send {
        let _ = (ip, success);
        async {}
    }

    /// The mailbox's highest modseq as committed now, so that a session
    /// can wait until the change events up to it have arrived. None: the
    /// events of committed changes are always already there (tests).
    fn mailbox_modseq(
        &self,
        account: &str,
        mailbox_id: i64,
    ) -> impl Future<Output = Result<Option<u64>, BackendError>> + Send {
        let _ = (account, mailbox_id);
        async { Ok(None) }
    }

    /// The account's change events from now on, in commit order. A
    /// receiver that lags must resynchronise (the session re-reads the
    /// selected mailbox).
    fn changes(
        &self,
        account: &str,
    ) -> impl Future<Output = Result<broadcast::Receiver<ChangeEvent>, BackendError>> + Send;

    /// All mailboxes, Inbox first then by name.
    fn mailboxes(
        &self,
        account: &str,
    ) -> impl Future<Output = Result<Vec<MailboxInfo>, BackendError>> + Send;

    /// Subscribed names, sorted (they need not exist, RFC 9051 §6.3.7).
    fn subscriptions(
        &self,
        account: &str,
    ) -> impl Future<Output = Result<Vec<String>, BackendError>> + Send;

    fn set_subscribed(
        &self,
        account: &str,
        name: &str,
        subscribed: bool,
    ) -> impl Future<Output = Result<(), BackendError>> + Send;

    /// Creates a mailbox (and missing parents, RFC 9051 §6.3.4).
    fn create_mailbox(
        &self,
        account: &str,
        name: &str,
        special_use: Option<SpecialUse>,
    ) -> impl Future<Output = Result<(), BackendError>> + Send;

    fn delete_mailbox(
        &self,
        account: &str,
        name: &str,
    ) -> impl Future<Output = Result<(), BackendError>> + Send;

    /// Renames a mailbox and its children (RFC 9051 §6.3.6).
    fn rename_mailbox(
        &self,
        account: &str,
        from: &str,
        to: &str,
    ) -> impl Future<Output = Result<(), BackendError>> + Send;

    /// One mailbox's counts (STATUS).
    fn mailbox(
        &self,
        account: &str,
        name: &str,
    ) -> impl Future<Output = Result<MailboxInfo, BackendError>> + Send;

    /// SELECT/EXAMINE, and resynchronisation after lost events.
    fn select(
        &self,
        account: &str,
        name: &str,
    ) -> impl Future<Output = Result<Snapshot, BackendError>> + Send;

    /// Metadata of the messages with a modseq above `since`, ascending by
    /// UID (RFC 7162 §3.2.5.1 QRESYNC; resynchronisation after lost
    /// events).
    fn changed_since(
        &self,
        account: &str,
        mailbox_id: i64,
        since: u64,
    ) -> impl Future<Output = Result<Vec<MessageMeta>, BackendError>> + Send;

    /// \Recent (RFC 3501 §2.3.2): claims for this session the messages
    /// with a UID up to `up_to` that no session has claimed yet (a message
    /// is recent in one session only); with `claim` false (EXAMINE) only
    /// tells which those are. Returns their UIDs (first, last), inclusive.
    fn claim_recent(
        &self,
        account: &str,
        mailbox_id: i64,
        up_to: u32,
        claim: bool,
    ) -> impl Future<Output = Result<Option<(u32, u32)>, BackendError>> + Send;

    /// Current metadata of those of `uids` that exist, ascending by UID.
    fn message_meta(
        &self,
        account: &str,
        mailbox_id: i64,
        uids: &[u32],
    ) -> impl Future<Output = Result<Vec<MessageMeta>, BackendError>> + Send;

    /// A message's content; None if it was expunged.
    fn message_content(
        &self,
        account: &str,
        mailbox_id: i64,
        uid: u32,
    ) -> impl Future<Output = Result<Option<MessageContent>, BackendError>> + Send;

    /// UIDs expunged with a modseq above `since` (RFC 7162 §3.2.5.2
    /// VANISHED (EARLIER)), ascending.
    fn vanished(
        &self,
        account: &str,
        mailbox_id: i64,
        since: u64,
    ) -> impl Future<Output = Result<Vec<u32>, BackendError>> + Send;

    /// Adds messages to a mailbox, all or none (RFC 3502 §6.3.11).
    fn append(
        &self,
        account: &str,
        mailbox: &str,
        messages: Vec<NewMessage>,
    ) -> impl Future<Output = Result<Appended, BackendError>> + Send;

    /// Changes flags; each changed message gets a new modseq.
    fn store_flags(
        &self,
        account: &str,
        mailbox_id: i64,
        change: &FlagChange,
    ) -> impl Future<Output = Result<StoreOutcome, BackendError>> + Send;

    /// Copies messages (those of `uids` that exist) to `to`.
    fn copy(
        &self,
        account: &str,
        from_mailbox_id: i64,
        uids: &[u32],
        to: &str,
    ) -> impl Future<Output = Result<Copied, BackendError>> + Send;

    /// Moves messages: copy and expunge in one change (RFC 6851).
    fn move_messages(
        &self,
        account: &str,
        from_mailbox_id: i64,
        uids: &[u32],
        to: &str,
    ) -> impl Future<Output = Result<Copied, BackendError>> + Send;

    /// Expunges the messages that have \Deleted, among `uids` when given
    /// (UID EXPUNGE, RFC 4315 §2.1). Returns the UIDs expunged, ascending.
    fn expunge(
        &self,
        account: &str,
        mailbox_id: i64,
        uids: Option<&[u32]>,
    ) -> impl Future<Output = Result<Vec<u32>, BackendError>> + Send;

    /// Storage use and limit (RFC 9208).
    fn quota(&self, account: &str) -> impl Future<Output = Result<Quota, BackendError>> + Send;
}
