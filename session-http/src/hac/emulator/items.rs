//! The emulator's items: the core types a HAC user queries first on a fresh SAP Commerce
//! (principals, languages, currencies, countries, units, catalogs and catalog versions,
//! products), their attributes and unique keys, and the items a freshly initialized system
//! holds.

use std::collections::BTreeMap;

/// What an attribute holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    /// Text (numbers and booleans are kept as their text too).
    Text,
    /// The PK of an item of the named type (or a subtype).
    Reference(&'static str),
}

/// One attribute of a type.
#[derive(Debug)]
pub(crate) struct AttributeInfo {
    pub(crate) name: &'static str,
    pub(crate) kind: Kind,
}

/// One item type.
#[derive(Debug)]
pub(crate) struct TypeInfo {
    /// The type code, as written in queries and Impex headers.
    pub(crate) code: &'static str,
    /// The supertype (every type is an `Item`, which adds only the PK).
    pub(crate) extends: Option<&'static str>,
    /// The attributes the type adds to its supertype's.
    attributes: &'static [AttributeInfo],
    /// The attributes that identify an item of the type together.
    pub(crate) unique: &'static [&'static str],
}

const fn text(name: &'static str) -> AttributeInfo {
    AttributeInfo {
        name,
        kind: Kind::Text,
    }
}

const fn reference(name: &'static str, to: &'static str) -> AttributeInfo {
    AttributeInfo {
        name,
        kind: Kind::Reference(to),
    }
}

static TYPES: &[TypeInfo] = &[
    TypeInfo {
        code: "Principal",
        extends: None,
        attributes: &[text("uid"), text("name"), text("description")],
        unique: &["uid"],
    },
    TypeInfo {
        code: "User",
        extends: Some("Principal"),
        attributes: &[text("loginDisabled")],
        unique: &["uid"],
    },
    TypeInfo {
        code: "Employee",
        extends: Some("User"),
        attributes: &[],
        unique: &["uid"],
    },
    TypeInfo {
        code: "Customer",
        extends: Some("User"),
        attributes: &[text("customerID")],
        unique: &["uid"],
    },
    TypeInfo {
        code: "UserGroup",
        extends: Some("Principal"),
        attributes: &[],
        unique: &["uid"],
    },
    TypeInfo {
        code: "Language",
        extends: None,
        attributes: &[text("isocode"), text("name"), text("active")],
        unique: &["isocode"],
    },
    TypeInfo {
        code: "Currency",
        extends: None,
        attributes: &[
            text("isocode"),
            text("name"),
            text("symbol"),
            text("digits"),
            text("conversion"),
            text("active"),
            text("base"),
        ],
        unique: &["isocode"],
    },
    TypeInfo {
        code: "Country",
        extends: None,
        attributes: &[text("isocode"), text("name"), text("active")],
        unique: &["isocode"],
    },
    TypeInfo {
        code: "Unit",
        extends: None,
        attributes: &[
            text("code"),
            text("name"),
            text("unitType"),
            text("conversion"),
        ],
        unique: &["code"],
    },
    TypeInfo {
        code: "Catalog",
        extends: None,
        attributes: &[text("id"), text("name"), text("defaultCatalog")],
        unique: &["id"],
    },
    TypeInfo {
        code: "CatalogVersion",
        extends: None,
        attributes: &[
            reference("catalog", "Catalog"),
            text("version"),
            text("active"),
        ],
        unique: &["catalog", "version"],
    },
    TypeInfo {
        code: "Product",
        extends: None,
        attributes: &[
            text("code"),
            text("name"),
            text("description"),
            reference("catalogVersion", "CatalogVersion"),
            reference("unit", "Unit"),
            text("approvalStatus"),
        ],
        unique: &["code", "catalogVersion"],
    },
];

/// The type `code` names (case does not matter, as in HAC).
pub(crate) fn type_info(code: &str) -> Option<&'static TypeInfo> {
    TYPES.iter().find(|t| t.code.eq_ignore_ascii_case(code))
}

