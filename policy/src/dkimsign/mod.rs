//! DKIM signing of submitted mail (RFC 6376 §5): every key of the From
//! domain signs (Ed25519-SHA256 per RFC 8463 and RSA-SHA256),
//! relaxed/relaxed, over a fixed list of header fields, each listed once
//! more than it occurs so that none can be added later (oversigning, RFC
//! 6376 §8.15). Canonicalization is moxd's own (`auth::canon` for the
//! body), not mail-auth's, whose relaxed body form is wrong in one case.

pub mod keys;

use base64::Engine;
use mail_auth::AuthenticatedMessage;
use mail_auth::dkim::Canonicalization;
use sha2::{Digest, Sha256};

use crate::auth::canon::canonical_body;
pub use keys::{Algorithm, KeyError, SigningKey};

/// Header fields signed (RFC 6376 §5.4.1 recommends From, Subject, Date,
/// To, Cc, the threading fields and the MIME fields).
pub const SIGNED_HEADERS: &[&str] = &[
    "From",
    "Subject",
    "To",
    "Cc",
    "Date",
    "Message-ID",
    "Reply-To",
    "In-Reply-To",
    "References",
    "MIME-Version",
    "Content-Type",
];
/// Folding target of the DKIM-Signature field (RFC 5322 §2.1.1).
pub const LINE_LEN: usize = 78;

/// One signing key of a domain.
#[derive(Debug)]
pub struct DomainKey {
    /// d=, lower-case A-label.
    pub domain: String,
    /// s=
    pub selector: String,
    pub key: SigningKey,
}

/// The keys of every domain that signs.
#[derive(Debug, Default)]
pub struct Signers {
    keys: Vec<DomainKey>,
}

impl Signers {
    pub fn new(keys: Vec<DomainKey>) -> Signers {
        Signers { keys }
    }

    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    /// DKIM-Signature fields (CRLF-terminated, to prepend) for a message
    /// with header section `header` (every field, including those moxd
    /// adds, each CRLF-terminated) and `body`; signed by every key of the
    /// From domain, at unix time `now`. Empty when the domain has no key
    /// or the From field names no single domain.
    pub fn sign(&self, header: &[u8], body: &[u8], now: u64) -> Result<String, KeyError> {
        let Some(domain) = from_domain(header) else {
            return Ok(String::new());
        };
        let fields = header_fields(header);
        let bh = base64::engine::general_purpose::STANDARD.encode(Sha256::digest(canonical_body(
            body,
            Canonicalization::Relaxed,
        )));
        let mut out = String::new();
        for k in self.keys.iter().filter(|k| k.domain == domain) {
            out.push_str(&signature(k, &fields, &bh, now)?);
        }
        Ok(out)
    }
}

/// The header section and body of a message (RFC 5322 §2.1): the header
/// ends with its last field's CRLF; the empty line is in neither part.
pub fn split_message(msg: &[u8]) -> (&[u8], &[u8]) {
    if msg.starts_with(b"\r\n") {
        return (&[], &msg[2..]);
    }
    match msg.windows(4).position(|w| w == b"\r\n\r\n") {
        Some(i) => (&msg[..i + 2], &msg[i + 4..]),
        None => (msg, &[]),
    }
}

/// The fields of a header section: (name, value), the value being what
/// follows the colon up to the field's final CRLF, folding included.
pub fn header_fields(header: &[u8]) -> Vec<(&[u8], &[u8])> {
    let mut fields = Vec::new();
    let mut start = 0;
    let mut i = 0;
    while i < header.len() {
        // A field ends at a CRLF not followed by WSP (RFC 5322 §2.2.3).
        if header[i..].starts_with(b"\r\n") && !matches!(header.get(i + 2), Some(b' ' | b'\t')) {
            push_field(&header[start..i], &mut fields);
            start = i + 2;
            i += 2;
            continue;
        }
        i += 1;
    }
    if start < header.len() {
        push_field(&header[start..], &mut fields);
    }
    fields
}

