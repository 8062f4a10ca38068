//! \Recent (RFC 3501 §2.3.2, IMAP4rev1 only; RFC 9051 dropped it), as
//! Dovecot keeps it: a message is recent in exactly one session, the
//! first read-write one to learn of it. The store keeps, per mailbox, the
//! first UID no session has claimed; a session that selects a mailbox
//! claims the messages it sees, and later those it learns of (change
//! events, resynchronisation), each claim one store request that gives it
//! the UIDs that became its own. EXAMINE only looks: the messages not yet
//! claimed are recent there, without claiming them. A session with
//! IMAP4rev2 enabled neither claims nor shows \Recent.
//!
//! The session shows \Recent in every FLAGS of a FETCH response and as
//! the RECENT count after EXISTS (and whenever the count changed, e.g.
//! after an expunge, so that a client's count stays right). Metadata and
//! flag changes reach commands through [`SessionBackend`], which adds the
//! session's \Recent to the flags the store reports, so FETCH, STORE and
//! SEARCH RECENT/NEW/OLD see it without knowing where it comes from.

use std::ops::Deref;
use std::sync::Arc;

use super::view::Selected;
use crate::imap::backend::{
    Backend, BackendError, FlagChange, Flags, MessageMeta, Snapshot, StoreOutcome,
};

/// The flag as FETCH shows it.
pub(crate) const RECENT: &str = "\\Recent";

/// The messages of the selected mailbox that are \Recent in this session.
#[derive(Debug, Default)]
pub(crate) struct Recent {
    /// The mailbox (None: nothing selected yet, or IMAP4rev2).
    mailbox_id: Option<i64>,
    /// EXAMINE: unclaimed messages are recent, nothing is claimed.
    read_only: bool,
    /// UID ranges recent here, ascending, disjoint, inclusive.
    ranges: Vec<(u32, u32)>,
    /// The store was asked about the UIDs up to this one.
    through: u32,
    /// The count last told in a RECENT response.
    told: Option<u32>,
}

impl Recent {
    /// No \Recent (IMAP4rev2, or before a SELECT).
    pub fn off() -> Recent {
        Recent::default()
    }

    /// At SELECT (`read_only` false) or EXAMINE of `snap`. EXAMINE needs
    /// no request: the snapshot tells which messages are unclaimed. SELECT
    /// leaves them to claim (`through` below them) unless there are none.
    pub fn open(snap: &Snapshot, read_only: bool) -> Recent {
        let last = snap.uids.last().copied().unwrap_or(0);
        let first = snap.first_unclaimed_uid.max(1);
        let mut r = Recent {
            mailbox_id: Some(snap.mailbox.id),
            read_only,
            ranges: Vec::new(),
            through: last,
            told: None,
        };
        if first <= last {
            if read_only {
                r.add(first, last);
            } else {
                r.through = 0;
            }
        }
        r
    }

    /// Whether \Recent is kept for mailbox `id`.
    pub fn is_on(&self, id: i64) -> bool {
        self.mailbox_id == Some(id)
    }

    pub fn read_only(&self) -> bool {
        self.read_only
    }

    /// The UIDs the store was asked about end here.
    pub fn through(&self) -> u32 {
        self.through
    }

    /// The store answered a claim (or look) up to `up_to` with `got`.
    pub fn claimed(&mut self, up_to: u32, got: Option<(u32, u32)>) {
        self.through = self.through.max(up_to);
        if let Some((first, last)) = got
            && first <= last
        {
            self.add(first, last);
        }
    }

    fn add(&mut self, first: u32, last: u32) {
        let i = self.ranges.partition_point(|r| r.1 < first);
        self.ranges.insert(i, (first, last));
        // Merge overlapping and adjacent ranges.
        let mut merged: Vec<(u32, u32)> = Vec::with_capacity(self.ranges.len());
        for &(a, b) in &self.ranges {
            match merged.last_mut() {
                Some(m) if a <= m.1.saturating_add(1) => m.1 = m.1.max(b),
                _ => merged.push((a, b)),
            }
        }
        self.ranges = merged;
    }

    /// Whether message `uid` of mailbox `id` is recent in this session.
    pub fn contains(&self, id: i64, uid: u32) -> bool {
        if !self.is_on(id) {
            return false;
        }
        let i = self.ranges.partition_point(|r| r.1 < uid);
        self.ranges.get(i).is_some_and(|r| r.0 <= uid)
    }

    /// Adds \Recent (first) to a message's flags when it is recent here.
    pub fn decorate(&self, id: i64, uid: u32, flags: &mut Flags) {
        if self.contains(id, uid) && !flags.iter().any(|f| f.eq_ignore_ascii_case(RECENT)) {
            flags.insert(0, RECENT.to_string());
        }
    }

