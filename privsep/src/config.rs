//! moxd.toml (static settings) and domains.toml (domains, accounts,
//! addresses), parsed with line-numbered errors. Only the master reads
//! these files; workers get what they need over their bootstrap fd.

use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};

use ipc::config::{AccountDecl, DomainsDecl, QueueSettings, SandboxMode};
use serde::{Deserialize, Serialize};

/// The static configuration (moxd.toml).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Host name of this mail server (EHLO, Received headers, TLS name).
    pub hostname: String,
    /// The store's data directory; only the store worker opens it.
    #[serde(default = "default_data_dir")]
    pub data_dir: PathBuf,
    /// Unprivileged user the workers run as when the master is root.
    #[serde(default = "default_user")]
    pub user: String,
    /// "required" (default) or "best-effort".
    #[serde(default)]
    pub sandbox: SandboxMode,
    /// Unix socket for moxctl (mode 0600, or 0660 with `admin_group`).
    #[serde(default = "default_control_socket")]
    pub control_socket: PathBuf,
    /// Group whose members may use moxctl besides root.
    #[serde(default)]
    pub admin_group: Option<String>,
    /// domains.toml, relative to this file's directory unless absolute.
    #[serde(default = "default_domains_file")]
    pub domains_file: PathBuf,
    /// tracing filter ("info", "debug", "moxd=debug,…").
    #[serde(default = "default_log")]
    pub log: String,
    #[serde(default)]
    pub tls: Option<TlsFiles>,
    #[serde(default)]
    pub listeners: Listeners,
    /// DNS server for outbound delivery lookups, as `ip:port`
    /// (e.g. "127.0.0.2:53"); default: the servers in /etc/resolv.conf.
    #[serde(default)]
    pub resolver: Option<SocketAddr>,
    /// Outbound delivery: retry schedule, DSN timing, limits, timeouts.
    #[serde(default)]
    pub queue: QueueSettings,
    /// Limits of smtp-in and submission sessions.
    #[serde(default)]
    pub smtp: ipc::config::SmtpSettings,
    /// Limits of IMAP sessions and the default storage quota.
    #[serde(default)]
    pub imap: ipc::config::ImapSettings,
    /// Web interfaces: paths, trusted reverse proxies, session lifetimes.
    #[serde(default)]
    pub web: ipc::config::WebSettings,
    /// Message authentication of incoming mail (SPF, DKIM, DMARC, iprev,
    /// DNSBLs) and DMARC reports.
    #[serde(default)]
    pub auth: ipc::config::AuthSettings,
    /// Test builds only: a path every worker tries to open after sandboxing.
    #[cfg(feature = "escape-probe")]
    #[serde(default)]
    pub escape_probe: Option<PathBuf>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TlsFiles {
    pub cert: PathBuf,
    pub key: PathBuf,
}

/// Listening addresses and ports; a port that is absent is not opened.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Listeners {
    #[serde(default)]
    pub ips: Vec<IpAddr>,
    pub smtp: Option<u16>,
    pub submission: Option<u16>,
    pub submissions: Option<u16>,
    pub imap: Option<u16>,
    pub imaps: Option<u16>,
    pub http: Option<u16>,
    pub https: Option<u16>,
    /// Prometheus metrics, never on a public address by default.
    pub metrics: Option<u16>,
    #[serde(default)]
    pub metrics_ips: Vec<IpAddr>,
}

fn default_data_dir() -> PathBuf {
    PathBuf::from("/var/lib/moxd")
}
fn default_user() -> String {
    "moxd".into()
}
fn default_control_socket() -> PathBuf {
    PathBuf::from("/run/moxd/ctl")
}
fn default_domains_file() -> PathBuf {
    PathBuf::from("domains.toml")
}
fn default_log() -> String {
    "info".into()
}

/// domains.toml.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DomainsFile {
    #[serde(default)]
    pub domains: Vec<String>,
    #[serde(default)]
    pub accounts: Vec<AccountEntry>,
    /// DKIM signing keys (`moxctl dkim gen`); key files are relative to
    /// this file's directory.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub dkim: Vec<DkimEntry>,
}

