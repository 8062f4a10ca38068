//! The client side of the randomized IMAP checker (tests/imap_stress.rs):
//! one session's view of its selected mailbox — sequence number → UID
//! and flags — kept only from the untagged responses the session
//! receives (RFC 9051 §7.3.1 EXISTS, §7.5.1 EXPUNGE, §7.5.2 FETCH, §7.3.5
//! FLAGS), as a real client keeps it, and the small response parser that
//! needs. Every response that contradicts the view is an error.

#![allow(dead_code)]

use std::collections::BTreeSet;

/// A flag as compared here: flags and keywords are case-insensitive
/// (RFC 9051 §2.3.2).
pub fn norm(flag: &str) -> String {
    flag.to_ascii_lowercase()
}

/// Flags as a set, `\Recent` left out (it is session state: recent in
/// one session, not in the others; IMAP4rev2 has none).
pub fn flag_set<'a>(flags: impl IntoIterator<Item = &'a String>) -> BTreeSet<String> {
    flags
        .into_iter()
        .map(|f| norm(f))
        .filter(|f| f != "\\recent")
        .collect()
}

/// A value in a FETCH response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Value {
    /// An atom or a number.
    Atom(String),
    /// A quoted string or a literal.
    Bytes(Vec<u8>),
    List(Vec<Value>),
    Nil,
}

impl Value {
    pub fn atom(&self) -> Option<&str> {
        match self {
            Value::Atom(a) => Some(a),
            _ => None,
        }
    }
}

/// One untagged response, as far as the view cares.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Untagged {
    Exists(u32),
    Expunge(u32),
    /// RFC 9051 §7.5.2: the attributes, names upper-cased.
    Fetch {
        seq: u32,
        atts: Vec<(String, Value)>,
    },
    Flags(Vec<String>),
    /// RFC 7162 §3.2.10; never expected here (QRESYNC is not enabled).
    Vanished(String),
    /// Anything else (OK with a code, SEARCH, RECENT, CAPABILITY, …).
    Other(String),
    /// A continuation request (`+ …`).
    Continue(String),
}

struct Parser<'a> {
    b: &'a [u8],
    i: usize,
}

impl<'a> Parser<'a> {
    fn err(&self, what: &str) -> String {
        let at = String::from_utf8_lossy(&self.b[self.i.min(self.b.len())..]);
        let at: String = at.chars().take(60).collect();
        format!("{what} at offset {} ({at:?})", self.i)
    }

    fn peek(&self) -> Option<u8> {
        self.b.get(self.i).copied()
    }

    fn eat(&mut self, c: u8) -> Result<(), String> {
        if self.peek() == Some(c) {
            self.i += 1;
            Ok(())
        } else {
            Err(self.err(&format!("expected {:?}", c as char)))
        }
    }

    /// An attribute name: up to a space, with `[...]` (which may hold
    /// spaces) and a `<...>` partial suffix taken whole.
    fn att_name(&mut self) -> Result<String, String> {
        let start = self.i;
        while let Some(c) = self.peek() {
            match c {
                b' ' | b')' => break,
                b'[' => {
                    let close = self.b[self.i..]
                        .iter()
                        .position(|&x| x == b']')
                        .ok_or_else(|| self.err("unclosed ["))?;
                    self.i += close + 1;
                }
                _ => self.i += 1,
            }
        }
        if self.i == start {
            return Err(self.err("empty attribute name"));
        }
        Ok(String::from_utf8_lossy(&self.b[start..self.i]).to_ascii_uppercase())
    }

