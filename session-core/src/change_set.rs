//! What a request did to a session: the per-key delta a store applies on save.

use std::collections::{BTreeMap, BTreeSet};

use crate::expiry::ExpiryPolicy;

/// The changes made to one session since it was loaded.
///
/// Stores apply a change set atomically with [`Record::apply`](crate::Record::apply) semantics:
/// keys this change set does not mention keep whatever other writers stored meanwhile, so two
/// requests that change different keys both win.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ChangeSet {
    /// Attributes set, with their encoded values.
    pub upserts: BTreeMap<String, Vec<u8>>,
    /// Attributes removed.
    pub removals: BTreeSet<String>,
    /// Whether every attribute was removed first (then `upserts` apply on the empty record).
    pub cleared: bool,
    /// The principal, when it changed: `Some(None)` logs the principal out.
    pub principal: Option<Option<String>>,
    /// The expiry policy, when it changed.
    pub expiry: Option<ExpiryPolicy>,
}

impl ChangeSet {
    /// Whether the change set changes nothing.
    pub fn is_empty(&self) -> bool {
        self.upserts.is_empty()
            && self.removals.is_empty()
            && !self.cleared
            && self.principal.is_none()
            && self.expiry.is_none()
    }

    /// Records that `key` was set to `value`.
    pub fn upsert(&mut self, key: String, value: Vec<u8>) {
        self.removals.remove(&key);
        self.upserts.insert(key, value);
    }

    /// Records that `key` was removed.
    pub fn remove(&mut self, key: &str) {
        self.upserts.remove(key);
        self.removals.insert(key.to_owned());
    }

    /// Records that all attributes were removed.
    pub fn clear(&mut self) {
        self.upserts.clear();
        self.removals.clear();
        self.cleared = true;
    }

    /// The attribute names this change set writes or removes.
    pub fn touched_keys(&self) -> impl Iterator<Item = &str> {
        self.upserts
            .keys()
            .chain(self.removals.iter())
            .map(String::as_str)
    }
}
