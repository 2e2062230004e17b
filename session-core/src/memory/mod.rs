//! An in-memory store: sharded, bounded, swept.

use std::collections::{HashMap, HashSet};
use std::fmt;
use std::sync::{Arc, Mutex, MutexGuard, RwLock, RwLockReadGuard, RwLockWriteGuard, Weak};
use std::time::Duration;

use async_trait::async_trait;

use crate::change_set::ChangeSet;
use crate::clock::{SharedClock, Timestamp};
use crate::error::{Error, Result};
use crate::events::{EventKind, Events, SessionEvent};
use crate::id::SessionKey;
use crate::limits::Limits;
use crate::principal_limit::{PrincipalLimit, RoomDecision};
use crate::record::Record;
use crate::store::{Page, PageRequest, PrincipalIndex, SessionStore, StoreConfig, TouchOutcome};

const STORE: &str = "memory";

mod key_hasher;
mod shard;

use key_hasher::BuildKeyHasher;
use shard::Shard;

/// A session store in this process's memory.
///
/// - **Sharded**: records are spread over independently locked shards by key, so many tasks
///   work in parallel. Locks are never held across an `.await`.
/// - **Bounded**: at most `capacity` records. A new record in a full shard takes the place of
///   the one closest to its end: an expired one first, then the one that would expire soonest
///   (with one idle timeout for every session, the least recently used), records that never
///   expire last (an [`EventKind::Evicted`] event). The shard keeps its keys in a queue by
///   that rank, updated lazily, so finding the record costs a few logarithmic steps instead
///   of a scan: a flood of new sessions pushes out idle ones, one for one, rather than failing
///   or pausing the shard. The queue costs about 50 bytes per record.
/// - **Swept**: a background task (started when the store is built inside a tokio runtime)
///   removes expired records every `sweep_interval`; it ends when the last handle to the store
///   is dropped. Expired records are never returned even before the sweep.
/// - **Principal index** with an optional per-principal limit.
///
/// Clones share the same data.
#[derive(Clone)]
pub struct MemoryStore {
    inner: Arc<Inner>,
}

struct Inner {
    shards: Box<[RwLock<Shard>]>,
    shard_capacity: usize,
    principals: Mutex<HashMap<String, HashSet<SessionKey, BuildKeyHasher>>>,
    /// Held while a principal's session count is checked and a session added to it.
    principal_limit_lock: Mutex<()>,
    config: StoreConfig,
    sweeper: Mutex<Option<tokio::task::AbortHandle>>,
}

impl Drop for Inner {
    fn drop(&mut self) {
        if let Some(handle) = self.sweeper.lock().ok().and_then(|mut s| s.take()) {
            handle.abort();
        }
    }
}

/// Builds a [`MemoryStore`].
#[derive(Debug)]
pub struct MemoryStoreBuilder {
    capacity: usize,
    shards: usize,
    sweep_interval: Option<Duration>,
    config: StoreConfig,
}

impl MemoryStoreBuilder {
    /// Most records held (default 1,000,000).
    pub fn capacity(mut self, capacity: usize) -> Self {
        self.capacity = capacity.max(1);
        self
    }

    /// Number of shards (default 16; rounded into 1..=capacity).
    pub fn shards(mut self, shards: usize) -> Self {
        self.shards = shards.max(1);
        self
    }

    /// How often expired records are swept (default one minute); `None` for no sweeper.
    pub fn sweep_interval(mut self, interval: Option<Duration>) -> Self {
        self.sweep_interval = interval;
        self
    }

    /// The clock, limits, principal limit and event hub.
    pub fn config(mut self, config: StoreConfig) -> Self {
        self.config = config;
        self
    }

    /// The clock.
    pub fn clock(mut self, clock: SharedClock) -> Self {
        self.config.clock = clock;
        self
    }

    /// The event hub.
    pub fn events(mut self, events: Events) -> Self {
        self.config.events = events;
        self
    }

    /// Record limits.
    pub fn limits(mut self, limits: Limits) -> Self {
        self.config.limits = limits;
        self
    }

