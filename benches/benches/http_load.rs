//! HTTP load benchmark: bare hyper, this project's session layer and tower-sessions, on the
//! same handlers, in one run.
//!
//! `cargo bench -p session-benches --bench http_load` (set `HTTP_LOAD_SECS` for longer runs,
//! `HTTP_LOAD_CONNECTIONS` for another concurrency). Each server runs in a child process (this
//! binary re-executed with `serve …`). On a machine with two or more CPUs and `taskset`, the
//! servers run on CPU 1 with one tokio worker and the load generator on CPU 0 with one thread
//! (`HTTP_LOAD_PIN=0` turns this off: then servers get two workers and everything shares the
//! CPUs), so a server's requests per second is what one core of it can serve. The load
//! generator keeps one HTTP/1.1 keep-alive connection per client. Scenarios:
//!
//! - `unused`: the handler never touches the session;
//! - `new`: every request writes to a new session (no cookie sent);
//! - `read`: read one attribute of the connection's session (one session per connection);
//! - `read+write`: increment it (one session per connection: writes never collide);
//! - `shared`: every connection increments the counter of one shared session. Each round
//!   starts a new one and reads it back at the end: `refused` counts the answers that were
//!   not 2xx, `lost` the 2xx increments missing from the counter.
//!
//! Stores: memory (ours and tower-sessions), SQLite and Redis (Redis when a `redis-server` can
//! be started). tower-sessions over its SQLite (sqlx) and Redis (fred) stores runs from the
//! peer crate in `benches/peers`, built on its own (`cargo build --release --manifest-path
//! benches/peers/Cargo.toml`; `HTTP_LOAD_PEERS` names another binary); without it those rows
//! are skipped, loudly.
//!
//! Each row reports the median round's requests per second and latencies, and over all
//! rounds the server's CPU time per request, the backend's (redis-server's) and how much the
//! server's resident memory grew per request: on `new` with the memory stores, what one
//! session costs in memory.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

#[path = "support/scenario.rs"]
mod scenario;

use std::convert::Infallible;
use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::Router;
use axum::routing::get;
use bytes::Bytes;
use http::{Request, Response, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo};
use session_core::{MemoryStore, StoreConfig};
use session_http::server::{Session, SessionLayer};
use tower::{Service, ServiceBuilder, service_fn};

// ---------------------------------------------------------------- servers

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.get(1).map(String::as_str) == Some("serve") {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(args[5].parse().unwrap())
            .enable_all()
            .build()
            .unwrap();
        runtime.block_on(serve(&args[2], &args[3], args[4].parse().unwrap()));
        return;
    }
    let filter = args.iter().skip(1).find(|a| !a.starts_with('-')).cloned();
    let pinned = Pinning::choose();
    let runtime = if pinned.is_some() {
        // The generator has its own core: one thread drives every connection.
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap()
    } else {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap()
    };
    runtime.block_on(run_all(filter, pinned));
}

/// Servers on one core, the load generator on another, so that a server's throughput is
/// what one core of it can do and the generator never competes with it for CPU.
#[derive(Clone, Copy, Debug)]
struct Pinning {
    server_cpu: usize,
}

