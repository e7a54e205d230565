//! TLS with libpq's meaning of every `sslmode`, through rustls (no OpenSSL): which files count
//! (`sslrootcert`, `sslcert`, `sslkey`, with the `~/.postgresql/` defaults), the key-permission
//! rule, the order of attempts each mode makes, and a strict handshake of our own (the probe)
//! that names what is wrong when the driver's fails.
//!
//! The probe exists for two reasons: sqlx's rustls verifier adds the system's roots to a
//! `sslrootcert` file, while libpq trusts that file alone; and its errors do not name the
//! certificate's host names. So with a root file the probe checks the server against that file
//! only before the session connects, and after any TLS failure it repeats the handshake to say
//! which rule failed. The probe sends `SSLRequest`, completes (or fails) the handshake and closes
//! without a startup packet; the server logs at most a `connection received` line for it.

use std::io::{Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use rustls::client::WebPkiServerVerifier;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{CryptoProvider, verify_tls12_signature, verify_tls13_signature};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use rustls::{CertificateError, ClientConfig, DigitallySignedStruct, RootCertStore};

use super::conninfo::{ConnInfo, Host, home_dir};
use crate::error::UserError;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Mode {
    Disable,
    Allow,
    Prefer,
    Require,
    VerifyCa,
    VerifyFull,
}

impl Mode {
    fn parse(s: &str) -> Mode {
        match s {
            "disable" => Mode::Disable,
            "allow" => Mode::Allow,
            "require" => Mode::Require,
            "verify-ca" => Mode::VerifyCa,
            "verify-full" => Mode::VerifyFull,
            _ => Mode::Prefer,
        }
    }
}

/// The root certificates to check the server against.
#[derive(Debug, Clone)]
pub(crate) enum Roots {
    /// No root file: `require`/`prefer`/`allow` encrypt without checking, as libpq does.
    None,
    File {
        path: PathBuf,
        pem: Vec<u8>,
    },
    /// `sslrootcert=system`: the operating system's trust store (libpq 16).
    System,
}

/// How the server's certificate is checked once TLS is on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Check {
    /// Encrypted, certificate not checked.
    Nothing,
    /// Signed by a trusted root (`verify-ca`, or `require` with a root file, as in libpq).
    Chain,
    /// Chain and host name (`verify-full`).
    Full,
}

/// One way of connecting; a mode is a list of these, tried in order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Attempt {
    Plain,
    Tls(Check),
}

/// Everything TLS needs, resolved from the connection parameters before connecting.
#[derive(Debug, Clone)]
pub(crate) struct TlsPlan {
    pub mode: Mode,
    pub sslmode: String,
    pub roots: Roots,
    /// Client certificate and key (paths and PEM), when one is configured and present.
    pub client: Option<ClientCert>,
    /// Unix sockets never use TLS (the server refuses it there; libpq does not ask).
    pub over_socket: bool,
}

#[derive(Debug, Clone)]
pub(crate) struct ClientCert {
    pub cert_path: PathBuf,
    pub cert_pem: Vec<u8>,
    pub key_path: PathBuf,
    pub key_pem: Vec<u8>,
}

impl TlsPlan {
    /// The attempts of this mode, in libpq's order.
    pub fn attempts(&self) -> Vec<Attempt> {
        if self.over_socket {
            return vec![Attempt::Plain];
        }
        let with_roots = match self.roots {
            Roots::None => Check::Nothing,
            _ => Check::Chain,
        };
        match self.mode {
            Mode::Disable => vec![Attempt::Plain],
            // `allow` tries TLS only when the server refuses the plain connection.
            Mode::Allow => vec![Attempt::Plain, Attempt::Tls(Check::Nothing)],
            // `prefer` falls back to plain text when the server has no TLS or the handshake fails.
            Mode::Prefer => vec![Attempt::Tls(with_roots), Attempt::Plain],
            Mode::Require => vec![Attempt::Tls(with_roots)],
            Mode::VerifyCa => vec![Attempt::Tls(Check::Chain)],
            Mode::VerifyFull => vec![Attempt::Tls(Check::Full)],
        }
    }

    /// What to call the root certificates in messages.
    pub fn roots_name(&self) -> String {
        match &self.roots {
            Roots::None => "no root certificate".to_string(),
            Roots::File { path, .. } => path.display().to_string(),
            Roots::System => "the system's trusted roots (sslrootcert=system)".to_string(),
        }
    }
}

fn postgresql_dir() -> Option<PathBuf> {
    home_dir().map(|h| h.join(".postgresql"))
}

