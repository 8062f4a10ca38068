//! The store backend against a scripted store over real IPC: a fake
//! master hands the worker a socketpair whose other end answers store
//! requests from a test's function and records them, so the tests see
//! exactly which requests each backend method makes.

use std::io::Read;
use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::net::UnixStream;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use ipc::config::{SandboxMode, WorkerBootstrap};
use ipc::hello::handshake;
use ipc::master::{MasterToWorker, WorkerToMaster};
use ipc::role::Peer;
use ipc::sandbox::{FeatureState, SandboxReport};
use ipc::store::{
    ChangeEvent, MAX_PAGE, MAX_SELECT_RANGES, MailboxInfo, MessageMeta, SelectPage, StoreError,
    StoreErrorKind, StoreReply, StoreRequest,
};
use ipc::{AsyncSender, Role};
use tokio::sync::broadcast::error::RecvError;

use super::StoreBackend;
use super::content::sealed_memfd;
use crate::imap::backend::{Backend, BackendError, NewMessage};
use crate::imap::parsed::ParsedMessage;
use crate::worker::{self, WorkerContext};

/// Upper bound of every wait in these tests.
const WAIT: Duration = Duration::from_secs(10);

type Handler = dyn Fn(&StoreRequest, Vec<OwnedFd>) -> (StoreReply, Option<OwnedFd>) + Send + Sync;

struct FakeStore {
    log: Arc<Mutex<Vec<StoreRequest>>>,
    /// (account, request id) of each subscription.
    subs: Arc<Mutex<Vec<(String, u64)>>>,
    tx: Arc<Mutex<Option<AsyncSender>>>,
    task: Arc<Mutex<Option<tokio::task::JoinHandle<()>>>>,
}

impl FakeStore {
    fn requests(&self) -> Vec<StoreRequest> {
        self.log.lock().unwrap().clone()
    }

    fn count(&self, f: impl Fn(&StoreRequest) -> bool) -> usize {
        self.requests().iter().filter(|r| f(r)).count()
    }

    async fn emit(&self, account: &str, ev: ChangeEvent) {
        let tx = self.tx.lock().unwrap().clone().expect("store open");
        let ids: Vec<u64> = self
            .subs
            .lock()
            .unwrap()
            .iter()
            .filter(|(a, _)| a == account)
            .map(|(_, id)| *id)
            .collect();
        for id in ids {
            tx.send(id, &StoreReply::Event(ev.clone()), &[])
                .await
                .unwrap();
        }
    }

    /// Closes the store's end of the connection.
    fn close(&self) {
        self.tx.lock().unwrap().take();
        if let Some(t) = self.task.lock().unwrap().take() {
            t.abort();
        }
    }
}

fn report() -> SandboxReport {
    let na = || FeatureState::NotApplicable("test".into());
    SandboxReport {
        uid: 0,
        gid: 0,
        privdrop: na(),
        capabilities: na(),
        no_new_privs: na(),
        not_dumpable: na(),
        landlock_fs: na(),
        landlock_net: na(),
        seccomp: na(),
        landlock_abi: None,
        escape_probe: None,
    }
}

fn bootstrap() -> WorkerBootstrap {
    WorkerBootstrap {
        role: Role::Imap,
        hostname: "mail.example.org".into(),
        localserve: false,
        sandbox_mode: SandboxMode::BestEffort,
        user: None,
        data_dir: None,
        domains: None,
        catchall_account: None,
        listeners: vec![],
        tls: None,
        log_filter: "info".into(),
        escape_probe: None,
        resolver: None,
        queue: None,
        smtp: None,
        imap: None,
        web: None,
        auth: None,
        dkim: Vec::new(),
    }
}

async fn serve_store(
    sock: UnixStream,
    handler: Arc<Handler>,
    log: Arc<Mutex<Vec<StoreRequest>>>,
    subs: Arc<Mutex<Vec<(String, u64)>>>,
    tx_slot: Arc<Mutex<Option<AsyncSender>>>,
) {
    let (mut rx, tx) = ipc::conn::split_std(sock).unwrap();
    handshake(&mut rx, &tx, Peer::Master).await.unwrap();
    *tx_slot.lock().unwrap() = Some(tx.clone());
    while let Ok(Some(m)) = rx.recv::<StoreRequest>().await {
        log.lock().unwrap().push(m.body.clone());
        if let StoreRequest::Subscribe { account } = &m.body {
            subs.lock().unwrap().push((account.clone(), m.id));
            tx.send(m.id, &StoreReply::Subscribed, &[]).await.unwrap();
            continue;
        }
        let (reply, fd) = handler(&m.body, m.fds);
        let fds: Vec<_> = fd.iter().map(|f| f.as_fd()).collect();
        tx.send(m.id, &reply, &fds).await.unwrap();
    }
}

