//! The encrypted file store: the file store with every file sealed by XChaCha20-Poly1305.
//!
//! An [`EncryptedFileStore`] is a [`FileStore`] whose [`Sealer`] is [`Encryption`]: it shares
//! every guarantee of the file store (0600 files, atomic writes, the advisory lock) and adds:
//!
//! - **Confidentiality and integrity**: each file is sealed with XChaCha20-Poly1305 under a
//!   fresh random 192-bit nonce, behind a versioned header (see [`format`](mod@format)) that is itself
//!   authenticated. No attribute value, principal or key appears in clear on disk.
//! - **Keys** from a key file (32 random bytes) or a passphrase stretched with Argon2id (the
//!   salt and costs are in each file's header).
//! - **Rotation**: a [`Keyring`] lists keys newest first; the newest seals, all open.
//!   [`FileStore::reseal_all`] re-encrypts files sealed with older keys.
//! - **Clear failures**: a changed byte ([`Error::Tampered`]), a cut-off file
//!   ([`Error::Truncated`]) and a key the store does not have ([`Error::WrongKey`]) are three
//!   different errors (the source of the store's backend error); the file is never deleted
//!   because it could not be read, and nothing panics on any input.

pub mod format;
mod keys;
mod sealer;

pub use format::KdfParams;
pub use keys::{Key, Keyring};
pub use sealer::Encryption;

use std::path::Path;

use session_core::StoreConfig;

use crate::error::Result;
use crate::file::FileStore;
#[cfg(doc)]
use crate::{error::Error, file::Sealer};

/// A file store whose files are sealed with XChaCha20-Poly1305.
pub type EncryptedFileStore = FileStore<Encryption>;

impl FileStore<Encryption> {
    /// Opens (creating if needed) an encrypted store in `dir` with `keyring`.
    pub fn with_keyring(
        dir: impl AsRef<Path>,
        keyring: Keyring,
        config: StoreConfig,
    ) -> Result<Self> {
        FileStore::with_sealer(dir, Encryption::new(keyring), config)
    }
}
