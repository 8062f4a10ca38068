//! One SMTP command line → a typed [`Command`] (RFC 5321 §4.1.1 and the
//! extensions' sections cited below). This is the only verb → command match.
//! Parsing is pure and panic-free on any input; whether a command is
//! allowed in the current state is the session's business.

use std::net::IpAddr;

use base64::Engine as _;

use super::address::{AddressError, Domain, ForwardPath, ReversePath};
use super::params::{MailParams, ParamError, RcptParams};
use super::reply::{Code, Esc, Reply};

/// The name a client gave in EHLO/HELO (RFC 5321 §4.1.1.1: `Domain /
/// address-literal`). Bare IP addresses and `_` in labels are tolerated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HelloName {
    Domain(Domain),
    Literal(IpAddr),
}

impl std::fmt::Display for HelloName {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            HelloName::Domain(d) => f.write_str(d.ascii()),
            HelloName::Literal(IpAddr::V4(ip)) => write!(f, "[{ip}]"),
            HelloName::Literal(IpAddr::V6(ip)) => write!(f, "[IPv6:{ip}]"),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    /// RFC 5321 §4.1.1.1.
    Ehlo(HelloName),
    Helo(HelloName),
    /// RFC 5321 §4.1.1.2.
    Mail {
        from: ReversePath,
        params: MailParams,
    },
    /// RFC 5321 §4.1.1.3.
    Rcpt {
        to: ForwardPath,
        params: RcptParams,
    },
    /// RFC 5321 §4.1.1.4.
    Data,
    /// RFC 3030 §2: `BDAT chunk-size [LAST]`.
    Bdat {
        size: u64,
        last: bool,
    },
    /// RFC 5321 §4.1.1.5.
    Rset,
    /// RFC 5321 §4.1.1.6.
    Vrfy(String),
    /// RFC 5321 §4.1.1.8.
    Help,
    /// RFC 5321 §4.1.1.9.
    Noop,
    /// RFC 5321 §4.1.1.10.
    Quit,
    /// RFC 3207 §4.
    StartTls,
    /// RFC 4954 §4: mechanism (upper case) and the decoded initial
    /// response (`=` is an empty response).
    Auth {
        mechanism: String,
        initial: Option<Vec<u8>>,
    },
}

/// Why a line is not a valid command; [`ParseError::reply`] is the answer.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParseError {
    #[error("unknown command")]
    Unknown,
    #[error("command line is not valid UTF-8")]
    NotUtf8,
    #[error("control character in command line")]
    Control,
    #[error("syntax error: {0}")]
    Syntax(&'static str),
    #[error("invalid sender: {0}")]
    Sender(AddressError),
    #[error("invalid recipient: {0}")]
    Recipient(AddressError),
    #[error("{0}")]
    Param(ParamError),
}

impl ParseError {
    /// The reply for this error (RFC 5321 §4.2.2, RFC 3463 §3.5).
    pub fn reply(&self) -> Reply {
        let text = self.to_string();
        match self {
            ParseError::Unknown => Reply::new(Code::SYNTAX_ERROR, Esc::INVALID_COMMAND, text),
            ParseError::NotUtf8 | ParseError::Control => {
                Reply::new(Code::SYNTAX_ERROR, Esc::SYNTAX, text)
            }
            ParseError::Syntax(_) => Reply::new(Code::PARAM_SYNTAX_ERROR, Esc::INVALID_ARGS, text),
            ParseError::Sender(_) => {
                Reply::new(Code::PARAM_SYNTAX_ERROR, Esc::BAD_SENDER_SYNTAX, text)
            }
            ParseError::Recipient(_) => {
                Reply::new(Code::PARAM_SYNTAX_ERROR, Esc::BAD_DEST_SYNTAX, text)
            }
            ParseError::Param(ParamError::Unknown(_)) => {
                Reply::new(Code::PARAMS_NOT_RECOGNIZED, Esc::INVALID_ARGS, text)
            }
            ParseError::Param(_) => Reply::new(Code::PARAM_SYNTAX_ERROR, Esc::INVALID_ARGS, text),
        }
    }
}

