//! The session handle a request works with: lazy loading, typed access and dirty tracking.

use std::borrow::Cow;
use std::fmt;
use std::sync::Arc;

use serde::Serialize;
use serde::de::DeserializeOwned;
// An uncontended lock and unlock here is two atomic operations; tokio's fair mutex also takes
// its semaphore's internal lock on every release, on every request that uses a session.
use futures_util::lock::{Mutex, MutexGuard};

use crate::change_set::{ChangeSet, PrincipalChange};
use crate::clock::Timestamp;
use crate::error::{Error, Result};
use crate::events::{EventKind, SessionEvent};
use crate::expiry::ExpiryPolicy;
use crate::id::{SessionId, SessionKey};
use crate::manager::ManagerInner;
use crate::record::Record;
use crate::record_attributes::{Attribute, Attributes};
use crate::store::TouchOutcome;

/// How many times [`StoreSession::update`] tries its read-modify-write before it gives up with the
/// conflict.
pub const UPDATE_ATTEMPTS: usize = 8;

/// What [`StoreSession::save`] did, and so what the client must be told.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SaveOutcome {
    /// The session was never used: no store I/O happened, the client is told nothing.
    Nothing,
    /// The session was read but needed no write (not even a touch yet).
    Unchanged {
        /// The session's id.
        id: SessionId,
        /// When it expires.
        expires_at: Option<Timestamp>,
    },
    /// The session was written; the client must (re)learn its id and expiry.
    Stored {
        /// The session's id (new when created or renewed).
        id: SessionId,
        /// When it expires now.
        expires_at: Option<Timestamp>,
        /// What kind of write it was.
        change: StoredChange,
    },
    /// The client's id no longer names a session (invalidated, expired or unknown): the client
    /// should forget it (the HTTP layer expires the cookie).
    Removed,
}

impl SaveOutcome {
    /// The session's id after the save, when the client keeps one.
    pub fn id(&self) -> Option<&SessionId> {
        match self {
            SaveOutcome::Stored { id, .. } | SaveOutcome::Unchanged { id, .. } => Some(id),
            SaveOutcome::Nothing | SaveOutcome::Removed => None,
        }
    }
}

/// The kind of write [`SaveOutcome::Stored`] reports.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StoredChange {
    /// A new session was stored.
    Created,
    /// The session's id was cycled (and any changes saved).
    Renewed,
    /// Changes were saved.
    Updated,
    /// Only the idle expiry was extended.
    Touched,
}

/// Facts about a loaded session, for pages and APIs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SessionMetadata {
    /// The store key (safe to show: a digest of the id).
    pub key: SessionKey,
    /// Who is logged in.
    pub principal: Option<String>,
    /// When it was created.
    pub created_at: Timestamp,
    /// When it was last used.
    pub last_access: Timestamp,
    /// When it expires.
    pub expires_at: Option<Timestamp>,
    /// Its expiry policy.
    pub expiry: ExpiryPolicy,
}

/// A handle on one session, shared by everything that serves one request. Cheap to clone.
///
/// Nothing is loaded until a method needs the data, and [`save`](StoreSession::save) writes only
/// what changed: a new session nobody wrote to is never stored, a read-only request at most
/// touches the expiry (throttled), and a write sends only the changed attributes.
#[derive(Clone)]
pub struct StoreSession {
    inner: Arc<SessionInner>,
}

struct SessionInner {
    manager: Arc<ManagerInner>,
    state: Mutex<State>,
}

struct State {
    /// The id the client presented, until loaded.
    incoming: Option<SessionId>,
    /// Whether the client presented any token at all (even a malformed one).
    client_had_token: bool,
    loaded: bool,
    /// The session as loaded: its id and record. `None` for a new session.
    base: Option<(SessionId, Record)>,
    changes: ChangeSet,
    renew: bool,
    invalidated: bool,
}

impl StoreSession {
    pub(crate) fn new(
        manager: Arc<ManagerInner>,
        incoming: Option<SessionId>,
        client_had_token: bool,
    ) -> Self {
        let client_had_token = client_had_token || incoming.is_some();
        StoreSession {
            inner: Arc::new(SessionInner {
                manager,
                state: Mutex::new(State {
                    incoming,
                    client_had_token,
                    loaded: false,
                    base: None,
                    changes: ChangeSet::default(),
                    renew: false,
                    invalidated: false,
                }),
            }),
        }
    }

