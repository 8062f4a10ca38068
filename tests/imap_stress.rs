//! Randomized multi-client IMAP checker against a real `moxd localserve`:
//! four sessions on one mailbox run random APPEND, STORE, EXPUNGE, MOVE,
//! FETCH, IDLE (+DONE) and NOOP steps drawn from a fixed seed. After
//! every step, each session's view — sequence number → UID and flags,
//! learned only from the untagged responses it received (after a NOOP
//! to collect pending ones) — must agree with the store as a fresh
//! `UID FETCH 1:* (FLAGS)` on a separate checking session sees it, and
//! a session in IDLE must hear of another session's change within 1 s.

mod common;
#[path = "common/imap_stress_client.rs"]
mod stress_client;

use std::collections::{BTreeSet, HashMap, VecDeque};
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use common::Server;
use common::imap_client::{IO_TIMEOUT, ImapClient, Reply};
use stress_client::{
    Untagged, View, fetch_body, fetch_flags, fetch_uid, flag_set, parse_untagged, seq_set,
};

/// The fixed seed; `MOXD_IMAP_STRESS_SEED` (decimal or 0x-hex) overrides
/// it to explore other sequences.
const SEED: u64 = 0x6d6f_7864_0005_0001;
const SEED_ENV: &str = "MOXD_IMAP_STRESS_SEED";
/// Sessions on the mailbox.
const CLIENTS: usize = 4;
/// Random steps.
const STEPS: usize = 300;
/// localserve's IMAP port (143 + 1000), plain text with LOGIN on loopback.
const IMAP_PORT: u16 = 1143;
const USER: &str = "mox@localhost";
const PASSWORD: &str = "moxmoxmox";
const MAILBOX: &str = "Stress";
/// Where MOVE takes messages (and the checker brings some back from).
const OTHER: &str = "Stress-Out";
/// Above this many messages steps remove rather than add, below the
/// minimum they add: the mailbox stays small and busy.
const MAX_MESSAGES: usize = 30;
const MIN_MESSAGES: usize = 3;
/// Most messages one STORE/EXPUNGE/MOVE/FETCH names.
const MAX_SET: usize = 6;
/// How long a session may take to see the store's state through NOOPs
/// (the store's change events reach other sessions asynchronously).
const CONVERGE_LIMIT: Duration = Duration::from_secs(5);
const CONVERGE_POLL: Duration = Duration::from_millis(10);
/// A session in IDLE hears of another session's change within this time
/// (issue acceptance: EXISTS/FETCH/EXPUNGE within 1 s).
const IDLE_NOTIFY_LIMIT: Duration = Duration::from_secs(1);
/// The whole run must stay well under a minute.
const RUN_LIMIT: Duration = Duration::from_secs(55);
/// Steps shown when a check fails.
const HISTORY: usize = 15;
/// Each kind of step must have run at least this often (the run is not
/// trivially passing).
const MIN_PER_OP: usize = 5;
/// Flags the steps set and clear: system flags and a few keywords.
const FLAG_POOL: [&str; 8] = [
    "\\Seen",
    "\\Flagged",
    "\\Answered",
    "\\Draft",
    "\\Deleted",
    "$Label1",
    "$Label2",
    "$Stress",
];

/// splitmix64: a small, fixed pseudo-random sequence, the same on every
/// machine and every version.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// 0..n (n > 0).
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    fn chance(&mut self, percent: u64) -> bool {
        self.next() % 100 < percent
    }

    /// A random non-empty subset of `items` (at most `max`), in order.
    fn subset<T: Copy>(&mut self, items: &[T], max: usize) -> Vec<T> {
        let want = 1 + self.below(max.min(items.len()));
        let mut picked: BTreeSet<usize> = BTreeSet::new();
        // Bounded: each round adds an index with probability ≥ 1/len.
        for _ in 0..items.len() * 20 {
            if picked.len() == want {
                break;
            }
            picked.insert(self.below(items.len()));
        }
        picked.into_iter().map(|i| items[i]).collect()
    }

    fn flags(&mut self) -> Vec<&'static str> {
        self.subset(&FLAG_POOL, 3)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Op {
    Append,
    Store,
    Expunge,
    Move,
    Fetch,
    Idle,
    Noop,
    MoveBack,
}

