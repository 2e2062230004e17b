//! The handlers' work on this project's session (`counter.rs` has tower-sessions' side), and
//! the two layers as every benchmark configures them.

use std::sync::Arc;

use session_core::{ExpiryPolicy, SessionConfig, SessionManager, SessionStore};
use session_http::server::{CookieConfig, SessionLayer};

#[path = "counter.rs"]
mod counter;
pub(crate) use counter::{CounterSession, IDLE, respond};

impl CounterSession for session_http::server::Session {
    async fn counter(&self) -> u64 {
        self.get::<u64>("n").await.ok().flatten().unwrap_or(0)
    }
    async fn start_counter(&self) {
        if let Err(e) = self.insert("n", &1u64).await {
            panic!("insert: {e}")
        }
    }
    async fn increment(&self) -> u64 {
        // An addition the store applies in one step: concurrent increments all count.
        match self.add("n", 1).await {
            Ok(n) => u64::try_from(n).unwrap_or(0),
            Err(e) => panic!("add: {e}"),
        }
    }
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
