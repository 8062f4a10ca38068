//! ESMTP parameters of MAIL and RCPT (RFC 5321 §4.1.2 `esmtp-param`):
//! SIZE (RFC 1870), BODY (RFC 6152, RFC 3030), SMTPUTF8 (RFC 6531),
//! REQUIRETLS (RFC 8689), RET/ENVID/NOTIFY/ORCPT (RFC 3461) and AUTH=
//! (RFC 4954 §5). DSN values are kept so later DSNs can use them.

use serde::{Deserialize, Serialize};

/// RFC 3461 §4.4: ENVID is at most 100 characters.
pub const MAX_ENVID_LEN: usize = 100;
/// RFC 3461 §4.2: ORCPT is at most 500 characters.
pub const MAX_ORCPT_LEN: usize = 500;

/// Why a parameter list was refused; the session turns it into a reply.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParamError {
    /// RFC 5321 §4.1.1.11: 555, parameter not recognized.
    #[error("unsupported parameter {0}")]
    Unknown(String),
    #[error("invalid parameter syntax: {0}")]
    Syntax(String),
    #[error("duplicate parameter {0}")]
    Duplicate(String),
}

/// BODY= values (RFC 6152 §2, RFC 3030 §3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Body {
    SevenBit,
    EightBitMime,
    BinaryMime,
}

/// RET= (RFC 3461 §4.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Ret {
    Full,
    Hdrs,
}

/// AUTH= on MAIL (RFC 4954 §5): `<>` or an xtext-decoded mailbox.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum AuthParam {
    Empty,
    Mailbox(String),
}

/// NOTIFY= (RFC 3461 §4.1); all false means NEVER.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Notify {
    pub success: bool,
    pub failure: bool,
    pub delay: bool,
}

/// ORCPT= (RFC 3461 §4.2; `utf-8` type per RFC 6533 §3).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Orcpt {
    pub addr_type: String,
    pub addr: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct MailParams {
    pub size: Option<u64>,
    pub body: Option<Body>,
    pub smtputf8: bool,
    pub requiretls: bool,
    pub ret: Option<Ret>,
    pub envid: Option<String>,
    pub auth: Option<AuthParam>,
}

#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct RcptParams {
    pub notify: Option<Notify>,
    pub orcpt: Option<Orcpt>,
}

/// Split `" KEY=VALUE KEY"` into (upper-case keyword, value) pairs.
/// RFC 5321 §4.1.2: `esmtp-keyword = (ALPHA / DIGIT) *(ALPHA / DIGIT / "-")`,
/// `esmtp-value = 1*(%d33-60 / %d62-126)`, UTF-8 allowed (RFC 6531 §3.3).
fn split(s: &str) -> Result<Vec<(String, Option<&str>)>, ParamError> {
    let mut out: Vec<(String, Option<&str>)> = Vec::new();
    for word in s.split(' ').filter(|w| !w.is_empty()) {
        let (key, value) = match word.split_once('=') {
            Some((k, v)) => (k, Some(v)),
            None => (word, None),
        };
        let key_ok = key.starts_with(|c: char| c.is_ascii_alphanumeric())
            && key.chars().all(|c| c.is_ascii_alphanumeric() || c == '-');
        if !key_ok {
            return Err(ParamError::Syntax(format!("bad keyword {key:?}")));
        }
        if let Some(v) = value {
            let ok =
                |c: char| matches!(c, '!'..='<' | '>'..='~') || (!c.is_ascii() && !c.is_control());
            if v.is_empty() || !v.chars().all(ok) {
                return Err(ParamError::Syntax(format!("bad value for {key}")));
            }
        }
        let key = key.to_ascii_uppercase();
        if out.iter().any(|(k, _)| *k == key) {
            return Err(ParamError::Duplicate(key));
        }
        out.push((key, value));
    }
    Ok(out)
}

fn need<'a>(key: &str, v: Option<&'a str>) -> Result<&'a str, ParamError> {
    v.ok_or_else(|| ParamError::Syntax(format!("{key} needs a value")))
}

fn none(key: &str, v: Option<&str>) -> Result<(), ParamError> {
    match v {
        None => Ok(()),
        Some(_) => Err(ParamError::Syntax(format!("{key} takes no value"))),
    }
}