/// Kinds of step and their weights in the normal regime.
const WEIGHTS: [(Op, usize); 8] = [
    (Op::Append, 20),
    (Op::Store, 25),
    (Op::Expunge, 8),
    (Op::Move, 8),
    (Op::Fetch, 15),
    (Op::Idle, 12),
    (Op::Noop, 6),
    (Op::MoveBack, 6),
];

fn lossy(b: &[u8]) -> String {
    let s = String::from_utf8_lossy(b);
    let s = s.trim_end();
    s.chars().take(300).collect()
}

/// One session and its view of [`MAILBOX`].
struct Client {
    name: String,
    imap: ImapClient,
    view: View,
    /// Whether a mailbox is selected (a new SELECT then closes it first).
    selected: bool,
}

impl Client {
    fn connect(name: String, addr: SocketAddr) -> Client {
        let (mut imap, greeting) = ImapClient::greeted(addr);
        assert!(greeting.starts_with("* OK"), "{name}: greeting {greeting}");
        imap.login(USER, PASSWORD).ok();
        Client {
            name,
            imap,
            view: View::default(),
            selected: false,
        }
    }

    /// Apply every untagged response of `r` to the view.
    fn absorb(&mut self, r: &Reply) -> Result<(), String> {
        for u in &r.untagged {
            self.absorb_one(u)?;
        }
        Ok(())
    }

    fn absorb_one(&mut self, raw: &[u8]) -> Result<Untagged, String> {
        let u = parse_untagged(raw).map_err(|e| format!("{}: {e}", self.name))?;
        self.view
            .apply(&u)
            .map_err(|e| format!("{}: {e} (response: {})", self.name, lossy(raw)))?;
        Ok(u)
    }

    /// Send a command, apply its untagged responses; the reply.
    fn run(&mut self, command: &str) -> Result<Reply, String> {
        let r = self
            .imap
            .try_cmd(command)
            .map_err(|e| format!("{}: {command}: {e}", self.name))?;
        self.absorb(&r)?;
        Ok(r)
    }

    /// Like [`Client::run`], and the command must complete with OK.
    fn run_ok(&mut self, command: &str) -> Result<Reply, String> {
        let r = self.run(command)?;
        if !r.is_ok() {
            return Err(format!("{}: {command}: {r}", self.name));
        }
        Ok(r)
    }

    /// SELECT or EXAMINE (`command`). Updates for a mailbox selected
    /// before may still come first: they apply to the old view until
    /// `OK [CLOSED]`, which CONDSTORE or IMAP4rev2 sessions get
    /// (RFC 7162 §3.2.11); without those, [`Client::open`] is only used
    /// with nothing selected.
    fn open(&mut self, command: &str) -> Result<Reply, String> {
        if self.selected {
            self.view.closing = true;
        } else {
            self.view = View::default();
        }
        let r = self.run_ok(command)?;
        if self.view.closing {
            return Err(format!("{}: {command}: no OK [CLOSED]: {r}", self.name));
        }
        self.selected = true;
        Ok(r)
    }

    fn unselect(&mut self) -> Result<(), String> {
        self.run_ok("UNSELECT")?;
        self.selected = false;
        self.view = View::default();
        Ok(())
    }

    /// Fetch UID and flags of messages only announced by EXISTS, as a
    /// client does.
    fn learn(&mut self) -> Result<(), String> {
        if let Some(s) = self.view.first_unknown() {
            self.run_ok(&format!("FETCH {s}:* (UID FLAGS)"))?;
        }
        if let Some(s) = self.view.first_unknown() {
            return Err(format!(
                "{}: FETCH {s}:* (UID FLAGS) left message {s} unknown",
                self.name
            ));
        }
        Ok(())
    }

    fn count(&self) -> usize {
        self.view.msgs.len()
    }

    /// Sequence numbers 1..=count.
    fn seqs(&self) -> Vec<u32> {
        (1..=self.count() as u32).collect()
    }

