//! SEARCH criteria (RFC 9051 §6.4.4) evaluated against one message: its
//! metadata, and when a key needs it, its header (encoded words decoded)
//! and text. Strings match case-insensitively as substrings. Used by
//! SEARCH, SORT and THREAD. Recursion follows the parsed key, whose depth
//! the parser bounds.

use std::fmt::Write as _;

use mail_parser::parsers::MessageStream;
use mail_parser::{HeaderValue, MessageParser, PartType};

use crate::imap::backend::{MessageContent, MessageMeta};
use crate::imap::datetime::Date;
use crate::imap::parse::{SearchKey, SequenceSet, in_ranges};
use crate::imap::parsed::{Address, header};

/// Most nested message/rfc822 levels whose text BODY/TEXT look at.
const MAX_TEXT_DEPTH: usize = 8;

/// Whether evaluating `k` needs the message content.
pub fn needs_content(k: &SearchKey) -> bool {
    use SearchKey::*;
    match k {
        Bcc(_) | Body(_) | Cc(_) | From(_) | Header(..) | Subject(_) | Text(_) | To(_)
        | SentBefore(_) | SentOn(_) | SentSince(_) => true,
        Not(k) => needs_content(k),
        Or(a, b) => needs_content(a) || needs_content(b),
        And(ks) => ks.iter().any(needs_content),
        _ => false,
    }
}

/// Whether `k` has a MODSEQ criterion (RFC 7162 §3.1.5: the result then
/// carries the highest modseq).
pub fn uses_modseq(k: &SearchKey) -> bool {
    match k {
        SearchKey::ModSeq(_) => true,
        SearchKey::Not(k) => uses_modseq(k),
        SearchKey::Or(a, b) => uses_modseq(a) || uses_modseq(b),
        SearchKey::And(ks) => ks.iter().any(uses_modseq),
        _ => false,
    }
}

/// What the key's numbers refer to.
pub struct Context<'a> {
    /// Messages the client knows (`*` in sequence sets).
    pub count: u32,
    /// Largest UID the client knows (`*` in UID sets).
    pub last_uid: u32,
    /// The saved result (`$`), UIDs ascending.
    pub saved: &'a [u32],
    /// Unix time now (OLDER/YOUNGER).
    pub now: i64,
}

/// One message under evaluation, with what has been decoded so far.
pub struct Target<'a> {
    pub seq: u32,
    pub meta: &'a MessageMeta,
    pub content: Option<&'a MessageContent>,
    headers: Option<Vec<(String, String)>>,
    text: Option<String>,
}

impl<'a> Target<'a> {
    pub fn new(seq: u32, meta: &'a MessageMeta, content: Option<&'a MessageContent>) -> Self {
        Target {
            seq,
            meta,
            content,
            headers: None,
            text: None,
        }
    }

    fn has_flag(&self, f: &str) -> bool {
        self.meta.flags.iter().any(|x| x.eq_ignore_ascii_case(f))
    }

    /// The top-level header fields: lower-cased names, decoded values.
    fn headers(&mut self) -> &[(String, String)] {
        if self.headers.is_none() {
            let mut v = Vec::new();
            if let Some(c) = self.content
                && let Some(root) = c.parsed.root()
            {
                for f in header::fields(&c.bytes, root.header) {
                    let name = String::from_utf8_lossy(f.name).to_ascii_lowercase();
                    v.push((name, decode_value(f.value)));
                }
            }
            self.headers = Some(v);
        }
        self.headers.as_deref().unwrap_or_default()
    }

    fn header_contains(&mut self, name: &str, needle: &str) -> bool {
        let needle = needle.to_lowercase();
        self.headers()
            .iter()
            .any(|(n, v)| n.eq_ignore_ascii_case(name) && v.to_lowercase().contains(&needle))
    }

