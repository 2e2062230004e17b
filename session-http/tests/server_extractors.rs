//! The axum extractors: `Session` as a handler argument, and `RequireLogin`, which answers
//! browsers with a redirect to the login page and API clients with `401`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;

use axum::Router;
use axum::routing::{get, post};
use http::{Request, StatusCode, header};
use session_core::{MemoryStore, SessionConfig, SessionManager};
use session_http::server::{ConfigError, RequireLogin, Session, SessionLayer};
use test_support::http::Reply;
use tower::ServiceExt;

/// Chromium's `Accept` for a navigation.
const BROWSER_ACCEPT: &str =
    "text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,*/*;q=0.8";

async fn visits(session: Session) -> String {
    let n = session.add("visits", 1).await.unwrap_or(-1);
    n.to_string()
}

async fn log_in(session: Session) -> StatusCode {
    match session.log_in("alice").await {
        Ok(()) => StatusCode::NO_CONTENT,
        Err(_) => StatusCode::SERVICE_UNAVAILABLE,
    }
}

async fn private(RequireLogin { principal, session }: RequireLogin) -> String {
    let visits = session.get::<i64>("visits").await.ok().flatten();
    format!("{principal} {}", visits.unwrap_or(0))
}

fn app() -> Router {
    let manager = SessionManager::new(Arc::new(MemoryStore::new()), SessionConfig::default());
    let layer = SessionLayer::builder(manager)
        .login_path("/login")
        .build()
        .unwrap();
    Router::new()
        .route("/visits", post(visits))
        .route("/login", post(log_in))
        .route("/private", get(private))
        .layer(layer)
        // Outside the layer: a mistake the extractor reports.
        .route("/outside", get(visits))
}

async fn send(app: &Router, method: &str, path: &str, headers: &[(&str, &str)]) -> Reply {
    let mut request = Request::builder().method(method).uri(path);
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let response = app
        .clone()
        .oneshot(request.body(axum::body::Body::empty()).unwrap())
        .await
        .unwrap();
    Reply::read(response).await
}

fn cookie_of(reply: &Reply) -> String {
    let set = reply.headers[header::SET_COOKIE].to_str().unwrap();
    set.split(';').next().unwrap().to_owned()
}

#[tokio::test]
async fn a_handler_takes_the_session_as_an_argument() {
    let app = app();
    let first = send(&app, "POST", "/visits", &[]).await;
    assert_eq!((first.status, first.body.as_str()), (StatusCode::OK, "1"));
    let cookie = cookie_of(&first);
    let second = send(&app, "POST", "/visits", &[("cookie", &cookie)]).await;
    assert_eq!(second.body, "2");
}

#[tokio::test]
async fn a_route_outside_the_layer_is_a_500_that_says_what_is_missing() {
    let reply = send(&app(), "GET", "/outside", &[]).await;
    assert_eq!(reply.status, StatusCode::INTERNAL_SERVER_ERROR);
    assert!(reply.body.contains("SessionLayer"), "{}", reply.body);
}

#[tokio::test]
async fn require_login_sends_browsers_to_the_login_page() {
    let reply = send(&app(), "GET", "/private", &[("accept", BROWSER_ACCEPT)]).await;
    assert_eq!(reply.status, StatusCode::SEE_OTHER);
    assert_eq!(reply.headers[header::LOCATION], "/login");
    assert!(reply.headers.get(header::SET_COOKIE).is_none());
}

#[tokio::test]
async fn require_login_answers_api_clients_401_in_json() {
    let app = app();
    for accept in ["application/json", "*/*", "text/html;q=0"] {
        let reply = send(&app, "GET", "/private", &[("accept", accept)]).await;
        assert_eq!(reply.status, StatusCode::UNAUTHORIZED, "{accept}");
        assert_eq!(reply.headers[header::CONTENT_TYPE], "application/json");
        assert_eq!(reply.body, r#"{"error":"not logged in"}"#);
    }
    let reply = send(&app, "GET", "/private", &[]).await;
    assert_eq!(reply.status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn an_anonymous_session_is_not_a_login() {
    let app = app();
    let cookie = cookie_of(&send(&app, "POST", "/visits", &[]).await);
    let reply = send(&app, "GET", "/private", &[("cookie", &cookie)]).await;
    assert_eq!(reply.status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn require_login_lets_the_logged_in_through_with_their_session() {
    let app = app();
    let cookie = cookie_of(&send(&app, "POST", "/visits", &[]).await);
    let login = send(&app, "POST", "/login", &[("cookie", &cookie)]).await;
    assert_eq!(login.status, StatusCode::NO_CONTENT);
    let cookie = cookie_of(&login);
    let reply = send(
        &app,
        "GET",
        "/private",
        &[("cookie", &cookie), ("accept", BROWSER_ACCEPT)],
    )
    .await;
    assert_eq!(
        (reply.status, reply.body.as_str()),
        (StatusCode::OK, "alice 1")
    );
}

#[test]
fn a_login_path_off_this_site_is_refused() {
    for path in [
        "//evil.example/login",
        "/\\evil.example",
        "https://evil.example/",
        "login",
        "/log in",
    ] {
        let manager = SessionManager::new(Arc::new(MemoryStore::new()), SessionConfig::default());
        let built = SessionLayer::builder(manager).login_path(path).build();
        assert!(
            matches!(built, Err(ConfigError::LoginPath { .. })),
            "{path}: {built:?}"
        );
    }
}