    fn uid(&self, seq: u32) -> Result<u32, String> {
        self.view.msgs[seq as usize - 1]
            .uid
            .ok_or_else(|| format!("{}: UID of message {seq} unknown", self.name))
    }

    fn uid_set(&self, seqs: &[u32]) -> Result<String, String> {
        let uids = seqs
            .iter()
            .map(|&s| self.uid(s))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(seq_set(&uids))
    }
}

/// The store's truth: (UID, flags) in sequence order.
type Truth = Vec<(u32, BTreeSet<String>)>;

struct Run {
    seed: u64,
    rng: Rng,
    clients: Vec<Client>,
    /// A separate session that reads the truth (and moves messages back).
    checker: Client,
    step: usize,
    history: VecDeque<String>,
    /// Message contents by Message-ID, as appended.
    contents: HashMap<String, Vec<u8>>,
    appended: usize,
    done: HashMap<Op, usize>,
}

fn message_id(msg: &[u8]) -> Option<String> {
    let text = String::from_utf8_lossy(msg);
    let start = text.find("Message-ID: <")? + "Message-ID: <".len();
    let end = text[start..].find('>')? + start;
    Some(text[start..end].to_string())
}

impl Run {
    fn fail(&self, msg: &str) -> ! {
        let history: Vec<&str> = self.history.iter().map(String::as_str).collect();
        panic!(
            "seed {:#x}, step {}: {msg}\nlast steps:\n  {}",
            self.seed,
            self.step,
            history.join("\n  ")
        );
    }

    fn note(&mut self, s: String) {
        if self.history.len() == HISTORY {
            self.history.pop_front();
        }
        self.history.push_back(format!("{}: {s}", self.step));
    }

    fn check<T>(&self, r: Result<T, String>) -> T {
        r.unwrap_or_else(|e| self.fail(&e))
    }

    /// A new message with a unique Message-ID and a body of random length.
    fn new_message(&mut self) -> Vec<u8> {
        self.appended += 1;
        let k = self.appended;
        let lines = 1 + self.rng.below(20);
        let mut m = format!(
            "From: Stress <stress@example.org>\r\nTo: mox@localhost\r\nSubject: stress {k}\r\nMessage-ID: <stress-{k}@moxd.test>\r\nDate: Thu, 26 Nov 2026 12:00:00 +0000\r\n\r\n"
        );
        for i in 0..lines {
            let pad = "x".repeat(self.rng.below(70));
            m.push_str(&format!("line {i} of message {k} {pad}\r\n"));
        }
        let m = m.into_bytes();
        self.contents
            .insert(format!("stress-{k}@moxd.test"), m.clone());
        m
    }

    fn pick_op(&mut self, count: usize) -> Op {
        if count < MIN_MESSAGES {
            return Op::Append;
        }
        if count > MAX_MESSAGES {
            return [Op::Expunge, Op::Move][self.rng.below(2)];
        }
        let total: usize = WEIGHTS.iter().map(|(_, w)| w).sum();
        let mut x = self.rng.below(total);
        for (op, w) in WEIGHTS {
            if x < w {
                return op;
            }
            x -= w;
        }
        Op::Noop
    }

    fn append(&mut self, c: usize) -> Result<String, String> {
        let msg = self.new_message();
        let flags = self.rng.flags().join(" ");
        let client = &mut self.clients[c];
        let r = client.imap.append(MAILBOX, &flags, &msg);
        client.absorb(&r)?;
        // RFC 4315 §3: APPENDUID uidvalidity uid.
        match r.code() {
            Some(code) if r.is_ok() && code.starts_with("APPENDUID ") => {}
            _ => return Err(format!("{}: APPEND ({flags}): {r}", client.name)),
        }
        Ok(format!(
            "{} APPEND ({flags}) {} octets: {}",
            client.name,
            msg.len(),
            r.tagged
        ))
    }

    /// A set of messages the client knows: (command prefix, set text).
    fn pick_set(&mut self, c: usize) -> Result<(&'static str, String), String> {
        let seqs = self.clients[c].seqs();
        let picked = self.rng.subset(&seqs, MAX_SET);
        if self.rng.chance(50) {
            Ok(("UID ", self.clients[c].uid_set(&picked)?))
        } else {
            Ok(("", seq_set(&picked)))
        }
    }

