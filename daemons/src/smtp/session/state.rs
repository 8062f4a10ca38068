//! The states of an SMTP session (RFC 5321 §4.1.4 command order). Each
//! state holds only the data that exists in it; transitions consume it.

use crate::smtp::address::ReversePath;
use crate::smtp::backend::Recipient;
use crate::smtp::bdat::ChunkedBody;
use crate::smtp::command::HelloName;
use crate::smtp::inspect::Inspect;
use crate::smtp::params::MailParams;
use crate::smtp::spool::Spool;

/// What EHLO/HELO told us.
#[derive(Debug, Clone)]
pub struct Hello {
    pub name: HelloName,
    /// EHLO (true) or HELO (false).
    pub esmtp: bool,
}

/// A mail transaction after MAIL (RFC 5321 §3.3).
#[derive(Debug)]
pub struct Transaction {
    pub from: ReversePath,
    pub params: MailParams,
    pub recipients: Vec<Recipient>,
}

/// A message being sent in BDAT chunks (RFC 3030).
pub struct Chunks {
    pub sink: Inspect<Spool>,
    pub body: ChunkedBody,
}

pub enum State {
    /// After the greeting or STARTTLS: EHLO/HELO needed.
    Fresh,
    /// Greeted, no transaction.
    Ready(Hello),
    /// MAIL accepted; RCPTs are collected.
    Mail(Hello, Transaction),
    /// BDAT chunks are being received.
    Chunking(Hello, Transaction, Box<Chunks>),
}

impl State {
    /// After a client error, chunks received so far are dropped and the
    /// transaction with them (RFC 3030 §4.2: a failed BDAT ends it).
    pub fn abort_chunking(self) -> State {
        match self {
            State::Chunking(h, _, _) => State::Ready(h),
            other => other,
        }
    }

    /// RSET, and every failed transaction: back to greeted (RFC 5321 §4.1.1.5).
    pub fn reset(self) -> State {
        match self {
            State::Fresh => State::Fresh,
            State::Ready(h) | State::Mail(h, _) | State::Chunking(h, _, _) => State::Ready(h),
        }
    }
}
