//! The worker sandbox as the real `moxd` binary applies it: each test runs
//! `moxd sandbox-check-child ROLE` (a re-executed process; the test process
//! itself is never sandboxed) and asserts on the JSON it prints: its
//! `/proc/self/status` lines after the sandbox and what its forbidden
//! actions got back. As root the child also switches to `moxd`/`nobody`.

use std::process::{Command, Output, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use ipc::sandbox::{FeatureState, SandboxReport};
use serde_json::Value;

const MOXD: &str = env!("CARGO_BIN_EXE_moxd");
/// A check child runs its probes in well under a second; connect probes
/// time out after 2 s.
const CHILD_TIMEOUT: Duration = Duration::from_secs(60);
/// The landlock ABI of the kernel these tests were written on (6.18).
const EXPECTED_LANDLOCK_ABI: i32 = 7;

fn is_root() -> bool {
    nix::unistd::geteuid().is_root()
}

fn run_moxd(args: &[&str]) -> Output {
    let child = Command::new(MOXD)
        .args(args)
        .env_clear()
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start moxd");
    let pid = nix::unistd::Pid::from_raw(i32::try_from(child.id()).expect("pid fits"));
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(child.wait_with_output());
    });
    match rx.recv_timeout(CHILD_TIMEOUT) {
        Ok(out) => out.expect("moxd output"),
        Err(_) => {
            let _ = nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGKILL);
            panic!("moxd {args:?} did not finish within {CHILD_TIMEOUT:?}");
        }
    }
}

/// What one check child printed, with its store data dir removed.
struct Checked {
    json: Value,
    report: SandboxReport,
}

impl Checked {
    fn status(&self, key: &str) -> &str {
        self.json["status"][key]
            .as_str()
            .unwrap_or_else(|| panic!("no status line {key}: {}", self.json))
    }

    fn probe(&self, name: &str) -> &str {
        self.json["probes"][name]
            .as_str()
            .unwrap_or_else(|| panic!("no probe {name}: {}", self.json))
    }
}