    fn store(&mut self, c: usize) -> Result<String, String> {
        let (uid, set) = self.pick_set(c)?;
        let mode = ["+FLAGS", "-FLAGS", "FLAGS"][self.rng.below(3)];
        let flags = self.rng.flags().join(" ");
        let cmd = format!("{uid}STORE {set} {mode} ({flags})");
        let r = self.clients[c].run_ok(&cmd)?;
        Ok(format!("{} {cmd}: {}", self.clients[c].name, r.tagged))
    }

    fn expunge(&mut self, c: usize) -> Result<String, String> {
        let (uid, set) = self.pick_set(c)?;
        let client = &mut self.clients[c];
        client.run_ok(&format!("{uid}STORE {set} +FLAGS (\\Deleted)"))?;
        // UID EXPUNGE (RFC 4315 §2.1) needs UIDs; EXPUNGE removes every
        // \Deleted message, also those other steps flagged.
        let cmd = if uid.is_empty() || self.rng.chance(50) {
            "EXPUNGE".to_string()
        } else {
            format!("UID EXPUNGE {set}")
        };
        let r = client.run_ok(&cmd)?;
        Ok(format!(
            "{} {uid}STORE {set} +FLAGS (\\Deleted); {cmd}: {} expunged",
            client.name,
            r.starting("")
                .iter()
                .filter(|l| l.ends_with("EXPUNGE"))
                .count()
        ))
    }

    fn move_out(&mut self, c: usize) -> Result<String, String> {
        let (uid, set) = self.pick_set(c)?;
        let cmd = format!("{uid}MOVE {set} {OTHER}");
        let before = self.clients[c].count();
        let r = self.clients[c].run_ok(&cmd)?;
        let moved = before - self.clients[c].count();
        // RFC 6851 §4.3: COPYUID in an untagged OK (UIDPLUS).
        let copyuid = r.containing("[COPYUID ").len() + usize::from(r.tagged.contains("[COPYUID "));
        if copyuid != 1 {
            return Err(format!(
                "{}: {cmd}: {copyuid} COPYUID codes: {r}",
                self.clients[c].name
            ));
        }
        Ok(format!("{} {cmd}: {moved} moved", self.clients[c].name))
    }

    fn fetch(&mut self, c: usize) -> Result<String, String> {
        let (uid, set) = if self.rng.chance(20) {
            ("", "1:*".to_string())
        } else {
            self.pick_set(c)?
        };
        let body = self.rng.chance(40);
        let items = if body {
            "(UID FLAGS BODY.PEEK[])"
        } else {
            "(UID FLAGS)"
        };
        let cmd = format!("{uid}FETCH {set} {items}");
        let r = self.clients[c].run_ok(&cmd)?;
        let mut bodies = 0;
        for raw in &r.untagged {
            let Ok(Untagged::Fetch { atts, .. }) = parse_untagged(raw) else {
                continue;
            };
            let Some(b) = fetch_body(&atts) else { continue };
            let id = message_id(b).ok_or_else(|| format!("no Message-ID in {}", lossy(b)))?;
            match self.contents.get(&id) {
                Some(want) if want == b => bodies += 1,
                Some(want) => {
                    return Err(format!(
                        "{}: {cmd}: BODY[] of {id} is {} octets, not the {} appended",
                        self.clients[c].name,
                        b.len(),
                        want.len()
                    ));
                }
                None => {
                    return Err(format!(
                        "{}: {cmd}: unknown message {id}",
                        self.clients[c].name
                    ));
                }
            }
        }
        Ok(format!(
            "{} {cmd}: {bodies} bodies checked",
            self.clients[c].name
        ))
    }

