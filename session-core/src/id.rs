//! Session ids (the secret a client holds) and session keys (the digest a store files it under).
//!
//! A [`SessionId`] is 256 bits from the operating system's CSPRNG, written as 43 characters of
//! unpadded URL-safe base64. It is a bearer secret: its `Debug` and `Display` show only a short
//! prefix, and the whole value comes out only through [`SessionId::expose_secret`].
//!
//! Stores never see ids. They file records under a [`SessionKey`], the SHA-256 digest of the id,
//! so that a dump of a store (a Redis `KEYS *`, a copy of the SQLite file) yields nothing a client
//! could present. Client-side caches that have no id use [`SessionKey::derive`] to make a key from
//! what identifies them (a base URL, a user name, an environment).

use std::fmt;
use std::hash::{Hash, Hasher};
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use sha2::{Digest, Sha256};

/// Random bytes in a session id.
pub const ID_BYTES: usize = 32;
/// Length of a session id's text form.
pub const ID_TEXT_LEN: usize = 43;
/// Length of a session key's text form (lowercase hex).
pub const KEY_TEXT_LEN: usize = 64;

/// Why a text is not a session id or a session key.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IdError {
    /// The text has the wrong length.
    #[error("expected {expected} characters, got {actual}")]
    Length {
        /// The required length.
        expected: usize,
        /// The length given.
        actual: usize,
    },
    /// The text has a character outside the allowed alphabet.
    #[error("character {position} is outside the allowed alphabet")]
    Alphabet {
        /// Zero-based position of the first bad character.
        position: usize,
    },
    /// The text is not in canonical form (base64 with non-zero trailing bits).
    #[error("not in canonical form")]
    NotCanonical,
    /// The operating system's random generator failed.
    #[error("the operating system's random generator failed: {0}")]
    Random(String),
}

/// A secret session id: 256 random bits.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct SessionId([u8; ID_BYTES]);

impl SessionId {
    /// A fresh id from the operating system's CSPRNG (drawn in blocks, one system call per
    /// 32 ids; see `random_pool`).
    pub fn generate() -> Result<Self, IdError> {
        let mut bytes = [0u8; ID_BYTES];
        crate::random_pool::fill(&mut bytes).map_err(|e| IdError::Random(e.to_string()))?;
        Ok(SessionId(bytes))
    }

    /// Parses the text form strictly: exactly 43 characters of URL-safe base64 in canonical form.
    /// Nothing else is accepted, so bad input is rejected before any store is asked.
    pub fn parse(text: &str) -> Result<Self, IdError> {
        crate::id_text::decode(text.as_bytes()).map(SessionId)
    }

    /// The whole secret in its text form, for a cookie or a header. Handle with care.
    pub fn expose_secret(&self) -> String {
        self.expose_secret_ascii()
            .iter()
            .map(|&digit| char::from(digit))
            .collect()
    }

    /// [`expose_secret`](SessionId::expose_secret) as ASCII bytes, without allocating: for
    /// writing the id straight into a header. Handle with care.
    pub fn expose_secret_ascii(&self) -> [u8; ID_TEXT_LEN] {
        crate::id_text::encode(&self.0)
    }

    /// The key a store files this session under.
    pub fn key(&self) -> SessionKey {
        let mut hasher = Sha256::new();
        hasher.update(b"session-id\0");
        hasher.update(self.0);
        SessionKey(hasher.finalize().into())
    }

    fn redacted(&self) -> String {
        let text = self.expose_secret();
        format!("{}…", &text[..4])
    }
}

impl fmt::Debug for SessionId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SessionId({})", self.redacted())
    }
}

/// Shows a short prefix only; use [`SessionId::expose_secret`] for the whole id.
impl fmt::Display for SessionId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.redacted())
    }
}

impl FromStr for SessionId {
    type Err = IdError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        SessionId::parse(s)
    }
}

/// The key a store files a session under: SHA-256 of the session id, or a key derived from
/// what identifies a client-side cache. Not a secret; its text form is 64 lowercase hex digits
/// and is what admin tools and logs show (as the session's "id hash").
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct SessionKey([u8; 32]);

/// A key is a digest, as evenly spread as a hash: eight of its bytes make as good a hash
/// input as all 32 at a fraction of the work (the memory store's lookups hash only these).
/// Bytes 8 to 15 rather than the first eight, which the memory store uses to pick a shard:
/// within a shard, those are alike.
impl Hash for SessionKey {
    fn hash<H: Hasher>(&self, state: &mut H) {
        let [_, _, _, _, _, _, _, _, a, b, c, d, e, f, g, h, ..] = self.0;
        state.write_u64(u64::from_le_bytes([a, b, c, d, e, f, g, h]));
    }
}