fn check_child(role: &str) -> Checked {
    let out = run_moxd(&["sandbox-check-child", role]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    let line = stdout
        .lines()
        .rev()
        .find(|l| l.starts_with('{'))
        .unwrap_or_else(|| {
            panic!(
                "{role}: no JSON; stdout: {stdout}; stderr: {}",
                String::from_utf8_lossy(&out.stderr)
            )
        });
    let json: Value = serde_json::from_str(line).expect("check JSON");
    if let Some(dir) = json["data_dir"].as_str() {
        std::fs::remove_dir_all(dir).expect("remove the store's check dir");
    }
    assert!(out.status.success(), "{role}: exit {}: {json}", out.status);
    assert_eq!(json["error"], Value::Null, "{role}: {json}");
    let report = serde_json::from_value(json["report"].clone()).expect("report");
    Checked { json, report }
}

/// What every role must show on this kernel.
fn assert_confined(role: &str, c: &Checked) {
    let r = &c.report;
    assert_eq!(c.status("NoNewPrivs"), "1", "{role}");
    assert_eq!(c.status("Seccomp"), "2", "{role}");
    assert_eq!(c.status("CapEff"), "0000000000000000", "{role}");
    assert_eq!(c.status("CapPrm"), "0000000000000000", "{role}");
    assert_eq!(c.status("CapAmb"), "0000000000000000", "{role}");
    if is_root() {
        assert_eq!(c.status("CapBnd"), "0000000000000000", "{role}");
        let uids: Vec<&str> = c.status("Uid").split_whitespace().collect();
        assert_eq!(uids.len(), 4, "{role}: {uids:?}");
        assert!(
            uids.iter().all(|u| *u != "0" && *u == uids[0]),
            "{role}: Uid {uids:?}"
        );
        assert_ne!(r.uid, 0, "{role}");
        assert_eq!(r.privdrop, FeatureState::Enforced, "{role}");
        assert_eq!(r.capabilities, FeatureState::Enforced, "{role}");
    } else {
        println!("not root: skipping uid checks");
        assert!(
            matches!(r.privdrop, FeatureState::NotApplicable(_)),
            "{role}: {:?}",
            r.privdrop
        );
    }
    assert_eq!(r.no_new_privs, FeatureState::Enforced, "{role}");
    assert_eq!(r.not_dumpable, FeatureState::Enforced, "{role}");
    assert_eq!(r.landlock_fs, FeatureState::Enforced, "{role}");
    assert_eq!(r.landlock_net, FeatureState::Enforced, "{role}");
    assert_eq!(r.seccomp, FeatureState::Enforced, "{role}");
    assert_eq!(r.landlock_abi, Some(EXPECTED_LANDLOCK_ABI), "{role}");
    // Landlock denies files (EACCES); seccomp denies exec and ptrace (EPERM).
    assert_eq!(c.probe("read_etc_passwd"), "EACCES", "{role}");
    assert_eq!(c.probe("create_in_tmp"), "EACCES", "{role}");
    assert_eq!(c.probe("execve"), "EPERM", "{role}");
    assert_eq!(c.probe("ptrace_traceme"), "EPERM", "{role}");
    // The test build of moxd has the escape probe (/etc/passwd) compiled in.
    assert_eq!(r.escape_probe.as_deref(), Some("EACCES"), "{role}");
}

#[test]
fn store_is_confined_to_its_data_dir() {
    let c = check_child("store");
    assert_confined("store", &c);
    assert_eq!(c.probe("data_dir_write"), "ok");
    // No sockets at all for the store: seccomp refuses socket(AF_INET).
    assert_eq!(c.probe("tcp_connect_forbidden_port"), "EPERM");
}

#[test]
fn smtp_in_reaches_only_dns() {
    let c = check_child("smtp-in");
    assert_confined("smtp-in", &c);
    // It may open TCP sockets, but landlock only lets them reach port 53.
    assert_eq!(c.probe("tcp_connect_forbidden_port"), "EACCES");
    let dns = c.probe("tcp_connect_allowed_port_53");
    assert!(
        dns != "EACCES" && dns != "EPERM",
        "port 53 must not be denied: {dns}"
    );
}

#[test]
fn imap_has_no_network_of_its_own() {
    let c = check_child("imap");
    assert_confined("imap", &c);
    assert_eq!(c.probe("tcp_connect_forbidden_port"), "EPERM");
}

#[test]
fn queue_reaches_mail_ports_only() {
    let c = check_child("queue");
    assert_confined("queue", &c);
    assert_eq!(c.probe("tcp_connect_forbidden_port"), "EACCES");
    let smtp = c.probe("tcp_connect_allowed_port_25");
    assert!(
        smtp != "EACCES" && smtp != "EPERM",
        "port 25 must not be denied: {smtp}"
    );
}

#[test]
fn sandbox_check_reports_every_role_and_exits_zero() {
    let out = run_moxd(&["sandbox-check", "--json"]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    let lines: Vec<Value> = stdout
        .lines()
        .map(|l| serde_json::from_str(l).expect("JSON line"))
        .collect();
    let roles: Vec<&str> = lines.iter().filter_map(|v| v["role"].as_str()).collect();
    assert_eq!(
        roles,
        [
            "store",
            "smtp-in",
            "submission",
            "queue",
            "imap",
            "web",
            "junk"
        ]
    );
    for v in &lines {
        assert_eq!(v["ok"], true, "{v}");
        if let Some(dir) = v["data_dir"].as_str() {
            assert!(
                !std::path::Path::new(dir).exists(),
                "sandbox-check removes {dir}"
            );
        }
    }
    assert_eq!(
        out.status.code(),
        Some(0),
        "stderr: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn sandbox_check_table_names_the_role() {
    let out = run_moxd(&["sandbox-check", "--role", "junk"]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    let mut lines = stdout.lines();
    let header = lines.next().expect("header");
    assert!(
        header.starts_with("role") && header.contains("seccomp"),
        "{header}"
    );
    let row = lines.next().expect("junk row");
    let cells: Vec<&str> = row.split_whitespace().collect();
    assert_eq!(cells.first(), Some(&"junk"), "{row}");
    assert_eq!(cells.last(), Some(&"ok"), "{row}");
    assert_eq!(
        cells.iter().filter(|c| **c == "yes").count(),
        if is_root() { 7 } else { 5 },
        "{row}"
    );
    assert_eq!(out.status.code(), Some(0), "{stdout}");
}
