//! Synchronizer tokens for HTML forms, kept in the session.
//!
//! A form the server renders carries a random token that is also stored in the session; a
//! post is accepted only when it sends the token back. A page on another site can make the
//! browser post with the victim's cookie but cannot read the token (the same-origin policy),
//! so it cannot forge the form. This guards forms beside the layer's
//! [cross-origin check](super::CrossOriginProtection) — for browsers without Fetch Metadata
//! that send no `Origin`, and for same-site pages the check lets through.
//!
//! The token is per session, made on first use (a visitor who is not logged in gets a
//! session that holds only the token — the login form needs one too, against login CSRF),
//! and replaced when the session's id changes ([`Session::log_in`], [`Session::cycle_id`]).
//! Tokens are compared in constant time.

use base64::Engine as _;
use session_core::{Error, IdError, Result};

use super::handle::Session;

/// The session attribute that holds the form token. Handlers that list a session's
/// attributes may want to leave it out.
pub const CSRF_TOKEN_KEY: &str = "_csrf";

/// Random bytes in a token (192 bits).
const TOKEN_BYTES: usize = 24;

impl Session {
    /// The session's form token, made (and stored with the session) on first use. Put it in a
    /// hidden field of every form that posts back, and check it with
    /// [`verify_csrf_token`](Session::verify_csrf_token).
    pub async fn csrf_token(&self) -> Result<String> {
        if let Some(token) = self.get::<String>(CSRF_TOKEN_KEY).await?
            && !token.is_empty()
        {
            return Ok(token);
        }
        let token = new_token()?;
        self.insert(CSRF_TOKEN_KEY, &token).await?;
        Ok(token)
    }

    /// Whether `presented` is this session's form token. A session without a token accepts
    /// nothing (a fresh session's first post, or one whose id was just cycled).
    pub async fn verify_csrf_token(&self, presented: &str) -> Result<bool> {
        Ok(match self.get::<String>(CSRF_TOKEN_KEY).await? {
            Some(expected) if !expected.is_empty() => {
                constant_time_eq(expected.as_bytes(), presented.as_bytes())
            }
            _ => false,
        })
    }

    /// Drops the form token (a new one is made when next asked for).
    pub(crate) async fn forget_csrf_token(&self) -> Result<()> {
        self.remove(CSRF_TOKEN_KEY).await.map(drop)
    }
}

fn new_token() -> Result<String> {
    let mut bytes = [0u8; TOKEN_BYTES];
    getrandom::fill(&mut bytes).map_err(|e| Error::Id(IdError::Random(e.to_string())))?;
    Ok(base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes))
}

/// Compares two byte strings in time that depends on their lengths only, so that a guess
/// cannot be refined byte by byte from response times.
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    let difference = a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y));
    std::hint::black_box(difference) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn constant_time_eq_is_equality() {
        assert!(constant_time_eq(b"abc", b"abc"));
        assert!(!constant_time_eq(b"abc", b"abd"));
        assert!(!constant_time_eq(b"abc", b"abcd"));
        assert!(constant_time_eq(b"", b""));
    }

    #[test]
    fn tokens_are_random_and_url_safe() {
        let (a, b) = (new_token().unwrap(), new_token().unwrap());
        assert_ne!(a, b);
        assert_eq!(a.len(), 32);
        assert!(
            a.bytes()
                .all(|c| c.is_ascii_alphanumeric() || c == b'-' || c == b'_')
        );
    }
}
