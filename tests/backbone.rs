//! End-to-end tests of the process split: a real `moxd serve` (as root in
//! CI) or `moxd localserve`, its workers' sandboxes read from /proc,
//! restarts after kill -9, durability across a killed store, IPC garbage,
//! and control-socket access.

mod common;

use std::collections::HashSet;
use std::io::{Read, Write};
use std::os::fd::AsFd;
use std::os::unix::process::CommandExt;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::*;
use ipc::Role;
use ipc::control::{ControlReply, ControlRequest, WorkerState};
use ipc::store::{Delivery, StoreReply, StoreRequest};

fn probe_config(dir_hint: &str) -> String {
    format!("escape_probe = \"{dir_hint}\"\n")
}

#[test]
fn workers_are_sandboxed() {
    // A file outside every role's paths, readable by anyone: the sandbox,
    // not file permissions, must stop the worker from opening it.
    let secret = tempdir();
    let secret_file = secret.path().join("outside.txt");
    std::fs::write(&secret_file, "not for workers").unwrap();
    std::fs::set_permissions(
        &secret_file,
        std::os::unix::fs::PermissionsExt::from_mode(0o644),
    )
    .unwrap();
    // With SMTP listeners, so the network roles run too.
    let server = Server::serve_smtp(&probe_config(&path_str(&secret_file)));
    let status = server.status();
    let roles: Vec<Role> = status.workers.iter().map(|w| w.role).collect();
    for r in [Role::Store, Role::SmtpIn, Role::Submission] {
        assert!(roles.contains(&r), "{r} not running: {roles:?}");
    }
    for w in &status.workers {
        assert_eq!(w.state, WorkerState::Running, "{w:?}");
        let pid = w.pid.expect("pid");
        let report = w.sandbox.as_ref().expect("sandbox report");
        assert_eq!(
            proc_status(pid, "NoNewPrivs"),
            "1",
            "{:?} NoNewPrivs",
            w.role
        );
        assert_eq!(proc_status(pid, "Seccomp"), "2", "{:?} Seccomp", w.role);
        assert!(report.seccomp.is_enforced(), "{report:?}");
        assert!(report.landlock_fs.is_enforced(), "{report:?}");
        assert_eq!(
            report.escape_probe.as_deref(),
            Some("EACCES"),
            "{:?} escape probe",
            w.role
        );
        let cap_eff = proc_status(pid, "CapEff");
        assert_eq!(cap_eff, "0000000000000000", "{:?} CapEff", w.role);
        if is_root() {
            let uid = proc_status(pid, "Uid");
            let gid = proc_status(pid, "Gid");
            assert!(
                uid.split_whitespace().all(|u| u != "0"),
                "{:?} Uid {uid}",
                w.role
            );
            assert!(
                gid.split_whitespace().all(|g| g != "0"),
                "{:?} Gid {gid}",
                w.role
            );
            assert_eq!(
                proc_status(pid, "CapBnd"),
                "0000000000000000",
                "{:?} CapBnd",
                w.role
            );
            assert_eq!(
                proc_status(pid, "CapPrm"),
                "0000000000000000",
                "{:?} CapPrm",
                w.role
            );
            assert!(report.privdrop.is_enforced(), "{report:?}");
        } else {
            eprintln!(
                "not root: uid/gid and bounding-set checks skipped (run as root to check them)"
            );
        }
    }
    // The master itself is not sandboxed and still runs as who started it.
    let _ = std::fs::read_to_string(&secret_file).unwrap();
}

