//! # session-server
//!
//! The reference web application of the sessions workspace: password login, a session page
//! with a counter (for anonymous visitors too: their session begins with its first write,
//! and a login keeps its data under a new id), "your sessions" with revoke and
//! log-out-everywhere, and a JSON API — all on
//! [`session_http::server::SessionLayer`] over any store `session_stores::open` knows
//! (`memory:`, `file:DIR`, `sqlite:PATH`, `redis://…`, `encrypted:DIR`). By default the
//! sessions live in a SQLite file in the user's data directory, so they survive restarts.
//!
//! ## Routes
//!
//! | route | answer |
//! |---|---|
//! | `POST /api/login {"username","password"}` | 200 `{"principal"}` and a new session id in the cookie (an anonymous session's data is kept under it; a different user's is cleared) (in `x-session-id` instead, and no cookie, when the request carries `x-session-transport: header`); 401 `{"error"}`; 429 with `Retry-After` when throttled; 503 with `Retry-After` when too many logins are being checked |
//! | `GET /api/session` | `{"id_hash","principal","created_at","expires_at","attributes"}` (`principal` null for an anonymous session); 404 when there is no session |
//! | `POST /api/counter/{name}` | increments the attribute `counter:{name}`, `{"value"}`; for anyone: a visitor without a session gets one (and the cookie) |
//! | `GET /api/sessions` | `[{"id_hash","created_at","last_access","expires_at","current"}]` of the logged-in user; 401 when not logged in (as for the other routes of logged-in users; their pages answer browsers with a `303` to `/login`) |
//! | `DELETE /api/sessions/{id_hash}` | revokes one (204) |
//! | `POST /api/logout`, `POST /api/logout-everywhere` | ends this session, logged in or anonymous (204) / all of the user's (`{"revoked"}`) |
//! | `GET /login`, `POST /login` | the login form (with the form token of a pre-login session) and its post |
//! | `GET /session`, `POST /counter/{name}`, `GET /sessions`, `POST /sessions/{id_hash}/revoke`, `POST /logout`, `POST /logout-everywhere` | the HTML pages; every form carries the session's form token |
//! | `GET /healthz` | liveness: `ok`, never touches the store |
//! | `GET /readyz` | readiness: `ready`, or 503 when the store does not answer (a probe bounded to 2 s, reused for 1 s) |
//! | `GET /metrics` | Prometheus text: the active-session gauge (recounted in the background), store latency and errors, `session_events_total` including `login_failed`, `login_throttled`, `login_busy` and `suspicious_id` |
//!
//! Times are RFC 3339 strings; `id_hash` is the SHA-256 store key of the id, never the id.
//! API clients may send the id as `Authorization: Bearer <id>` instead of the cookie.
//!
//! ## Logs
//!
//! On stderr, filtered by `RUST_LOG` (default `info`), coloured only on a terminal without
//! `NO_COLOR`. Every request ends with one event, `answered`, in a `request` span:
//! `method`, `route` (the route template, e.g. `/api/sessions/{id_hash}`, or `unmatched`),
//! `session` (the first 12 hex digits of the store key of the id presented, the prefix of
//! its `id_hash`; never the id), `status` and `latency_ms`. Probes (`/healthz`, `/readyz`,
//! `/metrics`) are logged at DEBUG ([`request_log`]).
//!
//! ## Defaults against a hostile network
//!
//! | attack | what stops it | flag |
//! |---|---|---|
//! | connections that send half a request and stall | the serve loop closes a connection whose request head is not complete in 10 s (and idle keep-alive ones); requests get 60 s; connection caps in total (1024) and per address (128; a trusted reverse proxy is held to the total only) answer 503 at once | `--header-read-timeout-secs`, `--request-timeout-secs`, `--write-stall-timeout-secs`, `--max-connections`, `--max-connections-per-address`, `--trusted-proxy`, `--drain-timeout-secs` |
//! | password guessing | 5 free attempts per user name, then a wait doubling from 1 s to 5 min (429 `Retry-After`); 20 per client address likewise (behind a trusted reverse proxy, per client its `X-Forwarded-For` names); counts shared through Redis when the store is Redis | `--login-free-attempts`, `--login-address-free-attempts` (0: off), `--trusted-proxy`, `--login-max-wait-secs`, `--throttle-store` |
//! | a login flood eating memory (Argon2 takes 19 MiB a hash) | one hash per core at a time, others wait 2 s then 503 `Retry-After` | `--hash-concurrency`, `--hash-queue-ms` |
//! | telling real user names from unknown ones by timing | unknown names are checked against a dummy hash of the accounts' own parameters | — |
//! | cross-site requests riding the cookie (CSRF), login CSRF | the session layer refuses unsafe requests from other origins (Fetch Metadata, then `Origin`); every form carries a token kept in the session | `--trusted-origin`, `--allow-same-site` |
//! | reading the id from a response header in page scripts | the id goes in `x-session-id` only to clients that ask | — |
//! | a planted second cookie (cookie tossing) | several live ids presented at once give no session | — |
//! | one user hoarding sessions | at most 10 live sessions per user; a new login ends the least recently used | `--max-sessions-per-user` (0: no limit) |
//! | probes hammering the store | `/healthz` never touches it; `/readyz` is cached; `/metrics` counts in the background | `--metrics-refresh-secs` |
//!
//! Accounts: `--users FILE` (Argon2 hashes), the environment variable `SESSION_SERVER_USERS`
//! (one `NAME:PASSWORD` or `NAME:ARGON2_HASH` per line), or `--user NAME:PASSWORD` (visible
//! to other users of the machine in the process list).
//!
//! ## Example
//!
//! ```
//! # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
//! use session_server::{Config, serve};
//!
//! let config = Config {
//!     store: Some("memory:".into()),
//!     listen: "127.0.0.1:0".parse()?,
//!     users: vec!["alice:wonderland".into()],
//!     ..Config::default()
//! };
//! let server = session_server::Server::start(config).await?;
//! assert!(server.local_addr().port() != 0);
//! server.shutdown().await;
//! # let _ = serve;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! # }).unwrap();
//! ```

