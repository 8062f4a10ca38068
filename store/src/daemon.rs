//! The store worker's main loop: open the data directory, tell the
//! master we are ready, serve every connection the master hands us, and on
//! shutdown let in-flight requests (commits) finish before exiting.

use std::os::unix::net::UnixStream;
use std::sync::Arc;

use anyhow::{Context, Result};
use ipc::config::WorkerBootstrap;
use ipc::master::{MasterToWorker, WorkerToMaster};
use ipc::sandbox::SandboxReport;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::Store;

/// Threads for SQLite and fsync work (deliveries wait here for their
/// group commit, so it is larger than the core count).
pub const BLOCKING_THREADS: usize = 64;

pub fn run(boot: WorkerBootstrap, channel: UnixStream, sandbox: SandboxReport) -> Result<()> {
    let data_dir = boot
        .data_dir
        .clone()
        .context("the store needs a data directory")?;
    let store = Arc::new(
        Store::open(&data_dir).with_context(|| format!("opening {}", data_dir.display()))?,
    );
    if let Some(d) = &boot.domains {
        store
            .apply_declared(d)
            .context("applying declared domains and accounts")?;
    }
    store
        .set_catchall(boot.catchall_account.clone())
        .context("setting the catch-all account")?;
    store.set_default_quota(boot.imap.as_ref().and_then(|i| i.default_quota));
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .max_blocking_threads(BLOCKING_THREADS)
        .enable_all()
        .build()?;
    rt.block_on(serve(store, channel, sandbox))
}

async fn serve(store: Arc<Store>, channel: UnixStream, sandbox: SandboxReport) -> Result<()> {
    let (mut rx, tx) = ipc::conn::split_std(channel)?;
    tx.send(
        0,
        &WorkerToMaster::Ready {
            sandbox: Box::new(sandbox),
        },
        &[],
    )
    .await?;
    let stop = CancellationToken::new();
    let tracker = TaskTracker::new();
    loop {
        match rx.recv::<MasterToWorker>().await {
            Ok(Some(msg)) => match msg.body {
                MasterToWorker::NewClient { peer } => match msg.fds.into_iter().next() {
                    Some(fd) => {
                        tracker.spawn(crate::server::client::serve(
                            store.clone(),
                            peer,
                            fd,
                            stop.clone(),
                            tracker.clone(),
                        ));
                    }
                    None => tracing::warn!("new client without a descriptor"),
                },
                MasterToWorker::Shutdown => {
                    tracing::info!("shutdown requested");
                    break;
                }
                MasterToWorker::MetricsRequest => {
                    let text = metrics_text(store.stats());
                    if let Err(e) = tx
                        .send(msg.id, &WorkerToMaster::Metrics { text }, &[])
                        .await
                    {
                        tracing::warn!(error = %e, "answering metrics request");
                    }
                }
                MasterToWorker::Bootstrap(_)
                | MasterToWorker::StoreConnection
                | MasterToWorker::ControlReply(_)
                | MasterToWorker::GatheredMetrics { .. } => {
                    tracing::warn!("unexpected message from master");
                }
            },
            Ok(None) => {
                tracing::info!("master channel closed");
                break;
            }
            Err(e) => {
                tracing::error!(error = %e, "bad frame from master");
                break;
            }
        }
    }
    // Stop reading new requests; requests already taken (commits) finish.
    stop.cancel();
    tracker.close();
    tracker.wait().await;
    tracing::info!("store stopped");
    Ok(())
}

/// The store's counters in Prometheus text exposition format.
fn metrics_text(s: crate::Stats) -> String {
    format!(
        "# HELP moxd_store_deliveries_total Deliveries committed since the store started.\n\
         # TYPE moxd_store_deliveries_total counter\n\
         moxd_store_deliveries_total {}\n\
         # HELP moxd_store_delivery_batches_total Delivery transactions (group commits).\n\
         # TYPE moxd_store_delivery_batches_total counter\n\
         moxd_store_delivery_batches_total {}\n\
         # HELP moxd_store_queue_adds_total Messages added to the outbound queue.\n\
         # TYPE moxd_store_queue_adds_total counter\n\
         moxd_store_queue_adds_total {}\n\
         # HELP moxd_store_queue_batches_total Queue-addition transactions (group commits).\n\
         # TYPE moxd_store_queue_batches_total counter\n\
         moxd_store_queue_batches_total {}\n",
        s.deliveries, s.delivery_batches, s.queue_adds, s.queue_batches
    )
}