impl Command {
    /// Parse one line, with or without its CRLF.
    pub fn parse(line: &[u8]) -> Result<Command, ParseError> {
        let line = line.strip_suffix(b"\n").unwrap_or(line);
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        // Checked on bytes first so a NUL can never truncate anything later
        // (threats T5); tab is tolerated as white space by nothing here.
        if line.iter().any(|&b| b < 0x20 || b == 0x7f) {
            return Err(ParseError::Control);
        }
        // Rust's UTF-8 validation rejects overlong forms and surrogates (T7).
        let line = std::str::from_utf8(line).map_err(|_| ParseError::NotUtf8)?;
        let (verb, args) = match line.split_once(' ') {
            Some((v, a)) => (v, a),
            None => (line, ""),
        };
        if !verb.is_ascii() {
            return Err(ParseError::Unknown);
        }
        match verb.to_ascii_uppercase().as_str() {
            "EHLO" => Ok(Command::Ehlo(hello_name(args)?)),
            "HELO" => Ok(Command::Helo(hello_name(args)?)),
            "MAIL" => mail(args),
            "RCPT" => rcpt(args),
            "DATA" => no_args(args, Command::Data),
            "BDAT" => bdat(args),
            "RSET" => no_args(args, Command::Rset),
            "VRFY" => {
                if args.trim().is_empty() {
                    return Err(ParseError::Syntax("VRFY needs an argument"));
                }
                Ok(Command::Vrfy(args.to_string()))
            }
            // RFC 5321 §4.1.1.8/§4.1.1.9: the argument is ignored.
            "HELP" => Ok(Command::Help),
            "NOOP" => Ok(Command::Noop),
            "QUIT" => no_args(args, Command::Quit),
            "STARTTLS" => no_args(args, Command::StartTls),
            "AUTH" => auth(args),
            _ => Err(ParseError::Unknown),
        }
    }
}

fn no_args(args: &str, cmd: Command) -> Result<Command, ParseError> {
    if args.trim_end_matches(' ').is_empty() {
        Ok(cmd)
    } else {
        Err(ParseError::Syntax("no parameters allowed"))
    }
}

fn hello_name(args: &str) -> Result<HelloName, ParseError> {
    let arg = args.trim_matches(' ');
    // Anything after the name (some clients add a comment) is ignored.
    let name = arg.split(' ').next().unwrap_or("");
    if name.is_empty() {
        return Err(ParseError::Syntax("missing domain"));
    }
    // RFC 6531 §3.7.1: EHLO names are ASCII (A-labels).
    if !name.is_ascii() {
        return Err(ParseError::Syntax("EHLO/HELO name must be ASCII"));
    }
    if let Some(lit) = name.strip_prefix('[').and_then(|n| n.strip_suffix(']')) {
        // RFC 5321 §4.1.3: IPv4-address-literal / IPv6-address-literal.
        let ip = match lit.get(..5) {
            Some(p) if p.eq_ignore_ascii_case("IPv6:") => {
                lit[5..].parse::<std::net::Ipv6Addr>().map(IpAddr::V6)
            }
            _ => lit.parse::<std::net::Ipv4Addr>().map(IpAddr::V4),
        };
        return ip
            .map(HelloName::Literal)
            .map_err(|_| ParseError::Syntax("invalid address literal"));
    }
    if let Ok(ip) = name.parse::<IpAddr>() {
        return Ok(HelloName::Literal(ip));
    }
    let name = name.strip_suffix('.').unwrap_or(name);
    Domain::parse_hello(name)
        .map(HelloName::Domain)
        .map_err(|_| ParseError::Syntax("invalid domain"))
}

/// `MAIL FROM:<path> [params]`; a space after the colon is tolerated.
fn mail(args: &str) -> Result<Command, ParseError> {
    let rest = strip_keyword(args, "FROM:").ok_or(ParseError::Syntax("expected FROM:<address>"))?;
    let (from, rest) =
        ReversePath::parse(rest.trim_start_matches(' ')).map_err(ParseError::Sender)?;
    let params = parse_params(rest, MailParams::parse)?;
    Ok(Command::Mail { from, params })
}

/// `RCPT TO:<path> [params]`.
fn rcpt(args: &str) -> Result<Command, ParseError> {
    let rest = strip_keyword(args, "TO:").ok_or(ParseError::Syntax("expected TO:<address>"))?;
    let (to, rest) =
        ForwardPath::parse(rest.trim_start_matches(' ')).map_err(ParseError::Recipient)?;
    let params = parse_params(rest, RcptParams::parse)?;
    Ok(Command::Rcpt { to, params })
}

