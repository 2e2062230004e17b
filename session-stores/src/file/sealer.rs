//! What turns a record's bytes into a file's bytes and back: nothing for the plain file store,
//! authenticated encryption for the encrypted one.

use std::fmt;

use crate::error::Result;

/// Transforms record bytes on their way to and from disk. The file store is generic over it,
/// so the encrypted store shares every line of the file handling.
pub trait Sealer: Send + Sync + fmt::Debug + 'static {
    /// The store's name in errors and metrics (`file`, `encrypted`).
    const STORE: &'static str;
    /// The extension of record files (`session`, `sealed`).
    const EXTENSION: &'static str;

    /// The bytes to write for a record encoded as `plain`.
    fn seal(&self, plain: &[u8]) -> Result<Vec<u8>>;

    /// The record bytes in `sealed`, read from `location` (named in errors).
    fn unseal(&self, sealed: &[u8], location: &str) -> Result<Vec<u8>>;

    /// Whether `sealed` should be rewritten by [`FileStore::reseal_all`](super::FileStore::reseal_all)
    /// (written with an older key, say).
    fn needs_reseal(&self, _sealed: &[u8]) -> bool {
        false
    }
}

/// No transformation: record files hold the record envelope itself (JSON for JSON records,
/// so an operator can read them).
#[derive(Clone, Copy, Debug, Default)]
pub struct Plain;

impl Sealer for Plain {
    const STORE: &'static str = "file";
    const EXTENSION: &'static str = "session";

    fn seal(&self, plain: &[u8]) -> Result<Vec<u8>> {
        Ok(plain.to_vec())
    }

    fn unseal(&self, sealed: &[u8], _location: &str) -> Result<Vec<u8>> {
        Ok(sealed.to_vec())
    }
}
