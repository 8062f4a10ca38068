//! The queue's main loop: ask the store for due messages, start an
//! attempt for each one not already in progress (at most
//! [`MAX_MESSAGES_IN_FLIGHT`] at once), then sleep until the next one
//! falls due, an attempt finishes, the store reports an addition to the
//! queue (`QueueWatch`), or [`POLL_INTERVAL`] passes (`moxctl queue kick`
//! is seen then). The set of
//! messages in progress only avoids starting one twice; the store's rows
//! are the queue.

use std::collections::HashSet;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::{Notify, Semaphore};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::queue::{Context, attempt};
use crate::smtp::received::now;

/// Longest sleep between looks at the queue.
pub const POLL_INTERVAL: Duration = Duration::from_secs(1);
/// Messages asked for at once.
pub const DUE_BATCH: u32 = 200;
/// Attempts in progress at once.
pub const MAX_MESSAGES_IN_FLIGHT: usize = 200;
/// How long attempts may go on after Shutdown (the master kills at 10 s;
/// an attempt cut short is retried after its backoff).
pub const SHUTDOWN_GRACE: Duration = Duration::from_secs(8);

/// Counts attempts started but not yet claimed in the store (those may
/// still be listed as due); decrements when dropped.
pub struct Unclaimed(Arc<AtomicUsize>);

impl Unclaimed {
    fn new(n: &Arc<AtomicUsize>) -> Unclaimed {
        n.fetch_add(1, Ordering::SeqCst);
        Unclaimed(n.clone())
    }
}

impl Drop for Unclaimed {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

/// Wakes the loop when the store reports additions to the queue, so a
/// submitted message starts at once rather than at the next poll; the
/// poll remains for when the watch is down (store restarting).
async fn watch_additions(ctx: Arc<Context>, wake: Arc<Notify>, shutdown: CancellationToken) {
    while !shutdown.is_cancelled() {
        match ctx.store.watch().await {
            Ok(mut stream) => {
                // Something may have been added while the watch was down.
                wake.notify_one();
                loop {
                    tokio::select! {
                        m = stream.recv() => match m {
                            Some(_) => wake.notify_one(),
                            None => break,
                        },
                        _ = shutdown.cancelled() => return,
                    }
                }
            }
            Err(e) => tracing::debug!(error = %e, "watching the queue"),
        }
        tokio::select! {
            _ = tokio::time::sleep(POLL_INTERVAL) => {}
            _ = shutdown.cancelled() => return,
        }
    }
}

pub async fn run(ctx: Arc<Context>, shutdown: CancellationToken) {
    let in_flight: Arc<Mutex<HashSet<i64>>> = Arc::default();
    let unclaimed = Arc::new(AtomicUsize::new(0));
    let slots = Arc::new(Semaphore::new(MAX_MESSAGES_IN_FLIGHT));
    let wake = Arc::new(Notify::new());
    let tracker = TaskTracker::new();
    tokio::spawn(watch_additions(ctx.clone(), wake.clone(), shutdown.clone()));
    loop {
        // Ask only for as many as can start, plus those started but not yet
        // claimed (the store may list them again); claimed ones are not due.
        let want = slots.available_permits() + unclaimed.load(Ordering::SeqCst);
        let limit = u32::try_from(want).unwrap_or(DUE_BATCH).clamp(1, DUE_BATCH);
        let sleep = match ctx.store.due(limit).await {
            Ok((messages, next_due)) => {
                for entry in messages {
                    let id = entry.id;
                    if !in_flight
                        .lock()
                        .unwrap_or_else(|e| e.into_inner())
                        .insert(id)
                    {
                        continue;
                    }
                    let Ok(permit) = slots.clone().try_acquire_owned() else {
                        in_flight
                            .lock()
                            .unwrap_or_else(|e| e.into_inner())
                            .remove(&id);
                        break;
                    };
                    let (ctx, in_flight, wake) = (ctx.clone(), in_flight.clone(), wake.clone());
                    let claim = Unclaimed::new(&unclaimed);
                    tracker.spawn(async move {
                        if let Err(e) = attempt::attempt(&ctx, entry, claim).await {
                            tracing::warn!(id, error = %e, "delivery attempt stopped; retried later");
                        }
                        in_flight.lock().unwrap_or_else(|e| e.into_inner()).remove(&id);
                        drop(permit);
                        wake.notify_one();
                    });
                }
                next_due.map_or(POLL_INTERVAL, |t| {
                    Duration::from_secs(u64::try_from(t - now()).unwrap_or(0)).min(POLL_INTERVAL)
                })
            }
            Err(e) => {
                tracing::warn!(error = %e, "asking the store for due messages");
                POLL_INTERVAL
            }
        };
        tokio::select! {
            _ = shutdown.cancelled() => break,
            _ = tokio::time::sleep(sleep) => {}
            _ = wake.notified() => {}
        }
    }
    tracker.close();
    if tokio::time::timeout(SHUTDOWN_GRACE, tracker.wait())
        .await
        .is_err()
    {
        tracing::warn!(
            "delivery attempts still running at shutdown; they are retried after restart"
        );
    }
}
