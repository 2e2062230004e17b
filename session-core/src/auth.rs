//! Authentication: turning credentials into a principal (or a protocol session).
//!
//! The reference server's password login, the HAC form login and the LysKOM login all
//! implement [`Authenticator`], so code that logs people in can be written once against it.

use std::fmt;
use std::time::Duration;

use async_trait::async_trait;

use crate::error::BoxError;

/// Why authentication failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AuthError {
    /// The credentials are wrong (unknown user or bad password). Deliberately does not say which.
    #[error("invalid credentials")]
    InvalidCredentials,
    /// The credentials are malformed (missing field, bad encoding).
    #[error("malformed credentials: {0}")]
    Malformed(String),
    /// The account exists but may not log in now.
    #[error("account may not log in: {0}")]
    Denied(String),
    /// The service that checks credentials could not be reached or failed.
    #[error("authentication service unavailable: {0}")]
    Unavailable(#[source] BoxError),
    /// Too many recent attempts for this principal or from this client address
    /// ([`ThrottledAuthenticator`](crate::ThrottledAuthenticator)); nothing was checked. An
    /// HTTP server answers `429 Too Many Requests` with `Retry-After`.
    #[error("too many login attempts; retry after {} s", whole_seconds(*retry_after))]
    Throttled {
        /// How long to wait before the next attempt can be checked.
        retry_after: Duration,
    },
    /// Too many logins are being checked at once
    /// ([`ConcurrencyLimited`](crate::ConcurrencyLimited)); nothing was checked. An HTTP
    /// server answers `503 Service Unavailable` with `Retry-After`.
    #[error("too many logins in progress; retry after {} s", whole_seconds(*retry_after))]
    Busy {
        /// A suggested wait before trying again.
        retry_after: Duration,
    },
}

impl AuthError {
    /// How long the caller should wait before trying again, for refusals that say so.
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            AuthError::Throttled { retry_after } | AuthError::Busy { retry_after } => {
                Some(*retry_after)
            }
            _ => None,
        }
    }
}

/// A wait in whole seconds, rounded up (what `Retry-After` carries); at least one.
pub fn whole_seconds(wait: Duration) -> u64 {
    let seconds = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
    seconds.max(1)
}

/// Turns credentials into an authenticated identity.
#[async_trait]
pub trait Authenticator: Send + Sync {
    /// What the caller presents.
    type Credentials: Send + Sync + ?Sized;
    /// What a successful login yields: a principal name, or a protocol session.
    type Identity: Send;

    /// Checks the credentials.
    async fn authenticate(
        &self,
        credentials: &Self::Credentials,
    ) -> Result<Self::Identity, AuthError>;
}

/// A user name and a password. `Debug` never shows the password.
#[derive(Clone, PartialEq, Eq)]
pub struct PasswordCredentials {
    /// The user name.
    pub username: String,
    /// The password.
    pub password: String,
}

impl PasswordCredentials {
    /// Credentials from a user name and a password.
    pub fn new(username: impl Into<String>, password: impl Into<String>) -> Self {
        PasswordCredentials {
            username: username.into(),
            password: password.into(),
        }
    }
}

impl fmt::Debug for PasswordCredentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PasswordCredentials")
            .field("username", &self.username)
            .field("password", &"<redacted>")
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn waits_round_up_to_whole_seconds() {
        assert_eq!(whole_seconds(Duration::ZERO), 1);
        assert_eq!(whole_seconds(Duration::from_millis(1)), 1);
        assert_eq!(whole_seconds(Duration::from_millis(2001)), 3);
        assert_eq!(whole_seconds(Duration::from_secs(60)), 60);
        let throttled = AuthError::Throttled {
            retry_after: Duration::from_millis(1500),
        };
        assert_eq!(throttled.retry_after(), Some(Duration::from_millis(1500)));
        assert!(throttled.to_string().contains("retry after 2 s"));
        assert_eq!(AuthError::InvalidCredentials.retry_after(), None);
    }

    #[test]
    fn debug_hides_the_password() {
        let c = PasswordCredentials::new("alice", "hunter2");
        assert!(!format!("{c:?}").contains("hunter2"));
    }
}
