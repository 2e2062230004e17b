//! The SQLite store's implementation of the session store contract.

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use async_trait::async_trait;
use rusqlite::{
    Connection, OpenFlags, OptionalExtension, Transaction, TransactionBehavior, params,
};
use session_core::{
    ChangeSet, Error as CoreError, EventKind, Page, PageRequest, PrincipalIndex, Record,
    Result as CoreResult, SessionEvent, SessionKey, SessionStore, StoreConfig, Timestamp, WhenFull,
    decode_record, encode_record,
};

use super::schema;
use crate::error::{Error, OpError, Result};

const STORE: &str = "sqlite";
/// Readers besides the writer connection.
const READERS: usize = 2;

/// A session store in one SQLite database file.
///
/// - **WAL mode** (`synchronous=NORMAL`): readers never wait for the writer; a committed
///   change survives a process crash (a power loss may drop the last transactions).
/// - **One transaction per change**: `create`, `save`, `cycle_id` and the principal limit run
///   in an immediate transaction that reads the row, checks the version rule of
///   [`Record::apply`] and writes; concurrent writers (tasks or other processes sharing the
///   file, waiting up to five seconds on a busy database) are serialized by SQLite.
/// - **Indexes** on the expiry time and on the principal: the sweep, `count` and the principal
///   index do not scan the table; a touch or a save updates only the columns that changed.
/// - **Off the runtime**: every statement runs outside the async workers — through
///   `block_in_place` on a multi-thread runtime (the worker's other tasks move to another
///   thread meanwhile), on the blocking pool otherwise — on one writer connection and a few
///   reader connections.
/// - **Schema version** in `schema_version`, migrated on open; a newer schema is refused.
/// - Rows are keyed by the 32-byte [`SessionKey`]; the session id is never stored.
///
/// Clones share the same connections.
#[derive(Clone)]
pub struct SqliteStore {
    inner: Arc<Inner>,
}

struct Inner {
    path: PathBuf,
    writer: Mutex<Connection>,
    readers: Vec<Mutex<Connection>>,
    config: StoreConfig,
}

impl fmt::Debug for SqliteStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SqliteStore")
            .field("path", &self.inner.path)
            .finish_non_exhaustive()
    }
}

fn open_connection(path: &Path) -> Result<Connection> {
    let conn = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_WRITE
            | OpenFlags::SQLITE_OPEN_CREATE
            | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )?;
    conn.busy_timeout(Duration::from_secs(5))?;
    conn.pragma_update(None, "journal_mode", "WAL")?;
    conn.pragma_update(None, "synchronous", "NORMAL")?;
    conn.pragma_update(None, "foreign_keys", "ON")?;
    conn.set_prepared_statement_cache_capacity(32);
    Ok(conn)
}

fn restrict_permissions(path: &Path) -> Result<()> {
    use std::os::unix::fs::PermissionsExt;
    for candidate in [
        path.to_path_buf(),
        PathBuf::from(format!("{}-wal", path.display())),
        PathBuf::from(format!("{}-shm", path.display())),
    ] {
        if candidate.exists() {
            std::fs::set_permissions(&candidate, std::fs::Permissions::from_mode(0o600))
                .map_err(|e| Error::io("restrict permissions of", &candidate, e))?;
        }
    }
    Ok(())
}

impl SqliteStore {
    /// Opens (creating if needed) the database at `path`, migrating its schema. The file (and
    /// its WAL) are made 0600.
    pub async fn open(path: impl AsRef<Path>, config: StoreConfig) -> Result<Self> {
        let path = path.as_ref().to_path_buf();
        let shown = path.clone();
        tokio::task::spawn_blocking(move || Self::open_blocking(path, config))
            .await
            .map_err(|e| Error::io("open", shown, std::io::Error::other(e.to_string())))?
    }

