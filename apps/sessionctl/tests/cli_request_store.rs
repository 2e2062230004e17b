//! `sessionctl request --session NAME --session-store URL`: the HTTPie session kept in a
//! session store, shared by machines with different HTTPie config directories.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::*;

/// Two "machines" (config directories) share the session through `store_url`.
fn shared_through(store_url: &str) {
    let server = TestServer::start();
    let first = test_support::temp_dir();
    let second = test_support::temp_dir();
    ok(sessionctl(first.path()).args([
        "request",
        "--session=ci",
        "--session-store",
        store_url,
        "-a",
        "bot:pw",
        &server.localhost("/set?sid=s1"),
        "X-Run:7",
    ]));
    let headers = &used_headers(second.path(), store_url, &server);
    assert_eq!(headers["cookie"], "sid=s1");
    assert_eq!(headers["authorization"], "Basic Ym90OnB3");
    assert_eq!(headers["x-run"], "7");
    // No HTTPie file on either machine.
    assert!(!first.path().join("sessions").exists());
    assert!(!second.path().join("sessions").exists());

    // A read-only use changes nothing in the store.
    ok(sessionctl(second.path()).args([
        "request",
        "--session-read-only=ci",
        "--session-store",
        store_url,
        &server.localhost("/set?sid=s2"),
    ]));
    assert_eq!(
        used_headers(first.path(), store_url, &server)["cookie"],
        "sid=s1"
    );
}

/// The headers a request with the stored session `ci` sends, from the machine `config`.
fn used_headers(
    config: &std::path::Path,
    store_url: &str,
    server: &TestServer,
) -> serde_json::Value {
    let out = ok(sessionctl(config).args([
        "--json",
        "request",
        "--session=ci",
        "--session-store",
        store_url,
        &server.localhost("/use"),
    ]));
    echoed(&out)["headers"].clone()
}

#[test]
fn a_session_in_a_sqlite_store_is_shared() {
    let dir = test_support::temp_dir();
    let url = format!("sqlite:{}", dir.path().join("sessions.db").display());
    shared_through(&url);
}

#[test]
fn a_session_in_redis_is_shared() {
    let Some(server) = test_support::redis::RedisServer::start_for("a_session_in_redis_is_shared")
    else {
        return;
    };
    shared_through(&server.url());
}

#[test]
fn a_session_store_needs_a_session_name() {
    let config = test_support::temp_dir();
    let output = run(sessionctl(config.path()).args([
        "request",
        "--session-store",
        "memory:",
        "http://localhost:9/",
    ]));
    assert_eq!(output.status.code(), Some(2));
    assert!(stderr(&output).contains("--session-store needs --session"));
}
