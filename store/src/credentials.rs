//! Passwords: only salted SCRAM keys are stored (RFC 5802 §3), for
//! SCRAM-SHA-256 and SCRAM-SHA-1. A plain password (PLAIN/LOGIN) is checked
//! by deriving SCRAM-SHA-256 keys again and comparing StoredKey in constant
//! time. Unknown logins cost the same PBKDF2 work against a dummy salt, so
//! response time does not tell which logins exist.

use ipc::store::{ScramCredentials, ScramMechanism};
use rusqlite::{OptionalExtension, TransactionBehavior};

use crate::db::lock;
use crate::error::{Result, StoreError};
use crate::names::{self, Address};
use crate::scram::{self, Keys};
use crate::store::Store;

/// Longest password accepted, in bytes.
pub const MAX_PASSWORD_LEN: usize = 1024;

/// Salt used for the wasted work on unknown logins.
const DUMMY_SALT: &[u8; scram::SALT_LEN] = b"moxd-dummy-salt!";

const MECHANISMS: [ScramMechanism; 2] = [ScramMechanism::Sha256, ScramMechanism::Sha1];

impl Store {
    /// Derives and stores the salted keys of every SCRAM mechanism, with a
    /// fresh random salt each, and ends every web session of the account.
    pub fn set_password(&self, account: &str, password: &str) -> Result<()> {
        self.set_password_keeping(account, password, None)
    }

    /// `set_password`, keeping the web session whose token hashes to `keep`.
    pub(crate) fn set_password_keeping(
        &self,
        account: &str,
        password: &str,
        keep: Option<Vec<u8>>,
    ) -> Result<()> {
        names::account_name(account)?;
        if password.is_empty() || password.len() > MAX_PASSWORD_LEN {
            return Err(StoreError::invalid(format!(
                "password must be 1 to {MAX_PASSWORD_LEN} bytes"
            )));
        }
        // Derive before taking the lock: PBKDF2 is the slow part.
        let keys: Vec<(ScramMechanism, Keys)> = MECHANISMS
            .iter()
            .map(|&m| {
                (
                    m,
                    scram::derive(
                        m,
                        password.as_bytes(),
                        &scram::new_salt(),
                        scram::iterations(m),
                    ),
                )
            })
            .collect();
        let mut conn = lock(&self.system.writer);
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let exists = tx
            .query_row("SELECT 1 FROM accounts WHERE name = ?1", [account], |_| {
                Ok(())
            })
            .optional()?;
        if exists.is_none() {
            return Err(StoreError::not_found(format!("no account {account}")));
        }
        for (mech, k) in keys {
            tx.execute(
                "INSERT OR REPLACE INTO credentials (account, mechanism, salt, iterations, stored_key, server_key)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                rusqlite::params![account, scram::name(mech), k.salt, k.iterations, k.stored_key, k.server_key],
            )?;
        }
        // A new password ends the account's other web sessions (in the same
        // transaction: no window where the old sessions outlive it).
        tx.execute(
            "DELETE FROM web_sessions WHERE interface = 'account' AND account = ?1 AND token_hash IS NOT ?2",
            rusqlite::params![account, keep],
        )?;
        tx.commit()?;
        Ok(())
    }

    /// Checks a plain password for a login (an address or an account name);
    /// returns the account when it is right.
    pub fn verify_password(&self, login: &str, password: &str) -> Result<Option<String>> {
        let mech = ScramMechanism::Sha256;
        let Some(creds) = self.credentials(login, mech)? else {
            // The same work as a real check.
            let dummy = scram::derive(
                mech,
                password.as_bytes(),
                DUMMY_SALT,
                scram::iterations(mech),
            );
            std::hint::black_box(dummy);
            return Ok(None);
        };
        let keys = scram::derive(mech, password.as_bytes(), &creds.salt, creds.iterations);
        if scram::constant_time_eq(&keys.stored_key, &creds.stored_key) {
            Ok(Some(creds.account))
        } else {
            Ok(None)
        }
    }

    /// The stored keys a worker needs for a SCRAM exchange with `login`
    /// (None: unknown login or no password set).
    pub fn scram_credentials(
        &self,
        login: &str,
        mech: ScramMechanism,
    ) -> Result<Option<ScramCredentials>> {
        self.credentials(login, mech)
    }

    fn credentials(&self, login: &str, mech: ScramMechanism) -> Result<Option<ScramCredentials>> {
        let account = if login.contains('@') {
            match Address::parse(login) {
                Ok(addr) => self.address_account(&addr)?,
                Err(_) => None,
            }
        } else if names::account_name(login).is_ok() {
            Some(login.to_string())
        } else {
            None
        };
        let Some(account) = account else {
            return Ok(None);
        };
        let conn = lock(&self.system.reader);
        let row = conn
            .query_row(
                "SELECT salt, iterations, stored_key, server_key FROM credentials
                 WHERE account = ?1 AND mechanism = ?2",
                rusqlite::params![account, scram::name(mech)],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
            )
            .optional()?;
        Ok(row.map(
            |(salt, iterations, stored_key, server_key)| ScramCredentials {
                account,
                salt,
                iterations,
                stored_key,
                server_key,
            },
        ))
    }
}
