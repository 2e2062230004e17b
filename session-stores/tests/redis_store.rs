//! The Redis store against a real redis-server (and a real Redis Cluster): the store
//! conformance test kit and the store's own promises.
#![allow(clippy::unwrap_used, clippy::expect_used)]
#![cfg(feature = "redis")]

use std::sync::{Arc, Mutex, OnceLock};

use session_core::StoreConfig;
use session_stores::RedisStore;
use test_support::redis::{RedisCluster, RedisServer};

/// One server for the whole test binary; every store gets its own key prefix.
fn shared_server() -> Option<Arc<RedisServer>> {
    static SERVER: OnceLock<Mutex<Option<Arc<RedisServer>>>> = OnceLock::new();
    let cell = SERVER.get_or_init(|| Mutex::new(None));
    let mut guard = cell.lock().unwrap();
    if guard.is_none() {
        match RedisServer::start() {
            Ok(server) => *guard = Some(Arc::new(server)),
            Err(missing) => {
                test_support::skip("redis store tests", &missing);
                return None;
            }
        }
    }
    guard.clone()
}

fn unique_prefix() -> String {
    format!(
        "t{}:",
        session_core::SessionId::generate().unwrap().key().short()
    )
}

async fn redis_store(config: StoreConfig) -> (RedisStore, Option<Arc<RedisServer>>) {
    let Some(server) = shared_server() else {
        panic!("redis-server is not available (see the SKIPPED notice above)");
    };
    let store = RedisStore::builder()
        .prefix(unique_prefix())
        .config(config)
        .connect(&server.url())
        .await
        .unwrap();
    (store, Some(server))
}

mod single {
    session_core::store_conformance_tests!(super::redis_store);
}

fn shared_cluster() -> Option<Arc<RedisCluster>> {
    static CLUSTER: OnceLock<Mutex<Option<Arc<RedisCluster>>>> = OnceLock::new();
    let cell = CLUSTER.get_or_init(|| Mutex::new(None));
    let mut guard = cell.lock().unwrap();
    if guard.is_none() {
        match RedisCluster::start(3) {
            Ok(cluster) => *guard = Some(Arc::new(cluster)),
            Err(missing) => {
                test_support::skip("redis cluster store tests", &missing);
                return None;
            }
        }
    }
    guard.clone()
}

async fn redis_cluster_store(config: StoreConfig) -> (RedisStore, Arc<RedisCluster>) {
    let Some(cluster) = shared_cluster() else {
        panic!("redis-server is not available (see the SKIPPED notice above)");
    };
    let store = RedisStore::builder()
        .prefix(unique_prefix())
        .config(config)
        .connect_cluster(&cluster.node_urls())
        .await
        .unwrap();
    assert!(store.is_cluster());
    (store, cluster)
}

mod cluster {
    session_core::store_conformance_tests!(super::redis_cluster_store);
}

mod redis_specific {
    use std::time::{Duration, Instant};

    use redis::AsyncCommands;
    use session_core::{
        Codec, ExpiryPolicy, PageRequest, Record, SessionId, SessionStore, StoreConfig,
        TouchOutcome,
    };
    use session_stores::RedisStore;
    use test_support::redis::RedisServer;