#[test]
fn imap_worker_is_sandboxed() {
    let secret = tempdir();
    let secret_file = secret.path().join("outside.txt");
    std::fs::write(&secret_file, "not for workers").unwrap();
    std::fs::set_permissions(
        &secret_file,
        std::os::unix::fs::PermissionsExt::from_mode(0o644),
    )
    .unwrap();
    // With IMAP listeners, so the imap worker runs.
    let server = Server::serve_imap(&probe_config(&path_str(&secret_file)));
    let status = server.status();
    let w = status
        .workers
        .iter()
        .find(|w| w.role == Role::Imap)
        .unwrap_or_else(|| panic!("imap not running: {status:?}"));
    assert_eq!(w.state, WorkerState::Running, "{w:?}");
    let pid = w.pid.expect("pid");
    let report = w.sandbox.as_ref().expect("sandbox report");
    assert_eq!(proc_status(pid, "NoNewPrivs"), "1");
    assert_eq!(proc_status(pid, "Seccomp"), "2");
    assert_eq!(proc_status(pid, "CapEff"), "0000000000000000");
    assert!(report.seccomp.is_enforced(), "{report:?}");
    assert!(report.landlock_fs.is_enforced(), "{report:?}");
    assert!(report.landlock_net.is_enforced(), "{report:?}");
    assert_eq!(report.escape_probe.as_deref(), Some("EACCES"), "{report:?}");
    if is_root() {
        let uid = proc_status(pid, "Uid");
        assert!(uid.split_whitespace().all(|u| u != "0"), "Uid {uid}");
        assert!(report.privdrop.is_enforced(), "{report:?}");
    } else {
        eprintln!("not root: uid checks skipped (run as root to check them)");
    }
}

#[test]
fn killed_workers_restart_within_a_second() {
    let server = Server::serve_smtp("");
    assert!(server.status().workers.len() >= 3);
    for w in server.status().workers {
        let old = w.pid.expect("pid");
        nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(old as i32),
            nix::sys::signal::SIGKILL,
        )
        .unwrap();
        let t0 = Instant::now();
        let new = wait_for(Duration::from_secs(5), || {
            let st = server.status();
            let me = st.workers.into_iter().find(|x| x.role == w.role)?;
            (me.pid.is_some() && me.pid != Some(old)).then_some(me)
        })
        .expect("worker restarted");
        let restarted_in = t0.elapsed();
        assert!(
            restarted_in < Duration::from_secs(1),
            "{:?} restarted after {restarted_in:?}",
            w.role
        );
        assert_eq!(new.restarts, w.restarts + 1, "{new:?}");
        assert!(
            new.last_exit.as_deref().unwrap_or("").contains("SIGKILL"),
            "{new:?}"
        );
        // And it serves again.
        let running = wait_for(Duration::from_secs(10), || {
            server
                .status()
                .workers
                .into_iter()
                .find(|x| x.role == w.role && x.state == WorkerState::Running)
        });
        assert!(running.is_some());
    }
    assert!(server.output_text().contains("worker died; restarting"));
}

/// The files (as received) of an account's Inbox.
fn message_bodies(server: &Server, account: &str) -> Vec<Vec<u8>> {
    stored_messages(server, account)
        .into_iter()
        .map(|m| m.file)
        .collect()
}

#[test]
fn killing_the_store_loses_no_acknowledged_message() {
    let server = Arc::new(Server::serve(""));
    let acked: Arc<Mutex<Vec<String>>> = Arc::default();
    let failed = Arc::new(Mutex::new(0usize));
    let stop = Arc::new(AtomicBool::new(false));
    const WRITERS: usize = 6;
    const PER_WRITER: usize = 60;
    let mut threads = Vec::new();
    for w in 0..WRITERS {
        let (server, acked, failed, stop) =
            (server.clone(), acked.clone(), failed.clone(), stop.clone());
        threads.push(std::thread::spawn(move || {
            for i in 0..PER_WRITER {
                if stop.load(Ordering::Relaxed) {
                    break;
                }
                let tag = format!("writer-{w}-msg-{i}");
                let body = format!("Subject: {tag}\r\n\r\n{tag}\r\n");
                let fd = memfd(body.as_bytes());
                let req = ControlRequest::Deliver {
                    address: "alice@example.org".into(),
                    mailbox: "Inbox".into(),
                };
                let reply = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                    server.call(req, &[fd.as_fd()]).0
                }));
                match reply {
                    Ok(ControlReply::Delivered(_)) => acked.lock().unwrap().push(tag),
                    _ => *failed.lock().unwrap() += 1,
                }
            }
        }));
    }
    // A store started after the one killed last: until the master has
    // reaped a killed store, its status still names it as running.
    let restarted = |killed: Option<u32>| {
        wait_for(Duration::from_secs(10), || {
            server
                .worker_pid(Role::Store)
                .filter(|p| Some(*p) != killed)
        })
    };
    // Kill the store three times while writers are active.
    let mut killed = None;
    for _ in 0..3 {
        std::thread::sleep(Duration::from_millis(300));
        let pid = restarted(killed).expect("store pid");
        nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(pid as i32),
            nix::sys::signal::SIGKILL,
        )
        .unwrap();
        killed = Some(pid);
    }
    for t in threads {
        t.join().unwrap();
    }
    stop.store(true, Ordering::Relaxed);
    restarted(killed).expect("store back");
    let bodies = message_bodies(&server, "alice");
    let stored: Vec<String> = bodies
        .iter()
        .map(|b| {
            String::from_utf8_lossy(b)
                .lines()
                .last()
                .unwrap_or("")
                .trim()
                .to_string()
        })
        .collect();
    let acked = acked.lock().unwrap().clone();
    let failed = *failed.lock().unwrap();
    eprintln!(
        "acknowledged {}, not acknowledged {failed}, stored {}",
        acked.len(),
        stored.len()
    );
    assert!(
        acked.len() > WRITERS * 5,
        "too few deliveries succeeded to mean anything: {}",
        acked.len()
    );
    for tag in &acked {
        let n = stored.iter().filter(|s| *s == tag).count();
        assert_eq!(n, 1, "{tag} acknowledged but stored {n} times");
    }
    // Every stored message is intact (no torn files).
    for b in &bodies {
        let t = String::from_utf8_lossy(b);
        assert!(
            t.starts_with("Subject: writer-") && t.ends_with("\r\n"),
            "{t:?}"
        );
    }
    let unique: HashSet<_> = stored.iter().collect();
    assert_eq!(unique.len(), stored.len(), "a message was stored twice");
}

