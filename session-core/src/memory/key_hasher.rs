//! The hasher of the memory store's maps, which are keyed by [`SessionKey`]s.

use std::hash::{BuildHasherDefault, Hasher};

#[cfg(doc)]
use crate::id::SessionKey;

/// Builds [`KeyHasher`]s.
pub(super) type BuildKeyHasher = BuildHasherDefault<KeyHasher>;

/// Passes a [`SessionKey`]'s hash input through as the hash.
///
/// A key is a SHA-256 digest and hashes as eight of its bytes (see its `Hash`), which are
/// already evenly spread: hashing them again (SipHash, the standard maps' default) costs a
/// few hundred instructions per lookup and adds nothing. Nor does it give up the standard
/// hasher's defence against flooding: the keys a session manager files are digests of ids
/// it drew at random, which no client chooses (and a key made with `SessionKey::derive` from
/// client input would cost a digest search per bit made to collide). Anything hashed
/// otherwise is mixed in, a word at a time, so the hasher is still sound for other input.
#[derive(Default)]
pub(super) struct KeyHasher(u64);

impl Hasher for KeyHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write_u64(&mut self, value: u64) {
        self.0 = self.0.rotate_left(5) ^ value;
    }

    fn write(&mut self, bytes: &[u8]) {
        for chunk in bytes.chunks(8) {
            let mut word = [0u8; 8];
            word[..chunk.len()].copy_from_slice(chunk);
            self.write_u64(u64::from_le_bytes(word).wrapping_mul(0x9e37_79b9_7f4a_7c15));
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;
    use std::hash::BuildHasher;

    use super::*;
    use crate::id::SessionId;

    #[test]
    fn a_key_hashes_to_its_own_bytes() {
        let key = SessionId::generate().unwrap().key();
        let bytes = key.as_bytes();
        let expected = u64::from_le_bytes(bytes[8..16].try_into().unwrap());
        assert_eq!(BuildKeyHasher::default().hash_one(key), expected);
    }

    #[test]
    fn keys_of_one_shard_spread_over_the_table() {
        // Keys alike in their first eight bytes (one shard's) but for the hash input.
        let mut map: HashMap<_, _, BuildKeyHasher> = HashMap::default();
        for n in 0..10_000u64 {
            let mut bytes = [7u8; 32];
            bytes[8..16].copy_from_slice(&n.wrapping_mul(0x2545_f491_4f6c_dd1d).to_le_bytes());
            map.insert(crate::SessionKey::from_bytes(bytes), n);
        }
        assert_eq!(map.len(), 10_000);
        // Every key its own hash: nothing of the shard's bytes narrows them.
        let hashes: std::collections::HashSet<u64> = map
            .keys()
            .map(|key| BuildKeyHasher::default().hash_one(key))
            .collect();
        assert_eq!(hashes.len(), 10_000);
        for n in [0u64, 4_999, 9_999] {
            let mut bytes = [7u8; 32];
            bytes[8..16].copy_from_slice(&n.wrapping_mul(0x2545_f491_4f6c_dd1d).to_le_bytes());
            assert_eq!(map.get(&crate::SessionKey::from_bytes(bytes)), Some(&n));
        }
    }

    #[test]
    fn other_input_is_mixed_in() {
        let hash = |bytes: &[u8]| {
            let mut hasher = KeyHasher::default();
            hasher.write(bytes);
            hasher.finish()
        };
        assert_ne!(hash(b"abc"), hash(b"abd"));
        assert_ne!(hash(b"0123456789"), hash(b"0123456789a"));
    }
}
