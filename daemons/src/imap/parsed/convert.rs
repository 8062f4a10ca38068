//! Binary content APPENDed with a `literal8` (RFC 3516 §4.3: the server
//! may change the content-transfer-encoding of appended data, as long as
//! nothing is lost). Parts sent as binary are stored base64-encoded, so
//! that BODY[...] never carries NUL octets (RFC 9051 §6.4.5: binary data
//! "MUST be transfer encoded into a textual form, such as BASE64" before
//! it is sent) while BINARY[...] still gives back the original octets.

use base64::Engine as _;

use super::{ParsedMessage, Part, PartKind, Span, header};

/// RFC 2045 §6.8: encoded lines are at most 76 characters.
pub const BASE64_LINE_LEN: usize = 76;

/// One replacement of the octets in `span`.
struct Edit {
    span: Span,
    with: Vec<u8>,
}

/// Whether `p` is a leaf whose body must be re-encoded: declared binary,
/// or holding NUL octets where the encoding promises text (RFC 2045
/// §2.7, §2.8 allow no NUL in 7bit or 8bit data). Multipart and message
/// parts are never base64 (RFC 2045 §6.4), so only their leaves are.
fn needs_base64(p: &Part, msg: &[u8]) -> bool {
    if !matches!(p.kind, PartKind::Basic)
        || p.media_type == "multipart"
        || p.media_type == "message"
        || p.body.is_empty()
    {
        return false;
    }
    match p.encoding.as_deref() {
        Some("BINARY") => true,
        None | Some("7BIT" | "8BIT") => p.body.slice(msg).contains(&0),
        Some(_) => false,
    }
}

/// The length of the blank line that ends `hdr` (0 when it has none).
fn blank_line_len(hdr: &[u8]) -> u64 {
    if hdr == b"\r\n" || hdr.ends_with(b"\n\r\n") {
        2
    } else if hdr == b"\n" || hdr.ends_with(b"\n\n") {
        1
    } else {
        0
    }
}

/// `body` in base64, lines of [`BASE64_LINE_LEN`] separated by `eol`.
fn base64_lines(body: &[u8], eol: &[u8], final_eol: bool) -> Vec<u8> {
    let text = base64::engine::general_purpose::STANDARD.encode(body);
    let mut out = Vec::with_capacity(text.len() + text.len() / BASE64_LINE_LEN * eol.len() + 2);
    for (i, line) in text.as_bytes().chunks(BASE64_LINE_LEN).enumerate() {
        if i > 0 {
            out.extend_from_slice(eol);
        }
        out.extend_from_slice(line);
    }
    if final_eol {
        out.extend_from_slice(eol);
    }
    out
}

/// The edits that re-encode part `p`: its Content-Transfer-Encoding
/// field (replaced, or added at the end of the header) and its body.
/// None when its header has no end to add a field before.
fn edits_for(p: &Part, msg: &[u8]) -> Option<Vec<Edit>> {
    let hdr = p.header.slice(msg);
    let eol: &[u8] = if hdr.ends_with(b"\r\n") {
        b"\r\n"
    } else {
        b"\n"
    };
    let mut field = b"Content-Transfer-Encoding: base64".to_vec();
    field.extend_from_slice(eol);
    let mut edits = Vec::new();
    let ctes: Vec<Span> = header::fields(msg, p.header)
        .iter()
        .filter(|f| f.is("Content-Transfer-Encoding"))
        .map(|f| f.span)
        .collect();
    match ctes.split_first() {
        Some((first, rest)) => {
            edits.push(Edit {
                span: *first,
                with: field,
            });
            // Later duplicates would contradict it.
            edits.extend(rest.iter().map(|s| Edit {
                span: *s,
                with: Vec::new(),
            }));
        }
        None => {
            let blank = blank_line_len(hdr);
            if blank == 0 {
                return None;
            }
            let at = p.header.end - blank;
            edits.push(Edit {
                span: Span::new(at, at),
                with: field,
            });
        }
    }
    let to_end = p.body.end >= msg.len() as u64;
    edits.push(Edit {
        span: p.body,
        with: base64_lines(p.body.slice(msg), eol, to_end),
    });
    Some(edits)
}

/// `msg` with its binary parts base64-encoded; None when it has none.
pub fn binary_to_base64(msg: &[u8]) -> Option<Vec<u8>> {
    let parsed = ParsedMessage::from_bytes(msg);
    let mut edits: Vec<Edit> = parsed
        .parts
        .iter()
        .filter(|p| needs_base64(p, msg))
        .filter_map(|p| edits_for(p, msg))
        .flatten()
        .collect();
    if edits.is_empty() {
        return None;
    }
    // Parts do not overlap, and a part's header comes before its body.
    edits.sort_by_key(|e| (e.span.start, e.span.end));
    let mut out = Vec::with_capacity(msg.len() + msg.len() / 3 + 64);
    let mut pos = 0u64;
    for e in edits {
        if e.span.start < pos {
            // Overlapping edits would mean a broken walk: keep the
            // message as it is rather than lose octets.
            return None;
        }
        out.extend_from_slice(Span::new(pos, e.span.start).slice(msg));
        out.extend_from_slice(&e.with);
        pos = e.span.end;
    }
    out.extend_from_slice(Span::new(pos, msg.len() as u64).slice(msg));
    Some(out)
}
