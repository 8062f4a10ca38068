//! FETCH and UID FETCH (RFC 9051 §6.4.5) with BINARY (RFC 3516),
//! CONDSTORE CHANGEDSINCE and MODSEQ (RFC 7162 §3.1.4), QRESYNC VANISHED
//! (§3.2.6), PREVIEW (RFC 8970) and SAVEDATE (RFC 8514). Selected state.
//! Metadata for all messages comes in one backend request; content (with
//! its structure, computed at delivery) per message, only when asked for.
//! Fetching a body part without PEEK sets \Seen first, in one request.

use std::borrow::Cow;
use std::collections::{HashMap, HashSet};

use tokio::io::{AsyncRead, AsyncWrite};

use crate::imap::backend::{Backend, FlagChange, FlagOp, MessageContent, MessageMeta};
use crate::imap::parse::{FetchAttr, FetchModifiers, Partial, SequenceSet, in_ranges};
use crate::imap::parsed::SectionError;
use crate::imap::response::{Code, Data, FetchItem, NumSet, Response, Rfc822Part, Status};
use crate::imap::session::state::{State, wrong_state};
use crate::imap::session::{CmdError, CmdResult, Done, Session};

/// Whether fetching `a` sets \Seen (RFC 9051 §6.4.5: BODY[…], BINARY[…],
/// RFC822 and RFC822.TEXT without PEEK).
fn sets_seen(a: &FetchAttr) -> bool {
    matches!(
        a,
        FetchAttr::BodySection { peek: false, .. }
            | FetchAttr::Binary { peek: false, .. }
            | FetchAttr::Rfc822
            | FetchAttr::Rfc822Text
    )
}

fn needs_content(a: &FetchAttr) -> bool {
    !matches!(
        a,
        FetchAttr::Flags
            | FetchAttr::InternalDate
            | FetchAttr::Rfc822Size
            | FetchAttr::Uid
            | FetchAttr::ModSeq
            | FetchAttr::SaveDate
    )
}

/// `<offset.length>` of `data`; the origin is reported back.
fn cut(data: Cow<'_, [u8]>, partial: Option<Partial>) -> (Vec<u8>, Option<u64>) {
    match partial {
        None => (data.into_owned(), None),
        Some(p) => {
            let len = data.len() as u64;
            let start = p.offset.min(len);
            let end = p.offset.saturating_add(p.length).min(len);
            let s = usize::try_from(start).unwrap_or(usize::MAX);
            let e = usize::try_from(end).unwrap_or(usize::MAX);
            (data.get(s..e).unwrap_or_default().to_vec(), Some(p.offset))
        }
    }
}

fn binary_error(e: SectionError) -> CmdError {
    match e {
        SectionError::UnknownEncoding(enc) => CmdError::no_code(
            Code::UnknownCte,
            format!("cannot decode content-transfer-encoding {enc}"),
        ),
        SectionError::BadEncoding => {
            CmdError::no_code(Code::Parse, "content-transfer-encoding of part is invalid")
        }
        SectionError::NotMessage => CmdError::bad("section only valid on message/rfc822 parts"),
    }
}