/// A worker context whose store answers with `handler`.
async fn harness(handler: Arc<Handler>) -> (Arc<WorkerContext>, FakeStore) {
    let (master_end, worker_end) = UnixStream::pair().unwrap();
    let fake = FakeStore {
        log: Arc::default(),
        subs: Arc::default(),
        tx: Arc::default(),
        task: Arc::default(),
    };
    let (log, subs, tx_slot, task) = (
        fake.log.clone(),
        fake.subs.clone(),
        fake.tx.clone(),
        fake.task.clone(),
    );
    tokio::spawn(async move {
        let (mut rx, tx) = ipc::conn::split_std(master_end).unwrap();
        while let Ok(Some(m)) = rx.recv::<WorkerToMaster>().await {
            if let WorkerToMaster::NeedStoreConnection = m.body {
                // One store connection in these tests.
                if task.lock().unwrap().is_some() {
                    continue;
                }
                let (store_end, client_end) = UnixStream::pair().unwrap();
                let t = tokio::spawn(serve_store(
                    store_end,
                    handler.clone(),
                    log.clone(),
                    subs.clone(),
                    tx_slot.clone(),
                ));
                *task.lock().unwrap() = Some(t);
                tx.send(
                    0,
                    &MasterToWorker::StoreConnection,
                    &[OwnedFd::from(client_end).as_fd()],
                )
                .await
                .unwrap();
            }
        }
    });
    let ctx = worker::start(bootstrap(), worker_end, report())
        .await
        .unwrap();
    (ctx, fake)
}

fn no_handler() -> Arc<Handler> {
    Arc::new(|req, _| panic!("unexpected store request {req:?}"))
}

fn mailbox(id: i64) -> MailboxInfo {
    MailboxInfo {
        id,
        name: "Inbox".into(),
        special_use: None,
        uidvalidity: 42,
        uidnext: 45_001,
        highest_modseq: 99,
        messages: 40_500,
        unseen: 0,
        size: 0,
        deleted: 0,
        recent: 3,
    }
}

fn meta(uid: u32) -> MessageMeta {
    MessageMeta {
        uid,
        modseq: i64::from(uid) + 1,
        flags: vec!["\\Seen".into()],
        size: 100,
        received: 1_700_000_000,
        save_date: 1_700_000_001,
    }
}

const UIDS: u32 = 45_000;
/// UID ranges the fake store puts in one SELECT page.
const FAKE_RANGES: usize = 1000;

/// The fake mailbox: UIDs 1..=45000 but every tenth.
fn exists(uid: u32) -> bool {
    (1..=UIDS).contains(&uid) && !uid.is_multiple_of(10)
}

fn paging_handler() -> Arc<Handler> {
    Arc::new(|req, _| match req {
        StoreRequest::MailboxSelect {
            after_uid, limit, ..
        } => {
            assert_eq!(*limit, MAX_SELECT_RANGES);
            let mut uids: Vec<(u32, u32)> = Vec::new();
            let mut more = false;
            for u in (after_uid + 1..=UIDS).filter(|u| exists(*u)) {
                if let Some(r) = uids.last_mut()
                    && r.1 + 1 == u
                {
                    r.1 = u;
                } else if uids.len() == FAKE_RANGES {
                    more = true;
                    break;
                } else {
                    uids.push((u, u));
                }
            }
            let mut mb = mailbox(7);
            // Later pages see a newer UIDNEXT (mail arrived meanwhile).
            mb.uidnext += after_uid;
            (
                StoreReply::Selected(Box::new(SelectPage {
                    mailbox: mb,
                    uids,
                    more,
                    first_unseen: Some(5),
                    keywords: vec!["work".into()],
                    first_unclaimed_uid: 44_990,
                })),
                None,
            )
        }
        StoreRequest::MessagesChanged {
            since, after_uid, ..
        } => {
            assert_eq!(*since, 50);
            let page = (after_uid + 1..=UIDS)
                .filter(|u| u % 2 == 0)
                .take(MAX_PAGE as usize)
                .map(meta)
                .collect();
            (StoreReply::Metas(page), None)
        }
        StoreRequest::MessageMetas { uids, .. } => {
            assert!(uids.len() <= MAX_PAGE as usize, "chunk of {}", uids.len());
            (
                StoreReply::Metas(
                    uids.iter()
                        .copied()
                        .filter(|u| u % 2 == 0)
                        .map(meta)
                        .collect(),
                ),
                None,
            )
        }
        other => panic!("unexpected {other:?}"),
    })
}

