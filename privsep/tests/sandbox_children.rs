//! Sandbox tests that need a fresh process: this test binary (no libtest
//! harness, so it is single-threaded at `main`) re-executes itself in a
//! child mode, the child enters a sandbox and reports on stdout, the
//! parent asserts. The test process itself is never sandboxed.
//!
//! Child modes:
//! - `sandbox-check-child ROLE`, `sandbox-check [--json]`: the same entry
//!   points `moxd` uses, so `run_check` can re-exec this binary;
//! - `store-workload DIR`: the store's sandbox (required mode), then a
//!   tokio multi-thread runtime, SCM_RIGHTS fd passing, SQLite in WAL mode
//!   with synchronous=FULL and durable file renames — proof that the
//!   store's seccomp allowlist is enough;
//! - `refusal threads|root-without-user`: `enter` must refuse;
//! - `hidden-landlock required|best-effort`: a seccomp filter first makes
//!   the landlock syscalls fail with ENOSYS (a kernel without landlock),
//!   then `enter` runs.

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::os::fd::AsFd;
use std::os::unix::fs::FileExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode, Output, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use ipc::Role;
use ipc::config::{SandboxMode, UserIds};
use ipc::sandbox::{FeatureState, SandboxReport};
use privsep::sandbox::{self, SandboxError, SandboxSpec};
use serde_json::Value;

/// Any one child must be done within this.
const CHILD_TIMEOUT: Duration = Duration::from_secs(120);
const WORKLOAD_COMMITS: usize = 50;
const ROWS_PER_COMMIT: usize = 10;
const WORKLOAD_TASKS: usize = 32;
const FD_PAYLOAD: &[u8] = b"message body travelling as a memfd";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let code = match args.as_slice() {
        ["sandbox-check-child", role] => match Role::from_name(role) {
            Some(r) => sandbox::run_check_child(r),
            None => 2,
        },
        ["sandbox-check", "--json"] => sandbox::run_check(None, true),
        ["sandbox-check"] => sandbox::run_check(None, false),
        ["store-workload", dir] => child_store_workload(Path::new(dir)),
        ["hidden-landlock", mode] => child_hidden_landlock(mode),
        ["refusal", case] => child_refusal(case),
        _ => return run_tests(),
    };
    ExitCode::from(u8::try_from(code).unwrap_or(1))
}

// ---------------------------------------------------------------- parent

fn run_tests() -> ExitCode {
    let tests: &[(&str, fn())] = &[
        (
            "store_allowlist_runs_tokio_sqlite_and_fd_passing",
            store_allowlist_runs_tokio_sqlite_and_fd_passing,
        ),
        (
            "check_child_reports_every_role_enforced",
            check_child_reports_every_role_enforced,
        ),
        (
            "check_child_without_root_still_confines",
            check_child_without_root_still_confines,
        ),
        (
            "run_check_json_passes_on_this_kernel",
            run_check_json_passes_on_this_kernel,
        ),
        (
            "enter_refuses_threads_and_root_without_user",
            enter_refuses_threads_and_root_without_user,
        ),
        (
            "hidden_landlock_is_refused_when_required",
            hidden_landlock_is_refused_when_required,
        ),
        (
            "hidden_landlock_is_reported_in_best_effort",
            hidden_landlock_is_reported_in_best_effort,
        ),
    ];
    let filter: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with('-') && a.parse::<usize>().is_err())
        .collect();
    let (mut ran, mut failed) = (0, 0);
    for (name, test) in tests {
        if !filter.is_empty() && !filter.iter().any(|f| name.contains(f.as_str())) {
            continue;
        }
        ran += 1;
        let result = std::panic::catch_unwind(test);
        println!(
            "test {name} ... {}",
            if result.is_ok() { "ok" } else { "FAILED" }
        );
        failed += usize::from(result.is_err());
    }
    let verdict = if failed == 0 { "ok" } else { "FAILED" };
    println!(
        "\ntest result: {verdict}. {} passed; {failed} failed",
        ran - failed
    );
    if failed == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

