//! The store daemon's IPC side: connections from workers and the master,
//! each with the rights the master gave it.

pub mod client;
pub mod dispatch;
pub mod rights;