fn push_field<'a>(field: &'a [u8], out: &mut Vec<(&'a [u8], &'a [u8])>) {
    if let Some(colon) = field.iter().position(|&b| b == b':') {
        out.push((&field[..colon], &field[colon + 1..]));
    }
}

/// RFC 6376 §3.4.2: lower-case name, unfolded value with whitespace runs
/// as one space and none around the colon or at the end; CRLF-terminated.
pub fn relaxed_header(name: &[u8], value: &[u8], out: &mut Vec<u8>) {
    let name = name.trim_ascii();
    out.extend(name.iter().map(u8::to_ascii_lowercase));
    out.push(b':');
    let mut wsp = false;
    let mut any = false;
    for &b in value {
        match b {
            b'\r' | b'\n' => {}
            b' ' | b'\t' => wsp = true,
            _ => {
                if wsp && any {
                    out.push(b' ');
                }
                wsp = false;
                any = true;
                out.push(b);
            }
        }
    }
    out.extend_from_slice(b"\r\n");
}

/// The domain of the From field's address(es), lower-case; None unless
/// every address has the same domain.
fn from_domain(header: &[u8]) -> Option<String> {
    let mut msg = header.to_vec();
    msg.extend_from_slice(b"\r\n");
    let parsed = AuthenticatedMessage::parse(&msg)?;
    let mut domains = parsed
        .froms()
        .iter()
        .filter_map(|a| a.rsplit_once('@').map(|(_, d)| d.to_ascii_lowercase()));
    let first = domains.next()?;
    domains.all(|d| d == first).then_some(first)
}

/// Builds a folded field value.
struct Folder {
    out: String,
    line: usize,
}

impl Folder {
    fn push(&mut self, s: &str, space: bool) {
        let extra = usize::from(space);
        if self.line + extra + s.len() > LINE_LEN {
            self.out.push_str("\r\n\t");
            self.line = 1;
        } else if space {
            self.out.push(' ');
            self.line += 1;
        }
        self.out.push_str(s);
        self.line += s.len();
    }
}

