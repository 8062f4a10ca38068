//! A pass-through sink that watches the message as it is spooled: which
//! header fields are present (submission adds Message-ID and Date when
//! missing, RFC 6409 §8.2–8.3) and whether any 8-bit octet occurs
//! (pedantic mode rejects 8-bit data without BODY=8BITMIME, RFC 6152 §3).

use std::io::{self, Write};

/// Longest header field name we compare; longer names are not ours.
const MAX_FIELD_NAME: usize = 32;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Findings {
    pub message_id: bool,
    pub date: bool,
    pub eight_bit: bool,
    /// Whether the empty line ending the header section was seen.
    pub header_end: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Line {
    /// At the start of a header line.
    Start,
    /// Saw a CR at the start of a line (maybe the empty line).
    StartCr,
    /// Reading a field name.
    Name,
    /// In the rest of a line.
    Rest,
    /// Past the header section.
    Body,
}

pub struct Inspect<W> {
    inner: W,
    line: Line,
    name: [u8; MAX_FIELD_NAME],
    name_len: usize,
    found: Findings,
}

impl<W: Write> Inspect<W> {
    pub fn new(inner: W) -> Inspect<W> {
        Inspect {
            inner,
            line: Line::Start,
            name: [0; MAX_FIELD_NAME],
            name_len: 0,
            found: Findings::default(),
        }
    }

    pub fn findings(&self) -> Findings {
        self.found
    }

    pub fn into_inner(self) -> W {
        self.inner
    }

    pub fn get_mut(&mut self) -> &mut W {
        &mut self.inner
    }

    fn scan_header(&mut self, buf: &[u8]) {
        for &b in buf {
            self.line = match (self.line, b) {
                (Line::Body, _) => return,
                (Line::Start, b'\r') => Line::StartCr,
                (Line::Start | Line::StartCr, b'\n') => {
                    self.found.header_end = true;
                    Line::Body
                }
                // Folded continuation line (RFC 5322 §2.2.3).
                (Line::Start, b' ' | b'\t') => Line::Rest,
                (Line::Start, _) => {
                    self.name_len = 0;
                    self.name_byte(b)
                }
                (Line::StartCr, _) => Line::Body,
                (Line::Name, _) => self.name_byte(b),
                (Line::Rest, b'\n') => Line::Start,
                (Line::Rest, _) => Line::Rest,
            };
        }
    }

    /// RFC 5322 §3.6.8: field-name = 1*ftext (printable ASCII except ":").
    fn name_byte(&mut self, b: u8) -> Line {
        if b == b':' {
            let name = &self.name[..self.name_len];
            if name.eq_ignore_ascii_case(b"message-id") {
                self.found.message_id = true;
            } else if name.eq_ignore_ascii_case(b"date") {
                self.found.date = true;
            }
            return Line::Rest;
        }
        if !(33..=126).contains(&b) {
            // Not a header field: the header section is over (or absent).
            return Line::Body;
        }
        if self.name_len < MAX_FIELD_NAME {
            self.name[self.name_len] = b;
            self.name_len += 1;
        }
        Line::Name
    }
}

impl<W: Write> Write for Inspect<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.inner.write(buf)?;
        let done = &buf[..n];
        if self.line != Line::Body {
            self.scan_header(done);
        }
        if !self.found.eight_bit && done.iter().any(|&b| b >= 0x80) {
            self.found.eight_bit = true;
        }
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scan(parts: &[&[u8]]) -> Findings {
        let mut i = Inspect::new(Vec::new());
        for p in parts {
            i.write_all(p).unwrap();
        }
        i.findings()
    }

    #[test]
    fn finds_fields_across_writes() {
        let f = scan(&[
            b"Subject: x\r\nmessage-",
            b"ID: <a@b>\r\n da",
            b"te: folded\r\n\r\nDate: in body\r\n",
        ]);
        assert_eq!(
            f,
            Findings {
                message_id: true,
                date: false,
                eight_bit: false,
                header_end: true
            }
        );
        let f = scan(&[b"DATE: now\r\n\r\n\xc3\xa9"]);
        assert_eq!(
            f,
            Findings {
                message_id: false,
                date: true,
                eight_bit: true,
                header_end: true
            }
        );
    }

    #[test]
    fn body_without_header() {
        let f = scan(&[b"just text\r\nDate: x\r\n"]);
        assert!(!f.date && !f.header_end);
        let f = scan(&[b"\r\nDate: x\r\n"]);
        assert!(!f.date && f.header_end);
    }
}
