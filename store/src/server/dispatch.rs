//! One request, one arm: decode is done, rights are checked; each arm
//! calls the store and turns the result into a reply. Runs on a blocking
//! thread (SQLite and fsync block).

use std::os::fd::OwnedFd;

use ipc::store::{StoreError, StoreErrorKind, StoreReply, StoreRequest};

use crate::Store;

fn err(kind: StoreErrorKind, message: impl Into<String>) -> StoreReply {
    StoreReply::Error(StoreError {
        kind,
        message: message.into(),
    })
}

fn one_fd(mut fds: Vec<OwnedFd>) -> Result<OwnedFd, StoreReply> {
    match (fds.pop(), fds.is_empty()) {
        (Some(fd), true) => Ok(fd),
        _ => Err(err(
            StoreErrorKind::Invalid,
            "expected exactly one message file descriptor",
        )),
    }
}

/// Handle everything but `Subscribe` (a stream; see `client.rs`).
/// Returns the reply and, for `MessageOpen`, the file to attach.
pub fn dispatch(
    store: &Store,
    req: StoreRequest,
    fds: Vec<OwnedFd>,
) -> (StoreReply, Option<OwnedFd>) {
    use StoreRequest::*;
    let ok = |r: Result<(), crate::StoreError>| match r {
        Ok(()) => StoreReply::Ok,
        Err(e) => StoreReply::Error(e.into()),
    };
    let reply = match req {
        Ping => StoreReply::Pong,
        DomainAdd { domain } => ok(store.domain_add(&domain)),
        DomainDel { domain } => ok(store.domain_del(&domain)),
        DomainList => match store.domain_list() {
            Ok(d) => StoreReply::Domains(d),
            Err(e) => StoreReply::Error(e.into()),
        },
        AccountAdd { name, address } => ok(store.account_add(&name, &address)),
        AccountDel { name } => ok(store.account_del(&name)),
        AccountList => match store.account_list() {
            Ok(a) => StoreReply::Accounts(a),
            Err(e) => StoreReply::Error(e.into()),
        },
        SetPassword { account, password } => ok(store.set_password(&account, &password)),
        AddressAdd { address, account } => ok(store.address_add(&address, &account)),
        AddressDel { address } => ok(store.address_del(&address)),
        ResolveRecipient { address } => match store.resolve_recipient(&address) {
            Ok(a) => StoreReply::Recipient(a),
            Err(e) => StoreReply::Error(e.into()),
        },
        VerifyPassword { login, password } => match store.verify_password(&login, &password) {
            Ok(a) => StoreReply::Authenticated(a),
            Err(e) => StoreReply::Error(e.into()),
        },
        ScramCredentials { login, mechanism } => match store.scram_credentials(&login, mechanism) {
            Ok(c) => StoreReply::Scram(c),
            Err(e) => StoreReply::Error(e.into()),
        },
        Deliver(d) => match one_fd(fds) {
            Ok(fd) => match store.deliver(d, fd) {
                Ok(r) => StoreReply::Delivered(r),
                Err(e) => StoreReply::Error(e.into()),
            },
            Err(r) => r,
        },
        Mailboxes { account } => match store.mailboxes(&account) {
            Ok(m) => StoreReply::Mailboxes(m),
            Err(e) => StoreReply::Error(e.into()),
        },
        MessageList { account, mailbox } => match store.message_list(&account, &mailbox) {
            Ok(m) => StoreReply::Messages(m),
            Err(e) => StoreReply::Error(e.into()),
        },
        MessageOpen {
            account,
            message_id,
        } => match store.message_open(&account, message_id) {
            Ok(m) => {
                return (
                    StoreReply::MessageFile {
                        prefix: m.prefix,
                        size: m.size,
                    },
                    Some(m.file.into()),
                );
            }
            Err(e) => StoreReply::Error(e.into()),
        },
        Subscribe { .. } => err(
            StoreErrorKind::Invalid,
            "subscribe is handled by the connection",
        ),
        QueueAdd(q) => match one_fd(fds) {
            Ok(fd) => match store.queue_add(q, fd) {
                Ok(id) => StoreReply::Queued { queue_id: id },
                Err(e) => StoreReply::Error(e.into()),
            },
            Err(r) => r,
        },
        QueueList => match store.queue_list() {
            Ok(q) => StoreReply::Queue(q),
            Err(e) => StoreReply::Error(e.into()),
        },
        AccountOwns { account, address } => match store.account_owns(&account, &address) {
            Ok(b) => StoreReply::Owns(b),
            Err(e) => StoreReply::Error(e.into()),
        },
        AuthCheck { ip } => StoreReply::AuthAllowed(store.auth_allowed(ip)),
        AuthRecord { ip, success } => {
            store.auth_record(ip, success);
            StoreReply::Ok
        }
        QueueDue { limit } => match store.queue_due(crate::store::unix_now(), limit) {
            Ok((messages, next_due)) => StoreReply::QueueDue { messages, next_due },
            Err(e) => StoreReply::Error(e.into()),
        },
        QueueClaim {
            id,
            recipients,
            next_attempt,
        } => ok(store.queue_claim(id, &recipients, next_attempt)),
        QueueOpen { id } => match store.queue_open(id) {
            Ok(q) => {
                return (
                    StoreReply::QueueFile {
                        prefix: q.prefix,
                        size: q.size,
                    },
                    Some(q.file.into()),
                );
            }
            Err(e) => StoreReply::Error(e.into()),
        },
        QueueResult { id, results } => match store.queue_result(id, &results) {
            Ok(removed) => StoreReply::QueueUpdated { removed },
            Err(e) => StoreReply::Error(e.into()),
        },
        QueueEntries { domain } => match store.queue_entries(domain.as_deref()) {
            Ok(q) => StoreReply::QueueEntries(q),
            Err(e) => StoreReply::Error(e.into()),
        },
        QueueHold { id } => ok(store.queue_hold(id, true)),
        QueueRelease { id } => ok(store.queue_hold(id, false)),
        QueueKick { id } => ok(store.queue_kick(id)),
        QueueDrop { id } => ok(store.queue_drop(id)),
    };
    (reply, None)
}
