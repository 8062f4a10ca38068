//! Delivery status notifications (RFC 3464): a `multipart/report;
//! report-type=delivery-status` with a human-readable part, the
//! `message/delivery-status` part (one per-recipient block each) and the
//! original message (RFC 3461 §4.3: RET=HDRS returns only its header as
//! `text/rfc822-headers`). Sent for failures, delays (once) and relays to
//! peers without DSN support, into the sender's own Inbox.
//!
//! Nothing a peer or a submitter chose goes in raw (threat T2c): reply
//! text, addresses and ids are printable ASCII with everything else as
//! `\xNN`, cut to a bounded length, ENVID/ORCPT as xtext; no value can
//! start a new header line.

use crate::queue::client::reply::escape;
use crate::smtp::received::{random_id, rfc5322_date};

/// Longest value we put in a DSN field.
pub const MAX_FIELD: usize = 512;
/// A larger original message is returned as headers only.
pub const MAX_RETURNED_MESSAGE: usize = 1024 * 1024;

/// Which DSN (RFC 3464 §2.3.3 Action).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DsnKind {
    Failed,
    Delayed,
    /// Delivered to a peer that does not offer DSN (RFC 3461 §5.2.2).
    Relayed,
}

impl DsnKind {
    fn action(self) -> &'static str {
        match self {
            DsnKind::Failed => "failed",
            DsnKind::Delayed => "delayed",
            DsnKind::Relayed => "relayed",
        }
    }

    fn subject(self) -> &'static str {
        match self {
            DsnKind::Failed => "Delivery Status Notification (Failure)",
            DsnKind::Delayed => "Delivery Status Notification (Delay)",
            DsnKind::Relayed => "Delivery Status Notification (Relayed)",
        }
    }
}

/// One recipient's block.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DsnRecipient {
    pub address: String,
    /// ORCPT (RFC 3461 §4.2): address type and address.
    pub original: Option<(String, String)>,
    /// RFC 3463 status, e.g. "5.1.1".
    pub status: String,
    pub remote_mta: Option<String>,
    /// The peer's reply (escaped again here).
    pub diagnostic: Option<String>,
    /// What happened, in words.
    pub reason: String,
    pub last_attempt: i64,
    /// Delay DSNs: when moxd stops trying.
    pub will_retry_until: Option<i64>,
}

/// The original message to return.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Original {
    Full(Vec<u8>),
    Headers(Vec<u8>),
}

#[derive(Debug, Clone)]
pub struct Dsn<'a> {
    pub kind: DsnKind,
    /// Our host name: Reporting-MTA and postmaster address.
    pub hostname: &'a str,
    /// The envelope sender the DSN goes to.
    pub to: &'a str,
    pub envid: Option<&'a str>,
    pub arrival: i64,
    pub recipients: Vec<DsnRecipient>,
    pub original: Original,
    /// The original has 8-bit octets.
    pub eight_bit: bool,
}

/// Escaped and cut to [`MAX_FIELD`] bytes.
fn safe(s: &str) -> String {
    let mut e = escape(s);
    if e.len() > MAX_FIELD {
        e.truncate(MAX_FIELD - 3);
        e.push_str("...");
    }
    e
}

/// RFC 3461 §4: xtext: `+HH` for octets outside 33–126 and for `+`, `=`.
pub fn xtext(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes().take(MAX_FIELD) {
        if (33..=126).contains(&b) && b != b'+' && b != b'=' {
            out.push(b as char);
        } else {
            out.push_str(&format!("+{b:02X}"));
        }
    }
    out
}

