//! # session-stores
//!
//! Persistent backends for the [`SessionStore`] contract of `session-core`: a directory of
//! files, SQLite, Redis (one server or a Cluster) and encrypted files. Every one of them runs
//! the core's store conformance test kit unchanged, so a session manager behaves the same on
//! each: expired records are never returned (judged by the configured [`StoreConfig`] clock,
//! whether or not the backend purged them yet), a save applies a per-key change set atomically
//! with a version check, a change to a deleted session never brings it back, and `cycle_id`
//! puts the record under the new key before the old one disappears.
//!
//! ## What each store guarantees
//!
//! | store (feature) | durability and sharing | notes |
//! |---|---|---|
//! | [`FileStore`] (`file`) | one 0600 file per session in a 0700 directory; atomic replace (temp file, fsync, rename, fsync of the directory); an advisory lock lets several processes share the directory | listing and the principal index read every file: for thousands of sessions, not millions |
//! | [`SqliteStore`] (`sqlite`) | one database file in WAL mode; each change is one transaction with a version check; several processes may share the file | indexed expiry and principal; statements run on a thread that owns the connection (writes queued together commit as one transaction, queued reads share one snapshot), never on the async workers; schema versioned and migrated on open |
//! | [`RedisStore`] (`redis`) | whatever the server's persistence gives; change sets and the version check run server-side in one Lua script; native expiry (`PEXPIREAT`, within a minute of the expiry) purges | one server or a Cluster (a session's data is one hash in one slot); reconnects by itself after the server comes back, without failing the first request after a restart; on one server, the commands of concurrent requests go out as one pipeline ([`RedisStoreBuilder::auto_pipeline`]) |
//! | [`EncryptedFileStore`] (`encrypted`) | the file store's guarantees, with every file sealed by XChaCha20-Poly1305 | keys from a passphrase (Argon2id) or key files; rotation; tampering, truncation and a wrong key are distinct errors; nothing unreadable is ever deleted |
//!
//! All of them file records under the [`SessionKey`](session_core::SessionKey) (a digest of the session id), never the id
//! itself: a copy of the directory, the database file or a Redis dump yields nothing a client
//! could present.
//!
//! Apps pick a store with a URL through [`open`] (`memory:`, `file:DIR`, `sqlite:PATH`,
//! `redis://HOST:PORT/DB`, `redis+cluster://H1:P1,H2:P2`, `encrypted:DIR?key_file=PATH`); see
//! [`StoreUrl`] for the grammar. A bad URL is an error that says what was expected; nothing
//! falls back silently to another store.
//!
//! Redis over TLS (feature `redis-tls`) is `rediss://HOST:PORT/DB`. The server's certificate
//! is checked against the system's trusted roots, or against the certificate authorities in
//! the PEM file named by a `ca` parameter: `rediss://redis.internal:6380/0?ca=/etc/redis/ca.pem`.
//! A certificate that does not verify fails the connection (`Redis: invalid peer
//! certificate: UnknownIssuer`); there is no switch that turns verification off.
//!
//! ## Example
//!
//! A session manager over a file store; the session survives a "restart" (a second store
//! opened on the same directory):
//!
//! ```
//! # #[cfg(feature = "file")]
//! # tokio::runtime::Builder::new_multi_thread().enable_all().build().unwrap().block_on(async {
//! use std::sync::Arc;
//! use std::time::Duration;
//! use session_core::{ExpiryPolicy, SaveOutcome, SessionConfig, SessionManager, StoreConfig};
//! use session_stores::FileStore;
//!
//! let dir = tempfile::tempdir()?;
//! let config = SessionConfig {
//!     expiry: ExpiryPolicy::idle(Duration::from_secs(1800)),
//!     ..SessionConfig::default()
//! };
//!
//! let store = Arc::new(FileStore::open(dir.path().join("sessions"), StoreConfig::default())?);
//! let manager = SessionManager::new(store, config.clone());
//! let session = manager.session(None);
//! session.insert("theme", "dark").await?;
//! let SaveOutcome::Stored { id, .. } = session.save().await? else {
//!     panic!("a written session is stored")
//! };
//!
//! // Another process (or the same one after a restart) opens the same directory.
//! let store = Arc::new(FileStore::open(dir.path().join("sessions"), StoreConfig::default())?);
//! let manager = SessionManager::new(store, config);
//! let session = manager.session(Some(id));
//! assert_eq!(session.get::<String>("theme").await?.as_deref(), Some("dark"));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! # }).unwrap();
//! ```
//!
//! Or by URL, as the apps do:
//!
//! ```
//! # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
//! let store = session_stores::open("memory:", Default::default()).await?;
//! assert_eq!(store.name(), "memory");
//! assert!(session_stores::open("memroy:", Default::default()).await.is_err());
//! # Ok::<(), session_stores::Error>(())
//! # }).unwrap();
//! ```

#![cfg_attr(docsrs, feature(doc_cfg))]

#[cfg(feature = "encrypted")]
#[cfg_attr(docsrs, doc(cfg(feature = "encrypted")))]
pub mod encrypted;
mod error;
#[cfg(feature = "file")]
mod file;
#[cfg(feature = "redis")]
mod redis_store;
#[cfg(feature = "redis")]
mod redis_throttle;
#[cfg(feature = "sqlite")]
mod sqlite;
pub mod stored_forms;
mod url;

use std::sync::Arc;

