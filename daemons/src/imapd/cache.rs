//! Message contents recently read from the store, kept per worker so that
//! a client fetching a message part by part (headers, then BODYSTRUCTURE,
//! then each attachment) reads the file and its structure once. Bounded
//! by total size, least recently used first out.
//!
//! Keyed by (account, mailbox id, UID): a UID is never reused within a
//! UIDVALIDITY (RFC 9051 §2.3.1.1) and mailbox ids are never reused
//! within an account, so an entry never goes stale. It is dropped when
//! its message is expunged, and an account's entries when one of its
//! mailboxes is deleted or renamed or its change events end (then this
//! worker would not hear of the next change). An epoch counter keeps a
//! read that started before such an invalidation from inserting after it.

use std::collections::{BTreeMap, HashMap};
use std::sync::Mutex;

use ipc::store::ChangeEvent;

use crate::imap::backend::MessageContent;

/// Total weight of the cached contents.
pub const CACHE_BYTES: usize = 32 * 1024 * 1024;
/// Largest single entry: bigger messages are not cached, so one of them
/// cannot push out everything else.
pub const MAX_ENTRY_BYTES: usize = CACHE_BYTES / 8;
/// Weight of an entry besides its octets (key, bookkeeping).
const ENTRY_OVERHEAD: usize = 256;
/// Weight of each described MIME part.
const PART_WEIGHT: usize = 256;

type Key = (i64, u32);

struct Slot {
    content: MessageContent,
    tick: u64,
    weight: usize,
}

#[derive(Default)]
struct Lru {
    accounts: HashMap<String, HashMap<Key, Slot>>,
    /// Recency: tick → entry.
    order: BTreeMap<u64, (String, Key)>,
    tick: u64,
    weight: usize,
    epoch: u64,
}

impl Lru {
    fn remove(&mut self, account: &str, key: Key) {
        let Some(slots) = self.accounts.get_mut(account) else {
            return;
        };
        if let Some(s) = slots.remove(&key) {
            self.order.remove(&s.tick);
            self.weight -= s.weight;
        }
        if slots.is_empty() {
            self.accounts.remove(account);
        }
    }

    fn evict_to(&mut self, budget: usize) {
        while self.weight > budget {
            let Some((_, (account, key))) = self.order.pop_first() else {
                break;
            };
            if let Some(slots) = self.accounts.get_mut(&account) {
                if let Some(s) = slots.remove(&key) {
                    self.weight -= s.weight;
                }
                if slots.is_empty() {
                    self.accounts.remove(&account);
                }
            }
        }
    }
}

pub struct ContentCache {
    budget: usize,
    max_entry: usize,
    lru: Mutex<Lru>,
}

impl Default for ContentCache {
    fn default() -> Self {
        ContentCache::new(CACHE_BYTES, MAX_ENTRY_BYTES)
    }
}

fn weight(c: &MessageContent) -> usize {
    c.bytes
        .len()
        .saturating_add(c.parsed.parts.len().saturating_mul(PART_WEIGHT))
        .saturating_add(ENTRY_OVERHEAD)
}

