//! An in-memory [`Backend`] with the store's semantics (one modseq
//! counter per account, tombstones for expunged messages, change events
//! in commit order, flags normalised as the store does), for protocol
//! tests and the randomized multi-client checker. Not used in production.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::net::IpAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use ipc::store::{ChangeEvent, ScramCredentials, ScramMechanism};
use tokio::sync::broadcast;

use super::backend::*;
use super::parse::{INBOX, SEPARATOR, SpecialUse};
use super::parsed::ParsedMessage;
use crate::sasl::{Credentials, SaslError};

/// Events buffered per account (as the store's `EVENT_CHANNEL_CAPACITY`).
pub const EVENT_CAPACITY: usize = 1024;
/// Salt and iteration count of the SCRAM keys the test backend derives.
pub const SCRAM_SALT: &[u8] = b"moxd-imap-test-salt";
pub const SCRAM_ITERATIONS: u32 = 4096;

/// System flags in the store's order, then the well-known keywords.
const KNOWN_FLAGS: [&str; 10] = [
    "\\Seen",
    "\\Answered",
    "\\Flagged",
    "\\Deleted",
    "\\Draft",
    "$Forwarded",
    "$Junk",
    "$NotJunk",
    "$Phishing",
    "$MDNSent",
];

/// Flags as the store keeps them: known ones spelled canonically and in
/// a fixed order, other keywords lower-cased and sorted; unknown system
/// flags refused.
pub fn normalize_flags(flags: &[String]) -> Result<Flags, BackendError> {
    let mut known = [false; KNOWN_FLAGS.len()];
    let mut keywords = BTreeSet::new();
    for f in flags {
        if let Some(i) = KNOWN_FLAGS.iter().position(|k| k.eq_ignore_ascii_case(f)) {
            known[i] = true;
        } else if f.starts_with('\\') {
            return Err(BackendError::Cannot(format!("cannot store flag {f}")));
        } else {
            keywords.insert(f.to_ascii_lowercase());
        }
    }
    Ok(KNOWN_FLAGS
        .iter()
        .zip(known)
        .filter(|(_, on)| *on)
        .map(|(k, _)| k.to_string())
        .chain(keywords)
        .collect())
}

fn has_flag(flags: &[String], f: &str) -> bool {
    flags.iter().any(|x| x.eq_ignore_ascii_case(f))
}

fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

#[derive(Debug, Clone)]
struct Message {
    meta: MessageMeta,
    content: MessageContent,
}

#[derive(Debug)]
struct Mailbox {
    id: i64,
    special_use: Option<SpecialUse>,
    uidvalidity: u32,
    uidnext: u32,
    modseq: u64,
    messages: BTreeMap<u32, Message>,
    /// (uid, modseq of the expunge).
    tombstones: Vec<(u32, u64)>,
    /// Keywords ever set on a message here (its FLAGS, as the store keeps them).
    keywords: BTreeSet<String>,
    /// The first UID no session has claimed as \Recent.
    first_unclaimed: u32,
}

impl Mailbox {
    /// Notes the keywords of flags as stored (known flags are not keywords).
    fn note_keywords(&mut self, flags: &[String]) {
        self.keywords.extend(
            flags
                .iter()
                .filter(|f| !KNOWN_FLAGS.contains(&f.as_str()))
                .cloned(),
        );
    }
}

#[derive(Debug)]
struct Account {
    modseq: u64,
    next_uidvalidity: u32,
    next_mailbox_id: i64,
    mailboxes: BTreeMap<String, Mailbox>,
    subscriptions: BTreeSet<String>,
    events: broadcast::Sender<ChangeEvent>,
    /// Events of the change being made, sent when it is done.
    pending: Vec<ChangeEvent>,
}

impl Account {
    fn next_modseq(&mut self) -> u64 {
        self.modseq += 1;
        self.modseq
    }

    fn publish(&mut self) {
        for ev in self.pending.drain(..) {
            // An error only means nobody listens.
            let _ = self.events.send(ev);
        }
    }

