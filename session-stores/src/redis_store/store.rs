//! The Redis store's implementation of the session store contract.

use std::fmt;
use std::sync::Arc;

use async_trait::async_trait;
use futures_util::future::join_all;
use redis::cmd;
use session_core::{
    ChangeSet, CodecError, Error as CoreError, EventKind, Page, PageRequest, PrincipalIndex,
    Record, Result as CoreResult, SessionEvent, SessionKey, SessionStore, StoreConfig, Timestamp,
    TouchOutcome,
};

use super::connection::{Connection, OnDropped};
use super::fields::{hash_pairs, record_fields, record_from_fields};
use super::keys::Keys;
use super::replies::{self, ScriptReply};
use super::scripts::{Scripts, StoreScript};
use crate::error::Error;

pub(super) const STORE: &str = "redis";
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
///   own keys (their own slots in a cluster) and are updated right after a session's script
///   (on a single server, a create's script adds them itself);
///   entries whose session Redis purged are dropped lazily and by
///   [`delete_expired`](SessionStore::delete_expired), which should run periodically. `count`
///   is exact; it is cheapest right after a sweep.
/// - **Principal limit**: the check and the write that uses the last slot run under a short
///   per-principal lease (`<prefix>l:<principal digest>`, `SET NX PX`), so concurrent logins
///   of one principal, from any number of processes, never exceed it.
/// - **Reconnects**: a dropped connection is re-established in the background; the same
///   store object works again once the server is back (scripts are loaded again by
///   themselves). A command that finds the connection dropped — the first after a restart —
///   is sent once more over the new one when running it twice changes nothing (loads,
///   creates, touches, deletes, listing, counting); a save fails with a clear error instead,
///   as do requests made while the server is down.
///
/// Clones share one multiplexed connection.
#[derive(Clone)]
pub struct RedisStore {
    pub(super) inner: Arc<Inner>,
}

/// What every handle of one store shares; its methods are spread over this module's files
/// by concern.
pub(super) struct Inner {
    pub(super) conn: Connection,
    pub(super) keys: Keys,
    pub(super) scripts: Scripts,
    pub(super) config: StoreConfig,
    pub(super) cluster: bool,
}

impl fmt::Debug for RedisStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RedisStore")
            .field("prefix", &self.inner.keys.prefix())
            .field("cluster", &self.inner.cluster)
            .finish_non_exhaustive()
    }
}

impl RedisStore {
    /// Whether this store talks to a Redis Cluster.
    pub fn is_cluster(&self) -> bool {
        self.inner.cluster
    }

    /// The Redis key of a session's hash (for operators and tests).
    pub fn redis_key(&self, key: &SessionKey) -> String {
        self.inner.keys.session(key)
    }
}

pub(super) fn core(operation: &'static str) -> impl Fn(Error) -> CoreError {
    move |e| e.into_core(STORE, operation)
}

pub(super) fn redis_error(operation: &'static str) -> impl Fn(redis::RedisError) -> CoreError {
    move |e| Error::Redis(e).into_core(STORE, operation)
}

pub(super) fn bad_reply(operation: &'static str, reply: &str) -> CoreError {
    Error::RedisReply(format!("{operation} script answered {reply}")).into_core(STORE, operation)
}

pub(super) fn score(expires: Option<Timestamp>) -> String {
    expires.map_or_else(|| "+inf".to_owned(), |t| t.as_millis().to_string())
}

pub(super) fn millis_arg(time: Timestamp) -> Vec<u8> {
    time.as_millis().to_string().into_bytes()
}

impl Inner {
    pub(super) fn now(&self) -> Timestamp {
        self.config.now()
    }

    pub(super) fn emit(&self, event: SessionEvent) {
        self.config.events.emit(event);
    }

    pub(super) fn conn(&self) -> Connection {
        self.conn.clone()
    }

    /// Runs `script` on `keys` (the session's hash first) with `args`.
    pub(super) async fn run_script<T: redis::FromRedisValue>(
        &self,
        operation: &'static str,
        script: &StoreScript,
        keys: &[&str],
        args: Vec<Vec<u8>>,
    ) -> CoreResult<T> {
        let mut invocation = script.script.prepare_invoke();
        for key in keys {
            invocation.key(*key);
        }
        for arg in args {
            invocation.arg(arg);
        }
        script
            .on_dropped
            .invoke(&self.conn, &invocation)
            .await
            .map_err(redis_error(operation))
    }

    /// Runs one of the scripts that answer a [`ScriptReply`] and decodes its answer.
    pub(super) async fn run_decoded(
        &self,
        operation: &'static str,
        script: &StoreScript,
        keys: &[&str],
        args: Vec<Vec<u8>>,
    ) -> CoreResult<ScriptReply> {
        let reply: redis::Value = self.run_script(operation, script, keys, args).await?;
        replies::decode(reply).map_err(|reply| bad_reply(operation, &reply))
    }

    /// The keys (hex) the expiry index files at or before `now`: expired sessions, and live
    /// ones touched since they were indexed.
    pub(super) async fn indexed_as_expired_by(
        &self,
        operation: &'static str,
        now: Timestamp,
    ) -> CoreResult<Vec<String>> {
        let mut range = cmd("ZRANGEBYSCORE");
        range
            .arg(self.keys.expiry())
            .arg("-inf")
            .arg(now.as_millis());
        self.query(operation, &range).await
    }

    /// Sends a command that only reads, once more if its connection turns out dropped.
    pub(super) async fn query<T: redis::FromRedisValue>(
        &self,
        operation: &'static str,
        command: &redis::Cmd,
    ) -> CoreResult<T> {
        OnDropped::SendAgain
            .query(&self.conn, command)
            .await
            .map_err(redis_error(operation))
    }

