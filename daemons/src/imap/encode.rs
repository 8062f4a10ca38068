//! Responses to octets (RFC 9051 §7, §9 `response`). The only place with
//! wire spellings of responses. Strings are quoted when they can be and
//! literals otherwise; mailbox names are modified UTF-7 unless the client
//! enabled UTF-8 (RFC 6855 §3); 8-bit text in ENVELOPE fields becomes RFC
//! 2047 encoded words for such clients.

use std::fmt::Write as _;

use base64::Engine as _;

use crate::imap::datetime::format_internal_date;
use crate::imap::parse::{Section, SectionText};
use crate::imap::parsed::{Address, Envelope, ParsedMessage, PartKind};
use crate::imap::response::{
    Code, Data, EsearchItem, FetchItem, ListEntry, NumSet, Response, Rfc822Part, Status, ThreadNode,
};
use crate::imap::utf7;

/// Longest string sent quoted; longer ones go as literals.
const MAX_QUOTED: usize = 1024;

/// How the session's client reads strings.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Encoder {
    /// UTF8=ACCEPT or IMAP4rev2 enabled.
    pub utf8: bool,
}

impl Encoder {
    /// Appends the wire form of `r` to `out`.
    pub fn encode(&self, r: &Response, out: &mut Vec<u8>) {
        let mut w = Writer {
            out,
            utf8: self.utf8,
        };
        match r {
            Response::Status {
                tag,
                status,
                code,
                text,
            } => w.status(tag.as_deref(), *status, code.as_ref(), text),
            Response::Data(d) => {
                w.raw("* ");
                w.data(d);
            }
            Response::Continue(text) => {
                w.raw("+ ");
                w.text(text);
            }
            Response::Challenge(c) => {
                w.raw("+ ");
                w.raw(&base64::engine::general_purpose::STANDARD.encode(c));
            }
        }
        w.raw("\r\n");
    }

    /// The wire form of one response.
    pub fn to_vec(&self, r: &Response) -> Vec<u8> {
        let mut v = Vec::new();
        self.encode(r, &mut v);
        v
    }

    /// A mailbox name as sent in responses (without quoting).
    pub fn mailbox_name(&self, name: &str) -> String {
        if self.utf8 {
            name.to_string()
        } else {
            utf7::encode(name)
        }
    }
}

struct Writer<'a> {
    out: &'a mut Vec<u8>,
    utf8: bool,
}

