//! ENVELOPE (RFC 9051 §7.5.2): date, subject and message ids as found in
//! the header (unfolded, encoded words left for the client), addresses
//! parsed with mail-parser (display names decoded).

use mail_parser::parsers::MessageStream;
use serde::{Deserialize, Serialize};

use super::Span;
use super::header;

/// One `address` of the envelope. A group is written as a start marker
/// (mailbox = group name, host = None) and an end marker (all None).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct Address {
    pub name: Option<String>,
    /// The local part, after the obsolete source route when there is
    /// one (`@route:user`, see [`Address::adl`]): the route is kept here
    /// so that the stored form keeps its shape.
    pub mailbox: Option<String>,
    pub host: Option<String>,
}

impl Address {
    /// The route and the local part of `mailbox` (RFC 5322 §4.4
    /// `obs-route`: `@a,@b:user`).
    fn route_split(&self) -> (Option<&str>, Option<&str>) {
        let Some(m) = self.mailbox.as_deref() else {
            return (None, None);
        };
        match m.split_once(':') {
            Some((route, local)) if route.starts_with('@') => (Some(route), Some(local)),
            _ => (None, Some(m)),
        }
    }

    /// RFC 9051 §7.5.2 `addr-adl`: the source route, as `@a,@b`.
    pub fn adl(&self) -> Option<&str> {
        self.route_split().0
    }

    /// RFC 9051 §7.5.2 `addr-mailbox`: the local part without the route
    /// (of a group marker, the group name).
    pub fn local_part(&self) -> Option<&str> {
        self.route_split().1
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct Envelope {
    pub date: Option<String>,
    pub subject: Option<String>,
    pub from: Vec<Address>,
    pub sender: Vec<Address>,
    pub reply_to: Vec<Address>,
    pub to: Vec<Address>,
    pub cc: Vec<Address>,
    pub bcc: Vec<Address>,
    pub in_reply_to: Option<String>,
    pub message_id: Option<String>,
}

impl Envelope {
    /// From the header block at `header` of `msg`.
    pub fn from_header(msg: &[u8], hdr: Span) -> Envelope {
        let fields = header::fields(msg, hdr);
        let text = |name: &str| header::first(&fields, name).filter(|v| !v.is_empty());
        let addrs = |name: &str| {
            fields
                .iter()
                .find(|f| f.is(name))
                .map(|f| parse_addresses(f.value))
                .unwrap_or_default()
        };
        let from = addrs("From");
        let mut sender = addrs("Sender");
        let mut reply_to = addrs("Reply-To");
        // RFC 9051 §7.5.2: absent or empty Sender/Reply-To default to From.
        if sender.is_empty() {
            sender = from.clone();
        }
        if reply_to.is_empty() {
            reply_to = from.clone();
        }
        Envelope {
            date: text("Date"),
            subject: text("Subject"),
            from,
            sender,
            reply_to,
            to: addrs("To"),
            cc: addrs("Cc"),
            bcc: addrs("Bcc"),
            in_reply_to: text("In-Reply-To"),
            message_id: text("Message-ID"),
        }
    }
}

/// An address list header value (RFC 5322 §3.4) to envelope addresses.
pub fn parse_addresses(value: &[u8]) -> Vec<Address> {
    // A lone dot-atom (`From: d`) is an addr-spec missing its `@domain`
    // (as Dovecot reads it), not a display name without address.
    let lone = value.trim_ascii();
    if !lone.is_empty() && lone.iter().all(|&b| is_dot_atom_octet(b)) {
        return vec![Address {
            name: None,
            mailbox: Some(String::from_utf8_lossy(lone).into_owned()),
            host: Some(String::new()),
        }];
    }
    let mut v = without_angle_comments(value);
    v.extend_from_slice(b"\r\n");
    let mut out = Vec::new();
    match MessageStream::new(&v).parse_address() {
        mail_parser::HeaderValue::Address(mail_parser::Address::List(list)) => {
            out.extend(list.iter().filter_map(addr));
        }
        mail_parser::HeaderValue::Address(mail_parser::Address::Group(groups)) => {
            for g in groups {
                match &g.name {
                    Some(name) => {
                        out.push(Address {
                            name: None,
                            mailbox: Some(name.to_string()),
                            host: None,
                        });
                        out.extend(g.addresses.iter().filter_map(addr));
                        out.push(Address::default());
                    }
                    None => out.extend(g.addresses.iter().filter_map(addr)),
                }
            }
        }
        _ => {}
    }
    out
}

/// `value` without the comments and white space inside `<...>` (RFC 5322
/// §3.2.2 CFWS around the parts of an addr-spec, e.g. `<user (c)@ (c)
/// example.org>`): they are neither address nor display name. Comments
/// elsewhere stay, so that the trailing comment of `user@example.org
/// (Name)` still gives the name.
fn without_angle_comments(value: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(value.len() + 2);
    let mut angle = false;
    let mut quoted = false;
    let mut comment = 0usize;
    let mut escaped = false;
    for &b in value {
        let dropped = angle && comment > 0;
        if escaped {
            escaped = false;
        } else if b == b'\\' && (quoted || comment > 0) {
            escaped = true;
        } else if quoted {
            quoted = b != b'"';
        } else if b == b'(' {
            comment += 1;
        } else if b == b')' && comment > 0 {
            comment -= 1;
        } else if comment == 0 {
            match b {
                b'"' => quoted = true,
                b'<' => angle = true,
                b'>' => angle = false,
                _ => {}
            }
        }
        // The parentheses of a comment inside <...> go with it.
        let cfws = dropped || (angle && (comment > 0 || (!quoted && is_wsp(b))));
        if !cfws {
            out.push(b);
        }
    }
    out
}

/// RFC 5322 §3.2.2 FWS octets (folding included).
fn is_wsp(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\r' | b'\n')
}

/// RFC 5322 §3.2.3 `atext`, and `.` (a dot-atom's octets).
fn is_dot_atom_octet(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-/=?^_`{|}~.".contains(&b)
}

fn addr(a: &mail_parser::Addr<'_>) -> Option<Address> {
    let address = a.address.as_deref()?;
    let (mailbox, host) = match address.rsplit_once('@') {
        Some((m, h)) => (m.to_string(), h.to_string()),
        None => (address.to_string(), String::new()),
    };
    Some(Address {
        name: a
            .name
            .as_deref()
            .map(str::trim)
            .filter(|n| !n.is_empty())
            .map(str::to_string),
        mailbox: Some(mailbox),
        host: Some(host),
    })
}
