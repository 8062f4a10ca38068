//! THREAD and UID THREAD (RFC 5256 §3): ORDEREDSUBJECT, and REFERENCES
//! (RFC 5256 §4: message ids from References/In-Reply-To linked into
//! trees, empty containers pruned, threads grouped by base subject,
//! siblings in sent-date order). Selected state. Trees deeper than
//! [`MAX_THREAD_DEPTH`] are flattened below that depth, so that building,
//! sending and dropping them stays bounded in stack.

use std::collections::HashMap;

use tokio::io::{AsyncRead, AsyncWrite};

use super::search::{Hit, check_charset};
use super::sort::sent_date;
use crate::imap::backend::Backend;
use crate::imap::parse::{SearchKey, ThreadAlgorithm};
use crate::imap::response::{Data, ThreadNode};
use crate::imap::session::state::{State, wrong_state};
use crate::imap::session::{CmdResult, Done, Session};
use crate::imap::subject::{base_subject, base_subject_and_reply};

/// Deepest reply level sent as a tree.
pub const MAX_THREAD_DEPTH: usize = 64;

fn num(h: &Hit, uid: bool) -> u32 {
    if uid { h.meta.uid } else { h.seq }
}

fn leaf(id: u32) -> ThreadNode {
    ThreadNode {
        id: Some(id),
        children: Vec::new(),
    }
}

/// RFC 5256 §3 ORDEREDSUBJECT.
fn ordered_subject(hits: &[Hit], uid: bool) -> Vec<ThreadNode> {
    let mut groups: HashMap<String, Vec<usize>> = HashMap::new();
    for (i, h) in hits.iter().enumerate() {
        let s = h
            .parsed
            .as_ref()
            .and_then(|p| p.envelope.subject.as_deref())
            .unwrap_or("");
        groups.entry(base_subject(s)).or_default().push(i);
    }
    let key = |i: &usize| (sent_date(&hits[*i]), hits[*i].seq);
    let mut threads: Vec<Vec<usize>> = groups.into_values().collect();
    for t in &mut threads {
        t.sort_by_key(key);
    }
    threads.sort_by_key(|t| key(&t[0]));
    threads
        .into_iter()
        .map(|t| ThreadNode {
            id: Some(num(&hits[t[0]], uid)),
            children: t[1..].iter().map(|i| leaf(num(&hits[*i], uid))).collect(),
        })
        .collect()
}

/// `<id>` tokens of a header value.
fn ids(s: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = s;
    while let Some(start) = rest.find('<') {
        let Some(len) = rest[start..].find('>') else {
            break;
        };
        let id = &rest[start..start + len + 1];
        if id.len() > 2 {
            out.push(id.to_string());
        }
        rest = &rest[start + len + 1..];
    }
    out
}

struct Container {
    msg: Option<usize>,
    parent: Option<usize>,
    children: Vec<usize>,
}

/// The containers of RFC 5256 §4, in one arena (no recursion over
/// parent links, so long reference chains cost no stack).
struct Forest {
    cs: Vec<Container>,
}

impl Forest {
    fn new_container(&mut self) -> usize {
        self.cs.push(Container {
            msg: None,
            parent: None,
            children: Vec::new(),
        });
        self.cs.len() - 1
    }

    fn is_dummy(&self, c: usize) -> bool {
        self.cs[c].msg.is_none()
    }

    /// Whether making `parent` the parent of `child` would close a loop.
    fn would_loop(&self, parent: usize, child: usize) -> bool {
        let mut cur = Some(parent);
        for _ in 0..=self.cs.len() {
            match cur {
                Some(c) if c == child => return true,
                Some(c) => cur = self.cs[c].parent,
                None => return false,
            }
        }
        true
    }

    fn detach(&mut self, child: usize) {
        if let Some(old) = self.cs[child].parent.take() {
            self.cs[old].children.retain(|&c| c != child);
        }
    }

    fn set_parent(&mut self, child: usize, parent: usize) {
        self.detach(child);
        self.cs[child].parent = Some(parent);
        self.cs[parent].children.push(child);
    }

