//! Keys: raw keys from key files, passphrases stretched with Argon2id, and the keyring that
//! rotates them.

use std::collections::HashMap;
use std::fmt;
use std::path::Path;
use std::sync::{Arc, Mutex};

use argon2::{Algorithm, Argon2, Params, Version};
use sha2::{Digest, Sha256};
use zeroize::Zeroizing;

use super::format::{Derivation, KEY_ID_LEN, KdfParams, SALT_LEN};
use crate::error::{Error, Result};
use crate::url::KeySource;

/// 32 bytes of key material.
pub(crate) type KeyBytes = Zeroizing<[u8; 32]>;

/// Keys derived from one passphrase, by salt and costs.
type DerivedKeys = Arc<Mutex<HashMap<([u8; SALT_LEN], KdfParams), Arc<KeyBytes>>>>;

/// The id a key's files carry: not secret, not enough to find the key.
pub(crate) fn key_id(key: &[u8; 32]) -> [u8; KEY_ID_LEN] {
    let mut hasher = Sha256::new();
    hasher.update(b"session-stores key id\0");
    hasher.update(key);
    let digest = hasher.finalize();
    let mut id = [0u8; KEY_ID_LEN];
    id.copy_from_slice(&digest[..KEY_ID_LEN]);
    id
}

fn random<const N: usize>() -> Result<[u8; N]> {
    let mut bytes = [0u8; N];
    getrandom::fill(&mut bytes).map_err(|e| Error::Key(format!("no randomness: {e}")))?;
    Ok(bytes)
}

/// One key of a [`Keyring`]: a raw key, or a passphrase that is stretched with Argon2id (with
/// the salt recorded in each file's header). Debug output never shows key material.
#[derive(Clone)]
pub struct Key {
    kind: KeyKind,
}

#[derive(Clone)]
enum KeyKind {
    Raw {
        bytes: Arc<KeyBytes>,
        id: [u8; KEY_ID_LEN],
    },
    Passphrase {
        passphrase: Arc<Zeroizing<String>>,
        params: KdfParams,
        /// The salt new files get (one per keyring, so one derivation per process).
        write_salt: [u8; SALT_LEN],
        derived: DerivedKeys,
    },
}

impl fmt::Debug for Key {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.kind {
            KeyKind::Raw { id, .. } => write!(f, "Key(raw, id {})", hex::encode(id)),
            KeyKind::Passphrase { params, .. } => write!(f, "Key(passphrase, {params:?})"),
        }
    }
}

impl Key {
    /// A raw 32-byte key.
    pub fn from_bytes(bytes: [u8; 32]) -> Self {
        let id = key_id(&bytes);
        Key {
            kind: KeyKind::Raw {
                bytes: Arc::new(Zeroizing::new(bytes)),
                id,
            },
        }
    }

    /// A fresh random key.
    pub fn generate() -> Result<Self> {
        Ok(Self::from_bytes(random()?))
    }

    /// A key from a passphrase, stretched with Argon2id at `params` (use
    /// [`KdfParams::default`] unless testing).
    pub fn from_passphrase(passphrase: &str, params: KdfParams) -> Result<Self> {
        if passphrase.is_empty() {
            return Err(Error::Key("the passphrase is empty".into()));
        }
        Params::new(
            params.memory_kib,
            params.iterations,
            params.parallelism,
            Some(32),
        )
        .map_err(|e| Error::Key(format!("Argon2id parameters: {e}")))?;
        Ok(Key {
            kind: KeyKind::Passphrase {
                passphrase: Arc::new(Zeroizing::new(passphrase.to_owned())),
                params,
                write_salt: random()?,
                derived: Arc::new(Mutex::new(HashMap::new())),
            },
        })
    }

    /// A key from a key file: 32 raw bytes, or 64 hex digits (surrounding whitespace ignored).
    /// The file must not be readable by group or others.
    pub fn from_key_file(path: impl AsRef<Path>) -> Result<Self> {
        use std::os::unix::fs::PermissionsExt;
        let path = path.as_ref();
        let meta = std::fs::metadata(path).map_err(|e| Error::io("read key file", path, e))?;
        if meta.permissions().mode() & 0o077 != 0 {
            return Err(Error::Key(format!(
                "key file {} is readable by others (mode {:o}); chmod 600 it",
                path.display(),
                meta.permissions().mode() & 0o777
            )));
        }
        let content =
            Zeroizing::new(std::fs::read(path).map_err(|e| Error::io("read key file", path, e))?);
        let mut bytes = [0u8; 32];
        if content.len() == 32 {
            bytes.copy_from_slice(&content);
        } else {
            let text = std::str::from_utf8(&content).unwrap_or("").trim();
            hex::decode_to_slice(text, &mut bytes).map_err(|_| {
                Error::Key(format!(
                    "key file {} holds neither 32 raw bytes nor 64 hex digits",
                    path.display()
                ))
            })?;
        }
        let key = Self::from_bytes(bytes);
        bytes.fill(0);
        Ok(key)
    }

