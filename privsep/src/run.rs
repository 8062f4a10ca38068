//! The run modes: `moxd serve -c FILE`, `moxd localserve [--dir DIR]` and
//! `moxd config check`. Both servers run the same process split; they
//! differ only in where settings come from.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{Context, Result, bail};
use ipc::Role;
use ipc::config::{SandboxMode, UserIds};
use ipc::control::WorkerState;
use ipc::store::{StoreReply, StoreRequest};
use tokio::net::UnixListener;

use crate::config::{self, AccountEntry, DomainsFile, Listeners};
use crate::master::{Master, Settings};
use crate::{control, listeners, logging, tls};

/// Worker roles whose protocol is built; only their ports are opened.
pub const BUILT_ROLES: &[Role] = &[
    Role::Store,
    Role::SmtpIn,
    Role::Submission,
    Role::Queue,
    Role::Web,
    Role::Imap,
];

/// Roles that run without a listening socket: the store, and the queue
/// (outbound delivery; it must run so queued mail leaves).
const ALWAYS_RUN: &[Role] = &[Role::Store, Role::Queue];

/// The roles to run: those always run, and each network role that got a socket.
fn roles_to_run(bound: &[crate::master::BoundListener]) -> Vec<Role> {
    BUILT_ROLES
        .iter()
        .copied()
        .filter(|r| ALWAYS_RUN.contains(r) || bound.iter().any(|b| b.role == *r))
        .collect()
}

/// localserve's account, password and admin password (as mox localserve).
pub const LOCALSERVE_ACCOUNT: &str = "mox";
pub const LOCALSERVE_ADDRESS: &str = "mox@localhost";
pub const LOCALSERVE_PASSWORD: &str = "moxmoxmox";
/// localserve's admin web interface password (as mox localserve).
pub const LOCALSERVE_ADMIN_PASSWORD: &str = "moxadmin";
/// Where localserve serves the account web interface (as mox localserve).
pub const LOCALSERVE_ACCOUNT_PATH: &str = "/account/";
/// localserve's ports: the standard ones + 1000.
pub const LOCALSERVE_PORT_OFFSET: u16 = 1000;

fn exit_code(r: Result<()>) -> i32 {
    match r {
        Ok(()) => 0,
        Err(e) => {
            eprintln!("moxd: {e:#}");
            tracing::error!(error = %format!("{e:#}"), "moxd stopped with an error");
            1
        }
    }
}

pub fn config_check(path: &Path) -> i32 {
    let r = (|| -> Result<()> {
        let cfg = config::load_config(path)?;
        let dp = config::domains_path(path, &cfg);
        let d = config::load_domains(&dp)?;
        println!(
            "{}: ok ({} domains, {} accounts in {})",
            path.display(),
            d.domains.len(),
            d.accounts.len(),
            dp.display()
        );
        Ok(())
    })();
    exit_code(r)
}

fn lookup_user(name: &str) -> Result<UserIds> {
    match nix::unistd::User::from_name(name)? {
        Some(u) => Ok(UserIds {
            name: name.into(),
            uid: u.uid.as_raw(),
            gid: u.gid.as_raw(),
        }),
        None => bail!(
            "user {name:?} does not exist; workers never run as root. Create it with:\n  \
             useradd --system --user-group --home-dir /var/lib/moxd --shell /usr/sbin/nologin {name}"
        ),
    }
}

fn lookup_group(name: &str) -> Result<u32> {
    match nix::unistd::Group::from_name(name)? {
        Some(g) => Ok(g.gid.as_raw()),
        None => {
            bail!("admin_group {name:?} does not exist; create it with: groupadd --system {name}")
        }
    }
}

/// Create the data directory (0700) owned by the worker user.
fn prepare_data_dir(dir: &Path, user: Option<&UserIds>) -> Result<()> {
    std::fs::create_dir_all(dir)
        .with_context(|| format!("creating data directory {}", dir.display()))?;
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))?;
    if let Some(u) = user {
        nix::unistd::chown(dir, Some(u.uid.into()), Some(u.gid.into()))
            .with_context(|| format!("chown {} to {}", dir.display(), u.name))?;
    }
    Ok(())
}

pub fn serve(path: &Path) -> i32 {
    exit_code(serve_inner(path))
}

