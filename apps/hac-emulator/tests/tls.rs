//! `hac-emulator --tls-cert`: it serves HTTPS with the given certificate, announces an
//! `https://` address, and the HAC client logs in over it when it trusts the CA.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};

use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, IsCa, KeyPair};
use session_http::hac::{CacheKey, HacClient, HacError, LoginOutcome};
use session_http::transport::{HttpTransport, TlsOptions, TlsProblem, Verify};

/// Writes `ca.pem` and `server.pem` (certificate for 127.0.0.1 and its key) into `dir`.
fn certificates(dir: &Path) {
    let mut ca = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let ca = CertifiedIssuer::self_signed(ca, KeyPair::generate().unwrap()).unwrap();
    let key = KeyPair::generate().unwrap();
    let leaf = CertificateParams::new(vec!["127.0.0.1".to_string()])
        .unwrap()
        .signed_by(&key, &ca)
        .unwrap();
    std::fs::write(dir.join("ca.pem"), ca.pem()).unwrap();
    std::fs::write(
        dir.join("server.pem"),
        format!("{}{}", leaf.pem(), key.serialize_pem()),
    )
    .unwrap();
}

#[test]
fn the_binary_serves_https_with_the_given_certificate() {
    let dir = tempfile::tempdir().unwrap();
    certificates(dir.path());
    let mut child = Command::new(env!("CARGO_BIN_EXE_hac-emulator"))
        .args(["--listen", "127.0.0.1:0", "--tls-cert"])
        .arg(dir.path().join("server.pem"))
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().expect("piped stdout");
    let _guard = test_support::ChildGuard::new("hac-emulator", child);
    let mut line = String::new();
    BufReader::new(stdout).read_line(&mut line).unwrap();
    let base_url = line
        .trim()
        .strip_prefix("listening on ")
        .expect("an announcement")
        .to_string();
    assert!(base_url.starts_with("https://127.0.0.1:"), "{base_url}");

    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let key = CacheKey::new(&base_url, "admin", "tls");
        let untrusted = HacClient::new(key.clone()).unwrap().with_password("nimda");
        let error = untrusted.login().await.unwrap_err();
        assert!(
            matches!(
                error,
                HacError::Tls {
                    problem: TlsProblem::UntrustedCertificate,
                    ..
                }
            ),
            "{error}"
        );

        let options = TlsOptions {
            verify: Verify::CaBundle(dir.path().join("ca.pem")),
            client_cert: None,
        };
        let client = HacClient::new(key)
            .unwrap()
            .with_transport(HttpTransport::new(&options).unwrap())
            .with_password("nimda");
        assert_eq!(client.login().await.unwrap(), LoginOutcome::LoggedIn);
        assert_eq!(
            client.groovy("return 42", false).await.unwrap().result,
            "42"
        );
    });
}

#[test]
fn an_unreadable_certificate_is_a_usage_error() {
    let status = Command::new(env!("CARGO_BIN_EXE_hac-emulator"))
        .args([
            "--listen",
            "127.0.0.1:0",
            "--tls-cert",
            "/nonexistent/server.pem",
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .unwrap();
    assert_eq!(status.code(), Some(2));
}
