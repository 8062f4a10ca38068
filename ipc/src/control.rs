//! moxctl ⇄ master, over the control socket (unix, 0600 or group
//! `moxd-admin`; peer checked with SO_PEERCRED).

use serde::{Deserialize, Serialize};

use crate::Role;
use crate::sandbox::SandboxReport;
use crate::store::{AccountInfo, Delivered, MessageInfo, QueueEntry, QueueInfo};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum ControlRequest {
    Status,
    /// Stop the whole server (like SIGTERM).
    Stop,
    DomainAdd {
        domain: String,
    },
    DomainDel {
        domain: String,
    },
    DomainList,
    AccountAdd {
        name: String,
        address: String,
        password: Option<String>,
    },
    AccountDel {
        name: String,
    },
    AccountList,
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
    /// Deliver the attached message (fd) to an address's mailbox, as a
    /// local delivery agent would.
    Deliver {
        address: String,
        mailbox: String,
    },
    QueueList,
    /// Messages of an account's mailbox.
    MessageList {
        account: String,
        mailbox: String,
    },
    /// One message: answered with `MessageFile` and the file attached.
    MessageGet {
        account: String,
        message_id: i64,
    },
    /// Answered with `StoreConnection` and an fd connected to the store with
    /// administrator rights (for tools that speak the store protocol).
    StoreConnect,
    /// Queued messages with per-recipient state, optionally only those
    /// with a recipient in `domain`.
    QueueEntries {
        domain: Option<String>,
    },
    QueueHold {
        id: i64,
    },
    QueueRelease {
        id: i64,
    },
    /// Attempt delivery of a message's pending recipients now.
    QueueKick {
        id: i64,
    },
    /// Remove a message from the queue without a DSN.
    QueueDrop {
        id: i64,
    },
    /// Generate Ed25519 and RSA-2048 DKIM keys for a domain (files under
    /// the config directory's `dkim/`, mode 0600), add them to
    /// domains.toml and restart submission; answered with `DnsRecords`
    /// holding the new keys' records.
    DkimGen {
        domain: String,
    },
    /// The TXT records to publish for a domain (DKIM, SPF, DMARC);
    /// answered with `DnsRecords`.
    DnsRecords {
        domain: String,
    },
    /// Stored incoming DMARC aggregate reports, newest first; answered
    /// with `DmarcReports`.
    DmarcReports {
        limit: u32,
    },
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum ControlReply {
    Ok,
    Error(String),
    Status(Status),
    Domains(Vec<String>),
    Accounts(Vec<AccountInfo>),
    Delivered(Delivered),
    Queue(Vec<QueueInfo>),
    StoreConnection,
    Messages(Vec<MessageInfo>),
    /// The message file is attached; `prefix` (headers added at delivery) goes before it.
    MessageFile {
        prefix: Vec<u8>,
        size: u64,
    },
    QueueEntries(Vec<QueueEntry>),
    /// DNS records in zone-file syntax, one per line.
    DnsRecords(Vec<String>),
    DmarcReports(Vec<crate::store::DmarcReportInfo>),
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Status {
    pub version: String,
    pub master_pid: u32,
    pub uptime_secs: u64,
    pub localserve: bool,
    pub workers: Vec<WorkerStatus>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum WorkerState {
    Starting,
    Running,
    /// Exited; waiting to be restarted.
    Backoff,
    Stopping,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WorkerStatus {
    pub role: Role,
    pub pid: Option<u32>,
    pub state: WorkerState,
    pub restarts: u32,
    pub uptime_secs: u64,
    pub last_exit: Option<String>,
    pub sandbox: Option<SandboxReport>,
}
