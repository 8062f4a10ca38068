//! `moxd sandbox-check [--role R] [--json]`: run each role's sandbox in a
//! re-executed child (`moxd sandbox-check-child ROLE`, empty environment),
//! and show what this kernel enforces. Exit 0 when, for every role, no
//! feature is missing or partial (what `sandbox = "required"` would accept:
//! "n/a" for the uid switch when not root is fine) and every probe was
//! denied; 1 otherwise.

use std::io::Read;
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use ipc::Role;
use ipc::sandbox::FeatureState;
use serde::Serialize;

use super::check_child::{CheckOutput, is_check_data_dir};
use super::{features, probe};

/// How long one child may take (its connect probes time out after 2 s).
const CHILD_TIMEOUT: Duration = Duration::from_secs(30);
/// Bytes of a child's output kept; its JSON is a few KiB.
const MAX_CHILD_OUTPUT: u64 = 1024 * 1024;
const CHILD_SUBCOMMAND: &str = "sandbox-check-child";

/// One JSON line of `--json` output.
#[derive(Serialize)]
struct CheckLine<'a> {
    ok: bool,
    #[serde(flatten)]
    output: &'a CheckOutput,
}

/// `moxd sandbox-check [--role R] [--json]`: run each role's sandbox in a
/// re-executed child and print what this kernel enforces. Returns the exit code.
pub fn run_check(role: Option<Role>, json: bool) -> i32 {
    let exe = match std::env::current_exe() {
        Ok(p) => p,
        Err(e) => {
            eprintln!("moxd sandbox-check: cannot find my own executable: {e}");
            return 1;
        }
    };
    let roles: Vec<Role> = role.map_or_else(|| Role::ALL.to_vec(), |r| vec![r]);
    let results: Vec<CheckOutput> = roles
        .iter()
        .map(|&r| {
            run_child(&exe, r).unwrap_or_else(|e| CheckOutput {
                role: r.name().to_string(),
                error: Some(e),
                ..CheckOutput::default()
            })
        })
        .collect();
    let all_ok = results.iter().all(passed);
    if json {
        for out in &results {
            match serde_json::to_string(&CheckLine {
                ok: passed(out),
                output: out,
            }) {
                Ok(line) => println!("{line}"),
                Err(e) => eprintln!("moxd sandbox-check: cannot encode the result: {e}"),
            }
        }
    } else {
        print!("{}", table(&results));
    }
    if all_ok { 0 } else { 1 }
}

/// Run one check child, wait (bounded), parse its JSON line, and remove
/// the store's throw-away data dir.
fn run_child(exe: &Path, role: Role) -> Result<CheckOutput, String> {
    let mut child = Command::new(exe)
        .arg(CHILD_SUBCOMMAND)
        .arg(role.name())
        .env_clear()
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("starting {}: {e}", exe.display()))?;
    let pid = nix::unistd::Pid::from_raw(i32::try_from(child.id()).map_err(|e| e.to_string())?);
    let mut stdout = child.stdout.take().ok_or("no stdout pipe")?;
    let mut stderr = child.stderr.take().ok_or("no stderr pipe")?;
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let mut out = Vec::new();
        let mut err = Vec::new();
        let r1 = (&mut stdout).take(MAX_CHILD_OUTPUT).read_to_end(&mut out);
        let r2 = (&mut stderr).take(MAX_CHILD_OUTPUT).read_to_end(&mut err);
        let status = child.wait();
        let _ = tx.send((r1.and(r2).and(status), out, err));
    });
    let (status, out, err) = match rx.recv_timeout(CHILD_TIMEOUT) {
        Ok(r) => r,
        Err(_) => {
            // Our own child, by its pid; the reader thread then sees EOF and reaps it.
            let _ = nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGKILL);
            return Err(format!(
                "the check child did not finish within {CHILD_TIMEOUT:?}"
            ));
        }
    };
    let status = status.map_err(|e| format!("waiting for the check child: {e}"))?;
    let stdout = String::from_utf8_lossy(&out);
    let line = stdout.lines().rev().find(|l| !l.trim().is_empty());
    let mut parsed: CheckOutput = match line.map(serde_json::from_str) {
        Some(Ok(p)) => p,
        Some(Err(e)) => return Err(format!("unreadable check output ({e}): {}", stdout.trim())),
        None => {
            return Err(format!(
                "the check child printed nothing ({status}); stderr: {}",
                String::from_utf8_lossy(&err).trim()
            ));
        }
    };
    if let Some(dir) = &parsed.data_dir
        && is_check_data_dir(dir)
        && let Err(e) = std::fs::remove_dir_all(dir)
    {
        eprintln!("moxd sandbox-check: cannot remove {}: {e}", dir.display());
    }
    if !status.success() && parsed.error.is_none() {
        parsed.error = Some(format!("the check child exited with {status}"));
    }
    Ok(parsed)
}

/// No error, nothing missing or partial, every probe denied.
fn passed(out: &CheckOutput) -> bool {
    let Some(report) = &out.report else {
        return false;
    };
    out.error.is_none()
        && features(report)
            .iter()
            .all(|(_, s)| !matches!(s, FeatureState::Missing(_) | FeatureState::Partial(_)))
        && !out.probes.is_empty()
        && out
            .probes
            .iter()
            .all(|(name, answer)| probe::held(name, answer))
}

