//! Failed-login rate limits, kept in the store so SMTP, IMAP and the web
//! interface share one count per remote IP class (as mox's
//! LimiterFailedAuth): per minute 10/30/90 and per day 50/150/450 for the
//! /32, /26, /21 (IPv4) or /64, /48, /32 (IPv6) classes. A success resets
//! the narrowest class. Also: whether an address belongs to an account.

use std::net::IpAddr;
use std::time::{Duration, Instant};

use policy::ratelimit::{Limit, Limiter};

use crate::db::lock;
use crate::error::Result;
use crate::names::Address;
use crate::store::Store;

/// Failed logins allowed per minute for the three IP classes.
pub const FAILED_AUTH_PER_MINUTE: [u64; 3] = [10, 30, 90];
/// Failed logins allowed per day for the three IP classes.
pub const FAILED_AUTH_PER_DAY: [u64; 3] = [50, 150, 450];

#[derive(Debug)]
pub struct AuthLimits {
    minute: Limiter,
    day: Limiter,
}

impl AuthLimits {
    pub fn new() -> Self {
        AuthLimits {
            minute: Limiter::new(Limit {
                window: Duration::from_secs(60),
                per_class: FAILED_AUTH_PER_MINUTE,
            }),
            day: Limiter::new(Limit {
                window: Duration::from_secs(86_400),
                per_class: FAILED_AUTH_PER_DAY,
            }),
        }
    }

    fn allowed(&self, ip: IpAddr, now: Instant) -> bool {
        self.minute.can_add(ip, 1, now) && self.day.can_add(ip, 1, now)
    }

    fn record(&mut self, ip: IpAddr, success: bool, now: Instant) {
        if success {
            self.minute.reset(ip);
            self.day.reset(ip);
        } else {
            self.minute.add(ip, 1, now);
            self.day.add(ip, 1, now);
        }
    }
}

impl Store {
    /// Whether a login attempt from `ip` may proceed now.
    pub fn auth_allowed(&self, ip: IpAddr) -> bool {
        lock(&self.auth_limits).allowed(ip, Instant::now())
    }

    /// Count a login attempt from `ip`.
    pub fn auth_record(&self, ip: IpAddr, success: bool) {
        lock(&self.auth_limits).record(ip, success, Instant::now())
    }

    /// Whether `address` is one of `account`'s own addresses (the catch-all
    /// does not count).
    pub fn account_owns(&self, account: &str, address: &str) -> Result<bool> {
        let addr = Address::parse(address)?;
        Ok(self.address_account(&addr)?.as_deref() == Some(account))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ten_failures_per_minute_then_blocked_and_success_resets() {
        let mut l = AuthLimits::new();
        let now = Instant::now();
        let ip: IpAddr = "192.0.2.9".parse().unwrap();
        for _ in 0..10 {
            assert!(l.allowed(ip, now));
            l.record(ip, false, now);
        }
        assert!(
            !l.allowed(ip, now),
            "11th attempt within a minute is refused"
        );
        assert!(
            l.allowed("192.0.2.200".parse().unwrap(), now),
            "another /32 in the /26 may still try"
        );
        assert!(l.allowed(ip, now + Duration::from_secs(61)), "next minute");
        l.record(ip, true, now);
        assert!(l.allowed(ip, now));
    }
}
