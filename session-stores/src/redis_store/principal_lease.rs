//! A short lease on one principal, so that checking a per-principal session limit and the
//! write that uses the last slot happen as one step across every process sharing the store.
//!
//! The limit check reads the principal's other sessions, which live in other cluster slots
//! than the session being written, so no single script can do both. Instead a writer takes
//! `<prefix>l:<sha256 of the principal>` with `SET NX PX` (a random token as value), does
//! the check and the write, and gives the lease back with a compare-and-delete script
//! (`Scripts::release_lease`); a
//! holder that dies leaves a lease that expires after [`LEASE`]. Only writes that set a
//! principal while a limit is configured take it (logins, not ordinary requests).

use std::future::Future;
use std::time::{Duration, Instant};

use redis::{Script, cmd};
use session_core::{Error as CoreError, Result as CoreResult};

use super::connection::{Connection, OnDropped};
use crate::error::Error;

const STORE: &str = "redis";

/// How long a lease lives if its holder never gives it back.
pub(crate) const LEASE: Duration = Duration::from_secs(5);
/// How long a writer waits for a lease: longer than [`LEASE`], so that a lease left by a
/// holder that died has expired before a waiter gives up.
const WAIT: Duration = Duration::from_secs(7);
/// The pause between attempts to take a busy lease.
const RETRY: Duration = Duration::from_millis(2);

/// Runs `work` while holding the lease `lease_key`.
pub(crate) async fn holding<T>(
    conn: &Connection,
    release: &Script,
    lease_key: &str,
    operation: &'static str,
    work: impl Future<Output = CoreResult<T>>,
) -> CoreResult<T> {
    let token = token()?;
    let deadline = Instant::now() + WAIT;
    loop {
        let mut take = cmd("SET");
        take.arg(lease_key)
            .arg(&token)
            .arg("NX")
            .arg("PX")
            .arg(LEASE.as_millis() as u64);
        // Sent again after a dropped connection: should the first have taken the lease, the
        // second finds it busy and this writer waits for it to expire, as for any holder.
        let taken: Option<String> = OnDropped::SendAgain
            .query(conn, &take)
            .await
            .map_err(|e| Error::Redis(e).into_core(STORE, operation))?;
        if taken.is_some() {
            break;
        }
        if Instant::now() >= deadline {
            return Err(CoreError::backend(
                STORE,
                operation,
                "another writer held this principal's session-limit lease too long",
            ));
        }
        tokio::time::sleep(RETRY).await;
    }
    let result = work.await;
    // A failed release only delays the next writer until the lease expires.
    let _: Result<i64, _> = release
        .key(lease_key)
        .arg(&token)
        .invoke_async(&mut conn.clone())
        .await;
    result
}

fn token() -> CoreResult<String> {
    let mut bytes = [0u8; 16];
    getrandom::fill(&mut bytes)
        .map_err(|e| CoreError::backend(STORE, "principal lease", e.to_string()))?;
    Ok(hex::encode(bytes))
}
