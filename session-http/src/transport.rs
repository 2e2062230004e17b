//! The HTTP transport shared by [`crate::client::SessionClient`] and the HAC client: one
//! hyper-util client that speaks `http://` and `https://` (HTTP/1.1), with TLS by rustls.
//!
//! ## Trust
//!
//! By default a server's certificate must chain to one of the Mozilla root certificates
//! compiled in from `webpki-roots` — the same list HTTPie and `requests` trust (their `certifi`
//! package is Mozilla's list too), and the same on every machine, container or CI runner,
//! whether or not it has a system CA store. A private CA is trusted by giving its certificate
//! as a PEM bundle ([`Verify::CaBundle`], HTTPie's `--verify PATH`); as with HTTPie, the bundle
//! then replaces the default roots. [`Verify::Off`] (HTTPie's `--verify no`,
//! hac-client-cli's `ignore_ssl = true`) accepts any certificate: only for a server you reach
//! over a network you trust, since anyone in between can read and change the traffic.
//!
//! TLS 1.2 and 1.3 with the `ring` crypto provider; a client certificate (PEM, the key in the
//! same file or its own) is optional. Connection failures caused by TLS come back as a
//! [`TlsProblem`] that says what to do: an untrusted certificate, a certificate for another
//! host name, an expired one, a server that does not speak TLS on that port, a server that
//! requires a client certificate (named so even when, under TLS 1.3, its refusal arrives as
//! a closed connection).
//!
//! ```
//! use session_http::transport::{HttpTransport, TlsOptions, Verify};
//!
//! // HTTPie's --verify values.
//! assert_eq!(Verify::from_httpie("yes"), Verify::Default);
//! assert_eq!(Verify::from_httpie("False"), Verify::Off);
//! assert_eq!(Verify::from_httpie("/etc/ca.pem"), Verify::CaBundle("/etc/ca.pem".into()));
//!
//! // A bundle that does not exist is refused when the transport is built.
//! let options = TlsOptions { verify: Verify::CaBundle("/nonexistent/ca.pem".into()), ..Default::default() };
//! assert!(HttpTransport::new(&options).is_err());
//! let _default = HttpTransport::default();
//! ```

use std::error::Error as StdError;
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper_rustls::{HttpsConnector, HttpsConnectorBuilder};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use rustls::client::ResolvesClientCert;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use rustls::sign::CertifiedKey;
use rustls::{
    AlertDescription, CertificateError, ClientConfig, DigitallySignedStruct, RootCertStore,
    SignatureScheme,
};

/// How long establishing a TCP connection may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// How a server's certificate is checked.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum Verify {
    /// Against the Mozilla root certificates (`webpki-roots`), as HTTPie does by default.
    #[default]
    Default,
    /// Against the CA certificates of this PEM file only (HTTPie's `--verify PATH`).
    CaBundle(PathBuf),
    /// Not at all: any certificate is accepted (HTTPie's `--verify no`). Insecure.
    Off,
}

impl Verify {
    /// Reads HTTPie's `--verify` value: `yes`/`true` and `no`/`false` (any case), else the path
    /// of a CA bundle.
    pub fn from_httpie(value: &str) -> Verify {
        match value.to_ascii_lowercase().as_str() {
            "yes" | "true" => Verify::Default,
            "no" | "false" => Verify::Off,
            _ => Verify::CaBundle(PathBuf::from(value)),
        }
    }
}

/// A client certificate to present when the server asks for one.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ClientCertificate {
    /// PEM file with the certificate chain (leaf first), and the private key unless `key` is set.
    pub cert: PathBuf,
    /// PEM file with the private key (PKCS#8, PKCS#1 or SEC1, unencrypted).
    pub key: Option<PathBuf>,
}

/// TLS settings of a transport.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TlsOptions {
    /// How the server's certificate is checked.
    pub verify: Verify,
    /// The client certificate, if any.
    pub client_cert: Option<ClientCertificate>,
}

/// TLS settings that cannot be used.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TlsConfigError {
    /// The CA bundle cannot be read or holds no usable certificate.
    #[error("CA bundle {path}: {reason}")]
    CaBundle {
        /// The file.
        path: PathBuf,
        /// What is wrong with it.
        reason: String,
    },
    /// The client certificate or its key cannot be read or used.
    #[error("client certificate {path}: {reason}")]
    ClientCertificate {
        /// The file.
        path: PathBuf,
        /// What is wrong with it.
        reason: String,
    },
    /// rustls refused the configuration.
    #[error("TLS setup failed: {0}")]
    Setup(String),
}

