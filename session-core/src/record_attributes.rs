//! A record's attributes: shared between copies of the record until one of them writes.

use std::collections::BTreeMap;
use std::fmt;
use std::ops::{Deref, DerefMut, Index};
use std::sync::Arc;

use litemap::LiteMap;

/// One attribute: its value as encoded by the record's codec, and the record version that
/// last wrote it (what concurrent saves are checked against).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Attribute {
    /// The encoded value.
    pub value: Vec<u8>,
    /// The record version that wrote this value.
    pub version: u64,
}

/// The map behind [`Attributes`]: names in order, each with its attribute, kept in one sorted
/// vector.
///
/// A session holds a handful of names, so a vector searched by halves beats a B-tree on both
/// counts that matter to a store holding a million of them: one allocation of exactly the
/// entries instead of a node sized for eleven (a one-attribute record costs 70 bytes here
/// against 640 in a [`BTreeMap`]), and lookups that stay in one cache line or two. Inserting
/// shifts the names after it, which the attribute limit ([`Limits::max_attributes`], 256 by
/// default) keeps short.
///
/// [`Limits::max_attributes`]: crate::Limits::max_attributes
pub type AttributeMap = LiteMap<String, Attribute>;

/// A record's attributes by name: an [`AttributeMap`] that copies of the record share until
/// one of them changes it (copy on write).
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
pub struct Attributes(Arc<AttributeMap>);

impl Attributes {
    /// The map, copied only when another copy of these attributes still shares it.
    pub fn into_map(self) -> AttributeMap {
        Arc::unwrap_or_clone(self.0)
    }

    /// Makes room for `additional` more names, growing the vector by half its length or by
    /// `additional`, whichever is more, when it is full: a session of few names then holds
    /// no more room than it uses (a vector's own growth would reserve four entries for
    /// one), and one that keeps growing still grows geometrically.
    pub fn reserve(&mut self, additional: usize) {
        let map = Arc::make_mut(&mut self.0);
        let mut entries = std::mem::take(map).into_tuple_vec();
        if entries.capacity() - entries.len() < additional {
            entries.reserve_exact(additional.max(entries.len() / 2));
        }
        *map = LiteMap::from_sorted_store_unchecked(entries);
    }

    /// The names, in order.
    pub fn into_keys(self) -> impl Iterator<Item = String> {
        self.into_iter().map(|(name, _)| name)
    }

    /// The attributes, in the order of their names.
    pub fn into_values(self) -> impl Iterator<Item = Attribute> {
        self.into_iter().map(|(_, attribute)| attribute)
    }
}

impl Deref for Attributes {
    type Target = AttributeMap;

    fn deref(&self) -> &Self::Target {
        &self.0
    }
}

impl DerefMut for Attributes {
    fn deref_mut(&mut self) -> &mut Self::Target {
        Arc::make_mut(&mut self.0)
    }
}

/// The attribute named `name`, as `map[name]` on a [`BTreeMap`].
///
/// # Panics
///
/// When there is no attribute of that name (use [`LiteMap::get`] when there may be none).
impl Index<&str> for Attributes {
    type Output = Attribute;

    fn index(&self, name: &str) -> &Attribute {
        match self.get(name) {
            Some(attribute) => attribute,
            None => panic!("no attribute named {name:?}"),
        }
    }
}

impl From<AttributeMap> for Attributes {
    fn from(map: AttributeMap) -> Self {
        Attributes(Arc::new(map))
    }
}

impl From<BTreeMap<String, Attribute>> for Attributes {
    fn from(map: BTreeMap<String, Attribute>) -> Self {
        map.into_iter().collect()
    }
}

impl FromIterator<(String, Attribute)> for Attributes {
    fn from_iter<I: IntoIterator<Item = (String, Attribute)>>(iter: I) -> Self {
        Attributes(Arc::new(iter.into_iter().collect()))
    }
}

impl From<Attributes> for BTreeMap<String, Attribute> {
    fn from(attributes: Attributes) -> Self {
        attributes.into_iter().collect()
    }
}

impl PartialEq<BTreeMap<String, Attribute>> for Attributes {
    fn eq(&self, other: &BTreeMap<String, Attribute>) -> bool {
        self.len() == other.len() && self.iter().eq(other.iter())
    }
}

impl Extend<(String, Attribute)> for Attributes {
    fn extend<I: IntoIterator<Item = (String, Attribute)>>(&mut self, iter: I) {
        Arc::make_mut(&mut self.0).extend(iter);
    }
}

impl IntoIterator for Attributes {
    type Item = (String, Attribute);
    type IntoIter = std::vec::IntoIter<(String, Attribute)>;

    fn into_iter(self) -> Self::IntoIter {
        self.into_map().into_iter()
    }
}

