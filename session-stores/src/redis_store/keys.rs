//! Redis key names.

use session_core::SessionKey;
use sha2::{Digest, Sha256};

/// The names of a store's keys, all under one prefix:
///
/// - `<prefix>s:{<key hex>}`: a session's hash. The hash tag (the part in braces) puts all of a
///   session's data in one cluster slot, so each script touches one slot.
/// - `<prefix>all`: a sorted set of every session key (score 0, so ordered by key) for paging.
/// - `<prefix>expiry`: a sorted set of session keys scored by an expiry time that is never later
///   than the real one (it is moved forward by the sweep); for `count` and the sweep.
/// - `<prefix>p:<sha256 of the principal>`: a set of the principal's session keys.
/// - `<prefix>l:<sha256 of the principal>`: a short lease held while a write checks the
///   principal's session limit (see `principal_lease`).
///
/// The index keys live in their own slots and are updated right after the session's script (on
/// a single server, where one script may touch them all, a create's script adds them itself).
#[derive(Clone, Debug)]
pub(crate) struct Keys {
    prefix: String,
    /// The two index names every create and delete uses, named once.
    all: String,
    expiry: String,
}

impl Keys {
    pub(crate) fn new(prefix: String) -> Self {
        Keys {
            all: format!("{prefix}all"),
            expiry: format!("{prefix}expiry"),
            prefix,
        }
    }

    pub(crate) fn prefix(&self) -> &str {
        &self.prefix
    }

    pub(crate) fn session(&self, key: &SessionKey) -> String {
        // Built on every command of a session: one allocation, no formatting machinery.
        let mut name = String::with_capacity(self.prefix.len() + 67);
        name.push_str(&self.prefix);
        name.push_str("s:{");
        key.push_hex(&mut name);
        name.push('}');
        name
    }

    pub(crate) fn all(&self) -> &str {
        &self.all
    }

    pub(crate) fn expiry(&self) -> &str {
        &self.expiry
    }

    pub(crate) fn principal(&self, principal: &str) -> String {
        self.of_principal("p", principal)
    }

    pub(crate) fn principal_lease(&self, principal: &str) -> String {
        self.of_principal("l", principal)
    }

    fn of_principal(&self, kind: &str, principal: &str) -> String {
        let digest = Sha256::digest(principal.as_bytes());
        format!("{}{kind}:{}", self.prefix, hex::encode(digest))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn session_keys_carry_a_hash_tag_of_the_key_digest() {
        let keys = Keys::new("app:".into());
        let key = SessionKey::from_bytes([0xab; 32]);
        assert_eq!(keys.session(&key), format!("app:s:{{{}}}", "ab".repeat(32)));
        assert!(keys.principal("{x}").starts_with("app:p:"));
        assert!(!keys.principal("{x}").contains('{'));
    }
}