    /// The value of attribute `key`, decoded as `T`.
    pub async fn get<T: DeserializeOwned>(&self, key: &str) -> Result<Option<T>> {
        let state = self.loaded_state().await?;
        let codec = state.codec(&self.inner.manager);
        state
            .view(key)?
            .map(|b| codec.decode_value(&b))
            .transpose()
            .map_err(Error::from)
    }

    /// Adds `amount` to the integer attribute `key` (absent counts as 0) and returns the value
    /// this request now sees. The addition is saved as such: the store adds it to the value
    /// stored then, in one step, so concurrent additions all count and never conflict (the
    /// value returned does not include other requests' additions since the load). The rule
    /// is [`add_to_json_integer`](crate::add_to_json_integer)'s: JSON-codec sessions, integers
    /// within ±(2^53 − 1); anything else is an [`Error::Addition`].
    pub async fn add(&self, key: &str, amount: i64) -> Result<i64> {
        self.inner.manager.config.limits.check_key(key)?;
        let mut state = self.loaded_state().await?;
        let refused = |detail: String| Error::Addition {
            key: state_key(&state),
            attribute: key.to_owned(),
            detail,
        };
        if state.codec(&self.inner.manager) != crate::Codec::Json {
            return Err(refused("additions need a session of the JSON codec".into()));
        }
        let current = state.view(key)?;
        let sum = crate::add_to_json_integer(current.as_deref(), amount)
            .map_err(|e| refused(e.to_string()))?;
        let value = crate::parse_json_integer(&sum).ok_or_else(|| refused("no sum".into()))?;
        state.changes.add(key.to_owned(), amount);
        Ok(value)
    }

    /// Reads attribute `key`, computes its new value with `change` and stores it right away,
    /// as one read-modify-write: should another writer change the attribute in between, the
    /// store refuses the write ([`Error::Conflict`]) and `update` reads the attribute again
    /// and retries, up to [`UPDATE_ATTEMPTS`] times in all. Returns the value stored.
    ///
    /// Only this attribute is written; the request's other changes are saved as usual. For a
    /// new session, or one this request cleared, invalidated or already changed `key` of,
    /// the new value is recorded like [`insert`](StoreSession::insert) and saved with the rest.
    /// Once `update` has stored `key`, a later `insert` of the same key in the same request
    /// conflicts with it: update it again instead.
    pub async fn update<T, F>(&self, key: &str, mut change: F) -> Result<T>
    where
        T: Serialize + DeserializeOwned,
        F: FnMut(Option<T>) -> T,
    {
        let manager = &self.inner.manager;
        let limits = &manager.config.limits;
        limits.check_key(key)?;
        let mut state = self.loaded_state().await?;
        let codec = state.codec(manager);
        let encode = |value: &T| -> Result<Vec<u8>> {
            let encoded = codec.encode_value(value)?;
            if encoded.len() + key.len() > limits.max_record_bytes {
                return Err(crate::LimitError::RecordSize {
                    actual: encoded.len() + key.len(),
                    limit: limits.max_record_bytes,
                }
                .into());
            }
            Ok(encoded)
        };
        let decode = |bytes: Option<&[u8]>| -> Result<Option<T>> {
            bytes
                .map(|b| codec.decode_value(b))
                .transpose()
                .map_err(Error::from)
        };
        let changes = &state.changes;
        let deferred = state.base.is_none()
            || state.invalidated
            || changes.cleared
            || changes.upserts.contains_key(key)
            || changes.removals.contains(key)
            || changes.additions.contains_key(key);
        if let (false, Some((_, base))) = (deferred, state.base.as_mut()) {
            return Self::update_stored(manager, base, key, change, encode, decode).await;
        }
        let value = change(decode(state.view(key)?.as_deref())?);
        let encoded = encode(&value)?;
        state.changes.upsert(key.to_owned(), encoded);
        Ok(value)
    }