    /// [`open`](Self::open) for callers outside an async runtime.
    pub fn open_blocking(path: impl AsRef<Path>, config: StoreConfig) -> Result<Self> {
        let path = path.as_ref().to_path_buf();
        if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
            use std::os::unix::fs::DirBuilderExt;
            std::fs::DirBuilder::new()
                .recursive(true)
                .mode(0o700)
                .create(parent)
                .map_err(|e| Error::io("create directory", parent, e))?;
        }
        let mut writer = open_connection(&path)?;
        schema::migrate(&mut writer)?;
        let readers = (0..READERS)
            .map(|_| open_connection(&path).map(Mutex::new))
            .collect::<Result<Vec<_>>>()?;
        restrict_permissions(&path)?;
        Ok(SqliteStore {
            inner: Arc::new(Inner {
                path,
                writer: Mutex::new(writer),
                readers,
                config,
            }),
        })
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.inner.path
    }

    async fn run<T: Send + 'static>(
        &self,
        operation: &'static str,
        write: bool,
        work: impl FnOnce(&mut Connection, &Inner) -> Result<T, OpError> + Send + 'static,
    ) -> CoreResult<T> {
        let inner = self.inner.clone();
        let job = move || {
            let mut conn = if write {
                lock(&inner.writer)?
            } else {
                inner.reader()?
            };
            work(&mut conn, &inner)
        };
        // On a multi-thread runtime, `block_in_place` hands this worker's other tasks to
        // another thread for the duration of the statement (cheaper than a trip to the
        // blocking pool); elsewhere the statement goes to the blocking pool.
        let multi_thread = tokio::runtime::Handle::try_current()
            .is_ok_and(|h| h.runtime_flavor() == tokio::runtime::RuntimeFlavor::MultiThread);
        let joined = if multi_thread {
            Ok(tokio::task::block_in_place(job))
        } else {
            tokio::task::spawn_blocking(job).await
        };
        OpError::finish(joined, STORE, operation)
    }
}

fn lock(mutex: &Mutex<Connection>) -> Result<MutexGuard<'_, Connection>, OpError> {
    mutex.lock().map_err(|_| {
        OpError::Contract(CoreError::backend(
            STORE,
            "lock",
            "a thread panicked while using this connection",
        ))
    })
}

impl From<rusqlite::Error> for OpError {
    fn from(e: rusqlite::Error) -> Self {
        OpError::Backend(Error::Sqlite(e))
    }
}

fn millis(t: Timestamp) -> i64 {
    i64::try_from(t.as_millis()).unwrap_or(i64::MAX)
}

fn duration_ms(d: Option<Duration>) -> Option<i64> {
    d.map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

/// What a row of `sessions` holds besides the key.
struct Row {
    record: Vec<u8>,
    last_access: i64,
}

/// Liveness for scans (may use the expiry index).
const LIVE: &str = "(expires_at IS NULL OR expires_at > :now)";
/// Liveness for lookups by key: written so the planner keeps to the primary key (an index on
/// a column the statement updates would make SQLite take a slower two-pass path).
const LIVE_ROW: &str = "ifnull(expires_at, 9223372036854775807) > :now";

impl Inner {
    fn now(&self) -> Timestamp {
        self.config.now()
    }

    fn emit(&self, event: SessionEvent) {
        self.config.events.emit(event);
    }

    fn reader(&self) -> Result<MutexGuard<'_, Connection>, OpError> {
        for reader in &self.readers {
            if let Ok(conn) = reader.try_lock() {
                return Ok(conn);
            }
        }
        match self.readers.first() {
            Some(first) => lock(first),
            None => lock(&self.writer),
        }
    }
}

fn decode_row(key: &SessionKey, row: Row) -> Result<Record> {
    let mut record = decode_record(&row.record).map_err(|e| Error::Corrupt {
        location: format!("sqlite row {}", key.short()),
        reason: e.to_string(),
    })?;
    record.last_access = Timestamp::from_millis(u64::try_from(row.last_access).unwrap_or(0));
    if record.key != *key {
        return Err(Error::Corrupt {
            location: format!("sqlite row {}", key.short()),
            reason: "holds the record of another key".into(),
        });
    }
    Ok(record)
}

fn live_record(conn: &Connection, key: &SessionKey, now: Timestamp) -> Result<Option<Record>> {
    let row = conn
        .prepare_cached(&format!(
            "SELECT record, last_access FROM sessions WHERE key = :key AND {LIVE_ROW}"
        ))?
        .query_row(
            rusqlite::named_params! {":key": key.as_bytes(), ":now": millis(now)},
            |row| {
                Ok(Row {
                    record: row.get(0)?,
                    last_access: row.get(1)?,
                })
            },
        )
        .optional()?;
    row.map(|row| decode_row(key, row)).transpose()
}

