//! The Redis store: one server or a Redis Cluster.

mod connection;
mod fields;
mod keys;
mod scripts;
mod store;

pub use store::{RedisStore, RedisStoreBuilder};
