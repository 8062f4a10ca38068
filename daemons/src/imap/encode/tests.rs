//! Wire forms of responses, compared with the RFC examples.

use std::sync::Arc;

use super::*;
use crate::imap::capability::Capability;
use crate::imap::parse::StatusItem;
use crate::imap::parsed::ParsedMessage;

fn wire(utf8: bool, r: Response) -> String {
    String::from_utf8(Encoder { utf8 }.to_vec(&r)).unwrap()
}

fn data(d: Data) -> String {
    wire(false, Response::Data(d))
}

#[test]
fn status_responses() {
    let r = Response::tagged(
        "A142",
        Status::Ok,
        Some(Code::ReadWrite),
        "SELECT completed",
    );
    assert_eq!(wire(false, r), "A142 OK [READ-WRITE] SELECT completed\r\n");
    let r = Response::untagged(Status::Ok, Some(Code::UidNext(4392)), "Predicted next UID");
    assert_eq!(wire(false, r), "* OK [UIDNEXT 4392] Predicted next UID\r\n");
    let r = Response::tagged(
        "A003",
        Status::Ok,
        Some(Code::AppendUid {
            uidvalidity: 38505,
            uids: NumSet(vec![3955]),
        }),
        "APPEND completed",
    );
    assert_eq!(
        wire(false, r),
        "A003 OK [APPENDUID 38505 3955] APPEND completed\r\n"
    );
    let r = Response::tagged(
        "A004",
        Status::Ok,
        Some(Code::CopyUid {
            uidvalidity: 38505,
            source: NumSet(vec![304, 319, 320, 321]),
            dest: NumSet(vec![3956, 3957, 3958, 3959]),
        }),
        "Done",
    );
    assert_eq!(
        wire(false, r),
        "A004 OK [COPYUID 38505 304,319:321 3956:3959] Done\r\n"
    );
    let r = Response::tagged("a", Status::No, None, "bad\r\nline ü");
    assert_eq!(wire(false, r), "a NO bad  line ?\r\n");
    let r = Response::untagged(
        Status::Ok,
        Some(Code::PermanentFlags(vec!["\\Seen".into(), "\\*".into()])),
        "Limited",
    );
    assert_eq!(
        wire(false, r),
        "* OK [PERMANENTFLAGS (\\Seen \\*)] Limited\r\n"
    );
    let r = Response::untagged(
        Status::Ok,
        Some(Code::Capability(vec![
            Capability::Imap4rev2,
            Capability::Idle,
        ])),
        "hi",
    );
    assert_eq!(wire(false, r), "* OK [CAPABILITY IMAP4rev2 IDLE] hi\r\n");
}

#[test]
fn untagged_data() {
    assert_eq!(data(Data::Exists(23)), "* 23 EXISTS\r\n");
    assert_eq!(data(Data::Expunge(3)), "* 3 EXPUNGE\r\n");
    assert_eq!(
        data(Data::Vanished {
            earlier: true,
            uids: NumSet(vec![300, 301, 302, 405, 411])
        }),
        "* VANISHED (EARLIER) 300:302,405,411\r\n"
    );
    assert_eq!(
        data(Data::Search {
            nums: vec![2, 84, 882],
            modseq: Some(917162500)
        }),
        "* SEARCH 2 84 882 (MODSEQ 917162500)\r\n"
    );
    assert_eq!(
        data(Data::Esearch {
            tag: Some("A282".into()),
            uid: false,
            items: vec![EsearchItem::Min(2), EsearchItem::Count(3)]
        }),
        "* ESEARCH (TAG \"A282\") MIN 2 COUNT 3\r\n"
    );
    assert_eq!(
        data(Data::Status {
            mailbox: "blurdybloop".into(),
            items: vec![(StatusItem::Messages, 231), (StatusItem::UidNext, 44292)]
        }),
        "* STATUS \"blurdybloop\" (MESSAGES 231 UIDNEXT 44292)\r\n"
    );
    assert_eq!(
        data(Data::Namespace),
        "* NAMESPACE ((\"\" \"/\")) NIL NIL\r\n"
    );
    let leaf = |id| ThreadNode {
        id: Some(id),
        children: vec![],
    };
    let chain = |ids: &[u32]| {
        let mut n = leaf(ids[ids.len() - 1]);
        for &id in ids[..ids.len() - 1].iter().rev() {
            n = ThreadNode {
                id: Some(id),
                children: vec![n],
            };
        }
        n
    };
    // RFC 5256 §4 example.
    let t = vec![
        leaf(2),
        ThreadNode {
            id: Some(3),
            children: vec![ThreadNode {
                id: Some(6),
                children: vec![chain(&[4, 23]), chain(&[44, 7, 96])],
            }],
        },
        ThreadNode {
            id: None,
            children: vec![leaf(5), leaf(8)],
        },
    ];
    assert_eq!(
        data(Data::Thread(t)),
        "* THREAD (2)(3 6 (4 23)(44 7 96))((5)(8))\r\n"
    );
}

#[test]
fn mailbox_names() {
    let e = ListEntry {
        attrs: vec!["\\HasNoChildren".into()],
        name: "Entwürfe".into(),
        childinfo_subscribed: false,
        old_name: None,
    };
    assert_eq!(
        wire(false, Response::Data(Data::List(e.clone()))),
        "* LIST (\\HasNoChildren) \"/\" \"Entw&APw-rfe\"\r\n"
    );
    assert_eq!(
        wire(true, Response::Data(Data::List(e))),
        "* LIST (\\HasNoChildren) \"/\" \"Entwürfe\"\r\n"
    );
    let e = ListEntry {
        attrs: vec![],
        name: "Foo".into(),
        childinfo_subscribed: true,
        old_name: None,
    };
    assert_eq!(
        data(Data::List(e)),
        "* LIST () \"/\" \"Foo\" (\"CHILDINFO\" (\"SUBSCRIBED\"))\r\n"
    );
}