/// Why a TLS connection failed, in terms a user can act on.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum TlsProblem {
    /// The certificate does not chain to a trusted certificate authority (self-signed, or
    /// issued by a private CA that is not in the trusted roots).
    UntrustedCertificate,
    /// The certificate is valid but for other host names.
    HostnameMismatch {
        /// The host name (or address) that was requested.
        expected: String,
        /// The names the certificate is for.
        presented: Vec<String>,
    },
    /// The certificate has expired.
    CertificateExpired,
    /// The certificate is not valid yet.
    CertificateNotYetValid,
    /// The certificate is unacceptable for another reason.
    InvalidCertificate(String),
    /// The server requires a client certificate and none (or one it refuses) was given.
    ClientCertificateRequired(String),
    /// The server did not answer with TLS: probably a plain `http://` port.
    NotTls,
    /// The handshake failed otherwise (no common protocol version or cipher suite, an alert).
    Handshake(String),
}

impl fmt::Display for TlsProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TlsProblem::UntrustedCertificate => f.write_str(
                "the server's certificate is not trusted: it is self-signed or issued by a \
                 certificate authority that is not among the trusted roots (trust that CA with a \
                 CA bundle, or turn verification off if you know the server)",
            ),
            TlsProblem::HostnameMismatch {
                expected,
                presented,
            } => {
                write!(
                    f,
                    "hostname mismatch: the server's certificate is not valid for {expected:?}"
                )?;
                if !presented.is_empty() {
                    write!(f, " (it is for {})", presented.join(", "))?;
                }
                Ok(())
            }
            TlsProblem::CertificateExpired => f.write_str("the server's certificate has expired"),
            TlsProblem::CertificateNotYetValid => f.write_str(
                "the server's certificate is not valid yet (is this machine's clock right?)",
            ),
            TlsProblem::InvalidCertificate(detail) => {
                write!(f, "the server's certificate is not acceptable: {detail}")
            }
            TlsProblem::ClientCertificateRequired(detail) => write!(
                f,
                "the server requires a client certificate that it accepts ({detail})"
            ),
            TlsProblem::NotTls => {
                f.write_str("the server does not speak TLS on this port (is it an http:// URL?)")
            }
            TlsProblem::Handshake(detail) => write!(f, "TLS handshake failed: {detail}"),
        }
    }
}

impl TlsProblem {
    /// The TLS problem behind `error`, looking through its chain of sources (hyper's and
    /// tokio-rustls's wrappers included); `None` when TLS is not the cause.
    pub fn find(error: &(dyn StdError + 'static)) -> Option<TlsProblem> {
        let mut current = Some(error);
        while let Some(error) = current {
            if let Some(tls) = error.downcast_ref::<rustls::Error>() {
                return Some(TlsProblem::from_rustls(tls));
            }
            // An io::Error's `source()` skips what it wraps: tokio-rustls puts the rustls error
            // into an io::Error, which hyper-rustls wraps into another one.
            if let Some(io) = error.downcast_ref::<std::io::Error>()
                && let Some(inner) = io.get_ref()
                && let Some(problem) = TlsProblem::find(inner)
            {
                return Some(problem);
            }
            current = error.source();
        }
        None
    }

    fn from_rustls(error: &rustls::Error) -> TlsProblem {
        match error {
            rustls::Error::InvalidCertificate(certificate) => match certificate {
                CertificateError::UnknownIssuer => TlsProblem::UntrustedCertificate,
                CertificateError::NotValidForName => TlsProblem::HostnameMismatch {
                    expected: String::new(),
                    presented: Vec::new(),
                },
                CertificateError::NotValidForNameContext {
                    expected,
                    presented,
                } => TlsProblem::HostnameMismatch {
                    expected: server_name_text(expected),
                    presented: presented.iter().map(|name| presented_name(name)).collect(),
                },
                CertificateError::Expired | CertificateError::ExpiredContext { .. } => {
                    TlsProblem::CertificateExpired
                }
                CertificateError::NotValidYet | CertificateError::NotValidYetContext { .. } => {
                    TlsProblem::CertificateNotYetValid
                }
                other => TlsProblem::InvalidCertificate(format!("{other:?}")),
            },
            rustls::Error::AlertReceived(
                alert @ (AlertDescription::CertificateRequired
                | AlertDescription::BadCertificate
                | AlertDescription::UnknownCA
                | AlertDescription::CertificateUnknown),
            ) => TlsProblem::ClientCertificateRequired(format!("alert {alert:?}")),
            // What a plain HTTP server answers to a ClientHello is no TLS record at all.
            rustls::Error::InvalidMessage(rustls::InvalidMessage::InvalidContentType) => {
                TlsProblem::NotTls
            }
            other => TlsProblem::Handshake(other.to_string()),
        }
    }
}

/// `other.example` from rustls's `DnsName("other.example")`, `10.0.0.1` from
/// `IpAddress(10.0.0.1)`.
fn presented_name(name: &str) -> String {
    match name.split_once('(') {
        Some((_, rest)) if rest.ends_with(')') => {
            rest.trim_end_matches(')').trim_matches('"').to_string()
        }
        _ => name.to_string(),
    }
}

fn server_name_text(name: &ServerName<'_>) -> String {
    match name {
        ServerName::DnsName(dns) => dns.as_ref().to_string(),
        ServerName::IpAddress(ip) => std::net::IpAddr::from(*ip).to_string(),
        other => format!("{other:?}"),
    }
}

/// A request that failed in the transport.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TransportError {
    /// The TLS connection could not be established.
    #[error("{0}")]
    Tls(TlsProblem),
    /// The transport's TLS settings were unusable (see [`HttpTransport::default`]).
    #[error(transparent)]
    Config(Arc<TlsConfigError>),
    /// The connection failed or broke. The message is the whole chain of causes; `source()`
    /// is the client's error, whose own sources say why (refused, reset, timed out …).
    #[error("{}", error_chain(.0.as_ref()))]
    Connection(#[source] Box<dyn StdError + Send + Sync>),
}

impl TransportError {
    fn from_error<E: StdError + Send + Sync + 'static>(error: E) -> TransportError {
        match TlsProblem::find(&error) {
            Some(problem) => TransportError::Tls(problem),
            None => TransportError::Connection(Box::new(error)),
        }
    }
}

