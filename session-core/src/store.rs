//! The contract every session store keeps.

use std::fmt;

use async_trait::async_trait;

use crate::change_set::ChangeSet;
use crate::clock::Timestamp;
use crate::clock::{SharedClock, SystemClock};
use crate::error::Result;
use crate::events::Events;
use crate::id::SessionKey;
use crate::limits::Limits;
use crate::principal_limit::PrincipalLimit;
use crate::record::Record;

use std::sync::Arc;

/// What a store is built with: its clock, limits, per-principal limit and event hub.
///
/// Every store in this workspace takes one, and the store test kit hands one to the store
/// factory it is given, so that a third-party store can be tested on a mock clock too.
#[derive(Clone, Debug)]
pub struct StoreConfig {
    /// Where the store takes "now" from for every expiry decision.
    pub clock: SharedClock,
    /// Limits on records.
    pub limits: Limits,
    /// How many live sessions one principal may have, if limited.
    pub principal_limit: Option<PrincipalLimit>,
    /// Where the store reports expiry and eviction.
    pub events: Events,
}

impl Default for StoreConfig {
    fn default() -> Self {
        StoreConfig {
            clock: Arc::new(SystemClock),
            limits: Limits::default(),
            principal_limit: None,
            events: Events::new(),
        }
    }
}

impl StoreConfig {
    /// The store's current time.
    pub fn now(&self) -> Timestamp {
        self.clock.now()
    }
}

/// What [`SessionStore::touch`] did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TouchOutcome {
    /// There is no live record under the key (never stored, deleted or expired); nothing was
    /// written.
    Missing,
    /// The record is marked used now.
    Touched {
        /// Its new expiry; `None` when it never expires.
        expires_at: Option<Timestamp>,
    },
}

/// Which page of [`SessionStore::list`] to return: records with keys after `after`, in key order.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PageRequest {
    /// Start after this key (the last key of the previous page); `None` for the first page.
    pub after: Option<SessionKey>,
    /// Most records in the page.
    pub limit: usize,
}

impl PageRequest {
    /// The first page of `limit` records.
    pub fn first(limit: usize) -> Self {
        PageRequest { after: None, limit }
    }
}

/// One page of records, in ascending key order.
#[derive(Clone, Debug, Default)]
pub struct Page {
    /// The records.
    pub records: Vec<Record>,
    /// The request for the next page, or `None` when this was the last one.
    pub next: Option<PageRequest>,
}

impl Page {
    /// Builds a page from records sorted by key, of which at most `request.limit` are kept.
    pub fn from_sorted(mut records: Vec<Record>, request: PageRequest) -> Self {
        let more = records.len() > request.limit;
        records.truncate(request.limit);
        let next = match records.last() {
            Some(last) if more => Some(PageRequest {
                after: Some(last.key),
                limit: request.limit,
            }),
            _ => None,
        };
        Page { records, next }
    }
}

/// A session store.
///
/// The contract, which the store test kit (`testkit` feature) checks for any implementation:
///
/// - **Expiry**: no operation returns or extends a record that is expired by the store's clock,
///   even if the backend has not purged it yet.
/// - **create** is insert-only ([`Error::AlreadyExists`](crate::Error::AlreadyExists)).
/// - **save** applies a [`ChangeSet`] atomically with the rule of [`Record::apply`]: changes to
///   different attributes merge, a change to an attribute written after `loaded_version` is a
///   [`Conflict`](crate::Error::Conflict), and a save to a record that is gone is
///   [`Gone`](crate::Error::Gone) — it never brings the record back.
/// - **touch** sets the last access time to now without rewriting data or bumping the version.
/// - **cycle_id** puts the record under a new key before the old key disappears.
/// - **Limits** from the [`StoreConfig`] hold for every record the store accepts.
#[async_trait]
pub trait SessionStore: Send + Sync + fmt::Debug + 'static {
    /// A short name for errors and metrics (`memory`, `redis` …).
    fn name(&self) -> &'static str;

    /// Stores a new record. Fails with `AlreadyExists` when the key is taken by a live record.
    async fn create(&self, record: &Record) -> Result<()>;

    /// The live record under `key`, if any.
    async fn load(&self, key: &SessionKey) -> Result<Option<Record>>;

    /// Applies `changes`, made to the record as it was at `loaded_version`; returns the new version.
    async fn save(&self, key: &SessionKey, changes: &ChangeSet, loaded_version: u64)
    -> Result<u64>;

    /// Marks the record used now; returns its new expiry, or that there is no live record.
    async fn touch(&self, key: &SessionKey) -> Result<TouchOutcome>;

    /// Removes the record; returns whether there was a live one.
    async fn delete(&self, key: &SessionKey) -> Result<bool>;

    /// Moves the record from `old` to `new`: the new key holds it before the old one is removed.
    /// `Gone` when there is no live record under `old`.
    async fn cycle_id(&self, old: &SessionKey, new: &SessionKey) -> Result<()>;

    /// Removes every expired record; returns how many.
    async fn delete_expired(&self) -> Result<u64>;

    /// A page of live records in key order, for admin tools.
    async fn list(&self, page: PageRequest) -> Result<Page>;

    /// How many live records there are: exact, so records that expired but were not purged
    /// yet are not counted (the store test kit holds every store to this).
    async fn count(&self) -> Result<u64>;

    /// The principal index, when the store has one.
    fn principal_index(&self) -> Option<&dyn PrincipalIndex> {
        None
    }
}

/// Optional capability: find and end all sessions of a principal.
#[async_trait]
pub trait PrincipalIndex: Send + Sync {
    /// The live sessions of `principal`, least recently used first.
    async fn sessions_of(&self, principal: &str) -> Result<Vec<Record>>;

    /// Ends every session of `principal` except `keep`; returns how many were ended.
    async fn revoke_all(&self, principal: &str, keep: Option<&SessionKey>) -> Result<u64>;
}

#[async_trait]
impl<S: SessionStore + ?Sized> SessionStore for Arc<S> {
    fn name(&self) -> &'static str {
        (**self).name()
    }
    async fn create(&self, record: &Record) -> Result<()> {
        (**self).create(record).await
    }
    async fn load(&self, key: &SessionKey) -> Result<Option<Record>> {
        (**self).load(key).await
    }
    async fn save(
        &self,
        key: &SessionKey,
        changes: &ChangeSet,
        loaded_version: u64,
    ) -> Result<u64> {
        (**self).save(key, changes, loaded_version).await
    }
    async fn touch(&self, key: &SessionKey) -> Result<TouchOutcome> {
        (**self).touch(key).await
    }
    async fn delete(&self, key: &SessionKey) -> Result<bool> {
        (**self).delete(key).await
    }
    async fn cycle_id(&self, old: &SessionKey, new: &SessionKey) -> Result<()> {
        (**self).cycle_id(old, new).await
    }
    async fn delete_expired(&self) -> Result<u64> {
        (**self).delete_expired().await
    }
    async fn list(&self, page: PageRequest) -> Result<Page> {
        (**self).list(page).await
    }
    async fn count(&self) -> Result<u64> {
        (**self).count().await
    }
    fn principal_index(&self) -> Option<&dyn PrincipalIndex> {
        (**self).principal_index()
    }
}
