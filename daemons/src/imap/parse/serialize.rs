//! A [`Command`] back in wire form, the inverse of [`super::parse_command`]:
//! used by the parser's round-trip property test and by test clients.
//! Strings that cannot be quoted become non-synchronizing literals, so the
//! output is one buffer the parser accepts as is.

use std::fmt::Write as _;

use base64::Engine as _;

use super::command::{AppendMessage, Command, CommandBody, SelectParams, StoreAction, StoreOp};
use super::fetch::{FetchAttr, Partial, Section, SectionText};
use super::flags::Flag;
use super::lexer::{is_astring_char, is_list_char};
use super::list::{ListCommand, StatusItem};
use super::mailbox::Mailbox;
use super::search::{SearchKey, SearchProgram, SearchReturn};
use super::sequence::{SeqNumber, SequenceSet};
use crate::imap::datetime::{Date, MONTHS};
use crate::imap::utf7;

struct Out {
    buf: Vec<u8>,
    utf8: bool,
}

impl Out {
    fn raw(&mut self, s: &str) {
        self.buf.extend_from_slice(s.as_bytes());
    }

    fn sp(&mut self) {
        self.buf.push(b' ');
    }

    fn string(&mut self, s: &[u8]) {
        let quotable = !s.iter().any(|b| matches!(b, b'\r' | b'\n' | 0))
            && (s.is_ascii() || std::str::from_utf8(s).is_ok());
        if quotable {
            self.buf.push(b'"');
            for &b in s {
                if b == b'"' || b == b'\\' {
                    self.buf.push(b'\\');
                }
                self.buf.push(b);
            }
            self.buf.push(b'"');
        } else {
            self.literal(s, false);
        }
    }

    fn literal(&mut self, s: &[u8], binary: bool) {
        if binary {
            self.buf.push(b'~');
        }
        self.raw(&format!("{{{}+}}\r\n", s.len()));
        self.buf.extend_from_slice(s);
    }

    fn astring(&mut self, s: &[u8]) {
        if !s.is_empty() && s.iter().all(|&b| is_astring_char(b)) && !s.eq_ignore_ascii_case(b"NIL")
        {
            self.buf.extend_from_slice(s);
        } else {
            self.string(s);
        }
    }

    fn encode_name(&self, name: &str) -> String {
        if self.utf8 {
            name.to_string()
        } else {
            utf7::encode(name)
        }
    }

    fn mailbox(&mut self, m: &Mailbox) {
        let n = self.encode_name(m.as_str());
        self.astring(n.as_bytes());
    }

    fn list_name(&mut self, name: &str) {
        let n = self.encode_name(name);
        if !n.is_empty() && n.bytes().all(is_list_char) {
            self.raw(&n);
        } else {
            self.string(n.as_bytes());
        }
    }

    fn list<T>(&mut self, items: &[T], mut f: impl FnMut(&mut Out, &T)) {
        self.buf.push(b'(');
        for (i, it) in items.iter().enumerate() {
            if i > 0 {
                self.sp();
            }
            f(self, it);
        }
        self.buf.push(b')');
    }

    fn flag(&mut self, f: &Flag) {
        self.raw(&f.as_wire());
    }

    fn seq(&mut self, s: &SequenceSet) {
        match s {
            SequenceSet::Saved => self.raw("$"),
            SequenceSet::Ranges(rs) => {
                let n = |x: SeqNumber| match x {
                    SeqNumber::Value(v) => v.to_string(),
                    SeqNumber::Last => "*".to_string(),
                };
                let parts: Vec<String> = rs
                    .iter()
                    .map(|r| {
                        if r.from == r.to {
                            n(r.from)
                        } else {
                            format!("{}:{}", n(r.from), n(r.to))
                        }
                    })
                    .collect();
                self.raw(&parts.join(","));
            }
        }
    }

