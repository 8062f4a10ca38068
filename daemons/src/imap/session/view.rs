//! The selected mailbox as the client sees it (RFC 9051 §2.3.1.2 message
//! sequence numbers): the UIDs it knows, in order, and the changes of
//! other sessions not yet told. Changes arrive as store events; they are
//! told as untagged EXISTS, FETCH and EXPUNGE (or VANISHED with QRESYNC,
//! RFC 7162 §3.2.10), with EXPUNGE held back while a command that uses
//! sequence numbers runs (RFC 9051 §7.5.1).

use std::collections::{BTreeMap, BTreeSet};

use ipc::store::ChangeEvent;

use super::error::CmdError;
use super::state::Enabled;
use crate::imap::backend::{Flags, MessageMeta, Snapshot};
use crate::imap::parse::SequenceSet;
use crate::imap::response::{Data, FetchItem, NumSet};

/// One message of the view.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Msg {
    pub uid: u32,
    pub modseq: u64,
}

fn modseq_of(v: i64) -> u64 {
    u64::try_from(v).unwrap_or(0)
}

pub struct Selected {
    pub id: i64,
    pub name: String,
    pub uidvalidity: u32,
    pub read_only: bool,
    /// Ascending by UID: the messages the client knows, then (from
    /// `announced` on) new ones it has not been told about.
    msgs: Vec<Msg>,
    announced: usize,
    /// Expunged by others, not yet told (still in `msgs`).
    expunged: BTreeSet<u32>,
    /// Flag changes by others, not yet told: UID → (flags, modseq).
    flag_updates: BTreeMap<u32, (Flags, u64)>,
    pub highest_modseq: u64,
    /// The mailbox's modseq at SELECT: every message's state as of then is
    /// what the client was told (a message's `modseq` starts there).
    base_modseq: u64,
    pub uidnext: u32,
    /// RFC 5182 SEARCHRES: UIDs saved by `SEARCH RETURN (SAVE)`.
    pub saved: Vec<u32>,
}

impl Selected {
    /// The view of a snapshot. Its messages' modseqs are not read: each
    /// is at most the mailbox's, and a change after the snapshot comes as
    /// an event with a higher one.
    pub fn new(snap: &Snapshot, read_only: bool) -> Selected {
        let base = snap.mailbox.highest_modseq.max(1);
        let msgs: Vec<Msg> = snap
            .uids
            .iter()
            .map(|&uid| Msg { uid, modseq: base })
            .collect();
        Selected {
            id: snap.mailbox.id,
            name: snap.mailbox.name.clone(),
            uidvalidity: snap.mailbox.uidvalidity,
            read_only,
            announced: msgs.len(),
            msgs,
            expunged: BTreeSet::new(),
            flag_updates: BTreeMap::new(),
            highest_modseq: base,
            base_modseq: base,
            uidnext: snap.mailbox.uidnext,
            saved: Vec::new(),
        }
    }

    /// The modseq since which a resynchronisation must read changes.
    pub fn base_modseq(&self) -> u64 {
        self.base_modseq
    }

    /// The highest UID of the view, told to the client or not yet.
    pub fn last_uid(&self) -> Option<u32> {
        self.msgs.last().map(|m| m.uid)
    }

    /// Messages the client knows (its EXISTS count).
    pub fn count(&self) -> u32 {
        u32::try_from(self.announced).unwrap_or(u32::MAX)
    }

    /// The messages the client knows, by sequence number - 1.
    pub fn known(&self) -> &[Msg] {
        &self.msgs[..self.announced]
    }

    /// Sequence number of a UID the client knows.
    pub fn seq_of(&self, uid: u32) -> Option<u32> {
        let i = self.known().binary_search_by_key(&uid, |m| m.uid).ok()?;
        u32::try_from(i + 1).ok()
    }

