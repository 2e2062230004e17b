//! The SQLite store.

pub(crate) mod attributes;
mod functions;
mod schema;
mod store;

pub use store::SqliteStore;