    /// A per-principal session limit.
    pub fn principal_limit(mut self, limit: PrincipalLimit) -> Self {
        self.config.principal_limit = Some(limit);
        self
    }

    /// The store. Starts the sweeper when called inside a tokio runtime.
    pub fn build(self) -> MemoryStore {
        let shard_count = self.shards.min(self.capacity).max(1);
        let shard_capacity = self.capacity.div_ceil(shard_count);
        let inner = Arc::new(Inner {
            shards: (0..shard_count)
                .map(|_| RwLock::new(Shard::default()))
                .collect(),
            shard_capacity,
            principals: Mutex::new(HashMap::new()),
            principal_limit_lock: Mutex::new(()),
            config: self.config,
            sweeper: Mutex::new(None),
        });
        if let (Some(interval), Ok(runtime)) =
            (self.sweep_interval, tokio::runtime::Handle::try_current())
        {
            let task = runtime.spawn(sweep_until_dropped(Arc::downgrade(&inner), interval));
            if let Ok(mut sweeper) = inner.sweeper.lock() {
                *sweeper = Some(task.abort_handle());
            }
        }
        MemoryStore { inner }
    }
}

async fn sweep_until_dropped(store: Weak<Inner>, interval: Duration) {
    let mut ticker = tokio::time::interval(interval);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    ticker.tick().await;
    loop {
        ticker.tick().await;
        let Some(inner) = store.upgrade() else { return };
        inner.sweep();
    }
}

impl MemoryStore {
    /// A store with the defaults (see [`MemoryStoreBuilder`]).
    pub fn new() -> Self {
        Self::builder().build()
    }

    /// A builder with the defaults.
    pub fn builder() -> MemoryStoreBuilder {
        MemoryStoreBuilder {
            capacity: 1_000_000,
            shards: 16,
            sweep_interval: Some(Duration::from_secs(60)),
            config: StoreConfig::default(),
        }
    }

    /// Whether the background sweeper is running.
    pub fn is_sweeping(&self) -> bool {
        self.inner
            .sweeper
            .lock()
            .map(|s| s.as_ref().is_some_and(|h| !h.is_finished()))
            .unwrap_or(false)
    }
}

impl Default for MemoryStore {
    fn default() -> Self {
        Self::new()
    }
}

impl fmt::Debug for MemoryStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MemoryStore")
            .field("shards", &self.inner.shards.len())
            .field("shard_capacity", &self.inner.shard_capacity)
            .finish_non_exhaustive()
    }
}

fn poisoned() -> Error {
    Error::backend(
        STORE,
        "lock",
        "a thread panicked while holding a memory store lock",
    )
}

impl Inner {
    fn now(&self) -> Timestamp {
        self.config.clock.now()
    }

    fn shard_of(&self, key: &SessionKey) -> usize {
        let bytes = key.as_bytes();
        let n = u64::from_le_bytes([
            bytes[0], bytes[1], bytes[2], bytes[3], bytes[4], bytes[5], bytes[6], bytes[7],
        ]);
        (n % self.shards.len() as u64) as usize
    }

