//! `SessionClient` over https against local TLS servers with a CA made in the test: a CA
//! bundle makes the server trusted and the session's cookies work; without it the certificate
//! is "not trusted"; `Verify::Off` accepts it; a certificate for another name, a plain HTTP
//! port and a missing client certificate are clear errors.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod tls_support;

use std::net::SocketAddr;

use http::{Method, StatusCode};
use session_http::client::{ClientError, ClientRequest, ClientSession, SessionClient};
use session_http::transport::{ClientCertificate, HttpTransport, TlsOptions, TlsProblem, Verify};
use tls_support::{TestCa, counter, serve_tls, server_config};
use url::Url;

async fn trusted_server(ca: &TestCa, names: &[&str]) -> SocketAddr {
    serve_tls(server_config(&ca.leaf(names), None), counter).await
}

fn client(verify: Verify) -> SessionClient {
    let options = TlsOptions {
        verify,
        client_cert: None,
    };
    SessionClient::new().with_transport(HttpTransport::new(&options).unwrap())
}

async fn get(
    client: &SessionClient,
    session: &mut ClientSession,
    url: &str,
) -> Result<session_http::client::ClientResponse, ClientError> {
    let request = ClientRequest::new(Method::GET, Url::parse(url).unwrap());
    client.send(session, request, false).await
}

/// The error of one GET to a server with a certificate from `server_ca` for `names`, from a
/// client that trusts only the bundle of `trusted`.
async fn error_trusting(trusted: &TestCa, server_ca: &TestCa, names: &[&str]) -> ClientError {
    let dir = tempfile::tempdir().unwrap();
    let bundle = trusted.write_bundle(dir.path());
    let addr = trusted_server(server_ca, names).await;
    let mut session = ClientSession::new("127.0.0.1");
    get(
        &client(Verify::CaBundle(bundle)),
        &mut session,
        &format!("https://{addr}/"),
    )
    .await
    .unwrap_err()
}

/// The TLS problem a client error reports, if it is one.
fn tls_problem(error: &ClientError) -> Option<&TlsProblem> {
    match error {
        ClientError::Tls { problem, .. } => Some(problem),
        _ => None,
    }
}

#[tokio::test]
async fn with_the_ca_bundle_https_works_and_the_session_keeps_its_cookies() {
    let ca = TestCa::new("Test CA");
    let dir = tempfile::tempdir().unwrap();
    let bundle = ca.write_bundle(dir.path());
    let addr = trusted_server(&ca, &["127.0.0.1", "localhost"]).await;
    let client = client(Verify::CaBundle(bundle));
    let mut session = ClientSession::new("127.0.0.1");
    let url = format!("https://{addr}/first");

    let first = get(&client, &mut session, &url).await.unwrap();
    assert_eq!(first.status, StatusCode::OK);
    assert!(String::from_utf8_lossy(&first.body).contains("cookie: -"));
    // The Secure cookie was stored (https) and is sent back on the next request.
    let second = get(&client, &mut session, &format!("https://{addr}/second"))
        .await
        .unwrap();
    let body = String::from_utf8_lossy(&second.body);
    assert!(body.starts_with("GET /second"), "{body}");
    assert!(body.contains("cookie: visits=1"), "{body}");
    let url = Url::parse(&url).unwrap();
    assert_eq!(
        session.cookies.cookie_header(&url).as_deref(),
        Some("visits=2")
    );
    // The session file records it as HTTPie would.
    assert!(session.to_httpie_json().contains("\"secure\": true"));
}

#[tokio::test]
async fn without_the_ca_the_certificate_is_not_trusted() {
    let ca = TestCa::new("Test CA");
    let addr = trusted_server(&ca, &["127.0.0.1"]).await;
    let mut session = ClientSession::new("127.0.0.1");
    let error = get(
        &SessionClient::new(),
        &mut session,
        &format!("https://{addr}/"),
    )
    .await
    .unwrap_err();
    match &error {
        ClientError::Tls { url, problem } => {
            assert_eq!(problem, &TlsProblem::UntrustedCertificate);
            assert!(url.contains(&addr.to_string()));
        }
        other => panic!("not a TLS error: {other}"),
    }
    assert!(error.to_string().contains("not trusted"), "{error}");
    assert!(session.cookies.is_empty());
}