impl Pinning {
    /// Pins this process to the first CPU it may use and returns the CPU for servers, when
    /// there are two CPUs and `taskset` to use (unless `HTTP_LOAD_PIN=0`).
    fn choose() -> Option<Pinning> {
        if std::env::var("HTTP_LOAD_PIN").as_deref() == Ok("0") {
            return None;
        }
        let cpus = std::thread::available_parallelism().map_or(1, |n| n.get());
        if cpus < 2 {
            return None;
        }
        let pid = std::process::id().to_string();
        let pinned = Command::new("taskset")
            .args(["-cp", "0", &pid])
            .stdout(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        pinned.then_some(Pinning { server_cpu: 1 })
    }
}

async fn serve(variant: &str, store_url: &str, port: u16) {
    let addr: SocketAddr = ([127, 0, 0, 1], port).into();
    let listener = tokio::net::TcpListener::bind(addr).await.unwrap();
    match variant {
        // The unused-session scenario on plain hyper: the same handler, with and without the
        // layer in front of it.
        "bare-hyper" => serve_hyper(listener, service_fn(hello)).await,
        "ours-hyper" => {
            let layer = our_layer(store_url).await;
            serve_hyper(
                listener,
                ServiceBuilder::new().layer(layer).service_fn(hello),
            )
            .await
        }
        "bare-axum" => {
            // The same route shape as the session servers', without a layer.
            let router = Router::new().route(
                "/{scenario}",
                get(|_uri: http::Uri| async { "hello".to_owned() }),
            );
            axum::serve(listener, router).await.unwrap();
        }
        "ours-axum" => {
            let layer = our_layer(store_url).await;
            let router = Router::new()
                .route("/{scenario}", get(our_axum_handler))
                .layer(layer);
            axum::serve(listener, router).await.unwrap();
        }
        "tower-sessions-axum" => {
            let layer = scenario::tower_sessions_layer();
            let router = Router::new()
                .route("/{scenario}", get(ts_axum_handler))
                .layer(layer);
            axum::serve(listener, router).await.unwrap();
        }
        other => panic!("unknown variant {other}"),
    }
}

async fn hello(_request: Request<Incoming>) -> Result<Response<Full<Bytes>>, Infallible> {
    Ok(Response::new(Full::new(Bytes::from_static(b"hello"))))
}

async fn serve_hyper<S, B>(listener: tokio::net::TcpListener, service: S)
where
    S: Service<Request<Incoming>, Response = Response<B>, Error = Infallible>
        + Clone
        + Send
        + 'static,
    S::Future: Send + 'static,
    B: http_body::Body + Send + 'static,
    B::Data: Send,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    loop {
        let Ok((stream, _)) = listener.accept().await else {
            continue;
        };
        let _ = stream.set_nodelay(true);
        let service = service.clone();
        tokio::spawn(async move {
            let hyper_service = hyper::service::service_fn(move |request| {
                let mut service = service.clone();
                service.call(request)
            });
            let _ = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new())
                .serve_connection(TokioIo::new(stream), hyper_service)
                .await;
        });
    }
}

async fn our_layer(store_url: &str) -> SessionLayer {
    let store: Arc<dyn session_core::SessionStore> = if store_url == "memory:" {
        Arc::new(MemoryStore::new())
    } else {
        session_stores::open(store_url, StoreConfig::default())
            .await
            .unwrap()
    };
    scenario::our_layer(store)
}

async fn our_axum_handler(
    axum::Extension(session): axum::Extension<Session>,
    uri: http::Uri,
) -> String {
    scenario::respond(uri.path(), &session).await
}

async fn ts_axum_handler(session: tower_sessions::Session, uri: http::Uri) -> String {
    scenario::respond(uri.path(), &session).await
}

// ---------------------------------------------------------------- load generator

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Scenario {
    Unused,
    New,
    Read,
    ReadWrite,
    Shared,
}

impl Scenario {
    fn name(self) -> &'static str {
        match self {
            Scenario::Unused => "unused",
            Scenario::New => "new",
            Scenario::Read => "read",
            Scenario::ReadWrite => "read+write",
            Scenario::Shared => "shared",
        }
    }
    fn path(self) -> &'static str {
        match self {
            Scenario::Unused => "/unused",
            Scenario::New => "/new",
            Scenario::Read => "/read",
            Scenario::ReadWrite | Scenario::Shared => "/write",
        }
    }
    fn needs_session(self) -> bool {
        matches!(self, Scenario::Read | Scenario::ReadWrite)
    }
}

#[derive(Debug, Default)]
struct Stats {
    requests: u64,
    errors: u64,
    latencies_us: Vec<u32>,
    elapsed: Duration,
}

impl Stats {
    fn rps(&self) -> f64 {
        self.requests as f64 / self.elapsed.as_secs_f64()
    }
    fn percentile(&mut self, p: f64) -> f64 {
        if self.latencies_us.is_empty() {
            return 0.0;
        }
        self.latencies_us.sort_unstable();
        let index = ((self.latencies_us.len() as f64 - 1.0) * p).round() as usize;
        f64::from(self.latencies_us[index]) / 1000.0
    }
}

struct ServerChild {
    child: Child,
    addr: SocketAddr,
}