    fn record(id: &SessionId, idle: Duration) -> Record {
        let mut record = Record::new(
            id.key(),
            Codec::Json,
            ExpiryPolicy::idle(idle),
            StoreConfig::default().now(),
        );
        record.insert("secret-ish", "value").unwrap();
        record
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn keys_carry_the_prefix_and_a_native_expiry_and_never_the_id() {
        let Some(server) = super::shared_server() else {
            return;
        };
        let url = format!("{}?prefix=native:", server.url());
        let store = session_stores::open(&url, StoreConfig::default())
            .await
            .unwrap();
        assert_eq!(store.name(), "redis");
        let id = SessionId::generate().unwrap();
        store
            .create(&record(&id, Duration::from_secs(600)))
            .await
            .unwrap();

        let client = redis::Client::open(server.url()).unwrap();
        let mut conn = client.get_multiplexed_async_connection().await.unwrap();
        let keys: Vec<String> = conn.keys("native:*").await.unwrap();
        assert!(
            keys.contains(&format!("native:s:{{{}}}", id.key().to_hex())),
            "{keys:?}"
        );
        assert!(keys.iter().all(|k| !k.contains(&id.expose_secret())));
        let ttl: i64 = conn
            .pttl(format!("native:s:{{{}}}", id.key().to_hex()))
            .await
            .unwrap();
        // The end of the minute of the expiry (see the next test).
        assert!(
            (590_000..=660_000).contains(&ttl),
            "native expiry must be set, PTTL {ttl}"
        );

        store.touch(&id.key()).await.unwrap();
        let never = SessionId::generate().unwrap();
        let mut forever = record(&never, Duration::from_secs(1));
        forever.expiry = ExpiryPolicy::NEVER;
        store.create(&forever).await.unwrap();
        let ttl: i64 = conn
            .pttl(format!("native:s:{{{}}}", never.key().to_hex()))
            .await
            .unwrap();
        assert_eq!(ttl, -1, "a session without expiry has no TTL");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn the_native_expiry_never_falls_before_the_expiry_nor_a_minute_after_it() {
        let Some(server) = super::shared_server() else {
            return;
        };
        use session_core::Clock;
        let clock = session_core::MockClock::new();
        let store = RedisStore::builder()
            .prefix(super::unique_prefix())
            .config(StoreConfig {
                clock: clock.shared(),
                ..StoreConfig::default()
            })
            .connect(&server.url())
            .await
            .unwrap();
        let client = redis::Client::open(server.url()).unwrap();
        let conn = client.get_multiplexed_async_connection().await.unwrap();
        let id = SessionId::generate().unwrap();
        let mut record = record(&id, Duration::from_secs(600));
        record.created_at = clock.now();
        record.last_access = clock.now();
        store.create(&record).await.unwrap();
        let hash = store.redis_key(&id.key());
        let native = |mut conn: redis::aio::MultiplexedConnection| {
            let hash = hash.clone();
            async move {
                let at: i64 = redis::cmd("PEXPIRETIME")
                    .arg(&hash)
                    .query_async(&mut conn)
                    .await
                    .unwrap();
                u64::try_from(at).unwrap()
            }
        };
        let check = |expires: u64, native: u64, step: &str| {
            assert!(
                native >= expires && native - expires <= 60_000,
                "{step}: expiry {expires}, native expiry {native}"
            );
        };
        let expires = record.expires_at().unwrap().as_millis();
        check(expires, native(conn.clone()).await, "create");

        // Touches and saves at uneven steps, across many minute boundaries.
        let mut version = record.version;
        for step in 0..40u64 {
            clock.advance(Duration::from_millis(3_000 + step * 7_919 % 26_000));
            let expires = if step % 3 == 0 {
                let mut changes = session_core::ChangeSet::default();
                changes.upsert("n".into(), Codec::Json.encode_value(&step).unwrap());
                version = store.save(&id.key(), &changes, version).await.unwrap();
                let loaded = store.load(&id.key()).await.unwrap().unwrap();
                loaded.expires_at().unwrap().as_millis()
            } else {
                let touched = store.touch(&id.key()).await.unwrap();
                let TouchOutcome::Touched {
                    expires_at: Some(expires_at),
                } = touched
                else {
                    panic!("step {step}: touch answered {touched:?}");
                };
                expires_at.as_millis()
            };
            check(expires, native(conn.clone()).await, &format!("step {step}"));
        }

        // A shorter policy brings the native expiry forward with it (the absolute timeout is
        // new to this record and counts from its creation).
        let changes = session_core::ChangeSet {
            expiry: Some(ExpiryPolicy {
                idle: Some(Duration::from_secs(5)),
                absolute: Some(Duration::from_secs(3_600)),
            }),
            ..Default::default()
        };
        store.save(&id.key(), &changes, version).await.unwrap();
        let loaded = store.load(&id.key()).await.unwrap().unwrap();
        check(
            loaded.expires_at().unwrap().as_millis(),
            native(conn.clone()).await,
            "shorter policy",
        );
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn the_same_store_works_again_after_the_server_restarts() {
        let mut server = match RedisServer::start() {
            Ok(server) => server,
            Err(missing) => {
                test_support::skip(
                    "the_same_store_works_again_after_the_server_restarts",
                    &missing,
                );
                return;
            }
        };
        let store = RedisStore::builder()
            .connection_timeout(Duration::from_secs(1))
            .response_timeout(Duration::from_secs(2))
            .connect(&server.url())
            .await
            .unwrap();
        let first = SessionId::generate().unwrap();
        store
            .create(&record(&first, Duration::from_secs(600)))
            .await
            .unwrap();

        server.stop();
        let error = store.load(&first.key()).await.unwrap_err();
        assert!(error.is_transient(), "{error}");
        let message = error.to_string();
        assert!(message.starts_with("redis store: load failed"), "{message}");

        server.restart().unwrap();
        // The server kept nothing (no persistence); the same store object must work again.
        let second = SessionId::generate().unwrap();
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            match store
                .create(&record(&second, Duration::from_secs(600)))
                .await
            {
                Ok(()) => break,
                Err(e) if Instant::now() < deadline => {
                    assert!(
                        e.is_transient(),
                        "only connection errors while reconnecting: {e}"
                    );
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
                Err(e) => panic!("the store did not recover after the restart: {e}"),
            }
        }
        let loaded = store.load(&second.key()).await.unwrap().unwrap();
        assert_eq!(
            loaded.get::<String>("secret-ish").unwrap().as_deref(),
            Some("value")
        );
        assert_eq!(store.count().await.unwrap(), 1);
    }

    /// The connection reconnects by itself, but the command that finds it dead used to fail:
    /// every Redis restart cost each server process a failed request. Each operation that may
    /// run twice is now sent again over the new connection, so the first of each kind after
    /// a restart succeeds.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn the_first_request_of_each_kind_after_a_restart_succeeds() {
        let mut server = match RedisServer::start() {
            Ok(server) => server,
            Err(missing) => {
                test_support::skip(
                    "the_first_request_of_each_kind_after_a_restart_succeeds",
                    &missing,
                );
                return;
            }
        };
        for auto_pipeline in [true, false] {
            let store = RedisStore::builder()
                .auto_pipeline(auto_pipeline)
                .connection_timeout(Duration::from_secs(5))
                .response_timeout(Duration::from_secs(10))
                .connect(&server.url())
                .await
                .unwrap();
            for operation in ["create", "load", "touch", "delete", "count", "list"] {
                // A record the operation finds, written before the restart; the server keeps
                // nothing over a restart (no persistence), so it is written again after it.
                let id = SessionId::generate().unwrap();
                store
                    .create(&record(&id, Duration::from_secs(600)))
                    .await
                    .unwrap();
                server.restart().unwrap();
                assert!(server.is_up());
                let context = format!("{operation} (auto-pipelining {auto_pipeline})");
                match operation {
                    "create" => {
                        let fresh = SessionId::generate().unwrap();
                        let new = record(&fresh, Duration::from_secs(600));
                        store.create(&new).await.expect(&context);
                        assert!(store.load(&fresh.key()).await.unwrap().is_some());
                    }
                    "load" => {
                        let loaded = store.load(&id.key()).await.expect(&context);
                        assert!(loaded.is_none(), "{context}: the restart kept nothing");
                    }
                    "touch" => {
                        let touched = store.touch(&id.key()).await.expect(&context);
                        assert_eq!(touched, TouchOutcome::Missing, "{context}");
                    }
                    "delete" => assert!(!store.delete(&id.key()).await.expect(&context)),
                    "count" => assert_eq!(store.count().await.expect(&context), 0),
                    _ => {
                        let page = store.list(PageRequest::first(10)).await.expect(&context);
                        assert!(page.records.is_empty(), "{context}");
                    }
                }
            }
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn the_cluster_url_opens_a_cluster_store() {
        let Some(cluster) = super::shared_cluster() else {
            return;
        };
        let store = session_stores::open(&cluster.store_url(), StoreConfig::default())
            .await
            .unwrap();
        let id = SessionId::generate().unwrap();
        store
            .create(&record(&id, Duration::from_secs(60)))
            .await
            .unwrap();
        assert!(store.load(&id.key()).await.unwrap().is_some());
        assert!(store.delete(&id.key()).await.unwrap());
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn an_unreachable_server_is_a_clear_error_at_open() {
        let port = test_support::free_port();
        let error = session_stores::open(
            &format!("redis://127.0.0.1:{port}/0"),
            StoreConfig::default(),
        )
        .await
        .unwrap_err();
        assert!(error.to_string().starts_with("Redis:"), "{error}");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn change_sets_of_hundreds_of_attributes_apply_in_one_save() {
        let Some(server) = super::shared_server() else {
            return;
        };
        let prefix = super::unique_prefix();
        let url = server.url();
        let store_with = |limits: session_core::Limits| {
            RedisStore::builder()
                .prefix(prefix.clone())
                .config(StoreConfig {
                    limits,
                    ..StoreConfig::default()
                })
                .connect(&url)
        };
        let store = store_with(session_core::Limits {
            max_attributes: 1000,
            ..Default::default()
        })
        .await
        .unwrap();
        let id = SessionId::generate().unwrap();
        store
            .create(&record(&id, Duration::from_secs(600)))
            .await
            .unwrap();
        let value = |i: usize| Codec::Json.encode_value(&i).unwrap();
        let mut many = session_core::ChangeSet::default();
        for i in 0..300 {
            many.upsert(format!("k{i}"), value(i));
        }
        let version = store.save(&id.key(), &many, 1).await.unwrap();
        let mut mixed = session_core::ChangeSet::default();
        for i in 0..250 {
            mixed.remove(&format!("k{i}"));
        }
        for i in 300..310 {
            mixed.upsert(format!("k{i}"), value(i));
        }
        let version = store.save(&id.key(), &mixed, version).await.unwrap();
        let loaded = store.load(&id.key()).await.unwrap().unwrap();
        let mut expected: Vec<String> = (250..310).map(|i| format!("k{i}")).collect();
        expected.push("secret-ish".into());
        expected.sort();
        assert_eq!(
            loaded.attributes.keys().cloned().collect::<Vec<_>>(),
            expected
        );
        assert_eq!(loaded.get::<usize>("k305").unwrap(), Some(305));
        assert_eq!(loaded.version, version);
        // The size kept for the limits is the record's real one.
        let mut tight = session_core::ChangeSet::default();
        tight.upsert("one-more".into(), value(1));
        let limited = store_with(session_core::Limits {
            max_record_bytes: loaded.data_size() + "one-more".len() + 1,
            ..Default::default()
        })
        .await
        .unwrap();
        assert!(limited.save(&id.key(), &tight, version).await.is_ok());
        tight.upsert("two-more".into(), value(2));
        assert!(matches!(
            limited.save(&id.key(), &tight, version + 1).await,
            Err(session_core::Error::Limit(_))
        ));
    }

    /// The fields an earlier release of the store wrote for `record`: every number in a field
    /// of its own, each attribute's version beside its value.
    fn first_layout_fields(record: &Record) -> Vec<(String, Vec<u8>)> {
        let mut fields = vec![
            (
                "m:version".to_owned(),
                record.version.to_string().into_bytes(),
            ),
            (
                "m:created".to_owned(),
                record.created_at.as_millis().to_string().into_bytes(),
            ),
            (
                "m:last".to_owned(),
                record.last_access.as_millis().to_string().into_bytes(),
            ),
            ("m:idle".to_owned(), b"600000".to_vec()),
            ("m:codec".to_owned(), b"1".to_vec()),
            ("m:principal".to_owned(), b"alice".to_vec()),
            (
                "m:size".to_owned(),
                record.data_size().to_string().into_bytes(),
            ),
            (
                "m:count".to_owned(),
                record.attributes.len().to_string().into_bytes(),
            ),
        ];
        for (name, attribute) in &record.attributes {
            fields.push((format!("a:{name}"), attribute.value.clone()));
            fields.push((
                format!("v:{name}"),
                attribute.version.to_string().into_bytes(),
            ));
        }
        fields
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn hashes_of_the_first_layout_are_read_and_rewritten_by_the_first_write() {
        let Some(server) = super::shared_server() else {
            return;
        };
        let store = RedisStore::builder()
            .prefix("legacy:")
            .connect(&server.url())
            .await
            .unwrap();
        let client = redis::Client::open(server.url()).unwrap();
        let mut conn = client.get_multiplexed_async_connection().await.unwrap();

        let mut written = Vec::new();
        for _ in 0..2 {
            let id = SessionId::generate().unwrap();
            let mut old = record(&id, Duration::from_secs(600));
            old.principal = Some("alice".into());
            old.insert("cart", &vec![1, 2]).unwrap();
            old.attributes.get_mut("cart").unwrap().version = 2;
            old.version = 3;
            let hash = store.redis_key(&id.key());
            let _: () = conn
                .hset_multiple(&hash, &first_layout_fields(&old))
                .await
                .unwrap();
            let _: () = conn.pexpire(&hash, 600_000).await.unwrap();
            assert_eq!(store.load(&id.key()).await.unwrap(), Some(old.clone()));
            written.push((old, hash));
        }

        // A save rewrites the hash: the old fields go, nothing is lost, the TTL stays.
        let (saved, hash) = &written[0];
        let mut changes = session_core::ChangeSet::default();
        changes.upsert("theme".into(), Codec::Json.encode_value(&"dark").unwrap());
        assert_eq!(store.save(&saved.key, &changes, 3).await.unwrap(), 4);
        let fields: Vec<String> = conn.hkeys(hash).await.unwrap();
        assert!(
            fields
                .iter()
                .all(|f| !f.starts_with("m:") && !f.starts_with("v:")),
            "{fields:?}"
        );
        let ttl: i64 = conn.pttl(hash).await.unwrap();
        assert!(ttl > 0, "PTTL {ttl}");
        let loaded = store.load(&saved.key).await.unwrap().unwrap();
        assert_eq!(loaded.get::<Vec<i32>>("cart").unwrap(), Some(vec![1, 2]));
        assert_eq!(loaded.attributes["cart"].version, 2);
        assert_eq!(
            loaded.get::<String>("theme").unwrap().as_deref(),
            Some("dark")
        );
        assert_eq!(
            (loaded.version, loaded.principal.as_deref()),
            (4, Some("alice"))
        );
        // The upgraded attribute keeps its version for the conflict rule.
        let mut stale = session_core::ChangeSet::default();
        stale.upsert("cart".into(), Codec::Json.encode_value(&[3]).unwrap());
        assert!(matches!(
            store.save(&saved.key, &stale, 1).await,
            Err(session_core::Error::Conflict { .. })
        ));

        // A touch rewrites it as well.
        let (touched, hash) = &written[1];
        assert!(matches!(
            store.touch(&touched.key).await.unwrap(),
            TouchOutcome::Touched { .. }
        ));
        let fields: Vec<String> = conn.hkeys(hash).await.unwrap();
        assert!(fields.contains(&"m".to_owned()), "{fields:?}");
        let mut expected = touched.clone();
        let loaded = store.load(&touched.key).await.unwrap().unwrap();
        expected.last_access = loaded.last_access;
        assert_eq!(loaded, expected);
    }
}

mod principal_limit_across_processes {
    use std::time::Duration;

    use session_core::{Error, PrincipalLimit, SessionId, SessionStore, StoreConfig, WhenFull};
    use session_stores::RedisStore;

    /// Eight stores on their own connections, as eight processes sharing one Redis would be.
    async fn stores(config: &StoreConfig) -> Vec<RedisStore> {
        let Some(server) = super::shared_server() else {
            panic!("redis-server is not available (see the SKIPPED notice above)");
        };
        let prefix = super::unique_prefix();
        let mut stores = Vec::new();
        for _ in 0..8 {
            stores.push(
                RedisStore::builder()
                    .prefix(prefix.clone())
                    .config(config.clone())
                    .connect(&server.url())
                    .await
                    .unwrap(),
            );
        }
        stores
    }

    /// 24 logins of one principal at once, spread over the stores.
    async fn racing_logins(when_full: WhenFull) -> (Vec<Result<(), Error>>, usize) {
        let config = StoreConfig {
            principal_limit: Some(PrincipalLimit { max: 3, when_full }),
            ..StoreConfig::default()
        };
        let stores = stores(&config).await;
        let tasks: Vec<_> = stores
            .iter()
            .cycle()
            .take(24)
            .map(|store| {
                let store = store.clone();
                tokio::spawn(async move {
                    let key = SessionId::generate().unwrap().key();
                    let mut record =
                        session_core::testkit::json_record(key, Duration::from_secs(600));
                    record.principal = Some("alice".to_owned());
                    store.create(&record).await
                })
            })
            .collect();
        let mut results = Vec::new();
        for task in tasks {
            results.push(task.await.unwrap());
        }
        let left = stores[0]
            .principal_index()
            .unwrap()
            .sessions_of("alice")
            .await
            .unwrap()
            .len();
        (results, left)
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn racing_logins_are_refused_beyond_the_limit() {
        let (results, left) = racing_logins(WhenFull::Refuse).await;
        let created = results.iter().filter(|r| r.is_ok()).count();
        assert_eq!(created, 3, "{results:?}");
        assert!(
            results
                .iter()
                .all(|r| matches!(r, Ok(()) | Err(Error::PrincipalLimit { max: 3 }))),
            "{results:?}"
        );
        assert_eq!(left, 3);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn racing_logins_evict_down_to_the_limit() {
        let (results, left) = racing_logins(WhenFull::EvictOldest).await;
        assert!(results.iter().all(Result::is_ok), "{results:?}");
        assert_eq!(left, 3);
    }
}
