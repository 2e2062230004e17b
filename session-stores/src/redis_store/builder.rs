//! Building a [`RedisStore`]: key prefix, timeouts, and the connection to one server or a
//! Cluster, checked with a `PING`.

use std::sync::Arc;
use std::time::Duration;

use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use redis::cmd;
use session_core::StoreConfig;

use super::auto_pipeline::AutoPipeline;
use super::connection::Connection;
use super::keys::Keys;
use super::scripts::Scripts;
use super::store::{Inner, RedisStore};
use crate::error::{Error, Result};
use crate::url::DEFAULT_REDIS_PREFIX;

/// Builds a [`RedisStore`].
#[derive(Debug)]
pub struct RedisStoreBuilder {
    prefix: String,
    config: StoreConfig,
    connection_timeout: Duration,
    response_timeout: Duration,
    auto_pipeline: bool,
}

impl RedisStoreBuilder {
    /// The prefix of every key (default `session:`); it must not contain `{` or `}`.
    pub fn prefix(mut self, prefix: impl Into<String>) -> Self {
        self.prefix = prefix.into();
        self
    }

    /// The clock, limits, principal limit and event hub.
    pub fn config(mut self, config: StoreConfig) -> Self {
        self.config = config;
        self
    }

    /// How long to wait for a connection (default 2 s).
    pub fn connection_timeout(mut self, timeout: Duration) -> Self {
        self.connection_timeout = timeout;
        self
    }

    /// How long to wait for a reply (default 5 s).
    pub fn response_timeout(mut self, timeout: Duration) -> Self {
        self.response_timeout = timeout;
        self
    }

    /// Whether the single commands of concurrent tasks are written to the server together, as
    /// one pipeline (default on; one server only, a Cluster routes each command itself). On,
    /// a command waits until the tasks ready on its worker have queued theirs: under load that
    /// saves a write and a server wake-up per command (1.3–1.55x the reads per second at 8–64
    /// concurrent requests when the redis crate was not batching by itself,
    /// `benches/RESULTS.md`). On an idle server it costs one more system call per command,
    /// and a load of costly scripts, which keep the server busy for the whole batch before it
    /// answers, may do better with it off.
    pub fn auto_pipeline(mut self, on: bool) -> Self {
        self.auto_pipeline = on;
        self
    }

    fn check_prefix(&self) -> Result<()> {
        if self.prefix.contains(['{', '}']) {
            return Err(Error::BadUrl {
                url: self.prefix.clone(),
                reason: "the key prefix must not contain { or } (they pick Redis Cluster slots)"
                    .into(),
            });
        }
        Ok(())
    }

    /// Connects to one server (`redis://HOST:PORT/DB`, `rediss://…`, `redis+unix:///path`).
    /// A `rediss://` URL verifies the server's certificate against the system's roots, or
    /// against the PEM file its `ca=PATH` parameter names (feature `redis-tls`).
    /// Fails when the server does not answer now; later outages are survived.
    pub async fn connect(self, url: &str) -> Result<RedisStore> {
        self.check_prefix()?;
        let client = super::connection::client(url)?;
        let manager_config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(self.connection_timeout))
            .set_response_timeout(Some(self.response_timeout))
            .set_number_of_retries(2)
            .set_max_delay(Duration::from_millis(500));
        let conn = ConnectionManager::new_with_config(client, manager_config).await?;
        let conn = if self.auto_pipeline {
            Connection::Pipelined(AutoPipeline::new(conn))
        } else {
            Connection::Single(conn)
        };
        self.finish(conn, false).await
    }

    /// Connects to a Redis Cluster through any of its nodes (`redis://HOST:PORT`).
    #[cfg(feature = "redis-cluster")]
    #[cfg_attr(docsrs, doc(cfg(feature = "redis-cluster")))]
    pub async fn connect_cluster<N: AsRef<str>>(self, nodes: &[N]) -> Result<RedisStore> {
        self.check_prefix()?;
        let nodes: Vec<&str> = nodes.iter().map(AsRef::as_ref).collect();
        let client = redis::cluster::ClusterClient::builder(nodes)
            .connection_timeout(self.connection_timeout)
            .response_timeout(self.response_timeout)
            .build()?;
        let conn = client.get_async_connection().await?;
        self.finish(Connection::Cluster(conn), true).await
    }

    async fn finish(self, mut conn: Connection, cluster: bool) -> Result<RedisStore> {
        let pong: String = cmd("PING").query_async(&mut conn).await?;
        if pong != "PONG" {
            return Err(Error::RedisReply(format!("PING answered {pong:?}")));
        }
        Ok(RedisStore {
            inner: Arc::new(Inner {
                conn,
                keys: Keys::new(self.prefix),
                scripts: Scripts::new(&self.config.limits),
                config: self.config,
                cluster,
            }),
        })
    }
}

impl RedisStore {
    /// A builder with the default prefix and configuration.
    pub fn builder() -> RedisStoreBuilder {
        RedisStoreBuilder {
            prefix: DEFAULT_REDIS_PREFIX.to_owned(),
            config: StoreConfig::default(),
            connection_timeout: Duration::from_secs(2),
            response_timeout: Duration::from_secs(5),
            auto_pipeline: true,
        }
    }
}
