//! Change events of the accounts logged in on this worker (new mail,
//! flags, expunges, mailbox changes made by any session or worker), for
//! untagged updates and IDLE (RFC 9051 §5.2, RFC 2177).
//!
//! One store subscription per account, fanned out to that account's
//! sessions through a `tokio::sync::broadcast` channel; the number of its
//! receivers is the number of sessions, which is also where the
//! per-account connection limit is applied. When the last session of an
//! account ends, the channel is dropped, but the store subscription stays
//! (dormant, its events discarded) until the store connection closes:
//! the store has no request that ends a subscription, and opening a new
//! one at each login would leave the old ones running. A dormant
//! subscription is woken at the account's next login.
//!
//! When the store drops events because this worker fell behind (one
//! change touching more messages than its buffer holds), it sends
//! `ChangeEvent::Missed`, which the sessions take as a lag of their own
//! (they re-read their mailbox's changes) and the content cache as a
//! reason to forget the account. When the store subscription ends (store
//! restart), the account's channel closes and its sessions end with
//! `BYE`; they could not know which changes they missed.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use ipc::Msg;
use ipc::store::{ChangeEvent, StoreReply, StoreRequest};
use tokio::sync::{Notify, broadcast, mpsc};

use super::cache::ContentCache;
use super::convert::backend_error;
use crate::imap::backend::BackendError;
use crate::worker::{StoreHandle, SubscribeError};

/// Events buffered per account for its slowest session; a session that
/// falls further behind re-reads its mailbox (it sees `Lagged`).
pub const FANOUT_CAPACITY: usize = 1024;

struct Entry {
    /// Identifies the forwarding task of this subscription.
    id: u64,
    /// None while no session of the account is logged in (dormant).
    tx: Option<broadcast::Sender<ChangeEvent>>,
    /// Wakes the forwarder when a dormant subscription gets a session.
    wake: Arc<Notify>,
}

struct Inner {
    store: StoreHandle,
    /// Sessions at once per account (`[imap] max_connections_per_account`).
    max_per_account: usize,
    accounts: Mutex<HashMap<String, Entry>>,
    /// One new store subscription at a time, so that two logins of one
    /// account do not both subscribe.
    creating: tokio::sync::Mutex<()>,
    cache: Arc<ContentCache>,
    next_id: AtomicU64,
}

impl Inner {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Entry>> {
        self.accounts.lock().unwrap_or_else(|e| e.into_inner())
    }
}

#[derive(Clone)]
pub struct Changes {
    inner: Arc<Inner>,
}

/// Why a session was not given the account's events.
fn limit_error(max: usize) -> BackendError {
    BackendError::Limit(format!(
        "too many sessions for this account (at most {max} at once)"
    ))
}

impl Changes {
    pub fn new(store: StoreHandle, max_per_account: u32, cache: Arc<ContentCache>) -> Changes {
        Changes {
            inner: Arc::new(Inner {
                store,
                max_per_account: usize::try_from(max_per_account).unwrap_or(usize::MAX),
                accounts: Mutex::default(),
                creating: tokio::sync::Mutex::new(()),
                cache,
                next_id: AtomicU64::new(1),
            }),
        }
    }

    /// A new session's receiver of the account's events, subscribing at
    /// the store if this worker has no subscription for it yet. Refused
    /// with `Limit` when the account has its maximum of sessions.
    pub async fn subscribe(
        &self,
        account: &str,
    ) -> Result<broadcast::Receiver<ChangeEvent>, BackendError> {
        if let Some(rx) = self.attach(account)? {
            return Ok(rx);
        }
        let _one = self.inner.creating.lock().await;
        if let Some(rx) = self.attach(account)? {
            return Ok(rx);
        }
        if self.inner.max_per_account == 0 {
            return Err(limit_error(0));
        }
        let stream = self.open(account).await?;
        let (tx, rx) = broadcast::channel(FANOUT_CAPACITY);
        let id = self.inner.next_id.fetch_add(1, Ordering::Relaxed);
        let wake = Arc::new(Notify::new());
        self.inner.lock().insert(
            account.to_string(),
            Entry {
                id,
                tx: Some(tx),
                wake: wake.clone(),
            },
        );
        tokio::spawn(forward(
            self.inner.clone(),
            account.to_string(),
            id,
            stream,
            wake,
        ));
        Ok(rx)
    }