/// One DKIM signing key of a domain.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DkimEntry {
    pub domain: String,
    pub selector: String,
    /// "ed25519" or "rsa".
    pub algorithm: String,
    /// PKCS#8 PEM file, readable by root only.
    pub key: PathBuf,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AccountEntry {
    pub name: String,
    pub addresses: Vec<String>,
}

impl DomainsFile {
    pub fn to_decl(&self) -> DomainsDecl {
        DomainsDecl {
            domains: self.domains.clone(),
            accounts: self
                .accounts
                .iter()
                .map(|a| AccountDecl {
                    name: a.name.clone(),
                    addresses: a.addresses.clone(),
                })
                .collect(),
        }
    }
}

/// A configuration error with the file and, where known, the line.
#[derive(Debug, thiserror::Error)]
#[error("{}{}: {message}", path.display(), line.map(|l| format!(":{l}")).unwrap_or_default())]
pub struct ConfigError {
    pub path: PathBuf,
    pub line: Option<usize>,
    pub message: String,
}

fn read(path: &Path) -> Result<String, ConfigError> {
    std::fs::read_to_string(path).map_err(|e| ConfigError {
        path: path.into(),
        line: None,
        message: e.to_string(),
    })
}

/// Turn a toml error into a ConfigError with a 1-based line number.
fn toml_error(path: &Path, text: &str, e: toml::de::Error) -> ConfigError {
    let line = e
        .span()
        .map(|s| text[..s.start.min(text.len())].matches('\n').count() + 1);
    ConfigError {
        path: path.into(),
        line,
        message: e.message().trim().to_string(),
    }
}

/// Line of the first `key = …` in the text, for semantic errors.
fn line_of_key(text: &str, key: &str) -> Option<usize> {
    text.lines()
        .position(|l| {
            let t = l.trim_start();
            t.strip_prefix(key)
                .is_some_and(|rest| rest.trim_start().starts_with('='))
        })
        .map(|i| i + 1)
}

