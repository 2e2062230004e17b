//! What the HTTP benchmarks' handlers do with a session, written once for this project's
//! layer and for tower-sessions', and the two layers as every benchmark configures them.

use std::sync::Arc;
use std::time::Duration;

use session_core::{ExpiryPolicy, SessionConfig, SessionManager, SessionStore};
use session_http::server::{CookieConfig, SessionLayer};

/// Idle expiry of every benchmarked session.
pub(crate) const IDLE: Duration = Duration::from_secs(30 * 60);

/// The counter a scenario reads and writes, behind either layer's session type.
pub(crate) trait CounterSession {
    /// The stored counter (0 when absent).
    async fn counter(&self) -> u64;
    /// Stores the counter.
    async fn set_counter(&self, n: u64);
}

impl CounterSession for session_http::server::Session {
    async fn counter(&self) -> u64 {
        self.get::<u64>("n").await.ok().flatten().unwrap_or(0)
    }
    async fn set_counter(&self, n: u64) {
        if let Err(e) = self.insert("n", &n).await {
            panic!("insert: {e}")
        }
    }
}

impl CounterSession for tower_sessions::Session {
    async fn counter(&self) -> u64 {
        self.get::<u64>("n").await.ok().flatten().unwrap_or(0)
    }
    async fn set_counter(&self, n: u64) {
        if let Err(e) = self.insert("n", n).await {
            panic!("insert: {e}")
        }
    }
}

/// The response body of a scenario's path: `/new` stores 1 in a new session, `/read` reads
/// the counter, `/write` increments it; anything else does not touch the session.
pub(crate) async fn respond(path: &str, session: &impl CounterSession) -> String {
    let n = match path {
        "/new" => 1,
        "/read" => return session.counter().await.to_string(),
        "/write" => session.counter().await + 1,
        _ => return "hello".to_owned(),
    };
    session.set_counter(n).await;
    n.to_string()
}

/// This project's layer over `store`: idle expiry, the default cookie without `Secure`
/// (the benchmarks speak plain HTTP).
pub(crate) fn our_layer(store: Arc<dyn SessionStore>) -> SessionLayer {
    let manager = SessionManager::new(
        store,
        SessionConfig {
            expiry: ExpiryPolicy::idle(IDLE),
            ..SessionConfig::default()
        },
    );
    SessionLayer::builder(manager)
        .cookie(CookieConfig {
            secure: false,
            ..CookieConfig::default()
        })
        .build()
        .unwrap_or_else(|e| panic!("{e}"))
}

/// tower-sessions' layer over its memory store, configured alike.
pub(crate) fn tower_sessions_layer()
-> tower_sessions::SessionManagerLayer<tower_sessions::MemoryStore> {
    tower_sessions::SessionManagerLayer::new(tower_sessions::MemoryStore::default())
        .with_secure(false)
        .with_expiry(tower_sessions::Expiry::OnInactivity(
            tower_sessions::cookie::time::Duration::seconds(IDLE.as_secs() as i64),
        ))
}
