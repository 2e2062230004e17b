//! The database schema and its migrations.
//!
//! `schema_version` holds one row with the version of the schema; [`migrate`] applies every
//! migration newer than it, in one transaction, when a store opens the database. A database
//! written by a newer program is refused rather than guessed at.

use rusqlite::{Connection, OptionalExtension, TransactionBehavior, params};
use session_core::decode_record;

use super::attributes;
use crate::error::{Error, Result};

/// One step of the schema.
enum Migration {
    /// Statements only.
    Sql(&'static str),
    /// Statements around a data conversion done here.
    Convert(fn(&Connection) -> Result<()>),
}

/// The migrations, in order: migration `i` brings the schema to version `i + 1`.
const MIGRATIONS: &[Migration] = &[
    // 1: sessions, keyed by the session key's 32 bytes. The record envelope is kept whole in
    // `record`; the columns beside it are what queries filter on, and `last_access` /
    // `expires_at` are authoritative (a touch changes only them).
    Migration::Sql(
        "CREATE TABLE sessions (
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
    CREATE INDEX sessions_by_principal ON sessions (principal, last_access) WHERE principal IS NOT NULL;",
    ),
    // 2: the principal index without last_access, so that a touch (which moves last_access)
    // updates one index instead of two; a principal's few sessions are sorted after the lookup.
    Migration::Sql(
        "DROP INDEX sessions_by_principal;
    CREATE INDEX sessions_by_principal ON sessions (principal) WHERE principal IS NOT NULL;",
    ),
    // 3: every field of the record in its own column and the attributes in a length-prefixed
    // blob (`attributes.rs`) instead of the codec's whole-record envelope, so reading a row
    // parses no JSON; and the expiry index on `sweep_at`, a time never later than
    // `expires_at` that only the sweep moves forward, so that a touch or a save (which move
    // `expires_at`) change one table page and no index.
    Migration::Convert(split_records),
    // 4: a rowid table (the key's primary-key index beside it). A WITHOUT ROWID table keeps at most
    // about a quarter of a page of a row in the b-tree and spills the rest of a 1 KiB session
    // to an overflow page, which every load and save then read again; a rowid table keeps rows
    // up to nearly a page in place.
    Migration::Sql(
        "ALTER TABLE sessions RENAME TO sessions_v3;
    CREATE TABLE sessions (
        key BLOB PRIMARY KEY NOT NULL,
        principal TEXT,
        created_at INTEGER NOT NULL,
        last_access INTEGER NOT NULL,
        idle_ms INTEGER,
        absolute_ms INTEGER,
        expires_at INTEGER,
        sweep_at INTEGER,
        version INTEGER NOT NULL,
        codec INTEGER NOT NULL,
        attributes BLOB NOT NULL
    );
    INSERT INTO sessions (key, principal, created_at, last_access, idle_ms, absolute_ms,
        expires_at, sweep_at, version, codec, attributes)
    SELECT key, principal, created_at, last_access, idle_ms, absolute_ms, expires_at, sweep_at,
        version, codec, attributes FROM sessions_v3 ORDER BY key;
    DROP TABLE sessions_v3;
    CREATE INDEX sessions_by_sweep ON sessions (sweep_at);
    CREATE INDEX sessions_by_principal ON sessions (principal) WHERE principal IS NOT NULL;",
    ),
];

/// Migration 3's table; the data of every v2 row is converted into it.
const SESSIONS_V3: &str = "CREATE TABLE sessions_v3 (
        key BLOB PRIMARY KEY NOT NULL,
        principal TEXT,
        created_at INTEGER NOT NULL,
        last_access INTEGER NOT NULL,
        idle_ms INTEGER,
        absolute_ms INTEGER,
        expires_at INTEGER,
        sweep_at INTEGER,
        version INTEGER NOT NULL,
        codec INTEGER NOT NULL,
        attributes BLOB NOT NULL
    ) WITHOUT ROWID";

