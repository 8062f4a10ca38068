//! `moxctl`: administer a running moxd over its control socket. Passwords
//! are read from the terminal or stdin, never from the command line.

use std::io::{IsTerminal, Read, Write};
use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::net::UnixStream;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, Result, bail};
use clap::{Parser, Subcommand};
use ipc::BlockingConn;
use ipc::control::{ControlReply, ControlRequest, Status};
use ipc::hello::handshake_blocking;
use ipc::role::Peer;

/// Longest message `moxctl deliver` accepts from stdin.
const MAX_DELIVER_SIZE: u64 = 100 * 1024 * 1024;

#[derive(Parser)]
#[command(name = "moxctl", version, about = "Administer a running moxd")]
struct Cli {
    /// Control socket of the running moxd (localserve prints its path).
    #[arg(long, env = "MOXCTL_SOCKET", default_value = "/run/moxd/ctl")]
    socket: PathBuf,
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Show every process: role, pid, state, restarts, sandbox.
    Status {
        #[arg(long)]
        json: bool,
    },
    /// Stop the server (all processes, in order).
    Stop,
    #[command(subcommand)]
    Domain(DomainCmd),
    #[command(subcommand)]
    Account(AccountCmd),
    #[command(subcommand)]
    Address(AddressCmd),
    /// Set an account's password (read from the terminal, or stdin's first line).
    Setaccountpassword { account: String },
    /// Deliver a message read from stdin to an address's mailbox.
    Deliver {
        address: String,
        #[arg(long, default_value = "Inbox")]
        mailbox: String,
    },
    #[command(subcommand)]
    Queue(QueueCmd),
    #[command(subcommand)]
    Message(MessageCmd),
}

#[derive(Subcommand)]
enum MessageCmd {
    /// List a mailbox: id, uid, size, flags.
    List {
        account: String,
        #[arg(long, default_value = "Inbox")]
        mailbox: String,
    },
    /// Write one message to stdout as stored: the headers added at
    /// delivery, then the message exactly as received.
    Get {
        account: String,
        id: i64,
        /// Only the message as received, without the added headers.
        #[arg(long)]
        raw: bool,
    },
}

#[derive(Subcommand)]
enum DomainCmd {
    Add { domain: String },
    Del { domain: String },
    List,
}

#[derive(Subcommand)]
enum AccountCmd {
    /// Create an account with its first address; asks for a password.
    Add {
        name: String,
        address: String,
        /// Create it without a password (set one later with setaccountpassword).
        #[arg(long)]
        no_password: bool,
    },
    Del {
        name: String,
    },
    List,
}

#[derive(Subcommand)]
enum AddressCmd {
    Add { address: String, account: String },
    Del { address: String },
}

#[derive(Subcommand)]
enum QueueCmd {
    List,
}

fn connect(path: &PathBuf) -> Result<BlockingConn> {
    let s = UnixStream::connect(path).map_err(|e| match e.kind() {
        std::io::ErrorKind::PermissionDenied => {
            anyhow::anyhow!(
                "permission denied on {}: moxctl needs root or the admin group",
                path.display()
            )
        }
        _ => anyhow::anyhow!("connecting to {}: {e} (is moxd running?)", path.display()),
    })?;
    let mut c = BlockingConn::new(s);
    handshake_blocking(&mut c, Peer::Control).context("control hello")?;
    Ok(c)
}