use session_core::{MemoryStore, SessionStore, StoreConfig};

#[cfg(feature = "encrypted")]
#[cfg_attr(docsrs, doc(cfg(feature = "encrypted")))]
pub use encrypted::{EncryptedFileStore, Encryption, KdfParams, Key, Keyring};
pub use error::{Error, Result};
#[cfg(feature = "file")]
#[cfg_attr(docsrs, doc(cfg(feature = "file")))]
pub use file::{FileStore, Plain, ResealReport, Sealer};
#[cfg(feature = "redis")]
#[cfg_attr(docsrs, doc(cfg(feature = "redis")))]
pub use redis_store::{RedisStore, RedisStoreBuilder};
#[cfg(feature = "redis")]
#[cfg_attr(docsrs, doc(cfg(feature = "redis")))]
pub use redis_throttle::{DEFAULT_THROTTLE_PREFIX, RedisThrottleState};
#[cfg(feature = "sqlite")]
#[cfg_attr(docsrs, doc(cfg(feature = "sqlite")))]
pub use sqlite::SqliteStore;
pub use url::{DEFAULT_REDIS_PREFIX, KeySource, StoreUrl};

/// Opens the store a URL names (see [`StoreUrl`] for the grammar), built with `config`.
///
/// Errors say what is wrong: a malformed URL ([`Error::BadUrl`]), a store this build does not
/// have ([`Error::NotBuiltIn`]), a directory or database that cannot be opened, a Redis server
/// that does not answer. There is no fallback: the caller gets the store it asked for or an
/// error.
pub async fn open(url: &str, config: StoreConfig) -> Result<Arc<dyn SessionStore>> {
    let parsed = StoreUrl::parse(url)?;
    open_parsed(parsed, config).await
}

async fn open_parsed(url: StoreUrl, config: StoreConfig) -> Result<Arc<dyn SessionStore>> {
    match url {
        StoreUrl::Memory => Ok(Arc::new(MemoryStore::builder().config(config).build())),
        StoreUrl::File(dir) => backends::file(dir, config),
        StoreUrl::Sqlite(path) => backends::sqlite(path, config).await,
        StoreUrl::Redis { url, prefix } => backends::redis(&url, prefix, config).await,
        StoreUrl::RedisCluster { nodes, prefix } => {
            backends::redis_cluster(&nodes, prefix, config).await
        }
        StoreUrl::Encrypted { dir, keys } => backends::encrypted(dir, &keys, config),
    }
}

/// One opener per backend; a backend whose feature is off says so.
#[allow(clippy::unused_async)]
mod backends {
    use std::path::PathBuf;
    use std::sync::Arc;

    use session_core::{SessionStore, StoreConfig};

    #[allow(unused_imports)]
    use super::*;

    type Opened = Result<Arc<dyn SessionStore>>;

    #[cfg(feature = "file")]
    pub(super) fn file(dir: PathBuf, config: StoreConfig) -> Opened {
        Ok(Arc::new(FileStore::open(dir, config)?))
    }
    #[cfg(not(feature = "file"))]
    pub(super) fn file(_: PathBuf, _: StoreConfig) -> Opened {
        Err(not_built_in("file", "file"))
    }

    #[cfg(feature = "sqlite")]
    pub(super) async fn sqlite(path: PathBuf, config: StoreConfig) -> Opened {
        Ok(Arc::new(SqliteStore::open(path, config).await?))
    }
    #[cfg(not(feature = "sqlite"))]
    pub(super) async fn sqlite(_: PathBuf, _: StoreConfig) -> Opened {
        Err(not_built_in("sqlite", "sqlite"))
    }

    #[cfg(feature = "redis")]
    pub(super) async fn redis(url: &str, prefix: String, config: StoreConfig) -> Opened {
        let builder = RedisStore::builder().prefix(prefix).config(config);
        Ok(Arc::new(builder.connect(url).await?))
    }
    #[cfg(not(feature = "redis"))]
    pub(super) async fn redis(_: &str, _: String, _: StoreConfig) -> Opened {
        Err(not_built_in("redis", "redis"))
    }

    #[cfg(feature = "redis-cluster")]
    pub(super) async fn redis_cluster(
        nodes: &[String],
        prefix: String,
        config: StoreConfig,
    ) -> Opened {
        let builder = RedisStore::builder().prefix(prefix).config(config);
        Ok(Arc::new(builder.connect_cluster(nodes).await?))
    }
    #[cfg(not(feature = "redis-cluster"))]
    pub(super) async fn redis_cluster(_: &[String], _: String, _: StoreConfig) -> Opened {
        Err(not_built_in("redis+cluster", "redis-cluster"))
    }

    #[cfg(feature = "encrypted")]
    pub(super) fn encrypted(dir: PathBuf, keys: &[KeySource], config: StoreConfig) -> Opened {
        let keyring = Keyring::from_sources(keys)?;
        Ok(Arc::new(EncryptedFileStore::with_keyring(
            dir, keyring, config,
        )?))
    }
    #[cfg(not(feature = "encrypted"))]
    pub(super) fn encrypted(_: PathBuf, _: &[KeySource], _: StoreConfig) -> Opened {
        Err(not_built_in("encrypted", "encrypted"))
    }
}

#[allow(dead_code)]
fn not_built_in(scheme: &str, feature: &'static str) -> Error {
    Error::NotBuiltIn {
        scheme: scheme.to_owned(),
        feature,
    }
}
