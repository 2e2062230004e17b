//! Accounts: user names with Argon2id password hashes, checked by an [`Authenticator`].
//!
//! Accounts come from a users file of `name:$argon2id$…` lines (`--users FILE`), from the
//! environment variable `SESSION_SERVER_USERS` (one `NAME:PASSWORD` or `NAME:ARGON2_HASH` per
//! line, so that no password has to appear on a command line, where `ps` shows it), or from
//! `--user NAME:PASSWORD`. Passwords are hashed at start-up and dropped; plaintext passwords
//! are never stored, logged or printed.
//!
//! A name that does not exist is checked against a dummy hash made with the same Argon2
//! parameters as the accounts' own hashes (those of a users file included), so a failed login
//! takes as long whether the name exists or not.

use std::collections::HashMap;
use std::fmt;
use std::path::Path;
use std::sync::Arc;

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};
use async_trait::async_trait;
use session_core::{AuthError, Authenticator, PasswordCredentials};

/// Why the accounts could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum UsersError {
    /// A `--user` value is not `NAME:PASSWORD`.
    #[error("--user wants NAME:PASSWORD with a non-empty name and password")]
    BadUserArgument,
    /// A line of `SESSION_SERVER_USERS` is not `NAME:PASSWORD` or `NAME:ARGON2_HASH`.
    #[error(
        "SESSION_SERVER_USERS, line {line}: expected NAME:PASSWORD or NAME:ARGON2_HASH with a non-empty name and password"
    )]
    BadEnvironmentLine {
        /// The 1-based line number.
        line: usize,
    },
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
    /// What unknown names are checked against: a hash with the accounts' own parameters.
    dummy: Arc<String>,
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
    hash_with(&Argon2::default(), password)
}

fn hash_with(argon: &Argon2<'_>, password: &str) -> Result<String, UsersError> {
    let mut salt = [0u8; 16];
    getrandom::fill(&mut salt).map_err(|e| UsersError::Hash(e.to_string()))?;
    let salt = SaltString::encode_b64(&salt).map_err(|e| UsersError::Hash(e.to_string()))?;
    argon
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| UsersError::Hash(e.to_string()))
}

/// The hashing of `hash` (algorithm, version, cost parameters), if it is an Argon2 PHC string.
fn hashing_of(hash: &str) -> Option<(Algorithm, Version, Params)> {
    let parsed = PasswordHash::new(hash).ok()?;
    let algorithm = Algorithm::try_from(parsed.algorithm).ok()?;
    let version = Version::try_from(parsed.version.unwrap_or(0x13)).ok()?;
    let params = Params::try_from(&parsed).ok()?;
    Some((algorithm, version, params))
}

/// A hash of a random password made the way most of `hashes` were made.
fn dummy_hash<'a>(hashes: impl Iterator<Item = &'a String>) -> Result<String, UsersError> {
    let mut counts: Vec<((Algorithm, Version, Params), usize)> = Vec::new();
    for hashing in hashes.filter_map(|hash| hashing_of(hash)) {
        match counts.iter_mut().find(|(seen, _)| *seen == hashing) {
            Some((_, count)) => *count += 1,
            None => counts.push((hashing, 1)),
        }
    }
    let argon = match counts.into_iter().max_by_key(|(_, count)| *count) {
        Some(((algorithm, version, params), _)) => Argon2::new(algorithm, version, params),
        None => Argon2::default(),
    };
    let secret = session_core::SessionId::generate()
        .map_err(|e| UsersError::Hash(e.to_string()))?
        .expose_secret();
    hash_with(&argon, &secret)
}

impl Users {
    /// Accounts from `--user NAME:PASSWORD` values, an optional users file and the optional
    /// text of `SESSION_SERVER_USERS`.
    pub fn load(
        user_args: &[String],
        file: Option<&Path>,
        environment: Option<&str>,
    ) -> Result<Self, UsersError> {
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
        let environment_lines = environment
            .unwrap_or_default()
            .lines()
            .enumerate()
            .filter(|(_, line)| !line.trim().is_empty());
        for (number, line) in environment_lines {
            let bad = || UsersError::BadEnvironmentLine { line: number + 1 };
            let (name, secret) = line.trim().split_once(':').ok_or_else(bad)?;
            if name.is_empty() || secret.is_empty() {
                return Err(bad());
            }
            let hash = match hashing_of(secret) {
                Some(_) => secret.to_owned(),
                None => hash_password(secret)?,
            };
            hashes.insert(name.to_owned(), hash);
        }
        for arg in user_args {
            let (name, password) = arg.split_once(':').ok_or(UsersError::BadUserArgument)?;
            if name.is_empty() || password.is_empty() {
                return Err(UsersError::BadUserArgument);
            }
            hashes.insert(name.to_owned(), hash_password(password)?);
        }
        let dummy = dummy_hash(hashes.values())?;
        Ok(Users {
            hashes: Arc::new(hashes),
            dummy: Arc::new(dummy),
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

#[async_trait]
impl Authenticator for Users {
    type Credentials = PasswordCredentials;
    type Identity = String;

    async fn authenticate(&self, credentials: &PasswordCredentials) -> Result<String, AuthError> {
        let known = self.hashes.get(&credentials.username).cloned();
        let hash = known.clone().unwrap_or_else(|| self.dummy.as_ref().clone());
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
        let users = Users::load(&[], Some(&path), None).unwrap();
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
        match Users::load(&[], Some(&path), None) {
            Err(UsersError::BadLine { line: 1, .. }) => {}
            other => panic!("{other:?}"),
        }
        let message = Users::load(&[], Some(&path), None).unwrap_err().to_string();
        assert!(!message.contains("plaintext-password"), "{message}");
        for bad in ["alice", ":pw", "alice:"] {
            assert!(matches!(
                Users::load(&[bad.to_owned()], None, None),
                Err(UsersError::BadUserArgument)
            ));
        }
        for bad in ["alice", ":pw", "alice:", "\n\nbob"] {
            assert!(matches!(
                Users::load(&[], None, Some(bad)),
                Err(UsersError::BadEnvironmentLine { .. })
            ));
        }
    }

    #[tokio::test]
    async fn accounts_from_the_environment_take_passwords_or_hashes() {
        let text = format!("alice:secret\n\n  bob:{}\n", cheap_hash("builder"));
        let users = Users::load(&[], None, Some(&text)).unwrap();
        assert_eq!(users.len(), 2);
        for (name, password) in [("alice", "secret"), ("bob", "builder")] {
            let who = users
                .authenticate(&PasswordCredentials::new(name, password))
                .await
                .unwrap();
            assert_eq!(who, name);
        }
    }

    #[test]
    fn unknown_names_are_checked_with_the_accounts_own_parameters() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("users");
        let text = format!("alice:{}\nbob:{}\n", cheap_hash("a"), cheap_hash("b"));
        std::fs::write(&path, text).unwrap();
        let costs = |p: &Params| (p.m_cost(), p.t_cost(), p.p_cost());
        let users = Users::load(&[], Some(&path), None).unwrap();
        let (_, _, dummy) = hashing_of(&users.dummy).unwrap();
        assert_eq!(costs(&dummy), (256, 1, 1));
        let users = Users::load(&["carol:c".to_owned()], None, None).unwrap();
        let (_, _, dummy) = hashing_of(&users.dummy).unwrap();
        assert_eq!(costs(&dummy), costs(&Params::default()));
    }
}