impl MailParams {
    pub fn parse(s: &str) -> Result<MailParams, ParamError> {
        let mut p = MailParams::default();
        for (key, v) in split(s)? {
            match key.as_str() {
                // RFC 1870 §3: size-value = 1*20DIGIT.
                "SIZE" => {
                    let v = need(&key, v)?;
                    if v.len() > 20 || !v.bytes().all(|b| b.is_ascii_digit()) {
                        return Err(ParamError::Syntax("SIZE must be a number".into()));
                    }
                    // More than u64::MAX is certainly too large.
                    p.size = Some(v.parse().unwrap_or(u64::MAX));
                }
                "BODY" => {
                    p.body = Some(match need(&key, v)?.to_ascii_uppercase().as_str() {
                        "7BIT" => Body::SevenBit,
                        "8BITMIME" => Body::EightBitMime,
                        "BINARYMIME" => Body::BinaryMime,
                        other => return Err(ParamError::Syntax(format!("unknown BODY {other}"))),
                    })
                }
                "SMTPUTF8" => {
                    none(&key, v)?;
                    p.smtputf8 = true;
                }
                "REQUIRETLS" => {
                    none(&key, v)?;
                    p.requiretls = true;
                }
                "RET" => {
                    p.ret = Some(match need(&key, v)?.to_ascii_uppercase().as_str() {
                        "FULL" => Ret::Full,
                        "HDRS" => Ret::Hdrs,
                        other => return Err(ParamError::Syntax(format!("unknown RET {other}"))),
                    })
                }
                "ENVID" => {
                    let v = xtext_decode(need(&key, v)?)?;
                    if v.chars().count() > MAX_ENVID_LEN {
                        return Err(ParamError::Syntax("ENVID too long".into()));
                    }
                    p.envid = Some(v);
                }
                "AUTH" => {
                    let v = need(&key, v)?;
                    p.auth = Some(if v == "<>" {
                        AuthParam::Empty
                    } else {
                        AuthParam::Mailbox(xtext_decode(v)?)
                    });
                }
                _ => return Err(ParamError::Unknown(key)),
            }
        }
        Ok(p)
    }
}

impl RcptParams {
    pub fn parse(s: &str) -> Result<RcptParams, ParamError> {
        let mut p = RcptParams::default();
        for (key, v) in split(s)? {
            match key.as_str() {
                "NOTIFY" => p.notify = Some(parse_notify(need(&key, v)?)?),
                "ORCPT" => p.orcpt = Some(parse_orcpt(need(&key, v)?)?),
                _ => return Err(ParamError::Unknown(key)),
            }
        }
        Ok(p)
    }
}

/// RFC 3461 §4.1: `NEVER` alone, or a list of SUCCESS, FAILURE, DELAY.
fn parse_notify(v: &str) -> Result<Notify, ParamError> {
    let mut n = Notify::default();
    let words: Vec<String> = v.split(',').map(str::to_ascii_uppercase).collect();
    if words.len() == 1 && words[0] == "NEVER" {
        return Ok(n);
    }
    for w in &words {
        let flag = match w.as_str() {
            "SUCCESS" => &mut n.success,
            "FAILURE" => &mut n.failure,
            "DELAY" => &mut n.delay,
            _ => return Err(ParamError::Syntax(format!("bad NOTIFY value {w}"))),
        };
        if *flag {
            return Err(ParamError::Syntax(format!("duplicate NOTIFY value {w}")));
        }
        *flag = true;
    }
    Ok(n)
}

/// RFC 3461 §4.2: `addr-type ";" xtext`; RFC 6533 §3: `utf-8` type with
/// `\x{HEX}` escapes.
fn parse_orcpt(v: &str) -> Result<Orcpt, ParamError> {
    if v.len() > MAX_ORCPT_LEN {
        return Err(ParamError::Syntax("ORCPT too long".into()));
    }
    let (t, a) = v
        .split_once(';')
        .ok_or_else(|| ParamError::Syntax("ORCPT needs addr-type;".into()))?;
    if t.is_empty() || !t.chars().all(|c| c.is_ascii_alphanumeric() || c == '-') {
        return Err(ParamError::Syntax("bad ORCPT addr-type".into()));
    }
    let addr_type = t.to_ascii_lowercase();
    let addr = xtext_decode(a)?;
    let addr = if addr_type == "utf-8" {
        unitext_decode(&addr)?
    } else {
        addr
    };
    if addr.is_empty() || addr.chars().any(char::is_control) {
        return Err(ParamError::Syntax("bad ORCPT address".into()));
    }
    Ok(Orcpt { addr_type, addr })
}