    /// [`update`](StoreSession::update) of a stored attribute: the read-modify-write against the
    /// store, retried on conflicts; `base` learns the value written.
    async fn update_stored<T>(
        manager: &ManagerInner,
        base: &mut Record,
        key: &str,
        mut change: impl FnMut(Option<T>) -> T,
        encode: impl Fn(&T) -> Result<Vec<u8>>,
        decode: impl Fn(Option<&[u8]>) -> Result<Option<T>>,
    ) -> Result<T> {
        let mut loaded_version = base.version;
        let mut current = base.attributes.get(key).map(|a| a.value.clone());
        let mut attempts = 0;
        loop {
            attempts += 1;
            let value = change(decode(current.as_deref())?);
            let encoded = encode(&value)?;
            let mut write = ChangeSet::default();
            write.upsert(key.to_owned(), encoded.clone());
            match manager.store.save(&base.key, &write, loaded_version).await {
                Ok(version) => {
                    base.attributes.insert(
                        key.to_owned(),
                        Attribute {
                            value: encoded,
                            version,
                        },
                    );
                    return Ok(value);
                }
                Err(Error::Conflict { .. }) if attempts < UPDATE_ATTEMPTS => {
                    let Some(fresh) = manager.store.load(&base.key).await? else {
                        return Err(Error::Gone { key: base.key });
                    };
                    loaded_version = fresh.version;
                    current = fresh.attributes.get(key).map(|a| a.value.clone());
                }
                Err(error) => return Err(error),
            }
        }
    }

    /// Sets attribute `key` to `value`.
    pub async fn insert<T: Serialize + ?Sized>(&self, key: &str, value: &T) -> Result<()> {
        let limits = &self.inner.manager.config.limits;
        limits.check_key(key)?;
        let mut state = self.loaded_state().await?;
        let encoded = state.codec(&self.inner.manager).encode_value(value)?;
        if encoded.len() + key.len() > limits.max_record_bytes {
            return Err(crate::LimitError::RecordSize {
                actual: encoded.len() + key.len(),
                limit: limits.max_record_bytes,
            }
            .into());
        }
        state.changes.upsert(key.to_owned(), encoded);
        Ok(())
    }

    /// Removes attribute `key`; returns whether it was there.
    pub async fn remove(&self, key: &str) -> Result<bool> {
        let mut state = self.loaded_state().await?;
        let existed = state.keys().iter().any(|k| k == key);
        if existed {
            state.changes.remove(key);
        }
        Ok(existed)
    }

    /// Removes every attribute.
    pub async fn clear(&self) -> Result<()> {
        let mut state = self.loaded_state().await?;
        state.changes.clear();
        Ok(())
    }

    /// The names of the attributes, in order.
    pub async fn keys(&self) -> Result<Vec<String>> {
        Ok(self.loaded_state().await?.keys())
    }

    /// Who is logged in.
    pub async fn principal(&self) -> Result<Option<String>> {
        let state = self.loaded_state().await?;
        let stored = state
            .base
            .as_ref()
            .and_then(|(_, r)| r.principal.as_deref());
        Ok(state
            .changes
            .principal
            .applied_to(stored)
            .map(str::to_owned))
    }

    /// Sets (or with `None` clears) who is logged in. Pair with [`cycle_id`](StoreSession::cycle_id)
    /// on login, or use [`log_in`](StoreSession::log_in), which does both.
    pub async fn set_principal(&self, principal: Option<String>) -> Result<()> {
        if let Some(p) = &principal {
            self.inner.manager.config.limits.check_principal(p)?;
        }
        let mut state = self.loaded_state().await?;
        state.changes.principal = PrincipalChange::to(principal);
        Ok(())
    }

    /// Logs `principal` in: sets the principal and cycles the id (session fixation protection).
    pub async fn log_in(&self, principal: &str) -> Result<()> {
        self.set_principal(Some(principal.to_owned())).await?;
        self.cycle_id().await
    }

    /// Sets this session's expiry policy.
    pub async fn set_expiry(&self, expiry: ExpiryPolicy) -> Result<()> {
        let mut state = self.loaded_state().await?;
        state.changes.expiry = Some(expiry);
        Ok(())
    }

    /// Gives the session a new id on save, keeping its data (on login and privilege changes).
    pub async fn cycle_id(&self) -> Result<()> {
        let mut state = self.loaded_state().await?;
        state.renew = true;
        Ok(())
    }

    /// Ends the session: on save its record is deleted and the client told to forget the id.
    pub async fn invalidate(&self) -> Result<()> {
        let mut state = self.loaded_state().await?;
        state.invalidated = true;
        state.changes = ChangeSet::default();
        state.renew = false;
        Ok(())
    }

    /// Whether the session is new (no stored record behind it).
    pub async fn is_new(&self) -> Result<bool> {
        Ok(self.loaded_state().await?.base.is_none())
    }

    /// The session's id: `None` for a new session until it is saved.
    pub async fn id(&self) -> Result<Option<SessionId>> {
        Ok(self
            .loaded_state()
            .await?
            .base
            .as_ref()
            .map(|(id, _)| id.clone()))
    }