    fn date(&mut self, d: Date) {
        let m = MONTHS[usize::from(d.month.clamp(1, 12) - 1)];
        self.raw(&format!("{}-{m}-{:04}", d.day, d.year));
    }
}

/// The wire form of `cmd`, ending in CRLF. `utf8`: encode mailbox names
/// as UTF-8 (after ENABLE UTF8=ACCEPT) instead of modified UTF-7.
pub fn to_wire(cmd: &Command, utf8: bool) -> Vec<u8> {
    let mut o = Out {
        buf: Vec::new(),
        utf8,
    };
    o.raw(&cmd.tag);
    o.sp();
    body(&mut o, &cmd.body);
    o.raw("\r\n");
    o.buf
}

fn body(o: &mut Out, b: &CommandBody) {
    use CommandBody as C;
    let name = b.name();
    o.raw(name);
    match b {
        C::Capability
        | C::Noop
        | C::Logout
        | C::StartTls
        | C::Namespace
        | C::Idle
        | C::Check
        | C::Close
        | C::Unselect
        | C::Expunge => {}
        C::Id(None) => o.raw(" NIL"),
        C::Id(Some(pairs)) => {
            o.sp();
            o.list(pairs, |o, (k, v)| {
                o.string(k.as_bytes());
                o.sp();
                match v {
                    Some(v) => o.string(v.as_bytes()),
                    None => o.raw("NIL"),
                }
            });
        }
        C::Authenticate { mechanism, initial } => {
            o.sp();
            o.raw(mechanism);
            if let Some(i) = initial {
                o.sp();
                if i.is_empty() {
                    o.raw("=");
                } else {
                    o.raw(&base64::engine::general_purpose::STANDARD.encode(i));
                }
            }
        }
        C::Login { user, password } => {
            o.sp();
            o.astring(user.as_bytes());
            o.sp();
            o.astring(password.as_bytes());
        }
        C::Enable(caps) => {
            for c in caps {
                o.sp();
                o.raw(c);
            }
        }
        C::Select { mailbox, params } | C::Examine { mailbox, params } => {
            o.sp();
            o.mailbox(mailbox);
            select_params(o, params);
        }
        C::Create {
            mailbox,
            special_use,
        } => {
            o.sp();
            o.mailbox(mailbox);
            if !special_use.is_empty() {
                o.raw(" (USE ");
                o.list(special_use, |o, u| o.raw(u.as_wire()));
                o.raw(")");
            }
        }
        C::Delete(m) | C::Subscribe(m) | C::Unsubscribe(m) | C::GetQuotaRoot(m) => {
            o.sp();
            o.mailbox(m);
        }
        C::Rename { from, to } => {
            o.sp();
            o.mailbox(from);
            o.sp();
            o.mailbox(to);
        }
        C::List(l) => list(o, l),
        C::Lsub { reference, pattern } => {
            o.sp();
            o.list_name(reference);
            o.sp();
            o.list_name(pattern);
        }
        C::Status { mailbox, items } => {
            o.sp();
            o.mailbox(mailbox);
            o.sp();
            o.list(items, |o, i| o.raw(i.name()));
        }
        C::Append { mailbox, messages } => {
            o.sp();
            o.mailbox(mailbox);
            for m in messages {
                append_message(o, m);
            }
        }
        C::GetQuota(root) => {
            o.sp();
            o.astring(root.as_bytes());
        }
        C::SetQuota { root, limits } => {
            o.sp();
            o.astring(root.as_bytes());
            o.sp();
            o.list(limits, |o, (r, n)| o.raw(&format!("{r} {n}")));
        }
        C::Compress(mech) => {
            o.sp();
            o.raw(mech);
        }
        C::UidExpunge(set) => {
            o.sp();
            o.seq(set);
        }
        C::Search { program, .. } => {
            o.sp();
            search_program(o, program);
        }
        C::Fetch {
            set,
            attrs,
            modifiers,
            ..
        } => {
            o.sp();
            o.seq(set);
            o.sp();
            o.list(attrs, fetch_attr);
            if modifiers.changed_since.is_some() || modifiers.vanished {
                let mut m = Vec::new();
                if let Some(c) = modifiers.changed_since {
                    m.push(format!("CHANGEDSINCE {c}"));
                }
                if modifiers.vanished {
                    m.push("VANISHED".to_string());
                }
                o.raw(&format!(" ({})", m.join(" ")));
            }
        }
        C::Store { set, action, .. } => {
            o.sp();
            o.seq(set);
            o.sp();
            store_action(o, action);
        }
        C::Copy { set, mailbox, .. } | C::Move { set, mailbox, .. } => {
            o.sp();
            o.seq(set);
            o.sp();
            o.mailbox(mailbox);
        }
        C::Sort {
            criteria,
            charset,
            key,
            ..
        } => {
            o.sp();
            o.list(criteria, |o, c| {
                if c.reverse {
                    o.raw("REVERSE ");
                }
                o.raw(c.key.name());
            });
            o.sp();
            o.astring(charset.as_bytes());
            o.sp();
            top_keys(o, key);
        }
        C::Thread {
            algorithm,
            charset,
            key,
            ..
        } => {
            o.sp();
            o.raw(algorithm.name());
            o.sp();
            o.astring(charset.as_bytes());
            o.sp();
            top_keys(o, key);
        }
    }
}