impl SessionKey {
    /// A key derived from a namespace and a list of parts, for caches keyed by something other
    /// than a session id. Parts are length-prefixed, so `("ab", "c")` and `("a", "bc")` differ.
    ///
    /// ```
    /// use session_core::SessionKey;
    /// let a = SessionKey::derive("hac", &["https://hac.example:9002", "admin", "dev"]);
    /// let b = SessionKey::derive("hac", &["https://hac.example:9002", "admin", "prod"]);
    /// assert_ne!(a, b);
    /// assert_eq!(a, SessionKey::derive("hac", &["https://hac.example:9002", "admin", "dev"]));
    /// ```
    pub fn derive(namespace: &str, parts: &[&str]) -> Self {
        let mut hasher = Sha256::new();
        hasher.update(b"derived\0");
        for part in std::iter::once(&namespace).chain(parts) {
            hasher.update((part.len() as u64).to_be_bytes());
            hasher.update(part.as_bytes());
        }
        SessionKey(hasher.finalize().into())
    }

    /// Parses the text form strictly: exactly 64 lowercase hex digits.
    pub fn parse(text: &str) -> Result<Self, IdError> {
        if text.len() != KEY_TEXT_LEN {
            return Err(IdError::Length {
                expected: KEY_TEXT_LEN,
                actual: text.len(),
            });
        }
        if let Some(position) = text
            .bytes()
            .position(|b| !(b.is_ascii_digit() || (b'a'..=b'f').contains(&b)))
        {
            return Err(IdError::Alphabet { position });
        }
        let mut bytes = [0u8; 32];
        hex::decode_to_slice(text, &mut bytes).map_err(|_| IdError::NotCanonical)?;
        Ok(SessionKey(bytes))
    }

    /// A key from its raw 32 bytes (as a store may keep them).
    pub const fn from_bytes(bytes: [u8; 32]) -> Self {
        SessionKey(bytes)
    }

    /// The raw 32 bytes.
    pub const fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }

    /// The 64-digit lowercase hex form (safe for file names, Redis keys and logs).
    pub fn to_hex(&self) -> String {
        let mut text = String::with_capacity(64);
        self.push_hex(&mut text);
        text
    }

    /// Appends the 64-digit lowercase hex form to `out`, for callers building a longer name
    /// (a Redis key, a file path) without a string of its own for the digits.
    pub fn push_hex(&self, out: &mut String) {
        const DIGITS: &[u8; 16] = b"0123456789abcdef";
        out.reserve(64);
        for byte in self.0 {
            out.push(char::from(DIGITS[usize::from(byte >> 4)]));
            out.push(char::from(DIGITS[usize::from(byte & 0x0f)]));
        }
    }

    /// A short form for log lines: the first 12 hex digits.
    pub fn short(&self) -> String {
        hex::encode(&self.0[..6])
    }
}

impl fmt::Debug for SessionKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SessionKey({})", self.short())
    }
}

impl fmt::Display for SessionKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_hex())
    }
}

impl FromStr for SessionKey {
    type Err = IdError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        SessionKey::parse(s)
    }
}

impl Serialize for SessionKey {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        if serializer.is_human_readable() {
            serializer.serialize_str(&self.to_hex())
        } else {
            serializer.serialize_bytes(&self.0)
        }
    }
}

impl<'de> Deserialize<'de> for SessionKey {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        if deserializer.is_human_readable() {
            let text = String::deserialize(deserializer)?;
            SessionKey::parse(&text).map_err(serde::de::Error::custom)
        } else {
            let bytes = <Vec<u8>>::deserialize(deserializer)?;
            let array: [u8; 32] = bytes
                .try_into()
                .map_err(|_| serde::de::Error::custom("a session key has 32 bytes"))?;
            Ok(SessionKey(array))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_ids_round_trip_and_differ() {
        let a = SessionId::generate().unwrap();
        let b = SessionId::generate().unwrap();
        assert_ne!(a, b);
        let text = a.expose_secret();
        assert_eq!(text.len(), ID_TEXT_LEN);
        assert_eq!(SessionId::parse(&text).unwrap(), a);
    }

    #[test]
    fn debug_and_display_never_show_the_whole_id() {
        let id = SessionId::generate().unwrap();
        let secret = id.expose_secret();
        for shown in [format!("{id:?}"), format!("{id}")] {
            assert!(!shown.contains(&secret[..8]), "{shown}");
        }
    }

    #[test]
    fn parse_rejects_non_canonical_and_foreign_text() {
        assert!(matches!(SessionId::parse(""), Err(IdError::Length { .. })));
        assert!(matches!(
            SessionId::parse(&"A".repeat(42)),
            Err(IdError::Length { .. })
        ));
        assert!(matches!(
            SessionId::parse(&format!("../{}", "A".repeat(40))),
            Err(IdError::Alphabet { position: 0 })
        ));
        // The last character of 43 carries 2 spare bits; 'B' sets one of them.
        assert_eq!(
            SessionId::parse(&format!("{}B", "A".repeat(42))),
            Err(IdError::NotCanonical)
        );
        assert!(SessionId::parse(&format!("{}A", "A".repeat(42))).is_ok());
    }

    #[test]
    fn key_parse_is_strict() {
        let key = SessionId::generate().unwrap().key();
        assert_eq!(SessionKey::parse(&key.to_hex()).unwrap(), key);
        assert!(SessionKey::parse(&key.to_hex().to_uppercase()).is_err());
        assert!(SessionKey::parse("../../etc/passwd").is_err());
    }
}