    /// FROM, TO, CC, BCC (RFC 9051 §6.4.4): a substring of the field's
    /// addresses as the ENVELOPE has them (comments inside addresses
    /// removed, RFC 5322 §3.2.2), each written `name <local@domain>`,
    /// groups as `group: ...;`. A field that gave no address is searched
    /// as text.
    fn address_contains(&mut self, field: AddressField, needle: &str) -> bool {
        let text = self.content.map(|c| {
            let e = &c.parsed.envelope;
            let list = match field {
                AddressField::From => &e.from,
                AddressField::To => &e.to,
                AddressField::Cc => &e.cc,
                AddressField::Bcc => &e.bcc,
            };
            addresses_text(list)
        });
        match text {
            Some(t) if !t.is_empty() => t.to_lowercase().contains(&needle.to_lowercase()),
            _ => self.header_contains(field.name(), needle),
        }
    }

    /// Whether the message certainly holds `needle` nowhere, decoded or
    /// not: its octets lack it and nothing in it is encoded (see
    /// [`plain_lacks`]). Saves decoding every message of a mailbox for a
    /// word few hold.
    fn surely_lacks(&self, needle: &str) -> bool {
        self.content.is_some_and(|c| plain_lacks(&c.bytes, needle))
    }

    /// The decoded text of the message's text parts, lower-cased.
    fn body_text(&mut self) -> &str {
        if self.text.is_none() {
            let text = self
                .content
                .map(|c| body_text(&c.bytes))
                .unwrap_or_default();
            self.text = Some(text.to_lowercase());
        }
        self.text.as_deref().unwrap_or_default()
    }

    /// The date of the Date header, in its own time zone.
    fn sent_date(&mut self) -> Option<Date> {
        let raw = self
            .headers()
            .iter()
            .find(|(n, _)| n == "date")
            .map(|(_, v)| v.clone())?;
        let mut v = raw.into_bytes();
        v.extend_from_slice(b"\r\n");
        match MessageStream::new(&v).parse_date() {
            HeaderValue::DateTime(d) => Date::new(i32::from(d.year), d.month, d.day),
            _ => None,
        }
    }
}

/// The address fields SEARCH looks at as addresses.
#[derive(Debug, Clone, Copy)]
enum AddressField {
    From,
    To,
    Cc,
    Bcc,
}

impl AddressField {
    fn name(self) -> &'static str {
        match self {
            AddressField::From => "from",
            AddressField::To => "to",
            AddressField::Cc => "cc",
            AddressField::Bcc => "bcc",
        }
    }
}

/// Envelope addresses as text: `name <local@domain>` (or `local@domain`)
/// joined with `, `; a group as `group: ...;`.
fn addresses_text(list: &[Address]) -> String {
    let mut out = String::new();
    let mut sep = "";
    for a in list {
        match (a.local_part(), a.host.as_deref()) {
            // Group start marker: mailbox is the group name.
            (Some(group), None) => {
                out.push_str(sep);
                out.push_str(group);
                out.push(':');
                sep = " ";
            }
            // Group end marker.
            (None, None) => {
                out.push(';');
                sep = ", ";
            }
            (local, Some(host)) => {
                out.push_str(sep);
                let spec = match (local.unwrap_or(""), host) {
                    (l, "") => l.to_string(),
                    (l, h) => format!("{l}@{h}"),
                };
                match a.name.as_deref() {
                    Some(n) => {
                        let _ = write!(out, "{n} <{spec}>");
                    }
                    None => out.push_str(&spec),
                }
                sep = ", ";
            }
        }
    }
    out
}

/// Charsets in which every ASCII octet stands for itself.
const ASCII_CHARSETS: [&str; 6] = [
    "us-ascii",
    "ascii",
    "utf-8",
    "utf8",
    "iso-8859-",
    "windows-125",
];

