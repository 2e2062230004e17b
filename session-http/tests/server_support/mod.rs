//! Shared by the server_* integration tests: a store that counts and fails on demand, an
//! axum test app served on loopback, and the loopback HTTP client.
#![allow(dead_code, unreachable_pub, missing_docs)]

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use axum::extract::{Path, State};
use axum::routing::{get, post};
use axum::{Extension, Router};
use http::StatusCode;
use session_core::{
    Error, ExpiryPolicy, HookedStore, MemoryStore, MockClock, Result, SessionConfig,
    SessionManager, SessionStore, StoreHook, StoreOperation,
};
use session_http::server::{Session, SessionLayer, SessionLayerBuilder};
use tokio::sync::{Barrier, Notify, Semaphore};

/// A MemoryStore that counts per-session operations and fails each while `fail` is set.
pub type ProbeStore = HookedStore<MemoryStore, Probe>;

/// The probe's counter and failure switch (shared by clones).
#[derive(Debug, Clone, Default)]
pub struct Probe {
    pub ops: Arc<AtomicU64>,
    pub fail: Arc<AtomicBool>,
}

pub fn probe_store(clock: &MockClock) -> ProbeStore {
    HookedStore::new(
        MemoryStore::builder().clock(clock.shared()).build(),
        Probe::default(),
    )
}

impl StoreHook for Probe {
    fn before(&self, operation: StoreOperation) -> Result<()> {
        if !operation.is_per_session() {
            return Ok(());
        }
        self.ops.fetch_add(1, Ordering::SeqCst);
        if self.fail.load(Ordering::SeqCst) {
            // A detail no response may leak.
            return Err(Error::backend(
                "probe",
                operation.name(),
                std::io::Error::other("secret backend detail 10.0.0.7:6379"),
            ));
        }
        Ok(())
    }
}

/// The idle timeout of the test app's sessions.
pub const IDLE: Duration = Duration::from_secs(30 * 60);
/// The absolute timeout of the test app's sessions.
pub const ABSOLUTE: Duration = Duration::from_secs(2 * 3600);
/// The idle timeout, and no absolute one, that `/remember-me` gives a session.
pub const REMEMBERED: Duration = Duration::from_secs(14 * 24 * 3600);

pub struct TestApp {
    pub addr: SocketAddr,
    pub clock: MockClock,
    pub store: ProbeStore,
    pub manager: SessionManager,
    /// Signalled when `/gated-set` has loaded the session.
    pub loaded: Arc<Notify>,
    /// `/gated-set` writes once a permit is added here.
    pub gate: Arc<Semaphore>,
    server: tokio::task::JoinHandle<()>,
}

impl Drop for TestApp {
    fn drop(&mut self) {
        self.server.abort();
    }
}

impl TestApp {
    pub fn ops(&self) -> u64 {
        self.store.hook().ops.load(Ordering::SeqCst)
    }
    pub async fn count(&self) -> u64 {
        self.store.inner().count().await.unwrap()
    }
}

#[derive(Clone)]
struct AppState {
    manager: SessionManager,
    barrier: Arc<Barrier>,
    loaded: Arc<Notify>,
    gate: Arc<Semaphore>,
}

fn err(e: Error) -> (StatusCode, String) {
    (
        StatusCode::INTERNAL_SERVER_ERROR,
        format!("handler saw: {e}"),
    )
}

