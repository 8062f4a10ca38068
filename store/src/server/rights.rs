//! Which peer may ask what. The master assigns each store connection a
//! [`Peer`] when it creates it; a worker cannot claim another. A
//! compromised smtp-in can deliver mail, but cannot read mailboxes, create
//! accounts or fetch credentials.

use ipc::Role::{self, Imap, Junk, Queue, SmtpIn, Submission, Web};
use ipc::role::Peer;
use ipc::store::StoreRequest;

/// Worker roles allowed to make this request (administrators may make all).
fn roles_for(req: &StoreRequest) -> &'static [Role] {
    use StoreRequest::*;
    match req {
        Ping => &[SmtpIn, Submission, Queue, Imap, Web, Junk],
        DomainAdd { .. } | DomainDel { .. } | AccountAdd { .. } | AccountDel { .. } => &[Web],
        AddressAdd { .. } | AddressDel { .. } | SetPassword { .. } => &[Web],
        DomainList => &[SmtpIn, Submission, Web],
        AccountList => &[Web],
        ResolveRecipient { .. } => &[SmtpIn, Submission, Queue],
        VerifyPassword { .. } | ScramCredentials { .. } => &[Submission, Imap, Web],
        Deliver(_) => &[SmtpIn, Submission, Queue, Imap],
        Mailboxes { .. } | MessageList { .. } | MessageOpen { .. } | Subscribe { .. } => {
            &[Imap, Web, Junk]
        }
        QueueAdd(_) => &[Submission, Queue],
        QueueList => &[Queue, Web],
        AccountOwns { .. } => &[Submission, Web],
        AuthCheck { .. } | AuthRecord { .. } => &[Submission, Imap, Web],
        // Outbound delivery is the queue worker's alone.
        QueueDue { .. } | QueueClaim { .. } | QueueOpen { .. } | QueueResult { .. } => &[Queue],
        // Administration (moxctl queue …) only.
        QueueEntries { .. }
        | QueueHold { .. }
        | QueueRelease { .. }
        | QueueKick { .. }
        | QueueDrop { .. } => &[],
    }
}

pub fn allowed(peer: Peer, req: &StoreRequest) -> bool {
    match peer {
        Peer::Master | Peer::Admin => true,
        Peer::Control => false,
        Peer::Worker(role) => roles_for(req).contains(&role),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn smtp_in_cannot_read_or_administer() {
        let p = Peer::Worker(SmtpIn);
        assert!(allowed(
            p,
            &StoreRequest::ResolveRecipient {
                address: "a@b".into()
            }
        ));
        assert!(!allowed(
            p,
            &StoreRequest::MessageList {
                account: "a".into(),
                mailbox: "Inbox".into()
            }
        ));
        assert!(!allowed(
            p,
            &StoreRequest::AccountAdd {
                name: "x".into(),
                address: "x@y".into()
            }
        ));
        assert!(!allowed(
            p,
            &StoreRequest::ScramCredentials {
                login: "a".into(),
                mechanism: ipc::store::ScramMechanism::Sha256
            }
        ));
        assert!(allowed(Peer::Admin, &StoreRequest::AccountList));
        assert!(!allowed(p, &StoreRequest::QueueOpen { id: 1 }));
        assert!(!allowed(
            Peer::Worker(Submission),
            &StoreRequest::QueueDue { limit: 1 }
        ));
        assert!(allowed(
            Peer::Worker(Queue),
            &StoreRequest::QueueDue { limit: 1 }
        ));
        assert!(!allowed(
            Peer::Worker(Queue),
            &StoreRequest::QueueDrop { id: 1 }
        ));
        assert!(allowed(Peer::Admin, &StoreRequest::QueueDrop { id: 1 }));
        assert!(!allowed(Peer::Control, &StoreRequest::Ping));
    }
}
