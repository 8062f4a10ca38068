//! SEARCH and UID SEARCH (RFC 9051 §6.4.4) with ESEARCH return options
//! (RFC 4731, always ESEARCH for IMAP4rev2 clients), SEARCHRES SAVE
//! (RFC 5182) and MODSEQ (RFC 7162 §3.1.5). Selected state. Also the
//! matching pass SORT and THREAD share.

use std::sync::Arc;

use futures_util::stream::{self, StreamExt};
use tokio::io::{AsyncRead, AsyncWrite};

use crate::imap::backend::{Backend, MessageMeta};
use crate::imap::parse::{SearchKey, SearchProgram, SearchReturn};
use crate::imap::parsed::ParsedMessage;
use crate::imap::response::{Code, Data, EsearchItem, NumSet};
use crate::imap::search::{Context, Target, needs_content, uses_modseq};
use crate::imap::session::state::{State, wrong_state};
use crate::imap::session::view::Selected;
use crate::imap::session::{CmdError, CmdResult, Done, Session};

/// Charsets SEARCH accepts (RFC 9051 §6.4.4: UTF-8 and US-ASCII).
pub(crate) const CHARSETS: [&str; 2] = ["UTF-8", "US-ASCII"];

pub(crate) fn check_charset(cs: Option<&str>) -> Result<(), CmdError> {
    match cs {
        Some(c) if !CHARSETS.iter().any(|x| x.eq_ignore_ascii_case(c)) => Err(CmdError::no_code(
            Code::BadCharset(CHARSETS.iter().map(|s| s.to_string()).collect()),
            format!("charset {c} not supported"),
        )),
        _ => Ok(()),
    }
}

/// Message contents a SEARCH, SORT or THREAD asks the store for at once.
pub(crate) const SEARCH_PREFETCH: usize = 32;

/// A matching message.
pub(crate) struct Hit {
    pub seq: u32,
    pub meta: MessageMeta,
    /// Its structure, when the caller asked for it (SORT, THREAD).
    pub parsed: Option<Arc<ParsedMessage>>,
    /// The References header (THREAD REFERENCES).
    pub references: Option<String>,
}

pub(crate) fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

