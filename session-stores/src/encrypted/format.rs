//! The sealed file format, as pure functions over bytes (fuzzed by `fuzz/fuzz_targets/encrypted_header.rs`).
//!
//! ```text
//! offset  size  field
//! 0       4     magic "SSEC"
//! 4       1     format version (1)
//! 5       1     key derivation: 0 = raw key (key file), 1 = Argon2id (passphrase)
//! 6       8     key id: the first 8 bytes of SHA-256("session-stores key id\0" ‖ key)
//! 14      4     plaintext length, big-endian
//! [Argon2id only]
//! 18      16    salt
//! 34      4     memory cost (KiB), big-endian
//! 38      4     iterations, big-endian
//! 42      4     parallelism, big-endian
//! then    24    XChaCha20-Poly1305 nonce (random for every write)
//! then    n+16  ciphertext and tag
//! ```
//!
//! The whole header is the AEAD's associated data, so changing any header byte fails
//! authentication like changing the ciphertext does. The key id tells "written with a key we do
//! not have" apart from "changed after writing"; the plaintext length tells a truncated file
//! apart from a damaged one.

/// First bytes of a sealed file.
pub const MAGIC: &[u8; 4] = b"SSEC";
/// The format version this crate writes.
pub const FORMAT_VERSION: u8 = 1;
/// Length of the key id.
pub const KEY_ID_LEN: usize = 8;
/// Length of an Argon2id salt.
pub const SALT_LEN: usize = 16;
/// Length of an XChaCha20 nonce.
pub const NONCE_LEN: usize = 24;
/// Length of the Poly1305 tag.
pub const TAG_LEN: usize = 16;
/// Header length before the derivation fields.
const FIXED_LEN: usize = 4 + 1 + 1 + KEY_ID_LEN + 4;
/// Largest plaintext a header may announce (a record is far smaller).
pub const MAX_PLAINTEXT: u32 = 256 * 1024 * 1024;

/// Argon2id cost parameters.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct KdfParams {
    /// Memory in KiB.
    pub memory_kib: u32,
    /// Iterations.
    pub iterations: u32,
    /// Lanes.
    pub parallelism: u32,
}

impl Default for KdfParams {
    /// 19 MiB, 2 iterations, 1 lane (the OWASP recommendation for Argon2id).
    fn default() -> Self {
        KdfParams {
            memory_kib: 19 * 1024,
            iterations: 2,
            parallelism: 1,
        }
    }
}

/// How the key that sealed a file was obtained.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Derivation {
    /// A raw 32-byte key (a key file).
    Raw,
    /// A passphrase through Argon2id with this salt and these costs.
    Argon2id {
        /// The salt.
        salt: [u8; SALT_LEN],
        /// The costs.
        params: KdfParams,
    },
}

/// A parsed sealed file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Envelope<'a> {
    /// How the key was obtained.
    pub derivation: Derivation,
    /// Which key sealed it.
    pub key_id: [u8; KEY_ID_LEN],
    /// The plaintext's length.
    pub plaintext_len: u32,
    /// The nonce.
    pub nonce: [u8; NONCE_LEN],
    /// The header bytes (the associated data).
    pub header: &'a [u8],
    /// Ciphertext and tag.
    pub ciphertext: &'a [u8],
}

/// Why bytes are not a readable sealed file (before any decryption).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum FormatError {
    /// Shorter than the header and length say.
    #[error("truncated: {actual} bytes, at least {needed} needed")]
    Truncated {
        /// The length.
        actual: usize,
        /// The least length needed.
        needed: usize,
    },
    /// Not a sealed file at all.
    #[error("not a sealed session file (no SSEC header)")]
    NotSealed,
    /// A format version this program does not know.
    #[error("sealed file format version {0} is not supported")]
    UnsupportedVersion(u8),
    /// A key derivation this program does not know.
    #[error("unknown key derivation {0}")]
    UnknownDerivation(u8),
    /// Header fields that cannot be right (absurd costs or lengths).
    #[error("implausible header: {0}")]
    Implausible(&'static str),
    /// More bytes than the header announces.
    #[error("{0} bytes after the announced end")]
    TrailingBytes(usize),
}

fn be32(bytes: &[u8], at: usize) -> u32 {
    let mut word = [0u8; 4];
    word.copy_from_slice(&bytes[at..at + 4]);
    u32::from_be_bytes(word)
}

/// The header for a new file (without the nonce's randomness: the caller supplies it).
pub fn encode_header(
    derivation: &Derivation,
    key_id: &[u8; KEY_ID_LEN],
    plaintext_len: u32,
    nonce: &[u8; NONCE_LEN],
) -> Vec<u8> {
    let mut header = Vec::with_capacity(FIXED_LEN + 28 + NONCE_LEN);
    header.extend_from_slice(MAGIC);
    header.push(FORMAT_VERSION);
    match derivation {
        Derivation::Raw => header.push(0),
        Derivation::Argon2id { .. } => header.push(1),
    }
    header.extend_from_slice(key_id);
    header.extend_from_slice(&plaintext_len.to_be_bytes());
    if let Derivation::Argon2id { salt, params } = derivation {
        header.extend_from_slice(salt);
        header.extend_from_slice(&params.memory_kib.to_be_bytes());
        header.extend_from_slice(&params.iterations.to_be_bytes());
        header.extend_from_slice(&params.parallelism.to_be_bytes());
    }
    header.extend_from_slice(nonce);
    header
}

