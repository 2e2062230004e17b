//! One forwarding store for code that runs around every store operation (timing, counting,
//! failure injection), so that no such wrapper writes out the forwarding of the whole
//! [`SessionStore`] trait again: it implements a [`StoreHook`] and wraps the store in a
//! [`HookedStore`].

use std::fmt;
use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};

use async_trait::async_trait;

use crate::change_set::ChangeSet;
use crate::error::Result;
use crate::id::SessionKey;
use crate::record::Record;
use crate::store::{Page, PageRequest, PrincipalIndex, SessionStore, TouchOutcome};

/// A [`SessionStore`] operation, as a [`StoreHook`] is told about it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum StoreOperation {
    /// [`SessionStore::create`].
    Create,
    /// [`SessionStore::load`].
    Load,
    /// [`SessionStore::save`].
    Save,
    /// [`SessionStore::touch`].
    Touch,
    /// [`SessionStore::delete`].
    Delete,
    /// [`SessionStore::cycle_id`].
    CycleId,
    /// [`SessionStore::delete_expired`].
    DeleteExpired,
    /// [`SessionStore::list`].
    List,
    /// [`SessionStore::count`].
    Count,
}

impl StoreOperation {
    /// The operation's name as errors and metrics spell it (`load`, `cycle_id` …).
    pub fn name(self) -> &'static str {
        match self {
            StoreOperation::Create => "create",
            StoreOperation::Load => "load",
            StoreOperation::Save => "save",
            StoreOperation::Touch => "touch",
            StoreOperation::Delete => "delete",
            StoreOperation::CycleId => "cycle_id",
            StoreOperation::DeleteExpired => "delete_expired",
            StoreOperation::List => "list",
            StoreOperation::Count => "count",
        }
    }

    /// Whether this is an operation on one session (create, load, save, touch, delete,
    /// cycle_id), what serving a request does; the others are upkeep and admin.
    pub fn is_per_session(self) -> bool {
        !matches!(
            self,
            StoreOperation::DeleteExpired | StoreOperation::List | StoreOperation::Count
        )
    }
}

/// Code a [`HookedStore`] runs around each operation of the store it wraps.
///
/// Both methods do nothing by default. [`principal_index`](SessionStore::principal_index)
/// and [`name`](SessionStore::name) are not operations and are forwarded unhooked.
pub trait StoreHook: Send + Sync + fmt::Debug + 'static {
    /// Runs before `operation` reaches the store; an error fails the operation with it, and
    /// the store is not asked (nor [`after`](StoreHook::after) called).
    fn before(&self, operation: StoreOperation) -> Result<()> {
        let _ = operation;
        Ok(())
    }

    /// Runs once the store answered `operation`, `elapsed` after it was asked, with whether
    /// the answer was an error.
    fn after(&self, operation: StoreOperation, elapsed: Duration, failed: bool) {
        let _ = (operation, elapsed, failed);
    }
}

impl<H: StoreHook + ?Sized> StoreHook for Arc<H> {
    fn before(&self, operation: StoreOperation) -> Result<()> {
        (**self).before(operation)
    }

    fn after(&self, operation: StoreOperation, elapsed: Duration, failed: bool) {
        (**self).after(operation, elapsed, failed);
    }
}

/// A store that runs its [`StoreHook`] around every operation of the store it wraps.
#[derive(Clone, Debug)]
pub struct HookedStore<S, H> {
    inner: S,
    hook: H,
}

impl<S, H> HookedStore<S, H> {
    /// Wraps `inner`, running `hook` around its operations.
    pub fn new(inner: S, hook: H) -> Self {
        HookedStore { inner, hook }
    }

    /// The wrapped store (for reaching it without the hook).
    pub fn inner(&self) -> &S {
        &self.inner
    }

    /// The hook.
    pub fn hook(&self) -> &H {
        &self.hook
    }
}

impl<S: SessionStore, H: StoreHook> HookedStore<S, H> {
    async fn around<T>(
        &self,
        operation: StoreOperation,
        call: impl Future<Output = Result<T>>,
    ) -> Result<T> {
        self.hook.before(operation)?;
        let started = Instant::now();
        let result = call.await;
        self.hook
            .after(operation, started.elapsed(), result.is_err());
        result
    }
}

#[async_trait]
impl<S: SessionStore, H: StoreHook> SessionStore for HookedStore<S, H> {
    fn name(&self) -> &'static str {
        self.inner.name()
    }
    async fn create(&self, record: &Record) -> Result<()> {
        self.around(StoreOperation::Create, self.inner.create(record))
            .await
    }
    async fn load(&self, key: &SessionKey) -> Result<Option<Record>> {
        self.around(StoreOperation::Load, self.inner.load(key))
            .await
    }
    async fn save(
        &self,
        key: &SessionKey,
        changes: &ChangeSet,
        loaded_version: u64,
    ) -> Result<u64> {
        self.around(
            StoreOperation::Save,
            self.inner.save(key, changes, loaded_version),
        )
        .await
    }
    async fn touch(&self, key: &SessionKey) -> Result<TouchOutcome> {
        self.around(StoreOperation::Touch, self.inner.touch(key))
            .await
    }
    async fn delete(&self, key: &SessionKey) -> Result<bool> {
        self.around(StoreOperation::Delete, self.inner.delete(key))
            .await
    }
    async fn cycle_id(&self, old: &SessionKey, new: &SessionKey) -> Result<()> {
        self.around(StoreOperation::CycleId, self.inner.cycle_id(old, new))
            .await
    }
    async fn delete_expired(&self) -> Result<u64> {
        self.around(StoreOperation::DeleteExpired, self.inner.delete_expired())
            .await
    }
    async fn list(&self, page: PageRequest) -> Result<Page> {
        self.around(StoreOperation::List, self.inner.list(page))
            .await
    }
    async fn count(&self) -> Result<u64> {
        self.around(StoreOperation::Count, self.inner.count()).await
    }
    fn principal_index(&self) -> Option<&dyn PrincipalIndex> {
        self.inner.principal_index()
    }
}