pub mod app;
pub mod health;
pub mod login;
pub mod metrics;
pub mod pages;
pub mod request_log;
pub mod users;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use session_core::{
    ExpiryPolicy, PrincipalLimit, SessionConfig, SessionManager, SessionStore, StoreConfig,
    WhenFull,
};
use session_http::serve::ServeLimits;
use session_http::server::{
    CookieConfig, CrossOriginProtection, HeaderTransport, SessionLayer, StoreFailurePolicy,
};

use crate::app::AppState;
use crate::health::{ActiveSessions, Readiness};
use crate::login::LoginLimits;
use crate::metrics::{StoreTimings, TimedStore};
use crate::users::Users;

/// Everything the server can be told.
#[derive(Clone, Debug)]
pub struct Config {
    /// The store URL; `None` for a SQLite file in `data_dir`.
    pub store: Option<String>,
    /// Where the default SQLite store lives (`None`: the user's data directory).
    pub data_dir: Option<PathBuf>,
    /// The address to listen on.
    pub listen: SocketAddr,
    /// `NAME:PASSWORD` accounts (hashed at start-up).
    pub users: Vec<String>,
    /// A file of `NAME:ARGON2_HASH` lines.
    pub users_file: Option<PathBuf>,
    /// Accounts from the environment (`SESSION_SERVER_USERS`): one `NAME:PASSWORD` or
    /// `NAME:ARGON2_HASH` per line.
    pub users_env: Option<String>,
    /// Most live sessions per user; a new login past it ends the least recently used one
    /// (`0`: no limit).
    pub max_sessions_per_user: usize,
    /// How the login is guarded (throttling, hashing bound).
    pub login: LoginLimits,
    /// Origins besides the server's own whose unsafe requests are accepted.
    pub trusted_origins: Vec<String>,
    /// Accept unsafe requests from sibling origins of the same site.
    pub allow_same_site: bool,
    /// How often the active-session gauge of `/metrics` is recounted.
    pub metrics_refresh: Duration,
    /// Timeouts and connection caps of the serve loop.
    pub serve: ServeLimits,
    /// Idle timeout.
    pub idle: Duration,
    /// Absolute timeout.
    pub absolute: Duration,
    /// `Secure` cookies (`None`: unless listening on a loopback address).
    pub secure_cookies: Option<bool>,
    /// Carry on without a session when the store fails (default: answer 503).
    pub continue_on_store_failure: bool,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            store: None,
            data_dir: None,
            listen: SocketAddr::from(([127, 0, 0, 1], 8080)),
            users: Vec::new(),
            users_file: None,
            users_env: None,
            max_sessions_per_user: 10,
            login: LoginLimits::default(),
            trusted_origins: Vec::new(),
            allow_same_site: false,
            metrics_refresh: Duration::from_secs(15),
            serve: ServeLimits::default(),
            idle: Duration::from_secs(30 * 60),
            absolute: Duration::from_secs(12 * 3600),
            secure_cookies: None,
            continue_on_store_failure: false,
        }
    }
}