fn select_params(o: &mut Out, p: &SelectParams) {
    let mut items: Vec<Vec<u8>> = Vec::new();
    if p.condstore {
        items.push(b"CONDSTORE".to_vec());
    }
    if let Some(q) = &p.qresync {
        let mut sub = Out {
            buf: Vec::new(),
            utf8: o.utf8,
        };
        sub.raw(&format!("QRESYNC ({} {}", q.uidvalidity, q.modseq));
        if let Some(k) = &q.known_uids {
            sub.sp();
            sub.seq(k);
        }
        if let Some((s, u)) = &q.seq_match {
            sub.raw(" (");
            sub.seq(s);
            sub.sp();
            sub.seq(u);
            sub.raw(")");
        }
        sub.raw(")");
        items.push(sub.buf);
    }
    if !items.is_empty() {
        o.raw(" (");
        o.buf.extend_from_slice(&items.join(&b' '));
        o.raw(")");
    }
}

fn list(o: &mut Out, l: &ListCommand) {
    o.sp();
    let s = &l.select;
    let mut sel = Vec::new();
    for (on, name) in [
        (s.subscribed, "SUBSCRIBED"),
        (s.remote, "REMOTE"),
        (s.recursive_match, "RECURSIVEMATCH"),
        (s.special_use, "SPECIAL-USE"),
    ] {
        if on {
            sel.push(name);
        }
    }
    if l.extended {
        o.raw(&format!("({}) ", sel.join(" ")));
    }
    o.list_name(&l.reference);
    o.sp();
    if l.extended {
        o.list(&l.patterns, |o, p| o.list_name(p));
    } else if let Some(p) = l.patterns.first() {
        o.list_name(p);
    }
    let r = &l.returns;
    let mut ret: Vec<String> = Vec::new();
    for (on, name) in [
        (r.subscribed, "SUBSCRIBED"),
        (r.children, "CHILDREN"),
        (r.special_use, "SPECIAL-USE"),
    ] {
        if on {
            ret.push(name.to_string());
        }
    }
    if let Some(items) = &r.status {
        let names: Vec<&str> = items.iter().map(|i: &StatusItem| i.name()).collect();
        ret.push(format!("STATUS ({})", names.join(" ")));
    }
    if l.extended {
        o.raw(&format!(" RETURN ({})", ret.join(" ")));
    }
}

