//! The web worker's own counters, answered to the master's metrics
//! requests in Prometheus text exposition format (the master adds every
//! other process's and serves them all on the metrics listener).

use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};

/// What a request was for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Page,
    Api,
    Form,
    Asset,
    Metrics,
    Other,
}

const KINDS: [(Kind, &str); 6] = [
    (Kind::Page, "page"),
    (Kind::Api, "api"),
    (Kind::Form, "form"),
    (Kind::Asset, "asset"),
    (Kind::Metrics, "metrics"),
    (Kind::Other, "other"),
];

/// Outcome of a login.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Login {
    Success,
    Failure,
    RateLimited,
    BadToken,
}

const LOGINS: [(Login, &str); 4] = [
    (Login::Success, "success"),
    (Login::Failure, "failure"),
    (Login::RateLimited, "ratelimited"),
    (Login::BadToken, "badtoken"),
];

#[derive(Debug, Default)]
pub struct Metrics {
    requests: [AtomicU64; KINDS.len()],
    api_errors: AtomicU64,
    logins: [[AtomicU64; LOGINS.len()]; 2],
}

fn index<T: PartialEq + Copy>(table: &[(T, &str)], v: T) -> usize {
    table.iter().position(|(k, _)| *k == v).unwrap_or(0)
}

impl Metrics {
    pub fn request(&self, kind: Kind) {
        self.requests[index(&KINDS, kind)].fetch_add(1, Ordering::Relaxed);
    }

    pub fn api_error(&self) {
        self.api_errors.fetch_add(1, Ordering::Relaxed);
    }

    pub fn login(&self, admin: bool, outcome: Login) {
        self.logins[usize::from(admin)][index(&LOGINS, outcome)].fetch_add(1, Ordering::Relaxed);
    }

    pub fn requests(&self, kind: Kind) -> u64 {
        self.requests[index(&KINDS, kind)].load(Ordering::Relaxed)
    }

    /// Prometheus text exposition format.
    pub fn render(&self) -> String {
        let mut out = String::new();
        out.push_str(
            "# HELP moxd_web_requests_total HTTP requests to the web interfaces, by kind.\n",
        );
        out.push_str("# TYPE moxd_web_requests_total counter\n");
        for (i, (_, name)) in KINDS.iter().enumerate() {
            let _ = writeln!(
                out,
                "moxd_web_requests_total{{kind=\"{name}\"}} {}",
                self.requests[i].load(Ordering::Relaxed)
            );
        }
        out.push_str("# HELP moxd_web_api_errors_total API calls answered with an error.\n");
        out.push_str("# TYPE moxd_web_api_errors_total counter\n");
        let _ = writeln!(
            out,
            "moxd_web_api_errors_total {}",
            self.api_errors.load(Ordering::Relaxed)
        );
        out.push_str(
            "# HELP moxd_web_logins_total Web interface logins, by interface and result.\n",
        );
        out.push_str("# TYPE moxd_web_logins_total counter\n");
        for (a, iface) in ["account", "admin"].iter().enumerate() {
            for (i, (_, name)) in LOGINS.iter().enumerate() {
                let _ = writeln!(
                    out,
                    "moxd_web_logins_total{{interface=\"{iface}\",result=\"{name}\"}} {}",
                    self.logins[a][i].load(Ordering::Relaxed)
                );
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_counters() {
        let m = Metrics::default();
        m.request(Kind::Api);
        m.request(Kind::Api);
        m.login(true, Login::Failure);
        let t = m.render();
        assert!(
            t.contains("moxd_web_requests_total{kind=\"api\"} 2\n"),
            "{t}"
        );
        assert!(
            t.contains("moxd_web_requests_total{kind=\"page\"} 0\n"),
            "{t}"
        );
        assert!(
            t.contains("moxd_web_logins_total{interface=\"admin\",result=\"failure\"} 1\n"),
            "{t}"
        );
        assert!(t.contains("# TYPE moxd_web_logins_total counter\n"));
    }
}