fn is_root() -> bool {
    nix::unistd::geteuid().is_root()
}

fn nobody() -> Option<UserIds> {
    let u = nix::unistd::User::from_name("nobody").ok()??;
    Some(UserIds {
        name: u.name,
        uid: u.uid.as_raw(),
        gid: u.gid.as_raw(),
    })
}

/// Run this binary with `args`, bounded in time.
fn run_self(args: &[&str], as_user: Option<&UserIds>) -> Output {
    let exe = std::env::current_exe().expect("own path");
    let mut cmd = Command::new(exe);
    cmd.args(args).env_clear().stdin(Stdio::null());
    if let Some(u) = as_user {
        cmd.uid(u.uid).gid(u.gid);
    }
    let child = cmd
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn child");
    let pid = nix::unistd::Pid::from_raw(i32::try_from(child.id()).expect("pid fits"));
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(child.wait_with_output());
    });
    match rx.recv_timeout(CHILD_TIMEOUT) {
        Ok(out) => out.expect("child output"),
        Err(_) => {
            let _ = nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGKILL);
            panic!("child {args:?} did not finish within {CHILD_TIMEOUT:?}");
        }
    }
}

fn last_json(out: &Output) -> Value {
    let stdout = String::from_utf8_lossy(&out.stdout);
    let line = stdout.lines().rev().find(|l| l.starts_with('{'));
    let line = line.unwrap_or_else(|| {
        panic!(
            "no JSON from child; stdout: {stdout}; stderr: {}",
            String::from_utf8_lossy(&out.stderr)
        )
    });
    serde_json::from_str(line).expect("child JSON")
}

fn report_of(v: &Value) -> SandboxReport {
    serde_json::from_value(v["report"].clone()).unwrap_or_else(|e| panic!("no report ({e}) in {v}"))
}

fn status_line<'a>(v: &'a Value, key: &str) -> &'a str {
    v["status"][key]
        .as_str()
        .unwrap_or_else(|| panic!("no status line {key} in {v}"))
}

fn store_allowlist_runs_tokio_sqlite_and_fd_passing() {
    let dir = tempfile::tempdir().expect("tempdir");
    if is_root() {
        let u = nobody().expect("user nobody exists");
        nix::unistd::chown(dir.path(), Some(u.uid.into()), Some(u.gid.into()))
            .expect("chown data dir");
    }
    let out = run_self(
        &["store-workload", dir.path().to_str().expect("utf-8 path")],
        None,
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "workload failed: {}\nstdout: {stdout}\nstderr: {stderr}",
        out.status
    );
    let rows = WORKLOAD_COMMITS * ROWS_PER_COMMIT;
    assert!(
        stdout.contains(&format!("workload ok rows={rows} ")),
        "stdout: {stdout}"
    );
    assert!(
        stdout.contains(&format!("tasks={WORKLOAD_TASKS} ")),
        "stdout: {stdout}"
    );
    assert!(stdout.contains("execve=EPERM"), "stdout: {stdout}");
    // What the sandboxed store wrote is on disk, readable from outside.
    let db = rusqlite::Connection::open(dir.path().join("db/index.db")).expect("open db");
    let n: i64 = db
        .query_row("SELECT count(*) FROM m", [], |r| r.get(0))
        .expect("count");
    assert_eq!(n, i64::try_from(rows).expect("small"));
    let msg = std::fs::read(dir.path().join("msg/0/1")).expect("message file");
    assert_eq!(msg, FD_PAYLOAD);
}

