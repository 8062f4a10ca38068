//! The process roles of moxd (DESIGN.md role table).

use serde::{Deserialize, Serialize};

/// A worker role; the master starts each as `moxd worker <name>`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum Role {
    Store,
    SmtpIn,
    Submission,
    Queue,
    Imap,
    Web,
    Junk,
}

impl Role {
    pub const ALL: [Role; 7] = [
        Role::Store,
        Role::SmtpIn,
        Role::Submission,
        Role::Queue,
        Role::Imap,
        Role::Web,
        Role::Junk,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Role::Store => "store",
            Role::SmtpIn => "smtp-in",
            Role::Submission => "submission",
            Role::Queue => "queue",
            Role::Imap => "imap",
            Role::Web => "web",
            Role::Junk => "junk",
        }
    }

    pub fn from_name(s: &str) -> Option<Role> {
        Role::ALL.into_iter().find(|r| r.name() == s)
    }
}

impl std::fmt::Display for Role {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// Who is talking to the store: a worker role or an administrator (the
/// master, on behalf of `moxctl`). The store authorizes requests by it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Peer {
    Master,
    Worker(Role),
    Admin,
    Control,
}