    /// Facts about the stored session, `None` for a new one.
    pub async fn metadata(&self) -> Result<Option<SessionMetadata>> {
        let state = self.loaded_state().await?;
        Ok(state.base.as_ref().map(|(_, r)| SessionMetadata {
            key: r.key,
            principal: r.principal.clone(),
            created_at: r.created_at,
            last_access: r.last_access,
            expires_at: r.expires_at(),
            expiry: r.expiry,
        }))
    }

    /// Whether anything was loaded from the store yet (the handle is lazy).
    pub async fn is_loaded(&self) -> bool {
        self.inner.state.lock().await.loaded
    }

    /// Whether there is anything to write: changes, an id cycle or an invalidation.
    pub async fn is_modified(&self) -> bool {
        let state = self.inner.state.lock().await;
        state.invalidated || state.renew || !state.changes.is_empty()
    }

    /// Writes what changed and says what the client must be told. The handle can be used
    /// again afterwards; it reloads on next use.
    pub async fn save(&self) -> Result<SaveOutcome> {
        let mut state = self.inner.state.lock().await;
        if let Some(outcome) = self.save_without_store(&mut state) {
            return Ok(outcome);
        }
        let manager = &self.inner.manager;
        let result = self.save_loaded(&mut state).await;
        if let Err(error) = &result {
            let key = state.base.as_ref().map(|(_, r)| r.key);
            let kind = match error {
                Error::Conflict { .. } => Some(EventKind::Conflict),
                Error::Backend { .. } => Some(EventKind::StoreError),
                _ => None,
            };
            if let Some(kind) = kind {
                manager.config.events.emit(
                    SessionEvent::new(kind, key, manager.config.clock.now())
                        .with_detail(error.to_string()),
                );
            }
        }
        let next_id = match &result {
            Ok(outcome) => outcome.id().cloned(),
            Err(_) => state.base.as_ref().map(|(id, _)| id.clone()),
        };
        state.start_over(next_id);
        result
    }

    /// [`save`](StoreSession::save) done at once when it needs no store call: nothing was
    /// loaded; or nothing changed (no id cycle, no invalidation) and no touch is due yet. `None`
    /// when the save needs the store, or when another task is using the session this very
    /// moment: then call `save`. Lets a caller that finishes many requests skip the
    /// asynchronous save for the most common one, a read.
    pub fn try_save_without_store(&self) -> Option<SaveOutcome> {
        let mut state = self.inner.state.try_lock()?;
        self.save_without_store(&mut state)
    }

    /// The outcome of a save that needs no store call, with the handle reset as a save resets
    /// it; `None` when the save needs the store.
    fn save_without_store(&self, state: &mut State) -> Option<SaveOutcome> {
        if !state.loaded {
            return Some(SaveOutcome::Nothing);
        }
        let outcome = match &state.base {
            None if state.invalidated || state.changes.is_empty() => {
                state.forget_if_client_had_token()
            }
            Some((id, base))
                if !state.invalidated
                    && !state.renew
                    && state.changes.is_empty()
                    && !self
                        .inner
                        .manager
                        .touch
                        .is_due(base.last_access, self.inner.manager.config.clock.now()) =>
            {
                SaveOutcome::Unchanged {
                    id: id.clone(),
                    expires_at: base.expires_at(),
                }
            }
            _ => return None,
        };
        state.start_over(outcome.id().cloned());
        Some(outcome)
    }