    fn value(&mut self) -> Result<Value, String> {
        match self.peek() {
            Some(b'(') => {
                self.i += 1;
                let mut items = Vec::new();
                loop {
                    match self.peek() {
                        Some(b')') => {
                            self.i += 1;
                            return Ok(Value::List(items));
                        }
                        Some(b' ') => self.i += 1,
                        None => return Err(self.err("unclosed list")),
                        _ => items.push(self.value()?),
                    }
                }
            }
            Some(b'"') => {
                self.i += 1;
                let mut out = Vec::new();
                loop {
                    match self.peek() {
                        Some(b'"') => {
                            self.i += 1;
                            return Ok(Value::Bytes(out));
                        }
                        Some(b'\\') => {
                            let c = self.b.get(self.i + 1).copied();
                            out.push(c.ok_or_else(|| self.err("dangling escape"))?);
                            self.i += 2;
                        }
                        Some(c) => {
                            out.push(c);
                            self.i += 1;
                        }
                        None => return Err(self.err("unclosed quoted string")),
                    }
                }
            }
            Some(b'{') | Some(b'~') => {
                if self.peek() == Some(b'~') {
                    self.i += 1;
                }
                self.eat(b'{')?;
                let close = self.b[self.i..]
                    .iter()
                    .position(|&x| x == b'}')
                    .ok_or_else(|| self.err("unclosed literal length"))?;
                let n: usize = std::str::from_utf8(&self.b[self.i..self.i + close])
                    .ok()
                    .and_then(|s| s.parse().ok())
                    .ok_or_else(|| self.err("bad literal length"))?;
                self.i += close + 1;
                self.eat(b'\r')?;
                self.eat(b'\n')?;
                let data = self
                    .b
                    .get(self.i..self.i + n)
                    .ok_or_else(|| self.err("short literal"))?
                    .to_vec();
                self.i += n;
                Ok(Value::Bytes(data))
            }
            Some(_) => {
                let start = self.i;
                while let Some(c) = self.peek() {
                    if matches!(c, b' ' | b')' | b'(' | b'\r' | b'\n') {
                        break;
                    }
                    self.i += 1;
                }
                if self.i == start {
                    return Err(self.err("expected a value"));
                }
                let a = String::from_utf8_lossy(&self.b[start..self.i]).into_owned();
                Ok(if a.eq_ignore_ascii_case("NIL") {
                    Value::Nil
                } else {
                    Value::Atom(a)
                })
            }
            None => Err(self.err("expected a value, got the end")),
        }
    }

    /// `(name value name value ...)` of a FETCH response.
    fn fetch_atts(&mut self) -> Result<Vec<(String, Value)>, String> {
        self.eat(b'(')?;
        let mut atts = Vec::new();
        loop {
            match self.peek() {
                Some(b')') => {
                    self.i += 1;
                    return Ok(atts);
                }
                Some(b' ') => self.i += 1,
                None => return Err(self.err("unclosed FETCH attributes")),
                _ => {
                    let name = self.att_name()?;
                    self.eat(b' ')?;
                    let v = self.value()?;
                    atts.push((name, v));
                }
            }
        }
    }
}

/// Parse one whole untagged response (literals inline, CRLF at the end).
pub fn parse_untagged(resp: &[u8]) -> Result<Untagged, String> {
    let text = String::from_utf8_lossy(resp);
    let first_line = text.lines().next().unwrap_or("").to_string();
    if let Some(rest) = first_line.strip_prefix("+") {
        return Ok(Untagged::Continue(rest.trim().to_string()));
    }
    let Some(body) = resp.strip_prefix(b"* ") else {
        return Err(format!("not an untagged response: {first_line:?}"));
    };
    let mut words = first_line[2..].splitn(3, ' ');
    let w1 = words.next().unwrap_or("");
    let w2 = words.next().unwrap_or("").trim_end();
    if let Ok(n) = w1.parse::<u32>() {
        match w2.to_ascii_uppercase().as_str() {
            "EXISTS" => return Ok(Untagged::Exists(n)),
            "EXPUNGE" => return Ok(Untagged::Expunge(n)),
            "FETCH" => {
                let start = w1.len() + " FETCH ".len();
                let mut p = Parser { b: body, i: start };
                let atts = p.fetch_atts()?;
                return Ok(Untagged::Fetch { seq: n, atts });
            }
            _ => return Ok(Untagged::Other(first_line)),
        }
    }
    match w1.to_ascii_uppercase().as_str() {
        "FLAGS" => {
            let mut p = Parser {
                b: body,
                i: "FLAGS ".len(),
            };
            let Value::List(items) = p.value()? else {
                return Err(format!("FLAGS without a list: {first_line:?}"));
            };
            let flags = items
                .iter()
                .map(|v| {
                    v.atom()
                        .map(str::to_string)
                        .ok_or("a flag that is not an atom")
                })
                .collect::<Result<Vec<_>, _>>()
                .map_err(|e| format!("{e}: {first_line:?}"))?;
            Ok(Untagged::Flags(flags))
        }
        "VANISHED" => Ok(Untagged::Vanished(first_line)),
        _ => Ok(Untagged::Other(first_line)),
    }
}