    /// A change by session `c` that always changes something (so an
    /// idling session must hear of it).
    fn effective_change(&mut self, c: usize) -> Result<String, String> {
        let n = self.clients[c].count();
        if n == 0 || self.rng.chance(25) {
            return self.append(c);
        }
        let seq = 1 + self.rng.below(n) as u32;
        let uid = self.clients[c].uid(seq)?;
        let client = &mut self.clients[c];
        match self.rng.below(3) {
            0 => {
                let flag = FLAG_POOL[self.rng.below(FLAG_POOL.len())];
                let has = client.view.msgs[seq as usize - 1]
                    .flags
                    .as_ref()
                    .is_some_and(|f| f.contains(&flag.to_ascii_lowercase()));
                let cmd = format!(
                    "UID STORE {uid} {}FLAGS ({flag})",
                    if has { "-" } else { "+" }
                );
                client.run_ok(&cmd)?;
                Ok(format!("{} {cmd}", client.name))
            }
            1 => {
                client.run_ok(&format!("UID STORE {uid} +FLAGS (\\Deleted)"))?;
                client.run_ok(&format!("UID EXPUNGE {uid}"))?;
                Ok(format!("{} UID EXPUNGE {uid}", client.name))
            }
            _ => {
                client.run_ok(&format!("UID MOVE {uid} {OTHER}"))?;
                Ok(format!("{} UID MOVE {uid} {OTHER}", client.name))
            }
        }
    }

    /// Session `c` idles; another session changes the mailbox; `c` must
    /// be told within [`IDLE_NOTIFY_LIMIT`], then ends IDLE with DONE.
    fn idle(&mut self, c: usize) -> Result<String, String> {
        let tag = format!("idle{}", self.step);
        let client = &mut self.clients[c];
        client.imap.send(format!("{tag} IDLE\r\n").as_bytes());
        // RFC 2177: pending updates may come before the continuation.
        let mut continued = false;
        for _ in 0..1000 {
            let raw = client
                .imap
                .try_response()
                .map_err(|e| format!("{}: IDLE: {e}", client.name))?
                .ok_or_else(|| format!("{}: connection closed in IDLE", client.name))?;
            if let Untagged::Continue(_) = client.absorb_one(&raw)? {
                continued = true;
                break;
            }
        }
        if !continued {
            return Err(format!("{}: no continuation for IDLE", client.name));
        }
        let other = (c + 1 + self.rng.below(CLIENTS - 1)) % CLIENTS;
        let change = self.effective_change(other)?;
        let t0 = Instant::now();
        let client = &mut self.clients[c];
        let mut told = Vec::new();
        while t0.elapsed() < IDLE_NOTIFY_LIMIT {
            let left = IDLE_NOTIFY_LIMIT.saturating_sub(t0.elapsed());
            client
                .imap
                .set_read_timeout(left.max(Duration::from_millis(1)));
            match client.imap.try_response() {
                Ok(Some(raw)) => {
                    let u = client.absorb_one(&raw)?;
                    let relevant = matches!(
                        u,
                        Untagged::Exists(_) | Untagged::Expunge(_) | Untagged::Fetch { .. }
                    );
                    told.push(lossy(&raw));
                    if relevant {
                        break;
                    }
                }
                Ok(None) => return Err(format!("{}: connection closed in IDLE", client.name)),
                Err(e)
                    if matches!(
                        e.kind(),
                        std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                    ) =>
                {
                    break;
                }
                Err(e) => return Err(format!("{}: IDLE: {e}", client.name)),
            }
        }
        client.imap.set_read_timeout(IO_TIMEOUT);
        let waited = t0.elapsed();
        if !told
            .iter()
            .any(|l| l.ends_with("EXISTS") || l.ends_with("EXPUNGE") || l.contains(" FETCH ("))
        {
            return Err(format!(
                "{}: in IDLE, nothing told within {IDLE_NOTIFY_LIMIT:?} after: {change} (got {told:?})",
                client.name
            ));
        }
        client.imap.send(b"DONE\r\n");
        let r = client
            .imap
            .read_until_tagged(&tag)
            .map_err(|e| format!("{}: DONE: {e}", client.name))?;
        client.absorb(&r)?;
        if !r.is_ok() {
            return Err(format!("{}: IDLE ended with {r}", client.name));
        }
        Ok(format!(
            "{} IDLE while {change}: told in {waited:?}: {}",
            client.name,
            told.join(" | ")
        ))
    }