/// `error: cause: cause …`, skipping causes already quoted by their parent.
pub(crate) fn error_chain(error: &dyn StdError) -> String {
    let mut message = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        let text = cause.to_string();
        if !message.contains(&text) {
            message.push_str(": ");
            message.push_str(&text);
        }
        source = cause.source();
    }
    message
}

type HyperClient = Client<HttpsConnector<HttpConnector>, Full<Bytes>>;

/// A hyper-util client for `http://` and `https://` with the TLS settings it was built with.
/// Clones share the connection pool.
#[derive(Clone)]
pub struct HttpTransport {
    client: Result<HyperClient, Arc<TlsConfigError>>,
    verify: Verify,
    /// Without a client certificate: whether a server asked for one (see
    /// [`NoClientCertificate`]).
    certificate_requests: Option<Arc<NoClientCertificate>>,
}

impl fmt::Debug for HttpTransport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HttpTransport")
            .field("verify", &self.verify)
            .field("usable", &self.client.is_ok())
            .finish_non_exhaustive()
    }
}

impl Default for HttpTransport {
    /// Verification against the default roots, no client certificate. (Building this cannot
    /// fail in practice; if rustls ever refused it, every request would report why.)
    fn default() -> Self {
        let options = TlsOptions::default();
        HttpTransport::new(&options).unwrap_or_else(|error| HttpTransport {
            client: Err(Arc::new(error)),
            verify: options.verify,
            certificate_requests: None,
        })
    }
}

impl HttpTransport {
    /// A transport with `options`: reads the CA bundle and client certificate now, so a
    /// missing or unreadable file is reported before any request.
    pub fn new(options: &TlsOptions) -> Result<Self, TlsConfigError> {
        let (tls, certificate_requests) = client_config(options)?;
        let mut http = HttpConnector::new();
        http.enforce_http(false);
        http.set_connect_timeout(Some(CONNECT_TIMEOUT));
        let connector = HttpsConnectorBuilder::new()
            .with_tls_config(tls)
            .https_or_http()
            .enable_http1()
            .wrap_connector(http);
        Ok(HttpTransport {
            client: Ok(Client::builder(TokioExecutor::new()).build(connector)),
            verify: options.verify.clone(),
            certificate_requests,
        })
    }

    /// How this transport checks certificates.
    pub fn verify(&self) -> &Verify {
        &self.verify
    }

