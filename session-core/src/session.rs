//! The [`Session`] trait: what every kind of session has in common, and one login flow
//! ([`log_in`]) written once for any session and any [`Authenticator`].
//!
//! The server session of a web request, an HTTPie client session, a HAC session, a LysKOM
//! gateway connection and a local program's login are different things with one shape: an
//! identity, perhaps a logged-in principal, a lifetime, typed attributes, dirty tracking, and a
//! way to save or end it. Tools written against the trait work on any session that implements
//! it: the server-side [`StoreSession`](crate::StoreSession), a local program's
//! [`LocalSession`](crate::LocalSession), and in the protocol crates `session-http`'s HTTPie
//! client session and HAC client and `session-lyskom`'s gateway connection.

use std::collections::BTreeSet;
use std::error::Error as StdError;
use std::time::Duration;

use async_trait::async_trait;
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::auth::{AuthError, Authenticator};
use crate::clock::Timestamp;

/// When a session began, was last used and ends. Each is `None` where the kind of session
/// does not know it (a client session knows when its cookies expire, not when the server made
/// the session).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SessionTimes {
    /// When the session was created.
    pub created_at: Option<Timestamp>,
    /// When the session was last used.
    pub last_access: Option<Timestamp>,
    /// When the session ends unless used or extended again (the earlier of its idle and
    /// absolute limits); `None` when it does not expire by time.
    pub expires_at: Option<Timestamp>,
}

/// What changed in a session since it was loaded: what [`Session::save`] would write.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Changes {
    /// Attributes set (inserted or changed).
    pub set: BTreeSet<String>,
    /// Attributes removed.
    pub removed: BTreeSet<String>,
    /// Whether every attribute was removed first.
    pub cleared: bool,
    /// Whether the principal changed (logged in, out, or as someone else).
    pub principal: bool,
    /// Whether the lifetime changed (extended, or a new expiry policy).
    pub lifetime: bool,
    /// Whether the session gets a new identity on save (id cycled, new login).
    pub renewed: bool,
    /// Whether the session is ended on save.
    pub invalidated: bool,
}

impl Changes {
    /// Whether nothing changed: saving would write nothing.
    pub fn is_empty(&self) -> bool {
        self == &Changes::default()
    }
}

/// A session of any kind: identity, principal, lifetime, typed attributes, dirty tracking,
/// save and invalidate.
///
/// Every method takes `&self`: sessions are handles that requests and tasks share, so the
/// implementations keep their state behind a lock. Methods that change the session only
/// record the change; [`save`](Session::save) writes it, and writes nothing when
/// [`changes`](Session::changes) is empty.
///
/// Implemented here by [`StoreSession`](crate::StoreSession), the server-side session handle
/// that `session-http`'s per-request session wraps, and by [`LocalSession`](crate::LocalSession);
/// the protocol crates implement it for their client sessions and connections.
///
/// ```
/// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
/// use std::sync::Arc;
/// use session_core::{MemoryStore, Session, SessionConfig, SessionManager};
///
/// /// Counts visits on any kind of session.
/// async fn count_visit<S: Session>(session: &S) -> Result<u64, S::Error> {
///     let visits = session.get::<u64>("visits").await?.unwrap_or(0) + 1;
///     session.insert("visits", &visits).await?;
///     session.save().await?;
///     Ok(visits)
/// }
///
/// let manager = SessionManager::new(Arc::new(MemoryStore::new()), SessionConfig::default());
/// let session = manager.session(None);
/// assert_eq!(count_visit(&session).await?, 1);
/// assert!(session.changes().await.is_empty());
/// # Ok::<(), session_core::Error>(())
/// # }).unwrap();
/// ```
#[async_trait]
pub trait Session: Send + Sync {
    /// What goes wrong: the store's, file's or protocol's error.
    type Error: StdError + Send + Sync + 'static;

