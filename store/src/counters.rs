//! A mailbox's counts kept in its row (`msg_count`, `unseen_count`,
//! `deleted_count`, `msg_size`), so that STATUS, LIST, SELECT and the
//! quota check read one row instead of counting its messages, and the
//! keywords ever set in it (the keywords of its FLAGS response, RFC 9051
//! §7.3.5, kept like Dovecot and mox keep them: a keyword stays listed
//! once used). Every change of messages (deliver/append, copy/move,
//! STORE, expunge) adds its delta in its own transaction, so the counts
//! are always those of the committed rows; `tests/counters.rs` checks them
//! against a recount after random operations.

use std::collections::BTreeSet;

use rusqlite::{Connection, OptionalExtension};

use crate::error::Result;
use crate::flags;

/// Most keywords a mailbox's FLAGS lists. Keywords beyond are still stored
/// on messages (and a session announces them when it first shows one),
/// they are only not listed at SELECT.
pub const MAX_MAILBOX_KEYWORDS: usize = 1000;

/// Counts of messages (not expunged), or a change of them.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Counts {
    pub messages: i64,
    pub unseen: i64,
    pub deleted: i64,
    pub size: i64,
}

impl Counts {
    /// What one message with flag bits `bits` and `size` octets counts.
    pub fn message(bits: u32, size: u64) -> Counts {
        Counts {
            messages: 1,
            unseen: i64::from(bits & flags::SEEN == 0),
            deleted: i64::from(bits & flags::DELETED != 0),
            size: i64::try_from(size).unwrap_or(i64::MAX),
        }
    }

    /// The change when a message's flag bits go from `old` to `new`.
    pub fn flags_changed(old: u32, new: u32) -> Counts {
        let one = |bits: u32| Counts::message(bits, 0);
        let mut d = one(new);
        d.sub(one(old));
        d
    }

    pub fn add(&mut self, o: Counts) {
        self.messages += o.messages;
        self.unseen += o.unseen;
        self.deleted += o.deleted;
        self.size = self.size.saturating_add(o.size);
    }

    pub fn sub(&mut self, o: Counts) {
        self.messages -= o.messages;
        self.unseen -= o.unseen;
        self.deleted -= o.deleted;
        self.size = self.size.saturating_sub(o.size);
    }

    pub fn is_zero(&self) -> bool {
        *self == Counts::default()
    }
}

/// Adds `delta` to the counts of a mailbox (inside the change's
/// transaction).
pub(crate) fn apply(conn: &Connection, mailbox_id: i64, delta: Counts) -> Result<()> {
    if delta.is_zero() {
        return Ok(());
    }
    conn.prepare_cached(
        "UPDATE mailboxes SET msg_count = msg_count + ?1, unseen_count = unseen_count + ?2,
                deleted_count = deleted_count + ?3, msg_size = msg_size + ?4
         WHERE id = ?5",
    )?
    .execute(rusqlite::params![
        delta.messages,
        delta.unseen,
        delta.deleted,
        delta.size,
        mailbox_id
    ])?;
    Ok(())
}

/// The `keywords` column as a sorted list without duplicates.
pub(crate) fn keyword_list(column: &str) -> Vec<String> {
    let set: BTreeSet<&str> = column.split(' ').filter(|k| !k.is_empty()).collect();
    set.into_iter().map(str::to_string).collect()
}

/// Adds keywords (as stored: lower-cased) to the mailbox's list, up to
/// [`MAX_MAILBOX_KEYWORDS`]; writes only when the list grows.
pub(crate) fn add_keywords<'a>(
    conn: &Connection,
    mailbox_id: i64,
    keywords: impl IntoIterator<Item = &'a str>,
) -> Result<()> {
    let mut new = keywords.into_iter().filter(|k| !k.is_empty()).peekable();
    if new.peek().is_none() {
        return Ok(());
    }
    let Some(column) = conn
        .prepare_cached("SELECT keywords FROM mailboxes WHERE id = ?1")?
        .query_row([mailbox_id], |r| r.get::<_, String>(0))
        .optional()?
    else {
        return Ok(());
    };
    let mut set: BTreeSet<String> = keyword_list(&column).into_iter().collect();
    let before = set.len();
    for k in new {
        if set.len() >= MAX_MAILBOX_KEYWORDS {
            break;
        }
        set.insert(k.to_string());
    }
    if set.len() == before {
        return Ok(());
    }
    let joined = set.into_iter().collect::<Vec<_>>().join(" ");
    conn.prepare_cached("UPDATE mailboxes SET keywords = ?1 WHERE id = ?2")?
        .execute(rusqlite::params![joined, mailbox_id])?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_of_messages_and_flag_changes() {
        let m = Counts::message(flags::SEEN, 10);
        assert_eq!((m.messages, m.unseen, m.deleted, m.size), (1, 0, 0, 10));
        let m = Counts::message(flags::DELETED, 3);
        assert_eq!((m.messages, m.unseen, m.deleted, m.size), (1, 1, 1, 3));
        let d = Counts::flags_changed(0, flags::SEEN | flags::DELETED);
        assert_eq!((d.messages, d.unseen, d.deleted, d.size), (0, -1, 1, 0));
        assert!(Counts::flags_changed(flags::SEEN, flags::SEEN | 4).is_zero());
    }

    #[test]
    fn keyword_lists_are_sorted_deduplicated_and_capped() {
        assert_eq!(keyword_list("b a  b c a"), ["a", "b", "c"]);
        assert!(keyword_list("").is_empty());
        let conn = Connection::open_in_memory().unwrap();
        conn.execute_batch(
            "CREATE TABLE mailboxes (id INTEGER PRIMARY KEY, keywords TEXT NOT NULL DEFAULT '');
             INSERT INTO mailboxes (id, keywords) VALUES (1, 'x b x');",
        )
        .unwrap();
        add_keywords(&conn, 1, ["a", "b"]).unwrap();
        let col = |c: &Connection| -> String {
            c.query_row("SELECT keywords FROM mailboxes WHERE id = 1", [], |r| {
                r.get(0)
            })
            .unwrap()
        };
        assert_eq!(col(&conn), "a b x");
        let many: Vec<String> = (0..2 * MAX_MAILBOX_KEYWORDS)
            .map(|i| format!("k{i}"))
            .collect();
        add_keywords(&conn, 1, many.iter().map(String::as_str)).unwrap();
        assert_eq!(keyword_list(&col(&conn)).len(), MAX_MAILBOX_KEYWORDS);
    }
}
