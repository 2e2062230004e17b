//! Authentication: turning credentials into a principal (or a protocol session).
//!
//! The reference server's password login, the HAC form login and the LysKOM login all
//! implement [`Authenticator`], so code that logs people in can be written once against it.

use std::fmt;

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
    fn debug_hides_the_password() {
        let c = PasswordCredentials::new("alice", "hunter2");
        assert!(!format!("{c:?}").contains("hunter2"));
    }
}