impl TypeInfo {
    /// The type's attributes with its supertypes', `pk` first.
    pub(crate) fn attributes(&self) -> Vec<&'static AttributeInfo> {
        static PK: AttributeInfo = text("pk");
        let mut chain = vec![self];
        while let Some(parent) = chain.last().and_then(|t| t.extends).and_then(type_info) {
            chain.push(parent);
        }
        let mut attributes = vec![&PK];
        for ty in chain.into_iter().rev() {
            attributes.extend(ty.attributes.iter());
        }
        attributes
    }

    /// The attribute `name` (case does not matter).
    pub(crate) fn attribute(&self, name: &str) -> Option<&'static AttributeInfo> {
        self.attributes()
            .into_iter()
            .find(|a| a.name.eq_ignore_ascii_case(name))
    }

    /// Whether this type is `ancestor` or one of its subtypes.
    pub(crate) fn is_a(&self, ancestor: &TypeInfo) -> bool {
        let mut current = Some(self);
        while let Some(ty) = current {
            if std::ptr::eq(ty, ancestor) {
                return true;
            }
            current = ty.extends.and_then(type_info);
        }
        false
    }
}

/// One item: its PK, its type and its attribute values.
#[derive(Debug, Clone)]
pub(crate) struct Item {
    pub(crate) pk: u64,
    pub(crate) ty: &'static TypeInfo,
    pub(crate) values: BTreeMap<&'static str, String>,
}

impl Item {
    /// The value of `attribute` (`pk` included); empty when unset.
    pub(crate) fn value(&self, attribute: &str) -> String {
        if attribute == "pk" {
            self.pk.to_string()
        } else {
            self.values.get(attribute).cloned().unwrap_or_default()
        }
    }
}

/// Every item of the emulated system, in PK order.
#[derive(Debug, Clone)]
pub(crate) struct Items {
    items: BTreeMap<u64, Item>,
    next_pk: u64,
}

/// The first PK handed out, near where a fresh SAP Commerce's PKs start.
const FIRST_PK: u64 = 8_796_093_022_208;
/// The distance between two PKs handed out one after the other.
const PK_STEP: u64 = 32_768;

impl Default for Items {
    /// The items of a freshly initialized system.
    fn default() -> Self {
        let mut items = Items {
            items: BTreeMap::new(),
            next_pk: FIRST_PK,
        };
        let initial: &[(&str, &[(&str, &str)])] = &[
            ("Employee", &[("uid", "admin"), ("name", "Administrator")]),
            ("Customer", &[("uid", "anonymous"), ("name", "Anonymous")]),
            (
                "Customer",
                &[
                    ("uid", "keenreviewer1@hybris.com"),
                    ("name", "Keen Reviewer"),
                ],
            ),
            (
                "UserGroup",
                &[("uid", "admingroup"), ("name", "Administrator Group")],
            ),
            (
                "UserGroup",
                &[("uid", "customergroup"), ("name", "Customer Group")],
            ),
            (
                "UserGroup",
                &[("uid", "employeegroup"), ("name", "Employee Group")],
            ),
            (
                "Language",
                &[("isocode", "en"), ("name", "English"), ("active", "true")],
            ),
            (
                "Language",
                &[("isocode", "de"), ("name", "German"), ("active", "true")],
            ),
            (
                "Currency",
                &[
                    ("isocode", "EUR"),
                    ("name", "Euro"),
                    ("symbol", "€"),
                    ("digits", "2"),
                    ("conversion", "1.0"),
                    ("active", "true"),
                    ("base", "true"),
                ],
            ),
            (
                "Currency",
                &[
                    ("isocode", "USD"),
                    ("name", "US Dollar"),
                    ("symbol", "$"),
                    ("digits", "2"),
                    ("conversion", "1.4"),
                    ("active", "true"),
                    ("base", "false"),
                ],
            ),
            (
                "Country",
                &[("isocode", "DE"), ("name", "Germany"), ("active", "true")],
            ),
            (
                "Country",
                &[
                    ("isocode", "US"),
                    ("name", "United States"),
                    ("active", "true"),
                ],
            ),
            (
                "Country",
                &[
                    ("isocode", "GB"),
                    ("name", "United Kingdom"),
                    ("active", "true"),
                ],
            ),
            (
                "Unit",
                &[
                    ("code", "pieces"),
                    ("name", "pieces"),
                    ("unitType", "pieces"),
                    ("conversion", "1.0"),
                ],
            ),
            (
                "Unit",
                &[
                    ("code", "kg"),
                    ("name", "kilogram"),
                    ("unitType", "weight"),
                    ("conversion", "1.0"),
                ],
            ),
            (
                "Catalog",
                &[
                    ("id", "Default"),
                    ("name", "Default"),
                    ("defaultCatalog", "true"),
                ],
            ),
        ];
        for (type_code, values) in initial {
            items.insert_strs(type_code, values);
        }
        let catalog = items
            .find_by("Catalog", "id", "Default")
            .map(|pk| pk.to_string())
            .unwrap_or_default();
        for (version, active) in [("Staged", "false"), ("Online", "true")] {
            items.insert_strs(
                "CatalogVersion",
                &[
                    ("catalog", catalog.as_str()),
                    ("version", version),
                    ("active", active),
                ],
            );
        }
        items
    }
}