    /// Sends `request` and reads the whole response body. No timeout: callers bound it.
    pub async fn fetch(
        &self,
        request: http::Request<Full<Bytes>>,
    ) -> Result<(http::response::Parts, Bytes), TransportError> {
        let client = self
            .client
            .as_ref()
            .map_err(|e| TransportError::Config(e.clone()))?;
        if let Some(requests) = &self.certificate_requests {
            requests.asked.store(false, Ordering::Relaxed);
        }
        let response = client
            .request(request)
            .await
            .map_err(|e| self.request_error(e))?;
        let (parts, body) = response.into_parts();
        let body = body
            .collect()
            .await
            .map_err(TransportError::from_error)?
            .to_bytes();
        Ok((parts, body))
    }

    /// Why a request got no response. A connection that closed before answering, on a server
    /// that asked for the client certificate this transport does not have, is that refusal.
    fn request_error(&self, error: hyper_util::client::legacy::Error) -> TransportError {
        match TransportError::from_error(error) {
            TransportError::Connection(cause)
                if self
                    .certificate_requests
                    .as_ref()
                    .is_some_and(|requests| requests.asked.load(Ordering::Relaxed))
                    && closed_before_answering(cause.as_ref()) =>
            {
                TransportError::Tls(TlsProblem::ClientCertificateRequired(
                    "it asked for one in the handshake, none was given, and it closed the \
                     connection without answering"
                        .to_string(),
                ))
            }
            other => other,
        }
    }
}

/// Whether `error` says the connection ended before a response: hyper's "canceled", "closed"
/// or "incomplete message", or a reset, broken pipe or early end of the stream underneath.
fn closed_before_answering(error: &(dyn StdError + 'static)) -> bool {
    std::iter::successors(Some(error), |&error| error.source()).any(|error| {
        let hyper_closed = error.downcast_ref::<hyper::Error>().is_some_and(|hyper| {
            hyper.is_canceled() || hyper.is_closed() || hyper.is_incomplete_message()
        });
        let stream_ended = error.downcast_ref::<std::io::Error>().is_some_and(|io| {
            matches!(
                io.kind(),
                std::io::ErrorKind::ConnectionReset
                    | std::io::ErrorKind::BrokenPipe
                    | std::io::ErrorKind::UnexpectedEof
            )
        });
        hyper_closed || stream_ended
    })
}

/// The client side of a handshake without a client certificate: presents none, and notes
/// that a server asked for one.
///
/// A TLS 1.3 server that requires a certificate can only refuse a missing one after the
/// handshake, when the request is already on its way. The request then usually fails with
/// the server's alert, but when the connection's closing reaches it first, with a bare
/// "connection closed" (one time in ten on loopback), and the alert goes to the connection
/// alone. The note lets [`HttpTransport::fetch`] name the cause either way.
#[derive(Debug, Default)]
struct NoClientCertificate {
    /// A server asked for a client certificate since the current request began.
    asked: AtomicBool,
}

impl ResolvesClientCert for NoClientCertificate {
    fn resolve(
        &self,
        _root_hint_subjects: &[&[u8]],
        _sigschemes: &[SignatureScheme],
    ) -> Option<Arc<CertifiedKey>> {
        self.asked.store(true, Ordering::Relaxed);
        None
    }

    fn has_certs(&self) -> bool {
        false
    }
}

/// The rustls configuration for `options`, and the note of certificate requests when it has
/// no client certificate.
fn client_config(
    options: &TlsOptions,
) -> Result<(ClientConfig, Option<Arc<NoClientCertificate>>), TlsConfigError> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = ClientConfig::builder_with_provider(Arc::clone(&provider))
        .with_safe_default_protocol_versions()
        .map_err(|e| TlsConfigError::Setup(e.to_string()))?;
    let builder = match &options.verify {
        Verify::Default => builder.with_root_certificates(RootCertStore::from_iter(
            webpki_roots::TLS_SERVER_ROOTS.iter().cloned(),
        )),
        Verify::CaBundle(path) => builder.with_root_certificates(ca_bundle(path)?),
        Verify::Off => builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(AcceptAnyCertificate(provider))),
    };
    match &options.client_cert {
        None => {
            let requests = Arc::new(NoClientCertificate::default());
            let config = builder.with_client_cert_resolver(Arc::clone(&requests) as _);
            Ok((config, Some(requests)))
        }
        Some(client) => {
            let (chain, key) = client_certificate(client)?;
            let config = builder.with_client_auth_cert(chain, key).map_err(|e| {
                TlsConfigError::ClientCertificate {
                    path: client.cert.clone(),
                    reason: e.to_string(),
                }
            })?;
            Ok((config, None))
        }
    }
}

