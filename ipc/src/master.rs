//! master ⇄ worker, over the socketpair each worker inherits as fd 3.
//!
//! The first frame from the master is [`MasterToWorker::Bootstrap`] with the
//! worker's listening sockets attached. Store connections are made by the
//! master (a socketpair per client) and handed out as descriptors, so a
//! worker that loses the store asks for a new one with
//! [`WorkerToMaster::NeedStoreConnection`].

use serde::{Deserialize, Serialize};

use crate::config::WorkerBootstrap;
use crate::control::{ControlReply, ControlRequest};
use crate::role::Peer;
use crate::sandbox::SandboxReport;

/// The fd number of the master channel in every worker.
pub const WORKER_CHANNEL_FD: i32 = 3;

#[derive(Debug, Clone, Serialize, Deserialize)]
pub enum MasterToWorker {
    /// Configuration; listener fds attached in `listeners` order.
    Bootstrap(Box<WorkerBootstrap>),
    /// A connection to the store (fd attached).
    StoreConnection,
    /// Store only: serve a new client on the attached fd, with the rights of `peer`.
    NewClient { peer: Peer },
    /// Finish in-flight work and exit.
    Shutdown,
    /// Answer with [`WorkerToMaster::Metrics`] (same request id).
    MetricsRequest,
    /// The answer to [`WorkerToMaster::Control`] (same request id).
    ControlReply(ControlReply),
    /// The answer to [`WorkerToMaster::GatherMetrics`] (same request id):
    /// every process's metrics in Prometheus text exposition format.
    GatheredMetrics { text: String },
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub enum WorkerToMaster {
    /// Sandbox applied and serving.
    Ready { sandbox: Box<SandboxReport> },
    /// The worker has no (working) store connection.
    NeedStoreConnection,
    /// A refusal to start (e.g. required sandbox feature missing); the
    /// master logs it and does not restart quickly.
    Fatal { reason: String },
    /// The answer to [`MasterToWorker::MetricsRequest`]: this worker's
    /// metrics in Prometheus text exposition format (may be empty).
    Metrics { text: String },
    /// Web only: an administration request the master carries out as for
    /// moxctl (so domains.toml stays in sync) — only process status and
    /// the domain, account, address and password changes the admin web
    /// interface offers; anything else is refused.
    Control(ControlRequest),
    /// Web only: the metrics of every process, for /metrics.
    GatherMetrics,
}
