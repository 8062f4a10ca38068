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
        QueueDue { .. }
        | QueueClaim { .. }
        | QueueOpen { .. }
        | QueueResult { .. }
        | QueueWatch => &[Queue],
        // Administration (moxctl queue …) only.
        QueueEntries { .. }
        | QueueHold { .. }
        | QueueRelease { .. }
        | QueueKick { .. }
        | QueueDrop { .. } => &[],
        // IMAP sessions (and the web interface's mailbox overview).
        MailboxCreate { .. }
        | MailboxDelete { .. }
        | MailboxRename { .. }
        | SubscriptionList { .. }
        | SubscriptionSet { .. }
        | MailboxSelect { .. }
        | MessageMetas { .. }
        | MessageContent { .. }
        | Vanished { .. }
        | Append { .. }
        | StoreFlags(_)
        | Copy { .. }
        | Expunge { .. }
        | MessageParsedSet { .. }
        | MailboxModseq { .. }
        | RecentClaim { .. }
        | MessagesChanged { .. } => &[Imap],
        MailboxStatus { .. } | Quota { .. } => &[Imap, Web],
        QuotaSet { .. } => &[Web],
        // Web interface sessions and logins: the web worker's alone.
        WebSessionCreate { .. }
        | WebSessionCheck { .. }
        | WebSessionDelete { .. }
        | WebSessionList { .. }
        | WebSessionDeleteOthers { .. }
        | SetPasswordKeepSession { .. }
        | AdminPasswordVerify { .. }
        | LoginAttemptAdd { .. }
        | LoginAttemptList { .. } => &[Web],
        // Administration (moxctl setadminpassword) only.
        AdminPasswordSet { .. } => &[],
        // DMARC: smtp-in records, the queue worker reports, administrators
        // (moxctl dmarc reports) read.
        DmarcEvaluationAdd(_) | DmarcReportAdd(_) => &[SmtpIn],
        DmarcEvaluationsDue { .. } | DmarcEvaluationsDone { .. } => &[Queue],
        DmarcReportList { .. } => &[],
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
        let check = StoreRequest::WebSessionCheck {
            interface: ipc::store::WebInterface::Admin,
            token: "t".into(),
            csrf: None,
            touch: true,
        };
        assert!(allowed(Peer::Worker(Web), &check));
        for role in [SmtpIn, Submission, Queue, Imap, Junk] {
            assert!(!allowed(Peer::Worker(role), &check), "{role}");
        }
        let set_admin = StoreRequest::AdminPasswordSet {
            password: "x".into(),
        };
        assert!(!allowed(Peer::Worker(Web), &set_admin));
        assert!(allowed(Peer::Admin, &set_admin));
    }

    #[test]
    fn only_imap_reads_and_changes_mailboxes() {
        let select = StoreRequest::MailboxSelect {
            account: "a".into(),
            name: "Inbox".into(),
            after_uid: 0,
            limit: 10,
        };
        let expunge = StoreRequest::Expunge {
            account: "a".into(),
            mailbox_id: 1,
            uids: None,
        };
        let claim = StoreRequest::RecentClaim {
            account: "a".into(),
            mailbox_id: 1,
            up_to: 9,
            claim: true,
        };
        for req in [&select, &expunge, &claim] {
            assert!(allowed(Peer::Worker(Imap), req));
            for role in [SmtpIn, Submission, Queue, Web, Junk] {
                assert!(!allowed(Peer::Worker(role), req), "{role}");
            }
        }
        let quota_set = StoreRequest::QuotaSet {
            account: "a".into(),
            limit: None,
        };
        assert!(!allowed(Peer::Worker(Imap), &quota_set));
        assert!(allowed(Peer::Admin, &quota_set));
    }
}