fn call(
    conn: &mut BlockingConn,
    req: &ControlRequest,
    fds: &[std::os::fd::BorrowedFd<'_>],
) -> Result<ControlReply> {
    conn.send(1, req, fds)?;
    match conn.recv::<ControlReply>()? {
        Some(m) => match m.body {
            ControlReply::Error(e) => bail!("{e}"),
            other => Ok(other),
        },
        None => bail!("moxd closed the control connection"),
    }
}

fn read_password(confirm: bool) -> Result<String> {
    let pw = if std::io::stdin().is_terminal() {
        let p = rpassword::prompt_password("password: ")?;
        if confirm && rpassword::prompt_password("password (again): ")? != p {
            bail!("passwords do not match");
        }
        p
    } else {
        let mut line = String::new();
        std::io::stdin().read_line(&mut line)?;
        line.trim_end_matches(['\r', '\n']).to_string()
    };
    if pw.is_empty() {
        bail!("empty password");
    }
    Ok(pw)
}

fn stdin_to_memfd() -> Result<OwnedFd> {
    let fd =
        nix::sys::memfd::memfd_create(c"moxctl-deliver", nix::sys::memfd::MFdFlags::MFD_CLOEXEC)?;
    let mut f = std::fs::File::from(fd);
    let n = std::io::copy(&mut std::io::stdin().take(MAX_DELIVER_SIZE + 1), &mut f)?;
    if n > MAX_DELIVER_SIZE {
        bail!("message larger than {MAX_DELIVER_SIZE} bytes");
    }
    f.flush()?;
    Ok(f.into())
}

fn print_status(s: &Status) {
    println!(
        "moxd {}, master pid {}, up {}s{}",
        s.version,
        s.master_pid,
        s.uptime_secs,
        if s.localserve { " (localserve)" } else { "" }
    );
    println!(
        "{:<11} {:>7} {:<8} {:>8} {:>7} {:>6}  {:<9} {:<9} {:<9} {:<9} {:<9} {:<9}",
        "ROLE",
        "PID",
        "STATE",
        "RESTARTS",
        "UPTIME",
        "UID",
        "PRIVDROP",
        "CAPS",
        "NNP",
        "LANDLOCK",
        "LL-NET",
        "SECCOMP"
    );
    for w in &s.workers {
        let short = |f: &ipc::sandbox::FeatureState| {
            f.to_string().split(' ').next().unwrap_or("").to_string()
        };
        let (uid, pd, caps, nnp, ll, lln, sc) = match &w.sandbox {
            Some(r) => (
                r.uid.to_string(),
                short(&r.privdrop),
                short(&r.capabilities),
                short(&r.no_new_privs),
                short(&r.landlock_fs),
                short(&r.landlock_net),
                short(&r.seccomp),
            ),
            None => (
                "-".into(),
                "-".into(),
                "-".into(),
                "-".into(),
                "-".into(),
                "-".into(),
                "-".into(),
            ),
        };
        println!(
            "{:<11} {:>7} {:<8} {:>8} {:>6}s {:>6}  {:<9} {:<9} {:<9} {:<9} {:<9} {:<9}",
            w.role.name(),
            w.pid.map(|p| p.to_string()).unwrap_or_else(|| "-".into()),
            format!("{:?}", w.state).to_lowercase(),
            w.restarts,
            w.uptime_secs,
            uid,
            pd,
            caps,
            nnp,
            ll,
            lln,
            sc
        );
        if let Some(e) = &w.last_exit {
            println!("{:<11} last exit: {e}", "");
        }
    }
}

fn run(cli: Cli) -> Result<()> {
    let mut c = connect(&cli.socket)?;
    let simple = |c: &mut BlockingConn, req: ControlRequest| -> Result<()> {
        call(c, &req, &[])?;
        Ok(())
    };
    match cli.cmd {
        Cmd::Status { json } => match call(&mut c, &ControlRequest::Status, &[])? {
            ControlReply::Status(s) if json => println!("{}", serde_json::to_string_pretty(&s)?),
            ControlReply::Status(s) => print_status(&s),
            other => bail!("unexpected reply {other:?}"),
        },
        Cmd::Stop => simple(&mut c, ControlRequest::Stop)?,
        Cmd::Domain(DomainCmd::Add { domain }) => {
            simple(&mut c, ControlRequest::DomainAdd { domain })?
        }
        Cmd::Domain(DomainCmd::Del { domain }) => {
            simple(&mut c, ControlRequest::DomainDel { domain })?
        }
        Cmd::Domain(DomainCmd::List) => {
            if let ControlReply::Domains(d) = call(&mut c, &ControlRequest::DomainList, &[])? {
                d.iter().for_each(|x| println!("{x}"));
            }
        }
        Cmd::Account(AccountCmd::Add {
            name,
            address,
            no_password,
        }) => {
            let password = if no_password {
                None
            } else {
                Some(read_password(true)?)
            };
            simple(
                &mut c,
                ControlRequest::AccountAdd {
                    name,
                    address,
                    password,
                },
            )?
        }
        Cmd::Account(AccountCmd::Del { name }) => {
            simple(&mut c, ControlRequest::AccountDel { name })?
        }
        Cmd::Account(AccountCmd::List) => {
            if let ControlReply::Accounts(a) = call(&mut c, &ControlRequest::AccountList, &[])? {
                for acc in a {
                    println!(
                        "{}\t{} messages\t{} bytes\t{}",
                        acc.name,
                        acc.messages,
                        acc.size,
                        acc.addresses.join(", ")
                    );
                }
            }
        }
        Cmd::Address(AddressCmd::Add { address, account }) => {
            simple(&mut c, ControlRequest::AddressAdd { address, account })?
        }
        Cmd::Address(AddressCmd::Del { address }) => {
            simple(&mut c, ControlRequest::AddressDel { address })?
        }
        Cmd::Setaccountpassword { account } => {
            let password = read_password(true)?;
            simple(&mut c, ControlRequest::SetPassword { account, password })?
        }
        Cmd::Deliver { address, mailbox } => {
            let fd = stdin_to_memfd()?;
            if let ControlReply::Delivered(d) = call(
                &mut c,
                &ControlRequest::Deliver { address, mailbox },
                &[fd.as_fd()],
            )? {
                println!(
                    "delivered: uid {} message id {} modseq {}",
                    d.uid, d.message_id, d.modseq
                );
            }
        }
        Cmd::Message(MessageCmd::List { account, mailbox }) => {
            if let ControlReply::Messages(l) = call(
                &mut c,
                &ControlRequest::MessageList { account, mailbox },
                &[],
            )? {
                for m in l {
                    println!("{}\t{}\t{}\t{}", m.id, m.uid, m.size, m.flags.join(" "));
                }
            }
        }
        Cmd::Message(MessageCmd::Get { account, id, raw }) => {
            c.send(
                1,
                &ControlRequest::MessageGet {
                    account,
                    message_id: id,
                },
                &[],
            )?;
            let m = c
                .recv::<ControlReply>()?
                .context("moxd closed the control connection")?;
            match (m.body, m.fds.into_iter().next()) {
                (ControlReply::MessageFile { prefix, .. }, Some(fd)) => {
                    let mut out = std::io::stdout().lock();
                    if !raw {
                        out.write_all(&prefix)?;
                    }
                    std::io::copy(&mut std::fs::File::from(fd), &mut out)?;
                    out.flush()?;
                }
                (ControlReply::Error(e), _) => bail!("{e}"),
                (other, _) => bail!("unexpected reply {other:?}"),
            }
        }
        Cmd::Queue(QueueCmd::List) => {
            if let ControlReply::Queue(q) = call(&mut c, &ControlRequest::QueueList, &[])? {
                for e in q {
                    println!(
                        "{}\t{}\t{} -> {}\t{} bytes\tattempts {}{}",
                        e.id,
                        e.account,
                        e.mail_from,
                        e.recipients.join(","),
                        e.size,
                        e.attempts,
                        if e.hold { "\theld" } else { "" }
                    );
                }
            }
        }
    }
    Ok(())
}

fn main() -> ExitCode {
    match run(Cli::parse()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("moxctl: {e:#}");
            ExitCode::FAILURE
        }
    }
}
