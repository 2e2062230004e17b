//! The Redis store's implementation of the session store contract.

use std::fmt;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use futures_util::future::join_all;
use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use redis::{Script, cmd};
use session_core::{
    ChangeSet, Error as CoreError, EventKind, LimitError, Page, PageRequest, PrincipalChange,
    PrincipalIndex, PrincipalLimit, Record, Result as CoreResult, RoomDecision, SessionEvent,
    SessionKey, SessionStore, StoreConfig, Timestamp, TouchOutcome,
};

use super::connection::Connection;
use super::fields::{hash_pairs, record_fields, record_from_fields, timeout_text};
use super::keys::Keys;
use super::principal_lease;
use super::scripts::Scripts;
use crate::error::{Error, Result};
use crate::url::DEFAULT_REDIS_PREFIX;

const STORE: &str = "redis";
/// How often `cycle_id` retries when the old record changes while it is being moved.
const CYCLE_ATTEMPTS: usize = 8;

/// A session store in Redis: one server or a Redis Cluster.
///
/// - **One hash per session** (`<prefix>s:{<key hex>}`; the hash tag keeps it in one cluster
///   slot), attributes as separate fields, so a save writes only the attributes it changes.
/// - **Server-side atomicity**: `create`, `save` (with the version rule of [`Record::apply`]
///   and the record limits), `touch`, `delete` and the sweep are each one Lua script on the
///   session's hash. Expiry is judged inside the scripts by the store's clock (passed in as
///   "now"), and the record gets a native `PEXPIREAT` at the end of its expiry's minute, so
///   Redis purges it by itself within a minute of its expiry (a touch or save renews the TTL
///   only when the expiry moves into another minute).
/// - **Indexes** (`<prefix>all`, `<prefix>expiry`, `<prefix>p:<principal digest>`) live in their
///   own keys (their own slots in a cluster) and are updated right after a session's script;
///   entries whose session Redis purged are dropped lazily and by
///   [`delete_expired`](SessionStore::delete_expired), which should run periodically. `count`
///   is exact; it is cheapest right after a sweep.
/// - **Principal limit**: the check and the write that uses the last slot run under a short
///   per-principal lease (`<prefix>l:<principal digest>`, `SET NX PX`), so concurrent logins
///   of one principal, from any number of processes, never exceed it.
/// - **Reconnects**: a dropped connection fails the requests in flight with a clear error and
///   is re-established in the background; the same store object works again once the server
///   is back (scripts are loaded again by themselves).
///
/// Clones share one multiplexed connection.
#[derive(Clone)]
pub struct RedisStore {
    inner: Arc<Inner>,
}

struct Inner {
    conn: Connection,
    keys: Keys,
    scripts: Scripts,
    config: StoreConfig,
    cluster: bool,
}

impl fmt::Debug for RedisStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RedisStore")
            .field("prefix", &self.inner.keys.prefix())
            .field("cluster", &self.inner.cluster)
            .finish_non_exhaustive()
    }
}

/// Builds a [`RedisStore`].
#[derive(Debug)]
pub struct RedisStoreBuilder {
    prefix: String,
    config: StoreConfig,
    connection_timeout: Duration,
    response_timeout: Duration,
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
        self.finish(Connection::Single(conn), false).await
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
        }
    }

    /// Whether this store talks to a Redis Cluster.
    pub fn is_cluster(&self) -> bool {
        self.inner.cluster
    }

    /// The Redis key of a session's hash (for operators and tests).
    pub fn redis_key(&self, key: &SessionKey) -> String {
        self.inner.keys.session(key)
    }
}

fn core(operation: &'static str) -> impl Fn(Error) -> CoreError {
    move |e| e.into_core(STORE, operation)
}

fn redis_error(operation: &'static str) -> impl Fn(redis::RedisError) -> CoreError {
    move |e| Error::Redis(e).into_core(STORE, operation)
}

fn bad_reply(operation: &'static str, reply: &[String]) -> CoreError {
    Error::RedisReply(format!("{operation} script answered {reply:?}")).into_core(STORE, operation)
}

