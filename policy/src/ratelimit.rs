//! Fixed-window rate limits per IP class: each class of an address has its
//! own limit (wider classes allow more), and a request is allowed only if
//! every class is under its limit in the current window.

use std::collections::HashMap;
use std::net::IpAddr;
use std::time::{Duration, Instant};

use crate::ipclass::{CLASSES, classes};

/// Entries kept before old windows are swept.
pub const MAX_TRACKED: usize = 100_000;

/// Limits per window for the three IP classes.
#[derive(Debug, Clone, Copy)]
pub struct Limit {
    pub window: Duration,
    pub per_class: [u64; CLASSES],
}

#[derive(Debug)]
pub struct Limiter {
    limit: Limit,
    counts: HashMap<(usize, IpAddr), (Instant, u64)>,
}

impl Limiter {
    pub fn new(limit: Limit) -> Self {
        Limiter {
            limit,
            counts: HashMap::new(),
        }
    }

    fn count(&self, key: (usize, IpAddr), now: Instant) -> u64 {
        match self.counts.get(&key) {
            Some((start, n)) if now.duration_since(*start) < self.limit.window => *n,
            _ => 0,
        }
    }

    /// Would `n` more events from `ip` stay within every class's limit?
    pub fn can_add(&self, ip: IpAddr, n: u64, now: Instant) -> bool {
        classes(ip)
            .iter()
            .enumerate()
            .all(|(i, c)| self.count((i, *c), now) + n <= self.limit.per_class[i])
    }

    /// Record `n` events if allowed; returns whether they were.
    pub fn add(&mut self, ip: IpAddr, n: u64, now: Instant) -> bool {
        if !self.can_add(ip, n, now) {
            return false;
        }
        if self.counts.len() >= MAX_TRACKED {
            let w = self.limit.window;
            self.counts
                .retain(|_, (start, _)| now.duration_since(*start) < w);
        }
        for (i, c) in classes(ip).into_iter().enumerate() {
            let e = self.counts.entry((i, c)).or_insert((now, 0));
            if now.duration_since(e.0) >= self.limit.window {
                *e = (now, 0);
            }
            e.1 += n;
        }
        true
    }

    /// Forget an address's narrowest class (e.g. after a successful login).
    pub fn reset(&mut self, ip: IpAddr) {
        self.counts.remove(&(0, classes(ip)[0]));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn narrow_and_wide_classes() {
        let mut l = Limiter::new(Limit {
            window: Duration::from_secs(60),
            per_class: [2, 3, 100],
        });
        let now = Instant::now();
        let a: IpAddr = "192.0.2.1".parse().unwrap();
        let b: IpAddr = "192.0.2.2".parse().unwrap();
        assert!(l.add(a, 1, now));
        assert!(l.add(a, 1, now));
        assert!(!l.add(a, 1, now), "a's /32 is full");
        assert!(l.add(b, 1, now));
        assert!(!l.add(b, 1, now), "the shared /26 is full");
        assert!(l.add(a, 1, now + Duration::from_secs(61)), "new window");
        l.reset(a);
        assert!(l.can_add(a, 1, now + Duration::from_secs(61)));
    }
}
