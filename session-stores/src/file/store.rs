//! The file store's implementation of the session store contract.

use std::fmt;
use std::path::Path;
use std::sync::Arc;

use async_trait::async_trait;
use session_core::{
    ChangeSet, CodecError, Error as CoreError, EventKind, Page, PageRequest, PrincipalIndex,
    PrincipalLimit, Record, Result as CoreResult, RoomDecision, SessionEvent, SessionKey,
    SessionStore, StoreConfig, Timestamp, TouchOutcome, decode_record, encode_record,
};

use super::directory::{Directory, DirectoryLock};
use super::sealer::{Plain, Sealer};
use crate::error::{Error, OpError, Result};

/// A session store keeping one file per session in a directory.
///
/// - **Files**: `<dir>/<key hex>.<ext>`, named by the session key (a digest of the id), never by
///   client input. Files are 0600, the directory 0700 (an existing directory is tightened).
/// - **Atomic writes**: every change writes a temporary file, fsyncs it, renames it over the
///   record and fsyncs the directory; a crash leaves the old or the new record, whole.
///   Temporary files of crashed writers are removed by [`delete_expired`](SessionStore::delete_expired).
/// - **Shared by processes**: changes hold an advisory lock on `<dir>/.lock` (and, inside one
///   process, an async mutex in front of it, so waiting tasks do not occupy threads). Reads take
///   no lock: a rename replaces a file whole.
/// - **Off the runtime**: file I/O runs on tokio's blocking pool.
/// - **Expiry** is judged by the configured clock at every read; expired files are removed by
///   `delete_expired` (run it periodically).
/// - **Principal index, `list` and `count`** read every file: right for the thousands of
///   sessions of a small deployment or a local tool, not for millions (use SQLite or Redis).
///   A file that cannot be read is skipped there (with a `StoreError` event naming its key);
///   `load` of that key reports the error. Nothing unreadable is ever deleted silently.
///
/// Generic over a [`Sealer`]: `FileStore<Plain>` writes record envelopes as they are, the
/// encrypted store is a `FileStore` with an encrypting sealer. Clones share the same store.
pub struct FileStore<S: Sealer = Plain> {
    inner: Arc<Inner<S>>,
}

impl<S: Sealer> Clone for FileStore<S> {
    fn clone(&self) -> Self {
        FileStore {
            inner: self.inner.clone(),
        }
    }
}

struct Inner<S> {
    dir: Directory,
    sealer: S,
    config: StoreConfig,
    /// Serializes this process's writers before they contend for the directory lock.
    writers: tokio::sync::Mutex<()>,
}

/// What [`FileStore::reseal_all`] did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ResealReport {
    /// Files rewritten (sealed anew with the current sealer, e.g. the newest key).
    pub resealed: u64,
    /// Files that were current already.
    pub current: u64,
    /// Files that could not be read (left in place; `load` names the reason).
    pub unreadable: u64,
}

impl FileStore<Plain> {
    /// Opens (creating if needed) a file store in `dir`.
    pub fn open(dir: impl AsRef<Path>, config: StoreConfig) -> Result<Self> {
        Self::with_sealer(dir, Plain, config)
    }
}

impl<S: Sealer> FileStore<S> {
    /// Opens (creating if needed) a store in `dir` whose files go through `sealer`.
    pub fn with_sealer(dir: impl AsRef<Path>, sealer: S, config: StoreConfig) -> Result<Self> {
        let dir = Directory::open(dir.as_ref(), S::EXTENSION)?;
        Ok(FileStore {
            inner: Arc::new(Inner {
                dir,
                sealer,
                config,
                writers: tokio::sync::Mutex::new(()),
            }),
        })
    }

    /// The store's directory.
    pub fn dir(&self) -> &Path {
        self.inner.dir.root()
    }

    /// The file that holds (or would hold) the record of `key`.
    pub fn path_of(&self, key: &SessionKey) -> std::path::PathBuf {
        self.inner.dir.path_of(key)
    }

