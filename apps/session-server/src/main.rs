//! `session-server`: the reference web server. See the crate docs of `session_server`.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;
use session_core::Backoff;
use session_http::serve::ServeLimits;
use session_server::login::LoginLimits;
use session_server::{Config, serve, users};

/// The reference session web server: login, session pages, a JSON API, on any session store.
#[derive(Debug, Parser)]
#[command(version)]
struct Args {
    /// Session store URL: memory:, file:DIR, sqlite:PATH, redis://HOST:PORT/…, encrypted:DIR.
    /// Default: a SQLite file in the data directory.
    #[arg(long, env = "SESSION_SERVER_STORE")]
    store: Option<String>,
    /// Directory of the default SQLite store (default: the user's data directory).
    #[arg(long)]
    data_dir: Option<PathBuf>,
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:8080")]
    listen: SocketAddr,
    /// An account as NAME:PASSWORD (repeatable). The password is hashed with Argon2id at
    /// start-up and never logged — but other users of the machine can see a command line;
    /// prefer --users FILE or the environment variable SESSION_SERVER_USERS (one
    /// NAME:PASSWORD or NAME:ARGON2_HASH per line).
    #[arg(long = "user", value_name = "NAME:PASSWORD")]
    users: Vec<String>,
    /// A file of NAME:ARGON2_HASH lines (make hashes with --hash-password).
    #[arg(long = "users", value_name = "FILE")]
    users_file: Option<PathBuf>,
    /// Most live sessions per user; a login past it ends the user's least recently used
    /// session. 0: no limit.
    #[arg(long, default_value_t = 10)]
    max_sessions_per_user: usize,
    /// Failed logins per user name allowed at once; after that each attempt waits twice as
    /// long as the last (from 1 s, at most --login-max-wait-secs), answered 429.
    #[arg(long, default_value_t = 5)]
    login_free_attempts: u32,
    /// Logins per client address allowed at once before the same backoff applies to the
    /// address. 0: do not count per address (every client comes through one proxy).
    #[arg(long, default_value_t = 20)]
    login_address_free_attempts: u32,
    /// The longest wait the login backoff imposes, in seconds.
    #[arg(long, default_value_t = 300)]
    login_max_wait_secs: u64,
    /// Where login attempt counts live: memory: (this process) or a redis:// URL shared by
    /// several servers. Default: the session store's Redis when it is one, else memory:.
    #[arg(long, value_name = "URL")]
    throttle_store: Option<String>,
    /// Passwords hashed at once (each Argon2 hash takes ~19 MiB). Default: one per core.
    #[arg(long)]
    hash_concurrency: Option<usize>,
    /// How long a login may wait for its turn to be hashed before it is answered 503, in
    /// milliseconds.
    #[arg(long, default_value_t = 2000)]
    hash_queue_ms: u64,
    /// An origin (scheme://host[:port]) besides the server's own whose POST/PUT/DELETE
    /// requests with the session cookie are accepted (repeatable). Others are refused 403.
    #[arg(long = "trusted-origin", value_name = "ORIGIN")]
    trusted_origins: Vec<String>,
    /// Accept unsafe requests from sibling origins of the same site (Sec-Fetch-Site:
    /// same-site), e.g. other subdomains.
    #[arg(long)]
    allow_same_site: bool,
    /// How often the active-session gauge of /metrics is recounted, in seconds.
    #[arg(long, default_value_t = 15)]
    metrics_refresh_secs: u64,
    /// Seconds a connection may take to send a request head, and may stay idle between
    /// requests (keep-alive); then it is closed.
    #[arg(long, default_value_t = 10)]
    header_read_timeout_secs: u64,
    /// Seconds a request (body and handler) may take; then 503 and the connection closes.
    #[arg(long, default_value_t = 60)]
    request_timeout_secs: u64,
    /// Seconds a response write may make no progress before the connection is closed.
    #[arg(long, default_value_t = 30)]
    write_stall_timeout_secs: u64,
    /// Most connections served at once; more are refused with 503 at once.
    #[arg(long, default_value_t = 1024)]
    max_connections: usize,
    /// Most connections at once from one client address (IPv6: one /64); more are refused
    /// with 503 at once.
    #[arg(long, default_value_t = 128)]
    max_connections_per_address: usize,
    /// The largest request head (request line and headers, cookies included) in bytes; a
    /// larger one is answered 431 and its connection closed (at least 8192).
    #[arg(long, default_value_t = 64 * 1024)]
    max_header_bytes: usize,
    /// A reverse proxy in front of the server, an address or a network such as 10.0.0.0/8
    /// (repeatable, or comma-separated in SESSION_SERVER_TRUSTED_PROXIES): its
    /// X-Forwarded-For names the client that login throttling counts, and its connections
    /// are held to --max-connections only, not to the per-address cap.
    #[arg(
        long = "trusted-proxy",
        value_name = "IP[/BITS]",
        env = "SESSION_SERVER_TRUSTED_PROXIES",
        value_delimiter = ','
    )]
    trusted_proxies: Vec<session_http::serve::IpRange>,
    /// Seconds a shutdown waits for requests in flight.
    #[arg(long, default_value_t = 10)]
    drain_timeout_secs: u64,
    /// Idle timeout in seconds.
    #[arg(long, default_value_t = 1800)]
    idle_secs: u64,
    /// Absolute timeout in seconds.
    #[arg(long, default_value_t = 43200)]
    absolute_secs: u64,
    /// Secure cookies: true, false, or auto (secure unless listening on loopback). Behind a
    /// TLS-terminating proxy the server listens on plain HTTP and cannot tell: pass true
    /// there, or cookies go out without Secure (and are named `session`, not
    /// `__Host-session`), and the cross-origin check expects http:// origins.
    #[arg(long, default_value = "auto")]
    secure_cookies: String,
    /// When the store fails, carry on without a session instead of answering 503.
    #[arg(long)]
    continue_on_store_failure: bool,
    /// Read a password from standard input, print its Argon2id hash for a users file, exit.
    #[arg(long)]
    hash_password: bool,
}