pub fn parse_config(path: &Path, text: &str) -> Result<Config, ConfigError> {
    let cfg: Config = toml::from_str(text).map_err(|e| toml_error(path, text, e))?;
    let err = |key: &str, message: String| ConfigError {
        path: path.into(),
        line: line_of_key(text, key),
        message,
    };
    if !valid_hostname(&cfg.hostname) {
        return Err(err(
            "hostname",
            format!("hostname {:?} is not a valid domain name", cfg.hostname),
        ));
    }
    if !cfg.data_dir.is_absolute() {
        return Err(err("data_dir", "data_dir must be an absolute path".into()));
    }
    if !cfg.control_socket.is_absolute() {
        return Err(err(
            "control_socket",
            "control_socket must be an absolute path".into(),
        ));
    }
    if cfg.user.is_empty() || cfg.user == "root" {
        return Err(err(
            "user",
            "user must name an unprivileged user, not root".into(),
        ));
    }
    let sm = &cfg.smtp;
    // RFC 5321 §4.5.3.1.4: command lines of 512 octets must be accepted.
    if sm.max_command_line < 512 {
        return Err(err(
            "max_command_line",
            "max_command_line must be at least 512 (RFC 5321 §4.5.3.1.4)".into(),
        ));
    }
    if sm.max_recipients == 0 || sm.max_message_size == 0 || sm.max_errors == 0 {
        let key = if sm.max_recipients == 0 {
            "max_recipients"
        } else if sm.max_message_size == 0 {
            "max_message_size"
        } else {
            "max_errors"
        };
        return Err(err(key, format!("{key} must be at least 1")));
    }
    if sm.command_timeout_secs == 0 || sm.data_block_timeout_secs == 0 || sm.data_timeout_secs == 0
    {
        return Err(err(
            "timeout_secs",
            "smtp timeouts must be at least 1 second".into(),
        ));
    }
    let q = &cfg.queue;
    if q.retry_initial_secs == 0 {
        return Err(err(
            "retry_initial_secs",
            "retry_initial_secs must be at least 1".into(),
        ));
    }
    if q.max_connections == 0 || q.max_per_host == 0 {
        return Err(err(
            if q.max_connections == 0 {
                "max_connections"
            } else {
                "max_per_host"
            },
            "queue connection limits must be at least 1".into(),
        ));
    }
    if q.timeout_limit_secs == Some(0) {
        return Err(err(
            "timeout_limit_secs",
            "timeout_limit_secs must be at least 1".into(),
        ));
    }
    for zone in &cfg.auth.dnsbls {
        if !valid_hostname(zone) {
            return Err(err(
                "dnsbls",
                format!("DNSBL zone {zone:?} is not a valid domain name"),
            ));
        }
    }
    if let Some(a) = &cfg.auth.dmarc_reports
        && !a
            .rsplit_once('@')
            .is_some_and(|(l, d)| !l.is_empty() && valid_hostname(d))
    {
        return Err(err(
            "dmarc_reports",
            format!("dmarc_reports {a:?} is not an email address"),
        ));
    }
    if cfg.auth.send_dmarc_reports && cfg.auth.dmarc_reports.is_none() {
        return Err(err(
            "send_dmarc_reports",
            "send_dmarc_reports needs dmarc_reports, the address reports are sent from".into(),
        ));
    }
    let w = &cfg.web;
    for (key, path) in [
        ("account_path", &w.account_path),
        ("admin_path", &w.admin_path),
    ] {
        if !valid_web_path(path) {
            return Err(err(
                key,
                format!(
                    "{key} {path:?} must start and end with / and hold only letters, digits, - _ . and /"
                ),
            ));
        }
    }
    if w.account_path == w.admin_path {
        return Err(err(
            "admin_path",
            "admin_path and account_path must differ".into(),
        ));
    }
    for (key, secs) in [
        ("account_session_idle_secs", w.account_session_idle_secs),
        ("admin_session_idle_secs", w.admin_session_idle_secs),
    ] {
        if secs == 0 {
            return Err(err(key, format!("{key} must be at least 1")));
        }
    }
    if let Err((key, message)) = check_imap(&cfg.imap) {
        return Err(ConfigError {
            path: path.into(),
            line: line_of_section_key(text, "imap", key).or_else(|| line_of_key(text, key)),
            message,
        });
    }
    let l = &cfg.listeners;
    let ports = [
        l.smtp,
        l.submission,
        l.submissions,
        l.imap,
        l.imaps,
        l.http,
        l.https,
        l.metrics,
    ];
    let mut seen = std::collections::HashSet::new();
    for p in ports.into_iter().flatten() {
        if p == 0 {
            return Err(err(
                "listeners",
                "port 0 is not a valid listening port".into(),
            ));
        }
        if !seen.insert(p) {
            return Err(err("listeners", format!("port {p} is configured twice")));
        }
    }
    Ok(cfg)
}

/// A web interface path: `/`, or `/name/…/` of URL-safe characters.
fn valid_web_path(p: &str) -> bool {
    p.starts_with('/')
        && p.ends_with('/')
        && !p.contains("//")
        && !p.split('/').any(|seg| seg == "." || seg == "..")
        && p.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'/' | b'-' | b'_' | b'.'))
}

/// RFC 7162 §4: servers should accept command lines of 8192 octets.
pub const IMAP_MIN_COMMAND_LINE: usize = 8192;
/// RFC 9051 §5.4: the autologout timer is at least 30 minutes.
pub const IMAP_MIN_IDLE_TIMEOUT_SECS: u64 = 30 * 60;

/// `[imap]`: the key at fault and why.
fn check_imap(s: &ipc::config::ImapSettings) -> Result<(), (&'static str, String)> {
    if s.max_command_line < IMAP_MIN_COMMAND_LINE {
        return Err((
            "max_command_line",
            format!("max_command_line must be at least {IMAP_MIN_COMMAND_LINE} (RFC 7162 §4)"),
        ));
    }
    if s.idle_timeout_secs < IMAP_MIN_IDLE_TIMEOUT_SECS {
        return Err((
            "idle_timeout_secs",
            format!(
                "idle_timeout_secs must be at least {IMAP_MIN_IDLE_TIMEOUT_SECS} (RFC 9051 §5.4)"
            ),
        ));
    }
    let at_least_one = [
        ("max_literal", s.max_literal),
        ("max_message_size", s.max_message_size),
        (
            "max_connections_per_ip",
            u64::from(s.max_connections_per_ip),
        ),
        (
            "max_connections_per_account",
            u64::from(s.max_connections_per_account),
        ),
        ("max_connections", u64::from(s.max_connections)),
        ("default_quota", s.default_quota.unwrap_or(1)),
    ];
    for (key, v) in at_least_one {
        if v == 0 {
            return Err((key, format!("{key} must be at least 1")));
        }
    }
    Ok(())
}