fn read_pem(path: &Path) -> Result<Vec<u8>, String> {
    if path.is_dir() {
        return Err("is a directory; give a PEM file of CA certificates".to_string());
    }
    std::fs::read(path).map_err(|e| e.to_string())
}

fn certificates(pem: &[u8]) -> Result<Vec<CertificateDer<'static>>, String> {
    let certs = CertificateDer::pem_slice_iter(pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| format!("not a PEM file: {e}"))?;
    if certs.is_empty() {
        return Err("no certificate (-----BEGIN CERTIFICATE-----) in it".to_string());
    }
    Ok(certs)
}

/// The CA certificates of a PEM bundle as trust roots.
fn ca_bundle(path: &Path) -> Result<RootCertStore, TlsConfigError> {
    let failed = |reason: String| TlsConfigError::CaBundle {
        path: path.to_path_buf(),
        reason,
    };
    let pem = read_pem(path).map_err(failed)?;
    let mut roots = RootCertStore::empty();
    for cert in certificates(&pem).map_err(failed)? {
        roots
            .add(cert)
            .map_err(|e| failed(format!("unusable certificate: {e}")))?;
    }
    Ok(roots)
}

fn client_certificate(
    client: &ClientCertificate,
) -> Result<(Vec<CertificateDer<'static>>, PrivateKeyDer<'static>), TlsConfigError> {
    let failed = |path: &Path, reason: String| TlsConfigError::ClientCertificate {
        path: path.to_path_buf(),
        reason,
    };
    let pem = read_pem(&client.cert).map_err(|e| failed(&client.cert, e))?;
    let chain = certificates(&pem).map_err(|e| failed(&client.cert, e))?;
    let (key_path, key_pem) = match &client.key {
        Some(path) => (path.as_path(), read_pem(path).map_err(|e| failed(path, e))?),
        None => (client.cert.as_path(), pem),
    };
    let key = PrivateKeyDer::from_pem_slice(&key_pem).map_err(|e| {
        failed(
            key_path,
            format!("no unencrypted private key (PKCS#8, PKCS#1 or SEC1) in it: {e}"),
        )
    })?;
    Ok((chain, key))
}

/// The verifier of [`Verify::Off`]: any certificate for any name is accepted; the handshake's
/// signatures are still checked, so the connection is encrypted, but not authenticated.
#[derive(Debug)]
struct AcceptAnyCertificate(Arc<CryptoProvider>);

impl ServerCertVerifier for AcceptAnyCertificate {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
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
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn httpie_verify_values() {
        for yes in ["yes", "YES", "true", "True"] {
            assert_eq!(Verify::from_httpie(yes), Verify::Default);
        }
        for no in ["no", "No", "false", "FALSE"] {
            assert_eq!(Verify::from_httpie(no), Verify::Off);
        }
        assert_eq!(
            Verify::from_httpie("ca.pem"),
            Verify::CaBundle(PathBuf::from("ca.pem"))
        );
    }

    #[test]
    fn unusable_bundles_are_refused_with_the_reason() {
        let dir = tempfile::tempdir().unwrap();
        let empty = dir.path().join("empty.pem");
        std::fs::write(&empty, "no pem here\n").unwrap();
        for (path, reason) in [
            (dir.path().join("missing.pem"), "No such file"),
            (dir.path().to_path_buf(), "is a directory"),
            (empty, "no certificate"),
        ] {
            let options = TlsOptions {
                verify: Verify::CaBundle(path.clone()),
                client_cert: None,
            };
            let error = HttpTransport::new(&options).unwrap_err().to_string();
            assert!(error.contains(&path.display().to_string()), "{error}");
            assert!(error.contains(reason), "{error}");
        }
    }

    #[test]
    fn problems_are_found_through_io_wrappers() {
        let rustls_error = rustls::Error::InvalidCertificate(CertificateError::UnknownIssuer);
        let io = std::io::Error::new(std::io::ErrorKind::InvalidData, rustls_error);
        assert_eq!(
            TlsProblem::find(&io),
            Some(TlsProblem::UntrustedCertificate)
        );
        let plain = std::io::Error::new(std::io::ErrorKind::ConnectionRefused, "refused");
        assert_eq!(presented_name("DnsName(\"a.example\")"), "a.example");
        assert_eq!(presented_name("IpAddress(10.0.0.1)"), "10.0.0.1");
        assert_eq!(TlsProblem::find(&plain), None);
    }
}