#[test]
fn ipc_garbage_closes_only_that_connection() {
    let server = Server::serve("");
    let store_pid = server.worker_pid(Role::Store).unwrap();
    let cases: Vec<(&str, Vec<u8>)> = vec![
        (
            "garbage",
            b"this is not a frame at all, just bytes\n".to_vec(),
        ),
        ("oversized", {
            let mut v = u32::MAX.to_be_bytes().to_vec();
            v.extend_from_slice(&[0; 9]);
            v
        }),
        ("bad body", {
            let mut v = 20u32.to_be_bytes().to_vec();
            v.push(0);
            v.extend_from_slice(&5u64.to_be_bytes());
            v.extend_from_slice(&[0xff; 11]);
            v
        }),
        ("fds announced but absent", {
            let mut v = 9u32.to_be_bytes().to_vec();
            v.push(3);
            v.extend_from_slice(&5u64.to_be_bytes());
            v
        }),
    ];
    // A healthy connection stays open throughout.
    let mut healthy = server.store_conn();
    for (name, bytes) in cases {
        let c = server.store_conn();
        let mut s = c.into_inner();
        s.write_all(&bytes).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        let mut buf = [0u8; 64];
        let n = s
            .read(&mut buf)
            .unwrap_or_else(|e| panic!("{name}: store did not close: {e}"));
        assert_eq!(n, 0, "{name}: expected the store to close the connection");
        healthy.send(2, &StoreRequest::Ping, &[]).unwrap();
        assert_eq!(
            healthy.recv::<StoreReply>().unwrap().unwrap().body,
            StoreReply::Pong,
            "{name}"
        );
    }
    // Truncated: half a frame, then the client goes away.
    {
        let c = server.store_conn();
        let mut s = c.into_inner();
        let frame = ipc::frame::encode_frame(9, &StoreRequest::Ping, 0).unwrap();
        s.write_all(&frame[..frame.len() - 2]).unwrap();
        drop(s);
    }
    assert_eq!(server.store_call(StoreRequest::Ping), StoreReply::Pong);
    let st = server.status();
    let store = st.workers.iter().find(|w| w.role == Role::Store).unwrap();
    assert_eq!(
        store.pid,
        Some(store_pid),
        "the store must not have restarted"
    );
    assert_eq!(store.restarts, 0);
    let out = server.output_text();
    assert!(out.contains("bad frame on store connection"), "{out}");
}

#[test]
fn store_refuses_requests_beyond_a_peers_rights() {
    // The admin connection may do everything; the rights table itself is
    // unit-tested in the store. Here: a delivery needs exactly one fd.
    let server = Server::serve("");
    let r = server.store_call(StoreRequest::Deliver(Delivery {
        account: "alice".into(),
        mailbox: "Inbox".into(),
        flags: vec![],
        prefix: vec![],
        received: None,
        parsed: None,
    }));
    assert!(
        matches!(r, StoreReply::Error(ref e) if e.message.contains("descriptor")),
        "{r:?}"
    );
}