#[tokio::test]
async fn a_bundle_of_another_ca_does_not_make_the_server_trusted() {
    let ca = TestCa::new("Test CA");
    let other = TestCa::new("Other CA");
    let error = error_trusting(&other, &ca, &["127.0.0.1"]).await;
    assert_eq!(
        tls_problem(&error),
        Some(&TlsProblem::UntrustedCertificate),
        "{error}"
    );
}

#[tokio::test]
async fn verify_off_accepts_an_untrusted_certificate() {
    let ca = TestCa::new("Test CA");
    // Not even for the right name.
    let addr = trusted_server(&ca, &["elsewhere.example"]).await;
    let client = client(Verify::Off);
    let mut session = ClientSession::new("127.0.0.1");
    let url = format!("https://{addr}/");
    get(&client, &mut session, &url).await.unwrap();
    let again = get(&client, &mut session, &url).await.unwrap();
    assert!(String::from_utf8_lossy(&again.body).contains("cookie: visits=1"));
}

#[tokio::test]
async fn a_certificate_for_another_name_is_a_hostname_mismatch() {
    let ca = TestCa::new("Test CA");
    let error = error_trusting(&ca, &ca, &["other.example"]).await;
    match &error {
        ClientError::Tls {
            problem:
                TlsProblem::HostnameMismatch {
                    expected,
                    presented,
                },
            ..
        } => {
            assert_eq!(expected, "127.0.0.1");
            assert_eq!(presented, &["other.example".to_string()]);
        }
        other => panic!("not a hostname mismatch: {other}"),
    }
    let message = error.to_string();
    assert!(message.contains("hostname mismatch"), "{message}");
    assert!(message.contains("127.0.0.1"), "{message}");
    assert!(message.contains("it is for other.example"), "{message}");
}

#[tokio::test]
async fn https_to_a_plain_http_port_says_so() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        while let Ok((mut stream, _)) = listener.accept().await {
            let mut buffer = [0u8; 1024];
            let _ = stream.read(&mut buffer).await;
            let _ = stream
                .write_all(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n")
                .await;
        }
    });
    let mut session = ClientSession::new("127.0.0.1");
    let error = get(
        &SessionClient::new(),
        &mut session,
        &format!("https://{addr}/"),
    )
    .await
    .unwrap_err();
    assert_eq!(tls_problem(&error), Some(&TlsProblem::NotTls), "{error}");
    assert!(error.to_string().contains("does not speak TLS"), "{error}");
}