#[tokio::test]
async fn select_reads_uid_ranges_in_pages() {
    let (ctx, store) = harness(paging_handler()).await;
    let b = StoreBackend::new(ctx.store.clone(), 10);
    let snap = b.select("alice", "Inbox").await.unwrap();
    let want: Vec<u32> = (1..=UIDS).filter(|u| exists(*u)).collect();
    assert_eq!(snap.uids, want);
    assert_eq!(snap.mailbox.uidvalidity, 42);
    assert_eq!((snap.mailbox.messages, snap.mailbox.recent), (40_500, 3));
    assert_eq!(snap.mailbox.highest_modseq, 99, "the first page's");
    assert_eq!(snap.mailbox.uidnext, 45_001 + 39_999, "the last page's");
    assert_eq!(snap.keywords, vec!["work"]);
    assert_eq!(snap.first_unseen, Some(5));
    assert_eq!(snap.first_unclaimed_uid, 44_990);
    let pages: Vec<u32> = store
        .requests()
        .iter()
        .filter_map(|r| match r {
            StoreRequest::MailboxSelect { after_uid, .. } => Some(*after_uid),
            _ => None,
        })
        .collect();
    assert_eq!(pages, vec![0, 9_999, 19_999, 29_999, 39_999]);
}

#[tokio::test]
async fn changed_messages_are_read_in_pages() {
    let (ctx, store) = harness(paging_handler()).await;
    let b = StoreBackend::new(ctx.store.clone(), 10);
    let changed = b.changed_since("alice", 7, 50).await.unwrap();
    assert_eq!(changed.len(), (UIDS / 2) as usize);
    assert!(changed.windows(2).all(|w| w[0].uid < w[1].uid));
    assert_eq!(changed[0].modseq, 3);
    assert_eq!(
        store.count(|r| matches!(r, StoreRequest::MessagesChanged { .. })),
        2
    );
}

#[tokio::test]
async fn metadata_goes_in_chunks() {
    let (ctx, store) = harness(paging_handler()).await;
    let b = StoreBackend::new(ctx.store.clone(), 10);
    let uids: Vec<u32> = (1..=UIDS).collect();
    let metas = b.message_meta("alice", 7, &uids).await.unwrap();
    assert_eq!(metas.len(), (UIDS / 2) as usize, "only those that exist");
    assert!(metas.iter().all(|m| m.uid % 2 == 0));
    assert_eq!(
        store.count(|r| matches!(r, StoreRequest::MessageMetas { .. })),
        3
    );
}

const PREFIX: &[u8] = b"Received: from test\r\n";
const FILE: &[u8] = b"Subject: cached\r\nContent-Type: text/plain\r\n\r\nbody\r\n";

