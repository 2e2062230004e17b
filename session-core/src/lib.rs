//! # session-core
//!
//! The protocol-generic heart of the sessions workspace: what a session *is* and the contract
//! every store keeps. It knows nothing of HTTP, Redis or LysKOM.
//!
//! ## The model
//!
//! - A client holds a [`SessionId`]: 256 bits from the OS CSPRNG, strictly parsed, never
//!   printed whole. Stores file records under its digest, a [`SessionKey`], so a dump of a store
//!   yields nothing a client could present.
//! - A store keeps a [`Record`]: attributes (each value encoded on its own by a [`Codec`], with
//!   the version that last wrote it), an optional principal, timestamps, an [`ExpiryPolicy`]
//!   (idle and absolute timeouts together) and a version.
//! - A request works with a [`StoreSession`] handle from a [`SessionManager`]. The handle loads
//!   lazily, tracks what changed in a [`ChangeSet`], and on [`StoreSession::save`] writes only that:
//!   nothing for an unused or never-written session, a throttled `touch` for a read, a delta for
//!   a write. Changes to different attributes made concurrently both survive; a change to a
//!   session deleted meanwhile is refused ([`Error::Gone`]) and never resurrects it.
//! - [`SessionStore`] is the backend contract; [`MemoryStore`] implements it here and the
//!   `session-stores` crate adds file, SQLite, Redis and encrypted-file stores. The `testkit`
//!   feature holds the conformance suite all of them pass.
//! - Time comes from a [`Clock`]; tests use a [`MockClock`] and never sleep.
//! - [`Events`] counts and broadcasts lifecycle events; [`Authenticator`] turns credentials into
//!   principals; [`LocalSession`] is one login session for a local program.
//! - [`Session`] is the trait every kind of session in the workspace implements (server,
//!   HTTPie client, HAC, LysKOM connection, local login): identity, principal, lifetime, typed
//!   attributes, dirty tracking, save and invalidate. [`log_in`] is the one login flow
//!   (authenticate, cycle the id, record the principal, save) every protocol calls.
//!
//! ## Example
//!
//! ```
//! # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
//! use std::sync::Arc;
//! use std::time::Duration;
//! use session_core::{
//!     ExpiryPolicy, MemoryStore, MockClock, SaveOutcome, SessionConfig, SessionManager,
//!     StoredChange,
//! };
//!
//! let clock = MockClock::new();
//! let store = Arc::new(MemoryStore::builder().clock(clock.shared()).build());
//! let manager = SessionManager::new(
//!     store,
//!     SessionConfig {
//!         expiry: ExpiryPolicy::idle(Duration::from_secs(1800)),
//!         clock: clock.shared(),
//!         ..SessionConfig::default()
//!     },
//! );
//!
//! // Request 1: log in. The id is cycled at login, so this is a brand-new id.
//! let session = manager.session(None);
//! session.log_in("alice").await?;
//! session.insert("cart", &vec!["book"]).await?;
//! let SaveOutcome::Stored { id, change: StoredChange::Created, .. } = session.save().await? else {
//!     panic!("a written session is stored")
//! };
//!
//! // Request 2, 29 minutes later, only reads: the idle expiry is extended by a touch.
//! clock.advance(Duration::from_secs(29 * 60));
//! let session = manager.session(Some(id.clone()));
//! assert_eq!(session.principal().await?.as_deref(), Some("alice"));
//! assert!(matches!(session.save().await?, SaveOutcome::Stored { change: StoredChange::Touched, .. }));
//!
//! // Request 3, 29 minutes after that: still alive thanks to the touch.
//! clock.advance(Duration::from_secs(29 * 60));
//! let session = manager.session(Some(id));
//! assert_eq!(session.get::<Vec<String>>("cart").await?, Some(vec!["book".to_string()]));
//! # Ok::<(), session_core::Error>(())
//! # }).unwrap();
//! ```

#![cfg_attr(docsrs, feature(doc_cfg))]

mod addition;
pub mod atomic_file;
mod auth;
mod change_set;
mod clock;
pub mod codec;
mod error;
mod events;
mod expiry;
mod hooked_store;
mod id;
mod id_text;
mod limits;
mod local;
mod login_throttle;
mod manager;
mod memory;
mod principal_limit;
mod random_pool;
mod record;
mod record_attributes;
mod session;
mod store;
mod store_session;
#[cfg(any(test, feature = "testkit"))]
#[cfg_attr(docsrs, doc(cfg(feature = "testkit")))]
pub mod testkit;
mod tracked_attributes;

pub use addition::{AdditionError, MAX_SAFE_INTEGER, add_to_json_integer, parse_json_integer};
pub use auth::{AuthError, Authenticator, PasswordCredentials, whole_seconds};
pub use change_set::{ChangeSet, PrincipalChange};
pub use clock::{Clock, MockClock, SharedClock, SystemClock, Timestamp};
pub use codec::{Codec, CodecError, decode_record, encode_record};
pub use error::{BoxError, Error, Result};
pub use events::{EventHook, EventKind, Events, SessionEvent};
pub use expiry::{ExpiryPolicy, TouchPolicy};
pub use hooked_store::{HookedStore, StoreHook, StoreOperation};
pub use id::{ID_BYTES, ID_TEXT_LEN, IdError, KEY_TEXT_LEN, SessionId, SessionKey};
pub use limits::{LimitError, Limits};
pub use local::{DEFAULT_LOGIN_TTL, LocalLogin, LocalSession};
pub use login_throttle::{
    AttemptState, Backoff, ClaimsPrincipal, ConcurrencyLimited, Decision, LoginAttempt,
    MemoryThrottleState, ThrottleState, ThrottledAuthenticator, address_key, principal_key,
    refund_attempt, register_attempt,
};
pub use manager::{SessionConfig, SessionManager};
pub use memory::{MemoryStore, MemoryStoreBuilder};
pub use principal_limit::{PrincipalLimit, RoomDecision, WhenFull};
pub use record::Record;
pub use record_attributes::{Attribute, AttributeMap, Attributes};
pub use session::{Changes, LoginError, Principal, Session, SessionTimes, log_in};
pub use store::{Page, PageRequest, PrincipalIndex, SessionStore, StoreConfig, TouchOutcome};
pub use store_session::{
    SaveOutcome, SessionMetadata, StoreSession, StoredChange, UPDATE_ATTEMPTS,
};
pub use tracked_attributes::TrackedAttributes;
