//! The MIME walk on ordinary messages and on the bombs of threats T12.

use std::time::{Duration, Instant};

use super::*;
use crate::imap::parse::{Section, SectionText};

const SIMPLE: &[u8] = b"From: Fred Foobar <foobar@Blurdybloop.example>\r\n\
Subject: afternoon meeting\r\n\
To: mooch@owatagu.siam.edu.example\r\n\
Message-Id: <B27397-0100000@Blurdybloop.example>\r\n\
\r\n\
Hello Joe, do you think we can meet at 3:30 tomorrow?\r\n";

const MULTI: &[u8] = b"From: a@example.org\r\n\
To: Group: b@example.org, \"C D\" <c@example.org>;\r\n\
Subject: =?utf-8?q?caf=C3=A9?=\r\n\
Content-Type: multipart/mixed; boundary=\"outer\"\r\n\
\r\n\
preamble\r\n\
--outer\r\n\
Content-Type: text/plain; charset=utf-8\r\n\
\r\n\
first part\r\n\
line two\r\n\
--outer\r\n\
Content-Type: message/rfc822\r\n\
\r\n\
From: inner@example.org\r\n\
Subject: inner\r\n\
Content-Type: multipart/alternative; boundary=in\r\n\
\r\n\
--in\r\n\
\r\n\
plain inner\r\n\
--in\r\n\
Content-Type: text/html\r\n\
Content-Transfer-Encoding: base64\r\n\
\r\n\
PGI+aGk8L2I+\r\n\
--in--\r\n\
--outer--\r\n\
epilogue\r\n";

fn sec(part: &[u32], text: Option<SectionText>) -> Section {
    Section {
        part: part.to_vec(),
        text,
    }
}

fn get(p: &ParsedMessage, msg: &[u8], s: Section) -> String {
    let b = p.section(msg, &s).unwrap().unwrap();
    String::from_utf8(b.into_owned()).unwrap()
}

#[test]
fn simple_message() {
    let p = ParsedMessage::from_bytes(SIMPLE);
    assert_eq!(p.parts.len(), 1);
    let root = &p.parts[0];
    assert_eq!(
        (root.media_type.as_str(), root.media_subtype.as_str()),
        ("text", "plain")
    );
    assert_eq!(root.lines, 1);
    assert_eq!(root.body.len(), 55);
    assert_eq!(p.envelope.subject.as_deref(), Some("afternoon meeting"));
    assert_eq!(p.envelope.from[0].name.as_deref(), Some("Fred Foobar"));
    assert_eq!(p.envelope.from[0].mailbox.as_deref(), Some("foobar"));
    assert_eq!(
        p.envelope.from[0].host.as_deref(),
        Some("Blurdybloop.example")
    );
    assert_eq!(p.envelope.sender, p.envelope.from, "defaulted from From");
    assert_eq!(
        p.envelope.message_id.as_deref(),
        Some("<B27397-0100000@Blurdybloop.example>")
    );
    assert_eq!(
        p.preview.as_deref(),
        Some("Hello Joe, do you think we can meet at 3:30 tomorrow?")
    );
    assert_eq!(
        get(&p, SIMPLE, sec(&[1], None)),
        "Hello Joe, do you think we can meet at 3:30 tomorrow?\r\n"
    );
    assert!(get(&p, SIMPLE, sec(&[], Some(SectionText::Header))).ends_with("\r\n\r\n"));
    assert_eq!(p.section(SIMPLE, &sec(&[2], None)).unwrap(), None);
    assert_eq!(
        p.section(SIMPLE, &sec(&[1], Some(SectionText::Header))),
        Err(SectionError::NotMessage)
    );
}

