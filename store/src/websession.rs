//! Login sessions of the web interfaces, the admin password and recorded
//! web login attempts, in system.db.
//!
//! A session is made only after a password was checked. Its cookie token
//! and its CSRF token are 256 random bits each; the store hands them out
//! once and keeps only their SHA-256 hashes, so a copy of system.db does
//! not let anyone in. A session ends after its idle time without use (it
//! is extended on use), at logout, when the account's password changes
//! (except the session that changed it), or when the account has more
//! than its cap of sessions (oldest first).
//!
//! The admin password is kept as a salted PBKDF2-HMAC-SHA256 hash (the
//! SCRAM-SHA-256 derivation with many more iterations); it is set by an
//! administrator (`moxctl setadminpassword`) and checked for the web worker.

use base64::Engine;
use ipc::store::WebSessionStatus;
use ipc::store::{LoginAttempt, NewWebSession, ScramMechanism, WebInterface, WebSession};
use rusqlite::{OptionalExtension, TransactionBehavior};
use sha2::{Digest, Sha256};

use crate::db::lock;
use crate::error::{Result, StoreError};
use crate::names;
use crate::scram;
use crate::store::{Store, unix_now};

/// Random bytes in a session or CSRF token (256 bits; the issue asks ≥ 128).
pub const TOKEN_BYTES: usize = 32;
/// Length of a token as sent (base64url without padding).
pub const TOKEN_LEN: usize = 43;
/// Sessions one account may have; the oldest are dropped (as mox).
pub const MAX_ACCOUNT_SESSIONS: i64 = 100;
/// Admin sessions at once (as mox).
pub const MAX_ADMIN_SESSIONS: i64 = 10;
/// The longest idle time a session may ask for.
pub const MAX_SESSION_IDLE_SECS: u64 = 30 * 24 * 3600;
/// A session's last use is written at most this often (each write is a
/// durable commit); never less often than an eighth of its idle time.
pub const TOUCH_INTERVAL_SECS: i64 = 60;
/// Longest user agent kept with a session or login attempt.
pub const MAX_USER_AGENT: usize = 256;
/// Longest remote address text kept.
pub const MAX_REMOTE_IP: usize = 64;
/// Login attempts kept per account (newest).
pub const MAX_LOGIN_ATTEMPTS: i64 = 50;
/// PBKDF2-HMAC-SHA256 iterations of the admin password hash.
pub const ADMIN_PASSWORD_ITERATIONS: u32 = 100_000;

/// Salt for the wasted work when no admin password is set.
const DUMMY_SALT: &[u8; scram::SALT_LEN] = b"moxd-no-adminpw!";

fn interface_name(i: WebInterface) -> &'static str {
    match i {
        WebInterface::Account => "account",
        WebInterface::Admin => "admin",
    }
}

fn interface_from(name: &str) -> WebInterface {
    if name == "admin" {
        WebInterface::Admin
    } else {
        WebInterface::Account
    }
}

fn new_token() -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(rand::random::<[u8; TOKEN_BYTES]>())
}

/// The hash a token is stored as; None for anything that cannot be one of
/// our tokens (so it never reaches the database).
fn token_hash(token: &str) -> Option<Vec<u8>> {
    let well_formed = token.len() == TOKEN_LEN
        && token
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    well_formed.then(|| Sha256::digest(token.as_bytes()).to_vec())
}

/// At most `max` bytes of `s`, cut at a character boundary.
fn clip(s: &str, max: usize) -> String {
    let mut end = s.len().min(max);
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    s[..end].to_string()
}

fn cap_for(i: WebInterface) -> i64 {
    match i {
        WebInterface::Account => MAX_ACCOUNT_SESSIONS,
        WebInterface::Admin => MAX_ADMIN_SESSIONS,
    }
}

/// Checks that an account session names an account and an admin session none.
fn owner(interface: WebInterface, account: Option<&str>) -> Result<Option<String>> {
    match (interface, account) {
        (WebInterface::Account, Some(a)) => Ok(Some(names::account_name(a)?.to_string())),
        (WebInterface::Admin, None) => Ok(None),
        (WebInterface::Account, None) => {
            Err(StoreError::invalid("an account session needs an account"))
        }
        (WebInterface::Admin, Some(_)) => {
            Err(StoreError::invalid("an admin session has no account"))
        }
    }
}

