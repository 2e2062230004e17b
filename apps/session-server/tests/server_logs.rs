//! The session-server binary's logs as an operator reads them: one line per request with
//! its method, route template, status, latency and the short store key of its session —
//! never the session id itself — and no colour codes when stderr is not a terminal.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use session_core::SessionId;
use support::{ServerProcess, login, send, start_announced, write_users_file};
use test_support::startup::{Announced, read_until};

/// The server on the memory store with alice's account, logging at INFO; the directory holds
/// the users file and must outlive the server.
fn start_logging_at_info() -> (tempfile::TempDir, Announced) {
    let dir = tempfile::tempdir().unwrap();
    let users = write_users_file(dir.path(), &[("alice", "wonderland")]);
    let announced = start_announced(
        ServerProcess::command(&["--store", "memory:", "--users"])
            .arg(&users)
            .env("RUST_LOG", "info"),
    );
    (dir, announced)
}

#[tokio::test]
async fn each_request_logs_method_route_status_latency_and_a_hashed_session() {
    let (_dir, announced) = start_logging_at_info();
    let addr = announced.addr;
    let cookie = login(addr, "alice", "wonderland").await;
    let raw_id = cookie.trim_start_matches("session=").to_owned();
    let short_key = SessionId::parse(&raw_id).unwrap().key().short();
    let auth = [("cookie", cookie.as_str())];
    let reply = send(addr, "POST", "/api/counter/clicks", &auth, None).await;
    assert_eq!(reply.status, 200);
    let reply = send(addr, "GET", "/api/nothing-here", &auth, None).await;
    assert_eq!(reply.status, 404);

    let mut lines = read_until(
        &announced.output,
        &["route=/api/counter/{name}", "status=200"],
    );
    let counter = lines.last().unwrap().clone();
    for field in [
        "INFO",
        "method=POST",
        &format!("session={short_key}"),
        "latency_ms=",
    ] {
        assert!(counter.contains(field), "{field} missing in {counter}");
    }
    // The path the client sent is not logged, only the template it matched.
    assert!(!counter.contains("clicks"), "{counter}");
    lines.extend(read_until(
        &announced.output,
        &["route=unmatched", "status=404", "method=GET"],
    ));
    let login_line = lines
        .iter()
        .find(|l| l.contains("route=/api/login") && l.contains("answered"))
        .unwrap_or_else(|| panic!("no login line in:\n{}", lines.join("\n")));
    assert!(
        login_line.contains("method=POST") && login_line.contains("status=200"),
        "{login_line}"
    );
    for line in &lines {
        assert!(!line.contains(&raw_id), "the session id was logged: {line}");
        assert!(
            !line.contains("nothing-here"),
            "a raw path was logged: {line}"
        );
        assert!(
            !line.contains("\x1b["),
            "colour codes in a piped log: {line:?}"
        );
    }
}

#[tokio::test]
async fn probes_are_logged_only_at_debug() {
    let (_dir, announced) = start_logging_at_info();
    let addr = announced.addr;
    assert_eq!(send(addr, "GET", "/healthz", &[], None).await.status, 200);
    // The session page answers anonymous visitors too.
    assert_eq!(send(addr, "GET", "/session", &[], None).await.status, 200);
    let lines = read_until(&announced.output, &["route=/session", "status=200"]);
    assert!(
        !lines.iter().any(|l| l.contains("route=/healthz")),
        "{lines:?}"
    );
}
