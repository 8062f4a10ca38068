//! Connection limits of the imap worker, from `[imap]` in moxd.toml:
//! concurrent connections per remote address (IPv4 /32, IPv6 /64, as mox
//! counts them) and in total. Sessions per account are counted where the
//! account's change events are fanned out (`changes.rs`).

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};

use policy::ipclass::masked;

/// The narrowest IP class: the address itself (IPv4) or its /64 (IPv6).
const PER_IP_CLASS: usize = 0;

/// Which limit refused a connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum LimitError {
    #[error("too many connections in total")]
    Total,
    #[error("too many connections from your address")]
    PerIp,
}

#[derive(Default)]
struct Open {
    total: u32,
    per_ip: HashMap<IpAddr, u32>,
}

pub struct ConnLimits {
    max_total: u32,
    max_per_ip: u32,
    open: Arc<Mutex<Open>>,
}

/// Held for the life of a connection; releases its counts on drop.
pub struct ConnGuard {
    class: IpAddr,
    open: Arc<Mutex<Open>>,
}

impl Drop for ConnGuard {
    fn drop(&mut self) {
        let mut o = self.open.lock().unwrap_or_else(|e| e.into_inner());
        o.total = o.total.saturating_sub(1);
        if let Some(n) = o.per_ip.get_mut(&self.class) {
            *n = n.saturating_sub(1);
            if *n == 0 {
                o.per_ip.remove(&self.class);
            }
        }
    }
}

impl ConnLimits {
    pub fn new(max_total: u32, max_per_ip: u32) -> ConnLimits {
        ConnLimits {
            max_total,
            max_per_ip,
            open: Arc::default(),
        }
    }

    /// Admit a new connection from `ip`, or name the limit it exceeds.
    pub fn admit(&self, ip: IpAddr) -> Result<ConnGuard, LimitError> {
        let class = masked(ip.to_canonical(), PER_IP_CLASS);
        let mut o = self.open.lock().unwrap_or_else(|e| e.into_inner());
        if o.total >= self.max_total {
            return Err(LimitError::Total);
        }
        let n = o.per_ip.get(&class).copied().unwrap_or(0);
        if n >= self.max_per_ip {
            return Err(LimitError::PerIp);
        }
        o.total += 1;
        o.per_ip.insert(class, n + 1);
        Ok(ConnGuard {
            class,
            open: self.open.clone(),
        })
    }

    /// Connections open now.
    pub fn open(&self) -> u32 {
        self.open.lock().unwrap_or_else(|e| e.into_inner()).total
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn per_ip_limit_and_release() {
        let l = ConnLimits::new(100, 3);
        let guards: Vec<_> = (0..3).map(|_| l.admit(ip("192.0.2.1")).unwrap()).collect();
        assert_eq!(l.admit(ip("192.0.2.1")).err(), Some(LimitError::PerIp));
        // The IPv4-mapped form is the same address.
        assert_eq!(
            l.admit(ip("::ffff:192.0.2.1")).err(),
            Some(LimitError::PerIp)
        );
        assert!(l.admit(ip("192.0.2.2")).is_ok(), "another address is fine");
        assert_eq!(l.open(), 3);
        drop(guards);
        assert_eq!(l.open(), 0);
        assert!(l.admit(ip("192.0.2.1")).is_ok());
    }

    #[test]
    fn ipv6_counts_per_64() {
        let l = ConnLimits::new(100, 2);
        let _a = l.admit(ip("2001:db8:1:2::1")).unwrap();
        let _b = l.admit(ip("2001:db8:1:2::ffff")).unwrap();
        assert_eq!(
            l.admit(ip("2001:db8:1:2:abcd::1")).err(),
            Some(LimitError::PerIp)
        );
        assert!(l.admit(ip("2001:db8:1:3::1")).is_ok(), "another /64");
    }

    #[test]
    fn total_limit() {
        let l = ConnLimits::new(2, 10);
        let _a = l.admit(ip("192.0.2.1")).unwrap();
        let b = l.admit(ip("192.0.2.2")).unwrap();
        assert_eq!(l.admit(ip("192.0.2.3")).err(), Some(LimitError::Total));
        drop(b);
        assert!(l.admit(ip("192.0.2.3")).is_ok());
    }
}
