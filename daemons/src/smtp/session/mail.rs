//! MAIL (RFC 5321 §4.1.1.2; allowed when greeted, outside a transaction)
//! and RCPT (RFC 5321 §4.1.1.3; allowed after MAIL), with the checks of
//! SIZE (RFC 1870), SMTPUTF8 (RFC 6531), REQUIRETLS (RFC 8689) and the
//! submission rules (RFC 6409 §4.3, §6.1).

use tokio::io::{AsyncRead, AsyncWrite};

use super::state::{Hello, State, Transaction};
use super::{Flow, Session, SessionError};
use crate::smtp::address::{Address, ForwardPath, ReversePath};
use crate::smtp::backend::{Backend, BackendError, Recipient};
use crate::smtp::config::Kind;
use crate::smtp::localserve::{self, Stage};
use crate::smtp::params::{MailParams, RcptParams};
use crate::smtp::reply::{Code, Esc, Reply};

pub(super) fn backend_reply(e: &BackendError) -> Reply {
    match e {
        BackendError::Temporary(m) => {
            tracing::warn!(error = %m, "backend failure");
            Reply::new(
                Code::LOCAL_ERROR,
                Esc::SYSTEM_TEMP,
                "temporary failure, try again later",
            )
        }
        BackendError::Permanent(m) => {
            Reply::new(Code::TRANSACTION_FAILED, Esc::OTHER_PERM, m.clone())
        }
        BackendError::UnknownRecipient => {
            Reply::new(Code::MAILBOX_UNAVAILABLE, Esc::BAD_MAILBOX, "no such user")
        }
    }
}

fn non_ascii() -> Reply {
    // RFC 6531 §3.5.
    Reply::new(
        Code::MAILBOX_NAME_NOT_ALLOWED,
        Esc::NON_ASCII_ADDRESS,
        "non-ASCII address requires SMTPUTF8",
    )
}