#[test]
fn nested_structure_and_sections() {
    let p = ParsedMessage::from_bytes(MULTI);
    assert!(!p.truncated);
    let PartKind::Multipart { children } = &p.parts[0].kind else {
        panic!("root not multipart: {:?}", p.parts[0]);
    };
    assert_eq!(children.len(), 2);
    assert_eq!(get(&p, MULTI, sec(&[1], None)), "first part\r\nline two");
    assert_eq!(p.parts[children[0] as usize].lines, 2);
    assert_eq!(
        get(&p, MULTI, sec(&[1], Some(SectionText::Mime))),
        "Content-Type: text/plain; charset=utf-8\r\n\r\n"
    );
    let PartKind::Message { envelope, .. } = &p.parts[children[1] as usize].kind else {
        panic!("part 2 not a message");
    };
    assert_eq!(envelope.subject.as_deref(), Some("inner"));
    assert_eq!(
        get(&p, MULTI, sec(&[2], Some(SectionText::Header))),
        "From: inner@example.org\r\nSubject: inner\r\nContent-Type: multipart/alternative; boundary=in\r\n\r\n"
    );
    assert_eq!(get(&p, MULTI, sec(&[2, 1], None)), "plain inner");
    assert_eq!(get(&p, MULTI, sec(&[2, 2], None)), "PGI+aGk8L2I+");
    let b = p.binary(MULTI, &[2, 2]).unwrap().unwrap();
    assert_eq!(&*b, b"<b>hi</b>");
    assert_eq!(
        get(
            &p,
            MULTI,
            sec(
                &[],
                Some(SectionText::HeaderFields {
                    not: false,
                    fields: vec!["subject".into(), "X-None".into()]
                })
            )
        ),
        "Subject: =?utf-8?q?caf=C3=A9?=\r\n\r\n"
    );
    // The group in To.
    let to = &p.envelope.to;
    assert_eq!(to.len(), 4, "{to:?}");
    assert_eq!(to[0].mailbox.as_deref(), Some("Group"));
    assert_eq!(to[0].host, None);
    assert_eq!(to[2].name.as_deref(), Some("C D"));
    assert_eq!(to[3], Address::default());
    // Stored form round-trips.
    let json = serde_json::to_string(&p).unwrap();
    let back: ParsedMessage = serde_json::from_str(&json).unwrap();
    assert_eq!(back, p);
}

fn bounded(msg: &[u8]) -> ParsedMessage {
    let t = Instant::now();
    let p = ParsedMessage::from_bytes(msg);
    assert!(
        t.elapsed() < Duration::from_secs(20),
        "took {:?}",
        t.elapsed()
    );
    p
}

#[test]
fn deep_nesting_is_bounded() {
    // Threats T12: 10,000 nested multipart/mixed.
    let mut m = Vec::new();
    for i in 0..10_000 {
        m.extend_from_slice(
            format!("Content-Type: multipart/mixed; boundary=b{i}\r\n\r\n--b{i}\r\n").as_bytes(),
        );
    }
    m.extend_from_slice(b"\r\ninnermost\r\n");
    let p = bounded(&m);
    assert!(p.truncated);
    assert!(p.parts.len() <= MAX_DEPTH + 2, "{}", p.parts.len());
    // And the serialized form is shallow enough for serde_json.
    let json = serde_json::to_string(&p).unwrap();
    assert!(serde_json::from_str::<ParsedMessage>(&json).is_ok());
}

#[test]
fn many_parts_are_bounded() {
    // Threats T12: 100,000 parts.
    let mut m = b"Content-Type: multipart/mixed; boundary=x\r\n\r\n".to_vec();
    for _ in 0..100_000 {
        m.extend_from_slice(b"--x\r\n\r\na\r\n");
    }
    m.extend_from_slice(b"--x--\r\n");
    let p = bounded(&m);
    assert!(p.truncated);
    assert_eq!(p.parts.len(), MAX_PARTS);
}

#[test]
fn nested_messages_and_long_boundary() {
    // Threats T12: message/rfc822 nested 1000 deep.
    let mut m = Vec::new();
    for _ in 0..1000 {
        m.extend_from_slice(b"Content-Type: message/rfc822\r\n\r\n");
    }
    m.extend_from_slice(b"Subject: x\r\n\r\nbody\r\n");
    let p = bounded(&m);
    assert!(p.truncated);
    // A 1 MB boundary is not split: the part is described as text.
    let b = "b".repeat(1 << 20);
    let m =
        format!("Content-Type: multipart/mixed; boundary={b}\r\n\r\n--{b}\r\n\r\nx\r\n--{b}--\r\n");
    let p = bounded(m.as_bytes());
    assert_eq!(p.parts.len(), 1);
    assert_eq!(p.parts[0].media_type, "text");
}

#[test]
fn deep_nesting_over_a_big_body() {
    // The scan budget bounds depth × size.
    let mut m = Vec::new();
    for i in 0..100 {
        m.extend_from_slice(
            format!("Content-Type: multipart/mixed; boundary=b{i}\r\n\r\n--b{i}\r\n").as_bytes(),
        );
    }
    m.extend_from_slice(b"\r\n");
    for _ in 0..200_000 {
        m.extend_from_slice(b"--not-a-boundary\r\n");
    }
    bounded(&m);
}