    fn read(&self, index: usize) -> Result<RwLockReadGuard<'_, Shard>> {
        self.shards[index].read().map_err(|_| poisoned())
    }

    fn write(&self, index: usize) -> Result<RwLockWriteGuard<'_, Shard>> {
        self.shards[index].write().map_err(|_| poisoned())
    }

    fn principals(
        &self,
    ) -> Result<MutexGuard<'_, HashMap<String, HashSet<SessionKey, BuildKeyHasher>>>> {
        self.principals.lock().map_err(|_| poisoned())
    }

    fn emit(&self, events: Vec<SessionEvent>) {
        for event in events {
            self.config.events.emit(event);
        }
    }

    fn index_add(&self, principal: &Option<String>, key: SessionKey) -> Result<()> {
        if let Some(p) = principal {
            self.principals()?.entry(p.clone()).or_default().insert(key);
        }
        Ok(())
    }

    fn index_remove(&self, principal: &Option<String>, key: &SessionKey) -> Result<()> {
        if let Some(p) = principal {
            let mut principals = self.principals()?;
            if let Some(keys) = principals.get_mut(p) {
                keys.remove(key);
                if keys.is_empty() {
                    principals.remove(p);
                }
            }
        }
        Ok(())
    }

    fn live(&self, key: &SessionKey, now: Timestamp) -> Result<Option<Record>> {
        let shard = self.read(self.shard_of(key))?;
        Ok(shard.get(key).filter(|r| !r.is_expired(now)).cloned())
    }

    /// Removes `key` from its shard and the index; returns the record if it was there.
    fn remove(&self, key: &SessionKey) -> Result<Option<Record>> {
        let removed = self.write(self.shard_of(key))?.remove(key);
        if let Some(record) = &removed {
            self.index_remove(&record.principal, key)?;
        }
        Ok(removed)
    }

    /// What the per-principal limit decides for one more session of `principal` besides
    /// `except`.
    fn room_for(
        &self,
        principal: &str,
        except: &SessionKey,
        limit: PrincipalLimit,
    ) -> Result<RoomDecision> {
        let now = self.now();
        let keys: Vec<SessionKey> = self
            .principals()?
            .get(principal)
            .map(|keys| keys.iter().copied().collect())
            .unwrap_or_default();
        let mut others = Vec::new();
        for key in keys.iter().filter(|k| *k != except) {
            if let Some(record) = self.live(key, now)? {
                others.push((record.key, record.last_access));
            }
        }
        Ok(limit.decide(others))
    }

    /// Ends the sessions the per-principal limit evicts.
    fn evict(&self, keys: Vec<SessionKey>) -> Result<()> {
        let now = self.now();
        let mut events = Vec::new();
        for key in keys {
            if self.remove(&key)?.is_some() {
                events.push(PrincipalLimit::eviction_event(key, now));
            }
        }
        self.emit(events);
        Ok(())
    }

    fn sweep(&self) -> u64 {
        let now = self.now();
        let mut removed = Vec::new();
        for shard in self.shards.iter() {
            // The scan holds only the read lock, so that requests on this shard keep going;
            // the write lock is taken for the removals alone (rechecked: a touch may have
            // revived a record meanwhile).
            let expired: Vec<SessionKey> = match shard.read() {
                Ok(shard) => shard
                    .values()
                    .filter(|r| r.is_expired(now))
                    .map(|r| r.key)
                    .collect(),
                Err(_) => continue,
            };
            if expired.is_empty() {
                continue;
            }
            let Ok(mut shard) = shard.write() else {
                continue;
            };
            for key in expired {
                if shard.get(&key).is_some_and(|r| r.is_expired(now))
                    && let Some(record) = shard.remove(&key)
                {
                    removed.push(record);
                }
            }
        }
        let count = removed.len() as u64;
        let mut events = Vec::new();
        for record in removed {
            let _ = self.index_remove(&record.principal, &record.key);
            events.push(SessionEvent::new(EventKind::Expired, Some(record.key), now));
        }
        self.emit(events);
        count
    }

    /// Runs `write`, which gives `principal` (when there is one) the session `key`, under the
    /// per-principal limit. `write` is handed the error to report instead of writing once its
    /// own checks pass, when the limit refuses; the sessions the limit evicts go once it has
    /// written, so a write that fails its checks evicts nobody.
    fn with_principal_limit<T>(
        &self,
        principal: Option<&str>,
        key: &SessionKey,
        write: impl FnOnce(Option<Error>) -> Result<T>,
    ) -> Result<T> {
        let (Some(principal), Some(limit)) = (principal, self.config.principal_limit) else {
            return write(None);
        };
        let _guard = self.principal_limit_lock.lock().map_err(|_| poisoned())?;
        match self.room_for(principal, key, limit)? {
            RoomDecision::Allow => write(None),
            RoomDecision::Refuse => write(Some(limit.refusal())),
            RoomDecision::Evict(keys) => {
                let written = write(None)?;
                self.evict(keys)?;
                Ok(written)
            }
        }
    }
}