#[tokio::test]
async fn content_is_read_once_and_its_structure_saved() {
    let handler: Arc<Handler> = Arc::new(|req, _| match req {
        StoreRequest::MessageContent { uid: 1, .. } => (
            StoreReply::Content {
                found: true,
                prefix: PREFIX.to_vec(),
                size: (PREFIX.len() + FILE.len()) as u64,
                parsed: None,
            },
            Some(sealed_memfd(FILE).unwrap()),
        ),
        StoreRequest::MessageContent { .. } => (
            StoreReply::Content {
                found: false,
                prefix: vec![],
                size: 0,
                parsed: None,
            },
            None,
        ),
        StoreRequest::MessageParsedSet { .. } => (StoreReply::Ok, None),
        other => panic!("unexpected {other:?}"),
    });
    let (ctx, store) = harness(handler).await;
    let b = StoreBackend::new(ctx.store.clone(), 10);
    let c = b.message_content("alice", 7, 1).await.unwrap().unwrap();
    let mut want = PREFIX.to_vec();
    want.extend_from_slice(FILE);
    assert_eq!(&c.bytes[..], &want[..]);
    assert_eq!(c.parsed.size, want.len() as u64);
    assert_eq!(c.parsed.envelope.subject.as_deref(), Some("cached"));
    // The structure computed now goes back to the store, once.
    let t0 = Instant::now();
    let saved = loop {
        let s: Vec<Vec<u8>> = store
            .requests()
            .into_iter()
            .filter_map(|r| match r {
                StoreRequest::MessageParsedSet {
                    uid: 1,
                    mailbox_id: 7,
                    parsed,
                    ..
                } => Some(parsed),
                _ => None,
            })
            .collect();
        if !s.is_empty() || t0.elapsed() > WAIT {
            break s;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    };
    assert_eq!(saved.len(), 1);
    assert_eq!(
        ParsedMessage::from_store_form(&saved[0]).unwrap(),
        *c.parsed
    );
    // Second read: from the cache.
    let again = b.message_content("alice", 7, 1).await.unwrap().unwrap();
    assert_eq!(&again.bytes[..], &want[..]);
    assert_eq!(
        store.count(|r| matches!(r, StoreRequest::MessageContent { .. })),
        1
    );
    // An expunged message is None; an expunge event empties the cache entry.
    assert!(b.message_content("alice", 7, 2).await.unwrap().is_none());
    b.cache().observe(&ChangeEvent::Expunged {
        account: "alice".into(),
        mailbox_id: 7,
        uids: vec![1],
        modseq: 5,
    });
    assert!(b.cache().is_empty());
}

fn read_fd(fd: OwnedFd) -> Vec<u8> {
    let mut f = std::fs::File::from(fd);
    let mut v = Vec::new();
    f.read_to_end(&mut v).unwrap();
    v
}

#[tokio::test]
async fn append_sends_one_sealed_file_per_message() {
    let files: Arc<Mutex<Vec<Vec<u8>>>> = Arc::default();
    let f2 = files.clone();
    let handler: Arc<Handler> = Arc::new(move |req, fds| match req {
        StoreRequest::Append { messages, .. } => {
            assert_eq!(messages.len(), fds.len());
            for fd in fds {
                f2.lock().unwrap().push(read_fd(fd));
            }
            (
                StoreReply::Appended {
                    mailbox_id: 3,
                    uidvalidity: 77,
                    uids: (10..10 + messages.len() as u32).collect(),
                },
                None,
            )
        }
        other => panic!("unexpected {other:?}"),
    });
    let (ctx, store) = harness(handler).await;
    let b = StoreBackend::new(ctx.store.clone(), 10);
    let msgs = vec![
        NewMessage {
            data: b"Subject: one\r\n\r\n1\r\n".to_vec(),
            flags: vec!["\\Seen".into()],
            internal_date: Some(1_600_000_000),
        },
        NewMessage {
            data: b"Subject: two\r\n\r\n2\r\n".to_vec(),
            flags: vec![],
            internal_date: None,
        },
    ];
    let a = b.append("alice", "Sent", msgs).await.unwrap();
    assert_eq!(
        (a.mailbox_id, a.uidvalidity, a.uids.clone()),
        (3, 77, vec![10, 11])
    );
    assert_eq!(
        *files.lock().unwrap(),
        vec![
            b"Subject: one\r\n\r\n1\r\n".to_vec(),
            b"Subject: two\r\n\r\n2\r\n".to_vec()
        ]
    );
    let req = store.requests().pop().unwrap();
    let StoreRequest::Append {
        account,
        mailbox,
        messages,
    } = req
    else {
        panic!("{req:?}")
    };
    assert_eq!((account.as_str(), mailbox.as_str()), ("alice", "Sent"));
    assert_eq!(messages[0].flags, vec!["\\Seen".to_string()]);
    assert_eq!(messages[0].received, Some(1_600_000_000));
    assert_eq!(messages[1].received, None);
    let p = ParsedMessage::from_store_form(messages[1].parsed.as_ref().unwrap()).unwrap();
    assert_eq!(p.envelope.subject.as_deref(), Some("two"));
    // What was appended is fetched from the cache.
    let c = b.message_content("alice", 3, 11).await.unwrap().unwrap();
    assert_eq!(&c.bytes[..], b"Subject: two\r\n\r\n2\r\n");
    // More messages than descriptors fit in one request: refused up front.
    let many = (0..17)
        .map(|_| NewMessage {
            data: b"x\r\n".to_vec(),
            flags: vec![],
            internal_date: None,
        })
        .collect();
    assert!(matches!(
        b.append("alice", "Sent", many).await,
        Err(BackendError::Limit(_))
    ));
    assert_eq!(store.count(|r| matches!(r, StoreRequest::Append { .. })), 1);
}

#[tokio::test]
async fn store_errors_become_backend_errors() {
    let handler: Arc<Handler> = Arc::new(|req, _| {
        let kind = match req {
            StoreRequest::MailboxStatus { .. } => StoreErrorKind::NotFound,
            StoreRequest::MailboxDelete { .. } => StoreErrorKind::Cannot,
            StoreRequest::MailboxCreate { .. } => StoreErrorKind::Exists,
            _ => StoreErrorKind::OverQuota,
        };
        (
            StoreReply::Error(StoreError {
                kind,
                message: "no".into(),
            }),
            None,
        )
    });
    let (ctx, _store) = harness(handler).await;
    let b = StoreBackend::new(ctx.store.clone(), 10);
    assert_eq!(
        b.mailbox("alice", "Nope").await,
        Err(BackendError::NotFound("no".into()))
    );
    assert_eq!(
        b.delete_mailbox("alice", "Inbox").await,
        Err(BackendError::Cannot("no".into()))
    );
    assert_eq!(
        b.create_mailbox("alice", "Inbox", None).await,
        Err(BackendError::Exists("no".into()))
    );
    assert!(matches!(
        b.copy("alice", 1, &[1], "Trash").await,
        Err(BackendError::OverQuota(_))
    ));
}

async fn recv_event(
    rx: &mut tokio::sync::broadcast::Receiver<ChangeEvent>,
) -> Result<ChangeEvent, RecvError> {
    tokio::time::timeout(WAIT, rx.recv())
        .await
        .expect("event within the wait")
}

fn flags_changed(uid: u32) -> ChangeEvent {
    ChangeEvent::FlagsChanged {
        account: "alice".into(),
        mailbox_id: 7,
        uid,
        modseq: 3,
        flags: vec![],
    }
}

#[tokio::test]
async fn one_subscription_per_account_fanned_out_with_a_session_limit() {
    let (ctx, store) = harness(no_handler()).await;
    let b = StoreBackend::new(ctx.store.clone(), 2);
    let mut s1 = b.changes("alice").await.unwrap();
    let mut s2 = b.changes("alice").await.unwrap();
    assert!(matches!(
        b.changes("alice").await,
        Err(BackendError::Limit(_))
    ));
    let mut other = b.changes("bob").await.unwrap();
    assert_eq!(
        store.count(|r| matches!(r, StoreRequest::Subscribe { .. })),
        2
    );
    store.emit("alice", flags_changed(1)).await;
    assert_eq!(recv_event(&mut s1).await.unwrap(), flags_changed(1));
    assert_eq!(recv_event(&mut s2).await.unwrap(), flags_changed(1));
    assert!(other.try_recv().is_err(), "bob hears nothing of alice");
    // Both sessions end: the subscription goes dormant, and the next
    // login wakes it without a new store subscription.
    drop((s1, s2));
    let hub = b.changes_hub();
    let t0 = Instant::now();
    while hub.is_active("alice") && t0.elapsed() < WAIT {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert!(!hub.is_active("alice"), "dormant");
    assert_eq!(hub.sessions("alice"), 0);
    let mut s3 = b.changes("alice").await.unwrap();
    assert!(hub.is_active("alice"));
    store.emit("alice", flags_changed(3)).await;
    assert_eq!(recv_event(&mut s3).await.unwrap(), flags_changed(3));
    assert_eq!(
        store.count(|r| matches!(r, StoreRequest::Subscribe { .. })),
        2
    );
    assert_eq!(hub.subscriptions(), 2);
    // The store goes away: every session of every account hears Closed.
    store.close();
    assert_eq!(recv_event(&mut s3).await, Err(RecvError::Closed));
    assert_eq!(recv_event(&mut other).await, Err(RecvError::Closed));
    drop(ctx);
}

#[tokio::test]
async fn events_the_store_dropped_reach_sessions_as_missed_and_the_subscription_goes_on() {
    let (ctx, store) = harness(no_handler()).await;
    let b = StoreBackend::new(ctx.store.clone(), 2);
    let mut s = b.changes("alice").await.unwrap();
    let missed = ChangeEvent::Missed {
        account: "alice".into(),
    };
    store.emit("alice", missed.clone()).await;
    assert_eq!(recv_event(&mut s).await.unwrap(), missed);
    store.emit("alice", flags_changed(4)).await;
    assert_eq!(recv_event(&mut s).await.unwrap(), flags_changed(4));
    assert!(b.changes_hub().is_active("alice"));
    drop(ctx);
}