    /// A name for the session that is safe to show and log, never the secret that grants it
    /// (a store key, a session file's path, a cache key, a connection number). `None` for a
    /// new session that has none yet.
    async fn identity(&self) -> Result<Option<String>, Self::Error>;

    /// Who is logged in, if anyone.
    async fn principal(&self) -> Result<Option<String>, Self::Error>;

    /// Records who is logged in (`None` logs out, keeping the session).
    async fn set_principal(&self, principal: Option<String>) -> Result<(), Self::Error>;

    /// When the session began, was last used and ends.
    async fn times(&self) -> Result<SessionTimes, Self::Error>;

    /// Marks the session used now, which moves an idle expiry on (a server session does this
    /// throttled, without rewriting its data).
    async fn touch(&self) -> Result<(), Self::Error>;

    /// Moves the end of the session to `by` from now, where the kind of session lets its
    /// holder decide its lifetime, and returns the new end. A client session whose lifetime the
    /// server decides (HTTPie, HAC) answers with the end it has, unchanged.
    async fn extend(&self, by: Duration) -> Result<Option<Timestamp>, Self::Error>;

    /// The value of attribute `key`, decoded as `T`.
    async fn get<T>(&self, key: &str) -> Result<Option<T>, Self::Error>
    where
        T: DeserializeOwned + Send;

    /// Sets attribute `key` to `value`.
    async fn insert<T>(&self, key: &str, value: &T) -> Result<(), Self::Error>
    where
        T: Serialize + Sync + ?Sized;

    /// Removes attribute `key`; says whether it was there.
    async fn remove(&self, key: &str) -> Result<bool, Self::Error>;

    /// The names of the attributes.
    async fn keys(&self) -> Result<Vec<String>, Self::Error>;

    /// What changed since the session was loaded or last saved.
    async fn changes(&self) -> Changes;

    /// Whether saving would write anything.
    async fn is_modified(&self) -> bool {
        !self.changes().await.is_empty()
    }

    /// Gives the session a new identity on save, keeping its data: what a login does against
    /// session fixation. Kinds whose identity the peer assigns at login (HAC, LysKOM) forget
    /// the old one here and take the new one from the login.
    async fn cycle_id(&self) -> Result<(), Self::Error>;

    /// Writes what changed; writes nothing when nothing did.
    async fn save(&self) -> Result<(), Self::Error>;

    /// Ends the session: on save (or at once, where the kind of session has no save step) its
    /// state is deleted and the peer told, where there is one.
    async fn invalidate(&self) -> Result<(), Self::Error>;
}

/// Why [`log_in`] failed.
#[derive(Debug, thiserror::Error)]
pub enum LoginError<E: StdError + 'static> {
    /// The credentials were refused (or not checked: throttled, busy); the session is as it
    /// was.
    #[error(transparent)]
    Auth(#[from] AuthError),
    /// The credentials were good but the session could not be renewed or saved.
    #[error("logged in, but the session could not be saved: {0}")]
    Session(#[source] E),
}

/// What a successful authentication says about who logged in.
pub trait Principal {
    /// The principal's name as the session records it.
    fn principal_name(&self) -> String;
}

impl Principal for String {
    fn principal_name(&self) -> String {
        self.clone()
    }
}

/// The one login flow: authenticate `credentials`, cycle the session's id (no fixation), record
/// the principal, save. Returns what the authenticator yielded (a principal or a protocol
/// session).
///
/// On an authentication failure the session is left untouched.
pub async fn log_in<S, A>(
    session: &S,
    authenticator: &A,
    credentials: &A::Credentials,
) -> Result<A::Identity, LoginError<S::Error>>
where
    S: Session + ?Sized,
    A: Authenticator + ?Sized,
    A::Identity: Principal,
{
    let identity = authenticator.authenticate(credentials).await?;
    session.cycle_id().await.map_err(LoginError::Session)?;
    session
        .set_principal(Some(identity.principal_name()))
        .await
        .map_err(LoginError::Session)?;
    session.save().await.map_err(LoginError::Session)?;
    Ok(identity)
}