/// Why the server could not start.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StartError {
    /// The accounts could not be loaded.
    #[error(transparent)]
    Users(#[from] users::UsersError),
    /// The store could not be opened.
    #[error("cannot open session store {url}: {source}")]
    Store {
        /// The URL.
        url: String,
        /// Why.
        source: session_stores::Error,
    },
    /// No random password could be made for the first-run account.
    #[error("cannot make a password for the demo account: {0}")]
    DemoAccount(String),
    /// No data directory for the default store.
    #[error(
        "cannot find a data directory for the default SQLite store; pass --data-dir or --store"
    )]
    NoDataDir,
    /// The data directory cannot be created.
    #[error("cannot create data directory {path}: {source}")]
    DataDir {
        /// The directory.
        path: String,
        /// Why.
        source: std::io::Error,
    },
    /// The login throttling counts' store cannot be used.
    #[error("cannot use login throttle store {url}: {reason}")]
    ThrottleStore {
        /// The URL, without a password.
        url: String,
        /// Why.
        reason: String,
    },
    /// No random key could be made for the readiness probe.
    #[error("cannot make a random key: {0}")]
    Random(#[from] session_core::IdError),
    /// The session layer configuration is invalid.
    #[error(transparent)]
    Layer(#[from] session_http::server::ConfigError),
    /// The address cannot be bound.
    #[error("cannot listen on {addr}: {source}")]
    Listen {
        /// The address.
        addr: SocketAddr,
        /// Why.
        source: std::io::Error,
    },
}

/// The store URL the configuration names (the SQLite default made concrete).
pub fn store_url(config: &Config) -> Result<String, StartError> {
    if let Some(url) = &config.store {
        return Ok(url.clone());
    }
    let dir = match &config.data_dir {
        Some(dir) => dir.clone(),
        None => dirs::data_dir()
            .ok_or(StartError::NoDataDir)?
            .join("session-server"),
    };
    create_private_dir(&dir).map_err(|source| StartError::DataDir {
        path: dir.display().to_string(),
        source,
    })?;
    Ok(format!("sqlite:{}", dir.join("sessions.sqlite3").display()))
}

fn create_private_dir(dir: &std::path::Path) -> std::io::Result<()> {
    use std::os::unix::fs::DirBuilderExt;
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
}

/// A running server.
#[derive(Debug)]
pub struct Server {
    addr: SocketAddr,
    shutdown: tokio::sync::oneshot::Sender<()>,
    task: tokio::task::JoinHandle<()>,
}

impl Server {
    /// Opens the store, binds the address and serves in a background task.
    pub async fn start(config: Config) -> Result<Server, StartError> {
        let Built {
            router,
            url,
            manager,
            store,
            active,
        } = build(&config).await?;
        let listener = tokio::net::TcpListener::bind(config.listen)
            .await
            .map_err(|source| StartError::Listen {
                addr: config.listen,
                source,
            })?;
        let addr = listener.local_addr().map_err(|source| StartError::Listen {
            addr: config.listen,
            source,
        })?;
        tracing::info!(%addr, store = %redact_url(&url), "session-server listening");
        let (shutdown, stopped) = tokio::sync::oneshot::channel::<()>();
        let sweeper = tokio::spawn(sweep_expired(manager));
        let counter = tokio::spawn(health::refresh_active_sessions(
            store,
            active,
            config.metrics_refresh,
        ));
        let limits = config.serve.clone();
        let task = tokio::spawn(async move {
            let drained = session_http::serve::serve(listener, router, limits, async {
                let _ = stopped.await;
            })
            .await;
            if drained.cut > 0 {
                tracing::warn!(cut = drained.cut, "connections cut at shutdown");
            }
            sweeper.abort();
            counter.abort();
        });
        Ok(Server {
            addr,
            shutdown,
            task,
        })
    }

    /// The address it listens on.
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// Stops accepting connections, finishes the requests in flight and returns.
    pub async fn shutdown(self) {
        let _ = self.shutdown.send(());
        let _ = self.task.await;
    }
}

/// Serves until SIGTERM or Ctrl-C, then shuts down gracefully.
pub async fn serve(config: Config) -> Result<(), StartError> {
    let server = Server::start(config).await?;
    println!("session-server listening on http://{}", server.local_addr());
    shutdown_signal().await;
    tracing::info!("shutting down");
    server.shutdown().await;
    Ok(())
}

async fn shutdown_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
        Ok(mut term) => {
            tokio::select! {
                _ = ctrl_c => {}
                _ = term.recv() => {}
            }
        }
        Err(_) => {
            let _ = ctrl_c.await;
        }
    }
}

