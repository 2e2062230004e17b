//! The session-server binary against an attacker on the wire: stalled connections, a login
//! flood, cross-site requests, login CSRF, ids in headers, planted cookies, session hoarding.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use serde_json::json;
use support::{Fixture, ServerProcess, login, send, send_body, session_of};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// How long the tests wait for something the server must do by itself (close a connection).
const PATIENCE: Duration = Duration::from_secs(60);

/// The server on the memory store.
fn start(extra: &[&str]) -> Fixture {
    Fixture::start(|_| "memory:".to_owned(), extra)
}

/// Reads until the server closes the connection; false if it is still open at the deadline.
async fn closed_by_server(stream: &mut TcpStream, deadline: Instant) -> bool {
    let mut buffer = [0u8; 1024];
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match tokio::time::timeout(left, stream.read(&mut buffer)).await {
            Ok(Ok(0) | Err(_)) => return true,
            Ok(Ok(_)) => continue,
            Err(_) => return false,
        }
    }
}

#[tokio::test]
async fn stalled_connections_are_closed_and_a_flood_of_them_is_capped() {
    let f = start(&[
        "--header-read-timeout-secs",
        "2",
        "--max-connections-per-address",
        "40",
    ]);
    let addr = f.server.addr;
    // Half a request line, then nothing: the classic slow-loris.
    let mut stalled = Vec::new();
    for _ in 0..40 {
        let mut stream = TcpStream::connect(addr).await.unwrap();
        stream.write_all(b"GET /healthz HT").await.unwrap();
        stalled.push(stream);
    }
    // Over the per-address cap: refused at once, with a 503 and a Retry-After.
    let mut over = TcpStream::connect(addr).await.unwrap();
    let mut answer = String::new();
    tokio::time::timeout(PATIENCE, over.read_to_string(&mut answer))
        .await
        .unwrap()
        .ok();
    assert!(answer.starts_with("HTTP/1.1 503"), "{answer:?}");
    assert!(
        answer.to_ascii_lowercase().contains("retry-after"),
        "{answer:?}"
    );

    let deadline = Instant::now() + PATIENCE;
    for (n, stream) in stalled.iter_mut().enumerate() {
        assert!(
            closed_by_server(stream, deadline).await,
            "stalled connection {n} still open"
        );
    }
    // Once they are gone the server serves again.
    let reply = send(addr, "GET", "/healthz", &[], None).await;
    assert_eq!(reply.status, 200);
}

/// Reads the resident memory of a process, in KiB.
fn resident_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))
        .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap()
}

