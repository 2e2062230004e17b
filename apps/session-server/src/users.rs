//! Accounts: user names with Argon2id password hashes, checked by an [`Authenticator`].
//!
//! Passwords given on the command line are hashed at start-up and dropped; a users file holds
//! `name:$argon2id$…` lines. Plaintext passwords are never stored, logged or printed.

use std::collections::HashMap;
use std::fmt;
use std::path::Path;
use std::sync::Arc;

use argon2::Argon2;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use async_trait::async_trait;
use session_core::{AuthError, Authenticator, PasswordCredentials};

/// Why the accounts could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum UsersError {
    /// A `--user` value is not `NAME:PASSWORD`.
    #[error("--user wants NAME:PASSWORD with a non-empty name and password")]
    BadUserArgument,
    /// The users file cannot be read.
    #[error("cannot read users file {path}: {source}")]
    Read {
        /// The file.
        path: String,
        /// Why.
        source: std::io::Error,
    },
    /// A line of the users file is not `name:$argon2…`.
    #[error("users file {path}, line {line}: expected NAME:ARGON2_HASH ({reason})")]
    BadLine {
        /// The file.
        path: String,
        /// The 1-based line number.
        line: usize,
        /// What is wrong.
        reason: String,
    },
    /// Hashing failed.
    #[error("hashing a password failed: {0}")]
    Hash(String),
}

/// The accounts the server knows.
#[derive(Clone, Default)]
pub struct Users {
    hashes: Arc<HashMap<String, String>>,
}

impl fmt::Debug for Users {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Users")
            .field("count", &self.hashes.len())
            .finish()
    }
}

/// Hashes a password with Argon2id and a random salt, as a PHC string.
pub fn hash_password(password: &str) -> Result<String, UsersError> {
    let mut salt = [0u8; 16];
    getrandom::fill(&mut salt).map_err(|e| UsersError::Hash(e.to_string()))?;
    let salt = SaltString::encode_b64(&salt).map_err(|e| UsersError::Hash(e.to_string()))?;
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| UsersError::Hash(e.to_string()))
}

impl Users {
    /// Accounts from `--user NAME:PASSWORD` values and an optional users file.
    pub fn load(user_args: &[String], file: Option<&Path>) -> Result<Self, UsersError> {
        let mut hashes = HashMap::new();
        if let Some(path) = file {
            let shown = path.display().to_string();
            let text = std::fs::read_to_string(path).map_err(|source| UsersError::Read {
                path: shown.clone(),
                source,
            })?;
            for (number, line) in text.lines().enumerate() {
                let line = line.trim();
                if line.is_empty() || line.starts_with('#') {
                    continue;
                }
                let bad = |reason: &str| UsersError::BadLine {
                    path: shown.clone(),
                    line: number + 1,
                    reason: reason.to_owned(),
                };
                let (name, hash) = line.split_once(':').ok_or_else(|| bad("no ':'"))?;
                if name.is_empty() {
                    return Err(bad("empty name"));
                }
                PasswordHash::new(hash).map_err(|_| bad("not an Argon2 PHC hash"))?;
                if !hash.starts_with("$argon2") {
                    return Err(bad("not an Argon2 PHC hash"));
                }
                hashes.insert(name.to_owned(), hash.to_owned());
            }
        }
        for arg in user_args {
            let (name, password) = arg.split_once(':').ok_or(UsersError::BadUserArgument)?;
            if name.is_empty() || password.is_empty() {
                return Err(UsersError::BadUserArgument);
            }
            hashes.insert(name.to_owned(), hash_password(password)?);
        }
        Ok(Users {
            hashes: Arc::new(hashes),
        })
    }

    /// How many accounts there are.
    pub fn len(&self) -> usize {
        self.hashes.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.hashes.is_empty()
    }
}

/// A hash to verify against for unknown users, so that a failed login takes as long whether
/// the name exists or not.
fn dummy_hash() -> &'static str {
    static DUMMY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    DUMMY.get_or_init(|| hash_password("no such user").unwrap_or_default())
}

#[async_trait]
impl Authenticator for Users {
    type Credentials = PasswordCredentials;
    type Identity = String;

    async fn authenticate(&self, credentials: &PasswordCredentials) -> Result<String, AuthError> {
        let known = self.hashes.get(&credentials.username).cloned();
        let hash = known.clone().unwrap_or_else(|| dummy_hash().to_owned());
        let password = credentials.password.clone();
        // Argon2 is deliberately slow: keep it off the async workers.
        let verified = tokio::task::spawn_blocking(move || {
            PasswordHash::new(&hash)
                .map(|parsed| {
                    Argon2::default()
                        .verify_password(password.as_bytes(), &parsed)
                        .is_ok()
                })
                .unwrap_or(false)
        })
        .await
        .map_err(|e| AuthError::Unavailable(Box::new(e)))?;
        match (known, verified) {
            (Some(_), true) => Ok(credentials.username.clone()),
            _ => Err(AuthError::InvalidCredentials),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use argon2::{Algorithm, Params, Version};

    fn cheap_hash(password: &str) -> String {
        let argon = Argon2::new(
            Algorithm::Argon2id,
            Version::V0x13,
            Params::new(256, 1, 1, None).unwrap(),
        );
        let salt = SaltString::encode_b64(b"0123456789abcdef").unwrap();
        argon
            .hash_password(password.as_bytes(), &salt)
            .unwrap()
            .to_string()
    }

    #[tokio::test]
    async fn users_file_accounts_authenticate_and_wrong_passwords_do_not() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("users");
        let text = format!("# comment\n\nalice:{}\n", cheap_hash("secret"));
        std::fs::write(&path, text).unwrap();
        let users = Users::load(&[], Some(&path)).unwrap();
        assert_eq!(users.len(), 1);
        let ok = users
            .authenticate(&PasswordCredentials::new("alice", "secret"))
            .await
            .unwrap();
        assert_eq!(ok, "alice");
        for (name, password) in [("alice", "nope"), ("bob", "secret")] {
            assert!(matches!(
                users
                    .authenticate(&PasswordCredentials::new(name, password))
                    .await,
                Err(AuthError::InvalidCredentials)
            ));
        }
        assert!(!format!("{users:?}").contains("argon2"));
    }

    #[test]
    fn bad_users_files_and_arguments_are_refused_with_the_line_number() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("users");
        std::fs::write(&path, "alice:plaintext-password\n").unwrap();
        match Users::load(&[], Some(&path)) {
            Err(UsersError::BadLine { line: 1, .. }) => {}
            other => panic!("{other:?}"),
        }
        let message = Users::load(&[], Some(&path)).unwrap_err().to_string();
        assert!(!message.contains("plaintext-password"), "{message}");
        for bad in ["alice", ":pw", "alice:"] {
            assert!(matches!(
                Users::load(&[bad.to_owned()], None),
                Err(UsersError::BadUserArgument)
            ));
        }
    }
}