fn serve_inner(path: &Path) -> Result<()> {
    let cfg = config::load_config(path)?;
    let domains_path = config::domains_path(path, &cfg);
    let domains = config::load_domains(&domains_path)?;
    logging::init(&cfg.log, "master");
    let user = if nix::unistd::geteuid().is_root() {
        Some(lookup_user(&cfg.user)?)
    } else {
        tracing::warn!("not started as root: workers run as the invoking user");
        None
    };
    prepare_data_dir(&cfg.data_dir, user.as_ref())?;
    let tls = cfg
        .tls
        .as_ref()
        .map(|t| tls::load(&t.cert, &t.key))
        .transpose()?;
    let admin_gid = cfg.admin_group.as_deref().map(lookup_group).transpose()?;
    let control = control::bind(&cfg.control_socket, admin_gid)?;
    let bound = listeners::bind_all(&cfg.listeners, BUILT_ROLES, false)?;
    #[cfg(feature = "escape-probe")]
    let escape_probe = cfg.escape_probe.clone();
    #[cfg(not(feature = "escape-probe"))]
    let escape_probe = None;
    let settings = Settings {
        hostname: cfg.hostname.clone(),
        localserve: false,
        sandbox_mode: cfg.sandbox,
        user,
        data_dir: cfg.data_dir.clone(),
        domains,
        domains_path: Some(domains_path),
        catchall_account: None,
        tls,
        log_filter: cfg.log.clone(),
        escape_probe,
        roles: roles_to_run(&bound),
        listeners: bound,
        resolver: cfg.resolver,
        queue: cfg.queue.clone(),
        smtp: cfg.smtp.clone(),
        imap: cfg.imap.clone(),
        web: cfg.web.clone(),
        auth: cfg.auth.clone(),
    };
    run_master(settings, control, &cfg.control_socket, admin_gid, None)
}

fn default_localserve_dir() -> PathBuf {
    let base = std::env::var_os("XDG_CONFIG_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".config")))
        .unwrap_or_else(|| PathBuf::from("."));
    base.join("moxd-localserve")
}

/// IMAP connections per IP address in localserve (all clients share
/// 127.0.0.1 there; imaptest's default run uses 20 and reconnects).
const LOCALSERVE_MAX_CONNECTIONS_PER_IP: u32 = 100;

pub fn localserve(dir: Option<PathBuf>) -> i32 {
    exit_code(localserve_inner(dir.unwrap_or_else(default_localserve_dir)))
}

fn localserve_listeners() -> Listeners {
    let o = LOCALSERVE_PORT_OFFSET;
    let lo = vec![
        "127.0.0.1".parse().expect("literal"),
        "::1".parse().expect("literal"),
    ];
    Listeners {
        ips: lo.clone(),
        smtp: Some(25 + o),
        submission: Some(587 + o),
        submissions: Some(465 + o),
        imap: Some(143 + o),
        imaps: Some(993 + o),
        http: Some(80 + o),
        https: Some(443 + o),
        metrics: Some(81 + o),
        metrics_ips: lo,
    }
}

fn localserve_inner(dir: PathBuf) -> Result<()> {
    logging::init("info", "master");
    std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    let dir = dir.canonicalize()?;
    let data_dir = dir.join("data");
    let first_run = !data_dir.exists();
    let user = if nix::unistd::geteuid().is_root() {
        // Like serve: workers never run as root.
        Some(lookup_user("moxd").or_else(|_| lookup_user("nobody"))?)
    } else {
        None
    };
    if user.is_some() {
        // The store (as the worker user) must be able to reach data/.
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755))?;
    }
    prepare_data_dir(&data_dir, user.as_ref())?;
    let (cert, key) = (dir.join("tls/cert.pem"), dir.join("tls/key.pem"));
    tls::ensure_self_signed(&cert, &key, &["localhost", "127.0.0.1", "::1"])?;
    let tls = tls::load(&cert, &key)?;
    let domains_path = dir.join("domains.toml");
    let domains = if domains_path.exists() {
        config::load_domains(&domains_path)?
    } else {
        let d = DomainsFile {
            domains: vec!["localhost".into()],
            accounts: vec![AccountEntry {
                name: LOCALSERVE_ACCOUNT.into(),
                addresses: vec![LOCALSERVE_ADDRESS.into()],
            }],
            dkim: Vec::new(),
        };
        config::save_domains(&domains_path, &d)?;
        d
    };
    let control_path = dir.join("ctl");
    let control = control::bind(&control_path, None)?;
    let bound = listeners::bind_all(&localserve_listeners(), BUILT_ROLES, true)?;
    let ports: Vec<String> = bound
        .iter()
        .map(|b| format!("{:?} {}", b.spec.protocol, b.spec.addr))
        .collect();
    let settings = Settings {
        hostname: "localhost".into(),
        localserve: true,
        sandbox_mode: SandboxMode::BestEffort,
        user,
        data_dir,
        domains,
        domains_path: Some(domains_path),
        catchall_account: Some(LOCALSERVE_ACCOUNT.into()),
        tls: Some(tls),
        log_filter: "info".into(),
        escape_probe: None,
        roles: roles_to_run(&bound),
        listeners: bound,
        resolver: None,
        queue: ipc::config::QueueSettings::default(),
        smtp: ipc::config::SmtpSettings::default(),
        // Loopback only: test tools open many connections from one address.
        imap: ipc::config::ImapSettings {
            max_connections_per_ip: LOCALSERVE_MAX_CONNECTIONS_PER_IP,
            ..Default::default()
        },
        web: ipc::config::WebSettings {
            account_path: LOCALSERVE_ACCOUNT_PATH.into(),
            ..Default::default()
        },
        // Mail comes from loopback test clients; there is no DNS to ask
        // (the default: off).
        auth: ipc::config::AuthSettings::default(),
    };
    let banner = Banner {
        dir,
        control: control_path.clone(),
        ports,
        first_run,
    };
    run_master(settings, control, &control_path, None, Some(banner))
}