    /// The sealer.
    pub fn sealer(&self) -> &S {
        &self.inner.sealer
    }

    /// Rewrites every record file the sealer says is out of date (for the encrypted store:
    /// written with an older key) with the current sealer. Unreadable files are counted and
    /// left alone.
    pub async fn reseal_all(&self) -> CoreResult<ResealReport> {
        self.write_op("reseal", |inner, _lock| {
            let mut report = ResealReport::default();
            for key in inner.dir.keys()? {
                let Some(sealed) = inner.dir.read(&key)? else {
                    continue;
                };
                if !inner.sealer.needs_reseal(&sealed) {
                    report.current += 1;
                    continue;
                }
                match inner.unseal_record(&key, &sealed) {
                    Ok(record) => {
                        inner.write_record(&record)?;
                        report.resealed += 1;
                    }
                    Err(_) => report.unreadable += 1,
                }
            }
            Ok(report)
        })
        .await
    }

    /// Runs `work` on the blocking pool.
    async fn read_op<T: Send + 'static>(
        &self,
        operation: &'static str,
        work: impl FnOnce(&Inner<S>) -> Result<T, OpError> + Send + 'static,
    ) -> CoreResult<T> {
        let inner = self.inner.clone();
        let joined = tokio::task::spawn_blocking(move || work(&inner)).await;
        OpError::finish(joined, S::STORE, operation)
    }

    /// Runs `work` on the blocking pool holding the directory lock.
    async fn write_op<T: Send + 'static>(
        &self,
        operation: &'static str,
        work: impl FnOnce(&Inner<S>, &DirectoryLock) -> Result<T, OpError> + Send + 'static,
    ) -> CoreResult<T> {
        let _writer = self.inner.writers.lock().await;
        let inner = self.inner.clone();
        let joined = tokio::task::spawn_blocking(move || {
            let lock = inner.dir.lock()?;
            work(&inner, &lock)
        })
        .await;
        OpError::finish(joined, S::STORE, operation)
    }
}

impl<S: Sealer> Inner<S> {
    fn now(&self) -> Timestamp {
        self.config.now()
    }

    fn emit(&self, event: SessionEvent) {
        self.config.events.emit(event);
    }

    fn unseal_record(&self, key: &SessionKey, sealed: &[u8]) -> Result<Record> {
        let location = self.dir.path_of(key).display().to_string();
        let plain = self.sealer.unseal(sealed, &location)?;
        let record = decode_record(&plain).map_err(|reason| Error::Corrupt {
            location: location.clone(),
            reason,
        })?;
        if record.key != *key {
            return Err(Error::Corrupt {
                location,
                reason: CodecError::Damaged(format!(
                    "holds the record of another key ({})",
                    record.key.short()
                )),
            });
        }
        Ok(record)
    }

    /// The record in `key`'s file, expired or not.
    fn read_record(&self, key: &SessionKey) -> Result<Option<Record>> {
        match self.dir.read(key)? {
            Some(sealed) => self.unseal_record(key, &sealed).map(Some),
            None => Ok(None),
        }
    }

    fn live(&self, key: &SessionKey, now: Timestamp) -> Result<Option<Record>> {
        Ok(self.read_record(key)?.filter(|r| !r.is_expired(now)))
    }

    fn write_record(&self, record: &Record) -> Result<()> {
        let location = || self.dir.path_of(&record.key).display().to_string();
        let plain = encode_record(record).map_err(|reason| Error::Corrupt {
            location: location(),
            reason,
        })?;
        let sealed = self.sealer.seal(&plain)?;
        self.dir.write(&record.key, &sealed)
    }

    /// Every readable record (expired ones too), in key order; unreadable files are reported as
    /// events and skipped.
    fn all_records(&self) -> Result<Vec<Record>> {
        let mut records = Vec::new();
        for key in self.dir.keys()? {
            match self.read_record(&key) {
                Ok(Some(record)) => records.push(record),
                Ok(None) => {}
                Err(e) => self.report_unreadable(key, &e),
            }
        }
        Ok(records)
    }

