//! Load benchmark: kom-gateway vs httpkom 0.32, each in front of its own fresh lyskomd.
//!
//! Workloads (same requests, same concurrency for both):
//! - `session churn`: POST /sessions/ + login + DELETE /sessions/0 per iteration;
//! - `who-am-i`: GET /sessions/current/who-am-i on open, not logged-in connections;
//! - `active`: POST /sessions/current/active on logged-in connections.
//!
//! Prints throughput (iterations/s), p50 and p99 latency per workload and the ratios.
//! Needs lyskomd, httpkom in the peers virtualenv and a release build of kom-gateway
//! (`cargo build --release -p kom-gateway`). A local DNS responder answering "not found"
//! at once is given to each lyskomd through `ADNS_RES_CONF_TEXT`, so connection set-up does
//! not measure DNS. Settings: KOM_BENCH_SECS (default 5), KOM_BENCH_CONCURRENCY (default 16).
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::net::{SocketAddr, UdpSocket};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client as HttpClient;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use serde_json::{Value, json};
use test_support::lyskomd::{ADMIN_PASSWORD, ADMIN_PERSON, Lyskomd};
use test_support::{ChildGuard, free_port, python_peer, wait_for_tcp, workspace_binary};

type Http = HttpClient<HttpConnector, Full<Bytes>>;

/// Answers every DNS query on 127.0.0.1:53 with NXDOMAIN at once (adns only talks to port
/// 53). Returns whether a responder is there (ours, or one another benchmark started).
fn spawn_dns_responder() -> bool {
    let socket = match UdpSocket::bind("127.0.0.1:53") {
        Ok(s) => s,
        Err(e) => {
            let in_use = e.kind() == std::io::ErrorKind::AddrInUse;
            eprintln!("kom_load: no DNS responder of our own on 127.0.0.1:53 ({e})");
            return in_use;
        }
    };
    std::thread::spawn(move || {
        let mut buf = [0u8; 1500];
        while let Ok((n, peer)) = socket.recv_from(&mut buf) {
            if n < 12 {
                continue;
            }
            let mut reply = buf[..n].to_vec();
            reply[2] = 0x81 | (buf[2] & 0x01); // QR, opcode 0, RD copied
            reply[3] = 0x83; // RA, NXDOMAIN
            reply[6..12].fill(0); // no answers, authority or additional records
            let _ = socket.send_to(&reply, peer);
        }
    });
    true
}

fn start_lyskomd(local_dns: bool) -> Lyskomd {
    let env: Vec<(&str, &str)> = if local_dns {
        vec![("ADNS_RES_CONF_TEXT", "nameserver 127.0.0.1")]
    } else {
        Vec::new()
    };
    Lyskomd::start_with_env(&env).expect("lyskomd is installed")
}

fn start_gateway(kom_port: u16, dir: &std::path::Path) -> (ChildGuard, SocketAddr) {
    let port = free_port();
    let config = dir.join("kom-gateway.toml");
    std::fs::write(
        &config,
        format!(
            // Every bench client comes from 127.0.0.1: lift the per-address caps, which
            // httpkom does not have either.
            "listen = \"127.0.0.1:{port}\"\nmax_connections_per_address = 100000\n\
             [http]\nmax_connections_per_address = 100000\n\
             [[servers]]\nid = \"kom\"\nname = \"Bench\"\nhost = \"127.0.0.1\"\nport = {kom_port}\n"
        ),
    )
    .unwrap();
    let child = Command::new(workspace_binary("kom-gateway"))
        .arg("--config")
        .arg(&config)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let addr: SocketAddr = ([127, 0, 0, 1], port).into();
    let guard = ChildGuard::new("kom-gateway", child);
    wait_for_tcp(addr, Duration::from_secs(30)).unwrap();
    (guard, addr)
}

fn start_httpkom(kom_port: u16, dir: &std::path::Path) -> (ChildGuard, SocketAddr) {
    let python = python_peer("python").expect("the peers virtualenv");
    let config = dir.join("httpkom.cfg");
    std::fs::write(
        &config,
        format!(
            "HTTPKOM_LYSKOM_SERVERS = [('kom', 'Bench', '127.0.0.1', {kom_port})]\nLOG_LEVEL = 40\n"
        ),
    )
    .unwrap();
    let port = free_port();
    let child = Command::new(python)
        .args(["-m", "httpkom", "--config"])
        .arg(&config)
        .args(["--host", "127.0.0.1", "--port", &port.to_string()])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let addr: SocketAddr = ([127, 0, 0, 1], port).into();
    let guard = ChildGuard::new("httpkom", child);
    wait_for_tcp(addr, Duration::from_secs(60)).unwrap();
    (guard, addr)
}

