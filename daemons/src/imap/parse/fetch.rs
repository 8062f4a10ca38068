//! FETCH data items (RFC 9051 §6.4.5): macros, BODY[section]<partial>,
//! BODY.PEEK, BINARY (RFC 3516), MODSEQ and CHANGEDSINCE/VANISHED
//! modifiers (RFC 7162 §3.1.4, §3.2.6), PREVIEW (RFC 8970), SAVEDATE
//! (RFC 8514).

use super::ParseError;
use super::lexer::Cursor;

/// Most part numbers in a section specifier (threats T11:
/// `BODY[1.1.1…×1000]`); the MIME walker stops at this depth too.
pub const MAX_SECTION_PARTS: usize = 100;

/// RFC 9051 §9 `section-msgtext` / `section-text`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SectionText {
    Header,
    /// `HEADER.FIELDS` (`not` false) or `HEADER.FIELDS.NOT` (`not` true).
    HeaderFields {
        not: bool,
        fields: Vec<String>,
    },
    Text,
    /// Only after a part number.
    Mime,
}

/// RFC 9051 §9 `section-spec`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Section {
    /// Part numbers, e.g. `[4, 2, 2]` for `4.2.2`; empty for the message.
    pub part: Vec<u32>,
    pub text: Option<SectionText>,
}

/// RFC 9051 §9 `partial`: `<offset.length>`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Partial {
    pub offset: u64,
    pub length: u64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FetchAttr {
    Envelope,
    Flags,
    InternalDate,
    /// `RFC822`: same as `BODY[]` (sets \Seen).
    Rfc822,
    /// `RFC822.HEADER`: same as `BODY.PEEK[HEADER]`.
    Rfc822Header,
    Rfc822Size,
    /// `RFC822.TEXT`: same as `BODY[TEXT]`.
    Rfc822Text,
    /// `BODY` without a section: the non-extensible BODYSTRUCTURE.
    Body,
    BodyStructure,
    Uid,
    BodySection {
        peek: bool,
        section: Section,
        partial: Option<Partial>,
    },
    /// RFC 3516 §4.2.
    Binary {
        peek: bool,
        part: Vec<u32>,
        partial: Option<Partial>,
    },
    BinarySize {
        part: Vec<u32>,
    },
    /// RFC 7162 §3.1.4.
    ModSeq,
    /// RFC 8970 §3: `PREVIEW` or `PREVIEW (LAZY)`.
    Preview {
        lazy: bool,
    },
    /// RFC 8514 §3.
    SaveDate,
}

/// RFC 7162 `fetch-modifiers`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct FetchModifiers {
    /// `CHANGEDSINCE n` (§3.1.4.1).
    pub changed_since: Option<u64>,
    /// `VANISHED` (§3.2.6, UID FETCH with QRESYNC only).
    pub vanished: bool,
}

