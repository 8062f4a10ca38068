//! THREAD and UID THREAD (RFC 5256 §3): ORDEREDSUBJECT, and REFERENCES
//! (message ids from References/In-Reply-To linked into trees, empty
//! containers pruned; the optional grouping of roots by subject is not
//! done). Selected state. Trees deeper than [`MAX_THREAD_DEPTH`] are
//! flattened below that depth, so that building, sending and dropping
//! them stays bounded in stack.

use std::collections::HashMap;

use tokio::io::{AsyncRead, AsyncWrite};

use super::search::{Hit, check_charset};
use super::sort::sent_date;
use crate::imap::backend::Backend;
use crate::imap::parse::{SearchKey, ThreadAlgorithm};
use crate::imap::response::{Data, ThreadNode};
use crate::imap::session::state::{State, wrong_state};
use crate::imap::session::{CmdResult, Done, Session};
use crate::imap::subject::base_subject;

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

    fn set_parent(&mut self, child: usize, parent: usize) {
        if let Some(old) = self.cs[child].parent {
            self.cs[old].children.retain(|&c| c != child);
        }
        self.cs[child].parent = Some(parent);
        self.cs[parent].children.push(child);
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
}

/// RFC 5256 §3 REFERENCES (without subject grouping).
fn references(hits: &[Hit], uid: bool) -> Vec<ThreadNode> {
    let mut f = Forest { cs: Vec::new() };
    let mut by_id: HashMap<String, usize> = HashMap::new();
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
        let mut refs = h.references.as_deref().map(ids).unwrap_or_default();
        if refs.is_empty() {
            refs = env
                .and_then(|e| e.in_reply_to.as_deref())
                .map(ids)
                .unwrap_or_default();
            refs.truncate(1);
        }
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
        if let Some(p) = prev
            && p != c
            && !f.would_loop(p, c)
        {
            f.set_parent(c, p);
        }
    }
    let date = |c: usize, f: &Forest| -> (i64, u32) {
        let m = f.cs[c]
            .msg
            .or_else(|| f.shown(c).first().and_then(|x| f.cs[*x].msg));
        m.map_or((0, 0), |i| (sent_date(&hits[i]), hits[i].seq))
    };
    let mut roots: Vec<ThreadNode> = Vec::new();
    let mut root_dates = Vec::new();
    for r in 0..f.cs.len() {
        if f.cs[r].parent.is_some() {
            continue;
        }
        let node = if f.cs[r].msg.is_some() {
            Some(tree(&f, hits, r, 0, uid))
        } else {
            match f.shown(r).as_slice() {
                [] => None,
                [one] => Some(tree(&f, hits, *one, 0, uid)),
                many => {
                    let mut kids: Vec<usize> = many.to_vec();
                    kids.sort_by_key(|c| date(*c, &f));
                    Some(ThreadNode {
                        id: None,
                        children: kids.iter().map(|c| tree(&f, hits, *c, 1, uid)).collect(),
                    })
                }
            }
        };
        if let Some(n) = node {
            root_dates.push(date(r, &f));
            roots.push(n);
        }
    }
    let mut order: Vec<usize> = (0..roots.len()).collect();
    order.sort_by_key(|i| root_dates[*i]);
    let mut slots: Vec<Option<ThreadNode>> = roots.into_iter().map(Some).collect();
    order.into_iter().filter_map(|i| slots[i].take()).collect()
}

/// The tree under message container `c` (recursion bounded by
/// [`MAX_THREAD_DEPTH`]).
fn tree(f: &Forest, hits: &[Hit], c: usize, depth: usize, uid: bool) -> ThreadNode {
    let date = |x: &usize| {
        f.cs[*x]
            .msg
            .map_or((0, 0), |i| (sent_date(&hits[i]), hits[i].seq))
    };
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
            .map(|x| tree(f, hits, *x, depth + 1, uid))
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
