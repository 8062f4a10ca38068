//! LIST (RFC 9051 §6.3.9) with LIST-EXTENDED (RFC 5258) selection and
//! return options, CHILDREN (RFC 3348), SPECIAL-USE (RFC 6154) and
//! LIST-STATUS (RFC 5819). Authenticated and selected states. Also the
//! pattern matching LSUB shares.

use std::collections::{BTreeMap, BTreeSet};

use tokio::io::{AsyncRead, AsyncWrite};

use crate::imap::backend::{Backend, MailboxInfo};
use crate::imap::parse::{INBOX, ListCommand, SEPARATOR};
use crate::imap::response::{Data, ListEntry};
use crate::imap::session::state::{State, wrong_state};
use crate::imap::session::{CmdResult, Done, Session};

/// Reference and pattern as one pattern (RFC 9051 §6.3.9), with INBOX
/// spelled as moxd spells it.
pub(crate) fn full_pattern(reference: &str, pattern: &str) -> String {
    let p = if pattern.starts_with(SEPARATOR) || reference.is_empty() {
        pattern.to_string()
    } else {
        format!("{reference}{pattern}")
    };
    let first = p.split(SEPARATOR).next().unwrap_or("");
    if first.eq_ignore_ascii_case("INBOX") {
        format!("{INBOX}{}", &p[first.len()..])
    } else {
        p
    }
}

/// Whether `name` matches `pattern`: `*` matches anything, `%` anything
/// but the separator (RFC 9051 §6.3.9). Dynamic programming, so that
/// patterns full of wildcards cost O(n·m), not exponential time.
pub(crate) fn matches(pattern: &str, name: &str) -> bool {
    let p: Vec<char> = pattern.chars().collect();
    let n: Vec<char> = name.chars().collect();
    // reach[j]: pattern[..i] matches name[..j].
    let mut reach = vec![false; n.len() + 1];
    reach[0] = true;
    for &pc in &p {
        let mut next = vec![false; n.len() + 1];
        match pc {
            '*' | '%' => {
                for j in 0..=n.len() {
                    next[j] =
                        reach[j] || (j > 0 && next[j - 1] && (pc == '*' || n[j - 1] != SEPARATOR));
                }
            }
            c => {
                for j in 1..=n.len() {
                    next[j] = reach[j - 1] && n[j - 1] == c;
                }
            }
        }
        reach = next;
    }
    reach[n.len()]
}

/// RFC 5258 §3.5 with RECURSIVEMATCH: whether `name` has a subscribed
/// descendant that the patterns do not list by itself. Only then is
/// `name` listed for it with CHILDINFO ("SUBSCRIBED"): a descendant that
/// is listed needs no parent to show it (as Dovecot answers, and
/// imaptest's listext expects).
fn unlisted_subscribed_child(
    subscribed: &BTreeSet<String>,
    name: &str,
    listed: impl Fn(&str) -> bool,
) -> bool {
    let prefix = format!("{name}{SEPARATOR}");
    subscribed
        .range(prefix.clone()..)
        .take_while(|s| s.starts_with(&prefix))
        .any(|s| !listed(s))
}

fn has_children(names: &BTreeSet<String>, name: &str) -> bool {
    let prefix = format!("{name}{SEPARATOR}");
    names
        .range(prefix.clone()..)
        .next()
        .is_some_and(|n| n.starts_with(&prefix))
}

