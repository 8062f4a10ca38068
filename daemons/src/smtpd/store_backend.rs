//! The SMTP session's backend in production: every lookup, credential
//! check and delivery is one request to the store over IPC. The message
//! travels as the spool's memfd; the store answers only once it is durable.

use std::net::IpAddr;
use std::os::fd::AsFd;

use ipc::store::{
    Delivery, DmarcEvaluation, DmarcReportInfo, QueueAdd, ScramCredentials, ScramMechanism,
    StoreErrorKind, StoreReply, StoreRequest,
};
use policy::reports::incoming::ReportSummary;
use serde::Serialize;

use crate::imap::parsed::ParsedMessage;
use crate::sasl::{Credentials, SaslError};
use crate::smtp::backend::{Backend, BackendError, Envelope};
use crate::smtp::params::{MailParams, RcptParams};
use crate::smtp::{Address, Kind, MessageFile};
use crate::worker::StoreHandle;

/// Mailbox incoming mail is delivered to.
pub const INBOX: &str = "Inbox";
/// Mailbox for mail that message authentication quarantines.
pub const JUNK: &str = "Junk";
/// Flag set on quarantined mail (RFC 5788 registry).
pub const JUNK_FLAG: &str = "$Junk";

pub struct StoreBackend {
    store: StoreHandle,
    kind: Kind,
}

impl StoreBackend {
    pub fn new(store: StoreHandle, kind: Kind) -> Self {
        StoreBackend { store, kind }
    }

    async fn call(&self, req: StoreRequest) -> Result<StoreReply, BackendError> {
        let reply = self
            .store
            .call(&req)
            .await
            .map_err(|e| BackendError::Temporary(format!("{e:#}")))?;
        match reply {
            StoreReply::Error(e) => Err(match e.kind {
                StoreErrorKind::Temporary | StoreErrorKind::Forbidden => {
                    BackendError::Temporary(e.message)
                }
                StoreErrorKind::Invalid
                | StoreErrorKind::NotFound
                | StoreErrorKind::Exists
                | StoreErrorKind::OverQuota
                | StoreErrorKind::Cannot => BackendError::Permanent(e.message),
            }),
            other => Ok(other),
        }
    }

    async fn is_local_domain(&self, domain: &str) -> Result<bool, BackendError> {
        match self.call(StoreRequest::DomainList).await? {
            StoreReply::Domains(d) => Ok(d.iter().any(|x| x.eq_ignore_ascii_case(domain))),
            other => Err(unexpected(other)),
        }
    }
}

fn unexpected(r: StoreReply) -> BackendError {
    BackendError::Temporary(format!("unexpected store reply {r:?}"))
}

fn sasl_err(e: BackendError) -> SaslError {
    SaslError::Temporary(e.to_string())
}

/// What the queue needs later besides the addresses (DSN parameters,
/// REQUIRETLS), kept as JSON in the queue row.
#[derive(Serialize)]
struct QueueOptions<'a> {
    envelope_id: &'a str,
    params: &'a MailParams,
    recipients: Vec<(String, &'a RcptParams)>,
    eight_bit: bool,
}

impl Credentials for StoreBackend {
    async fn verify_plain(&self, login: &str, password: &str) -> Result<Option<String>, SaslError> {
        let req = StoreRequest::VerifyPassword {
            login: login.into(),
            password: password.into(),
        };
        match self.call(req).await.map_err(sasl_err)? {
            StoreReply::Authenticated(a) => Ok(a),
            other => Err(sasl_err(unexpected(other))),
        }
    }

    async fn scram(
        &self,
        login: &str,
        mech: ScramMechanism,
    ) -> Result<Option<ScramCredentials>, SaslError> {
        let req = StoreRequest::ScramCredentials {
            login: login.into(),
            mechanism: mech,
        };
        match self.call(req).await.map_err(sasl_err)? {
            StoreReply::Scram(c) => Ok(c),
            other => Err(sasl_err(unexpected(other))),
        }
    }
}

impl Backend for StoreBackend {
    async fn resolve_recipient(&self, addr: &Address) -> Result<Option<String>, BackendError> {
        // Submission: an address outside our domains is a remote recipient,
        // queued (in localserve the queue then delivers it locally, and
        // `queue…` localparts fail there); the catch-all is not asked.
        if self.kind == Kind::Submission && !self.is_local_domain(addr.domain.ascii()).await? {
            return Ok(None);
        }
        let address = addr.to_ascii_domain_string();
        match self
            .call(StoreRequest::ResolveRecipient { address })
            .await?
        {
            StoreReply::Recipient(Some(a)) => Ok(Some(a)),
            // An address in one of our domains that no account has is an
            // error on submission, and 550 on smtp-in.
            StoreReply::Recipient(None) if self.kind == Kind::Submission => {
                Err(BackendError::UnknownRecipient)
            }
            StoreReply::Recipient(None) => Ok(None),
            other => Err(unexpected(other)),
        }
    }

    async fn account_owns(&self, account: &str, addr: &Address) -> Result<bool, BackendError> {
        let req = StoreRequest::AccountOwns {
            account: account.into(),
            address: addr.to_ascii_domain_string(),
        };
        match self.call(req).await? {
            StoreReply::Owns(b) => Ok(b),
            other => Err(unexpected(other)),
        }
    }

