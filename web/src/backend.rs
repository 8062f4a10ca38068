//! How the web worker reaches the rest of moxd: the store (over its IPC
//! connection) and the master (over the master channel). A trait, so the
//! HTTP layer can be tested against an in-process store.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use anyhow::Result;
use daemons::worker::WorkerContext;
use ipc::master::{MasterToWorker, WorkerToMaster};
use ipc::store::{StoreReply, StoreRequest};

pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = Result<T>> + Send + 'a>>;

pub trait Backend: Send + Sync + 'static {
    /// One store request and its reply.
    fn store(&self, req: StoreRequest) -> BoxFuture<'_, StoreReply>;
    /// One request to the master and its answer.
    fn master(&self, req: WorkerToMaster) -> BoxFuture<'_, MasterToWorker>;
}

/// The running worker's store handle and master channel.
pub struct WorkerBackend(pub Arc<WorkerContext>);

impl Backend for WorkerBackend {
    fn store(&self, req: StoreRequest) -> BoxFuture<'_, StoreReply> {
        Box::pin(async move { self.0.store.call(&req).await })
    }

    fn master(&self, req: WorkerToMaster) -> BoxFuture<'_, MasterToWorker> {
        Box::pin(async move { self.0.ask_master(&req).await })
    }
}