/// Parses a sealed file's header and checks its lengths. Never panics, whatever the input.
pub fn parse_envelope(bytes: &[u8]) -> Result<Envelope<'_>, FormatError> {
    let truncated = |needed: usize| FormatError::Truncated {
        actual: bytes.len(),
        needed,
    };
    let magic_len = MAGIC.len().min(bytes.len());
    if bytes[..magic_len] != MAGIC[..magic_len] {
        return Err(FormatError::NotSealed);
    }
    if bytes.len() < 5 {
        return Err(truncated(FIXED_LEN + NONCE_LEN + TAG_LEN));
    }
    if bytes[4] != FORMAT_VERSION {
        return Err(FormatError::UnsupportedVersion(bytes[4]));
    }
    if bytes.len() < FIXED_LEN {
        return Err(truncated(FIXED_LEN + NONCE_LEN + TAG_LEN));
    }
    let mut key_id = [0u8; KEY_ID_LEN];
    key_id.copy_from_slice(&bytes[6..6 + KEY_ID_LEN]);
    let plaintext_len = be32(bytes, 6 + KEY_ID_LEN);
    if plaintext_len > MAX_PLAINTEXT {
        return Err(FormatError::Implausible("plaintext length"));
    }
    let (derivation, after) = match bytes[5] {
        0 => (Derivation::Raw, FIXED_LEN),
        1 => {
            let end = FIXED_LEN + SALT_LEN + 12;
            if bytes.len() < end {
                return Err(truncated(end + NONCE_LEN + TAG_LEN));
            }
            let mut salt = [0u8; SALT_LEN];
            salt.copy_from_slice(&bytes[FIXED_LEN..FIXED_LEN + SALT_LEN]);
            let at = FIXED_LEN + SALT_LEN;
            let params = KdfParams {
                memory_kib: be32(bytes, at),
                iterations: be32(bytes, at + 4),
                parallelism: be32(bytes, at + 8),
            };
            if params.memory_kib > 4 * 1024 * 1024
                || params.iterations == 0
                || params.iterations > 64
                || params.parallelism == 0
                || params.parallelism > 64
                || params.memory_kib < 8 * params.parallelism
            {
                return Err(FormatError::Implausible("Argon2id costs"));
            }
            (Derivation::Argon2id { salt, params }, end)
        }
        other => return Err(FormatError::UnknownDerivation(other)),
    };
    let header_end = after + NONCE_LEN;
    let total = header_end + plaintext_len as usize + TAG_LEN;
    if bytes.len() < total {
        return Err(truncated(total));
    }
    if bytes.len() > total {
        return Err(FormatError::TrailingBytes(bytes.len() - total));
    }
    let mut nonce = [0u8; NONCE_LEN];
    nonce.copy_from_slice(&bytes[after..header_end]);
    Ok(Envelope {
        derivation,
        key_id,
        plaintext_len,
        nonce,
        header: &bytes[..header_end],
        ciphertext: &bytes[header_end..],
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn sample(derivation: Derivation, len: u32) -> Vec<u8> {
        let mut bytes = encode_header(&derivation, &[3; KEY_ID_LEN], len, &[9; NONCE_LEN]);
        bytes.extend(std::iter::repeat_n(0xaa, len as usize + TAG_LEN));
        bytes
    }

    #[test]
    fn headers_round_trip_and_every_prefix_is_truncated() {
        let argon = Derivation::Argon2id {
            salt: [5; SALT_LEN],
            params: KdfParams::default(),
        };
        for derivation in [Derivation::Raw, argon] {
            let bytes = sample(derivation, 40);
            let envelope = parse_envelope(&bytes).unwrap();
            assert_eq!(envelope.derivation, derivation);
            assert_eq!(envelope.key_id, [3; KEY_ID_LEN]);
            assert_eq!(envelope.nonce, [9; NONCE_LEN]);
            assert_eq!(envelope.ciphertext.len(), 40 + TAG_LEN);
            for cut in 0..bytes.len() {
                assert!(
                    matches!(
                        parse_envelope(&bytes[..cut]),
                        Err(FormatError::Truncated { .. })
                    ),
                    "prefix of {cut} bytes"
                );
            }
            let mut longer = bytes.clone();
            longer.push(0);
            assert_eq!(parse_envelope(&longer), Err(FormatError::TrailingBytes(1)));
        }
    }

    #[test]
    fn foreign_bytes_are_not_sealed_files() {
        assert_eq!(
            parse_envelope(b"{\"format\":1}"),
            Err(FormatError::NotSealed)
        );
        assert_eq!(
            parse_envelope(b"SSEC\x07"),
            Err(FormatError::UnsupportedVersion(7))
        );
        let mut bytes = sample(Derivation::Raw, 1);
        bytes[5] = 9;
        assert_eq!(
            parse_envelope(&bytes),
            Err(FormatError::UnknownDerivation(9))
        );
    }

    proptest! {
        #[test]
        fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..200)) {
            let _ = parse_envelope(&bytes);
            let mut sealed = b"SSEC\x01".to_vec();
            sealed.extend_from_slice(&bytes);
            let _ = parse_envelope(&sealed);
        }
    }
}
