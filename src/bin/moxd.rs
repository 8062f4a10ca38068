//! `moxd`: the mail server. One binary for every process: the master
//! (`serve`, `localserve`) and, re-executed by it, each worker
//! (`moxd worker ROLE`).

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use ipc::Role;

#[derive(Parser)]
#[command(
    name = "moxd",
    version,
    about = "A privilege-separated mail server for self-hosted email"
)]
struct Cli {
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Run a local test instance on 127.0.0.1/::1, standard ports + 1000, no config needed.
    Localserve {
        /// Directory for config and data (default: ~/.config/moxd-localserve).
        #[arg(long)]
        dir: Option<PathBuf>,
    },
    /// Run the production server (as root, from systemd).
    Serve {
        /// Static configuration file.
        #[arg(short, long, default_value = "/etc/moxd/moxd.toml")]
        config: PathBuf,
    },
    /// Configuration tools.
    Config {
        #[command(subcommand)]
        cmd: ConfigCmd,
    },
    /// Show which sandbox features this kernel enforces for each worker role.
    SandboxCheck {
        /// Only this role (store, smtp-in, submission, queue, imap, web, junk).
        #[arg(long)]
        role: Option<String>,
        /// One JSON object per role instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Internal: run as a worker (started by the master with fd 3 as its channel).
    #[command(hide = true)]
    Worker { role: String },
    /// Internal: the child side of sandbox-check.
    #[command(hide = true)]
    SandboxCheckChild { role: String },
}

#[derive(Subcommand)]
enum ConfigCmd {
    /// Validate moxd.toml and domains.toml; errors carry line numbers.
    Check {
        #[arg(short, long, default_value = "/etc/moxd/moxd.toml")]
        config: PathBuf,
    },
}

fn role_arg(name: &str) -> Result<Role, String> {
    Role::from_name(name).ok_or_else(|| {
        let all: Vec<&str> = Role::ALL.iter().map(|r| r.name()).collect();
        format!("unknown role {name:?}; roles are: {}", all.join(", "))
    })
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let code = match cli.cmd {
        Cmd::Localserve { dir } => privsep::run::localserve(dir),
        Cmd::Serve { config } => privsep::run::serve(&config),
        Cmd::Config {
            cmd: ConfigCmd::Check { config },
        } => privsep::run::config_check(&config),
        Cmd::SandboxCheck { role, json } => match role.as_deref().map(role_arg).transpose() {
            Ok(role) => privsep::sandbox::run_check(role, json),
            Err(e) => {
                eprintln!("moxd: {e}");
                2
            }
        },
        Cmd::SandboxCheckChild { role } => match role_arg(&role) {
            Ok(role) => privsep::sandbox::run_check_child(role),
            Err(e) => {
                eprintln!("moxd: {e}");
                2
            }
        },
        Cmd::Worker { role } => match role_arg(&role) {
            Ok(role) => worker_main(role),
            Err(e) => {
                eprintln!("moxd: {e}");
                2
            }
        },
    };
    ExitCode::from(u8::try_from(code).unwrap_or(1))
}

/// A worker: take the bootstrap from the master, sandbox, then run the role.
fn worker_main(role: Role) -> i32 {
    let started = match privsep::worker::enter(role) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("moxd worker {role}: {e:#}");
            return 1;
        }
    };
    let result = match role {
        Role::Store => store::daemon::run(started.bootstrap, started.channel, started.sandbox),
        Role::SmtpIn | Role::Submission => daemons::smtpd::run(
            started.bootstrap,
            started.channel,
            started.sandbox,
            started.listeners,
        ),
        Role::Queue => daemons::queue::run(started.bootstrap, started.channel, started.sandbox),
        Role::Imap => daemons::imapd::run(
            started.bootstrap,
            started.channel,
            started.sandbox,
            started.listeners,
        ),
        Role::Web => web::run(
            started.bootstrap,
            started.channel,
            started.sandbox,
            started.listeners,
        ),
        other => Err(anyhow::anyhow!("role {other} is not built yet")),
    };
    match result {
        Ok(()) => 0,
        Err(e) => {
            tracing::error!(role = %role, error = %format!("{e:#}"), "worker failed");
            1
        }
    }
}