    async fn auth_allowed(&self, ip: IpAddr) -> Result<bool, BackendError> {
        match self.call(StoreRequest::AuthCheck { ip }).await? {
            StoreReply::AuthAllowed(b) => Ok(b),
            other => Err(unexpected(other)),
        }
    }

    async fn auth_record(&self, ip: IpAddr, success: bool) {
        if let Err(e) = self.call(StoreRequest::AuthRecord { ip, success }).await {
            tracing::warn!(error = %e, "recording authentication attempt");
        }
    }

    async fn dmarc_evaluation(&self, received: i64, policy_domain: &str, row: String) {
        let req = StoreRequest::DmarcEvaluationAdd(DmarcEvaluation {
            received,
            policy_domain: policy_domain.into(),
            row,
        });
        if let Err(e) = self.call(req).await {
            tracing::warn!(error = %e, "keeping DMARC evaluation");
        }
    }

    async fn dmarc_report(&self, r: ReportSummary) {
        let (org, id) = (r.org_name.clone(), r.report_id.clone());
        let req = StoreRequest::DmarcReportAdd(DmarcReportInfo {
            id: 0,
            received: 0,
            org_name: r.org_name,
            report_id: r.report_id,
            domain: r.domain,
            begin: r.begin,
            end: r.end,
            messages: r.messages,
            failed: r.failed,
            json: r.json,
        });
        match self.call(req).await {
            Ok(_) => tracing::info!(org = %org, report_id = %id, "DMARC report stored"),
            Err(e) => tracing::warn!(error = %e, "storing DMARC report"),
        }
    }

    async fn deliver(&self, env: &Envelope, msg: MessageFile) -> Result<(), BackendError> {
        // Message structure for IMAP, computed once here (the store never
        // parses MIME).
        let parsed = ParsedMessage::store_form_of(&msg.prefix, &msg.file, msg.size);
        let (fd, prefix) = msg.into_fd();
        let mut accounts: Vec<&str> = Vec::new();
        for r in &env.recipients {
            if let Some(a) = r.account.as_deref().filter(|a| !accounts.contains(a)) {
                accounts.push(a);
            }
        }
        let remote: Vec<_> = env
            .recipients
            .iter()
            .filter(|r| r.account.is_none())
            .collect();
        let client = self
            .store
            .client()
            .await
            .map_err(|e| BackendError::Temporary(format!("{e:#}")))?;
        // Once any copy is committed, a failure must not be permanent: the
        // client would bounce a message that was partly delivered. A 4xx
        // makes it retry, and a duplicate is what SMTP allows then.
        let mut committed = false;
        let soften = |e: BackendError, committed: bool| match e {
            BackendError::Permanent(m) if committed => BackendError::Temporary(m),
            other => other,
        };
        if !remote.is_empty() {
            let options = QueueOptions {
                envelope_id: &env.id,
                params: &env.params,
                recipients: remote
                    .iter()
                    .map(|r| (r.address.to_string(), &r.params))
                    .collect(),
                eight_bit: env.eight_bit,
            };
            let req = StoreRequest::QueueAdd(QueueAdd {
                account: env.account.clone().unwrap_or_default(),
                // The null reverse-path is the empty string.
                mail_from: env
                    .mail_from
                    .address()
                    .map(|a| a.to_ascii_domain_string())
                    .unwrap_or_default(),
                recipients: remote
                    .iter()
                    .map(|r| r.address.to_ascii_domain_string())
                    .collect(),
                prefix: prefix.clone(),
                options: serde_json::to_string(&options)
                    .map_err(|e| BackendError::Temporary(e.to_string()))?,
            });
            match client.call_fds(&req, &[fd.as_fd()]).await {
                Ok((StoreReply::Queued { queue_id }, _)) => {
                    committed = true;
                    tracing::info!(id = %env.id, queue_id, "queued");
                }
                Ok((StoreReply::Error(e), _)) if e.kind == StoreErrorKind::Invalid => {
                    return Err(BackendError::Permanent(e.message));
                }
                Ok((other, _)) => return Err(unexpected(other)),
                Err(e) => return Err(BackendError::Temporary(format!("store: {e}"))),
            }
        }
        for account in accounts {
            let req = StoreRequest::Deliver(Delivery {
                account: account.into(),
                mailbox: if env.junk { JUNK } else { INBOX }.into(),
                flags: if env.junk {
                    vec![JUNK_FLAG.into()]
                } else {
                    vec![]
                },
                prefix: prefix.clone(),
                received: Some(env.received_at),
                parsed: parsed.clone(),
            });
            match client.call_fds(&req, &[fd.as_fd()]).await {
                Ok((StoreReply::Delivered(d), _)) => {
                    committed = true;
                    tracing::info!(id = %env.id, account, uid = d.uid, "delivered");
                }
                Ok((StoreReply::Error(e), _)) if e.kind == StoreErrorKind::Invalid => {
                    return Err(soften(BackendError::Permanent(e.message), committed));
                }
                Ok((other, _)) => return Err(unexpected(other)),
                Err(e) => return Err(BackendError::Temporary(format!("store: {e}"))),
            }
        }
        Ok(())
    }
}