#[test]
fn moxctl_is_refused_for_other_users() {
    if !is_root() {
        eprintln!("not root: cannot run moxctl as another user; skipped");
        return;
    }
    let server = Server::serve("");
    let nobody = nix::unistd::User::from_name("nobody")
        .unwrap()
        .expect("user nobody");
    let run_as_nobody = || {
        let (uid, gid) = (nobody.uid.as_raw(), nobody.gid.as_raw());
        let mut cmd = std::process::Command::new(MOXCTL);
        cmd.arg("--socket").arg(&server.socket).arg("status");
        // SAFETY: only async-signal-safe syscalls between fork and exec.
        unsafe {
            cmd.pre_exec(move || {
                if libc::setgroups(0, std::ptr::null()) != 0
                    || libc::setgid(gid) != 0
                    || libc::setuid(uid) != 0
                {
                    return Err(std::io::Error::last_os_error());
                }
                Ok(())
            });
        }
        cmd.output().unwrap()
    };
    // The socket's mode (0600) refuses the connection.
    let out = run_as_nobody();
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("permission denied"),
        "{out:?}"
    );
    // Even with the file opened up, SO_PEERCRED refuses the peer.
    std::fs::set_permissions(
        &server.socket,
        std::os::unix::fs::PermissionsExt::from_mode(0o666),
    )
    .unwrap();
    let _ = std::fs::set_permissions(
        server.dir.path(),
        std::os::unix::fs::PermissionsExt::from_mode(0o755),
    );
    let out = run_as_nobody();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("permission denied") && err.contains("admin"),
        "{err}"
    );
    // Root is accepted.
    assert!(server.moxctl(&["status"]).status.success());
}

