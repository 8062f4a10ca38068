//! Subscribing to an account's change events (see `events.rs`).

use ipc::store::ChangeEvent;
use tokio::sync::{broadcast, watch};

use crate::error::Result;
use crate::store::Store;

impl Store {
    /// Change events of `account`, from now on, in commit order. A receiver
    /// that lags more than [`crate::EVENT_CHANNEL_CAPACITY`] events behind
    /// gets `RecvError::Lagged` and must re-read state. Works from blocking
    /// code too (`blocking_recv`, `try_recv`).
    pub fn subscribe(&self, account: &str) -> Result<broadcast::Receiver<ChangeEvent>> {
        Ok(self.account(account)?.events.subscribe())
    }

    /// Changes when messages are added to the outbound queue (the value
    /// counts additions; waiters see only the latest).
    pub fn queue_watch(&self) -> watch::Receiver<u64> {
        self.queue_added.subscribe()
    }
}
