//! DKIM keys, held by the master: `moxctl dkim gen DOMAIN` writes an
//! Ed25519 and an RSA-2048 key (PKCS#8 PEM, mode 0600, owned by the
//! master's user, root in production) under `dkim/DOMAIN/` next to
//! domains.toml, records them there and restarts submission, which gets
//! the key bytes in its bootstrap (it never opens key files). `moxctl dns
//! records DOMAIN` prints what to publish: MX, SPF (for the domain and for
//! our host name, the HELO identity), DKIM and DMARC.

use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use ipc::Role;
use ipc::config::DkimKeyMaterial;
use ipc::control::ControlReply;
use policy::dkimsign::{Algorithm, SigningKey, keys};

use crate::config::{DkimEntry, save_domains, valid_hostname};
use crate::master::Master;

/// Directory of key files, relative to domains.toml's directory.
pub const DKIM_DIR: &str = "dkim";
/// Longest string in one TXT record (RFC 1035 §3.3.14).
pub const TXT_STRING_MAX: usize = 255;
/// Selectors tried per day and algorithm before giving up.
const MAX_SELECTOR_SUFFIX: u32 = 100;

/// The directory holding domains.toml (None for a master without one).
fn config_dir(m: &Master) -> Option<&Path> {
    m.settings.domains_path.as_deref().and_then(Path::parent)
}

fn key_path(m: &Master, e: &DkimEntry) -> Option<PathBuf> {
    if e.key.is_absolute() {
        Some(e.key.clone())
    } else {
        config_dir(m).map(|d| d.join(&e.key))
    }
}

/// Every configured key, read for the submission worker; keys that cannot
/// be read are left out (and logged).
pub fn key_material(m: &Master) -> Vec<DkimKeyMaterial> {
    let entries = m
        .domains
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .dkim
        .clone();
    entries
        .into_iter()
        .filter_map(|e| {
            let path = key_path(m, &e)?;
            match std::fs::read(&path) {
                Ok(pem) => Some(DkimKeyMaterial {
                    domain: e.domain,
                    selector: e.selector,
                    algorithm: e.algorithm,
                    private_key_pem: pem,
                }),
                Err(err) => {
                    tracing::error!(path = %path.display(), error = %err, "reading DKIM key");
                    None
                }
            }
        })
        .collect()
}

/// `YYYYMMDD` of a unix time (UTC), for selector names.
fn date(unix: u64) -> String {
    // Civil date from days since 1970-01-01 (H. Hinnant's algorithm).
    let z = (unix / 86_400) as i64 + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let mo = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(mo <= 2);
    format!("{y:04}{mo:02}{d:02}")
}

/// Write a new private key file, readable by its owner only.
fn write_key(path: &Path, pem: &str) -> std::io::Result<()> {
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)?;
    f.write_all(pem.as_bytes())?;
    f.sync_all()
}

/// `moxctl dkim gen DOMAIN`.
pub async fn generate(m: &Arc<Master>, domain: &str) -> ControlReply {
    let domain = domain.trim_end_matches('.').to_ascii_lowercase();
    if !valid_hostname(&domain) {
        return ControlReply::Error(format!("{domain:?} is not a domain name"));
    }
    let result = {
        let _guard = m.domains_lock.lock().await;
        let m2 = m.clone();
        let d = domain.clone();
        // Key generation takes a while (RSA); keep it off the runtime.
        tokio::task::spawn_blocking(move || generate_locked(&m2, &d))
            .await
            .unwrap_or_else(|e| Err(format!("key generation failed: {e}")))
    };
    match result {
        Ok(lines) => {
            m.restart(Role::Submission).await;
            ControlReply::DnsRecords(lines)
        }
        Err(e) => ControlReply::Error(e),
    }
}

