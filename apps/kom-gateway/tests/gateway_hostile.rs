//! kom-gateway under a hostile network, black-box against the built binary (and a real
//! lyskomd where a LysKOM connection is needed): stalled clients, one address hoarding
//! connections, WebSocket floods, stored script in texts, foreign origins, huge request heads,
//! LysKOM servers that stall, requests past their deadline, SIGTERM and its drain timeout.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::io::{ErrorKind, Read, Write};
use std::net::{IpAddr, SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use common::{GatewayProcess, Http, lyskomd, open, start_gateway};
use serde_json::json;
use test_support::lyskomd::{ADMIN_PASSWORD, ADMIN_PERSON};
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::{self, Message, WebSocket};

/// Bounds every wait of these tests, so that a regression fails instead of hanging.
const PATIENCE: Duration = Duration::from_secs(30);

/// A blocking TCP connection to `server` from the loopback address `source`.
fn connect_from(source: &str, server: SocketAddr) -> TcpStream {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_io()
        .build()
        .unwrap();
    let stream = runtime.block_on(async {
        let socket = tokio::net::TcpSocket::new_v4().unwrap();
        socket
            .bind(SocketAddr::new(source.parse::<IpAddr>().unwrap(), 0))
            .unwrap();
        socket.connect(server).await.unwrap()
    });
    let stream = stream.into_std().unwrap();
    stream.set_nonblocking(false).unwrap();
    stream.set_read_timeout(Some(PATIENCE)).unwrap();
    stream
}

/// Reads until the server closes the connection; fails if it is still open after
/// [`PATIENCE`].
fn read_until_closed(stream: &mut TcpStream) -> Vec<u8> {
    stream.set_read_timeout(Some(PATIENCE)).unwrap();
    let mut out = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        match stream.read(&mut buf) {
            Ok(0) => return out,
            Ok(n) => out.extend_from_slice(&buf[..n]),
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
                panic!("the gateway still holds the connection after {PATIENCE:?}")
            }
            Err(_) => return out,
        }
    }
}

