//! IMAP server protocol engine for the imap worker: IMAP4rev2 (RFC 9051)
//! and IMAP4rev1 (RFC 3501) with the extensions moxd announces.
//! Transport-independent: a [`Session`] runs over any byte stream and
//! reaches the store through a [`Backend`]. The pieces, one concern each:
//!
//! - [`parse`] — command framing (literals, limits) and the command parser;
//! - [`response`], [`encode`], [`capability`] — typed responses and their
//!   wire form;
//! - [`parsed`] — message structure (BODYSTRUCTURE, ENVELOPE, sections),
//!   computed once at delivery;
//! - [`search`], [`subject`] — SEARCH criteria, base subjects for SORT/THREAD;
//! - [`backend`], [`testing`] — what a session needs from the store, and
//!   an in-memory implementation;
//! - [`config`], [`session`] and `cmd/` — the state machine, one file per
//!   command.

pub mod backend;
pub mod capability;
mod cmd;
pub mod config;
pub mod datetime;
pub mod encode;
pub mod parse;
pub mod parsed;
pub mod response;
pub mod search;
pub mod session;
pub mod subject;
pub mod testing;
pub mod utf7;

pub use backend::{Backend, BackendError};
pub use config::{Config, Limits, TlsConfig};
pub use parsed::ParsedMessage;
pub use session::{PeerInfo, Session, SessionError};