/// Migration 3: converts each v2 row (record envelope + authoritative `last_access` /
/// `expires_at` columns) into the v3 columns. A row that cannot be decoded stops the
/// migration (nothing is dropped silently); the transaction then leaves the v2 data as it was.
fn split_records(conn: &Connection) -> Result<()> {
    conn.execute_batch(SESSIONS_V3)?;
    {
        let mut rows = conn.prepare("SELECT key, last_access, expires_at, record FROM sessions")?;
        let mut insert = conn.prepare(
            "INSERT INTO sessions_v3 (key, principal, created_at, last_access, idle_ms,
                absolute_ms, expires_at, sweep_at, version, codec, attributes)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?7, ?8, ?9, ?10)",
        )?;
        let mut rows = rows.query([])?;
        while let Some(row) = rows.next()? {
            let key: Vec<u8> = row.get(0)?;
            let last_access: i64 = row.get(1)?;
            let expires_at: Option<i64> = row.get(2)?;
            let bytes: Vec<u8> = row.get(3)?;
            let record = decode_record(&bytes).map_err(|reason| Error::Corrupt {
                location: format!("sqlite row {} (migrating to schema 3)", hex::encode(&key)),
                reason,
            })?;
            let millis = |d: Option<std::time::Duration>| {
                d.map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
            };
            insert.execute(params![
                key,
                record.principal,
                i64::try_from(record.created_at.as_millis()).unwrap_or(i64::MAX),
                last_access,
                millis(record.expiry.idle),
                millis(record.expiry.absolute),
                expires_at,
                i64::try_from(record.version).unwrap_or(i64::MAX),
                record.codec.id(),
                attributes::encode(&record.attributes),
            ])?;
        }
    }
    conn.execute_batch(
        "DROP TABLE sessions;
        ALTER TABLE sessions_v3 RENAME TO sessions;
        CREATE INDEX sessions_by_sweep ON sessions (sweep_at);
        CREATE INDEX sessions_by_principal ON sessions (principal) WHERE principal IS NOT NULL;",
    )?;
    Ok(())
}

/// The schema version this program writes.
pub(crate) const SCHEMA_VERSION: i64 = MIGRATIONS.len() as i64;

/// Brings the database up to [`SCHEMA_VERSION`]; returns the version it found.
pub(crate) fn migrate(conn: &mut Connection) -> Result<i64> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    tx.execute_batch("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)")?;
    let found: i64 = tx
        .query_row("SELECT max(version) FROM schema_version", [], |row| {
            row.get::<_, Option<i64>>(0)
        })
        .optional()?
        .flatten()
        .unwrap_or(0);
    if found > SCHEMA_VERSION {
        return Err(Error::SchemaTooNew {
            found,
            known: SCHEMA_VERSION,
        });
    }
    for (index, migration) in MIGRATIONS.iter().enumerate().skip(found as usize) {
        match migration {
            Migration::Sql(sql) => tx.execute_batch(sql)?,
            Migration::Convert(convert) => convert(&tx)?,
        }
        tracing::info!(version = index + 1, "migrated SQLite session schema");
    }
    tx.execute("DELETE FROM schema_version", [])?;
    tx.execute(
        "INSERT INTO schema_version (version) VALUES (?1)",
        [SCHEMA_VERSION],
    )?;
    tx.commit()?;
    Ok(found)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn migration_is_idempotent_and_refuses_newer_schemas() {
        let mut conn = Connection::open_in_memory().unwrap();
        assert_eq!(migrate(&mut conn).unwrap(), 0);
        assert_eq!(migrate(&mut conn).unwrap(), SCHEMA_VERSION);
        conn.execute("UPDATE schema_version SET version = 99", [])
            .unwrap();
        assert!(matches!(
            migrate(&mut conn),
            Err(Error::SchemaTooNew { found: 99, .. })
        ));
    }
}
