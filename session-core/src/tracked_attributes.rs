//! [`TrackedAttributes`]: a session's attributes kept in memory as JSON values, with what
//! changed since the last save, for kinds of session whose attributes live with the holder
//! (a HAC client, a LysKOM gateway connection).

use std::collections::BTreeMap;

use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::session::Changes;

/// Attributes in memory, and the [`Changes`] a [`Session`](crate::Session) reports.
///
/// Setting an attribute to the value it has records nothing; removing one that is absent
/// records nothing. The session that holds these records its other changes (principal,
/// lifetime, renewal) in [`changes`](TrackedAttributes::changes) too.
///
/// ```
/// use session_core::TrackedAttributes;
///
/// let mut attributes = TrackedAttributes::default();
/// attributes.insert("cart", &["book"])?;
/// assert_eq!(attributes.get::<Vec<String>>("cart")?, Some(vec!["book".to_string()]));
/// assert!(attributes.changes.set.contains("cart"));
/// attributes.saved();
/// attributes.insert("cart", &["book"])?;
/// assert!(attributes.changes.is_empty(), "the same value again is no change");
/// # Ok::<(), serde_json::Error>(())
/// ```
#[derive(Clone, Debug, Default)]
pub struct TrackedAttributes {
    values: BTreeMap<String, Value>,
    /// What changed since the last [`saved`](TrackedAttributes::saved).
    pub changes: Changes,
}

impl TrackedAttributes {
    /// Attributes as they were loaded: nothing counts as changed.
    pub fn loaded(values: impl IntoIterator<Item = (String, Value)>) -> Self {
        TrackedAttributes {
            values: values.into_iter().collect(),
            changes: Changes::default(),
        }
    }

    /// Every attribute's value, by name (to write them where the session keeps them).
    pub fn values(&self) -> &BTreeMap<String, Value> {
        &self.values
    }

    /// The value of `key`, decoded as `T`.
    pub fn get<T: DeserializeOwned>(&self, key: &str) -> Result<Option<T>, serde_json::Error> {
        self.values
            .get(key)
            .map(|value| T::deserialize(value))
            .transpose()
    }

    /// Sets `key` to `value`, recording the change when the value is new.
    pub fn insert<T: Serialize + ?Sized>(
        &mut self,
        key: &str,
        value: &T,
    ) -> Result<(), serde_json::Error> {
        let value = serde_json::to_value(value)?;
        if self.values.get(key) != Some(&value) {
            self.values.insert(key.to_owned(), value);
            self.changes.removed.remove(key);
            self.changes.set.insert(key.to_owned());
        }
        Ok(())
    }

    /// Removes `key`, recording the change; says whether it was there.
    pub fn remove(&mut self, key: &str) -> bool {
        let was_there = self.values.remove(key).is_some();
        if was_there {
            self.changes.set.remove(key);
            self.changes.removed.insert(key.to_owned());
        }
        was_there
    }

    /// The attributes' names.
    pub fn keys(&self) -> Vec<String> {
        self.values.keys().cloned().collect()
    }

    /// Forgets every attribute without recording it (the session is ending).
    pub fn forget_all(&mut self) {
        self.values.clear();
    }

    /// Marks everything saved: nothing has changed since.
    pub fn saved(&mut self) {
        self.changes = Changes::default();
    }
}
