//! Subscribing to an account's change events (see `events.rs`).

use ipc::store::ChangeEvent;
use tokio::sync::broadcast;

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
}