impl Writer<'_> {
    fn raw(&mut self, s: &str) {
        self.out.extend_from_slice(s.as_bytes());
    }

    fn sp(&mut self) {
        self.out.push(b' ');
    }

    fn num(&mut self, n: impl std::fmt::Display) {
        let _ = write!(RawOut(self.out), "{n}");
    }

    /// RFC 9051 §9 `text`: no CR or LF, not empty; 8-bit only for UTF-8
    /// clients.
    fn text(&mut self, t: &str) {
        let mut s: String = t
            .chars()
            .map(|c| match c {
                '\r' | '\n' | '\0' => ' ',
                c if !self.utf8 && !c.is_ascii() => '?',
                c => c,
            })
            .collect();
        if s.trim().is_empty() {
            s = "done".to_string();
        }
        self.raw(&s);
    }

    fn quotable(&self, s: &[u8]) -> bool {
        s.len() <= MAX_QUOTED
            && !s.iter().any(|b| matches!(b, b'\r' | b'\n' | 0))
            && (s.is_ascii() || (self.utf8 && std::str::from_utf8(s).is_ok()))
    }

    fn quoted(&mut self, s: &[u8]) {
        self.out.push(b'"');
        for &b in s {
            if b == b'"' || b == b'\\' {
                self.out.push(b'\\');
            }
            self.out.push(b);
        }
        self.out.push(b'"');
    }

    fn literal(&mut self, s: &[u8]) {
        let binary = s.contains(&0);
        if binary {
            self.out.push(b'~');
        }
        self.raw(&format!("{{{}}}\r\n", s.len()));
        self.out.extend_from_slice(s);
    }

    /// RFC 9051 §9 `string`.
    fn string(&mut self, s: &[u8]) {
        if self.quotable(s) {
            self.quoted(s);
        } else {
            self.literal(s);
        }
    }

    /// A header-derived text field: 8-bit becomes an RFC 2047 encoded
    /// word for clients without UTF-8.
    fn text_field(&mut self, s: Option<&str>) {
        match s {
            None => self.raw("NIL"),
            Some(s) if self.utf8 || s.is_ascii() => self.string(s.as_bytes()),
            Some(s) => {
                let enc = format!(
                    "=?utf-8?b?{}?=",
                    base64::engine::general_purpose::STANDARD.encode(s)
                );
                self.string(enc.as_bytes());
            }
        }
    }

    fn mailbox(&mut self, name: &str) {
        let n = if self.utf8 {
            name.to_string()
        } else {
            utf7::encode(name)
        };
        self.string(n.as_bytes());
    }

    fn list_of<T>(&mut self, items: &[T], mut f: impl FnMut(&mut Self, &T)) {
        self.out.push(b'(');
        for (i, it) in items.iter().enumerate() {
            if i > 0 {
                self.sp();
            }
            f(self, it);
        }
        self.out.push(b')');
    }

    fn flags(&mut self, flags: &[String]) {
        self.list_of(flags, |w, f| w.raw(f));
    }

    fn numset(&mut self, s: &NumSet) {
        self.raw(&numset(&s.0));
    }

    fn status(&mut self, tag: Option<&str>, status: Status, code: Option<&Code>, text: &str) {
        self.raw(tag.unwrap_or("*"));
        self.raw(match status {
            Status::Ok => " OK ",
            Status::No => " NO ",
            Status::Bad => " BAD ",
            Status::PreAuth => " PREAUTH ",
            Status::Bye => " BYE ",
        });
        if let Some(c) = code {
            self.out.push(b'[');
            self.code(c);
            self.raw("] ");
        }
        self.text(text);
    }

    fn code(&mut self, c: &Code) {
        use Code::*;
        match c {
            Alert => self.raw("ALERT"),
            BadCharset(cs) => {
                self.raw("BADCHARSET");
                if !cs.is_empty() {
                    self.sp();
                    self.list_of(cs, |w, c| w.string(c.as_bytes()));
                }
            }
            Capability(caps) => {
                self.raw("CAPABILITY");
                for c in caps {
                    self.sp();
                    self.raw(&c.to_string());
                }
            }
            Parse => self.raw("PARSE"),
            PermanentFlags(f) => {
                self.raw("PERMANENTFLAGS ");
                self.flags(f);
            }
            ReadOnly => self.raw("READ-ONLY"),
            ReadWrite => self.raw("READ-WRITE"),
            TryCreate => self.raw("TRYCREATE"),
            UidNext(n) => {
                self.raw("UIDNEXT ");
                self.num(n);
            }
            UidValidity(n) => {
                self.raw("UIDVALIDITY ");
                self.num(n);
            }
            Unseen(n) => {
                self.raw("UNSEEN ");
                self.num(n);
            }
            AppendUid { uidvalidity, uids } => {
                self.raw("APPENDUID ");
                self.num(uidvalidity);
                self.sp();
                self.numset(uids);
            }
            CopyUid {
                uidvalidity,
                source,
                dest,
            } => {
                self.raw("COPYUID ");
                self.num(uidvalidity);
                self.sp();
                // RFC 4315 §3: the order of the sets pairs source with
                // destination; both are written in the same order.
                self.raw(&ordered(&source.0));
                self.sp();
                self.raw(&ordered(&dest.0));
            }
            HighestModSeq(n) => {
                self.raw("HIGHESTMODSEQ ");
                self.num(n);
            }
            NoModSeq => self.raw("NOMODSEQ"),
            Modified(s) => {
                self.raw("MODIFIED ");
                self.numset(s);
            }
            Closed => self.raw("CLOSED"),
            TooBig => self.raw("TOOBIG"),
            AlreadyExists => self.raw("ALREADYEXISTS"),
            NonExistent => self.raw("NONEXISTENT"),
            Cannot => self.raw("CANNOT"),
            Limit => self.raw("LIMIT"),
            OverQuota => self.raw("OVERQUOTA"),
            ServerBug => self.raw("SERVERBUG"),
            Unavailable => self.raw("UNAVAILABLE"),
            AuthenticationFailed => self.raw("AUTHENTICATIONFAILED"),
            AuthorizationFailed => self.raw("AUTHORIZATIONFAILED"),
            PrivacyRequired => self.raw("PRIVACYREQUIRED"),
            ContactAdmin => self.raw("CONTACTADMIN"),
            NoPerm => self.raw("NOPERM"),
            InUse => self.raw("INUSE"),
            ExpungeIssued => self.raw("EXPUNGEISSUED"),
            ClientBug => self.raw("CLIENTBUG"),
            UnknownCte => self.raw("UNKNOWN-CTE"),
            CompressionActive => self.raw("COMPRESSIONACTIVE"),
            UseAttr => self.raw("USEATTR"),
            NotSaved => self.raw("NOTSAVED"),
            HasChildren => self.raw("HASCHILDREN"),
        }
    }

    fn data(&mut self, d: &Data) {
        match d {
            Data::Capability(caps) => {
                self.raw("CAPABILITY");
                for c in caps {
                    self.sp();
                    self.raw(&c.to_string());
                }
            }
            Data::Enabled(caps) => {
                self.raw("ENABLED");
                for c in caps {
                    self.sp();
                    self.raw(c);
                }
            }
            Data::Flags(f) => {
                self.raw("FLAGS ");
                self.flags(f);
            }
            Data::Exists(n) => {
                self.num(n);
                self.raw(" EXISTS");
            }
            Data::Recent(n) => {
                self.num(n);
                self.raw(" RECENT");
            }
            Data::Expunge(n) => {
                self.num(n);
                self.raw(" EXPUNGE");
            }
            Data::Vanished { earlier, uids } => {
                self.raw(if *earlier {
                    "VANISHED (EARLIER) "
                } else {
                    "VANISHED "
                });
                self.numset(uids);
            }
            Data::Fetch { seq, items } => {
                self.num(seq);
                self.raw(" FETCH ");
                self.list_of(items, |w, i| w.fetch_item(i));
            }
            Data::List(e) => {
                self.raw("LIST ");
                self.list_entry(e);
            }
            Data::Lsub(e) => {
                self.raw("LSUB ");
                self.list_entry(e);
            }
            Data::Status { mailbox, items } => {
                self.raw("STATUS ");
                self.mailbox(mailbox);
                self.sp();
                self.list_of(items, |w, (i, n)| {
                    w.raw(i.name());
                    w.sp();
                    w.num(n);
                });
            }
            Data::Search { nums, modseq } => {
                self.raw("SEARCH");
                for n in nums {
                    self.sp();
                    self.num(n);
                }
                if let Some(m) = modseq {
                    self.raw(" (MODSEQ ");
                    self.num(m);
                    self.raw(")");
                }
            }
            Data::Esearch { tag, uid, items } => {
                self.raw("ESEARCH");
                if let Some(t) = tag {
                    self.raw(" (TAG ");
                    self.string(t.as_bytes());
                    self.raw(")");
                }
                if *uid {
                    self.raw(" UID");
                }
                for i in items {
                    self.sp();
                    match i {
                        EsearchItem::Min(n) => {
                            self.raw("MIN ");
                            self.num(n);
                        }
                        EsearchItem::Max(n) => {
                            self.raw("MAX ");
                            self.num(n);
                        }
                        EsearchItem::Count(n) => {
                            self.raw("COUNT ");
                            self.num(n);
                        }
                        EsearchItem::All(s) => {
                            self.raw("ALL ");
                            self.numset(s);
                        }
                        EsearchItem::ModSeq(n) => {
                            self.raw("MODSEQ ");
                            self.num(n);
                        }
                    }
                }
            }
            Data::Sort { nums } => {
                self.raw("SORT");
                for n in nums {
                    self.sp();
                    self.num(n);
                }
            }
            Data::Thread(roots) => {
                self.raw("THREAD");
                if !roots.is_empty() {
                    self.sp();
                }
                for r in roots {
                    self.out.push(b'(');
                    self.thread_members(r);
                    self.out.push(b')');
                }
            }
            Data::Namespace => self.raw("NAMESPACE ((\"\" \"/\")) NIL NIL"),
            Data::Id(pairs) => {
                self.raw("ID ");
                if pairs.is_empty() {
                    self.raw("NIL");
                } else {
                    self.list_of(pairs, |w, (k, v)| {
                        w.string(k.as_bytes());
                        w.sp();
                        w.string(v.as_bytes());
                    });
                }
            }
            Data::Quota { root, resources } => {
                self.raw("QUOTA ");
                self.string(root.as_bytes());
                self.sp();
                self.list_of(resources, |w, (name, usage, limit)| {
                    w.raw(name);
                    w.sp();
                    w.num(usage);
                    w.sp();
                    w.num(limit);
                });
            }
            Data::QuotaRoot { mailbox, roots } => {
                self.raw("QUOTAROOT ");
                self.mailbox(mailbox);
                for r in roots {
                    self.sp();
                    self.string(r.as_bytes());
                }
            }
        }
    }

    fn list_entry(&mut self, e: &ListEntry) {
        self.list_of(&e.attrs, |w, a| w.raw(a));
        self.raw(" \"/\" ");
        self.mailbox(&e.name);
        let mut ext: Vec<Vec<u8>> = Vec::new();
        if e.childinfo_subscribed {
            ext.push(b"\"CHILDINFO\" (\"SUBSCRIBED\")".to_vec());
        }
        if let Some(old) = &e.old_name {
            let mut v = Vec::new();
            let mut w = Writer {
                out: &mut v,
                utf8: self.utf8,
            };
            w.raw("\"OLDNAME\" (");
            w.mailbox(old);
            w.raw(")");
            ext.push(v);
        }
        if !ext.is_empty() {
            self.raw(" (");
            self.out.extend_from_slice(&ext.join(&b' '));
            self.raw(")");
        }
    }

    /// RFC 5256 §4 `thread-members` / `thread-nested`; chains of single
    /// replies are written in a loop, not by recursion.
    fn thread_members(&mut self, node: &ThreadNode) {
        let mut cur = node;
        loop {
            if let Some(id) = cur.id {
                self.num(id);
            }
            match cur.children.as_slice() {
                [] => break,
                [only] if cur.id.is_some() => {
                    self.sp();
                    cur = only;
                }
                children => {
                    if cur.id.is_some() {
                        self.sp();
                    }
                    for c in children {
                        self.out.push(b'(');
                        self.thread_members(c);
                        self.out.push(b')');
                    }
                    break;
                }
            }
        }
    }

    fn fetch_item(&mut self, i: &FetchItem) {
        match i {
            FetchItem::Uid(u) => {
                self.raw("UID ");
                self.num(u);
            }
            FetchItem::Flags(f) => {
                self.raw("FLAGS ");
                self.flags(f);
            }
            FetchItem::ModSeq(m) => {
                self.raw("MODSEQ (");
                self.num(m);
                self.raw(")");
            }
            FetchItem::InternalDate(t) => {
                self.raw("INTERNALDATE \"");
                self.raw(&format_internal_date(*t));
                self.raw("\"");
            }
            FetchItem::Rfc822Size(n) => {
                self.raw("RFC822.SIZE ");
                self.num(n);
            }
            FetchItem::Envelope(e) => {
                self.raw("ENVELOPE ");
                self.envelope(e);
            }
            FetchItem::Structure { parsed, extensible } => {
                self.raw(if *extensible {
                    "BODYSTRUCTURE "
                } else {
                    "BODY "
                });
                self.body(parsed, 0, *extensible);
            }
            FetchItem::Section {
                section,
                origin,
                data,
            } => {
                self.raw("BODY");
                self.section_label(section);
                if let Some(o) = origin {
                    self.raw(&format!("<{o}>"));
                }
                self.sp();
                match data {
                    Some(d) => self.literal(d),
                    None => self.raw("NIL"),
                }
            }
            FetchItem::Rfc822 { which, data } => {
                self.raw(match which {
                    Rfc822Part::Whole => "RFC822 ",
                    Rfc822Part::Header => "RFC822.HEADER ",
                    Rfc822Part::Text => "RFC822.TEXT ",
                });
                self.literal(data);
            }
            FetchItem::Binary { part, origin, data } => {
                self.raw(&format!("BINARY[{}]", dotted(part)));
                if let Some(o) = origin {
                    self.raw(&format!("<{o}>"));
                }
                self.sp();
                match data {
                    Some(d) => self.literal(d),
                    None => self.raw("NIL"),
                }
            }
            FetchItem::BinarySize { part, size } => {
                self.raw(&format!("BINARY.SIZE[{}] ", dotted(part)));
                self.num(size);
            }
            FetchItem::Preview(p) => {
                self.raw("PREVIEW ");
                match p {
                    Some(p) if self.utf8 || p.is_ascii() => self.string(p.as_bytes()),
                    // RFC 8970 §3: 8-bit previews for other clients are
                    // sent as literals (CHAR8).
                    Some(p) => self.literal(p.as_bytes()),
                    None => self.raw("NIL"),
                }
            }
            FetchItem::SaveDate(d) => {
                self.raw("SAVEDATE ");
                match d {
                    Some(t) => {
                        self.raw("\"");
                        self.raw(&format_internal_date(*t));
                        self.raw("\"");
                    }
                    None => self.raw("NIL"),
                }
            }
        }
    }

    fn section_label(&mut self, s: &Section) {
        let mut t = dotted(&s.part);
        if let Some(text) = &s.text {
            if !t.is_empty() {
                t.push('.');
            }
            match text {
                SectionText::Header => t.push_str("HEADER"),
                SectionText::Text => t.push_str("TEXT"),
                SectionText::Mime => t.push_str("MIME"),
                SectionText::HeaderFields { not, fields } => {
                    t.push_str(if *not {
                        "HEADER.FIELDS.NOT ("
                    } else {
                        "HEADER.FIELDS ("
                    });
                    t.push_str(&fields.join(" "));
                    t.push(')');
                }
            }
        }
        self.raw(&format!("[{t}]"));
    }

    fn addresses(&mut self, a: &[Address]) {
        if a.is_empty() {
            self.raw("NIL");
            return;
        }
        self.out.push(b'(');
        for addr in a {
            self.out.push(b'(');
            self.text_field(addr.name.as_deref());
            self.sp();
            // RFC 9051 §7.5.2: the obsolete source route goes in addr-adl.
            self.text_field(addr.adl());
            self.sp();
            self.text_field(addr.local_part());
            self.sp();
            self.text_field(addr.host.as_deref());
            self.out.push(b')');
        }
        self.out.push(b')');
    }

    /// RFC 9051 §9 `envelope`.
    fn envelope(&mut self, e: &Envelope) {
        self.out.push(b'(');
        self.text_field(e.date.as_deref());
        self.sp();
        self.text_field(e.subject.as_deref());
        for list in [&e.from, &e.sender, &e.reply_to, &e.to, &e.cc, &e.bcc] {
            self.sp();
            self.addresses(list);
        }
        self.sp();
        self.text_field(e.in_reply_to.as_deref());
        self.sp();
        self.text_field(e.message_id.as_deref());
        self.out.push(b')');
    }

    fn params(&mut self, p: &[(String, String)]) {
        if p.is_empty() {
            self.raw("NIL");
            return;
        }
        self.out.push(b'(');
        for (i, (k, v)) in p.iter().enumerate() {
            if i > 0 {
                self.sp();
            }
            self.string(k.as_bytes());
            self.sp();
            self.text_field(Some(v));
        }
        self.out.push(b')');
    }

    /// `body-fld-dsp SP body-fld-lang SP body-fld-loc`.
    fn body_ext_common(&mut self, p: &crate::imap::parsed::Part) {
        match &p.disposition {
            Some((d, params)) => {
                self.out.push(b'(');
                self.string(d.as_bytes());
                self.sp();
                self.params(params);
                self.out.push(b')');
            }
            None => self.raw("NIL"),
        }
        self.sp();
        if p.language.is_empty() {
            self.raw("NIL");
        } else {
            self.list_of(&p.language, |w, l| w.string(l.as_bytes()));
        }
        self.sp();
        self.text_field(p.location.as_deref());
    }

    /// RFC 9051 §9 `body`; recursion is bounded by the walker's depth limit.
    fn body(&mut self, pm: &ParsedMessage, idx: u32, ext: bool) {
        let Some(p) = pm.part(idx) else {
            self.raw("(\"TEXT\" \"PLAIN\" NIL NIL NIL \"7BIT\" 0 0)");
            return;
        };
        self.out.push(b'(');
        if let PartKind::Multipart { children } = &p.kind {
            for &c in children {
                self.body(pm, c, ext);
            }
            self.sp();
            self.string(p.media_subtype.to_ascii_uppercase().as_bytes());
            if ext {
                self.sp();
                self.params(&p.params);
                self.sp();
                self.body_ext_common(p);
            }
            self.out.push(b')');
            return;
        }
        self.string(p.media_type.to_ascii_uppercase().as_bytes());
        self.sp();
        self.string(p.media_subtype.to_ascii_uppercase().as_bytes());
        self.sp();
        self.params(&p.params);
        self.sp();
        self.text_field(p.id.as_deref());
        self.sp();
        self.text_field(p.description.as_deref());
        self.sp();
        self.string(p.encoding.as_deref().unwrap_or("7BIT").as_bytes());
        self.sp();
        self.num(p.body.len());
        match &p.kind {
            PartKind::Message { envelope, message } => {
                self.sp();
                self.envelope(envelope);
                self.sp();
                self.body(pm, *message, ext);
                self.sp();
                self.num(p.lines);
            }
            _ if p.media_type == "text" => {
                self.sp();
                self.num(p.lines);
            }
            _ => {}
        }
        if ext {
            self.sp();
            self.text_field(p.md5.as_deref());
            self.sp();
            self.body_ext_common(p);
        }
        self.out.push(b')');
    }
}