/// The memory bound of a login flood with two hashes at a time (each Argon2 hash with the
/// default parameters takes 19 MiB; unbounded, 48 at once took 3–4 GiB).
const FLOOD_RSS_BOUND_KIB: u64 = 512 * 1024;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_login_flood_is_throttled_and_memory_stays_bounded() {
    // Accounts from the environment, hashed at start with the default (costly) parameters,
    // so unknown names are checked against a dummy hash of the same cost.
    let mut command = ServerProcess::command(&[
        "--store",
        "memory:",
        "--hash-concurrency",
        "2",
        "--hash-queue-ms",
        "1000",
        "--login-address-free-attempts",
        "0",
    ]);
    command.env("SESSION_SERVER_USERS", "alice:wonderland\nbob:builder\n");
    let server = support::start_announced(&mut command);
    let (addr, pid) = (server.addr, server.guard.pid());

    let done = Arc::new(AtomicBool::new(false));
    let peak = Arc::new(AtomicU64::new(resident_kib(pid)));
    let sampler = {
        let (done, peak) = (done.clone(), peak.clone());
        tokio::spawn(async move {
            while !done.load(Ordering::SeqCst) {
                peak.fetch_max(resident_kib(pid), Ordering::SeqCst);
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        })
    };
    const WORKERS: usize = 48;
    const ROUNDS: usize = 6;
    let workers: Vec<_> = (0..WORKERS)
        .map(|worker| {
            tokio::spawn(async move {
                let mut seen = Vec::new();
                for round in 0..ROUNDS {
                    // Half guess alice's password, half spray names that do not exist.
                    let user = if (worker + round) % 2 == 0 {
                        "alice".to_owned()
                    } else {
                        format!("nobody-{worker}-{round}")
                    };
                    let body = json!({"username": user, "password": "guess"});
                    let reply = send(addr, "POST", "/api/login", &[], Some(body)).await;
                    let retry_after = reply.header("retry-after").map(str::to_owned);
                    seen.push((reply.status.as_u16(), retry_after));
                }
                seen
            })
        })
        .collect();
    // Meanwhile a monitor asks for /healthz (latencies are reported, not asserted).
    let monitor = tokio::spawn(async move {
        let mut latencies = Vec::new();
        for _ in 0..40 {
            let started = Instant::now();
            let reply = send(addr, "GET", "/healthz", &[], None).await;
            latencies.push(started.elapsed());
            assert_eq!(reply.status, 200, "the server stays live under the flood");
        }
        latencies.sort();
        latencies
    });
    let mut statuses: HashMap<u16, usize> = HashMap::new();
    for worker in workers {
        for (status, retry_after) in worker.await.unwrap() {
            *statuses.entry(status).or_default() += 1;
            if matches!(status, 429 | 503) {
                let seconds: u64 = retry_after.expect("Retry-After").parse().unwrap();
                assert!(seconds >= 1);
            }
        }
    }
    done.store(true, Ordering::SeqCst);
    sampler.await.unwrap();
    let peak_kib = peak.load(Ordering::SeqCst);
    let latencies = monitor.await.unwrap();
    eprintln!(
        "login flood: statuses {statuses:?}, peak RSS {} MiB, /healthz p50 {:?} max {:?}",
        peak_kib / 1024,
        latencies[latencies.len() / 2],
        latencies[latencies.len() - 1]
    );

    assert!(
        statuses.keys().all(|s| matches!(s, 401 | 429 | 503)),
        "{statuses:?}"
    );
    assert!(statuses.get(&429).copied().unwrap_or(0) > 0, "{statuses:?}");
    assert!(
        peak_kib < FLOOD_RSS_BOUND_KIB,
        "peak RSS {peak_kib} KiB over the bound"
    );
    let metrics = send(addr, "GET", "/metrics", &[], None).await.body;
    let throttled = metrics
        .lines()
        .find(|l| l.starts_with("session_events_total{kind=\"login_throttled\"}"))
        .unwrap();
    assert_ne!(throttled.rsplit(' ').next(), Some("0"), "{throttled}");
    // An account nobody attacked logs in as usual once the flood is over.
    assert!(login(addr, "bob", "builder").await.starts_with("session="));
}

#[tokio::test]
async fn cross_site_requests_with_the_cookie_are_refused_and_same_origin_ones_pass() {
    let f = start(&[]);
    let addr = f.server.addr;
    let cookie = login(addr, "alice", "wonderland").await;
    let evil = [
        ("cookie", cookie.as_str()),
        ("origin", "http://evil.example"),
        ("sec-fetch-site", "cross-site"),
    ];
    for path in ["/api/counter/x", "/api/logout-everywhere", "/api/logout"] {
        let reply = send(addr, "POST", path, &evil, None).await;
        assert_eq!(reply.status, 403, "{path}: {}", reply.body);
    }
    // An old browser without Fetch Metadata, from another origin: refused by Origin.
    let old_browser = [
        ("cookie", cookie.as_str()),
        ("origin", "http://evil.example"),
    ];
    let reply = send(addr, "POST", "/api/counter/x", &old_browser, None).await;
    assert_eq!(reply.status, 403);
    assert_eq!(
        session_of(addr, &cookie).await.status,
        200,
        "still logged in"
    );

    let own = format!("http://{addr}");
    let same_origin = [
        ("cookie", cookie.as_str()),
        ("origin", own.as_str()),
        ("sec-fetch-site", "same-origin"),
    ];
    let reply = send(addr, "POST", "/api/counter/x", &same_origin, None).await;
    assert_eq!(reply.json(), json!({"value": 1}));
    let reply = session_of(addr, &cookie).await;
    assert_eq!(reply.json()["attributes"], json!({"counter:x": 1}));
}

#[tokio::test]
async fn trusted_origins_are_a_flag() {
    let f = start(&["--trusted-origin", "http://admin.example"]);
    let addr = f.server.addr;
    let cookie = login(addr, "alice", "wonderland").await;
    let from_admin = [
        ("cookie", cookie.as_str()),
        ("origin", "http://admin.example"),
        ("sec-fetch-site", "cross-site"),
    ];
    let reply = send(addr, "POST", "/api/counter/x", &from_admin, None).await;
    assert_eq!(reply.status, 200);
}

fn form(pairs: &[(&str, &str)]) -> Option<(&'static str, String)> {
    let text = pairs
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join("&");
    Some(("application/x-www-form-urlencoded", text))
}

/// The hidden form token in a page.
fn form_token(page: &str) -> String {
    let start = page.find("name=\"csrf\" value=\"").unwrap() + "name=\"csrf\" value=\"".len();
    page[start..].split('"').next().unwrap().to_owned()
}

#[tokio::test]
async fn the_login_form_needs_its_token() {
    let f = start(&[]);
    let addr = f.server.addr;
    let credentials = [("username", "mallory"), ("password", "x")];
    // From another site: refused before anything else.
    let cross = [
        ("sec-fetch-site", "cross-site"),
        ("origin", "http://evil.example"),
    ];
    let reply = send_body(addr, "POST", "/login", &cross, form(&credentials)).await;
    assert_eq!(reply.status, 403);
    assert!(reply.set_cookies().is_empty());
    // Without a token (a browser that sends no Origin): refused, no session.
    let alice = [("username", "alice"), ("password", "wonderland")];
    let reply = send_body(addr, "POST", "/login", &[], form(&alice)).await;
    assert_eq!(reply.status, 403, "{}", reply.body);
    assert!(reply.set_cookies().is_empty());

    // The form page gives the visitor a pre-session holding the token.
    let page = send(addr, "GET", "/login", &[], None).await;
    let pre_session = page.cookie_pair();
    let token = form_token(&page.body);
    let with_cookie = [("cookie", pre_session.as_str())];
    let wrong_token = [
        ("csrf", "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"),
        ("username", "alice"),
        ("password", "wonderland"),
    ];
    let reply = send_body(addr, "POST", "/login", &with_cookie, form(&wrong_token)).await;
    assert_eq!(reply.status, 403);
    let good = [
        ("csrf", token.as_str()),
        ("username", "alice"),
        ("password", "wonderland"),
    ];
    let reply = send_body(addr, "POST", "/login", &with_cookie, form(&good)).await;
    assert_eq!(reply.status, 303, "{}", reply.body);
    assert_eq!(reply.header("location"), Some("/session"));
    let logged_in = reply.cookie_pair();
    assert_ne!(logged_in, pre_session, "the login cycled the id");
    assert!(reply.header("x-session-id").is_none());
    assert_eq!(session_of(addr, &pre_session).await.status, 404);
    assert_eq!(
        session_of(addr, &logged_in).await.json()["principal"],
        "alice"
    );
}

#[tokio::test]
async fn api_clients_get_the_id_in_a_header_only_when_they_ask() {
    let f = start(&[]);
    let addr = f.server.addr;
    let credentials = json!({"username": "alice", "password": "wonderland"});
    let reply = send(addr, "POST", "/api/login", &[], Some(credentials.clone())).await;
    assert_eq!(reply.status, 200);
    assert!(reply.header("x-session-id").is_none());
    let cookie = reply.cookie_pair();
    // Logging in again with the cookie: still no header.
    let with_cookie = [("cookie", cookie.as_str())];
    let reply = send(
        addr,
        "POST",
        "/api/login",
        &with_cookie,
        Some(credentials.clone()),
    )
    .await;
    assert!(reply.header("x-session-id").is_none());
    // Asking for header transport: the header, no cookie.
    let asking = [("x-session-transport", "header")];
    let reply = send(addr, "POST", "/api/login", &asking, Some(credentials)).await;
    assert!(reply.set_cookies().is_empty());
    let id = reply.header("x-session-id").unwrap();
    let bearer = format!("Bearer {id}");
    let reply = send(
        addr,
        "GET",
        "/api/session",
        &[("authorization", &bearer)],
        None,
    )
    .await;
    assert_eq!(reply.json()["principal"], "alice");
}

#[tokio::test]
async fn two_session_cookies_give_no_session() {
    let f = start(&[]);
    let addr = f.server.addr;
    let victim = login(addr, "alice", "wonderland").await;
    let attacker = login(addr, "bob", "builder").await;
    for cookies in [
        format!("{attacker}; {victim}"),
        format!("{victim}; {attacker}"),
    ] {
        let reply = session_of(addr, &cookies).await;
        assert_eq!(reply.status, 404, "{cookies}: {}", reply.body);
        // The counter counts in a fresh anonymous session, neither the victim's nor the
        // attacker's.
        let reply = send(
            addr,
            "POST",
            "/api/counter/x",
            &[("cookie", &cookies)],
            None,
        )
        .await;
        assert_eq!(reply.json(), json!({"value": 1}));
        let fresh = reply.cookie_pair();
        assert!(fresh != victim && fresh != attacker, "{fresh}");
        assert_eq!(
            session_of(addr, &fresh).await.json()["principal"],
            json!(null)
        );
    }
    for (cookie, principal) in [(&victim, "alice"), (&attacker, "bob")] {
        let doc = session_of(addr, cookie).await.json();
        assert_eq!(doc["principal"], principal);
        assert_eq!(
            doc["attributes"],
            json!({}),
            "{principal}'s session untouched"
        );
    }
}

#[tokio::test]
async fn a_user_keeps_at_most_the_session_cap() {
    let f = start(&[]);
    let addr = f.server.addr;
    let mut cookies = Vec::new();
    for _ in 0..14 {
        cookies.push(login(addr, "alice", "wonderland").await);
    }
    let newest = cookies.last().unwrap();
    let list = send(addr, "GET", "/api/sessions", &[("cookie", newest)], None)
        .await
        .json();
    assert_eq!(list.as_array().unwrap().len(), 10, "the default cap");
    let mut alive = 0;
    for cookie in &cookies {
        if session_of(addr, cookie).await.status == 200 {
            alive += 1;
        }
    }
    assert_eq!(alive, 10);
    assert_eq!(session_of(addr, newest).await.status, 200);

    let g = start(&["--max-sessions-per-user", "2"]);
    let first = login(g.server.addr, "alice", "wonderland").await;
    let later = [
        login(g.server.addr, "alice", "wonderland").await,
        login(g.server.addr, "alice", "wonderland").await,
    ];
    assert_eq!(session_of(g.server.addr, &first).await.status, 404);
    for cookie in &later {
        assert_eq!(session_of(g.server.addr, cookie).await.status, 200);
    }
}

/// `GET /healthz` with a `Cookie` header of `bytes` bytes on a fresh connection: the answer's
/// status line.
async fn status_with_cookie_of(addr: SocketAddr, bytes: usize) -> String {
    let mut stream = TcpStream::connect(addr).await.unwrap();
    let cookie = "x".repeat(bytes);
    let request = format!(
        "GET /healthz HTTP/1.1\r\nHost: t\r\nCookie: c={cookie}\r\nConnection: close\r\n\r\n"
    );
    // An oversized head may be answered before the server has read all of it.
    let _ = stream.write_all(request.as_bytes()).await;
    let mut answer = Vec::new();
    let read = tokio::time::timeout(PATIENCE, async {
        let mut buffer = [0u8; 4096];
        while let Ok(n @ 1..) = stream.read(&mut buffer).await {
            answer.extend_from_slice(&buffer[..n]);
        }
    })
    .await;
    assert!(read.is_ok(), "the server kept the connection open");
    let answer = String::from_utf8_lossy(&answer);
    answer.lines().next().unwrap_or("").to_owned()
}

#[tokio::test]
async fn a_request_head_over_the_limit_is_refused_with_431() {
    let defaults = start(&[]);
    let tight = start(&["--max-header-bytes", "16384"]);
    for (server, bytes, status) in [
        (&defaults, 48 * 1024, " 200 "),
        (&defaults, 80 * 1024, " 431 "),
        (&tight, 12 * 1024, " 200 "),
        (&tight, 20 * 1024, " 431 "),
    ] {
        let answer = status_with_cookie_of(server.server.addr, bytes).await;
        assert!(answer.contains(status), "{bytes} bytes: {answer:?}");
    }
    assert_eq!(
        send(tight.server.addr, "GET", "/healthz", &[], None)
            .await
            .status,
        200,
        "the server still serves"
    );
}

#[tokio::test]
async fn healthz_never_touches_the_store() {
    let f = start(&[]);
    let addr: SocketAddr = f.server.addr;
    for _ in 0..20 {
        assert_eq!(send(addr, "GET", "/healthz", &[], None).await.status, 200);
    }
    let metrics = send(addr, "GET", "/metrics", &[], None).await.body;
    for operation in ["load", "create", "save", "touch", "delete"] {
        let line = format!(
            "session_store_operation_duration_seconds_count{{operation=\"{operation}\"}} 0"
        );
        assert!(metrics.contains(&line), "{line}\n{metrics}");
    }
}

/// The answer to a bare `GET /healthz` on a fresh connection, read to its first line.
async fn first_line_of_healthz(addr: SocketAddr) -> (TcpStream, String) {
    let mut stream = TcpStream::connect(addr).await.unwrap();
    stream
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: test\r\n\r\n")
        .await
        .unwrap();
    let mut answer = Vec::new();
    let mut byte = [0u8; 1];
    while !answer.ends_with(b"\r\n") {
        match tokio::time::timeout(PATIENCE, stream.read(&mut byte)).await {
            Ok(Ok(1)) => answer.push(byte[0]),
            _ => break,
        }
    }
    (
        stream,
        String::from_utf8_lossy(&answer).trim_end().to_owned(),
    )
}

/// Behind a reverse proxy every connection comes from the proxy's address: held to the
/// per-address cap, the proxy could carry only that many clients at once. A trusted proxy
/// is held to the total cap alone; any other address still to its own.
#[tokio::test]
async fn a_trusted_proxy_is_held_to_the_total_cap_only() {
    for (trusted, served) in [(true, 5), (false, 2)] {
        let mut extra = vec!["--max-connections-per-address", "2"];
        if trusted {
            // A network, as a pool of proxies is listed.
            extra.extend(["--trusted-proxy", "127.0.0.0/30"]);
        }
        let f = start(&extra);
        let mut open = Vec::new();
        for n in 0..5 {
            let (stream, status) = first_line_of_healthz(f.server.addr).await;
            let expected = if n < served {
                "HTTP/1.1 200 OK"
            } else {
                "HTTP/1.1 503 Service Unavailable"
            };
            assert_eq!(status, expected, "connection {n}, proxy trusted: {trusted}");
            open.push(stream);
        }
    }
}

/// Behind a trusted proxy the login throttle counts each client the proxy names, so one
/// client's failures do not lock out the others; an untrusted sender's `X-Forwarded-For`
/// is ignored, so forging it escapes nothing.
#[tokio::test]
async fn behind_a_trusted_proxy_logins_are_throttled_per_forwarded_client() {
    for trusted in [true, false] {
        let mut extra = vec!["--login-address-free-attempts", "2"];
        if trusted {
            extra.extend(["--trusted-proxy", "127.0.0.1"]);
        }
        let f = start(&extra);
        let addr = f.server.addr;
        let attempt = |client: &'static str, user: &'static str, password: &'static str| {
            let body = json!({"username": user, "password": password}).to_string();
            async move {
                let headers = [("x-forwarded-for", client)];
                let body = Some(("application/json", body));
                send_body(addr, "POST", "/api/login", &headers, body)
                    .await
                    .status
                    .as_u16()
            }
        };
        // Unknown user names, so that only the address counts.
        for n in 0..2 {
            let user = ["nobody-a", "nobody-b"][n];
            assert_eq!(attempt("203.0.113.7", user, "guess").await, 401);
        }
        assert_eq!(
            attempt("203.0.113.7", "alice", "wonderland").await,
            429,
            "the guessing client waits (proxy trusted: {trusted})"
        );
        let other = attempt("203.0.113.8", "alice", "wonderland").await;
        if trusted {
            assert_eq!(other, 200, "another client behind the proxy logs in");
        } else {
            assert_eq!(other, 429, "a forged X-Forwarded-For escapes nothing");
        }
    }
}

/// A proxy list that does not parse stops the server at start, naming the bad entry, rather
/// than trusting nothing (or everything) quietly.
#[test]
fn a_malformed_trusted_proxy_is_refused_at_start() {
    for bad in ["10.0.0.0/33", "proxy.example", "10.0.0.1/-8"] {
        let output = ServerProcess::command(&["--store", "memory:", "--trusted-proxy", bad])
            .output()
            .unwrap();
        assert!(!output.status.success(), "{bad}: started");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(
            stderr.contains(&format!("\"{bad}\" is not an IP address")),
            "{bad}: {stderr}"
        );
    }
}
