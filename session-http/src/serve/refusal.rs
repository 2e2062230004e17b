//! The fast refusal of a connection over a cap: a minimal `503` and close, never a wait.

use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::Semaphore;

/// The whole answer to a refused connection, written without reading the request.
pub(super) const REFUSAL: &[u8] = b"HTTP/1.1 503 Service Unavailable\r\nRetry-After: 1\r\nConnection: close\r\nContent-Length: 0\r\n\r\n";

/// How many refused connections may linger at once to read what the client already sent.
const MAX_LINGERING: usize = 64;
/// How long a refused connection lingers at most.
const LINGER: Duration = Duration::from_secs(1);
/// How much a lingering connection reads at most.
const LINGER_BYTES: usize = 64 * 1024;

/// Refuses connections. Closing a socket with unread request bytes makes the kernel send a
/// reset, which can destroy the `503` before the client reads it; so a few refused
/// connections linger briefly, reading and discarding, and the rest are closed at once.
#[derive(Clone)]
pub(super) struct Refuser {
    lingering: Arc<Semaphore>,
}

impl Refuser {
    pub(super) fn new() -> Self {
        Refuser {
            lingering: Arc::new(Semaphore::new(MAX_LINGERING)),
        }
    }

    /// Answers `503` with `Retry-After` and `Connection: close`, and closes.
    pub(super) fn refuse(&self, stream: TcpStream) {
        // A fresh socket's send buffer is empty, so this short write completes at once.
        let _ = stream.try_write(REFUSAL);
        if let Ok(permit) = self.lingering.clone().try_acquire_owned() {
            tokio::spawn(async move {
                let _permit = permit;
                linger(stream).await;
            });
        }
    }
}

async fn linger(mut stream: TcpStream) {
    let _ = stream.shutdown().await;
    let discard = async {
        let mut buf = [0u8; 4096];
        let mut read = 0;
        while read < LINGER_BYTES {
            match stream.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => read += n,
            }
        }
    };
    let _ = tokio::time::timeout(LINGER, discard).await;
}
