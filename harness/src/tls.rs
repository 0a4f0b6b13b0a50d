//! TLS material for dockerd's TCP listener (rcgen), and the runner-side
//! clients that prove it: bollard with the client certificate, and a bare
//! TLS client without one that must be refused.

use std::net::IpAddr;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use rcgen::{
    BasicConstraints, CertificateParams, CertifiedIssuer, DnType, ExtendedKeyUsagePurpose, IsCa,
    KeyPair, KeyUsagePurpose, SanType,
};

/// A CA, a server certificate and a client certificate, in PEM.
/// The CA key is used here and dropped: it never reaches the target.
pub struct Bundle {
    pub ca_cert: String,
    pub server_cert: String,
    pub server_key: String,
    pub client_cert: String,
    pub client_key: String,
}

pub fn generate(dns: &[String], ips: &[IpAddr]) -> Result<Bundle, rcgen::Error> {
    let mut ca_params = CertificateParams::new(Vec::<String>::new())?;
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca_params
        .distinguished_name
        .push(DnType::CommonName, "shipshape docker CA");
    ca_params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    let ca = CertifiedIssuer::self_signed(ca_params, KeyPair::generate()?)?;

    let mut sp = CertificateParams::new(dns.to_vec())?;
    for ip in ips {
        sp.subject_alt_names.push(SanType::IpAddress(*ip));
    }
    sp.distinguished_name.push(DnType::CommonName, "dockerd");
    sp.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    let server_key = KeyPair::generate()?;
    let server = sp.signed_by(&server_key, &ca)?;

    let mut cp = CertificateParams::new(Vec::<String>::new())?;
    cp.distinguished_name
        .push(DnType::CommonName, "shipshape client");
    cp.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
    let client_key = KeyPair::generate()?;
    let client = cp.signed_by(&client_key, &ca)?;

    Ok(Bundle {
        ca_cert: ca.pem(),
        server_cert: server.pem(),
        server_key: server_key.serialize_pem(),
        client_cert: client.pem(),
        client_key: client_key.serialize_pem(),
    })
}

/// Saves the client side (ca.pem, cert.pem, key.pem: the names the docker
/// CLI and DOCKER_CERT_PATH expect) in `dir` (0700, files 0600).
pub fn save_client(bundle: &Bundle, dir: &Path) -> std::io::Result<()> {
    crate::paths::private_dir(dir)?;
    for (name, content) in [
        ("ca.pem", &bundle.ca_cert),
        ("cert.pem", &bundle.client_cert),
        ("key.pem", &bundle.client_key),
    ] {
        let p = dir.join(name);
        // Created 0600, never readable by others even for a moment.
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o600)
            .open(&p)?;
        std::io::Write::write_all(&mut f, content.as_bytes())?;
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o600))?;
    }
    Ok(())
}

/// A TLS check of dockerd that did not go as it should, and why.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct TlsCheckError(pub String);

/// `docker version` through bollard, with the client certificate in
/// `cert_dir`. Returns the server's version.
pub async fn docker_version_with_cert(
    addr: &str,
    cert_dir: &Path,
) -> Result<String, TlsCheckError> {
    version_with_cert(addr, cert_dir)
        .await
        .map_err(TlsCheckError)
}

async fn version_with_cert(addr: &str, cert_dir: &Path) -> Result<String, String> {
    let docker = bollard::Docker::connect_with_ssl(
        addr,
        &cert_dir.join("key.pem"),
        &cert_dir.join("cert.pem"),
        &cert_dir.join("ca.pem"),
        20,
        bollard::API_DEFAULT_VERSION,
    )
    .map_err(|e| format!("bollard connect: {e}"))?;
    let v = docker
        .version()
        .await
        .map_err(|e| format!("docker version over TLS: {e}"))?;
    Ok(v.version.unwrap_or_default())
}

/// A TLS client that trusts the CA but has no certificate of its own asks
/// for `/version`. Ok(reason) when the server refuses it; Err if it answers.
pub async fn refused_without_cert(
    host: &str,
    port: u16,
    ca_pem: &str,
) -> Result<String, TlsCheckError> {
    refusal(host, port, ca_pem).await.map_err(TlsCheckError)
}

async fn refusal(host: &str, port: u16, ca_pem: &str) -> Result<String, String> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut roots = tokio_rustls::rustls::RootCertStore::empty();
    for cert in rustls_pemfile::certs(&mut ca_pem.as_bytes()) {
        let cert = cert.map_err(|e| e.to_string())?;
        roots.add(cert).map_err(|e| e.to_string())?;
    }
    let provider = Arc::new(tokio_rustls::rustls::crypto::ring::default_provider());
    let config = tokio_rustls::rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?
        .with_root_certificates(roots)
        .with_no_client_auth();
    let connector = tokio_rustls::TlsConnector::from(Arc::new(config));
    let attempt = async {
        let tcp = tokio::net::TcpStream::connect((host, port))
            .await
            .map_err(|e| format!("tcp connect: {e}"))?;
        let name = tokio_rustls::rustls::pki_types::ServerName::try_from(host.to_string())
            .map_err(|e| e.to_string())?;
        let mut tls = match connector.connect(name, tcp).await {
            Ok(t) => t,
            Err(e) => return Ok(format!("handshake refused: {e}")),
        };
        // Under TLS 1.3 the server judges the (missing) client certificate
        // after the client's side of the handshake: the refusal arrives here.
        if let Err(e) = tls
            .write_all(b"GET /version HTTP/1.1\r\nHost: docker\r\nConnection: close\r\n\r\n")
            .await
        {
            return Ok(format!("refused on write: {e}"));
        }
        let mut buf = Vec::new();
        match tls.read_to_end(&mut buf).await {
            Err(e) => Ok(format!("refused: {e}")),
            Ok(_) if buf.is_empty() => Ok("connection closed without an answer".to_string()),
            Ok(_) => Err(format!(
                "the daemon answered a client without a certificate: {}",
                String::from_utf8_lossy(&buf[..buf.len().min(200)])
            )),
        }
    };
    tokio::time::timeout(Duration::from_secs(20), attempt)
        .await
        .map_err(|_| "no answer within 20 s".to_string())?
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bundle_has_sans_and_no_ca_key() {
        let b = generate(&["localhost".into()], &["127.0.0.1".parse().unwrap()]).unwrap();
        assert!(b.ca_cert.contains("BEGIN CERTIFICATE"));
        assert!(b.server_key.contains("PRIVATE KEY"));
        assert!(b.client_key.contains("PRIVATE KEY"));
        assert_ne!(b.server_key, b.client_key);
    }

    #[test]
    fn client_material_is_0600_in_a_0700_folder() {
        let b = generate(&["localhost".into()], &[]).unwrap();
        let base = tempfile::tempdir().unwrap();
        let dir = base.path().join("docker-tls");
        save_client(&b, &dir).unwrap();
        let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(&dir), 0o700);
        for f in ["ca.pem", "cert.pem", "key.pem"] {
            assert_eq!(mode(&dir.join(f)), 0o600, "{f}");
        }
    }
}
