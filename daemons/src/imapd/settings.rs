//! Session configuration of the imap worker, from its bootstrap: the
//! limits of `[imap]`, TLS from the master's PEM bytes, and whether
//! passwords may go in plain text — only in localserve and only from a
//! loopback address (RFC 9051 §6.2.3 otherwise requires TLS first).

use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context as _, Result};
use ipc::config::{ImapSettings, Protocol, WorkerBootstrap};

use crate::imap::config::{Config, TlsConfig, tls_server_end_point};
use crate::worker;

/// The configurations of one listener: with plain-text logins allowed
/// (localserve, loopback peers) and without.
pub struct Configs {
    plaintext_ok: Arc<Config>,
    tls_only: Arc<Config>,
    localserve: bool,
}

impl Configs {
    pub fn new(
        boot: &WorkerBootstrap,
        imap: &ImapSettings,
        protocol: Protocol,
        tls: Option<TlsConfig>,
    ) -> Configs {
        let base = session_config(boot, imap, protocol, tls);
        let mut plaintext_ok = base.clone();
        plaintext_ok.login_without_tls = true;
        Configs {
            plaintext_ok: Arc::new(plaintext_ok),
            tls_only: Arc::new(base),
            localserve: boot.localserve,
        }
    }

    /// The configuration for a session from `remote`.
    pub fn for_peer(&self, remote: IpAddr) -> Arc<Config> {
        if self.localserve && remote.to_canonical().is_loopback() {
            self.plaintext_ok.clone()
        } else {
            self.tls_only.clone()
        }
    }
}

/// A session configuration with the limits of `[imap]`.
pub fn session_config(
    boot: &WorkerBootstrap,
    imap: &ImapSettings,
    protocol: Protocol,
    tls: Option<TlsConfig>,
) -> Config {
    let mut cfg = Config::new(boot.hostname.clone());
    // Without TLS material an implicit-TLS session fails its handshake
    // rather than serve plain text on port 993.
    cfg.implicit_tls = protocol == Protocol::Imaps;
    cfg.tls = tls;
    let l = &mut cfg.limits;
    l.max_line = imap.max_command_line;
    l.max_literal = imap.max_literal;
    l.max_message_size = imap.max_message_size;
    // A command may always hold one literal of the allowed size.
    l.max_command = l.max_command.max(
        imap.max_literal
            .saturating_add(u64::try_from(imap.max_command_line).unwrap_or(u64::MAX)),
    );
    l.idle_timeout = Duration::from_secs(imap.idle_timeout_secs);
    cfg
}

/// TLS for STARTTLS and port 993, with the certificate hash that
/// SCRAM-…-PLUS binds to (RFC 5929 tls-server-end-point).
pub fn tls_config(boot: &WorkerBootstrap) -> Result<Option<TlsConfig>> {
    let Some(m) = &boot.tls else { return Ok(None) };
    let server = worker::tls_server_config(m)?;
    use rustls_pki_types::CertificateDer;
    use rustls_pki_types::pem::PemObject;
    let first = CertificateDer::pem_slice_iter(&m.cert_chain_pem)
        .next()
        .context("no certificate")?
        .map_err(|e| anyhow::anyhow!("certificate: {e:?}"))?;
    Ok(Some(TlsConfig {
        acceptor: tokio_rustls::TlsAcceptor::from(server),
        server_end_point: Some(tls_server_end_point(first.as_ref())),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use ipc::Role;
    use ipc::config::SandboxMode;

    fn boot(localserve: bool) -> WorkerBootstrap {
        WorkerBootstrap {
            role: Role::Imap,
            hostname: "mail.example.org".into(),
            localserve,
            sandbox_mode: SandboxMode::BestEffort,
            user: None,
            data_dir: None,
            domains: None,
            catchall_account: None,
            listeners: vec![],
            tls: None,
            log_filter: "info".into(),
            escape_probe: None,
            resolver: None,
            queue: None,
            smtp: None,
            imap: None,
            web: None,
            auth: None,
            dkim: Vec::new(),
        }
    }

    #[test]
    fn limits_come_from_settings() {
        let s = ImapSettings {
            max_command_line: 10_000,
            max_literal: 5_000,
            max_message_size: 1_000_000,
            idle_timeout_secs: 3600,
            ..ImapSettings::default()
        };
        let c = session_config(&boot(false), &s, Protocol::Imap, None);
        assert_eq!(c.hostname, "mail.example.org");
        assert_eq!(c.limits.max_line, 10_000);
        assert_eq!(c.limits.max_literal, 5_000);
        assert_eq!(c.limits.max_message_size, 1_000_000);
        assert_eq!(c.limits.idle_timeout, Duration::from_secs(3600));
        assert!(!c.login_without_tls && !c.implicit_tls);
        let big = ImapSettings {
            max_literal: 50 * 1024 * 1024,
            ..ImapSettings::default()
        };
        let c = session_config(&boot(false), &big, Protocol::Imap, None);
        assert!(c.limits.max_command > big.max_literal);
    }

    #[test]
    fn plaintext_logins_only_for_loopback_in_localserve() {
        let s = ImapSettings::default();
        let local = Configs::new(&boot(true), &s, Protocol::Imap, None);
        for ip in ["127.0.0.1", "::1", "::ffff:127.0.0.1"] {
            assert!(
                local.for_peer(ip.parse().unwrap()).login_without_tls,
                "{ip}"
            );
        }
        assert!(
            !local
                .for_peer("192.0.2.1".parse().unwrap())
                .login_without_tls
        );
        let served = Configs::new(&boot(false), &s, Protocol::Imap, None);
        assert!(
            !served
                .for_peer("127.0.0.1".parse().unwrap())
                .login_without_tls
        );
    }
}