fn check_child_reports_every_role_enforced() {
    for role in Role::ALL {
        let out = run_self(&["sandbox-check-child", role.name()], None);
        let v = last_json(&out);
        assert!(out.status.success(), "{role}: {v}");
        let r = report_of(&v);
        for (name, state) in [
            ("no_new_privs", &r.no_new_privs),
            ("not_dumpable", &r.not_dumpable),
            ("landlock_fs", &r.landlock_fs),
            ("landlock_net", &r.landlock_net),
            ("seccomp", &r.seccomp),
        ] {
            assert_eq!(state, &FeatureState::Enforced, "{role}: {name}");
        }
        assert_eq!(
            r.landlock_abi,
            Some(7),
            "{role}: this kernel has landlock ABI 7"
        );
        assert_eq!(status_line(&v, "NoNewPrivs"), "1", "{role}");
        assert_eq!(status_line(&v, "Seccomp"), "2", "{role}");
        assert_eq!(status_line(&v, "CapEff"), "0000000000000000", "{role}");
        if is_root() {
            assert_eq!(r.privdrop, FeatureState::Enforced, "{role}");
            assert_eq!(r.capabilities, FeatureState::Enforced, "{role}");
            assert_ne!(r.uid, 0, "{role}");
            assert!(
                !status_line(&v, "Uid")
                    .split_whitespace()
                    .any(|id| id == "0"),
                "{role}: {v}"
            );
            assert_eq!(status_line(&v, "CapBnd"), "0000000000000000", "{role}");
            assert_eq!(status_line(&v, "Groups"), "", "{role}");
        } else {
            println!("not root: skipping uid checks");
        }
        let probes = &v["probes"];
        assert_eq!(probes["read_etc_passwd"], "EACCES", "{role}: {v}");
        assert_eq!(probes["create_in_tmp"], "EACCES", "{role}: {v}");
        assert_eq!(probes["execve"], "EPERM", "{role}: {v}");
        assert_eq!(probes["ptrace_traceme"], "EPERM", "{role}: {v}");
        let tcp = probes["tcp_connect_forbidden_port"]
            .as_str()
            .unwrap_or_default();
        // Roles that may not open inet sockets get EPERM from seccomp,
        // the others EACCES from landlock.
        let expected = if matches!(role, Role::Store | Role::Imap | Role::Junk) {
            "EPERM"
        } else {
            "EACCES"
        };
        assert_eq!(tcp, expected, "{role}: {v}");
        if role == Role::Store {
            assert_eq!(probes["data_dir_write"], "ok", "{v}");
            let dir = v["data_dir"].as_str().expect("store reports its data dir");
            std::fs::remove_dir_all(dir).expect("remove the check's data dir");
        }
    }
}

fn check_child_without_root_still_confines() {
    if !is_root() {
        println!("not root: the other tests already ran unprivileged");
        return;
    }
    let u = nobody().expect("user nobody exists");
    let out = run_self(&["sandbox-check-child", "queue"], Some(&u));
    let v = last_json(&out);
    assert!(out.status.success(), "{v}");
    let r = report_of(&v);
    assert!(
        matches!(r.privdrop, FeatureState::NotApplicable(_)),
        "{:?}",
        r.privdrop
    );
    // The bounding set stays full without CAP_SETPCAP, nothing is held.
    assert!(
        matches!(r.capabilities, FeatureState::NotApplicable(_)),
        "{:?}",
        r.capabilities
    );
    assert_ne!(status_line(&v, "CapBnd"), "0000000000000000");
    assert_eq!(status_line(&v, "CapEff"), "0000000000000000");
    assert_eq!(r.landlock_fs, FeatureState::Enforced);
    assert_eq!(r.seccomp, FeatureState::Enforced);
    assert_eq!(status_line(&v, "Seccomp"), "2");
    assert_eq!(v["probes"]["read_etc_passwd"], "EACCES");
    assert_eq!(v["probes"]["tcp_connect_forbidden_port"], "EACCES");
    // Port 25 is allowed for the queue: landlock must not deny it.
    let p25 = v["probes"]["tcp_connect_allowed_port_25"]
        .as_str()
        .unwrap_or_default();
    assert!(p25 == "ECONNREFUSED" || p25 == "connected", "{v}");
}

