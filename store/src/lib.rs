//! moxd's storage engine: the only code that touches the data directory.
//!
//! ```text
//! data/
//!   system.db              domains, addresses, accounts' credentials, queue rows,
//!                          web sessions, the admin password hash
//!   accounts/NAME/index.db one SQLite (WAL) per account: mailboxes, messages, modseq counter
//!   accounts/NAME/msg/D/ID message files as received (D = ID >> 13)
//!   queue/msg/D/ID         outbound message files
//!   tmp/                   incoming files before they are committed
//! ```
//!
//! [`Store`] is the whole API: blocking methods, safe to call from many
//! threads (the store daemon calls them from `spawn_blocking`). Deliveries
//! to one account share commits ([`deliver`](Store::deliver)); changes are
//! published per account in commit order ([`subscribe`](Store::subscribe)).

mod account;
mod accounts;
mod authlimit;
mod counters;
mod credentials;
pub mod daemon;
mod db;
mod deliver;
mod dmarc;
mod error;
mod events;
mod files;
mod flags;
mod imap;
mod mailbox;
mod message_ops;
mod messages;
mod migrations;
mod names;
mod queue;
mod quota;
mod recent;
mod recovery;
pub mod scram;
pub mod server;
mod store;
mod subscribe;
mod websession;

pub use authlimit::{FAILED_AUTH_PER_DAY, FAILED_AUTH_PER_MINUTE};
pub use counters::MAX_MAILBOX_KEYWORDS;
pub use credentials::MAX_PASSWORD_LEN;
pub use deliver::MAX_DELIVERY_BATCH;
pub use error::StoreError;
pub use events::EVENT_CHANNEL_CAPACITY;
pub use messages::MessageFile;
pub use queue::{MAX_QUEUE_OPTIONS, MAX_QUEUE_RECIPIENTS};
pub use store::{MAX_MESSAGE_SIZE, MAX_PREFIX_SIZE, Stats, Store};
pub use websession::{
    ADMIN_PASSWORD_ITERATIONS, MAX_ACCOUNT_SESSIONS, MAX_ADMIN_SESSIONS, MAX_SESSION_IDLE_SECS,
};