impl<S, B> Session<S, B>
where
    S: AsyncRead + AsyncWrite + Unpin + Send,
    B: Backend,
{
    /// The messages of the view that match `key`, in sequence order.
    pub(crate) async fn matching(
        &mut self,
        account: &str,
        sel: &Selected,
        key: &SearchKey,
        keep_structure: bool,
    ) -> Result<Vec<Hit>, CmdError> {
        let known = sel.known();
        let uids: Vec<u32> = known.iter().map(|m| m.uid).collect();
        if uids.is_empty() {
            return Ok(Vec::new());
        }
        let metas = self.backend.message_meta(account, sel.id, &uids).await?;
        let mut saved = sel.saved.clone();
        saved.sort_unstable();
        let ctx = Context {
            count: sel.count(),
            last_uid: known.last().map_or(0, |m| m.uid),
            saved: &saved,
            now: now(),
        };
        let want_content = needs_content(key) || keep_structure;
        let backend = &self.backend;
        // Contents are asked for SEARCH_PREFETCH at a time (the store
        // answers requests of one connection concurrently), and matched
        // in order.
        let known_metas = metas
            .into_iter()
            .filter_map(|meta| sel.seq_of(meta.uid).map(|seq| (seq, meta)));
        let mut loaded = stream::iter(known_metas)
            .map(|(seq, meta)| async move {
                let content = if want_content {
                    match backend.message_content(account, sel.id, meta.uid).await? {
                        Some(c) => Some(c),
                        None => return Ok(None),
                    }
                } else {
                    None
                };
                Ok::<_, CmdError>(Some((seq, meta, content)))
            })
            .buffered(SEARCH_PREFETCH);
        let mut hits = Vec::new();
        while let Some(next) = loaded.next().await {
            let Some((seq, meta, content)) = next? else {
                continue;
            };
            let mut t = Target::new(seq, &meta, content.as_ref());
            if !ctx.matches(key, &mut t) {
                continue;
            }
            let references = match (&content, keep_structure) {
                (Some(c), true) => c.parsed.root().and_then(|r| {
                    crate::imap::parsed::header::first(
                        &crate::imap::parsed::header::fields(&c.bytes, r.header),
                        "References",
                    )
                }),
                _ => None,
            };
            hits.push(Hit {
                seq,
                parsed: if keep_structure {
                    content.map(|c| c.parsed)
                } else {
                    None
                },
                meta,
                references,
            });
        }
        hits.sort_by_key(|h| h.seq);
        Ok(hits)
    }

    pub(crate) async fn cmd_search(
        &mut self,
        state: &mut State,
        tag: &str,
        uid: bool,
        program: &SearchProgram,
    ) -> CmdResult {
        let name = if uid { "UID SEARCH" } else { "SEARCH" };
        let Some((authed, sel)) = state.selected() else {
            return Err(wrong_state(state, name));
        };
        check_charset(program.charset.as_deref())?;
        let with_modseq = uses_modseq(&program.key);
        if with_modseq {
            authed.enabled.condstore = true;
        }
        let enabled = authed.enabled;
        let account = authed.account.clone();
        let hits = self.matching(&account, sel, &program.key, false).await?;
        let nums: Vec<u32> = hits
            .iter()
            .map(|h| if uid { h.meta.uid } else { h.seq })
            .collect();
        let highest = hits
            .iter()
            .map(|h| h.meta.modseq)
            .max()
            .filter(|_| with_modseq);
        // RFC 9051 §6.4.4: IMAP4rev2 clients always get ESEARCH.
        let returns = match (&program.returns, enabled.rev2) {
            (Some(r), _) => Some(r.clone()),
            (None, true) => Some(Vec::new()),
            (None, false) => None,
        };
        let Some(mut returns) = returns else {
            self.send_data(Data::Search {
                nums,
                modseq: highest,
            });
            return Ok(Done::ok(format!("{name} completed")));
        };
        let save = returns.contains(&SearchReturn::Save);
        returns.retain(|r| *r != SearchReturn::Save);
        let only_save = save && returns.is_empty();
        if returns.is_empty() {
            returns.push(SearchReturn::All);
        }
        let uids: Vec<u32> = hits.iter().map(|h| h.meta.uid).collect();
        if save {
            // RFC 5182 §2.1: with MIN and/or MAX only those are saved.
            let has = |r| returns.contains(&r);
            sel.saved = if !only_save
                && (has(SearchReturn::Min) || has(SearchReturn::Max))
                && !has(SearchReturn::All)
                && !has(SearchReturn::Count)
            {
                let mut v = Vec::new();
                if has(SearchReturn::Min) {
                    v.extend(uids.first());
                }
                if has(SearchReturn::Max) {
                    v.extend(uids.last());
                }
                v.sort_unstable();
                v.dedup();
                v
            } else {
                uids
            };
        }
        if only_save {
            return Ok(Done::ok(format!("{name} completed, result saved")));
        }
        let mut items = Vec::new();
        for r in &returns {
            match r {
                SearchReturn::Min => items.extend(nums.first().map(|n| EsearchItem::Min(*n))),
                SearchReturn::Max => items.extend(nums.last().map(|n| EsearchItem::Max(*n))),
                SearchReturn::All if !nums.is_empty() => {
                    items.push(EsearchItem::All(NumSet(nums.clone())));
                }
                SearchReturn::Count => {
                    items.push(EsearchItem::Count(
                        u32::try_from(nums.len()).unwrap_or(u32::MAX),
                    ));
                }
                SearchReturn::All | SearchReturn::Save => {}
            }
        }
        // RFC 7162 §3.1.5: the highest mod-sequence of the messages
        // returned; with only MIN and/or MAX, those are the messages.
        let only_ends =
            !returns.contains(&SearchReturn::All) && !returns.contains(&SearchReturn::Count);
        let modseq = if only_ends {
            let first = hits
                .first()
                .filter(|_| returns.contains(&SearchReturn::Min));
            let last = hits.last().filter(|_| returns.contains(&SearchReturn::Max));
            first
                .into_iter()
                .chain(last)
                .map(|h| h.meta.modseq)
                .max()
                .filter(|_| with_modseq)
        } else {
            highest
        };
        if let Some(m) = modseq {
            items.push(EsearchItem::ModSeq(m));
        }
        self.send_data(Data::Esearch {
            tag: Some(tag.to_string()),
            uid,
            items,
        });
        Ok(Done::ok(format!("{name} completed")))
    }
}
