//! Storage limits per account (RFC 9208 QUOTA, resource STORAGE): the sum
//! of the sizes of an account's messages against its own limit
//! (`accounts.quota`) or the configured default. Deliveries, APPENDs and
//! COPYs that would exceed it are refused as `OverQuota`; MOVE and
//! expunges never are.

use ipc::store::StoreErrorKind;
use rusqlite::OptionalExtension;

use crate::account::Account;
use crate::db::lock;
use crate::error::{Result, StoreError};
use crate::names;
use crate::store::Store;

impl Store {
    /// The limit of accounts without their own (None: unlimited).
    pub fn set_default_quota(&self, limit: Option<u64>) {
        *self
            .default_quota
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = limit;
    }

    /// Octets used by the account's messages and its limit.
    pub fn quota(&self, account: &str) -> Result<(u64, Option<u64>)> {
        let acc = self.account(account)?;
        Ok((used(&acc)?, self.limit(account)?))
    }

    /// Sets (or, with None, removes) the account's own limit.
    pub fn quota_set(&self, account: &str, limit: Option<u64>) -> Result<()> {
        names::account_name(account)?;
        let limit = limit
            .map(|l| {
                i64::try_from(l).map_err(|_| StoreError::invalid("quota larger than 2^63 octets"))
            })
            .transpose()?;
        let conn = lock(&self.system.writer);
        let n = conn.execute(
            "UPDATE accounts SET quota = ?1 WHERE name = ?2",
            rusqlite::params![limit, account],
        )?;
        if n == 0 {
            return Err(StoreError::not_found(format!("no account {account}")));
        }
        Ok(())
    }

    fn limit(&self, account: &str) -> Result<Option<u64>> {
        let own: Option<Option<i64>> = lock(&self.system.reader)
            .query_row(
                "SELECT quota FROM accounts WHERE name = ?1",
                [account],
                |r| r.get(0),
            )
            .optional()?;
        Ok(match own.flatten() {
            Some(l) => Some(u64::try_from(l).unwrap_or(0)),
            None => *self
                .default_quota
                .read()
                .unwrap_or_else(std::sync::PoisonError::into_inner),
        })
    }

    /// Refuses adding `add` octets when that would exceed the limit.
    pub(crate) fn check_quota(&self, acc: &Account, add: u64) -> Result<()> {
        let Some(limit) = self.limit(&acc.name)? else {
            return Ok(());
        };
        let used = used(acc)?;
        if used.saturating_add(add) > limit {
            return Err(StoreError::new(
                StoreErrorKind::OverQuota,
                format!(
                    "account {} would exceed its storage limit ({used} of {limit} octets used)",
                    acc.name
                ),
            ));
        }
        Ok(())
    }
}

/// The sum of the mailboxes' sizes (kept in their rows, counters.rs).
fn used(acc: &Account) -> Result<u64> {
    acc.read(|c| {
        let n: i64 = c
            .prepare_cached("SELECT COALESCE(SUM(msg_size), 0) FROM mailboxes")?
            .query_row([], |r| r.get(0))?;
        Ok(u64::try_from(n).unwrap_or(0))
    })
}