fn run_check_json_passes_on_this_kernel() {
    let out = run_self(&["sandbox-check", "--json"], None);
    let stdout = String::from_utf8_lossy(&out.stdout);
    let lines: Vec<Value> = stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect();
    let roles: Vec<&str> = lines.iter().filter_map(|v| v["role"].as_str()).collect();
    let all: Vec<&str> = Role::ALL.iter().map(|r| r.name()).collect();
    assert_eq!(roles, all);
    for v in &lines {
        assert_eq!(v["ok"], true, "{v}");
        let dir = v["data_dir"].as_str();
        assert!(
            dir.is_none_or(|d| !Path::new(d).exists()),
            "run_check removes the store's dir: {v}"
        );
    }
    assert_eq!(
        out.status.code(),
        Some(0),
        "stderr: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn enter_refuses_threads_and_root_without_user() {
    let out = run_self(&["refusal", "threads"], None);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("refused: sandbox setup failed"), "{stdout}");
    assert!(stdout.contains("has 2 threads"), "{stdout}");
    if !is_root() {
        println!("not root: skipping the root-without-user case");
        return;
    }
    let out = run_self(&["refusal", "root-without-user"], None);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("a worker never runs as root"), "{stdout}");
    assert!(
        stdout.contains("uid=0"),
        "the refusal happens before any change: {stdout}"
    );
}

fn hidden_landlock_is_refused_when_required() {
    let out = run_self(&["hidden-landlock", "required"], None);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("refused feature=landlock_fs"),
        "stdout: {stdout}"
    );
    assert!(
        stdout.contains("not built into this kernel"),
        "stdout: {stdout}"
    );
}

fn hidden_landlock_is_reported_in_best_effort() {
    let out = run_self(&["hidden-landlock", "best-effort"], None);
    let v = last_json(&out);
    let r: SandboxReport = serde_json::from_value(v).expect("report");
    assert!(
        matches!(r.landlock_fs, FeatureState::Missing(_)),
        "{:?}",
        r.landlock_fs
    );
    assert!(
        matches!(r.landlock_net, FeatureState::Missing(_)),
        "{:?}",
        r.landlock_net
    );
    assert_eq!(r.landlock_abi, None);
    assert_eq!(r.seccomp, FeatureState::Enforced);
    assert_eq!(r.no_new_privs, FeatureState::Enforced);
    let missing = r.missing();
    assert_eq!(missing.len(), 2, "{missing:?}");
}

// ---------------------------------------------------------------- children

fn child_user() -> Option<UserIds> {
    if is_root() { nobody() } else { None }
}

fn child_store_workload(dir: &Path) -> i32 {
    let spec = SandboxSpec::for_role(Role::Store, SandboxMode::Required, child_user(), Some(dir));
    if let Err(e) = sandbox::enter(&spec) {
        println!("enter failed: {e}");
        return 1;
    }
    match store_workload(dir) {
        Ok(summary) => {
            println!("workload ok {summary}");
            0
        }
        Err(e) => {
            println!("workload failed: {e}");
            1
        }
    }
}

type Res<T> = Result<T, Box<dyn std::error::Error + Send + Sync>>;

fn store_workload(dir: &Path) -> Res<String> {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .max_blocking_threads(4)
        .enable_all()
        .build()?;
    rt.block_on(async {
        let started = Instant::now();
        // Tasks with timers on the worker threads.
        let mut handles = Vec::new();
        for i in 0..WORKLOAD_TASKS {
            handles.push(tokio::spawn(async move {
                tokio::time::sleep(Duration::from_millis((i % 5) as u64)).await;
                i
            }));
        }
        let mut sum = 0;
        for h in handles {
            sum += h.await?;
        }
        if sum != (0..WORKLOAD_TASKS).sum::<usize>() {
            return Err("tasks returned the wrong values".into());
        }
        let timed_out = tokio::time::timeout(
            Duration::from_millis(5),
            tokio::time::sleep(Duration::from_secs(5)),
        )
        .await;
        if timed_out.is_ok() {
            return Err("timeout did not fire".into());
        }
        // Async unix socket pair (the IPC transport).
        let (mut a, mut b) = tokio::net::UnixStream::pair()?;
        tokio::io::AsyncWriteExt::write_all(&mut a, b"ping").await?;
        let mut buf = [0u8; 4];
        tokio::io::AsyncReadExt::read_exact(&mut b, &mut buf).await?;
        if &buf != b"ping" {
            return Err("unix stream pair garbled".into());
        }
        let received = tokio::task::spawn_blocking(pass_memfd).await??;
        let dir2 = dir.to_path_buf();
        let rows = tokio::task::spawn_blocking(move || sqlite_wal(&dir2)).await??;
        let dir3 = dir.to_path_buf();
        tokio::task::spawn_blocking(move || durable_rename(&dir3, &received)).await??;
        let execve = match nix::unistd::execv(c"/bin/true", &[c"/bin/true"]) {
            Ok(never) => match never {},
            Err(e) => format!("{e:?}"),
        };
        Ok(format!(
            "rows={rows} tasks={WORKLOAD_TASKS} fd_bytes={} execve={execve} ms={}",
            FD_PAYLOAD.len(),
            started.elapsed().as_millis()
        ))
    })
}