/// `POST /kom/sessions/` from `source` with `extra` header lines: the answer's status line.
fn open_from(source: &str, gw: &GatewayProcess, extra: &str) -> String {
    let mut stream = connect_from(source, gw.addr);
    let body = json!({"client": {"name": "tests", "version": "1.0"}}).to_string();
    let request = format!(
        "POST /kom/sessions/ HTTP/1.1\r\nHost: gw\r\nConnection: close\r\n{extra}\
         Content-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    stream.write_all(request.as_bytes()).unwrap();
    let answer = read_until_closed(&mut stream);
    let answer = String::from_utf8_lossy(&answer);
    answer.lines().next().unwrap_or("").to_string()
}

#[test]
fn stalled_half_requests_are_closed_after_the_header_timeout() {
    let gw = start_gateway(&[("kom", 1)], "[http]\nheader_read_timeout_secs = 1");
    let mut stalled: Vec<TcpStream> = (0..50)
        .map(|_| {
            let mut s = connect_from("127.0.0.1", gw.addr);
            s.write_all(b"GET /kom/sessions/current/who").unwrap();
            s
        })
        .collect();
    for stream in &mut stalled {
        let answer = read_until_closed(stream);
        assert!(
            !String::from_utf8_lossy(&answer).contains("200"),
            "{answer:?}"
        );
    }
    // The gateway still serves.
    assert_eq!(Http::new(gw.addr).get("/").status, 200);
}

/// `GET /` with a `Cookie` header of `bytes` bytes: the answer's status line.
fn status_with_cookie_of(gw: &GatewayProcess, bytes: usize) -> String {
    let mut stream = connect_from("127.0.0.1", gw.addr);
    let cookie = "x".repeat(bytes);
    let request =
        format!("GET / HTTP/1.1\r\nHost: gw\r\nCookie: c={cookie}\r\nConnection: close\r\n\r\n");
    // An oversized head may be answered before the gateway has read all of it.
    let _ = stream.write_all(request.as_bytes());
    let answer = read_until_closed(&mut stream);
    String::from_utf8_lossy(&answer)
        .lines()
        .next()
        .unwrap_or("")
        .to_string()
}

#[test]
fn a_request_head_over_the_limit_is_refused_with_431() {
    let gw = start_gateway(&[("kom", 1)], "[http]\nmax_header_bytes = 16384");
    for (bytes, status) in [(12 * 1024, " 200 "), (20 * 1024, " 431 ")] {
        let answer = status_with_cookie_of(&gw, bytes);
        assert!(answer.contains(status), "{bytes} bytes: {answer:?}");
    }
    assert_eq!(
        Http::new(gw.addr).get("/").status,
        200,
        "the gateway still serves"
    );

    let defaults = start_gateway(&[("kom", 1)], "");
    for (bytes, status) in [(48 * 1024, " 200 "), (80 * 1024, " 431 ")] {
        let answer = status_with_cookie_of(&defaults, bytes);
        assert!(
            answer.contains(status),
            "{bytes} bytes by default: {answer:?}"
        );
    }
}

#[test]
fn one_address_cannot_take_every_lyskom_connection() {
    let Some(kom) = lyskomd("one_address_cannot_take_every_lyskom_connection") else {
        return;
    };
    let gw = start_gateway(&[("kom", kom.port())], "max_connections_per_address = 3");
    let http = Http::new(gw.addr);
    let held: Vec<Http> = (0..3).map(|_| open(&http, "kom").0).collect();
    let refused = http.post(
        "/kom/sessions/",
        &json!({"client": {"name": "tests", "version": "1.0"}}),
    );
    assert_eq!(refused.status, 429);
    assert!(refused.header("Retry-After").is_some());
    assert_eq!(refused.json()["error_type"], "httpkom");
    // Another client address still gets a LysKOM connection.
    assert_eq!(
        open_from("127.0.0.2", &gw, ""),
        "HTTP/1.1 201 Created",
        "a second address is held up by the first one's cap"
    );
    // Closing one gives the first address its share back.
    assert_eq!(held[0].delete("/kom/sessions/0").status, 204);
    open(&http, "kom");
}

#[test]
fn behind_a_trusted_proxy_the_forwarded_client_address_counts() {
    let Some(kom) = lyskomd("behind_a_trusted_proxy_the_forwarded_client_address_counts") else {
        return;
    };
    let gw = start_gateway(
        &[("kom", kom.port())],
        "max_connections_per_address = 1\ntrusted_proxies = [\"127.0.0.1\"]",
    );
    let http = Http::new(gw.addr);
    let open_for = |client: &str| {
        http.request(
            "POST",
            "/kom/sessions/",
            Some(&json!({"client": {"name": "tests", "version": "1.0"}})),
            &[("X-Forwarded-For", client)],
        )
        .status
    };
    assert_eq!(open_for("203.0.113.7"), 201);
    assert_eq!(open_for("203.0.113.7"), 429);
    // Another client behind the same proxy has its own share; a forged left entry is ignored.
    assert_eq!(open_for("203.0.113.7, 203.0.113.8"), 201);
    // The proxy's word counts only from the proxy: a direct client's header is ignored.
    let forged = "X-Forwarded-For: 203.0.113.9\r\n";
    assert_eq!(open_from("127.0.0.2", &gw, forged), "HTTP/1.1 201 Created");
    assert_eq!(
        open_from("127.0.0.2", &gw, ""),
        "HTTP/1.1 429 Too Many Requests"
    );
}

/// The status line of `GET /` on a fresh keep-alive connection from `source`, and the
/// connection, still open when the gateway served it.
fn index_from(source: &str, gw: &GatewayProcess) -> (TcpStream, String) {
    let mut stream = connect_from(source, gw.addr);
    stream
        .write_all(b"GET / HTTP/1.1\r\nHost: gw\r\n\r\n")
        .unwrap();
    let mut line = Vec::new();
    let mut byte = [0u8; 1];
    while !line.ends_with(b"\r\n") {
        match stream.read(&mut byte) {
            Ok(1) => line.push(byte[0]),
            _ => break,
        }
    }
    (stream, String::from_utf8_lossy(&line).trim_end().to_owned())
}

#[test]
fn a_trusted_proxy_is_held_to_the_total_http_cap_only() {
    let gw = start_gateway(
        &[("kom", 1)],
        // 127.0.0.1 is in the proxies' network, 127.0.0.2 is not.
        "trusted_proxies = [\"127.0.0.0/31\"]\n[http]\nmax_connections_per_address = 2",
    );
    let mut open = Vec::new();
    for n in 0..4 {
        let (stream, status) = index_from("127.0.0.1", &gw);
        assert_eq!(status, "HTTP/1.1 200 OK", "proxy connection {n}");
        open.push(stream);
    }
    for n in 0..3 {
        let (stream, status) = index_from("127.0.0.2", &gw);
        let expected = if n < 2 {
            "HTTP/1.1 200 OK"
        } else {
            "HTTP/1.1 503 Service Unavailable"
        };
        assert_eq!(status, expected, "direct client connection {n}");
        open.push(stream);
    }
}

#[test]
fn connections_nobody_logged_in_on_are_reaped_sooner() {
    let Some(kom) = lyskomd("connections_nobody_logged_in_on_are_reaped_sooner") else {
        return;
    };
    let gw = start_gateway(
        &[("kom", kom.port())],
        "unauthenticated_idle_timeout_secs = 1\nidle_timeout_secs = 3600",
    );
    let http = Http::new(gw.addr);
    let (anonymous, _) = open(&http, "kom");
    let (person, _) = open(&http, "kom");
    let login = json!({"pers_no": ADMIN_PERSON, "passwd": ADMIN_PASSWORD});
    assert_eq!(
        person.post("/kom/sessions/current/login", &login).status,
        201
    );
    // /_metrics touches no connection.
    let deadline = Instant::now() + PATIENCE;
    while http.get("/_metrics").json()["reaped"] != 1 {
        assert!(
            Instant::now() < deadline,
            "the anonymous connection was not reaped"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    assert_eq!(anonymous.get("/kom/sessions/current/who-am-i").status, 403);
    assert_eq!(person.get("/kom/sessions/current/who-am-i").status, 200);
}

/// A WebSocket handshake on connection `id`, with `origin` if given.
fn websocket(
    gw: &GatewayProcess,
    id: &str,
    origin: Option<&str>,
) -> Result<WebSocket<TcpStream>, u16> {
    let mut request = format!("ws://{}/websocket?Httpkom-Connection={id}", gw.addr)
        .into_client_request()
        .unwrap();
    if let Some(origin) = origin {
        request
            .headers_mut()
            .insert("Origin", origin.parse().unwrap());
    }
    let stream = connect_from("127.0.0.1", gw.addr);
    match tungstenite::client::client(request, stream) {
        Ok((socket, _)) => Ok(socket),
        Err(tungstenite::HandshakeError::Failure(tungstenite::Error::Http(response))) => {
            Err(response.status().as_u16())
        }
        Err(e) => panic!("handshake failed: {e}"),
    }
}

fn echo(ref_no: u32, payload: &str) -> Message {
    Message::text(json!({"protocol": "echo", "ref_no": ref_no, "request": payload}).to_string())
}

/// The gateway's resident memory in KiB.
fn resident_kib(gw: &GatewayProcess) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{}/status", gw.guard.pid())).unwrap();
    let line = status.lines().find(|l| l.starts_with("VmRSS:")).unwrap();
    line.split_whitespace().nth(1).unwrap().parse().unwrap()
}

#[test]
fn a_websocket_flood_that_never_reads_stays_within_a_memory_bound() {
    let Some(kom) = lyskomd("a_websocket_flood_that_never_reads_stays_within_a_memory_bound")
    else {
        return;
    };
    let gw = start_gateway(&[("kom", kom.port())], "");
    let (conn, _) = open(&Http::new(gw.addr), "kom");
    let mut socket = websocket(&gw, conn.connection.as_deref().unwrap(), None).unwrap();
    socket.send(echo(0, "warm up")).unwrap();
    assert!(
        socket
            .read()
            .unwrap()
            .to_text()
            .unwrap()
            .contains("warm up")
    );
    let before = resident_kib(&gw);
    // 512 KiB echo messages, 200 MiB in all, and never a reply read: the gateway must stop
    // reading (the write blocks, then times out) instead of buffering them.
    let payload = "x".repeat(512 * 1024);
    socket
        .get_mut()
        .set_write_timeout(Some(Duration::from_secs(3)))
        .unwrap();
    let mut sent = 0;
    while sent < 400 && socket.send(echo(sent + 1, &payload)).is_ok() {
        sent += 1;
    }
    let grown_mib = resident_kib(&gw).saturating_sub(before) / 1024;
    assert!(
        sent < 400,
        "the gateway read a 200 MiB flood nobody read replies of"
    );
    // The bound: the per-socket budget of unanswered request bytes (4 MiB) times the copies
    // a message has in flight (frame, request, reply), with room for allocator slack.
    assert!(
        grown_mib < 64,
        "the gateway grew by {grown_mib} MiB after {sent} messages"
    );
}

#[test]
fn oversized_websocket_messages_close_the_socket() {
    let Some(kom) = lyskomd("oversized_websocket_messages_close_the_socket") else {
        return;
    };
    let gw = start_gateway(
        &[("kom", kom.port())],
        "[websocket]\nmax_message_bytes = 65536",
    );
    let (conn, _) = open(&Http::new(gw.addr), "kom");
    let id = conn.connection.as_deref().unwrap();
    let mut socket = websocket(&gw, id, None).unwrap();
    socket.send(echo(1, &"y".repeat(60 * 1024))).unwrap();
    assert!(socket.read().unwrap().is_text());
    let _ = socket.send(echo(2, &"y".repeat(70 * 1024)));
    match socket.read() {
        Ok(Message::Close(_)) | Err(_) => {}
        Ok(other) => panic!("an oversized message was answered: {} bytes", other.len()),
    }
}

#[test]
fn a_connection_id_has_a_bounded_number_of_websockets() {
    let Some(kom) = lyskomd("a_connection_id_has_a_bounded_number_of_websockets") else {
        return;
    };
    let gw = start_gateway(
        &[("kom", kom.port())],
        "[websocket]\nmax_sockets_per_connection = 2",
    );
    let (conn, _) = open(&Http::new(gw.addr), "kom");
    let id = conn.connection.as_deref().unwrap();
    let first = websocket(&gw, id, None).unwrap();
    let _second = websocket(&gw, id, None).unwrap();
    assert_eq!(websocket(&gw, id, None).err(), Some(429));
    // Closing one frees its place.
    drop(first);
    let deadline = Instant::now() + PATIENCE;
    while websocket(&gw, id, None).is_err() {
        assert!(
            Instant::now() < deadline,
            "the closed socket's place never came back"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

const ALLOWED_ONLY: &str = "allowed_origins = [\"http://good.test\"]";

#[test]
fn a_disallowed_origin_gets_no_cors_headers() {
    let gw = start_gateway(&[("kom", 1)], ALLOWED_ONLY);
    let http = Http::new(gw.addr);
    for origin in ["http://evil.test", "null"] {
        let r = http.request("GET", "/", None, &[("Origin", origin)]);
        assert_eq!(r.status, 200);
        assert_eq!(r.header("Access-Control-Allow-Origin"), None, "{origin}");
        assert_eq!(r.header("Access-Control-Allow-Headers"), None, "{origin}");
    }
    let r = http.request("GET", "/", None, &[("Origin", "http://good.test")]);
    assert_eq!(
        r.header("Access-Control-Allow-Origin"),
        Some("http://good.test")
    );
    assert_eq!(r.header("Vary"), Some("Origin"));
}

#[test]
fn websocket_upgrades_from_a_disallowed_origin_are_refused() {
    let Some(kom) = lyskomd("websocket_upgrades_from_a_disallowed_origin_are_refused") else {
        return;
    };
    let gw = start_gateway(&[("kom", kom.port())], ALLOWED_ONLY);
    let (conn, _) = open(&Http::new(gw.addr), "kom");
    let id = conn.connection.as_deref().unwrap();
    assert_eq!(
        websocket(&gw, id, Some("http://evil.test")).err(),
        Some(403)
    );
    // An allowed page, and a client that is not a browser (no Origin), get their socket.
    let mut allowed = websocket(&gw, id, Some("http://good.test")).unwrap();
    allowed.send(echo(1, "hello")).unwrap();
    assert!(allowed.read().unwrap().to_text().unwrap().contains("hello"));
    assert!(websocket(&gw, id, None).is_ok());
}

#[test]
fn text_bodies_of_active_types_are_served_inert() {
    let Some(kom) = lyskomd("text_bodies_of_active_types_are_served_inert") else {
        return;
    };
    let gw = start_gateway(&[("kom", kom.port())], "");
    let (conn, _) = open(&Http::new(gw.addr), "kom");
    let login = json!({"pers_no": ADMIN_PERSON, "passwd": ADMIN_PASSWORD});
    assert_eq!(conn.post("/kom/sessions/current/login", &login).status, 201);
    let post = |content_type: &str, body: &str| {
        let r = conn.post(
            "/kom/texts/",
            &json!({"subject": "s", "body": body, "content_type": content_type,
                    "recipient_list": [{"type": "to", "recpt": {"conf_no": ADMIN_PERSON}}]}),
        );
        assert_eq!(r.status, 201, "{content_type}");
        r.json()["text_no"].as_u64().unwrap()
    };
    let script = "<script>fetch('/_metrics')</script>";
    for content_type in ["text/html", "image/svg+xml", "text/xml", "text/javascript"] {
        let text_no = post(content_type, script);
        let r = conn.get(&format!("/kom/texts/{text_no}/body"));
        assert_eq!(r.status, 200);
        assert!(r.header("Content-Type").unwrap().starts_with(content_type));
        assert_eq!(r.header("X-Content-Type-Options"), Some("nosniff"));
        assert_eq!(r.header("Content-Security-Policy"), Some("sandbox"));
        assert_eq!(
            r.header("Content-Disposition"),
            Some("attachment"),
            "{content_type}"
        );
    }
    let text_no = post("text/plain", "just words");
    let r = conn.get(&format!("/kom/texts/{text_no}/body"));
    assert_eq!(r.body, b"just words");
    assert_eq!(r.header("X-Content-Type-Options"), Some("nosniff"));
    assert_eq!(r.header("Content-Disposition"), None);
}

#[test]
fn sigterm_drains_and_exits_zero() {
    let mut gw = start_gateway(&[("kom", 1)], "");
    // An idle keep-alive connection must not hold the shutdown up.
    let mut idle = connect_from("127.0.0.1", gw.addr);
    idle.write_all(b"GET / HTTP/1.1\r\nHost: gw\r\n\r\n")
        .unwrap();
    let mut head = [0u8; 12];
    idle.read_exact(&mut head).unwrap();
    assert_eq!(&head, b"HTTP/1.1 200");
    let pid = gw.guard.pid().to_string();
    let signalled = std::process::Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .unwrap();
    assert!(signalled.success());
    let deadline = Instant::now() + PATIENCE;
    while gw.guard.is_running() {
        assert!(Instant::now() < deadline, "kom-gateway ignored SIGTERM");
        std::thread::sleep(Duration::from_millis(50));
    }
    let status = gw.guard.stop().expect("an exit status");
    assert!(status.success(), "kom-gateway exited with {status}");
    read_until_closed(&mut idle);
}

/// How a fake LysKOM server misbehaves.
#[derive(Clone, Copy)]
enum Stall {
    /// Accepts and never answers, not even the handshake.
    Handshake,
    /// Answers the handshake, then no call.
    Calls,
}

/// A loopback server that takes LysKOM connections and stalls them; its port. Its connections
/// are held until the test process ends.
fn stalling_lyskom(stall: Stall) -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            std::thread::spawn(move || {
                let mut byte = [0u8; 1];
                if matches!(stall, Stall::Calls) {
                    // The handshake is one line (`A<n>H<user>`), answered `LysKOM`.
                    while let Ok(1) = stream.read(&mut byte) {
                        if byte[0] == b'\n' {
                            let _ = stream.write_all(b"LysKOM\n");
                            break;
                        }
                    }
                }
                while let Ok(1..) = stream.read(&mut byte) {}
            });
        }
    });
    port
}

/// `POST /kom/sessions/`: the status and how long the answer took.
fn timed_open(gw: &GatewayProcess) -> (u16, Duration) {
    let started = Instant::now();
    let reply = Http::new(gw.addr).post(
        "/kom/sessions/",
        &json!({"client": {"name": "tests", "version": "1.0"}}),
    );
    (reply.status, started.elapsed())
}

#[test]
fn a_lyskom_server_that_stalls_is_given_up_after_the_connect_and_call_timeouts() {
    for (stall, setting, default_secs) in [
        (Stall::Handshake, "connect_timeout_secs", 10),
        (Stall::Calls, "call_timeout_secs", 30),
    ] {
        let port = stalling_lyskom(stall);
        // One connection per address: a failed open must give its slot back.
        let gw = start_gateway(
            &[("kom", port)],
            &format!("{setting} = 1\nmax_connections_per_address = 1"),
        );
        for _ in 0..2 {
            let (status, took) = timed_open(&gw);
            assert_eq!(status, 502, "{setting}");
            // Given up by the timeout: not at once, and well before the default.
            assert!(
                took >= Duration::from_millis(900) && took < Duration::from_secs(default_secs / 2),
                "{setting}: answered after {took:?}"
            );
        }
        assert_eq!(
            Http::new(gw.addr).get("/").status,
            200,
            "the gateway still serves"
        );
    }
}

/// A `POST /kom/sessions/` that announces a body it never finishes sending.
fn stalled_open(gw: &GatewayProcess) -> TcpStream {
    let mut stream = connect_from("127.0.0.1", gw.addr);
    stream
        .write_all(
            b"POST /kom/sessions/ HTTP/1.1\r\nHost: gw\r\nContent-Type: application/json\r\n\
              Content-Length: 100\r\n\r\n{\"client\":",
        )
        .unwrap();
    stream
}

#[test]
fn a_request_past_its_deadline_is_answered_503() {
    let gw = start_gateway(&[("kom", 1)], "[http]\nrequest_timeout_secs = 1");
    let mut stream = stalled_open(&gw);
    let answer = read_until_closed(&mut stream);
    let answer = String::from_utf8_lossy(&answer);
    assert!(answer.starts_with("HTTP/1.1 503"), "{answer}");
}

#[test]
fn a_shutdown_waits_for_requests_in_flight_no_longer_than_the_drain_timeout() {
    let mut gw = start_gateway(
        &[("kom", 1)],
        "[http]\ndrain_timeout_secs = 1\nrequest_timeout_secs = 600",
    );
    let _in_flight = stalled_open(&gw);
    // The request is read before the signal: the gateway has answered another one since.
    assert_eq!(Http::new(gw.addr).get("/").status, 200);
    let signalled = Instant::now();
    let status = std::process::Command::new("kill")
        .args(["-TERM", &gw.guard.pid().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    while gw.guard.is_running() {
        assert!(
            signalled.elapsed() < PATIENCE,
            "kom-gateway ignored SIGTERM"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    // Far below the 600 s the request could still take, and the 10 s default drain.
    assert!(
        signalled.elapsed() < Duration::from_secs(8),
        "{:?}",
        signalled.elapsed()
    );
    let exit = gw.guard.stop().expect("an exit status");
    assert!(exit.success(), "kom-gateway exited with {exit}");
}