fn records_where(
    conn: &Connection,
    sql: &str,
    params: &[(&str, &dyn rusqlite::ToSql)],
) -> Result<Vec<Record>> {
    let mut statement = conn.prepare_cached(sql)?;
    let rows = statement.query_map(params, |row| {
        let key: Vec<u8> = row.get(0)?;
        Ok((
            key,
            Row {
                record: row.get(1)?,
                last_access: row.get(2)?,
            },
        ))
    })?;
    let mut records = Vec::new();
    for row in rows {
        let (key, row) = row?;
        let key: [u8; 32] = key.try_into().map_err(|_| Error::Corrupt {
            location: "sqlite sessions table".into(),
            reason: "a key that is not 32 bytes".into(),
        })?;
        records.push(decode_row(&SessionKey::from_bytes(key), row)?);
    }
    Ok(records)
}

/// Writes `record` (insert or replace) in `tx`.
fn put(tx: &Transaction<'_>, record: &Record) -> Result<()> {
    let bytes = encode_record(record).map_err(|e| Error::Corrupt {
        location: format!("sqlite row {}", record.key.short()),
        reason: format!("cannot encode: {e}"),
    })?;
    tx.prepare_cached(
        "INSERT INTO sessions
            (key, principal, created_at, last_access, idle_ms, absolute_ms, expires_at, version, record)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)
         ON CONFLICT (key) DO UPDATE SET
            principal = excluded.principal, created_at = excluded.created_at,
            last_access = excluded.last_access, idle_ms = excluded.idle_ms,
            absolute_ms = excluded.absolute_ms, expires_at = excluded.expires_at,
            version = excluded.version, record = excluded.record",
    )?
    .execute(params![
        record.key.as_bytes(),
        record.principal,
        millis(record.created_at),
        millis(record.last_access),
        duration_ms(record.expiry.idle),
        duration_ms(record.expiry.absolute),
        record.expires_at().map(millis),
        i64::try_from(record.version).unwrap_or(i64::MAX),
        bytes,
    ])?;
    Ok(())
}

/// Writes a saved `record` over its row, touching the principal and policy columns (and so
/// the principal index) only when the change set changed them.
fn update_saved(tx: &Transaction<'_>, record: &Record, changes: &ChangeSet) -> Result<()> {
    if changes.principal.is_some() || changes.expiry.is_some() {
        return put(tx, record);
    }
    let bytes = encode_record(record).map_err(|e| Error::Corrupt {
        location: format!("sqlite row {}", record.key.short()),
        reason: format!("cannot encode: {e}"),
    })?;
    tx.prepare_cached(
        "UPDATE sessions SET last_access = ?2, expires_at = ?3, version = ?4, record = ?5
         WHERE key = ?1",
    )?
    .execute(params![
        record.key.as_bytes(),
        millis(record.last_access),
        record.expires_at().map(millis),
        i64::try_from(record.version).unwrap_or(i64::MAX),
        bytes,
    ])?;
    Ok(())
}

fn remove(tx: &Transaction<'_>, key: &SessionKey) -> Result<bool> {
    Ok(tx
        .prepare_cached("DELETE FROM sessions WHERE key = ?1")?
        .execute([key.as_bytes()])?
        > 0)
}

fn live_of_principal(conn: &Connection, principal: &str, now: Timestamp) -> Result<Vec<Record>> {
    records_where(
        conn,
        &format!(
            "SELECT key, record, last_access FROM sessions
             WHERE principal = :principal AND {LIVE} ORDER BY last_access, key"
        ),
        rusqlite::named_params! {":principal": principal, ":now": millis(now)},
    )
}

