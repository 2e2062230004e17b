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

mod file_specific {
    use std::os::unix::fs::PermissionsExt;
    use std::time::Duration;

    use session_core::{SessionId, SessionStore, StoreConfig};

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn open_by_url_gives_a_private_directory_of_digest_named_files() {
        let dir = test_support::temp_dir();
        let root = dir.path().join("sessions");
        let store =
            session_stores::open(&format!("file:{}", root.display()), StoreConfig::default())
                .await
                .unwrap();
        assert_eq!(store.name(), "file");
        let id = SessionId::generate().unwrap();
        let mut record = session_core::testkit::json_record(id.key(), Duration::from_secs(600));
        record.insert("a", "1").unwrap();
        store.create(&record).await.unwrap();
        let names: Vec<String> = std::fs::read_dir(&root)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|n| !n.starts_with('.'))
            .collect();
        assert_eq!(names, vec![format!("{}.session", id.key().to_hex())]);
        assert!(!names[0].contains(&id.expose_secret()));
        let mode = |p: &std::path::Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(&root), 0o700);
        assert_eq!(mode(&root.join(&names[0])), 0o600);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn an_unreadable_file_is_an_error_and_stays() {
        let dir = test_support::temp_dir();
        let store = session_stores::FileStore::open(dir.path(), StoreConfig::default()).unwrap();
        let key = SessionId::generate().unwrap().key();
        std::fs::write(store.path_of(&key), b"not a record").unwrap();
        let error = store.load(&key).await.unwrap_err();
        assert!(error.to_string().contains("unreadable"), "{error}");
        assert_eq!(store.count().await.unwrap(), 0);
        assert_eq!(store.delete_expired().await.unwrap(), 0);
        assert!(
            store.path_of(&key).exists(),
            "an unreadable record must never be deleted silently"
        );
    }
}
