//! What IMAP needs to know about a message's structure, computed once
//! (at delivery, then stored) instead of on every FETCH: the MIME tree
//! with the offsets of every part's header and body (for BODY[section]),
//! BODYSTRUCTURE fields, ENVELOPE (RFC 9051 §7.5.2) and a PREVIEW text
//! (RFC 8970). Parts are kept in a flat list so that the serialized form
//! has no deep nesting, and the walk is bounded (threats T12): at most
//! [`MAX_DEPTH`] levels and [`MAX_PARTS`] parts; beyond that the rest is
//! described as opaque parts.

pub mod convert;
mod envelope;
pub mod header;
mod mime;
mod section;

use serde::{Deserialize, Serialize};

pub use envelope::{Address, Envelope};
pub use section::SectionError;

/// Deepest nesting of multiparts and message/rfc822 parts described.
pub const MAX_DEPTH: usize = 100;
/// Most parts described.
pub const MAX_PARTS: usize = 10_000;
/// RFC 8970 §3: at most 256 characters.
pub const MAX_PREVIEW_CHARS: usize = 256;
/// RFC 2046 §5.1.1 allows 70 characters; longer boundaries are not split.
pub const MAX_BOUNDARY_LEN: usize = 200;
/// Octets examined when looking for boundaries, as a multiple of the
/// message size (bounds the time of a deep nesting over a big body).
pub const SCAN_BUDGET_FACTOR: u64 = 8;

/// A range of octets of the message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct Span {
    pub start: u64,
    pub end: u64,
}

impl Span {
    pub fn new(start: u64, end: u64) -> Span {
        Span {
            start,
            end: end.max(start),
        }
    }

    pub fn len(&self) -> u64 {
        self.end - self.start
    }

    pub fn is_empty(&self) -> bool {
        self.end == self.start
    }

    /// The octets of `msg` in this span (empty if out of range).
    pub fn slice<'a>(&self, msg: &'a [u8]) -> &'a [u8] {
        let s = usize::try_from(self.start).unwrap_or(usize::MAX);
        let e = usize::try_from(self.end).unwrap_or(usize::MAX);
        msg.get(s..e.min(msg.len())).unwrap_or(&[])
    }
}

/// How a part relates to others.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum PartKind {
    /// A leaf: text, application, image, … (or a part not described further).
    Basic,
    /// multipart/*: indexes of the children, in order.
    Multipart { children: Vec<u32> },
    /// message/rfc822 (or message/global): the encapsulated message's
    /// envelope and the index of its top-level entity.
    Message {
        envelope: Box<Envelope>,
        message: u32,
    },
}

/// One MIME entity.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Part {
    /// The entity's header, with the blank line that ends it.
    pub header: Span,
    pub body: Span,
    /// Media type and subtype, lower-cased (defaults applied).
    pub media_type: String,
    pub media_subtype: String,
    /// Content-Type parameters as given.
    pub params: Vec<(String, String)>,
    pub id: Option<String>,
    pub description: Option<String>,
    /// Content-Transfer-Encoding, upper-cased; None means 7BIT.
    pub encoding: Option<String>,
    pub md5: Option<String>,
    /// Content-Disposition value and parameters.
    pub disposition: Option<(String, Vec<(String, String)>)>,
    pub language: Vec<String>,
    pub location: Option<String>,
    /// Lines in the body (counted for every part; sent for text/* and
    /// message/rfc822).
    pub lines: u64,
    pub kind: PartKind,
}

/// The stored description of a message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ParsedMessage {
    /// `parts[0]` is the message's top-level entity.
    pub parts: Vec<Part>,
    pub envelope: Envelope,
    /// RFC 8970 preview, at most [`MAX_PREVIEW_CHARS`] characters.
    pub preview: Option<String>,
    /// Octets in the message.
    pub size: u64,
    /// A limit was hit: part of the structure is described as opaque.
    pub truncated: bool,
}

impl ParsedMessage {
    /// Describes a message (as stored: delivery prefix and file content).
    /// Never fails: anything unparseable is described as a plain part.
    pub fn from_bytes(msg: &[u8]) -> ParsedMessage {
        let mut walker = mime::Walker::new(msg);
        let all = Span::new(0, msg.len() as u64);
        walker.entity(all, mime::Default::TextPlain, 0);
        let (parts, truncated) = walker.finish();
        let envelope = parts
            .first()
            .map(|p| Envelope::from_header(msg, p.header))
            .unwrap_or_default();
        ParsedMessage {
            parts,
            envelope,
            preview: preview(msg),
            size: msg.len() as u64,
            truncated,
        }
    }

    /// The serialized form the store keeps beside a message (None when it
    /// would not fit in one store request; readers then parse again).
    pub fn to_store_form(&self) -> Option<Vec<u8>> {
        ipc::codec::encode(self).ok()
    }

    /// Reads back [`ParsedMessage::to_store_form`]; None if it is not one.
    pub fn from_store_form(bytes: &[u8]) -> Option<ParsedMessage> {
        ipc::codec::decode(bytes).ok()
    }

    /// Describes the message a worker is about to hand to the store:
    /// `prefix` then the first `size` octets of `file`, in store form.
    pub fn store_form_of(prefix: &[u8], file: &std::fs::File, size: u64) -> Option<Vec<u8>> {
        use std::os::unix::fs::FileExt;
        let len = usize::try_from(size).ok()?;
        let mut msg = Vec::with_capacity(prefix.len().saturating_add(len));
        msg.extend_from_slice(prefix);
        msg.resize(prefix.len() + len, 0);
        file.read_exact_at(&mut msg[prefix.len()..], 0).ok()?;
        ParsedMessage::from_bytes(&msg).to_store_form()
    }

    pub fn root(&self) -> Option<&Part> {
        self.parts.first()
    }

    pub fn part(&self, i: u32) -> Option<&Part> {
        self.parts.get(i as usize)
    }
}

/// RFC 8970 §3: the start of the first text part, white space collapsed,
/// no control characters, at most 256 characters.
fn preview(msg: &[u8]) -> Option<String> {
    let parsed = mail_parser::MessageParser::default().parse(msg)?;
    let text = parsed.body_preview(MAX_PREVIEW_CHARS * 4)?;
    let mut out = String::new();
    let mut space = false;
    for c in text.chars() {
        if c.is_whitespace() {
            space = !out.is_empty();
            continue;
        }
        if c.is_control() {
            continue;
        }
        if space {
            out.push(' ');
            space = false;
        }
        out.push(c);
    }
    let out: String = out.chars().take(MAX_PREVIEW_CHARS).collect();
    (!out.is_empty()).then_some(out)
}

#[cfg(test)]
mod tests;