    /// Makes `child` a child of `parent`; a dummy `child` hands over its
    /// children instead (the same tree once dummies are pruned).
    fn adopt(&mut self, parent: usize, child: usize) {
        if self.is_dummy(child) {
            for c in std::mem::take(&mut self.cs[child].children) {
                self.cs[c].parent = None;
                self.set_parent(c, parent);
            }
        } else {
            self.set_parent(child, parent);
        }
    }

    /// Message containers below `c`, looking through empty ones.
    fn shown(&self, c: usize) -> Vec<usize> {
        let mut out = Vec::new();
        let mut stack: Vec<usize> = self.cs[c].children.iter().rev().copied().collect();
        let mut budget = self.cs.len() * 2;
        while let Some(x) = stack.pop() {
            if budget == 0 {
                break;
            }
            budget -= 1;
            if self.cs[x].msg.is_some() {
                out.push(x);
            } else {
                stack.extend(self.cs[x].children.iter().rev());
            }
        }
        out
    }

    /// All message containers below `c`, flat.
    fn descendants(&self, c: usize) -> Vec<usize> {
        let mut out = Vec::new();
        let mut stack = vec![c];
        let mut budget = self.cs.len() * 2;
        while let Some(x) = stack.pop() {
            if budget == 0 {
                break;
            }
            budget -= 1;
            for &ch in &self.cs[x].children {
                if self.cs[ch].msg.is_some() {
                    out.push(ch);
                }
                stack.push(ch);
            }
        }
        out
    }

    /// RFC 5256 §4 steps 2 and 3: the containers without parent, empty
    /// ones pruned. Below the top level an empty container is replaced
    /// by its children ([`Forest::shown`] looks through it); at the top
    /// level only when it has one child, else it stays with its message
    /// containers as direct children.
    fn root_set(&mut self) -> Vec<usize> {
        let roots: Vec<usize> = (0..self.cs.len())
            .filter(|&c| self.cs[c].parent.is_none())
            .collect();
        let mut top = Vec::new();
        for r in roots {
            if !self.is_dummy(r) {
                top.push(r);
                continue;
            }
            let shown = self.shown(r);
            match shown.as_slice() {
                [] => {}
                [one] => {
                    self.detach(*one);
                    top.push(*one);
                }
                many => {
                    for &c in many {
                        self.detach(c);
                    }
                    for d in std::mem::take(&mut self.cs[r].children) {
                        self.cs[d].parent = None;
                    }
                    for &c in many {
                        self.set_parent(c, r);
                    }
                    top.push(r);
                }
            }
        }
        top
    }
}

/// Sort key of a message: sent date, then sequence number (RFC 5256
/// §2.2).
type DateKey = (i64, u32);

/// Sort key of a container: its message's, or for an empty one, its
/// first child's (RFC 5256 §4 steps 4 and 6).
fn date_key(f: &Forest, keys: &[DateKey], c: usize) -> DateKey {
    match f.cs[c].msg {
        Some(i) => keys[i],
        None => f
            .shown(c)
            .iter()
            .filter_map(|x| f.cs[*x].msg)
            .map(|i| keys[i])
            .min()
            .unwrap_or((i64::MAX, u32::MAX)),
    }
}

/// The message whose subject a top-level container has: its own, or
/// for an empty one its first child's (RFC 5256 §4 step 5.B).
fn subject_msg(f: &Forest, keys: &[DateKey], c: usize) -> Option<usize> {
    f.cs[c].msg.or_else(|| {
        f.shown(c)
            .iter()
            .filter_map(|x| f.cs[*x].msg)
            .min_by_key(|i| keys[*i])
    })
}

