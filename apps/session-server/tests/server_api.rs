//! The session-server binary's JSON API over loopback, on the SQLite store.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::sync::Arc;

use serde_json::json;
use support::{ServerProcess, login, send, send_body, session_of, write_users_file};
use test_support::http::KeepAlive;

struct Fixture {
    _dir: tempfile::TempDir,
    server: ServerProcess,
}

fn start() -> Fixture {
    start_with(&[])
}

fn start_with(extra: &[&str]) -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let users = write_users_file(dir.path(), &[("alice", "wonderland"), ("bob", "builder")]);
    let store = format!("sqlite:{}", dir.path().join("sessions.db").display());
    let server = ServerProcess::start(&store, &users, extra);
    Fixture { _dir: dir, server }
}

#[tokio::test]
async fn login_answers_the_principal_and_a_new_id_and_refuses_bad_credentials() {
    let f = start();
    let addr = f.server.addr;
    let reply = send(
        addr,
        "POST",
        "/api/login",
        &[],
        Some(json!({"username": "alice", "password": "wonderland"})),
    )
    .await;
    assert_eq!(reply.status, 200);
    assert_eq!(reply.json(), json!({"principal": "alice"}));
    let cookie = reply.cookie_pair();
    assert!(cookie.starts_with("session="));
    assert!(
        reply.header("x-session-id").is_none(),
        "a cookie client never sees its id in a header"
    );
    assert_eq!(reply.header("cache-control"), Some("no-store"));

    for (user, password) in [("alice", "wrong"), ("mallory", "wonderland"), ("", "")] {
        let reply = send(
            addr,
            "POST",
            "/api/login",
            &[],
            Some(json!({"username": user, "password": password})),
        )
        .await;
        assert_eq!(reply.status, 401);
        assert!(reply.json()["error"].is_string());
        assert!(
            reply.set_cookies().is_empty(),
            "no session for a failed login"
        );
    }
    // No session at all: nothing to show.
    let reply = send(addr, "GET", "/api/session", &[], None).await;
    assert_eq!(reply.status, 404);
    assert!(reply.json()["error"].is_string());
}

#[tokio::test]
async fn malformed_api_requests_get_json_errors() {
    let f = start();
    let addr = f.server.addr;
    let too_large = "x".repeat(3 << 20);
    for (content_type, body, status) in [
        ("application/json", "{\"username\":", 400),
        ("application/json", "not json", 400),
        (
            "application/json",
            "{\"username\": 1, \"password\": 2}",
            422,
        ),
        ("application/json", "[]", 422),
        (
            "text/plain",
            "{\"username\": \"alice\", \"password\": \"wonderland\"}",
            415,
        ),
        ("application/json", too_large.as_str(), 413),
    ] {
        let reply = send_body(
            addr,
            "POST",
            "/api/login",
            &[],
            Some((content_type, body.to_owned())),
        )
        .await;
        let shown = &body[..body.len().min(40)];
        assert_eq!(
            reply.status, status,
            "{content_type} {shown}: {}",
            reply.body
        );
        assert_eq!(
            reply.header("content-type"),
            Some("application/json"),
            "{shown}"
        );
        assert!(reply.json()["error"].is_string(), "{shown}: {}", reply.body);
        assert!(
            reply.set_cookies().is_empty(),
            "no session for a refused body"
        );
    }
    // A path segment that is not UTF-8 once decoded.
    let reply = send(addr, "POST", "/api/counter/%FF", &[], None).await;
    assert_eq!(reply.status, 400, "{}", reply.body);
    assert!(reply.json()["error"].is_string(), "{}", reply.body);
}

