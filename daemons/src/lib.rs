//! The worker roles of moxd, one module per role (DESIGN.md role table),
//! plus the protocol pieces they share.

pub mod conn;
pub mod imap;
pub mod imapd;
pub mod queue;
pub mod sasl;
pub mod smtp;
pub mod smtpd;
pub mod worker;