    fn add_mailbox(&mut self, name: &str, special_use: Option<SpecialUse>, account: &str) {
        let modseq = self.next_modseq();
        let mb = Mailbox {
            id: self.next_mailbox_id,
            special_use,
            uidvalidity: self.next_uidvalidity,
            uidnext: 1,
            modseq,
            messages: BTreeMap::new(),
            tombstones: Vec::new(),
            keywords: BTreeSet::new(),
            first_unclaimed: 1,
        };
        self.next_mailbox_id += 1;
        self.next_uidvalidity += 1;
        self.mailboxes.insert(name.to_string(), mb);
        self.pending.push(ChangeEvent::MailboxCreated {
            account: account.to_string(),
            name: name.to_string(),
        });
    }

    fn by_id(&mut self, id: i64) -> Result<(&String, &mut Mailbox), BackendError> {
        self.mailboxes
            .iter_mut()
            .find(|(_, m)| m.id == id)
            .ok_or_else(|| BackendError::NotFound(format!("no mailbox with id {id}")))
    }

    fn size(&self) -> u64 {
        self.mailboxes
            .values()
            .flat_map(|m| m.messages.values())
            .map(|m| m.meta.size)
            .sum()
    }
}

fn info(name: &str, m: &Mailbox) -> MailboxInfo {
    let count = |f: &dyn Fn(&Message) -> bool| {
        u32::try_from(m.messages.values().filter(|x| f(x)).count()).unwrap_or(u32::MAX)
    };
    MailboxInfo {
        id: m.id,
        name: name.to_string(),
        special_use: m.special_use,
        uidvalidity: m.uidvalidity,
        uidnext: m.uidnext,
        highest_modseq: m.modseq,
        messages: count(&|_| true),
        unseen: count(&|x| !has_flag(&x.meta.flags, "\\Seen")),
        deleted: count(&|x| has_flag(&x.meta.flags, "\\Deleted")),
        size: m.messages.values().map(|x| x.meta.size).sum(),
        recent: count(&|x| x.meta.uid >= m.first_unclaimed),
    }
}

fn check_name(name: &str) -> Result<(), BackendError> {
    let sep = SEPARATOR.to_string();
    let bad = name.is_empty()
        || name.len() > 255
        || name.starts_with(SEPARATOR)
        || name.ends_with(SEPARATOR)
        || name.contains(&format!("{sep}{sep}"))
        || name.chars().any(|c| c.is_control() || c == '*' || c == '%');
    if bad {
        return Err(BackendError::Cannot(format!(
            "invalid mailbox name {name:?}"
        )));
    }
    Ok(())
}

fn parents(name: &str) -> Vec<&str> {
    name.match_indices(SEPARATOR)
        .map(|(i, _)| &name[..i])
        .collect()
}

/// An in-memory account store.
pub struct MemBackend {
    /// login → (account, password)
    users: HashMap<String, (String, String)>,
    accounts: Mutex<HashMap<String, Account>>,
    quota_limit: Option<u64>,
    capacity: usize,
    /// When set, `auth_allowed` says no (rate limit tests).
    pub auth_blocked: AtomicBool,
    /// Every `auth_record` call.
    pub auth_log: Mutex<Vec<(IpAddr, bool)>>,
}

impl Default for MemBackend {
    fn default() -> Self {
        MemBackend::new()
    }
}

impl MemBackend {
    pub fn new() -> MemBackend {
        MemBackend {
            users: HashMap::new(),
            accounts: Mutex::new(HashMap::new()),
            quota_limit: None,
            capacity: EVENT_CAPACITY,
            auth_blocked: AtomicBool::new(false),
            auth_log: Mutex::new(Vec::new()),
        }
    }

    /// Events buffered per account before a session lags.
    pub fn with_event_capacity(mut self, n: usize) -> MemBackend {
        self.capacity = n.max(1);
        self
    }

    pub fn with_quota(mut self, limit: u64) -> MemBackend {
        self.quota_limit = Some(limit);
        self
    }

