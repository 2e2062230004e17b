//! Anonymous sessions in the session-server binary: a visitor counts before logging in, the
//! login keeps what the visitor gathered under a new id (the old one stops working), and
//! logging out ends the session.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::net::SocketAddr;

use serde_json::json;
use support::{Fixture, login, send, send_body, session_of};

/// The server on a SQLite store in its private directory.
fn start(extra: &[&str]) -> Fixture {
    Fixture::start(
        |dir| format!("sqlite:{}", dir.join("sessions.db").display()),
        extra,
    )
}

/// Counts `counter:{name}` once with `cookie`; returns the value.
async fn count(addr: SocketAddr, cookie: &str, name: &str) -> u64 {
    let reply = send(
        addr,
        "POST",
        &format!("/api/counter/{name}"),
        &[("cookie", cookie)],
        None,
    )
    .await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    assert_eq!(reply.cookie_pair(), cookie, "the id stays as it is");
    reply.json()["value"].as_u64().unwrap()
}

/// Logs the session of `cookie` in through the API; returns the new cookie.
async fn log_in_with(addr: SocketAddr, cookie: &str, user: &str, password: &str) -> String {
    let reply = send(
        addr,
        "POST",
        "/api/login",
        &[("cookie", cookie)],
        Some(json!({"username": user, "password": password})),
    )
    .await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    reply.cookie_pair()
}

/// An anonymous visitor's first count: the session it creates, as a `Cookie` value.
async fn anonymous_visitor(addr: SocketAddr) -> String {
    let reply = send(addr, "POST", "/api/counter/clicks", &[], None).await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    assert_eq!(reply.json(), json!({"value": 1}));
    assert_eq!(reply.header("cache-control"), Some("no-store"));
    let cookie = reply.cookie_pair();
    assert!(cookie.starts_with("session="), "{cookie}");
    cookie
}

#[tokio::test]
async fn an_anonymous_counter_works_and_persists_across_requests() {
    let f = start(&[]);
    let addr = f.server.addr;
    let visitor = anonymous_visitor(addr).await;
    assert_eq!(count(addr, &visitor, "clicks").await, 2);
    assert_eq!(count(addr, &visitor, "clicks").await, 3);
    assert_eq!(count(addr, &visitor, "other").await, 1);

    let doc = session_of(addr, &visitor).await;
    assert_eq!(doc.status, 200);
    let doc = doc.json();
    assert_eq!(doc["principal"], json!(null));
    assert_eq!(
        doc["attributes"],
        json!({"counter:clicks": 3, "counter:other": 1})
    );
    // Another visitor has a session of its own.
    let other = anonymous_visitor(addr).await;
    assert_ne!(other, visitor);
    assert_eq!(
        session_of(addr, &visitor).await.json()["attributes"]["counter:clicks"],
        3
    );
}

#[tokio::test]
async fn login_keeps_the_counter_under_a_new_id_and_the_old_id_stops_working() {
    let f = start(&[]);
    let addr = f.server.addr;
    let visitor = anonymous_visitor(addr).await;
    assert_eq!(count(addr, &visitor, "clicks").await, 2);
    let anonymous_hash = session_of(addr, &visitor).await.json()["id_hash"].clone();

    let alice = log_in_with(addr, &visitor, "alice", "wonderland").await;
    assert_ne!(alice, visitor, "the login cycled the id");
    let doc = session_of(addr, &alice).await.json();
    assert_eq!(doc["principal"], "alice");
    assert_eq!(doc["attributes"], json!({"counter:clicks": 2}));
    assert_ne!(doc["id_hash"], anonymous_hash);

    // The pre-login id is dead: it names no session, and counting with it starts afresh.
    assert_eq!(session_of(addr, &visitor).await.status, 404);
    let reply = send(
        addr,
        "POST",
        "/api/counter/clicks",
        &[("cookie", &visitor)],
        None,
    )
    .await;
    assert_eq!(reply.json(), json!({"value": 1}));
    assert_ne!(reply.cookie_pair(), alice);
    assert_eq!(count(addr, &alice, "clicks").await, 3);
}

