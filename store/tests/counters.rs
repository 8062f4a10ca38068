//! The counts kept in each mailbox row (messages, unseen, deleted, size;
//! the keywords of its FLAGS) against a recount of its messages after
//! every step of a random sequence of deliveries, APPENDs, STOREs, COPYs,
//! MOVEs and expunges; and the \Recent claims (RFC 3501 §2.3.2).

mod common;

use std::collections::BTreeSet;

use common::*;
use ipc::store::{AppendMessage, FlagChange, FlagOp, MailboxInfo};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use store::Store;

/// Steps of the random sequence.
const STEPS: usize = 400;
const MAILBOXES: [&str; 3] = ["Inbox", "Archive", "Trash"];
const FLAGS: [&str; 6] = ["\\Seen", "\\Deleted", "\\Flagged", "$Junk", "work", "later"];
/// Keywords the store keeps as bits (flags.rs), never in a keyword list.
const BIT_KEYWORDS: [&str; 5] = ["$Forwarded", "$Junk", "$NotJunk", "$Phishing", "$MDNSent"];

fn some_flags(rng: &mut StdRng) -> Vec<String> {
    FLAGS
        .iter()
        .filter(|_| rng.random_bool(0.3))
        .map(|f| f.to_string())
        .collect()
}

fn some_uids(rng: &mut StdRng, s: &Store, mailbox: &str) -> Vec<u32> {
    let all: Vec<u32> = s
        .message_list("mox", mailbox)
        .unwrap()
        .iter()
        .map(|m| m.uid)
        .collect();
    let mut picked: Vec<u32> = all.into_iter().filter(|_| rng.random_bool(0.4)).collect();
    // Sometimes a UID that does not exist.
    if rng.random_bool(0.2) {
        picked.push(rng.random_range(1..500));
    }
    picked
}

fn info(s: &Store, mailbox: &str) -> MailboxInfo {
    s.mailboxes("mox")
        .unwrap()
        .into_iter()
        .find(|m| m.name == mailbox)
        .unwrap()
}

/// Compares each mailbox's kept counts with a recount of its messages.
fn check(s: &Store, step: usize, what: &str) {
    let mut total = (0u64, 0u64);
    for mb in MAILBOXES {
        let msgs = s.message_list("mox", mb).unwrap();
        let has = |m: &ipc::store::MessageInfo, f: &str| m.flags.iter().any(|x| x == f);
        let want = (
            msgs.len() as u64,
            msgs.iter().filter(|m| !has(m, "\\Seen")).count() as u64,
            msgs.iter().filter(|m| has(m, "\\Deleted")).count() as u64,
            msgs.iter().map(|m| m.size).sum::<u64>(),
        );
        let i = info(s, mb);
        assert_eq!(
            (i.messages, i.unseen, i.deleted, i.size),
            want,
            "{mb} after step {step} ({what})"
        );
        assert_eq!(s.mailbox_status("mox", mb).unwrap(), i, "{mb}: STATUS");
        let page = s.mailbox_select("mox", mb, 0, 1000).unwrap();
        assert_eq!(page.mailbox, i, "{mb}: SELECT");
        let uids: Vec<u32> = page.uids.iter().flat_map(|&(a, b)| a..=b).collect();
        assert_eq!(uids, msgs.iter().map(|m| m.uid).collect::<Vec<_>>(), "{mb}");
        let unseen = msgs.iter().find(|m| !has(m, "\\Seen")).map(|m| m.uid);
        assert_eq!(page.first_unseen, unseen, "{mb}: first unseen");
        let listed: BTreeSet<&str> = page.keywords.iter().map(String::as_str).collect();
        for m in &msgs {
            for f in &m.flags {
                if !f.starts_with('\\') && !BIT_KEYWORDS.contains(&f.as_str()) {
                    assert!(listed.contains(f.as_str()), "{mb}: keyword {f} in FLAGS");
                }
            }
        }
        total.0 += want.0;
        total.1 += want.3;
    }
    assert_eq!(
        s.quota("mox").unwrap().0,
        total.1,
        "quota after step {step}"
    );
    let acc = s.account_list().unwrap();
    assert_eq!((acc[0].messages, acc[0].size), total, "account list");
}

