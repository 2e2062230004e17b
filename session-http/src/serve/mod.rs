//! A hardened HTTP/1.1 serve loop for any tower service (an axum `Router` included).
//!
//! [`serve`] accepts connections and serves each with hyper under [`ServeLimits`]:
//!
//! - a connection must send its request head within the header-read timeout, counted again
//!   each time a keep-alive connection goes idle, so a stalled or idle connection is closed;
//! - each request has a deadline (then `503` and `Connection: close`);
//! - a write that makes no progress for the stall timeout closes the connection, so a client
//!   that stops reading (a WebSocket flood that never reads its replies) cannot pile up
//!   buffers;
//! - connections are capped in total and per client address ([`ClientKey`]); a connection
//!   over a cap is answered a minimal `503` with `Retry-After` and closed at once, never left
//!   waiting. A trusted reverse proxy ([`ServeLimits::trusted_proxies`]) carries many
//!   clients' connections and is held to the total cap only; [`client_address`] names the
//!   client behind it from `X-Forwarded-For`;
//! - when the shutdown future completes, the loop stops accepting, lets requests in flight
//!   finish (keep-alive connections close after their current response) and cuts what is
//!   left after the drain timeout.
//!
//! Every request carries the client's address as a [`PeerAddr`] extension. [`use_colour`]
//! tells a server's log set-up whether stderr may carry colour codes.
//!
//! ```no_run
//! # async fn run() -> std::io::Result<()> {
//! use session_http::serve::{ServeLimits, serve};
//!
//! let app = axum::Router::new().route("/", axum::routing::get(|| async { "hello" }));
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:8080").await?;
//! let limits = ServeLimits::default().with_max_connections_per_address(16);
//! let drained = serve(listener, app, limits, async {
//!     let _ = tokio::signal::ctrl_c().await;
//! })
//! .await;
//! println!("stopped; {} connections cut", drained.cut);
//! # Ok(())
//! # }
//! ```

mod address_counter;
mod client_address;
mod colour;
mod guarded_stream;
mod ip_range;
mod limits;
mod refusal;
mod request_deadline;

use std::future::Future;
use std::time::Duration;

use http::{Request, Response};
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinSet;

pub use address_counter::{AddressCounter, AddressPermit, CapReached, ClientKey};
pub use client_address::client_address;
pub use colour::use_colour;
use guarded_stream::GuardedStream;
pub use ip_range::{IpRange, IpRangeError};
use limits::MIN_HEADER_BYTES;
pub use limits::ServeLimits;
use refusal::Refuser;
pub use request_deadline::PeerAddr;
use request_deadline::WithDeadline;

/// How a [`serve`] loop ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Drained {
    /// Connections still busy when the drain timeout passed, and cut.
    pub cut: usize,
}

/// How long the loop pauses after a failed accept (e.g. out of file descriptors), so that
/// it does not spin while the condition lasts.
const ACCEPT_BACKOFF: Duration = Duration::from_millis(100);

/// Serves HTTP/1.1 (with upgrades, for WebSockets) on `listener` with `service` under
/// `limits`, until `shutdown` completes; then drains (see the [module docs](self)).
pub async fn serve<S, B>(
    listener: TcpListener,
    service: S,
    limits: ServeLimits,
    shutdown: impl Future<Output = ()>,
) -> Drained
where
    S: tower_service::Service<Request<Incoming>, Response = Response<B>> + Clone + Send + 'static,
    S::Future: Send + 'static,
    S::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
    B: http_body::Body + Default + Send + 'static,
    B::Data: Send,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    let counter = AddressCounter::new(limits.max_connections, limits.max_connections_per_address);
    let refuser = Refuser::new();
    let max_head = limits.max_header_bytes.max(MIN_HEADER_BYTES);
    let mut http = hyper::server::conn::http1::Builder::new();
    // The buffer's cap alone lets a head through that arrives in the read that crosses it
    // (up to about twice the cap); the head's own limit is exact.
    http.timer(TokioTimer::new())
        .header_read_timeout(limits.header_read_timeout)
        .max_header_size(max_head)
        .max_buf_size(max_head);
    let (stop, stopping) = watch::channel(false);
    let mut connections = JoinSet::new();
    tokio::pin!(shutdown);
    loop {
        let accepted = tokio::select! {
            () = &mut shutdown => break,
            Some(_) = connections.join_next(), if !connections.is_empty() => continue,
            accepted = listener.accept() => accepted,
        };
        let (stream, peer) = match accepted {
            Ok(a) => a,
            Err(e) => {
                tracing::warn!("accept failed: {e}");
                tokio::time::sleep(ACCEPT_BACKOFF).await;
                continue;
            }
        };
        let from_proxy = ip_range::any_contains(&limits.trusted_proxies, peer.ip());
        let acquired = if from_proxy {
            counter.acquire_within_total(peer.ip())
        } else {
            counter.acquire(peer.ip())
        };
        let permit = match acquired {
            Ok(p) => p,
            Err(cap) => {
                tracing::debug!(
                    "refused a connection from {}: {cap}",
                    ClientKey::of(peer.ip())
                );
                refuser.refuse(stream);
                continue;
            }
        };
        let _ = stream.set_nodelay(true);
        let io = TokioIo::new(GuardedStream::new(
            stream,
            permit,
            limits.write_stall_timeout,
        ));
        let service = WithDeadline {
            inner: service.clone(),
            peer,
            timeout: limits.request_timeout,
        };
        let connection = http.serve_connection(io, service).with_upgrades();
        let mut stopping = stopping.clone();
        connections.spawn(async move {
            tokio::pin!(connection);
            let served = tokio::select! {
                served = connection.as_mut() => served,
                _ = stopping.changed() => {
                    connection.as_mut().graceful_shutdown();
                    connection.await
                }
            };
            if let Err(e) = served {
                tracing::debug!("HTTP connection ended: {e}");
            }
        });
    }
    drop(listener);
    let _ = stop.send(true);
    let drain = async { while connections.join_next().await.is_some() {} };
    if tokio::time::timeout(limits.drain_timeout, drain)
        .await
        .is_ok()
    {
        return Drained { cut: 0 };
    }
    let cut = connections.len();
    connections.shutdown().await;
    Drained { cut }
}