impl<S, B> Session<S, B>
where
    S: AsyncRead + AsyncWrite + Unpin + Send,
    B: Backend,
{
    pub(super) async fn mail(
        &mut self,
        state: State,
        from: ReversePath,
        params: MailParams,
    ) -> Result<Flow, SessionError> {
        let hello = match state {
            State::Ready(h) => h,
            State::Fresh => {
                return self
                    .out_of_sequence(State::Fresh, "send EHLO/HELO first")
                    .await;
            }
            s @ State::Mail(..) => return self.out_of_sequence(s, "nested MAIL command").await,
            s @ State::Chunking(..) => {
                return self
                    .out_of_sequence(s.reset(), "MAIL during BDAT transfer")
                    .await;
            }
        };
        if let Some(reject) = self.check_mail(&hello, &from, &params).await? {
            self.reply(reject);
            return Ok(Flow::Next(State::Ready(hello)));
        }
        self.reply(Reply::new(Code::OK, Esc::SENDER_OK, "sender ok"));
        Ok(Flow::Next(State::Mail(
            hello,
            Transaction {
                from,
                params,
                recipients: Vec::new(),
            },
        )))
    }

    /// A rejection for this MAIL command, if any.
    async fn check_mail(
        &mut self,
        hello: &Hello,
        from: &ReversePath,
        params: &MailParams,
    ) -> Result<Option<Reply>, SessionError> {
        let submission = self.cfg.kind == Kind::Submission;
        if submission && self.account.is_none() {
            // RFC 4954 §6.
            return Ok(Some(Reply::new(
                Code::AUTH_REQUIRED,
                Esc::SECURITY,
                "authentication required",
            )));
        }
        if self.cfg.pedantic && !hello.esmtp && *params != MailParams::default() {
            return Ok(Some(Reply::new(
                Code::PARAMS_NOT_RECOGNIZED,
                Esc::INVALID_ARGS,
                "parameters need EHLO",
            )));
        }
        let max = self.cfg.limits.max_message_size;
        if params.size.is_some_and(|s| s > max) {
            // RFC 1870 §6.1.
            let text = format!("message size exceeds fixed maximum message size {max}");
            return Ok(Some(Reply::new(Code::EXCEEDED_STORAGE, Esc::TOO_BIG, text)));
        }
        if params.requiretls && self.tls.is_none() {
            // RFC 8689 §4.1 (as mox: 530 5.7.10).
            let text = "REQUIRETLS only on TLS connections";
            return Ok(Some(Reply::new(
                Code::AUTH_REQUIRED,
                Esc::ENCRYPTION_NEEDED,
                text,
            )));
        }
        let Some(addr) = from.address() else {
            if submission {
                let text = "null sender not allowed on submission";
                return Ok(Some(Reply::new(
                    Code::MAILBOX_UNAVAILABLE,
                    Esc::NOT_AUTHORIZED,
                    text,
                )));
            }
            return Ok(None);
        };
        if !addr.is_ascii() && !params.smtputf8 {
            return Ok(Some(non_ascii()));
        }
        if let Some(r) = self.localserve_failure(addr, Stage::MailFrom).await? {
            return Ok(Some(r));
        }
        if let Some(account) = self.account.clone() {
            match self.backend.account_owns(&account, addr).await {
                Ok(true) => {}
                Ok(false) => {
                    let text = format!("account may not send as {addr}");
                    return Ok(Some(Reply::new(
                        Code::MAILBOX_UNAVAILABLE,
                        Esc::NOT_AUTHORIZED,
                        text,
                    )));
                }
                Err(e) => return Ok(Some(backend_reply(&e))),
            }
        }
        Ok(None)
    }

    pub(super) async fn rcpt(
        &mut self,
        state: State,
        to: ForwardPath,
        params: RcptParams,
    ) -> Result<Flow, SessionError> {
        let (hello, mut tx) = match state {
            State::Mail(h, t) => (h, t),
            s @ (State::Fresh | State::Ready(_)) => {
                return self.out_of_sequence(s, "send MAIL first").await;
            }
            s @ State::Chunking(..) => {
                return self
                    .out_of_sequence(s.reset(), "RCPT during BDAT transfer")
                    .await;
            }
        };
        let reply = self.check_rcpt(&mut tx, to, params).await?;
        self.reply(reply);
        Ok(Flow::Next(State::Mail(hello, tx)))
    }

    /// Add the recipient to `tx` or say why not.
    async fn check_rcpt(
        &mut self,
        tx: &mut Transaction,
        to: ForwardPath,
        params: RcptParams,
    ) -> Result<Reply, SessionError> {
        let max = self.cfg.limits.max_recipients;
        if tx.recipients.len() >= max {
            // RFC 5321 §4.5.3.1.10, RFC 9422.
            let text = format!("too many recipients, max {max}");
            return Ok(Reply::new(
                Code::INSUFFICIENT_STORAGE,
                Esc::TOO_MANY_RCPTS,
                text,
            ));
        }
        let addr = match to {
            ForwardPath::Address(a) => a,
            ForwardPath::Postmaster => match &self.postmaster {
                Some(a) => a.clone(),
                None => {
                    return Ok(Reply::new(
                        Code::MAILBOX_UNAVAILABLE,
                        Esc::BAD_MAILBOX,
                        "no postmaster here",
                    ));
                }
            },
        };
        if !addr.is_ascii() && !tx.params.smtputf8 {
            return Ok(non_ascii());
        }
        if let Some(r) = self.localserve_failure(&addr, Stage::RcptTo).await? {
            return Ok(r);
        }
        let ok = Reply::new(Code::OK, Esc::RECIPIENT_OK, "recipient ok");
        if tx.recipients.iter().any(|r| r.address == addr) {
            return Ok(ok);
        }
        let account = match self.backend.resolve_recipient(&addr).await {
            Ok(a) => a,
            Err(e) => return Ok(backend_reply(&e)),
        };
        if account.is_none() && self.cfg.kind == Kind::Incoming {
            // Unknown local recipient, or a relay attempt (threats T16).
            self.failed_rcpts = self.failed_rcpts.saturating_add(1);
            let limits = &self.cfg.limits;
            let delay = limits
                .unknown_rcpt_delay_step
                .saturating_mul(self.failed_rcpts)
                .min(limits.unknown_rcpt_delay_max);
            self.delay(delay).await?;
            return Ok(Reply::new(
                Code::MAILBOX_UNAVAILABLE,
                Esc::BAD_MAILBOX,
                "no such user",
            ));
        }
        // Submission: None is a remote recipient, queued for delivery.
        tx.recipients.push(Recipient {
            address: addr,
            account,
            params,
        });
        Ok(ok)
    }

    /// localserve: the reply a special localpart asks for at `stage`.
    pub(super) async fn localserve_failure(
        &mut self,
        addr: &Address,
        stage: Stage,
    ) -> Result<Option<Reply>, SessionError> {
        if !self.cfg.localserve {
            return Ok(None);
        }
        match localserve::fake_failure(addr.local.as_str()) {
            Some((s, f)) if s == stage => self.fake_failure(f).await.map(Some),
            _ => Ok(None),
        }
    }

    async fn fake_failure(&mut self, f: localserve::Failure) -> Result<Reply, SessionError> {
        match f {
            localserve::Failure::Reply(code) => {
                let text = format!("failure with code {code} due to special localpart");
                Ok(Reply::new(
                    code,
                    crate::smtp::reply::Esc::generic(code),
                    text,
                ))
            }
            localserve::Failure::Timeout => {
                self.delay(self.cfg.limits.localserve_timeout).await?;
                Ok(Reply::new(
                    Code::LOCAL_ERROR,
                    Esc::TIMEOUT,
                    "timing out due to special localpart",
                ))
            }
        }
    }
}
