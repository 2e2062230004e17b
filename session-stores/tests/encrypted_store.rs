//! The encrypted file store against the store conformance test kit and its own promises:
//! nothing in clear on disk, and tampering, truncation, a wrong key and key rotation.
#![allow(clippy::unwrap_used, clippy::expect_used)]
#![cfg(feature = "encrypted")]

use session_core::StoreConfig;
use session_stores::{EncryptedFileStore, KdfParams, Key, Keyring};
use tempfile::TempDir;

/// Cheap Argon2id costs, so that tests do not spend their time stretching passphrases.
const TEST_KDF: KdfParams = KdfParams {
    memory_kib: 64,
    iterations: 1,
    parallelism: 1,
};

async fn key_file_store(config: StoreConfig) -> (EncryptedFileStore, TempDir) {
    let dir = test_support::temp_dir();
    let key = Key::create_key_file(dir.path().join("store.key")).unwrap();
    let store =
        EncryptedFileStore::with_keyring(dir.path().join("sessions"), Keyring::new(key), config)
            .unwrap();
    (store, dir)
}

async fn passphrase_store(config: StoreConfig) -> (EncryptedFileStore, TempDir) {
    let dir = test_support::temp_dir();
    let key = Key::from_passphrase("correct horse battery staple", TEST_KDF).unwrap();
    let store =
        EncryptedFileStore::with_keyring(dir.path().join("sessions"), Keyring::new(key), config)
            .unwrap();
    (store, dir)
}

mod with_key_file {
    session_core::store_conformance_tests!(super::key_file_store);
}

mod with_passphrase {
    session_core::store_conformance_tests!(super::passphrase_store);
}

mod encrypted_specific {
    use std::path::Path;
    use std::time::Duration;

    use session_core::{
        Codec, ExpiryPolicy, Record, SessionId, SessionKey, SessionStore, StoreConfig,
    };
    use session_stores::{EncryptedFileStore, Error, Key, Keyring};

    const MARKER: &str = "PLAINTEXT-MARKER-7f3a";

    fn record(codec: Codec) -> Record {
        let mut record = Record::new(
            SessionId::generate().unwrap().key(),
            codec,
            ExpiryPolicy::idle(Duration::from_secs(600)),
            StoreConfig::default().now(),
        );
        record.principal = Some(format!("{MARKER}-principal"));
        record.insert("card", &format!("{MARKER}-value")).unwrap();
        record.insert(&format!("{MARKER}-name"), "x").unwrap();
        record
    }

    fn open(dir: &Path, keys: Vec<Key>) -> EncryptedFileStore {
        EncryptedFileStore::with_keyring(
            dir,
            Keyring::with_keys(keys).unwrap(),
            StoreConfig::default(),
        )
        .unwrap()
    }

    /// The crate error behind a store's backend error.
    fn cause(error: &session_core::Error) -> &Error {
        let session_core::Error::Backend { source, .. } = error else {
            panic!("expected a backend error, got {error}");
        };
        source
            .downcast_ref::<Error>()
            .unwrap_or_else(|| panic!("unexpected source: {source}"))
    }