    /// The record under `key`, expired or not.
    pub(super) async fn read(
        &self,
        operation: &'static str,
        key: &SessionKey,
    ) -> CoreResult<Option<Record>> {
        let reply: redis::Value = self
            .query(operation, cmd("HGETALL").arg(self.keys.session(key)))
            .await?;
        hash_pairs(reply)
            .and_then(|fields| record_from_fields(*key, fields))
            .map_err(|reason| {
                core(operation)(Error::Corrupt {
                    location: format!("Redis key {}", self.keys.session(key)),
                    reason: CodecError::Damaged(reason),
                })
            })
    }

    pub(super) async fn live(
        &self,
        operation: &'static str,
        key: &SessionKey,
    ) -> CoreResult<Option<Record>> {
        let now = self.now();
        Ok(self
            .read(operation, key)
            .await?
            .filter(|r| !r.is_expired(now)))
    }

    /// Removes `key` (script); returns `(was live, principal)` when there was a record.
    pub(super) async fn remove(
        &self,
        operation: &'static str,
        key: &SessionKey,
    ) -> CoreResult<Option<(bool, Option<String>)>> {
        let reply = self
            .run_decoded(
                operation,
                &self.scripts.delete,
                &[&self.keys.session(key)],
                vec![millis_arg(self.now())],
            )
            .await?;
        match reply {
            ScriptReply::Missing => {
                self.index_remove(operation, key, None).await?;
                Ok(None)
            }
            ScriptReply::Deleted { live, principal } => {
                self.index_remove(operation, key, principal.as_deref())
                    .await?;
                Ok(Some((live, principal)))
            }
            other => Err(bad_reply(operation, &format!("{other:?}"))),
        }
    }

    /// Runs the create script for `record`; `false` when a live record holds the key. With
    /// `indexed`, the script also adds the record to the indexes, which a single server (not a
    /// Cluster, where they live in other slots) lets one script do.
    pub(super) async fn put_new(
        &self,
        operation: &'static str,
        record: &Record,
        indexed: bool,
    ) -> CoreResult<bool> {
        let expires = record.expires_at().map(millis_arg).unwrap_or_default();
        let mut args = vec![millis_arg(self.now()), expires];
        args.extend(record_fields(record));
        let session = self.keys.session(&record.key);
        let principal = record
            .principal
            .as_deref()
            .filter(|_| indexed)
            .map(|p| self.keys.principal(p));
        let mut keys = vec![session.as_str()];
        if indexed {
            keys.extend([self.keys.all(), self.keys.expiry()]);
            keys.extend(principal.as_deref());
        }
        let reply = self
            .run_decoded(operation, &self.scripts.create, &keys, args)
            .await?;
        match reply {
            ScriptReply::Created => Ok(true),
            ScriptReply::Exists => Ok(false),
            other => Err(bad_reply(operation, &format!("{other:?}"))),
        }
    }

    pub(super) async fn cycle_once(
        &self,
        old: &SessionKey,
        new: &SessionKey,
    ) -> CoreResult<Option<Record>> {
        const OP: &str = "cycle_id";
        let Some(record) = self.live(OP, old).await? else {
            return Err(CoreError::Gone { key: *old });
        };
        let moved = record.with_key(*new);
        if !self.put_new(OP, &moved, false).await? {
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
            let indexed_by_script = !inner.cluster;
            if !inner.put_new(OP, record, indexed_by_script).await? {
                return Err(CoreError::AlreadyExists { key: record.key });
            }
            if !indexed_by_script {
                inner
                    .index_add(
                        OP,
                        &record.key,
                        record.principal.as_deref(),
                        record.expires_at(),
                    )
                    .await?;
            }
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
                &[&inner.keys.session(key)],
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
        let candidates: Vec<String> = inner.indexed_as_expired_by(OP, now).await?;
        let mut removed = 0;
        for hex in candidates {
            let Ok(key) = SessionKey::parse(&hex) else {
                continue;
            };
            let reply = inner
                .run_decoded(
                    OP,
                    &inner.scripts.delete_if_expired,
                    &[&inner.keys.session(&key)],
                    vec![millis_arg(now)],
                )
                .await?;
            match reply {
                ScriptReply::Missing => inner.index_remove(OP, &key, None).await?,
                ScriptReply::Live { expires } => {
                    cmd("ZADD")
                        .arg(inner.keys.expiry())
                        .arg("XX")
                        .arg(score(expires))
                        .arg(&hex)
                        .exec_async(&mut inner.conn())
                        .await
                        .map_err(redis_error(OP))?;
                }
                ScriptReply::Expired { principal } => {
                    inner.index_remove(OP, &key, principal.as_deref()).await?;
                    removed += 1;
                    inner.emit(SessionEvent::new(EventKind::Expired, Some(key), now));
                }
                other => return Err(bad_reply(OP, &format!("{other:?}"))),
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
            let members: Vec<String> = inner
                .query(
                    OP,
                    cmd("ZRANGEBYLEX")
                        .arg(inner.keys.all())
                        .arg(&start)
                        .arg("+")
                        .arg("LIMIT")
                        .arg(0)
                        .arg(batch),
                )
                .await?;
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
        let later: u64 = inner
            .query(
                OP,
                cmd("ZCOUNT")
                    .arg(inner.keys.expiry())
                    .arg(format!("({}", now.as_millis()))
                    .arg("+inf"),
            )
            .await?;
        // Entries at or before now may belong to sessions touched since they were indexed.
        let candidates: Vec<String> = inner.indexed_as_expired_by(OP, now).await?;
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