    /// Adds a login for `account`, creating the account with Inbox and
    /// the special-use mailboxes (as moxd creates them per account).
    pub fn with_user(mut self, login: &str, account: &str, password: &str) -> MemBackend {
        self.users.insert(
            login.to_string(),
            (account.to_string(), password.to_string()),
        );
        let (events, _) = broadcast::channel(self.capacity);
        let mut acc = Account {
            modseq: 1,
            next_uidvalidity: 1,
            next_mailbox_id: 1,
            mailboxes: BTreeMap::new(),
            subscriptions: BTreeSet::new(),
            events,
            pending: Vec::new(),
        };
        for (name, use_) in [
            (INBOX, None),
            ("Archive", Some(SpecialUse::Archive)),
            ("Drafts", Some(SpecialUse::Drafts)),
            ("Junk", Some(SpecialUse::Junk)),
            ("Sent", Some(SpecialUse::Sent)),
            ("Trash", Some(SpecialUse::Trash)),
        ] {
            acc.add_mailbox(name, use_, account);
            acc.subscriptions.insert(name.to_string());
        }
        acc.pending.clear();
        if let Ok(mut all) = self.accounts.lock() {
            all.insert(account.to_string(), acc);
        }
        self
    }

    fn lock(&self) -> Result<MutexGuard<'_, HashMap<String, Account>>, BackendError> {
        self.accounts
            .lock()
            .map_err(|_| BackendError::Temporary("backend lock poisoned".into()))
    }

    fn with_account<T>(
        &self,
        account: &str,
        f: impl FnOnce(&mut Account) -> Result<T, BackendError>,
    ) -> Result<T, BackendError> {
        let mut all = self.lock()?;
        let acc = all
            .get_mut(account)
            .ok_or_else(|| BackendError::NotFound(format!("no account {account}")))?;
        acc.pending.clear();
        let r = f(acc);
        if r.is_ok() {
            acc.publish();
        } else {
            acc.pending.clear();
        }
        r
    }

    /// Delivers a message as the store would (for tests); returns its UID.
    pub fn deliver(
        &self,
        account: &str,
        mailbox: &str,
        data: &[u8],
        flags: &[&str],
    ) -> Result<u32, BackendError> {
        let flags = flags.iter().map(|s| s.to_string()).collect();
        let msg = NewMessage {
            data: data.to_vec(),
            flags,
            internal_date: None,
        };
        let a = self.append_now(account, mailbox, vec![msg])?;
        a.uids
            .first()
            .copied()
            .ok_or_else(|| BackendError::Temporary("nothing appended".into()))
    }

    /// The UIDs of a mailbox, ascending.
    pub fn uids(&self, account: &str, mailbox: &str) -> Vec<u32> {
        self.lock()
            .ok()
            .and_then(|all| {
                all.get(account)
                    .and_then(|a| a.mailboxes.get(mailbox))
                    .map(|m| m.messages.keys().copied().collect())
            })
            .unwrap_or_default()
    }

    /// A message's flags, if it exists.
    pub fn flags(&self, account: &str, mailbox: &str, uid: u32) -> Option<Flags> {
        let all = self.lock().ok()?;
        let m = all
            .get(account)?
            .mailboxes
            .get(mailbox)?
            .messages
            .get(&uid)?;
        Some(m.meta.flags.clone())
    }

    /// A message's octets, if it exists.
    pub fn content(&self, account: &str, mailbox: &str, uid: u32) -> Option<Vec<u8>> {
        let all = self.lock().ok()?;
        let m = all
            .get(account)?
            .mailboxes
            .get(mailbox)?
            .messages
            .get(&uid)?;
        Some(m.content.bytes.to_vec())
    }

    /// Mailbox names of an account.
    pub fn mailbox_names(&self, account: &str) -> Vec<String> {
        self.lock()
            .ok()
            .and_then(|all| {
                all.get(account)
                    .map(|a| a.mailboxes.keys().cloned().collect())
            })
            .unwrap_or_default()
    }

    fn append_now(
        &self,
        account: &str,
        mailbox: &str,
        messages: Vec<NewMessage>,
    ) -> Result<Appended, BackendError> {
        let limit = self.quota_limit;
        self.with_account(account, |acc| {
            let add: u64 = messages.iter().map(|m| m.data.len() as u64).sum();
            if limit.is_some_and(|l| acc.size() + add > l) {
                return Err(BackendError::OverQuota("storage quota exceeded".into()));
            }
            let mut prepared = Vec::with_capacity(messages.len());
            for m in messages {
                let flags = normalize_flags(&m.flags)?;
                prepared.push((m, flags));
            }
            if !acc.mailboxes.contains_key(mailbox) {
                return Err(BackendError::NotFound(format!("no mailbox {mailbox}")));
            }
            let modseq = acc.next_modseq();
            let account_name = account.to_string();
            let mut events = Vec::new();
            let mb = acc
                .mailboxes
                .get_mut(mailbox)
                .ok_or_else(|| BackendError::NotFound(format!("no mailbox {mailbox}")))?;
            let mut uids = Vec::new();
            for (m, flags) in prepared {
                let uid = mb.uidnext;
                mb.uidnext += 1;
                mb.note_keywords(&flags);
                let parsed = Arc::new(ParsedMessage::from_bytes(&m.data));
                let size = m.data.len() as u64;
                let message = Message {
                    meta: MessageMeta {
                        uid,
                        modseq,
                        flags,
                        size,
                        internal_date: m.internal_date.unwrap_or_else(now),
                        save_date: Some(now()),
                    },
                    content: MessageContent {
                        bytes: Arc::from(m.data),
                        parsed,
                    },
                };
                mb.messages.insert(uid, message);
                events.push(ChangeEvent::MessageAdded {
                    account: account_name.clone(),
                    mailbox_id: mb.id,
                    uid,
                    modseq: i64::try_from(modseq).unwrap_or(i64::MAX),
                    message_id: i64::from(uid),
                });
                uids.push(uid);
            }
            mb.modseq = modseq;
            let result = Appended {
                mailbox_id: mb.id,
                uidvalidity: mb.uidvalidity,
                uids,
            };
            acc.pending.extend(events);
            Ok(result)
        })
    }

    fn copy_now(
        &self,
        account: &str,
        from: i64,
        uids: &[u32],
        to: &str,
        remove: bool,
    ) -> Result<Copied, BackendError> {
        let limit = self.quota_limit;
        self.with_account(account, |acc| {
            let (_, src) = acc.by_id(from)?;
            let picked: Vec<Message> = uids
                .iter()
                .filter_map(|u| src.messages.get(u).cloned())
                .collect();
            let add: u64 = picked.iter().map(|m| m.meta.size).sum();
            if !remove && limit.is_some_and(|l| acc.size() + add > l) {
                return Err(BackendError::OverQuota("storage quota exceeded".into()));
            }
            if !acc.mailboxes.contains_key(to) {
                return Err(BackendError::NotFound(format!("no mailbox {to}")));
            }
            let modseq = acc.next_modseq();
            let name = account.to_string();
            let mut events = Vec::new();
            let dst = acc
                .mailboxes
                .get_mut(to)
                .ok_or_else(|| BackendError::NotFound(format!("no mailbox {to}")))?;
            let dst_id = dst.id;
            let mut mapping = Vec::new();
            for mut m in picked.clone() {
                let uid = dst.uidnext;
                dst.uidnext += 1;
                mapping.push((m.meta.uid, uid));
                m.meta.uid = uid;
                m.meta.modseq = modseq;
                m.meta.save_date = Some(now());
                dst.note_keywords(&m.meta.flags);
                dst.messages.insert(uid, m);
                events.push(ChangeEvent::MessageAdded {
                    account: name.clone(),
                    mailbox_id: dst_id,
                    uid,
                    modseq: i64::try_from(modseq).unwrap_or(i64::MAX),
                    message_id: i64::from(uid),
                });
            }
            dst.modseq = modseq;
            let uidvalidity = dst.uidvalidity;
            if remove && !picked.is_empty() {
                let (_, src) = acc.by_id(from)?;
                let gone: Vec<u32> = picked.iter().map(|m| m.meta.uid).collect();
                for u in &gone {
                    src.messages.remove(u);
                    src.tombstones.push((*u, modseq));
                }
                src.modseq = modseq;
                events.push(ChangeEvent::Expunged {
                    account: name.clone(),
                    mailbox_id: from,
                    uids: gone,
                    modseq: i64::try_from(modseq).unwrap_or(i64::MAX),
                });
            }
            acc.pending.extend(events);
            Ok(Copied {
                uidvalidity,
                mapping,
            })
        })
    }
}

