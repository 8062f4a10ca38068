//! The queue worker's requests to the store, typed: due messages, claim
//! an attempt, open a message file, record results, deliver a DSN or a
//! localserve copy. Every queue fact lives in the store; this worker
//! keeps nothing that a restart could lose.

use std::os::fd::{AsFd, BorrowedFd};

use ipc::store::{Delivery, QueueEntry, RecipientResult, StoreErrorKind, StoreReply, StoreRequest};

use crate::queue::message::Message;
use crate::worker::{StoreHandle, SubscribeError};

/// Mailbox DSNs and localserve copies are delivered to.
pub const INBOX: &str = "Inbox";

#[derive(Debug, thiserror::Error)]
pub enum StoreCallError {
    /// The message left the queue meanwhile (e.g. `moxctl queue drop`).
    #[error("not found: {0}")]
    NotFound(String),
    #[error("{0}")]
    Other(String),
}

fn unexpected(r: StoreReply) -> StoreCallError {
    match r {
        StoreReply::Error(e) if e.kind == StoreErrorKind::NotFound => {
            StoreCallError::NotFound(e.message)
        }
        StoreReply::Error(e) => StoreCallError::Other(e.to_string()),
        other => StoreCallError::Other(format!("unexpected store reply {other:?}")),
    }
}

#[derive(Clone)]
pub struct QueueStore {
    handle: StoreHandle,
}

impl QueueStore {
    pub fn new(handle: StoreHandle) -> Self {
        QueueStore { handle }
    }

    async fn call_fds(
        &self,
        req: &StoreRequest,
        fds: &[BorrowedFd<'_>],
    ) -> Result<(StoreReply, Vec<std::os::fd::OwnedFd>), StoreCallError> {
        let client = self
            .handle
            .client()
            .await
            .map_err(|e| StoreCallError::Other(format!("{e:#}")))?;
        client
            .call_fds(req, fds)
            .await
            .map_err(|e| StoreCallError::Other(format!("store: {e}")))
    }

    async fn call(&self, req: StoreRequest) -> Result<StoreReply, StoreCallError> {
        Ok(self.call_fds(&req, &[]).await?.0)
    }

    /// Streams a message each time something is added to the queue (the
    /// store's `QueueWatch`), once the store has confirmed it; ends when
    /// the store connection does.
    pub async fn watch(
        &self,
    ) -> Result<tokio::sync::mpsc::Receiver<ipc::Msg<StoreReply>>, StoreCallError> {
        self.handle
            .subscribe(&StoreRequest::QueueWatch)
            .await
            .map_err(|e| match e {
                SubscribeError::Refused(e) => unexpected(StoreReply::Error(e)),
                SubscribeError::Failed(m) => StoreCallError::Other(m),
            })
    }

    pub async fn due(&self, limit: u32) -> Result<(Vec<QueueEntry>, Option<i64>), StoreCallError> {
        match self.call(StoreRequest::QueueDue { limit }).await? {
            StoreReply::QueueDue { messages, next_due } => Ok((messages, next_due)),
            other => Err(unexpected(other)),
        }
    }

    pub async fn claim(
        &self,
        id: i64,
        recipients: Vec<u32>,
        next_attempt: i64,
    ) -> Result<(), StoreCallError> {
        let req = StoreRequest::QueueClaim {
            id,
            recipients,
            next_attempt,
        };
        match self.call(req).await? {
            StoreReply::Ok => Ok(()),
            other => Err(unexpected(other)),
        }
    }

    pub async fn open(&self, id: i64) -> Result<Message, StoreCallError> {
        match self.call_fds(&StoreRequest::QueueOpen { id }, &[]).await? {
            (StoreReply::QueueFile { prefix, size }, mut fds) if fds.len() == 1 => {
                let fd = fds
                    .pop()
                    .ok_or_else(|| StoreCallError::Other("no fd".into()))?;
                Ok(Message::new(prefix, std::fs::File::from(fd), size))
            }
            (StoreReply::QueueFile { .. }, _) => Err(StoreCallError::Other(
                "queue file reply without exactly one descriptor".into(),
            )),
            (other, _) => Err(unexpected(other)),
        }
    }

    /// Records results; true when the message left the queue.
    pub async fn result(
        &self,
        id: i64,
        results: Vec<RecipientResult>,
    ) -> Result<bool, StoreCallError> {
        match self.call(StoreRequest::QueueResult { id, results }).await? {
            StoreReply::QueueUpdated { removed } => Ok(removed),
            other => Err(unexpected(other)),
        }
    }

    /// Delivers `file` (from its start) with `prefix` into `account`'s Inbox.
    pub async fn deliver(
        &self,
        account: &str,
        prefix: Vec<u8>,
        file: &impl AsFd,
    ) -> Result<(), StoreCallError> {
        let req = StoreRequest::Deliver(Delivery {
            account: account.into(),
            mailbox: INBOX.into(),
            flags: vec![],
            prefix,
            received: None,
            // Parsed by the IMAP worker on first access.
            parsed: None,
        });
        match self.call_fds(&req, &[file.as_fd()]).await? {
            (StoreReply::Delivered(_), _) => Ok(()),
            (other, _) => Err(unexpected(other)),
        }
    }
}
