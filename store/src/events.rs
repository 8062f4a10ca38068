//! Change events of one account (new message, flags, expunge, mailbox
//! changes) for IMAP IDLE and webmail live updates.
//!
//! A `tokio::sync::broadcast` channel per account: sending never blocks
//! the committing thread, and every subscriber sees events in commit order
//! because they are sent while the account's writer lock is still held.
//! A subscriber that falls more than [`EVENT_CHANNEL_CAPACITY`] events
//! behind gets `RecvError::Lagged` and must re-read the mailbox state.

use ipc::store::ChangeEvent;
use tokio::sync::broadcast;

/// Events buffered per account for slow subscribers.
pub const EVENT_CHANNEL_CAPACITY: usize = 1024;

#[derive(Debug)]
pub struct Events {
    tx: broadcast::Sender<ChangeEvent>,
}

impl Events {
    pub fn new() -> Events {
        let (tx, _) = broadcast::channel(EVENT_CHANNEL_CAPACITY);
        Events { tx }
    }

    pub fn subscribe(&self) -> broadcast::Receiver<ChangeEvent> {
        self.tx.subscribe()
    }

    /// Sessions listening.
    pub fn subscribers(&self) -> usize {
        self.tx.receiver_count()
    }

    /// Sends events of one committed change, in order.
    pub fn publish(&self, events: Vec<ChangeEvent>) {
        for ev in events {
            // An error only means nobody is subscribed.
            let _ = self.tx.send(ev);
        }
    }
}
