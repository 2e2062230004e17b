//! The SQLite store.

pub(crate) mod attributes;
mod checkpoint;
mod functions;
mod schema;
mod store;
mod worker;

pub use store::SqliteStore;
