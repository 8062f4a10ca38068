//! The master process of moxd and the sandbox its workers enter.
//!
//! - [`run`]: the run modes (serve, localserve, config check)
//! - [`master`]: supervision of workers and the store connection broker
//! - [`spawn`]: re-executing `moxd worker ROLE` with fd 3 as its channel
//! - [`control`]: the control socket for moxctl
//! - [`dkim`]: DKIM keys (`moxctl dkim gen`) and the DNS records to publish
//! - [`worker`]: a worker's first steps (bootstrap, sandbox)
//! - [`sandbox`]: privilege drop, capabilities, landlock, seccomp

pub mod config;
pub mod control;
pub mod dkim;
pub mod listeners;
pub mod logging;
pub mod master;
pub mod run;
pub mod sandbox;
pub mod spawn;
pub mod tls;
pub mod worker;
