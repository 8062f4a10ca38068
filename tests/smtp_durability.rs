//! Durability of smtp-in: messages sent over several concurrent SMTP
//! connections while the store process is killed -9 at random moments.
//! Every message that got `250` must be in the store exactly once and
//! intact; a message that got a `4xx` (or whose connection broke after the
//! final dot) may be there too — SMTP allows that duplicate — and the test
//! prints how often that happened.

mod common;

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::smtp_client::SmtpClient;
use common::*;
use ipc::Role;

/// Messages to get accepted in total.
const MESSAGES: usize = 300;
/// Concurrent SMTP connections.
const CLIENTS: usize = 6;
/// Times the store is killed.
const KILLS: usize = 3;
/// The whole run, including retries.
const DEADLINE: Duration = Duration::from_secs(240);
/// Wait before reconnecting after a 4xx or a broken connection.
const RECONNECT_PAUSE: Duration = Duration::from_millis(150);
/// Attempts at one message before the test gives up on it.
const MAX_ATTEMPTS: u32 = 50;

/// What one attempt at sending a message came to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Outcome {
    /// 250 after the final dot.
    Accepted,
    /// 4xx after the final dot: may have been stored.
    TempFailedAfterData,
    /// The connection broke after the final dot, before a reply.
    BrokenAfterData,
    /// Refused (4xx) or broken before the message was complete: cannot
    /// have been stored.
    NotSent,
}

/// Every attempt, by tag.
#[derive(Default)]
struct Log {
    attempts: Vec<(String, Outcome)>,
    temp_replies: Vec<String>,
}

/// A message whose Subject and body name its tag.
fn message(tag: &str) -> Vec<u8> {
    format!(
        "From: <load@remote.test>\r\nTo: <alice@example.org>\r\nSubject: {tag}\r\n\r\n{tag}\r\n{}\r\n",
        "durable ".repeat(40)
    )
    .into_bytes()
}

/// Small xorshift generator; the seed is printed so a run can be repeated
/// with MOXD_TEST_SEED.
struct Rng(u64);

impl Rng {
    fn new() -> Rng {
        let seed = std::env::var("MOXD_TEST_SEED")
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or_else(|| {
                std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map_or(1, |d| d.as_nanos() as u64)
            })
            | 1;
        eprintln!("durability seed {seed} (set MOXD_TEST_SEED to repeat)");
        Rng(seed)
    }

    fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.0 = x;
        x
    }

    /// Uniform in lo..hi.
    fn range(&mut self, lo: usize, hi: usize) -> usize {
        lo + (self.next() % (hi - lo) as u64) as usize
    }
}

/// One transaction on an open connection. Err: the connection is unusable.
fn send_one(c: &mut SmtpClient, tag: &str, log: &Mutex<Log>) -> Outcome {
    let step = |c: &mut SmtpClient, line: &str, want: u16| -> Result<(), ()> {
        if c.try_send(format!("{line}\r\n").as_bytes()).is_err() {
            return Err(());
        }
        match c.try_reply() {
            Ok(Some(r)) if r.code == want => Ok(()),
            Ok(Some(r)) => {
                assert!(
                    r.code / 100 == 4,
                    "{tag}: {line:?} got a permanent failure {r:?}"
                );
                log.lock()
                    .unwrap()
                    .temp_replies
                    .push(format!("{line}: {r:?}"));
                Err(())
            }
            _ => Err(()),
        }
    };
    if step(c, "MAIL FROM:<load@remote.test>", 250).is_err()
        || step(c, "RCPT TO:<alice@example.org>", 250).is_err()
        || step(c, "DATA", 354).is_err()
    {
        return Outcome::NotSent;
    }
    let mut data = message(tag);
    data.extend_from_slice(b".\r\n");
    if c.try_send(&data).is_err() {
        return Outcome::BrokenAfterData;
    }
    match c.try_reply() {
        Ok(Some(r)) if r.code == 250 => Outcome::Accepted,
        Ok(Some(r)) => {
            assert!(r.code / 100 == 4, "{tag}: permanent failure {r:?}");
            log.lock()
                .unwrap()
                .temp_replies
                .push(format!("end of data: {r:?}"));
            Outcome::TempFailedAfterData
        }
        _ => Outcome::BrokenAfterData,
    }
}