/// The items of one FETCH response.
fn items(
    attrs: &[FetchAttr],
    meta: &MessageMeta,
    content: Option<&MessageContent>,
    uid_cmd: bool,
    with_modseq: bool,
    seen_set: bool,
) -> Result<Vec<FetchItem>, CmdError> {
    let mut out = Vec::with_capacity(attrs.len() + 2);
    let has = |out: &[FetchItem], f: fn(&FetchItem) -> bool| out.iter().any(f);
    if uid_cmd {
        out.push(FetchItem::Uid(meta.uid));
    }
    for a in attrs {
        let item = match a {
            FetchAttr::Uid => {
                if has(&out, |i| matches!(i, FetchItem::Uid(_))) {
                    continue;
                }
                FetchItem::Uid(meta.uid)
            }
            FetchAttr::Flags => FetchItem::Flags(meta.flags.clone()),
            FetchAttr::InternalDate => FetchItem::InternalDate(meta.internal_date),
            FetchAttr::Rfc822Size => FetchItem::Rfc822Size(meta.size),
            FetchAttr::ModSeq => {
                if has(&out, |i| matches!(i, FetchItem::ModSeq(_))) {
                    continue;
                }
                FetchItem::ModSeq(meta.modseq)
            }
            FetchAttr::SaveDate => FetchItem::SaveDate(meta.save_date),
            other => {
                let Some(c) = content else {
                    return Err(CmdError::Server("message content missing".into()));
                };
                content_item(other, c)?
            }
        };
        out.push(item);
    }
    if seen_set && !has(&out, |i| matches!(i, FetchItem::Flags(_))) {
        out.push(FetchItem::Flags(meta.flags.clone()));
    }
    if with_modseq && !has(&out, |i| matches!(i, FetchItem::ModSeq(_))) {
        out.push(FetchItem::ModSeq(meta.modseq));
    }
    Ok(out)
}

fn content_item(a: &FetchAttr, c: &MessageContent) -> Result<FetchItem, CmdError> {
    let msg: &[u8] = &c.bytes;
    let p = &c.parsed;
    let root = p.root();
    Ok(match a {
        FetchAttr::Envelope => FetchItem::Envelope(Box::new(p.envelope.clone())),
        FetchAttr::Body | FetchAttr::BodyStructure => FetchItem::Structure {
            parsed: c.parsed.clone(),
            extensible: matches!(a, FetchAttr::BodyStructure),
        },
        FetchAttr::BodySection {
            section, partial, ..
        } => {
            // A section that does not apply to the part is answered NIL.
            let data = p.section(msg, section).ok().flatten();
            let (data, origin) = match data {
                Some(d) => {
                    let (d, o) = cut(d, *partial);
                    (Some(d), o)
                }
                None => (None, partial.map(|p| p.offset)),
            };
            FetchItem::Section {
                section: section.clone(),
                origin,
                data,
            }
        }
        FetchAttr::Binary { part, partial, .. } => {
            let data = p.binary(msg, part).map_err(binary_error)?;
            let (data, origin) = match data {
                Some(d) => {
                    let (d, o) = cut(d, *partial);
                    (Some(d), o)
                }
                None => (None, partial.map(|p| p.offset)),
            };
            FetchItem::Binary {
                part: part.clone(),
                origin,
                data,
            }
        }
        FetchAttr::BinarySize { part } => {
            let size = p
                .binary(msg, part)
                .map_err(binary_error)?
                .map_or(0, |d| d.len() as u64);
            FetchItem::BinarySize {
                part: part.clone(),
                size,
            }
        }
        FetchAttr::Rfc822 => FetchItem::Rfc822 {
            which: Rfc822Part::Whole,
            data: msg.to_vec(),
        },
        FetchAttr::Rfc822Header => FetchItem::Rfc822 {
            which: Rfc822Part::Header,
            data: root.map_or_else(Vec::new, |r| r.header.slice(msg).to_vec()),
        },
        FetchAttr::Rfc822Text => FetchItem::Rfc822 {
            which: Rfc822Part::Text,
            data: root.map_or_else(Vec::new, |r| r.body.slice(msg).to_vec()),
        },
        FetchAttr::Preview { .. } => FetchItem::Preview(p.preview.clone()),
        FetchAttr::Flags
        | FetchAttr::InternalDate
        | FetchAttr::Rfc822Size
        | FetchAttr::Uid
        | FetchAttr::ModSeq
        | FetchAttr::SaveDate => {
            return Err(CmdError::Server("metadata item asked as content".into()));
        }
    })
}