/// A memfd with a message body goes over a socketpair with SCM_RIGHTS; the
/// receiver reads it through the passed fd.
fn pass_memfd() -> Res<Vec<u8>> {
    let memfd =
        nix::sys::memfd::memfd_create(c"moxd-body", nix::sys::memfd::MFdFlags::MFD_CLOEXEC)?;
    let mut file = std::fs::File::from(memfd);
    file.write_all(FD_PAYLOAD)?;
    let (tx, rx) = std::os::unix::net::UnixStream::pair()?;
    ipc::fdpass::send_with_fds(tx.as_fd(), b"x", &[file.as_fd()])?;
    drop(file);
    let mut buf = [0u8; 8];
    let (n, fds) = ipc::fdpass::recv_with_fds(rx.as_fd(), &mut buf)?;
    if n != 1 || fds.len() != 1 {
        return Err(format!("got {n} bytes and {} fds", fds.len()).into());
    }
    let got = std::fs::File::from(fds.into_iter().next().ok_or("no fd")?);
    let len = usize::try_from(got.metadata()?.len())?;
    let mut body = vec![0u8; len];
    got.read_exact_at(&mut body, 0)?;
    Ok(body)
}

/// SQLite as the store opens it: WAL, synchronous=FULL, temp_store=MEMORY,
/// a writer and a reader connection, many commits, a checkpoint, a reopen.
fn sqlite_wal(dir: &Path) -> Res<usize> {
    std::fs::create_dir_all(dir.join("db"))?;
    let path = dir.join("db/index.db");
    let open = |p: &Path| -> Res<rusqlite::Connection> {
        let c = rusqlite::Connection::open(p)?;
        c.busy_timeout(Duration::from_secs(10))?;
        let mode: String = c.pragma_update_and_check(None, "journal_mode", "WAL", |r| r.get(0))?;
        if !mode.eq_ignore_ascii_case("wal") {
            return Err(format!("journal mode {mode}").into());
        }
        c.pragma_update(None, "synchronous", "FULL")?;
        c.pragma_update(None, "temp_store", "MEMORY")?;
        Ok(c)
    };
    let mut writer = open(&path)?;
    writer.execute_batch("CREATE TABLE m (id INTEGER PRIMARY KEY, body TEXT NOT NULL)")?;
    let reader = open(&path)?;
    for c in 0..WORKLOAD_COMMITS {
        let tx = writer.transaction()?;
        for r in 0..ROWS_PER_COMMIT {
            tx.execute(
                "INSERT INTO m (body) VALUES (?1)",
                [format!("message {c}/{r}")],
            )?;
        }
        tx.commit()?;
        let seen: i64 = reader.query_row("SELECT count(*) FROM m", [], |r| r.get(0))?;
        if usize::try_from(seen)? != (c + 1) * ROWS_PER_COMMIT {
            return Err(format!("reader saw {seen} rows after commit {c}").into());
        }
    }
    // A sort big enough to want a temp b-tree.
    let _: String = writer.query_row(
        "SELECT group_concat(body) FROM (SELECT body FROM m ORDER BY body DESC)",
        [],
        |r| r.get(0),
    )?;
    writer.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()))?;
    drop(reader);
    drop(writer);
    let again = open(&path)?;
    let n: i64 = again.query_row("SELECT count(*) FROM m", [], |r| r.get(0))?;
    Ok(usize::try_from(n)?)
}