/// A new greeted connection after EHLO, or None.
fn connect(s: &SmtpServer) -> Option<SmtpClient> {
    let mut c = SmtpClient::connect(s.smtp).ok()?;
    match c.try_reply() {
        Ok(Some(r)) if r.code == 220 => {}
        _ => return None,
    }
    c.try_send(b"EHLO load.example\r\n").ok()?;
    match c.try_reply() {
        Ok(Some(r)) if r.code == 250 => Some(c),
        _ => None,
    }
}

/// Client `w` sends messages w, w+CLIENTS, …, each until it is accepted,
/// reconnecting after every 4xx or broken connection.
fn client(w: usize, s: &SmtpServer, log: &Mutex<Log>, accepted: &AtomicUsize, t0: Instant) {
    let mut conn: Option<SmtpClient> = None;
    for n in (w..MESSAGES).step_by(CLIENTS) {
        let mut attempt = 0;
        loop {
            assert!(t0.elapsed() < DEADLINE, "message {n}: out of time");
            assert!(attempt < MAX_ATTEMPTS, "message {n}: {attempt} attempts");
            attempt += 1;
            let Some(c) = conn.as_mut() else {
                conn = connect(s);
                if conn.is_none() {
                    std::thread::sleep(RECONNECT_PAUSE);
                }
                continue;
            };
            let tag = format!("msg-{n}-try-{attempt}");
            let outcome = send_one(c, &tag, log);
            log.lock().unwrap().attempts.push((tag, outcome));
            if outcome == Outcome::Accepted {
                accepted.fetch_add(1, Ordering::SeqCst);
                break;
            }
            // After a 4xx or an error: a new connection.
            conn = None;
            std::thread::sleep(RECONNECT_PAUSE);
        }
    }
    if let Some(mut c) = conn {
        let _ = c.try_send(b"QUIT\r\n");
    }
}

fn kill_store(s: &Server) -> u32 {
    let pid =
        wait_for(Duration::from_secs(30), || s.worker_pid(Role::Store)).expect("store running");
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(pid as i32),
        nix::sys::signal::SIGKILL,
    )
    .expect("kill store");
    pid
}