#[tokio::test]
async fn session_counter_and_the_session_document() {
    let f = start();
    let addr = f.server.addr;
    let cookie = login(addr, "alice", "wonderland").await;
    let auth = [("cookie", cookie.as_str())];
    for expected in 1..=3 {
        let reply = send(addr, "POST", "/api/counter/clicks", &auth, None).await;
        assert_eq!(reply.json(), json!({"value": expected}));
    }
    let reply = send(addr, "POST", "/api/counter/bad%20name", &auth, None).await;
    assert_eq!(reply.status, 400);
    // A visitor without the cookie counts in a session of its own.
    let reply = send(addr, "POST", "/api/counter/clicks", &[], None).await;
    assert_eq!(reply.json(), json!({"value": 1}));
    assert_ne!(reply.cookie_pair(), cookie);

    let doc = send(addr, "GET", "/api/session", &auth, None).await.json();
    assert_eq!(doc["principal"], "alice");
    assert_eq!(doc["attributes"], json!({"counter:clicks": 3}));
    let id_hash = doc["id_hash"].as_str().unwrap();
    assert_eq!(id_hash.len(), 64);
    assert!(!id_hash.contains(cookie.trim_start_matches("session=")));
    assert!(doc["created_at"].as_str().unwrap().ends_with('Z'));
    assert!(doc["expires_at"].as_str().unwrap().ends_with('Z'));
}

#[tokio::test]
async fn login_cycles_the_id() {
    let f = start();
    let addr = f.server.addr;
    let first = login(addr, "alice", "wonderland").await;
    let reply = send(
        addr,
        "POST",
        "/api/login",
        &[("cookie", &first)],
        Some(json!({"username": "alice", "password": "wonderland"})),
    )
    .await;
    let second = reply.cookie_pair();
    assert_ne!(first, second);
    assert_eq!(session_of(addr, &first).await.status, 404);
    assert_eq!(session_of(addr, &second).await.status, 200);
}

#[tokio::test]
async fn sessions_listing_revoke_logout_and_logout_everywhere() {
    let f = start();
    let addr = f.server.addr;
    let a = login(addr, "alice", "wonderland").await;
    let b = login(addr, "alice", "wonderland").await;
    let c = login(addr, "alice", "wonderland").await;
    let bob = login(addr, "bob", "builder").await;

    let list = send(addr, "GET", "/api/sessions", &[("cookie", &a)], None)
        .await
        .json();
    let list = list.as_array().unwrap();
    assert_eq!(list.len(), 3);
    let current: Vec<_> = list.iter().filter(|s| s["current"] == true).collect();
    assert_eq!(current.len(), 1);
    for entry in list {
        for field in [
            "id_hash",
            "created_at",
            "last_access",
            "expires_at",
            "current",
        ] {
            assert!(entry.get(field).is_some(), "{field} in {entry}");
        }
    }
    // Revoke b from a.
    let b_hash = session_of(addr, &b).await.json()["id_hash"]
        .as_str()
        .unwrap()
        .to_owned();
    let reply = send(
        addr,
        "DELETE",
        &format!("/api/sessions/{b_hash}"),
        &[("cookie", &a)],
        None,
    )
    .await;
    assert_eq!(reply.status, 204);
    assert_eq!(session_of(addr, &b).await.status, 404);
    // Bob cannot revoke alice's sessions.
    let a_hash = session_of(addr, &a).await.json()["id_hash"]
        .as_str()
        .unwrap()
        .to_owned();
    let reply = send(
        addr,
        "DELETE",
        &format!("/api/sessions/{a_hash}"),
        &[("cookie", &bob)],
        None,
    )
    .await;
    assert_eq!(reply.status, 404);

    // Logout ends this session and expires the cookie.
    let reply = send(addr, "POST", "/api/logout", &[("cookie", &c)], None).await;
    assert_eq!(reply.status, 204);
    assert!(reply.set_cookies()[0].contains("Max-Age=0"));
    assert_eq!(session_of(addr, &c).await.status, 404);

    // Log out everywhere from a fresh login.
    let d = login(addr, "alice", "wonderland").await;
    let reply = send(
        addr,
        "POST",
        "/api/logout-everywhere",
        &[("cookie", &d)],
        None,
    )
    .await;
    assert_eq!(reply.json(), json!({"revoked": 2}));
    for dead in [&a, &d] {
        assert_eq!(session_of(addr, dead).await.status, 404);
    }
    assert_eq!(session_of(addr, &bob).await.status, 200);
}

