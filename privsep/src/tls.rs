//! TLS files: the master reads and checks the certificate chain and key
//! (workers never open key files), and localserve makes a self-signed pair.

use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;

use anyhow::{Context, Result, bail};
use ipc::config::TlsMaterial;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};

/// Read a PEM certificate chain and private key, checking both parse.
pub fn load(cert: &Path, key: &Path) -> Result<TlsMaterial> {
    let cert_chain_pem =
        std::fs::read(cert).with_context(|| format!("reading {}", cert.display()))?;
    let key_pem = std::fs::read(key).with_context(|| format!("reading {}", key.display()))?;
    let certs: Vec<_> = CertificateDer::pem_slice_iter(&cert_chain_pem)
        .collect::<Result<_, _>>()
        .map_err(|e| anyhow::anyhow!("parsing certificates in {}: {e:?}", cert.display()))?;
    if certs.is_empty() {
        bail!("{} holds no certificate", cert.display());
    }
    PrivateKeyDer::from_pem_slice(&key_pem)
        .map_err(|e| anyhow::anyhow!("parsing private key in {}: {e:?}", key.display()))?;
    Ok(TlsMaterial {
        cert_chain_pem,
        key_pem,
    })
}

/// Create a self-signed certificate for `names` unless both files exist.
pub fn ensure_self_signed(cert: &Path, key: &Path, names: &[&str]) -> Result<()> {
    if cert.exists() && key.exists() {
        return Ok(());
    }
    let ck =
        rcgen::generate_simple_self_signed(names.iter().map(|s| s.to_string()).collect::<Vec<_>>())
            .context("generating self-signed certificate")?;
    write_private(key, ck.signing_key.serialize_pem().as_bytes())?;
    write_private(cert, ck.cert.pem().as_bytes())?;
    Ok(())
}

fn write_private(path: &Path, data: &[u8]) -> Result<()> {
    if let Some(d) = path.parent() {
        std::fs::create_dir_all(d)?;
    }
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)
        .with_context(|| format!("writing {}", path.display()))?;
    f.write_all(data)?;
    f.sync_all()?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn self_signed_round_trip() {
        let d = tempfile::tempdir().unwrap();
        let (c, k) = (d.path().join("c.pem"), d.path().join("k.pem"));
        ensure_self_signed(&c, &k, &["localhost"]).unwrap();
        let m = load(&c, &k).unwrap();
        assert!(m.cert_chain_pem.starts_with(b"-----BEGIN CERTIFICATE-----"));
        assert!(
            !format!("{m:?}").contains("PRIVATE"),
            "Debug must not print the key"
        );
    }

    #[test]
    fn garbage_is_refused() {
        let d = tempfile::tempdir().unwrap();
        let (c, k) = (d.path().join("c.pem"), d.path().join("k.pem"));
        std::fs::write(&c, "not a cert").unwrap();
        std::fs::write(&k, "not a key").unwrap();
        assert!(load(&c, &k).is_err());
    }
}