impl Cursor<'_> {
    /// `section-part` numbers separated by dots; stops before a non-digit.
    fn section_part(&mut self) -> Result<Vec<u32>, ParseError> {
        let mut part = Vec::new();
        while matches!(self.peek(), Some(b'1'..=b'9')) {
            part.push(self.nz_number()?);
            if part.len() > MAX_SECTION_PARTS {
                return Err(self.err(format!(
                    "section has more than {MAX_SECTION_PARTS} part numbers"
                )));
            }
            if !(self.peek() == Some(b'.') && matches!(self.peek_at(1), Some(b'1'..=b'9'))) {
                break;
            }
            self.eat(b'.');
        }
        Ok(part)
    }

    /// `"[" [section-spec] "]"`.
    fn section(&mut self) -> Result<Section, ParseError> {
        self.expect(b'[')?;
        let part = self.section_part()?;
        let mut section = Section { part, text: None };
        if self.eat(b']') {
            return Ok(section);
        }
        if !section.part.is_empty() {
            self.expect(b'.')?;
        }
        let word = self
            .take_section_word()
            .ok_or_else(|| self.err("expected section text"))?;
        let text = match word.as_str() {
            "HEADER" => SectionText::Header,
            "TEXT" => SectionText::Text,
            "MIME" if !section.part.is_empty() => SectionText::Mime,
            "HEADER.FIELDS" | "HEADER.FIELDS.NOT" => {
                self.sp()?;
                let fields = self.paren_list(false, |c| {
                    let f = c.astring_utf8()?;
                    if f.is_empty() || !f.bytes().all(|b| b.is_ascii_graphic() && b != b':') {
                        return Err(c.err("invalid header field name"));
                    }
                    Ok(f)
                })?;
                SectionText::HeaderFields {
                    not: word.ends_with(".NOT"),
                    fields,
                }
            }
            _ => return Err(self.err(format!("invalid section text {word}"))),
        };
        section.text = Some(text);
        self.expect(b']')?;
        Ok(section)
    }

    fn take_section_word(&mut self) -> Option<String> {
        let r = self.rest();
        let n = r
            .iter()
            .take_while(|b| b.is_ascii_alphabetic() || **b == b'.')
            .count();
        let w = std::str::from_utf8(&r[..n]).ok()?.to_ascii_uppercase();
        self.advance(n);
        Some(w)
    }

    /// `"<" number "." nz-number ">"`.
    fn partial(&mut self) -> Result<Option<Partial>, ParseError> {
        if !self.eat(b'<') {
            return Ok(None);
        }
        let offset = self.number64()?;
        self.expect(b'.')?;
        let length = self.number64()?;
        if length == 0 {
            return Err(self.err("partial length must not be zero"));
        }
        self.expect(b'>')?;
        Ok(Some(Partial { offset, length }))
    }

    /// `section-binary = "[" [section-part] "]"`.
    fn section_binary(&mut self) -> Result<Vec<u32>, ParseError> {
        self.expect(b'[')?;
        let part = self.section_part()?;
        self.expect(b']')?;
        Ok(part)
    }

    /// RFC 9051 §9 `fetch-att`.
    pub fn fetch_att(&mut self) -> Result<FetchAttr, ParseError> {
        let r = self.rest();
        let n = r
            .iter()
            .take_while(|b| b.is_ascii_alphanumeric() || **b == b'.')
            .count();
        let word = std::str::from_utf8(&r[..n])
            .map_err(|_| self.err("expected fetch attribute"))?
            .to_ascii_uppercase();
        self.advance(n);
        let attr = match word.as_str() {
            "ENVELOPE" => FetchAttr::Envelope,
            "FLAGS" => FetchAttr::Flags,
            "INTERNALDATE" => FetchAttr::InternalDate,
            "RFC822" => FetchAttr::Rfc822,
            "RFC822.HEADER" => FetchAttr::Rfc822Header,
            "RFC822.SIZE" => FetchAttr::Rfc822Size,
            "RFC822.TEXT" => FetchAttr::Rfc822Text,
            "BODYSTRUCTURE" => FetchAttr::BodyStructure,
            "UID" => FetchAttr::Uid,
            "MODSEQ" => FetchAttr::ModSeq,
            "SAVEDATE" => FetchAttr::SaveDate,
            "PREVIEW" => {
                let lazy = if self.peek() == Some(b' ') && self.peek_at(1) == Some(b'(') {
                    self.sp()?;
                    let mods = self.paren_list(false, |c| Ok(c.atom()?.to_ascii_uppercase()))?;
                    if mods.iter().any(|m| m != "LAZY") {
                        return Err(self.err("unknown PREVIEW modifier"));
                    }
                    true
                } else {
                    false
                };
                FetchAttr::Preview { lazy }
            }
            "BODY" | "BODY.PEEK" => {
                if self.peek() != Some(b'[') {
                    if word == "BODY.PEEK" {
                        return Err(self.err("BODY.PEEK needs a section"));
                    }
                    FetchAttr::Body
                } else {
                    let section = self.section()?;
                    let partial = self.partial()?;
                    FetchAttr::BodySection {
                        peek: word == "BODY.PEEK",
                        section,
                        partial,
                    }
                }
            }
            "BINARY" | "BINARY.PEEK" => {
                let part = self.section_binary()?;
                let partial = self.partial()?;
                FetchAttr::Binary {
                    peek: word == "BINARY.PEEK",
                    part,
                    partial,
                }
            }
            "BINARY.SIZE" => FetchAttr::BinarySize {
                part: self.section_binary()?,
            },
            _ => return Err(self.err(format!("unknown fetch attribute {word:?}"))),
        };
        Ok(attr)
    }

    /// The FETCH item argument: a macro, one attribute or a list.
    pub fn fetch_atts(&mut self) -> Result<Vec<FetchAttr>, ParseError> {
        use FetchAttr::*;
        if self.peek() == Some(b'(') {
            return self.paren_list(false, |c| c.fetch_att());
        }
        // RFC 9051 §6.4.5 macros.
        if self.eat_keyword("ALL") {
            return Ok(vec![Flags, InternalDate, Rfc822Size, Envelope]);
        }
        if self.eat_keyword("FAST") {
            return Ok(vec![Flags, InternalDate, Rfc822Size]);
        }
        if self.eat_keyword("FULL") {
            return Ok(vec![Flags, InternalDate, Rfc822Size, Envelope, Body]);
        }
        Ok(vec![self.fetch_att()?])
    }

    /// RFC 7162 §3.1.4.1 / §3.2.6 `fetch-modifiers`.
    pub fn fetch_modifiers(&mut self) -> Result<FetchModifiers, ParseError> {
        let mut m = FetchModifiers::default();
        self.paren_list(false, |c| {
            let w = c.atom()?.to_ascii_uppercase();
            match w.as_str() {
                "CHANGEDSINCE" => {
                    c.sp()?;
                    m.changed_since = Some(c.modseq()?);
                }
                "VANISHED" => m.vanished = true,
                _ => return Err(c.err(format!("unknown fetch modifier {w}"))),
            }
            Ok(())
        })?;
        Ok(m)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::imap::parse::Options;

    fn atts(s: &str) -> Result<Vec<FetchAttr>, ParseError> {
        let mut c = Cursor::new(s.as_bytes(), Options::default());
        let a = c.fetch_atts()?;
        c.end()?;
        Ok(a)
    }

    #[test]
    fn sections() {
        let a = atts("(BODY.PEEK[1.2.HEADER.FIELDS (From To)]<0.100> BINARY[2] BINARY.SIZE[] UID)")
            .unwrap();
        assert_eq!(
            a[0],
            FetchAttr::BodySection {
                peek: true,
                section: Section {
                    part: vec![1, 2],
                    text: Some(SectionText::HeaderFields {
                        not: false,
                        fields: vec!["From".into(), "To".into()]
                    })
                },
                partial: Some(Partial {
                    offset: 0,
                    length: 100
                })
            }
        );
        assert_eq!(
            a[1],
            FetchAttr::Binary {
                peek: false,
                part: vec![2],
                partial: None
            }
        );
        assert_eq!(a[2], FetchAttr::BinarySize { part: vec![] });
        assert_eq!(a[3], FetchAttr::Uid);
        assert_eq!(
            atts("body[]").unwrap(),
            vec![FetchAttr::BodySection {
                peek: false,
                section: Section::default(),
                partial: None
            }]
        );
        assert_eq!(atts("FAST").unwrap().len(), 3);
        assert_eq!(
            atts("(PREVIEW (LAZY) BODY)").unwrap(),
            vec![FetchAttr::Preview { lazy: true }, FetchAttr::Body]
        );
    }

    #[test]
    fn bad_sections() {
        assert!(atts("BODY[MIME]").is_err());
        assert!(atts("BODY[1.]").is_err());
        assert!(atts("BODY.PEEK").is_err());
        assert!(atts("BODY[]<0.0>").is_err());
        assert!(atts("BODY[0]").is_err());
        assert!(atts("FOO").is_err());
        assert!(atts("()").is_err());
        // Threats T11.
        let deep = format!("BODY[{}1]", "1.".repeat(1000));
        assert!(atts(&deep).is_err());
    }
}