fn append_message(o: &mut Out, m: &AppendMessage) {
    o.sp();
    if !m.flags.is_empty() {
        o.list(&m.flags, |o, f| o.flag(f));
        o.sp();
    }
    if let Some(d) = m.date {
        let local = d.unix + i64::from(d.offset_minutes) * 60;
        let day = Date::from_unix(local, 0);
        let secs = local.rem_euclid(86_400);
        let off = d.offset_minutes;
        let sign = if off < 0 { '-' } else { '+' };
        o.raw(&format!(
            "\"{:02}-{}-{:04} {:02}:{:02}:{:02} {sign}{:02}{:02}\" ",
            day.day,
            MONTHS[usize::from(day.month.clamp(1, 12) - 1)],
            day.year,
            secs / 3600,
            secs % 3600 / 60,
            secs % 60,
            off.abs() / 60,
            off.abs() % 60
        ));
    }
    o.literal(&m.data, m.binary);
}

fn search_program(o: &mut Out, p: &SearchProgram) {
    if let Some(r) = &p.returns {
        o.raw("RETURN ");
        o.list(r, |o, r| {
            o.raw(match r {
                SearchReturn::Min => "MIN",
                SearchReturn::Max => "MAX",
                SearchReturn::All => "ALL",
                SearchReturn::Count => "COUNT",
                SearchReturn::Save => "SAVE",
            })
        });
        o.sp();
    }
    if let Some(cs) = &p.charset {
        o.raw("CHARSET ");
        o.astring(cs.as_bytes());
        o.sp();
    }
    top_keys(o, &p.key);
}

/// The top-level keys: an AND of several is written without parentheses.
fn top_keys(o: &mut Out, k: &SearchKey) {
    match k {
        SearchKey::And(keys) if keys.len() > 1 => {
            for (i, k) in keys.iter().enumerate() {
                if i > 0 {
                    o.sp();
                }
                search_key(o, k);
            }
        }
        k => search_key(o, k),
    }
}

fn search_key(o: &mut Out, k: &SearchKey) {
    use SearchKey as K;
    let s = |o: &mut Out, name: &str, v: &str| {
        o.raw(name);
        o.sp();
        o.astring(v.as_bytes());
    };
    let d = |o: &mut Out, name: &str, v: Date| {
        o.raw(name);
        o.sp();
        o.date(v);
    };
    match k {
        K::All => o.raw("ALL"),
        K::Answered => o.raw("ANSWERED"),
        K::Bcc(v) => s(o, "BCC", v),
        K::Before(v) => d(o, "BEFORE", *v),
        K::Body(v) => s(o, "BODY", v),
        K::Cc(v) => s(o, "CC", v),
        K::Deleted => o.raw("DELETED"),
        K::Draft => o.raw("DRAFT"),
        K::Flagged => o.raw("FLAGGED"),
        K::From(v) => s(o, "FROM", v),
        K::Header(n, v) => {
            o.raw("HEADER ");
            o.astring(n.as_bytes());
            o.sp();
            o.astring(v.as_bytes());
        }
        K::Keyword(v) => o.raw(&format!("KEYWORD {v}")),
        K::Larger(n) => o.raw(&format!("LARGER {n}")),
        K::New => o.raw("NEW"),
        K::Not(k) => {
            o.raw("NOT ");
            search_key(o, k);
        }
        K::Old => o.raw("OLD"),
        K::On(v) => d(o, "ON", *v),
        K::Or(a, b) => {
            o.raw("OR ");
            search_key(o, a);
            o.sp();
            search_key(o, b);
        }
        K::Recent => o.raw("RECENT"),
        K::Seen => o.raw("SEEN"),
        K::SentBefore(v) => d(o, "SENTBEFORE", *v),
        K::SentOn(v) => d(o, "SENTON", *v),
        K::SentSince(v) => d(o, "SENTSINCE", *v),
        K::Since(v) => d(o, "SINCE", *v),
        K::Smaller(n) => o.raw(&format!("SMALLER {n}")),
        K::Subject(v) => s(o, "SUBJECT", v),
        K::Text(v) => s(o, "TEXT", v),
        K::To(v) => s(o, "TO", v),
        K::Uid(set) => {
            o.raw("UID ");
            o.seq(set);
        }
        K::Unanswered => o.raw("UNANSWERED"),
        K::Undeleted => o.raw("UNDELETED"),
        K::Undraft => o.raw("UNDRAFT"),
        K::Unflagged => o.raw("UNFLAGGED"),
        K::Unkeyword(v) => o.raw(&format!("UNKEYWORD {v}")),
        K::Unseen => o.raw("UNSEEN"),
        K::Sequence(set) => o.seq(set),
        K::And(keys) => o.list(keys, search_key),
        K::ModSeq(n) => o.raw(&format!("MODSEQ {n}")),
        K::Older(n) => o.raw(&format!("OLDER {n}")),
        K::Younger(n) => o.raw(&format!("YOUNGER {n}")),
        K::SavedBefore(v) => d(o, "SAVEDBEFORE", *v),
        K::SavedOn(v) => d(o, "SAVEDON", *v),
        K::SavedSince(v) => d(o, "SAVEDSINCE", *v),
        K::SaveDateSupported => o.raw("SAVEDATESUPPORTED"),
    }
}