/// The store's message write: temp file, fsync, rename into a new
/// directory, fsync the directory.
fn durable_rename(dir: &Path, body: &[u8]) -> Res<()> {
    let tmp_dir = dir.join("tmp");
    let msg_dir = dir.join("msg/0");
    std::fs::create_dir_all(&tmp_dir)?;
    std::fs::create_dir_all(&msg_dir)?;
    let tmp = tmp_dir.join("1");
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&tmp)?;
    f.write_all(body)?;
    f.sync_all()?;
    drop(f);
    let dest: PathBuf = msg_dir.join("1");
    std::fs::rename(&tmp, &dest)?;
    std::fs::File::open(&msg_dir)?.sync_all()?;
    let names: Vec<_> = std::fs::read_dir(&msg_dir)?.collect::<Result<_, _>>()?;
    if names.len() != 1 {
        return Err(format!("{} entries in msg/0", names.len()).into());
    }
    let mut back = Vec::new();
    std::fs::File::open(&dest)?.read_to_end(&mut back)?;
    if back != body {
        return Err("message file differs".into());
    }
    std::fs::remove_dir(&tmp_dir)?;
    Ok(())
}

/// Cases `enter` must refuse, printing why and the uid afterwards.
fn child_refusal(case: &str) -> i32 {
    let (spec, _thread) = match case {
        "threads" => {
            let (tx, rx) = mpsc::channel::<()>();
            let t = std::thread::spawn(move || {
                let _ = rx.recv_timeout(CHILD_TIMEOUT);
            });
            let spec = SandboxSpec::for_role(Role::Junk, SandboxMode::Required, child_user(), None);
            (spec, Some((tx, t)))
        }
        "root-without-user" => (
            SandboxSpec::for_role(Role::Junk, SandboxMode::Required, None, None),
            None,
        ),
        _ => return 2,
    };
    let result = sandbox::enter(&spec);
    let uid = nix::unistd::getuid();
    match result {
        Ok(_) => {
            println!("entered uid={uid}");
            1
        }
        Err(e) => {
            println!("refused: {e} uid={uid}");
            0
        }
    }
}

/// Hide landlock behind ENOSYS (as on a kernel without it), then enter.
fn child_hidden_landlock(mode: &str) -> i32 {
    let hide: BTreeMap<i64, Vec<seccompiler::SeccompRule>> = [
        (libc::SYS_landlock_create_ruleset, vec![]),
        (libc::SYS_landlock_add_rule, vec![]),
        (libc::SYS_landlock_restrict_self, vec![]),
    ]
    .into();
    let arch = match std::env::consts::ARCH.try_into() {
        Ok(a) => a,
        Err(e) => {
            println!("unknown arch: {e}");
            return 1;
        }
    };
    let filter = seccompiler::SeccompFilter::new(
        hide,
        seccompiler::SeccompAction::Allow,
        seccompiler::SeccompAction::Errno(libc::ENOSYS as u32),
        arch,
    );
    let prog = match filter.and_then(seccompiler::BpfProgram::try_from) {
        Ok(p) => p,
        Err(e) => {
            println!("cannot build the hiding filter: {e}");
            return 1;
        }
    };
    if let Err(e) = seccompiler::apply_filter(&prog) {
        println!("cannot hide landlock: {e}");
        return 1;
    }
    let mode = if mode == "required" {
        SandboxMode::Required
    } else {
        SandboxMode::BestEffort
    };
    let spec = SandboxSpec::for_role(Role::Imap, mode, child_user(), None);
    match sandbox::enter(&spec) {
        Err(SandboxError::Required { feature, reason }) => {
            println!("refused feature={feature} reason={reason}");
            0
        }
        Err(e) => {
            println!("failed: {e}");
            1
        }
        Ok(report) => match serde_json::to_string(&report) {
            Ok(line) => {
                println!("{line}");
                0
            }
            Err(e) => {
                println!("cannot encode: {e}");
                1
            }
        },
    }
}
