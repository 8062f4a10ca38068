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
        Subscribe { .. } | QueueWatch => err(
            StoreErrorKind::Invalid,
            "subscriptions are handled by the connection",
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
        MailboxCreate {
            account,
            name,
            special_use,
        } => match store.mailbox_create_special(&account, &name, special_use.as_deref()) {
            Ok(_) => StoreReply::Ok,
            Err(e) => StoreReply::Error(e.into()),
        },
        MailboxDelete { account, name } => ok(store.mailbox_delete(&account, &name)),
        MailboxRename { account, from, to } => ok(store.mailbox_rename(&account, &from, &to)),
        MailboxStatus { account, name } => match store.mailbox_status(&account, &name) {
            Ok(m) => StoreReply::Mailbox(Box::new(m)),
            Err(e) => StoreReply::Error(e.into()),
        },
        SubscriptionList { account } => match store.subscriptions(&account) {
            Ok(n) => StoreReply::Names(n),
            Err(e) => StoreReply::Error(e.into()),
        },
        SubscriptionSet {
            account,
            name,
            subscribed,
        } => ok(store.subscription_set(&account, &name, subscribed)),
        MailboxSelect {
            account,
            name,
            after_uid,
            limit,
        } => match store.mailbox_select(&account, &name, after_uid, limit) {
            Ok(page) => StoreReply::Selected(Box::new(page)),
            Err(e) => StoreReply::Error(e.into()),
        },
        MessageMetas {
            account,
            mailbox_id,
            uids,
        } => match store.message_metas(&account, mailbox_id, &uids) {
            Ok(m) => StoreReply::Metas(m),
            Err(e) => StoreReply::Error(e.into()),
        },
        MessageContent {
            account,
            mailbox_id,
            uid,
        } => match store.message_content(&account, mailbox_id, uid) {
            Ok(Some(c)) => {
                return (
                    StoreReply::Content {
                        found: true,
                        prefix: c.file.prefix,
                        size: c.file.size,
                        parsed: c.parsed,
                    },
                    Some(c.file.file.into()),
                );
            }
            Ok(None) => StoreReply::Content {
                found: false,
                prefix: Vec::new(),
                size: 0,
                parsed: None,
            },
            Err(e) => StoreReply::Error(e.into()),
        },
        Vanished {
            account,
            mailbox_id,
            since,
        } => match store.vanished(&account, mailbox_id, since) {
            Ok(u) => StoreReply::Uids(u),
            Err(e) => StoreReply::Error(e.into()),
        },
        Append {
            account,
            mailbox,
            messages,
        } => match store.append(&account, &mailbox, messages, fds) {
            Ok((mailbox_id, uidvalidity, uids)) => StoreReply::Appended {
                mailbox_id,
                uidvalidity,
                uids,
            },
            Err(e) => StoreReply::Error(e.into()),
        },
        StoreFlags(change) => match store.store_flags(&change) {
            Ok(r) => StoreReply::FlagsStored {
                messages: r.messages,
                modified: r.modified,
            },
            Err(e) => StoreReply::Error(e.into()),
        },
        Copy {
            account,
            from_mailbox_id,
            uids,
            to,
            expunge_source,
        } => match store.copy_messages(&account, from_mailbox_id, &uids, &to, expunge_source) {
            Ok(r) => StoreReply::Copied {
                uidvalidity: r.uidvalidity,
                mapping: r.mapping,
            },
            Err(e) => StoreReply::Error(e.into()),
        },
        Expunge {
            account,
            mailbox_id,
            uids,
        } => match store.expunge_deleted(&account, mailbox_id, uids.as_deref()) {
            Ok(u) => StoreReply::Uids(u),
            Err(e) => StoreReply::Error(e.into()),
        },
        Quota { account } => match store.quota(&account) {
            Ok((used, limit)) => StoreReply::Quota { used, limit },
            Err(e) => StoreReply::Error(e.into()),
        },
        QuotaSet { account, limit } => ok(store.quota_set(&account, limit)),
        MessageParsedSet {
            account,
            mailbox_id,
            uid,
            parsed,
        } => ok(store.message_parsed_set(&account, mailbox_id, uid, &parsed)),
        MailboxModseq {
            account,
            mailbox_id,
        } => match store.mailbox_modseq(&account, mailbox_id) {
            Ok(m) => StoreReply::Modseq(m),
            Err(e) => StoreReply::Error(e.into()),
        },
        WebSessionCreate {
            interface,
            account,
            idle_secs,
            remote_ip,
            user_agent,
        } => match store.web_session_create(
            interface,
            account.as_deref(),
            idle_secs,
            &remote_ip,
            &user_agent,
        ) {
            Ok(s) => StoreReply::WebSessionCreated(s),
            Err(e) => StoreReply::Error(e.into()),
        },
        WebSessionCheck {
            interface,
            token,
            csrf,
            touch,
        } => match store.web_session_check(interface, &token, csrf.as_deref(), touch) {
            Ok(s) => StoreReply::WebSessionChecked(s),
            Err(e) => StoreReply::Error(e.into()),
        },
        WebSessionDelete { interface, token } => ok(store.web_session_delete(interface, &token)),
        WebSessionList { interface, account } => {
            match store.web_session_list(interface, account.as_deref()) {
                Ok(s) => StoreReply::WebSessions(s),
                Err(e) => StoreReply::Error(e.into()),
            }
        }
        WebSessionDeleteOthers {
            interface,
            account,
            keep_token,
        } => ok(store.web_session_delete_others(interface, account.as_deref(), &keep_token)),
        SetPasswordKeepSession {
            account,
            password,
            keep_token,
        } => ok(store.set_password_keep_session(&account, &password, &keep_token)),
        AdminPasswordSet { password } => ok(store.admin_password_set(&password)),
        AdminPasswordVerify { password } => match store.admin_password_verify(&password) {
            Ok(b) => StoreReply::AdminVerified(b),
            Err(e) => StoreReply::Error(e.into()),
        },
        LoginAttemptAdd {
            login,
            remote_ip,
            user_agent,
            success,
        } => ok(store.login_attempt_add(&login, &remote_ip, &user_agent, success)),
        LoginAttemptList { account } => match store.login_attempt_list(&account) {
            Ok(a) => StoreReply::LoginAttempts(a),
            Err(e) => StoreReply::Error(e.into()),
        },
        DmarcEvaluationAdd(e) => ok(store.dmarc_evaluation_add(&e)),
        DmarcEvaluationsDue { before, limit } => match store.dmarc_evaluations_due(before, limit) {
            Ok(e) => StoreReply::DmarcEvaluations(e),
            Err(e) => StoreReply::Error(e.into()),
        },
        DmarcEvaluationsDone { ids } => ok(store.dmarc_evaluations_done(&ids)),
        DmarcReportAdd(r) => ok(store.dmarc_report_add(&r)),
        DmarcReportList { limit } => match store.dmarc_report_list(limit) {
            Ok(r) => StoreReply::DmarcReports(r),
            Err(e) => StoreReply::Error(e.into()),
        },
        RecentClaim {
            account,
            mailbox_id,
            up_to,
            claim,
        } => match store.recent_claim(&account, mailbox_id, up_to, claim) {
            Ok(r) => StoreReply::RecentClaimed(r),
            Err(e) => StoreReply::Error(e.into()),
        },
        MessagesChanged {
            account,
            mailbox_id,
            since,
            after_uid,
        } => match store.messages_changed(&account, mailbox_id, since, after_uid) {
            Ok(m) => StoreReply::Metas(m),
            Err(e) => StoreReply::Error(e.into()),
        },
    };
    (reply, None)
}