#[tokio::main]
async fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        .with_writer(std::io::stderr)
        // Colour codes only for a person at a terminal who has not asked for none.
        .with_ansi(session_http::serve::use_colour())
        .init();
    let args = Args::parse();
    if args.hash_password {
        let mut password = String::new();
        if std::io::stdin().read_line(&mut password).is_err() {
            eprintln!("session-server: cannot read a password from standard input");
            return ExitCode::FAILURE;
        }
        return match users::hash_password(password.trim_end_matches(['\r', '\n'])) {
            Ok(hash) => {
                println!("{hash}");
                ExitCode::SUCCESS
            }
            Err(error) => {
                eprintln!("session-server: {error}");
                ExitCode::FAILURE
            }
        };
    }
    let secure_cookies = match args.secure_cookies.as_str() {
        "auto" => None,
        "true" => Some(true),
        "false" => Some(false),
        other => {
            eprintln!("session-server: --secure-cookies takes true, false or auto, not {other:?}");
            return ExitCode::FAILURE;
        }
    };
    let backoff = |free_attempts| Backoff {
        free_attempts,
        max: Duration::from_secs(args.login_max_wait_secs.max(1)),
        ..Backoff::PER_PRINCIPAL
    };
    let defaults = LoginLimits::default();
    let login = LoginLimits {
        per_user: backoff(args.login_free_attempts),
        per_address: (args.login_address_free_attempts > 0)
            .then(|| backoff(args.login_address_free_attempts)),
        hash_concurrency: args.hash_concurrency.unwrap_or(defaults.hash_concurrency),
        hash_wait: Duration::from_millis(args.hash_queue_ms),
        throttle_store: args.throttle_store,
    };
    let config = Config {
        store: args.store,
        data_dir: args.data_dir,
        listen: args.listen,
        users: args.users,
        users_file: args.users_file,
        users_env: std::env::var("SESSION_SERVER_USERS").ok(),
        max_sessions_per_user: args.max_sessions_per_user,
        login,
        trusted_origins: args.trusted_origins,
        allow_same_site: args.allow_same_site,
        metrics_refresh: Duration::from_secs(args.metrics_refresh_secs.max(1)),
        serve: ServeLimits::default()
            .with_header_read_timeout(Duration::from_secs(args.header_read_timeout_secs.max(1)))
            .with_request_timeout(Duration::from_secs(args.request_timeout_secs.max(1)))
            .with_write_stall_timeout(Duration::from_secs(args.write_stall_timeout_secs.max(1)))
            .with_max_connections(args.max_connections.max(1))
            .with_max_connections_per_address(args.max_connections_per_address.max(1))
            .with_max_header_bytes(args.max_header_bytes)
            .with_trusted_proxies(args.trusted_proxies)
            .with_drain_timeout(Duration::from_secs(args.drain_timeout_secs)),
        idle: Duration::from_secs(args.idle_secs),
        absolute: Duration::from_secs(args.absolute_secs),
        secure_cookies,
        continue_on_store_failure: args.continue_on_store_failure,
    };
    match serve(config).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("session-server: {error}");
            ExitCode::FAILURE
        }
    }
}