impl ContentCache {
    pub fn new(budget: usize, max_entry: usize) -> ContentCache {
        ContentCache {
            budget,
            max_entry: max_entry.min(budget),
            lru: Mutex::default(),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Lru> {
        self.lru.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// A cached content, now the most recently used.
    pub fn get(&self, account: &str, mailbox_id: i64, uid: u32) -> Option<MessageContent> {
        let mut l = self.lock();
        l.tick += 1;
        let tick = l.tick;
        let slot = l.accounts.get_mut(account)?.get_mut(&(mailbox_id, uid))?;
        let old = std::mem::replace(&mut slot.tick, tick);
        let content = slot.content.clone();
        if let Some(entry) = l.order.remove(&old) {
            l.order.insert(tick, entry);
        }
        Some(content)
    }

    /// Taken before reading from the store; pass it to [`Self::insert`].
    pub fn epoch(&self) -> u64 {
        self.lock().epoch
    }

    /// Keeps a content read while the cache was at `epoch` (nothing is
    /// kept if an invalidation came in between, or it is too big).
    pub fn insert(
        &self,
        account: &str,
        mailbox_id: i64,
        uid: u32,
        content: MessageContent,
        epoch: u64,
    ) {
        let w = weight(&content);
        if w > self.max_entry {
            return;
        }
        let mut l = self.lock();
        if l.epoch != epoch {
            return;
        }
        l.remove(account, (mailbox_id, uid));
        l.tick += 1;
        let tick = l.tick;
        l.order
            .insert(tick, (account.to_string(), (mailbox_id, uid)));
        l.accounts.entry(account.to_string()).or_default().insert(
            (mailbox_id, uid),
            Slot {
                content,
                tick,
                weight: w,
            },
        );
        l.weight += w;
        l.evict_to(self.budget);
    }

    /// Drops every entry of an account.
    pub fn invalidate_account(&self, account: &str) {
        let mut l = self.lock();
        l.epoch += 1;
        if let Some(slots) = l.accounts.remove(account) {
            for s in slots.into_values() {
                l.order.remove(&s.tick);
                l.weight -= s.weight;
            }
        }
    }

    /// Follows an account's change: expunged messages leave, a deleted or
    /// renamed mailbox takes the account's entries with it.
    pub fn observe(&self, ev: &ChangeEvent) {
        match ev {
            ChangeEvent::Expunged {
                account,
                mailbox_id,
                uids,
                ..
            } => {
                let mut l = self.lock();
                for uid in uids {
                    l.remove(account, (*mailbox_id, *uid));
                }
            }
            ChangeEvent::MailboxDeleted { account, .. }
            | ChangeEvent::MailboxRenamed { account, .. }
            | ChangeEvent::Missed { account } => self.invalidate_account(account),
            ChangeEvent::MessageAdded { .. }
            | ChangeEvent::FlagsChanged { .. }
            | ChangeEvent::MailboxCreated { .. } => {}
        }
    }

    /// Total weight held now.
    pub fn weight(&self) -> usize {
        self.lock().weight
    }

    /// Entries held now.
    pub fn len(&self) -> usize {
        self.lock().order.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::imap::parsed::ParsedMessage;

    fn content(fill: u8, len: usize) -> MessageContent {
        let bytes: Vec<u8> = vec![fill; len];
        MessageContent {
            parsed: Arc::new(ParsedMessage::from_bytes(&bytes)),
            bytes: bytes.into(),
        }
    }

    #[test]
    fn least_recently_used_goes_first() {
        let c = ContentCache::new(3 * 2000, 4000);
        let e = c.epoch();
        c.insert("a", 1, 1, content(b'1', 1000), e);
        c.insert("a", 1, 2, content(b'2', 1000), e);
        c.insert("a", 1, 3, content(b'3', 1000), e);
        assert_eq!(c.len(), 3);
        // Touch 1, so 2 is the oldest when 4 comes in.
        assert_eq!(c.get("a", 1, 1).unwrap().bytes[0], b'1');
        c.insert("a", 1, 4, content(b'4', 2500), e);
        assert!(c.get("a", 1, 2).is_none(), "oldest evicted");
        assert_eq!(c.get("a", 1, 1).unwrap().bytes[0], b'1');
        assert_eq!(c.get("a", 1, 4).unwrap().bytes.len(), 2500);
        assert!(c.weight() <= 3 * 2000, "{}", c.weight());
    }

    #[test]
    fn too_big_is_not_kept() {
        let c = ContentCache::new(10_000, 2_000);
        c.insert("a", 1, 1, content(b'x', 5_000), c.epoch());
        assert!(c.is_empty());
        assert_eq!(c.weight(), 0);
    }

    #[test]
    fn keys_are_per_account_and_mailbox() {
        let c = ContentCache::default();
        let e = c.epoch();
        c.insert("a", 1, 1, content(b'a', 10), e);
        c.insert("b", 1, 1, content(b'b', 10), e);
        c.insert("a", 2, 1, content(b'c', 10), e);
        assert_eq!(c.get("a", 1, 1).unwrap().bytes[0], b'a');
        assert_eq!(c.get("b", 1, 1).unwrap().bytes[0], b'b');
        assert_eq!(c.get("a", 2, 1).unwrap().bytes[0], b'c');
        assert!(c.get("a", 1, 2).is_none());
    }

    #[test]
    fn events_invalidate() {
        let c = ContentCache::default();
        let e = c.epoch();
        for uid in 1..=3 {
            c.insert("a", 7, uid, content(b'x', 10), e);
        }
        c.insert("b", 7, 1, content(b'y', 10), e);
        c.observe(&ChangeEvent::Expunged {
            account: "a".into(),
            mailbox_id: 7,
            uids: vec![2],
            modseq: 9,
        });
        assert!(c.get("a", 7, 2).is_none());
        assert!(c.get("a", 7, 1).is_some() && c.get("a", 7, 3).is_some());
        c.observe(&ChangeEvent::MailboxRenamed {
            account: "a".into(),
            from: "x".into(),
            to: "y".into(),
        });
        assert!(c.get("a", 7, 1).is_none() && c.get("a", 7, 3).is_none());
        assert!(c.get("b", 7, 1).is_some(), "other accounts stay");
        assert_eq!(c.len(), 1);
    }

    #[test]
    fn a_read_from_before_an_invalidation_is_not_kept() {
        let c = ContentCache::default();
        let before = c.epoch();
        c.invalidate_account("a");
        c.insert("a", 1, 1, content(b'x', 10), before);
        assert!(c.get("a", 1, 1).is_none());
        c.insert("a", 1, 1, content(b'x', 10), c.epoch());
        assert!(c.get("a", 1, 1).is_some());
    }
}