const MSG: &[u8] = b"Date: Wed, 17 Jul 1996 02:23:25 -0700 (PDT)\r\n\
From: Terry Gray <gray@cac.washington.edu>\r\n\
Subject: IMAP4rev2 WG mtg summary and minutes\r\n\
To: imap@cac.washington.edu\r\n\
cc: minutes@CNRI.Reston.VA.US, John Klensin <KLENSIN@MIT.EDU>\r\n\
Message-Id: <B27397-0100000@cac.washington.edu>\r\n\
\r\n\
Hello\r\n\
Joe\r\n";

#[test]
fn fetch_items() {
    let p = Arc::new(ParsedMessage::from_bytes(MSG));
    let r = Data::Fetch {
        seq: 12,
        items: vec![
            FetchItem::Uid(7),
            FetchItem::Flags(vec!["\\Seen".into()]),
            FetchItem::InternalDate(837_570_205),
            FetchItem::Rfc822Size(MSG.len() as u64),
            FetchItem::Envelope(Box::new(p.envelope.clone())),
            FetchItem::Structure {
                parsed: Arc::clone(&p),
                extensible: false,
            },
            FetchItem::ModSeq(5),
        ],
    };
    // RFC 9051 §7.5.2 example, with moxd's quoting choices.
    assert_eq!(
        data(r),
        format!(
            "* 12 FETCH (UID 7 FLAGS (\\Seen) INTERNALDATE \"17-Jul-1996 02:23:25 +0000\" \
RFC822.SIZE {} ENVELOPE (\"Wed, 17 Jul 1996 02:23:25 -0700 (PDT)\" \
\"IMAP4rev2 WG mtg summary and minutes\" \
((\"Terry Gray\" NIL \"gray\" \"cac.washington.edu\")) \
((\"Terry Gray\" NIL \"gray\" \"cac.washington.edu\")) \
((\"Terry Gray\" NIL \"gray\" \"cac.washington.edu\")) \
((NIL NIL \"imap\" \"cac.washington.edu\")) \
((NIL NIL \"minutes\" \"CNRI.Reston.VA.US\")(\"John Klensin\" NIL \"KLENSIN\" \"MIT.EDU\")) \
NIL NIL \"<B27397-0100000@cac.washington.edu>\") \
BODY (\"TEXT\" \"PLAIN\" (\"charset\" \"us-ascii\") NIL NIL \"7BIT\" 12 2) MODSEQ (5))\r\n",
            MSG.len()
        )
    );
    let r = Data::Fetch {
        seq: 1,
        items: vec![
            FetchItem::Structure {
                parsed: p,
                extensible: true,
            },
            FetchItem::Section {
                section: Section {
                    part: vec![1],
                    text: None,
                },
                origin: Some(0),
                data: Some(b"Hel".to_vec()),
            },
            FetchItem::Binary {
                part: vec![],
                origin: None,
                data: Some(b"a\0b".to_vec()),
            },
            FetchItem::Preview(Some("Grüße".into())),
        ],
    };
    assert_eq!(
        data(r),
        "* 1 FETCH (BODYSTRUCTURE (\"TEXT\" \"PLAIN\" (\"charset\" \"us-ascii\") NIL NIL \"7BIT\" 12 2 NIL NIL NIL NIL) \
BODY[1]<0> {3}\r\nHel BINARY[] ~{3}\r\na\0b PREVIEW {7}\r\nGrüße)\r\n"
    );
}

#[test]
fn non_ascii_envelope_fields() {
    let msg = "From: Jörg <j@x.example>\r\nSubject: Grüße\r\n\r\nx".as_bytes();
    let p = ParsedMessage::from_bytes(msg);
    let item = || Data::Fetch {
        seq: 1,
        items: vec![FetchItem::Envelope(Box::new(p.envelope.clone()))],
    };
    let plain = wire(false, Response::Data(item()));
    assert!(plain.contains("\"=?utf-8?b?R3LDvMOfZQ==?=\""), "{plain}");
    assert!(plain.contains("\"=?utf-8?b?SsO2cmc=?=\""), "{plain}");
    let utf8 = wire(true, Response::Data(item()));
    assert!(utf8.contains("\"Grüße\""), "{utf8}");
}

#[test]
fn envelope_source_route() {
    // RFC 9051 §7.5.2 addr-adl; RFC 5322 §4.4 obs-route.
    let msg = b"From: <@route:user@domain>\r\nTo: x <@a.example,@b.example:y@c.example>\r\n\r\nx";
    let p = ParsedMessage::from_bytes(msg);
    let r = Data::Fetch {
        seq: 6,
        items: vec![FetchItem::Envelope(Box::new(p.envelope.clone()))],
    };
    assert_eq!(
        data(r),
        "* 6 FETCH (ENVELOPE (NIL NIL ((NIL \"@route\" \"user\" \"domain\")) \
((NIL \"@route\" \"user\" \"domain\")) ((NIL \"@route\" \"user\" \"domain\")) \
((\"x\" \"@a.example,@b.example\" \"y\" \"c.example\")) NIL NIL NIL NIL))\r\n"
    );
}