impl<'a> IntoIterator for &'a Attributes {
    type Item = (&'a String, &'a Attribute);
    type IntoIter = std::iter::Map<
        std::slice::Iter<'a, (String, Attribute)>,
        fn(&'a (String, Attribute)) -> (&'a String, &'a Attribute),
    >;

    fn into_iter(self) -> Self::IntoIter {
        self.0
            .as_slice()
            .iter()
            .map(|(name, attribute)| (name, attribute))
    }
}

impl fmt::Debug for Attributes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_map().entries(self.iter()).finish()
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

    #[derive(Clone, Debug)]
    enum Step {
        Insert(String, u64),
        Remove(String),
        Copy,
        Extend(Vec<(String, u64)>),
    }

    fn step() -> impl proptest::strategy::Strategy<Value = Step> {
        use proptest::prelude::*;
        let name = "[a-d]{0,2}";
        prop_oneof![
            4 => (name, any::<u64>()).prop_map(|(n, v)| Step::Insert(n, v)),
            2 => name.prop_map(Step::Remove),
            1 => Just(Step::Copy),
            1 => proptest::collection::vec((name, any::<u64>()), 0..4).prop_map(Step::Extend),
        ]
    }

    proptest::proptest! {
        /// Any sequence of writes, on the map and on copies made along the way, leaves every
        /// copy equal to a `BTreeMap` that saw the same writes: same answers, same order,
        /// later values winning, and a copy untouched by writes made after it.
        #[test]
        fn it_behaves_as_a_btree_map(steps in proptest::collection::vec(step(), 0..40)) {
            let mut attributes = Attributes::default();
            let mut model = BTreeMap::new();
            let mut copies = Vec::new();
            for step in steps {
                match step {
                    Step::Insert(name, version) => {
                        let new = attribute(&version.to_le_bytes(), version);
                        proptest::prop_assert_eq!(
                            attributes.insert(name.clone(), new.clone()),
                            model.insert(name, new)
                        );
                    }
                    Step::Remove(name) => {
                        proptest::prop_assert_eq!(attributes.remove(&name), model.remove(&name));
                    }
                    Step::Copy => copies.push((attributes.clone(), model.clone())),
                    Step::Extend(pairs) => {
                        let pairs: Vec<_> = pairs
                            .into_iter()
                            .map(|(n, v)| (n, attribute(&[], v)))
                            .collect();
                        attributes.extend(pairs.clone());
                        model.extend(pairs);
                    }
                }
                proptest::prop_assert!(attributes == model);
                for name in ["", "a", "ab", "d", "dd"] {
                    proptest::prop_assert_eq!(attributes.get(name), model.get(name));
                }
            }
            for (copy, then) in copies {
                proptest::prop_assert!(copy == then, "a copy changed: {:?} != {:?}", copy, then);
                let names: Vec<String> = copy.into_keys().collect();
                let expected: Vec<String> = then.into_keys().collect();
                proptest::prop_assert_eq!(names, expected);
            }
        }
    }

    fn capacity(attributes: &mut Attributes) -> usize {
        let map = Arc::make_mut(&mut attributes.0);
        let entries = std::mem::take(map).into_tuple_vec();
        let capacity = entries.capacity();
        *map = LiteMap::from_sorted_store_unchecked(entries);
        capacity
    }

    #[test]
    fn reserving_grows_by_one_while_small_then_by_half() {
        let mut attributes = Attributes::default();
        let mut capacities = Vec::new();
        for n in 0..10 {
            attributes.reserve(1);
            attributes.insert(format!("{n:03}"), attribute(b"1", 1));
            capacities.push(capacity(&mut attributes));
        }
        assert_eq!(capacities, [1, 2, 3, 4, 6, 6, 9, 9, 9, 13]);
        attributes.reserve(3);
        assert_eq!(capacity(&mut attributes), 13, "room enough: nothing moves");
    }

    #[test]
    fn an_applied_change_set_leaves_no_spare_room() {
        use crate::{ChangeSet, Codec, ExpiryPolicy, Limits, Record, SessionKey, Timestamp};

        let now = Timestamp::from_millis(1_000);
        let key = SessionKey::derive("test", &["room"]);
        let mut record = Record::new(key, Codec::Json, ExpiryPolicy::default(), now);
        let mut changes = ChangeSet::default();
        changes.upsert("user".into(), b"1".to_vec());
        changes.upsert("cart".into(), b"[]".to_vec());
        changes.additions.insert("visits".into(), 1);
        record.apply(&changes, 1, now, &Limits::default()).unwrap();
        assert_eq!(record.attributes.len(), 3);
        assert_eq!(capacity(&mut record.attributes), 3);
    }
}