    /// The (sequence number, UID) pairs of a set, ascending. Sequence
    /// numbers beyond the end are a client error; UIDs that do not exist
    /// are skipped (RFC 9051 §6.4.8). `$` is the saved search result.
    pub fn resolve(&self, set: &SequenceSet, uid: bool) -> Result<Vec<(u32, u32)>, CmdError> {
        let known = self.known();
        let pair = |i: usize| (u32::try_from(i + 1).unwrap_or(u32::MAX), known[i].uid);
        if let SequenceSet::Saved = set {
            return Ok(self
                .saved
                .iter()
                .filter_map(|u| known.binary_search_by_key(u, |m| m.uid).ok())
                .map(pair)
                .collect());
        }
        if uid {
            let last = known.last().map_or(0, |m| m.uid);
            let Some(ranges) = set.ranges(last) else {
                return Ok(Vec::new());
            };
            let mut out = Vec::new();
            for (lo, hi) in ranges {
                let start = known.partition_point(|m| m.uid < lo);
                for (i, m) in known.iter().enumerate().skip(start) {
                    if m.uid > hi {
                        break;
                    }
                    out.push(pair(i));
                }
            }
            return Ok(out);
        }
        let count = self.count();
        if set.max_value().is_some_and(|m| m > count) {
            return Err(CmdError::bad("invalid message sequence number"));
        }
        if count == 0 {
            return Err(CmdError::bad("mailbox is empty: no sequence numbers"));
        }
        let Some(ranges) = set.ranges(count) else {
            return Ok(Vec::new());
        };
        let mut out = Vec::new();
        for (lo, hi) in ranges {
            for seq in lo.max(1)..=hi.min(count) {
                out.push(pair((seq - 1) as usize));
            }
        }
        Ok(out)
    }

    /// Records a modseq this session caused (its own STORE), so that the
    /// echo of the change event is not told again.
    pub fn set_modseq(&mut self, uid: u32, modseq: u64) {
        if let Ok(i) = self.msgs.binary_search_by_key(&uid, |m| m.uid) {
            self.msgs[i].modseq = self.msgs[i].modseq.max(modseq);
        }
        self.highest_modseq = self.highest_modseq.max(modseq);
        self.flag_updates.remove(&uid);
    }

    /// Removes messages this session expunged (EXPUNGE, MOVE); returns
    /// the sequence numbers to tell, highest first (each stays valid
    /// while the ones before it are told).
    pub fn remove(&mut self, uids: &[u32]) -> Vec<u32> {
        let mut sorted: Vec<u32> = uids.to_vec();
        sorted.sort_unstable_by(|a, b| b.cmp(a));
        sorted.dedup();
        let mut seqs = Vec::new();
        for uid in sorted {
            if let Ok(i) = self.msgs.binary_search_by_key(&uid, |m| m.uid) {
                self.msgs.remove(i);
                if i < self.announced {
                    self.announced -= 1;
                    seqs.push(u32::try_from(i + 1).unwrap_or(u32::MAX));
                }
            }
            self.expunged.remove(&uid);
            self.flag_updates.remove(&uid);
        }
        seqs
    }

    /// Takes in one change event of the account.
    pub fn apply(&mut self, ev: &ChangeEvent) {
        match ev {
            ChangeEvent::MessageAdded {
                mailbox_id,
                uid,
                modseq,
                ..
            } if *mailbox_id == self.id => {
                let modseq = modseq_of(*modseq);
                if self.msgs.last().is_none_or(|m| m.uid < *uid) {
                    self.msgs.push(Msg { uid: *uid, modseq });
                }
                self.uidnext = self.uidnext.max(uid.saturating_add(1));
                self.highest_modseq = self.highest_modseq.max(modseq);
            }
            ChangeEvent::FlagsChanged {
                mailbox_id,
                uid,
                modseq,
                flags,
                ..
            } if *mailbox_id == self.id => {
                let modseq = modseq_of(*modseq);
                if let Ok(i) = self.msgs.binary_search_by_key(uid, |m| m.uid)
                    && self.msgs[i].modseq < modseq
                {
                    self.msgs[i].modseq = modseq;
                    self.flag_updates.insert(*uid, (flags.clone(), modseq));
                }
                self.highest_modseq = self.highest_modseq.max(modseq);
            }
            ChangeEvent::Expunged {
                mailbox_id,
                uids,
                modseq,
                ..
            } if *mailbox_id == self.id => {
                for uid in uids {
                    if self.msgs.binary_search_by_key(uid, |m| m.uid).is_ok() {
                        self.expunged.insert(*uid);
                        self.flag_updates.remove(uid);
                    }
                }
                self.highest_modseq = self.highest_modseq.max(modseq_of(*modseq));
            }
            ChangeEvent::MailboxRenamed { from, to, .. } if *from == self.name => {
                self.name = to.clone();
            }
            ChangeEvent::MailboxDeleted { name, .. } if *name == self.name => {
                // Every message is gone with the mailbox.
                self.expunged.extend(self.msgs.iter().map(|m| m.uid));
                self.flag_updates.clear();
            }
            _ => {}
        }
    }

