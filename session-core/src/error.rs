//! The one error type of the session core and of every store.

use crate::codec::CodecError;
use crate::id::{IdError, SessionKey};
use crate::limits::LimitError;

/// A boxed error from a backend (I/O, SQLite, Redis …).
pub type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// What went wrong with a session or a store operation.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A session id or key could not be parsed or generated.
    #[error("bad session id: {0}")]
    Id(#[from] IdError),
    /// `create` found a record under the key already (a store is insert-only on create).
    #[error("a session with key {key:?} exists already")]
    AlreadyExists {
        /// The key that is taken.
        key: SessionKey,
    },
    /// The session is gone: deleted, invalidated, cycled to a new id or expired since it was
    /// loaded. A change to it is refused so that it never comes back.
    #[error(
        "session {key:?} no longer exists (deleted, invalidated or expired); the change was not applied"
    )]
    Gone {
        /// The key of the session that is gone.
        key: SessionKey,
    },
    /// Another writer changed the same attribute (or cleared the session) after this change
    /// set's session was loaded; nothing of the change set was applied.
    #[error("session {key:?} was changed concurrently ({detail}); the change was not applied")]
    Conflict {
        /// The key of the session.
        key: SessionKey,
        /// What collided, e.g. `attribute "cart"`.
        detail: String,
    },
    /// An addition (see [`ChangeSet::additions`](crate::ChangeSet::additions)) could not be
    /// applied: the attribute's value is not an integer the rule accepts, or the sum is out
    /// of range. Nothing of the change set was applied.
    #[error(
        "session {key:?}: cannot add to attribute {attribute:?}: {detail}; the change was not applied"
    )]
    Addition {
        /// The key of the session.
        key: SessionKey,
        /// The attribute added to.
        attribute: String,
        /// Why.
        detail: String,
    },
    /// A size or count limit would be exceeded.
    #[error(transparent)]
    Limit(#[from] LimitError),
    /// The principal has as many sessions as allowed and the store is set to refuse more.
    #[error("principal has reached its limit of {max} sessions")]
    PrincipalLimit {
        /// The configured limit.
        max: usize,
    },
    /// Encoding or decoding a value or a record failed.
    #[error(transparent)]
    Codec(#[from] CodecError),
    /// The backend failed.
    #[error("{store} store: {operation} failed: {source}")]
    Backend {
        /// Which store (`memory`, `file`, `sqlite`, `redis`, `encrypted`, or a third party's name).
        store: &'static str,
        /// Which operation (`load`, `save`, `touch` …).
        operation: &'static str,
        /// The backend's own error.
        #[source]
        source: BoxError,
    },
    /// The store does not have an optional capability.
    #[error("{store} store does not support {capability}")]
    Unsupported {
        /// Which store.
        store: &'static str,
        /// What was asked for.
        capability: &'static str,
    },
}

impl Error {
    /// A backend failure of `store` during `operation`.
    pub fn backend(
        store: &'static str,
        operation: &'static str,
        source: impl Into<BoxError>,
    ) -> Self {
        Error::Backend {
            store,
            operation,
            source: source.into(),
        }
    }

    /// Whether retrying the same operation later may succeed (a backend failure).
    pub fn is_transient(&self) -> bool {
        matches!(self, Error::Backend { .. })
    }
}

/// `Result` with the session [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;