impl<S, B> Session<S, B>
where
    S: AsyncRead + AsyncWrite + Unpin + Send,
    B: Backend,
{
    pub(crate) async fn cmd_fetch(
        &mut self,
        state: &mut State,
        uid: bool,
        set: &SequenceSet,
        attrs: &[FetchAttr],
        modifiers: FetchModifiers,
    ) -> CmdResult {
        let name = if uid { "UID FETCH" } else { "FETCH" };
        let Some((authed, sel)) = state.selected() else {
            return Err(wrong_state(state, name));
        };
        if modifiers.vanished {
            // RFC 7162 §3.2.6.
            if !uid || !authed.enabled.qresync || modifiers.changed_since.is_none() {
                return Err(CmdError::bad(
                    "VANISHED needs UID FETCH, CHANGEDSINCE and ENABLE QRESYNC",
                ));
            }
        }
        if (modifiers.changed_since.is_some() || attrs.contains(&FetchAttr::ModSeq))
            && !authed.enabled.condstore
        {
            authed.enabled.condstore = true;
            // RFC 7162 §3.1: CONDSTORE enabled with a mailbox selected
            // tells the mailbox's HIGHESTMODSEQ.
            self.send(&Response::untagged(
                Status::Ok,
                Some(Code::HighestModSeq(sel.highest_modseq)),
                "CONDSTORE enabled",
            ));
        }
        let enabled = authed.enabled;
        let account = authed.account.clone();
        let targets = sel.resolve(set, uid)?;
        if let (true, Some(since)) = (modifiers.vanished, modifiers.changed_since) {
            let last = sel.known().last().map_or(0, |m| m.uid);
            let mut gone = self.backend.vanished(&account, sel.id, since).await?;
            if let Some(r) = set.ranges(last.max(sel.uidnext.saturating_sub(1))) {
                gone.retain(|u| in_ranges(&r, *u));
            }
            if !gone.is_empty() {
                self.send_data(Data::Vanished {
                    earlier: true,
                    uids: NumSet(gone),
                });
            }
        }
        if targets.is_empty() {
            return Ok(Done::ok(format!("{name} completed")));
        }
        let uids: Vec<u32> = targets.iter().map(|(_, u)| *u).collect();
        let mut metas: HashMap<u32, MessageMeta> = self
            .backend
            .message_meta(&account, sel.id, &uids)
            .await?
            .into_iter()
            .map(|m| (m.uid, m))
            .collect();
        if let Some(since) = modifiers.changed_since {
            metas.retain(|_, m| m.modseq > since);
        }
        // Set \Seen for body fetches first, so the responses carry it.
        let mut seen_set = HashSet::new();
        if !sel.read_only && attrs.iter().any(sets_seen) {
            let unseen: Vec<u32> = uids
                .iter()
                .copied()
                .filter(|u| {
                    metas
                        .get(u)
                        .is_some_and(|m| !m.flags.iter().any(|f| f.eq_ignore_ascii_case("\\Seen")))
                })
                .collect();
            if !unseen.is_empty() {
                let change = FlagChange {
                    uids: unseen,
                    op: FlagOp::Add,
                    flags: vec!["\\Seen".into()],
                    unchanged_since: None,
                };
                let outcome = self.backend.store_flags(&account, sel.id, &change).await?;
                for fs in outcome.messages {
                    sel.set_modseq(fs.uid, fs.modseq);
                    if let Some(m) = metas.get_mut(&fs.uid) {
                        m.flags = fs.flags;
                        m.modseq = fs.modseq;
                    }
                    if fs.changed {
                        seen_set.insert(fs.uid);
                    }
                }
            }
        }
        let want_content = attrs.iter().any(needs_content);
        let with_modseq = modifiers.changed_since.is_some();
        for (seq, u) in targets {
            let Some(meta) = metas.get(&u) else {
                continue;
            };
            let content = if want_content {
                match self.backend.message_content(&account, sel.id, u).await? {
                    Some(c) => Some(c),
                    // Expunged meanwhile: its expunge is told later.
                    None => continue,
                }
            } else {
                None
            };
            let seen = seen_set.contains(&u);
            let items = items(
                attrs,
                meta,
                content.as_ref(),
                uid,
                with_modseq || (seen && enabled.condstore),
                seen,
            )?;
            self.send_data(Data::Fetch { seq, items });
            self.io.maybe_flush().await?;
        }
        Ok(Done::ok(format!("{name} completed")))
    }
}