    fn report_unreadable(&self, key: SessionKey, error: &Error) {
        tracing::warn!(store = S::STORE, key = %key.short(), "skipping unreadable record: {error}");
        self.emit(
            SessionEvent::new(EventKind::StoreError, Some(key), self.now())
                .with_detail(format!("unreadable record skipped: {error}")),
        );
    }

    fn live_of_principal(&self, principal: &str, now: Timestamp) -> Result<Vec<Record>> {
        let mut records: Vec<Record> = self
            .all_records()?
            .into_iter()
            .filter(|r| !r.is_expired(now) && r.principal.as_deref() == Some(principal))
            .collect();
        records.sort_by_key(|r| (r.last_access, r.key));
        Ok(records)
    }

    /// Makes room for one more session of `principal` besides `except`, per the configured
    /// limit. Call with the lock held, once the write's own checks have passed.
    fn make_room(
        &self,
        principal: &str,
        except: &SessionKey,
        now: Timestamp,
    ) -> Result<(), OpError> {
        let Some(limit) = self.config.principal_limit else {
            return Ok(());
        };
        let others = self
            .live_of_principal(principal, now)?
            .into_iter()
            .filter(|r| r.key != *except)
            .map(|r| (r.key, r.last_access));
        match limit.decide(others) {
            RoomDecision::Allow => Ok(()),
            RoomDecision::Refuse => Err(limit.refusal().into()),
            RoomDecision::Evict(keys) => {
                for key in keys {
                    if self.dir.remove(&key)? {
                        self.emit(PrincipalLimit::eviction_event(key, now));
                    }
                }
                Ok(())
            }
        }
    }
}

impl<S: Sealer> fmt::Debug for FileStore<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FileStore")
            .field("store", &S::STORE)
            .field("dir", &self.inner.dir.root())
            .field("sealer", &self.inner.sealer)
            .finish_non_exhaustive()
    }
}