/// Starts the test app with the layer the closure builds from the default builder.
pub async fn start(configure: impl FnOnce(SessionLayerBuilder) -> SessionLayerBuilder) -> TestApp {
    let clock = MockClock::new();
    let store = probe_store(&clock);
    let manager = SessionManager::new(
        Arc::new(store.clone()),
        SessionConfig {
            expiry: ExpiryPolicy::idle(IDLE).with_absolute(ABSOLUTE),
            clock: clock.shared(),
            ..SessionConfig::default()
        },
    );
    let layer = configure(SessionLayer::builder(manager.clone()))
        .build()
        .unwrap();
    let state = AppState {
        manager: manager.clone(),
        barrier: Arc::new(Barrier::new(2)),
        loaded: Arc::new(Notify::new()),
        gate: Arc::new(Semaphore::new(0)),
    };
    let (loaded, gate) = (state.loaded.clone(), state.gate.clone());
    let router =
        Router::new()
            .route("/unused", get(|| async { "hello" }))
            .route(
                "/get/{key}",
                get(
                    |Extension(s): Extension<Session>, Path(key): Path<String>| async move {
                        let value = s.get::<serde_json::Value>(&key).await.map_err(err)?;
                        Ok::<_, (StatusCode, String)>(
                            value.map(|v| v.to_string()).unwrap_or_default(),
                        )
                    },
                ),
            )
            .route(
                "/set/{key}/{value}",
                post(
                    |Extension(s): Extension<Session>,
                     Path((key, value)): Path<(String, String)>| async move {
                        s.insert(&key, &value).await.map_err(err)?;
                        Ok::<_, (StatusCode, String)>("ok")
                    },
                ),
            )
            .route(
                "/incr/{key}",
                post(
                    |Extension(s): Extension<Session>, Path(key): Path<String>| async move {
                        let n = s.get::<u64>(&key).await.map_err(err)?.unwrap_or(0) + 1;
                        s.insert(&key, &n).await.map_err(err)?;
                        Ok::<_, (StatusCode, String)>(n.to_string())
                    },
                ),
            )
            .route(
                "/login/{user}",
                post(
                    |Extension(s): Extension<Session>, Path(user): Path<String>| async move {
                        s.log_in(&user).await.map_err(err)?;
                        Ok::<_, (StatusCode, String)>("welcome")
                    },
                ),
            )
            .route(
                "/remember-me",
                post(|Extension(s): Extension<Session>| async move {
                    s.set_expiry(ExpiryPolicy::idle(REMEMBERED)).await.map_err(err)?;
                    Ok::<_, (StatusCode, String)>("remembered")
                }),
            )
            .route(
                "/whoami",
                get(|Extension(s): Extension<Session>| async move {
                    Ok::<_, (StatusCode, String)>(
                        s.principal().await.map_err(err)?.unwrap_or_default(),
                    )
                }),
            )
            .route(
                "/logout",
                post(|Extension(s): Extension<Session>| async move {
                    s.invalidate().await.map_err(err)?;
                    Ok::<_, (StatusCode, String)>("bye")
                }),
            )
            .route(
                "/logout-everywhere",
                post(
                    |State(state): State<AppState>, Extension(s): Extension<Session>| async move {
                        let principal = s.principal().await.map_err(err)?.unwrap_or_default();
                        let index =
                            state.manager.store().principal_index().ok_or_else(|| {
                                (StatusCode::NOT_IMPLEMENTED, "no index".to_owned())
                            })?;
                        let n = index.revoke_all(&principal, None).await.map_err(err)?;
                        s.invalidate().await.map_err(err)?;
                        Ok::<_, (StatusCode, String)>(n.to_string())
                    },
                ),
            )
            .route(
                "/form-token",
                get(|Extension(s): Extension<Session>| async move {
                    s.csrf_token().await.map_err(err)
                }),
            )
            .route(
                "/form-post/{token}",
                post(
                    |Extension(s): Extension<Session>, Path(token): Path<String>| async move {
                        if s.verify_csrf_token(&token).await.map_err(err)? {
                            Ok("accepted")
                        } else {
                            Err((StatusCode::FORBIDDEN, "bad form token".to_owned()))
                        }
                    },
                ),
            )
            .route(
                "/write-then-fail",
                post(|Extension(s): Extension<Session>| async move {
                    s.insert("doomed", &1).await.map_err(err)?;
                    Err::<&str, _>((StatusCode::INTERNAL_SERVER_ERROR, "boom".to_owned()))
                }),
            )
            .route(
                "/slow-set/{key}/{value}",
                post(
                    |State(state): State<AppState>,
                     Extension(s): Extension<Session>,
                     Path((key, value)): Path<(String, String)>| async move {
                        // Load first, wait for the other request to load too, then write.
                        let _ = s.get::<String>(&key).await.map_err(err)?;
                        state.barrier.wait().await;
                        s.insert(&key, &value).await.map_err(err)?;
                        Ok::<_, (StatusCode, String)>("set")
                    },
                ),
            )
            .route(
                "/gated-set/{key}/{value}",
                post(
                    |State(state): State<AppState>,
                     Extension(s): Extension<Session>,
                     Path((key, value)): Path<(String, String)>| async move {
                        let _ = s.get::<String>(&key).await.map_err(err)?;
                        state.loaded.notify_one();
                        let _permit = state.gate.acquire().await;
                        s.insert(&key, &value).await.map_err(err)?;
                        Ok::<_, (StatusCode, String)>("set")
                    },
                ),
            )
            .with_state(state)
            .layer(layer);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let server = tokio::spawn(async move {
        let _ = axum::serve(listener, router).await;
    });
    TestApp {
        addr,
        clock,
        store,
        manager,
        loaded,
        gate,
        server,
    }
}

pub use test_support::http::Reply;

/// Sends one request over a fresh loopback connection.
pub async fn send(addr: SocketAddr, method: &str, path: &str, headers: &[(&str, &str)]) -> Reply {
    test_support::http::send(addr, method, path, headers, None).await
}

/// The `Max-Age` of a `Set-Cookie` value.
pub fn max_age(set_cookie: &str) -> Option<u64> {
    set_cookie
        .split(';')
        .find_map(|part| part.trim().strip_prefix("Max-Age="))
        .map(|v| v.parse().unwrap())
}

/// The attributes of a `Set-Cookie` after its value and `Max-Age`/`Expires`.
pub fn attributes(set_cookie: &str) -> Vec<String> {
    set_cookie
        .split(';')
        .skip(1)
        .map(|p| p.trim().to_owned())
        .filter(|p| !p.starts_with("Max-Age=") && !p.starts_with("Expires="))
        .collect()
}
