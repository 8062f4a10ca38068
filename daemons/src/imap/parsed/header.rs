//! Header blocks (RFC 5322 §2.2): where a header ends and its body
//! starts, and the fields in it, unfolded. Works on offsets into the
//! message so that sections can be cut from the original octets.

use super::Span;

/// One header field: its name and the raw value (after the colon, with
/// line folding still in place), and the span of the whole field.
#[derive(Debug, Clone, Copy)]
pub struct Field<'a> {
    pub name: &'a [u8],
    pub value: &'a [u8],
    pub span: Span,
}

impl Field<'_> {
    /// The value unfolded (CRLF before white space removed) and trimmed.
    pub fn unfolded(&self) -> String {
        unfold(self.value)
    }

    pub fn is(&self, name: &str) -> bool {
        self.name.eq_ignore_ascii_case(name.as_bytes())
    }
}

/// Removes folding and trims; invalid UTF-8 is replaced.
pub fn unfold(v: &[u8]) -> String {
    let mut out = Vec::with_capacity(v.len());
    let mut i = 0;
    while i < v.len() {
        match v[i] {
            b'\r' if v.get(i + 1) == Some(&b'\n') => i += 2,
            b'\n' => i += 1,
            b => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).trim().to_string()
}

/// Splits an entity at `span` into its header (including the blank line
/// that ends it) and body. Without a blank line the whole entity is
/// header and the body is empty at its end.
pub fn split_entity(msg: &[u8], span: Span) -> (Span, Span) {
    let data = span.slice(msg);
    // An entity that starts with a blank line has an empty header.
    if data.starts_with(b"\r\n") {
        return (
            Span::new(span.start, span.start + 2),
            Span::new(span.start + 2, span.end),
        );
    }
    if data.starts_with(b"\n") {
        return (
            Span::new(span.start, span.start + 1),
            Span::new(span.start + 1, span.end),
        );
    }
    let mut i = 0;
    while let Some(p) = data[i..].iter().position(|&b| b == b'\n') {
        let nl = i + p;
        let next = nl + 1;
        if data[next..].starts_with(b"\r\n") {
            let end = span.start + (next + 2) as u64;
            return (Span::new(span.start, end), Span::new(end, span.end));
        }
        if data[next..].starts_with(b"\n") {
            let end = span.start + (next + 1) as u64;
            return (Span::new(span.start, end), Span::new(end, span.end));
        }
        i = next;
    }
    (span, Span::new(span.end, span.end))
}

/// The fields of a header block, in order. Lines that are neither a
/// field nor a continuation are skipped.
pub fn fields(msg: &[u8], header: Span) -> Vec<Field<'_>> {
    let data = header.slice(msg);
    let mut out: Vec<Field<'_>> = Vec::new();
    let mut i = 0;
    while i < data.len() {
        let line_end = data[i..]
            .iter()
            .position(|&b| b == b'\n')
            .map_or(data.len(), |p| i + p + 1);
        let line = &data[i..line_end];
        let continuation = matches!(line.first(), Some(b' ' | b'\t'));
        if continuation {
            if let Some(last) = out.last_mut() {
                // The value runs on through this continuation line.
                let vstart = last.value.as_ptr() as usize - data.as_ptr() as usize;
                last.value = &data[vstart..line_end];
                last.span.end = header.start + line_end as u64;
            }
        } else if let Some(colon) = line.iter().position(|&b| b == b':') {
            let name = trim_end(&line[..colon]);
            if !name.is_empty() && name.iter().all(|b| b.is_ascii_graphic()) {
                out.push(Field {
                    name,
                    value: &data[i + colon + 1..line_end],
                    span: Span::new(header.start + i as u64, header.start + line_end as u64),
                });
            }
        }
        i = line_end;
    }
    out
}

fn trim_end(b: &[u8]) -> &[u8] {
    let n = b
        .iter()
        .rev()
        .take_while(|c| c.is_ascii_whitespace())
        .count();
    &b[..b.len() - n]
}

/// The first field named `name`, unfolded.
pub fn first(fields: &[Field<'_>], name: &str) -> Option<String> {
    fields.iter().find(|f| f.is(name)).map(Field::unfolded)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn split_and_fields() {
        let m = b"Subject: a\r\n b\r\nFrom: x@y\r\n\r\nbody\r\n";
        let all = Span::new(0, m.len() as u64);
        let (h, b) = split_entity(m, all);
        assert_eq!(h.slice(m), b"Subject: a\r\n b\r\nFrom: x@y\r\n\r\n");
        assert_eq!(b.slice(m), b"body\r\n");
        let f = fields(m, h);
        assert_eq!(f.len(), 2);
        assert_eq!(f[0].unfolded(), "a b");
        assert_eq!(f[0].span.slice(m), b"Subject: a\r\n b\r\n");
        assert_eq!(first(&f, "from").as_deref(), Some("x@y"));
        let (h, b) = split_entity(b"\r\nbody", Span::new(0, 6));
        assert_eq!((h.len(), b.len()), (2, 4));
        let (h, b) = split_entity(b"X: y", Span::new(0, 4));
        assert_eq!((h.len(), b.len()), (4, 0));
    }
}