impl Drop for ServerChild {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The peer crate's server binary (tower-sessions over sqlx and fred), when it was built.
fn peers_binary() -> Option<std::path::PathBuf> {
    let path = std::env::var_os("HTTP_LOAD_PEERS").map_or_else(
        || {
            std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("peers/target/release/session-bench-peers")
        },
        std::path::PathBuf::from,
    );
    path.is_file().then_some(path)
}

/// Whether a server runs from the peer crate's binary: tower-sessions over a store that is not
/// its memory store.
fn is_peer(variant: &str, store: &str) -> bool {
    variant == "tower-sessions-axum" && store != "memory:"
}

fn start_server(variant: &str, store: &str, pinning: Option<Pinning>) -> ServerChild {
    let port = test_support::free_port().to_string();
    // One worker on a pinned core (a second would only fight it for the core); two otherwise.
    let workers = if pinning.is_some() { "1" } else { "2" };
    let (program, args) = if is_peer(variant, store) {
        let (kind, target) = match store.strip_prefix("sqlite:") {
            Some(path) => ("sqlite", path),
            None => ("redis", store),
        };
        let args = vec![
            kind.to_owned(),
            target.to_owned(),
            port.clone(),
            workers.to_owned(),
        ];
        (peers_binary().expect("the peers binary"), args)
    } else {
        let args = ["serve", variant, store, &port, workers].map(str::to_owned);
        (std::env::current_exe().unwrap(), args.to_vec())
    };
    let mut command = match pinning {
        Some(pin) => {
            let mut c = Command::new("taskset");
            c.args(["-c", &pin.server_cpu.to_string()]).arg(program);
            c
        }
        None => Command::new(program),
    };
    let port: u16 = port.parse().unwrap();
    let child = command
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let addr: SocketAddr = ([127, 0, 0, 1], port).into();
    test_support::wait_for_tcp(addr, Duration::from_secs(30)).unwrap();
    ServerChild { child, addr }
}

/// CPU time (user + system) a process has used so far, from `/proc/PID/stat` (in clock ticks
/// of 10 ms, the Linux default).
fn cpu_time(pid: u32) -> Duration {
    let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
        return Duration::ZERO;
    };
    let Some(after_name) = stat.rfind(')').map(|i| &stat[i + 1..]) else {
        return Duration::ZERO;
    };
    let fields: Vec<&str> = after_name.split_whitespace().collect();
    let ticks: u64 = [11, 12]
        .iter()
        .filter_map(|&i| fields.get(i).and_then(|f| f.parse::<u64>().ok()))
        .sum();
    Duration::from_millis(ticks * 10)
}

/// A process's resident memory, from `/proc/PID/status` (`VmRSS`), in bytes.
fn resident_bytes(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|status| {
            let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
            line.split_whitespace().nth(1)?.parse::<u64>().ok()
        })
        .map_or(0, |kib| kib * 1024)
}

type Sender = hyper::client::conn::http1::SendRequest<Full<Bytes>>;