/// Whether `msg` certainly holds no case-insensitive `needle` in any form
/// SEARCH TEXT or BODY (RFC 9051 §6.4.4) look at, without decoding it: true
/// when `needle` is printable ASCII without spaces, the octets are ASCII
/// text and hold it nowhere, and nothing can decode into it — no encoded
/// words (RFC 2047 `=?`), no base64 or quoted-printable transfer encoding
/// (RFC 2045 §6), and only charsets that map ASCII to itself (not UTF-7,
/// HZ, ...). Unfolding headers removes only line breaks before white
/// space, which a needle without spaces cannot straddle. False means
/// "decode and look".
pub fn plain_lacks(msg: &[u8], needle: &str) -> bool {
    let needle = needle.as_bytes();
    if needle.is_empty() || !needle.iter().all(u8::is_ascii_graphic) {
        return false;
    }
    if !msg
        .iter()
        .all(|&b| b.is_ascii_graphic() || matches!(b, b' ' | b'\t' | b'\r' | b'\n'))
    {
        return false;
    }
    let lower = msg.to_ascii_lowercase();
    let has = |pat: &[u8]| memchr::memmem::find(&lower, pat).is_some();
    if has(b"=?") || has(b"base64") || has(b"quoted-printable") {
        return false;
    }
    let mut rest = &lower[..];
    while let Some(at) = memchr::memmem::find(rest, b"charset=") {
        rest = &rest[at + 8..];
        let value = rest.strip_prefix(b"\"").unwrap_or(rest);
        if !ASCII_CHARSETS
            .iter()
            .any(|cs| value.starts_with(cs.as_bytes()))
        {
            return false;
        }
    }
    !has(&needle.to_ascii_lowercase())
}

/// A header value with encoded words (RFC 2047) decoded, unfolded.
pub fn decode_value(raw: &[u8]) -> String {
    let mut v = raw.to_vec();
    v.extend_from_slice(b"\r\n");
    match MessageStream::new(&v).parse_unstructured() {
        HeaderValue::Text(t) => t.trim().to_string(),
        _ => header::unfold(raw),
    }
}

/// The decoded text of a message's text/* parts (nested messages too, a
/// few levels deep).
fn body_text(msg: &[u8]) -> String {
    let Some(m) = MessageParser::default().parse(msg) else {
        return String::new();
    };
    let mut out = String::new();
    let mut stack = vec![(&m, 0usize)];
    while let Some((msg, depth)) = stack.pop() {
        for p in &msg.parts {
            match &p.body {
                PartType::Text(t) | PartType::Html(t) => {
                    out.push_str(t);
                    out.push('\n');
                }
                PartType::Message(inner) if depth < MAX_TEXT_DEPTH => {
                    stack.push((inner, depth + 1));
                }
                _ => {}
            }
        }
    }
    out
}

fn seq_in(set: &SequenceSet, n: u32, last: u32, saved: Option<&[u32]>) -> bool {
    match set.ranges(last) {
        Some(r) => in_ranges(&r, n),
        None => saved.is_some_and(|s| s.binary_search(&n).is_ok()),
    }
}

