//! The server's TLS identity: the certificate chain and private key named by
//! `smtpd_tls_cert_file` / `smtpd_tls_key_file` (PEM), or — for the embedded default only —
//! a self-signed certificate generated on first start (rcgen, ECDSA P-256) and kept with
//! mode 0600 beside the data, so that STARTTLS and port 465 work on the first try.

use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;

/// Why the TLS identity cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    /// A file cannot be read or written.
    #[error("cannot {what} {path}: {source}")]
    File {
        /// "read" or "write".
        what: &'static str,
        /// The file.
        path: String,
        /// Why.
        source: std::io::Error,
    },
    /// The PEM files do not make an identity (wrong format, key does not match).
    #[error("cannot use the certificate {cert} with the key {key}: {reason}")]
    Identity {
        /// The certificate file.
        cert: String,
        /// The key file.
        key: String,
        /// What OpenSSL said.
        reason: String,
    },
    /// Generating the self-signed certificate failed.
    #[error("cannot generate a self-signed certificate: {0}")]
    Generate(String),
}

/// Reads the PEM certificate (chain) and PKCS#8 PEM key and builds the acceptor used for
/// STARTTLS and implicit TLS (TLS 1.2 minimum, RFC 8996 retires older versions).
pub fn acceptor(cert: &Path, key: &Path) -> Result<tokio_native_tls::TlsAcceptor, TlsError> {
    let read = |p: &Path| {
        std::fs::read(p).map_err(|source| TlsError::File {
            what: "read",
            path: p.display().to_string(),
            source,
        })
    };
    let (c, k) = (read(cert)?, read(key)?);
    let id_err = |reason: String| TlsError::Identity {
        cert: cert.display().to_string(),
        key: key.display().to_string(),
        reason,
    };
    let identity = native_tls::Identity::from_pkcs8(&c, &k).map_err(|e| id_err(e.to_string()))?;
    let acceptor = native_tls::TlsAcceptor::builder(identity)
        .min_protocol_version(Some(native_tls::Protocol::Tlsv12))
        .build()
        .map_err(|e| id_err(e.to_string()))?;
    Ok(tokio_native_tls::TlsAcceptor::from(acceptor))
}

/// Makes a self-signed certificate for `names` at `cert`/`key` unless both exist; returns
/// whether it generated one. Files are created with mode 0600 (the key) and 0644.
pub fn ensure_self_signed(cert: &Path, key: &Path, names: &[String]) -> Result<bool, TlsError> {
    if cert.exists() && key.exists() {
        return Ok(false);
    }
    let ck = rcgen::generate_simple_self_signed(names.to_vec())
        .map_err(|e| TlsError::Generate(e.to_string()))?;
    write_file(key, ck.signing_key.serialize_pem().as_bytes(), 0o600)?;
    write_file(cert, ck.cert.pem().as_bytes(), 0o644)?;
    Ok(true)
}

fn write_file(path: &Path, data: &[u8], mode: u32) -> Result<(), TlsError> {
    let err = |source| TlsError::File {
        what: "write",
        path: path.display().to_string(),
        source,
    };
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(err)?;
    }
    let tmp = path.with_extension("tmp");
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(mode)
        .open(&tmp)
        .map_err(err)?;
    f.write_all(data).map_err(err)?;
    f.sync_all().map_err(err)?;
    std::fs::rename(&tmp, path).map_err(err)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_identity_loads() {
        let d = tempfile::tempdir().unwrap();
        let (c, k) = (d.path().join("tls/cert.pem"), d.path().join("tls/key.pem"));
        assert!(ensure_self_signed(&c, &k, &["localhost".into()]).unwrap());
        assert!(!ensure_self_signed(&c, &k, &["localhost".into()]).unwrap());
        acceptor(&c, &k).expect("identity");
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&k).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
    }

    #[test]
    fn mismatched_files_are_a_clear_error() {
        let d = tempfile::tempdir().unwrap();
        let c = d.path().join("c.pem");
        std::fs::write(&c, "not a certificate").unwrap();
        let e = acceptor(&c, &c).err().unwrap().to_string();
        assert!(e.contains("cannot use the certificate"), "{e}");
        let e = acceptor(&d.path().join("missing"), &c)
            .err()
            .unwrap()
            .to_string();
        assert!(e.contains("cannot read"), "{e}");
    }
}
