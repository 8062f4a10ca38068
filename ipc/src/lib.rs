//! The vocabulary of moxd: everything one process may say to another.
//!
//! Every conversation is a stream of frames (see [`frame`]): a u32 length, a
//! file-descriptor count, a request id and a bincode-encoded body. Message
//! bodies never travel inside frames; they are passed as file descriptors
//! (SCM_RIGHTS, see [`fdpass`]). Each pair of processes has its own module
//! with one `enum` per direction:
//!
//! - [`master`]: master ⇄ every worker (bootstrap, store connections, shutdown)
//! - [`store`]: any worker ⇄ the store daemon
//! - [`control`]: `moxctl` ⇄ master over the control socket
//!
//! [`IPC_VERSION`] must be bumped on any change of the wire format; the
//! golden-bytes test in `tests/golden.rs` fails when it changes by accident.

pub mod client;
pub mod codec;
pub mod config;
pub mod conn;
pub mod control;
pub mod error;
pub mod fdpass;
pub mod frame;
pub mod hello;
pub mod master;
pub mod role;
pub mod sandbox;
pub mod store;

pub use conn::{AsyncReceiver, AsyncSender, BlockingConn, Msg};
pub use error::IpcError;
pub use role::Role;

/// Version of the wire protocol, exchanged in the hello frame at connect.
/// Bump on any change to a message type in this crate.
pub const IPC_VERSION: u32 = 7;
