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
    /// Derive and store the salted SCRAM keys; ends every web session of
    /// the account.
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
    // IMAP (RFC 9051): one request per client change.
    /// Creates a mailbox and its missing parents (RFC 9051 §6.3.4).
    MailboxCreate {
        account: String,
        name: String,
        /// RFC 6154 attribute, e.g. `\Archive`.
        special_use: Option<String>,
    },
    /// Deletes a mailbox (not Inbox, not one with children that has no
    /// own messages rule: RFC 9051 §6.3.5); its messages are expunged.
    MailboxDelete {
        account: String,
        name: String,
    },
    /// Renames a mailbox and its children; renaming Inbox moves its
    /// messages to the new mailbox (RFC 9051 §6.3.6).
    MailboxRename {
        account: String,
        from: String,
        to: String,
    },
    /// One mailbox's counts; answered with `Mailbox`.
    MailboxStatus {
        account: String,
        name: String,
    },
    /// Answered with `Names`, sorted.
    SubscriptionList {
        account: String,
    },
    SubscriptionSet {
        account: String,
        name: String,
        subscribed: bool,
    },
    /// SELECT: the mailbox and, per page, the UIDs of its non-expunged
    /// messages above `after_uid` as at most `limit` ranges (capped by the
    /// store at [`MAX_SELECT_RANGES`]); answered with `Selected`.
    MailboxSelect {
        account: String,
        name: String,
        after_uid: u32,
        limit: u32,
    },
    /// Metadata of those of `uids` that exist (at most [`MAX_PAGE`]);
    /// answered with `Metas`.
    MessageMetas {
        account: String,
        mailbox_id: i64,
        uids: Vec<u32>,
    },
    /// Answered with `Content` and the message file attached, or
    /// `Content` with `found: false` and no file when it was expunged.
    MessageContent {
        account: String,
        mailbox_id: i64,
        uid: u32,
    },
    /// UIDs expunged with a modseq above `since` (RFC 7162 §3.2.5.2);
    /// answered with `Uids`.
    Vanished {
        account: String,
        mailbox_id: i64,
        since: i64,
    },
    /// APPEND/MULTIAPPEND (RFC 3502): one attached fd per message, in
    /// order (so at most [`crate::frame::MAX_FDS_PER_FRAME`] messages);
    /// all are stored or none. Answered with `Appended`.
    Append {
        account: String,
        mailbox: String,
        messages: Vec<AppendMessage>,
    },
    /// STORE (RFC 9051 §6.4.6, RFC 7162 §3.1.3 UNCHANGEDSINCE); answered
    /// with `FlagsStored`.
    StoreFlags(FlagChange),
    /// COPY or MOVE (RFC 6851: copy and expunge in one transaction);
    /// answered with `Copied`.
    Copy {
        account: String,
        from_mailbox_id: i64,
        uids: Vec<u32>,
        to: String,
        expunge_source: bool,
    },
    /// Expunges messages with \Deleted (among `uids` when given, RFC 4315
    /// §2.1); answered with `Uids`.
    Expunge {
        account: String,
        mailbox_id: i64,
        uids: Option<Vec<u32>>,
    },
    /// Storage used and the account's limit (RFC 9208); answered with `Quota`.
    Quota {
        account: String,
    },
    /// Sets an account's storage limit in octets (None: unlimited).
    QuotaSet {
        account: String,
        limit: Option<u64>,
    },
    /// Stores the structure computed for a message delivered without one.
    MessageParsedSet {
        account: String,
        mailbox_id: i64,
        uid: u32,
        parsed: Vec<u8>,
    },
    // Web interface sessions (the web worker only; see store/src/websession.rs).
    /// A new login session, after the password was checked: the store
    /// makes a random session token and CSRF token, keeps only their
    /// SHA-256 hashes, and answers with `WebSessionCreated` (the raw tokens,
    /// once). Drops the oldest sessions over the per-account cap.
    WebSessionCreate {
        interface: WebInterface,
        /// The account; None for the admin interface.
        account: Option<String>,
        /// Expires after this long without use (capped by the store).
        idle_secs: u64,
        remote_ip: String,
        user_agent: String,
    },
    /// Whether a session token is valid (unknown and expired are alike);
    /// with `csrf`, also whether the CSRF token belongs to it. A valid use
    /// with `touch` extends the session. Answered with `WebSessionChecked`.
    WebSessionCheck {
        interface: WebInterface,
        token: String,
        csrf: Option<String>,
        touch: bool,
    },
    /// Logout: ends the session with this token (unknown: still Ok).
    WebSessionDelete {
        interface: WebInterface,
        token: String,
    },
    /// The sessions of an account (None: the administrator's), most
    /// recently used first; answered with `WebSessions`.
    WebSessionList {
        interface: WebInterface,
        account: Option<String>,
    },
    /// Ends every session of the account except the one with `keep_token`.
    WebSessionDeleteOthers {
        interface: WebInterface,
        account: Option<String>,
        keep_token: String,
    },
    /// Like `SetPassword`, but keeps the account session with `keep_token`
    /// (the one that made the change) and ends every other.
    SetPasswordKeepSession {
        account: String,
        password: String,
        keep_token: String,
    },
    /// Sets the admin web interface's password (a salted PBKDF2 hash in
    /// system.db) and ends every admin session. Administrators only.
    AdminPasswordSet {
        password: String,
    },
    /// Checks the admin password; answered with `AdminVerified`.
    AdminPasswordVerify {
        password: String,
    },
    /// Records a web login attempt for the account `login` names (an
    /// address or account name; unknown logins are not recorded).
    LoginAttemptAdd {
        login: String,
        remote_ip: String,
        user_agent: String,
        success: bool,
    },
    /// The most recent login attempts of an account, newest first;
    /// answered with `LoginAttempts`.
    LoginAttemptList {
        account: String,
    },
    /// The mailbox's highest modseq (RFC 7162 HIGHESTMODSEQ), cheap: an
    /// IMAP session waits until the change events up to it have arrived
    /// before it answers NOOP, CHECK, APPEND, COPY and MOVE. Answered with
    /// `Modseq`.
    MailboxModseq {
        account: String,
        mailbox_id: i64,
    },
    /// smtp-in: one received message's DMARC evaluation, kept for the
    /// aggregate report to its From domain (RFC 7489 §7.2).
    DmarcEvaluationAdd(DmarcEvaluation),
    /// Queue worker: evaluations received before `before` (unix seconds),
    /// oldest first, at most `limit` (capped at [`MAX_PAGE`]); answered
    /// with `DmarcEvaluations`.
    DmarcEvaluationsDue {
        before: i64,
        limit: u32,
    },
    /// Queue worker: forget these evaluations (their report was queued).
    DmarcEvaluationsDone {
        ids: Vec<i64>,
    },
    /// smtp-in: an incoming aggregate report (RFC 7489 §7.2) for one of
    /// our domains, parsed; a report already stored is not stored again.
    DmarcReportAdd(DmarcReportInfo),
    /// Stored incoming aggregate reports, newest first, at most `limit`;
    /// answered with `DmarcReports`.
    DmarcReportList {
        limit: u32,
    },
    /// \Recent (RFC 3501 §2.3.2): the messages of the mailbox with a UID
    /// up to `up_to` that no IMAP session has claimed yet become the asking
    /// session's (a message is recent in one session only); with `claim`
    /// false (EXAMINE) they are only told. Answered with `RecentClaimed`.
    RecentClaim {
        account: String,
        mailbox_id: i64,
        up_to: u32,
        claim: bool,
    },
    /// Metadata of the messages with a modseq above `since` and a UID above
    /// `after_uid`, ascending by UID, at most [`MAX_PAGE`] (RFC 7162
    /// §3.2.5.1 QRESYNC, and resynchronisation after lost events);
    /// answered with `Metas`, shorter than [`MAX_PAGE`] on the last page.
    MessagesChanged {
        account: String,
        mailbox_id: i64,
        since: i64,
        after_uid: u32,
    },
    /// Streams `QueueChanged` whenever messages are added to the outbound
    /// queue (after `Subscribed`), so the queue worker starts delivering
    /// at once instead of at its next look. Queue worker only.
    QueueWatch,
}