    fn contains(haystack: &[u8], needle: &[u8]) -> bool {
        haystack.windows(needle.len()).any(|w| w == needle)
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn no_plaintext_reaches_the_disk() {
        let dir = test_support::temp_dir();
        let store = open(dir.path(), vec![Key::generate().unwrap()]);
        for codec in [Codec::Json, Codec::Bincode] {
            let record = record(codec);
            store.create(&record).await.unwrap();
            store.touch(&record.key).await.unwrap();
            let loaded = store.load(&record.key).await.unwrap().unwrap();
            assert_eq!(
                (loaded.attributes, loaded.principal),
                (record.attributes, record.principal)
            );
        }
        let mut files = 0;
        for entry in std::fs::read_dir(dir.path()).unwrap() {
            let bytes = std::fs::read(entry.unwrap().path()).unwrap();
            assert!(
                !contains(&bytes, MARKER.as_bytes()),
                "plaintext found on disk"
            );
            files += 1;
        }
        assert!(files >= 2);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn tampering_truncation_and_a_wrong_key_are_distinct_errors_and_delete_nothing() {
        let dir = test_support::temp_dir();
        let store = open(dir.path(), vec![Key::generate().unwrap()]);
        let records: Vec<Record> = (0..3).map(|_| record(Codec::Json)).collect();
        for r in &records {
            store.create(r).await.unwrap();
        }
        let path = |key: &SessionKey| store.path_of(key);

        // One changed byte in the ciphertext, one in the header's nonce.
        let mut bytes = std::fs::read(path(&records[0].key)).unwrap();
        let last = bytes.len() - 1;
        bytes[last] ^= 0x01;
        std::fs::write(path(&records[0].key), &bytes).unwrap();
        let error = store.load(&records[0].key).await.unwrap_err();
        assert!(matches!(cause(&error), Error::Tampered { .. }), "{error}");
        bytes[last] ^= 0x01;
        bytes[20] ^= 0x80;
        std::fs::write(path(&records[0].key), &bytes).unwrap();
        let error = store.load(&records[0].key).await.unwrap_err();
        assert!(matches!(cause(&error), Error::Tampered { .. }), "{error}");

        // Cut in half.
        let bytes = std::fs::read(path(&records[1].key)).unwrap();
        std::fs::write(path(&records[1].key), &bytes[..bytes.len() / 2]).unwrap();
        let error = store.load(&records[1].key).await.unwrap_err();
        assert!(matches!(cause(&error), Error::Truncated { .. }), "{error}");
        assert!(error.to_string().contains("truncated"), "{error}");

        // A store with another key.
        let stranger = open(dir.path(), vec![Key::generate().unwrap()]);
        let error = stranger.load(&records[2].key).await.unwrap_err();
        assert!(matches!(cause(&error), Error::WrongKey { .. }), "{error}");
        assert!(
            error.to_string().contains("key this store does not have"),
            "{error}"
        );

        // Sweeps, counts and lists skip what they cannot read, and never delete it.
        assert_eq!(stranger.delete_expired().await.unwrap(), 0);
        assert_eq!(stranger.count().await.unwrap(), 0);
        for r in &records {
            assert!(path(&r.key).exists(), "an unreadable file was deleted");
        }
        // The intact record is still fine for the right key.
        assert_eq!(
            store.load(&records[2].key).await.unwrap().as_ref(),
            Some(&records[2])
        );
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn rotation_writes_with_the_new_key_reads_old_files_and_reseals_them() {
        let dir = test_support::temp_dir();
        let old_key = Key::generate().unwrap();
        let new_key = Key::from_passphrase("new passphrase", super::TEST_KDF).unwrap();
        let old_store = open(dir.path(), vec![old_key.clone()]);
        let old_record = record(Codec::Bincode);
        old_store.create(&old_record).await.unwrap();

        let rotated = open(dir.path(), vec![new_key.clone(), old_key.clone()]);
        assert_eq!(
            rotated.load(&old_record.key).await.unwrap().as_ref(),
            Some(&old_record)
        );
        let new_record = record(Codec::Json);
        rotated.create(&new_record).await.unwrap();
        let error = old_store.load(&new_record.key).await.unwrap_err();
        assert!(
            matches!(cause(&error), Error::WrongKey { .. }),
            "the new key writes: {error}"
        );

        let report = rotated.reseal_all().await.unwrap();
        assert_eq!(
            (report.resealed, report.current, report.unreadable),
            (1, 1, 0)
        );
        let new_only = open(dir.path(), vec![new_key]);
        assert_eq!(
            new_only.load(&old_record.key).await.unwrap(),
            Some(old_record)
        );
        assert_eq!(
            new_only.load(&new_record.key).await.unwrap(),
            Some(new_record)
        );
        assert_eq!(new_only.reseal_all().await.unwrap().resealed, 0);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn open_by_url_with_a_key_file_and_clear_errors_for_bad_keys() {
        use std::os::unix::fs::PermissionsExt;
        let dir = test_support::temp_dir();
        let key_path = dir.path().join("k");
        Key::create_key_file(&key_path).unwrap();
        let url = format!(
            "encrypted:{}?key_file={}",
            dir.path().join("s").display(),
            key_path.display()
        );
        let store = session_stores::open(&url, StoreConfig::default())
            .await
            .unwrap();
        assert_eq!(store.name(), "encrypted");
        let r = record(Codec::Json);
        store.create(&r).await.unwrap();
        assert_eq!(store.load(&r.key).await.unwrap(), Some(r));

        std::fs::set_permissions(&key_path, std::fs::Permissions::from_mode(0o644)).unwrap();
        let error = session_stores::open(&url, StoreConfig::default())
            .await
            .unwrap_err();
        assert!(error.to_string().contains("chmod 600"), "{error}");
        let missing = format!(
            "encrypted:{}?key_env=SESSION_STORES_TEST_UNSET_VARIABLE",
            dir.path().display()
        );
        let error = session_stores::open(&missing, StoreConfig::default())
            .await
            .unwrap_err();
        assert!(
            error
                .to_string()
                .contains("SESSION_STORES_TEST_UNSET_VARIABLE"),
            "{error}"
        );
    }
}