#[tokio::test]
async fn bearer_header_transport() {
    let f = start();
    let addr = f.server.addr;
    let reply = send(
        addr,
        "POST",
        "/api/login",
        &[("x-session-transport", "header")],
        Some(json!({"username": "bob", "password": "builder"})),
    )
    .await;
    assert!(reply.set_cookies().is_empty(), "asked for the header only");
    let id = reply.header("x-session-id").unwrap().to_owned();
    let bearer = format!("Bearer {id}");
    let reply = send(
        addr,
        "POST",
        "/api/counter/x",
        &[("authorization", &bearer)],
        None,
    )
    .await;
    assert_eq!(reply.json(), json!({"value": 1}));
    assert!(
        reply.set_cookies().is_empty(),
        "header clients get no cookie"
    );
    let doc = send(
        addr,
        "GET",
        "/api/session",
        &[("authorization", &bearer)],
        None,
    )
    .await
    .json();
    assert_eq!(doc["principal"], "bob");
}

#[tokio::test]
async fn bad_cookies_give_a_fresh_session_not_an_error_page() {
    let f = start();
    let addr = f.server.addr;
    for cookie in [
        "session=garbage",
        "session=",
        "session=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
        "session=%00%ff",
    ] {
        let reply = session_of(addr, cookie).await;
        assert_eq!(reply.status, 404, "{cookie}");
        let reply = send(
            addr,
            "POST",
            "/api/login",
            &[("cookie", cookie)],
            Some(json!({"username": "alice", "password": "wonderland"})),
        )
        .await;
        assert_eq!(reply.status, 200, "{cookie}");
    }
    let metrics = send(addr, "GET", "/metrics", &[], None).await.body;
    let suspicious = metrics
        .lines()
        .find(|l| l.starts_with("session_events_total{kind=\"suspicious_id\"}"))
        .unwrap();
    assert_ne!(suspicious.rsplit(' ').next(), Some("0"));
}

#[tokio::test]
async fn healthz_readyz_and_prometheus_metrics() {
    let f = start_with(&["--metrics-refresh-secs", "1"]);
    let addr = f.server.addr;
    let reply = send(addr, "GET", "/healthz", &[], None).await;
    assert_eq!((reply.status.as_u16(), reply.body.as_str()), (200, "ok\n"));
    let reply = send(addr, "GET", "/readyz", &[], None).await;
    assert_eq!(
        (reply.status.as_u16(), reply.body.as_str()),
        (200, "ready\n")
    );
    login(addr, "alice", "wonderland").await;
    // The active-session gauge is recounted in the background (every second here), not
    // per scrape: wait until a count after the login shows.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    let body = loop {
        let reply = send(addr, "GET", "/metrics", &[], None).await;
        assert!(
            reply
                .header("content-type")
                .unwrap()
                .starts_with("text/plain; version=0.0.4")
        );
        if reply
            .body
            .contains("session_active_sessions{store=\"sqlite\"} 1")
        {
            break reply.body;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the gauge never counted the session: {}",
            reply.body
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    };
    assert!(
        body.contains("session_store_operation_duration_seconds_count{operation=\"create\"} 1")
    );
    assert!(body.contains("session_events_total{kind=\"created\"} 1"));
    assert!(body.contains("# TYPE session_store_operation_duration_seconds histogram"));
}