fn parse_expiry(text: &str) -> Option<Timestamp> {
    text.parse::<u64>().ok().map(Timestamp::from_millis)
}

fn score(expires: Option<Timestamp>) -> String {
    expires.map_or_else(|| "+inf".to_owned(), |t| t.as_millis().to_string())
}

fn millis_arg(time: Timestamp) -> Vec<u8> {
    time.as_millis().to_string().into_bytes()
}

impl Inner {
    fn now(&self) -> Timestamp {
        self.config.now()
    }

    fn emit(&self, event: SessionEvent) {
        self.config.events.emit(event);
    }

    fn conn(&self) -> Connection {
        self.conn.clone()
    }

    async fn run_script<T: redis::FromRedisValue>(
        &self,
        operation: &'static str,
        script: &Script,
        key: &str,
        args: Vec<Vec<u8>>,
    ) -> CoreResult<T> {
        let mut invocation = script.prepare_invoke();
        invocation.key(key);
        for arg in args {
            invocation.arg(arg);
        }
        invocation
            .invoke_async::<T>(&mut self.conn())
            .await
            .map_err(redis_error(operation))
    }

    /// The record under `key`, expired or not.
    async fn read(&self, operation: &'static str, key: &SessionKey) -> CoreResult<Option<Record>> {
        let reply: redis::Value = cmd("HGETALL")
            .arg(self.keys.session(key))
            .query_async(&mut self.conn())
            .await
            .map_err(redis_error(operation))?;
        hash_pairs(reply)
            .and_then(|fields| record_from_fields(*key, fields))
            .map_err(|reason| {
                core(operation)(Error::Corrupt {
                    location: format!("Redis key {}", self.keys.session(key)),
                    reason,
                })
            })
    }

    async fn live(&self, operation: &'static str, key: &SessionKey) -> CoreResult<Option<Record>> {
        let now = self.now();
        Ok(self
            .read(operation, key)
            .await?
            .filter(|r| !r.is_expired(now)))
    }

    /// Adds a session to the indexes.
    async fn index_add(
        &self,
        operation: &'static str,
        key: &SessionKey,
        principal: Option<&str>,
        expires: Option<Timestamp>,
    ) -> CoreResult<()> {
        let hex = key.to_hex();
        let mut all_cmd = cmd("ZADD");
        all_cmd.arg(self.keys.all()).arg(0).arg(&hex);
        let mut expiry_cmd = cmd("ZADD");
        expiry_cmd
            .arg(self.keys.expiry())
            .arg(score(expires))
            .arg(&hex);
        let principal_cmd = principal.map(|p| {
            let mut sadd = cmd("SADD");
            sadd.arg(self.keys.principal(p)).arg(&hex);
            sadd
        });
        self.run_index_commands(operation, all_cmd, expiry_cmd, principal_cmd)
            .await
    }

    /// Removes a session from the indexes.
    async fn index_remove(
        &self,
        operation: &'static str,
        key: &SessionKey,
        principal: Option<&str>,
    ) -> CoreResult<()> {
        let hex = key.to_hex();
        let mut all_cmd = cmd("ZREM");
        all_cmd.arg(self.keys.all()).arg(&hex);
        let mut expiry_cmd = cmd("ZREM");
        expiry_cmd.arg(self.keys.expiry()).arg(&hex);
        let principal_cmd = principal.map(|p| {
            let mut srem = cmd("SREM");
            srem.arg(self.keys.principal(p)).arg(&hex);
            srem
        });
        self.run_index_commands(operation, all_cmd, expiry_cmd, principal_cmd)
            .await
    }

    /// Runs the commands on the three indexes (all sessions, expiry, the principal's set)
    /// concurrently; they live in different slots of a Cluster, so they cannot be one script.
    async fn run_index_commands(
        &self,
        operation: &'static str,
        all_cmd: redis::Cmd,
        expiry_cmd: redis::Cmd,
        principal_cmd: Option<redis::Cmd>,
    ) -> CoreResult<()> {
        let (mut a, mut b, mut c) = (self.conn(), self.conn(), self.conn());
        let all = all_cmd.exec_async(&mut a);
        let expiry = expiry_cmd.exec_async(&mut b);
        let principal_set = async {
            match principal_cmd {
                Some(command) => command.exec_async(&mut c).await,
                None => Ok(()),
            }
        };
        let (x, y, z) = tokio::join!(all, expiry, principal_set);
        x.and(y).and(z).map_err(redis_error(operation))
    }

