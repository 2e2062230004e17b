//! The session manager: a store plus the policy (expiry, touch, codec, limits, clock, events)
//! that every session handle it gives out follows.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use crate::clock::{SharedClock, SystemClock};
use crate::codec::Codec;
use crate::events::{EventKind, Events, SessionEvent};
use crate::expiry::{ExpiryPolicy, TouchPolicy};
use crate::id::SessionId;
use crate::limits::Limits;
use crate::store::SessionStore;
use crate::store_session::StoreSession;

/// The policy sessions follow.
#[derive(Clone, Debug)]
pub struct SessionConfig {
    /// Expiry of new sessions (default: 30 minutes idle, 12 hours absolute).
    pub expiry: ExpiryPolicy,
    /// Touch throttling; `None` derives it from `expiry` with [`TouchPolicy::for_expiry`].
    pub touch: Option<TouchPolicy>,
    /// Codec of new sessions' values (default JSON).
    pub codec: Codec,
    /// Limits checked when values are inserted.
    pub limits: Limits,
    /// The clock (share it with the store).
    pub clock: SharedClock,
    /// The event hub (share it with the store to see its events too).
    pub events: Events,
}

impl Default for SessionConfig {
    fn default() -> Self {
        SessionConfig {
            expiry: ExpiryPolicy::idle(Duration::from_secs(30 * 60))
                .with_absolute(Duration::from_secs(12 * 3600)),
            touch: None,
            codec: Codec::Json,
            limits: Limits::default(),
            clock: Arc::new(SystemClock),
            events: Events::new(),
        }
    }
}

impl SessionConfig {
    /// The touch policy in force.
    pub fn touch_policy(&self) -> TouchPolicy {
        self.touch
            .unwrap_or_else(|| TouchPolicy::for_expiry(&self.expiry))
    }
}

/// Hands out [`StoreSession`] handles over one store. Cheap to clone.
///
/// ```
/// # tokio_test_block_on(async {
/// use std::sync::Arc;
/// use session_core::{MemoryStore, SaveOutcome, SessionConfig, SessionManager};
///
/// let manager = SessionManager::new(Arc::new(MemoryStore::new()), SessionConfig::default());
///
/// // A request without a session id: nothing is stored unless something is written.
/// let session = manager.session(None);
/// session.insert("theme", "dark").await?;
/// let SaveOutcome::Stored { id, .. } = session.save().await? else { unreachable!() };
///
/// // The next request presents the id.
/// let again = manager.session_from_token(&id.expose_secret());
/// assert_eq!(again.get::<String>("theme").await?.as_deref(), Some("dark"));
/// # Ok::<(), session_core::Error>(())
/// # }).unwrap();
/// # fn tokio_test_block_on<F: std::future::Future>(f: F) -> F::Output {
/// #     tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(f)
/// # }
/// ```
#[derive(Clone)]
pub struct SessionManager {
    inner: Arc<ManagerInner>,
}

pub(crate) struct ManagerInner {
    pub(crate) store: Arc<dyn SessionStore>,
    pub(crate) config: SessionConfig,
    pub(crate) touch: TouchPolicy,
}

impl SessionManager {
    /// A manager over `store` with `config`.
    pub fn new(store: Arc<dyn SessionStore>, config: SessionConfig) -> Self {
        let touch = config.touch_policy();
        SessionManager {
            inner: Arc::new(ManagerInner {
                store,
                config,
                touch,
            }),
        }
    }

    /// The store.
    pub fn store(&self) -> &Arc<dyn SessionStore> {
        &self.inner.store
    }

    /// The policy.
    pub fn config(&self) -> &SessionConfig {
        &self.inner.config
    }

    /// The event hub.
    pub fn events(&self) -> &Events {
        &self.inner.config.events
    }

    /// A lazy handle on the session with `id`, or on a new session when `id` is `None`.
    /// Nothing is loaded until the handle is used.
    pub fn session(&self, id: Option<SessionId>) -> StoreSession {
        StoreSession::new(self.inner.clone(), id, false)
    }

    /// A lazy handle on the session a client presented as text. A malformed token raises a
    /// [`EventKind::SuspiciousId`] event and gives a new session; no store is asked.
    pub fn session_from_token(&self, token: &str) -> StoreSession {
        match SessionId::parse(token) {
            Ok(id) => StoreSession::new(self.inner.clone(), Some(id), true),
            Err(error) => {
                self.events().emit(
                    SessionEvent::new(EventKind::SuspiciousId, None, self.inner.config.clock.now())
                        .with_detail(format!("malformed session id: {error}")),
                );
                StoreSession::new(self.inner.clone(), None, true)
            }
        }
    }
}

impl fmt::Debug for SessionManager {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SessionManager")
            .field("store", &self.inner.store.name())
            .field("config", &self.inner.config)
            .finish()
    }
}
