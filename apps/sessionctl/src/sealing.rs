//! Encryption at rest of HTTPie session files, with the encrypted store's sealer
//! (XChaCha20-Poly1305; keys from key files or a passphrase stretched with Argon2id).
//!
//! An encrypted session file stays at HTTPie's path, so HTTPie refuses it loudly ("invalid
//! session file") instead of silently starting a new session; `sessionctl sessions export`
//! with the key gives HTTPie a plain copy.

use session_http::client::FileSealer;
use session_stores::{Encryption, KeySource, Keyring, Sealer};

use crate::CliError;

/// Key options shared by `request` and `sessions`.
#[derive(Clone, Debug, Default, clap::Args)]
pub(crate) struct KeyArgs {
    /// Encrypt session files with this key file (32 bytes or 64 hex digits, mode 0600).
    /// Repeat to add older keys that can still decrypt; the first one encrypts.
    #[arg(
        long = "key-file",
        global = true,
        value_name = "PATH",
        env = "SESSIONCTL_KEY_FILE"
    )]
    key_files: Vec<std::path::PathBuf>,
    /// Encrypt session files with a passphrase taken from this environment variable.
    #[arg(long = "key-env", global = true, value_name = "VAR")]
    key_env: Option<String>,
}

/// The encrypted store's sealer as a [`FileSealer`].
pub(crate) struct StoreSealer(Encryption);

impl FileSealer for StoreSealer {
    fn seal(&self, plain: &[u8]) -> Result<Vec<u8>, String> {
        Sealer::seal(&self.0, plain).map_err(|e| e.to_string())
    }

    fn unseal(&self, sealed: &[u8]) -> Result<Vec<u8>, String> {
        Sealer::unseal(&self.0, sealed, "session file").map_err(|e| e.to_string())
    }
}

impl KeyArgs {
    /// The keys given, the passphrase first.
    pub(crate) fn sources(&self) -> Vec<KeySource> {
        let mut sources: Vec<KeySource> = Vec::new();
        if let Some(var) = &self.key_env {
            sources.push(KeySource::Env(var.clone()));
        }
        sources.extend(self.key_files.iter().cloned().map(KeySource::File));
        sources
    }
}

/// The sealer the key options ask for, if any.
pub(crate) fn sealer(args: &KeyArgs) -> Result<Option<StoreSealer>, CliError> {
    let sources = args.sources();
    if sources.is_empty() {
        return Ok(None);
    }
    let keyring = Keyring::from_sources(&sources).map_err(|e| CliError::Other(e.to_string()))?;
    Ok(Some(StoreSealer(Encryption::new(keyring))))
}