#[test]
fn killing_the_store_loses_no_accepted_message() {
    let s = Arc::new(Server::serve_smtp(""));
    let log = Arc::new(Mutex::new(Log::default()));
    let accepted = Arc::new(AtomicUsize::new(0));
    let t0 = Instant::now();
    let mut rng = Rng::new();
    let threads: Vec<_> = (0..CLIENTS)
        .map(|w| {
            let (s, log, accepted) = (s.clone(), log.clone(), accepted.clone());
            std::thread::spawn(move || client(w, &s, &log, &accepted, t0))
        })
        .collect();

    // Kill the store at random points of the run: one in each of the
    // windows 10–30 %, 40–60 %, 70–85 % of the messages accepted, plus a
    // random 0–50 ms so the kill lands anywhere in a transaction.
    let windows = [(10, 30), (40, 60), (70, 85)];
    let mut kills = Vec::new();
    for &(lo, hi) in windows.iter().take(KILLS) {
        let at = rng.range(MESSAGES * lo / 100, MESSAGES * hi / 100);
        let reached = wait_for(DEADLINE.saturating_sub(t0.elapsed()), || {
            (accepted.load(Ordering::SeqCst) >= at).then_some(())
        });
        assert!(reached.is_some(), "never reached {at} accepted messages");
        std::thread::sleep(Duration::from_millis(rng.range(0, 50) as u64));
        let old = kill_store(&s);
        kills.push((at, accepted.load(Ordering::SeqCst)));
        // The next kill only once a new store runs.
        wait_for(Duration::from_secs(30), || {
            s.worker_pid(Role::Store).filter(|p| *p != old)
        })
        .expect("store restarted");
    }
    for t in threads {
        t.join().expect("client thread");
    }
    let elapsed = t0.elapsed();

    wait_for(Duration::from_secs(30), || s.worker_pid(Role::Store)).expect("store running");
    let store = s
        .status()
        .workers
        .into_iter()
        .find(|w| w.role == Role::Store)
        .expect("store status");
    assert_eq!(store.restarts as usize, KILLS, "{store:?}");

    // What the store holds, by tag.
    let stored = stored_messages(&s, "alice");
    let mut by_tag: HashMap<String, usize> = HashMap::new();
    for m in &stored {
        let text = String::from_utf8_lossy(&m.file);
        let tag = text
            .lines()
            .find_map(|l| l.strip_prefix("Subject: "))
            .unwrap_or_else(|| panic!("stored message {} without Subject: {text:?}", m.id))
            .to_string();
        assert_eq!(
            m.file,
            message(&tag),
            "stored message {} is not intact",
            m.id
        );
        assert!(
            m.prefix_text()
                .starts_with("Received: from load.example ([127.0.0.1])"),
            "{}",
            m.prefix_text()
        );
        *by_tag.entry(tag).or_default() += 1;
    }

    let log = log.lock().unwrap();
    let sent: HashMap<&str, Outcome> = log.attempts.iter().map(|(t, o)| (t.as_str(), *o)).collect();
    for (tag, n) in &by_tag {
        let outcome = sent
            .get(tag.as_str())
            .unwrap_or_else(|| panic!("stored {tag} was never sent"));
        assert_ne!(
            *outcome,
            Outcome::NotSent,
            "{tag} stored but never completed"
        );
        assert_eq!(*n, 1, "{tag} ({outcome:?}) stored {n} times");
    }
    let count = |o: Outcome| log.attempts.iter().filter(|(_, x)| *x == o).count();
    let stored_with = |o: Outcome| {
        log.attempts
            .iter()
            .filter(|(t, x)| *x == o && by_tag.contains_key(t))
            .count()
    };
    let accepted_n = count(Outcome::Accepted);
    assert_eq!(accepted_n, MESSAGES, "every message is accepted in the end");
    // The central promise: 250 means stored, exactly once.
    let lost: Vec<&str> = log
        .attempts
        .iter()
        .filter(|(t, o)| *o == Outcome::Accepted && by_tag.get(t) != Some(&1))
        .map(|(t, _)| t.as_str())
        .collect();
    assert!(lost.is_empty(), "accepted but not stored once: {lost:?}");

    let temp = count(Outcome::TempFailedAfterData);
    let temp_stored = stored_with(Outcome::TempFailedAfterData);
    let broken = count(Outcome::BrokenAfterData);
    let broken_stored = stored_with(Outcome::BrokenAfterData);
    let not_sent = count(Outcome::NotSent);
    eprintln!(
        "durability: {MESSAGES} messages accepted over {CLIENTS} connections in {elapsed:.1?}, \
         store killed {KILLS} times at (target, accepted) {kills:?}; \
         4xx after the final dot: {temp}, of which stored anyway: {temp_stored}; \
         connection lost after the final dot: {broken}, of which stored anyway: {broken_stored}; \
         refused or broken before the end of data: {not_sent}; \
         messages in the store: {}",
        stored.len()
    );
    let mut replies: HashMap<&str, usize> = HashMap::new();
    for r in &log.temp_replies {
        *replies.entry(r.as_str()).or_default() += 1;
    }
    for (r, n) in replies {
        eprintln!("  {n} × {r}");
    }
    assert_eq!(
        stored.len(),
        accepted_n + temp_stored + broken_stored,
        "store holds something unaccounted for"
    );
    assert!(
        temp + broken + not_sent > 0,
        "no transaction was disturbed: the kills did not land during deliveries"
    );
}
