//! What the HTTP benchmarks' handlers do with a session, written once for every layer: this
//! project's, and tower-sessions' over any of its stores (the peer servers in `benches/peers`
//! include this file too).

use std::time::Duration;

/// Idle expiry of every benchmarked session.
pub(crate) const IDLE: Duration = Duration::from_secs(30 * 60);

/// The counter a scenario reads and writes, behind a layer's session type.
pub(crate) trait CounterSession {
    /// The stored counter (0 when absent).
    async fn counter(&self) -> u64;
    /// Stores 1 in a new session.
    async fn start_counter(&self);
    /// Adds one to the counter, the best way the layer offers; returns the new value as this
    /// request sees it.
    async fn increment(&self) -> u64;
}

impl CounterSession for tower_sessions::Session {
    async fn counter(&self) -> u64 {
        self.get::<u64>("n").await.ok().flatten().unwrap_or(0)
    }
    async fn start_counter(&self) {
        if let Err(e) = self.insert("n", 1u64).await {
            panic!("insert: {e}")
        }
    }
    async fn increment(&self) -> u64 {
        // tower-sessions has no atomic operation: read, then write back the whole record.
        let n = self.counter().await + 1;
        if let Err(e) = self.insert("n", n).await {
            panic!("insert: {e}")
        }
        n
    }
}

/// The response body of a scenario's path: `/new` stores 1 in a new session, `/read` reads
/// the counter, `/write` increments it; anything else does not touch the session.
pub(crate) async fn respond(path: &str, session: &impl CounterSession) -> String {
    match path {
        "/new" => {
            session.start_counter().await;
            "1".to_owned()
        }
        "/read" => session.counter().await.to_string(),
        "/write" => session.increment().await.to_string(),
        _ => "hello".to_owned(),
    }
}
