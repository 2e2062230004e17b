//! Where login throttling keeps its counts: the [`ThrottleState`] trait and the in-memory
//! implementation for a single process (a Redis one in `session-stores` lets several
//! processes share them).

use std::collections::HashMap;
use std::fmt;
use std::sync::Mutex;
use std::time::Duration;

use async_trait::async_trait;

use super::backoff::{AttemptState, Backoff, Decision};
use crate::clock::Timestamp;
use crate::error::Result;

/// Storage for throttling state, keyed by opaque strings (digests of a principal or of a
/// client address). Implementations only need an atomic compare-and-swap; the arithmetic is
/// [`Backoff`]'s.
#[async_trait]
pub trait ThrottleState: Send + Sync + fmt::Debug {
    /// The state kept under `key`, if any.
    async fn load(&self, key: &str) -> Result<Option<AttemptState>>;

    /// Stores `new` under `key` if the key still holds `expected` (`None`: nothing), and keeps
    /// it for at least `keep_for`; returns whether it did.
    async fn compare_and_swap(
        &self,
        key: &str,
        expected: Option<AttemptState>,
        new: AttemptState,
        keep_for: Duration,
    ) -> Result<bool>;

    /// Forgets `key` (after a successful login).
    async fn clear(&self, key: &str) -> Result<()>;
}

/// How often [`register_attempt`] retries a compare-and-swap that lost a race before it
/// refuses the attempt as too busy.
const SWAP_ATTEMPTS: usize = 16;

/// Counts an attempt against `key` if `backoff` allows it at `now`, atomically with respect
/// to every other process sharing `state`.
pub async fn register_attempt(
    state: &dyn ThrottleState,
    backoff: &Backoff,
    key: &str,
    now: Timestamp,
) -> Result<Decision> {
    for _ in 0..SWAP_ATTEMPTS {
        let current = state.load(key).await?;
        match backoff.decide(current, now) {
            Decision::Wait(wait) => return Ok(Decision::Wait(wait)),
            Decision::Allow(next) => {
                if state
                    .compare_and_swap(key, current, next, backoff.forget_after)
                    .await?
                {
                    return Ok(Decision::Allow(next));
                }
            }
        }
    }
    // So many concurrent attempts on one key that the swap keeps losing: that is a flood.
    Ok(Decision::Wait(backoff.base))
}

/// Takes back one attempt counted against `key` (the attempt succeeded), so that a key
/// shared by many honest clients — an office behind one address — counts failures only.
pub async fn refund_attempt(state: &dyn ThrottleState, backoff: &Backoff, key: &str) -> Result<()> {
    for _ in 0..SWAP_ATTEMPTS {
        let Some(current) = state.load(key).await? else {
            return Ok(());
        };
        if current.failures == 0 {
            return Ok(());
        }
        let refunded = AttemptState {
            failures: current.failures - 1,
            ..current
        };
        if state
            .compare_and_swap(key, Some(current), refunded, backoff.forget_after)
            .await?
        {
            return Ok(());
        }
    }
    Ok(())
}

/// Throttling state in this process's memory, bounded: when full, entries past their keep
/// time go first, then the least recently tried.
pub struct MemoryThrottleState {
    entries: Mutex<HashMap<String, Entry>>,
    capacity: usize,
}

#[derive(Clone, Copy)]
struct Entry {
    state: AttemptState,
    keep_until: Timestamp,
}

impl MemoryThrottleState {
    /// The default capacity: 100 000 keys (a few MiB).
    pub const DEFAULT_CAPACITY: usize = 100_000;

    /// An empty state of the default capacity.
    pub fn new() -> Self {
        Self::with_capacity(Self::DEFAULT_CAPACITY)
    }

    /// An empty state holding at most `capacity` keys (at least one).
    pub fn with_capacity(capacity: usize) -> Self {
        MemoryThrottleState {
            entries: Mutex::new(HashMap::new()),
            capacity: capacity.max(1),
        }
    }

    /// How many keys are kept.
    pub fn len(&self) -> usize {
        self.lock().len()
    }

    /// Whether no key is kept.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Entry>> {
        match self.entries.lock() {
            Ok(guard) => guard,
            Err(poisoned) => poisoned.into_inner(),
        }
    }
}