const SESSION_COLUMNS: &str =
    "id, interface, account, created, last_use, expires, remote_ip, user_agent";

fn session_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<WebSession> {
    Ok(WebSession {
        id: r.get(0)?,
        interface: interface_from(&r.get::<_, String>(1)?),
        account: r.get(2)?,
        created: r.get(3)?,
        last_use: r.get(4)?,
        expires: r.get(5)?,
        remote_ip: r.get(6)?,
        user_agent: r.get(7)?,
    })
}

impl Store {
    /// A new session with fresh random tokens; drops expired sessions and
    /// the oldest of this owner's beyond the cap.
    pub fn web_session_create(
        &self,
        interface: WebInterface,
        account: Option<&str>,
        idle_secs: u64,
        remote_ip: &str,
        user_agent: &str,
    ) -> Result<NewWebSession> {
        let account = owner(interface, account)?;
        let idle = i64::try_from(idle_secs.clamp(1, MAX_SESSION_IDLE_SECS))
            .map_err(|_| StoreError::invalid("idle time"))?;
        let (token, csrf) = (new_token(), new_token());
        let (th, ch) = (
            Sha256::digest(token.as_bytes()).to_vec(),
            Sha256::digest(csrf.as_bytes()).to_vec(),
        );
        let now = unix_now();
        let mut conn = lock(&self.system.writer);
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        tx.execute("DELETE FROM web_sessions WHERE expires < ?1", [now])?;
        if let Some(a) = &account {
            let exists = tx
                .query_row("SELECT 1 FROM accounts WHERE name = ?1", [a], |_| Ok(()))
                .optional()?;
            if exists.is_none() {
                return Err(StoreError::not_found(format!("no account {a}")));
            }
        }
        tx.execute(
            "INSERT INTO web_sessions (interface, account, token_hash, csrf_hash, created, last_use, idle, expires, remote_ip, user_agent)
             VALUES (?1, ?2, ?3, ?4, ?5, ?5, ?6, ?7, ?8, ?9)",
            rusqlite::params![
                interface_name(interface),
                account,
                th,
                ch,
                now,
                idle,
                now + idle,
                clip(remote_ip, MAX_REMOTE_IP),
                clip(user_agent, MAX_USER_AGENT)
            ],
        )?;
        let id = tx.last_insert_rowid();
        // Oldest beyond the cap go (by last use, then age).
        tx.execute(
            "DELETE FROM web_sessions WHERE id IN (
                SELECT id FROM web_sessions WHERE interface = ?1 AND account IS ?2
                ORDER BY last_use DESC, id DESC LIMIT -1 OFFSET ?3)",
            rusqlite::params![interface_name(interface), account, cap_for(interface)],
        )?;
        tx.commit()?;
        Ok(NewWebSession { id, token, csrf })
    }

    /// Whether `token` names a live session of `interface` (and, with
    /// `csrf`, whether that CSRF token is the session's). An expired
    /// session is removed. With `touch`, a valid use extends the session.
    pub fn web_session_check(
        &self,
        interface: WebInterface,
        token: &str,
        csrf: Option<&str>,
        touch: bool,
    ) -> Result<WebSessionStatus> {
        let Some(th) = token_hash(token) else {
            return Ok(WebSessionStatus::Invalid);
        };
        let now = unix_now();
        let found = {
            let conn = lock(&self.system.reader);
            conn.query_row(
                &format!(
                    "SELECT {SESSION_COLUMNS}, csrf_hash, idle FROM web_sessions
                     WHERE token_hash = ?1 AND interface = ?2"
                ),
                rusqlite::params![th, interface_name(interface)],
                |r| {
                    Ok((
                        session_row(r)?,
                        r.get::<_, Vec<u8>>(8)?,
                        r.get::<_, i64>(9)?,
                    ))
                },
            )
            .optional()?
        };
        let Some((mut session, csrf_hash, idle)) = found else {
            return Ok(WebSessionStatus::Invalid);
        };
        if session.expires < now {
            let conn = lock(&self.system.writer);
            conn.execute("DELETE FROM web_sessions WHERE id = ?1", [session.id])?;
            return Ok(WebSessionStatus::Invalid);
        }
        if let Some(c) = csrf {
            let right = token_hash(c).is_some_and(|h| scram::constant_time_eq(&h, &csrf_hash));
            if !right {
                return Ok(WebSessionStatus::BadCsrf);
            }
        }
        let interval = TOUCH_INTERVAL_SECS.min(idle / 8);
        if touch && now - session.last_use >= interval {
            let conn = lock(&self.system.writer);
            conn.execute(
                "UPDATE web_sessions SET last_use = ?1, expires = ?1 + idle WHERE id = ?2",
                [now, session.id],
            )?;
            session.last_use = now;
            session.expires = now + idle;
        }
        Ok(WebSessionStatus::Valid(session))
    }

    /// Logout. An unknown token is not an error (the session is gone either way).
    pub fn web_session_delete(&self, interface: WebInterface, token: &str) -> Result<()> {
        if let Some(th) = token_hash(token) {
            let conn = lock(&self.system.writer);
            conn.execute(
                "DELETE FROM web_sessions WHERE token_hash = ?1 AND interface = ?2",
                rusqlite::params![th, interface_name(interface)],
            )?;
        }
        Ok(())
    }

    /// The live sessions of an owner, most recently used first.
    pub fn web_session_list(
        &self,
        interface: WebInterface,
        account: Option<&str>,
    ) -> Result<Vec<WebSession>> {
        let account = owner(interface, account)?;
        let conn = lock(&self.system.reader);
        let mut stmt = conn.prepare(&format!(
            "SELECT {SESSION_COLUMNS} FROM web_sessions
             WHERE interface = ?1 AND account IS ?2 AND expires >= ?3
             ORDER BY last_use DESC, id DESC"
        ))?;
        let rows = stmt.query_map(
            rusqlite::params![interface_name(interface), account, unix_now()],
            session_row,
        )?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// Ends every session of an owner except the one with `keep_token`.
    pub fn web_session_delete_others(
        &self,
        interface: WebInterface,
        account: Option<&str>,
        keep_token: &str,
    ) -> Result<()> {
        let account = owner(interface, account)?;
        let keep = token_hash(keep_token);
        let conn = lock(&self.system.writer);
        conn.execute(
            "DELETE FROM web_sessions WHERE interface = ?1 AND account IS ?2 AND token_hash IS NOT ?3",
            rusqlite::params![interface_name(interface), account, keep],
        )?;
        Ok(())
    }

    /// A password change from the account's own web session: every other
    /// session of the account ends, the one that made the change stays.
    pub fn set_password_keep_session(
        &self,
        account: &str,
        password: &str,
        keep_token: &str,
    ) -> Result<()> {
        self.set_password_keeping(account, password, token_hash(keep_token))
    }

    /// Sets the admin password and ends every admin session.
    pub fn admin_password_set(&self, password: &str) -> Result<()> {
        if password.is_empty() || password.len() > crate::MAX_PASSWORD_LEN {
            return Err(StoreError::invalid(format!(
                "password must be 1 to {} bytes",
                crate::MAX_PASSWORD_LEN
            )));
        }
        let salt = scram::new_salt();
        let keys = scram::derive(
            ScramMechanism::Sha256,
            password.as_bytes(),
            &salt,
            ADMIN_PASSWORD_ITERATIONS,
        );
        let mut conn = lock(&self.system.writer);
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        tx.execute(
            "INSERT OR REPLACE INTO admin_password (id, salt, iterations, hash) VALUES (1, ?1, ?2, ?3)",
            rusqlite::params![salt, ADMIN_PASSWORD_ITERATIONS, keys.stored_key],
        )?;
        tx.execute("DELETE FROM web_sessions WHERE interface = 'admin'", [])?;
        tx.commit()?;
        Ok(())
    }

    /// Whether `password` is the admin password (false when none is set,
    /// after the same work).
    pub fn admin_password_verify(&self, password: &str) -> Result<bool> {
        let row: Option<(Vec<u8>, u32, Vec<u8>)> = {
            let conn = lock(&self.system.reader);
            conn.query_row(
                "SELECT salt, iterations, hash FROM admin_password WHERE id = 1",
                [],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
            )
            .optional()?
        };
        let mech = ScramMechanism::Sha256;
        match row {
            Some((salt, iterations, hash)) => {
                let keys = scram::derive(mech, password.as_bytes(), &salt, iterations);
                Ok(scram::constant_time_eq(&keys.stored_key, &hash))
            }
            None => {
                let dummy = scram::derive(
                    mech,
                    password.as_bytes(),
                    DUMMY_SALT,
                    ADMIN_PASSWORD_ITERATIONS,
                );
                std::hint::black_box(dummy);
                Ok(false)
            }
        }
    }

    /// Records a web login attempt for the account `login` names; logins
    /// naming no account are not recorded.
    pub fn login_attempt_add(
        &self,
        login: &str,
        remote_ip: &str,
        user_agent: &str,
        success: bool,
    ) -> Result<()> {
        let Some(account) = self.login_account(login)? else {
            return Ok(());
        };
        let mut conn = lock(&self.system.writer);
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        tx.execute(
            "INSERT INTO login_attempts (account, time, remote_ip, user_agent, success)
             VALUES (?1, ?2, ?3, ?4, ?5)",
            rusqlite::params![
                account,
                unix_now(),
                clip(remote_ip, MAX_REMOTE_IP),
                clip(user_agent, MAX_USER_AGENT),
                success
            ],
        )?;
        tx.execute(
            "DELETE FROM login_attempts WHERE id IN (
                SELECT id FROM login_attempts WHERE account = ?1
                ORDER BY id DESC LIMIT -1 OFFSET ?2)",
            rusqlite::params![account, MAX_LOGIN_ATTEMPTS],
        )?;
        tx.commit()?;
        Ok(())
    }

    /// An account's recorded login attempts, newest first.
    pub fn login_attempt_list(&self, account: &str) -> Result<Vec<LoginAttempt>> {
        names::account_name(account)?;
        let conn = lock(&self.system.reader);
        let mut stmt = conn.prepare(
            "SELECT time, remote_ip, user_agent, success FROM login_attempts
             WHERE account = ?1 ORDER BY id DESC",
        )?;
        let rows = stmt.query_map([account], |r| {
            Ok(LoginAttempt {
                time: r.get(0)?,
                remote_ip: r.get(1)?,
                user_agent: r.get(2)?,
                success: r.get(3)?,
            })
        })?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// The account a login (address or account name) names, if any.
    fn login_account(&self, login: &str) -> Result<Option<String>> {
        if login.contains('@') {
            match names::Address::parse(login) {
                Ok(addr) => self.address_account(&addr),
                Err(_) => Ok(None),
            }
        } else if names::account_name(login).is_ok() && self.account_exists(login)? {
            Ok(Some(login.to_string()))
        } else {
            Ok(None)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn store() -> (tempfile::TempDir, Store) {
        let dir = tempfile::tempdir().unwrap();
        let s = Store::open(dir.path()).unwrap();
        s.domain_add("example.org").unwrap();
        s.account_add("alice", "alice@example.org").unwrap();
        s.account_add("bob", "bob@example.org").unwrap();
        (dir, s)
    }

    fn valid(st: WebSessionStatus) -> WebSession {
        match st {
            WebSessionStatus::Valid(s) => s,
            other => panic!("expected a valid session, got {other:?}"),
        }
    }

    const DAY: u64 = 86_400;

    #[test]
    fn tokens_are_random_and_only_hashes_are_stored() {
        let (_d, s) = store();
        let a = s
            .web_session_create(WebInterface::Account, Some("alice"), DAY, "192.0.2.1", "ua")
            .unwrap();
        let b = s
            .web_session_create(WebInterface::Account, Some("alice"), DAY, "192.0.2.1", "ua")
            .unwrap();
        assert_eq!(a.token.len(), TOKEN_LEN);
        assert_ne!(a.token, b.token);
        assert_ne!(a.token, a.csrf);
        let conn = lock(&s.system.reader);
        let (th, ch): (Vec<u8>, Vec<u8>) = conn
            .query_row(
                "SELECT token_hash, csrf_hash FROM web_sessions WHERE id = ?1",
                [a.id],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .unwrap();
        assert_eq!(th, Sha256::digest(a.token.as_bytes()).to_vec());
        assert_eq!(ch, Sha256::digest(a.csrf.as_bytes()).to_vec());
        // No column holds the raw token.
        let raw: i64 = conn
            .query_row(
                "SELECT COUNT(*) FROM web_sessions WHERE CAST(token_hash AS TEXT) = ?1 OR remote_ip = ?1 OR user_agent = ?1",
                [&a.token],
                |r| r.get(0),
            )
            .unwrap();
        assert_eq!(raw, 0);
    }

    #[test]
    fn check_distinguishes_valid_invalid_and_bad_csrf() {
        let (_d, s) = store();
        let a = s
            .web_session_create(WebInterface::Account, Some("alice"), DAY, "192.0.2.1", "ua")
            .unwrap();
        let b = s
            .web_session_create(WebInterface::Account, Some("bob"), DAY, "192.0.2.1", "ua")
            .unwrap();
        let ok = valid(
            s.web_session_check(WebInterface::Account, &a.token, Some(&a.csrf), true)
                .unwrap(),
        );
        assert_eq!(ok.account.as_deref(), Some("alice"));
        assert_eq!(ok.id, a.id);
        // Another session's CSRF token, a made-up one, none at all.
        for csrf in [b.csrf.as_str(), "x", &"A".repeat(TOKEN_LEN)] {
            assert_eq!(
                s.web_session_check(WebInterface::Account, &a.token, Some(csrf), true)
                    .unwrap(),
                WebSessionStatus::BadCsrf
            );
        }
        valid(
            s.web_session_check(WebInterface::Account, &a.token, None, false)
                .unwrap(),
        );
        // Unknown or malformed tokens, and the right token at the wrong interface.
        for t in ["", "nope", &"A".repeat(TOKEN_LEN), &a.csrf] {
            assert_eq!(
                s.web_session_check(WebInterface::Account, t, None, false)
                    .unwrap(),
                WebSessionStatus::Invalid
            );
        }
        assert_eq!(
            s.web_session_check(WebInterface::Admin, &a.token, None, false)
                .unwrap(),
            WebSessionStatus::Invalid
        );
    }

    #[test]
    fn expired_sessions_are_invalid_and_removed() {
        let (_d, s) = store();
        let a = s
            .web_session_create(WebInterface::Account, Some("alice"), DAY, "192.0.2.1", "ua")
            .unwrap();
        {
            let conn = lock(&s.system.writer);
            conn.execute(
                "UPDATE web_sessions SET last_use = last_use - 90000, expires = expires - 90000 WHERE id = ?1",
                [a.id],
            )
            .unwrap();
        }
        assert_eq!(
            s.web_session_check(WebInterface::Account, &a.token, None, true)
                .unwrap(),
            WebSessionStatus::Invalid
        );
        let n: i64 = lock(&s.system.reader)
            .query_row("SELECT COUNT(*) FROM web_sessions", [], |r| r.get(0))
            .unwrap();
        assert_eq!(n, 0, "the expired session was removed");
    }

    #[test]
    fn touch_extends_the_session() {
        let (_d, s) = store();
        let a = s
            .web_session_create(WebInterface::Admin, None, 3600, "192.0.2.1", "ua")
            .unwrap();
        {
            let conn = lock(&s.system.writer);
            conn.execute(
                "UPDATE web_sessions SET last_use = last_use - 3000, expires = expires - 3000",
                [],
            )
            .unwrap();
        }
        let before = valid(
            s.web_session_check(WebInterface::Admin, &a.token, None, false)
                .unwrap(),
        );
        let now = unix_now();
        assert!(before.expires <= now + 600, "{before:?}");
        let after = valid(
            s.web_session_check(WebInterface::Admin, &a.token, None, true)
                .unwrap(),
        );
        assert!(after.expires >= now + 3600, "{after:?}");
        assert!(after.last_use >= now);
        let listed = s.web_session_list(WebInterface::Admin, None).unwrap();
        assert_eq!(listed.len(), 1);
        assert_eq!(listed[0].expires, after.expires, "the extension is stored");
    }

    #[test]
    fn cap_drops_the_oldest() {
        let (_d, s) = store();
        let mut tokens = Vec::new();
        for i in 0..(MAX_ADMIN_SESSIONS + 2) {
            let n = s
                .web_session_create(
                    WebInterface::Admin,
                    None,
                    DAY,
                    &format!("192.0.2.{i}"),
                    "ua",
                )
                .unwrap();
            {
                // Distinct last-use times: older sessions were used earlier.
                let conn = lock(&s.system.writer);
                conn.execute(
                    "UPDATE web_sessions SET last_use = last_use - 1000 + ?1 WHERE id = ?2",
                    [i, n.id],
                )
                .unwrap();
            }
            tokens.push(n.token);
        }
        let listed = s.web_session_list(WebInterface::Admin, None).unwrap();
        assert_eq!(listed.len() as i64, MAX_ADMIN_SESSIONS);
        for (i, t) in tokens.iter().enumerate() {
            let st = s
                .web_session_check(WebInterface::Admin, t, None, false)
                .unwrap();
            if i < 2 {
                assert_eq!(st, WebSessionStatus::Invalid, "session {i} was dropped");
            } else {
                valid(st);
            }
        }
        // Bob's and alice's sessions do not count against each other.
        s.web_session_create(WebInterface::Account, Some("bob"), DAY, "ip", "ua")
            .unwrap();
        assert_eq!(
            s.web_session_list(WebInterface::Account, Some("bob"))
                .unwrap()
                .len(),
            1
        );
    }

    #[test]
    fn logout_and_delete_others() {
        let (_d, s) = store();
        let mk = |acc: &str| {
            s.web_session_create(WebInterface::Account, Some(acc), DAY, "ip", "ua")
                .unwrap()
        };
        let (a1, a2, a3, b1) = (mk("alice"), mk("alice"), mk("alice"), mk("bob"));
        s.web_session_delete(WebInterface::Account, &a3.token)
            .unwrap();
        assert_eq!(
            s.web_session_check(WebInterface::Account, &a3.token, None, false)
                .unwrap(),
            WebSessionStatus::Invalid
        );
        s.web_session_delete(WebInterface::Account, "garbage")
            .unwrap();
        s.web_session_delete_others(WebInterface::Account, Some("alice"), &a1.token)
            .unwrap();
        valid(
            s.web_session_check(WebInterface::Account, &a1.token, None, false)
                .unwrap(),
        );
        assert_eq!(
            s.web_session_check(WebInterface::Account, &a2.token, None, false)
                .unwrap(),
            WebSessionStatus::Invalid
        );
        valid(
            s.web_session_check(WebInterface::Account, &b1.token, None, false)
                .unwrap(),
        );
    }

    #[test]
    fn password_changes_end_sessions() {
        let (_d, s) = store();
        let mk = |acc: &str| {
            s.web_session_create(WebInterface::Account, Some(acc), DAY, "ip", "ua")
                .unwrap()
        };
        let (a1, a2, b1) = (mk("alice"), mk("alice"), mk("bob"));
        s.set_password_keep_session("alice", "new secret", &a1.token)
            .unwrap();
        assert_eq!(
            s.verify_password("alice@example.org", "new secret")
                .unwrap(),
            Some("alice".into())
        );
        valid(
            s.web_session_check(WebInterface::Account, &a1.token, None, false)
                .unwrap(),
        );
        assert_eq!(
            s.web_session_check(WebInterface::Account, &a2.token, None, false)
                .unwrap(),
            WebSessionStatus::Invalid
        );
        // A plain password change (administrator) ends them all.
        s.set_password("alice", "other").unwrap();
        assert_eq!(
            s.web_session_check(WebInterface::Account, &a1.token, None, false)
                .unwrap(),
            WebSessionStatus::Invalid
        );
        valid(
            s.web_session_check(WebInterface::Account, &b1.token, None, false)
                .unwrap(),
        );
        // Deleting an account ends its sessions.
        s.account_del("bob").unwrap();
        assert_eq!(
            s.web_session_check(WebInterface::Account, &b1.token, None, false)
                .unwrap(),
            WebSessionStatus::Invalid
        );
    }

    #[test]
    fn owners_are_checked() {
        let (_d, s) = store();
        assert!(
            s.web_session_create(WebInterface::Account, None, DAY, "ip", "ua")
                .is_err()
        );
        assert!(
            s.web_session_create(WebInterface::Admin, Some("alice"), DAY, "ip", "ua")
                .is_err()
        );
        let e = s
            .web_session_create(WebInterface::Account, Some("nobody"), DAY, "ip", "ua")
            .unwrap_err();
        assert_eq!(e.kind, ipc::store::StoreErrorKind::NotFound);
    }

    #[test]
    fn admin_password() {
        let (_d, s) = store();
        assert!(!s.admin_password_verify("anything").unwrap(), "none set");
        let sess = s
            .web_session_create(WebInterface::Admin, None, DAY, "ip", "ua")
            .unwrap();
        s.admin_password_set("moxadmin").unwrap();
        assert!(s.admin_password_verify("moxadmin").unwrap());
        assert!(!s.admin_password_verify("moxadmin ").unwrap());
        assert!(!s.admin_password_verify("").unwrap());
        assert_eq!(
            s.web_session_check(WebInterface::Admin, &sess.token, None, false)
                .unwrap(),
            WebSessionStatus::Invalid,
            "setting the admin password ends admin sessions"
        );
        let conn = lock(&s.system.reader);
        let (iters, hash): (u32, Vec<u8>) = conn
            .query_row("SELECT iterations, hash FROM admin_password", [], |r| {
                Ok((r.get(0)?, r.get(1)?))
            })
            .unwrap();
        assert_eq!(iters, ADMIN_PASSWORD_ITERATIONS);
        assert_eq!(hash.len(), 32);
        assert!(!hash.windows(8).any(|w| w == b"moxadmin"));
        drop(conn);
        assert!(s.admin_password_set("").is_err());
    }

    #[test]
    fn login_attempts_are_kept_per_account_newest_first() {
        let (_d, s) = store();
        s.login_attempt_add("alice@example.org", "192.0.2.1", "ua1", false)
            .unwrap();
        s.login_attempt_add("ALICE@example.org", "192.0.2.2", &"u".repeat(1000), true)
            .unwrap();
        s.login_attempt_add("nobody@example.org", "192.0.2.3", "ua", false)
            .unwrap();
        s.login_attempt_add("bob", "192.0.2.4", "ua", true).unwrap();
        let a = s.login_attempt_list("alice").unwrap();
        assert_eq!(a.len(), 2);
        assert!(a[0].success && !a[1].success);
        assert_eq!(a[0].remote_ip, "192.0.2.2");
        assert_eq!(a[0].user_agent.len(), MAX_USER_AGENT);
        assert_eq!(s.login_attempt_list("bob").unwrap().len(), 1);
        for i in 0..(MAX_LOGIN_ATTEMPTS + 5) {
            s.login_attempt_add("bob", &format!("10.0.0.{i}"), "ua", false)
                .unwrap();
        }
        let b = s.login_attempt_list("bob").unwrap();
        assert_eq!(b.len() as i64, MAX_LOGIN_ATTEMPTS);
        assert_eq!(b[0].remote_ip, format!("10.0.0.{}", MAX_LOGIN_ATTEMPTS + 4));
    }
}
