//! Liveness, readiness and the active-session gauge, kept off the store's request path.
//!
//! `/healthz` answers from the process alone (a store that reads every file to count
//! sessions must not be hit by every probe). `/readyz` asks the store one cheap question —
//! load a key that does not exist — under a timeout, and keeps the answer for a moment, so
//! a storm of probes costs one store call per moment. The active-session count for
//! `/metrics` is refreshed by a background task, never by a scrape.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use session_core::{SessionId, SessionKey, SessionStore};
use tokio::sync::Mutex;

/// How long a readiness answer is reused.
const READINESS_FRESH_FOR: Duration = Duration::from_secs(1);
/// How long the readiness probe and the count may take.
const STORE_PROBE_TIMEOUT: Duration = Duration::from_secs(2);

/// The cached readiness probe.
pub struct Readiness {
    store: Arc<dyn SessionStore>,
    probe_key: SessionKey,
    last: Mutex<Option<(Instant, bool)>>,
}

impl Readiness {
    /// A probe of `store`.
    pub fn new(store: Arc<dyn SessionStore>) -> Result<Self, session_core::IdError> {
        Ok(Readiness {
            store,
            probe_key: SessionId::generate()?.key(),
            last: Mutex::new(None),
        })
    }

    /// Whether the store answers. Concurrent callers share one probe.
    pub async fn is_ready(&self) -> bool {
        let mut last = self.last.lock().await;
        if let Some((at, ready)) = *last
            && at.elapsed() < READINESS_FRESH_FOR
        {
            return ready;
        }
        let ready =
            match tokio::time::timeout(STORE_PROBE_TIMEOUT, self.store.load(&self.probe_key)).await
            {
                Ok(Ok(_)) => true,
                Ok(Err(error)) => {
                    tracing::warn!(error = %error, "readiness: the session store failed");
                    false
                }
                Err(_) => {
                    tracing::warn!("readiness: the session store did not answer in time");
                    false
                }
            };
        *last = Some((Instant::now(), ready));
        ready
    }
}

impl std::fmt::Debug for Readiness {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Readiness").finish_non_exhaustive()
    }
}

/// The number of live sessions, as last counted in the background.
#[derive(Debug, Default)]
pub struct ActiveSessions {
    /// The count plus one; zero until the first count succeeds.
    count_plus_one: AtomicU64,
}

impl ActiveSessions {
    /// The last count, if any succeeded.
    pub fn get(&self) -> Option<u64> {
        self.count_plus_one.load(Ordering::Relaxed).checked_sub(1)
    }

    fn set(&self, count: u64) {
        self.count_plus_one
            .store(count.saturating_add(1), Ordering::Relaxed);
    }
}

/// Counts the live sessions of `store` into `gauge` every `every`, for as long as it runs.
pub async fn refresh_active_sessions(
    store: Arc<dyn SessionStore>,
    gauge: Arc<ActiveSessions>,
    every: Duration,
) {
    let mut ticks = tokio::time::interval(every);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        ticks.tick().await;
        match tokio::time::timeout(STORE_PROBE_TIMEOUT.max(every), store.count()).await {
            Ok(Ok(count)) => gauge.set(count),
            Ok(Err(error)) => tracing::warn!(error = %error, "counting sessions failed"),
            Err(_) => tracing::warn!("counting sessions took too long"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_gauge_is_unknown_until_counted() {
        let gauge = ActiveSessions::default();
        assert_eq!(gauge.get(), None);
        gauge.set(0);
        assert_eq!(gauge.get(), Some(0));
        gauge.set(41);
        assert_eq!(gauge.get(), Some(41));
    }
}
