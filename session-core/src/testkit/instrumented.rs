//! Store wrappers for testing code that sits on top of a store (session handles, middleware):
//! one that counts operations, one that can be switched to fail.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use async_trait::async_trait;

use crate::change_set::ChangeSet;
use crate::error::{Error, Result};
use crate::id::SessionKey;
use crate::record::Record;
use crate::store::TouchOutcome;
use crate::store::{Page, PageRequest, PrincipalIndex, SessionStore};

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

/// Wraps a store, counting every operation and failing every operation while
/// [`set_failing`](InstrumentedStore::set_failing) is on (as a backend outage would).
#[derive(Debug, Clone)]
pub struct InstrumentedStore<S> {
    inner: S,
    counts: Arc<OperationCounts>,
    failing: Arc<AtomicBool>,
}

impl<S: SessionStore> InstrumentedStore<S> {
    /// Wraps `inner`.
    pub fn new(inner: S) -> Self {
        InstrumentedStore {
            inner,
            counts: Arc::default(),
            failing: Arc::default(),
        }
    }

    /// The counters (shared by clones).
    pub fn counts(&self) -> Arc<OperationCounts> {
        self.counts.clone()
    }

    /// Makes every operation fail with a backend error (`true`) or pass through (`false`).
    pub fn set_failing(&self, failing: bool) {
        self.failing.store(failing, Ordering::SeqCst);
    }

    fn enter(&self, counter: &AtomicU64, operation: &'static str) -> Result<()> {
        counter.fetch_add(1, Ordering::SeqCst);
        if self.failing.load(Ordering::SeqCst) {
            return Err(Error::backend(
                "instrumented",
                operation,
                "backend switched off by the test",
            ));
        }
        Ok(())
    }
}

#[async_trait]
impl<S: SessionStore> SessionStore for InstrumentedStore<S> {
    fn name(&self) -> &'static str {
        self.inner.name()
    }
    async fn create(&self, record: &Record) -> Result<()> {
        self.enter(&self.counts.creates, "create")?;
        self.inner.create(record).await
    }
    async fn load(&self, key: &SessionKey) -> Result<Option<Record>> {
        self.enter(&self.counts.loads, "load")?;
        self.inner.load(key).await
    }
    async fn save(
        &self,
        key: &SessionKey,
        changes: &ChangeSet,
        loaded_version: u64,
    ) -> Result<u64> {
        self.enter(&self.counts.saves, "save")?;
        self.inner.save(key, changes, loaded_version).await
    }
    async fn touch(&self, key: &SessionKey) -> Result<TouchOutcome> {
        self.enter(&self.counts.touches, "touch")?;
        self.inner.touch(key).await
    }
    async fn delete(&self, key: &SessionKey) -> Result<bool> {
        self.enter(&self.counts.deletes, "delete")?;
        self.inner.delete(key).await
    }
    async fn cycle_id(&self, old: &SessionKey, new: &SessionKey) -> Result<()> {
        self.enter(&self.counts.cycles, "cycle_id")?;
        self.inner.cycle_id(old, new).await
    }
    async fn delete_expired(&self) -> Result<u64> {
        self.inner.delete_expired().await
    }
    async fn list(&self, page: PageRequest) -> Result<Page> {
        self.inner.list(page).await
    }
    async fn count(&self) -> Result<u64> {
        self.inner.count().await
    }
    fn principal_index(&self) -> Option<&dyn PrincipalIndex> {
        self.inner.principal_index()
    }
}