/// The flags of a FETCH response's FLAGS attribute, if any.
pub fn fetch_flags(atts: &[(String, Value)]) -> Result<Option<Vec<String>>, String> {
    let Some((_, v)) = atts.iter().find(|(n, _)| n == "FLAGS") else {
        return Ok(None);
    };
    let Value::List(items) = v else {
        return Err(format!("FLAGS is not a list: {v:?}"));
    };
    items
        .iter()
        .map(|i| {
            i.atom()
                .map(str::to_string)
                .ok_or_else(|| format!("flag {i:?} is not an atom"))
        })
        .collect::<Result<Vec<_>, _>>()
        .map(Some)
}

/// The UID of a FETCH response, if any.
pub fn fetch_uid(atts: &[(String, Value)]) -> Result<Option<u32>, String> {
    let Some((_, v)) = atts.iter().find(|(n, _)| n == "UID") else {
        return Ok(None);
    };
    v.atom()
        .and_then(|a| a.parse().ok())
        .map(Some)
        .ok_or_else(|| format!("UID is not a number: {v:?}"))
}

/// The octets of a FETCH response's `BODY[]` (BODY.PEEK[] answers as BODY[]).
pub fn fetch_body(atts: &[(String, Value)]) -> Option<&[u8]> {
    atts.iter().find_map(|(n, v)| match v {
        Value::Bytes(b) if n == "BODY[]" => Some(b.as_slice()),
        _ => None,
    })
}

/// One message as the session knows it; UID and flags are unknown for a
/// message only announced by EXISTS until the session fetches them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Msg {
    pub uid: Option<u32>,
    pub flags: Option<BTreeSet<String>>,
}

/// A session's view of its selected mailbox.
#[derive(Debug, Clone, Default)]
pub struct View {
    /// By sequence number - 1.
    pub msgs: Vec<Msg>,
    /// The flags of the last FLAGS response (normalised).
    pub announced: BTreeSet<String>,
    /// A SELECT/EXAMINE replaces a selected mailbox: responses still
    /// belong to the old one until `OK [CLOSED]` (RFC 7162 §3.2.11).
    pub closing: bool,
}

impl View {
    /// Sequence number (1-based) of the first message whose UID or flags
    /// are unknown.
    pub fn first_unknown(&self) -> Option<u32> {
        self.msgs
            .iter()
            .position(|m| m.uid.is_none() || m.flags.is_none())
            .map(|i| i as u32 + 1)
    }

    /// The UIDs in sequence order (None if any is unknown).
    pub fn uids(&self) -> Option<Vec<u32>> {
        self.msgs.iter().map(|m| m.uid).collect()
    }

    /// (UID, flags) in sequence order, for comparing with the store.
    pub fn summary(&self) -> Vec<(Option<u32>, Option<BTreeSet<String>>)> {
        self.msgs.iter().map(|m| (m.uid, m.flags.clone())).collect()
    }

    /// Apply one untagged response; Err when it contradicts the view.
    pub fn apply(&mut self, u: &Untagged) -> Result<(), String> {
        let count = self.msgs.len() as u32;
        match u {
            Untagged::Exists(n) => {
                // RFC 9051 §7.3.1: EXISTS never shrinks the mailbox
                // (only EXPUNGE does).
                if *n < count {
                    return Err(format!("EXISTS {n} while {count} messages are known"));
                }
                self.msgs.resize(
                    *n as usize,
                    Msg {
                        uid: None,
                        flags: None,
                    },
                );
            }
            Untagged::Expunge(n) => {
                if *n == 0 || *n > count {
                    return Err(format!("EXPUNGE {n} with {count} messages"));
                }
                self.msgs.remove(*n as usize - 1);
            }
            Untagged::Fetch { seq, atts } => {
                if *seq == 0 || *seq > count {
                    return Err(format!("FETCH for message {seq} with {count} messages"));
                }
                let i = *seq as usize - 1;
                if let Some(uid) = fetch_uid(atts)? {
                    match self.msgs[i].uid {
                        Some(known) if known != uid => {
                            return Err(format!(
                                "FETCH {seq} says UID {uid}, but message {seq} has UID {known}"
                            ));
                        }
                        _ => self.msgs[i].uid = Some(uid),
                    }
                    // RFC 9051 §2.3.1.1: UIDs ascend with sequence numbers.
                    let before = self.msgs[..i].iter().rev().find_map(|m| m.uid);
                    let after = self.msgs[i + 1..].iter().find_map(|m| m.uid);
                    if before.is_some_and(|b| b >= uid) || after.is_some_and(|a| a <= uid) {
                        return Err(format!(
                            "UID {uid} of message {seq} is out of order ({before:?} before, {after:?} after)"
                        ));
                    }
                }
                if let Some(flags) = fetch_flags(atts)? {
                    // RFC 9051 §7.3.5: the FLAGS response lists the flags
                    // that apply in the mailbox; a keyword is announced
                    // there before a message carries it.
                    for f in &flags {
                        if !f.starts_with('\\') && !self.announced.contains(&norm(f)) {
                            return Err(format!(
                                "keyword {f} in FETCH {seq} was not announced in FLAGS {:?}",
                                self.announced
                            ));
                        }
                    }
                    self.msgs[i].flags = Some(flag_set(&flags));
                }
            }
            Untagged::Flags(flags) => {
                self.announced = flag_set(flags);
            }
            Untagged::Vanished(line) => {
                return Err(format!("VANISHED without QRESYNC enabled: {line}"));
            }
            Untagged::Other(line) => {
                if self.closing && line.contains("[CLOSED]") {
                    *self = View::default();
                }
            }
            Untagged::Continue(_) => {}
        }
        Ok(())
    }
}