/// RFC 5256 §4 step 5: top-level threads with the same base subject
/// gathered, preferring an empty container or a non-reply as the one
/// the others join. `top` is in sent-date order; merged entries leave it.
fn group_by_subject(
    f: &mut Forest,
    keys: &[DateKey],
    subjects: &[(String, bool)],
    top: &mut Vec<usize>,
) {
    // 5.B: the subject of each top-level container (an empty one has
    // its first child's); an empty subject is not grouped.
    let subj: Vec<Option<&(String, bool)>> = top
        .iter()
        .map(|&c| {
            subject_msg(f, keys, c)
                .map(|i| &subjects[i])
                .filter(|s| !s.0.is_empty())
        })
        .collect();
    // 5.A, 5.B: per base subject, the index in `top` the others join.
    let mut table: HashMap<&str, usize> = HashMap::new();
    for (i, s) in subj.iter().enumerate() {
        let Some((base, reply)) = s else {
            continue;
        };
        // An empty container in the table stays; a message there gives
        // way to an empty container, or to a non-reply if it is a reply.
        let replace = match table.get(base.as_str()) {
            None => true,
            Some(&t) => {
                let t_reply = subj[t].is_some_and(|s| s.1);
                !f.is_dummy(top[t]) && (f.is_dummy(top[i]) || (t_reply && !reply))
            }
        };
        if replace {
            table.insert(base, i);
        }
    }
    // 5.C.
    let mut gone = vec![false; top.len()];
    for i in 0..top.len() {
        let Some((base, reply)) = subj[i] else {
            continue;
        };
        let Some(&t) = table.get(base.as_str()) else {
            continue;
        };
        if t == i {
            continue;
        }
        let (c, tc) = (top[i], top[t]);
        let t_reply = subj[t].is_some_and(|s| s.1);
        if f.is_dummy(tc) || (*reply && !t_reply) {
            // Into the empty container, or a reply below the original.
            f.adopt(tc, c);
        } else {
            // Both under a new empty container, in the table's place.
            let d = f.new_container();
            f.adopt(d, tc);
            f.adopt(d, c);
            top[t] = d;
        }
        gone[i] = true;
    }
    let mut i = 0;
    top.retain(|_| {
        i += 1;
        !gone[i - 1]
    });
}

/// RFC 5256 §4 REFERENCES.
fn references(hits: &[Hit], uid: bool) -> Vec<ThreadNode> {
    let mut f = Forest { cs: Vec::new() };
    let mut by_id: HashMap<String, usize> = HashMap::new();
    // Step 1.
    for (i, h) in hits.iter().enumerate() {
        let env = h.parsed.as_ref().map(|p| &p.envelope);
        let own = env
            .and_then(|e| e.message_id.as_deref())
            .and_then(|m| ids(m).into_iter().next());
        let c = match own.and_then(|id| {
            let c = *by_id.entry(id).or_insert_with(|| f.new_container());
            f.cs[c].msg.is_none().then_some(c)
        }) {
            Some(c) => c,
            // No or duplicate Message-ID: a container of its own.
            None => f.new_container(),
        };
        f.cs[c].msg = Some(i);
        // The References, else the first id of In-Reply-To.
        let mut refs = h.references.as_deref().map(ids).unwrap_or_default();
        if refs.is_empty() {
            refs = env
                .and_then(|e| e.in_reply_to.as_deref())
                .map(ids)
                .unwrap_or_default();
            refs.truncate(1);
        }
        // 1.A, 1.B: each reference the parent of the next, unless
        // already linked or a loop would result.
        let mut prev: Option<usize> = None;
        for r in refs {
            let rc = *by_id.entry(r).or_insert_with(|| f.new_container());
            if let Some(p) = prev
                && f.cs[rc].parent.is_none()
                && p != rc
                && !f.would_loop(p, rc)
            {
                f.set_parent(rc, p);
            }
            prev = Some(rc);
        }
        // 1.C: the message's own last reference is its parent; a parent
        // presumed from other messages' References is dropped first, even
        // when the new one cannot be taken (it would close a loop).
        f.detach(c);
        if let Some(p) = prev
            && p != c
            && !f.would_loop(p, c)
        {
            f.set_parent(c, p);
        }
    }
    let keys: Vec<DateKey> = hits.iter().map(|h| (sent_date(h), h.seq)).collect();
    let subjects: Vec<(String, bool)> = hits
        .iter()
        .map(|h| {
            let s = h
                .parsed
                .as_ref()
                .and_then(|p| p.envelope.subject.as_deref())
                .unwrap_or("");
            base_subject_and_reply(s)
        })
        .collect();
    // Steps 2 to 4.
    let mut top = f.root_set();
    top.sort_by_cached_key(|c| date_key(&f, &keys, *c));
    // Step 5.
    group_by_subject(&mut f, &keys, &subjects, &mut top);
    // Step 6 (below the top level as the trees are built).
    top.sort_by_cached_key(|c| date_key(&f, &keys, *c));
    top.into_iter()
        .map(|c| {
            if f.is_dummy(c) {
                let mut kids = f.shown(c);
                kids.sort_by_key(|x| date_key(&f, &keys, *x));
                ThreadNode {
                    id: None,
                    children: kids
                        .iter()
                        .map(|x| tree(&f, hits, &keys, *x, 1, uid))
                        .collect(),
                }
            } else {
                tree(&f, hits, &keys, c, 0, uid)
            }
        })
        .collect()
}