#[tokio::test]
async fn a_different_user_logging_in_starts_clean() {
    let f = start(&[]);
    let addr = f.server.addr;
    let alice = login(addr, "alice", "wonderland").await;
    assert_eq!(count(addr, &alice, "clicks").await, 1);
    let bob = log_in_with(addr, &alice, "bob", "builder").await;
    let doc = session_of(addr, &bob).await.json();
    assert_eq!(doc["principal"], "bob");
    assert_eq!(doc["attributes"], json!({}), "alice's data is not bob's");
}

#[tokio::test]
async fn logout_ends_the_session_logged_in_or_anonymous() {
    let f = start(&[]);
    let addr = f.server.addr;
    let visitor = anonymous_visitor(addr).await;
    let alice = log_in_with(addr, &visitor, "alice", "wonderland").await;
    let reply = send(addr, "POST", "/api/logout", &[("cookie", &alice)], None).await;
    assert_eq!(reply.status, 204);
    assert!(reply.set_cookies()[0].contains("Max-Age=0"));
    assert_eq!(session_of(addr, &alice).await.status, 404);
    // The counter starts again in a new session.
    let reply = send(
        addr,
        "POST",
        "/api/counter/clicks",
        &[("cookie", &alice)],
        None,
    )
    .await;
    assert_eq!(reply.json(), json!({"value": 1}));

    let other = anonymous_visitor(addr).await;
    let reply = send(addr, "POST", "/api/logout", &[("cookie", &other)], None).await;
    assert_eq!(reply.status, 204);
    assert_eq!(session_of(addr, &other).await.status, 404);
}

#[tokio::test]
async fn pages_for_users_only_send_browsers_to_the_login_form_and_api_clients_get_401() {
    let f = start(&[]);
    let addr = f.server.addr;
    let visitor = anonymous_visitor(addr).await;
    let browser = [
        ("cookie", visitor.as_str()),
        ("accept", "text/html,application/xhtml+xml,*/*;q=0.8"),
    ];
    let reply = send(addr, "GET", "/sessions", &browser, None).await;
    assert_eq!(reply.status, 303);
    assert_eq!(reply.header("location"), Some("/login"));
    let reply = send(addr, "GET", "/api/sessions", &[("cookie", &visitor)], None).await;
    assert_eq!(reply.status, 401);
    assert_eq!(reply.json(), json!({"error": "not logged in"}));
}

#[tokio::test]
async fn the_session_page_serves_anonymous_visitors_with_a_form_token() {
    let f = start(&[]);
    let addr = f.server.addr;
    let page = send(addr, "GET", "/session", &[], None).await;
    assert_eq!(page.status, 200);
    assert!(page.body.contains("id=\"anonymous\""), "{}", page.body);
    let cookie = page.cookie_pair();
    let start = page.body.find("name=\"csrf\" value=\"").unwrap() + 19;
    let token = page.body[start..].split('"').next().unwrap().to_owned();

    // The counter form needs the token, as every form does.
    let form = |csrf: &str| Some(("application/x-www-form-urlencoded", format!("csrf={csrf}")));
    let cookie_header = [("cookie", cookie.as_str())];
    let reply = send_body(addr, "POST", "/counter/clicks", &cookie_header, form("x")).await;
    assert_eq!(reply.status, 403);
    let reply = send_body(
        addr,
        "POST",
        "/counter/clicks",
        &cookie_header,
        form(&token),
    )
    .await;
    assert_eq!(reply.status, 303);
    assert_eq!(reply.header("location"), Some("/session"));
    let page = send(addr, "GET", "/session", &cookie_header, None).await;
    assert!(
        page.body.contains("<span id=\"counter-value\">1</span>"),
        "{}",
        page.body
    );
    assert!(page.body.contains("id=\"id-hash\""), "a stored session");
}

#[tokio::test]
async fn a_login_from_an_anonymous_session_counts_against_the_session_cap() {
    let f = start(&["--max-sessions-per-user", "2"]);
    let addr = f.server.addr;
    let first = login(addr, "alice", "wonderland").await;
    let second = login(addr, "alice", "wonderland").await;
    let visitor = anonymous_visitor(addr).await;
    let third = log_in_with(addr, &visitor, "alice", "wonderland").await;
    assert_eq!(
        session_of(addr, &first).await.status,
        404,
        "the oldest ends"
    );
    assert_eq!(session_of(addr, &second).await.status, 200);
    let doc = session_of(addr, &third).await.json();
    assert_eq!(doc["attributes"], json!({"counter:clicks": 1}));
}
