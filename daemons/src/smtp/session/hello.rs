//! The greeting (RFC 5321 §4.2, §3.1) and EHLO/HELO (RFC 5321 §4.1.1.1),
//! with the EHLO keywords in mox's order. Allowed in every state; resets
//! any transaction.

use tokio::io::{AsyncRead, AsyncWrite};

use super::state::{Hello, State};
use super::{Flow, Session, SessionError};
use crate::smtp::backend::Backend;
use crate::smtp::command::HelloName;
use crate::smtp::config::Kind;
use crate::smtp::reply::{Code, Reply};

impl<S, B> Session<S, B>
where
    S: AsyncRead + AsyncWrite + Unpin + Send,
    B: Backend,
{
    /// Send the greeting. With a greeting delay configured, a client that
    /// talks first is an early talker (threats T3): `554` and Ok(false).
    pub(super) async fn greet(&mut self) -> Result<bool, SessionError> {
        let wait = self.cfg.limits.greeting_delay;
        if !wait.is_zero() && self.io.input_within(wait).await? {
            tracing::info!(remote = %self.peer.remote, "early talker rejected");
            // RFC 5321 §3.1: 554 instead of 220.
            self.reply(Reply::plain(
                Code::TRANSACTION_FAILED,
                "early talker: wait for the greeting",
            ));
            return Ok(false);
        }
        let text = format!("{} ESMTP moxd", self.cfg.hostname);
        self.reply(Reply::plain(Code::SERVICE_READY, text));
        Ok(true)
    }

    /// EHLO or HELO: any transaction is dropped (RFC 5321 §4.1.4).
    pub(super) fn hello(&mut self, state: State, name: HelloName, esmtp: bool) -> Flow {
        drop(state);
        if esmtp {
            let mut lines = vec![self.cfg.hostname.clone()];
            lines.extend(self.ehlo_keywords());
            self.reply(Reply::multiline(Code::OK, lines));
        } else {
            self.reply(Reply::plain(Code::OK, self.cfg.hostname.clone()));
        }
        Flow::Next(State::Ready(Hello { name, esmtp }))
    }

    /// EHLO keywords, in mox's order (see mox-behaviour.md §1).
    pub(super) fn ehlo_keywords(&self) -> Vec<String> {
        let limits = &self.cfg.limits;
        let mut k = vec![
            "PIPELINING".to_string(),
            format!("SIZE {}", limits.max_message_size),
        ];
        if self.tls.is_some() {
            // RFC 8689 §4: REQUIRETLS only over TLS.
            k.push("REQUIRETLS".into());
        } else if self.cfg.tls.is_some() {
            // RFC 3207 §4: never announced once TLS is active.
            k.push("STARTTLS".into());
        }
        if self.cfg.kind == Kind::Submission && (self.tls.is_some() || self.cfg.auth_without_tls) {
            let mechs: Vec<&str> = self
                .cfg
                .auth_mechanisms
                .iter()
                .filter(|m| self.mechanism_offered(**m))
                .map(|m| m.name())
                .collect();
            if !mechs.is_empty() {
                k.push(format!("AUTH {}", mechs.join(" ")));
            }
        }
        k.extend(
            [
                "ENHANCEDSTATUSCODES",
                "8BITMIME",
                "CHUNKING",
                "BINARYMIME",
                "SMTPUTF8",
                "DSN",
            ]
            .map(String::from),
        );
        // RFC 9422 §4.1.
        k.push(format!("LIMITS RCPTMAX={}", limits.max_recipients));
        k
    }
}
