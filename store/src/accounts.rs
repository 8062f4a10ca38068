//! Domains, accounts and addresses in system.db, recipient resolution and
//! the catch-all account. Creating an account creates its directory and
//! index.db with the default mailboxes; deleting one removes its addresses,
//! credentials and directory.

use ipc::config::DomainsDecl;
use ipc::store::AccountInfo;
use rusqlite::{Connection, OptionalExtension, TransactionBehavior};

use crate::account::Account;
use crate::db::lock;
use crate::error::{IoContext, Result, StoreError};
use crate::names::{self, Address};
use crate::store::{Store, unix_now};

impl Store {
    pub fn domain_add(&self, domain: &str) -> Result<()> {
        let domain = names::domain(domain)?;
        let conn = lock(&self.system.writer);
        conn.execute(
            "INSERT INTO domains (name, created) VALUES (?1, ?2)",
            rusqlite::params![domain, unix_now()],
        )
        .map_err(|e| match StoreError::from(e) {
            err if err.kind == ipc::store::StoreErrorKind::Exists => {
                StoreError::exists(format!("domain {domain} exists"))
            }
            err => err,
        })?;
        Ok(())
    }

    /// Removes a domain that no address uses any more.
    pub fn domain_del(&self, domain: &str) -> Result<()> {
        let domain = names::domain(domain)?;
        let mut conn = lock(&self.system.writer);
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let used: i64 = tx.query_row(
            "SELECT COUNT(*) FROM addresses WHERE domain = ?1",
            [&domain],
            |r| r.get(0),
        )?;
        if used > 0 {
            return Err(StoreError::invalid(format!(
                "domain {domain} still has {used} addresses"
            )));
        }
        if tx.execute("DELETE FROM domains WHERE name = ?1", [&domain])? == 0 {
            return Err(StoreError::not_found(format!("no domain {domain}")));
        }
        tx.commit()?;
        Ok(())
    }

