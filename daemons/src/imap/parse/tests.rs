//! Whole commands through the parser: the RFC 9051 / RFC 3501 examples
//! and the extensions' examples, plus the inputs of threats T5, T7, T11.

use super::*;
use crate::imap::datetime::Date;

fn ok(s: &str) -> Command {
    parse_command(s.as_bytes(), Options::default())
        .unwrap_or_else(|e| panic!("{s:?} did not parse: {e:?}"))
}

fn body(s: &str) -> CommandBody {
    ok(s).body
}

fn bad(s: &str) -> Rejected {
    match parse_command(s.as_bytes(), Options::default()) {
        Ok(c) => panic!("{s:?} parsed as {c:?}"),
        Err(e) => e,
    }
}

fn bad_bytes(s: &[u8]) {
    assert!(
        parse_command(s, Options::default()).is_err(),
        "{s:?} parsed"
    );
}

fn set(s: &str) -> SequenceSet {
    match body(&format!("a UID EXPUNGE {s}\r\n")) {
        CommandBody::UidExpunge(set) => set,
        other => panic!("{other:?}"),
    }
}

#[test]
fn any_state_and_login_commands() {
    assert_eq!(body("abcd CAPABILITY\r\n"), CommandBody::Capability);
    assert_eq!(body("a002 NOOP\n"), CommandBody::Noop);
    assert_eq!(body("A023 LOGOUT\r\n"), CommandBody::Logout);
    assert_eq!(
        body("a023 ID (\"name\" \"sodr\" \"version\" NIL)\r\n"),
        CommandBody::Id(Some(vec![
            ("name".into(), Some("sodr".into())),
            ("version".into(), None)
        ]))
    );
    assert_eq!(body("a ID NIL\r\n"), CommandBody::Id(None));
    assert_eq!(
        body("a001 LOGIN SMITH SESAME\r\n"),
        CommandBody::Login {
            user: "SMITH".into(),
            password: "SESAME".into()
        }
    );
    // RFC 9051 §6.2.2 / RFC 4959 SASL-IR.
    assert_eq!(
        body("A01 AUTHENTICATE PLAIN dGVzdAB0ZXN0AHRlc3Q=\r\n"),
        CommandBody::Authenticate {
            mechanism: "PLAIN".into(),
            initial: Some(b"test\0test\0test".to_vec())
        }
    );
    assert_eq!(
        body("A01 AUTHENTICATE plain =\r\n"),
        CommandBody::Authenticate {
            mechanism: "PLAIN".into(),
            initial: Some(Vec::new())
        }
    );
    assert_eq!(body("a STARTTLS\r\n"), CommandBody::StartTls);
}

#[test]
fn mailbox_commands() {
    let inbox = Mailbox::new("INBOX");
    assert_eq!(
        body("A142 SELECT INBOX\r\n"),
        CommandBody::Select {
            mailbox: inbox.clone(),
            params: SelectParams::default()
        }
    );
    // RFC 7162 §3.2.5.2 example.
    let c = body("A02 SELECT INBOX (QRESYNC (67890007 20050715194045000 41,43:211,214:541))\r\n");
    let CommandBody::Select { params, .. } = c else {
        panic!("{c:?}");
    };
    let q = params.qresync.expect("qresync");
    assert_eq!(
        (q.uidvalidity, q.modseq),
        (67_890_007, 20_050_715_194_045_000)
    );
    assert_eq!(q.known_uids, Some(set("41,43:211,214:541")));
    let c = body(
        "B04 SELECT INBOX (QRESYNC (67890007 90060115194045000 1:29997 (5000,7500,9000,9990:9999 15000,22500,27000,29970,29973,29976:29979)))\r\n",
    );
    let CommandBody::Select { params, .. } = c else {
        panic!("{c:?}");
    };
    assert!(params.qresync.expect("qresync").seq_match.is_some());
    assert_eq!(
        body("A932 EXAMINE blurdybloop (CONDSTORE)\r\n"),
        CommandBody::Examine {
            mailbox: Mailbox::new("blurdybloop"),
            params: SelectParams {
                condstore: true,
                qresync: None
            }
        }
    );
    // \Important (RFC 8457) is not a special use moxd knows.
    bad("t1 CREATE x (USE (\\Important))\r\n");
    assert_eq!(
        body("t1 CREATE MySpecial (USE (\\Drafts \\Sent))\r\n"),
        CommandBody::Create {
            mailbox: Mailbox::new("MySpecial"),
            special_use: vec![SpecialUse::Drafts, SpecialUse::Sent]
        }
    );
    assert_eq!(
        body("A683 RENAME blurdybloop sarasoop\r\n"),
        CommandBody::Rename {
            from: Mailbox::new("blurdybloop"),
            to: Mailbox::new("sarasoop")
        }
    );
    assert_eq!(
        body("A042 STATUS blurdybloop (UIDNEXT MESSAGES SIZE HIGHESTMODSEQ DELETED)\r\n"),
        CommandBody::Status {
            mailbox: Mailbox::new("blurdybloop"),
            items: vec![
                StatusItem::UidNext,
                StatusItem::Messages,
                StatusItem::Size,
                StatusItem::HighestModSeq,
                StatusItem::Deleted
            ]
        }
    );
    assert_eq!(
        body("A002 LSUB \"#news.\" \"comp.mail.*\"\r\n"),
        CommandBody::Lsub {
            reference: "#news.".into(),
            pattern: "comp.mail.*".into()
        }
    );
    assert_eq!(
        body("a ENABLE CONDSTORE UTF8=ACCEPT\r\n"),
        CommandBody::Enable(vec!["CONDSTORE".into(), "UTF8=ACCEPT".into()])
    );
    assert_eq!(
        body("G GETQUOTAROOT INBOX\r\n"),
        CommandBody::GetQuotaRoot(inbox)
    );
}

