//! SMTP server protocol engine for the smtp-in and submission workers
//! (RFC 5321 and extensions). Transport-independent: a [`Session`] runs
//! over any byte stream and reaches the rest of moxd through a
//! [`Backend`]. The pieces, one concern each:
//!
//! - [`reply`] — reply codes, enhanced status codes, wire encoding;
//! - [`command`], [`address`], [`params`], [`idna`] — parsing a command line;
//! - [`data`] — the DATA decoder (dot-unstuffing, SMTP smuggling checks);
//! - [`bdat`] — CHUNKING;
//! - [`inspect`], [`spool`], [`received`] — the message on its way to the store;
//! - [`localserve`] — fake failures for `moxd localserve`;
//! - [`msgauth`] — SPF/DKIM/DMARC/iprev/DNSBL results of incoming mail;
//! - [`dkim`] — DKIM signatures on submitted mail;
//! - [`config`], [`backend`], [`session`] — the state machine and its inputs.

pub mod address;
pub mod backend;
pub mod bdat;
pub mod command;
pub mod config;
pub mod data;
pub mod dkim;
pub mod idna;
pub mod inspect;
pub mod localserve;
pub mod mime_check;
pub mod msgauth;
pub mod params;
pub mod received;
pub mod reply;
pub mod session;
pub mod spool;

pub use address::{Address, Domain, ForwardPath, LocalPart, ReversePath};
pub use backend::{Backend, BackendError, Envelope, Recipient, TlsInfo};
pub use command::{Command, HelloName, ParseError};
pub use config::{Config, Kind, Limits, TlsConfig};
pub use reply::{Code, Esc, Reply};
pub use session::{PeerInfo, Session, SessionError};
pub use spool::MessageFile;