// Two workers, so that the server's refusal and the client's request run side by side as
// they do between processes (on one thread the refusal always lands first).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_certificate_is_presented_when_the_server_requires_one() {
    let ca = TestCa::new("Test CA");
    let clients = TestCa::new("Client CA");
    let dir = tempfile::tempdir().unwrap();
    let bundle = ca.write_bundle(dir.path());
    let addr = serve_tls(
        server_config(&ca.leaf(&["127.0.0.1"]), Some(&clients)),
        counter,
    )
    .await;
    let url = format!("https://{addr}/");

    // Certificate and key in one PEM file (HTTPie's --cert alone).
    let me = clients.leaf(&["alice"]);
    let combined = dir.path().join("alice.pem");
    std::fs::write(&combined, format!("{}{}", me.cert_pem, me.key_pem)).unwrap();
    let options = TlsOptions {
        verify: Verify::CaBundle(bundle.clone()),
        client_cert: Some(ClientCertificate {
            cert: combined,
            key: None,
        }),
    };
    let with_cert = SessionClient::new().with_transport(HttpTransport::new(&options).unwrap());
    let mut session = ClientSession::new("127.0.0.1");
    let response = get(&with_cert, &mut session, &url).await.unwrap();
    assert_eq!(response.status, StatusCode::OK);

    // Certificate and key in two files (--cert and --cert-key).
    let cert = dir.path().join("cert.pem");
    let key = dir.path().join("key.pem");
    std::fs::write(&cert, &me.cert_pem).unwrap();
    std::fs::write(&key, &me.key_pem).unwrap();
    let options = TlsOptions {
        verify: Verify::CaBundle(bundle.clone()),
        client_cert: Some(ClientCertificate {
            cert: cert.clone(),
            key: Some(key),
        }),
    };
    let split = SessionClient::new().with_transport(HttpTransport::new(&options).unwrap());
    get(&split, &mut session, &url).await.unwrap();

    // A certificate without its key is refused up front.
    let options = TlsOptions {
        verify: Verify::CaBundle(bundle.clone()),
        client_cert: Some(ClientCertificate { cert, key: None }),
    };
    let error = HttpTransport::new(&options).unwrap_err().to_string();
    assert!(error.contains("private key"), "{error}");

    // Without one, the server refuses, and the error says so every time: under TLS 1.3 the
    // refusal comes after the handshake and races the request on each new connection (the
    // request used to lose about one time in ten, failing as a bare closed connection).
    for _ in 0..30 {
        let without = client(Verify::CaBundle(bundle.clone()));
        let error = get(&without, &mut ClientSession::new("127.0.0.1"), &url)
            .await
            .unwrap_err();
        assert!(
            matches!(
                tls_problem(&error),
                Some(TlsProblem::ClientCertificateRequired(_))
            ),
            "{error}"
        );
    }
}

#[tokio::test]
async fn a_redirect_from_https_to_http_keeps_secure_cookies_and_credentials_back() {
    use session_http::client::Auth;
    // The plain HTTP side echoes what it gets.
    let plain = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let plain_addr = plain.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((stream, _)) = plain.accept().await {
            tokio::spawn(async move {
                let service = hyper::service::service_fn(|request| async move {
                    Ok::<_, std::convert::Infallible>(tls_support::counter(request).await)
                });
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(hyper_util::rt::TokioIo::new(stream), service)
                    .await;
            });
        }
    });
    // The https side sets a Secure cookie and redirects to the plain side, same host.
    let ca = TestCa::new("Test CA");
    let dir = tempfile::tempdir().unwrap();
    let bundle = ca.write_bundle(dir.path());
    let target = format!("http://{plain_addr}/landed");
    let addr = serve_tls(
        server_config(&ca.leaf(&["127.0.0.1"]), None),
        move |request| {
            let target = target.clone();
            async move {
                let mut response = counter(request).await;
                *response.status_mut() = StatusCode::FOUND;
                response
                    .headers_mut()
                    .insert(http::header::LOCATION, target.parse().unwrap());
                response
            }
        },
    )
    .await;
    let client = client(Verify::CaBundle(bundle));
    let mut session = ClientSession::new("127.0.0.1");
    session.set_auth(Some(Auth::Bearer {
        token: "s3cret".into(),
    }));
    let request = ClientRequest::new(
        Method::GET,
        Url::parse(&format!("https://{addr}/start")).unwrap(),
    );
    // Without following, the https hop gets the credentials.
    let first = client
        .send(&mut session, request.clone(), false)
        .await
        .unwrap();
    assert!(String::from_utf8_lossy(&first.body).contains("authorization: Bearer s3cret"));
    let response = client.send(&mut session, request, true).await.unwrap();
    assert_eq!(response.history.len(), 1);
    assert_eq!(response.request.url.scheme(), "http");
    let body = String::from_utf8_lossy(&response.body);
    // The Secure cookie set over https is not sent over http.
    assert!(body.contains("cookie: -"), "{body}");
    // Nor are the credentials: the redirect left https.
    assert!(body.contains("authorization: -"), "{body}");
    // The Secure cookie stays in the session for https.
    let https_url = Url::parse(&format!("https://{addr}/")).unwrap();
    assert!(
        session
            .cookies
            .cookie_header(&https_url)
            .unwrap()
            .contains("visits=2")
    );
}
