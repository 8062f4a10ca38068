//! A request/reply client over an async connection: numbers requests,
//! matches replies by id, and routes streams of replies (subscriptions) to
//! a channel. Used by workers and the master to talk to the store.

use std::collections::HashMap;
use std::marker::PhantomData;
use std::os::fd::{BorrowedFd, OwnedFd};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use serde::{Serialize, de::DeserializeOwned};
use tokio::sync::{mpsc, oneshot};

use crate::conn::{AsyncReceiver, AsyncSender};
use crate::{IpcError, Msg};

/// How many unread replies a subscription may hold before it is dropped.
pub const SUBSCRIPTION_BUFFER: usize = 1024;

enum Waiter<Rep> {
    Once(oneshot::Sender<Msg<Rep>>),
    Stream(mpsc::Sender<Msg<Rep>>),
}

type Waiters<Rep> = Arc<Mutex<HashMap<u64, Waiter<Rep>>>>;

/// Cloneable handle; the connection closes when the peer does or the
/// reader finds a bad frame, after which every call fails with `Closed`.
pub struct Client<Req, Rep> {
    tx: AsyncSender,
    next_id: Arc<AtomicU64>,
    waiters: Waiters<Rep>,
    closed: flag::Flag,
    _req: PhantomData<fn(Req)>,
}

impl<Req, Rep> Clone for Client<Req, Rep> {
    fn clone(&self) -> Self {
        Client {
            tx: self.tx.clone(),
            next_id: self.next_id.clone(),
            waiters: self.waiters.clone(),
            closed: self.closed.clone(),
            _req: PhantomData,
        }
    }
}

impl<Req: Serialize, Rep: DeserializeOwned + Send + 'static> Client<Req, Rep> {
    /// Start the reader task on the current tokio runtime.
    pub fn spawn(mut rx: AsyncReceiver, tx: AsyncSender) -> Self {
        let waiters: Waiters<Rep> = Arc::new(Mutex::new(HashMap::new()));
        let closed = flag::Flag::default();
        let (w, c) = (waiters.clone(), closed.clone());
        tokio::spawn(async move {
            loop {
                match rx.recv::<Rep>().await {
                    Ok(Some(msg)) => {
                        let mut map = w.lock().unwrap_or_else(|e| e.into_inner());
                        match map.remove(&msg.id) {
                            Some(Waiter::Once(s)) => {
                                let _ = s.send(msg);
                            }
                            Some(Waiter::Stream(s)) => {
                                let id = msg.id;
                                if s.try_send(msg).is_ok() {
                                    map.insert(id, Waiter::Stream(s));
                                } else {
                                    tracing::warn!(
                                        id,
                                        "subscriber gone or too slow; dropping subscription"
                                    );
                                }
                            }
                            None => tracing::warn!(id = msg.id, "reply for unknown request id"),
                        }
                    }
                    Ok(None) => break,
                    Err(e) => {
                        tracing::error!(error = %e, "closing connection after bad frame");
                        break;
                    }
                }
            }
            c.set();
            // Dropping the waiters wakes every pending caller with Closed.
            w.lock().unwrap_or_else(|e| e.into_inner()).clear();
        });
        Client {
            tx,
            next_id: Arc::new(AtomicU64::new(1)),
            waiters,
            closed,
            _req: PhantomData,
        }
    }

    pub fn is_closed(&self) -> bool {
        self.closed.is_set()
    }

    fn register(&self, w: Waiter<Rep>) -> Result<u64, IpcError> {
        if self.closed.is_set() {
            return Err(IpcError::Closed);
        }
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        self.waiters
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(id, w);
        Ok(id)
    }

    /// Send a request (with descriptors) and wait for its reply.
    pub async fn call_fds(
        &self,
        req: &Req,
        fds: &[BorrowedFd<'_>],
    ) -> Result<(Rep, Vec<OwnedFd>), IpcError> {
        let (s, r) = oneshot::channel();
        let id = self.register(Waiter::Once(s))?;
        if let Err(e) = self.tx.send(id, req, fds).await {
            self.waiters
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .remove(&id);
            return Err(e);
        }
        let msg = r.await.map_err(|_| IpcError::Closed)?;
        Ok((msg.body, msg.fds))
    }

    pub async fn call(&self, req: &Req) -> Result<Rep, IpcError> {
        Ok(self.call_fds(req, &[]).await?.0)
    }

    /// Send a request whose replies keep coming (a subscription).
    pub async fn stream(&self, req: &Req) -> Result<mpsc::Receiver<Msg<Rep>>, IpcError> {
        let (s, r) = mpsc::channel(SUBSCRIPTION_BUFFER);
        let id = self.register(Waiter::Stream(s))?;
        self.tx.send(id, req, &[]).await?;
        Ok(r)
    }
}

mod flag {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, Ordering};

    /// A shared one-way flag.
    #[derive(Clone, Default)]
    pub struct Flag(Arc<AtomicBool>);

    impl Flag {
        pub fn set(&self) {
            self.0.store(true, Ordering::Release)
        }
        pub fn is_set(&self) -> bool {
            self.0.load(Ordering::Acquire)
        }
    }
}
