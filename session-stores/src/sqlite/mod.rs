//! The SQLite store.

mod attributes;
mod schema;
mod store;

pub use store::SqliteStore;