/// Makes room for one more session of `principal` besides `except`, inside `tx`.
fn make_room(
    inner: &Inner,
    tx: &Transaction<'_>,
    principal: &str,
    except: &SessionKey,
    now: Timestamp,
) -> Result<(), OpError> {
    let Some(limit) = inner.config.principal_limit else {
        return Ok(());
    };
    let others: Vec<SessionKey> = {
        let mut statement = tx.prepare_cached(&format!(
            "SELECT key FROM sessions WHERE principal = :principal AND key != :except AND {LIVE}
             ORDER BY last_access, key"
        ))?;
        let rows = statement.query_map(
            rusqlite::named_params! {":principal": principal, ":except": except.as_bytes(), ":now": millis(now)},
            |row| row.get::<_, Vec<u8>>(0),
        )?;
        let mut keys = Vec::new();
        for key in rows {
            if let Ok(bytes) = <[u8; 32]>::try_from(key?) {
                keys.push(SessionKey::from_bytes(bytes));
            }
        }
        keys
    };
    if others.len() < limit.max {
        return Ok(());
    }
    if limit.when_full == WhenFull::Refuse {
        return Err(CoreError::PrincipalLimit { max: limit.max }.into());
    }
    let excess = others.len() + 1 - limit.max;
    for key in others.into_iter().take(excess) {
        if remove(tx, &key)? {
            inner.emit(
                SessionEvent::new(EventKind::Evicted, Some(key), now)
                    .with_detail("per-principal session limit"),
            );
        }
    }
    Ok(())
}

