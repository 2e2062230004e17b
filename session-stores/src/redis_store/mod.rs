//! The Redis store: one server or a Redis Cluster.

mod connection;
mod fields;
mod keys;
mod principal_lease;
mod scripts;
mod store;

pub use store::{RedisStore, RedisStoreBuilder};