async fn connect(addr: SocketAddr) -> Sender {
    let stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    stream.set_nodelay(true).unwrap();
    let (sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .unwrap();
    tokio::spawn(connection);
    sender
}

async fn request(
    sender: &mut Sender,
    addr: SocketAddr,
    path: &str,
    cookie: Option<&str>,
) -> (StatusCode, Option<String>) {
    let mut builder = Request::get(path).header("host", addr.to_string());
    if let Some(cookie) = cookie {
        builder = builder.header("cookie", cookie);
    }
    sender.ready().await.unwrap();
    let response = sender
        .send_request(builder.body(Full::new(Bytes::new())).unwrap())
        .await
        .unwrap();
    let status = response.status();
    let set_cookie = response
        .headers()
        .get("set-cookie")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .map(str::to_owned);
    let _ = response.into_body().collect().await;
    (status, set_cookie)
}

/// A new session holding the counter 1; its cookie.
async fn new_session(addr: SocketAddr) -> String {
    let mut sender = connect(addr).await;
    let (status, cookie) = request(&mut sender, addr, "/new", None).await;
    assert!(status.is_success());
    cookie.expect("a session cookie")
}

/// The counter of the session behind `cookie`.
async fn read_counter(addr: SocketAddr, cookie: &str) -> i64 {
    let mut sender = connect(addr).await;
    let mut builder = Request::get("/read").header("host", addr.to_string());
    builder = builder.header("cookie", cookie);
    let response = sender
        .send_request(builder.body(Full::new(Bytes::new())).unwrap())
        .await
        .unwrap();
    let body = response.into_body().collect().await.unwrap().to_bytes();
    std::str::from_utf8(&body).unwrap().trim().parse().unwrap()
}

/// Runs `scenario` against `addr`; with `shared` every connection uses that session's cookie.
async fn load(
    addr: SocketAddr,
    scenario: Scenario,
    connections: usize,
    duration: Duration,
    shared: Option<Arc<String>>,
) -> Stats {
    let start = Arc::new(tokio::sync::Barrier::new(connections + 1));
    let mut tasks = Vec::new();
    for _ in 0..connections {
        let start = start.clone();
        let shared = shared.clone();
        tasks.push(tokio::spawn(async move {
            let mut sender = connect(addr).await;
            let cookie = if let Some(shared) = shared {
                Some(shared.as_str().to_owned())
            } else if scenario.needs_session() {
                let (status, cookie) = request(&mut sender, addr, "/new", None).await;
                assert!(status.is_success());
                Some(cookie.expect("a session cookie"))
            } else {
                None
            };
            start.wait().await;
            let began = Instant::now();
            let deadline = began + duration;
            let mut stats = Stats {
                latencies_us: Vec::with_capacity(200_000),
                ..Stats::default()
            };
            while Instant::now() < deadline {
                let sent = Instant::now();
                let (status, _) =
                    request(&mut sender, addr, scenario.path(), cookie.as_deref()).await;
                let micros = sent.elapsed().as_micros().min(u128::from(u32::MAX)) as u32;
                if status.is_success() {
                    stats.requests += 1;
                    stats.latencies_us.push(micros);
                } else {
                    stats.errors += 1;
                }
            }
            stats.elapsed = began.elapsed();
            stats
        }));
    }
    start.wait().await;
    let mut total = Stats::default();
    for task in tasks {
        let stats = task.await.unwrap();
        total.requests += stats.requests;
        total.errors += stats.errors;
        total.latencies_us.extend(stats.latencies_us);
        total.elapsed = total.elapsed.max(stats.elapsed);
    }
    total
}

struct Row {
    variant: String,
    store: String,
    scenario: Scenario,
    rps: f64,
    p50: f64,
    p99: f64,
    errors: u64,
    /// Increments answered 2xx but missing from the shared counter (all rounds).
    lost: Option<i64>,
    /// Server CPU time per request, in microseconds (all rounds).
    cpu_us: f64,
    /// The backend's (redis-server's) CPU time per request, in microseconds (all rounds), for
    /// stores whose backend is a server of its own.
    backend_us: Option<f64>,
    /// How much the server's resident memory grew per request over the measured rounds, in
    /// bytes: on `new`, what a session costs in a store held in the server's memory.
    growth_bytes: f64,
}

/// CPU time the backend server of `store` has used so far (`INFO cpu` of redis-server, to
/// the microsecond); `None` for stores without a server of their own.
fn backend_cpu(store: &str) -> Option<Duration> {
    if !store.starts_with("redis://") {
        return None;
    }
    let mut connection = redis::Client::open(store).ok()?.get_connection().ok()?;
    let info: String = redis::cmd("INFO").arg("cpu").query(&mut connection).ok()?;
    let seconds: f64 = info
        .lines()
        .filter_map(|line| line.split_once(':'))
        .filter(|(name, _)| matches!(*name, "used_cpu_sys" | "used_cpu_user"))
        .filter_map(|(_, value)| value.trim().parse::<f64>().ok())
        .sum();
    Some(Duration::from_secs_f64(seconds))
}

fn env_or<T: std::str::FromStr>(name: &str, default: T) -> T {
    std::env::var(name)
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(default)
}

/// Measures a group of servers on one scenario, alternating between them for several rounds
/// so that a noisy neighbour hurts all of them alike; reports each one's median round.
async fn measure_group(
    members: &[(&str, String)],
    scenario: Scenario,
    pinning: Option<Pinning>,
    rows: &mut Vec<Row>,
) {
    let secs: u64 = env_or("HTTP_LOAD_SECS", 3);
    let rounds: usize = env_or("HTTP_LOAD_ROUNDS", 3);
    let connections: usize = env_or("HTTP_LOAD_CONNECTIONS", 32);
    let servers: Vec<ServerChild> = members
        .iter()
        .map(|(variant, store)| start_server(variant, store, pinning))
        .collect();
    let shared_session = |addr| async move {
        match scenario {
            Scenario::Shared => Some(Arc::new(new_session(addr).await)),
            _ => None,
        }
    };
    for server in &servers {
        // Warm up connections, allocator and caches.
        let shared = shared_session(server.addr).await;
        let _ = load(
            server.addr,
            scenario,
            connections,
            Duration::from_millis(500),
            shared,
        )
        .await;
    }
    let mut results: Vec<Vec<(f64, f64, f64, u64)>> = vec![Vec::new(); members.len()];
    let mut cpu: Vec<(Duration, u64)> = vec![(Duration::ZERO, 0); members.len()];
    let mut backend: Vec<Option<Duration>> = vec![None; members.len()];
    let mut lost: Vec<i64> = vec![0; members.len()];
    let resident_before: Vec<u64> = servers
        .iter()
        .map(|server| resident_bytes(server.child.id()))
        .collect();
    for _ in 0..rounds {
        for (i, server) in servers.iter().enumerate() {
            let shared = shared_session(server.addr).await;
            let cpu_before = cpu_time(server.child.id());
            let backend_before = backend_cpu(&members[i].1);
            let mut stats = load(
                server.addr,
                scenario,
                connections,
                Duration::from_secs(secs),
                shared.clone(),
            )
            .await;
            cpu[i].0 += cpu_time(server.child.id()).saturating_sub(cpu_before);
            if let (Some(before), Some(after)) = (backend_before, backend_cpu(&members[i].1)) {
                let used = after.saturating_sub(before);
                backend[i] = Some(backend[i].unwrap_or_default() + used);
            }
            cpu[i].1 += stats.requests + stats.errors;
            if let Some(cookie) = &shared {
                // The session started at 1; every 2xx increment should be in it.
                let counter = read_counter(server.addr, cookie).await;
                lost[i] += 1 + stats.requests as i64 - counter;
            }
            results[i].push((
                stats.rps(),
                stats.percentile(0.50),
                stats.percentile(0.99),
                stats.errors,
            ));
        }
    }
    let growth: Vec<u64> = servers
        .iter()
        .zip(resident_before)
        .map(|(server, before)| resident_bytes(server.child.id()).saturating_sub(before))
        .collect();
    for ((((((variant, store), mut runs), (cpu_used, requests)), lost), backend_used), grown) in
        members
            .iter()
            .zip(results)
            .zip(cpu)
            .zip(lost)
            .zip(backend)
            .zip(growth)
    {
        // Refusals and losses over all rounds; the rest from the median round.
        let errors = runs.iter().map(|r| r.3).sum();
        runs.sort_by(|a, b| a.0.total_cmp(&b.0));
        let (rps, p50, p99, _) = runs[runs.len() / 2];
        let cpu_us = cpu_used.as_secs_f64() * 1e6 / requests.max(1) as f64;
        let backend_us = backend_used.map(|used| used.as_secs_f64() * 1e6 / requests.max(1) as f64);
        let row = Row {
            variant: (*variant).to_owned(),
            store: store.split(':').next().unwrap_or(store).to_owned(),
            scenario,
            rps,
            p50,
            p99,
            errors,
            lost: (scenario == Scenario::Shared).then_some(lost),
            cpu_us,
            backend_us,
            growth_bytes: grown as f64 / requests.max(1) as f64,
        };
        println!(
            "{:<20} {:<8} {:<11} {:>10.0} req/s  p50 {:>6.3} ms  p99 {:>6.3} ms  server CPU {:>6.1} us/req  backend CPU {} us/req  memory +{:.0} B/req  refused {}  lost {}",
            row.variant,
            row.store,
            row.scenario.name(),
            row.rps,
            row.p50,
            row.p99,
            row.cpu_us,
            row.backend_us.map_or("-".to_owned(), |b| format!("{b:.1}")),
            row.growth_bytes,
            row.errors,
            row.lost.map_or("-".to_owned(), |l| l.to_string())
        );
        rows.push(row);
    }
}

async fn run_all(filter: Option<String>, pinning: Option<Pinning>) {
    match pinning {
        Some(pin) => println!(
            "servers pinned to CPU {} (one worker), load generator to CPU 0",
            pin.server_cpu
        ),
        None => println!("not pinned: servers and load generator share the CPUs"),
    }
    use Scenario::*;
    let dir = tempfile::tempdir().unwrap();
    let sqlite = format!("sqlite:{}", dir.path().join("bench.db").display());
    let their_sqlite = format!("sqlite:{}", dir.path().join("tower-sessions.db").display());
    let peers = peers_binary().is_some();
    if !peers {
        eprintln!(
            "SKIPPING the tower-sessions SQLite and Redis rows: build the peers first \
             (cargo build --release --manifest-path benches/peers/Cargo.toml)"
        );
    }
    let redis = test_support::redis::RedisServer::start().ok();
    let redis_url = redis.as_ref().map(|r| r.url());
    let memory = || "memory:".to_owned();
    let none = || "none".to_owned();
    let mut plan: Vec<(Vec<(&str, String)>, Scenario)> = vec![
        (
            vec![("bare-hyper", none()), ("ours-hyper", memory())],
            Unused,
        ),
        (
            vec![
                ("bare-axum", none()),
                ("ours-axum", memory()),
                ("tower-sessions-axum", memory()),
            ],
            Unused,
        ),
    ];
    for scenario in [New, Read, ReadWrite, Shared] {
        plan.push((
            vec![("ours-axum", memory()), ("tower-sessions-axum", memory())],
            scenario,
        ));
    }
    // Each store beside tower-sessions over its own store for the same backend.
    let mut backends = vec![(sqlite.clone(), their_sqlite.clone())];
    if let Some(url) = &redis_url {
        backends.push((url.clone(), url.clone()));
    }
    for (ours, theirs) in backends {
        for scenario in [New, Read, ReadWrite, Shared] {
            let mut group = vec![("ours-axum", ours.clone())];
            if peers {
                group.push(("tower-sessions-axum", theirs.clone()));
            }
            plan.push((group, scenario));
        }
    }
    if redis_url.is_none() {
        eprintln!("redis-server not available: skipping the Redis rows");
    }
    let mut rows = Vec::new();
    for (group, scenario) in plan {
        let label = format!("{group:?} {}", scenario.name());
        if filter.as_ref().is_some_and(|f| !label.contains(f.as_str())) {
            continue;
        }
        measure_group(&group, scenario, pinning, &mut rows).await;
    }
    print_summary(&rows);
}

fn find<'a>(rows: &'a [Row], variant: &str, store: &str, scenario: Scenario) -> Option<&'a Row> {
    rows.iter()
        .find(|r| r.variant == variant && r.store == store && r.scenario == scenario)
}