fn part_numbers(part: &[u32]) -> String {
    part.iter()
        .map(u32::to_string)
        .collect::<Vec<_>>()
        .join(".")
}

fn section(o: &mut Out, s: &Section) {
    let mut t = part_numbers(&s.part);
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
    o.raw(&format!("[{t}]"));
}

fn partial(o: &mut Out, p: &Option<Partial>) {
    if let Some(p) = p {
        o.raw(&format!("<{}.{}>", p.offset, p.length));
    }
}

fn fetch_attr(o: &mut Out, a: &FetchAttr) {
    use FetchAttr as A;
    match a {
        A::Envelope => o.raw("ENVELOPE"),
        A::Flags => o.raw("FLAGS"),
        A::InternalDate => o.raw("INTERNALDATE"),
        A::Rfc822 => o.raw("RFC822"),
        A::Rfc822Header => o.raw("RFC822.HEADER"),
        A::Rfc822Size => o.raw("RFC822.SIZE"),
        A::Rfc822Text => o.raw("RFC822.TEXT"),
        A::Body => o.raw("BODY"),
        A::BodyStructure => o.raw("BODYSTRUCTURE"),
        A::Uid => o.raw("UID"),
        A::ModSeq => o.raw("MODSEQ"),
        A::SaveDate => o.raw("SAVEDATE"),
        A::Preview { lazy } => o.raw(if *lazy { "PREVIEW (LAZY)" } else { "PREVIEW" }),
        A::BodySection {
            peek,
            section: s,
            partial: p,
        } => {
            o.raw(if *peek { "BODY.PEEK" } else { "BODY" });
            section(o, s);
            partial(o, p);
        }
        A::Binary {
            peek,
            part,
            partial: p,
        } => {
            o.raw(if *peek { "BINARY.PEEK" } else { "BINARY" });
            o.raw(&format!("[{}]", part_numbers(part)));
            partial(o, p);
        }
        A::BinarySize { part } => o.raw(&format!("BINARY.SIZE[{}]", part_numbers(part))),
    }
}

fn store_action(o: &mut Out, a: &StoreAction) {
    if let Some(u) = a.unchanged_since {
        o.raw(&format!("(UNCHANGEDSINCE {u}) "));
    }
    o.raw(match a.op {
        StoreOp::Replace => "",
        StoreOp::Add => "+",
        StoreOp::Remove => "-",
    });
    o.raw(if a.silent { "FLAGS.SILENT " } else { "FLAGS " });
    o.list(&a.flags, |o, f| o.flag(f));
}

/// Formats `cmd` for logs: literals are shown by size only.
pub fn describe(cmd: &Command) -> String {
    let mut s = String::new();
    let _ = write!(s, "{} {}", cmd.tag, cmd.body.name());
    s
}