    /// Removes `key` (script); returns `(was live, principal)` when there was a record.
    async fn remove(
        &self,
        operation: &'static str,
        key: &SessionKey,
    ) -> CoreResult<Option<(bool, Option<String>)>> {
        let reply: Vec<String> = self
            .run_script(
                operation,
                &self.scripts.delete,
                &self.keys.session(key),
                vec![millis_arg(self.now())],
            )
            .await?;
        match reply.as_slice() {
            [tag] if tag == "none" => {
                self.index_remove(operation, key, None).await?;
                Ok(None)
            }
            [tag, live, principal] if tag == "deleted" => {
                let principal = (!principal.is_empty()).then_some(principal.as_str());
                self.index_remove(operation, key, principal).await?;
                Ok(Some((live == "1", principal.map(str::to_owned))))
            }
            _ => Err(bad_reply(operation, &reply)),
        }
    }

    async fn live_of_principal(
        &self,
        operation: &'static str,
        principal: &str,
    ) -> CoreResult<Vec<Record>> {
        let set = self.keys.principal(principal);
        let members: Vec<String> = cmd("SMEMBERS")
            .arg(&set)
            .query_async(&mut self.conn())
            .await
            .map_err(redis_error(operation))?;
        let keys: Vec<SessionKey> = members
            .iter()
            .filter_map(|m| SessionKey::parse(m).ok())
            .collect();
        let loaded = join_all(keys.iter().map(|key| self.read(operation, key))).await;
        let now = self.now();
        let mut records = Vec::new();
        let mut stale = Vec::new();
        for (key, result) in keys.iter().zip(loaded) {
            match result? {
                Some(record) if record.principal.as_deref() == Some(principal) => {
                    if !record.is_expired(now) {
                        records.push(record);
                    }
                }
                _ => stale.push(key.to_hex()),
            }
        }
        if !stale.is_empty() {
            cmd("SREM")
                .arg(&set)
                .arg(&stale)
                .exec_async(&mut self.conn())
                .await
                .map_err(redis_error(operation))?;
        }
        records.sort_by_key(|r| (r.last_access, r.key));
        Ok(records)
    }

    /// What the per-principal limit decides for a write that gives `principal` (when there is
    /// one) the session `except`: the sessions to evict once the write is done (`Ok`), or the
    /// refusal to report once the write's own checks pass (`Err`).
    async fn room_for(
        &self,
        operation: &'static str,
        principal: Option<&str>,
        except: &SessionKey,
    ) -> CoreResult<Result<Vec<SessionKey>, CoreError>> {
        let (Some(principal), Some(limit)) = (principal, self.config.principal_limit) else {
            return Ok(Ok(Vec::new()));
        };
        let others = self
            .live_of_principal(operation, principal)
            .await?
            .into_iter()
            .filter(|r| r.key != *except)
            .map(|r| (r.key, r.last_access));
        Ok(match limit.decide(others) {
            RoomDecision::Allow => Ok(Vec::new()),
            RoomDecision::Evict(keys) => Ok(keys),
            RoomDecision::Refuse => Err(limit.refusal()),
        })
    }

    /// Ends the sessions the per-principal limit evicts.
    async fn evict(&self, operation: &'static str, keys: Vec<SessionKey>) -> CoreResult<()> {
        let now = self.now();
        for key in keys {
            if self
                .remove(operation, &key)
                .await?
                .is_some_and(|(live, _)| live)
            {
                self.emit(PrincipalLimit::eviction_event(key, now));
            }
        }
        Ok(())
    }

