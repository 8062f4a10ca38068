//! SORT and UID SORT (RFC 5256 §3, RFC 5957 DISPLAYFROM/DISPLAYTO).
//! Selected state. Ties keep sequence order (RFC 5256 §3).

use std::cmp::Ordering;

use tokio::io::{AsyncRead, AsyncWrite};

use super::search::{Hit, check_charset};
use crate::imap::backend::Backend;
use crate::imap::parse::{SearchKey, SortCriterion, SortKey};
use crate::imap::parsed::{Address, Envelope};
use crate::imap::response::Data;
use crate::imap::session::state::{State, wrong_state};
use crate::imap::session::{CmdResult, Done, Session};
use crate::imap::subject::base_subject;

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
enum Value {
    Int(i64),
    Text(String),
}

/// RFC 5256 §3: the date of the Date header, else the internal date.
pub(crate) fn sent_date(h: &Hit) -> i64 {
    h.parsed
        .as_ref()
        .and_then(|p| p.envelope.date.as_deref())
        .and_then(|d| {
            let mut v = d.as_bytes().to_vec();
            v.extend_from_slice(b"\r\n");
            match mail_parser::parsers::MessageStream::new(&v).parse_date() {
                mail_parser::HeaderValue::DateTime(t) => Some(t.to_timestamp()),
                _ => None,
            }
        })
        .unwrap_or(h.meta.internal_date)
}

/// RFC 5256 §2.2 sorts with the i;ascii-casemap collation (RFC 4790
/// §9.2): ASCII letters compared as upper case, so `[` and `_` sort
/// after letters.
fn casemap(s: &str) -> String {
    s.to_ascii_uppercase()
}

/// RFC 5256 §3: the addr-mailbox of the first address (of a group, its
/// name, as the ENVELOPE gives it).
fn first_mailbox(a: &[Address]) -> String {
    casemap(a.first().and_then(Address::local_part).unwrap_or(""))
}

/// RFC 5957 §3: display name of the first address, else its addr-spec
/// (the local part alone when it has no domain, as `From: d`; a group's
/// name for a group).
fn display(a: &[Address]) -> String {
    let Some(x) = a.first() else {
        return String::new();
    };
    let local = x.local_part().unwrap_or("");
    match (x.name.as_deref(), x.host.as_deref()) {
        (Some(n), _) if !n.is_empty() => casemap(n),
        (_, Some(h)) if !h.is_empty() => casemap(&format!("{local}@{h}")),
        _ => casemap(local),
    }
}

fn value(h: &Hit, key: SortKey) -> Value {
    let empty = Envelope::default();
    let env = h.parsed.as_ref().map_or(&empty, |p| &p.envelope);
    match key {
        SortKey::Arrival => Value::Int(h.meta.internal_date),
        SortKey::Size => Value::Int(i64::try_from(h.meta.size).unwrap_or(i64::MAX)),
        SortKey::Date => Value::Int(sent_date(h)),
        SortKey::Cc => Value::Text(first_mailbox(&env.cc)),
        SortKey::From => Value::Text(first_mailbox(&env.from)),
        SortKey::To => Value::Text(first_mailbox(&env.to)),
        SortKey::Subject => {
            Value::Text(casemap(&base_subject(env.subject.as_deref().unwrap_or(""))))
        }
        SortKey::DisplayFrom => Value::Text(display(&env.from)),
        SortKey::DisplayTo => Value::Text(display(&env.to)),
    }
}

impl<S, B> Session<S, B>
where
    S: AsyncRead + AsyncWrite + Unpin + Send,
    B: Backend,
{
    pub(crate) async fn cmd_sort(
        &mut self,
        state: &mut State,
        uid: bool,
        criteria: &[SortCriterion],
        charset: &str,
        key: &SearchKey,
    ) -> CmdResult {
        let name = if uid { "UID SORT" } else { "SORT" };
        let Some((authed, sel)) = state.selected() else {
            return Err(wrong_state(state, name));
        };
        check_charset(Some(charset))?;
        let account = authed.account.clone();
        let needs_structure = criteria
            .iter()
            .any(|c| !matches!(c.key, SortKey::Arrival | SortKey::Size));
        let hits = self.matching(&account, sel, key, needs_structure).await?;
        let mut keyed: Vec<(Vec<Value>, &Hit)> = hits
            .iter()
            .map(|h| (criteria.iter().map(|c| value(h, c.key)).collect(), h))
            .collect();
        keyed.sort_by(|(a, ha), (b, hb)| {
            for (i, c) in criteria.iter().enumerate() {
                let o = a[i].cmp(&b[i]);
                let o = if c.reverse { o.reverse() } else { o };
                if o != Ordering::Equal {
                    return o;
                }
            }
            ha.seq.cmp(&hb.seq)
        });
        let nums = keyed
            .iter()
            .map(|(_, h)| if uid { h.meta.uid } else { h.seq })
            .collect();
        self.send_data(Data::Sort { nums });
        Ok(Done::ok(format!("{name} completed")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::imap::parsed::ParsedMessage;

    fn from(header: &str) -> Vec<Address> {
        let msg = format!("{header}\r\n\r\nbody\r\n");
        ParsedMessage::from_bytes(msg.as_bytes()).envelope.from
    }

    #[test]
    fn display_keys() {
        // RFC 5957 §3: display name, else addr-spec; imaptest
        // sort-display-from expects the order 2 3 4 1 5.
        let froms = [
            "From: foo bar <a@b.c>",
            "From: b@c.d",
            "From: d",
            "From: =?iso-8859-1?q?foo_aar?= <e@f.g>",
            "From: =?iso-8859-1?q?foo_car?= <f@g.h>",
        ];
        let keys: Vec<String> = froms.iter().map(|h| display(&from(h))).collect();
        assert_eq!(keys, ["FOO BAR", "B@C.D", "D", "FOO AAR", "FOO CAR"]);
        let mut order: Vec<usize> = (1..=froms.len()).collect();
        order.sort_by(|a, b| keys[a - 1].cmp(&keys[b - 1]));
        assert_eq!(order, [2, 3, 4, 1, 5]);
        // A group sorts by its name; a source route is not in the key.
        assert_eq!(display(&from("From: empty:;")), "EMPTY");
        assert_eq!(
            display(&from("From: <@route:u@example.org>")),
            "U@EXAMPLE.ORG"
        );
        assert_eq!(first_mailbox(&from("From: <@route:u@example.org>")), "U");
    }
}