/// Resolves the TLS files of `info` as libpq does; every problem is one line naming the file.
pub(crate) fn plan(info: &ConnInfo) -> Result<TlsPlan, UserError> {
    let mode = Mode::parse(&info.sslmode);
    let over_socket = matches!(info.host, Host::Socket(_));
    let mut plan = TlsPlan {
        mode,
        sslmode: info.sslmode.clone(),
        roots: Roots::None,
        client: None,
        over_socket,
    };
    if mode == Mode::Disable || over_socket {
        return Ok(plan);
    }
    let verifying = matches!(mode, Mode::VerifyCa | Mode::VerifyFull);
    let (root_path, root_given) = match &info.sslrootcert {
        Some(r) => (Some(PathBuf::from(r)), true),
        None => (postgresql_dir().map(|d| d.join("root.crt")), false),
    };
    if info.sslrootcert.as_deref() == Some("system") {
        if mode != Mode::VerifyFull {
            return Err(UserError::new(format!(
                "weak sslmode `{}` may not be used with sslrootcert=system (use sslmode=verify-full, as libpq requires)",
                info.sslmode
            )));
        }
        plan.roots = Roots::System;
    } else if let Some(path) = root_path {
        match std::fs::read(&path) {
            Ok(pem) => {
                if CertificateDer::pem_slice_iter(&pem).next().is_none() {
                    return Err(UserError::new(format!(
                        "root certificate file {} holds no PEM certificate; give the CA's certificate (-----BEGIN CERTIFICATE-----)",
                        path.display()
                    )));
                }
                plan.roots = Roots::File { path, pem };
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound && !(verifying || root_given) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                if verifying {
                    return Err(UserError::new(format!(
                        "root certificate file {} does not exist; provide the CA's certificate there \
                         (sslrootcert=FILE), use the system's trusted roots with sslrootcert=system, \
                         or use sslmode=require to encrypt without checking the server",
                        path.display()
                    )));
                }
            }
            Err(e) => {
                return Err(UserError::new(format!(
                    "root certificate file {}: cannot read it ({e}); fix its permissions or set sslrootcert",
                    path.display()
                )));
            }
        }
    }
    let cert_path = match &info.sslcert {
        Some(c) => Some(PathBuf::from(c)),
        None => postgresql_dir().map(|d| d.join("postgresql.crt")),
    };
    if let Some(cert_path) = cert_path
        && let Some(cert_pem) = read_optional(&cert_path, "client certificate")?
    {
        let key_path = match &info.sslkey {
            Some(k) => PathBuf::from(k),
            None => postgresql_dir()
                .map(|d| d.join("postgresql.key"))
                .unwrap_or_else(|| PathBuf::from("postgresql.key")),
        };
        check_key_permissions(&key_path, &cert_path)?;
        let key_pem = std::fs::read(&key_path).map_err(|e| {
            UserError::new(format!(
                "private key file {}: cannot read it ({e}); make it readable by this user only (chmod 0600)",
                key_path.display()
            ))
        })?;
        if PrivateKeyDer::from_pem_slice(&key_pem).is_err() {
            return Err(UserError::new(format!(
                "private key file {} holds no PEM private key; give the key of {}",
                key_path.display(),
                cert_path.display()
            )));
        }
        if CertificateDer::pem_slice_iter(&cert_pem).next().is_none() {
            return Err(UserError::new(format!(
                "client certificate file {} holds no PEM certificate",
                cert_path.display()
            )));
        }
        plan.client = Some(ClientCert {
            cert_path,
            cert_pem,
            key_path,
            key_pem,
        });
    }
    // libpq goes on without a client certificate file that does not exist; the driver reads
    // PGSSLCERT/PGSSLKEY itself and would fail on it, so say which variable to unset.
    if plan.client.is_none() {
        for var in ["PGSSLCERT", "PGSSLKEY"] {
            if let Ok(v) = std::env::var(var)
                && !v.is_empty()
            {
                return Err(UserError::new(format!(
                    "{var}={v} but no usable client certificate and key pair is there; unset {var} or give both files"
                )));
            }
        }
    }
    Ok(plan)
}

