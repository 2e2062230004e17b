//! The encrypting sealer.

use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};

use super::format::{FormatError, NONCE_LEN, encode_header, parse_envelope};
use super::keys::{Keyring, key_id};
use crate::error::{Error, Result};
use crate::file::Sealer;

/// Seals record files with XChaCha20-Poly1305 under the newest key of a [`Keyring`].
#[derive(Clone, Debug)]
pub struct Encryption {
    keyring: Keyring,
}

impl Encryption {
    /// Seals with `keyring`'s newest key; opens with any of its keys.
    pub fn new(keyring: Keyring) -> Self {
        Encryption { keyring }
    }

    /// The keyring.
    pub fn keyring(&self) -> &Keyring {
        &self.keyring
    }
}

fn format_error(error: FormatError, location: &str) -> Error {
    match error {
        FormatError::Truncated { actual, needed } => Error::Truncated {
            location: location.to_owned(),
            actual,
            needed,
        },
        // Bytes after the announced end are a change to the file, not a cut.
        FormatError::TrailingBytes(_) => Error::Tampered {
            location: location.to_owned(),
        },
        other => Error::UnsupportedFormat {
            location: location.to_owned(),
            reason: other.to_string(),
        },
    }
}

impl Sealer for Encryption {
    const STORE: &'static str = "encrypted";
    const EXTENSION: &'static str = "sealed";

    fn seal(&self, plain: &[u8]) -> Result<Vec<u8>> {
        let (derivation, key) = self.keyring.writing_key().for_writing()?;
        let length = u32::try_from(plain.len())
            .map_err(|_| Error::Key("record too large to seal".into()))?;
        let mut nonce = [0u8; NONCE_LEN];
        getrandom::fill(&mut nonce).map_err(|e| Error::Key(format!("no randomness: {e}")))?;
        let mut sealed = encode_header(&derivation, &key_id(&key), length, &nonce);
        let cipher = XChaCha20Poly1305::new(chacha20poly1305::Key::from_slice(&**key));
        let ciphertext = cipher
            .encrypt(
                XNonce::from_slice(&nonce),
                Payload {
                    msg: plain,
                    aad: &sealed,
                },
            )
            .map_err(|_| Error::Key("encryption failed".into()))?;
        sealed.extend_from_slice(&ciphertext);
        Ok(sealed)
    }

    fn unseal(&self, sealed: &[u8], location: &str) -> Result<Vec<u8>> {
        let envelope = parse_envelope(sealed).map_err(|e| format_error(e, location))?;
        for key in self.keyring.keys() {
            let Some(material) = key.for_reading(&envelope.derivation, &envelope.key_id)? else {
                continue;
            };
            let cipher = XChaCha20Poly1305::new(chacha20poly1305::Key::from_slice(&**material));
            return cipher
                .decrypt(
                    XNonce::from_slice(&envelope.nonce),
                    Payload {
                        msg: envelope.ciphertext,
                        aad: envelope.header,
                    },
                )
                .map_err(|_| Error::Tampered {
                    location: location.to_owned(),
                });
        }
        Err(Error::WrongKey {
            location: location.to_owned(),
            key_id: hex::encode(envelope.key_id),
        })
    }

    fn needs_reseal(&self, sealed: &[u8]) -> bool {
        let Ok(envelope) = parse_envelope(sealed) else {
            return false;
        };
        match self.keyring.writing_key().for_writing() {
            Ok((derivation, key)) => {
                derivation != envelope.derivation || key_id(&key) != envelope.key_id
            }
            Err(_) => false,
        }
    }
}
