//! The thread that owns the store's SQLite connection and runs its statements.
//!
//! The connection lives on a thread of its own, fed by a channel; a statement's caller awaits
//! a tokio oneshot reply. So no async worker ever blocks on SQLite (and none is handed over to
//! a fresh thread for the length of a statement, as `block_in_place` does), and no statement
//! takes a trip through tokio's blocking pool.
//!
//! One thread serves reads and writes. A separate reader thread (and connection) was measured
//! beside it, on a server with one tokio worker on one core under 64 connections: reads were
//! as fast either way, and requests that read and then write cost 20–27 % more CPU with the
//! second thread (one more thread to wake and switch to per request).
//!
//! The thread takes every job waiting in its channel at once:
//!
//! - a batch with a write in it runs in one immediate transaction, which is committed before
//!   anyone is answered (group commit: one lock, one set of WAL frames and one commit for the
//!   batch instead of one per write). A job keeps its own atomicity inside the batch: a
//!   multi-statement job runs in a savepoint (`in_transaction`), and a single statement that
//!   fails is undone by SQLite alone. A job refused by the contract (a conflict, a limit) so
//!   leaves no trace and does not disturb its neighbours; should SQLite lose the whole
//!   transaction (an I/O error), every job that ran in it is told so and the rest start a new
//!   one. A job alone runs without a transaction around it (a save is one autocommit
//!   `UPDATE`).
//! - a batch of reads runs in one read transaction (one snapshot, one round of WAL locks).
//!   Every job of a batch was sent before the batch began, so it sees every write that had
//!   been acknowledged when it was sent.
//!
//! Events a write job reports are emitted after its transaction committed.

use std::sync::mpsc;
use std::thread::JoinHandle;

use rusqlite::Connection;
use session_core::{Error as CoreError, SessionEvent};
use tokio::sync::oneshot;

use super::checkpoint::Checkpointer;
use super::functions::PendingSaves;
use super::store::Shared;
use crate::error::{OpError, Result};

/// The most jobs one batch takes, so the first job of a long queue is not held back long.
const MAX_BATCH: usize = 128;

/// What a job's work gets: the connection, what the store shares with its threads, and the
/// events to emit once the job's writes are committed.
pub(super) struct Ctx<'a> {
    /// The thread's connection.
    pub(super) conn: &'a Connection,
    /// The store's configuration.
    pub(super) shared: &'a Shared,
    /// Where `session_apply` finds the save it applies.
    pub(super) saves: &'a PendingSaves,
    events: Vec<SessionEvent>,
}

impl Ctx<'_> {
    /// Reports `event` once the job's writes are committed.
    pub(super) fn emit(&mut self, event: SessionEvent) {
        self.events.push(event);
    }
}

/// A job as a thread holds it: work to run, then a reply to send.
trait Job: Send {
    /// Whether the work may write.
    fn writes(&self) -> bool;
    /// Runs the work; keeps its outcome.
    fn run(&mut self, conn: &Connection, shared: &Shared, saves: &PendingSaves);
    /// Whether the work succeeded.
    fn succeeded(&self) -> bool;
    /// Sends the outcome to the caller (emitting its events first), or, when the transaction
    /// the work ran in was lost, why.
    fn finish(self: Box<Self>, shared: &Shared, lost: Option<&str>);
}