    /// Recent messages among those the client knows.
    pub fn count(&self, sel: &Selected) -> u32 {
        if !self.is_on(sel.id) {
            return 0;
        }
        let known = sel.known();
        let n: usize = self
            .ranges
            .iter()
            .map(|&(a, b)| {
                known.partition_point(|m| m.uid <= b) - known.partition_point(|m| m.uid < a)
            })
            .sum();
        u32::try_from(n).unwrap_or(u32::MAX)
    }

    /// The count to tell in a RECENT response now: at SELECT, and later
    /// when it changed since it was last told.
    pub fn count_to_tell(&mut self, sel: &Selected) -> Option<u32> {
        if !self.is_on(sel.id) {
            return None;
        }
        let n = self.count(sel);
        if self.told == Some(n) {
            return None;
        }
        self.told = Some(n);
        Some(n)
    }
}

/// The backend as a session sees it: the store's, with this session's
/// \Recent added to the flags of the messages it reports. Everything else
/// is the store's backend as it is (`Deref`).
pub(crate) struct SessionBackend<B> {
    inner: Arc<B>,
    pub(crate) recent: Recent,
}

impl<B> SessionBackend<B> {
    pub fn new(inner: Arc<B>) -> SessionBackend<B> {
        SessionBackend {
            inner,
            recent: Recent::off(),
        }
    }
}

impl<B> Deref for SessionBackend<B> {
    type Target = B;

    fn deref(&self) -> &B {
        &self.inner
    }
}

impl<B: Backend> SessionBackend<B> {
    /// [`Backend::message_meta`] with \Recent.
    pub async fn message_meta(
        &self,
        account: &str,
        mailbox_id: i64,
        uids: &[u32],
    ) -> Result<Vec<MessageMeta>, BackendError> {
        let mut metas = self.inner.message_meta(account, mailbox_id, uids).await?;
        for m in &mut metas {
            self.recent.decorate(mailbox_id, m.uid, &mut m.flags);
        }
        Ok(metas)
    }

    /// [`Backend::changed_since`] with \Recent.
    pub async fn changed_since(
        &self,
        account: &str,
        mailbox_id: i64,
        since: u64,
    ) -> Result<Vec<MessageMeta>, BackendError> {
        let mut metas = self.inner.changed_since(account, mailbox_id, since).await?;
        for m in &mut metas {
            self.recent.decorate(mailbox_id, m.uid, &mut m.flags);
        }
        Ok(metas)
    }

    /// [`Backend::store_flags`] with \Recent in the flags it reports (a
    /// client cannot change \Recent, RFC 3501 §2.3.2).
    pub async fn store_flags(
        &self,
        account: &str,
        mailbox_id: i64,
        change: &FlagChange,
    ) -> Result<StoreOutcome, BackendError> {
        let mut out = self.inner.store_flags(account, mailbox_id, change).await?;
        for m in &mut out.messages {
            self.recent.decorate(mailbox_id, m.uid, &mut m.flags);
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::super::view::tests::snapshot as snap;
    use super::*;

    #[test]
    fn select_claims_examine_looks() {
        let s = snap(&[1, 2, 5, 6, 9], 5);
        let sel = Selected::new(&s, false);
        let mut r = Recent::open(&s, false);
        assert_eq!(r.through(), 0, "to claim");
        assert_eq!(r.count(&sel), 0, "nothing before the claim answers");
        // Another session claimed 5 meanwhile: this one got 6:9.
        r.claimed(9, Some((6, 9)));
        assert_eq!(r.count(&sel), 2);
        assert!(r.contains(7, 6) && r.contains(7, 9) && !r.contains(7, 5));
        assert!(!r.contains(8, 6), "another mailbox");
        assert_eq!(r.count_to_tell(&sel), Some(2));
        assert_eq!(r.count_to_tell(&sel), None, "told once");
        let mut flags = vec!["\\Seen".to_string()];
        r.decorate(7, 9, &mut flags);
        r.decorate(7, 9, &mut flags);
        assert_eq!(flags, ["\\Recent", "\\Seen"]);

        let r = Recent::open(&s, true);
        assert_eq!(r.through(), 9, "nothing to claim");
        assert_eq!(r.count(&Selected::new(&s, true)), 3);
        let r = Recent::open(&snap(&[1, 2], 3), false);
        assert_eq!(r.through(), 2, "nothing to claim");
    }

    #[test]
    fn ranges_merge_and_count_only_known_messages() {
        let s = snap(&[1, 2, 3, 4, 5, 6, 7, 8], 9);
        let sel = Selected::new(&s, false);
        let mut r = Recent::open(&s, false);
        r.claimed(4, Some((3, 4)));
        r.claimed(8, Some((7, 8)));
        r.claimed(6, Some((5, 6)));
        assert_eq!(r.ranges, vec![(3, 8)]);
        assert_eq!(r.through(), 8);
        assert_eq!(r.count(&sel), 6);
        r.claimed(100, Some((1, 1)));
        assert_eq!(r.ranges, vec![(1, 1), (3, 8)]);
        assert_eq!(r.count(&sel), 7);
        assert!(!Recent::off().contains(7, 1));
    }
}
