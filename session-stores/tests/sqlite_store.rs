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

    use session_core::{
        ChangeSet, Codec, ExpiryPolicy, PrincipalChange, Record, SessionId, SessionStore,
        StoreConfig, Timestamp, TouchOutcome,
    };
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
        assert_eq!(version, 4);
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

    /// A database written by schema 2 (the record's codec envelope whole in `record`, with
    /// `last_access` / `expires_at` columns authoritative), as the previous release left it.
    fn write_v2_database(path: &std::path::Path, rows: &[(&Record, i64, Option<i64>)]) {
        let conn = rusqlite::Connection::open(path).unwrap();
        conn.pragma_update(None, "journal_mode", "WAL").unwrap();
        conn.execute_batch(
            "CREATE TABLE schema_version (version INTEGER NOT NULL);
            INSERT INTO schema_version (version) VALUES (2);
            CREATE TABLE sessions (
                key BLOB PRIMARY KEY NOT NULL,
                principal TEXT,
                created_at INTEGER NOT NULL,
                last_access INTEGER NOT NULL,
                idle_ms INTEGER,
                absolute_ms INTEGER,
                expires_at INTEGER,
                version INTEGER NOT NULL,
                record BLOB NOT NULL
            ) WITHOUT ROWID;
            CREATE INDEX sessions_by_expiry ON sessions (expires_at) WHERE expires_at IS NOT NULL;
            CREATE INDEX sessions_by_principal ON sessions (principal) WHERE principal IS NOT NULL;",
        )
        .unwrap();
        for (record, last_access, expires_at) in rows {
            let ms = |d: Option<Duration>| d.map(|d| d.as_millis() as i64);
            conn.execute(
                "INSERT INTO sessions (key, principal, created_at, last_access, idle_ms,
                    absolute_ms, expires_at, version, record)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
                rusqlite::params![
                    record.key.as_bytes(),
                    record.principal,
                    record.created_at.as_millis() as i64,
                    last_access,
                    ms(record.expiry.idle),
                    ms(record.expiry.absolute),
                    expires_at,
                    record.version as i64,
                    session_core::encode_record(record).unwrap(),
                ],
            )
            .unwrap();
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_schema_2_database_is_migrated_with_its_sessions() {
        let dir = test_support::temp_dir();
        let path = dir.path().join("sessions.db");
        let config = StoreConfig::default();
        let now = config.now();
        let idle = Duration::from_secs(600);

        // A JSON session of alice, touched after it was saved (the column is newer than the
        // envelope's last_access), a bincode session without principal, and an expired one.
        let mut alice = Record::new(
            SessionId::generate().unwrap().key(),
            Codec::Json,
            ExpiryPolicy::idle(idle),
            Timestamp::from_millis(now.as_millis() - 60_000),
        );
        alice.principal = Some("alice".into());
        alice.insert("cart", &vec![1, 2, 3]).unwrap();
        alice.version = 4;
        alice.insert("theme", "dark").unwrap();
        let touched = now.as_millis() as i64 - 1_000;
        let mut binary = Record::new(
            SessionId::generate().unwrap().key(),
            Codec::Bincode,
            ExpiryPolicy::idle(idle),
            now,
        );
        binary.insert("n", &7u32).unwrap();
        let expired = Record::new(
            SessionId::generate().unwrap().key(),
            Codec::Json,
            ExpiryPolicy::idle(Duration::from_secs(1)),
            Timestamp::from_millis(now.as_millis() - 60_000),
        );
        let at = |r: &Record| r.last_access.as_millis() as i64;
        let ends = |r: &Record| r.expires_at().map(|t| t.as_millis() as i64);
        write_v2_database(
            &path,
            &[
                (&alice, touched, Some(touched + idle.as_millis() as i64)),
                (&binary, at(&binary), ends(&binary)),
                (&expired, at(&expired), ends(&expired)),
            ],
        );

        let store = SqliteStore::open(&path, config).await.unwrap();
        let loaded = store.load(&alice.key).await.unwrap().unwrap();
        let mut expected = alice.clone();
        expected.last_access = Timestamp::from_millis(touched as u64);
        assert_eq!(loaded, expected);
        assert_eq!(loaded.get::<Vec<u32>>("cart").unwrap(), Some(vec![1, 2, 3]));
        assert_eq!(loaded.attributes["theme"].version, 4);
        assert_eq!(store.load(&binary.key).await.unwrap(), Some(binary.clone()));
        assert_eq!(store.load(&expired.key).await.unwrap(), None);

        let index = store.principal_index().unwrap();
        let of_alice = index.sessions_of("alice").await.unwrap();
        assert_eq!(of_alice.len(), 1);
        assert_eq!(of_alice[0].key, alice.key);
        assert_eq!(store.count().await.unwrap(), 2);
        assert_eq!(store.delete_expired().await.unwrap(), 1);

        // The migrated sessions keep working: a save checked against the loaded version.
        let mut changes = ChangeSet::default();
        changes.upsert("theme".into(), Codec::Json.encode_value("light").unwrap());
        assert!(store.save(&alice.key, &changes, 3).await.is_err());
        assert_eq!(store.save(&alice.key, &changes, 4).await.unwrap(), 5);
        assert!(matches!(
            store.touch(&binary.key).await.unwrap(),
            TouchOutcome::Touched { .. }
        ));

        let conn = rusqlite::Connection::open(&path).unwrap();
        let version: i64 = conn
            .query_row("SELECT version FROM schema_version", [], |r| r.get(0))
            .unwrap();
        assert_eq!(version, 4);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_damaged_schema_2_row_stops_the_migration_and_keeps_the_data() {
        let dir = test_support::temp_dir();
        let path = dir.path().join("sessions.db");
        let record = Record::new(
            SessionId::generate().unwrap().key(),
            Codec::Json,
            ExpiryPolicy::idle(Duration::from_secs(600)),
            StoreConfig::default().now(),
        );
        write_v2_database(&path, &[(&record, 1, None)]);
        let conn = rusqlite::Connection::open(&path).unwrap();
        conn.execute("UPDATE sessions SET record = x'00ff'", [])
            .unwrap();
        drop(conn);

        let error = SqliteStore::open(&path, StoreConfig::default())
            .await
            .unwrap_err();
        assert!(
            error.to_string().contains("migrating to schema 3"),
            "{error}"
        );
        let conn = rusqlite::Connection::open(&path).unwrap();
        let (version, rows): (i64, i64) = conn
            .query_row(
                "SELECT (SELECT version FROM schema_version), (SELECT count(*) FROM sessions)",
                [],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .unwrap();
        assert_eq!((version, rows), (2, 1));
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn touched_sessions_are_counted_and_swept_by_their_exact_expiry() {
        // The sweep index holds a lower bound of each expiry; touches move only the exact one.
        let clock = session_core::MockClock::new();
        let config = StoreConfig {
            clock: clock.shared(),
            ..StoreConfig::default()
        };
        let dir = test_support::temp_dir();
        let store = SqliteStore::open(dir.path().join("s.db"), config.clone())
            .await
            .unwrap();
        let mut keys = Vec::new();
        for _ in 0..3 {
            let record = Record::new(
                SessionId::generate().unwrap().key(),
                Codec::Json,
                ExpiryPolicy::idle(Duration::from_secs(10)),
                config.now(),
            );
            store.create(&record).await.unwrap();
            keys.push(record.key);
        }
        clock.advance(Duration::from_secs(8));
        assert!(matches!(
            store.touch(&keys[0]).await.unwrap(),
            TouchOutcome::Touched { .. }
        ));
        clock.advance(Duration::from_secs(4));
        // keys[1] and keys[2] expired at 10 s; keys[0] lives until 18 s.
        assert_eq!(store.count().await.unwrap(), 1);
        assert_eq!(store.delete_expired().await.unwrap(), 2);
        assert_eq!(store.count().await.unwrap(), 1);
        assert!(matches!(
            store.touch(&keys[0]).await.unwrap(),
            TouchOutcome::Touched { .. }
        ));
        clock.advance(Duration::from_secs(9));
        assert_eq!(store.count().await.unwrap(), 1);
        assert_eq!(store.delete_expired().await.unwrap(), 0);
        clock.advance(Duration::from_secs(2));
        assert_eq!(store.count().await.unwrap(), 0);
        assert_eq!(store.delete_expired().await.unwrap(), 1);
        assert!(store.load(&keys[0]).await.unwrap().is_none());
    }

    /// The row's expiry column as the store wrote it.
    fn stored_expiry(path: &std::path::Path, key: &session_core::SessionKey) -> Option<i64> {
        rusqlite::Connection::open(path)
            .unwrap()
            .query_row(
                "SELECT expires_at FROM sessions WHERE key = ?1",
                [key.as_bytes()],
                |row| row.get(0),
            )
            .unwrap()
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_save_moves_the_exact_expiry_as_record_apply_does() {
        let clock = session_core::MockClock::new();
        let config = StoreConfig {
            clock: clock.shared(),
            ..StoreConfig::default()
        };
        let dir = test_support::temp_dir();
        let path = dir.path().join("s.db");
        let store = SqliteStore::open(&path, config.clone()).await.unwrap();
        let (idle, absolute) = (Duration::from_secs(10), Duration::from_secs(30));
        let policies = [
            ExpiryPolicy::idle(idle),
            ExpiryPolicy {
                idle: None,
                absolute: Some(absolute),
            },
            ExpiryPolicy {
                idle: Some(idle),
                absolute: Some(absolute),
            },
            ExpiryPolicy {
                idle: None,
                absolute: None,
            },
        ];
        for policy in policies {
            let mut expected = Record::new(
                SessionId::generate().unwrap().key(),
                Codec::Json,
                policy,
                config.now(),
            );
            store.create(&expected).await.unwrap();
            for step in 0..4u64 {
                clock.advance(Duration::from_secs(8));
                let mut changes = ChangeSet::default();
                changes.upsert(
                    format!("step{}", step % 2),
                    Codec::Json.encode_value(&step).unwrap(),
                );
                let loaded = expected.version;
                expected
                    .apply(&changes, loaded, config.now(), &config.limits)
                    .unwrap();
                if expected.is_expired(config.now()) {
                    // Past the absolute timeout: the session is gone, as the record says.
                    let result = store.save(&expected.key, &changes, loaded).await;
                    assert!(
                        matches!(result, Err(session_core::Error::Gone { .. })),
                        "{result:?}"
                    );
                    break;
                }
                let version = store.save(&expected.key, &changes, loaded).await.unwrap();
                assert_eq!(version, expected.version, "{policy:?}");
                assert_eq!(
                    store.load(&expected.key).await.unwrap(),
                    Some(expected.clone())
                );
                assert_eq!(
                    stored_expiry(&path, &expected.key),
                    expected
                        .expires_at()
                        .map(|t| i64::try_from(t.as_millis()).unwrap()),
                    "{policy:?} after step {step}"
                );
            }
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_save_over_a_damaged_row_is_refused_and_leaves_the_row() {
        let dir = test_support::temp_dir();
        let path = dir.path().join("s.db");
        let store = SqliteStore::open(&path, StoreConfig::default())
            .await
            .unwrap();
        let record = Record::new(
            SessionId::generate().unwrap().key(),
            Codec::Json,
            ExpiryPolicy::idle(Duration::from_secs(600)),
            StoreConfig::default().now(),
        );
        store.create(&record).await.unwrap();
        let damaged = b"\x01\xff\xff".to_vec();
        let conn = rusqlite::Connection::open(&path).unwrap();
        conn.execute(
            "UPDATE sessions SET attributes = ?2 WHERE key = ?1",
            rusqlite::params![record.key.as_bytes(), damaged],
        )
        .unwrap();
        let mut changes = ChangeSet::default();
        changes.upsert("a".into(), Codec::Json.encode_value(&1).unwrap());
        let result = store.save(&record.key, &changes, record.version).await;
        assert!(result.is_err(), "{result:?}");
        let (attributes, version): (Vec<u8>, i64) = conn
            .query_row(
                "SELECT attributes, version FROM sessions WHERE key = ?1",
                [record.key.as_bytes()],
                |row| Ok((row.get(0)?, row.get(1)?)),
            )
            .unwrap();
        assert_eq!((attributes, version), (damaged, 1));
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_session_of_a_few_kib_stays_in_its_table_page() {
        // No overflow page to read on every load and save.
        let dir = test_support::temp_dir();
        let path = dir.path().join("s.db");
        let store = SqliteStore::open(&path, StoreConfig::default())
            .await
            .unwrap();
        for size in [1024, 3 * 1024] {
            let mut record = Record::new(
                SessionId::generate().unwrap().key(),
                Codec::Json,
                ExpiryPolicy::idle(Duration::from_secs(600)),
                StoreConfig::default().now(),
            );
            record.principal = Some("alice".into());
            for i in 0..5 {
                record
                    .insert(&format!("attribute{i}"), &"v".repeat(size / 5))
                    .unwrap();
            }
            store.create(&record).await.unwrap();
        }
        let conn = rusqlite::Connection::open(&path).unwrap();
        let overflow: i64 = conn
            .query_row(
                "SELECT count(*) FROM dbstat WHERE name = 'sessions' AND pagetype = 'overflow'",
                [],
                |row| row.get(0),
            )
            .unwrap();
        assert_eq!(overflow, 0);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn the_wal_stays_short_under_a_stream_of_writes() {
        // Checkpoints run off the connection thread; the WAL must still start over instead of
        // growing by a frame or more per write (20,000 saves would make it 80 MB or more).
        let dir = test_support::temp_dir();
        let path = dir.path().join("s.db");
        let store = SqliteStore::open(&path, StoreConfig::default())
            .await
            .unwrap();
        let key = SessionId::generate().unwrap().key();
        let record = Record::new(
            key,
            Codec::Json,
            ExpiryPolicy::idle(Duration::from_secs(600)),
            StoreConfig::default().now(),
        );
        store.create(&record).await.unwrap();
        let mut version = record.version;
        let wal = dir.path().join("s.db-wal");
        let mut largest_wal = 0;
        for i in 0..20_000u32 {
            let mut changes = ChangeSet::default();
            changes.upserts.insert(
                "big".into(),
                serde_json::to_vec(&format!("{i:06}{}", "x".repeat(2000))).unwrap(),
            );
            version = store.save(&key, &changes, version).await.unwrap();
            if i % 500 == 0 {
                largest_wal = largest_wal.max(std::fs::metadata(&wal).unwrap().len());
            }
        }
        largest_wal = largest_wal.max(std::fs::metadata(&wal).unwrap().len());
        assert!(
            largest_wal < 16 << 20,
            "the WAL grew to {largest_wal} bytes"
        );
        drop(store);

        let reopened = SqliteStore::open(&path, StoreConfig::default())
            .await
            .unwrap();
        let loaded = reopened.load(&key).await.unwrap().unwrap();
        let big: String = loaded.get("big").unwrap().unwrap();
        assert!(big.starts_with("019999"), "{}", &big[..6]);
        assert_eq!(loaded.version, version);
    }

    /// One save of the model run: what changes and how stale the writer's copy is.
    #[derive(Clone, Debug)]
    struct Step {
        /// Per attribute name: none, an upsert of a value of this length, or a removal.
        edits: Vec<(usize, Option<usize>)>,
        clear: bool,
        principal: PrincipalChange,
        idle_secs: Option<u64>,
        staleness: u64,
    }

    fn step() -> impl proptest::strategy::Strategy<Value = Step> {
        use proptest::prelude::*;
        (
            proptest::collection::vec((0usize..4, proptest::option::of(0usize..60)), 0..4),
            proptest::bool::weighted(0.1),
            proptest::option::weighted(0.2, proptest::option::of(Just("alice"))),
            proptest::option::weighted(0.1, 5u64..100),
            0u64..3,
        )
            .prop_map(|(edits, clear, principal, idle_secs, staleness)| Step {
                edits,
                clear,
                principal: principal.map_or(PrincipalChange::Keep, |p| {
                    PrincipalChange::to(p.map(str::to_owned))
                }),
                idle_secs,
                staleness,
            })
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(48))]

        /// Every save — in place or in a transaction — has the outcome `Record::apply` has on
        /// the stored record (the new version, or the same conflict or limit error), and
        /// leaves the record `Record::apply` makes.
        #[test]
        fn saves_do_what_record_apply_does(steps in proptest::collection::vec(step(), 1..10)) {
            let runtime = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(1)
                .enable_all()
                .build()
                .unwrap();
            runtime.block_on(async {
                let clock = session_core::MockClock::new();
                let config = StoreConfig {
                    clock: clock.shared(),
                    limits: session_core::Limits {
                        max_attributes: 3,
                        max_record_bytes: 100,
                        ..session_core::Limits::default()
                    },
                    ..StoreConfig::default()
                };
                let dir = test_support::temp_dir();
                let store = SqliteStore::open(dir.path().join("s.db"), config.clone())
                    .await
                    .unwrap();
                let mut model = Record::new(
                    SessionId::generate().unwrap().key(),
                    Codec::Json,
                    ExpiryPolicy::idle(Duration::from_secs(60)),
                    config.now(),
                );
                store.create(&model).await.unwrap();
                for step in steps {
                    clock.advance(Duration::from_secs(1));
                    let mut changes = ChangeSet::default();
                    if step.clear {
                        changes.clear();
                    }
                    for (name, edit) in &step.edits {
                        let name = format!("n{name}");
                        match edit {
                            Some(len) => changes.upsert(name, vec![b'x'; *len]),
                            None => changes.remove(&name),
                        }
                    }
                    changes.principal = step.principal.clone();
                    changes.expiry = step
                        .idle_secs
                        .map(|secs| ExpiryPolicy::idle(Duration::from_secs(secs)));
                    let loaded = model.version.saturating_sub(step.staleness).max(1);
                    let mut next = model.clone();
                    let expected = next
                        .apply(&changes, loaded, config.now(), &config.limits)
                        .map(|()| next.version);
                    let result = store.save(&model.key, &changes, loaded).await;
                    assert_eq!(format!("{result:?}"), format!("{expected:?}"), "{changes:?}");
                    if expected.is_ok() {
                        model = next;
                    }
                    assert_eq!(store.load(&model.key).await.unwrap(), Some(model.clone()));
                }
            });
        }
    }
}
