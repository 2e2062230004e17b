//! `SessionClient` with a `ClientSession` against a local hyper server: cookies per hop of a
//! redirect chain across two hosts, method rewriting, auth not leaked, redirect limits.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::convert::Infallible;
use std::net::SocketAddr;

use bytes::Bytes;
use http::{Method, Request, Response, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use session_http::client::{Auth, ClientError, ClientRequest, ClientSession, SessionClient};
use url::Url;

/// Echoes `METHOD PATH\ncookie: …\nauthorization: …\nbody` and obeys `?status=…&to=…&set=…`;
/// `/loop` redirects to itself forever.
async fn handle(request: Request<Incoming>) -> Result<Response<Full<Bytes>>, Infallible> {
    let (parts, body) = request.into_parts();
    let body = body
        .collect()
        .await
        .map(|b| b.to_bytes())
        .unwrap_or_default();
    let header = |name: &str| {
        parts
            .headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("-")
            .to_string()
    };
    let echo = format!(
        "{} {}\ncookie: {}\nauthorization: {}\n{}",
        parts.method,
        parts.uri.path(),
        header("cookie"),
        header("authorization"),
        String::from_utf8_lossy(&body)
    );
    let mut response = Response::builder();
    if parts.uri.path() == "/loop" {
        response = response.status(302).header("location", "/loop");
    }
    for (key, value) in url::form_urlencoded::parse(parts.uri.query().unwrap_or("").as_bytes()) {
        match &*key {
            "status" => response = response.status(value.parse::<u16>().unwrap()),
            "to" => response = response.header("location", &*value),
            "set" => response = response.header("set-cookie", format!("{value}; Path=/")),
            _ => {}
        }
    }
    Ok(response.body(Full::new(Bytes::from(echo))).unwrap())
}

async fn server() -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                continue;
            };
            tokio::spawn(async move {
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), service_fn(handle))
                    .await;
            });
        }
    });
    addr
}

fn enc(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

#[tokio::test]
async fn each_redirect_hop_gets_and_sets_its_own_hosts_cookies() {
    let port = server().await.port();
    let mut session = ClientSession::new("localhost");
    session.set_auth(Some(Auth::basic_from_raw("u:p")));
    let client = SessionClient::new();
    let first = Url::parse(&format!("http://localhost:{port}/start?set=a%3D1")).unwrap();
    client
        .send(&mut session, ClientRequest::new(Method::GET, first), false)
        .await
        .unwrap();

    // localhost → 127.0.0.1 (sets b) → localhost/end.
    let back = format!("http://localhost:{port}/end");
    let hop = format!(
        "http://127.0.0.1:{port}/hop?status=302&set=b%3D2&to={}",
        enc(&back)
    );
    let start = Url::parse(&format!(
        "http://localhost:{port}/go?status=302&to={}",
        enc(&hop)
    ))
    .unwrap();
    let response = client
        .send(
            &mut session,
            ClientRequest::new(Method::GET, start.clone()),
            true,
        )
        .await
        .unwrap();
    assert_eq!(response.request.url.as_str(), back);
    // The history: each redirect with the request it answered, as sent.
    let sent: Vec<(String, Option<&str>, bool)> = response
        .history
        .iter()
        .map(|hop| &hop.request)
        .chain([&response.request])
        .map(|request| {
            (
                request.url.to_string(),
                request.headers.get("cookie").and_then(|v| v.to_str().ok()),
                request.headers.contains_key("authorization"),
            )
        })
        .collect();
    assert_eq!(
        sent,
        [
            (start.to_string(), Some("a=1"), true),
            (hop.clone(), None, false),
            (back.clone(), Some("a=1"), false),
        ]
    );
    let statuses: Vec<u16> = response.history.iter().map(|r| r.status.as_u16()).collect();
    assert_eq!(statuses, [302, 302]);
    assert!(response.history.iter().all(|r| r.history.is_empty()));
    let body = String::from_utf8_lossy(&response.body).into_owned();
    assert!(body.starts_with("GET /end\ncookie: a=1\n"), "{body}");
    // The Authorization header was dropped when the chain left localhost.
    assert!(body.contains("authorization: -"), "{body}");

    let ip = Url::parse(&format!("http://127.0.0.1:{port}/")).unwrap();
    assert_eq!(session.cookies.cookie_header(&ip).as_deref(), Some("b=2"));
    let local = Url::parse(&format!("http://localhost:{port}/")).unwrap();
    assert_eq!(
        session.cookies.cookie_header(&local).as_deref(),
        Some("a=1")
    );
}

#[tokio::test]
async fn redirects_rewrite_methods_like_browsers() {
    let port = server().await.port();
    let client = SessionClient::new();
    for (status, method, body) in [
        (303, "GET", ""),
        (302, "GET", ""),
        (307, "POST", "payload"),
        (308, "POST", "payload"),
    ] {
        let mut session = ClientSession::new("localhost");
        let url = Url::parse(&format!(
            "http://localhost:{port}/post?status={status}&to=%2Fland"
        ))
        .unwrap();
        let mut request = ClientRequest::new(Method::POST, url);
        request.body = Bytes::from_static(b"payload");
        let response = client.send(&mut session, request, true).await.unwrap();
        let text = String::from_utf8_lossy(&response.body).into_owned();
        assert!(
            text.starts_with(&format!("{method} /land\n")),
            "{status}: {text}"
        );
        assert!(text.ends_with(&format!("\n{body}")), "{status}: {text}");
    }
}

#[tokio::test]
async fn without_follow_the_redirect_itself_is_the_response() {
    let port = server().await.port();
    let mut session = ClientSession::new("localhost");
    let url = Url::parse(&format!(
        "http://localhost:{port}/r?status=302&to=%2Felsewhere&set=c%3D3"
    ))
    .unwrap();
    let response = SessionClient::new()
        .send(&mut session, ClientRequest::new(Method::GET, url), false)
        .await
        .unwrap();
    assert_eq!(response.status, StatusCode::FOUND);
    assert_eq!(session.cookies.len(), 1);
}

#[tokio::test]
async fn redirect_loops_stop_at_the_limit() {
    let port = server().await.port();
    let mut session = ClientSession::new("localhost");
    let url = Url::parse(&format!(
        "http://localhost:{port}/loop?status=302&to=%2Floop%3Fstatus%3D302%26to%3D%252Floop"
    ))
    .unwrap();
    let error = SessionClient::new()
        .max_redirects(3)
        .send(&mut session, ClientRequest::new(Method::GET, url), true)
        .await
        .unwrap_err();
    assert!(matches!(error, ClientError::TooManyRedirects(3)), "{error}");
}

#[tokio::test]
async fn other_schemes_are_a_clear_error() {
    let mut session = ClientSession::new("example.com");
    let url = Url::parse("ftp://example.com/").unwrap();
    let error = SessionClient::new()
        .send(&mut session, ClientRequest::new(Method::GET, url), false)
        .await
        .unwrap_err();
    assert!(matches!(error, ClientError::InvalidUrl { .. }), "{error}");
}