struct RawOut<'a>(&'a mut Vec<u8>);

impl std::fmt::Write for RawOut<'_> {
    fn write_str(&mut self, s: &str) -> std::fmt::Result {
        self.0.extend_from_slice(s.as_bytes());
        Ok(())
    }
}

fn dotted(part: &[u32]) -> String {
    part.iter()
        .map(u32::to_string)
        .collect::<Vec<_>>()
        .join(".")
}

/// Numbers as an ascending, compacted `uid-set` (`1:3,7`).
pub fn numset(nums: &[u32]) -> String {
    let mut v = nums.to_vec();
    v.sort_unstable();
    v.dedup();
    ordered(&v)
}

/// Numbers in the given order, consecutive runs compacted.
fn ordered(nums: &[u32]) -> String {
    let mut out = String::new();
    let mut i = 0;
    while i < nums.len() {
        let start = nums[i];
        let mut end = start;
        while i + 1 < nums.len() && end.checked_add(1) == Some(nums[i + 1]) {
            i += 1;
            end = nums[i];
        }
        if !out.is_empty() {
            out.push(',');
        }
        if start == end {
            let _ = write!(out, "{start}");
        } else {
            let _ = write!(out, "{start}:{end}");
        }
        i += 1;
    }
    out
}

#[cfg(test)]
mod tests;
