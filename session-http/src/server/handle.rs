//! The session handle a handler works with.

use std::fmt;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use serde::Serialize;
use serde::de::DeserializeOwned;
use session_core::{
    Error, EventKind, ExpiryPolicy, Result, SessionEvent, SessionId, SessionMetadata,
};

use super::config::{StoreFailurePolicy, UnreadableRecordPolicy};
use super::id_transport::Presented;
use super::layer::Shared;

/// The session of one request, put into the request's extensions by the
/// [`SessionLayer`](super::SessionLayer). Cheap to clone; clones share the session.
///
/// With axum, take it as a handler argument (`session: Session`, or
/// [`RequireLogin`](super::RequireLogin) for handlers only a logged-in user may reach); with
/// plain hyper, from `request.extensions().get::<Session>()`.
///
/// Nothing is read from the store until a method needs the data, and the layer saves what
/// changed after the handler returns. The methods mirror [`session_core::StoreSession`]; what they
/// return when the store fails depends on the layer's [`StoreFailurePolicy`]: with
/// `FailClosed` the error comes back (and the client gets a 503 whatever the handler answers),
/// with `ContinueWithoutSession` the handler carries on with an empty session that is not saved.
#[derive(Clone)]
pub struct Session {
    inner: Arc<HandleInner>,
}

struct HandleInner {
    shared: Arc<Shared>,
    /// What the client presented as its id.
    presented: Presented,
    /// The core session, made on first use.
    core: Mutex<Option<session_core::StoreSession>>,
    /// A store operation failed while serving this request.
    store_failed: AtomicBool,
    /// The store failed and the request carries on with an unsaved, empty session.
    degraded: AtomicBool,
    /// Whether the presented id was checked for being unknown.
    unknown_checked: AtomicBool,
}

/// What the layer learns from a handle after the handler returned.
pub(crate) enum Used {
    /// The handler never touched the session.
    Untouched,
    /// The store failed and the policy says to carry on without a session.
    Degraded,
    /// The store failed (fail closed).
    StoreFailed,
    /// The session was used; save it.
    Active(session_core::StoreSession),
}

impl Session {
    pub(crate) fn new(shared: Arc<Shared>, presented: Presented) -> Self {
        Session {
            inner: Arc::new(HandleInner {
                shared,
                presented,
                core: Mutex::new(None),
                store_failed: AtomicBool::new(false),
                degraded: AtomicBool::new(false),
                unknown_checked: AtomicBool::new(false),
            }),
        }
    }

    /// The value of attribute `key`, decoded as `T`.
    pub async fn get<T: DeserializeOwned>(&self, key: &str) -> Result<Option<T>> {
        self.run(|s| async move { s.get(key).await }).await
    }

    /// Sets attribute `key` to `value`.
    pub async fn insert<T: Serialize + ?Sized>(&self, key: &str, value: &T) -> Result<()> {
        self.run(|s| async move { s.insert(key, value).await })
            .await
    }

    /// Adds `amount` to the integer attribute `key` (absent counts as 0) and returns the value
    /// this request now sees; the store applies the addition to the value it holds, so
    /// concurrent additions all count and never conflict (see [`session_core::StoreSession::add`]).
    pub async fn add(&self, key: &str, amount: i64) -> Result<i64> {
        self.run(|s| async move { s.add(key, amount).await }).await
    }

    /// Stores `change` of attribute `key` right away, read-modify-write, reading again and
    /// retrying when another writer changed it meanwhile (see
    /// [`session_core::StoreSession::update`]); returns the value stored.
    pub async fn update<T, F>(&self, key: &str, change: F) -> Result<T>
    where
        T: Serialize + DeserializeOwned,
        F: FnMut(Option<T>) -> T + Send,
    {
        // `run` may call its operation twice (again on an empty session when the store failed
        // and the policy says to carry on), so the caller's closure is shared between calls.
        let change = Mutex::new(change);
        self.run(|s| {
            let change = &change;
            async move {
                s.update(key, |old| {
                    let mut change = change.lock().unwrap_or_else(PoisonError::into_inner);
                    (*change)(old)
                })
                .await
            }
        })
        .await
    }

