//! SELECT and EXAMINE (RFC 9051 §6.3.2, §6.3.3) with CONDSTORE
//! (RFC 7162 §3.1.8) and QRESYNC (§3.2.5) parameters. Authenticated and
//! selected states: a selected mailbox is closed first (with `[CLOSED]`,
//! RFC 7162 §3.2.11), even if the new one cannot be selected.

use tokio::io::{AsyncRead, AsyncWrite};

use crate::imap::backend::{Backend, Snapshot};
use crate::imap::parse::{Mailbox, SelectParams, in_ranges};
use crate::imap::response::{Code, Data, FetchItem, ListEntry, NumSet, Response, Status};
use crate::imap::session::recent::Recent;
use crate::imap::session::state::{State, transition, wrong_state};
use crate::imap::session::view::Selected;
use crate::imap::session::{CmdError, CmdResult, Done, Session};

/// Flags every mailbox can hold (RFC 9051 §2.3.2 system flags and the
/// keywords the store knows).
pub(crate) const SYSTEM_FLAGS: [&str; 10] = [
    "\\Seen",
    "\\Answered",
    "\\Flagged",
    "\\Deleted",
    "\\Draft",
    "$Forwarded",
    "$Junk",
    "$NotJunk",
    "$Phishing",
    "$MDNSent",
];

/// The FLAGS of a mailbox: the system flags, then the keywords set in it.
fn mailbox_flags(snap: &Snapshot) -> Vec<String> {
    let mut flags: Vec<String> = SYSTEM_FLAGS.iter().map(|s| s.to_string()).collect();
    let mut keywords: Vec<String> = snap
        .keywords
        .iter()
        .filter(|f| !flags.iter().any(|s| s.eq_ignore_ascii_case(f)))
        .cloned()
        .collect();
    keywords.sort();
    keywords.dedup();
    flags.extend(keywords);
    flags
}

impl<S, B> Session<S, B>
where
    S: AsyncRead + AsyncWrite + Unpin + Send,
    B: Backend,
{
    pub(crate) async fn cmd_select(
        &mut self,
        state: &mut State,
        mailbox: &Mailbox,
        params: &SelectParams,
        read_only: bool,
    ) -> CmdResult {
        let name = if read_only { "EXAMINE" } else { "SELECT" };
        let Some(authed) = state.authed() else {
            return Err(wrong_state(state, name));
        };
        if params.qresync.is_some() && !authed.enabled.qresync {
            return Err(CmdError::bad(
                "QRESYNC parameter needs ENABLE QRESYNC first",
            ));
        }
        if params.condstore {
            authed.enabled.condstore = true;
        }
        let enabled = authed.enabled;
        let account = authed.account.clone();
        if matches!(state, State::Selected(..)) {
            transition(state, State::deselect);
            if enabled.condstore || enabled.rev2 {
                self.send(&Response::untagged(
                    Status::Ok,
                    Some(Code::Closed),
                    "previous mailbox closed",
                ));
            }
        }
        // RFC 9051 §5.1.3: a name that is not valid modified UTF-7 names
        // no mailbox (NO, as for any missing one; the parser let it pass).
        if mailbox.is_undecodable() {
            return Err(CmdError::no_code(
                Code::NonExistent,
                "no such mailbox (name is not valid modified UTF-7)",
            ));
        }
        self.backend.recent = Recent::off();
        let snap = self.backend.select(&account, mailbox.as_str()).await?;
        let sel = Selected::new(&snap, read_only);
        if !enabled.rev2 {
            // RFC 3501 §2.3.2: SELECT claims the messages no session has
            // seen as \Recent; EXAMINE shows them without claiming.
            self.backend.recent = Recent::open(&snap, read_only);
            self.claim_recent(&account, &sel).await;
        }
        let flags = mailbox_flags(&snap);
        self.send_data(Data::Flags(flags.clone()));
        self.send_data(Data::Exists(sel.count()));
        if !enabled.rev2 {
            // RFC 3501 §6.3.1: RECENT and the first unseen message.
            let recent = self.backend.recent.count_to_tell(&sel).unwrap_or(0);
            self.send_data(Data::Recent(recent));
            if let Some(seq) = snap.first_unseen.and_then(|u| sel.seq_of(u)) {
                self.send(&Response::untagged(
                    Status::Ok,
                    Some(Code::Unseen(seq)),
                    "first unseen message",
                ));
            }
        }
        let codes = [
            (Code::UidValidity(sel.uidvalidity), "UIDs valid"),
            (Code::UidNext(sel.uidnext), "predicted next UID"),
        ];
        for (code, text) in codes {
            self.send(&Response::untagged(Status::Ok, Some(code), text));
        }
        let permanent = if read_only {
            Vec::new()
        } else {
            let mut p = flags;
            p.push("\\*".into());
            p
        };
        self.send(&Response::untagged(
            Status::Ok,
            Some(Code::PermanentFlags(permanent)),
            "flags that can be changed permanently",
        ));
        self.send(&Response::untagged(
            Status::Ok,
            Some(Code::HighestModSeq(sel.highest_modseq)),
            "highest modseq",
        ));
        if enabled.rev2 {
            // RFC 9051 §6.3.2: the mailbox name as the server spells it.
            self.send_data(Data::List(ListEntry {
                attrs: Vec::new(),
                name: sel.name.clone(),
                childinfo_subscribed: false,
                old_name: None,
            }));
        }
        if let Some(q) = &params.qresync
            && q.uidvalidity == sel.uidvalidity
        {
            self.qresync(&account, &sel, q.modseq, q.known_uids.as_ref())
                .await?;
        }
        let code = if read_only {
            Code::ReadOnly
        } else {
            Code::ReadWrite
        };
        transition(state, |s| s.select(sel));
        Ok(Done::code(code, format!("{name} completed")))
    }

    /// RFC 7162 §3.2.5.1: what changed since the client's modseq —
    /// expunged UIDs as VANISHED (EARLIER), changed messages as FETCH.
    async fn qresync(
        &mut self,
        account: &str,
        sel: &Selected,
        since: u64,
        known: Option<&crate::imap::parse::SequenceSet>,
    ) -> Result<(), CmdError> {
        let mut vanished = self.backend.vanished(account, sel.id, since).await?;
        if let Some(ranges) = known.and_then(|k| k.ranges(u32::MAX)) {
            vanished.retain(|u| in_ranges(&ranges, *u));
        }
        if !vanished.is_empty() {
            self.send_data(Data::Vanished {
                earlier: true,
                uids: NumSet(vanished),
            });
        }
        // Read after the snapshot: a message changed after it (modseq
        // above HIGHESTMODSEQ) is told by its event, one added after it is
        // not in the view yet.
        let changed = self.backend.changed_since(account, sel.id, since).await?;
        for m in changed {
            let Some(seq) = sel.seq_of(m.uid).filter(|_| m.modseq <= sel.highest_modseq) else {
                continue;
            };
            self.send_data(Data::Fetch {
                seq,
                items: vec![
                    FetchItem::Uid(m.uid),
                    FetchItem::Flags(m.flags.clone()),
                    FetchItem::ModSeq(m.modseq),
                ],
            });
            self.io.maybe_flush().await?;
        }
        Ok(())
    }
}