    /// Runs the save script and keeps the principal and expiry indexes in step.
    async fn save_changes(
        &self,
        key: &SessionKey,
        changes: &ChangeSet,
        loaded_version: u64,
    ) -> CoreResult<u64> {
        const OP: &str = "save";
        let limits = &self.config.limits;
        let args = save_args(self.now(), changes, loaded_version);
        let reply: redis::Value = self
            .run_script(OP, &self.scripts.save, &self.keys.session(key), args)
            .await?;
        let reply: Vec<String> = match reply {
            // The common save (only attributes changed): the new version alone.
            redis::Value::Int(version) => {
                return u64::try_from(version).map_err(|_| bad_reply(OP, &[version.to_string()]));
            }
            other => redis::from_redis_value(other).map_err(|e| redis_error(OP)(e.into()))?,
        };
        match reply.as_slice() {
            [tag] if tag == "gone" => Err(CoreError::Gone { key: *key }),
            [tag, detail] if tag == "conflict" => Err(CoreError::Conflict {
                key: *key,
                detail: detail.clone(),
            }),
            [tag, attribute, detail] if tag == "addition" => Err(CoreError::Addition {
                key: *key,
                attribute: attribute.clone(),
                detail: detail.clone(),
            }),
            [tag, actual] if tag == "limit_attributes" => {
                Err(CoreError::Limit(LimitError::Attributes {
                    actual: actual.parse().unwrap_or(usize::MAX),
                    limit: limits.max_attributes,
                }))
            }
            [tag, actual] if tag == "limit_size" => Err(CoreError::Limit(LimitError::RecordSize {
                actual: actual.parse().unwrap_or(usize::MAX),
                limit: limits.max_record_bytes,
            })),
            [tag, version, expires, old, new] if tag == "ok" => {
                let version: u64 = version.parse().map_err(|_| bad_reply(OP, &reply))?;
                if old != new {
                    let hex = key.to_hex();
                    let mut conn = self.conn();
                    if !old.is_empty() {
                        cmd("SREM")
                            .arg(self.keys.principal(old))
                            .arg(&hex)
                            .exec_async(&mut conn)
                            .await
                            .map_err(redis_error(OP))?;
                    }
                    if !new.is_empty() {
                        cmd("SADD")
                            .arg(self.keys.principal(new))
                            .arg(&hex)
                            .exec_async(&mut conn)
                            .await
                            .map_err(redis_error(OP))?;
                    }
                }
                if changes.expiry.is_some() {
                    // A new policy may bring the expiry forward: index the exact time (XX: only
                    // if the session is still indexed, so a racing delete is not undone).
                    cmd("ZADD")
                        .arg(self.keys.expiry())
                        .arg("XX")
                        .arg(score(parse_expiry(expires)))
                        .arg(key.to_hex())
                        .exec_async(&mut self.conn())
                        .await
                        .map_err(redis_error(OP))?;
                }
                Ok(version)
            }
            _ => Err(bad_reply(OP, &reply)),
        }
    }

    /// Runs `write` holding the principal's lease when it sets a principal and a
    /// per-principal limit is configured, so that the limit check and the write are one step
    /// for every process sharing the store.
    async fn within_principal_limit<T>(
        &self,
        operation: &'static str,
        principal: Option<&str>,
        write: impl Future<Output = CoreResult<T>>,
    ) -> CoreResult<T> {
        match principal {
            Some(principal) if self.config.principal_limit.is_some() => {
                let lease = self.keys.principal_lease(principal);
                principal_lease::holding(
                    &self.conn,
                    &self.scripts.release_lease,
                    &lease,
                    operation,
                    write,
                )
                .await
            }
            _ => write.await,
        }
    }

    /// Runs the create script for `record`; `false` when a live record holds the key.
    async fn put_new(&self, operation: &'static str, record: &Record) -> CoreResult<bool> {
        let expires = record.expires_at().map(millis_arg).unwrap_or_default();
        let mut args = vec![millis_arg(self.now()), expires];
        args.extend(record_fields(record));
        let reply: Vec<String> = self
            .run_script(
                operation,
                &self.scripts.create,
                &self.keys.session(&record.key),
                args,
            )
            .await?;
        match reply.first().map(String::as_str) {
            Some("ok") => Ok(true),
            Some("exists") => Ok(false),
            _ => Err(bad_reply(operation, &reply)),
        }
    }

