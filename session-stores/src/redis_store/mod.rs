//! The Redis store: one server or a Redis Cluster.

mod auto_pipeline;
mod builder;
pub(crate) mod connection;
pub(crate) mod fields;
mod indexes;
mod keys;
mod principal_lease;
mod replies;
mod save;
mod scripts;
mod session_limit;
mod store;

pub use builder::RedisStoreBuilder;
pub use store::RedisStore;
