//! Between the store's wire types (`ipc::store`) and the IMAP engine's
//! backend types: counts and modseqs change width, special-use names
//! become typed attributes, store errors become the client's NO codes.

use ipc::store::{self as wire, StoreError, StoreErrorKind, StoreReply};

use crate::imap::backend::{self as be, BackendError};
use crate::imap::parse::SpecialUse;

/// How a store error is told to the client (RFC 5530 response codes).
pub fn backend_error(e: StoreError) -> BackendError {
    match e.kind {
        StoreErrorKind::NotFound => BackendError::NotFound(e.message),
        StoreErrorKind::Exists => BackendError::Exists(e.message),
        StoreErrorKind::Cannot | StoreErrorKind::Invalid => BackendError::Cannot(e.message),
        StoreErrorKind::OverQuota => BackendError::OverQuota(e.message),
        StoreErrorKind::Temporary | StoreErrorKind::Forbidden => BackendError::Temporary(e.message),
    }
}

/// A reply of the wrong kind: the store and this worker disagree.
pub fn unexpected(r: &StoreReply) -> BackendError {
    BackendError::Temporary(format!(
        "unexpected store reply {:?}",
        std::mem::discriminant(r)
    ))
}

fn count(n: u64) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

/// Store modseqs are positive i64; RFC 7162 mod-sequences are u63.
pub fn modseq(v: i64) -> u64 {
    u64::try_from(v).unwrap_or(0)
}

pub fn wire_modseq(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}

pub fn mailbox_info(m: wire::MailboxInfo) -> be::MailboxInfo {
    be::MailboxInfo {
        id: m.id,
        special_use: m.special_use.as_deref().and_then(SpecialUse::from_wire),
        name: m.name,
        uidvalidity: m.uidvalidity,
        uidnext: m.uidnext,
        highest_modseq: modseq(m.highest_modseq),
        messages: count(m.messages),
        unseen: count(m.unseen),
        deleted: count(m.deleted),
        size: m.size,
        recent: count(m.recent),
    }
}

pub fn message_meta(m: wire::MessageMeta) -> be::MessageMeta {
    be::MessageMeta {
        uid: m.uid,
        modseq: modseq(m.modseq),
        flags: m.flags,
        size: m.size,
        internal_date: m.received,
        save_date: Some(m.save_date),
    }
}

pub fn flag_op(op: be::FlagOp) -> wire::FlagOp {
    match op {
        be::FlagOp::Add => wire::FlagOp::Add,
        be::FlagOp::Remove => wire::FlagOp::Remove,
        be::FlagOp::Replace => wire::FlagOp::Replace,
    }
}

pub fn flag_state(s: wire::FlagState) -> be::FlagState {
    be::FlagState {
        uid: s.uid,
        flags: s.flags,
        modseq: modseq(s.modseq),
        changed: s.changed,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn err(kind: StoreErrorKind) -> BackendError {
        backend_error(StoreError {
            kind,
            message: "m".into(),
        })
    }

    #[test]
    fn store_errors_map_to_client_codes() {
        assert_eq!(
            err(StoreErrorKind::NotFound),
            BackendError::NotFound("m".into())
        );
        assert_eq!(
            err(StoreErrorKind::Exists),
            BackendError::Exists("m".into())
        );
        assert_eq!(
            err(StoreErrorKind::Cannot),
            BackendError::Cannot("m".into())
        );
        assert_eq!(
            err(StoreErrorKind::Invalid),
            BackendError::Cannot("m".into())
        );
        assert_eq!(
            err(StoreErrorKind::OverQuota),
            BackendError::OverQuota("m".into())
        );
        assert_eq!(
            err(StoreErrorKind::Temporary),
            BackendError::Temporary("m".into())
        );
        assert_eq!(
            err(StoreErrorKind::Forbidden),
            BackendError::Temporary("m".into())
        );
    }

    #[test]
    fn mailbox_info_converts() {
        let m = mailbox_info(wire::MailboxInfo {
            id: 3,
            name: "Sent".into(),
            special_use: Some("\\Sent".into()),
            uidvalidity: 77,
            uidnext: 12,
            highest_modseq: 40,
            messages: 11,
            unseen: 2,
            size: 5000,
            deleted: 1,
            recent: 4,
        });
        assert_eq!(m.special_use, Some(SpecialUse::Sent));
        assert_eq!(
            (m.id, m.uidvalidity, m.uidnext, m.highest_modseq),
            (3, 77, 12, 40)
        );
        assert_eq!(
            (m.messages, m.unseen, m.deleted, m.size, m.recent),
            (11, 2, 1, 5000, 4)
        );
        let odd = mailbox_info(wire::MailboxInfo {
            id: 1,
            name: "x".into(),
            special_use: Some("\\Bogus".into()),
            uidvalidity: 1,
            uidnext: 1,
            highest_modseq: -5,
            messages: u64::MAX,
            unseen: 0,
            size: 0,
            deleted: 0,
            recent: 0,
        });
        assert_eq!(odd.special_use, None);
        assert_eq!(odd.highest_modseq, 0);
        assert_eq!(odd.messages, u32::MAX);
    }

    #[test]
    fn meta_converts() {
        let m = message_meta(wire::MessageMeta {
            uid: 9,
            modseq: 31,
            flags: vec!["\\Seen".into()],
            size: 123,
            received: 1_700_000_000,
            save_date: 1_700_000_100,
        });
        assert_eq!(m.uid, 9);
        assert_eq!(m.modseq, 31);
        assert_eq!(m.flags, vec!["\\Seen".to_string()]);
        assert_eq!(m.internal_date, 1_700_000_000);
        assert_eq!(m.save_date, Some(1_700_000_100));
        assert_eq!(wire_modseq(u64::MAX), i64::MAX);
    }
}