    pub fn domain_list(&self) -> Result<Vec<String>> {
        let conn = lock(&self.system.reader);
        let mut stmt = conn.prepare("SELECT name FROM domains ORDER BY name")?;
        let rows = stmt.query_map([], |r| r.get(0))?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// Creates an account with its first address (whose domain must exist),
    /// its directory and its database with the default mailboxes.
    pub fn account_add(&self, name: &str, first_address: &str) -> Result<()> {
        self.create_account(name, Some(first_address))
    }

    fn create_account(&self, name: &str, address: Option<&str>) -> Result<()> {
        names::account_name(name)?;
        let address = address.map(Address::parse).transpose()?;
        let mut cache = lock(&self.accounts);
        let mut conn = lock(&self.system.writer);
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        if account_exists(&tx, name)? {
            return Err(StoreError::exists(format!("account {name} exists")));
        }
        tx.execute(
            "INSERT INTO accounts (name, created) VALUES (?1, ?2)",
            rusqlite::params![name, unix_now()],
        )?;
        if let Some(addr) = &address {
            insert_address(&tx, addr, name)?;
        }
        // A directory without an account row is left by an account creation
        // that did not commit; it holds nothing delivered.
        let dir = self.layout.account_dir(name);
        if dir.exists() {
            tracing::warn!(account = name, "removing stale account directory");
            let aside = self.layout.tmp().join(self.tmp_name("stale-account"));
            std::fs::rename(&dir, &aside).ctx(|| format!("move {} aside", dir.display()))?;
            std::fs::remove_dir_all(&aside).ctx(|| format!("remove {}", aside.display()))?;
        }
        let created = Account::open(&self.layout, name, true).and_then(|acc| {
            tx.commit()?;
            Ok(acc)
        });
        match created {
            Ok(acc) => {
                cache.insert(acc);
                Ok(())
            }
            Err(e) => {
                if let Err(rm) = std::fs::remove_dir_all(&dir) {
                    tracing::warn!(account = name, error = %rm, "removing directory of account not created");
                }
                Err(e)
            }
        }
    }

    /// Deletes an account: its addresses, credentials, mailboxes, messages
    /// and directory. Queued outbound messages stay.
    pub fn account_del(&self, name: &str) -> Result<()> {
        names::account_name(name)?;
        let mut cache = lock(&self.accounts);
        if let Some(acc) = cache.remove(name) {
            acc.mark_deleted();
        }
        let mut conn = lock(&self.system.writer);
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        // Addresses and credentials go by ON DELETE CASCADE.
        if tx.execute("DELETE FROM accounts WHERE name = ?1", [name])? == 0 {
            return Err(StoreError::not_found(format!("no account {name}")));
        }
        // Move the directory out of the way before the commit: a crash then
        // leaves either the account with no messages, or no account; tmp/ is
        // emptied at the next open.
        let dir = self.layout.account_dir(name);
        let aside = self.layout.tmp().join(self.tmp_name("deleted-account"));
        let moved = match std::fs::rename(&dir, &aside) {
            Ok(()) => true,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => false,
            Err(e) => return Err(StoreError::io(format!("move {} aside", dir.display()), e)),
        };
        if let Err(e) = tx.commit() {
            if moved && let Err(back) = std::fs::rename(&aside, &dir) {
                tracing::error!(account = name, error = %back, "moving account directory back");
            }
            return Err(e.into());
        }
        if moved && let Err(e) = std::fs::remove_dir_all(&aside) {
            tracing::warn!(account = name, error = %e, "removing deleted account directory");
        }
        let mut catchall = self
            .catchall
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if catchall.as_deref() == Some(name) {
            tracing::warn!(account = name, "catch-all account deleted");
            *catchall = None;
        }
        Ok(())
    }

    /// All accounts with their addresses, message count and total size.
    pub fn account_list(&self) -> Result<Vec<AccountInfo>> {
        let names: Vec<String> = {
            let conn = lock(&self.system.reader);
            let mut stmt = conn.prepare("SELECT name FROM accounts ORDER BY name")?;
            let rows = stmt.query_map([], |r| r.get(0))?;
            rows.collect::<rusqlite::Result<_>>()?
        };
        let mut out = Vec::with_capacity(names.len());
        for name in names {
            let addresses = self.account_addresses(&name)?;
            let acc = self.account(&name)?;
            let (messages, size) = acc.read(|c| {
                let counts: (i64, i64) = c.query_row(
                    "SELECT COALESCE(SUM(msg_count), 0), COALESCE(SUM(msg_size), 0) FROM mailboxes",
                    [],
                    |r| Ok((r.get(0)?, r.get(1)?)),
                )?;
                Ok(counts)
            })?;
            out.push(AccountInfo {
                name,
                addresses,
                messages: u64::try_from(messages).unwrap_or(0),
                size: u64::try_from(size).unwrap_or(0),
            });
        }
        Ok(out)
    }

    fn account_addresses(&self, account: &str) -> Result<Vec<String>> {
        let conn = lock(&self.system.reader);
        let mut stmt =
            conn.prepare("SELECT address FROM addresses WHERE account = ?1 ORDER BY key")?;
        let rows = stmt.query_map([account], |r| r.get(0))?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// Adds an address (its domain must exist) to an existing account.
    pub fn address_add(&self, address: &str, account: &str) -> Result<()> {
        let addr = Address::parse(address)?;
        names::account_name(account)?;
        let mut conn = lock(&self.system.writer);
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        if !account_exists(&tx, account)? {
            return Err(StoreError::not_found(format!("no account {account}")));
        }
        insert_address(&tx, &addr, account)?;
        tx.commit()?;
        Ok(())
    }

    pub fn address_del(&self, address: &str) -> Result<()> {
        let addr = Address::parse(address)?;
        let conn = lock(&self.system.writer);
        if conn.execute("DELETE FROM addresses WHERE key = ?1", [addr.key()])? == 0 {
            return Err(StoreError::not_found(format!(
                "no address {}",
                addr.display()
            )));
        }
        Ok(())
    }

    /// The account that receives mail for `address`: the account the
    /// address belongs to (local part compared case-insensitively), else the
    /// catch-all account when one is set, else None.
    pub fn resolve_recipient(&self, address: &str) -> Result<Option<String>> {
        let addr = Address::parse(address)?;
        if let Some(account) = self.address_account(&addr)? {
            return Ok(Some(account));
        }
        Ok(self
            .catchall
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone())
    }

    /// Sets (or clears) the account that receives mail for every unknown
    /// recipient at any domain (localserve). Not persisted.
    pub fn set_catchall(&self, account: Option<String>) -> Result<()> {
        if let Some(name) = &account {
            names::account_name(name)?;
        }
        *self
            .catchall
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = account;
        Ok(())
    }

    pub(crate) fn address_account(&self, addr: &Address) -> Result<Option<String>> {
        let conn = lock(&self.system.reader);
        let account = conn
            .query_row(
                "SELECT account FROM addresses WHERE key = ?1",
                [addr.key()],
                |r| r.get(0),
            )
            .optional()?;
        Ok(account)
    }

    /// Adds the domains, accounts and addresses of domains.toml that the
    /// database lacks. Never deletes or moves anything: an address that
    /// belongs to another account stays there (with a warning). Everything is
    /// validated before anything is added.
    pub fn apply_declared(&self, decl: &DomainsDecl) -> Result<()> {
        let domains = decl
            .domains
            .iter()
            .map(|d| names::domain(d))
            .collect::<Result<Vec<_>>>()?;
        let mut accounts = Vec::with_capacity(decl.accounts.len());
        for acc in &decl.accounts {
            names::account_name(&acc.name)?;
            let addrs = acc
                .addresses
                .iter()
                .map(|a| Address::parse(a))
                .collect::<Result<Vec<_>>>()?;
            accounts.push((acc.name.as_str(), addrs));
        }
        let known = self.domain_list()?;
        for domain in &domains {
            if !known.contains(domain) {
                self.domain_add(domain)?;
                tracing::info!(domain, "domain added from configuration");
            }
        }
        for (name, addrs) in accounts {
            if !self.account_exists(name)? {
                self.create_account(name, None)?;
                tracing::info!(account = name, "account added from configuration");
            }
            for addr in addrs {
                match self.address_account(&addr)? {
                    None => self.address_add(&addr.display(), name)?,
                    Some(owner) if owner == name => {}
                    Some(owner) => tracing::warn!(
                        address = addr.display(),
                        declared = name,
                        owner,
                        "address declared for another account than the one it belongs to; left unchanged"
                    ),
                }
            }
        }
        Ok(())
    }
}

fn account_exists(conn: &Connection, name: &str) -> Result<bool> {
    Ok(conn
        .query_row("SELECT 1 FROM accounts WHERE name = ?1", [name], |_| Ok(()))
        .optional()?
        .is_some())
}

fn insert_address(conn: &Connection, addr: &Address, account: &str) -> Result<()> {
    let domain_known = conn
        .query_row(
            "SELECT 1 FROM domains WHERE name = ?1",
            [&addr.domain],
            |_| Ok(()),
        )
        .optional()?
        .is_some();
    if !domain_known {
        return Err(StoreError::not_found(format!("no domain {}", addr.domain)));
    }
    let taken: Option<String> = conn
        .query_row(
            "SELECT account FROM addresses WHERE key = ?1",
            [addr.key()],
            |r| r.get(0),
        )
        .optional()?;
    if let Some(owner) = taken {
        return Err(StoreError::exists(format!(
            "address {} belongs to account {owner}",
            addr.display()
        )));
    }
    conn.execute(
        "INSERT INTO addresses (key, address, domain, account) VALUES (?1, ?2, ?3, ?4)",
        rusqlite::params![addr.key(), addr.display(), addr.domain, account],
    )?;
    Ok(())
}
