//! The IMAP session's backend in production: each method is one store
//! request over IPC (as ipc/src/store.rs documents them), except where a
//! reply could outgrow a frame: SELECT reads its mailbox in pages and
//! metadata and flag changes go in chunks of [`MAX_PAGE`] messages.
//! Message contents come as file descriptors and are kept in a small
//! per-worker cache; APPEND data goes to the store as sealed memory files.

use std::net::IpAddr;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::sync::Arc;

use ipc::frame::{MAX_FDS_PER_FRAME, MAX_FRAME_SIZE};
use ipc::store::{
    AppendMessage, ChangeEvent, FlagChange as WireFlagChange, MAX_PAGE, MAX_SELECT_RANGES,
    ScramCredentials, ScramMechanism, SelectPage, StoreReply, StoreRequest,
};
use tokio::sync::broadcast;

use super::cache::ContentCache;
use super::changes::Changes;
use super::content::{self, Stored};
use super::convert::{
    backend_error, flag_op, flag_state, mailbox_info, message_meta, unexpected, wire_modseq,
};
use crate::imap::backend::{
    Appended, Backend, BackendError, Copied, FlagChange, MailboxInfo, MessageContent, MessageMeta,
    NewMessage, Quota, Snapshot, StoreOutcome,
};
use crate::imap::parse::SpecialUse;
use crate::sasl::{Credentials, SaslError};
use crate::worker::StoreHandle;

/// Most messages in one APPEND (RFC 3502 MULTIAPPEND): each travels as
/// its own descriptor in one request, which is all-or-nothing.
pub const MAX_APPEND_MESSAGES: usize = MAX_FDS_PER_FRAME;
/// Octets of message structures one APPEND request may carry; the rest
/// of the frame is left for everything else in it.
pub const APPEND_STRUCTURE_BUDGET: usize = MAX_FRAME_SIZE / 2;
/// Most pages a SELECT (or a read of changed messages) reads: every page
/// holds at least one UID, or [`MAX_PAGE`] of them, above the previous
/// page's (bounds the loop even if the store misbehaves).
const MAX_SELECT_PAGES: u32 = u32::MAX / MAX_PAGE + 2;

pub struct StoreBackend {
    store: StoreHandle,
    changes: Changes,
    cache: Arc<ContentCache>,
}

impl StoreBackend {
    /// `max_per_account`: sessions at once per account.
    pub fn new(store: StoreHandle, max_per_account: u32) -> StoreBackend {
        StoreBackend::with_cache(store, max_per_account, Arc::default())
    }

    pub fn with_cache(
        store: StoreHandle,
        max_per_account: u32,
        cache: Arc<ContentCache>,
    ) -> StoreBackend {
        StoreBackend {
            changes: Changes::new(store.clone(), max_per_account, cache.clone()),
            store,
            cache,
        }
    }

    /// The per-account event fan-out (for status and tests).
    pub fn changes_hub(&self) -> &Changes {
        &self.changes
    }

    pub fn cache(&self) -> &ContentCache {
        &self.cache
    }

