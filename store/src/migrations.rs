//! Versioned schema migrations. Each database kind has an ordered list of
//! SQL steps; `PRAGMA user_version` records how many were applied. Each step
//! runs in its own transaction together with the version bump, so a crash
//! leaves the database at a step boundary. A database newer than this
//! build knows is refused: an older moxd must not write to it.
//!
//! Append new steps at the end; never edit a step that has shipped.

use rusqlite::{Connection, TransactionBehavior};

use crate::error::{Result, StoreError};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DbKind {
    /// `data/system.db`: domains, addresses, accounts, credentials, queue.
    System,
    /// `data/accounts/NAME/index.db`: mailboxes, messages, modseq counter.
    Account,
}

impl DbKind {
    pub fn steps(self) -> &'static [&'static str] {
        match self {
            DbKind::System => SYSTEM_STEPS,
            DbKind::Account => ACCOUNT_STEPS,
        }
    }
}

const SYSTEM_STEPS: &[&str] = &[
    // 1: domains, accounts, addresses, credentials, outbound queue.
    r"
    CREATE TABLE domains (
        name TEXT PRIMARY KEY NOT NULL,
        created INTEGER NOT NULL
    ) STRICT;
    CREATE TABLE accounts (
        name TEXT PRIMARY KEY NOT NULL,
        created INTEGER NOT NULL
    ) STRICT;
    -- key: lower-cased localpart '@' domain, for case-insensitive lookup;
    -- address: localpart as given '@' lower-cased domain.
    CREATE TABLE addresses (
        key TEXT PRIMARY KEY NOT NULL,
        address TEXT NOT NULL,
        domain TEXT NOT NULL REFERENCES domains(name),
        account TEXT NOT NULL REFERENCES accounts(name) ON DELETE CASCADE
    ) STRICT;
    CREATE INDEX addresses_account ON addresses(account);
    CREATE INDEX addresses_domain ON addresses(domain);
    -- Salted SCRAM keys (RFC 5802 §3); never a plain password.
    CREATE TABLE credentials (
        account TEXT NOT NULL REFERENCES accounts(name) ON DELETE CASCADE,
        mechanism TEXT NOT NULL,
        salt BLOB NOT NULL,
        iterations INTEGER NOT NULL,
        stored_key BLOB NOT NULL,
        server_key BLOB NOT NULL,
        PRIMARY KEY (account, mechanism)
    ) STRICT;
    CREATE TABLE queue (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        account TEXT NOT NULL,
        mail_from TEXT NOT NULL,
        recipients TEXT NOT NULL,
        prefix BLOB NOT NULL,
        size INTEGER NOT NULL,
        queued INTEGER NOT NULL,
        next_attempt INTEGER NOT NULL,
        attempts INTEGER NOT NULL DEFAULT 0,
        last_attempt INTEGER,
        last_error TEXT,
        hold INTEGER NOT NULL DEFAULT 0,
        options TEXT NOT NULL
    ) STRICT;
    CREATE INDEX queue_next_attempt ON queue(next_attempt);
    ",
    // 2: per-recipient delivery state of queued messages. state: 0 pending,
    // 1 delivered, 2 failed. domain: the recipient's domain, lower-cased,
    // for `moxctl queue list --domain`. Existing rows get one pending
    // recipient row per address in their JSON list.
    r"
    CREATE TABLE queue_recipients (
        queue_id INTEGER NOT NULL REFERENCES queue(id) ON DELETE CASCADE,
        idx INTEGER NOT NULL,
        address TEXT NOT NULL,
        domain TEXT NOT NULL,
        state INTEGER NOT NULL DEFAULT 0,
        attempts INTEGER NOT NULL DEFAULT 0,
        next_attempt INTEGER NOT NULL,
        last_attempt INTEGER,
        last_error TEXT,
        delay_notified INTEGER NOT NULL DEFAULT 0,
        PRIMARY KEY (queue_id, idx)
    ) STRICT;
    CREATE INDEX queue_recipients_due ON queue_recipients(state, next_attempt);
    CREATE INDEX queue_recipients_domain ON queue_recipients(domain);
    INSERT INTO queue_recipients (queue_id, idx, address, domain, next_attempt)
        SELECT q.id, j.key, j.value,
               lower(substr(j.value, instr(j.value, '@') + 1)), q.next_attempt
        FROM queue q, json_each(q.recipients) j;
    ",
    // 3: per-account storage limit in octets (RFC 9208 QUOTA); NULL: the
    // configured default.
    r"
    ALTER TABLE accounts ADD COLUMN quota INTEGER;
    ",
    // 4: web interface login sessions (token and CSRF token kept only as
    // SHA-256 hashes; account NULL for the admin interface), the admin
    // password (salted PBKDF2-HMAC-SHA256) and recorded web login attempts.
    r"
    CREATE TABLE web_sessions (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        interface TEXT NOT NULL,
        account TEXT REFERENCES accounts(name) ON DELETE CASCADE,
        token_hash BLOB NOT NULL UNIQUE,
        csrf_hash BLOB NOT NULL,
        created INTEGER NOT NULL,
        last_use INTEGER NOT NULL,
        idle INTEGER NOT NULL,
        expires INTEGER NOT NULL,
        remote_ip TEXT NOT NULL,
        user_agent TEXT NOT NULL
    ) STRICT;
    CREATE INDEX web_sessions_owner ON web_sessions(interface, account, last_use);
    CREATE INDEX web_sessions_expires ON web_sessions(expires);
    CREATE TABLE admin_password (
        id INTEGER PRIMARY KEY CHECK (id = 1),
        salt BLOB NOT NULL,
        iterations INTEGER NOT NULL,
        hash BLOB NOT NULL
    ) STRICT;
    CREATE TABLE login_attempts (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        account TEXT NOT NULL REFERENCES accounts(name) ON DELETE CASCADE,
        time INTEGER NOT NULL,
        remote_ip TEXT NOT NULL,
        user_agent TEXT NOT NULL,
        success INTEGER NOT NULL
    ) STRICT;
    CREATE INDEX login_attempts_account ON login_attempts(account, id);
    ",
    // 5: DMARC: evaluations of received mail kept for the aggregate
    // reports moxd sends (row: the policy crate's JSON), and the aggregate
    // reports others send us (json: the whole report).
    r"
    CREATE TABLE dmarc_evaluations (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        received INTEGER NOT NULL,
        policy_domain TEXT NOT NULL,
        row TEXT NOT NULL
    ) STRICT;
    CREATE INDEX dmarc_evaluations_received ON dmarc_evaluations(received);
    CREATE TABLE dmarc_reports (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        received INTEGER NOT NULL,
        org_name TEXT NOT NULL,
        report_id TEXT NOT NULL,
        domain TEXT NOT NULL,
        begin INTEGER NOT NULL,
        end INTEGER NOT NULL,
        messages INTEGER NOT NULL,
        failed INTEGER NOT NULL,
        json TEXT NOT NULL,
        UNIQUE (org_name, report_id)
    ) STRICT;
    ",
];

