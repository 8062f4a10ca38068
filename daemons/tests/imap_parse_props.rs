//! Property tests of the IMAP parser: any input is parsed or rejected
//! without a panic (also the framer and the MIME walker), and every
//! generated `Command` survives the trip to wire form and back, with
//! mailbox names in modified UTF-7 and in UTF-8.

use daemons::imap::datetime::{Date, DateTime};
use daemons::imap::parse::frame::{Frame, FrameLimits, trailing_literal};
use daemons::imap::parse::serialize::to_wire;
use daemons::imap::parse::*;
use daemons::imap::parsed::ParsedMessage;
use proptest::collection::vec;
use proptest::option;
use proptest::prelude::*;

const LIMITS: FrameLimits = FrameLimits {
    max_literal: 1000,
    max_append_literal: 10_000,
    max_literals: 10,
    max_command: 20_000,
    max_append_command: 20_000,
};

/// Inputs that reach deep into the parser: a tag, a command name and
/// random bytes.
fn command_like() -> impl Strategy<Value = Vec<u8>> {
    let names = prop::sample::select(vec![
        "FETCH 1:* ",
        "UID FETCH 1 ",
        "SEARCH ",
        "UID SEARCH RETURN (",
        "STORE 1 ",
        "APPEND INBOX ",
        "LIST ",
        "SELECT x (",
        "STATUS x (",
        "SORT (",
        "THREAD ",
        "ID (",
        "LOGIN ",
        "AUTHENTICATE PLAIN ",
        "CREATE x (USE (",
        "ENABLE ",
        "",
    ]);
    (names, vec(any::<u8>(), 0..200)).prop_map(|(n, tail)| {
        let mut v = format!("a1 {n}").into_bytes();
        v.extend(tail);
        v
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn random_input_never_panics(bytes in prop_oneof![vec(any::<u8>(), 0..300), command_like()],
                                 utf8 in any::<bool>()) {
        let _ = parse_command(&bytes, Options { utf8 });
        let _ = trailing_literal(&bytes);
        let mut f = Frame::new();
        for line in bytes.split_inclusive(|b| *b == b'\n') {
            match f.push_line(line, &LIMITS) {
                Ok(Some(h)) => f.push_literal(&vec![b'x'; (h.len as usize).min(100)]),
                Ok(None) => {}
                Err(_) => break,
            }
        }
    }

    #[test]
    fn random_messages_never_panic(bytes in vec(any::<u8>(), 0..2000), path in vec(1u32..4, 0..4)) {
        let p = ParsedMessage::from_bytes(&bytes);
        let _ = p.binary(&bytes, &path);
        for text in [None, Some(SectionText::Header), Some(SectionText::Text), Some(SectionText::Mime)] {
            let _ = p.section(&bytes, &Section { part: path.clone(), text });
        }
    }
}

fn atom() -> impl Strategy<Value = String> {
    "[A-Za-z0-9$][A-Za-z0-9._$-]{0,8}"
}

fn text() -> impl Strategy<Value = String> {
    prop_oneof![
        "[ -~]{0,12}",
        "[a-zäöüß€😀 \"\\\\]{0,8}",
        "[a-z]{0,3}\r\n[a-z]{0,3}"
    ]
}

fn mailbox() -> impl Strategy<Value = Mailbox> {
    prop_oneof![
        Just("INBOX".to_string()),
        "inbox/[a-z]{1,5}",
        "[A-Za-z0-9 ._&-]{1,12}",
        "[a-zäöü]{1,5}/[A-Za-z&]{1,5}",
        "[a-z😀]{1,4}",
    ]
    .prop_map(|s| Mailbox::new(&s))
}

fn list_name() -> impl Strategy<Value = String> {
    prop_oneof!["", "[A-Za-z0-9%*/ &-]{1,10}", "[a-zé%*]{1,6}"]
}

fn seq_set() -> impl Strategy<Value = SequenceSet> {
    let num = prop_oneof![
        (1u32..5000).prop_map(SeqNumber::Value),
        Just(SeqNumber::Last)
    ];
    prop_oneof![
        1 => Just(SequenceSet::Saved),
        8 => vec((num.clone(), num), 1..4).prop_map(|v| SequenceSet::Ranges(
            v.into_iter().map(|(from, to)| SeqRange { from, to }).collect()
        )),
    ]
}

fn date() -> impl Strategy<Value = Date> {
    (1970i32..2100, 1u8..=12, 1u8..=28).prop_map(|(y, m, d)| Date::new(y, m, d).expect("valid"))
}

fn date_time() -> impl Strategy<Value = DateTime> {
    (date(), 0u8..24, 0u8..60, 0u8..60, -48i32..=56)
        .prop_map(|(d, h, mi, s, q)| DateTime::new(d, h, mi, s, q * 15).expect("valid"))
}

fn flag() -> impl Strategy<Value = Flag> {
    prop_oneof![
        Just(Flag::Seen),
        Just(Flag::Answered),
        Just(Flag::Flagged),
        Just(Flag::Deleted),
        Just(Flag::Draft),
        atom().prop_map(Flag::Keyword),
        "X[a-z]{1,6}".prop_map(Flag::Extension),
    ]
}

fn search_key() -> impl Strategy<Value = SearchKey> {
    let leaf = prop_oneof![
        Just(SearchKey::All),
        Just(SearchKey::Seen),
        Just(SearchKey::Unanswered),
        Just(SearchKey::Recent),
        Just(SearchKey::SaveDateSupported),
        text().prop_map(SearchKey::Subject),
        text().prop_map(SearchKey::Body),
        (atom(), text()).prop_map(|(n, v)| SearchKey::Header(n, v)),
        atom().prop_map(SearchKey::Keyword),
        (0u64..=i64::MAX as u64).prop_map(SearchKey::Larger),
        seq_set().prop_map(SearchKey::Uid),
        seq_set().prop_map(SearchKey::Sequence),
        date().prop_map(SearchKey::Before),
        date().prop_map(SearchKey::SentOn),
        date().prop_map(SearchKey::SavedSince),
        (0u64..=i64::MAX as u64).prop_map(SearchKey::ModSeq),
        (1u64..=u32::MAX as u64).prop_map(SearchKey::Older),
    ];
    leaf.prop_recursive(4, 24, 3, |inner| {
        prop_oneof![
            inner.clone().prop_map(|k| SearchKey::Not(Box::new(k))),
            (inner.clone(), inner.clone())
                .prop_map(|(a, b)| SearchKey::Or(Box::new(a), Box::new(b))),
            vec(inner, 1..3).prop_map(SearchKey::And),
        ]
    })
}

fn section() -> impl Strategy<Value = Section> {
    let text = prop_oneof![
        Just(None),
        Just(Some(SectionText::Header)),
        Just(Some(SectionText::Text)),
        (any::<bool>(), vec("[A-Za-z-]{1,10}", 1..3))
            .prop_map(|(not, fields)| Some(SectionText::HeaderFields { not, fields })),
    ];
    (vec(1u32..20, 0..4), text, any::<bool>()).prop_map(|(part, text, mime)| {
        let text = if mime && !part.is_empty() {
            Some(SectionText::Mime)
        } else {
            text
        };
        Section { part, text }
    })
}

fn partial() -> impl Strategy<Value = Option<Partial>> {
    option::of(
        (0u64..1 << 40, 1u64..1 << 40).prop_map(|(offset, length)| Partial { offset, length }),
    )
}

fn fetch_attr() -> impl Strategy<Value = FetchAttr> {
    prop_oneof![
        Just(FetchAttr::Envelope),
        Just(FetchAttr::Flags),
        Just(FetchAttr::InternalDate),
        Just(FetchAttr::Rfc822),
        Just(FetchAttr::Rfc822Header),
        Just(FetchAttr::Rfc822Size),
        Just(FetchAttr::Rfc822Text),
        Just(FetchAttr::Body),
        Just(FetchAttr::BodyStructure),
        Just(FetchAttr::Uid),
        Just(FetchAttr::ModSeq),
        Just(FetchAttr::SaveDate),
        any::<bool>().prop_map(|lazy| FetchAttr::Preview { lazy }),
        (any::<bool>(), section(), partial()).prop_map(|(peek, section, partial)| {
            FetchAttr::BodySection {
                peek,
                section,
                partial,
            }
        }),
        (any::<bool>(), vec(1u32..9, 0..3), partial()).prop_map(|(peek, part, partial)| {
            FetchAttr::Binary {
                peek,
                part,
                partial,
            }
        }),
        vec(1u32..9, 0..3).prop_map(|part| FetchAttr::BinarySize { part }),
    ]
}

fn status_items() -> impl Strategy<Value = Vec<StatusItem>> {
    vec(prop::sample::select(StatusItem::ALL.to_vec()), 1..4)
}

fn list_command() -> impl Strategy<Value = ListCommand> {
    let select = (any::<bool>(), any::<bool>(), any::<bool>(), any::<bool>()).prop_map(
        |(subscribed, remote, recursive_match, special_use)| ListSelect {
            subscribed: subscribed || recursive_match,
            remote,
            recursive_match,
            special_use,
        },
    );
    let returns = (
        any::<bool>(),
        any::<bool>(),
        any::<bool>(),
        option::of(status_items()),
    )
        .prop_map(|(subscribed, children, special_use, status)| ListReturn {
            subscribed,
            children,
            special_use,
            status,
        });
    (
        select,
        list_name(),
        vec(list_name(), 1..3),
        returns,
        any::<bool>(),
    )
        .prop_map(|(select, reference, patterns, returns, ext)| {
            let extended = ext
                || select != ListSelect::default()
                || returns != ListReturn::default()
                || patterns.len() != 1;
            ListCommand {
                select,
                reference,
                patterns,
                returns,
                extended,
            }
        })
}

fn search_program() -> impl Strategy<Value = SearchProgram> {
    let ret = prop::sample::select(vec![
        SearchReturn::Min,
        SearchReturn::Max,
        SearchReturn::All,
        SearchReturn::Count,
        SearchReturn::Save,
    ]);
    (
        option::of(vec(ret, 0..3)),
        option::of("[A-Za-z0-9-]{1,10}"),
        search_key(),
    )
        .prop_map(|(returns, charset, key)| SearchProgram {
            returns,
            charset,
            key,
        })
}

fn store_action() -> impl Strategy<Value = StoreAction> {
    let op = prop::sample::select(vec![StoreOp::Replace, StoreOp::Add, StoreOp::Remove]);
    (
        op,
        any::<bool>(),
        vec(flag(), 0..4),
        option::of(0u64..=i64::MAX as u64),
    )
        .prop_map(|(op, silent, flags, unchanged_since)| StoreAction {
            op,
            silent,
            flags,
            unchanged_since,
        })
}

fn select_params() -> impl Strategy<Value = SelectParams> {
    let q = (
        1u32..,
        1u64..=i64::MAX as u64,
        option::of(seq_set()),
        option::of((seq_set(), seq_set())),
    )
        .prop_map(|(uidvalidity, modseq, known_uids, seq_match)| Qresync {
            uidvalidity,
            modseq,
            known_uids,
            seq_match,
        });
    (any::<bool>(), option::of(q))
        .prop_map(|(condstore, qresync)| SelectParams { condstore, qresync })
}

fn append_message() -> impl Strategy<Value = AppendMessage> {
    (
        vec(flag(), 0..3),
        option::of(date_time()),
        vec(any::<u8>(), 0..40),
        any::<bool>(),
    )
        .prop_map(|(flags, date, data, binary)| AppendMessage {
            flags,
            date,
            data,
            binary,
        })
}

fn sort_criterion() -> impl Strategy<Value = SortCriterion> {
    (any::<bool>(), prop::sample::select(SortKey::ALL.to_vec()))
        .prop_map(|(reverse, key)| SortCriterion { reverse, key })
}

fn body() -> impl Strategy<Value = CommandBody> {
    use CommandBody as C;
    let simple = prop::sample::select(vec![
        C::Capability,
        C::Noop,
        C::Logout,
        C::StartTls,
        C::Namespace,
        C::Idle,
        C::Check,
        C::Close,
        C::Unselect,
        C::Expunge,
    ]);
    let id_pair = ("[a-z-]{1,10}", option::of(text()));
    prop_oneof![
        simple,
        option::of(vec(id_pair, 0..4)).prop_map(C::Id),
        ("[A-Z0-9-]{1,12}", option::of(vec(any::<u8>(), 0..20)))
            .prop_map(|(mechanism, initial)| C::Authenticate { mechanism, initial }),
        (text(), text()).prop_map(|(user, password)| C::Login { user, password }),
        vec("[A-Za-z0-9=+-]{1,10}", 1..3).prop_map(C::Enable),
        (mailbox(), select_params()).prop_map(|(mailbox, params)| C::Select { mailbox, params }),
        (mailbox(), select_params()).prop_map(|(mailbox, params)| C::Examine { mailbox, params }),
        (
            mailbox(),
            vec(prop::sample::select(SpecialUse::ALL.to_vec()), 0..2)
        )
            .prop_map(|(mailbox, special_use)| C::Create {
                mailbox,
                special_use
            }),
        mailbox().prop_map(C::Delete),
        (mailbox(), mailbox()).prop_map(|(from, to)| C::Rename { from, to }),
        mailbox().prop_map(C::Subscribe),
        mailbox().prop_map(C::Unsubscribe),
        list_command().prop_map(C::List),
        (list_name(), list_name()).prop_map(|(reference, pattern)| C::Lsub { reference, pattern }),
        (mailbox(), status_items()).prop_map(|(mailbox, items)| C::Status { mailbox, items }),
        (mailbox(), vec(append_message(), 1..3))
            .prop_map(|(mailbox, messages)| C::Append { mailbox, messages }),
        text().prop_map(C::GetQuota),
        mailbox().prop_map(C::GetQuotaRoot),
        (text(), vec(("[A-Z]{1,8}", 0u64..=i64::MAX as u64), 0..3))
            .prop_map(|(root, limits)| C::SetQuota { root, limits }),
        "[A-Z]{1,8}".prop_map(C::Compress),
        seq_set().prop_map(C::UidExpunge),
        (any::<bool>(), search_program()).prop_map(|(uid, program)| C::Search { uid, program }),
        (
            any::<bool>(),
            seq_set(),
            vec(fetch_attr(), 1..4),
            option::of(1u64..=i64::MAX as u64),
            any::<bool>()
        )
            .prop_map(|(uid, set, attrs, changed_since, vanished)| C::Fetch {
                uid,
                set,
                attrs,
                modifiers: FetchModifiers {
                    changed_since,
                    vanished
                },
            }),
        (any::<bool>(), seq_set(), store_action()).prop_map(|(uid, set, action)| C::Store {
            uid,
            set,
            action
        }),
        (any::<bool>(), seq_set(), mailbox()).prop_map(|(uid, set, mailbox)| C::Copy {
            uid,
            set,
            mailbox
        }),
        (any::<bool>(), seq_set(), mailbox()).prop_map(|(uid, set, mailbox)| C::Move {
            uid,
            set,
            mailbox
        }),
        (
            any::<bool>(),
            vec(sort_criterion(), 1..3),
            "[A-Z0-9-]{1,8}",
            search_key()
        )
            .prop_map(|(uid, criteria, charset, key)| C::Sort {
                uid,
                criteria,
                charset,
                key
            }),
        (
            any::<bool>(),
            prop::sample::select(vec![
                ThreadAlgorithm::OrderedSubject,
                ThreadAlgorithm::References
            ]),
            "[A-Z0-9-]{1,8}",
            search_key()
        )
            .prop_map(|(uid, algorithm, charset, key)| C::Thread {
                uid,
                algorithm,
                charset,
                key
            }),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(3000))]

    #[test]
    fn commands_round_trip(tag in "[A-Za-z0-9.]{1,8}", body in body(), utf8 in any::<bool>()) {
        let cmd = Command { tag, body };
        let wire = to_wire(&cmd, utf8);
        let back = parse_command(&wire, Options { utf8 });
        prop_assert_eq!(
            back.as_ref(),
            Ok(&cmd),
            "wire: {:?}",
            String::from_utf8_lossy(&wire)
        );
    }
}