impl Credentials for MemBackend {
    fn verify_plain(
        &self,
        login: &str,
        password: &str,
    ) -> impl Future<Output = Result<Option<String>, SaslError>> + Send {
        let r = self
            .users
            .get(login)
            .filter(|(_, p)| p == password)
            .map(|(a, _)| a.clone());
        std::future::ready(Ok(r))
    }

    fn scram(
        &self,
        login: &str,
        mech: ScramMechanism,
    ) -> impl Future<Output = Result<Option<ScramCredentials>, SaslError>> + Send {
        let r = match self.users.get(login) {
            None => Ok(None),
            Some((account, password)) => crate::sasl::scram::derive_keys(
                mech,
                password.as_bytes(),
                SCRAM_SALT,
                SCRAM_ITERATIONS,
            )
            .map(|k| {
                Some(ScramCredentials {
                    account: account.clone(),
                    salt: SCRAM_SALT.to_vec(),
                    iterations: SCRAM_ITERATIONS,
                    stored_key: k.stored_key,
                    server_key: k.server_key,
                })
            }),
        };
        std::future::ready(r)
    }
}

impl Backend for MemBackend {
    fn auth_allowed(&self, _ip: IpAddr) -> impl Future<Output = Result<bool, BackendError>> + Send {
        std::future::ready(Ok(!self.auth_blocked.load(Ordering::SeqCst)))
    }