const ACCOUNT_STEPS: &[&str] = &[
    // 1: mailboxes, messages, the account's single modseq counter,
    // subscriptions, and the default mailboxes (RFC 6154 special-use),
    // all subscribed. UIDVALIDITY starts at the current time so an account
    // deleted and created again never repeats one (RFC 9051 §2.3.1.1).
    r"
    CREATE TABLE sync_state (
        id INTEGER PRIMARY KEY CHECK (id = 1),
        last_modseq INTEGER NOT NULL,
        highest_deleted_modseq INTEGER NOT NULL,
        next_uidvalidity INTEGER NOT NULL
    ) STRICT;
    CREATE TABLE mailboxes (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        name TEXT NOT NULL UNIQUE,
        uidvalidity INTEGER NOT NULL,
        uidnext INTEGER NOT NULL,
        special_use TEXT,
        createseq INTEGER NOT NULL,
        modseq INTEGER NOT NULL
    ) STRICT;
    -- flags: bit set of system flags and well-known keywords (see flags.rs);
    -- keywords: other keywords, lower-cased, sorted, space-separated.
    -- expunged: tombstone kept for CONDSTORE/QRESYNC (RFC 7162 §3.2.10).
    CREATE TABLE messages (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        mailbox_id INTEGER NOT NULL REFERENCES mailboxes(id),
        uid INTEGER NOT NULL,
        modseq INTEGER NOT NULL,
        createseq INTEGER NOT NULL,
        expunged INTEGER NOT NULL DEFAULT 0,
        flags INTEGER NOT NULL DEFAULT 0,
        keywords TEXT NOT NULL DEFAULT '',
        size INTEGER NOT NULL,
        received INTEGER NOT NULL,
        save_date INTEGER NOT NULL,
        msg_prefix BLOB NOT NULL,
        UNIQUE (mailbox_id, uid)
    ) STRICT;
    CREATE INDEX messages_mailbox_modseq ON messages(mailbox_id, modseq);
    CREATE TABLE subscriptions (
        name TEXT PRIMARY KEY NOT NULL
    ) STRICT;
    INSERT INTO sync_state (id, last_modseq, highest_deleted_modseq, next_uidvalidity)
        VALUES (1, 1, 0, CAST(strftime('%s', 'now') AS INTEGER));
    INSERT INTO mailboxes (name, uidvalidity, uidnext, special_use, createseq, modseq)
        SELECT d.name, s.next_uidvalidity + d.n, 1, d.special_use, 1, 1
        FROM sync_state s,
            (SELECT 0 AS n, 'Inbox' AS name, NULL AS special_use
             UNION ALL SELECT 1, 'Sent', '\Sent'
             UNION ALL SELECT 2, 'Drafts', '\Drafts'
             UNION ALL SELECT 3, 'Junk', '\Junk'
             UNION ALL SELECT 4, 'Trash', '\Trash'
             UNION ALL SELECT 5, 'Archive', '\Archive') d
        ORDER BY d.n;
    UPDATE sync_state SET next_uidvalidity = next_uidvalidity + 6;
    INSERT INTO subscriptions (name) SELECT name FROM mailboxes;
    ",
    // 2: the message structure computed by the delivering worker (opaque
    // to the store), and expunge tombstones by modseq for QRESYNC.
    r"
    ALTER TABLE messages ADD COLUMN parsed BLOB;
    CREATE INDEX messages_mailbox_uid_live ON messages(mailbox_id, expunged, uid);
    ",
    // 3: a mailbox's counts kept in its row (counters.rs: changed in the
    // transaction of every change of its messages), the keywords ever set
    // in it (its FLAGS; space-separated, readers sort and deduplicate),
    // the first UID no IMAP session has claimed as \Recent (RFC 3501
    // §2.3.2; messages stored before this step count as claimed), and the
    // unseen messages by UID for SELECT's first UNSEEN. `(flags & 1)` is
    // \Seen, `(flags & 8)` \Deleted (flags.rs); the first-unseen query
    // names the partial index (INDEXED BY fails unless its terms imply
    // the index's WHERE). The messages' metadata by UID becomes a covering
    // index (it replaces the one of step 2, its prefix): FETCH FLAGS of a
    // whole mailbox reads it instead of every row, whose blobs make it
    // about 20 times larger.
    r"
    ALTER TABLE mailboxes ADD COLUMN msg_count INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE mailboxes ADD COLUMN unseen_count INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE mailboxes ADD COLUMN deleted_count INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE mailboxes ADD COLUMN msg_size INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE mailboxes ADD COLUMN keywords TEXT NOT NULL DEFAULT '';
    ALTER TABLE mailboxes ADD COLUMN first_unclaimed_uid INTEGER NOT NULL DEFAULT 1;
    UPDATE mailboxes SET
        msg_count = (SELECT COUNT(*) FROM messages x
                     WHERE x.mailbox_id = mailboxes.id AND x.expunged = 0),
        unseen_count = (SELECT COUNT(*) FROM messages x
                        WHERE x.mailbox_id = mailboxes.id AND x.expunged = 0 AND (x.flags & 1) = 0),
        deleted_count = (SELECT COUNT(*) FROM messages x
                         WHERE x.mailbox_id = mailboxes.id AND x.expunged = 0 AND (x.flags & 8) != 0),
        msg_size = (SELECT COALESCE(SUM(x.size), 0) FROM messages x
                    WHERE x.mailbox_id = mailboxes.id AND x.expunged = 0),
        keywords = (SELECT COALESCE(group_concat(k, ' '), '') FROM
                      (SELECT DISTINCT x.keywords AS k FROM messages x
                       WHERE x.mailbox_id = mailboxes.id AND x.expunged = 0 AND x.keywords != '')),
        first_unclaimed_uid = uidnext;
    CREATE INDEX messages_unseen ON messages(mailbox_id, uid)
        WHERE expunged = 0 AND (flags & 1) = 0;
    CREATE INDEX messages_meta ON messages(mailbox_id, expunged, uid,
        modseq, flags, keywords, size, received, save_date);
    DROP INDEX messages_mailbox_uid_live;
    ",
];