    async fn cycle_once(&self, old: &SessionKey, new: &SessionKey) -> CoreResult<Option<Record>> {
        const OP: &str = "cycle_id";
        let Some(record) = self.live(OP, old).await? else {
            return Err(CoreError::Gone { key: *old });
        };
        let moved = record.with_key(*new);
        if !self.put_new(OP, &moved).await? {
            return Err(CoreError::AlreadyExists { key: *new });
        }
        let removed: i64 = {
            let mut invocation = self.scripts.delete_if_version.prepare_invoke();
            invocation
                .key(self.keys.session(old))
                .arg(record.version.to_string());
            invocation
                .invoke_async(&mut self.conn())
                .await
                .map_err(redis_error(OP))?
        };
        if removed == 1 {
            return Ok(Some(moved));
        }
        // The old record changed (or went away) while it was copied: undo the copy, retry.
        cmd("DEL")
            .arg(self.keys.session(new))
            .exec_async(&mut self.conn())
            .await
            .map_err(redis_error(OP))?;
        Ok(None)
    }
}

/// The save script's arguments (see `scripts.rs`).
fn save_args(now: Timestamp, changes: &ChangeSet, loaded_version: u64) -> Vec<Vec<u8>> {
    let mut options = String::new();
    let mut option_args = Vec::new();
    if changes.cleared {
        options.push('c');
    }
    match &changes.principal {
        PrincipalChange::Keep => {}
        PrincipalChange::Set(principal) => {
            options.push('s');
            option_args.push(principal.clone().into_bytes());
        }
        PrincipalChange::Remove => options.push('r'),
    }
    if let Some(policy) = changes.expiry {
        options.push('e');
        option_args.push(timeout_text(policy.idle).into_bytes());
        option_args.push(timeout_text(policy.absolute).into_bytes());
    }
    if !changes.additions.is_empty() {
        options.push('a');
        option_args.push(changes.additions.len().to_string().into_bytes());
    }
    let mut args = Vec::with_capacity(
        5 + option_args.len()
            + 3 * changes.upserts.len()
            + changes.removals.len()
            + 2 * changes.additions.len(),
    );
    args.extend([
        millis_arg(now),
        loaded_version.to_string().into_bytes(),
        changes.upserts.len().to_string().into_bytes(),
        changes.removals.len().to_string().into_bytes(),
        options.into_bytes(),
    ]);
    args.extend(option_args);
    let field = |name: &String| [b"a:", name.as_bytes()].concat();
    args.extend(changes.upserts.keys().map(field));
    args.extend(changes.removals.iter().map(field));
    args.extend(changes.upserts.values().cloned());
    args.extend(changes.additions.keys().map(field));
    args.extend(
        changes
            .additions
            .values()
            .map(|amount| amount.to_string().into_bytes()),
    );
    args
}

