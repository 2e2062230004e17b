//! What a request did to a session: the per-key delta a store applies on save.

use std::collections::{BTreeMap, BTreeSet};

use crate::expiry::ExpiryPolicy;

/// What a change set does to the session's principal.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum PrincipalChange {
    /// The principal stays as it is (whatever other writers made it).
    #[default]
    Keep,
    /// The session now belongs to this principal (a login, or a switch to another one).
    Set(String),
    /// The session no longer belongs to anyone (a logout).
    Remove,
}

impl PrincipalChange {
    /// The change from what a session handle holds: `Some` sets, `None` removes.
    pub fn to(principal: Option<String>) -> Self {
        match principal {
            Some(principal) => PrincipalChange::Set(principal),
            None => PrincipalChange::Remove,
        }
    }

    /// Whether the principal changes at all.
    pub fn is_keep(&self) -> bool {
        *self == PrincipalChange::Keep
    }

    /// The principal a write gives the session, when it sets one (what the per-principal limit
    /// counts).
    pub fn set(&self) -> Option<&str> {
        match self {
            PrincipalChange::Set(principal) => Some(principal),
            PrincipalChange::Keep | PrincipalChange::Remove => None,
        }
    }

    /// The principal of a session that had `current`, after this change.
    pub fn applied_to<'a>(&'a self, current: Option<&'a str>) -> Option<&'a str> {
        match self {
            PrincipalChange::Keep => current,
            PrincipalChange::Set(principal) => Some(principal),
            PrincipalChange::Remove => None,
        }
    }
}

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
    /// What happens to the principal.
    pub principal: PrincipalChange,
    /// The expiry policy, when it changed.
    pub expiry: Option<ExpiryPolicy>,
    /// Integers added to attributes: the store adds each to the attribute's value as it then
    /// is (after this change set's clear, removals and upserts), by the rule of
    /// [`add_to_json_integer`](crate::add_to_json_integer). Unlike an upsert, an addition
    /// does not conflict with other writers' changes to its attribute, so concurrent
    /// increments all count.
    pub additions: BTreeMap<String, i64>,
}

impl ChangeSet {
    /// Whether the change set changes nothing.
    pub fn is_empty(&self) -> bool {
        self.upserts.is_empty()
            && self.removals.is_empty()
            && !self.cleared
            && self.principal.is_keep()
            && self.expiry.is_none()
            && self.additions.is_empty()
    }

    /// Records that `key` was set to `value`.
    pub fn upsert(&mut self, key: String, value: Vec<u8>) {
        self.removals.remove(&key);
        self.additions.remove(&key);
        self.upserts.insert(key, value);
    }

    /// Records that `key` was removed.
    pub fn remove(&mut self, key: &str) {
        self.upserts.remove(key);
        self.additions.remove(key);
        self.removals.insert(key.to_owned());
    }

    /// Records that all attributes were removed.
    pub fn clear(&mut self) {
        self.upserts.clear();
        self.removals.clear();
        self.additions.clear();
        self.cleared = true;
    }

    /// Records that `amount` is to be added to `key`'s value (to what this change set sets it
    /// to, when it does). Amounts added to one key add up.
    pub fn add(&mut self, key: String, amount: i64) {
        let total = self.additions.entry(key).or_insert(0);
        *total = total.saturating_add(amount);
    }

    /// The attribute names this change set writes or removes, each checked against other
    /// writers' changes (additions are not: they apply to whatever value is there).
    pub fn touched_keys(&self) -> impl Iterator<Item = &str> {
        self.upserts
            .keys()
            .chain(self.removals.iter())
            .map(String::as_str)
    }
}
