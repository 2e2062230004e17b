//! The SQLite store.

mod attributes;
mod functions;
mod schema;
mod store;

pub use store::SqliteStore;
