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
    pub mailbox: Option<String>,
    pub host: Option<String>,
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
    let mut v = value.to_vec();
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