/// One DKIM-Signature field (RFC 6376 §3.5, §3.7).
fn signature(
    k: &DomainKey,
    fields: &[(&[u8], &[u8])],
    bh: &str,
    now: u64,
) -> Result<String, KeyError> {
    // Oversigning: each name once more than it occurs.
    let mut h: Vec<&str> = Vec::new();
    for name in SIGNED_HEADERS {
        let n = fields
            .iter()
            .filter(|(f, _)| f.trim_ascii().eq_ignore_ascii_case(name.as_bytes()))
            .count();
        h.extend(std::iter::repeat_n(*name, n + 1));
    }
    let mut v = Folder {
        out: String::new(),
        line: "DKIM-Signature:".len(),
    };
    for tag in [
        "v=1;".to_string(),
        format!("a={};", k.key.algorithm().tag()),
        "c=relaxed/relaxed;".to_string(),
        format!("d={};", k.domain),
        format!("s={};", k.selector),
        format!("t={now};"),
    ] {
        v.push(&tag, true);
    }
    for (i, name) in h.iter().enumerate() {
        let piece = match (i, i + 1 == h.len()) {
            (0, true) => format!("h={name};"),
            (0, false) => format!("h={name}:"),
            (_, true) => format!("{name};"),
            (_, false) => format!("{name}:"),
        };
        v.push(&piece, i == 0);
    }
    v.push(&format!("bh={bh};"), true);
    v.push("b=", true);
    // RFC 6376 §3.7: the signed fields bottom-up per name, then this
    // field with an empty b= and no final CRLF.
    let mut data = Vec::new();
    let mut used: Vec<(String, usize)> = Vec::new();
    for name in &h {
        let lower = name.to_ascii_lowercase();
        let skip = match used.iter_mut().find(|(n, _)| *n == lower) {
            Some((_, c)) => {
                *c += 1;
                *c - 1
            }
            None => {
                used.push((lower.clone(), 1));
                0
            }
        };
        let instance = fields
            .iter()
            .rev()
            .filter(|(f, _)| f.trim_ascii().eq_ignore_ascii_case(lower.as_bytes()))
            .nth(skip);
        if let Some((f, val)) = instance {
            relaxed_header(f, val, &mut data);
        }
    }
    relaxed_header(b"DKIM-Signature", v.out.as_bytes(), &mut data);
    data.truncate(data.len() - 2);
    let sig = base64::engine::general_purpose::STANDARD.encode(k.key.sign(&data)?);
    // b= folds anywhere (RFC 6376 §3.5: whitespace in it is ignored).
    let mut rest = sig.as_str();
    let first = LINE_LEN.saturating_sub(v.line).clamp(1, rest.len().max(1));
    let (head, tail) = rest.split_at(first.min(rest.len()));
    v.out.push_str(head);
    rest = tail;
    while !rest.is_empty() {
        let (chunk, tail) = rest.split_at(rest.len().min(LINE_LEN - 2));
        v.out.push_str("\r\n\t");
        v.out.push_str(chunk);
        rest = tail;
    }
    Ok(format!("DKIM-Signature:{}\r\n", v.out))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_and_relaxed_form() {
        let h = b"From: Alice\r\n <a@example.org>\r\nSubject:  Hi \t there \r\nX:y\r\n";
        let f = header_fields(h);
        assert_eq!(f.len(), 3);
        assert_eq!(f[0].0, b"From");
        let mut out = Vec::new();
        for (n, v) in &f {
            relaxed_header(n, v, &mut out);
        }
        assert_eq!(
            out,
            b"from:Alice <a@example.org>\r\nsubject:Hi there\r\nx:y\r\n"
        );
        // RFC 6376 §3.4.5 example.
        let mut out = Vec::new();
        relaxed_header(b"A", b" X \r\n", &mut out);
        relaxed_header(b"B ", b" Y\t\r\n\tZ  ", &mut out);
        assert_eq!(out, b"a:X\r\nb:Y Z\r\n");
    }

    #[test]
    fn split() {
        assert_eq!(
            split_message(b"A: b\r\n\r\nbody\r\n"),
            (&b"A: b\r\n"[..], &b"body\r\n"[..])
        );
        assert_eq!(split_message(b"A: b\r\n"), (&b"A: b\r\n"[..], &b""[..]));
        assert_eq!(split_message(b"\r\nbody"), (&b""[..], &b"body"[..]));
    }

    #[test]
    fn oversigned_and_folded() {
        let pem = keys::generate(Algorithm::Ed25519).unwrap();
        let s = Signers::new(vec![DomainKey {
            domain: "example.org".into(),
            selector: "sel".into(),
            key: SigningKey::from_pem(Algorithm::Ed25519, pem.as_bytes()).unwrap(),
        }]);
        let header = b"From: <a@Example.org>\r\nTo: b@example.net\r\nSubject: x\r\n";
        let sig = s.sign(header, b"hi\r\n", 1_700_000_000).unwrap();
        assert!(
            sig.starts_with("DKIM-Signature: v=1; a=ed25519-sha256; c=relaxed/relaxed;"),
            "{sig}"
        );
        assert!(
            sig.contains("d=example.org;") && sig.contains("s=sel;"),
            "{sig}"
        );
        let unfolded = sig.replace("\r\n\t", "");
        assert!(unfolded.contains("h=From:From:Subject:Subject:To:To:Cc:Date:Message-ID:Reply-To:In-Reply-To:References:MIME-Version:Content-Type;"), "{unfolded}");
        assert!(sig.split("\r\n").all(|l| l.len() <= LINE_LEN), "{sig}");
        // No key for another domain: nothing.
        let other = s.sign(b"From: x@example.net\r\n", b"", 0).unwrap();
        assert!(other.is_empty());
    }
}