#[async_trait]
impl SessionStore for MemoryStore {
    fn name(&self) -> &'static str {
        STORE
    }

    async fn create(&self, record: &Record) -> Result<()> {
        let inner = &self.inner;
        record.check_limits(&inner.config.limits)?;
        inner.with_principal_limit(record.principal.as_deref(), &record.key, |refusal| {
            let now = inner.now();
            let (replaced, let_go) = {
                let mut shard = inner.write(inner.shard_of(&record.key))?;
                // One probe of the table finds the slot: in a store of many sessions each
                // probe is a cache miss.
                let slot = shard.get_mut(&record.key);
                if slot.as_ref().is_some_and(|r| !r.is_expired(now)) {
                    return Err(Error::AlreadyExists { key: record.key });
                }
                if let Some(refusal) = refusal {
                    return Err(refusal);
                }
                match slot {
                    Some(expired) => (Some(std::mem::replace(expired, record.clone())), None),
                    None => {
                        let let_go = shard.make_room(inner.shard_capacity, now);
                        shard.insert(record.clone());
                        (None, let_go)
                    }
                }
            };
            if let Some(old) = replaced {
                inner.index_remove(&old.principal, &old.key)?;
            }
            if let Some((old, kind)) = let_go {
                inner.index_remove(&old.principal, &old.key)?;
                let event = SessionEvent::new(kind, Some(old.key), now);
                inner.config.events.emit(match kind {
                    EventKind::Evicted => event.with_detail("memory store capacity"),
                    _ => event,
                });
            }
            inner.index_add(&record.principal, record.key)?;
            Ok(())
        })
    }

    async fn load(&self, key: &SessionKey) -> Result<Option<Record>> {
        let now = self.inner.now();
        let found = self.inner.read(self.inner.shard_of(key))?.get(key).cloned();
        match found {
            Some(record) if record.is_expired(now) => {
                self.inner.remove(key)?;
                self.inner
                    .emit(vec![SessionEvent::new(EventKind::Expired, Some(*key), now)]);
                Ok(None)
            }
            other => Ok(other),
        }
    }

    async fn save(
        &self,
        key: &SessionKey,
        changes: &ChangeSet,
        loaded_version: u64,
    ) -> Result<u64> {
        let inner = &self.inner;
        inner.with_principal_limit(changes.principal.set(), key, |refusal| {
            let now = inner.now();
            let (principal_moved, version) = {
                let mut shard = inner.write(inner.shard_of(key))?;
                let Some(record) = shard.get_mut(key).filter(|r| !r.is_expired(now)) else {
                    return Err(Error::Gone { key: *key });
                };
                if let Some(refusal) = refusal {
                    // The change set's own refusals (conflict, limits) come first: tried on
                    // a copy, since this write must not happen either way.
                    record
                        .clone()
                        .apply(changes, loaded_version, now, &inner.config.limits)?;
                    return Err(refusal);
                }
                let old_principal = (changes.principal.applied_to(record.principal.as_deref())
                    != record.principal.as_deref())
                .then(|| record.principal.clone());
                record.apply(changes, loaded_version, now, &inner.config.limits)?;
                let moved = old_principal.map(|old| (old, record.principal.clone()));
                (moved, record.version)
            };
            if let Some((old, new)) = principal_moved {
                inner.index_remove(&old, key)?;
                inner.index_add(&new, *key)?;
            }
            Ok(version)
        })
    }

    async fn touch(&self, key: &SessionKey) -> Result<TouchOutcome> {
        let now = self.inner.now();
        let mut shard = self.inner.write(self.inner.shard_of(key))?;
        Ok(match shard.get_mut(key).filter(|r| !r.is_expired(now)) {
            Some(record) => {
                record.touch(now);
                TouchOutcome::Touched {
                    expires_at: record.expires_at(),
                }
            }
            None => TouchOutcome::Missing,
        })
    }

    async fn delete(&self, key: &SessionKey) -> Result<bool> {
        let now = self.inner.now();
        Ok(self.inner.remove(key)?.is_some_and(|r| !r.is_expired(now)))
    }

    async fn cycle_id(&self, old: &SessionKey, new: &SessionKey) -> Result<()> {
        let inner = &self.inner;
        let now = inner.now();
        let (a, b) = (inner.shard_of(old), inner.shard_of(new));
        let moved = {
            // Lock both shards in index order, so two cycles never wait on each other.
            let (mut first, mut second) = if a == b {
                (inner.write(a)?, None)
            } else if a < b {
                let first = inner.write(a)?;
                (first, Some(inner.write(b)?))
            } else {
                let second = inner.write(b)?;
                (inner.write(a)?, Some(second))
            };
            let Some(record) = first.get(old).filter(|r| !r.is_expired(now)).cloned() else {
                return Err(Error::Gone { key: *old });
            };
            let target = second.as_deref_mut().unwrap_or(&mut *first);
            if target.get(new).is_some_and(|r| !r.is_expired(now)) {
                return Err(Error::AlreadyExists { key: *new });
            }
            target.insert(record.with_key(*new));
            first.remove(old);
            record
        };
        inner.index_remove(&moved.principal, old)?;
        inner.index_add(&moved.principal, *new)?;
        Ok(())
    }

    async fn delete_expired(&self) -> Result<u64> {
        Ok(self.inner.sweep())
    }

    async fn list(&self, page: PageRequest) -> Result<Page> {
        let now = self.inner.now();
        let mut records = Vec::new();
        for index in 0..self.inner.shards.len() {
            let shard = self.inner.read(index)?;
            records.extend(
                shard
                    .values()
                    .filter(|r| !r.is_expired(now) && page.after.is_none_or(|after| r.key > after))
                    .cloned(),
            );
        }
        records.sort_by_key(|r| r.key);
        records.truncate(page.limit.saturating_add(1));
        Ok(Page::from_sorted(records, page))
    }

    async fn count(&self) -> Result<u64> {
        let now = self.inner.now();
        let mut count = 0u64;
        for index in 0..self.inner.shards.len() {
            count += self
                .inner
                .read(index)?
                .values()
                .filter(|r| !r.is_expired(now))
                .count() as u64;
        }
        Ok(count)
    }

    fn principal_index(&self) -> Option<&dyn PrincipalIndex> {
        Some(self)
    }
}