    async fn call_fds(
        &self,
        req: &StoreRequest,
        fds: &[BorrowedFd<'_>],
    ) -> Result<(StoreReply, Vec<OwnedFd>), BackendError> {
        let client = self
            .store
            .client()
            .await
            .map_err(|e| BackendError::Temporary(format!("{e:#}")))?;
        match client.call_fds(req, fds).await {
            Ok((StoreReply::Error(e), _)) => Err(backend_error(e)),
            Ok(r) => Ok(r),
            Err(e) => Err(BackendError::Temporary(format!("store: {e}"))),
        }
    }

    async fn call(&self, req: &StoreRequest) -> Result<StoreReply, BackendError> {
        Ok(self.call_fds(req, &[]).await?.0)
    }

    async fn call_ok(&self, req: &StoreRequest) -> Result<(), BackendError> {
        match self.call(req).await? {
            StoreReply::Ok => Ok(()),
            other => Err(unexpected(&other)),
        }
    }

    async fn copy_or_move(
        &self,
        account: &str,
        from_mailbox_id: i64,
        uids: &[u32],
        to: &str,
        expunge_source: bool,
    ) -> Result<Copied, BackendError> {
        let req = StoreRequest::Copy {
            account: account.into(),
            from_mailbox_id,
            uids: uids.to_vec(),
            to: to.into(),
            expunge_source,
        };
        match self.call(&req).await? {
            StoreReply::Copied {
                uidvalidity,
                mapping,
            } => Ok(Copied {
                uidvalidity,
                mapping,
            }),
            other => Err(unexpected(&other)),
        }
    }

    /// Saves a structure computed at FETCH, so the next FETCH of the
    /// message (by any worker) does not parse it again. Best effort.
    fn save_structure(&self, account: &str, mailbox_id: i64, uid: u32, parsed: Vec<u8>) {
        if parsed.len() > APPEND_STRUCTURE_BUDGET {
            return;
        }
        let store = self.store.clone();
        let req = StoreRequest::MessageParsedSet {
            account: account.into(),
            mailbox_id,
            uid,
            parsed,
        };
        tokio::spawn(async move {
            match store.call(&req).await {
                Ok(StoreReply::Ok) => {}
                Ok(other) => tracing::debug!(reply = ?other, "saving message structure"),
                Err(e) => tracing::debug!(error = %format!("{e:#}"), "saving message structure"),
            }
        });
    }
}

fn sasl_err(e: BackendError) -> SaslError {
    SaslError::Temporary(e.to_string())
}

impl Credentials for StoreBackend {
    async fn verify_plain(&self, login: &str, password: &str) -> Result<Option<String>, SaslError> {
        let req = StoreRequest::VerifyPassword {
            login: login.into(),
            password: password.into(),
        };
        match self.call(&req).await.map_err(sasl_err)? {
            StoreReply::Authenticated(a) => Ok(a),
            other => Err(sasl_err(unexpected(&other))),
        }
    }

    async fn scram(
        &self,
        login: &str,
        mech: ScramMechanism,
    ) -> Result<Option<ScramCredentials>, SaslError> {
        let req = StoreRequest::ScramCredentials {
            login: login.into(),
            mechanism: mech,
        };
        match self.call(&req).await.map_err(sasl_err)? {
            StoreReply::Scram(c) => Ok(c),
            other => Err(sasl_err(unexpected(&other))),
        }
    }
}

impl Backend for StoreBackend {
    async fn auth_allowed(&self, ip: IpAddr) -> Result<bool, BackendError> {
        match self.call(&StoreRequest::AuthCheck { ip }).await? {
            StoreReply::AuthAllowed(b) => Ok(b),
            other => Err(unexpected(&other)),
        }
    }

    async fn auth_record(&self, ip: IpAddr, success: bool) {
        if let Err(e) = self.call(&StoreRequest::AuthRecord { ip, success }).await {
            tracing::warn!(error = %e, "recording authentication attempt");
        }
    }

    async fn changes(
        &self,
        account: &str,
    ) -> Result<broadcast::Receiver<ChangeEvent>, BackendError> {
        self.changes.subscribe(account).await
    }

    async fn mailboxes(&self, account: &str) -> Result<Vec<MailboxInfo>, BackendError> {
        let req = StoreRequest::Mailboxes {
            account: account.into(),
        };
        match self.call(&req).await? {
            StoreReply::Mailboxes(m) => Ok(m.into_iter().map(mailbox_info).collect()),
            other => Err(unexpected(&other)),
        }
    }

    async fn subscriptions(&self, account: &str) -> Result<Vec<String>, BackendError> {
        let req = StoreRequest::SubscriptionList {
            account: account.into(),
        };
        match self.call(&req).await? {
            StoreReply::Names(n) => Ok(n),
            other => Err(unexpected(&other)),
        }
    }

    async fn set_subscribed(
        &self,
        account: &str,
        name: &str,
        subscribed: bool,
    ) -> Result<(), BackendError> {
        self.call_ok(&StoreRequest::SubscriptionSet {
            account: account.into(),
            name: name.into(),
            subscribed,
        })
        .await
    }