/// The tree under message container `c`, siblings in sent-date order
/// (recursion bounded by [`MAX_THREAD_DEPTH`]).
fn tree(
    f: &Forest,
    hits: &[Hit],
    keys: &[DateKey],
    c: usize,
    depth: usize,
    uid: bool,
) -> ThreadNode {
    let date = |x: &usize| date_key(f, keys, *x);
    let id = f.cs[c].msg.map(|i| num(&hits[i], uid));
    let children = if depth >= MAX_THREAD_DEPTH {
        let mut d = f.descendants(c);
        d.sort_by_key(date);
        d.iter()
            .filter_map(|x| f.cs[*x].msg)
            .map(|i| leaf(num(&hits[i], uid)))
            .collect()
    } else {
        let mut kids = f.shown(c);
        kids.sort_by_key(date);
        kids.iter()
            .map(|x| tree(f, hits, keys, *x, depth + 1, uid))
            .collect()
    };
    ThreadNode { id, children }
}

impl<S, B> Session<S, B>
where
    S: AsyncRead + AsyncWrite + Unpin + Send,
    B: Backend,
{
    pub(crate) async fn cmd_thread(
        &mut self,
        state: &mut State,
        uid: bool,
        algorithm: ThreadAlgorithm,
        charset: &str,
        key: &SearchKey,
    ) -> CmdResult {
        let name = if uid { "UID THREAD" } else { "THREAD" };
        let Some((authed, sel)) = state.selected() else {
            return Err(wrong_state(state, name));
        };
        check_charset(Some(charset))?;
        let account = authed.account.clone();
        let hits = self.matching(&account, sel, key, true).await?;
        let threads = match algorithm {
            ThreadAlgorithm::OrderedSubject => ordered_subject(&hits, uid),
            ThreadAlgorithm::References => references(&hits, uid),
        };
        self.send_data(Data::Thread(threads));
        Ok(Done::ok(format!("{name} completed")))
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::imap::backend::MessageMeta;
    use crate::imap::encode::Encoder;
    use crate::imap::parsed::{ParsedMessage, header};
    use crate::imap::response::Response;

    /// Hits for messages given as (header, internal date), numbered 1...
    fn hits(msgs: &[(&str, i64)]) -> Vec<Hit> {
        msgs.iter()
            .enumerate()
            .map(|(i, (hdr, date))| {
                let bytes = format!("{hdr}\r\n\r\nbody\r\n").into_bytes();
                let parsed = ParsedMessage::from_bytes(&bytes);
                let references = parsed
                    .root()
                    .and_then(|r| header::first(&header::fields(&bytes, r.header), "References"));
                let seq = u32::try_from(i + 1).unwrap();
                Hit {
                    seq,
                    meta: MessageMeta {
                        uid: seq + 100,
                        modseq: 1,
                        flags: Vec::new(),
                        size: bytes.len() as u64,
                        internal_date: *date,
                        save_date: None,
                    },
                    parsed: Some(Arc::new(parsed)),
                    references,
                }
            })
            .collect()
    }

    fn threads(msgs: &[(&str, i64)]) -> String {
        let t = references(&hits(msgs), false);
        let wire = Encoder { utf8: false }.to_vec(&Response::Data(Data::Thread(t)));
        String::from_utf8(wire).unwrap().trim_end().to_string()
    }

    #[test]
    fn own_references_replace_presumed_parent() {
        // imaptest thread: 2 presumes <a> → <c> → <b>; 3 (<c>) says its
        // parent is <b>, which would be a loop: <c> becomes a root.
        let msgs = [
            ("Message-ID: <a@b>", 1_203_692_783),
            (
                "Message-Id: <b@b>\r\nReferences: <a@b> <c@b>",
                1_203_685_583,
            ),
            ("Message-Id: <c@b>\r\nReferences: <b@b>", 1_203_689_185),
        ];
        assert_eq!(threads(&msgs), "* THREAD (3 2)(1)");
        // And after 1 is expunged.
        assert_eq!(threads(&msgs[1..]), "* THREAD (2 1)");
    }

    #[test]
    fn threads_grouped_by_subject() {
        // imaptest thread3: the same Message-ID twice.
        let msgs = [
            ("Message-Id: <a@b>\r\nSubject: foo", 100),
            ("Message-Id: <a@b>\r\nSubject: Re: foo", 101),
        ];
        assert_eq!(threads(&msgs), "* THREAD (1 2)");
        // imaptest thread4: a reply whose parent is missing.
        let msgs = [
            ("Message-Id: <a@b>\r\nSubject: foo", 100),
            (
                "Message-Id: <b@b>\r\nReferences: <c@b>\r\nSubject: Re: foo",
                101,
            ),
        ];
        assert_eq!(threads(&msgs), "* THREAD (1 2)");
        // Two originals with one subject: under an empty container; a
        // later reply joins it; an empty subject is never grouped.
        let msgs = [
            ("Message-Id: <1@x>\r\nSubject: bar", 100),
            ("Message-Id: <2@x>\r\nSubject: [list] bar", 101),
            ("Message-Id: <3@x>\r\nSubject: Re: bar", 102),
            ("Message-Id: <4@x>", 103),
            ("Message-Id: <5@x>\r\nSubject: Re:", 104),
        ];
        assert_eq!(threads(&msgs), "* THREAD ((1)(2)(3))(4)(5)");
        // A reply that came first still goes below the original.
        let msgs = [
            ("Message-Id: <1@x>\r\nSubject: Re: baz", 100),
            ("Message-Id: <2@x>\r\nSubject: baz", 101),
        ];
        assert_eq!(threads(&msgs), "* THREAD (2 1)");
        // An empty container in the subject table keeps its place: the
        // original joins it rather than taking its children.
        let msgs = [
            (
                "Message-Id: <1@x>\r\nReferences: <gone@x>\r\nSubject: Re: x",
                100,
            ),
            (
                "Message-Id: <2@x>\r\nReferences: <gone@x>\r\nSubject: Re: x",
                101,
            ),
            ("Message-Id: <3@x>\r\nSubject: x", 102),
        ];
        assert_eq!(threads(&msgs), "* THREAD ((1)(2)(3))");
    }

    #[test]
    fn chains_and_dummies() {
        // In-Reply-To when there is no References; a missing parent
        // shared by two replies stays as an empty container.
        let msgs = [
            ("Message-Id: <1@x>\r\nSubject: a", 100),
            ("Message-Id: <2@x>\r\nIn-Reply-To: <1@x>\r\nSubject: b", 101),
            (
                "Message-Id: <3@x>\r\nReferences: <gone@x>\r\nSubject: c",
                102,
            ),
            (
                "Message-Id: <4@x>\r\nReferences: <gone@x>\r\nSubject: d",
                103,
            ),
        ];
        assert_eq!(threads(&msgs), "* THREAD (1 2)((3)(4))");
        // A long chain is flattened below MAX_THREAD_DEPTH, not recursed:
        // the deeper replies are siblings there.
        let n = MAX_THREAD_DEPTH * 4;
        let hdrs: Vec<String> = (0..n)
            .map(|i| match i {
                0 => "Message-Id: <0@x>".to_string(),
                _ => format!("Message-Id: <{i}@x>\r\nIn-Reply-To: <{}@x>", i - 1),
            })
            .collect();
        let msgs: Vec<(&str, i64)> = hdrs.iter().zip(0..).map(|(h, d)| (h.as_str(), d)).collect();
        let t = threads(&msgs);
        assert!(t.starts_with("* THREAD (1 2 3 "), "{t}");
        let deepest = MAX_THREAD_DEPTH + 1;
        assert!(t.contains(&format!(" {deepest} ({})(", deepest + 1)), "{t}");
        assert!(t.ends_with(&format!("({n}))")), "{t}");
    }
}