/// Line of the first `key = …` inside the `[section]` table.
fn line_of_section_key(text: &str, section: &str, key: &str) -> Option<usize> {
    let header = format!("[{section}]");
    let start = text.lines().position(|l| l.trim() == header)?;
    text.lines()
        .enumerate()
        .skip(start + 1)
        .take_while(|(_, l)| !l.trim_start().starts_with('['))
        .find(|(_, l)| {
            l.trim_start()
                .strip_prefix(key)
                .is_some_and(|rest| rest.trim_start().starts_with('='))
        })
        .map(|(i, _)| i + 1)
}

pub fn load_config(path: &Path) -> Result<Config, ConfigError> {
    let text = read(path)?;
    parse_config(path, &text)
}

pub fn parse_domains(path: &Path, text: &str) -> Result<DomainsFile, ConfigError> {
    let d: DomainsFile = toml::from_str(text).map_err(|e| toml_error(path, text, e))?;
    let err = |key: &str, message: String| ConfigError {
        path: path.into(),
        line: line_of_key(text, key),
        message,
    };
    for dom in &d.domains {
        if !valid_hostname(dom) {
            return Err(err(
                "domains",
                format!("{dom:?} is not a valid domain name"),
            ));
        }
    }
    for a in &d.accounts {
        for addr in &a.addresses {
            let Some((_, dom)) = addr.rsplit_once('@') else {
                return Err(err(
                    "addresses",
                    format!("{addr:?} is not an email address"),
                ));
            };
            if !d.domains.iter().any(|x| x.eq_ignore_ascii_case(dom)) {
                return Err(err(
                    "addresses",
                    format!(
                        "address {addr:?} is in domain {dom:?}, which is not listed in domains"
                    ),
                ));
            }
        }
    }
    Ok(d)
}

/// The domains file path for a config file.
pub fn domains_path(config_path: &Path, cfg: &Config) -> PathBuf {
    if cfg.domains_file.is_absolute() {
        cfg.domains_file.clone()
    } else {
        config_path
            .parent()
            .unwrap_or(Path::new("."))
            .join(&cfg.domains_file)
    }
}

/// Load domains.toml; a missing file is an empty declaration.
pub fn load_domains(path: &Path) -> Result<DomainsFile, ConfigError> {
    if !path.exists() {
        return Ok(DomainsFile::default());
    }
    let text = read(path)?;
    parse_domains(path, &text)
}

/// Write domains.toml atomically (temp file, fsync, rename).
pub fn save_domains(path: &Path, d: &DomainsFile) -> std::io::Result<()> {
    use std::io::Write;
    let text = toml::to_string_pretty(d).map_err(std::io::Error::other)?;
    let tmp = path.with_extension("toml.tmp");
    let mut f = std::fs::File::create(&tmp)?;
    f.write_all(b"# Domains, accounts and addresses; moxctl keeps this file in sync.\n")?;
    f.write_all(text.as_bytes())?;
    f.sync_all()?;
    std::fs::rename(&tmp, path)?;
    if let Some(dir) = path.parent() {
        std::fs::File::open(dir)?.sync_all()?;
    }
    Ok(())
}

