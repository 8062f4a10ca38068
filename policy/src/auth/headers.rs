//! The trace header fields smtp-in prepends to a message: one
//! Authentication-Results (RFC 8601 §2.2) with iprev, SPF (MAIL FROM and
//! HELO), DKIM and DMARC results, and one Received-SPF (RFC 7208 §9.1) for
//! the identity DMARC uses. Values from the peer are quoted or cleaned so
//! they cannot end the field or break its grammar. Lines are folded
//! before 78 characters where a value allows it (RFC 5322 §2.1.1).

use super::result::{DkimCheck, Evaluation, SpfCheck, SpfIdentity, SpfResult};

/// Folding target (RFC 5322 §2.1.1).
pub const LINE_LEN: usize = 78;

/// RFC 2045 §5.1 token characters.
fn is_token(s: &str) -> bool {
    !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_graphic() && !b"()<>@,;:\\\"/[]?=".contains(&b))
}

/// RFC 5322 §3.2.3 dot-atom.
fn is_dot_atom(s: &str) -> bool {
    !s.is_empty()
        && s.split('.').all(|a| {
            !a.is_empty()
                && a.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-/=?^_`{|}~".contains(&b))
        })
}

/// A quoted-string (RFC 5322 §3.2.4) of `s` without control characters.
fn quoted(s: &str) -> String {
    let mut q = String::with_capacity(s.len() + 2);
    q.push('"');
    for c in s.chars().filter(|c| !c.is_control()) {
        if c == '"' || c == '\\' {
            q.push('\\');
        }
        q.push(c);
    }
    q.push('"');
    q
}

/// An RFC 8601 §2.2 pvalue: a token, an address with a dot-atom
/// local-part, or a quoted-string.
fn pvalue(s: &str) -> String {
    if is_token(s) {
        return s.to_string();
    }
    match s.rsplit_once('@') {
        Some((local, domain)) if (local.is_empty() || is_dot_atom(local)) && is_token(domain) => {
            s.to_string()
        }
        _ => quoted(s),
    }
}

/// Text that may stand inside a comment (RFC 5322 §3.2.2 ctext).
fn comment_text(s: &str) -> String {
    s.chars()
        .filter(|c| !c.is_control())
        .map(|c| {
            if matches!(c, '(' | ')' | '\\') {
                '_'
            } else {
                c
            }
        })
        .collect()
}

/// Builds a folded header field.
struct Field {
    out: String,
    line: usize,
}

impl Field {
    fn new(name: &str) -> Field {
        Field {
            out: format!("{name}:"),
            line: name.len() + 1,
        }
    }

    /// Append `word` after a space, or on a new folded line if it would
    /// not fit.
    fn word(&mut self, word: &str) {
        if self.line + 1 + word.len() > LINE_LEN && self.line > 1 {
            self.out.push_str("\r\n\t");
            self.line = 1;
        } else {
            self.out.push(' ');
            self.line += 1;
        }
        self.out.push_str(word);
        self.line += word.len();
    }

    /// Start a new folded line (one result per line reads best).
    fn newline(&mut self) {
        self.out.push_str("\r\n\t");
        self.line = 1;
    }

    fn push(&mut self, s: &str) {
        self.out.push_str(s);
        self.line += s.len();
    }

    fn finish(mut self) -> String {
        self.out.push_str("\r\n");
        self.out
    }
}

/// The Authentication-Results header field, CRLF-terminated.
pub fn authentication_results(hostname: &str, e: &Evaluation) -> String {
    let mut f = Field::new("Authentication-Results");
    f.word(&pvalue(hostname));
    let mut any = false;
    let mut result = |f: &mut Field, words: Vec<String>| {
        f.push(";");
        f.newline();
        f.push(&words[0]);
        for w in &words[1..] {
            f.word(w);
        }
        any = true;
    };
    if let Some(i) = &e.iprev {
        // RFC 8601 §3.
        result(
            &mut f,
            vec![
                format!("iprev={}", i.result),
                format!("policy.iprev={}", pvalue(&e.remote_ip.to_string())),
            ],
        );
    }
    if let Some(s) = &e.spf_mailfrom {
        // RFC 8601 §2.7.2.
        result(
            &mut f,
            spf_words(s, format!("smtp.mailfrom={}", pvalue(&e.mail_from))),
        );
    }
    if let Some(s) = &e.spf_helo {
        result(
            &mut f,
            spf_words(s, format!("smtp.helo={}", pvalue(&e.helo))),
        );
    }
    for d in &e.dkim {
        result(&mut f, dkim_words(d));
    }
    if let Some(d) = &e.dmarc {
        // RFC 7489 §11.2.
        result(
            &mut f,
            vec![
                format!("dmarc={}", d.result),
                format!("(p={} dis={})", d.policy, d.applied),
                format!("header.from={}", pvalue(&d.from_domain)),
            ],
        );
    }
    if !any {
        // RFC 8601 §2.2 no-result.
        f.push(";");
        f.word("none");
    }
    f.finish()
}

fn spf_words(s: &SpfCheck, prop: String) -> Vec<String> {
    let mut w = vec![format!("spf={}", s.result)];
    if let Some(p) = &s.problem {
        w.push(format!("reason={}", quoted(p)));
    }
    w.push(prop);
    w
}

fn dkim_words(d: &DkimCheck) -> Vec<String> {
    // RFC 8601 §2.7.1, RFC 6008 §2 (header.b).
    let mut w = vec![format!("dkim={}", d.result)];
    if let Some(r) = &d.reason {
        w.push(format!("reason={}", quoted(r)));
    }
    if !d.domain.is_empty() {
        w.push(format!("header.d={}", pvalue(&d.domain)));
        w.push(format!("header.s={}", pvalue(&d.selector)));
        w.push(format!("header.a={}", pvalue(&d.algorithm)));
        if !d.b.is_empty() {
            w.push(format!("header.b={}", pvalue(&d.b)));
        }
    }
    w
}

/// The Received-SPF header field for the identity DMARC uses (MAIL FROM,
/// or HELO for the null reverse-path), CRLF-terminated; None when SPF was
/// not evaluated.
pub fn received_spf(hostname: &str, e: &Evaluation) -> Option<String> {
    let s = e.spf()?;
    let sender = match s.identity {
        SpfIdentity::MailFrom => e.mail_from.clone(),
        SpfIdentity::Helo => format!("postmaster@{}", e.helo),
    };
    let ip = e.remote_ip.to_canonical();
    let comment = match s.result {
        SpfResult::Pass => format!("domain of {sender} designates {ip} as permitted sender"),
        SpfResult::Fail => {
            format!("domain of {sender} does not designate {ip} as permitted sender")
        }
        SpfResult::Softfail => {
            format!("domain of transitioning {sender} does not designate {ip} as permitted sender")
        }
        SpfResult::Neutral => {
            format!("{ip} is neither permitted nor denied by domain of {sender}")
        }
        SpfResult::None => format!("domain of {sender} does not designate permitted sender hosts"),
        SpfResult::Temperror => format!("error in processing during lookup of {sender}"),
        SpfResult::Permerror => format!("permanent error in processing domain of {sender}"),
    };
    let mut f = Field::new("Received-SPF");
    // RFC 7208 §9.1: result, comment, key-value pairs.
    f.word(s.result.as_str());
    // The comment may fold between its words (RFC 5322 §3.2.2).
    let comment = format!("({}: {})", comment_text(hostname), comment_text(&comment));
    for w in comment.split(' ').filter(|w| !w.is_empty()) {
        f.word(w);
    }
    let atom_or_quoted = |v: &str| {
        if is_dot_atom(v) {
            v.to_string()
        } else {
            quoted(v)
        }
    };
    let mut pairs = vec![
        format!("client-ip={};", atom_or_quoted(&ip.to_string())),
        format!("envelope-from={};", quoted(&e.mail_from)),
        format!("helo={};", atom_or_quoted(&e.helo)),
    ];
    if let Some(p) = &s.problem {
        pairs.push(format!("problem={};", quoted(p)));
    }
    let identity = match s.identity {
        SpfIdentity::MailFrom => "mailfrom",
        SpfIdentity::Helo => "helo",
    };
    pairs.push(format!("identity={identity};"));
    pairs.push(format!("receiver={};", atom_or_quoted(hostname)));
    for p in pairs {
        f.word(&p);
    }
    Some(f.finish())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values() {
        assert_eq!(pvalue("example.org"), "example.org");
        assert_eq!(pvalue("user@example.org"), "user@example.org");
        assert_eq!(pvalue("2001:db8::1"), "\"2001:db8::1\"");
        assert_eq!(pvalue("a b@example.org"), "\"a b@example.org\"");
        assert_eq!(quoted("x\"y\r\n\\"), "\"x\\\"y\\\\\"");
        assert_eq!(comment_text("a(b)\r\nc"), "a_b_c");
    }

    #[test]
    fn folding_keeps_lines_short() {
        let mut f = Field::new("X");
        for _ in 0..30 {
            f.word("abcdefgh;");
        }
        let s = f.finish();
        assert!(s.split("\r\n").all(|l| l.len() <= LINE_LEN), "{s}");
        assert!(s.ends_with("\r\n") && s.contains("\r\n\t"));
    }
}