    fn auth_record(&self, ip: IpAddr, success: bool) -> impl Future<Output = ()> + Send {
        if let Ok(mut log) = self.auth_log.lock() {
            log.push((ip, success));
        }
        std::future::ready(())
    }

    fn changes(
        &self,
        account: &str,
    ) -> impl Future<Output = Result<broadcast::Receiver<ChangeEvent>, BackendError>> + Send {
        std::future::ready(self.with_account(account, |a| Ok(a.events.subscribe())))
    }

    fn mailboxes(
        &self,
        account: &str,
    ) -> impl Future<Output = Result<Vec<MailboxInfo>, BackendError>> + Send {
        std::future::ready(self.with_account(account, |a| {
            let mut v: Vec<MailboxInfo> = a.mailboxes.iter().map(|(n, m)| info(n, m)).collect();
            v.sort_by_key(|m| (m.name != INBOX, m.name.clone()));
            Ok(v)
        }))
    }

    fn subscriptions(
        &self,
        account: &str,
    ) -> impl Future<Output = Result<Vec<String>, BackendError>> + Send {
        std::future::ready(
            self.with_account(account, |a| Ok(a.subscriptions.iter().cloned().collect())),
        )
    }

    fn set_subscribed(
        &self,
        account: &str,
        name: &str,
        subscribed: bool,
    ) -> impl Future<Output = Result<(), BackendError>> + Send {
        std::future::ready(self.with_account(account, |a| {
            if subscribed {
                check_name(name)?;
                a.subscriptions.insert(name.to_string());
            } else {
                a.subscriptions.remove(name);
            }
            Ok(())
        }))
    }

