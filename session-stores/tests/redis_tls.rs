//! `rediss://` against a real redis-server that speaks only TLS, with certificates made in the
//! test: the store connects when given the CA that signed the server's certificate (`ca=`),
//! and says clearly that the certificate is not trusted when given another CA.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;
use std::time::Duration;

use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, DnType, IsCa, KeyPair};
use session_core::{Codec, ExpiryPolicy, Record, SessionId, SessionStore, StoreConfig};
use session_stores::RedisStore;
use test_support::redis::{RedisServer, redis_server_program};

/// A self-signed CA named `name`.
fn certificate_authority(name: &str) -> CertifiedIssuer<'static, KeyPair> {
    let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
    params.distinguished_name.push(DnType::CommonName, name);
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    CertifiedIssuer::self_signed(params, KeyPair::generate().unwrap()).unwrap()
}

/// Writes `ca.pem`, and `server.pem` and `server.key` for 127.0.0.1 signed by that CA.
fn write_certificates(dir: &Path, ca: &CertifiedIssuer<'static, KeyPair>) {
    let key = KeyPair::generate().unwrap();
    let cert = CertificateParams::new(vec!["127.0.0.1".to_owned()])
        .unwrap()
        .signed_by(&key, ca)
        .unwrap();
    std::fs::write(dir.join("ca.pem"), ca.pem()).unwrap();
    std::fs::write(dir.join("server.pem"), cert.pem()).unwrap();
    std::fs::write(dir.join("server.key"), key.serialize_pem()).unwrap();
}

fn tls_server(test: &str, dir: &Path) -> Option<RedisServer> {
    if redis_server_program().is_none() {
        test_support::skip(test, "redis-server");
        return None;
    }
    write_certificates(dir, &certificate_authority("sessions test CA"));
    Some(RedisServer::start_tls(&dir.join("server.pem"), &dir.join("server.key")).unwrap())
}

fn record(id: &SessionId) -> Record {
    Record::new(
        id.key(),
        Codec::Json,
        ExpiryPolicy::idle(Duration::from_secs(600)),
        StoreConfig::default().now(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tls_server_is_used_with_the_ca_given_in_the_url() {
    let dir = tempfile::tempdir().unwrap();
    let Some(server) = tls_server(
        "a_tls_server_is_used_with_the_ca_given_in_the_url",
        dir.path(),
    ) else {
        return;
    };
    let url = format!(
        "{}?ca={}",
        server.url(),
        dir.path().join("ca.pem").display()
    );
    assert!(url.starts_with("rediss://127.0.0.1:"), "{url}");

    let store = session_stores::open(&url, StoreConfig::default())
        .await
        .unwrap();
    let id = SessionId::generate().unwrap();
    store.create(&record(&id)).await.unwrap();
    assert!(store.load(&id.key()).await.unwrap().is_some());

    // The builder takes the same URL.
    let store = RedisStore::builder().connect(&url).await.unwrap();
    assert!(store.load(&id.key()).await.unwrap().is_some());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_certificate_from_another_ca_is_refused_clearly() {
    let dir = tempfile::tempdir().unwrap();
    let Some(server) = tls_server(
        "a_server_certificate_from_another_ca_is_refused_clearly",
        dir.path(),
    ) else {
        return;
    };
    let other = tempfile::tempdir().unwrap();
    std::fs::write(
        other.path().join("ca.pem"),
        certificate_authority("someone else's CA").pem(),
    )
    .unwrap();
    let url = format!(
        "{}?ca={}",
        server.url(),
        other.path().join("ca.pem").display()
    );

    let error = RedisStore::builder()
        .connection_timeout(Duration::from_secs(10))
        .connect(&url)
        .await
        .unwrap_err()
        .to_string();
    assert!(error.starts_with("Redis:"), "{error}");
    assert!(error.contains("certificate"), "{error}");

    // Without any CA, the system's roots do not know the test CA either.
    let error = RedisStore::builder()
        .connect(&server.url())
        .await
        .unwrap_err()
        .to_string();
    assert!(error.contains("certificate"), "{error}");
}

#[tokio::test]
async fn a_missing_ca_file_is_named_in_the_error() {
    let error = RedisStore::builder()
        .connect("rediss://127.0.0.1:1/0?ca=/nonexistent/ca.pem")
        .await
        .unwrap_err()
        .to_string();
    assert!(error.contains("/nonexistent/ca.pem"), "{error}");
}