#[async_trait]
impl<S: Sealer> SessionStore for FileStore<S> {
    fn name(&self) -> &'static str {
        S::STORE
    }

    async fn create(&self, record: &Record) -> CoreResult<()> {
        record.check_limits(&self.inner.config.limits)?;
        let record = record.clone();
        self.write_op("create", move |inner, _lock| {
            let now = inner.now();
            if inner.live(&record.key, now)?.is_some() {
                return Err(CoreError::AlreadyExists { key: record.key }.into());
            }
            if let Some(principal) = &record.principal {
                inner.make_room(principal, &record.key, now)?;
            }
            inner.write_record(&record)?;
            Ok(())
        })
        .await
    }

    async fn load(&self, key: &SessionKey) -> CoreResult<Option<Record>> {
        let key = *key;
        self.read_op("load", move |inner| Ok(inner.live(&key, inner.now())?))
            .await
    }

    async fn save(
        &self,
        key: &SessionKey,
        changes: &ChangeSet,
        loaded_version: u64,
    ) -> CoreResult<u64> {
        let (key, changes) = (*key, changes.clone());
        self.write_op("save", move |inner, _lock| {
            let now = inner.now();
            let Some(mut record) = inner.live(&key, now)? else {
                return Err(CoreError::Gone { key }.into());
            };
            record.apply(&changes, loaded_version, now, &inner.config.limits)?;
            if let Some(principal) = changes.principal.set() {
                inner.make_room(principal, &key, now)?;
            }
            inner.write_record(&record)?;
            Ok(record.version)
        })
        .await
    }

    async fn touch(&self, key: &SessionKey) -> CoreResult<TouchOutcome> {
        let key = *key;
        self.write_op("touch", move |inner, _lock| {
            let now = inner.now();
            let Some(mut record) = inner.live(&key, now)? else {
                return Ok(TouchOutcome::Missing);
            };
            record.touch(now);
            inner.write_record(&record)?;
            Ok(TouchOutcome::Touched {
                expires_at: record.expires_at(),
            })
        })
        .await
    }

    async fn delete(&self, key: &SessionKey) -> CoreResult<bool> {
        let key = *key;
        self.write_op("delete", move |inner, _lock| {
            let now = inner.now();
            // A record that cannot be read is still removed when asked for by key (a logout
            // must work); it counts as live since nothing says it expired.
            let live = match inner.read_record(&key) {
                Ok(record) => record.is_some_and(|r| !r.is_expired(now)),
                Err(_) => true,
            };
            let removed = inner.dir.remove(&key)?;
            Ok(removed && live)
        })
        .await
    }

    async fn cycle_id(&self, old: &SessionKey, new: &SessionKey) -> CoreResult<()> {
        let (old, new) = (*old, *new);
        self.write_op("cycle_id", move |inner, _lock| {
            let now = inner.now();
            let Some(record) = inner.live(&old, now)? else {
                return Err(CoreError::Gone { key: old }.into());
            };
            if inner.live(&new, now)?.is_some() {
                return Err(CoreError::AlreadyExists { key: new }.into());
            }
            inner.write_record(&record.with_key(new))?;
            inner.dir.remove(&old)?;
            Ok(())
        })
        .await
    }

    async fn delete_expired(&self) -> CoreResult<u64> {
        self.write_op("delete_expired", |inner, lock| {
            let now = inner.now();
            inner.dir.remove_stale_temp_files(lock)?;
            let mut removed = 0;
            for record in inner.all_records()? {
                if record.is_expired(now) && inner.dir.remove(&record.key)? {
                    removed += 1;
                    inner.emit(SessionEvent::new(EventKind::Expired, Some(record.key), now));
                }
            }
            Ok(removed)
        })
        .await
    }

    async fn list(&self, page: PageRequest) -> CoreResult<Page> {
        self.read_op("list", move |inner| {
            let now = inner.now();
            let mut records = Vec::new();
            for key in inner.dir.keys()? {
                if page.after.is_some_and(|after| key <= after) {
                    continue;
                }
                if records.len() > page.limit {
                    break;
                }
                match inner.live(&key, now) {
                    Ok(Some(record)) => records.push(record),
                    Ok(None) => {}
                    Err(e) => inner.report_unreadable(key, &e),
                }
            }
            Ok(Page::from_sorted(records, page))
        })
        .await
    }

    async fn count(&self) -> CoreResult<u64> {
        self.read_op("count", |inner| {
            let now = inner.now();
            Ok(inner
                .all_records()?
                .iter()
                .filter(|r| !r.is_expired(now))
                .count() as u64)
        })
        .await
    }

    fn principal_index(&self) -> Option<&dyn PrincipalIndex> {
        Some(self)
    }
}

#[async_trait]
impl<S: Sealer> PrincipalIndex for FileStore<S> {
    async fn sessions_of(&self, principal: &str) -> CoreResult<Vec<Record>> {
        let principal = principal.to_owned();
        self.read_op("sessions_of", move |inner| {
            Ok(inner.live_of_principal(&principal, inner.now())?)
        })
        .await
    }

    async fn revoke_all(&self, principal: &str, keep: Option<&SessionKey>) -> CoreResult<u64> {
        let (principal, keep) = (principal.to_owned(), keep.copied());
        self.write_op("revoke_all", move |inner, _lock| {
            let now = inner.now();
            let mut revoked = 0;
            for record in inner.live_of_principal(&principal, now)? {
                if Some(record.key) == keep {
                    continue;
                }
                if inner.dir.remove(&record.key)? {
                    revoked += 1;
                    inner.emit(
                        SessionEvent::new(EventKind::Invalidated, Some(record.key), now)
                            .with_detail("all sessions of the principal revoked"),
                    );
                }
            }
            Ok(revoked)
        })
        .await
    }
}
