//! The forms records take in the backends, as pure functions over bytes: what a store writes
//! and the decoders of what it reads back. Public so that the decoders can be fuzzed
//! (`fuzz/`) and so that tools can read a backend's data directly.

/// A session's Redis hash (see [`RedisStore`](crate::RedisStore)): `m` (the metadata) and
/// `a:<name>` (an attribute's version and value). [`record_from_fields`](redis_hash::record_from_fields)
/// also reads the store's first layout.
#[cfg(feature = "redis")]
pub mod redis_hash {
    pub use crate::redis_store::fields::{FieldPairs, record_fields, record_from_fields};
}

/// The `attributes` column of the SQLite store (see [`SqliteStore`](crate::SqliteStore)):
/// each attribute's name, version and value, length-prefixed, in name order.
#[cfg(feature = "sqlite")]
pub mod sqlite_attributes {
    pub use crate::sqlite::attributes::{decode, encode};
}