/// One message's DMARC evaluation, for outgoing aggregate reports.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DmarcEvaluation {
    /// Unix seconds when the message was received.
    pub received: i64,
    /// The RFC5322.From domain whose policy applied, lower-case.
    pub policy_domain: String,
    /// The report row (policy crate), JSON; opaque to the store.
    pub row: String,
}

/// An incoming DMARC aggregate report.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DmarcReportInfo {
    /// Store id (0 when adding).
    pub id: i64,
    /// Unix seconds when it arrived.
    pub received: i64,
    /// The reporting organization and its report id.
    pub org_name: String,
    pub report_id: String,
    /// The policy domain reported on.
    pub domain: String,
    /// The period reported, unix seconds.
    pub begin: i64,
    pub end: i64,
    /// Messages reported, and those of them that failed DMARC.
    pub messages: u64,
    pub failed: u64,
    /// The whole report as JSON.
    pub json: String,
}

/// Which web interface a session belongs to; each has its own cookie,
/// lifetime and cap.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum WebInterface {
    Account,
    Admin,
}

/// The raw tokens of a new session; the store keeps only their hashes.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NewWebSession {
    pub id: i64,
    /// Session cookie value (≥ 128 random bits, base64url).
    pub token: String,
    /// CSRF token bound to the session.
    pub csrf: String,
}

