//! The connection task: the shared table of calls waiting for replies, the writer task that
//! batches requests onto the socket and the reader task that cuts messages from the stream
//! and routes each reply to its caller.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use bytes::{Buf, BytesMut};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::sync::{Notify, mpsc, oneshot};

use super::AsyncMessage;
use crate::error::Error;
use crate::protocol::token::{Message, Token, parse_message};

pub(super) type Reply = Result<Vec<Token>, Error>;

#[derive(Default)]
pub(super) struct Pending {
    pub(super) waiting: HashMap<u32, oneshot::Sender<Reply>>,
    pub(super) next_ref: u32,
    pub(super) closed: bool,
}

/// What the client handles and the connection tasks share.
pub(super) struct Shared {
    pending: std::sync::Mutex<Pending>,
    closed: AtomicBool,
    closed_notify: Notify,
    dropped_async: AtomicU64,
}

impl Shared {
    fn new() -> Shared {
        Shared {
            pending: std::sync::Mutex::new(Pending {
                next_ref: 1,
                ..Pending::default()
            }),
            closed: AtomicBool::new(false),
            closed_notify: Notify::new(),
            dropped_async: AtomicU64::new(0),
        }
    }

    pub(super) fn is_closed(&self) -> bool {
        self.closed.load(Ordering::SeqCst)
    }

    pub(super) fn dropped_async_messages(&self) -> u64 {
        self.dropped_async.load(Ordering::Relaxed)
    }

    /// Waits until the connection ends.
    pub(super) async fn wait_closed(&self) {
        loop {
            let notified = self.closed_notify.notified();
            if self.is_closed() {
                return;
            }
            notified.await;
        }
    }

    pub(super) fn lock(&self) -> std::sync::MutexGuard<'_, Pending> {
        self.pending.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub(super) fn close(&self) {
        let waiting = {
            let mut p = self.lock();
            p.closed = true;
            std::mem::take(&mut p.waiting)
        };
        self.closed.store(true, Ordering::SeqCst);
        for (_, tx) in waiting {
            let _ = tx.send(Err(Error::Disconnected));
        }
        self.closed_notify.notify_waiters();
    }
}

/// Removes a call's entry when it stops waiting (reply, timeout or cancellation).
pub(super) struct PendingGuard<'a> {
    pub(super) shared: &'a Shared,
    pub(super) ref_no: u32,
}

impl Drop for PendingGuard<'_> {
    fn drop(&mut self) {
        self.shared.lock().waiting.remove(&self.ref_no);
    }
}

/// Starts the writer and reader tasks of a connection whose handshake is done (`buf` holds
/// what was read past the handshake). Returns the shared state, the request queue and the
/// stream of asynchronous messages (`async_buffer` deep).
pub(super) fn spawn(
    stream: TcpStream,
    buf: BytesMut,
    async_buffer: usize,
) -> (
    Arc<Shared>,
    mpsc::UnboundedSender<Vec<u8>>,
    mpsc::Receiver<AsyncMessage>,
) {
    let (read_half, write_half) = stream.into_split();
    let shared = Arc::new(Shared::new());
    let (write_tx, write_rx) = mpsc::unbounded_channel();
    let (async_tx, async_rx) = mpsc::channel(async_buffer.max(1));
    tokio::spawn(write_loop(write_half, write_rx, shared.clone()));
    tokio::spawn(read_loop(read_half, buf, shared.clone(), async_tx));
    (shared, write_tx, async_rx)
}

async fn write_loop(
    mut stream: OwnedWriteHalf,
    mut rx: mpsc::UnboundedReceiver<Vec<u8>>,
    shared: Arc<Shared>,
) {
    let mut batch = Vec::with_capacity(4096);
    loop {
        tokio::select! {
            message = rx.recv() => {
                let Some(first) = message else { break };
                batch.clear();
                batch.extend_from_slice(&first);
                while batch.len() < 64 * 1024 {
                    match rx.try_recv() {
                        Ok(more) => batch.extend_from_slice(&more),
                        Err(_) => break,
                    }
                }
                if stream.write_all(&batch).await.is_err() {
                    shared.close();
                    return;
                }
            }
            () = shared.wait_closed() => break,
        }
    }
    let _ = stream.shutdown().await;
}

async fn read_loop(
    mut stream: OwnedReadHalf,
    mut buf: BytesMut,
    shared: Arc<Shared>,
    async_tx: mpsc::Sender<AsyncMessage>,
) {
    loop {
        loop {
            match parse_message(&buf) {
                Ok(Some((message, used))) => {
                    buf.advance(used);
                    if !dispatch(message, &shared, &async_tx) {
                        shared.close();
                        return;
                    }
                }
                Ok(None) => break,
                Err(e) => {
                    tracing::warn!("closing a LysKOM connection after unreadable data: {e}");
                    shared.close();
                    return;
                }
            }
        }
        if buf.capacity() - buf.len() < 4096 {
            buf.reserve(16 * 1024);
        }
        let read = tokio::select! {
            r = stream.read_buf(&mut buf) => r,
            () = shared.wait_closed() => return,
        };
        match read {
            Ok(0) | Err(_) => {
                shared.close();
                return;
            }
            Ok(_) => {}
        }
    }
}

/// Routes one message; false when the connection must end.
fn dispatch(message: Message, shared: &Shared, async_tx: &mpsc::Sender<AsyncMessage>) -> bool {
    match message {
        Message::Reply { ref_no, body } => {
            if let Some(tx) = shared.lock().waiting.remove(&ref_no) {
                let _ = tx.send(Ok(body));
            }
            true
        }
        Message::Error {
            ref_no,
            code,
            status,
        } => {
            if let Some(tx) = shared.lock().waiting.remove(&ref_no) {
                let _ = tx.send(Err(Error::Server { code, status }));
            }
            true
        }
        Message::Async { msg_no, body } => {
            if async_tx.try_send(AsyncMessage { msg_no, body }).is_err() {
                shared.dropped_async.fetch_add(1, Ordering::Relaxed);
            }
            true
        }
        Message::ProtocolError(text) => {
            tracing::warn!(
                "the LysKOM server reported a protocol error: {}",
                String::from_utf8_lossy(&text)
            );
            false
        }
    }
}