struct Banner {
    dir: PathBuf,
    control: PathBuf,
    ports: Vec<String>,
    first_run: bool,
}

fn run_master(
    settings: Settings,
    control: std::os::unix::net::UnixListener,
    control_path: &Path,
    admin_gid: Option<u32>,
    banner: Option<Banner>,
) -> Result<()> {
    let t0 = Instant::now();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    let r = rt.block_on(async {
        let master = Master::new(settings);
        let listener = UnixListener::from_std(control)?;
        tokio::spawn(control::serve(master.clone(), listener, admin_gid));
        let handles = master.start().await?;
        if banner.as_ref().is_some_and(|b| b.first_run) {
            set_localserve_password(&master).await?;
        }
        let ready_ms = t0.elapsed().as_millis();
        tracing::info!(ready_ms, workers = handles.len(), "moxd ready");
        if let Some(b) = &banner {
            print_banner(b, ready_ms);
        }
        if let Err(e) = sd_notify::notify(false, &[sd_notify::NotifyState::Ready]) {
            tracing::debug!(error = %e, "sd_notify");
        }
        wait_for_stop(&master).await;
        let _ = sd_notify::notify(false, &[sd_notify::NotifyState::Stopping]);
        tracing::info!("stopping");
        master.stop().await;
        for h in handles {
            let _ = h.await;
        }
        let still: Vec<_> = master
            .worker_status()
            .into_iter()
            .filter(|w| w.state == WorkerState::Running)
            .collect();
        if !still.is_empty() {
            tracing::warn!(n = still.len(), "workers still marked running at exit");
        }
        Ok::<_, anyhow::Error>(())
    });
    let _ = std::fs::remove_file(control_path);
    rt.shutdown_timeout(std::time::Duration::from_secs(1));
    r
}

async fn wait_for_stop(master: &Master) {
    use tokio::signal::unix::{SignalKind, signal};
    let (Ok(mut term), Ok(mut int)) = (
        signal(SignalKind::terminate()),
        signal(SignalKind::interrupt()),
    ) else {
        tracing::error!("cannot install signal handlers");
        master.shutdown.cancelled().await;
        return;
    };
    tokio::select! {
        _ = term.recv() => tracing::info!("SIGTERM"),
        _ = int.recv() => tracing::info!("SIGINT"),
        _ = master.shutdown.cancelled() => {}
    }
}

async fn set_localserve_password(master: &Master) -> Result<()> {
    let client = master.store().await?;
    let req = StoreRequest::SetPassword {
        account: LOCALSERVE_ACCOUNT.into(),
        password: LOCALSERVE_PASSWORD.into(),
    };
    match client.call(&req).await? {
        StoreReply::Ok => {}
        other => bail!("setting localserve password: {other:?}"),
    }
    let req = StoreRequest::AdminPasswordSet {
        password: LOCALSERVE_ADMIN_PASSWORD.into(),
    };
    match client.call(&req).await? {
        StoreReply::Ok => Ok(()),
        other => bail!("setting localserve admin password: {other:?}"),
    }
}

fn print_banner(b: &Banner, ready_ms: u128) {
    let exe = std::env::args().next().unwrap_or_else(|| "moxd".into());
    let moxctl = Path::new(&exe).with_file_name("moxctl");
    println!("moxd localserve ready in {ready_ms} ms");
    println!("  directory: {}", b.dir.display());
    println!(
        "  account:   {LOCALSERVE_ADDRESS}  password: {LOCALSERVE_PASSWORD}  (catch-all: mail to any address lands here)"
    );
    println!(
        "  web:       http://localhost:{}{LOCALSERVE_ACCOUNT_PATH} (account), http://localhost:{}/admin/ (admin password: {LOCALSERVE_ADMIN_PASSWORD})",
        80 + LOCALSERVE_PORT_OFFSET,
        80 + LOCALSERVE_PORT_OFFSET
    );
    if !b.first_run {
        println!(
            "             (password as set in an earlier run; change it with moxctl setaccountpassword)"
        );
    }
    println!(
        "  moxctl:    {} --socket {} status",
        moxctl.display(),
        b.control.display()
    );
    if b.ports.is_empty() {
        println!("  ports:     none yet (no network worker is built into this version)");
    } else {
        println!("  ports:     {}", b.ports.join(", "));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn store_and_queue_run_without_listeners() {
        assert_eq!(roles_to_run(&[]), [Role::Store, Role::Queue]);
        assert!(BUILT_ROLES.contains(&Role::Queue));
    }
}
