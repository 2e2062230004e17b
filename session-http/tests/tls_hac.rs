//! The HAC client over https: the HAC emulator's TLS listener with a certificate from a CA
//! made in the test. With the CA bundle the login, the session cache and the consoles work as over
//! http; without it the certificate is "not trusted"; verification off (hac-client-core's
//! `ignore_ssl`) works; a certificate for another host is a hostname mismatch.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod tls_support;

use std::sync::Arc;

use session_http::hac::emulator::{EmulatorConfig, HacEmulator, RunningEmulator};
use session_http::hac::{
    CacheKey, FileSessionCache, FlexSearchQuery, HacClient, HacError, LoginOutcome,
};
use session_http::transport::{HttpTransport, TlsOptions, TlsProblem, Verify};
use tls_support::{TestCa, server_config};

/// The emulator's own TLS listener, with a certificate for `names` from `ca`.
async fn hac_over_tls(ca: &TestCa, names: &[&str]) -> (HacEmulator, RunningEmulator) {
    let emulator = HacEmulator::new(EmulatorConfig {
        route: Some("node1".to_string()),
        ..EmulatorConfig::default()
    });
    let running = emulator
        .clone()
        .bind_tls(
            "127.0.0.1:0".parse().unwrap(),
            Arc::new(server_config(&ca.leaf(names), None)),
        )
        .await
        .unwrap();
    assert!(running.base_url().starts_with("https://127.0.0.1:"));
    (emulator, running)
}

fn transport(verify: Verify) -> HttpTransport {
    HttpTransport::new(&TlsOptions {
        verify,
        client_cert: None,
    })
    .unwrap()
}

#[tokio::test]
async fn with_the_ca_bundle_login_cache_and_consoles_work_over_https() {
    let ca = TestCa::new("HAC CA");
    let dir = tempfile::tempdir().unwrap();
    let bundle = ca.write_bundle(dir.path());
    let (emulator, running) = hac_over_tls(&ca, &["127.0.0.1"]).await;
    let cache = Arc::new(FileSessionCache::new(dir.path().join("cache")));
    let key = CacheKey::new(running.base_url(), "admin", "tls");
    let transport = transport(Verify::CaBundle(bundle));

    let client = HacClient::new(key.clone())
        .unwrap()
        .with_transport(transport.clone())
        .with_password("nimda")
        .with_cache(cache.clone());
    assert_eq!(client.login().await.unwrap(), LoginOutcome::LoggedIn);
    let users = client
        .flexible_search(&FlexSearchQuery::new("SELECT {uid} FROM {User}"))
        .await
        .unwrap();
    assert_eq!(users.rows[0], ["admin"]);
    let session = client.session().await.unwrap();
    assert_eq!(session.route(), Some("node1"));
    assert_eq!(session.base_url, running.base_url());

    // Another client reuses the cached https session: no second login.
    let again = HacClient::new(key)
        .unwrap()
        .with_transport(transport)
        .with_cache(cache);
    assert_eq!(again.login().await.unwrap(), LoginOutcome::ReusedCached);
    assert_eq!(again.groovy("return 42", false).await.unwrap().result, "42");
    assert_eq!(emulator.stats().logins, 1);

    // A dead session over https: one re-login and the retry succeeds.
    emulator.drop_all_sessions();
    assert_eq!(
        again
            .with_password("nimda")
            .groovy("return 1", false)
            .await
            .unwrap()
            .result,
        "1"
    );
    assert_eq!(emulator.stats().logins, 2);
}

#[tokio::test]
async fn without_the_ca_the_hac_certificate_is_not_trusted() {
    let ca = TestCa::new("HAC CA");
    let (emulator, running) = hac_over_tls(&ca, &["127.0.0.1"]).await;
    let client = HacClient::new(CacheKey::new(running.base_url(), "admin", "tls"))
        .unwrap()
        .with_password("nimda");
    let error = client.login().await.unwrap_err();
    assert!(
        matches!(
            &error,
            HacError::Tls {
                problem: TlsProblem::UntrustedCertificate,
                ..
            }
        ),
        "{error}"
    );
    assert!(error.to_string().contains("not trusted"), "{error}");
    // The password was not sent anywhere: the emulator saw no request.
    assert_eq!(emulator.stats().total(), 0);
}

#[tokio::test]
async fn verify_off_works_like_ignore_ssl() {
    let ca = TestCa::new("HAC CA");
    let (emulator, running) = hac_over_tls(&ca, &["hac.internal"]).await;
    let client = HacClient::new(CacheKey::new(running.base_url(), "admin", "tls"))
        .unwrap()
        .with_transport(transport(Verify::Off))
        .with_password("nimda");
    assert_eq!(client.login().await.unwrap(), LoginOutcome::LoggedIn);
    assert_eq!(emulator.stats().logins, 1);
}

#[tokio::test]
async fn a_hac_certificate_for_another_host_is_a_hostname_mismatch() {
    let ca = TestCa::new("HAC CA");
    let dir = tempfile::tempdir().unwrap();
    let bundle = ca.write_bundle(dir.path());
    let (_emulator, running) = hac_over_tls(&ca, &["hac.internal"]).await;
    let client = HacClient::new(CacheKey::new(running.base_url(), "admin", "tls"))
        .unwrap()
        .with_transport(transport(Verify::CaBundle(bundle)))
        .with_password("nimda");
    let error = client.login().await.unwrap_err();
    match &error {
        HacError::Tls {
            problem: TlsProblem::HostnameMismatch { presented, .. },
            ..
        } => assert_eq!(presented, &["hac.internal".to_string()]),
        other => panic!("not a hostname mismatch: {other}"),
    }
}