fn cell(state: &FeatureState) -> &'static str {
    match state {
        FeatureState::Enforced => "yes",
        FeatureState::Partial(_) => "PARTIAL",
        FeatureState::Missing(_) => "MISSING",
        FeatureState::NotApplicable(_) => "n/a",
    }
}

const HEADER: [&str; 11] = [
    "role",
    "uid",
    "privdrop",
    "caps",
    "nnp",
    "!dumpable",
    "ll-fs",
    "ll-net",
    "seccomp",
    "abi",
    "probes",
];
const WIDTHS: [usize; 11] = [11, 6, 9, 8, 9, 10, 8, 8, 8, 5, 6];

fn row(cells: &[String]) -> String {
    let mut line: String = cells
        .iter()
        .zip(WIDTHS)
        .map(|(c, w)| format!("{c:<w$}"))
        .collect::<Vec<_>>()
        .join(" ");
    line.truncate(line.trim_end().len());
    line.push('\n');
    line
}

/// The human-readable table, then a note per feature not enforced and
/// per probe that was not denied.
fn table(results: &[CheckOutput]) -> String {
    let mut s = row(&HEADER.map(String::from));
    let mut notes = Vec::new();
    for out in results {
        let Some(report) = &out.report else {
            s.push_str(&row(&[out.role.clone(), "-".into(), "ERROR".into()]));
            notes.push(format!(
                "{}: {}",
                out.role,
                out.error.as_deref().unwrap_or("no report")
            ));
            continue;
        };
        let probes_ok = out.probes.iter().all(|(n, a)| probe::held(n, a));
        let mut cells = vec![out.role.clone(), report.uid.to_string()];
        cells.extend(features(report).iter().map(|(_, st)| cell(st).to_string()));
        cells.push(
            report
                .landlock_abi
                .map_or_else(|| "-".to_string(), |a| a.to_string()),
        );
        cells.push(if probes_ok { "ok" } else { "FAILED" }.to_string());
        s.push_str(&row(&cells));
        for (name, state) in features(report) {
            if !state.is_enforced() {
                notes.push(format!("{}: {name}: {state}", out.role));
            }
        }
        for (name, answer) in out.probes.iter().filter(|(n, a)| !probe::held(n, a)) {
            notes.push(format!(
                "{}: probe {name} was not denied: {answer}",
                out.role
            ));
        }
        if let Some(e) = &out.error {
            notes.push(format!("{}: {e}", out.role));
        }
    }
    if !notes.is_empty() {
        s.push('\n');
        for n in notes {
            s.push_str(&n);
            s.push('\n');
        }
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use ipc::sandbox::SandboxReport;

    fn good(role: &str) -> CheckOutput {
        CheckOutput {
            role: role.into(),
            report: Some(SandboxReport {
                uid: 65534,
                gid: 65534,
                privdrop: FeatureState::Enforced,
                capabilities: FeatureState::Enforced,
                no_new_privs: FeatureState::Enforced,
                not_dumpable: FeatureState::Enforced,
                landlock_fs: FeatureState::Enforced,
                landlock_net: FeatureState::Enforced,
                seccomp: FeatureState::Enforced,
                landlock_abi: Some(7),
                escape_probe: None,
            }),
            probes: [("read_etc_passwd".to_string(), "EACCES".to_string())].into(),
            ..CheckOutput::default()
        }
    }

    #[test]
    fn all_enforced_passes_and_prints_a_row() {
        let out = good("imap");
        assert!(passed(&out));
        let t = table(&[out]);
        let row = t.lines().nth(1).expect("a row");
        assert!(row.starts_with("imap"), "{row}");
        assert!(row.contains("65534") && row.ends_with("ok"), "{row}");
        assert_eq!(t.lines().count(), 2, "no notes: {t}");
    }

    #[test]
    fn a_missing_feature_or_open_file_fails_with_a_note() {
        let mut missing = good("queue");
        if let Some(r) = missing.report.as_mut() {
            r.landlock_net =
                FeatureState::Missing("landlock ABI 3 has none of the TCP rules".into());
        }
        assert!(!passed(&missing));
        let mut escaped = good("store");
        escaped
            .probes
            .insert("read_etc_passwd".into(), "opened".into());
        assert!(!passed(&escaped));
        let t = table(&[missing, escaped]);
        assert!(
            t.contains("queue: landlock_net: missing (landlock ABI 3"),
            "{t}"
        );
        assert!(
            t.contains("store: probe read_etc_passwd was not denied: opened"),
            "{t}"
        );
    }

    #[test]
    fn not_root_is_not_a_failure() {
        let mut out = good("junk");
        if let Some(r) = out.report.as_mut() {
            r.privdrop = FeatureState::NotApplicable("not started as root".into());
        }
        assert!(passed(&out));
        let errored = CheckOutput {
            role: "web".into(),
            error: Some("boom".into()),
            ..CheckOutput::default()
        };
        assert!(!passed(&errored));
        assert!(table(&[errored]).contains("web: boom"));
    }
}