impl std::fmt::Debug for NewWebSession {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never print credentials.
        f.debug_struct("NewWebSession")
            .field("id", &self.id)
            .finish_non_exhaustive()
    }
}

/// A stored web session, without its tokens.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WebSession {
    pub id: i64,
    pub interface: WebInterface,
    pub account: Option<String>,
    /// Unix seconds.
    pub created: i64,
    pub last_use: i64,
    pub expires: i64,
    pub remote_ip: String,
    pub user_agent: String,
}

/// The outcome of `WebSessionCheck`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum WebSessionStatus {
    Valid(WebSession),
    /// Unknown or expired token.
    Invalid,
    /// The session is valid but the CSRF token does not belong to it.
    BadCsrf,
}

/// One recorded web login attempt.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LoginAttempt {
    /// Unix seconds.
    pub time: i64,
    pub remote_ip: String,
    pub user_agent: String,
    pub success: bool,
}

/// Most entries in one `Metas` reply (keeps frames far below
/// [`crate::frame::MAX_FRAME_SIZE`]).
pub const MAX_PAGE: u32 = 20_000;

/// Most UID ranges in one `Selected` reply (8 octets each: 800 KB, far
/// below [`crate::frame::MAX_FRAME_SIZE`]); a mailbox whose UIDs have
/// fewer gaps, the usual case, fits in one page whatever its size.
pub const MAX_SELECT_RANGES: u32 = 100_000;

/// One page of a SELECT: what the session needs to open the mailbox, with
/// its UIDs in ranges (no per-message data: flags and the like are read
/// when a command asks for them).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SelectPage {
    pub mailbox: MailboxInfo,
    /// The UIDs above the request's `after_uid` of the non-expunged
    /// messages, ascending, as inclusive ranges.
    pub uids: Vec<(u32, u32)>,
    /// More UIDs follow: ask again with `after_uid` the last UID of `uids`.
    pub more: bool,
    /// The lowest UID of a message without \Seen (RFC 3501 §7.1 UNSEEN).
    pub first_unseen: Option<u32>,
    /// Keywords set on messages of the mailbox (its FLAGS), sorted.
    pub keywords: Vec<String>,
    /// Messages from this UID on are \Recent in no session yet.
    pub first_unclaimed_uid: u32,
}