    async fn create_mailbox(
        &self,
        account: &str,
        name: &str,
        special_use: Option<SpecialUse>,
    ) -> Result<(), BackendError> {
        self.call_ok(&StoreRequest::MailboxCreate {
            account: account.into(),
            name: name.into(),
            special_use: special_use.map(|s| s.as_wire().to_string()),
        })
        .await
    }

    async fn delete_mailbox(&self, account: &str, name: &str) -> Result<(), BackendError> {
        let r = self
            .call_ok(&StoreRequest::MailboxDelete {
                account: account.into(),
                name: name.into(),
            })
            .await;
        self.cache.invalidate_account(account);
        r
    }

    async fn rename_mailbox(
        &self,
        account: &str,
        from: &str,
        to: &str,
    ) -> Result<(), BackendError> {
        let r = self
            .call_ok(&StoreRequest::MailboxRename {
                account: account.into(),
                from: from.into(),
                to: to.into(),
            })
            .await;
        self.cache.invalidate_account(account);
        r
    }

    async fn mailbox(&self, account: &str, name: &str) -> Result<MailboxInfo, BackendError> {
        let req = StoreRequest::MailboxStatus {
            account: account.into(),
            name: name.into(),
        };
        match self.call(&req).await? {
            StoreReply::Mailbox(m) => Ok(mailbox_info(*m)),
            other => Err(unexpected(&other)),
        }
    }

    async fn select(&self, account: &str, name: &str) -> Result<Snapshot, BackendError> {
        let mut snap: Option<Snapshot> = None;
        let mut after_uid = 0;
        for _ in 0..MAX_SELECT_PAGES {
            let req = StoreRequest::MailboxSelect {
                account: account.into(),
                name: name.into(),
                after_uid,
                limit: MAX_SELECT_RANGES,
            };
            let page = match self.call(&req).await? {
                StoreReply::Selected(page) => page,
                other => return Err(unexpected(&other)),
            };
            let SelectPage {
                mailbox,
                uids,
                more,
                first_unseen,
                keywords,
                first_unclaimed_uid,
            } = *page;
            // Ranges ascending, above the last page, below UIDNEXT (which
            // also bounds what the UIDs take in memory).
            if uids
                .iter()
                .any(|&(first, last)| first > last || first <= after_uid)
                || uids.windows(2).any(|w| w[1].0 <= w[0].1)
                || uids
                    .last()
                    .is_some_and(|&(_, last)| last >= mailbox.uidnext)
            {
                return Err(BackendError::Temporary(
                    "store returned a SELECT page out of order".into(),
                ));
            }
            // The first page's counts and modseq describe the snapshot: a
            // change made while later pages are read comes as an event
            // with a higher modseq.
            let s = snap.get_or_insert_with(|| Snapshot {
                mailbox: mailbox_info(mailbox.clone()),
                uids: Vec::new(),
                keywords,
                first_unseen,
                first_unclaimed_uid,
            });
            s.mailbox.uidnext = s.mailbox.uidnext.max(mailbox.uidnext);
            let count: usize = uids.iter().map(|&(a, b)| (b - a) as usize + 1).sum();
            s.uids.reserve(count);
            s.uids.extend(uids.iter().flat_map(|&(a, b)| a..=b));
            match (more, uids.last()) {
                (true, Some(&(_, last))) => after_uid = last,
                _ => return snap.ok_or_else(|| BackendError::Temporary("no SELECT page".into())),
            }
        }
        Err(BackendError::Temporary("SELECT did not end".into()))
    }

    async fn changed_since(
        &self,
        account: &str,
        mailbox_id: i64,
        since: u64,
    ) -> Result<Vec<MessageMeta>, BackendError> {
        let mut out: Vec<MessageMeta> = Vec::new();
        for _ in 0..MAX_SELECT_PAGES {
            let req = StoreRequest::MessagesChanged {
                account: account.into(),
                mailbox_id,
                since: wire_modseq(since),
                after_uid: out.last().map_or(0, |m| m.uid),
            };
            let page = match self.call(&req).await? {
                StoreReply::Metas(m) => m,
                other => return Err(unexpected(&other)),
            };
            let last = out.last().map_or(0, |m| m.uid);
            if page.first().is_some_and(|m| m.uid <= last)
                || page.windows(2).any(|w| w[1].uid <= w[0].uid)
            {
                return Err(BackendError::Temporary(
                    "store returned changed messages out of order".into(),
                ));
            }
            let full = page.len() >= MAX_PAGE as usize;
            out.extend(page.into_iter().map(message_meta));
            if !full {
                return Ok(out);
            }
        }
        Err(BackendError::Temporary(
            "changed messages did not end".into(),
        ))
    }