    fn create_mailbox(
        &self,
        account: &str,
        name: &str,
        special_use: Option<SpecialUse>,
    ) -> impl Future<Output = Result<(), BackendError>> + Send {
        std::future::ready(self.with_account(account, |a| {
            check_name(name)?;
            if a.mailboxes.contains_key(name) {
                return Err(BackendError::Exists(format!("mailbox {name} exists")));
            }
            for p in parents(name) {
                if !a.mailboxes.contains_key(p) {
                    a.add_mailbox(p, None, account);
                }
            }
            a.add_mailbox(name, special_use, account);
            Ok(())
        }))
    }

    fn delete_mailbox(
        &self,
        account: &str,
        name: &str,
    ) -> impl Future<Output = Result<(), BackendError>> + Send {
        std::future::ready(self.with_account(account, |a| {
            if name == INBOX {
                return Err(BackendError::Cannot("Inbox cannot be deleted".into()));
            }
            if !a.mailboxes.contains_key(name) {
                return Err(BackendError::NotFound(format!("no mailbox {name}")));
            }
            let prefix = format!("{name}{SEPARATOR}");
            if a.mailboxes.keys().any(|k| k.starts_with(&prefix)) {
                return Err(BackendError::Cannot(format!("mailbox {name} has children")));
            }
            a.next_modseq();
            a.mailboxes.remove(name);
            a.pending.push(ChangeEvent::MailboxDeleted {
                account: account.to_string(),
                name: name.to_string(),
            });
            Ok(())
        }))
    }

    fn rename_mailbox(
        &self,
        account: &str,
        from: &str,
        to: &str,
    ) -> impl Future<Output = Result<(), BackendError>> + Send {
        std::future::ready(self.with_account(account, |a| {
            check_name(to)?;
            if from == INBOX {
                return Err(BackendError::Cannot(
                    "renaming Inbox is not supported".into(),
                ));
            }
            if !a.mailboxes.contains_key(from) {
                return Err(BackendError::NotFound(format!("no mailbox {from}")));
            }
            let prefix = format!("{from}{SEPARATOR}");
            if to == from || to.starts_with(&prefix) {
                return Err(BackendError::Cannot(format!(
                    "cannot rename {from} to {to}"
                )));
            }
            if a.mailboxes.contains_key(to) {
                return Err(BackendError::Exists(format!("mailbox {to} exists")));
            }
            for p in parents(to) {
                if !a.mailboxes.contains_key(p) {
                    a.add_mailbox(p, None, account);
                }
            }
            let mut renames = vec![(from.to_string(), to.to_string())];
            for k in a.mailboxes.keys() {
                if let Some(rest) = k.strip_prefix(&prefix) {
                    renames.push((k.clone(), format!("{to}{SEPARATOR}{rest}")));
                }
            }
            let modseq = a.next_modseq();
            for (old, new) in renames {
                if let Some(mut mb) = a.mailboxes.remove(&old) {
                    mb.modseq = modseq;
                    a.mailboxes.insert(new.clone(), mb);
                }
                if a.subscriptions.remove(&old) {
                    a.subscriptions.insert(new.clone());
                }
                a.pending.push(ChangeEvent::MailboxRenamed {
                    account: account.to_string(),
                    from: old,
                    to: new,
                });
            }
            Ok(())
        }))
    }

    fn mailbox(
        &self,
        account: &str,
        name: &str,
    ) -> impl Future<Output = Result<MailboxInfo, BackendError>> + Send {
        std::future::ready(self.with_account(account, |a| {
            a.mailboxes
                .get(name)
                .map(|m| info(name, m))
                .ok_or_else(|| BackendError::NotFound(format!("no mailbox {name}")))
        }))
    }

    fn select(
        &self,
        account: &str,
        name: &str,
    ) -> impl Future<Output = Result<Snapshot, BackendError>> + Send {
        std::future::ready(self.with_account(account, |a| {
            let m = a
                .mailboxes
                .get(name)
                .ok_or_else(|| BackendError::NotFound(format!("no mailbox {name}")))?;
            Ok(Snapshot {
                mailbox: info(name, m),
                uids: m.messages.keys().copied().collect(),
                keywords: m.keywords.iter().cloned().collect(),
                first_unseen: m
                    .messages
                    .values()
                    .find(|x| !has_flag(&x.meta.flags, "\\Seen"))
                    .map(|x| x.meta.uid),
                first_unclaimed_uid: m.first_unclaimed,
            })
        }))
    }

