//! Connection limits of an SMTP worker, per remote IP class (IPv4 /32,
//! /26, /21; IPv6 /64, /48, /32) as mox: new connections per minute and
//! concurrent connections, plus a total cap.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use policy::ipclass::classes;
use policy::ratelimit::{Limit, Limiter};

/// New connections per minute for the three IP classes.
pub const CONNECTIONS_PER_MINUTE: [u64; 3] = [300, 900, 2700];
/// Concurrent connections for the three IP classes.
pub const CONCURRENT_PER_IP: [u64; 3] = [30, 90, 270];
/// Concurrent connections of one worker in total.
pub const MAX_CONNECTIONS: u64 = 2000;

#[derive(Default)]
struct Open {
    total: u64,
    per_class: HashMap<(usize, IpAddr), u64>,
}

pub struct ConnLimits {
    rate: Mutex<Limiter>,
    open: Arc<Mutex<Open>>,
}

/// Held for the life of a connection; releases its counts on drop.
pub struct ConnGuard {
    ip: IpAddr,
    open: Arc<Mutex<Open>>,
}

impl Drop for ConnGuard {
    fn drop(&mut self) {
        let mut o = self.open.lock().unwrap_or_else(|e| e.into_inner());
        o.total = o.total.saturating_sub(1);
        for (i, c) in classes(self.ip).into_iter().enumerate() {
            if let Some(n) = o.per_class.get_mut(&(i, c)) {
                *n = n.saturating_sub(1);
                if *n == 0 {
                    o.per_class.remove(&(i, c));
                }
            }
        }
    }
}

impl Default for ConnLimits {
    fn default() -> Self {
        Self::new()
    }
}

impl ConnLimits {
    pub fn new() -> Self {
        ConnLimits {
            rate: Mutex::new(Limiter::new(Limit {
                window: Duration::from_secs(60),
                per_class: CONNECTIONS_PER_MINUTE,
            })),
            open: Arc::default(),
        }
    }

    /// Admit a new connection from `ip`, or name the limit it exceeds.
    pub fn admit(&self, ip: IpAddr) -> Result<ConnGuard, &'static str> {
        let mut o = self.open.lock().unwrap_or_else(|e| e.into_inner());
        if o.total >= MAX_CONNECTIONS {
            return Err("limit: connections in total");
        }
        let cls = classes(ip);
        if cls
            .iter()
            .enumerate()
            .any(|(i, c)| o.per_class.get(&(i, *c)).copied().unwrap_or(0) >= CONCURRENT_PER_IP[i])
        {
            return Err("limit: concurrent connections per IP");
        }
        if !self
            .rate
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .add(ip, 1, Instant::now())
        {
            return Err("limit: new connections per minute per IP");
        }
        o.total += 1;
        for (i, c) in cls.into_iter().enumerate() {
            *o.per_class.entry((i, c)).or_insert(0) += 1;
        }
        Ok(ConnGuard {
            ip,
            open: self.open.clone(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn concurrent_limit_and_release() {
        let l = ConnLimits::new();
        let ip: IpAddr = "192.0.2.1".parse().unwrap();
        let guards: Vec<_> = (0..CONCURRENT_PER_IP[0])
            .map(|_| l.admit(ip).unwrap())
            .collect();
        assert_eq!(
            l.admit(ip).err(),
            Some("limit: concurrent connections per IP")
        );
        assert!(
            l.admit("192.0.2.100".parse().unwrap()).is_ok(),
            "another /32 is fine"
        );
        drop(guards);
        assert!(l.admit(ip).is_ok());
    }

    #[test]
    fn rate_limit() {
        let l = ConnLimits::new();
        let ip: IpAddr = "2001:db8::1".parse().unwrap();
        for _ in 0..CONNECTIONS_PER_MINUTE[0] {
            drop(l.admit(ip).unwrap());
        }
        assert_eq!(
            l.admit(ip).err(),
            Some("limit: new connections per minute per IP")
        );
    }
}