#[async_trait]
impl PrincipalIndex for MemoryStore {
    async fn sessions_of(&self, principal: &str) -> Result<Vec<Record>> {
        let now = self.inner.now();
        let keys: Vec<SessionKey> = self
            .inner
            .principals()?
            .get(principal)
            .map(|k| k.iter().copied().collect())
            .unwrap_or_default();
        let mut records = Vec::new();
        for key in keys {
            if let Some(record) = self.inner.live(&key, now)?
                && record.principal.as_deref() == Some(principal)
            {
                records.push(record);
            }
        }
        records.sort_by_key(|r| (r.last_access, r.key));
        Ok(records)
    }

    async fn revoke_all(&self, principal: &str, keep: Option<&SessionKey>) -> Result<u64> {
        let now = self.inner.now();
        let mut revoked = 0;
        let mut events = Vec::new();
        for record in self.sessions_of(principal).await? {
            if Some(&record.key) == keep {
                continue;
            }
            if self.inner.remove(&record.key)?.is_some() {
                revoked += 1;
                events.push(
                    SessionEvent::new(EventKind::Invalidated, Some(record.key), now)
                        .with_detail("all sessions of the principal revoked"),
                );
            }
        }
        self.inner.emit(events);
        Ok(revoked)
    }
}

#[cfg(test)]
mod conformance {
    use super::MemoryStore;
    use crate::StoreConfig;

    async fn memory(config: StoreConfig) -> (MemoryStore, ()) {
        (MemoryStore::builder().config(config).build(), ())
    }

    crate::store_conformance_tests!(memory);
}
