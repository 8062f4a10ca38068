//! One store connection: read requests, run each on a blocking thread
//! (so concurrent deliveries from one connection share a group commit),
//! reply with the request's id. A malformed, oversized or truncated frame
//! closes this connection only; the store keeps serving the others.

use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::net::UnixStream;
use std::sync::Arc;

use ipc::hello::handshake;
use ipc::role::Peer;
use ipc::store::{StoreError, StoreErrorKind, StoreReply, StoreRequest};
use ipc::{AsyncSender, Msg};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use super::{dispatch::dispatch, rights::allowed};
use crate::Store;

pub async fn serve(
    store: Arc<Store>,
    peer: Peer,
    fd: OwnedFd,
    stop: CancellationToken,
    tracker: TaskTracker,
) {
    let (mut rx, tx) = match ipc::conn::split_std(UnixStream::from(fd)) {
        Ok(p) => p,
        Err(e) => {
            tracing::error!(?peer, error = %e, "store connection setup");
            return;
        }
    };
    match handshake(&mut rx, &tx, Peer::Master).await {
        Ok(_) => {}
        Err(e) => {
            tracing::warn!(?peer, error = %e, "store connection hello failed; closing");
            return;
        }
    }
    tracing::debug!(?peer, "store connection open");
    loop {
        let msg = tokio::select! {
            r = rx.recv::<StoreRequest>() => r,
            _ = stop.cancelled() => return,
        };
        let msg = match msg {
            Ok(Some(m)) => m,
            Ok(None) => {
                tracing::debug!(?peer, "store connection closed by peer");
                return;
            }
            Err(e) => {
                tracing::error!(?peer, error = %e, "bad frame on store connection; closing it");
                return;
            }
        };
        let (store, tx) = (store.clone(), tx.clone());
        tracker.spawn(handle(store, peer, msg, tx, stop.clone()));
    }
}

async fn handle(
    store: Arc<Store>,
    peer: Peer,
    msg: Msg<StoreRequest>,
    tx: AsyncSender,
    stop: CancellationToken,
) {
    let Msg { id, body, fds } = msg;
    if !allowed(peer, &body) {
        tracing::warn!(?peer, request = ?std::mem::discriminant(&body), "request refused: not allowed for this peer");
        let reply = StoreReply::Error(StoreError {
            kind: StoreErrorKind::Forbidden,
            message: "not allowed".into(),
        });
        let _ = tx.send(id, &reply, &[]).await;
        return;
    }
    if let StoreRequest::Subscribe { account } = body {
        return subscribe(store, account, id, tx, stop).await;
    }
    if let StoreRequest::QueueWatch = body {
        return queue_watch(store, id, tx, stop).await;
    }
    let res = tokio::task::spawn_blocking(move || dispatch(&store, body, fds)).await;
    let (reply, file) = match res {
        Ok(r) => r,
        Err(e) => {
            tracing::error!(error = %e, "store request panicked");
            (
                StoreReply::Error(StoreError {
                    kind: StoreErrorKind::Temporary,
                    message: "internal error".into(),
                }),
                None,
            )
        }
    };
    let fds: Vec<_> = file.iter().map(|f| f.as_fd()).collect();
    if let Err(e) = tx.send(id, &reply, &fds).await {
        tracing::debug!(error = %e, "reply not sent (peer gone)");
    }
}

/// Streams `QueueChanged` after each addition to the queue (coalesced:
/// additions while one is being sent give one more).
async fn queue_watch(store: Arc<Store>, id: u64, tx: AsyncSender, stop: CancellationToken) {
    let mut added = store.queue_watch();
    added.mark_unchanged();
    if tx.send(id, &StoreReply::Subscribed, &[]).await.is_err() {
        return;
    }
    loop {
        tokio::select! {
            r = added.changed() => {
                if r.is_err() {
                    return;
                }
            }
            _ = stop.cancelled() => return,
        }
        if tx.send(id, &StoreReply::QueueChanged, &[]).await.is_err() {
            return;
        }
    }
}

async fn subscribe(
    store: Arc<Store>,
    account: String,
    id: u64,
    tx: AsyncSender,
    stop: CancellationToken,
) {
    let mut events = match store.subscribe(&account) {
        Ok(r) => r,
        Err(e) => {
            let _ = tx.send(id, &StoreReply::Error(e.into()), &[]).await;
            return;
        }
    };
    if tx.send(id, &StoreReply::Subscribed, &[]).await.is_err() {
        return;
    }
    loop {
        let ev = tokio::select! {
            e = events.recv() => e,
            _ = stop.cancelled() => return,
        };
        match ev {
            Ok(ev) => {
                if tx.send(id, &StoreReply::Event(ev), &[]).await.is_err() {
                    return;
                }
            }
            Err(tokio::sync::broadcast::error::RecvError::Lagged(n)) => {
                // The subscriber missed events (one change touching more
                // messages than the channel holds, say); it must re-read
                // what it keeps, and hears on from here.
                tracing::debug!(%account, missed = n, "subscriber lagged; told to re-read");
                let ev = ipc::store::ChangeEvent::Missed {
                    account: account.clone(),
                };
                if tx.send(id, &StoreReply::Event(ev), &[]).await.is_err() {
                    return;
                }
            }
            Err(tokio::sync::broadcast::error::RecvError::Closed) => return,
        }
    }
}