fn parse_params<T>(rest: &str, f: impl Fn(&str) -> Result<T, ParamError>) -> Result<T, ParseError> {
    if !rest.is_empty() && !rest.starts_with(' ') {
        return Err(ParseError::Syntax("expected a space after the path"));
    }
    f(rest).map_err(ParseError::Param)
}

fn strip_keyword<'a>(s: &'a str, kw: &str) -> Option<&'a str> {
    let head = s.get(..kw.len())?;
    head.eq_ignore_ascii_case(kw).then(|| &s[kw.len()..])
}

/// RFC 3030 §2: `bdat-cmd = "BDAT" SP chunk-size [ SP end-marker ] CR LF`.
fn bdat(args: &str) -> Result<Command, ParseError> {
    let mut words = args.split(' ').filter(|w| !w.is_empty());
    let size = words
        .next()
        .ok_or(ParseError::Syntax("BDAT needs a chunk size"))?;
    if !size.bytes().all(|b| b.is_ascii_digit()) {
        return Err(ParseError::Syntax("invalid chunk size"));
    }
    let size: u64 = size
        .parse()
        .map_err(|_| ParseError::Syntax("invalid chunk size"))?;
    let last = match words.next() {
        None => false,
        Some(w) if w.eq_ignore_ascii_case("LAST") => true,
        Some(_) => return Err(ParseError::Syntax("expected LAST")),
    };
    if words.next().is_some() {
        return Err(ParseError::Syntax("too many BDAT parameters"));
    }
    Ok(Command::Bdat { size, last })
}