    /// Writes a new random key file (64 hex digits, mode 0600; refuses to overwrite) and
    /// returns the key.
    pub fn create_key_file(path: impl AsRef<Path>) -> Result<Self> {
        use std::io::Write;
        use std::os::unix::fs::OpenOptionsExt;
        let path = path.as_ref();
        let bytes: KeyBytes = Zeroizing::new(random()?);
        let text = Zeroizing::new(hex::encode(*bytes));
        let mut file = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(path)
            .map_err(|e| Error::io("create key file", path, e))?;
        file.write_all(text.as_bytes())
            .and_then(|()| file.sync_all())
            .map_err(|e| Error::io("write key file", path, e))?;
        Ok(Self::from_bytes(*bytes))
    }

    /// How new files sealed with this key record it, and the key material.
    pub(crate) fn for_writing(&self) -> Result<(Derivation, Arc<KeyBytes>)> {
        match &self.kind {
            KeyKind::Raw { bytes, .. } => Ok((Derivation::Raw, bytes.clone())),
            KeyKind::Passphrase {
                params, write_salt, ..
            } => {
                let derivation = Derivation::Argon2id {
                    salt: *write_salt,
                    params: *params,
                };
                Ok((derivation, self.derive(write_salt, params)?))
            }
        }
    }

    /// The key material for a file sealed as `derivation` with key id `id`, if this key wrote it.
    pub(crate) fn for_reading(
        &self,
        derivation: &Derivation,
        id: &[u8; KEY_ID_LEN],
    ) -> Result<Option<Arc<KeyBytes>>> {
        match (&self.kind, derivation) {
            (KeyKind::Raw { bytes, id: own }, Derivation::Raw) => {
                Ok((own == id).then(|| bytes.clone()))
            }
            (KeyKind::Passphrase { .. }, Derivation::Argon2id { salt, params }) => {
                let key = self.derive(salt, params)?;
                Ok((key_id(&key) == *id).then_some(key))
            }
            _ => Ok(None),
        }
    }

    fn derive(&self, salt: &[u8; SALT_LEN], params: &KdfParams) -> Result<Arc<KeyBytes>> {
        let KeyKind::Passphrase {
            passphrase,
            derived,
            ..
        } = &self.kind
        else {
            return Err(Error::Key("not a passphrase key".into()));
        };
        let cache_key = (*salt, *params);
        if let Some(key) = derived.lock().ok().and_then(|c| c.get(&cache_key).cloned()) {
            return Ok(key);
        }
        let argon_params = Params::new(
            params.memory_kib,
            params.iterations,
            params.parallelism,
            Some(32),
        )
        .map_err(|e| Error::Key(format!("Argon2id parameters: {e}")))?;
        let mut out: KeyBytes = Zeroizing::new([0u8; 32]);
        Argon2::new(Algorithm::Argon2id, Version::V0x13, argon_params)
            .hash_password_into(passphrase.as_bytes(), salt, out.as_mut())
            .map_err(|e| Error::Key(format!("Argon2id: {e}")))?;
        let key = Arc::new(out);
        if let Ok(mut cache) = derived.lock() {
            cache.insert(cache_key, key.clone());
        }
        Ok(key)
    }
}

/// The keys of an encrypted store, newest first: the newest seals every write, all of them
/// open files. Rotation: put a new key in front, keep the old ones until
/// [`FileStore::reseal_all`](crate::FileStore::reseal_all) has re-encrypted every file, then
/// drop them.
#[derive(Clone, Debug)]
pub struct Keyring {
    keys: Vec<Key>,
}

impl Keyring {
    /// A keyring with one key.
    pub fn new(key: Key) -> Self {
        Keyring { keys: vec![key] }
    }

    /// A keyring of `keys`, newest (the writing key) first; `Err` when empty.
    pub fn with_keys(keys: Vec<Key>) -> Result<Self> {
        if keys.is_empty() {
            return Err(Error::Key("a keyring needs at least one key".into()));
        }
        Ok(Keyring { keys })
    }

    /// Keys from URL sources: `key_env` names a variable holding a passphrase, `key_file` a
    /// key file.
    pub fn from_sources(sources: &[KeySource]) -> Result<Self> {
        let keys = sources
            .iter()
            .map(|source| match source {
                KeySource::Env(var) => {
                    let passphrase = Zeroizing::new(std::env::var(var).map_err(|_| {
                        Error::Key(format!(
                            "environment variable {var} (named by key_env) is not set or not UTF-8"
                        ))
                    })?);
                    Key::from_passphrase(&passphrase, KdfParams::default())
                }
                KeySource::File(path) => Key::from_key_file(path),
            })
            .collect::<Result<Vec<_>>>()?;
        Self::with_keys(keys)
    }

    /// The key that seals new files.
    pub fn writing_key(&self) -> &Key {
        &self.keys[0]
    }

    /// Every key, newest first.
    pub fn keys(&self) -> &[Key] {
        &self.keys
    }
}
