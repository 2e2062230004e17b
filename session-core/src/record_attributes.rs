//! A record's attributes: shared between copies of the record until one of them writes.

use std::collections::BTreeMap;
use std::fmt;
use std::ops::{Deref, DerefMut};
use std::sync::Arc;

/// One attribute: its value as encoded by the record's codec, and the record version that
/// last wrote it (what concurrent saves are checked against).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Attribute {
    /// The encoded value.
    pub value: Vec<u8>,
    /// The record version that wrote this value.
    pub version: u64,
}

/// A record's attributes by name: a [`BTreeMap`] that copies of the record share until one
/// of them changes it (copy on write).
///
/// Reading goes through [`Deref`] to the map. Changing goes through [`DerefMut`], which first
/// gives this copy a map of its own when another copy still shares it. So a store that keeps
/// its records in memory hands out a loaded record without copying every name and value, and
/// a write to the store's record never shows in a copy handed out before.
///
/// ```
/// use session_core::{Attribute, Attributes};
///
/// let mut stored = Attributes::default();
/// stored.insert("cart".into(), Attribute { value: b"[]".to_vec(), version: 1 });
/// let loaded = stored.clone(); // shares the map
/// stored.insert("cart".into(), Attribute { value: b"[1]".to_vec(), version: 2 });
/// assert_eq!(loaded["cart"].value, b"[]");
/// assert_eq!(stored["cart"].value, b"[1]");
/// ```
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Attributes(Arc<BTreeMap<String, Attribute>>);

impl Attributes {
    /// The map, copied only when another copy of these attributes still shares it.
    pub fn into_map(self) -> BTreeMap<String, Attribute> {
        Arc::unwrap_or_clone(self.0)
    }

    /// The names, in order (as [`BTreeMap::into_keys`]).
    pub fn into_keys(self) -> std::collections::btree_map::IntoKeys<String, Attribute> {
        self.into_map().into_keys()
    }

    /// The attributes, in the order of their names (as [`BTreeMap::into_values`]).
    pub fn into_values(self) -> std::collections::btree_map::IntoValues<String, Attribute> {
        self.into_map().into_values()
    }
}

impl Deref for Attributes {
    type Target = BTreeMap<String, Attribute>;

    fn deref(&self) -> &Self::Target {
        &self.0
    }
}

impl DerefMut for Attributes {
    fn deref_mut(&mut self) -> &mut Self::Target {
        Arc::make_mut(&mut self.0)
    }
}

impl From<BTreeMap<String, Attribute>> for Attributes {
    fn from(map: BTreeMap<String, Attribute>) -> Self {
        Attributes(Arc::new(map))
    }
}

impl FromIterator<(String, Attribute)> for Attributes {
    fn from_iter<I: IntoIterator<Item = (String, Attribute)>>(iter: I) -> Self {
        Attributes(Arc::new(iter.into_iter().collect()))
    }
}

impl From<Attributes> for BTreeMap<String, Attribute> {
    fn from(attributes: Attributes) -> Self {
        attributes.into_map()
    }
}

impl PartialEq<BTreeMap<String, Attribute>> for Attributes {
    fn eq(&self, other: &BTreeMap<String, Attribute>) -> bool {
        *self.0 == *other
    }
}

impl Extend<(String, Attribute)> for Attributes {
    fn extend<I: IntoIterator<Item = (String, Attribute)>>(&mut self, iter: I) {
        Arc::make_mut(&mut self.0).extend(iter);
    }
}

impl IntoIterator for Attributes {
    type Item = (String, Attribute);
    type IntoIter = std::collections::btree_map::IntoIter<String, Attribute>;

    fn into_iter(self) -> Self::IntoIter {
        self.into_map().into_iter()
    }
}

impl<'a> IntoIterator for &'a Attributes {
    type Item = (&'a String, &'a Attribute);
    type IntoIter = std::collections::btree_map::Iter<'a, String, Attribute>;

    fn into_iter(self) -> Self::IntoIter {
        self.0.iter()
    }
}

impl fmt::Debug for Attributes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn attribute(value: &[u8], version: u64) -> Attribute {
        Attribute {
            value: value.to_vec(),
            version,
        }
    }

    #[test]
    fn a_copy_shares_the_map_until_either_side_writes() {
        let mut stored: Attributes = [("a".to_owned(), attribute(b"1", 1))].into_iter().collect();
        let loaded = stored.clone();
        assert!(
            Arc::ptr_eq(&stored.0, &loaded.0),
            "a copy is not a deep copy"
        );

        stored.insert("b".into(), attribute(b"2", 2));
        if let Some(a) = stored.get_mut("a") {
            a.version = 3;
        }
        assert!(!Arc::ptr_eq(&stored.0, &loaded.0));
        assert_eq!(loaded.len(), 1);
        assert_eq!(loaded["a"], attribute(b"1", 1));
        assert_eq!(stored["a"], attribute(b"1", 3));
    }

    #[test]
    fn it_reads_and_converts_as_the_map_it_replaced() {
        let map: BTreeMap<String, Attribute> = [
            ("a".to_owned(), attribute(b"1", 1)),
            ("b".to_owned(), attribute(b"2", 2)),
        ]
        .into_iter()
        .collect();
        let mut attributes = Attributes::from(map.clone());
        assert_eq!(attributes, map);
        let shared = attributes.clone();
        attributes.extend([("c".to_owned(), attribute(b"3", 3))]);
        assert_eq!(shared, map, "extending a copy leaves the other alone");
        let names: Vec<String> = attributes.clone().into_keys().collect();
        assert_eq!(names, ["a", "b", "c"]);
        let versions: Vec<u64> = attributes
            .clone()
            .into_values()
            .map(|a| a.version)
            .collect();
        assert_eq!(versions, [1, 2, 3]);
        let owned: Vec<(String, Attribute)> = shared.into_iter().collect();
        assert_eq!(owned.len(), 2);
        assert_eq!(BTreeMap::from(attributes).len(), 3);
    }

    #[test]
    fn into_map_gives_the_values_whether_shared_or_not() {
        let only: Attributes = [("a".to_owned(), attribute(b"1", 1))].into_iter().collect();
        let shared = only.clone();
        assert_eq!(shared.into_map(), only.clone().into_map());
        assert_eq!(only.into_map().len(), 1);
    }
}
