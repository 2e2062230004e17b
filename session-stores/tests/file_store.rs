//! The file store against the store conformance test kit and its own promises.
#![allow(clippy::unwrap_used, clippy::expect_used)]
#![cfg(feature = "file")]

use session_core::StoreConfig;
use session_stores::FileStore;
use tempfile::TempDir;

async fn file_store(config: StoreConfig) -> (FileStore, TempDir) {
    let dir = test_support::temp_dir();
    let store = FileStore::open(dir.path().join("sessions"), config).unwrap();
    (store, dir)
}

session_core::store_conformance_tests!(file_store);