#[async_trait]
impl SessionStore for SqliteStore {
    fn name(&self) -> &'static str {
        STORE
    }

    async fn create(&self, record: &Record) -> CoreResult<()> {
        record.check_limits(&self.inner.config.limits)?;
        let record = record.clone();
        self.run("create", true, move |conn, inner| {
            let now = inner.now();
            let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
            if live_record(&tx, &record.key, now)?.is_some() {
                return Err(CoreError::AlreadyExists { key: record.key }.into());
            }
            if let Some(principal) = &record.principal {
                make_room(inner, &tx, principal, &record.key, now)?;
            }
            put(&tx, &record)?;
            tx.commit()?;
            Ok(())
        })
        .await
    }

    async fn load(&self, key: &SessionKey) -> CoreResult<Option<Record>> {
        let key = *key;
        self.run("load", false, move |conn, inner| {
            Ok(live_record(conn, &key, inner.now())?)
        })
        .await
    }

    async fn save(
        &self,
        key: &SessionKey,
        changes: &ChangeSet,
        loaded_version: u64,
    ) -> CoreResult<u64> {
        let (key, changes) = (*key, changes.clone());
        self.run("save", true, move |conn, inner| {
            let now = inner.now();
            let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
            let Some(mut record) = live_record(&tx, &key, now)? else {
                return Err(CoreError::Gone { key }.into());
            };
            record.apply(&changes, loaded_version, now, &inner.config.limits)?;
            if let Some(Some(principal)) = &changes.principal {
                make_room(inner, &tx, principal, &key, now)?;
            }
            update_saved(&tx, &record, &changes)?;
            tx.commit()?;
            Ok(record.version)
        })
        .await
    }

    async fn touch(&self, key: &SessionKey) -> CoreResult<Option<Option<Timestamp>>> {
        let key = *key;
        self.run("touch", true, move |conn, inner| {
            let now = millis(inner.now());
            // The new last access and the expiry it implies, only for a live row; read back in
            // the same transaction.
            let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
            let changed = tx
                .prepare_cached(&format!(
                    "UPDATE sessions SET
                        last_access = max(last_access, :now),
                        expires_at = CASE
                            WHEN idle_ms IS NULL AND absolute_ms IS NULL THEN NULL
                            WHEN idle_ms IS NULL THEN created_at + absolute_ms
                            WHEN absolute_ms IS NULL THEN max(last_access, :now) + idle_ms
                            ELSE min(max(last_access, :now) + idle_ms, created_at + absolute_ms)
                        END
                     WHERE key = :key AND {LIVE_ROW}"
                ))?
                .execute(rusqlite::named_params! {":key": key.as_bytes(), ":now": now})?;
            let expires: Option<Option<i64>> = if changed == 0 {
                None
            } else {
                Some(
                    tx.prepare_cached("SELECT expires_at FROM sessions WHERE key = ?1")?
                        .query_row([key.as_bytes()], |row| row.get(0))?,
                )
            };
            tx.commit()?;
            Ok(expires.map(|e| e.map(|ms| Timestamp::from_millis(u64::try_from(ms).unwrap_or(0)))))
        })
        .await
    }

    async fn delete(&self, key: &SessionKey) -> CoreResult<bool> {
        let key = *key;
        self.run("delete", true, move |conn, inner| {
            let removed: Option<Option<i64>> = conn
                .prepare_cached("DELETE FROM sessions WHERE key = ?1 RETURNING expires_at")?
                .query_row([key.as_bytes()], |row| row.get(0))
                .optional()?;
            let now = millis(inner.now());
            Ok(removed.is_some_and(|expires| expires.is_none_or(|e| e > now)))
        })
        .await
    }

    async fn cycle_id(&self, old: &SessionKey, new: &SessionKey) -> CoreResult<()> {
        let (old, new) = (*old, *new);
        self.run("cycle_id", true, move |conn, inner| {
            let now = inner.now();
            let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
            let Some(record) = live_record(&tx, &old, now)? else {
                return Err(CoreError::Gone { key: old }.into());
            };
            if live_record(&tx, &new, now)?.is_some() {
                return Err(CoreError::AlreadyExists { key: new }.into());
            }
            put(&tx, &record.with_key(new))?;
            remove(&tx, &old)?;
            tx.commit()?;
            Ok(())
        })
        .await
    }

    async fn delete_expired(&self) -> CoreResult<u64> {
        self.run("delete_expired", true, |conn, inner| {
            let now = inner.now();
            let keys: Vec<Vec<u8>> = {
                let mut statement = conn
                    .prepare_cached("DELETE FROM sessions WHERE expires_at <= ?1 RETURNING key")?;
                let rows = statement.query_map([millis(now)], |row| row.get(0))?;
                rows.collect::<rusqlite::Result<_>>()?
            };
            for key in &keys {
                if let Ok(bytes) = <[u8; 32]>::try_from(key.as_slice()) {
                    inner.emit(SessionEvent::new(
                        EventKind::Expired,
                        Some(SessionKey::from_bytes(bytes)),
                        now,
                    ));
                }
            }
            Ok(keys.len() as u64)
        })
        .await
    }

    async fn list(&self, page: PageRequest) -> CoreResult<Page> {
        self.run("list", false, move |conn, inner| {
            let after: Vec<u8> = page.after.map(|k| k.as_bytes().to_vec()).unwrap_or_default();
            let limit = i64::try_from(page.limit.saturating_add(1)).unwrap_or(i64::MAX);
            let records = records_where(
                conn,
                &format!(
                    "SELECT key, record, last_access FROM sessions
                     WHERE key > :after AND {LIVE} ORDER BY key LIMIT :limit"
                ),
                rusqlite::named_params! {":after": after, ":now": millis(inner.now()), ":limit": limit},
            )?;
            Ok(Page::from_sorted(records, page))
        })
        .await
    }

    async fn count(&self) -> CoreResult<u64> {
        self.run("count", false, |conn, inner| {
            let count: i64 = conn
                .prepare_cached(&format!("SELECT count(*) FROM sessions WHERE {LIVE}"))?
                .query_row(
                    rusqlite::named_params! {":now": millis(inner.now())},
                    |row| row.get(0),
                )?;
            Ok(u64::try_from(count).unwrap_or(0))
        })
        .await
    }

    fn principal_index(&self) -> Option<&dyn PrincipalIndex> {
        Some(self)
    }
}

#[async_trait]
impl PrincipalIndex for SqliteStore {
    async fn sessions_of(&self, principal: &str) -> CoreResult<Vec<Record>> {
        let principal = principal.to_owned();
        self.run("sessions_of", false, move |conn, inner| {
            Ok(live_of_principal(conn, &principal, inner.now())?)
        })
        .await
    }

    async fn revoke_all(&self, principal: &str, keep: Option<&SessionKey>) -> CoreResult<u64> {
        let (principal, keep) = (principal.to_owned(), keep.copied());
        self.run("revoke_all", true, move |conn, inner| {
            let now = inner.now();
            let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
            let mut revoked = 0;
            for record in live_of_principal(&tx, &principal, now)? {
                if Some(record.key) == keep {
                    continue;
                }
                if remove(&tx, &record.key)? {
                    revoked += 1;
                    inner.emit(
                        SessionEvent::new(EventKind::Invalidated, Some(record.key), now)
                            .with_detail("all sessions of the principal revoked"),
                    );
                }
            }
            tx.commit()?;
            Ok(revoked)
        })
        .await
    }
}