/// A sequence set (RFC 9051 §9 `sequence-set`) of ascending numbers,
/// runs collapsed: `[1, 2, 3, 7]` → `1:3,7`.
pub fn seq_set(nums: &[u32]) -> String {
    let mut out: Vec<String> = Vec::new();
    let mut i = 0;
    while i < nums.len() {
        let start = nums[i];
        let mut end = start;
        while i + 1 < nums.len() && nums[i + 1] == end + 1 {
            end += 1;
            i += 1;
        }
        out.push(if start == end {
            start.to_string()
        } else {
            format!("{start}:{end}")
        });
        i += 1;
    }
    out.join(",")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_fetch_with_literal_and_sections() {
        let r = b"* 3 FETCH (UID 17 FLAGS (\\Seen $Label1) BODY[HEADER.FIELDS (SUBJECT)] {5}\r\nab\r\nc BODY[] \"x\\\"y\")\r\n";
        let Untagged::Fetch { seq, atts } = parse_untagged(r).unwrap() else {
            panic!("not a FETCH")
        };
        assert_eq!(seq, 3);
        assert_eq!(fetch_uid(&atts).unwrap(), Some(17));
        assert_eq!(
            fetch_flags(&atts).unwrap(),
            Some(vec!["\\Seen".to_string(), "$Label1".to_string()])
        );
        assert_eq!(atts[2].0, "BODY[HEADER.FIELDS (SUBJECT)]");
        assert_eq!(atts[2].1, Value::Bytes(b"ab\r\nc".to_vec()));
        assert_eq!(fetch_body(&atts), Some(&b"x\"y"[..]));
    }

    #[test]
    fn view_follows_exists_fetch_expunge() {
        let mut v = View::default();
        v.apply(&parse_untagged(b"* FLAGS (\\Seen $a)\r\n").unwrap())
            .unwrap();
        v.apply(&Untagged::Exists(2)).unwrap();
        assert_eq!(v.first_unknown(), Some(1));
        for r in [
            &b"* 1 FETCH (UID 4 FLAGS ())\r\n"[..],
            b"* 2 FETCH (UID 9 FLAGS (\\Seen $A))\r\n",
        ] {
            v.apply(&parse_untagged(r).unwrap()).unwrap();
        }
        assert_eq!(v.uids(), Some(vec![4, 9]));
        v.apply(&Untagged::Expunge(1)).unwrap();
        assert_eq!(v.uids(), Some(vec![9]));
        assert_eq!(
            v.msgs[0].flags,
            Some(["\\seen".to_string(), "$a".to_string()].into())
        );
        // Contradictions are errors.
        assert!(v.apply(&Untagged::Exists(0)).is_err());
        assert!(v.apply(&Untagged::Expunge(2)).is_err());
        assert!(
            v.apply(&parse_untagged(b"* 1 FETCH (UID 8)\r\n").unwrap())
                .is_err()
        );
        assert!(
            v.apply(&parse_untagged(b"* 1 FETCH (FLAGS ($new))\r\n").unwrap())
                .is_err(),
            "a keyword not announced in FLAGS"
        );
    }

    #[test]
    fn sequence_sets() {
        assert_eq!(seq_set(&[1, 2, 3, 7, 9, 10]), "1:3,7,9:10");
        assert_eq!(seq_set(&[5]), "5");
        assert_eq!(seq_set(&[]), "");
    }
}