    /// Removes attribute `key`; returns whether it was there.
    pub async fn remove(&self, key: &str) -> Result<bool> {
        self.run(|s| async move { s.remove(key).await }).await
    }

    /// Removes every attribute.
    pub async fn clear(&self) -> Result<()> {
        self.run(|s| async move { s.clear().await }).await
    }

    /// The names of the attributes.
    pub async fn keys(&self) -> Result<Vec<String>> {
        self.run(|s| async move { s.keys().await }).await
    }

    /// Who is logged in.
    pub async fn principal(&self) -> Result<Option<String>> {
        self.run(|s| async move { s.principal().await }).await
    }

    /// Sets (or clears) who is logged in, without cycling the id; prefer
    /// [`log_in`](Session::log_in).
    pub async fn set_principal(&self, principal: Option<String>) -> Result<()> {
        self.run(|s| {
            let principal = principal.clone();
            async move { s.set_principal(principal).await }
        })
        .await
    }

    /// Logs `principal` in and gives the session a new id (session fixation protection): the
    /// id the client had before the login stops working, and so does the form token
    /// ([`csrf_token`](Session::csrf_token)) that went with it.
    pub async fn log_in(&self, principal: &str) -> Result<()> {
        self.run(|s| async move { s.log_in(principal).await })
            .await?;
        self.forget_csrf_token().await
    }

    /// Gives the session a new id when it is saved, keeping its data but not its form token.
    pub async fn cycle_id(&self) -> Result<()> {
        self.run(|s| async move { s.cycle_id().await }).await?;
        self.forget_csrf_token().await
    }

    /// Ends the session: the layer deletes the record and expires the client's cookie (or
    /// sends an empty id header).
    pub async fn invalidate(&self) -> Result<()> {
        self.run(|s| async move { s.invalidate().await }).await
    }

    /// Sets this session's expiry policy.
    pub async fn set_expiry(&self, expiry: ExpiryPolicy) -> Result<()> {
        self.run(|s| async move { s.set_expiry(expiry).await })
            .await
    }

    /// Whether the session is new (nothing stored behind it yet).
    pub async fn is_new(&self) -> Result<bool> {
        self.run(|s| async move { s.is_new().await }).await
    }

    /// The session's id (`None` for a new session until the layer saves it). A bearer
    /// secret: show [`SessionId::key`] instead.
    pub async fn id(&self) -> Result<Option<SessionId>> {
        self.run(|s| async move { s.id().await }).await
    }

    /// Facts about the stored session (its key, principal, times), `None` for a new one.
    pub async fn metadata(&self) -> Result<Option<SessionMetadata>> {
        self.run(|s| async move { s.metadata().await }).await
    }

    /// Whether the handler has used the session in this request.
    pub fn is_touched(&self) -> bool {
        self.inner.core.lock().map(|c| c.is_some()).unwrap_or(true)
    }

    /// The core session, made on first use. A request that presented several ids gets the
    /// one of them that is live, or a fresh session when none or several are.
    async fn core(&self) -> Result<session_core::StoreSession> {
        if let Some(core) = self.made_core() {
            return Ok(core);
        }
        let manager = &self.inner.shared.manager;
        let chosen = match &self.inner.presented {
            Presented::Several(ids) => Box::pin(self.live_one_of(ids))
                .await?
                .map(|id| manager.session(Some(id))),
            _ => None,
        };
        let mut guard = match self.inner.core.lock() {
            Ok(guard) => guard,
            Err(poisoned) => poisoned.into_inner(),
        };
        Ok(guard
            .get_or_insert_with(|| {
                chosen.unwrap_or_else(|| match &self.inner.presented {
                    Presented::Id(id) => manager.session(Some(id.clone())),
                    Presented::Malformed(token) => manager.session_from_token(token),
                    Presented::Nothing | Presented::Several(_) => manager.session(None),
                })
            })
            .clone())
    }