    /// The checker moves a few messages from [`OTHER`] back.
    fn move_back(&mut self) -> Result<String, String> {
        let checker = &mut self.checker;
        let r = checker.open(&format!("SELECT {OTHER}"))?;
        let n = r
            .lines()
            .iter()
            .find_map(|l| {
                l.strip_suffix(" EXISTS")
                    .and_then(|n| n.parse::<usize>().ok())
            })
            .ok_or_else(|| format!("checker: SELECT {OTHER} without EXISTS: {r}"))?;
        if n == 0 {
            checker.unselect()?;
            return Ok(format!("checker: {OTHER} is empty"));
        }
        let k = 1 + self.rng.below(n.min(MAX_SET));
        let cmd = format!("MOVE 1:{k} {MAILBOX}");
        self.checker.run_ok(&cmd)?;
        self.checker.unselect()?;
        Ok(format!("checker {cmd} (from {OTHER})"))
    }

    /// The store's state of [`MAILBOX`], read by a fresh EXAMINE and
    /// `UID FETCH 1:* (FLAGS)`.
    fn truth(&mut self) -> Result<Truth, String> {
        let checker = &mut self.checker;
        let r = checker.open(&format!("EXAMINE {MAILBOX}"))?;
        let exists = checker.count();
        let r2 = checker.run_ok("UID FETCH 1:* (FLAGS)")?;
        let mut rows: Vec<(u32, u32, BTreeSet<String>)> = Vec::new();
        for raw in &r2.untagged {
            if let Ok(Untagged::Fetch { seq, atts }) = parse_untagged(raw) {
                let uid = fetch_uid(&atts)?.ok_or_else(|| format!("no UID in {}", lossy(raw)))?;
                let flags =
                    fetch_flags(&atts)?.ok_or_else(|| format!("no FLAGS in {}", lossy(raw)))?;
                rows.push((seq, uid, flag_set(&flags)));
            }
        }
        rows.sort();
        let seqs: Vec<u32> = rows.iter().map(|r| r.0).collect();
        if seqs != (1..=exists as u32).collect::<Vec<_>>() {
            return Err(format!(
                "checker: EXAMINE said {exists} EXISTS, UID FETCH 1:* answered sequence numbers {seqs:?}\n{r}\n{r2}"
            ));
        }
        Ok(rows.into_iter().map(|(_, u, f)| (u, f)).collect())
    }

    /// Every session, after NOOPs (and fetching what EXISTS announced),
    /// sees exactly `truth`.
    fn converge(&mut self, truth: &Truth) -> Result<(), String> {
        let want: Vec<(Option<u32>, Option<BTreeSet<String>>)> = truth
            .iter()
            .map(|(u, f)| (Some(*u), Some(f.clone())))
            .collect();
        for client in &mut self.clients {
            let t0 = Instant::now();
            loop {
                client.run_ok("NOOP")?;
                client.learn()?;
                if client.view.summary() == want {
                    break;
                }
                if t0.elapsed() > CONVERGE_LIMIT {
                    return Err(format!(
                        "{}: view differs from the store after {CONVERGE_LIMIT:?} of NOOPs\n  view:  {:?}\n  store: {:?}",
                        client.name,
                        client.view.summary(),
                        want
                    ));
                }
                std::thread::sleep(CONVERGE_POLL);
            }
        }
        Ok(())
    }

    fn one_step(&mut self) {
        let c = self.rng.below(CLIENTS);
        let op = self.pick_op(self.clients[c].count());
        let op =
            if self.clients[c].count() == 0 && !matches!(op, Op::Idle | Op::Noop | Op::MoveBack) {
                Op::Append
            } else {
                op
            };
        let r = match op {
            Op::Append => self.append(c),
            Op::Store => self.store(c),
            Op::Expunge => self.expunge(c),
            Op::Move => self.move_out(c),
            Op::Fetch => self.fetch(c),
            Op::Idle => self.idle(c),
            Op::Noop => self.clients[c].run_ok("NOOP").map(|r| {
                format!(
                    "{} NOOP: {} untagged",
                    self.clients[c].name,
                    r.untagged.len()
                )
            }),
            Op::MoveBack => self.move_back(),
        };
        let text = self.check(r);
        self.note(text);
        *self.done.entry(op).or_default() += 1;
        let truth = self.truth();
        let truth = self.check(truth);
        let r = self.converge(&truth);
        self.check(r);
    }