fn generate_locked(m: &Master, domain: &str) -> Result<Vec<String>, String> {
    let known = {
        let d = m.domains.lock().unwrap_or_else(|e| e.into_inner());
        d.domains.iter().any(|x| x.eq_ignore_ascii_case(domain))
    };
    if !known {
        return Err(format!("{domain} is not one of our domains"));
    }
    let (Some(dir), Some(domains_path)) = (config_dir(m), m.settings.domains_path.as_ref()) else {
        return Err("no configuration directory to keep keys in".into());
    };
    let rel_dir = Path::new(DKIM_DIR).join(domain);
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir.join(&rel_dir))
        .map_err(|e| format!("creating {}: {e}", dir.join(&rel_dir).display()))?;
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let day = date(now);
    let mut added = Vec::new();
    let mut lines = Vec::new();
    for (alg, letter) in [(Algorithm::Ed25519, 'e'), (Algorithm::Rsa, 'r')] {
        let pem = keys::generate(alg).map_err(|e| e.to_string())?;
        let key = SigningKey::from_pem(alg, pem.as_bytes()).map_err(|e| e.to_string())?;
        // A free selector: 20261126e, 20261126e2, …
        let mut written = None;
        for n in 1..=MAX_SELECTOR_SUFFIX {
            let selector = if n == 1 {
                format!("{day}{letter}")
            } else {
                format!("{day}{letter}{n}")
            };
            let rel = rel_dir.join(format!("{selector}.pem"));
            match write_key(&dir.join(&rel), &pem) {
                Ok(()) => {
                    written = Some((selector, rel));
                    break;
                }
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
                Err(e) => return Err(format!("writing {}: {e}", dir.join(&rel).display())),
            }
        }
        let Some((selector, rel)) = written else {
            return Err(format!("no free DKIM selector for {day}"));
        };
        lines.push(txt_line(
            &format!("{selector}._domainkey.{domain}."),
            &key.dns_record(),
        ));
        added.push(DkimEntry {
            domain: domain.to_string(),
            selector,
            algorithm: alg.name().into(),
            key: rel,
        });
    }
    let mut d = m.domains.lock().unwrap_or_else(|e| e.into_inner());
    d.dkim.extend(added);
    save_domains(domains_path, &d)
        .map_err(|e| format!("keys written, but saving {}: {e}", domains_path.display()))?;
    tracing::info!(domain, "DKIM keys generated");
    Ok(lines)
}

/// A TXT record line in zone-file syntax, its text split into strings of
/// at most 255 octets.
fn txt_line(owner: &str, text: &str) -> String {
    let parts: Vec<String> = text
        .as_bytes()
        .chunks(TXT_STRING_MAX)
        .map(|c| format!("\"{}\"", String::from_utf8_lossy(c)))
        .collect();
    format!("{owner} TXT {}", parts.join(" "))
}

/// `moxctl dns records DOMAIN`.
pub fn records(m: &Master, domain: &str) -> ControlReply {
    let domain = domain.trim_end_matches('.').to_ascii_lowercase();
    let (known, entries) = {
        let d = m.domains.lock().unwrap_or_else(|e| e.into_inner());
        (
            d.domains.iter().any(|x| x.eq_ignore_ascii_case(&domain)),
            d.dkim
                .iter()
                .filter(|e| e.domain == domain)
                .cloned()
                .collect::<Vec<_>>(),
        )
    };
    if !known {
        return ControlReply::Error(format!("{domain} is not one of our domains"));
    }
    let host = &m.settings.hostname;
    let mut lines = vec![
        format!("{domain}. MX 10 {host}."),
        // RFC 7208: our MX hosts may send for the domain; the host name
        // itself is the HELO identity (RFC 7208 §2.3).
        txt_line(&format!("{domain}."), "v=spf1 mx ~all"),
        txt_line(&format!("{host}."), "v=spf1 a -all"),
    ];
    for e in &entries {
        let Some(alg) = Algorithm::from_name(&e.algorithm) else {
            continue;
        };
        let key = key_path(m, e)
            .ok_or_else(|| "no configuration directory".to_string())
            .and_then(|p| std::fs::read(&p).map_err(|err| format!("{}: {err}", p.display())))
            .and_then(|pem| SigningKey::from_pem(alg, &pem).map_err(|err| err.to_string()));
        match key {
            Ok(k) => lines.push(txt_line(
                &format!("{}._domainkey.{domain}.", e.selector),
                &k.dns_record(),
            )),
            Err(err) => return ControlReply::Error(format!("DKIM key {}: {err}", e.selector)),
        }
    }
    // RFC 7489 §6.3; aggregate reports to the configured address, which
    // must consent when it is outside the domain (§7.1).
    let mut dmarc = "v=DMARC1; p=reject".to_string();
    if let Some(rua) = &m.settings.auth.dmarc_reports {
        dmarc.push_str(&format!("; rua=mailto:{rua}"));
        if let Some((_, rua_domain)) = rua.rsplit_once('@') {
            let rua_domain = rua_domain.to_ascii_lowercase();
            if rua_domain != domain && !rua_domain.ends_with(&format!(".{domain}")) {
                lines.push(txt_line(
                    &format!("{domain}._report._dmarc.{rua_domain}."),
                    "v=DMARC1",
                ));
            }
        }
    }
    lines.push(txt_line(&format!("_dmarc.{domain}."), &dmarc));
    ControlReply::DnsRecords(lines)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_and_txt_lines() {
        assert_eq!(date(0), "19700101");
        assert_eq!(date(1_764_115_200), "20251126");
        assert_eq!(date(951_782_400), "20000229");
        let long = "x".repeat(300);
        let l = txt_line("a.example.", &long);
        assert_eq!(
            l,
            format!(
                "a.example. TXT \"{}\" \"{}\"",
                "x".repeat(255),
                "x".repeat(45)
            )
        );
    }
}