#[tokio::test]
async fn sessions_survive_a_restart_on_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    let users = write_users_file(dir.path(), &[("alice", "wonderland")]);
    let store = format!("sqlite:{}", dir.path().join("sessions.db").display());
    let mut server = ServerProcess::start(&store, &users, &[]);
    let cookie = login(server.addr, "alice", "wonderland").await;
    send(
        server.addr,
        "POST",
        "/api/counter/c",
        &[("cookie", &cookie)],
        None,
    )
    .await;
    server.guard.stop();
    let server = ServerProcess::start(&store, &users, &[]);
    let doc = send(
        server.addr,
        "GET",
        "/api/session",
        &[("cookie", &cookie)],
        None,
    )
    .await
    .json();
    assert_eq!(doc["principal"], "alice");
    assert_eq!(doc["attributes"]["counter:c"], 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sixty_four_clients_on_one_shared_session_lose_no_increment() {
    let f = start();
    let addr = f.server.addr;
    let cookie = Arc::new(login(addr, "alice", "wonderland").await);
    const CLIENTS: usize = 64;
    const ROUNDS: u64 = 10;
    let tasks: Vec<_> = (0..CLIENTS)
        .map(|client| {
            let cookie = cookie.clone();
            tokio::spawn(async move {
                let mut connection = KeepAlive::open(addr).await;
                for round in 1..=ROUNDS {
                    let path = format!("/api/counter/c{client}");
                    let headers = [("cookie", cookie.as_str())];
                    let reply = connection.send("POST", &path, &headers, None).await;
                    assert_eq!(reply.status, 200, "{}", reply.body);
                    assert_eq!(reply.json()["value"], round);
                }
            })
        })
        .collect();
    for task in tasks {
        task.await.unwrap();
    }
    let doc = session_of(addr, &cookie).await.json();
    for client in 0..CLIENTS {
        assert_eq!(
            doc["attributes"][format!("counter:c{client}")],
            ROUNDS,
            "client {client}"
        );
    }
}

/// 64 clients, each on a keep-alive connection, increment one counter of one shared session
/// at once, on every store. No acknowledged increment may be lost (the counter ends at the number of
/// `200`s) and fewer than 1 % may be refused.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sixty_four_clients_on_one_counter_lose_none_on_every_store() {
    let dir = tempfile::tempdir().unwrap();
    let users = write_users_file(dir.path(), &[("alice", "wonderland")]);
    let key = dir.path().join("key");
    std::fs::write(&key, "5a".repeat(32)).unwrap();
    std::fs::set_permissions(&key, std::os::unix::fs::PermissionsExt::from_mode(0o600)).unwrap();
    let redis = match test_support::redis::redis_server_program() {
        Some(_) => Some(test_support::redis::RedisServer::start().unwrap()),
        None => {
            test_support::skip(
                "sixty_four_clients_on_one_counter_lose_none_on_every_store (Redis)",
                "redis-server",
            );
            None
        }
    };
    let mut stores = vec![
        "memory:".to_owned(),
        format!("file:{}", dir.path().join("files").display()),
        format!("sqlite:{}", dir.path().join("sessions.db").display()),
        format!(
            "encrypted:{}?key_file={}",
            dir.path().join("sealed").display(),
            key.display()
        ),
    ];
    stores.extend(redis.as_ref().map(|r| r.url()));
    const CLIENTS: usize = 64;
    const ROUNDS: usize = 5;
    for store in stores {
        let server = ServerProcess::start(&store, &users, &[]);
        let addr = server.addr;
        let cookie = Arc::new(login(addr, "alice", "wonderland").await);
        let tasks: Vec<_> = (0..CLIENTS)
            .map(|_| {
                let cookie = cookie.clone();
                tokio::spawn(async move {
                    let mut connection = KeepAlive::open(addr).await;
                    let mut statuses = Vec::new();
                    for _ in 0..ROUNDS {
                        let path = "/api/counter/shared";
                        let headers = [("cookie", cookie.as_str())];
                        let reply = connection.send("POST", path, &headers, None).await;
                        statuses.push(reply.status.as_u16());
                    }
                    statuses
                })
            })
            .collect();
        let mut statuses = Vec::new();
        for task in tasks {
            statuses.extend(task.await.unwrap());
        }
        let acknowledged = statuses.iter().filter(|&&s| s == 200).count();
        let refused = statuses.len() - acknowledged;
        assert!(
            statuses.iter().all(|s| matches!(s, 200 | 409 | 503)),
            "{store}: {statuses:?}"
        );
        assert!(
            refused * 100 < statuses.len(),
            "{store}: {refused} of {} refused",
            statuses.len()
        );
        let doc = session_of(addr, &cookie).await.json();
        assert_eq!(
            doc["attributes"]["counter:shared"], acknowledged,
            "{store}: every acknowledged increment counted, and only those"
        );
    }
}

#[test]
fn sigterm_shuts_down_gracefully() {
    let dir = tempfile::tempdir().unwrap();
    let users = write_users_file(dir.path(), &[("alice", "wonderland")]);
    let mut server = ServerProcess::start("memory:", &users, &[]);
    let status = std::process::Command::new("kill")
        .arg("-TERM")
        .arg(server.guard.pid().to_string())
        .status()
        .unwrap();
    assert!(status.success());
    let exit = server.guard.stop().unwrap();
    assert!(exit.success(), "exit status after SIGTERM: {exit:?}");
}