type Work<T> = Box<dyn FnOnce(&mut Ctx<'_>) -> Result<T, OpError> + Send>;

struct Pending<T> {
    writes: bool,
    work: Option<Work<T>>,
    outcome: Option<Result<T, OpError>>,
    events: Vec<SessionEvent>,
    reply: oneshot::Sender<Result<T, OpError>>,
}

impl<T: Send> Job for Pending<T> {
    fn writes(&self) -> bool {
        self.writes
    }

    fn run(&mut self, conn: &Connection, shared: &Shared, saves: &PendingSaves) {
        if let Some(work) = self.work.take() {
            let mut ctx = Ctx {
                conn,
                shared,
                saves,
                events: Vec::new(),
            };
            self.outcome = Some(work(&mut ctx));
            self.events = ctx.events;
        }
    }

    fn succeeded(&self) -> bool {
        matches!(self.outcome, Some(Ok(_)))
    }

    fn finish(self: Box<Self>, shared: &Shared, lost: Option<&str>) {
        let outcome = match (self.outcome, lost) {
            (Some(Ok(_)), Some(why)) => Err(lost_transaction(why)),
            (Some(outcome), _) => outcome,
            (None, _) => Err(lost_transaction("the job did not run")),
        };
        if outcome.is_ok() {
            for event in self.events {
                shared.emit(event);
            }
        }
        // A caller that stopped waiting no longer needs the reply.
        let _ = self.reply.send(outcome);
    }
}

fn lost_transaction(why: &str) -> OpError {
    OpError::Contract(CoreError::backend(
        super::store::STORE,
        "commit",
        format!("the write was not committed: {why}"),
    ))
}

/// A thread that owns one connection. Dropping it closes the channel; the thread finishes the
/// jobs already sent, closes the connection and is joined.
pub(super) struct ConnectionThread {
    jobs: Option<mpsc::Sender<Box<dyn Job>>>,
    thread: Option<JoinHandle<()>>,
}

impl ConnectionThread {
    /// Starts a thread named `name` that runs jobs on `conn`, whose `session_apply` reads
    /// `saves`, and the checkpoint thread that keeps its WAL short.
    pub(super) fn spawn(
        name: &str,
        conn: Connection,
        saves: PendingSaves,
        shared: std::sync::Arc<Shared>,
    ) -> Result<Self> {
        let checkpointer = Checkpointer::start(shared.path(), &conn)?;
        let (jobs, queue) = mpsc::channel::<Box<dyn Job>>();
        let thread = std::thread::Builder::new()
            .name(name.to_owned())
            .spawn(move || serve(&conn, &saves, &shared, &checkpointer, &queue))
            .map_err(|e| crate::error::Error::io("start a thread for", name, e))?;
        Ok(ConnectionThread {
            jobs: Some(jobs),
            thread: Some(thread),
        })
    }

    /// Runs `work` (which may write, when `writes`) on the thread's connection and returns
    /// its outcome.
    pub(super) async fn run<T: Send + 'static>(
        &self,
        writes: bool,
        work: impl FnOnce(&mut Ctx<'_>) -> Result<T, OpError> + Send + 'static,
    ) -> Result<T, OpError> {
        let (reply, outcome) = oneshot::channel();
        let job = Box::new(Pending {
            writes,
            work: Some(Box::new(work) as Work<T>),
            outcome: None,
            events: Vec::new(),
            reply,
        });
        let stopped = || lost_transaction("the connection thread has stopped");
        self.jobs
            .as_ref()
            .ok_or_else(stopped)?
            .send(job)
            .map_err(|_| stopped())?;
        outcome.await.map_err(|_| stopped())?
    }
}

impl Drop for ConnectionThread {
    fn drop(&mut self) {
        drop(self.jobs.take());
        if let Some(thread) = self.thread.take()
            && thread.thread().id() != std::thread::current().id()
        {
            // The thread only finishes the jobs already queued; a panic in it has been
            // reported to each waiting caller as a stopped thread.
            let _ = thread.join();
        }
    }
}

/// The thread's loop: take what is queued, run it as a batch, reply, and check the WAL after
/// writes; until the channel closes.
fn serve(
    conn: &Connection,
    saves: &PendingSaves,
    shared: &Shared,
    checkpointer: &Checkpointer,
    queue: &mpsc::Receiver<Box<dyn Job>>,
) {
    while let Ok(first) = queue.recv() {
        let mut batch = vec![first];
        while batch.len() < MAX_BATCH {
            match queue.try_recv() {
                Ok(job) => batch.push(job),
                Err(_) => break,
            }
        }
        if batch.iter().any(|job| job.writes()) {
            write_batch(conn, saves, shared, batch);
            checkpointer.after_commit(conn);
        } else {
            read_batch(conn, saves, shared, batch);
        }
    }
}

/// Runs reads in one read transaction (a single one without).
fn read_batch(
    conn: &Connection,
    saves: &PendingSaves,
    shared: &Shared,
    mut batch: Vec<Box<dyn Job>>,
) {
    let grouped = batch.len() > 1 && execute(conn, "BEGIN").is_ok();
    for job in &mut batch {
        job.run(conn, shared, saves);
    }
    if grouped && !conn.is_autocommit() {
        // Nothing was written: ending the read transaction cannot lose anything.
        let _ = execute(conn, "COMMIT");
    }
    for job in batch {
        job.finish(shared, None);
    }
}

/// Runs writes in one immediate transaction, committed before anyone is answered (a single
/// job without one).
fn write_batch(conn: &Connection, saves: &PendingSaves, shared: &Shared, batch: Vec<Box<dyn Job>>) {
    let mut jobs = batch.into_iter().peekable();
    let mut done: Vec<Box<dyn Job>> = Vec::new();
    while let Some(mut job) = jobs.next() {
        if jobs.peek().is_none() && done.is_empty() {
            // Alone: the job's own statements or transaction suffice.
            job.run(conn, shared, saves);
            job.finish(shared, None);
            return;
        }
        if let Err(e) = execute(conn, "BEGIN IMMEDIATE") {
            // Without the group's transaction each job still runs atomically on its own.
            tracing::debug!(error = %e, "SQLite store: no group transaction; writing job by job");
            job.run(conn, shared, saves);
            job.finish(shared, None);
            continue;
        }
        job.run(conn, shared, saves);
        done.push(job);
        // Add the queued jobs while the transaction holds; SQLite ending it on its own (an
        // I/O error, a full disk) loses what the group had written.
        while !conn.is_autocommit() {
            let Some(mut next) = jobs.next() else { break };
            next.run(conn, shared, saves);
            done.push(next);
        }
        if conn.is_autocommit() {
            let why = "SQLite rolled the transaction back after an error";
            for job in done.drain(..) {
                let keep_own_error = !job.succeeded();
                job.finish(shared, (!keep_own_error).then_some(why));
            }
            continue;
        }
        let committed = execute(conn, "COMMIT");
        if let Err(e) = &committed {
            let _ = conn.execute_batch("ROLLBACK");
            tracing::warn!(error = %e, "SQLite store: a group commit failed");
        }
        let why = committed.err().map(|e| e.to_string());
        for job in done.drain(..) {
            job.finish(shared, why.as_deref());
        }
    }
}

/// Runs a cached statement that takes no parameters (`BEGIN`, `COMMIT`).
fn execute(conn: &Connection, sql: &str) -> rusqlite::Result<()> {
    conn.prepare_cached(sql)?.execute([]).map(drop)
}