    async fn claim_recent(
        &self,
        account: &str,
        mailbox_id: i64,
        up_to: u32,
        claim: bool,
    ) -> Result<Option<(u32, u32)>, BackendError> {
        let req = StoreRequest::RecentClaim {
            account: account.into(),
            mailbox_id,
            up_to,
            claim,
        };
        match self.call(&req).await? {
            StoreReply::RecentClaimed(r) => Ok(r),
            other => Err(unexpected(&other)),
        }
    }

    async fn message_meta(
        &self,
        account: &str,
        mailbox_id: i64,
        uids: &[u32],
    ) -> Result<Vec<MessageMeta>, BackendError> {
        let mut out = Vec::with_capacity(uids.len());
        for chunk in uids.chunks(MAX_PAGE as usize) {
            let req = StoreRequest::MessageMetas {
                account: account.into(),
                mailbox_id,
                uids: chunk.to_vec(),
            };
            match self.call(&req).await? {
                StoreReply::Metas(m) => out.extend(m.into_iter().map(message_meta)),
                other => return Err(unexpected(&other)),
            }
        }
        out.sort_unstable_by_key(|m| m.uid);
        out.dedup_by_key(|m| m.uid);
        Ok(out)
    }

    async fn message_content(
        &self,
        account: &str,
        mailbox_id: i64,
        uid: u32,
    ) -> Result<Option<MessageContent>, BackendError> {
        if let Some(c) = self.cache.get(account, mailbox_id, uid) {
            return Ok(Some(c));
        }
        let epoch = self.cache.epoch();
        let req = StoreRequest::MessageContent {
            account: account.into(),
            mailbox_id,
            uid,
        };
        let (reply, fds) = self.call_fds(&req, &[]).await?;
        let StoreReply::Content {
            found,
            prefix,
            size,
            parsed,
        } = reply
        else {
            return Err(unexpected(&reply));
        };
        if !found {
            return Ok(None);
        }
        let Some(file) = fds.into_iter().next() else {
            return Err(BackendError::Temporary(
                "message content without a file".into(),
            ));
        };
        let stored = Stored {
            prefix,
            size,
            parsed,
            file,
        };
        let loaded = content::blocking(move || content::load(stored)).await?;
        if let Some(form) = loaded.computed {
            self.save_structure(account, mailbox_id, uid, form);
        }
        self.cache
            .insert(account, mailbox_id, uid, loaded.content.clone(), epoch);
        Ok(Some(loaded.content))
    }

    async fn vanished(
        &self,
        account: &str,
        mailbox_id: i64,
        since: u64,
    ) -> Result<Vec<u32>, BackendError> {
        let req = StoreRequest::Vanished {
            account: account.into(),
            mailbox_id,
            since: wire_modseq(since),
        };
        match self.call(&req).await? {
            StoreReply::Uids(mut u) => {
                u.sort_unstable();
                Ok(u)
            }
            other => Err(unexpected(&other)),
        }
    }