/// Applies the missing steps of `kind` to `conn`; returns the version reached.
pub fn migrate(conn: &mut Connection, kind: DbKind) -> Result<u32> {
    let steps = kind.steps();
    let known = u32::try_from(steps.len())
        .map_err(|_| StoreError::temporary("too many migration steps"))?;
    loop {
        // IMMEDIATE: take the write lock before reading the version, so two
        // openers cannot both apply the same step.
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let version: u32 = tx.query_row("PRAGMA user_version", [], |r| r.get(0))?;
        if version > known {
            return Err(StoreError::invalid(format!(
                "{kind:?} database has schema version {version}, this moxd knows up to {known}"
            )));
        }
        if version == known {
            return Ok(version);
        }
        let step = steps
            .get(version as usize)
            .ok_or_else(|| StoreError::temporary("missing migration step"))?;
        tx.execute_batch(step).map_err(|e| {
            StoreError::temporary(format!("{kind:?} database migration {}: {e}", version + 1))
        })?;
        tx.pragma_update(None, "user_version", version + 1)?;
        tx.commit()?;
        tracing::info!(?kind, version = version + 1, "database migrated");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn version(conn: &Connection) -> u32 {
        conn.query_row("PRAGMA user_version", [], |r| r.get(0))
            .unwrap()
    }

    #[test]
    fn migrations_apply_once_and_are_idempotent() {
        for kind in [DbKind::System, DbKind::Account] {
            let dir = tempfile::tempdir().unwrap();
            let path = dir.path().join("x.db");
            let mut conn = Connection::open(&path).unwrap();
            assert_eq!(migrate(&mut conn, kind).unwrap(), kind.steps().len() as u32);
            assert_eq!(version(&conn), kind.steps().len() as u32);
            drop(conn);
            let mut conn = Connection::open(&path).unwrap();
            assert_eq!(migrate(&mut conn, kind).unwrap(), kind.steps().len() as u32);
            if kind == DbKind::Account {
                let n: i64 = conn
                    .query_row("SELECT COUNT(*) FROM mailboxes", [], |r| r.get(0))
                    .unwrap();
                assert_eq!(n, 6, "default mailboxes inserted exactly once");
            }
        }
    }

    #[test]
    fn default_mailboxes_have_distinct_uidvalidity_and_special_use() {
        let mut conn = Connection::open_in_memory().unwrap();
        migrate(&mut conn, DbKind::Account).unwrap();
        let mut stmt = conn
            .prepare("SELECT name, uidvalidity, special_use FROM mailboxes ORDER BY id")
            .unwrap();
        let rows: Vec<(String, i64, Option<String>)> = stmt
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
            .unwrap()
            .map(|r| r.unwrap())
            .collect();
        let names: Vec<&str> = rows.iter().map(|r| r.0.as_str()).collect();
        assert_eq!(
            names,
            ["Inbox", "Sent", "Drafts", "Junk", "Trash", "Archive"]
        );
        assert_eq!(rows[1].2.as_deref(), Some("\\Sent"));
        assert_eq!(rows[0].2, None);
        for w in rows.windows(2) {
            assert_eq!(w[1].1, w[0].1 + 1);
        }
        let next: i64 = conn
            .query_row("SELECT next_uidvalidity FROM sync_state", [], |r| r.get(0))
            .unwrap();
        assert_eq!(next, rows[5].1 + 1);
        let subs: i64 = conn
            .query_row("SELECT COUNT(*) FROM subscriptions", [], |r| r.get(0))
            .unwrap();
        assert_eq!(subs, 6);
    }

    #[test]
    fn queue_rows_get_recipient_rows() {
        let mut conn = Connection::open_in_memory().unwrap();
        conn.execute_batch(SYSTEM_STEPS[0]).unwrap();
        conn.pragma_update(None, "user_version", 1).unwrap();
        conn.execute(
            "INSERT INTO queue (account, mail_from, recipients, prefix, size, queued, next_attempt, options)
             VALUES ('a', 'a@x.example', '[\"b@Y.example\",\"c@z.example\"]', x'', 1, 10, 20, '{}')",
            [],
        )
        .unwrap();
        migrate(&mut conn, DbKind::System).unwrap();
        let mut stmt = conn
            .prepare("SELECT idx, address, domain, state, next_attempt FROM queue_recipients ORDER BY idx")
            .unwrap();
        let rows: Vec<(u32, String, String, i64, i64)> = stmt
            .query_map([], |r| {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?))
            })
            .unwrap()
            .map(|r| r.unwrap())
            .collect();
        assert_eq!(
            rows,
            [
                (0, "b@Y.example".into(), "y.example".into(), 0, 20),
                (1, "c@z.example".into(), "z.example".into(), 0, 20)
            ]
        );
    }

    #[test]
    fn mailbox_counts_are_filled_for_existing_messages() {
        let mut conn = Connection::open_in_memory().unwrap();
        for (i, step) in ACCOUNT_STEPS[..2].iter().enumerate() {
            conn.execute_batch(step).unwrap();
            conn.pragma_update(None, "user_version", i + 1).unwrap();
        }
        // Inbox (id 1): seen+kw, unseen, deleted+kw, and an expunged one.
        conn.execute_batch(
            "INSERT INTO messages (mailbox_id, uid, modseq, createseq, expunged, flags, keywords,
                                   size, received, save_date, msg_prefix)
             VALUES (1, 1, 2, 2, 0, 1, 'work', 10, 0, 0, x''),
                    (1, 2, 2, 2, 0, 0, '', 20, 0, 0, x''),
                    (1, 3, 2, 2, 0, 9, 'later work', 40, 0, 0, x''),
                    (1, 4, 3, 2, 1, 0, 'gone', 80, 0, 0, x'');
             UPDATE mailboxes SET uidnext = 5 WHERE id = 1;",
        )
        .unwrap();
        migrate(&mut conn, DbKind::Account).unwrap();
        let row: (i64, i64, i64, i64, String, i64) = conn
            .query_row(
                "SELECT msg_count, unseen_count, deleted_count, msg_size, keywords,
                        first_unclaimed_uid FROM mailboxes WHERE id = 1",
                [],
                |r| {
                    Ok((
                        r.get(0)?,
                        r.get(1)?,
                        r.get(2)?,
                        r.get(3)?,
                        r.get(4)?,
                        r.get(5)?,
                    ))
                },
            )
            .unwrap();
        let (n, unseen, deleted, size, keywords, unclaimed) = row;
        assert_eq!((n, unseen, deleted, size, unclaimed), (3, 1, 1, 70, 5));
        assert_eq!(crate::counters::keyword_list(&keywords), ["later", "work"]);
        let empty: (i64, String, i64) = conn
            .query_row(
                "SELECT msg_count, keywords, first_unclaimed_uid FROM mailboxes WHERE id = 2",
                [],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
            )
            .unwrap();
        assert_eq!(empty, (0, String::new(), 1));
        // The first unseen comes from the partial index.
        let plan: String = conn
            .query_row(
                "EXPLAIN QUERY PLAN SELECT uid FROM messages INDEXED BY messages_unseen
                 WHERE mailbox_id = 1 AND expunged = 0 AND (flags & 1) = 0 ORDER BY uid LIMIT 1",
                [],
                |r| r.get(3),
            )
            .unwrap();
        assert!(plan.contains("messages_unseen"), "{plan}");
    }

    #[test]
    fn newer_database_is_refused() {
        let mut conn = Connection::open_in_memory().unwrap();
        migrate(&mut conn, DbKind::System).unwrap();
        conn.pragma_update(None, "user_version", 99).unwrap();
        let err = migrate(&mut conn, DbKind::System).unwrap_err();
        assert_eq!(err.kind, ipc::store::StoreErrorKind::Invalid);
        assert!(err.message.contains("99"), "{err}");
    }
}