/// One message of an `Append`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AppendMessage {
    pub flags: Flags,
    /// INTERNALDATE, unix seconds; None: now.
    pub received: Option<i64>,
    /// Serialized message structure (opaque to the store).
    pub parsed: Option<Vec<u8>>,
}

/// How STORE changes flags.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum FlagOp {
    Add,
    Remove,
    Replace,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FlagChange {
    pub account: String,
    pub mailbox_id: i64,
    pub uids: Vec<u32>,
    pub op: FlagOp,
    pub flags: Flags,
    pub unchanged_since: Option<i64>,
}

/// A message's metadata (no content).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MessageMeta {
    pub uid: u32,
    pub modseq: i64,
    pub flags: Flags,
    /// Prefix plus file.
    pub size: u64,
    pub received: i64,
    pub save_date: i64,
}

/// A message's flags after a STORE.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FlagState {
    pub uid: u32,
    pub flags: Flags,
    pub modseq: i64,
    /// Whether this STORE changed them.
    pub changed: bool,
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
    /// Message structure computed by the delivering worker (serialized,
    /// opaque to the store, which never parses MIME).
    pub parsed: Option<Vec<u8>>,
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
    Mailbox(Box<MailboxInfo>),
    Names(Vec<String>),
    /// One page of a SELECT.
    Selected(Box<SelectPage>),
    Metas(Vec<MessageMeta>),
    /// With `found`, the message file is attached; `prefix` goes before
    /// it; `parsed` is the structure stored at delivery, if any.
    Content {
        found: bool,
        prefix: Vec<u8>,
        size: u64,
        parsed: Option<Vec<u8>>,
    },
    Uids(Vec<u32>),
    Appended {
        mailbox_id: i64,
        uidvalidity: u32,
        uids: Vec<u32>,
    },
    FlagsStored {
        messages: Vec<FlagState>,
        /// Not changed because of UNCHANGEDSINCE (RFC 7162 §3.1.3).
        modified: Vec<u32>,
    },
    /// (source UID, destination UID), ascending by source UID.
    Copied {
        uidvalidity: u32,
        mapping: Vec<(u32, u32)>,
    },
    Quota {
        used: u64,
        limit: Option<u64>,
    },
    WebSessionCreated(NewWebSession),
    WebSessionChecked(WebSessionStatus),
    WebSessions(Vec<WebSession>),
    AdminVerified(bool),
    LoginAttempts(Vec<LoginAttempt>),
    Modseq(i64),
    /// (store id, evaluation), oldest first.
    DmarcEvaluations(Vec<(i64, DmarcEvaluation)>),
    DmarcReports(Vec<DmarcReportInfo>),
    /// The UIDs (first, last), inclusive, claimed (or unclaimed, when only
    /// asked); None when there are none.
    RecentClaimed(Option<(u32, u32)>),
    /// Something was added to the outbound queue since the last
    /// `QueueChanged` (or since `QueueWatch`); several additions may give
    /// one.
    QueueChanged,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum StoreErrorKind {
    NotFound,
    Exists,
    Invalid,
    Forbidden,
    /// Try again later (I/O error, store busy); the message was not stored.
    Temporary,
    /// The account's storage limit would be exceeded (RFC 9208 OVERQUOTA).
    OverQuota,
    /// A request the store refuses as such (e.g. deleting Inbox).
    Cannot,
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
    /// Messages with \Deleted.
    pub deleted: u64,
    /// Messages no IMAP session has claimed as \Recent yet (RFC 3501
    /// §6.3.10 STATUS RECENT).
    pub recent: u64,
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
    /// The subscriber fell too far behind and events were dropped before
    /// this one: whoever keeps state from events must re-read it. The
    /// subscription goes on.
    Missed {
        account: String,
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