#[async_trait]
impl SessionStore for RedisStore {
    fn name(&self) -> &'static str {
        STORE
    }

    async fn create(&self, record: &Record) -> CoreResult<()> {
        const OP: &str = "create";
        let inner = &self.inner;
        record.check_limits(&inner.config.limits)?;
        let write = async {
            let room = inner
                .room_for(OP, record.principal.as_deref(), &record.key)
                .await?;
            let evicted = match room {
                Ok(evicted) => evicted,
                // A taken key is this write's own refusal, reported before the limit's.
                Err(refusal) => match inner.live(OP, &record.key).await? {
                    Some(_) => return Err(CoreError::AlreadyExists { key: record.key }),
                    None => return Err(refusal),
                },
            };
            if !inner.put_new(OP, record).await? {
                return Err(CoreError::AlreadyExists { key: record.key });
            }
            inner
                .index_add(
                    OP,
                    &record.key,
                    record.principal.as_deref(),
                    record.expires_at(),
                )
                .await?;
            inner.evict(OP, evicted).await
        };
        inner
            .within_principal_limit(OP, record.principal.as_deref(), write)
            .await
    }

    async fn load(&self, key: &SessionKey) -> CoreResult<Option<Record>> {
        self.inner.live("load", key).await
    }

    async fn save(
        &self,
        key: &SessionKey,
        changes: &ChangeSet,
        loaded_version: u64,
    ) -> CoreResult<u64> {
        const OP: &str = "save";
        let inner = &self.inner;
        let limits = &inner.config.limits;
        for name in changes.upserts.keys().chain(changes.additions.keys()) {
            limits.check_key(name)?;
        }
        let new_principal = changes.principal.set();
        if let Some(principal) = new_principal {
            limits.check_principal(principal)?;
        }
        let write = async {
            match inner.room_for(OP, new_principal, key).await? {
                Ok(evicted) => {
                    let version = inner.save_changes(key, changes, loaded_version).await?;
                    inner.evict(OP, evicted).await?;
                    Ok(version)
                }
                // The change set's own refusals (gone, conflict, limits) come first, by the
                // rule of `Record::apply` on the record as it is now; nothing is written.
                Err(refusal) => {
                    let Some(mut record) = inner.live(OP, key).await? else {
                        return Err(CoreError::Gone { key: *key });
                    };
                    record.apply(changes, loaded_version, inner.now(), limits)?;
                    Err(refusal)
                }
            }
        };
        inner.within_principal_limit(OP, new_principal, write).await
    }

    async fn touch(&self, key: &SessionKey) -> CoreResult<TouchOutcome> {
        const OP: &str = "touch";
        let inner = &self.inner;
        // nil: no live record; -1: it never expires; otherwise its new expiry.
        let expires: Option<i64> = inner
            .run_script(
                OP,
                &inner.scripts.touch,
                &inner.keys.session(key),
                vec![millis_arg(inner.now())],
            )
            .await?;
        Ok(match expires {
            Some(millis) => TouchOutcome::Touched {
                expires_at: u64::try_from(millis).ok().map(Timestamp::from_millis),
            },
            None => TouchOutcome::Missing,
        })
    }

    async fn delete(&self, key: &SessionKey) -> CoreResult<bool> {
        Ok(self
            .inner
            .remove("delete", key)
            .await?
            .is_some_and(|(live, _)| live))
    }

    async fn cycle_id(&self, old: &SessionKey, new: &SessionKey) -> CoreResult<()> {
        const OP: &str = "cycle_id";
        let inner = &self.inner;
        for _ in 0..CYCLE_ATTEMPTS {
            if let Some(moved) = inner.cycle_once(old, new).await? {
                inner
                    .index_add(OP, new, moved.principal.as_deref(), moved.expires_at())
                    .await?;
                inner
                    .index_remove(OP, old, moved.principal.as_deref())
                    .await?;
                return Ok(());
            }
        }
        Err(CoreError::Conflict {
            key: *old,
            detail: "the session kept changing while its id was cycled".into(),
        })
    }

    async fn delete_expired(&self) -> CoreResult<u64> {
        const OP: &str = "delete_expired";
        let inner = &self.inner;
        let now = inner.now();
        let candidates: Vec<String> = cmd("ZRANGEBYSCORE")
            .arg(inner.keys.expiry())
            .arg("-inf")
            .arg(now.as_millis())
            .query_async(&mut inner.conn())
            .await
            .map_err(redis_error(OP))?;
        let mut removed = 0;
        for hex in candidates {
            let Ok(key) = SessionKey::parse(&hex) else {
                continue;
            };
            let reply: Vec<String> = inner
                .run_script(
                    OP,
                    &inner.scripts.delete_if_expired,
                    &inner.keys.session(&key),
                    vec![millis_arg(now)],
                )
                .await?;
            match reply.as_slice() {
                [tag] if tag == "missing" => inner.index_remove(OP, &key, None).await?,
                [tag, expires] if tag == "live" => {
                    cmd("ZADD")
                        .arg(inner.keys.expiry())
                        .arg("XX")
                        .arg(score(parse_expiry(expires)))
                        .arg(&hex)
                        .exec_async(&mut inner.conn())
                        .await
                        .map_err(redis_error(OP))?;
                }
                [tag, principal] if tag == "expired" => {
                    let principal = (!principal.is_empty()).then_some(principal.as_str());
                    inner.index_remove(OP, &key, principal).await?;
                    removed += 1;
                    inner.emit(SessionEvent::new(EventKind::Expired, Some(key), now));
                }
                _ => return Err(bad_reply(OP, &reply)),
            }
        }
        Ok(removed)
    }

    async fn list(&self, page: PageRequest) -> CoreResult<Page> {
        const OP: &str = "list";
        let inner = &self.inner;
        let now = inner.now();
        let want = page.limit.saturating_add(1);
        let mut start = page
            .after
            .map_or_else(|| "-".to_owned(), |k| format!("({}", k.to_hex()));
        let mut records = Vec::new();
        while records.len() < want {
            let batch = (want - records.len()).clamp(16, 1000);
            let members: Vec<String> = cmd("ZRANGEBYLEX")
                .arg(inner.keys.all())
                .arg(&start)
                .arg("+")
                .arg("LIMIT")
                .arg(0)
                .arg(batch)
                .query_async(&mut inner.conn())
                .await
                .map_err(redis_error(OP))?;
            let Some(last) = members.last() else { break };
            start = format!("({last}");
            let keys: Vec<SessionKey> = members
                .iter()
                .filter_map(|m| SessionKey::parse(m).ok())
                .collect();
            let loaded = join_all(keys.iter().map(|k| inner.read(OP, k))).await;
            for (key, result) in keys.iter().zip(loaded) {
                match result? {
                    Some(record) if !record.is_expired(now) => records.push(record),
                    Some(_) => {}
                    None => inner.index_remove(OP, key, None).await?,
                }
            }
            if members.len() < batch {
                break;
            }
        }
        records.truncate(want);
        Ok(Page::from_sorted(records, page))
    }

    async fn count(&self) -> CoreResult<u64> {
        const OP: &str = "count";
        let inner = &self.inner;
        let now = inner.now();
        let mut conn = inner.conn();
        let later: u64 = cmd("ZCOUNT")
            .arg(inner.keys.expiry())
            .arg(format!("({}", now.as_millis()))
            .arg("+inf")
            .query_async(&mut conn)
            .await
            .map_err(redis_error(OP))?;
        // Entries at or before now may belong to sessions touched since they were indexed.
        let candidates: Vec<String> = cmd("ZRANGEBYSCORE")
            .arg(inner.keys.expiry())
            .arg("-inf")
            .arg(now.as_millis())
            .query_async(&mut conn)
            .await
            .map_err(redis_error(OP))?;
        let keys: Vec<SessionKey> = candidates
            .iter()
            .filter_map(|m| SessionKey::parse(m).ok())
            .collect();
        let mut live = 0;
        for result in join_all(keys.iter().map(|k| inner.live(OP, k))).await {
            if result?.is_some() {
                live += 1;
            }
        }
        Ok(later + live)
    }

    fn principal_index(&self) -> Option<&dyn PrincipalIndex> {
        Some(self)
    }
}

#[async_trait]
impl PrincipalIndex for RedisStore {
    async fn sessions_of(&self, principal: &str) -> CoreResult<Vec<Record>> {
        self.inner.live_of_principal("sessions_of", principal).await
    }

    async fn revoke_all(&self, principal: &str, keep: Option<&SessionKey>) -> CoreResult<u64> {
        const OP: &str = "revoke_all";
        let inner = &self.inner;
        let now = inner.now();
        let mut revoked = 0;
        for record in inner.live_of_principal(OP, principal).await? {
            if Some(&record.key) == keep {
                continue;
            }
            if inner
                .remove(OP, &record.key)
                .await?
                .is_some_and(|(live, _)| live)
            {
                revoked += 1;
                inner.emit(
                    SessionEvent::new(EventKind::Invalidated, Some(record.key), now)
                        .with_detail("all sessions of the principal revoked"),
                );
            }
        }
        Ok(revoked)
    }
}