/// A store URL with any password removed, for logs.
pub fn redact_url(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme_end), Some(at)) if at > scheme_end => {
            format!("{}://***{}", &url[..scheme_end], &url[at..])
        }
        _ => url.to_owned(),
    }
}

/// Removes expired sessions from the store every minute (stores never return expired
/// sessions anyway; this reclaims their space).
async fn sweep_expired(manager: SessionManager) {
    let mut every_minute = tokio::time::interval(Duration::from_secs(60));
    every_minute.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        every_minute.tick().await;
        match manager.store().delete_expired().await {
            Ok(0) => {}
            Ok(removed) => tracing::debug!(removed, "expired sessions removed"),
            Err(error) => tracing::warn!(error = %error, "removing expired sessions failed"),
        }
    }
}

/// With no accounts configured, one account `demo` with a random password, shown once on the
/// terminal (never logged), so that a first run can be tried at once.
fn demo_account() -> Result<Users, StartError> {
    let secret = session_core::SessionId::generate()
        .map_err(|e| StartError::DemoAccount(e.to_string()))?
        .expose_secret();
    let password = &secret[..20];
    eprintln!(
        "session-server: no accounts configured (--user NAME:PASSWORD or --users FILE); \
         for this run you can log in as \"demo\" with password \"{password}\""
    );
    Ok(Users::load(&[format!("demo:{password}")], None, None)?)
}

/// What [`build`] makes: the application and what its background tasks need.
struct Built {
    router: axum::Router,
    url: String,
    manager: SessionManager,
    /// The store itself, without the timing wrapper (background work is not traffic).
    store: Arc<dyn SessionStore>,
    active: Arc<ActiveSessions>,
}

async fn build(config: &Config) -> Result<Built, StartError> {
    let mut users = Users::load(
        &config.users,
        config.users_file.as_deref(),
        config.users_env.as_deref(),
    )?;
    if users.is_empty() {
        users = demo_account()?;
    }
    let url = store_url(config)?;
    let events = session_core::Events::new();
    let store_config = StoreConfig {
        events: events.clone(),
        principal_limit: (config.max_sessions_per_user > 0).then_some(PrincipalLimit {
            max: config.max_sessions_per_user,
            when_full: WhenFull::EvictOldest,
        }),
        ..StoreConfig::default()
    };
    let store = session_stores::open(&url, store_config)
        .await
        .map_err(|source| StartError::Store {
            url: redact_url(&url),
            source,
        })?;
    let timings = Arc::new(StoreTimings::default());
    let timed = Arc::new(TimedStore::new(store.clone(), timings.clone()));
    let manager = SessionManager::new(
        timed,
        SessionConfig {
            expiry: ExpiryPolicy::idle(config.idle).with_absolute(config.absolute),
            events: events.clone(),
            ..SessionConfig::default()
        },
    );
    let secure = config
        .secure_cookies
        .unwrap_or_else(|| !config.listen.ip().is_loopback());
    let cookie = CookieConfig {
        name: if secure { "__Host-session" } else { "session" }.to_owned(),
        secure,
        ..CookieConfig::default()
    };
    tracing::info!(
        cookie = %cookie.name,
        secure = cookie.secure,
        http_only = cookie.http_only,
        same_site = ?cookie.same_site,
        path = %cookie.path,
        "session cookie attributes"
    );
    if !secure {
        tracing::info!(
            "session cookies are not Secure; behind a TLS-terminating proxy pass --secure-cookies true"
        );
    }
    let cross_origin = CrossOriginProtection {
        trusted_origins: config.trusted_origins.clone(),
        allow_same_site: config.allow_same_site,
        ..CrossOriginProtection::default()
    };
    let cookie_name = cookie.name.clone();
    let layer = SessionLayer::builder(manager.clone())
        .cookie(cookie)
        .header(HeaderTransport::bearer())
        .cross_origin(cross_origin)
        .login_path("/login")
        .on_store_failure(if config.continue_on_store_failure {
            StoreFailurePolicy::ContinueWithoutSession
        } else {
            StoreFailurePolicy::FailClosed
        })
        .build()?;
    let login = login::guarded_login(users, &config.login, &url, events).await?;
    let active = Arc::new(ActiveSessions::default());
    let state = AppState {
        manager: manager.clone(),
        login: Arc::new(login),
        login_limits: Arc::new(config.login.clone()),
        timings,
        readiness: Arc::new(Readiness::new(store.clone())?),
        active: active.clone(),
        trusted_proxies: config.serve.trusted_proxies.clone().into(),
    };
    Ok(Built {
        router: request_log::wrap(app::router(state, layer), cookie_name),
        url,
        manager,
        store,
        active,
    })
}