#[test]
fn append_with_literals() {
    // RFC 9051 §6.3.12 example (synchronizing literal inline).
    let msg = "Date: Mon, 7 Feb 1994 21:52:25 -0800 (PST)\r\n\r\nHello Joe\r\n";
    let cmd = format!(
        "A003 APPEND saved-messages (\\Seen) \"07-Feb-1994 21:52:25 -0800\" {{{}}}\r\n{msg}\r\n",
        msg.len()
    );
    let CommandBody::Append { mailbox, messages } = body(&cmd) else {
        panic!();
    };
    assert_eq!(mailbox.as_str(), "saved-messages");
    assert_eq!(messages.len(), 1);
    assert_eq!(messages[0].flags, vec![Flag::Seen]);
    assert_eq!(messages[0].data, msg.as_bytes());
    assert_eq!(messages[0].date.map(|d| d.offset_minutes), Some(-480));
    // RFC 3502 MULTIAPPEND, RFC 3516 literal8.
    let CommandBody::Append { messages, .. } =
        body("A APPEND x {1+}\r\na (\\Draft) ~{3}\r\nb\0c\r\n")
    else {
        panic!();
    };
    assert_eq!(messages.len(), 2);
    assert!(messages[1].binary && messages[1].data == b"b\0c");
    bad("A APPEND x\r\n");
    bad("A APPEND x (\\Seen)\r\n");
}

#[test]
fn selected_state_commands() {
    assert_eq!(
        body("A654 FETCH 2:4 (FLAGS BODY[HEADER.FIELDS (DATE FROM)])\r\n"),
        CommandBody::Fetch {
            uid: false,
            set: set("2:4"),
            attrs: vec![
                FetchAttr::Flags,
                FetchAttr::BodySection {
                    peek: false,
                    section: Section {
                        part: vec![],
                        text: Some(SectionText::HeaderFields {
                            not: false,
                            fields: vec!["DATE".into(), "FROM".into()]
                        })
                    },
                    partial: None
                }
            ],
            modifiers: FetchModifiers::default()
        }
    );
    // RFC 7162 §3.2.6 example.
    let c = body("A02 UID FETCH 300:500 (FLAGS) (CHANGEDSINCE 12345 VANISHED)\r\n");
    let CommandBody::Fetch { uid, modifiers, .. } = c else {
        panic!();
    };
    assert!(uid && modifiers.vanished && modifiers.changed_since == Some(12345));
    assert_eq!(
        body("A003 STORE 2:4 +FLAGS (\\Deleted)\r\n"),
        CommandBody::Store {
            uid: false,
            set: set("2:4"),
            action: StoreAction {
                op: StoreOp::Add,
                silent: false,
                flags: vec![Flag::Deleted],
                unchanged_since: None
            }
        }
    );
    // RFC 7162 §3.1.3 example; flags without parentheses (RFC 3501).
    let c =
        body("a103 UID STORE 6,4,8 (UNCHANGEDSINCE 12121230045) -FLAGS.SILENT \\Deleted $x\r\n");
    let CommandBody::Store { action, .. } = c else {
        panic!();
    };
    assert_eq!(action.unchanged_since, Some(12_121_230_045));
    assert!(action.silent && action.op == StoreOp::Remove && action.flags.len() == 2);
    assert_eq!(
        body("A003 UID COPY 2:4 MEETING\r\n"),
        CommandBody::Copy {
            uid: true,
            set: set("2:4"),
            mailbox: Mailbox::new("MEETING")
        }
    );
    assert_eq!(body("a MOVE 1:* Trash\r\n").name(), "MOVE");
    assert_eq!(
        body("A004 UID EXPUNGE 3000:3002\r\n"),
        CommandBody::UidExpunge(set("3000:3002"))
    );
    let c = body("A282 SORT (SUBJECT REVERSE DATE) UTF-8 SINCE 1-Feb-1994\r\n");
    let CommandBody::Sort { criteria, key, .. } = c else {
        panic!();
    };
    assert_eq!(criteria[1].key, SortKey::Date);
    assert!(criteria[1].reverse);
    assert_eq!(key, SearchKey::Since(Date::new(1994, 2, 1).unwrap()));
    assert_eq!(
        body("A283 THREAD ORDEREDSUBJECT UTF-8 SINCE 5-MAR-2000\r\n").name(),
        "THREAD"
    );
    bad("A THREAD BOGUS UTF-8 ALL\r\n");
}

