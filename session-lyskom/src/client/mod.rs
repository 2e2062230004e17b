//! An async Protocol A client over tokio TCP.
//!
//! One [`Client`] owns one connection. Calls may run concurrently from many tasks: each gets
//! its own reference number and waits for the reply carrying it, whatever order replies and
//! asynchronous messages arrive in. A writer task sends requests in batches; a reader task
//! cuts messages from the stream and routes them. When the connection ends (the server
//! closes it, a disconnect call, an I/O error or a `%%` protocol error) every waiting call
//! fails with [`Error::Disconnected`] at once and [`Client::is_closed`] turns true.

mod calls;
mod connection;

use std::sync::Arc;
use std::time::Duration;

use bytes::{Buf, BytesMut};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::{mpsc, oneshot};

use crate::error::Error;
use crate::protocol::encode::{Arg, encode_handshake, encode_request};
use crate::protocol::reader::{Decode, decode_all};
use crate::protocol::token::{Token, parse_handshake};
use connection::{PendingGuard, Shared};

/// How a client connects.
#[derive(Clone, Debug)]
pub struct ConnectOptions {
    /// The user name sent in the handshake (`user%host` by convention).
    pub handshake_user: String,
    /// How long connecting and the handshake may take.
    pub connect_timeout: Duration,
    /// How long a call may wait for its reply.
    pub call_timeout: Duration,
    /// How many asynchronous messages are buffered for [`Client::take_async_messages`];
    /// further ones are dropped (and counted) until the receiver catches up.
    pub async_buffer: usize,
}

impl Default for ConnectOptions {
    fn default() -> Self {
        ConnectOptions {
            handshake_user: "session-lyskom".into(),
            connect_timeout: Duration::from_secs(10),
            call_timeout: Duration::from_secs(30),
            async_buffer: 256,
        }
    }
}

/// An asynchronous message from the server (`:n msg-no …`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AsyncMessage {
    /// The message number (e.g. 5 new-name, 9 login, 12 send-message, 15 new-text).
    pub msg_no: u32,
    /// The parameters, to be decoded with [`crate::protocol::reader::TokenReader`].
    pub body: Vec<Token>,
}

/// A connection to a LysKOM server. Cheap to clone; all clones share the connection.
#[derive(Clone)]
pub struct Client {
    shared: Arc<Shared>,
    writer: mpsc::UnboundedSender<Vec<u8>>,
    call_timeout: Duration,
    async_rx: Arc<std::sync::Mutex<Option<mpsc::Receiver<AsyncMessage>>>>,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client")
            .field("closed", &self.is_closed())
            .finish_non_exhaustive()
    }
}

impl Client {
    /// Connects to `addr` (`host:port`) and performs the handshake.
    pub async fn connect(addr: &str, options: &ConnectOptions) -> Result<Client, Error> {
        let setup = async {
            let mut stream = TcpStream::connect(addr).await?;
            stream.set_nodelay(true)?;
            stream
                .write_all(&encode_handshake(&options.handshake_user))
                .await?;
            let mut buf = BytesMut::with_capacity(4096);
            loop {
                if let Some(n) = parse_handshake(&buf)? {
                    buf.advance(n);
                    break;
                }
                if stream.read_buf(&mut buf).await? == 0 {
                    return Err(Error::Handshake(
                        "the server closed the connection during the handshake".into(),
                    ));
                }
            }
            Ok::<_, Error>((stream, buf))
        };
        let (stream, buf) = tokio::time::timeout(options.connect_timeout, setup)
            .await
            .map_err(|_| Error::Timeout(options.connect_timeout))??;
        Ok(Client::start(stream, buf, options))
    }

    fn start(stream: TcpStream, buf: BytesMut, options: &ConnectOptions) -> Client {
        let (shared, writer, async_rx) = connection::spawn(stream, buf, options.async_buffer);
        Client {
            shared,
            writer,
            call_timeout: options.call_timeout,
            async_rx: Arc::new(std::sync::Mutex::new(Some(async_rx))),
        }
    }

    /// Whether the connection has ended. Once true, every call fails with
    /// [`Error::Disconnected`].
    pub fn is_closed(&self) -> bool {
        self.shared.is_closed()
    }

    /// Waits until the connection ends.
    pub async fn closed(&self) {
        self.shared.wait_closed().await;
    }

    /// How many asynchronous messages were dropped because nobody read them.
    pub fn dropped_async_messages(&self) -> u64 {
        self.shared.dropped_async_messages()
    }

    /// The stream of asynchronous messages (only the first caller gets it).
    pub fn take_async_messages(&self) -> Option<mpsc::Receiver<AsyncMessage>> {
        self.async_rx
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take()
    }

    /// Closes the connection without a disconnect call; waiting calls fail.
    pub fn close(&self) {
        self.shared.close();
    }

    /// Makes call `call_no` with `args` and decodes its reply as `T`.
    pub async fn call<T: Decode>(&self, call_no: u32, args: &[Arg]) -> Result<T, Error> {
        let tokens = self.call_raw(call_no, args).await?;
        decode_all(&tokens)
    }

    /// Makes call `call_no` with `args` and returns the reply's tokens undecoded.
    pub async fn call_raw(&self, call_no: u32, args: &[Arg]) -> Result<Vec<Token>, Error> {
        let (tx, rx) = oneshot::channel();
        let ref_no = {
            let mut p = self.shared.lock();
            if p.closed {
                return Err(Error::Disconnected);
            }
            let mut ref_no = p.next_ref;
            while p.waiting.contains_key(&ref_no) {
                ref_no = ref_no.wrapping_add(1).max(1);
            }
            p.next_ref = ref_no.wrapping_add(1).max(1);
            p.waiting.insert(ref_no, tx);
            ref_no
        };
        let guard = PendingGuard {
            shared: &self.shared,
            ref_no,
        };
        if self
            .writer
            .send(encode_request(ref_no, call_no, args))
            .is_err()
        {
            return Err(Error::Disconnected);
        }
        let reply = match tokio::time::timeout(self.call_timeout, rx).await {
            Ok(Ok(reply)) => reply,
            Ok(Err(_)) => Err(Error::Disconnected),
            Err(_) => Err(Error::Timeout(self.call_timeout)),
        };
        drop(guard);
        reply
    }
}