/// RFC 3461 §4: `xtext = *( xchar / hexchar )`, `hexchar = "+" 2HEXDIG`
/// (upper case). Decoded bytes must form UTF-8 without control characters.
pub fn xtext_decode(s: &str) -> Result<String, ParamError> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'+' {
            let hex = b
                .get(i + 1..i + 3)
                .ok_or_else(|| ParamError::Syntax("truncated xtext escape".into()))?;
            let hex = std::str::from_utf8(hex)
                .map_err(|_| ParamError::Syntax("bad xtext escape".into()))?;
            if !hex
                .bytes()
                .all(|c| c.is_ascii_digit() || (b'A'..=b'F').contains(&c))
            {
                return Err(ParamError::Syntax("bad xtext escape".into()));
            }
            out.push(
                u8::from_str_radix(hex, 16)
                    .map_err(|_| ParamError::Syntax("bad xtext escape".into()))?,
            );
            i += 3;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    let s = String::from_utf8(out).map_err(|_| ParamError::Syntax("xtext is not UTF-8".into()))?;
    if s.chars().any(char::is_control) {
        return Err(ParamError::Syntax("control character in xtext".into()));
    }
    Ok(s)
}

/// RFC 6533 §3: `\x{HEXPOINT}` escapes in utf-8-addr-unitext.
fn unitext_decode(s: &str) -> Result<String, ParamError> {
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(i) = rest.find("\\x{") {
        out.push_str(&rest[..i]);
        let after = &rest[i + 3..];
        let end = after
            .find('}')
            .ok_or_else(|| ParamError::Syntax("bad \\x{} escape".into()))?;
        let cp = u32::from_str_radix(&after[..end], 16)
            .ok()
            .filter(|_| (1..=6).contains(&end))
            .and_then(char::from_u32)
            .ok_or_else(|| ParamError::Syntax("bad \\x{} escape".into()))?;
        out.push(cp);
        rest = &after[end + 1..];
    }
    out.push_str(rest);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mail_params_all() {
        let p = MailParams::parse(
            " SIZE=1000 BODY=8bitmime SMTPUTF8 REQUIRETLS RET=HDRS ENVID=a+2Bb AUTH=<>",
        )
        .unwrap();
        assert_eq!(
            p,
            MailParams {
                size: Some(1000),
                body: Some(Body::EightBitMime),
                smtputf8: true,
                requiretls: true,
                ret: Some(Ret::Hdrs),
                envid: Some("a+b".into()),
                auth: Some(AuthParam::Empty),
            }
        );
    }

    #[test]
    fn mail_params_errors() {
        assert_eq!(
            MailParams::parse(" FOO=1"),
            Err(ParamError::Unknown("FOO".into()))
        );
        assert_eq!(
            MailParams::parse(" SIZE=1 size=2"),
            Err(ParamError::Duplicate("SIZE".into()))
        );
        assert!(matches!(
            MailParams::parse(" SIZE=abc"),
            Err(ParamError::Syntax(_))
        ));
        assert!(matches!(
            MailParams::parse(" SMTPUTF8=1"),
            Err(ParamError::Syntax(_))
        ));
        assert!(matches!(
            MailParams::parse(" BODY=9BIT"),
            Err(ParamError::Syntax(_))
        ));
        assert!(matches!(
            MailParams::parse(" ENVID=a+0A"),
            Err(ParamError::Syntax(_))
        ));
        assert!(matches!(
            MailParams::parse(" ENVID=a+2"),
            Err(ParamError::Syntax(_))
        ));
        assert_eq!(
            MailParams::parse(" SIZE=99999999999999999999").map(|p| p.size),
            Ok(Some(u64::MAX))
        );
    }

    #[test]
    fn rcpt_params() {
        let p = RcptParams::parse(" NOTIFY=SUCCESS,DELAY ORCPT=rfc822;a+2Bb@x.test").unwrap();
        assert_eq!(
            p.notify,
            Some(Notify {
                success: true,
                failure: false,
                delay: true
            })
        );
        assert_eq!(
            p.orcpt,
            Some(Orcpt {
                addr_type: "rfc822".into(),
                addr: "a+b@x.test".into()
            })
        );
        assert_eq!(
            RcptParams::parse(" NOTIFY=NEVER").map(|p| p.notify),
            Ok(Some(Notify::default()))
        );
        assert!(RcptParams::parse(" NOTIFY=NEVER,SUCCESS").is_err());
        assert!(RcptParams::parse(" NOTIFY=SUCCESS,SUCCESS").is_err());
        let u = RcptParams::parse(" ORCPT=utf-8;j\\x{F6}@x.test").unwrap();
        assert_eq!(u.orcpt.map(|o| o.addr), Some("jö@x.test".into()));
    }
}