#[test]
fn rejections_keep_the_tag() {
    let r = bad("a1 FROB\r\n");
    assert_eq!(r.tag.as_deref(), Some("a1"));
    assert_eq!(r.error, ParseError::UnknownCommand("FROB".into()));
    assert_eq!(bad("+x NOOP\r\n").tag, None, "tag may not contain +");
    assert_eq!(bad("\r\n").tag, None);
    assert_eq!(bad("a NOOP extra\r\n").tag.as_deref(), Some("a"));
    bad("a NOOP\r\nb NOOP\r\n");
    // Threats T5: NUL in quoted strings and literals.
    bad("a LOGIN \"a\0b\" p\r\n");
    bad("a LOGIN {3}\r\na\0b p\r\n");
    // Threats T7: overlong UTF-8 and bad modified UTF-7.
    bad_bytes(b"a LOGIN \"\xc0\xaf\" p\r\n");
    bad("a DELETE &AGE-\r\n");
    bad_bytes(b"a DELETE \"caf\xc3\xa9\"\r\n");
    // SELECT parses such names as naming no mailbox (answered NO).
    let c = body("a SELECT &AGE-\r\n");
    assert!(matches!(c, CommandBody::Select { ref mailbox, .. } if mailbox.is_undecodable()));
    let utf8 = parse_command("a SELECT \"café\"\r\n".as_bytes(), Options { utf8: true });
    assert!(utf8.is_ok(), "{utf8:?}");
    // Threats T11: nesting in any list.
    bad(&format!("a FETCH 1 {}FLAGS\r\n", "(".repeat(100)));
    bad(&format!("a STATUS x {}MESSAGES\r\n", "(".repeat(100)));
}

#[test]
fn names_not_valid_modified_utf7() {
    // imaptest atoms: SELECT gets NO (no such mailbox), LIST matches
    // nothing; both parse.
    let name = "!#$&'+,-.0123456789:;<=>?@^_`|[}";
    let c = body(&format!("a SELECT {name}\r\n"));
    let CommandBody::Select { mailbox, .. } = c else {
        panic!("{c:?}");
    };
    assert!(mailbox.is_undecodable());
    let c = body(&format!("a LIST \"\" {name}%*\r\n"));
    let CommandBody::List(l) = c else {
        panic!("{c:?}");
    };
    assert!(l.patterns.is_empty(), "{l:?}");
    let c = body("a LIST \"\" (a&b x&-y)\r\n");
    let CommandBody::List(l) = c else {
        panic!("{c:?}");
    };
    assert_eq!(l.patterns, ["x&y"]);
    let c = body("a LIST a&b (x y)\r\n");
    let CommandBody::List(l) = c else {
        panic!("{c:?}");
    };
    assert!(l.patterns.is_empty(), "{l:?}");
    // Names that would be created or changed stay syntax errors.
    bad(&format!("a CREATE {name}\r\n"));
    bad(&format!("a RENAME x {name}\r\n"));
}
