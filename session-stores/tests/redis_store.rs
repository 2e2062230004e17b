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
    use session_core::{Codec, ExpiryPolicy, Record, SessionId, SessionStore, StoreConfig};
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
        assert!(
            ttl > 0 && ttl <= 600_000,
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
}

mod principal_limit_across_processes {
    use std::time::Duration;

    use session_core::{
        Codec, Error, ExpiryPolicy, PrincipalLimit, Record, SessionId, SessionStore, StoreConfig,
        WhenFull,
    };
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
                    let id = SessionId::generate().unwrap();
                    let mut record = Record::new(
                        id.key(),
                        Codec::Json,
                        ExpiryPolicy::idle(Duration::from_secs(600)),
                        StoreConfig::default().now(),
                    );
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