    /// At the end: every message's bytes as appended.
    fn final_contents(&mut self) -> Result<usize, String> {
        let r = self.checker.run_ok("FETCH 1:* (BODY.PEEK[])")?;
        let mut n = 0;
        for raw in &r.untagged {
            let Ok(Untagged::Fetch { atts, .. }) = parse_untagged(raw) else {
                continue;
            };
            let Some(b) = fetch_body(&atts) else { continue };
            let id = message_id(b).ok_or("no Message-ID")?;
            if self.contents.get(&id).map(Vec::as_slice) != Some(b) {
                return Err(format!("message {id} differs from what was appended"));
            }
            n += 1;
        }
        Ok(n)
    }
}

fn seed() -> u64 {
    match std::env::var(SEED_ENV) {
        Ok(s) => {
            let s = s.trim();
            let parsed = match s.strip_prefix("0x") {
                Some(h) => u64::from_str_radix(h, 16),
                None => s.parse(),
            };
            parsed.unwrap_or_else(|e| panic!("{SEED_ENV}={s}: {e}"))
        }
        Err(_) => SEED,
    }
}

#[test]
fn random_multi_client_views_agree_with_the_store() {
    let server = Server::localserve_for_process();
    let addr = SocketAddr::from(([127, 0, 0, 1], IMAP_PORT));
    let seed = seed();
    eprintln!(
        "imap stress: seed {seed:#x} ({SEED_ENV} to change), {CLIENTS} clients, {STEPS} steps"
    );
    let t0 = Instant::now();

    let mut checker = Client::connect("checker".into(), addr);
    // For OK [CLOSED] when it switches mailboxes (RFC 7162 §3.2.11).
    checker
        .run_ok("ENABLE CONDSTORE")
        .expect("ENABLE CONDSTORE");
    for m in [MAILBOX, OTHER] {
        let r = checker.run(&format!("CREATE {m}")).expect("CREATE");
        assert!(r.is_ok(), "CREATE {m}: {r}");
    }
    let clients: Vec<Client> = (0..CLIENTS)
        .map(|i| {
            let mut c = Client::connect(format!("c{i}"), addr);
            c.open(&format!("SELECT {MAILBOX}")).expect("SELECT");
            c
        })
        .collect();
    let mut run = Run {
        seed,
        rng: Rng(seed),
        clients,
        checker,
        step: 0,
        history: VecDeque::new(),
        contents: HashMap::new(),
        appended: 0,
        done: HashMap::new(),
    };
    for step in 1..=STEPS {
        run.step = step;
        run.one_step();
        if t0.elapsed() > RUN_LIMIT {
            run.fail(&format!("the run took longer than {RUN_LIMIT:?}"));
        }
    }
    let n = run.final_contents();
    let n = run.check(n);
    let mut done: Vec<(String, usize)> = run
        .done
        .iter()
        .map(|(op, k)| (format!("{op:?}"), *k))
        .collect();
    done.sort();
    eprintln!(
        "imap stress: {STEPS} steps in {:?}: {done:?}; {} messages appended, {n} in {MAILBOX} at the end, bytes intact",
        t0.elapsed(),
        run.appended
    );
    for (op, _) in WEIGHTS {
        let k = run.done.get(&op).copied().unwrap_or(0);
        assert!(k >= MIN_PER_OP, "step {op:?} ran only {k} times: {done:?}");
    }
    for c in run
        .clients
        .iter_mut()
        .chain(std::iter::once(&mut run.checker))
    {
        let r = c.imap.cmd("LOGOUT");
        assert!(r.is_ok(), "{}: LOGOUT: {r}", c.name);
    }
    drop(server);
}