impl Context<'_> {
    /// Whether message `t` matches `k`.
    pub fn matches(&self, k: &SearchKey, t: &mut Target<'_>) -> bool {
        use SearchKey::*;
        let internal = Date::from_unix(t.meta.internal_date, 0);
        match k {
            All => true,
            Answered => t.has_flag("\\Answered"),
            Deleted => t.has_flag("\\Deleted"),
            Draft => t.has_flag("\\Draft"),
            Flagged => t.has_flag("\\Flagged"),
            Seen => t.has_flag("\\Seen"),
            Unanswered => !t.has_flag("\\Answered"),
            Undeleted => !t.has_flag("\\Deleted"),
            Undraft => !t.has_flag("\\Draft"),
            Unflagged => !t.has_flag("\\Flagged"),
            Unseen => !t.has_flag("\\Seen"),
            // RFC 3501 §6.4.4: \Recent is the session's (session/recent.rs
            // adds it to the flags); NEW is RECENT UNSEEN, OLD NOT RECENT.
            Recent => t.has_flag("\\Recent"),
            New => t.has_flag("\\Recent") && !t.has_flag("\\Seen"),
            Old => !t.has_flag("\\Recent"),
            Keyword(kw) => t.has_flag(kw),
            Unkeyword(kw) => !t.has_flag(kw),
            Larger(n) => t.meta.size > *n,
            Smaller(n) => t.meta.size < *n,
            Before(d) => internal < *d,
            On(d) => internal == *d,
            Since(d) => internal >= *d,
            SentBefore(d) => t.sent_date().is_some_and(|s| s < *d),
            SentOn(d) => t.sent_date().is_some_and(|s| s == *d),
            SentSince(d) => t.sent_date().is_some_and(|s| s >= *d),
            SavedBefore(d) => t.meta.save_date.is_some_and(|s| Date::from_unix(s, 0) < *d),
            SavedOn(d) => t
                .meta
                .save_date
                .is_some_and(|s| Date::from_unix(s, 0) == *d),
            SavedSince(d) => t
                .meta
                .save_date
                .is_some_and(|s| Date::from_unix(s, 0) >= *d),
            SaveDateSupported => true,
            Older(secs) => {
                t.meta.internal_date <= self.now.saturating_sub(i64::try_from(*secs).unwrap_or(0))
            }
            Younger(secs) => {
                t.meta.internal_date >= self.now.saturating_sub(i64::try_from(*secs).unwrap_or(0))
            }
            ModSeq(n) => t.meta.modseq >= *n,
            Uid(set) => seq_in(set, t.meta.uid, self.last_uid, Some(self.saved)),
            Sequence(SequenceSet::Saved) => self.saved.binary_search(&t.meta.uid).is_ok(),
            Sequence(set) => seq_in(set, t.seq, self.count, None),
            Bcc(s) => t.address_contains(AddressField::Bcc, s),
            Cc(s) => t.address_contains(AddressField::Cc, s),
            From(s) => t.address_contains(AddressField::From, s),
            To(s) => t.address_contains(AddressField::To, s),
            Subject(s) => t.header_contains("subject", s),
            // RFC 9051 §6.4.4: an empty string matches every message
            // with the field.
            Header(name, s) => t.header_contains(name, s),
            Body(s) => !t.surely_lacks(s) && t.body_text().contains(&s.to_lowercase()),
            Text(s) => {
                if t.surely_lacks(s) {
                    return false;
                }
                let needle = s.to_lowercase();
                t.headers()
                    .iter()
                    .any(|(n, v)| n.contains(&needle) || v.to_lowercase().contains(&needle))
                    || t.body_text().contains(&needle)
            }
            Not(k) => !self.matches(k, t),
            Or(a, b) => self.matches(a, t) || self.matches(b, t),
            And(ks) => ks.iter().all(|k| self.matches(k, t)),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::imap::parsed::ParsedMessage;

    fn content(msg: &[u8]) -> MessageContent {
        MessageContent {
            bytes: Arc::from(msg),
            parsed: Arc::new(ParsedMessage::from_bytes(msg)),
        }
    }

    /// A mailbox of one message, UID 1, the time 0.
    const ONE_MESSAGE: Context<'static> = Context {
        count: 1,
        last_uid: 1,
        saved: &[],
        now: 0,
    };

    fn one_message_meta(size: u64) -> MessageMeta {
        MessageMeta {
            uid: 1,
            modseq: 1,
            flags: Vec::new(),
            size,
            internal_date: 0,
            save_date: None,
        }
    }

    #[test]
    fn keys_match() {
        let msg = b"From: =?utf-8?q?J=C3=B6rg?= <j@example.org>\r\nSubject: Hello World\r\nDate: Tue, 1 Feb 1994 21:52:25 -0800\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\nCaf=C3=A9 au lait\r\n";
        let c = content(msg);
        let meta = MessageMeta {
            uid: 5,
            modseq: 9,
            flags: vec!["\\Seen".into(), "custom".into()],
            size: msg.len() as u64,
            internal_date: 760_000_000,
            save_date: None,
        };
        let ctx = Context {
            count: 3,
            last_uid: 5,
            saved: &[5],
            now: 800_000_000,
        };
        let mut t = Target::new(3, &meta, Some(&c));
        let mut m = |k: SearchKey| ctx.matches(&k, &mut t);
        assert!(m(SearchKey::From("jörg".into())));
        assert!(m(SearchKey::Subject("hello".into())));
        assert!(!m(SearchKey::Subject("bye".into())));
        assert!(m(SearchKey::Body("CAFÉ".into())));
        assert!(m(SearchKey::Text("lait".into())));
        assert!(m(SearchKey::Header("date".into(), String::new())));
        assert!(!m(SearchKey::Header("x-missing".into(), String::new())));
        assert!(m(SearchKey::SentOn(Date::new(1994, 2, 1).unwrap())));
        assert!(m(SearchKey::Keyword("CUSTOM".into())));
        assert!(m(SearchKey::Not(Box::new(SearchKey::Unseen))));
        assert!(m(SearchKey::ModSeq(9)));
        assert!(!m(SearchKey::ModSeq(10)));
        assert!(m(SearchKey::Sequence(SequenceSet::Saved)));
        assert!(m(SearchKey::Older(1000)));
        assert!(!m(SearchKey::Younger(1000)));
        assert!(!needs_content(&SearchKey::Or(
            Box::new(SearchKey::Seen),
            Box::new(SearchKey::Larger(3))
        )));
    }

    #[test]
    fn plain_messages_are_ruled_out_without_decoding() {
        let plain = b"Subject: Lunch\r\nContent-Type: text/plain; charset=\"ISO-8859-1\"\r\n\r\nSoup at noon\r\n";
        assert!(plain_lacks(plain, "dinner"));
        assert!(!plain_lacks(plain, "NOON"), "present, any case");
        assert!(!plain_lacks(plain, "lunch"), "present in a header");
        assert!(!plain_lacks(plain, "soup at"), "a space: decode and look");
        assert!(!plain_lacks(plain, ""));
        // Anything that could decode into the needle: decode and look.
        let encoded: [&[u8]; 5] = [
            b"Subject: =?utf-8?q?dinner?=\r\n\r\nx\r\n",
            b"Content-Transfer-Encoding: base64\r\n\r\nZGlubmVy\r\n",
            b"Content-Transfer-Encoding: Quoted-Printable\r\n\r\ndin=6Eer\r\n",
            b"Content-Type: text/plain; charset=utf-7\r\n\r\n+AGQ-inner\r\n",
            b"Subject: caf\xc3\xa9\r\n\r\nx\r\n",
        ];
        for msg in encoded {
            assert!(
                !plain_lacks(msg, "dinner"),
                "{}",
                String::from_utf8_lossy(msg)
            );
        }
    }

    #[test]
    fn text_search_finds_words_only_decoding_shows() {
        let meta = one_message_meta(0);
        let ctx = ONE_MESSAGE;
        let b64 = content(b"Subject: x\r\nContent-Type: text/plain\r\nContent-Transfer-Encoding: base64\r\n\r\naGlkZGVuIHdvcmQ=\r\n");
        let plain = content(b"Subject: x\r\nContent-Type: text/plain\r\n\r\nvisible word\r\n");
        let matches =
            |c: &MessageContent, k: SearchKey| ctx.matches(&k, &mut Target::new(1, &meta, Some(c)));
        assert!(matches(&b64, SearchKey::Text("hidden".into())));
        assert!(matches(&b64, SearchKey::Body("HIDDEN".into())));
        assert!(!matches(&b64, SearchKey::Text("visible".into())));
        assert!(matches(&plain, SearchKey::Text("visible".into())));
        assert!(!matches(&plain, SearchKey::Body("hidden".into())));
    }

    #[test]
    fn addresses_match_without_comments() {
        // RFC 5322 §3.2.2: comments may sit between the parts of an
        // address; they are not part of it.
        let msg = b"From: <user-from (comment)@ (comment) domain.org>\r\n\
To: user-to@domain.org (RealTo), groupname: g1@domain.org;\r\n\
Cc: =?utf-8?q?J=C3=B6rg?= <j@example.org>\r\n\
Bcc: not an address list ;;\r\n\r\nbody\r\n";
        let c = content(msg);
        let meta = one_message_meta(msg.len() as u64);
        let ctx = ONE_MESSAGE;
        let mut t = Target::new(1, &meta, Some(&c));
        let mut m = |k: SearchKey| ctx.matches(&k, &mut t);
        assert!(m(SearchKey::From("user-from@domain.org".into())));
        assert!(m(SearchKey::From("USER-FROM@DOMAIN".into())));
        assert!(!m(SearchKey::From("comment".into())));
        assert!(m(SearchKey::To("realto <user-to@".into())));
        assert!(m(SearchKey::To("groupname".into())));
        assert!(m(SearchKey::To("g1@domain.org".into())));
        assert!(m(SearchKey::Cc("jörg <j@example.org>".into())));
        // A field that gives no address is searched as text.
        assert!(m(SearchKey::Bcc("not an address".into())));
        assert!(m(SearchKey::Bcc(String::new())));
        assert!(!m(SearchKey::To("nobody".into())));
    }
}
