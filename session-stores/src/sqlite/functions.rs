//! SQL functions on the writer connection, so that a save is one `UPDATE` that reads the row,
//! applies the change set with [`Record::apply`] and writes the result, with no transaction
//! around it and no separate `SELECT`.
//!
//! - `session_apply(principal, created_at, last_access, idle_ms, absolute_ms, version, codec,
//!   attributes)` takes the row's columns (those of `record_columns!`), rebuilds the record,
//!   applies the save waiting in [`PendingSaves`] and returns the new attributes blob. A refused
//!   save (conflict, limit, corrupt row) makes it fail, which makes SQLite undo the statement;
//!   the error itself is handed back through [`PendingSaves`].
//! - `session_expires_at(created_at, last_access, idle_ms, absolute_ms)` is
//!   [`ExpiryPolicy::expires_at`] in milliseconds.
//!
//! The version and the last access the `UPDATE` writes are `version + 1` and
//! `max(last_access, now)`, which is what [`Record::apply`] makes of them; the version
//! [`Record::apply`] computed is the one reported to the caller.

use std::sync::{Arc, Mutex, PoisonError};

use rusqlite::Connection;
use rusqlite::functions::{Context, FunctionFlags};
use session_core::{ChangeSet, ExpiryPolicy, Limits, SessionKey, Timestamp};

use super::store::{duration, millis, record_from_columns, timestamp};
use crate::error::OpError;

/// The name of the function that applies a pending save.
pub(super) const APPLY: &str = "session_apply";
/// The name of the expiry function.
pub(super) const EXPIRES_AT: &str = "session_expires_at";

/// A save handed to `session_apply`.
pub(super) struct PendingSave {
    /// The row being saved (for the record and its errors).
    pub(super) key: SessionKey,
    /// What the save changes.
    pub(super) changes: ChangeSet,
    /// The version the caller loaded.
    pub(super) loaded_version: u64,
    /// When the save happens.
    pub(super) now: Timestamp,
}

/// The slot through which the writer hands a save to `session_apply` and gets its outcome
/// back: the new version, or why the save was refused.
#[derive(Clone, Default)]
pub(super) struct PendingSaves(Arc<Mutex<Slot>>);

#[derive(Default)]
struct Slot {
    pending: Option<PendingSave>,
    outcome: Option<Result<u64, OpError>>,
}

impl PendingSaves {
    /// Runs `statement` with `save` waiting for `session_apply`; returns what the statement
    /// returned and, when the function ran, its outcome.
    pub(super) fn run<T>(
        &self,
        save: PendingSave,
        statement: impl FnOnce() -> rusqlite::Result<T>,
    ) -> (rusqlite::Result<T>, Option<Result<u64, OpError>>) {
        *self.slot() = Slot {
            pending: Some(save),
            outcome: None,
        };
        let result = statement();
        let outcome = std::mem::take(&mut *self.slot()).outcome;
        (result, outcome)
    }

    fn slot(&self) -> std::sync::MutexGuard<'_, Slot> {
        // The slot holds plain data that a panic cannot leave half-written.
        self.0.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// `session_apply` for one call.
    fn apply(&self, ctx: &Context<'_>, limits: &Limits) -> rusqlite::Result<Vec<u8>> {
        let mut guard = self.slot();
        let slot = &mut *guard;
        // Kept in the slot: should SQLite run the statement again, the save applies again to
        // the row as it then is.
        let Some(save) = &slot.pending else {
            return Err(refused("no save is waiting"));
        };
        if ctx.len() != 8 {
            return Err(refused("wrong number of arguments"));
        }
        let applied = record_from_columns(save.key, |i| Ok(ctx.get_raw(i)))?
            .map_err(OpError::from)
            .and_then(|mut record| {
                record.apply(&save.changes, save.loaded_version, save.now, limits)?;
                Ok(record)
            });
        match applied {
            Ok(record) => {
                slot.outcome = Some(Ok(record.version));
                Ok(super::attributes::encode(&record.attributes))
            }
            Err(error) => {
                slot.outcome = Some(Err(error));
                Err(refused("save refused"))
            }
        }
    }
}

fn refused(why: &'static str) -> rusqlite::Error {
    rusqlite::Error::UserFunctionError(format!("{APPLY}: {why}").into())
}

/// Registers both functions on `conn`; saves reach `session_apply` through the returned slot.
pub(super) fn register(conn: &Connection, limits: Limits) -> rusqlite::Result<PendingSaves> {
    let saves = PendingSaves::default();
    let slot = saves.clone();
    conn.create_scalar_function(
        APPLY,
        8,
        FunctionFlags::SQLITE_UTF8 | FunctionFlags::SQLITE_DIRECTONLY,
        move |ctx| slot.apply(ctx, &limits),
    )?;
    conn.create_scalar_function(
        EXPIRES_AT,
        4,
        FunctionFlags::SQLITE_UTF8
            | FunctionFlags::SQLITE_DETERMINISTIC
            | FunctionFlags::SQLITE_DIRECTONLY,
        |ctx| {
            let int = |i| ctx.get_raw(i).as_i64_or_null();
            let policy = ExpiryPolicy {
                idle: duration(int(2)?),
                absolute: duration(int(3)?),
            };
            let created_at = timestamp(ctx.get_raw(0).as_i64()?);
            let last_access = timestamp(ctx.get_raw(1).as_i64()?);
            Ok(policy.expires_at(created_at, last_access).map(millis))
        },
    )?;
    Ok(saves)
}
