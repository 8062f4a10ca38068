//! any worker ⇄ store. The store checks each request against the rights of
//! the connection's [`crate::role::Peer`] (see `store/src/server/rights.rs`).
//!
//! Message bodies are passed as file descriptors: `Deliver` and `QueueAdd`
//! carry the message as an attached fd (memfd or unlinked file), and
//! `MessageOpen` answers with one.

use serde::{Deserialize, Serialize};

/// Flags as stored: system flags by name (`\Seen`) and keywords.
pub type Flags = Vec<String>;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum StoreRequest {
    Ping,
    DomainAdd {
        domain: String,
    },
    DomainDel {
        domain: String,
    },
    DomainList,
    /// Create an account with its first address (its domain must exist).
    AccountAdd {
        name: String,
        address: String,
    },
    AccountDel {
        name: String,
    },
    AccountList,
    /// Derive and store the salted SCRAM keys; ends no sessions yet.
    SetPassword {
        account: String,
        password: String,
    },
    AddressAdd {
        address: String,
        account: String,
    },
    AddressDel {
        address: String,
    },
    /// Which account receives mail for this address (None: unknown).
    ResolveRecipient {
        address: String,
    },
    /// Check a plain password (PLAIN/LOGIN) for a login name (an address).
    VerifyPassword {
        login: String,
        password: String,
    },
    /// Salted credentials for a SCRAM exchange done by the worker.
    ScramCredentials {
        login: String,
        mechanism: ScramMechanism,
    },
    /// Deliver the attached message fd to a mailbox; answered only after
    /// the file and its row are durable.
    Deliver(Delivery),
    Mailboxes {
        account: String,
    },
    MessageList {
        account: String,
        mailbox: String,
    },
    /// Answered with `MessageFile` and the message file attached.
    MessageOpen {
        account: String,
        message_id: i64,
    },
    /// Change events of one account are sent as `Event` replies carrying
    /// this request's id until the connection closes.
    Subscribe {
        account: String,
    },
    /// Outbound queue row for the attached message fd.
    QueueAdd(QueueAdd),
    QueueList,
    /// Whether `address` is one of `account`'s own addresses (no catch-all):
    /// the submission check of the envelope sender.
    AccountOwns {
        account: String,
        address: String,
    },
    /// Whether a login attempt from this IP is allowed now (failed-auth
    /// rate limits, shared by SMTP, IMAP and web).
    AuthCheck {
        ip: std::net::IpAddr,
    },
    /// Record the outcome of a login attempt from this IP.
    AuthRecord {
        ip: std::net::IpAddr,
        success: bool,
    },
    /// Queue worker: messages (not held) with a pending recipient due now,
    /// oldest first, at most `limit`; answered with `QueueDue`.
    QueueDue {
        limit: u32,
    },
    /// Queue worker: an attempt starts for these recipients (by index).
    /// Their attempt count goes up and they are not due again before
    /// `next_attempt`, so a worker that dies mid-attempt retries then.
    QueueClaim {
        id: i64,
        recipients: Vec<u32>,
        next_attempt: i64,
    },
    /// Queue worker: answered with `QueueFile` and the message file attached.
    QueueOpen {
        id: i64,
    },
    /// Queue worker: the outcome of an attempt per recipient. A message
    /// without pending recipients is removed (row and file).
    QueueResult {
        id: i64,
        results: Vec<RecipientResult>,
    },
    /// Queued messages with per-recipient state; with `domain`, only those
    /// with a recipient in that domain.
    QueueEntries {
        domain: Option<String>,
    },
    /// Keep a message from being attempted until released.
    QueueHold {
        id: i64,
    },
    QueueRelease {
        id: i64,
    },
    /// Make every pending recipient of a message due now.
    QueueKick {
        id: i64,
    },
    /// Remove a message from the queue without a DSN.
    QueueDrop {
        id: i64,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum ScramMechanism {
    Sha1,
    Sha256,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Delivery {
    pub account: String,
    pub mailbox: String,
    pub flags: Flags,
    /// Headers added at delivery (Received, Authentication-Results, …),
    /// stored in the row, not in the file.
    pub prefix: Vec<u8>,
    /// Unix seconds; None: now.
    pub received: Option<i64>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct QueueAdd {
    pub account: String,
    pub mail_from: String,
    pub recipients: Vec<String>,
    pub prefix: Vec<u8>,
    /// Opaque per-message options (DSN parameters, REQUIRETLS), JSON.
    pub options: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum StoreReply {
    Ok,
    Pong,
    Error(StoreError),
    Domains(Vec<String>),
    Accounts(Vec<AccountInfo>),
    Recipient(Option<String>),
    Authenticated(Option<String>),
    Scram(Option<ScramCredentials>),
    Delivered(Delivered),
    Mailboxes(Vec<MailboxInfo>),
    Messages(Vec<MessageInfo>),
    /// The message file is attached; `prefix` goes before it.
    MessageFile {
        prefix: Vec<u8>,
        size: u64,
    },
    Subscribed,
    Event(ChangeEvent),
    Queued {
        queue_id: i64,
    },
    Queue(Vec<QueueInfo>),
    Owns(bool),
    /// Whether a login attempt may proceed; false: rate limited.
    AuthAllowed(bool),
    /// Due messages; `next_due`: when the earliest other pending
    /// recipient (not held) falls due, if any.
    QueueDue {
        messages: Vec<QueueEntry>,
        next_due: Option<i64>,
    },
    /// The queued message file is attached; `prefix` goes before it.
    QueueFile {
        prefix: Vec<u8>,
        size: u64,
    },
    /// A result was recorded; `removed`: no recipient is pending any more
    /// and the message left the queue.
    QueueUpdated {
        removed: bool,
    },
    QueueEntries(Vec<QueueEntry>),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum StoreErrorKind {
    NotFound,
    Exists,
    Invalid,
    Forbidden,
    /// Try again later (I/O error, store busy); the message was not stored.
    Temporary,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoreError {
    pub kind: StoreErrorKind,
    pub message: String,
}

impl std::fmt::Display for StoreError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:?}: {}", self.kind, self.message)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccountInfo {
    pub name: String,
    pub addresses: Vec<String>,
    pub messages: u64,
    pub size: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScramCredentials {
    pub account: String,
    pub salt: Vec<u8>,
    pub iterations: u32,
    pub stored_key: Vec<u8>,
    pub server_key: Vec<u8>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Delivered {
    pub message_id: i64,
    pub mailbox_id: i64,
    pub uid: u32,
    pub modseq: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MailboxInfo {
    pub id: i64,
    pub name: String,
    pub special_use: Option<String>,
    pub uidvalidity: u32,
    pub uidnext: u32,
    pub highest_modseq: i64,
    pub messages: u64,
    pub unseen: u64,
    pub size: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MessageInfo {
    pub id: i64,
    pub uid: u32,
    pub modseq: i64,
    pub flags: Flags,
    pub size: u64,
    pub received: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct QueueInfo {
    pub id: i64,
    pub account: String,
    pub mail_from: String,
    pub recipients: Vec<String>,
    pub size: u64,
    pub queued: i64,
    pub next_attempt: i64,
    pub attempts: u32,
    pub hold: bool,
}

/// A change to an account, published in commit order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum ChangeEvent {
    MessageAdded {
        account: String,
        mailbox_id: i64,
        uid: u32,
        modseq: i64,
        message_id: i64,
    },
    FlagsChanged {
        account: String,
        mailbox_id: i64,
        uid: u32,
        modseq: i64,
        flags: Flags,
    },
    Expunged {
        account: String,
        mailbox_id: i64,
        uids: Vec<u32>,
        modseq: i64,
    },
    MailboxCreated {
        account: String,
        name: String,
    },
    MailboxRenamed {
        account: String,
        from: String,
        to: String,
    },
    MailboxDeleted {
        account: String,
        name: String,
    },
}

/// A queued message with the state of each recipient.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct QueueEntry {
    pub id: i64,
    pub account: String,
    /// Empty: the null reverse path.
    pub mail_from: String,
    pub size: u64,
    pub queued: i64,
    pub hold: bool,
    /// DSN parameters and more as stored at submission (JSON).
    pub options: String,
    pub recipients: Vec<QueueRecipient>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct QueueRecipient {
    /// Position in the message's recipient list.
    pub index: u32,
    pub address: String,
    pub state: RecipientState,
    pub attempts: u32,
    pub next_attempt: i64,
    pub last_attempt: Option<i64>,
    pub last_error: Option<String>,
    /// A delay DSN was sent for this recipient.
    pub delay_notified: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum RecipientState {
    Pending,
    Delivered,
    Failed,
}

/// What one delivery attempt did for one recipient.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RecipientResult {
    pub index: u32,
    pub outcome: RecipientOutcome,
    /// What happened, for `moxctl queue list` (peer text already escaped).
    pub error: Option<String>,
    /// A delay DSN was sent for this recipient with this result.
    pub delay_notified: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum RecipientOutcome {
    Delivered,
    Failed,
    Retry { next_attempt: i64 },
}