    /// Does the writes [`save_without_store`](Self::save_without_store) left to the store.
    async fn save_loaded(&self, state: &mut State) -> Result<SaveOutcome> {
        let manager = &self.inner.manager;
        let store = &manager.store;
        let now = manager.config.clock.now();
        let emit = |kind, key| {
            manager
                .config
                .events
                .emit(SessionEvent::new(kind, Some(key), now))
        };

        let Some((id, base)) = &state.base else {
            let id = SessionId::generate()?;
            let mut record =
                Record::new(id.key(), manager.config.codec, manager.config.expiry, now);
            record.version = 0;
            record.apply(&state.changes, 0, now, &manager.config.limits)?;
            store.create(&record).await?;
            emit(EventKind::Created, record.key);
            return Ok(SaveOutcome::Stored {
                id,
                expires_at: record.expires_at(),
                change: StoredChange::Created,
            });
        };

        if state.invalidated {
            store.delete(&base.key).await?;
            emit(EventKind::Invalidated, base.key);
            return Ok(SaveOutcome::Removed);
        }
        let mut id = id.clone();
        let mut key = base.key;
        let expiry = state.changes.expiry.unwrap_or(base.expiry);
        let expires_after_write = expiry.expires_at(base.created_at, now);
        if state.renew {
            let new_id = SessionId::generate()?;
            store.cycle_id(&key, &new_id.key()).await?;
            emit(EventKind::Renewed, new_id.key());
            id = new_id;
            key = id.key();
        }
        if !state.changes.is_empty() {
            let loaded_version = base.version;
            // The handle starts over after a save, so the loaded attributes are not read
            // again: letting go of them first lets a store that shares them with its own
            // record (the memory store) change that record in place instead of copying it.
            if let Some((_, loaded)) = &mut state.base {
                loaded.attributes = Attributes::default();
            }
            store.save(&key, &state.changes, loaded_version).await?;
            let change = if state.renew {
                StoredChange::Renewed
            } else {
                StoredChange::Updated
            };
            return Ok(SaveOutcome::Stored {
                id,
                expires_at: expires_after_write,
                change,
            });
        }
        if state.renew {
            return Ok(SaveOutcome::Stored {
                id,
                expires_at: base.expires_at(),
                change: StoredChange::Renewed,
            });
        }
        if manager.touch.is_due(base.last_access, now) {
            return match store.touch(&key).await? {
                TouchOutcome::Touched { expires_at } => {
                    emit(EventKind::Touched, key);
                    Ok(SaveOutcome::Stored {
                        id,
                        expires_at,
                        change: StoredChange::Touched,
                    })
                }
                TouchOutcome::Missing => Ok(SaveOutcome::Removed),
            };
        }
        Ok(SaveOutcome::Unchanged {
            id,
            expires_at: base.expires_at(),
        })
    }

    async fn loaded_state(&self) -> Result<MutexGuard<'_, State>> {
        let mut state = self.inner.state.lock().await;
        if !state.loaded {
            let manager = &self.inner.manager;
            if let Some(id) = state.incoming.take() {
                match manager.store.load(&id.key()).await {
                    Ok(record) => state.base = record.map(|r| (id, r)),
                    Err(error) => {
                        state.incoming = Some(id);
                        manager.config.events.emit(
                            SessionEvent::new(
                                EventKind::StoreError,
                                None,
                                manager.config.clock.now(),
                            )
                            .with_detail(error.to_string()),
                        );
                        return Err(error);
                    }
                }
            }
            state.loaded = true;
        }
        Ok(state)
    }
}

/// The key of the loaded session, for errors (zeros for a new one, which no store holds).
fn state_key(state: &State) -> SessionKey {
    state
        .base
        .as_ref()
        .map_or(SessionKey::from_bytes([0; 32]), |(_, r)| r.key)
}

impl State {
    /// Back to a handle that has loaded nothing, on `incoming` (after a save: whatever
    /// happened, the next use starts from the store again).
    fn start_over(&mut self, incoming: Option<SessionId>) {
        *self = State {
            incoming,
            client_had_token: self.client_had_token,
            loaded: false,
            base: None,
            changes: ChangeSet::default(),
            renew: false,
            invalidated: false,
        };
    }

    /// Attribute `key`'s encoded value as this request sees it: the loaded value, or what the
    /// request set or removed, plus what it added.
    fn view(&self, key: &str) -> Result<Option<Cow<'_, [u8]>>> {
        let changes = &self.changes;
        let bytes = if let Some(value) = changes.upserts.get(key) {
            Some(value.as_slice())
        } else if changes.cleared || changes.removals.contains(key) {
            None
        } else {
            self.base
                .as_ref()
                .and_then(|(_, r)| r.attributes.get(key))
                .map(|a| a.value.as_slice())
        };
        match changes.additions.get(key) {
            None => Ok(bytes.map(Cow::Borrowed)),
            Some(amount) => crate::add_to_json_integer(bytes, *amount)
                .map(|sum| Some(Cow::Owned(sum)))
                .map_err(|e| Error::Addition {
                    key: state_key(self),
                    attribute: key.to_owned(),
                    detail: e.to_string(),
                }),
        }
    }

    fn codec(&self, manager: &ManagerInner) -> crate::Codec {
        self.base
            .as_ref()
            .map_or(manager.config.codec, |(_, r)| r.codec)
    }

    fn keys(&self) -> Vec<String> {
        let mut keys: std::collections::BTreeSet<String> = if self.changes.cleared {
            Default::default()
        } else {
            self.base
                .as_ref()
                .map(|(_, r)| r.attributes.keys().cloned().collect())
                .unwrap_or_default()
        };
        for removed in &self.changes.removals {
            keys.remove(removed);
        }
        keys.extend(self.changes.upserts.keys().cloned());
        keys.extend(self.changes.additions.keys().cloned());
        keys.into_iter().collect()
    }

    fn forget_if_client_had_token(&self) -> SaveOutcome {
        if self.client_had_token {
            SaveOutcome::Removed
        } else {
            SaveOutcome::Nothing
        }
    }
}