async fn call(
    http: &Http,
    addr: SocketAddr,
    method: &str,
    path: &str,
    conn: Option<&str>,
    body: Option<&Value>,
) -> (u16, Bytes) {
    let mut b = http::Request::builder()
        .method(method)
        .uri(format!("http://{addr}{path}"));
    if let Some(c) = conn {
        b = b.header("Httpkom-Connection", c);
    }
    let payload = match body {
        Some(v) => {
            b = b.header("Content-Type", "application/json");
            Bytes::from(serde_json::to_vec(v).unwrap())
        }
        None => Bytes::new(),
    };
    let resp = http
        .request(b.body(Full::new(payload)).unwrap())
        .await
        .unwrap();
    let status = resp.status().as_u16();
    let bytes = resp.into_body().collect().await.unwrap().to_bytes();
    (status, bytes)
}

async fn open(http: &Http, addr: SocketAddr) -> String {
    let (status, body) = call(
        http,
        addr,
        "POST",
        "/kom/sessions/",
        None,
        Some(&json!({"client": {"name": "bench", "version": "1"}})),
    )
    .await;
    assert_eq!(status, 201, "{}", String::from_utf8_lossy(&body));
    let v: Value = serde_json::from_slice(&body).unwrap();
    v["connection_id"].as_str().unwrap().to_string()
}

async fn login(http: &Http, addr: SocketAddr, conn: &str) {
    let (status, body) = call(
        http,
        addr,
        "POST",
        "/kom/sessions/current/login",
        Some(conn),
        Some(&json!({"pers_no": ADMIN_PERSON, "passwd": ADMIN_PASSWORD})),
    )
    .await;
    assert_eq!(status, 201, "{}", String::from_utf8_lossy(&body));
}

#[derive(Clone, Copy, Debug)]
enum Workload {
    Churn,
    WhoAmI,
    Active,
}

#[derive(Debug)]
struct Outcome {
    per_sec: f64,
    p50: Duration,
    p99: Duration,
    errors: usize,
}

async fn run(addr: SocketAddr, workload: Workload, concurrency: usize, secs: u64) -> Outcome {
    let http: Http = HttpClient::builder(TokioExecutor::new())
        .pool_max_idle_per_host(concurrency * 2)
        .build_http();
    let http = Arc::new(http);
    let deadline = Instant::now() + Duration::from_secs(secs);
    let mut tasks = Vec::new();
    for _ in 0..concurrency {
        let http = http.clone();
        tasks.push(tokio::spawn(async move {
            let mut latencies = Vec::new();
            let mut errors = 0usize;
            let conn = match workload {
                Workload::Churn => None,
                Workload::WhoAmI => Some(open(&http, addr).await),
                Workload::Active => {
                    let c = open(&http, addr).await;
                    login(&http, addr, &c).await;
                    Some(c)
                }
            };
            while Instant::now() < deadline {
                let start = Instant::now();
                let ok = match workload {
                    Workload::Churn => {
                        let c = open(&http, addr).await;
                        login(&http, addr, &c).await;
                        call(&http, addr, "DELETE", "/kom/sessions/0", Some(&c), None)
                            .await
                            .0
                            == 204
                    }
                    Workload::WhoAmI => {
                        call(
                            &http,
                            addr,
                            "GET",
                            "/kom/sessions/current/who-am-i",
                            conn.as_deref(),
                            None,
                        )
                        .await
                        .0 == 200
                    }
                    Workload::Active => {
                        call(
                            &http,
                            addr,
                            "POST",
                            "/kom/sessions/current/active",
                            conn.as_deref(),
                            None,
                        )
                        .await
                        .0 == 204
                    }
                };
                latencies.push(start.elapsed());
                if !ok {
                    errors += 1;
                }
            }
            if let Some(c) = conn {
                call(&http, addr, "DELETE", "/kom/sessions/0", Some(&c), None).await;
            }
            (latencies, errors)
        }));
    }
    collect_outcome(tasks, secs).await
}

