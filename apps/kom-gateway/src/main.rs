//! `kom-gateway --config FILE`: an httpkom-compatible HTTP gateway to LysKOM servers.
//!
//! The configuration is TOML:
//!
//! ```toml
//! listen = "127.0.0.1:8080"
//! # Every key below but [[servers]] is optional; the values shown are the defaults.
//! idle_timeout_secs = 1800                # a logged-in LysKOM connection left unused
//! unauthenticated_idle_timeout_secs = 120 # a LysKOM connection nobody logged in on
//! max_connections = 10000                 # LysKOM connections in all (lowered under ulimit -n)
//! max_connections_per_address = 16        # LysKOM connections per client address (then 429)
//! trusted_proxies = []                    # proxies ("10.0.0.2", "10.0.0.0/8") whose X-Forwarded-For names the client
//!                                         # (their HTTP connections: total cap only)
//! connect_timeout_secs = 10
//! call_timeout_secs = 30
//! allowed_origins = ["*"]                 # CORS and WebSocket origins
//!
//! [http]
//! header_read_timeout_secs = 10           # request head, and idle keep-alive
//! request_timeout_secs = 60               # then 503
//! write_stall_timeout_secs = 30           # a client that does not read
//! max_connections = 1024                  # HTTP connections (WebSockets included)
//! max_connections_per_address = 64        # per client address (then a fast 503)
//! max_header_bytes = 65536                # request line and headers (then 431)
//! drain_timeout_secs = 10                 # on SIGTERM or Ctrl-C
//!
//! [websocket]
//! max_message_bytes = 1048576
//! max_sockets_per_connection = 4          # then 429
//! max_pending_bytes = 4194304             # unanswered request bytes before reading pauses
//!
//! [[servers]]
//! id = "lyskom"
//! name = "LysKOM"
//! host = "kom.lysator.liu.se"
//! port = 4894
//! sort_order = 0             # optional
//! ```
//!
//! `GET /metrics` answers Prometheus text (connections, logins, WebSockets, HTTP answers by
//! status class and their latency); it is matched before the servers' routes, and a server
//! with the id `metrics` keeps every `/metrics/…` resource. Logs go to stderr, filtered by
//! `RUST_LOG` (default `warn`; `info` adds one line per request with its method, route
//! template, status, latency and a hash of its connection id), coloured only on a terminal
//! without `NO_COLOR`.

mod config;
mod open_files;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;
use session_lyskom::gateway::Gateway;

/// httpkom-compatible HTTP gateway to LysKOM servers.
#[derive(Parser, Debug)]
#[command(version, about)]
struct Args {
    /// The TOML configuration file.
    #[arg(long)]
    config: PathBuf,
}

fn main() -> ExitCode {
    let args = Args::parse();
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .with_writer(std::io::stderr)
        // Colour codes only for a person at a terminal who has not asked for none.
        .with_ansi(session_http::serve::use_colour())
        .init();
    let text = match std::fs::read_to_string(&args.config) {
        Ok(t) => t,
        Err(e) => {
            eprintln!("kom-gateway: cannot read {}: {e}", args.config.display());
            return ExitCode::from(2);
        }
    };
    let config = match config::Config::parse(&text) {
        Ok(c) => c,
        Err(e) => {
            eprintln!(
                "kom-gateway: bad configuration in {}: {e}",
                args.config.display()
            );
            return ExitCode::from(2);
        }
    };
    let open_file_limit = open_files::soft_limit();
    let gateway = match config.gateway(open_file_limit) {
        Ok(g) => g,
        Err(e) => {
            eprintln!("kom-gateway: {e}");
            return ExitCode::from(2);
        }
    };
    let (lyskom, http) = config.asked_caps();
    if (gateway.max_connections, gateway.http.max_connections) != (lyskom.value, http.value) {
        eprintln!(
            "kom-gateway: caps lowered to fit the open-file limit ({}, ulimit -n): \
             max_connections = {}, http.max_connections = {}",
            open_file_limit.unwrap_or(0),
            gateway.max_connections,
            gateway.http.max_connections
        );
    }
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("kom-gateway: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    runtime.block_on(async {
        let listener = match tokio::net::TcpListener::bind(config.listen).await {
            Ok(l) => l,
            Err(e) => {
                eprintln!("kom-gateway: cannot listen on {}: {e}", config.listen);
                return ExitCode::FAILURE;
            }
        };
        // The bound address, not the configured one: a configured port 0 picks a free port.
        let bound = match listener.local_addr() {
            Ok(a) => a,
            Err(e) => {
                eprintln!("kom-gateway: cannot read the listening address: {e}");
                return ExitCode::FAILURE;
            }
        };
        let stop = stop_signal();
        eprintln!("kom-gateway: listening on http://{bound}");
        let drained = Gateway::new(gateway).serve(listener, stop).await;
        if drained.cut > 0 {
            eprintln!(
                "kom-gateway: stopped; {} connections were still busy after the drain timeout",
                drained.cut
            );
        }
        ExitCode::SUCCESS
    })
}

/// A future that completes on SIGTERM (how service managers stop a program) or SIGINT
/// (Ctrl-C). The handlers are installed now, before the gateway announces itself, so a
/// signal sent right after the announcement is not missed (its default action would kill
/// the process without draining).
#[cfg(unix)]
fn stop_signal() -> impl Future<Output = ()> {
    use tokio::signal::unix::{SignalKind, signal};
    let terminate = signal(SignalKind::terminate());
    let interrupt = signal(SignalKind::interrupt());
    async move {
        match (terminate, interrupt) {
            (Ok(mut terminate), Ok(mut interrupt)) => {
                tokio::select! {
                    _ = terminate.recv() => {}
                    _ = interrupt.recv() => {}
                }
            }
            (Err(e), _) | (_, Err(e)) => {
                eprintln!("kom-gateway: cannot watch for SIGTERM and SIGINT ({e}); Ctrl-C only");
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
}

/// A future that completes on Ctrl-C.
#[cfg(not(unix))]
fn stop_signal() -> impl Future<Output = ()> {
    async {
        let _ = tokio::signal::ctrl_c().await;
    }
}
