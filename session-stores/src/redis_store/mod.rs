//! The Redis store: one server or a Redis Cluster.

mod connection;
pub(crate) mod fields;
mod keys;
mod principal_lease;
mod scripts;
mod store;

pub use store::{RedisStore, RedisStoreBuilder};
