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
    /// Set the admin web interface's password (read like setaccountpassword);
    /// ends every admin web session.
    Setadminpassword,
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
    #[command(subcommand)]
    Dkim(DkimCmd),
    #[command(subcommand)]
    Dns(DnsCmd),
    #[command(subcommand)]
    Dmarc(DmarcCmd),
}

#[derive(Subcommand)]
enum DmarcCmd {
    /// Incoming DMARC aggregate reports, newest first: when, reporter,
    /// report id, domain, period, messages, DMARC failures.
    Reports {
        /// At most this many.
        #[arg(long, default_value_t = 100)]
        limit: u32,
        /// Whole reports as JSON, one per line.
        #[arg(long)]
        json: bool,
    },
}

#[derive(Subcommand)]
enum DkimCmd {
    /// Generate an Ed25519 and an RSA-2048 signing key for a domain, use
    /// them for submitted mail, and print their DNS records.
    Gen { domain: String },
}

#[derive(Subcommand)]
enum DnsCmd {
    /// The DNS records to publish for a domain: MX, SPF, DKIM, DMARC.
    Records { domain: String },
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
    /// Queued messages and the state of each recipient.
    List {
        /// Only messages with a recipient in this domain.
        #[arg(long)]
        domain: Option<String>,
    },
    /// Attempt delivery of a message's pending recipients now.
    Kick { id: i64 },
    /// Remove a message from the queue, without a DSN.
    Drop { id: i64 },
    /// Keep a message from being attempted until released.
    Hold { id: i64 },
    /// Let a held message be attempted again.
    Release { id: i64 },
}

/// A unix time as UTC `YYYY-MM-DD HH:MM:SS`.
fn utc(t: i64) -> String {
    let (days, secs) = (t.div_euclid(86_400), t.rem_euclid(86_400));
    // Civil date from days since 1970-01-01 (H. Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}-{m:02}-{d:02} {:02}:{:02}:{:02}",
        secs / 3600,
        secs / 60 % 60,
        secs % 60
    )
}

fn print_queue(entries: &[ipc::store::QueueEntry]) {
    for e in entries {
        let from = if e.mail_from.is_empty() {
            "<>"
        } else {
            e.mail_from.as_str()
        };
        println!(
            "{}\t{}\t{}\t{} bytes\tqueued {}{}",
            e.id,
            e.account,
            from,
            e.size,
            utc(e.queued),
            if e.hold { "\theld" } else { "" }
        );
        for r in &e.recipients {
            let state = match r.state {
                ipc::store::RecipientState::Pending => format!("next {}", utc(r.next_attempt)),
                ipc::store::RecipientState::Delivered => "delivered".into(),
                ipc::store::RecipientState::Failed => "failed".into(),
            };
            println!(
                "\t{}\t{}\tattempts {}{}",
                r.address,
                state,
                r.attempts,
                r.last_error
                    .as_deref()
                    .map(|e| format!("\tlast: {e}"))
                    .unwrap_or_default()
            );
        }
    }
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

/// The admin password lives in the store: ask the master for an
/// administrator's store connection and set it there.
fn set_admin_password(c: &mut BlockingConn, password: String) -> Result<()> {
    use ipc::store::{StoreReply, StoreRequest};
    c.send(1, &ControlRequest::StoreConnect, &[])?;
    let m = c
        .recv::<ControlReply>()?
        .context("moxd closed the control connection")?;
    let fd = match (m.body, m.fds.into_iter().next()) {
        (ControlReply::StoreConnection, Some(fd)) => fd,
        (ControlReply::Error(e), _) => bail!("{e}"),
        (other, _) => bail!("unexpected reply {other:?}"),
    };
    let mut store = BlockingConn::new(UnixStream::from(fd));
    handshake_blocking(&mut store, Peer::Admin).context("store hello")?;
    store.send(1, &StoreRequest::AdminPasswordSet { password }, &[])?;
    match store
        .recv::<StoreReply>()?
        .context("the store closed the connection")?
        .body
    {
        StoreReply::Ok => Ok(()),
        StoreReply::Error(e) => bail!("{e}"),
        other => bail!("unexpected store reply {other:?}"),
    }
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
        Cmd::Setadminpassword => {
            let password = read_password(true)?;
            set_admin_password(&mut c, password)?
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
        Cmd::Queue(QueueCmd::List { domain }) => {
            if let ControlReply::QueueEntries(q) =
                call(&mut c, &ControlRequest::QueueEntries { domain }, &[])?
            {
                print_queue(&q);
            }
        }
        Cmd::Dkim(DkimCmd::Gen { domain }) => {
            match call(&mut c, &ControlRequest::DkimGen { domain }, &[])? {
                ControlReply::DnsRecords(lines) => {
                    for l in lines {
                        println!("{l}");
                    }
                }
                other => bail!("unexpected reply {other:?}"),
            }
        }
        Cmd::Dmarc(DmarcCmd::Reports { limit, json }) => {
            match call(&mut c, &ControlRequest::DmarcReports { limit }, &[])? {
                ControlReply::DmarcReports(reports) => {
                    for r in reports {
                        if json {
                            println!("{}", r.json);
                        } else {
                            println!(
                                "{}\t{}\t{}\t{}\t{} - {}\t{} messages\t{} failed",
                                utc(r.received),
                                r.org_name,
                                r.report_id,
                                r.domain,
                                utc(r.begin),
                                utc(r.end),
                                r.messages,
                                r.failed
                            );
                        }
                    }
                }
                other => bail!("unexpected reply {other:?}"),
            }
        }
        Cmd::Dns(DnsCmd::Records { domain }) => {
            match call(&mut c, &ControlRequest::DnsRecords { domain }, &[])? {
                ControlReply::DnsRecords(lines) => {
                    for l in lines {
                        println!("{l}");
                    }
                }
                other => bail!("unexpected reply {other:?}"),
            }
        }
        Cmd::Queue(QueueCmd::Kick { id }) => simple(&mut c, ControlRequest::QueueKick { id })?,
        Cmd::Queue(QueueCmd::Drop { id }) => simple(&mut c, ControlRequest::QueueDrop { id })?,
        Cmd::Queue(QueueCmd::Hold { id }) => simple(&mut c, ControlRequest::QueueHold { id })?,
        Cmd::Queue(QueueCmd::Release { id }) => {
            simple(&mut c, ControlRequest::QueueRelease { id })?
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

#[cfg(test)]
mod tests {
    #[test]
    fn utc_dates() {
        assert_eq!(super::utc(0), "1970-01-01 00:00:00");
        assert_eq!(super::utc(951_782_400), "2000-02-29 00:00:00");
        assert_eq!(super::utc(1_767_225_599), "2025-12-31 23:59:59");
    }
}