    fn changed_since(
        &self,
        account: &str,
        mailbox_id: i64,
        since: u64,
    ) -> impl Future<Output = Result<Vec<MessageMeta>, BackendError>> + Send {
        std::future::ready(self.with_account(account, |a| {
            let (_, m) = a.by_id(mailbox_id)?;
            Ok(m.messages
                .values()
                .filter(|x| x.meta.modseq > since)
                .map(|x| x.meta.clone())
                .collect())
        }))
    }

    fn claim_recent(
        &self,
        account: &str,
        mailbox_id: i64,
        up_to: u32,
        claim: bool,
    ) -> impl Future<Output = Result<Option<(u32, u32)>, BackendError>> + Send {
        std::future::ready(self.with_account(account, |a| {
            let (_, m) = a.by_id(mailbox_id)?;
            let last = up_to.min(m.uidnext.saturating_sub(1));
            if m.first_unclaimed > last {
                return Ok(None);
            }
            let first = m.first_unclaimed;
            if claim {
                m.first_unclaimed = last + 1;
            }
            Ok(Some((first, last)))
        }))
    }

    fn message_meta(
        &self,
        account: &str,
        mailbox_id: i64,
        uids: &[u32],
    ) -> impl Future<Output = Result<Vec<MessageMeta>, BackendError>> + Send {
        std::future::ready(self.with_account(account, |a| {
            let (_, m) = a.by_id(mailbox_id)?;
            let mut v: Vec<MessageMeta> = uids
                .iter()
                .filter_map(|u| m.messages.get(u).map(|x| x.meta.clone()))
                .collect();
            v.sort_by_key(|x| x.uid);
            v.dedup_by_key(|x| x.uid);
            Ok(v)
        }))
    }

    fn message_content(
        &self,
        account: &str,
        mailbox_id: i64,
        uid: u32,
    ) -> impl Future<Output = Result<Option<MessageContent>, BackendError>> + Send {
        std::future::ready(self.with_account(account, |a| {
            let (_, m) = a.by_id(mailbox_id)?;
            Ok(m.messages.get(&uid).map(|x| x.content.clone()))
        }))
    }

    fn vanished(
        &self,
        account: &str,
        mailbox_id: i64,
        since: u64,
    ) -> impl Future<Output = Result<Vec<u32>, BackendError>> + Send {
        std::future::ready(self.with_account(account, |a| {
            let (_, m) = a.by_id(mailbox_id)?;
            let mut v: Vec<u32> = m
                .tombstones
                .iter()
                .filter(|(_, ms)| *ms > since)
                .map(|(u, _)| *u)
                .collect();
            v.sort_unstable();
            v.dedup();
            Ok(v)
        }))
    }

    fn append(
        &self,
        account: &str,
        mailbox: &str,
        messages: Vec<NewMessage>,
    ) -> impl Future<Output = Result<Appended, BackendError>> + Send {
        std::future::ready(self.append_now(account, mailbox, messages))
    }