/// The same session churn straight against lyskomd with session-lyskom's client: what the
/// server itself allows, the ceiling for any gateway.
async fn raw_churn(kom: SocketAddr, concurrency: usize, secs: u64) -> Outcome {
    use session_lyskom::client::{Client, ConnectOptions};
    use session_lyskom::protocol::numbers::{PersNo, SessionNo};
    let deadline = Instant::now() + Duration::from_secs(secs);
    let mut tasks = Vec::new();
    for _ in 0..concurrency {
        tasks.push(tokio::spawn(async move {
            let options = ConnectOptions::default();
            let mut latencies = Vec::new();
            let mut errors = 0usize;
            while Instant::now() < deadline {
                let start = Instant::now();
                let ok = async {
                    let c = Client::connect(&kom.to_string(), &options).await?;
                    c.set_client_version("bench", "1").await?;
                    c.who_am_i().await?;
                    c.login(PersNo(ADMIN_PERSON), ADMIN_PASSWORD, false).await?;
                    c.get_uconf_stat(PersNo(ADMIN_PERSON)).await?;
                    c.disconnect(SessionNo(0)).await?;
                    Ok::<_, session_lyskom::Error>(())
                }
                .await
                .is_ok();
                latencies.push(start.elapsed());
                if !ok {
                    errors += 1;
                }
            }
            (latencies, errors)
        }));
    }
    collect_outcome(tasks, secs).await
}

fn main() {
    if std::env::args().any(|a| a == "--list") {
        return;
    }
    let secs: u64 = std::env::var("KOM_BENCH_SECS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(5);
    let concurrency: usize = std::env::var("KOM_BENCH_CONCURRENCY")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(16);
    if Lyskomd::program().is_none()
        || python_peer("python").is_none()
        || !workspace_binary("kom-gateway").exists()
    {
        eprintln!(
            "kom_load: needs lyskomd, httpkom in the peers virtualenv and `cargo build --release -p kom-gateway`; skipping"
        );
        return;
    }
    let dns = spawn_dns_responder();
    let kom_raw = start_lyskomd(dns);
    let dir = tempfile::Builder::new()
        .prefix("kom-bench-")
        .tempdir()
        .unwrap();
    let kom_gw = start_lyskomd(dns);
    let kom_py = start_lyskomd(dns);
    let (_gw, gw_addr) = start_gateway(kom_gw.port(), dir.path());
    let (_py, py_addr) = start_httpkom(kom_py.port(), dir.path());
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    println!(
        "kom-gateway vs httpkom: {concurrency} concurrent clients, {secs} s per workload, 2 cores shared by everything"
    );
    println!(
        "| workload | httpkom req/s | kom-gateway req/s | throughput ratio | httpkom p50 / p99 | kom-gateway p50 / p99 | p99 ratio | errors (httpkom / gateway) |"
    );
    println!("|---|---|---|---|---|---|---|---|");
    for (name, w) in [
        ("session create + login + delete", Workload::Churn),
        ("who-am-i", Workload::WhoAmI),
        ("active (logged in)", Workload::Active),
    ] {
        let theirs = runtime.block_on(run(py_addr, w, concurrency, secs));
        let ours = runtime.block_on(run(gw_addr, w, concurrency, secs));
        let ms = |d: Duration| format!("{:.2} ms", d.as_secs_f64() * 1000.0);
        println!(
            "| {name} | {:.0} | {:.0} | {:.1}x | {} / {} | {} / {} | {:.1}x | {} / {} |",
            theirs.per_sec,
            ours.per_sec,
            ours.per_sec / theirs.per_sec.max(f64::MIN_POSITIVE),
            ms(theirs.p50),
            ms(theirs.p99),
            ms(ours.p50),
            ms(ours.p99),
            theirs.p99.as_secs_f64() / ours.p99.as_secs_f64().max(f64::MIN_POSITIVE),
            theirs.errors,
            ours.errors,
        );
    }
    let raw = runtime.block_on(raw_churn(kom_raw.addr(), concurrency, secs));
    println!(
        "\nCeiling: the same session churn straight against lyskomd (no HTTP): {:.0}/s, p50 {:.2} ms, p99 {:.2} ms, {} errors",
        raw.per_sec,
        raw.p50.as_secs_f64() * 1000.0,
        raw.p99.as_secs_f64() * 1000.0,
        raw.errors
    );
}

/// Waits for the load tasks and sums up their latencies and errors over a run of `secs`.
async fn collect_outcome(
    tasks: Vec<tokio::task::JoinHandle<(Vec<Duration>, usize)>>,
    secs: u64,
) -> Outcome {
    let started = Instant::now();
    let mut all = Vec::new();
    let mut errors = 0;
    for t in tasks {
        let (l, e) = t.await.unwrap();
        all.extend(l);
        errors += e;
    }
    let elapsed = started.elapsed().as_secs_f64().max(secs as f64);
    all.sort();
    let pct = |p: f64| {
        all.get(((all.len() as f64 * p) as usize).min(all.len().saturating_sub(1)))
            .copied()
            .unwrap_or_default()
    };
    Outcome {
        per_sec: all.len() as f64 / elapsed,
        p50: pct(0.50),
        p99: pct(0.99),
        errors,
    }
}