#[test]
fn accounts_addresses_and_domains_via_moxctl() {
    let server = Server::serve("");
    let ok = |args: &[&str], stdin: Option<&str>| {
        let mut cmd = std::process::Command::new(MOXCTL);
        cmd.arg("--socket").arg(&server.socket).args(args);
        cmd.stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped());
        let mut child = cmd.spawn().unwrap();
        if let Some(s) = stdin {
            child.stdin.take().unwrap().write_all(s.as_bytes()).unwrap();
        }
        drop(child.stdin.take());
        let out = child.wait_with_output().unwrap();
        assert!(
            out.status.success(),
            "moxctl {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    };
    ok(&["domain", "add", "example.net"], None);
    ok(
        &["account", "add", "bob", "bob@example.net"],
        Some("s3cret-pass\n"),
    );
    ok(&["address", "add", "robert@example.net", "bob"], None);
    let list = ok(&["account", "list"], None);
    assert!(
        list.contains("bob") && list.contains("robert@example.net"),
        "{list}"
    );
    // The password works; the wrong one does not; unknown logins fail alike.
    let verify = |login: &str, pw: &str| {
        server.store_call(StoreRequest::VerifyPassword {
            login: login.into(),
            password: pw.into(),
        })
    };
    assert_eq!(
        verify("bob@example.net", "s3cret-pass"),
        StoreReply::Authenticated(Some("bob".into()))
    );
    assert_eq!(
        verify("robert@example.net", "s3cret-pass"),
        StoreReply::Authenticated(Some("bob".into()))
    );
    assert_eq!(
        verify("bob@example.net", "wrong"),
        StoreReply::Authenticated(None)
    );
    assert_eq!(
        verify("nobody@example.net", "s3cret-pass"),
        StoreReply::Authenticated(None)
    );
    ok(&["setaccountpassword", "bob"], Some("n3w-pass\n"));
    assert_eq!(
        verify("bob@example.net", "n3w-pass"),
        StoreReply::Authenticated(Some("bob".into()))
    );
    // No password in the store in plain text.
    let db = std::fs::read(server.dir.path().join("data/system.db")).unwrap();
    assert!(
        !db.windows(8).any(|w| w == b"n3w-pass"),
        "plain password found in system.db"
    );
    // domains.toml follows.
    let domains = std::fs::read_to_string(server.dir.path().join("domains.toml")).unwrap();
    assert!(
        domains.contains("example.net") && domains.contains("robert@example.net"),
        "{domains}"
    );
    // Delivery through moxctl, read back byte-identical.
    let msg = "From: x@example.net\r\nSubject: hi\r\n\r\nbody line\r\n";
    let out = ok(&["deliver", "robert@example.net"], Some(msg));
    assert!(out.contains("delivered: uid 1"), "{out}");
    assert_eq!(
        message_bodies(&server, "bob"),
        vec![msg.as_bytes().to_vec()]
    );
    // Deleting removes it everywhere.
    ok(&["address", "del", "robert@example.net"], None);
    ok(&["account", "del", "bob"], None);
    assert!(!ok(&["account", "list"], None).contains("bob"));
    let domains = std::fs::read_to_string(server.dir.path().join("domains.toml")).unwrap();
    assert!(!domains.contains("bob"), "{domains}");
    // Errors are reported, not swallowed.
    let out = server.moxctl(&["address", "add", "x@unknown.example", "alice"]);
    assert!(!out.status.success());
    assert!(!String::from_utf8_lossy(&out.stderr).trim().is_empty());
}

#[test]
fn sigterm_stops_everything_cleanly() {
    let mut server = Server::serve("");
    let pids: Vec<u32> = server
        .status()
        .workers
        .iter()
        .filter_map(|w| w.pid)
        .collect();
    assert!(!pids.is_empty());
    let st = server.terminate();
    assert!(st.success(), "exit status {st}: {}", server.output_text());
    for pid in pids {
        assert!(
            !std::path::Path::new(&format!("/proc/{pid}")).exists(),
            "worker {pid} outlived the master"
        );
    }
    assert!(!server.socket.exists(), "control socket left behind");
    assert!(
        server.output_text().contains("store stopped"),
        "{}",
        server.output_text()
    );
}

#[test]
fn localserve_runs_with_its_account() {
    let mut server = Server::localserve();
    let out = server.output_text();
    assert!(
        out.contains("mox@localhost") && out.contains("moxmoxmox"),
        "{out}"
    );
    assert_eq!(
        server.store_call(StoreRequest::VerifyPassword {
            login: "mox@localhost".into(),
            password: "moxmoxmox".into()
        }),
        StoreReply::Authenticated(Some("mox".into()))
    );
    // Catch-all: any address lands in the mox account.
    assert_eq!(
        server.store_call(StoreRequest::ResolveRecipient {
            address: "whoever@example.com".into()
        }),
        StoreReply::Recipient(Some("mox".into()))
    );
    let st = server.status();
    assert!(st.localserve);
    for w in &st.workers {
        assert_eq!(proc_status(w.pid.unwrap(), "NoNewPrivs"), "1");
    }
    assert!(server.terminate().success());
}

#[test]
fn config_check_reports_line_numbers() {
    let dir = tempdir();
    let p = dir.path().join("moxd.toml");
    std::fs::write(
        &p,
        "hostname = \"mail.example.org\"\n\nsandbox = \"sometimes\"\n",
    )
    .unwrap();
    let out = std::process::Command::new(MOXD)
        .args(["config", "check", "-c"])
        .arg(&p)
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("moxd.toml:3:"), "{err}");
    std::fs::write(&p, "hostname = \"mail.example.org\"\n").unwrap();
    let out = std::process::Command::new(MOXD)
        .args(["config", "check", "-c"])
        .arg(&p)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn worker_refuses_to_run_by_hand() {
    let out = std::process::Command::new(MOXD)
        .args(["worker", "store"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("started by the master"));
}

#[test]
fn serve_as_root_refuses_a_missing_user() {
    if !is_root() {
        eprintln!("not root: the worker user is only looked up as root; skipped");
        return;
    }
    let dir = tempdir();
    let p = dir.path().join("moxd.toml");
    std::fs::write(
        &p,
        format!(
            "hostname = \"mail.example.org\"\nuser = \"no-such-moxd-user\"\ndata_dir = \"{}\"\ncontrol_socket = \"{}\"\n",
            dir.path().join("data").display(),
            dir.path().join("ctl").display()
        ),
    )
    .unwrap();
    let out = std::process::Command::new(MOXD)
        .arg("serve")
        .arg("-c")
        .arg(&p)
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("no-such-moxd-user") && err.contains("useradd"),
        "{err}"
    );
}
