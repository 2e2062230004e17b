//! One login session for a local program (a CLI, a desktop tool), kept in any store.

mod as_session;

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use serde::Serialize;
use serde::de::DeserializeOwned;
use tokio::sync::Mutex;

use crate::change_set::{ChangeSet, PrincipalChange};
use crate::clock::{SharedClock, Timestamp};
use crate::codec::Codec;
use crate::error::{Error, Result};
use crate::expiry::ExpiryPolicy;
use crate::id::SessionKey;
use crate::limits::Limits;
use crate::record::Record;
use crate::store::SessionStore;

const DATA_KEY: &str = "data";

/// How long a login made through the generic [`Session`](crate::Session) flow lasts unless
/// [`LocalSession::with_login_ttl`] says otherwise.
pub const DEFAULT_LOGIN_TTL: Duration = Duration::from_secs(8 * 3600);

/// The program's single login session: who is logged in, with what data, until when.
///
/// The record lives in a store under a key derived from the program's name, so it survives a
/// restart whenever the store does (use the encrypted file store for credentials on disk).
/// Expiry is absolute: a login lasts `ttl` unless [`extend`](LocalSession::extend)ed.
///
/// It is also a [`Session`](crate::Session), so the generic login flow
/// ([`log_in`](crate::log_in)) and tools written against the trait work on it. The trait's
/// methods work on a draft loaded at first use and written by [`Session::save`](crate::Session::save)
/// (a login made that way lasts [`DEFAULT_LOGIN_TTL`] or [`with_login_ttl`](LocalSession::with_login_ttl));
/// the inherent methods below write at once and reset the draft.
///
/// ```
/// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
/// use std::sync::Arc;
/// use std::time::Duration;
/// use session_core::{LocalSession, MemoryStore, MockClock};
///
/// let clock = MockClock::new();
/// let store = Arc::new(MemoryStore::builder().clock(clock.shared()).build());
/// let local = LocalSession::new(store, "audex", clock.shared());
///
/// local.login("alice", &serde_json::json!({"token": "t0k3n"}), Duration::from_secs(3600)).await?;
/// assert!(local.is_logged_in().await?);
/// clock.advance(Duration::from_secs(3000));
/// local.extend(Duration::from_secs(1800)).await?;
/// clock.advance(Duration::from_secs(1200));
/// assert_eq!(local.current().await?.map(|l| l.principal), Some("alice".to_string()));
/// local.logout().await?;
/// assert!(!local.is_logged_in().await?);
/// # Ok::<(), session_core::Error>(())
/// # }).unwrap();
/// ```
pub struct LocalSession {
    store: Arc<dyn SessionStore>,
    key: SessionKey,
    clock: SharedClock,
    codec: Codec,
    login_ttl: Duration,
    /// Serializes login, extend and logout against each other; reads never wait on it.
    writer: Mutex<()>,
    /// What the [`Session`](crate::Session) methods changed and not yet saved.
    draft: Mutex<as_session::Draft>,
}

/// The current login.
#[derive(Clone, PartialEq, Eq)]
pub struct LocalLogin {
    /// Who is logged in.
    pub principal: String,
    /// When they logged in.
    pub logged_in_at: Timestamp,
    /// When the login ends.
    pub expires_at: Timestamp,
    record: Record,
}

impl LocalLogin {
    /// The data stored at login, decoded as `T`.
    pub fn data<T: DeserializeOwned>(&self) -> Result<Option<T>> {
        self.record.get(DATA_KEY)
    }
}

impl fmt::Debug for LocalLogin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LocalLogin")
            .field("principal", &self.principal)
            .field("logged_in_at", &self.logged_in_at)
            .field("expires_at", &self.expires_at)
            .finish_non_exhaustive()
    }
}

impl LocalSession {
    /// The login session of program `app` in `store`.
    pub fn new(store: Arc<dyn SessionStore>, app: &str, clock: SharedClock) -> Self {
        LocalSession {
            store,
            key: SessionKey::derive("local-session", &[app]),
            clock,
            codec: Codec::Json,
            login_ttl: DEFAULT_LOGIN_TTL,
            writer: Mutex::new(()),
            draft: Mutex::new(as_session::Draft::default()),
        }
    }

    /// How long a login saved through the [`Session`](crate::Session) methods lasts.
    pub fn with_login_ttl(mut self, ttl: Duration) -> Self {
        self.login_ttl = ttl;
        self
    }

    /// The key the login is stored under (derived from the program's name).
    pub fn key(&self) -> SessionKey {
        self.key
    }

    /// Logs `principal` in with `data` for `ttl`, replacing any current login.
    pub async fn login<T: Serialize + ?Sized>(
        &self,
        principal: &str,
        data: &T,
        ttl: Duration,
    ) -> Result<LocalLogin> {
        let _writer = self.writer.lock().await;
        self.forget_draft().await;
        let now = self.clock.now();
        let mut changes = ChangeSet::default();
        changes.upsert(DATA_KEY.to_owned(), self.codec.encode_value(data)?);
        changes.principal = PrincipalChange::Set(principal.to_owned());
        let mut record = Record::new(self.key, self.codec, ExpiryPolicy::absolute(ttl), now);
        record.version = 0;
        record.apply(&changes, 0, now, &Limits::default())?;
        self.store.delete(&self.key).await?;
        self.store.create(&record).await?;
        Self::login_of(record).ok_or(Error::Gone { key: self.key })
    }

    /// The current login, if any and not expired.
    pub async fn current(&self) -> Result<Option<LocalLogin>> {
        Ok(self.store.load(&self.key).await?.and_then(Self::login_of))
    }

    /// Whether someone is logged in.
    pub async fn is_logged_in(&self) -> Result<bool> {
        Ok(self.current().await?.is_some())
    }

    /// Pushes the end of the current login `by` later (from its current end, or from now if
    /// that is sooner); returns the new end. [`Error::Gone`] when nobody is logged in.
    pub async fn extend(&self, by: Duration) -> Result<Timestamp> {
        let _writer = self.writer.lock().await;
        self.forget_draft().await;
        let record = self
            .store
            .load(&self.key)
            .await?
            .ok_or(Error::Gone { key: self.key })?;
        let now = self.clock.now();
        let current_end = record.expires_at().unwrap_or(now).max(now);
        let new_end = current_end.saturating_add(by);
        let changes = ChangeSet {
            expiry: Some(ExpiryPolicy::absolute(
                new_end.saturating_duration_since(record.created_at),
            )),
            ..ChangeSet::default()
        };
        self.store.save(&self.key, &changes, record.version).await?;
        Ok(new_end)
    }

    /// Ends the current login; returns whether there was one.
    pub async fn logout(&self) -> Result<bool> {
        let _writer = self.writer.lock().await;
        self.forget_draft().await;
        self.store.delete(&self.key).await
    }

    fn login_of(record: Record) -> Option<LocalLogin> {
        Some(LocalLogin {
            principal: record.principal.clone()?,
            logged_in_at: record.created_at,
            expires_at: record.expires_at()?,
            record,
        })
    }
}

impl fmt::Debug for LocalSession {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LocalSession")
            .field("store", &self.store.name())
            .field("key", &self.key)
            .finish_non_exhaustive()
    }
}
