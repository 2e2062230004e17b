//! The SQLite store against the store conformance test kit and its own promises.
#![allow(clippy::unwrap_used, clippy::expect_used)]
#![cfg(feature = "sqlite")]

use session_core::StoreConfig;
use session_stores::SqliteStore;
use tempfile::TempDir;

async fn sqlite_store(config: StoreConfig) -> (SqliteStore, TempDir) {
    let dir = test_support::temp_dir();
    let store = SqliteStore::open(dir.path().join("sessions.db"), config)
        .await
        .unwrap();
    (store, dir)
}

session_core::store_conformance_tests!(sqlite_store);

mod sqlite_specific {
    use std::os::unix::fs::PermissionsExt;
    use std::time::Duration;

    use session_core::{Codec, ExpiryPolicy, Record, SessionId, SessionStore, StoreConfig};
    use session_stores::SqliteStore;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn records_survive_reopening_and_the_file_is_private_and_in_wal_mode() {
        let dir = test_support::temp_dir();
        let path = dir.path().join("nested").join("sessions.db");
        let store = SqliteStore::open(&path, StoreConfig::default())
            .await
            .unwrap();
        let key = SessionId::generate().unwrap().key();
        let mut record = Record::new(
            key,
            Codec::Json,
            ExpiryPolicy::idle(Duration::from_secs(600)),
            StoreConfig::default().now(),
        );
        record.insert("a", "persisted").unwrap();
        store.create(&record).await.unwrap();
        drop(store);

        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        let conn = rusqlite::Connection::open(&path).unwrap();
        let journal: String = conn
            .query_row("PRAGMA journal_mode", [], |r| r.get(0))
            .unwrap();
        assert_eq!(journal, "wal");
        let version: i64 = conn
            .query_row("SELECT version FROM schema_version", [], |r| r.get(0))
            .unwrap();
        assert_eq!(version, 2);
        let plan: String = conn
            .query_row(
                "EXPLAIN QUERY PLAN SELECT key FROM sessions WHERE principal = 'x' ORDER BY last_access",
                [],
                |r| r.get(3),
            )
            .unwrap();
        assert!(plan.contains("sessions_by_principal"), "{plan}");
        drop(conn);

        let store = session_stores::open(
            &format!("sqlite:{}", path.display()),
            StoreConfig::default(),
        )
        .await
        .unwrap();
        assert_eq!(store.name(), "sqlite");
        let loaded = store.load(&key).await.unwrap().unwrap();
        assert_eq!(
            loaded.get::<String>("a").unwrap().as_deref(),
            Some("persisted")
        );
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_database_from_a_newer_program_is_refused() {
        let dir = test_support::temp_dir();
        let path = dir.path().join("sessions.db");
        drop(
            SqliteStore::open(&path, StoreConfig::default())
                .await
                .unwrap(),
        );
        let conn = rusqlite::Connection::open(&path).unwrap();
        conn.execute("UPDATE schema_version SET version = 7", [])
            .unwrap();
        drop(conn);
        let error = SqliteStore::open(&path, StoreConfig::default())
            .await
            .unwrap_err();
        assert!(error.to_string().contains("schema version 7"), "{error}");
    }
}
