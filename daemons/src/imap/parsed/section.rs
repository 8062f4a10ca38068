//! BODY[section] and BINARY[section] contents (RFC 9051 §6.4.5 part
//! numbering and section texts, RFC 3516 §4.2 decoding), cut from the
//! message octets with the stored offsets.

use std::borrow::Cow;

use super::header;
use super::{ParsedMessage, Part, PartKind, Span};
use crate::imap::parse::{Section, SectionText};

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SectionError {
    /// HEADER/TEXT after a part number that is not message/rfc822
    /// (RFC 9051 §6.4.5).
    #[error("section text allowed only on message/rfc822 parts")]
    NotMessage,
    /// RFC 3516 §4.3: `[UNKNOWN-CTE]`.
    #[error("unknown content-transfer-encoding {0}")]
    UnknownEncoding(String),
    #[error("content-transfer-encoding of part is invalid")]
    BadEncoding,
}

impl ParsedMessage {
    /// The entity whose numbered subparts `n` are: a multipart's children,
    /// or the encapsulated message's (for message/rfc822).
    fn subpart(&self, idx: u32, n: u32) -> Option<u32> {
        let child = |i: u32| -> Option<u32> {
            match &self.part(i)?.kind {
                PartKind::Multipart { children } => children
                    .get(usize::try_from(n).ok()?.checked_sub(1)?)
                    .copied(),
                _ if n == 1 => Some(i),
                _ => None,
            }
        };
        match &self.part(idx)?.kind {
            PartKind::Multipart { .. } => child(idx),
            PartKind::Message { message, .. } => child(*message),
            PartKind::Basic => None,
        }
    }

    /// The part at `path` (RFC 9051 §6.4.5): for a message that is not
    /// multipart, part 1 is its body.
    pub fn find_part(&self, path: &[u32]) -> Option<u32> {
        let (&first, rest) = path.split_first()?;
        let mut cur = match &self.root()?.kind {
            PartKind::Multipart { children } => {
                *children.get(usize::try_from(first).ok()?.checked_sub(1)?)?
            }
            _ if first == 1 => 0,
            _ => return None,
        };
        for &n in rest {
            cur = self.subpart(cur, n)?;
        }
        Some(cur)
    }

    /// The octets of `section`; None when the part does not exist.
    pub fn section<'a>(
        &self,
        msg: &'a [u8],
        section: &Section,
    ) -> Result<Option<Cow<'a, [u8]>>, SectionError> {
        // The entity whose header/text the section text refers to.
        let (entity, part): (Option<&Part>, Option<&Part>) = if section.part.is_empty() {
            (self.root(), None)
        } else {
            let Some(p) = self.find_part(&section.part).and_then(|i| self.part(i)) else {
                return Ok(None);
            };
            let inner = match &p.kind {
                PartKind::Message { message, .. } => self.part(*message),
                _ => None,
            };
            (inner, Some(p))
        };
        let whole = |s: Span| Ok(Some(Cow::Borrowed(s.slice(msg))));
        match (&section.text, part) {
            (None, None) => Ok(Some(Cow::Borrowed(msg))),
            (None, Some(p)) => whole(p.body),
            (Some(SectionText::Mime), Some(p)) => whole(p.header),
            (Some(SectionText::Mime), None) => Err(SectionError::NotMessage),
            (Some(text), _) => {
                let Some(e) = entity else {
                    return Err(SectionError::NotMessage);
                };
                match text {
                    SectionText::Header => whole(e.header),
                    SectionText::Text => whole(e.body),
                    SectionText::HeaderFields { not, fields } => {
                        Ok(Some(Cow::Owned(header_fields(msg, e.header, fields, *not))))
                    }
                    SectionText::Mime => Err(SectionError::NotMessage),
                }
            }
        }
    }

    /// BINARY[part] (RFC 3516 §4.2): the part's body with its
    /// content-transfer-encoding removed; the whole message for `[]`.
    pub fn binary<'a>(
        &self,
        msg: &'a [u8],
        path: &[u32],
    ) -> Result<Option<Cow<'a, [u8]>>, SectionError> {
        if path.is_empty() {
            return Ok(Some(Cow::Borrowed(msg)));
        }
        let Some(p) = self.find_part(path).and_then(|i| self.part(i)) else {
            return Ok(None);
        };
        let body = p.body.slice(msg);
        match p.encoding.as_deref() {
            None | Some("7BIT" | "8BIT" | "BINARY") => Ok(Some(Cow::Borrowed(body))),
            Some("BASE64") => mail_parser::decoders::base64::base64_decode(body)
                .map(|d| Some(Cow::Owned(d)))
                .ok_or(SectionError::BadEncoding),
            Some("QUOTED-PRINTABLE") => {
                mail_parser::decoders::quoted_printable::quoted_printable_decode(body)
                    .map(|d| Some(Cow::Owned(d)))
                    .ok_or(SectionError::BadEncoding)
            }
            Some(other) => Err(SectionError::UnknownEncoding(other.to_string())),
        }
    }
}

/// HEADER.FIELDS / HEADER.FIELDS.NOT: the matching fields as they are in
/// the message, then the blank line (RFC 9051 §6.4.5).
fn header_fields(msg: &[u8], hdr: Span, names: &[String], not: bool) -> Vec<u8> {
    let mut out = Vec::new();
    for f in header::fields(msg, hdr) {
        let listed = names.iter().any(|n| f.is(n));
        if listed != not {
            out.extend_from_slice(f.span.slice(msg));
        }
    }
    out.extend_from_slice(b"\r\n");
    out
}