#[tokio::test]
async fn the_api_works_on_a_real_redis_store() {
    let Some(redis) =
        test_support::redis::RedisServer::start_for("the_api_works_on_a_real_redis_store")
    else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let users = write_users_file(dir.path(), &[("alice", "wonderland")]);
    let server = ServerProcess::start(&redis.url(), &users, &[]);
    let addr = server.addr;
    let a = login(addr, "alice", "wonderland").await;
    let b = login(addr, "alice", "wonderland").await;
    let reply = send(addr, "POST", "/api/counter/r", &[("cookie", &a)], None).await;
    assert_eq!(reply.json(), json!({"value": 1}));
    let list = send(addr, "GET", "/api/sessions", &[("cookie", &a)], None)
        .await
        .json();
    assert_eq!(list.as_array().unwrap().len(), 2);
    let reply = send(
        addr,
        "POST",
        "/api/logout-everywhere",
        &[("cookie", &b)],
        None,
    )
    .await;
    assert_eq!(reply.json(), json!({"revoked": 2}));
    assert_eq!(session_of(addr, &a).await.status, 404);
}

/// An orchestrator restarts a server whose liveness fails and stops routing to one whose
/// readiness fails: with its Redis stopped the server stays live (`/healthz` answers from the
/// process) but reports itself not ready, and ready again once Redis is back.
#[tokio::test]
async fn readiness_follows_the_store_and_liveness_does_not() {
    let Some(mut redis) = test_support::redis::RedisServer::start_for(
        "readiness_follows_the_store_and_liveness_does_not",
    ) else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let users = write_users_file(dir.path(), &[("alice", "wonderland")]);
    let server = ServerProcess::start(&redis.url(), &users, &[]);
    let addr = server.addr;
    let readyz = || async move {
        let reply = send(addr, "GET", "/readyz", &[], None).await;
        (reply.status.as_u16(), reply.body)
    };
    assert_eq!(readyz().await, (200, "ready\n".to_owned()));

    redis.stop();
    // A readiness answer is reused for a second; the next probe must see the store gone.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    loop {
        let answer = readyz().await;
        if answer.0 == 503 {
            assert_eq!(answer.1, "session store unavailable\n");
            break;
        }
        assert_eq!(answer, (200, "ready\n".to_owned()));
        assert!(
            std::time::Instant::now() < deadline,
            "still ready with Redis stopped"
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    let reply = send(addr, "GET", "/healthz", &[], None).await;
    assert_eq!((reply.status.as_u16(), reply.body.as_str()), (200, "ok\n"));

    redis.restart().unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while readyz().await.0 != 200 {
        assert!(
            std::time::Instant::now() < deadline,
            "not ready again after Redis came back"
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    // And the sessions work again.
    let cookie = login(addr, "alice", "wonderland").await;
    let reply = send(addr, "POST", "/api/counter/r", &[("cookie", &cookie)], None).await;
    assert_eq!(reply.json(), json!({"value": 1}));
}

/// The README's first command has no accounts: the server makes a `demo` account with a
/// random password, shows it once on the terminal, and that password logs in.
#[tokio::test]
async fn without_accounts_a_demo_account_is_made_and_shown_once() {
    let dir = test_support::temp_dir();
    let started = support::start_announced(
        ServerProcess::command(&[])
            .arg("--data-dir")
            .arg(dir.path()),
    );
    let addr = started.addr;
    // The notice comes on stderr before the address on stdout; the two pipes are read apart,
    // so it may arrive on either side of the announcement.
    let password = started
        .said_before
        .into_iter()
        .chain(std::iter::from_fn(|| {
            started
                .output
                .recv_timeout(std::time::Duration::from_secs(60))
                .ok()
        }))
        .find_map(|line| {
            let rest = line.split("with password \"").nth(1)?;
            rest.split('"').next().map(str::to_owned)
        })
        .expect("the demo password is shown on stderr");
    let _guard = started.guard;
    assert!(password.len() >= 16, "a strong password: {password}");

    let wrong = support::send(
        addr,
        "POST",
        "/api/login",
        &[],
        Some(serde_json::json!({"username": "demo", "password": "demo"})),
    )
    .await;
    assert_eq!(wrong.status, 401);
    let cookie = support::login(addr, "demo", &password).await;
    let me = support::session_of(addr, &cookie).await;
    assert_eq!(me.json()["principal"], "demo");
    assert!(
        dir.path().read_dir().unwrap().next().is_some(),
        "the default SQLite store lives in the data directory"
    );
}