impl fmt::Debug for StoreSession {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StoreSession").finish_non_exhaustive()
    }
}

impl State {
    /// What [`Session::changes`](crate::Session::changes) reports.
    fn summary(&self) -> crate::Changes {
        let changes = &self.changes;
        crate::Changes {
            set: changes
                .upserts
                .keys()
                .chain(changes.additions.keys())
                .cloned()
                .collect(),
            removed: changes.removals.clone(),
            cleared: changes.cleared,
            principal: !changes.principal.is_keep(),
            lifetime: changes.expiry.is_some(),
            renewed: self.renew,
            invalidated: self.invalidated,
        }
    }
}

#[async_trait::async_trait]
impl crate::Session for StoreSession {
    type Error = Error;

    /// The store key (a digest of the id), never the id itself.
    async fn identity(&self) -> Result<Option<String>> {
        let state = self.loaded_state().await?;
        Ok(state.base.as_ref().map(|(_, r)| r.key.to_string()))
    }

    async fn principal(&self) -> Result<Option<String>> {
        StoreSession::principal(self).await
    }

    async fn set_principal(&self, principal: Option<String>) -> Result<()> {
        StoreSession::set_principal(self, principal).await
    }

    async fn times(&self) -> Result<crate::SessionTimes> {
        Ok(self
            .metadata()
            .await?
            .map(|m| crate::SessionTimes {
                created_at: Some(m.created_at),
                last_access: Some(m.last_access),
                expires_at: m.expires_at,
            })
            .unwrap_or_default())
    }

    /// Loading the session marks it used: its save then touches the idle expiry (throttled).
    async fn touch(&self) -> Result<()> {
        self.loaded_state().await.map(drop)
    }

    /// Sets the expiry policy so that the session ends `by` from now: the idle timeout becomes
    /// `by` and an absolute timeout is moved to end then too. A session that never expired
    /// gets an idle timeout of `by`.
    async fn extend(&self, by: std::time::Duration) -> Result<Option<Timestamp>> {
        let now = self.inner.manager.config.clock.now();
        let mut state = self.loaded_state().await?;
        let (created_at, current) = match &state.base {
            Some((_, r)) => (r.created_at, r.expiry),
            None => (now, self.inner.manager.config.expiry),
        };
        let current = state.changes.expiry.unwrap_or(current);
        let lived = now.saturating_duration_since(created_at);
        let extended = ExpiryPolicy {
            idle: Some(by).filter(|_| current.idle.is_some() || current.absolute.is_none()),
            absolute: current.absolute.map(|_| lived.saturating_add(by)),
        };
        state.changes.expiry = Some(extended);
        Ok(extended.expires_at(created_at, now))
    }

    async fn get<T>(&self, key: &str) -> Result<Option<T>>
    where
        T: DeserializeOwned + Send,
    {
        StoreSession::get(self, key).await
    }

    async fn insert<T>(&self, key: &str, value: &T) -> Result<()>
    where
        T: Serialize + Sync + ?Sized,
    {
        StoreSession::insert(self, key, value).await
    }

    async fn remove(&self, key: &str) -> Result<bool> {
        StoreSession::remove(self, key).await
    }

    async fn keys(&self) -> Result<Vec<String>> {
        StoreSession::keys(self).await
    }

    async fn changes(&self) -> crate::Changes {
        self.inner.state.lock().await.summary()
    }

    async fn cycle_id(&self) -> Result<()> {
        StoreSession::cycle_id(self).await
    }

    async fn save(&self) -> Result<()> {
        StoreSession::save(self).await.map(drop)
    }

    async fn invalidate(&self) -> Result<()> {
        StoreSession::invalidate(self).await
    }
}
