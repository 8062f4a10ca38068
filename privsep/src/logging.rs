//! tracing setup shared by the master and workers: structured lines on
//! stderr (journald captures them under systemd), one filter string from
//! the config.

use tracing_subscriber::EnvFilter;

/// Install the global subscriber; `process` names the process in each line.
pub fn init(filter: &str, process: &str) {
    let filter = EnvFilter::try_new(filter).unwrap_or_else(|_| EnvFilter::new("info"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_target(false)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .try_init();
    tracing::debug!(process, "logging started");
}
