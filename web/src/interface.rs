//! The two web interfaces, account and admin: where each lives, its
//! cookies and how long its sessions last.

use ipc::store::WebInterface;

/// One web interface as configured.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Interface {
    pub kind: WebInterface,
    /// Path prefix, starting and ending with `/` (the cookies' Path).
    pub root: String,
    /// A session ends after this long without use.
    pub idle_secs: u64,
}

impl Interface {
    pub fn account(root: &str, idle_secs: u64) -> Self {
        Interface {
            kind: WebInterface::Account,
            root: root.to_string(),
            idle_secs,
        }
    }

    pub fn admin(root: &str, idle_secs: u64) -> Self {
        Interface {
            kind: WebInterface::Admin,
            root: root.to_string(),
            idle_secs,
        }
    }

    /// `account` or `admin`.
    pub fn name(&self) -> &'static str {
        match self.kind {
            WebInterface::Account => "account",
            WebInterface::Admin => "admin",
        }
    }

    /// The session cookie's name (as mox).
    pub fn session_cookie(&self) -> &'static str {
        match self.kind {
            WebInterface::Account => "webaccountsession",
            WebInterface::Admin => "webadminsession",
        }
    }

    /// The short-lived cookie of `LoginPrep` (login CSRF protection).
    pub fn login_cookie(&self) -> &'static str {
        match self.kind {
            WebInterface::Account => "webaccountlogin",
            WebInterface::Admin => "webadminlogin",
        }
    }

    pub fn title(&self) -> &'static str {
        match self.kind {
            WebInterface::Account => "moxd account",
            WebInterface::Admin => "moxd admin",
        }
    }
}
