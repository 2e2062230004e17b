//! The session-server options an operator sets, each against the built binary: password
//! hashes for the users file, cookie security, session lifetimes, the login throttle (also
//! shared through Redis), the request deadline, the shutdown drain, same-site requests and
//! what happens when the store fails.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::io::Write;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::json;
use support::{Fixture, Reply, ServerProcess, login, send, write_users_file};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// How long a test waits for something the server must do by itself.
const PATIENCE: Duration = Duration::from_secs(60);

/// The server on the memory store with the accounts of [`Fixture`] and `extra` options.
fn start(extra: &[&str]) -> Fixture {
    Fixture::start(|_| "memory:".to_owned(), extra)
}

async fn log_in(addr: std::net::SocketAddr, user: &str, password: &str) -> Reply {
    send(
        addr,
        "POST",
        "/api/login",
        &[],
        Some(json!({"username": user, "password": password})),
    )
    .await
}

/// The `Max-Age` of a `Set-Cookie` value, in seconds.
fn max_age(set_cookie: &str) -> u64 {
    set_cookie
        .split(';')
        .find_map(|part| part.trim().strip_prefix("Max-Age="))
        .unwrap_or_else(|| panic!("no Max-Age in {set_cookie}"))
        .parse()
        .unwrap()
}

#[tokio::test]
async fn hash_password_prints_a_hash_that_logs_the_user_in() {
    let mut child = ServerProcess::command(&["--hash-password"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(b"correct horse\n")
        .unwrap();
    let output = child.wait_with_output().unwrap();
    assert!(output.status.success(), "{output:?}");
    let hash = String::from_utf8(output.stdout).unwrap();
    let hash = hash.trim_end();
    assert!(hash.starts_with("$argon2id$"), "{hash}");
    assert!(!hash.contains("correct horse"));

    let dir = tempfile::tempdir().unwrap();
    let users = dir.path().join("users");
    std::fs::write(&users, format!("carol:{hash}\n")).unwrap();
    let server = ServerProcess::start("memory:", &users, &[]);
    assert_eq!(
        log_in(server.addr, "carol", "correct horse").await.status,
        200
    );
    assert_eq!(
        log_in(server.addr, "carol", "correct horse\n").await.status,
        401
    );
}

#[tokio::test]
async fn secure_cookies_decide_the_cookie_name_and_flag() {
    // On loopback, `auto` sends a plain cookie, as browsers drop `Secure` ones over http
    // anywhere but localhost.
    let auto = start(&[]);
    let cookie = log_in(auto.server.addr, "alice", "wonderland")
        .await
        .set_cookie();
    assert!(cookie.starts_with("session="), "{cookie}");
    assert!(!cookie.contains("Secure"), "{cookie}");

    // Behind a TLS-terminating proxy: `Secure` and the `__Host-` prefix.
    let secure = start(&["--secure-cookies", "true"]);
    let cookie = log_in(secure.server.addr, "alice", "wonderland")
        .await
        .set_cookie();
    assert!(cookie.starts_with("__Host-session="), "{cookie}");
    assert!(cookie.contains("; Secure"), "{cookie}");
    assert!(cookie.contains("; Path=/"), "{cookie}");
    assert!(!cookie.contains("Domain="), "{cookie}");

    let refused = ServerProcess::command(&["--secure-cookies", "sometimes", "--store", "memory:"])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .output()
        .unwrap();
    assert!(!refused.status.success());
    let said = String::from_utf8_lossy(&refused.stderr);
    assert!(
        said.contains("--secure-cookies") && said.contains("sometimes"),
        "{said}"
    );
}

#[tokio::test]
async fn idle_and_absolute_timeouts_set_the_cookie_lifetime() {
    let idle = start(&["--idle-secs", "120"]);
    let cookie = log_in(idle.server.addr, "alice", "wonderland")
        .await
        .set_cookie();
    assert!((110..=120).contains(&max_age(&cookie)), "{cookie}");

    // The earlier of the two ends counts.
    let both = start(&["--idle-secs", "120", "--absolute-secs", "60"]);
    let cookie = log_in(both.server.addr, "alice", "wonderland")
        .await
        .set_cookie();
    assert!((50..=60).contains(&max_age(&cookie)), "{cookie}");
}

#[tokio::test]
async fn the_login_throttle_follows_its_options() {
    let f = start(&[
        "--login-free-attempts",
        "1",
        "--login-max-wait-secs",
        "2",
        "--login-address-free-attempts",
        "0",
    ]);
    let addr = f.server.addr;
    assert_eq!(log_in(addr, "alice", "guess").await.status, 401);
    let mut waits = Vec::new();
    for _ in 0..6 {
        let refused = log_in(addr, "alice", "guess").await;
        assert_eq!(refused.status, 429, "{}", refused.body);
        waits.push(
            refused
                .header("retry-after")
                .unwrap()
                .parse::<u64>()
                .unwrap(),
        );
    }
    assert!(waits.iter().all(|&w| (1..=2).contains(&w)), "{waits:?}");
    // The throttle is per user: another account is not held back.
    assert_eq!(log_in(addr, "bob", "builder").await.status, 200);
}

#[tokio::test]
async fn the_login_throttle_is_shared_through_redis() {
    let Some(redis) =
        test_support::redis::RedisServer::start_for("the_login_throttle_is_shared_through_redis")
    else {
        return;
    };
    let url = redis.url();
    let options = [
        "--throttle-store",
        url.as_str(),
        "--login-free-attempts",
        "1",
        "--login-address-free-attempts",
        "0",
    ];
    let first = start(&options);
    let second = start(&options);
    assert_eq!(
        log_in(first.server.addr, "alice", "guess").await.status,
        401
    );
    // The second server counts the failure the first one saw.
    let refused = log_in(second.server.addr, "alice", "guess").await;
    assert_eq!(refused.status, 429, "{}", refused.body);

    // Without the shared store each server counts alone.
    let alone = start(&[
        "--login-free-attempts",
        "1",
        "--login-address-free-attempts",
        "0",
    ]);
    assert_eq!(
        log_in(alone.server.addr, "alice", "guess").await.status,
        401
    );
}

/// A `POST /api/login` that announces a body it never finishes sending.
async fn stalled_login(addr: std::net::SocketAddr) -> TcpStream {
    let mut stream = TcpStream::connect(addr).await.unwrap();
    stream
        .write_all(
            b"POST /api/login HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\n\
              Content-Length: 100\r\n\r\n{\"username\":",
        )
        .await
        .unwrap();
    stream
}

#[tokio::test]
async fn a_request_past_its_deadline_is_answered_503() {
    let f = start(&["--request-timeout-secs", "1"]);
    let mut stream = stalled_login(f.server.addr).await;
    let mut answer = Vec::new();
    let read = tokio::time::timeout(PATIENCE, stream.read_to_end(&mut answer)).await;
    assert!(read.is_ok(), "the server kept waiting for the body");
    let answer = String::from_utf8_lossy(&answer);
    assert!(answer.starts_with("HTTP/1.1 503"), "{answer}");
    assert_eq!(
        log_in(f.server.addr, "alice", "wonderland").await.status,
        200
    );
}

#[tokio::test]
async fn a_shutdown_waits_for_requests_in_flight_no_longer_than_the_drain_timeout() {
    let mut f = start(&["--drain-timeout-secs", "1", "--request-timeout-secs", "600"]);
    let _in_flight = stalled_login(f.server.addr).await;
    // The request is read before the signal: the server has answered another one since.
    assert_eq!(
        send(f.server.addr, "GET", "/healthz", &[], None)
            .await
            .status,
        200
    );
    let signalled = Instant::now();
    let status = Command::new("kill")
        .arg("-TERM")
        .arg(f.server.guard.pid().to_string())
        .status()
        .unwrap();
    assert!(status.success());
    // Waited for without a second signal, which could hurry the server along.
    let exited = test_support::wait_until(PATIENCE, || !f.server.guard.is_running());
    assert!(exited.is_ok(), "still running {PATIENCE:?} after SIGTERM");
    let exit = f.server.guard.stop().unwrap();
    assert!(exit.success(), "exit status after SIGTERM: {exit:?}");
    // Far below the 600 s the request could still take, and the 10 s default drain.
    assert!(
        signalled.elapsed() < Duration::from_secs(8),
        "{:?}",
        signalled.elapsed()
    );
}

#[tokio::test]
async fn allow_same_site_lets_sibling_origins_write() {
    let same_site = [("sec-fetch-site", "same-site")];
    for (options, expected) in [(&[][..], 403), (&["--allow-same-site"][..], 200)] {
        let f = start(options);
        let cookie = login(f.server.addr, "alice", "wonderland").await;
        let headers = [("cookie", cookie.as_str()), same_site[0]];
        let reply = send(f.server.addr, "POST", "/api/counter/x", &headers, None).await;
        assert_eq!(reply.status, expected, "{options:?}: {}", reply.body);
    }
}

#[tokio::test]
async fn continue_on_store_failure_serves_without_a_session() {
    let Some(mut redis) = test_support::redis::RedisServer::start_for(
        "continue_on_store_failure_serves_without_a_session",
    ) else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let users = write_users_file(dir.path(), &[("alice", "wonderland")]);
    let closed = ServerProcess::start(&redis.url(), &users, &[]);
    let open = ServerProcess::start(&redis.url(), &users, &["--continue-on-store-failure"]);
    let cookies = [
        login(closed.addr, "alice", "wonderland").await,
        login(open.addr, "alice", "wonderland").await,
    ];
    redis.stop();

    let counter = |addr, cookie: String| async move {
        send(addr, "POST", "/api/counter/x", &[("cookie", &cookie)], None).await
    };
    let failed = counter(closed.addr, cookies[0].clone()).await;
    assert_eq!(failed.status, 503, "{}", failed.body);
    assert_eq!(failed.header("retry-after"), Some("1"));
    let served = counter(open.addr, cookies[1].clone()).await;
    assert_eq!(served.status, 200, "{}", served.body);
}
