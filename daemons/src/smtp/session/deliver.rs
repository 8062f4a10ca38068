//! The end of a transaction (after DATA's final dot or BDAT LAST): last
//! checks, the headers moxd adds, DKIM signing on submission (`dkim`),
//! message authentication on smtp-in (`msgauth`), and delivery through
//! the backend. `250`
//! only after the backend says the message is durable (RFC 5321 §4.1.1.4,
//! §6.1); any backend failure is `451 4.3.0`.

use tokio::io::{AsyncRead, AsyncWrite};

use super::mail::backend_reply;
use super::state::{Hello, State, Transaction};
use super::{Flow, Session, SessionError};
use crate::smtp::backend::{Backend, BackendError, Envelope};
use crate::smtp::config::Kind;
use crate::smtp::inspect::Inspect;
use crate::smtp::localserve::Stage;
use crate::smtp::msgauth;
use crate::smtp::params::Body;
use crate::smtp::received::{self, Trace};
use crate::smtp::reply::{Code, Esc, Reply};
use crate::smtp::spool::Spool;

impl<S, B> Session<S, B>
where
    S: AsyncRead + AsyncWrite + Unpin + Send,
    B: Backend,
{
    pub(super) async fn finish(
        &mut self,
        hello: Hello,
        tx: Transaction,
        sink: Inspect<Spool>,
    ) -> Result<Flow, SessionError> {
        let reply = self.deliver(&hello, tx, sink).await?;
        self.reply(reply);
        Ok(Flow::Next(State::Ready(hello)))
    }

    async fn deliver(
        &mut self,
        hello: &Hello,
        tx: Transaction,
        sink: Inspect<Spool>,
    ) -> Result<Reply, SessionError> {
        let found = sink.findings();
        let declared_8bit = matches!(tx.params.body, Some(Body::EightBitMime | Body::BinaryMime));
        if self.cfg.pedantic && found.eight_bit && !declared_8bit {
            // RFC 6152 §3: 8-bit data only after BODY=8BITMIME.
            let text = "8-bit data requires BODY=8BITMIME";
            return Ok(Reply::new(Code::TRANSACTION_FAILED, Esc::MEDIA, text));
        }
        for r in &tx.recipients {
            if let Some(reply) = self.localserve_failure(&r.address, Stage::Data).await? {
                return Ok(reply);
            }
        }
        let time = received::now();
        let id = received::random_id();
        let helo = hello.name.to_string();
        let single = match tx.recipients.as_slice() {
            [one] if self.cfg.kind == Kind::Incoming => Some(&one.address),
            _ => None,
        };
        let trace = Trace {
            helo: &helo,
            remote_ip: self.peer.remote.ip(),
            remote_name: self.peer.remote_name.as_deref(),
            hostname: &self.cfg.hostname,
            esmtp: hello.esmtp,
            authenticated: self.account.is_some(),
            smtputf8: tx.params.smtputf8,
            tls: self.tls.as_ref().map(|t| &t.info),
            requiretls: tx.params.requiretls,
            id: &id,
            recipient: single,
            time,
        };
        let mut prefix = received::received(&trace).into_bytes();
        if self.cfg.kind == Kind::Submission {
            // RFC 6409 §8.3, §8.2: a submission server may add these.
            if !found.message_id {
                prefix.extend_from_slice(received::message_id_field(&self.cfg.hostname).as_bytes());
            }
            if !found.date {
                prefix.extend_from_slice(received::date_field(time).as_bytes());
            }
        }
        let mut msg = match sink.into_inner().finish(prefix) {
            Ok(m) => m,
            Err(e) => {
                tracing::warn!(error = %e, "spooling message failed");
                return Ok(Reply::new(
                    Code::LOCAL_ERROR,
                    Esc::SYSTEM_TEMP,
                    "temporary failure, try again later",
                ));
            }
        };
        if self.cfg.pedantic && self.cfg.kind == Kind::Submission {
            // localserve pedantic mode: a submitted message must parse as MIME.
            let body = match msg.read_body() {
                Ok(b) => b,
                Err(e) => {
                    tracing::warn!(error = %e, "reading spooled message");
                    return Ok(Reply::new(
                        Code::LOCAL_ERROR,
                        Esc::SYSTEM_TEMP,
                        "temporary failure, try again later",
                    ));
                }
            };
            if let Err(why) = crate::smtp::mime_check::check(&body) {
                let text = format!("message does not parse as MIME (pedantic): {why}");
                return Ok(Reply::new(Code::TRANSACTION_FAILED, Esc::MEDIA, text));
            }
        }
        if self.cfg.kind == Kind::Submission
            && let Some(signers) = self.cfg.dkim.clone()
            && let Err(e) = crate::smtp::dkim::sign(&signers, &mut msg, time)
        {
            tracing::warn!(error = %e, "DKIM signing failed");
            return Ok(Reply::new(
                Code::LOCAL_ERROR,
                Esc::SYSTEM_TEMP,
                "temporary failure, try again later",
            ));
        }
        let mut authentication = None;
        if self.cfg.kind == Kind::Incoming
            && let Some(auth) = self.cfg.auth.clone()
        {
            let ip = self.peer.remote.ip();
            let limit = self.cfg.limits.final_reply_timeout;
            let eval = msgauth::evaluate(&auth, ip, &helo, &tx.from, &mut msg);
            match tokio::time::timeout(limit, eval).await {
                Ok(Ok(e)) => {
                    if let Some(reply) = msgauth::refusal(&e) {
                        tracing::info!(id, remote = %self.peer.remote, disposition = ?e.disposition, "message refused by policy");
                        return Ok(reply);
                    }
                    authentication = Some(e);
                }
                Ok(Err(e)) => {
                    tracing::warn!(error = %e, "reading spooled message for authentication");
                    return Ok(Reply::new(
                        Code::LOCAL_ERROR,
                        Esc::SYSTEM_TEMP,
                        "temporary failure, try again later",
                    ));
                }
                Err(_) => {
                    tracing::warn!(id, "message authentication timed out");
                    return Ok(Reply::new(
                        Code::LOCAL_ERROR,
                        Esc::SYSTEM_TEMP,
                        "temporary failure, try again later",
                    ));
                }
            }
        }
        // DMARC reports (smtp-in): a report sent to our reporting address
        // is parsed here, inside smtp-in's sandbox; evaluations of mail
        // whose domain asks for reports are kept for ours.
        let report = self.incoming_report(&tx.recipients, &mut msg);
        let dmarc_row = authentication
            .as_ref()
            .filter(|_| self.cfg.record_dmarc)
            .and_then(|e| {
                let to = tx
                    .recipients
                    .first()
                    .map(|r| r.address.domain.ascii().to_string())
                    .unwrap_or_default();
                policy::reports::aggregate::row(e, &to)
            })
            .and_then(|(d, row)| serde_json::to_string(&row).ok().map(|j| (d, j)));
        let env = Envelope {
            kind: self.cfg.kind,
            id: id.clone(),
            mail_from: tx.from,
            params: tx.params,
            recipients: tx.recipients,
            account: self.account.clone(),
            remote_ip: self.peer.remote.ip(),
            helo,
            tls: self.tls.as_ref().map(|t| t.info.clone()),
            received_at: time,
            eight_bit: found.eight_bit,
            junk: authentication.as_ref().is_some_and(msgauth::quarantined),
            authentication,
        };
        let limit = self.cfg.limits.final_reply_timeout;
        let result = match tokio::time::timeout(limit, self.backend.deliver(&env, msg)).await {
            Ok(r) => r,
            Err(_) => Err(BackendError::Temporary("delivery timed out".into())),
        };
        if result.is_ok() {
            if let Some(r) = report {
                self.backend.dmarc_report(r).await;
            }
            if let Some((domain, row)) = dmarc_row {
                self.backend.dmarc_evaluation(time, &domain, row).await;
            }
        }
        Ok(match result {
            Ok(()) => {
                tracing::info!(id, remote = %self.peer.remote, recipients = env.recipients.len(), "message accepted");
                Reply::new(Code::OK, Esc::OK, format!("message accepted as {id}"))
            }
            Err(e) => backend_reply(&e),
        })
    }
}

impl<S, B> Session<S, B>
where
    S: AsyncRead + AsyncWrite + Unpin + Send,
    B: Backend,
{
    /// The message parsed as a DMARC aggregate report when it is addressed
    /// to the reporting address (smtp-in); None otherwise or when it is no
    /// report (it is delivered all the same).
    fn incoming_report(
        &self,
        recipients: &[crate::smtp::backend::Recipient],
        msg: &mut crate::smtp::spool::MessageFile,
    ) -> Option<policy::reports::incoming::ReportSummary> {
        let addr = self.cfg.dmarc_reports.as_deref()?;
        if self.cfg.kind != Kind::Incoming
            || !recipients.iter().any(|r| {
                r.address
                    .to_ascii_domain_string()
                    .eq_ignore_ascii_case(addr)
            })
        {
            return None;
        }
        let body = match msg.read_body() {
            Ok(b) => b,
            Err(e) => {
                tracing::warn!(error = %e, "reading a DMARC report");
                return None;
            }
        };
        match policy::reports::incoming::parse(&body) {
            Ok(r) => Some(r),
            Err(e) => {
                tracing::info!(error = %e, "message to the DMARC reporting address is no report");
                None
            }
        }
    }
}