    /// Brings the view up to date with a fresh snapshot and the messages
    /// changed since [`Selected::base_modseq`] (ascending by UID) after
    /// events were lost (a lagging receiver).
    pub fn resync(&mut self, snap: Option<&Snapshot>, changed: &[MessageMeta]) {
        let Some(snap) = snap else {
            self.expunged.extend(self.msgs.iter().map(|m| m.uid));
            return;
        };
        for m in &self.msgs {
            if snap.uids.binary_search(&m.uid).is_err() {
                self.expunged.insert(m.uid);
            }
        }
        let last = self.msgs.last().map_or(0, |m| m.uid);
        let base = snap.mailbox.highest_modseq.max(self.base_modseq);
        let start = snap.uids.partition_point(|u| *u <= last);
        self.msgs.extend(
            snap.uids[start..]
                .iter()
                .map(|&uid| Msg { uid, modseq: base }),
        );
        for c in changed {
            if let Ok(i) = self.msgs.binary_search_by_key(&c.uid, |m| m.uid)
                && c.modseq > self.msgs[i].modseq
                && !self.expunged.contains(&c.uid)
            {
                self.msgs[i].modseq = c.modseq;
                self.flag_updates.insert(c.uid, (c.flags.clone(), c.modseq));
            }
        }
        self.uidnext = self.uidnext.max(snap.mailbox.uidnext);
        self.highest_modseq = self.highest_modseq.max(snap.mailbox.highest_modseq);
    }

    /// The untagged responses that tell the client what changed:
    /// expunges (if allowed now), then EXISTS, then flag changes.
    pub fn flush(&mut self, allow_expunge: bool, enabled: Enabled) -> Vec<Data> {
        let mut out = Vec::new();
        if allow_expunge && !self.expunged.is_empty() {
            let gone: Vec<u32> = std::mem::take(&mut self.expunged).into_iter().collect();
            let told: Vec<u32> = gone
                .iter()
                .copied()
                .filter(|u| self.seq_of(*u).is_some())
                .collect();
            let seqs = self.remove(&gone);
            if enabled.qresync {
                if !told.is_empty() {
                    out.push(Data::Vanished {
                        earlier: false,
                        uids: NumSet(told),
                    });
                }
            } else {
                out.extend(seqs.into_iter().map(Data::Expunge));
            }
        }
        if self.msgs.len() != self.announced {
            self.announced = self.msgs.len();
            out.push(Data::Exists(self.count()));
        }
        let updates = std::mem::take(&mut self.flag_updates);
        for (uid, (flags, modseq)) in updates {
            if self.expunged.contains(&uid) {
                continue;
            }
            let Some(seq) = self.seq_of(uid) else {
                continue;
            };
            let mut items = vec![FetchItem::Uid(uid), FetchItem::Flags(flags)];
            if enabled.condstore {
                items.push(FetchItem::ModSeq(modseq));
            }
            out.push(Data::Fetch { seq, items });
        }
        out
    }
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;
    use crate::imap::backend::MailboxInfo;
    use crate::imap::parse::{SeqNumber, SeqRange};

    fn snap(uids: &[u32]) -> Snapshot {
        snapshot(uids, 1)
    }

    /// A snapshot of Inbox holding `uids`, none \Seen, UIDs from
    /// `first_unclaimed` on not yet \Recent in any session.
    pub(in crate::imap::session) fn snapshot(uids: &[u32], first_unclaimed: u32) -> Snapshot {
        Snapshot {
            mailbox: MailboxInfo {
                id: 7,
                name: "Inbox".into(),
                special_use: None,
                uidvalidity: 1,
                uidnext: uids.last().map_or(1, |u| u + 1),
                highest_modseq: 10,
                messages: uids.len() as u32,
                unseen: 0,
                deleted: 0,
                size: 0,
                recent: 0,
            },
            uids: uids.to_vec(),
            keywords: Vec::new(),
            first_unseen: None,
            first_unclaimed_uid: first_unclaimed,
        }
    }

    fn added(uid: u32, modseq: i64) -> ChangeEvent {
        ChangeEvent::MessageAdded {
            account: "a".into(),
            mailbox_id: 7,
            uid,
            modseq,
            message_id: 1,
        }
    }

    fn expunged(uids: &[u32]) -> ChangeEvent {
        ChangeEvent::Expunged {
            account: "a".into(),
            mailbox_id: 7,
            uids: uids.to_vec(),
            modseq: 20,
        }
    }

    #[test]
    fn expunges_wait_for_an_allowed_moment() {
        let mut s = Selected::new(&snap(&[1, 2, 3, 4]), false);
        s.apply(&expunged(&[2, 4]));
        s.apply(&added(9, 21));
        // During FETCH: no EXPUNGE; EXISTS counts the held-back messages.
        assert_eq!(s.flush(false, Enabled::default()), vec![Data::Exists(5)]);
        assert_eq!(s.seq_of(4), Some(4));
        assert_eq!(
            s.flush(true, Enabled::default()),
            vec![Data::Expunge(4), Data::Expunge(2)]
        );
        assert_eq!(s.count(), 3);
        assert_eq!(s.seq_of(9), Some(3));
    }