/// RFC 1035 §2.3.1 host name syntax (ASCII; IDNA names in their A-label form).
pub fn valid_hostname(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 253
        && s.split('.').all(|l| {
            !l.is_empty()
                && l.len() <= 63
                && !l.starts_with('-')
                && !l.ends_with('-')
                && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn syntax_error_has_line() {
        let e = parse_config(
            Path::new("moxd.toml"),
            "hostname = \"a.b\"\n\ndata_dir = \n",
        )
        .unwrap_err();
        assert_eq!(e.line, Some(3), "{e}");
        assert!(e.to_string().starts_with("moxd.toml:3: "), "{e}");
    }

    #[test]
    fn unknown_key_has_line() {
        let e = parse_config(Path::new("m"), "hostname = \"a.b\"\nbogus = 1\n").unwrap_err();
        assert_eq!(e.line, Some(2), "{e}");
        assert!(e.message.contains("bogus"), "{e}");
    }

    #[test]
    fn semantic_error_has_line() {
        let e = parse_config(Path::new("m"), "\n\nhostname = \"bad_host\"\n").unwrap_err();
        assert_eq!(e.line, Some(3), "{e}");
        let e = parse_config(Path::new("m"), "hostname = \"a.b\"\nuser = \"root\"\n").unwrap_err();
        assert_eq!(e.line, Some(2), "{e}");
        let e = parse_config(
            Path::new("m"),
            "hostname = \"a.b\"\n[listeners]\nsmtp = 25\nimap = 25\n",
        )
        .unwrap_err();
        assert!(e.message.contains("twice"), "{e}");
    }

    #[test]
    fn web_settings() {
        let c = parse_config(
            Path::new("m"),
            "hostname = \"a.b\"\n[web]\naccount_path = \"/account/\"\ntrusted_proxies = [\"127.0.0.1\"]\nadmin_session_idle_secs = 60\n",
        )
        .unwrap();
        assert_eq!(c.web.account_path, "/account/");
        assert_eq!(c.web.admin_path, "/admin/", "default kept");
        assert_eq!(
            c.web.trusted_proxies,
            ["127.0.0.1".parse::<IpAddr>().unwrap()]
        );
        assert_eq!(c.web.admin_session_idle_secs, 60);
        assert_eq!(c.web.account_session_idle_secs, 24 * 3600);
        for bad in [
            "account_path = \"account\"",
            "admin_path = \"/\"",
            "admin_path = \"/a/../\"",
            "account_session_idle_secs = 0",
        ] {
            let e = parse_config(
                Path::new("m"),
                &format!("hostname = \"a.b\"\n[web]\n{bad}\n"),
            )
            .unwrap_err();
            assert_eq!(e.line, Some(3), "{bad}: {e}");
        }
    }

    #[test]
    fn defaults() {
        let c = parse_config(Path::new("m"), "hostname = \"mail.example.org\"\n").unwrap();
        assert_eq!(c.user, "moxd");
        assert_eq!(c.sandbox, SandboxMode::Required);
        assert_eq!(c.data_dir, PathBuf::from("/var/lib/moxd"));
    }

    #[test]
    fn resolver_and_queue_settings() {
        let c = parse_config(
            Path::new("m"),
            "hostname = \"a.b\"\nresolver = \"127.0.0.2:53\"\n[queue]\nretry_initial_secs = 2\ntimeout_limit_secs = 5\n",
        )
        .unwrap();
        assert_eq!(c.resolver, Some("127.0.0.2:53".parse().unwrap()));
        assert_eq!(c.queue.retry_initial_secs, 2);
        assert_eq!(c.queue.timeout_limit_secs, Some(5));
        assert_eq!(c.queue.max_age_secs, 5 * 24 * 3600, "default kept");
        let d = parse_config(Path::new("m"), "hostname = \"a.b\"\n").unwrap();
        assert_eq!(d.resolver, None);
        assert_eq!(d.queue, QueueSettings::default());
        assert_eq!(d.queue.retry_initial_secs, 450);
        let e = parse_config(
            Path::new("m"),
            "hostname = \"a.b\"\n[queue]\nretry_initial_secs = 0\n",
        )
        .unwrap_err();
        assert_eq!(e.line, Some(3), "{e}");
        let e =
            parse_config(Path::new("m"), "hostname = \"a.b\"\nresolver = \"nope\"\n").unwrap_err();
        assert_eq!(e.line, Some(2), "{e}");
    }

    #[test]
    fn domains_checks_address_domain() {
        let t = "domains = [\"example.org\"]\n[[accounts]]\nname = \"a\"\naddresses = [\"a@example.com\"]\n";
        let e = parse_domains(Path::new("d"), t).unwrap_err();
        assert_eq!(e.line, Some(4), "{e}");
        let t = "domains = [\"example.org\"]\n[[accounts]]\nname = \"a\"\naddresses = [\"a@Example.org\"]\n";
        assert_eq!(
            parse_domains(Path::new("d"), t).unwrap().accounts[0].name,
            "a"
        );
    }

    #[test]
    fn smtp_limits() {
        let c = parse_config(
            Path::new("m"),
            "hostname = \"a.b\"\n[smtp]\nmax_recipients = 5\n",
        )
        .unwrap();
        assert_eq!(c.smtp.max_recipients, 5);
        assert_eq!(c.smtp.max_message_size, 100 * 1024 * 1024, "default kept");
        let e = parse_config(
            Path::new("m"),
            "hostname = \"a.b\"\n[smtp]\nmax_command_line = 100\n",
        )
        .unwrap_err();
        assert_eq!(e.line, Some(3), "{e}");
        let e =
            parse_config(Path::new("m"), "hostname = \"a.b\"\n[smtp]\nbogus = 1\n").unwrap_err();
        assert_eq!(e.line, Some(3), "{e}");
    }

    #[test]
    fn imap_settings() {
        let c = parse_config(
            Path::new("m"),
            "hostname = \"a.b\"\n[imap]\nmax_connections_per_ip = 5\ndefault_quota = 1000000\n",
        )
        .unwrap();
        assert_eq!(c.imap.max_connections_per_ip, 5);
        assert_eq!(c.imap.default_quota, Some(1_000_000));
        assert_eq!(c.imap.idle_timeout_secs, 30 * 60, "default kept");
        let d = parse_config(Path::new("m"), "hostname = \"a.b\"\n").unwrap();
        assert_eq!(d.imap, ipc::config::ImapSettings::default());
        // The line of the [imap] key, not of the [queue] key of that name.
        let e = parse_config(
            Path::new("m"),
            "hostname = \"a.b\"\n[queue]\nmax_connections = 5\n[imap]\nmax_connections = 0\n",
        )
        .unwrap_err();
        assert_eq!(e.line, Some(5), "{e}");
        assert!(e.message.contains("max_connections"), "{e}");
        let e = parse_config(
            Path::new("m"),
            "hostname = \"a.b\"\n[imap]\nidle_timeout_secs = 60\n",
        )
        .unwrap_err();
        assert_eq!(e.line, Some(3), "{e}");
        assert!(e.message.contains("RFC 9051"), "{e}");
        let e = parse_config(
            Path::new("m"),
            "hostname = \"a.b\"\n[imap]\nmax_command_line = 100\n",
        )
        .unwrap_err();
        assert_eq!(e.line, Some(3), "{e}");
        let e =
            parse_config(Path::new("m"), "hostname = \"a.b\"\n[imap]\nbogus = 1\n").unwrap_err();
        assert_eq!(e.line, Some(3), "{e}");
    }

    #[test]
    fn packaged_examples_are_valid() {
        let c = parse_config(
            Path::new("packaging/moxd.toml"),
            include_str!("../../packaging/moxd.toml"),
        )
        .unwrap();
        assert_eq!(c.listeners.smtp, Some(25));
        assert_eq!(c.sandbox, SandboxMode::Required);
        // The [imap] table documents the defaults.
        assert_eq!(c.imap, ipc::config::ImapSettings::default());
        let d = parse_domains(
            Path::new("packaging/domains.toml"),
            include_str!("../../packaging/domains.toml"),
        )
        .unwrap();
        assert_eq!(d.accounts[0].addresses.len(), 2);
    }

    #[test]
    fn save_and_reload_domains() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("domains.toml");
        let d = DomainsFile {
            domains: vec!["example.org".into()],
            accounts: vec![AccountEntry {
                name: "a".into(),
                addresses: vec!["a@example.org".into()],
            }],
            dkim: Vec::new(),
        };
        save_domains(&p, &d).unwrap();
        assert_eq!(load_domains(&p).unwrap(), d);
    }
}