/// RFC 4954 §4: `AUTH mechanism [initial-response]`.
fn auth(args: &str) -> Result<Command, ParseError> {
    let mut words = args.split(' ').filter(|w| !w.is_empty());
    let mech = words
        .next()
        .ok_or(ParseError::Syntax("AUTH needs a mechanism"))?;
    // RFC 4422 §3.1: mechanism names are 1-20 of [A-Z0-9-_].
    let ok = (1..=20).contains(&mech.len())
        && mech
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
    if !ok {
        return Err(ParseError::Syntax("invalid mechanism name"));
    }
    let initial = match words.next() {
        None => None,
        Some("=") => Some(Vec::new()),
        Some(b64) => Some(
            base64::engine::general_purpose::STANDARD
                .decode(b64)
                .map_err(|_| ParseError::Syntax("invalid base64 in initial response"))?,
        ),
    };
    if words.next().is_some() {
        return Err(ParseError::Syntax("too many AUTH parameters"));
    }
    Ok(Command::Auth {
        mechanism: mech.to_ascii_uppercase(),
        initial,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::smtp::address::Address;
    use crate::smtp::params::Body;

    fn p(s: &str) -> Result<Command, ParseError> {
        Command::parse(s.as_bytes())
    }

    #[test]
    fn simple_verbs() {
        assert_eq!(p("DATA\r\n"), Ok(Command::Data));
        assert_eq!(p("rset"), Ok(Command::Rset));
        assert_eq!(p("NOOP anything"), Ok(Command::Noop));
        assert_eq!(p("HELP me"), Ok(Command::Help));
        assert_eq!(p("QUIT"), Ok(Command::Quit));
        assert_eq!(p("StartTLS"), Ok(Command::StartTls));
        assert_eq!(p("VRFY bob"), Ok(Command::Vrfy("bob".into())));
        assert_eq!(
            p("DATA x"),
            Err(ParseError::Syntax("no parameters allowed"))
        );
        assert_eq!(p("EXPN x"), Err(ParseError::Unknown));
        assert_eq!(p(""), Err(ParseError::Unknown));
    }

    #[test]
    fn hello() {
        let d = |s: &str| HelloName::Domain(Domain::parse_hello(s).unwrap());
        assert_eq!(p("EHLO Mail.Example"), Ok(Command::Ehlo(d("mail.example"))));
        assert_eq!(p("HELO my_host."), Ok(Command::Helo(d("my_host"))));
        assert_eq!(
            p("EHLO [192.0.2.1]"),
            Ok(Command::Ehlo(HelloName::Literal(
                "192.0.2.1".parse().unwrap()
            )))
        );
        assert_eq!(
            p("EHLO [IPv6:::1]").map(|c| format!("{c:?}")),
            Ok("Ehlo(Literal(::1))".into())
        );
        assert!(p("EHLO").is_err());
        assert!(p("EHLO [1.2.3]").is_err());
        assert_eq!(
            p("EHLO h\u{e9}llo"),
            Err(ParseError::Syntax("EHLO/HELO name must be ASCII"))
        );
        assert_eq!(Command::parse(b"EHLO h\xe9llo"), Err(ParseError::NotUtf8));
        assert_eq!(Command::parse(b"EHLO a\0b"), Err(ParseError::Control));
    }

    #[test]
    fn mail_and_rcpt() {
        let c = p("MAIL FROM:<a@x.test> BODY=8BITMIME SIZE=10").unwrap();
        let Command::Mail { from, params } = c else {
            panic!("not MAIL")
        };
        assert_eq!(
            from,
            ReversePath::Address(Address::parse("a@x.test").unwrap())
        );
        assert_eq!(
            (params.body, params.size),
            (Some(Body::EightBitMime), Some(10))
        );
        assert!(matches!(
            p("mail from: <>"),
            Ok(Command::Mail {
                from: ReversePath::Null,
                ..
            })
        ));
        assert!(matches!(
            p("MAIL FROM:<a@x.test>SIZE=1"),
            Err(ParseError::Syntax(_))
        ));
        assert!(matches!(
            p("MAIL TO:<a@x.test>"),
            Err(ParseError::Syntax(_))
        ));
        assert!(matches!(
            p("MAIL FROM:<a@x.test> X=1"),
            Err(ParseError::Param(ParamError::Unknown(_)))
        ));
        let r = p("RCPT TO:<b@y.test> NOTIFY=FAILURE").unwrap();
        assert!(matches!(
            r,
            Command::Rcpt {
                to: ForwardPath::Address(_),
                ..
            }
        ));
        assert!(matches!(
            p("RCPT TO:<>"),
            Err(ParseError::Recipient(AddressError::Null))
        ));
    }

    #[test]
    fn nul_and_8bit() {
        assert_eq!(
            Command::parse(b"MAIL FROM:<a\0@x.test>"),
            Err(ParseError::Control)
        );
        assert_eq!(
            Command::parse(b"MAIL FROM:<j\xc3\xb6@x.test>").map(|_| ()),
            Ok(())
        );
        for bad in [
            &b"MAIL FROM:<\xc0\xaf@x>"[..],
            b"MAIL FROM:<\xe0\x80\xaf@x>",
            b"MAIL FROM:<\xed\xa0\x80@x>",
        ] {
            assert_eq!(Command::parse(bad), Err(ParseError::NotUtf8));
        }
    }

    #[test]
    fn bdat_and_auth() {
        assert_eq!(
            p("BDAT 10 LAST"),
            Ok(Command::Bdat {
                size: 10,
                last: true
            })
        );
        assert_eq!(
            p("BDAT 0"),
            Ok(Command::Bdat {
                size: 0,
                last: false
            })
        );
        assert_eq!(
            p("BDAT 9223372036854775808"),
            Ok(Command::Bdat {
                size: 1 << 63,
                last: false
            })
        );
        assert!(p("BDAT 99999999999999999999999").is_err());
        assert!(p("BDAT -1").is_err());
        assert!(p("BDAT 1 FIRST").is_err());
        assert_eq!(
            p("AUTH plain AGEAYg=="),
            Ok(Command::Auth {
                mechanism: "PLAIN".into(),
                initial: Some(b"\0a\0b".to_vec())
            })
        );
        assert_eq!(
            p("AUTH LOGIN ="),
            Ok(Command::Auth {
                mechanism: "LOGIN".into(),
                initial: Some(vec![])
            })
        );
        assert_eq!(
            p("AUTH LOGIN"),
            Ok(Command::Auth {
                mechanism: "LOGIN".into(),
                initial: None
            })
        );
        assert!(p("AUTH PLAIN !!!").is_err());
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(2000))]
        #[test]
        fn parse_never_panics(bytes in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..300)) {
            let _ = Command::parse(&bytes);
        }

        #[test]
        fn parse_never_panics_on_commandish(
            verb in proptest::sample::select(vec!["MAIL FROM:", "RCPT TO:", "EHLO ", "AUTH ", "BDAT "]),
            rest in "[<>@\"\\\\.,:a-zA-Z0-9 =+\\[\\]ü]{0,80}",
        ) {
            let _ = Command::parse(format!("{verb}{rest}").as_bytes());
        }
    }
}
