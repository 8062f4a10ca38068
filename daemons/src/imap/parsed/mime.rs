//! The MIME walk (RFC 2045 §5, RFC 2046 §5.1 multipart boundaries,
//! §5.2.1 message/rfc822): one pass over the message that records each
//! entity's header and body offsets and BODYSTRUCTURE fields. Line starts
//! are found once; each multipart level only looks at the lines inside
//! its own body, and a budget on those looks bounds the total work.

use super::envelope::Envelope;
use super::header::{self, Field};
use super::{MAX_BOUNDARY_LEN, MAX_DEPTH, MAX_PARTS, Part, PartKind, SCAN_BUDGET_FACTOR, Span};

/// Line looks allowed besides [`SCAN_BUDGET_FACTOR`] × lines.
const SCAN_BUDGET_BASE: u64 = 100_000;

/// The type of an entity without a (valid) Content-Type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Default {
    /// RFC 2045 §5.2.
    TextPlain,
    /// RFC 2046 §5.1.5: parts of multipart/digest.
    MessageRfc822,
}

pub struct Walker<'a> {
    msg: &'a [u8],
    /// Offsets of every LF in the message.
    newlines: Vec<u64>,
    parts: Vec<Part>,
    truncated: bool,
    budget: u64,
}

impl<'a> Walker<'a> {
    pub fn new(msg: &'a [u8]) -> Walker<'a> {
        let newlines: Vec<u64> = msg
            .iter()
            .enumerate()
            .filter(|(_, b)| **b == b'\n')
            .map(|(i, _)| i as u64)
            .collect();
        let budget = (newlines.len() as u64)
            .saturating_mul(SCAN_BUDGET_FACTOR)
            .saturating_add(SCAN_BUDGET_BASE);
        Walker {
            msg,
            newlines,
            parts: Vec::new(),
            truncated: false,
            budget,
        }
    }

    pub fn finish(self) -> (Vec<Part>, bool) {
        (self.parts, self.truncated)
    }

    /// Index of the first LF at or after `pos`.
    fn nl_from(&self, pos: u64) -> usize {
        self.newlines.partition_point(|&p| p < pos)
    }

    /// Lines in `span`: its LFs, plus a last line without one.
    fn lines(&self, span: Span) -> u64 {
        let lfs = (self.nl_from(span.end) - self.nl_from(span.start)) as u64;
        let partial = !span.is_empty()
            && span
                .end
                .checked_sub(1)
                .is_some_and(|e| self.msg.get(e as usize) != Some(&b'\n'));
        lfs + u64::from(partial)
    }

    /// Describes the entity in `span`; None when the part limit is reached.
    pub fn entity(&mut self, span: Span, default: Default, depth: usize) -> Option<u32> {
        if self.parts.len() >= MAX_PARTS {
            self.truncated = true;
            return None;
        }
        let msg = self.msg;
        let (hdr, body) = header::split_entity(msg, span);
        let fields = header::fields(msg, hdr);
        let mut part = describe(&fields, default);
        part.header = hdr;
        part.body = body;
        part.lines = self.lines(body);
        let idx = u32::try_from(self.parts.len()).ok()?;
        let composite = part.media_type == "multipart"
            || (part.media_type == "message" && is_encapsulated(&part));
        if composite && depth >= MAX_DEPTH {
            self.truncated = true;
            self.parts.push(part);
            return Some(idx);
        }
        if part.media_type == "multipart" {
            let boundary = part
                .params
                .iter()
                .find(|(k, _)| k.eq_ignore_ascii_case("boundary"))
                .map(|(_, v)| v.clone());
            let child_default = if part.media_subtype == "digest" {
                Default::MessageRfc822
            } else {
                Default::TextPlain
            };
            let spans = boundary
                .filter(|b| !b.is_empty() && b.len() <= MAX_BOUNDARY_LEN)
                .and_then(|b| self.split_multipart(body, b.as_bytes()));
            match spans {
                Some(spans) if !spans.is_empty() => {
                    self.parts.push(part);
                    let mut children = Vec::with_capacity(spans.len());
                    for s in spans {
                        match self.entity(s, child_default, depth + 1) {
                            Some(c) => children.push(c),
                            None => break,
                        }
                    }
                    if let Some(p) = self.parts.get_mut(idx as usize) {
                        p.kind = PartKind::Multipart { children };
                    }
                    return Some(idx);
                }
                // No boundary or no parts: described as text (as mox does),
                // so that the structure stays valid.
                _ => {
                    part.media_type = "text".into();
                    part.media_subtype = "plain".into();
                    part.params.clear();
                }
            }
        } else if composite {
            self.parts.push(part);
            if let Some(child) = self.entity(body, Default::TextPlain, depth + 1) {
                let envelope = self
                    .parts
                    .get(child as usize)
                    .map(|c| Envelope::from_header(msg, c.header))
                    .unwrap_or_default();
                if let Some(p) = self.parts.get_mut(idx as usize) {
                    p.kind = PartKind::Message {
                        envelope: Box::new(envelope),
                        message: child,
                    };
                }
            }
            return Some(idx);
        }
        self.parts.push(part);
        Some(idx)
    }

    /// The spans of the parts of a multipart body (RFC 2046 §5.1.1): the
    /// CRLF before a delimiter belongs to the delimiter. None when the
    /// scan budget is spent.
    fn split_multipart(&mut self, body: Span, boundary: &[u8]) -> Option<Vec<Span>> {
        let msg = self.msg;
        let mut delims: Vec<(u64, u64, bool)> = Vec::new();
        let mut line_start = body.start;
        let mut nl = self.nl_from(body.start);
        loop {
            if self.budget == 0 {
                self.truncated = true;
                return None;
            }
            self.budget -= 1;
            let line_end = self
                .newlines
                .get(nl)
                .map_or(body.end, |&p| (p + 1).min(body.end));
            let line = Span::new(line_start, line_end).slice(msg);
            if let Some(close) = delimiter(line, boundary) {
                delims.push((line_start, line_end, close));
                if close {
                    break;
                }
            }
            if line_end >= body.end {
                break;
            }
            line_start = line_end;
            nl += 1;
        }
        let mut spans = Vec::new();
        for (i, &(_, end, close)) in delims.iter().enumerate() {
            if close {
                break;
            }
            let next = delims.get(i + 1).map_or(body.end, |&(s, _, _)| s);
            let content_end = if next == body.end && delims.get(i + 1).is_none() {
                body.end
            } else {
                before_line_break(msg, end, next)
            };
            spans.push(Span::new(end, content_end));
        }
        Some(spans)
    }
}

/// Whether `line` is a delimiter for `boundary`: Some(true) for the close
/// delimiter. Only white space may follow (RFC 2046 §5.1.1).
fn delimiter(line: &[u8], boundary: &[u8]) -> Option<bool> {
    let rest = line.strip_prefix(b"--")?.strip_prefix(boundary)?;
    let (close, rest) = match rest.strip_prefix(b"--") {
        Some(r) => (true, r),
        None => (false, rest),
    };
    rest.iter()
        .all(|b| b.is_ascii_whitespace())
        .then_some(close)
}

/// `next` minus the line break that precedes it (not before `start`).
fn before_line_break(msg: &[u8], start: u64, next: u64) -> u64 {
    let s = Span::new(start, next).slice(msg);
    if s.ends_with(b"\r\n") {
        next - 2
    } else if s.ends_with(b"\n") {
        next - 1
    } else {
        next
    }
}

/// message/rfc822 and message/global are described with their content,
/// unless a transfer encoding hides it (RFC 2046 §5.2.1 allows none).
fn is_encapsulated(p: &Part) -> bool {
    let sub = p.media_subtype.as_str();
    let plain = p
        .encoding
        .as_deref()
        .is_none_or(|e| matches!(e, "7BIT" | "8BIT" | "BINARY"));
    (sub == "rfc822" || sub == "global") && plain
}

/// The BODYSTRUCTURE fields of an entity from its header.
fn describe(fields: &[Field<'_>], default: Default) -> Part {
    let ct = header::first(fields, "Content-Type").and_then(|v| parse_params(&v));
    let (media_type, media_subtype, params) = match ct {
        Some((main, params)) => match main.split_once('/') {
            Some((t, s)) if is_token(t) && is_token(s) => {
                (t.to_ascii_lowercase(), s.to_ascii_lowercase(), params)
            }
            _ => default_type(default),
        },
        None => default_type(default),
    };
    let disposition = header::first(fields, "Content-Disposition")
        .and_then(|v| parse_params(&v))
        .filter(|(d, _)| is_token(d));
    let language = header::first(fields, "Content-Language")
        .map(|v| {
            v.split(',')
                .map(|s| s.trim().to_string())
                .filter(|s| !s.is_empty())
                .collect()
        })
        .unwrap_or_default();
    Part {
        header: Span::default(),
        body: Span::default(),
        media_type,
        media_subtype,
        params,
        id: header::first(fields, "Content-ID"),
        description: header::first(fields, "Content-Description"),
        encoding: header::first(fields, "Content-Transfer-Encoding")
            .map(|e| e.to_ascii_uppercase())
            .filter(|e| is_token(e)),
        md5: header::first(fields, "Content-MD5"),
        disposition,
        language,
        location: header::first(fields, "Content-Location"),
        lines: 0,
        kind: PartKind::Basic,
    }
}

fn default_type(d: Default) -> (String, String, Vec<(String, String)>) {
    match d {
        Default::TextPlain => (
            "text".into(),
            "plain".into(),
            vec![("charset".into(), "us-ascii".into())],
        ),
        Default::MessageRfc822 => ("message".into(), "rfc822".into(), Vec::new()),
    }
}

/// RFC 2045 §5.1 `token`.
fn is_token(s: &str) -> bool {
    !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_graphic() && !b"()<>@,;:\\\"/[]?=".contains(&b))
}

/// `value *(";" attribute "=" value)` (RFC 2045 §5.1, RFC 2183 §2),
/// comments removed, quoted values unquoted. Parameter values keep their
/// RFC 2231 encoding as sent. None if there is no main value.
pub fn parse_params(v: &str) -> Option<(String, Vec<(String, String)>)> {
    let v = strip_comments(v);
    let mut it = split_semicolons(&v).into_iter();
    let main = it.next()?.trim().to_string();
    if main.is_empty() {
        return None;
    }
    let main: String = main.split_whitespace().collect();
    let mut params = Vec::new();
    for p in it {
        let Some((k, val)) = p.split_once('=') else {
            continue;
        };
        let k = k.trim();
        if !is_token(k) {
            continue;
        }
        let val = val.trim();
        let val = match val.strip_prefix('"') {
            Some(q) => unquote(q),
            None => val.to_string(),
        };
        params.push((k.to_string(), val));
    }
    Some((main, params))
}

fn strip_comments(v: &str) -> String {
    let mut out = String::with_capacity(v.len());
    let mut depth = 0usize;
    let mut quoted = false;
    let mut escaped = false;
    for c in v.chars() {
        if escaped {
            escaped = false;
            if depth == 0 {
                out.push(c);
            }
            continue;
        }
        match c {
            '\\' if quoted || depth > 0 => {
                escaped = true;
                if depth == 0 {
                    out.push(c);
                }
            }
            '"' if depth == 0 => {
                quoted = !quoted;
                out.push(c);
            }
            '(' if !quoted => depth += 1,
            ')' if !quoted && depth > 0 => depth -= 1,
            _ if depth == 0 => out.push(c),
            _ => {}
        }
    }
    out
}

fn split_semicolons(v: &str) -> Vec<String> {
    let mut out = vec![String::new()];
    let mut quoted = false;
    let mut escaped = false;
    for c in v.chars() {
        let cur = out.last_mut();
        let Some(cur) = cur else { break };
        if escaped {
            escaped = false;
            cur.push(c);
            continue;
        }
        match c {
            '\\' if quoted => {
                escaped = true;
                cur.push(c);
            }
            '"' => {
                quoted = !quoted;
                cur.push(c);
            }
            ';' if !quoted => out.push(String::new()),
            _ => cur.push(c),
        }
    }
    out
}

/// The inside of a quoted string (after the opening quote).
fn unquote(q: &str) -> String {
    let mut out = String::new();
    let mut escaped = false;
    for c in q.chars() {
        if escaped {
            out.push(c);
            escaped = false;
        } else if c == '\\' {
            escaped = true;
        } else if c == '"' {
            break;
        } else {
            out.push(c);
        }
    }
    out
}