impl Items {
    /// The items of type `ty` (with its subtypes unless `exact`), in PK order.
    pub(crate) fn of_type<'a>(
        &'a self,
        ty: &'a TypeInfo,
        exact: bool,
    ) -> impl Iterator<Item = &'a Item> + 'a {
        self.items.values().filter(move |item| {
            if exact {
                std::ptr::eq(item.ty, ty)
            } else {
                item.ty.is_a(ty)
            }
        })
    }

    /// The item with the PK.
    pub(crate) fn get(&self, pk: u64) -> Option<&Item> {
        self.items.get(&pk)
    }

    /// The first item of `ty` (or a subtype) whose values match every `(attribute, value)`.
    pub(crate) fn find(&self, ty: &TypeInfo, key: &[(&'static str, String)]) -> Option<u64> {
        self.of_type(ty, false)
            .find(|item| key.iter().all(|(a, v)| item.value(a) == *v))
            .map(|item| item.pk)
    }

    /// Stores a new item of `ty`; returns its PK.
    pub(crate) fn insert(
        &mut self,
        ty: &'static TypeInfo,
        values: BTreeMap<&'static str, String>,
    ) -> u64 {
        let pk = self.next_pk;
        self.next_pk += PK_STEP;
        self.items.insert(pk, Item { pk, ty, values });
        pk
    }

    /// Sets values of the item with the PK.
    pub(crate) fn update(&mut self, pk: u64, values: BTreeMap<&'static str, String>) {
        if let Some(item) = self.items.get_mut(&pk) {
            item.values.extend(values);
        }
    }

    /// Removes the item with the PK.
    pub(crate) fn remove(&mut self, pk: u64) {
        self.items.remove(&pk);
    }

    fn find_by(&self, type_code: &str, attribute: &'static str, value: &str) -> Option<u64> {
        self.find(type_info(type_code)?, &[(attribute, value.to_owned())])
    }

    /// Inserts one of the initial items (types and attributes known to exist).
    fn insert_strs(&mut self, type_code: &str, values: &[(&str, &str)]) {
        let Some(ty) = type_info(type_code) else {
            return;
        };
        let values = values
            .iter()
            .filter_map(|(name, value)| Some((ty.attribute(name)?.name, (*value).to_owned())))
            .collect();
        self.insert(ty, values);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_reference_and_supertype_names_a_known_type() {
        for ty in TYPES {
            if let Some(parent) = ty.extends {
                assert!(type_info(parent).is_some(), "{} extends {parent}", ty.code);
            }
            for attribute in ty.attributes() {
                if let Kind::Reference(to) = attribute.kind {
                    assert!(type_info(to).is_some(), "{}.{}", ty.code, attribute.name);
                }
            }
            for unique in ty.unique {
                assert!(ty.attribute(unique).is_some(), "{}.{unique}", ty.code);
            }
        }
    }

    #[test]
    fn a_fresh_system_has_the_core_items() {
        let items = Items::default();
        let count = |code: &str| items.of_type(type_info(code).unwrap(), false).count();
        assert_eq!(count("User"), 3);
        assert_eq!(count("Principal"), 6);
        assert_eq!(count("Language"), 2);
        assert_eq!(count("Currency"), 2);
        assert_eq!(count("Country"), 3);
        assert_eq!(count("Unit"), 2);
        assert_eq!(count("CatalogVersion"), 2);
        assert_eq!(count("Product"), 0);
        let user = type_info("user").unwrap();
        assert_eq!(
            items.of_type(user, true).count(),
            0,
            "users are employees or customers"
        );
        let version = items
            .of_type(type_info("CatalogVersion").unwrap(), false)
            .next()
            .unwrap();
        let catalog = items
            .get(version.value("catalog").parse().unwrap())
            .unwrap();
        assert_eq!(catalog.value("id"), "Default");
    }
}