#[test]
fn address_forms() {
    let p = ParsedMessage::from_bytes(
        b"From: <user (comment)@ (comment) example.org>\r\n\
Sender: d\r\n\
Reply-To: u@example.org (Real Name)\r\n\
To: <@a.example,@b.example:user@example.org>\r\n\
Cc: \"a (not a comment)\" <c@example.org>\r\n\
Bcc: group: (only a comment) ;\r\n\r\nbody\r\n",
    );
    let e = &p.envelope;
    let plain = |mailbox: &str, host: &str| Address {
        name: None,
        mailbox: Some(mailbox.into()),
        host: Some(host.into()),
    };
    // RFC 5322 §3.2.2: comments inside the address are no display name.
    assert_eq!(e.from, [plain("user", "example.org")]);
    // A lone word is a local part without domain.
    assert_eq!(e.sender, [plain("d", "")]);
    // A trailing comment gives the display name.
    assert_eq!(e.reply_to[0].name.as_deref(), Some("Real Name"));
    // RFC 5322 §4.4 obs-route: kept before the local part, split for
    // addr-adl (RFC 9051 §7.5.2).
    assert_eq!(e.to[0].adl(), Some("@a.example,@b.example"));
    assert_eq!(e.to[0].local_part(), Some("user"));
    assert_eq!(e.to[0].host.as_deref(), Some("example.org"));
    assert_eq!(e.from[0].adl(), None);
    assert_eq!(e.from[0].local_part(), Some("user"));
    assert_eq!(e.cc[0].name.as_deref(), Some("a (not a comment)"));
    // A comment alone in a group is no address (imaptest fetch-envelope).
    let group = Address {
        mailbox: Some("group".into()),
        ..Address::default()
    };
    assert_eq!(e.bcc, [group, Address::default()]);
}

#[test]
fn binary_parts_become_base64() {
    // imaptest append-binary: a single-part message with CTE binary.
    let msg = b"From: user@domain.org\r\n\
Content-Type: application/octet-stream\r\n\
Content-Transfer-Encoding: binary\r\n\
\r\n\
\x00-\xe4\n\r\n\n";
    let out = convert::binary_to_base64(msg).unwrap();
    assert_eq!(
        out,
        b"From: user@domain.org\r\n\
Content-Type: application/octet-stream\r\n\
Content-Transfer-Encoding: base64\r\n\
\r\n\
AC3kCg0KCg==\r\n"
    );
    let p = ParsedMessage::from_bytes(&out);
    // BODY[1] is text; BINARY[1] the original octets.
    assert_eq!(get(&p, &out, sec(&[1], None)), "AC3kCg0KCg==\r\n");
    assert_eq!(
        &*p.binary(&out, &[1]).unwrap().unwrap(),
        b"\x00-\xe4\n\r\n\n"
    );
    assert_eq!(p.parts[0].encoding.as_deref(), Some("BASE64"));

    // In a multipart: a binary part, a part with NUL and no CTE, and a
    // text part left alone; long bodies are cut in 76-character lines.
    let big: Vec<u8> = (0..=255u8).cycle().take(100).collect();
    let mut msg = b"Content-Type: multipart/mixed; boundary=x\r\n\r\n--x\r\n\
Content-Type: application/octet-stream\r\n\
Content-Transfer-Encoding: BINARY\r\n\r\n"
        .to_vec();
    msg.extend_from_slice(&big);
    msg.extend_from_slice(
        b"\r\n--x\r\nContent-Type: text/plain\r\n\r\na\0b\r\n--x\r\n\r\nplain text\r\n--x--\r\n",
    );
    let out = convert::binary_to_base64(&msg).unwrap();
    let p = ParsedMessage::from_bytes(&out);
    let PartKind::Multipart { children } = &p.parts[0].kind else {
        panic!("{:?}", p.parts[0]);
    };
    assert_eq!(children.len(), 3);
    let b1 = get(&p, &out, sec(&[1], None));
    let lines: Vec<&str> = b1.split("\r\n").collect();
    assert_eq!(lines.iter().map(|l| l.len()).collect::<Vec<_>>(), [76, 60]);
    assert_eq!(&*p.binary(&out, &[1]).unwrap().unwrap(), &big[..]);
    assert_eq!(
        get(&p, &out, sec(&[2], Some(SectionText::Mime))),
        "Content-Type: text/plain\r\nContent-Transfer-Encoding: base64\r\n\r\n"
    );
    assert_eq!(get(&p, &out, sec(&[2], None)), "YQBi");
    assert_eq!(get(&p, &out, sec(&[3], None)), "plain text");
    assert!(!out.contains(&0));
    // Nothing binary: nothing to do.
    assert_eq!(convert::binary_to_base64(SIMPLE), None);
    assert_eq!(convert::binary_to_base64(MULTI), None);
}
