//! Login throttling: limits on how often credentials may be tried, and on how many are
//! checked at once.
//!
//! Two [`Authenticator`](crate::Authenticator) wrappers, meant to be stacked around a
//! password check:
//!
//! - [`ThrottledAuthenticator`] counts every attempt per principal and per client address
//!   and, past a few free ones, makes the next wait with exponential [`Backoff`]
//!   ([`AuthError::Throttled`](crate::AuthError::Throttled) with the wait: `429` and
//!   `Retry-After` over HTTP). Unknown names are counted like known ones, so the answers do
//!   not tell which exist. Counts live behind [`ThrottleState`]: [`MemoryThrottleState`] in
//!   one process, or a store several processes share (`session-stores`' Redis one).
//! - [`ConcurrencyLimited`] lets a bounded number of checks run at once (one per core by
//!   default) and refuses attempts that cannot get a turn in time
//!   ([`AuthError::Busy`](crate::AuthError::Busy): `503` and `Retry-After`), so a flood
//!   cannot make a memory-hard hash eat the machine's memory.
//!
//! ```
//! # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
//! use std::sync::Arc;
//! use std::time::Duration;
//! use async_trait::async_trait;
//! use session_core::{
//!     AuthError, Authenticator, ConcurrencyLimited, LoginAttempt, MemoryThrottleState,
//!     PasswordCredentials, ThrottledAuthenticator,
//! };
//!
//! struct Passwords;
//! #[async_trait]
//! impl Authenticator for Passwords {
//!     type Credentials = PasswordCredentials;
//!     type Identity = String;
//!     async fn authenticate(&self, c: &PasswordCredentials) -> Result<String, AuthError> {
//!         if c.password == "open sesame" { Ok(c.username.clone()) } else { Err(AuthError::InvalidCredentials) }
//!     }
//! }
//!
//! let login = ThrottledAuthenticator::new(
//!     ConcurrencyLimited::per_core(Passwords, Duration::from_secs(2)),
//!     Arc::new(MemoryThrottleState::new()),
//! );
//! let client = "192.0.2.7".parse().ok();
//! for _ in 0..5 {
//!     let guess = LoginAttempt::new(PasswordCredentials::new("ali", "guess"), client);
//!     assert!(matches!(login.authenticate(&guess).await, Err(AuthError::InvalidCredentials)));
//! }
//! let sixth = LoginAttempt::new(PasswordCredentials::new("ali", "open sesame"), client);
//! let refused = login.authenticate(&sixth).await.unwrap_err();
//! assert!(matches!(refused, AuthError::Throttled { .. }));
//! assert!(refused.retry_after() <= Some(Duration::from_secs(1)));
//! # });
//! ```

mod backoff;
mod concurrency;
mod state;
mod throttled;

pub use backoff::{AttemptState, Backoff, Decision};
pub use concurrency::ConcurrencyLimited;
pub use state::{MemoryThrottleState, ThrottleState, refund_attempt, register_attempt};
pub use throttled::{
    ClaimsPrincipal, LoginAttempt, ThrottledAuthenticator, address_key, principal_key,
};
