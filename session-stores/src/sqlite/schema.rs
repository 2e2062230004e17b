//! The database schema and its migrations.
//!
//! `schema_version` holds one row with the version of the schema; [`migrate`] applies every
//! migration newer than it, in one transaction, when a store opens the database. A database
//! written by a newer program is refused rather than guessed at.

use rusqlite::{Connection, OptionalExtension, TransactionBehavior};

use crate::error::{Error, Result};

/// The migrations, in order: migration `i` brings the schema to version `i + 1`.
const MIGRATIONS: &[&str] = &[
    // 1: sessions, keyed by the session key's 32 bytes. The record envelope is kept whole in
    // `record`; the columns beside it are what queries filter on, and `last_access` /
    // `expires_at` are authoritative (a touch changes only them).
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
    // 2: the principal index without last_access, so that a touch (which moves last_access)
    // updates one index instead of two; a principal's few sessions are sorted after the lookup.
    "DROP INDEX sessions_by_principal;
    CREATE INDEX sessions_by_principal ON sessions (principal) WHERE principal IS NOT NULL;",
];

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
        tx.execute_batch(migration)?;
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
