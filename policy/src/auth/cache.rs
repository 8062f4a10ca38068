//! A bounded cache of DNS answers that honours their TTLs. It backs
//! mail-auth's lookups (parsed DKIM keys, DMARC records, PTR and address
//! sets, through its `ResolverCache` trait) and moxd's own raw lookups
//! (SPF, DNSBL). Entries never outlive their TTL, nor [`MAX_TTL`]; when
//! full, expired entries go first, then the one expiring soonest.

use std::borrow::Borrow;
use std::collections::HashMap;
use std::hash::Hash;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use mail_auth::ResolverCache;

/// Most entries in one cache (each of the few caches has its own bound).
pub const MAX_ENTRIES: usize = 10_000;
/// Longest time an answer is kept, whatever its TTL says.
pub const MAX_TTL: Duration = Duration::from_secs(3600);

/// A map from a DNS question to its answer, valid until an instant.
pub struct TtlCache<K, V> {
    max: usize,
    map: Mutex<HashMap<K, (V, Instant)>>,
}

impl<K: Hash + Eq + Clone, V: Clone> TtlCache<K, V> {
    pub fn new(max: usize) -> Self {
        TtlCache {
            max: max.max(1),
            map: Mutex::new(HashMap::new()),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<K, (V, Instant)>> {
        // A panic while holding the lock leaves a consistent map.
        self.map.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The live answer for `key`, if any.
    pub fn lookup<Q>(&self, key: &Q) -> Option<V>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        let now = Instant::now();
        let mut map = self.lock();
        match map.get(key) {
            Some((v, until)) if *until > now => Some(v.clone()),
            Some(_) => {
                map.remove(key);
                None
            }
            None => None,
        }
    }

    /// Keep `value` until `until` (at most [`MAX_TTL`] from now).
    pub fn store(&self, key: K, value: V, until: Instant) {
        let now = Instant::now();
        let until = until.min(now + MAX_TTL);
        if until <= now {
            return;
        }
        let mut map = self.lock();
        if map.len() >= self.max && !map.contains_key(&key) {
            map.retain(|_, (_, u)| *u > now);
            if map.len() >= self.max {
                let soonest = map
                    .iter()
                    .min_by_key(|(_, (_, u))| *u)
                    .map(|(k, _)| k.clone());
                if let Some(k) = soonest {
                    map.remove(&k);
                }
            }
        }
        map.insert(key, (value, until));
    }

    pub fn len(&self) -> usize {
        self.lock().len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl<K: Hash + Eq + Clone, V: Clone> ResolverCache<K, V> for TtlCache<K, V> {
    fn get<Q>(&self, name: &Q) -> Option<V>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        self.lookup(name)
    }

    fn remove<Q>(&self, name: &Q) -> Option<V>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        self.lock().remove(name).map(|(v, _)| v)
    }

    fn insert(&self, key: K, value: V, valid_until: Instant) {
        self.store(key, value, valid_until);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expires_and_stays_bounded() {
        let c: TtlCache<String, u32> = TtlCache::new(3);
        let now = Instant::now();
        c.store("a".into(), 1, now + Duration::from_secs(60));
        c.store("b".into(), 2, now + Duration::from_secs(10));
        c.store("c".into(), 3, now + Duration::from_secs(30));
        assert_eq!(c.lookup("a"), Some(1));
        // Full: the entry expiring soonest ("b") makes room.
        c.store("d".into(), 4, now + Duration::from_secs(60));
        assert_eq!(c.len(), 3);
        assert_eq!(c.lookup("b"), None);
        assert_eq!(c.lookup("d"), Some(4));
        // Already expired answers are not kept.
        c.store("e".into(), 5, now);
        assert_eq!(c.lookup("e"), None);
        // A TTL beyond MAX_TTL is cut to it.
        c.store("a".into(), 9, now + Duration::from_secs(1_000_000));
        assert_eq!(c.lookup("a"), Some(9));
    }

    #[test]
    fn expired_entry_is_gone() {
        let c: TtlCache<String, u32> = TtlCache::new(10);
        c.store("x".into(), 1, Instant::now() + Duration::from_millis(20));
        assert_eq!(c.lookup("x"), Some(1));
        std::thread::sleep(Duration::from_millis(40));
        assert_eq!(c.lookup("x"), None);
        assert!(c.is_empty());
    }
}
