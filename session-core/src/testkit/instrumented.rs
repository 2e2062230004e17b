//! A store wrapper for testing code that sits on top of a store (session handles, middleware):
//! it counts operations and can be switched to fail.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use crate::error::{Error, Result};
use crate::hooked_store::{HookedStore, StoreHook, StoreOperation};

/// Operation counters of an [`InstrumentedStore`].
#[derive(Debug, Default)]
pub struct OperationCounts {
    /// `create` calls.
    pub creates: AtomicU64,
    /// `load` calls.
    pub loads: AtomicU64,
    /// `save` calls.
    pub saves: AtomicU64,
    /// `touch` calls.
    pub touches: AtomicU64,
    /// `delete` calls.
    pub deletes: AtomicU64,
    /// `cycle_id` calls.
    pub cycles: AtomicU64,
}

impl OperationCounts {
    /// All calls that write (create, save, touch, delete, cycle_id).
    pub fn writes(&self) -> u64 {
        [
            &self.creates,
            &self.saves,
            &self.touches,
            &self.deletes,
            &self.cycles,
        ]
        .iter()
        .map(|c| c.load(Ordering::SeqCst))
        .sum()
    }

    /// All calls of any kind.
    pub fn total(&self) -> u64 {
        self.writes() + self.loads.load(Ordering::SeqCst)
    }
}

/// A store that counts every per-session operation and fails each while
/// [`set_failing`](InstrumentedStore::set_failing) is on (as a backend outage would);
/// upkeep and admin operations (`delete_expired`, `list`, `count`) pass through.
pub type InstrumentedStore<S> = HookedStore<S, Instruments>;

/// The [`StoreHook`] of an [`InstrumentedStore`]: its counters and its failure switch, shared
/// by clones.
#[derive(Debug, Clone, Default)]
pub struct Instruments {
    counts: Arc<OperationCounts>,
    failing: Arc<AtomicBool>,
}

impl<S> HookedStore<S, Instruments> {
    /// Wraps `inner`, counting and passing operations through.
    pub fn instrumented(inner: S) -> Self {
        HookedStore::new(inner, Instruments::default())
    }

    /// The counters (shared by clones).
    pub fn counts(&self) -> Arc<OperationCounts> {
        self.hook().counts.clone()
    }

    /// Makes every per-session operation fail with a backend error (`true`) or pass through
    /// (`false`).
    pub fn set_failing(&self, failing: bool) {
        self.hook().failing.store(failing, Ordering::SeqCst);
    }
}

impl StoreHook for Instruments {
    fn before(&self, operation: StoreOperation) -> Result<()> {
        let counter = match operation {
            StoreOperation::Create => &self.counts.creates,
            StoreOperation::Load => &self.counts.loads,
            StoreOperation::Save => &self.counts.saves,
            StoreOperation::Touch => &self.counts.touches,
            StoreOperation::Delete => &self.counts.deletes,
            StoreOperation::CycleId => &self.counts.cycles,
            StoreOperation::DeleteExpired | StoreOperation::List | StoreOperation::Count => {
                return Ok(());
            }
        };
        counter.fetch_add(1, Ordering::SeqCst);
        if self.failing.load(Ordering::SeqCst) {
            return Err(Error::backend(
                "instrumented",
                operation.name(),
                "backend switched off by the test",
            ));
        }
        Ok(())
    }
}