impl Default for MemoryThrottleState {
    fn default() -> Self {
        Self::new()
    }
}

impl fmt::Debug for MemoryThrottleState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MemoryThrottleState")
            .field("keys", &self.len())
            .field("capacity", &self.capacity)
            .finish()
    }
}

/// Makes room for one more entry at `now`: drops what is past its keep time, and when that is
/// not enough, the least recently tried entry.
fn make_room(entries: &mut HashMap<String, Entry>, capacity: usize, now: Timestamp) {
    if entries.len() < capacity {
        return;
    }
    entries.retain(|_, entry| entry.keep_until > now);
    if entries.len() >= capacity
        && let Some(oldest) = entries
            .iter()
            .min_by_key(|(_, entry)| entry.state.last)
            .map(|(key, _)| key.clone())
    {
        entries.remove(&oldest);
    }
}

#[async_trait]
impl ThrottleState for MemoryThrottleState {
    async fn load(&self, key: &str) -> Result<Option<AttemptState>> {
        Ok(self.lock().get(key).map(|entry| entry.state))
    }

    async fn compare_and_swap(
        &self,
        key: &str,
        expected: Option<AttemptState>,
        new: AttemptState,
        keep_for: Duration,
    ) -> Result<bool> {
        let mut entries = self.lock();
        if entries.get(key).map(|entry| entry.state) != expected {
            return Ok(false);
        }
        if expected.is_none() {
            make_room(&mut entries, self.capacity, new.last);
        }
        entries.insert(
            key.to_owned(),
            Entry {
                state: new,
                keep_until: new.last.saturating_add(keep_for),
            },
        );
        Ok(true)
    }

    async fn clear(&self, key: &str) -> Result<()> {
        self.lock().remove(key);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(millis: u64) -> AttemptState {
        AttemptState {
            failures: 1,
            last: Timestamp::from_millis(millis),
        }
    }

    #[cfg(feature = "testkit")]
    #[tokio::test]
    async fn compare_and_swap_only_replaces_what_was_expected() {
        let state = MemoryThrottleState::new();
        crate::testkit::throttle_state::compare_and_swap_replaces_only_what_was_expected(
            &state, "k",
        )
        .await;
        state.clear("k").await.unwrap();
        assert_eq!(state.load("k").await.unwrap(), None);
    }

    #[tokio::test]
    async fn a_full_state_drops_expired_then_least_recent_keys() {
        let state = MemoryThrottleState::with_capacity(3);
        let add = |key: &'static str, millis: u64, keep_ms: u64| {
            let state = &state;
            async move {
                let keep = Duration::from_millis(keep_ms);
                state.compare_and_swap(key, None, at(millis), keep).await
            }
        };
        assert!(add("a", 1_000, 100).await.unwrap());
        assert!(add("b", 2_000, 1_000).await.unwrap());
        assert!(add("c", 2_050, 1_000).await.unwrap());
        // At 2 120 "a" is past its keep time; "b" and "c" stay.
        assert!(add("d", 2_120, 1_000).await.unwrap());
        assert_eq!(state.len(), 3);
        assert_eq!(state.load("a").await.unwrap(), None);
        // Nothing is past its keep time at 2 130: the least recently tried ("b") goes.
        assert!(add("e", 2_130, 1_000).await.unwrap());
        assert_eq!(state.load("b").await.unwrap(), None);
        assert!(state.load("c").await.unwrap().is_some());
    }

    #[tokio::test]
    async fn concurrent_attempts_each_count_once() {
        let state = std::sync::Arc::new(MemoryThrottleState::new());
        let backoff = Backoff {
            free_attempts: 1_000,
            ..Backoff::PER_PRINCIPAL
        };
        let now = Timestamp::from_millis(10_000);
        let tasks: Vec<_> = (0..50)
            .map(|_| {
                let state = state.clone();
                tokio::spawn(
                    async move { register_attempt(state.as_ref(), &backoff, "k", now).await },
                )
            })
            .collect();
        for task in tasks {
            assert!(matches!(task.await.unwrap().unwrap(), Decision::Allow(_)));
        }
        assert_eq!(state.load("k").await.unwrap().unwrap().failures, 50);
    }
}