    #[test]
    fn unannounced_messages_vanish_silently() {
        let mut s = Selected::new(&snap(&[1]), false);
        s.apply(&added(2, 21));
        s.apply(&expunged(&[1, 2]));
        let q = Enabled {
            qresync: true,
            condstore: true,
            ..Enabled::default()
        };
        assert_eq!(
            s.flush(true, q),
            vec![Data::Vanished {
                earlier: false,
                uids: NumSet(vec![1])
            }]
        );
        assert_eq!(s.count(), 0);
    }

    #[test]
    fn own_changes_are_not_echoed() {
        let mut s = Selected::new(&snap(&[1, 2]), false);
        s.set_modseq(2, 30);
        s.apply(&ChangeEvent::FlagsChanged {
            account: "a".into(),
            mailbox_id: 7,
            uid: 2,
            modseq: 30,
            flags: vec!["\\Seen".into()],
        });
        assert!(s.flush(true, Enabled::default()).is_empty());
        s.apply(&ChangeEvent::FlagsChanged {
            account: "a".into(),
            mailbox_id: 7,
            uid: 1,
            modseq: 31,
            flags: vec!["\\Seen".into()],
        });
        assert_eq!(
            s.flush(true, Enabled::default()),
            vec![Data::Fetch {
                seq: 1,
                items: vec![FetchItem::Uid(1), FetchItem::Flags(vec!["\\Seen".into()])]
            }]
        );
    }

    #[test]
    fn events_from_before_the_snapshot_are_not_told() {
        // The snapshot (modseq 10) already holds these changes.
        let mut s = Selected::new(&snap(&[1, 2]), false);
        s.apply(&added(2, 8));
        s.apply(&ChangeEvent::FlagsChanged {
            account: "a".into(),
            mailbox_id: 7,
            uid: 1,
            modseq: 9,
            flags: vec!["\\Seen".into()],
        });
        assert!(s.flush(true, Enabled::default()).is_empty());
        assert_eq!(s.count(), 2);
    }

    #[test]
    fn resync_tells_expunges_new_messages_and_changed_flags() {
        let mut s = Selected::new(&snap(&[1, 2, 3]), false);
        let mut fresh = snap(&[2, 3, 5]);
        fresh.mailbox.highest_modseq = 20;
        let meta = |uid, modseq, flags: &[&str]| MessageMeta {
            uid,
            modseq,
            flags: flags.iter().map(|f| f.to_string()).collect(),
            size: 1,
            internal_date: 0,
            save_date: None,
        };
        let changed = [meta(1, 12, &[]), meta(3, 15, &["\\Seen"]), meta(5, 18, &[])];
        s.resync(Some(&fresh), &changed);
        assert_eq!(
            s.flush(true, Enabled::default()),
            vec![
                Data::Expunge(1),
                Data::Exists(3),
                Data::Fetch {
                    seq: 2,
                    items: vec![FetchItem::Uid(3), FetchItem::Flags(vec!["\\Seen".into()])]
                }
            ]
        );
        assert_eq!(s.last_uid(), Some(5));
        assert_eq!((s.uidnext, s.highest_modseq), (6, 20));
        // The mailbox is gone: everything goes.
        s.resync(None, &[]);
        assert_eq!(
            s.flush(true, Enabled::default()),
            vec![Data::Expunge(3), Data::Expunge(2), Data::Expunge(1)]
        );
    }

    #[test]
    fn resolving_sets() {
        let s = Selected::new(&snap(&[3, 5, 9]), false);
        let set = |a, b| {
            SequenceSet::Ranges(vec![SeqRange {
                from: SeqNumber::Value(a),
                to: b,
            }])
        };
        assert_eq!(
            s.resolve(&set(2, SeqNumber::Last), false).unwrap(),
            vec![(2, 5), (3, 9)]
        );
        assert!(s.resolve(&set(4, SeqNumber::Value(4)), false).is_err());
        assert_eq!(
            s.resolve(&set(4, SeqNumber::Value(6)), true).unwrap(),
            vec![(2, 5)]
        );
        // RFC 9051 §6.4.8: 100:* includes the last UID.
        assert_eq!(
            s.resolve(&set(100, SeqNumber::Last), true).unwrap(),
            vec![(3, 9)]
        );
    }
}