fn print_summary(rows: &[Row]) {
    println!(
        "\n| server | store | scenario | req/s | p50 ms | p99 ms | server CPU µs/req | backend CPU µs/req | server memory growth B/req | refused | lost |"
    );
    println!("|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|");
    for r in rows {
        println!(
            "| {} | {} | {} | {:.0} | {:.3} | {:.3} | {:.1} | {} | {:.0} | {} | {} |",
            r.variant,
            r.store,
            r.scenario.name(),
            r.rps,
            r.p50,
            r.p99,
            r.cpu_us,
            r.backend_us.map_or("–".to_owned(), |b| format!("{b:.1}")),
            r.growth_bytes,
            r.errors,
            r.lost.map_or("–".to_owned(), |l| l.to_string())
        );
    }
    println!(
        "\n| comparison | ratio (req/s) | ratio (server CPU per request, theirs / ours) | p99 ours / theirs (ms) |"
    );
    println!("|---|---:|---:|---:|");
    let line = |label: &str, ours: &Row, theirs: &Row| {
        println!(
            "| {label} | {:.2}x | {:.2}x | {:.3} / {:.3} |",
            ours.rps / theirs.rps,
            theirs.cpu_us / ours.cpu_us.max(f64::MIN_POSITIVE),
            ours.p99,
            theirs.p99
        );
    };
    if let (Some(ours), Some(bare)) = (
        find(rows, "ours-hyper", "memory", Scenario::Unused),
        find(rows, "bare-hyper", "none", Scenario::Unused),
    ) {
        line(
            "unused session vs bare hyper (both plain hyper)",
            ours,
            bare,
        );
    }
    if let (Some(ours), Some(bare)) = (
        find(rows, "ours-axum", "memory", Scenario::Unused),
        find(rows, "bare-axum", "none", Scenario::Unused),
    ) {
        line("unused session vs bare axum", ours, bare);
    }
    for store in ["memory", "sqlite", "redis"] {
        for scenario in [
            Scenario::Unused,
            Scenario::New,
            Scenario::Read,
            Scenario::ReadWrite,
            Scenario::Shared,
        ] {
            if let (Some(ours), Some(theirs)) = (
                find(rows, "ours-axum", store, scenario),
                find(rows, "tower-sessions-axum", store, scenario),
            ) {
                line(
                    &format!("{store} {} vs tower-sessions", scenario.name()),
                    ours,
                    theirs,
                );
            }
        }
    }
}