#[test]
fn kept_counts_equal_a_recount_after_random_changes() {
    let seed: u64 = std::env::var("COUNTERS_SEED")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(20_261_126);
    eprintln!("seed {seed} (COUNTERS_SEED)");
    let mut rng = StdRng::seed_from_u64(seed);
    let (_d, s) = with_account();
    let ids: Vec<i64> = MAILBOXES.iter().map(|m| info(&s, m).id).collect();
    for step in 0..STEPS {
        let mb = rng.random_range(0..MAILBOXES.len());
        let (name, id) = (MAILBOXES[mb], ids[mb]);
        let other = MAILBOXES[(mb + rng.random_range(1..MAILBOXES.len())) % MAILBOXES.len()];
        let what = match rng.random_range(0..8) {
            0 | 1 => {
                let flags: Vec<String> = some_flags(&mut rng);
                let f: Vec<&str> = flags.iter().map(String::as_str).collect();
                let body = vec![b'x'; rng.random_range(1..300)];
                s.deliver(delivery("mox", name, b"Received: x\r\n", &f), memfd(&body))
                    .unwrap();
                "deliver"
            }
            2 => {
                let n = rng.random_range(1..4);
                let msgs = (0..n)
                    .map(|_| AppendMessage {
                        flags: some_flags(&mut rng),
                        received: None,
                        parsed: None,
                    })
                    .collect();
                let fds = (0..n).map(|i| memfd(&vec![b'a'; 10 + i])).collect();
                s.append("mox", name, msgs, fds).unwrap();
                "append"
            }
            3 => {
                let op = [FlagOp::Add, FlagOp::Remove, FlagOp::Replace][rng.random_range(0..3)];
                s.store_flags(&FlagChange {
                    account: "mox".into(),
                    mailbox_id: id,
                    uids: some_uids(&mut rng, &s, name),
                    op,
                    flags: some_flags(&mut rng),
                    unchanged_since: None,
                })
                .unwrap();
                "store"
            }
            4 => {
                if let Some(&uid) = some_uids(&mut rng, &s, name).first()
                    && s.message_list("mox", name)
                        .unwrap()
                        .iter()
                        .any(|m| m.uid == uid)
                {
                    s.set_flags("mox", name, uid, &some_flags(&mut rng))
                        .unwrap();
                }
                "set flags"
            }
            5 => {
                let uids = some_uids(&mut rng, &s, name);
                s.copy_messages("mox", id, &uids, other, rng.random_bool(0.5))
                    .unwrap();
                "copy or move"
            }
            6 => {
                let uids = some_uids(&mut rng, &s, name);
                let only = rng.random_bool(0.5).then_some(uids.as_slice());
                s.expunge_deleted("mox", id, only).unwrap();
                "expunge deleted"
            }
            _ => {
                let uids = some_uids(&mut rng, &s, name);
                s.expunge("mox", name, &uids).unwrap();
                "expunge"
            }
        };
        check(&s, step, what);
    }
    // And after reopening (nothing is kept only in memory).
    drop(s);
    let s = open(_d.path());
    check(&s, STEPS, "reopen");
}

#[test]
fn recent_is_claimed_once() {
    let (_d, s) = with_account();
    for _ in 0..3 {
        s.deliver(delivery("mox", "Inbox", b"", &[]), memfd(b"m\r\n"))
            .unwrap();
    }
    let id = info(&s, "Inbox").id;
    assert_eq!(info(&s, "Inbox").recent, 3);
    // EXAMINE looks without claiming.
    assert_eq!(s.recent_claim("mox", id, 2, false).unwrap(), Some((1, 2)));
    assert_eq!(info(&s, "Inbox").recent, 3);
    // The first claim gets them, the next one nothing.
    assert_eq!(s.recent_claim("mox", id, 2, true).unwrap(), Some((1, 2)));
    assert_eq!(s.recent_claim("mox", id, 2, true).unwrap(), None);
    assert_eq!(s.mailbox_status("mox", "Inbox").unwrap().recent, 1);
    // UIDs not yet used are not claimed early.
    assert_eq!(s.recent_claim("mox", id, 100, true).unwrap(), Some((3, 3)));
    assert_eq!(s.recent_claim("mox", id, 100, false).unwrap(), None);
    assert_eq!(info(&s, "Inbox").recent, 0);
    let d = s
        .deliver(delivery("mox", "Inbox", b"", &[]), memfd(b"new\r\n"))
        .unwrap();
    assert_eq!(d.uid, 4);
    let page = s.mailbox_select("mox", "Inbox", 0, 10).unwrap();
    assert_eq!((page.first_unclaimed_uid, page.mailbox.recent), (4, 1));
    // Copies are new messages of their mailbox: unclaimed.
    s.copy_messages("mox", id, &[1, 2], "Archive", false)
        .unwrap();
    assert_eq!(info(&s, "Archive").recent, 2);
    // Expunged messages no longer count.
    s.expunge("mox", "Inbox", &[4]).unwrap();
    assert_eq!(info(&s, "Inbox").recent, 0);
    assert_eq!(s.recent_claim("mox", id, 4, true).unwrap(), Some((4, 4)));
    assert_eq!(
        s.recent_claim("mox", 999, 1, true).unwrap_err().kind,
        ipc::store::StoreErrorKind::NotFound
    );
}