    fn store_flags(
        &self,
        account: &str,
        mailbox_id: i64,
        change: &FlagChange,
    ) -> impl Future<Output = Result<StoreOutcome, BackendError>> + Send {
        std::future::ready(self.with_account(account, |a| {
            let given = normalize_flags(&change.flags)?;
            let mut uids = change.uids.clone();
            uids.sort_unstable();
            uids.dedup();
            let mut modseq = None;
            let mut next = a.modseq + 1;
            let name = account.to_string();
            let (_, mb) = a.by_id(mailbox_id)?;
            let mut out = StoreOutcome::default();
            let mut events = Vec::new();
            for uid in uids {
                let Some(m) = mb.messages.get_mut(&uid) else {
                    continue;
                };
                if change.unchanged_since.is_some_and(|u| m.meta.modseq > u) {
                    out.modified.push(uid);
                    continue;
                }
                let new = match change.op {
                    FlagOp::Replace => given.clone(),
                    FlagOp::Add => {
                        let mut f = m.meta.flags.clone();
                        f.extend(given.iter().cloned());
                        normalize_flags(&f)?
                    }
                    FlagOp::Remove => {
                        let f: Flags = m
                            .meta
                            .flags
                            .iter()
                            .filter(|x| !has_flag(&given, x))
                            .cloned()
                            .collect();
                        normalize_flags(&f)?
                    }
                };
                let changed = new != m.meta.flags;
                if changed {
                    mb.keywords.extend(
                        new.iter()
                            .filter(|f| !KNOWN_FLAGS.contains(&f.as_str()))
                            .cloned(),
                    );
                    let ms = *modseq.get_or_insert_with(|| {
                        let v = next;
                        next += 1;
                        v
                    });
                    m.meta.flags = new;
                    m.meta.modseq = ms;
                    mb.modseq = ms;
                    events.push(ChangeEvent::FlagsChanged {
                        account: name.clone(),
                        mailbox_id,
                        uid,
                        modseq: i64::try_from(ms).unwrap_or(i64::MAX),
                        flags: m.meta.flags.clone(),
                    });
                }
                out.messages.push(FlagState {
                    uid,
                    flags: m.meta.flags.clone(),
                    modseq: m.meta.modseq,
                    changed,
                });
            }
            if let Some(ms) = modseq {
                a.modseq = ms;
            }
            a.pending.extend(events);
            Ok(out)
        }))
    }

    fn copy(
        &self,
        account: &str,
        from_mailbox_id: i64,
        uids: &[u32],
        to: &str,
    ) -> impl Future<Output = Result<Copied, BackendError>> + Send {
        std::future::ready(self.copy_now(account, from_mailbox_id, uids, to, false))
    }

    fn move_messages(
        &self,
        account: &str,
        from_mailbox_id: i64,
        uids: &[u32],
        to: &str,
    ) -> impl Future<Output = Result<Copied, BackendError>> + Send {
        std::future::ready(self.copy_now(account, from_mailbox_id, uids, to, true))
    }

    fn expunge(
        &self,
        account: &str,
        mailbox_id: i64,
        uids: Option<&[u32]>,
    ) -> impl Future<Output = Result<Vec<u32>, BackendError>> + Send {
        let uids: Option<BTreeSet<u32>> = uids.map(|u| u.iter().copied().collect());
        std::future::ready(self.with_account(account, |a| {
            let next = a.modseq + 1;
            let (_, mb) = a.by_id(mailbox_id)?;
            let gone: Vec<u32> = mb
                .messages
                .values()
                .filter(|m| has_flag(&m.meta.flags, "\\Deleted"))
                .filter(|m| uids.as_ref().is_none_or(|s| s.contains(&m.meta.uid)))
                .map(|m| m.meta.uid)
                .collect();
            if gone.is_empty() {
                return Ok(gone);
            }
            for u in &gone {
                mb.messages.remove(u);
                mb.tombstones.push((*u, next));
            }
            mb.modseq = next;
            a.modseq = next;
            a.pending.push(ChangeEvent::Expunged {
                account: account.to_string(),
                mailbox_id,
                uids: gone.clone(),
                modseq: i64::try_from(next).unwrap_or(i64::MAX),
            });
            Ok(gone)
        }))
    }

    fn quota(&self, account: &str) -> impl Future<Output = Result<Quota, BackendError>> + Send {
        let limit = self.quota_limit;
        std::future::ready(self.with_account(account, |a| {
            Ok(Quota {
                used: a.size(),
                limit,
            })
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_are_normalised() {
        let f = |v: &[&str]| normalize_flags(&v.iter().map(|s| s.to_string()).collect::<Vec<_>>());
        assert_eq!(
            f(&["Custom", "\\seen", "$JUNK", "a"]).unwrap(),
            vec!["\\Seen", "$Junk", "a", "custom"]
        );
        assert!(f(&["\\Recent"]).is_err());
    }
}
