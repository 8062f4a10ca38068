//! What a session asks of the rest of moxd: recipient lookup, sender
//! ownership, durable delivery and credentials for AUTH. Production
//! implements it with the store over IPC; tests with an in-memory table.

use std::future::Future;
use std::net::IpAddr;

use policy::auth::Evaluation;
use policy::reports::incoming::ReportSummary;
use serde::{Deserialize, Serialize};

use super::address::{Address, ReversePath};
use super::config::Kind;
use super::params::{MailParams, RcptParams};
use super::spool::MessageFile;
use crate::sasl::Credentials;

/// A backend failure. Temporary ones are answered `451 4.3.0` and the
/// client retries; the message was not stored.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BackendError {
    #[error("temporary failure: {0}")]
    Temporary(String),
    /// Refused for good (answered `554 5.3.0`), e.g. a mailbox over quota.
    #[error("permanent failure: {0}")]
    Permanent(String),
    /// A recipient in one of our domains that no account has (`550 5.1.1`).
    #[error("no such user")]
    UnknownRecipient,
}

/// TLS of the connection, as recorded with the message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TlsInfo {
    /// "TLS1.2" or "TLS1.3".
    pub version: String,
    /// IANA-style cipher suite name.
    pub cipher: String,
    /// Server name indication sent by the client.
    pub server_name: Option<String>,
}

/// One accepted recipient.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Recipient {
    pub address: Address,
    /// The local account, or None for a remote recipient (submission: queue).
    pub account: Option<String>,
    /// NOTIFY/ORCPT, kept for DSNs (RFC 3461).
    pub params: RcptParams,
}

/// Everything known about a message besides its content.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Envelope {
    pub kind: Kind,
    /// The id in our Received header.
    pub id: String,
    pub mail_from: ReversePath,
    /// SIZE, BODY, SMTPUTF8, REQUIRETLS (RFC 8689: recorded with the
    /// message), RET, ENVID, AUTH=.
    pub params: MailParams,
    pub recipients: Vec<Recipient>,
    /// The authenticated account (submission).
    pub account: Option<String>,
    pub remote_ip: IpAddr,
    /// EHLO/HELO name as given (normalised).
    pub helo: String,
    pub tls: Option<TlsInfo>,
    /// Unix seconds when the message was received.
    pub received_at: i64,
    /// Whether the message has octets above 127.
    pub eight_bit: bool,
    /// Message authentication results (smtp-in with `[auth]` on).
    pub authentication: Option<Evaluation>,
    /// Deliver to the Junk mailbox (DMARC quarantine, DNSBL listing).
    pub junk: bool,
}

/// The session's view of moxd. `Credentials` serves AUTH (submission).
pub trait Backend: Credentials + Send + Sync {
    /// The account that receives mail for `addr`; None: unknown.
    fn resolve_recipient(
        &self,
        addr: &Address,
    ) -> impl Future<Output = Result<Option<String>, BackendError>> + Send;

    /// Whether `account` may use `addr` as envelope sender (submission).
    fn account_owns(
        &self,
        account: &str,
        addr: &Address,
    ) -> impl Future<Output = Result<bool, BackendError>> + Send;

    /// Whether a login attempt from `ip` may start now: failed-AUTH rate
    /// limits per IP class, shared with IMAP and web through the store.
    /// The default (in-memory backends) has no limits.
    fn auth_allowed(&self, ip: IpAddr) -> impl Future<Output = Result<bool, BackendError>> + Send {
        let _ = ip;
        async { Ok(true) }
    }

    /// Count the outcome of a finished login attempt from `ip`.
    fn auth_record(&self, ip: IpAddr, success: bool) -> impl Future<Output = ()> + Send {
        let _ = (ip, success);
        async {}
    }

    /// Keep a received message's DMARC evaluation (a report row, JSON)
    /// for the aggregate report to `policy_domain`. Failures are logged,
    /// never an SMTP error. The default (in-memory backends) drops it.
    fn dmarc_evaluation(
        &self,
        received: i64,
        policy_domain: &str,
        row: String,
    ) -> impl Future<Output = ()> + Send {
        let _ = (received, policy_domain, row);
        async {}
    }

    /// Store an incoming DMARC aggregate report (logged on failure).
    fn dmarc_report(&self, report: ReportSummary) -> impl Future<Output = ()> + Send {
        let _ = report;
        async {}
    }

    /// Durably store a received message for local recipients and/or queue
    /// it for remote ones; Ok only when durable (file and row fsynced).
    fn deliver(
        &self,
        env: &Envelope,
        msg: MessageFile,
    ) -> impl Future<Output = Result<(), BackendError>> + Send;
}