/// A file that may be absent (libpq then goes on without it); present but unreadable is an error.
fn read_optional(path: &Path, what: &str) -> Result<Option<Vec<u8>>, UserError> {
    match std::fs::read(path) {
        Ok(b) => Ok(Some(b)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(UserError::new(format!(
            "{what} file {}: cannot read it ({e}); fix its permissions",
            path.display()
        ))),
    }
}

/// libpq's rule: the key may be readable by its owner only (0600), or also by the group when
/// root owns it (0640); anything wider is refused, as are missing and non-regular files.
fn check_key_permissions(key: &Path, cert: &Path) -> Result<(), UserError> {
    let meta = std::fs::metadata(key).map_err(|e| {
        UserError::new(format!(
            "certificate {} is present but its private key file {} is not ({e}); set sslkey or put the key there",
            cert.display(),
            key.display()
        ))
    })?;
    if !meta.is_file() {
        return Err(UserError::new(format!(
            "private key file {} is not a regular file",
            key.display()
        )));
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::{MetadataExt, PermissionsExt};
        let mode = meta.permissions().mode() & 0o777;
        let allowed = if meta.uid() == 0 { 0o640 } else { 0o600 };
        if mode & !allowed != 0 {
            return Err(UserError::new(format!(
                "private key file {} has group or world access (mode {:04o}); chmod 0600 it \
                 (or 0640 if root owns it), as libpq requires",
                key.display(),
                mode
            )));
        }
    }
    Ok(())
}

/// Why a probe failed, worded for the user.
#[derive(Debug, Clone)]
pub(crate) enum ProbeFailure {
    /// The server answered `N` to SSLRequest.
    NoTls,
    /// A certificate or handshake problem, one line.
    Handshake(String),
    /// Could not reach the server at all (the driver will say why).
    Unreachable,
}

/// Connects to `host:port`, asks for TLS and completes the handshake with exactly the rules of
/// `check` (roots from `plan` only), then closes.
pub(crate) fn probe(
    host: &str,
    port: u16,
    check: Check,
    plan: &TlsPlan,
    timeout: Duration,
) -> Result<(), ProbeFailure> {
    let addrs: Vec<_> = match (host, port).to_socket_addrs() {
        Ok(a) => a.collect(),
        Err(_) => return Err(ProbeFailure::Unreachable),
    };
    let mut stream = None;
    for addr in addrs {
        if let Ok(s) = TcpStream::connect_timeout(&addr, timeout) {
            stream = Some(s);
            break;
        }
    }
    let Some(mut stream) = stream else {
        return Err(ProbeFailure::Unreachable);
    };
    let _ = stream.set_read_timeout(Some(timeout));
    let _ = stream.set_write_timeout(Some(timeout));
    // SSLRequest: length 8, code 80877103.
    if stream
        .write_all(&[0, 0, 0, 8, 0x04, 0xd2, 0x16, 0x2f])
        .is_err()
    {
        return Err(ProbeFailure::Unreachable);
    }
    let mut answer = [0u8; 1];
    if stream.read_exact(&mut answer).is_err() {
        return Err(ProbeFailure::Unreachable);
    }
    if answer[0] != b'S' {
        return Err(ProbeFailure::NoTls);
    }
    let config = client_config(check, plan).map_err(ProbeFailure::Handshake)?;
    let name = ServerName::try_from(host.to_string()).map_err(|_| {
        ProbeFailure::Handshake(format!("`{host}` is not a valid host name for TLS"))
    })?;
    let conn = rustls::ClientConnection::new(Arc::new(config), name)
        .map_err(|e| ProbeFailure::Handshake(e.to_string()))?;
    let mut tls = rustls::StreamOwned::new(conn, stream);
    while tls.conn.is_handshaking() {
        if let Err(e) = tls.conn.complete_io(&mut tls.sock) {
            return Err(ProbeFailure::Handshake(explain_io(&e, host, check, plan)));
        }
    }
    tls.conn.send_close_notify();
    let _ = tls.conn.complete_io(&mut tls.sock);
    Ok(())
}

fn explain_io(e: &std::io::Error, host: &str, check: Check, plan: &TlsPlan) -> String {
    let Some(tls) = e
        .get_ref()
        .and_then(|inner| inner.downcast_ref::<rustls::Error>())
    else {
        return format!("the TLS handshake failed ({e})");
    };
    match tls {
        rustls::Error::InvalidCertificate(cert) => explain_certificate(cert, host, check, plan),
        rustls::Error::AlertReceived(alert) => format!(
            "the server ended the TLS handshake ({alert:?}); if it asks for a client certificate, \
             give one with sslcert and sslkey"
        ),
        other => format!("the TLS handshake failed ({other})"),
    }
}

fn explain_certificate(
    cert: &CertificateError,
    host: &str,
    check: Check,
    plan: &TlsPlan,
) -> String {
    let mode = &plan.sslmode;
    match cert {
        CertificateError::NotValidForNameContext { presented, .. } => format!(
            "the server's certificate is for {} but pgtriage connected to `{host}` (sslmode={mode} checks \
             the host name); connect by a name the certificate holds, or use sslmode=verify-ca",
            if presented.is_empty() {
                "no host name".to_string()
            } else {
                presented
                    .iter()
                    .map(|p| format!("`{}`", presented_name(p)))
                    .collect::<Vec<_>>()
                    .join(", ")
            }
        ),
        CertificateError::NotValidForName => format!(
            "the server's certificate is not for `{host}` (sslmode={mode} checks the host name); \
             connect by the name in the certificate, or use sslmode=verify-ca"
        ),
        CertificateError::UnknownIssuer => format!(
            "the server's certificate is not signed by a CA in {} ({}); give the CA that signed it \
             with sslrootcert{}",
            plan.roots_name(),
            match check {
                Check::Full => "sslmode=verify-full",
                _ if plan.mode == Mode::Require || plan.mode == Mode::Prefer =>
                    "a root certificate file makes sslmode=require check the CA, as in libpq",
                _ => "sslmode=verify-ca",
            },
            if matches!(plan.roots, Roots::File { .. }) && plan.mode == Mode::Require {
                ", or move the root file away to encrypt without checking"
            } else {
                ""
            }
        ),
        CertificateError::Expired | CertificateError::ExpiredContext { .. } => {
            "the server's certificate has expired; renew it on the server".to_string()
        }
        CertificateError::NotValidYet | CertificateError::NotValidYetContext { .. } => {
            "the server's certificate is not valid yet (check both clocks)".to_string()
        }
        other => format!("the server's certificate was refused ({other:?})"),
    }
}

/// rustls words a certificate's names as `DnsName("db.example")` or `IpAddress(10.0.0.1)`:
/// keep the name.
fn presented_name(p: &str) -> &str {
    p.split_once('(')
        .and_then(|(_, inside)| inside.rsplit_once(')'))
        .map_or(p, |(name, _)| name.trim_matches('"'))
}

fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// A rustls client configuration with exactly libpq's trust: the root file alone, or the
/// system's store for `sslrootcert=system`.
fn client_config(check: Check, plan: &TlsPlan) -> Result<ClientConfig, String> {
    let provider = provider();
    let builder = ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?;
    let verifier: Arc<dyn ServerCertVerifier> = match check {
        Check::Nothing => Arc::new(AcceptAnyCertificate { provider }),
        Check::Chain | Check::Full => {
            let mut store = RootCertStore::empty();
            match &plan.roots {
                Roots::File { pem, path } => {
                    for cert in CertificateDer::pem_slice_iter(pem) {
                        let cert = cert.map_err(|e| {
                            format!("root certificate file {}: {e}", path.display())
                        })?;
                        store.add(cert).map_err(|e| {
                            format!("root certificate file {}: {e}", path.display())
                        })?;
                    }
                }
                Roots::System | Roots::None => {
                    let loaded = rustls_native_certs::load_native_certs();
                    for cert in loaded.certs {
                        let _ = store.add(cert);
                    }
                }
            }
            let webpki = WebPkiServerVerifier::builder_with_provider(Arc::new(store), provider)
                .build()
                .map_err(|e| e.to_string())?;
            if check == Check::Full {
                webpki
            } else {
                Arc::new(ChainOnly { inner: webpki })
            }
        }
    };
    let builder = builder
        .dangerous()
        .with_custom_certificate_verifier(verifier);
    match &plan.client {
        Some(c) => {
            let chain: Vec<CertificateDer<'static>> = CertificateDer::pem_slice_iter(&c.cert_pem)
                .filter_map(Result::ok)
                .collect();
            let key = PrivateKeyDer::from_pem_slice(&c.key_pem)
                .map_err(|_| format!("private key file {}: not a PEM key", c.key_path.display()))?;
            builder.with_client_auth_cert(chain, key).map_err(|e| {
                format!(
                    "client certificate {} and key {} do not go together ({e})",
                    c.cert_path.display(),
                    c.key_path.display()
                )
            })
        }
        None => Ok(builder.with_no_client_auth()),
    }
}

/// `require` without a root file: encrypt, trust whatever certificate (libpq's meaning).
#[derive(Debug)]
struct AcceptAnyCertificate {
    provider: Arc<CryptoProvider>,
}

impl ServerCertVerifier for AcceptAnyCertificate {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }
    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls12_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }
    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls13_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }
    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        self.provider
            .signature_verification_algorithms
            .supported_schemes()
    }
}

/// `verify-ca`: the chain must lead to a trusted root; the host name is not checked.
#[derive(Debug)]
struct ChainOnly {
    inner: Arc<WebPkiServerVerifier>,
}

impl ServerCertVerifier for ChainOnly {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        match self
            .inner
            .verify_server_cert(end_entity, intermediates, server_name, ocsp, now)
        {
            Err(rustls::Error::InvalidCertificate(
                CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. },
            )) => Ok(ServerCertVerified::assertion()),
            other => other,
        }
    }
    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.inner.verify_tls12_signature(message, cert, dss)
    }
    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.inner.verify_tls13_signature(message, cert, dss)
    }
    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        self.inner.supported_verify_schemes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn presented_names_keep_the_name_whatever_the_text() {
        assert_eq!(presented_name("DnsName(\"db.example\")"), "db.example");
        assert_eq!(presented_name("IpAddress(10.0.0.1)"), "10.0.0.1");
        assert_eq!(
            presented_name("DnsName(\"bücher.example\")"),
            "bücher.example"
        );
        assert_eq!(presented_name(")é("), ")é(");
        assert_eq!(presented_name("é"), "é");
    }
}