    /// A receiver from the account's existing subscription, if any.
    fn attach(
        &self,
        account: &str,
    ) -> Result<Option<broadcast::Receiver<ChangeEvent>>, BackendError> {
        let max = self.inner.max_per_account;
        let mut map = self.inner.lock();
        let Some(e) = map.get_mut(account) else {
            return Ok(None);
        };
        match &e.tx {
            Some(tx) if tx.receiver_count() >= max => Err(limit_error(max)),
            Some(tx) => Ok(Some(tx.subscribe())),
            None if max == 0 => Err(limit_error(max)),
            None => {
                let (tx, rx) = broadcast::channel(FANOUT_CAPACITY);
                e.tx = Some(tx);
                e.wake.notify_one();
                Ok(Some(rx))
            }
        }
    }

    /// Subscribes at the store and waits for its confirmation.
    async fn open(&self, account: &str) -> Result<mpsc::Receiver<Msg<StoreReply>>, BackendError> {
        let req = StoreRequest::Subscribe {
            account: account.to_string(),
        };
        self.inner.store.subscribe(&req).await.map_err(|e| match e {
            SubscribeError::Refused(e) => backend_error(e),
            SubscribeError::Failed(m) => BackendError::Temporary(m),
        })
    }

    /// Sessions receiving the account's events now.
    pub fn sessions(&self, account: &str) -> usize {
        self.inner
            .lock()
            .get(account)
            .and_then(|e| e.tx.as_ref())
            .map_or(0, broadcast::Sender::receiver_count)
    }

    /// Whether the account's subscription has sessions to tell (false:
    /// none, or dormant).
    pub fn is_active(&self, account: &str) -> bool {
        self.inner
            .lock()
            .get(account)
            .is_some_and(|e| e.tx.is_some())
    }

    /// Accounts with a store subscription (active or dormant).
    pub fn subscriptions(&self) -> usize {
        self.inner.lock().len()
    }
}

/// Passes one account's store events to its sessions until the store
/// subscription ends; goes dormant while the account has no session.
async fn forward(
    inner: Arc<Inner>,
    account: String,
    id: u64,
    mut stream: mpsc::Receiver<Msg<StoreReply>>,
    wake: Arc<Notify>,
) {
    loop {
        let tx = {
            let map = inner.lock();
            match map.get(&account) {
                Some(e) if e.id == id => e.tx.clone(),
                _ => break,
            }
        };
        let idle = async {
            match &tx {
                Some(t) => t.closed().await,
                None => wake.notified().await,
            }
        };
        tokio::select! {
            m = stream.recv() => {
                let Some(m) = m else { break };
                match m.body {
                    StoreReply::Event(ev) => {
                        inner.cache.observe(&ev);
                        // The current sender, not `tx`: a session may have
                        // logged in since the loop began.
                        let current = inner
                            .lock()
                            .get(&account)
                            .filter(|e| e.id == id)
                            .and_then(|e| e.tx.clone());
                        if let Some(t) = current {
                            // An error only means no session listens.
                            let _ = t.send(ev);
                        }
                    }
                    StoreReply::Error(e) => {
                        tracing::warn!(%account, error = %e, "change events ended by the store");
                        break;
                    }
                    other => tracing::warn!(
                        %account,
                        reply = ?std::mem::discriminant(&other),
                        "unexpected reply on a subscription"
                    ),
                }
            }
            () = idle => {
                if tx.is_some() {
                    let mut map = inner.lock();
                    if let Some(e) = map.get_mut(&account).filter(|e| e.id == id)
                        && e.tx.as_ref().is_some_and(|t| t.receiver_count() == 0)
                    {
                        tracing::debug!(%account, "last session gone; subscription dormant");
                        e.tx = None;
                    }
                }
            }
        }
    }
    // Dropping the sender ends the sessions of this account (they see
    // `Closed`); cached contents go too, as their changes are no longer heard.
    {
        let mut map = inner.lock();
        if map.get(&account).is_some_and(|e| e.id == id) {
            map.remove(&account);
        }
    }
    inner.cache.invalidate_account(&account);
    tracing::debug!(%account, "change subscription ended");
}
