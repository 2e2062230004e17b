//! The serve loop against real sockets: timeouts, caps, refusals, deadlines, shutdown.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::routing::get;
use session_http::serve::{Drained, PeerAddr, ServeLimits, serve};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpSocket, TcpStream};
use tokio::sync::{Mutex, mpsc, oneshot};
use tokio::task::JoinHandle;

/// Bounds every wait of these tests, so that a regression fails instead of hanging.
const PATIENCE: Duration = Duration::from_secs(30);
/// Long enough never to fire during a test.
const NEVER: Duration = Duration::from_secs(3600);

fn app() -> Router {
    Router::new()
        .route("/", get(|| async { "hello" }))
        .route(
            "/peer",
            get(
                |axum::Extension(PeerAddr(peer)): axum::Extension<PeerAddr>| async move {
                    peer.ip().to_string()
                },
            ),
        )
        .route("/forever", get(std::future::pending::<&'static str>))
        // Far more than the kernel buffers of both ends hold.
        .route("/huge", get(|| async { Body::from(vec![b'x'; 64 << 20]) }))
}

/// A router whose `/gate` handler reports that it started, then waits until `open` is sent
/// (or forever once it is dropped unsent).
fn gated_app() -> (Router, oneshot::Sender<()>, mpsc::Receiver<()>) {
    let (open, opened) = oneshot::channel::<()>();
    let opened = Arc::new(Mutex::new(Some(opened)));
    let (started, has_started) = mpsc::channel::<()>(1);
    let router = Router::new().route(
        "/gate",
        get(move || {
            let opened = opened.clone();
            let started = started.clone();
            async move {
                let _ = started.send(()).await;
                if let Some(opened) = opened.lock().await.take()
                    && opened.await.is_err()
                {
                    std::future::pending::<()>().await;
                }
                "finished"
            }
        }),
    );
    (router, open, has_started)
}

struct Server {
    addr: SocketAddr,
    stop: Option<oneshot::Sender<()>>,
    task: JoinHandle<Drained>,
}

impl Server {
    async fn start(router: Router, limits: ServeLimits) -> Server {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(serve(listener, router, limits, async {
            let _ = stopped.await;
        }));
        Server {
            addr,
            stop: Some(stop),
            task,
        }
    }

    async fn shutdown(mut self) -> Drained {
        let _ = self.stop.take().unwrap().send(());
        tokio::time::timeout(PATIENCE, self.task)
            .await
            .expect("the serve loop ends")
            .unwrap()
    }
}

async fn connect_from(source: &str, server: SocketAddr) -> TcpStream {
    let socket = TcpSocket::new_v4().unwrap();
    socket.bind(format!("{source}:0").parse().unwrap()).unwrap();
    socket.connect(server).await.unwrap()
}

/// Everything the server sends until it closes the connection.
async fn read_to_close(stream: &mut TcpStream) -> String {
    let mut out = Vec::new();
    let read = tokio::time::timeout(PATIENCE, async {
        let mut buf = [0u8; 8192];
        loop {
            match stream.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => out.extend_from_slice(&buf[..n]),
            }
        }
    })
    .await;
    assert!(read.is_ok(), "the server did not close the connection");
    String::from_utf8_lossy(&out).into_owned()
}

/// A connection from `source` that has sent a keep-alive GET of `path`.
async fn send_get(source: &str, server: SocketAddr, path: &str) -> TcpStream {
    let mut stream = connect_from(source, server).await;
    let request = format!("GET {path} HTTP/1.1\r\nHost: t\r\n\r\n");
    stream.write_all(request.as_bytes()).await.unwrap();
    stream
}

/// One `Connection: close` GET from `source`; the whole response.
async fn get_from(source: &str, server: SocketAddr, path: &str) -> String {
    let mut stream = connect_from(source, server).await;
    let request = format!("GET {path} HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).await.unwrap();
    read_to_close(&mut stream).await
}

#[tokio::test]
async fn a_stalled_half_request_line_is_closed_after_the_header_timeout() {
    let limits = ServeLimits::default().with_header_read_timeout(Duration::from_millis(500));
    let server = Server::start(app(), limits).await;
    let mut stream = TcpStream::connect(server.addr).await.unwrap();
    stream.write_all(b"GET /forev").await.unwrap();
    let answer = read_to_close(&mut stream).await;
    assert!(!answer.contains("200 OK"), "{answer}");
    assert_eq!(server.shutdown().await, Drained { cut: 0 });
}

#[tokio::test]
async fn an_idle_keep_alive_connection_is_closed_after_the_header_timeout() {
    let limits = ServeLimits::default().with_header_read_timeout(Duration::from_millis(500));
    let server = Server::start(app(), limits).await;
    let mut stream = send_get("127.0.0.1", server.addr, "/").await;
    let answer = read_to_close(&mut stream).await;
    assert!(answer.starts_with("HTTP/1.1 200 OK"), "{answer}");
    assert!(answer.ends_with("hello"), "{answer}");
    server.shutdown().await;
}

#[tokio::test]
async fn over_the_per_address_cap_a_connection_is_refused_at_once() {
    let limits = ServeLimits::default()
        .with_header_read_timeout(NEVER)
        .with_max_connections_per_address(2);
    let server = Server::start(app(), limits).await;
    // Two idle connections hold the address's whole share (they would wait an hour).
    let mut held = Vec::new();
    for _ in 0..2 {
        let mut stream = send_get("127.0.0.1", server.addr, "/").await;
        let mut buf = [0u8; 512];
        let n = stream.read(&mut buf).await.unwrap();
        assert!(buf[..n].starts_with(b"HTTP/1.1 200 OK"));
        held.push(stream);
    }
    let refused = get_from("127.0.0.1", server.addr, "/").await;
    assert!(
        refused.starts_with("HTTP/1.1 503 Service Unavailable\r\n"),
        "{refused}"
    );
    assert!(refused.contains("Retry-After: 1\r\n"), "{refused}");
    assert!(refused.contains("Connection: close\r\n"), "{refused}");
    // Another address is not held up by the first one's cap.
    let other = get_from("127.0.0.2", server.addr, "/peer").await;
    assert!(other.starts_with("HTTP/1.1 200 OK"), "{other}");
    assert!(other.ends_with("127.0.0.2"), "{other}");
    // Closing a held connection gives its share back.
    drop(held.pop());
    let again = poll_until_served("127.0.0.1", server.addr).await;
    assert!(again.starts_with("HTTP/1.1 200 OK"), "{again}");
    drop(held);
    server.shutdown().await;
}

#[tokio::test]
async fn over_the_total_cap_every_address_is_refused_at_once() {
    let limits = ServeLimits::default()
        .with_header_read_timeout(NEVER)
        .with_max_connections(1);
    let server = Server::start(app(), limits).await;
    let mut held = send_get("127.0.0.1", server.addr, "/").await;
    let mut buf = [0u8; 512];
    assert!(held.read(&mut buf).await.unwrap() > 0);
    let refused = get_from("127.0.0.2", server.addr, "/").await;
    assert!(refused.starts_with("HTTP/1.1 503"), "{refused}");
    drop(held);
    server.shutdown().await;
}

/// GETs `/` from `source` until it is served rather than refused (the server frees a
/// connection's share when it notices the close, a moment after the client closed).
async fn poll_until_served(source: &str, server: SocketAddr) -> String {
    tokio::time::timeout(PATIENCE, async {
        loop {
            let answer = get_from(source, server, "/").await;
            if !answer.starts_with("HTTP/1.1 503") {
                return answer;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await
    .expect("the share came back")
}

#[tokio::test]
async fn a_request_past_its_deadline_gets_503_and_the_connection_closes() {
    let limits = ServeLimits::default().with_request_timeout(Duration::from_millis(300));
    let server = Server::start(app(), limits).await;
    let mut stream = send_get("127.0.0.1", server.addr, "/forever").await;
    let answer = read_to_close(&mut stream).await;
    assert!(
        answer.starts_with("HTTP/1.1 503 Service Unavailable\r\n"),
        "{answer}"
    );
    assert!(answer.contains("connection: close\r\n"), "{answer}");
    server.shutdown().await;
}

#[tokio::test]
async fn a_client_that_stops_reading_loses_its_connection() {
    let limits = ServeLimits::default()
        .with_write_stall_timeout(Duration::from_millis(300))
        .with_max_connections_per_address(1);
    let server = Server::start(app(), limits).await;
    let reader_that_stops = send_get("127.0.0.1", server.addr, "/huge").await;
    // The address's only share is held until the server gives up on the stalled writes.
    let answer = poll_until_served("127.0.0.1", server.addr).await;
    assert!(answer.starts_with("HTTP/1.1 200 OK"), "{answer}");
    drop(reader_that_stops);
    server.shutdown().await;
}

#[tokio::test]
async fn shutdown_stops_accepting_and_lets_a_request_in_flight_finish() {
    let (router, open, mut has_started) = gated_app();
    let server = Server::start(router, ServeLimits::default()).await;
    let addr = server.addr;
    let in_flight = tokio::spawn(async move { get_from("127.0.0.1", addr, "/gate").await });
    has_started.recv().await.unwrap();
    let stopping = tokio::spawn(server.shutdown());
    // The loop stops accepting: new connections are refused by the kernel.
    tokio::time::timeout(PATIENCE, async {
        while TcpStream::connect(addr).await.is_ok() {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await
    .expect("the listener closes");
    open.send(()).unwrap();
    let answer = in_flight.await.unwrap();
    assert!(answer.starts_with("HTTP/1.1 200 OK"), "{answer}");
    assert!(answer.ends_with("finished"), "{answer}");
    assert_eq!(stopping.await.unwrap(), Drained { cut: 0 });
}

#[tokio::test]
async fn shutdown_cuts_what_is_left_after_the_drain_timeout() {
    let (router, open, mut has_started) = gated_app();
    drop(open);
    let limits = ServeLimits::default()
        .with_drain_timeout(Duration::from_millis(200))
        .with_request_timeout(NEVER);
    let server = Server::start(router, limits).await;
    let mut stream = send_get("127.0.0.1", server.addr, "/gate").await;
    has_started.recv().await.unwrap();
    assert_eq!(server.shutdown().await, Drained { cut: 1 });
    let rest = read_to_close(&mut stream).await;
    assert!(rest.is_empty(), "{rest}");
}

/// One `Connection: close` GET of `/` from `source` with a `Cookie` header of `bytes` bytes;
/// the whole response.
async fn get_with_cookie_of(source: &str, server: SocketAddr, bytes: usize) -> String {
    let mut stream = connect_from(source, server).await;
    let cookie = "x".repeat(bytes);
    let request =
        format!("GET / HTTP/1.1\r\nHost: t\r\nCookie: c={cookie}\r\nConnection: close\r\n\r\n");
    // The server may answer and close before it has read all of an oversized head.
    let _ = stream.write_all(request.as_bytes()).await;
    read_to_close(&mut stream).await
}

#[tokio::test]
async fn a_request_head_over_the_limit_is_refused_with_431() {
    let limits = ServeLimits::default().with_max_header_bytes(16 * 1024);
    let server = Server::start(app(), limits).await;

    let fits = get_with_cookie_of("127.0.0.1", server.addr, 12 * 1024).await;
    assert!(fits.starts_with("HTTP/1.1 200"), "{fits}");
    let over = get_with_cookie_of("127.0.0.1", server.addr, 20 * 1024).await;
    assert!(over.starts_with("HTTP/1.1 431"), "{over}");
    // The refusal costs the client its connection, not the server its service.
    assert!(
        get_from("127.0.0.1", server.addr, "/")
            .await
            .ends_with("hello")
    );
    server.shutdown().await;
}

#[tokio::test]
async fn the_head_limit_is_never_below_8_kib() {
    let limits = ServeLimits::default().with_max_header_bytes(100);
    let server = Server::start(app(), limits).await;
    let ordinary = get_with_cookie_of("127.0.0.1", server.addr, 4 * 1024).await;
    assert!(ordinary.starts_with("HTTP/1.1 200"), "{ordinary}");
    let over = get_with_cookie_of("127.0.0.1", server.addr, 10 * 1024).await;
    assert!(over.starts_with("HTTP/1.1 431"), "{over}");
    server.shutdown().await;
}
