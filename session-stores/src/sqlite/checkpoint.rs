//! WAL checkpoints off the writer's path.
//!
//! SQLite's automatic checkpoint runs inside the commit that takes the WAL past 1,000 pages,
//! on the connection that committed: here the connection thread, which every request of the
//! store waits on. Copying those pages into the database file took milliseconds, and every
//! request queued behind that commit waited as long: with checkpoints moved here, the p99 of
//! 64 connections creating sessions fell from 13 ms to 6 ms, and of reading and writing from
//! 4.8 ms to 2.3 ms (`http_load`, benches/RESULTS.md).
//!
//! So the connection thread's connection has no automatic checkpoint. A WAL hook records the
//! WAL's size after each commit, and past [`NUDGE_FRAMES`] the connection thread nudges a
//! checkpoint thread with a connection of its own, which copies the WAL into the database file
//! (`PASSIVE`: it never waits on, nor blocks, the writer or a reader), pass after pass (at
//! most eight) until a pass finds little new. Commits go on meanwhile, so the passes leave the
//! last frames behind, and a WAL starts over from its beginning only once all of it has been
//! copied. So the connection thread then copies the rest itself, usually a few frames, and its
//! next write starts the WAL over: the file stays near its nudge size instead of growing with
//! every write. Should the checkpoint thread be gone, the connection thread checkpoints
//! itself, as SQLite would have.

use std::cell::Cell;
use std::os::raw::c_int;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::mpsc;
use std::thread::JoinHandle;

use rusqlite::hooks::Wal;
use rusqlite::{Connection, OpenFlags};

use crate::error::{Error, Result};

/// The WAL size (in frames, one page each) at which the checkpoint thread is nudged: SQLite's
/// own automatic checkpoint threshold.
const NUDGE_FRAMES: c_int = 1_000;

/// A checkpoint pass that finds fewer new frames than this is the checkpoint thread's last.
const CAUGHT_UP_FRAMES: c_int = 64;

/// The most passes per nudge: writes faster than a pass copies (a slow disk) would otherwise
/// keep the thread copying while the WAL, never restarted, grows.
const MAX_PASSES: usize = 8;

/// The checkpoint thread has no pass to do or under way.
const IDLE: u8 = 0;
/// The checkpoint thread was nudged and its pass is not done.
const COPYING: u8 = 1;
/// The checkpoint thread's pass is done; the connection thread copies what was left.
const COPIED: u8 = 2;

thread_local! {
    /// The WAL size after the last commit of the connection on this thread, as the WAL hook
    /// reported it (a hook is a plain function, so it reports through the committing thread).
    static WAL_FRAMES: Cell<c_int> = const { Cell::new(0) };
}

fn record_wal_size(_wal: &Wal, frames: c_int) -> rusqlite::Result<()> {
    WAL_FRAMES.with(|size| size.set(frames));
    Ok(())
}

/// The checkpoint thread, driven by the connection thread that owns the writing connection.
/// Dropping it stops the thread and joins it.
pub(super) struct Checkpointer {
    nudge: Option<mpsc::SyncSender<()>>,
    state: Arc<AtomicU8>,
    thread: Option<JoinHandle<()>>,
}

impl Checkpointer {
    /// Turns `writer`'s automatic checkpoints off (the WAL hook replaces them) and starts a
    /// checkpoint thread on a connection of its own to the database at `path`. Only the thread
    /// that will commit on `writer` may call [`after_commit`](Self::after_commit).
    pub(super) fn start(path: &Path, writer: &Connection) -> Result<Self> {
        // As the store's own connection is opened, but never creating: the file exists.
        let conn = Connection::open_with_flags(
            path,
            OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )?;
        writer.wal_hook(Some(record_wal_size));
        let (nudge, nudges) = mpsc::sync_channel::<()>(1);
        let state = Arc::new(AtomicU8::new(IDLE));
        let shared_state = state.clone();
        let thread = std::thread::Builder::new()
            .name("sqlite-checkpoint".to_owned())
            .spawn(move || {
                while nudges.recv().is_ok() {
                    catch_up(&conn);
                    shared_state.store(COPIED, Ordering::Release);
                }
            })
            .map_err(|e| Error::io("start a thread for", "sqlite-checkpoint", e))?;
        Ok(Checkpointer {
            nudge: Some(nudge),
            state,
            thread: Some(thread),
        })
    }

    /// The connection thread's step after it committed on `writer`: nudges the checkpoint
    /// thread, or finishes its pass.
    pub(super) fn after_commit(&self, writer: &Connection) {
        let frames = WAL_FRAMES.with(Cell::get);
        match self.state.load(Ordering::Acquire) {
            COPIED => {
                copy_on_writer(writer);
                self.state.store(IDLE, Ordering::Release);
            }
            IDLE if frames >= NUDGE_FRAMES => {
                self.state.store(COPYING, Ordering::Release);
                let nudged = self.nudge.as_ref().is_some_and(|n| n.try_send(()).is_ok());
                if !nudged {
                    self.state.store(IDLE, Ordering::Release);
                    copy_on_writer(writer);
                }
            }
            _ => {}
        }
    }
}

impl Drop for Checkpointer {
    fn drop(&mut self) {
        drop(self.nudge.take());
        if let Some(thread) = self.thread.take() {
            // The thread only finishes the pass under way.
            let _ = thread.join();
        }
    }
}

/// Copies the WAL on the writing connection, whose next write then starts the WAL over.
fn copy_on_writer(writer: &Connection) {
    let _ = copy_wal(writer);
    // Until the next commit reports its size, the WAL counts as empty.
    WAL_FRAMES.with(|size| size.set(0));
}

/// Copies the WAL pass after pass, each taking what was committed during the one before,
/// until a pass finds less than [`CAUGHT_UP_FRAMES`] new frames (what is left for the writing
/// connection to copy is then about that much), at most [`MAX_PASSES`] times.
fn catch_up(conn: &Connection) {
    let mut copied_to = 0;
    for _ in 0..MAX_PASSES {
        let Some(frames) = copy_wal(conn) else { return };
        if frames - copied_to < CAUGHT_UP_FRAMES {
            return;
        }
        copied_to = frames;
    }
}

/// Copies what it can of the WAL into the database file without waiting on anyone; the WAL's
/// size in frames, or `None` when the checkpoint could not run.
fn copy_wal(conn: &Connection) -> Option<c_int> {
    let outcome = conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |row| {
        Ok((row.get::<_, c_int>(1)?, row.get::<_, c_int>(2)?))
    });
    match outcome {
        Ok((frames, copied)) => {
            tracing::trace!(frames, copied, "SQLite store: WAL checkpoint");
            Some(frames)
        }
        // A checkpoint that cannot run now is retried with the next nudge; nothing is lost.
        Err(e) => {
            tracing::debug!(error = %e, "SQLite store: WAL checkpoint not run");
            None
        }
    }
}