    async fn append(
        &self,
        account: &str,
        mailbox: &str,
        messages: Vec<NewMessage>,
    ) -> Result<Appended, BackendError> {
        if messages.len() > MAX_APPEND_MESSAGES {
            return Err(BackendError::Limit(format!(
                "at most {MAX_APPEND_MESSAGES} messages in one APPEND"
            )));
        }
        let epoch = self.cache.epoch();
        let prepared = content::blocking(move || {
            messages
                .into_iter()
                .map(content::prepare)
                .collect::<Result<Vec<_>, _>>()
        })
        .await?;
        let mut forms: Vec<Option<Vec<u8>>> = prepared.iter().map(|p| p.parsed.clone()).collect();
        content::fit_structures(&mut forms, APPEND_STRUCTURE_BUDGET);
        let req = StoreRequest::Append {
            account: account.into(),
            mailbox: mailbox.into(),
            messages: prepared
                .iter()
                .zip(forms)
                .map(|(p, parsed)| AppendMessage {
                    flags: p.flags.clone(),
                    received: p.received,
                    parsed,
                })
                .collect(),
        };
        let fds: Vec<BorrowedFd<'_>> = prepared.iter().map(|p| p.file.as_fd()).collect();
        let (reply, _) = self.call_fds(&req, &fds).await?;
        let StoreReply::Appended {
            mailbox_id,
            uidvalidity,
            uids,
        } = reply
        else {
            return Err(unexpected(&reply));
        };
        if uids.len() != prepared.len() {
            return Err(BackendError::Temporary(format!(
                "store appended {} of {} messages",
                uids.len(),
                prepared.len()
            )));
        }
        // Clients often fetch what they just appended.
        for (p, uid) in prepared.into_iter().zip(&uids) {
            self.cache
                .insert(account, mailbox_id, *uid, p.content, epoch);
        }
        Ok(Appended {
            mailbox_id,
            uidvalidity,
            uids,
        })
    }

    async fn store_flags(
        &self,
        account: &str,
        mailbox_id: i64,
        change: &FlagChange,
    ) -> Result<StoreOutcome, BackendError> {
        let mut out = StoreOutcome::default();
        for chunk in change.uids.chunks(MAX_PAGE as usize) {
            let req = StoreRequest::StoreFlags(WireFlagChange {
                account: account.into(),
                mailbox_id,
                uids: chunk.to_vec(),
                op: flag_op(change.op),
                flags: change.flags.clone(),
                unchanged_since: change.unchanged_since.map(wire_modseq),
            });
            match self.call(&req).await? {
                StoreReply::FlagsStored { messages, modified } => {
                    out.messages.extend(messages.into_iter().map(flag_state));
                    out.modified.extend(modified);
                }
                other => return Err(unexpected(&other)),
            }
        }
        out.messages.sort_unstable_by_key(|m| m.uid);
        out.modified.sort_unstable();
        Ok(out)
    }

    async fn copy(
        &self,
        account: &str,
        from_mailbox_id: i64,
        uids: &[u32],
        to: &str,
    ) -> Result<Copied, BackendError> {
        self.copy_or_move(account, from_mailbox_id, uids, to, false)
            .await
    }

    async fn move_messages(
        &self,
        account: &str,
        from_mailbox_id: i64,
        uids: &[u32],
        to: &str,
    ) -> Result<Copied, BackendError> {
        self.copy_or_move(account, from_mailbox_id, uids, to, true)
            .await
    }

    async fn expunge(
        &self,
        account: &str,
        mailbox_id: i64,
        uids: Option<&[u32]>,
    ) -> Result<Vec<u32>, BackendError> {
        let req = StoreRequest::Expunge {
            account: account.into(),
            mailbox_id,
            uids: uids.map(<[u32]>::to_vec),
        };
        match self.call(&req).await? {
            StoreReply::Uids(mut u) => {
                u.sort_unstable();
                Ok(u)
            }
            other => Err(unexpected(&other)),
        }
    }

    async fn mailbox_modseq(
        &self,
        account: &str,
        mailbox_id: i64,
    ) -> Result<Option<u64>, BackendError> {
        let req = StoreRequest::MailboxModseq {
            account: account.into(),
            mailbox_id,
        };
        match self.call(&req).await? {
            StoreReply::Modseq(m) => Ok(Some(u64::try_from(m).unwrap_or(0))),
            other => Err(unexpected(&other)),
        }
    }

    async fn quota(&self, account: &str) -> Result<Quota, BackendError> {
        let req = StoreRequest::Quota {
            account: account.into(),
        };
        match self.call(&req).await? {
            StoreReply::Quota { used, limit } => Ok(Quota { used, limit }),
            other => Err(unexpected(&other)),
        }
    }
}