    fn made_core(&self) -> Option<session_core::StoreSession> {
        match self.inner.core.lock() {
            Ok(guard) => guard.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }

    /// The only live session among `ids`. Several live ones mean someone planted a cookie
    /// beside the client's own (cookie tossing): neither is used, and a `SuspiciousId` event
    /// is raised.
    async fn live_one_of(&self, ids: &[SessionId]) -> Result<Option<SessionId>> {
        let manager = &self.inner.shared.manager;
        let mut live = Vec::new();
        for id in ids {
            match manager.store().load(&id.key()).await {
                Ok(Some(_)) => live.push(id.clone()),
                Ok(None) => {}
                Err(error)
                    if is_undecodable(&error)
                        && self.inner.shared.unreadable == UnreadableRecordPolicy::Discard =>
                {
                    self.discard_unreadable(id, &error).await;
                }
                Err(error) => return Err(error),
            }
        }
        if live.len() > 1 {
            manager.events().emit(
                SessionEvent::new(EventKind::SuspiciousId, None, manager.config().clock.now())
                    .with_detail("several live session ids presented at once"),
            );
            return Ok(None);
        }
        Ok(live.pop())
    }

    pub(crate) async fn run<T, F>(&self, op: impl Fn(session_core::StoreSession) -> F) -> Result<T>
    where
        F: Future<Output = Result<T>>,
    {
        let (result, core) = match self.core().await {
            Ok(core) => (op(core.clone()).await, Some(core)),
            Err(error) => (Err(error), None),
        };
        match result {
            Ok(value) => {
                if let Some(core) = &core {
                    self.check_unknown(core).await;
                }
                Ok(value)
            }
            // Rare, and its future is large: boxed, so that every use of the session does not
            // carry its room.
            Err(error) if is_store_failure(&error) => {
                Box::pin(self.recover_from_store_failure(&op, core, error)).await
            }
            Err(error) => Err(error),
        }
    }

    /// What a use of the session comes to when the store failed it (`core` is the session it
    /// was made on, if one was): a record that does not decode is discarded per the
    /// [`UnreadableRecordPolicy`] and the use retried on a fresh session; otherwise the
    /// failure is recorded, and per the [`StoreFailurePolicy`] either returned or, when
    /// nothing was loaded yet, the use carried on with an empty session.
    async fn recover_from_store_failure<T, F>(
        &self,
        op: &impl Fn(session_core::StoreSession) -> F,
        core: Option<session_core::StoreSession>,
        error: Error,
    ) -> Result<T>
    where
        F: Future<Output = Result<T>>,
    {
        let loaded = match &core {
            Some(core) => core.is_loaded().await,
            None => false,
        };
        // A codec error before anything was loaded is the load's: the stored record
        // does not decode.
        if !loaded
            && is_undecodable(&error)
            && self.inner.shared.unreadable == UnreadableRecordPolicy::Discard
            && let Presented::Id(id) = &self.inner.presented
        {
            let fresh = self.discard_unreadable(id, &error).await;
            if let Ok(mut guard) = self.inner.core.lock() {
                *guard = Some(fresh.clone());
            }
            let result = op(fresh).await;
            // The store may fail the fresh session too; that is a failure as usual.
            if result.as_ref().is_err_and(is_store_failure) {
                self.inner.store_failed.store(true, Ordering::Relaxed);
            }
            return result;
        }
        self.inner.store_failed.store(true, Ordering::Relaxed);
        let continue_policy =
            self.inner.shared.store_failure == StoreFailurePolicy::ContinueWithoutSession;
        if continue_policy && !loaded {
            tracing::warn!(error = %error, "session store failed; continuing without a session");
            self.inner.degraded.store(true, Ordering::Relaxed);
            let fresh = self.inner.shared.manager.session(None);
            if let Ok(mut guard) = self.inner.core.lock() {
                *guard = Some(fresh.clone());
            }
            op(fresh).await
        } else {
            Err(error)
        }
    }

    /// Removes the undecodable record under `id` and raises a `Discarded` event; returns the
    /// session the request carries on with. Once the record is gone that is a handle on `id`
    /// (which loads as new, so the client's id is expired unless the handler writes); if it
    /// could not be deleted, a session that does not read it again.
    async fn discard_unreadable(
        &self,
        id: &SessionId,
        error: &Error,
    ) -> session_core::StoreSession {
        let manager = &self.inner.shared.manager;
        let key = id.key();
        tracing::warn!(session = %key.short(), %error, "stored session does not decode; discarding it");
        // The fresh session is expected to be new; that is no sign of a guessed id.
        self.inner.unknown_checked.store(true, Ordering::Relaxed);
        manager.events().emit(
            SessionEvent::new(
                EventKind::Discarded,
                Some(key),
                manager.config().clock.now(),
            )
            .with_detail(error.to_string()),
        );
        match manager.store().delete(&key).await {
            Ok(_) => manager.session(Some(id.clone())),
            Err(delete_error) => {
                tracing::warn!(session = %key.short(), error = %delete_error, "could not delete the undecodable session");
                manager.session(None)
            }
        }
    }

    /// Raises a `SuspiciousId` event once when a well-formed id named no live session.
    async fn check_unknown(&self, core: &session_core::StoreSession) {
        if !matches!(self.inner.presented, Presented::Id(_))
            || self.inner.unknown_checked.swap(true, Ordering::Relaxed)
            || self.inner.degraded.load(Ordering::Relaxed)
        {
            return;
        }
        if core.is_new().await.unwrap_or(false) {
            let manager = &self.inner.shared.manager;
            manager.events().emit(
                SessionEvent::new(EventKind::SuspiciousId, None, manager.config().clock.now())
                    .with_detail("unknown or expired session id"),
            );
        }
    }

    /// What every handle of the layer shares.
    pub(crate) fn shared(&self) -> &Shared {
        &self.inner.shared
    }

    pub(crate) fn used(&self) -> Used {
        if self.inner.degraded.load(Ordering::Relaxed) {
            return Used::Degraded;
        }
        if self.inner.store_failed.load(Ordering::Relaxed) {
            return Used::StoreFailed;
        }
        match self.made_core() {
            Some(core) => Used::Active(core),
            None => Used::Untouched,
        }
    }

    /// Reports a malformed token the handler never looked at.
    pub(crate) fn report_untouched_token(&self) {
        if let Presented::Malformed(token) = &self.inner.presented {
            // Raises the SuspiciousId event; no store is asked.
            let _ = self.inner.shared.manager.session_from_token(token);
        }
    }
}

/// Whether `error` says a stored record does not decode: a codec error, or a backend error
/// caused by one (a store that reports its decoding failures as backend errors with the
/// [`CodecError`](session_core::CodecError) as their source). Damage a store detects in
/// other ways (a failed authentication tag, say) is not this: it stays a store failure.
fn is_undecodable(error: &Error) -> bool {
    match error {
        Error::Codec(_) => true,
        Error::Backend { source, .. } => {
            let mut cause: Option<&(dyn std::error::Error + 'static)> = Some(source.as_ref());
            while let Some(error) = cause {
                if error.is::<session_core::CodecError>() {
                    return true;
                }
                cause = error.source();
            }
            false
        }
        _ => false,
    }
}

/// Whether `error` is the store's fault (as opposed to the caller's, such as a limit).
pub(crate) fn is_store_failure(error: &Error) -> bool {
    matches!(
        error,
        Error::Backend { .. } | Error::Codec(_) | Error::Unsupported { .. }
    )
}

impl fmt::Debug for Session {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Session")
            .field(
                "presented_id",
                &!matches!(self.inner.presented, Presented::Nothing),
            )
            .field("touched", &self.is_touched())
            .finish_non_exhaustive()
    }
}