/// The DSN as a message (CRLF line ends), ready to deliver.
pub fn compose(d: &Dsn<'_>, now: i64) -> Vec<u8> {
    let boundary = format!("moxd-dsn-{}{}", random_id(), random_id());
    let host = safe(d.hostname);
    let mut m = String::new();
    m.push_str(&format!(
        "From: \"Mail Delivery Subsystem\" <postmaster@{host}>\r\n"
    ));
    m.push_str(&format!("To: <{}>\r\n", safe(d.to)));
    m.push_str(&format!("Subject: {}\r\n", d.kind.subject()));
    m.push_str(&format!("Message-ID: <{}@{host}>\r\n", random_id()));
    m.push_str(&format!("Date: {}\r\n", rfc5322_date(now)));
    // RFC 3834 §5: automatic responses are marked; nobody should reply.
    m.push_str("Auto-Submitted: auto-replied\r\n");
    m.push_str("MIME-Version: 1.0\r\n");
    m.push_str(&format!(
        "Content-Type: multipart/report; report-type=delivery-status;\r\n\tboundary=\"{boundary}\"\r\n\r\n"
    ));
    m.push_str("This is a MIME-formatted delivery status notification.\r\n\r\n");

    m.push_str(&format!("--{boundary}\r\n"));
    m.push_str(
        "Content-Type: text/plain; charset=us-ascii\r\nContent-Transfer-Encoding: 7bit\r\n\r\n",
    );
    m.push_str(&human(d));

    // RFC 3464 §2.1: per-message fields, then a block per recipient.
    m.push_str(&format!("\r\n--{boundary}\r\n"));
    m.push_str("Content-Type: message/delivery-status\r\n\r\n");
    m.push_str(&format!("Reporting-MTA: dns; {host}\r\n"));
    if let Some(envid) = d.envid {
        m.push_str(&format!("Original-Envelope-Id: {}\r\n", xtext(envid)));
    }
    m.push_str(&format!("Arrival-Date: {}\r\n", rfc5322_date(d.arrival)));
    for r in &d.recipients {
        m.push_str("\r\n");
        if let Some((t, a)) = &r.original {
            m.push_str(&format!(
                "Original-Recipient: {}; {}\r\n",
                xtext(t),
                xtext(a)
            ));
        }
        m.push_str(&format!(
            "Final-Recipient: rfc822; {}\r\n",
            safe(&r.address)
        ));
        m.push_str(&format!("Action: {}\r\n", d.kind.action()));
        m.push_str(&format!("Status: {}\r\n", safe(&r.status)));
        if let Some(mta) = &r.remote_mta {
            m.push_str(&format!("Remote-MTA: dns; {}\r\n", safe(mta)));
        }
        if let Some(diag) = &r.diagnostic {
            m.push_str(&format!("Diagnostic-Code: smtp; {}\r\n", safe(diag)));
        }
        m.push_str(&format!(
            "Last-Attempt-Date: {}\r\n",
            rfc5322_date(r.last_attempt)
        ));
        if let Some(until) = r.will_retry_until {
            m.push_str(&format!("Will-Retry-Until: {}\r\n", rfc5322_date(until)));
        }
    }
    m.push_str(&format!("\r\n--{boundary}\r\n"));
    let mut out = m.into_bytes();
    let (ctype, body) = match &d.original {
        Original::Full(b) => ("message/rfc822", b),
        Original::Headers(b) => ("text/rfc822-headers", b),
    };
    out.extend_from_slice(format!("Content-Type: {ctype}\r\n").as_bytes());
    if d.eight_bit {
        out.extend_from_slice(b"Content-Transfer-Encoding: 8bit\r\n");
    }
    out.extend_from_slice(b"\r\n");
    out.extend_from_slice(body);
    if !body.ends_with(b"\r\n") {
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
    out
}

/// The human-readable part.
fn human(d: &Dsn<'_>) -> String {
    let mut t = String::new();
    t.push_str(match d.kind {
        DsnKind::Failed => "Your message could not be delivered to the following recipients; \
                            moxd will not try again.\r\n\r\n",
        DsnKind::Delayed => "Your message has not been delivered to the following recipients \
                             yet; moxd keeps trying.\r\n\r\n",
        DsnKind::Relayed => "Your message was handed to the recipients' mail server, which does \
                             not send delivery notifications; no further notice will follow.\r\n\r\n",
    });
    for r in &d.recipients {
        t.push_str(&format!("  {}\r\n", safe(&r.address)));
        t.push_str(&format!("    {}\r\n", safe(&r.reason)));
        if let Some(diag) = &r.diagnostic {
            let mta = r.remote_mta.as_deref().map(safe).unwrap_or_default();
            t.push_str(&format!("    {mta} said: {}\r\n", safe(diag)));
        }
        if let Some(until) = r.will_retry_until {
            t.push_str(&format!("    Trying until {}.\r\n", rfc5322_date(until)));
        }
        t.push_str("\r\n");
    }
    if matches!(d.original, Original::Headers(_)) {
        t.push_str("The header of your message is attached.\r\n");
    } else {
        t.push_str("Your message is attached.\r\n");
    }
    t
}

#[cfg(test)]
mod tests {
    use super::*;
    use mail_parser::{MessageParser, MimeHeaders, PartType};

    fn rcpt(diag: &str) -> DsnRecipient {
        DsnRecipient {
            address: "bob@remote.example".into(),
            original: Some(("rfc822".into(), "Bob+x=y@remote.example".into())),
            status: "5.1.1".into(),
            remote_mta: Some("mx.remote.example".into()),
            diagnostic: Some(diag.into()),
            reason: "the recipient's mail server refused it".into(),
            last_attempt: 1_700_000_000,
            will_retry_until: None,
        }
    }

    fn dsn(kind: DsnKind, original: Original, r: Vec<DsnRecipient>) -> Vec<u8> {
        compose(
            &Dsn {
                kind,
                hostname: "mail.example.org",
                to: "alice@example.org",
                envid: Some("env 1\r\nX"),
                arrival: 1_699_999_000,
                recipients: r,
                original,
                eight_bit: false,
            },
            1_700_000_100,
        )
    }

    #[test]
    fn failure_is_a_parsable_multipart_report() {
        let original = b"From: a@example.org\r\nSubject: hi\r\n\r\nbody line\r\n".to_vec();
        let raw = dsn(
            DsnKind::Failed,
            Original::Full(original),
            vec![rcpt("550 5.1.1 no such user")],
        );
        let m = MessageParser::default().parse(&raw).expect("parses");
        let ct = m.content_type().expect("content type");
        assert_eq!(ct.ctype(), "multipart");
        assert_eq!(ct.subtype(), Some("report"));
        assert_eq!(ct.attribute("report-type"), Some("delivery-status"));
        assert_eq!(m.subject(), Some("Delivery Status Notification (Failure)"));
        assert_eq!(
            m.header_raw("Auto-Submitted").map(str::trim),
            Some("auto-replied")
        );
        let parts: Vec<_> = m.parts.iter().skip(1).collect();
        assert_eq!(parts.len(), 3, "text, delivery-status, original");
        let status = String::from_utf8_lossy(parts[1].contents()).into_owned();
        assert!(
            status.contains("Reporting-MTA: dns; mail.example.org\r\n"),
            "{status}"
        );
        assert!(
            status.contains("Original-Envelope-Id: env+201+0D+0AX\r\n"),
            "{status}"
        );
        assert!(status.contains("Original-Recipient: rfc822; Bob+2Bx+3Dy@remote.example\r\n"));
        assert!(status.contains(
            "Final-Recipient: rfc822; bob@remote.example\r\nAction: failed\r\nStatus: 5.1.1\r\n"
        ));
        assert!(status.contains("Diagnostic-Code: smtp; 550 5.1.1 no such user\r\n"));
        assert!(
            matches!(parts[2].body, PartType::Message(_)),
            "message/rfc822 attached"
        );
        assert!(raw.windows(9).any(|w| w == b"body line"));
    }

    #[test]
    fn hostile_peer_text_cannot_inject_headers() {
        // Threat T2c: a 550 whose text tries to start header lines and HTML.
        let evil = "550 oops\r\nSubject: pwned\r\n\r\n<script>x</script>";
        let raw = dsn(
            DsnKind::Failed,
            Original::Headers(b"Subject: hi\r\n\r\n".to_vec()),
            vec![rcpt(evil)],
        );
        let text = String::from_utf8(raw.clone()).unwrap();
        assert_eq!(
            text.matches("Subject: pwned").count(),
            2,
            "only escaped copies: {text}"
        );
        assert!(!text.contains("\r\nSubject: pwned"), "{text}");
        assert!(text.contains("Diagnostic-Code: smtp; 550 oops\\x0d\\x0aSubject: pwned"));
        let m = MessageParser::default().parse(&raw).unwrap();
        assert_eq!(m.subject(), Some("Delivery Status Notification (Failure)"));
        let parts: Vec<_> = m.parts.iter().skip(1).collect();
        assert_eq!(parts.len(), 3);
        let ct = parts[2].content_type().unwrap();
        assert_eq!((ct.ctype(), ct.subtype()), ("text", Some("rfc822-headers")));
        // Every line ends in CRLF; no bare CR or LF.
        for (i, &b) in raw.iter().enumerate() {
            if b == b'\n' {
                assert_eq!(raw[i - 1], b'\r');
            }
        }
    }

    #[test]
    fn delay_has_will_retry_until() {
        let mut r = rcpt("451 4.7.1 try later");
        r.status = "4.7.1".into();
        r.will_retry_until = Some(1_700_432_000);
        let raw = dsn(
            DsnKind::Delayed,
            Original::Headers(b"Subject: x\r\n\r\n".to_vec()),
            vec![r],
        );
        let text = String::from_utf8(raw).unwrap();
        assert!(
            text.contains("Action: delayed\r\nStatus: 4.7.1\r\n"),
            "{text}"
        );
        assert!(text.contains("Will-Retry-Until: "), "{text}");
        assert!(text.contains("Subject: Delivery Status Notification (Delay)\r\n"));
    }

    #[test]
    fn xtext_encoding() {
        assert_eq!(xtext("a+b=c d\u{e9}"), "a+2Bb+3Dc+20d+C3+A9");
    }
}