impl<S, B> Session<S, B>
where
    S: AsyncRead + AsyncWrite + Unpin + Send,
    B: Backend,
{
    pub(crate) async fn cmd_list(&mut self, state: &mut State, l: &ListCommand) -> CmdResult {
        let Some(authed) = state.authed() else {
            return Err(wrong_state(state, "LIST"));
        };
        let account = authed.account.clone();
        // RFC 9051 §6.3.9: an empty pattern asks for the separator.
        if l.patterns.len() == 1 && l.patterns[0].is_empty() {
            self.send_data(Data::List(ListEntry {
                attrs: vec!["\\Noselect".into()],
                name: String::new(),
                childinfo_subscribed: false,
                old_name: None,
            }));
            return Ok(Done::ok("LIST completed"));
        }
        let patterns: Vec<String> = l
            .patterns
            .iter()
            .map(|p| full_pattern(&l.reference, p))
            .collect();
        let matching = |n: &str| patterns.iter().any(|p| matches(p, n));
        let boxes = self.backend.mailboxes(&account).await?;
        let subscribed: BTreeSet<String> = self
            .backend
            .subscriptions(&account)
            .await?
            .into_iter()
            .collect();
        let names: BTreeSet<String> = boxes.iter().map(|m| m.name.clone()).collect();
        let by_name: BTreeMap<&str, &MailboxInfo> =
            boxes.iter().map(|m| (m.name.as_str(), m)).collect();
        let show_subscribed = l.select.subscribed || l.returns.subscribed;

        // Candidates in order: Inbox first, then by name.
        let mut candidates: Vec<String> = if l.select.subscribed {
            let mut v: Vec<String> = subscribed.iter().cloned().collect();
            if l.select.recursive_match {
                for s in &subscribed {
                    let mut p = s.as_str();
                    while let Some((parent, _)) = p.rsplit_once(SEPARATOR) {
                        v.push(parent.to_string());
                        p = parent;
                    }
                }
            }
            v
        } else {
            boxes.iter().map(|m| m.name.clone()).collect()
        };
        candidates.sort_by(|a, b| (a != INBOX, a).cmp(&(b != INBOX, b)));
        candidates.dedup();

        for name in candidates.iter().filter(|n| matching(n)) {
            let info = by_name.get(name.as_str()).copied();
            let is_sub = subscribed.contains(name);
            let sub_child =
                l.select.recursive_match && unlisted_subscribed_child(&subscribed, name, matching);
            if l.select.subscribed && !is_sub && !sub_child {
                continue;
            }
            if l.select.special_use && info.is_none_or(|i| i.special_use.is_none()) {
                continue;
            }
            let mut attrs = Vec::new();
            match info {
                None => attrs.push("\\NonExistent".to_string()),
                Some(_) => {
                    attrs.push(if has_children(&names, name) {
                        "\\HasChildren".to_string()
                    } else {
                        "\\HasNoChildren".to_string()
                    });
                }
            }
            if show_subscribed && is_sub {
                attrs.push("\\Subscribed".into());
            }
            if let Some(u) = info.and_then(|i| i.special_use) {
                attrs.push(u.as_wire().to_string());
            }
            let childinfo = l.extended && sub_child;
            self.send_data(Data::List(ListEntry {
                attrs,
                name: name.clone(),
                childinfo_subscribed: childinfo,
                old_name: None,
            }));
            if let (Some(items), Some(info)) = (&l.returns.status, info) {
                let values =
                    super::status::status_values(info, items, self.cfg.limits.max_message_size);
                self.send_data(Data::Status {
                    mailbox: info.name.clone(),
                    items: values,
                });
            }
            self.io.maybe_flush().await?;
        }
        Ok(Done::ok("LIST completed"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wildcards() {
        assert!(matches("*", "a/b/c"));
        assert!(matches("%", "abc"));
        assert!(!matches("%", "a/b"));
        assert!(matches("a/%", "a/b"));
        assert!(!matches("a/%", "a/b/c"));
        assert!(matches("a*c", "a/b/c"));
        assert!(matches("", ""));
        assert!(!matches("", "a"));
        let many = "%".repeat(200) + "x";
        assert!(!matches(&many, &"a".repeat(200)));
        assert_eq!(full_pattern("", "inbox"), "Inbox");
        assert_eq!(full_pattern("INBOX/", "%"), "Inbox/%");
        assert_eq!(full_pattern("Foo", "/%"), "/%");
    }

    #[test]
    fn childinfo_only_for_unlisted_children() {
        // imaptest listext: test2 is not subscribed, test2/test1 is.
        let subscribed: BTreeSet<String> = ["t/test2/test1", "t/test8/test8", "t/test8/test9"]
            .into_iter()
            .map(String::from)
            .collect();
        let listed = |patterns: &'static [&'static str]| {
            move |n: &str| patterns.iter().any(|p| matches(p, n))
        };
        assert!(unlisted_subscribed_child(
            &subscribed,
            "t/test2",
            listed(&["t/test2"])
        ));
        assert!(!unlisted_subscribed_child(
            &subscribed,
            "t/test2",
            listed(&["t/test2", "t/test2/test1"])
        ));
        // test8/test9 is not listed by "*test8".
        assert!(unlisted_subscribed_child(
            &subscribed,
            "t/test8",
            listed(&["t*test8"])
        ));
        assert!(!unlisted_subscribed_child(
            &subscribed,
            "t/test8",
            listed(&["t*"])
        ));
        // Only descendants count, not names that merely start alike.
        assert!(!unlisted_subscribed_child(
            &subscribed,
            "t/test",
            listed(&[])
        ));
    }
}
