//! The limits a served connection lives under.

use std::time::Duration;

use super::IpRange;

/// The limits of [`serve`](super::serve): timeouts and connection caps, each with a safe
/// default. Build with [`ServeLimits::default`] and the `with_*` methods.
///
/// | limit | default | what it stops |
/// |---|---|---|
/// | [`header_read_timeout`](Self::header_read_timeout) | 10 s | a client that opens a connection and sends its request head slowly or not at all, or keeps an idle keep-alive connection open |
/// | [`request_timeout`](Self::request_timeout) | 60 s | a request (body upload and handler) that never ends: answered `503` with `Connection: close` |
/// | [`write_stall_timeout`](Self::write_stall_timeout) | 30 s | a client that stops reading its responses (or WebSocket messages): the connection is closed when a write makes no progress this long |
/// | [`max_connections`](Self::max_connections) | 1024 | running out of file descriptors and memory |
/// | [`max_connections_per_address`](Self::max_connections_per_address) | 64 | one client address taking every connection |
/// | [`trusted_proxies`](Self::trusted_proxies) | none | (not a limit) reverse proxies, held to the total cap only |
/// | [`max_header_bytes`](Self::max_header_bytes) | 64 KiB | huge request heads (at least 8 KiB) |
/// | [`drain_timeout`](Self::drain_timeout) | 10 s | a shutdown held up by slow requests |
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ServeLimits {
    /// How long a connection may take to send a complete request head, counted from when
    /// the server starts waiting for it: right after accepting, and again whenever a
    /// keep-alive connection goes idle after a response. So this is also the idle
    /// keep-alive timeout (hyper runs one timer for both). The connection is closed when it
    /// passes.
    pub header_read_timeout: Duration,
    /// How long one request may take from its head being read to its response head being
    /// ready (reading the body included). Past it the client gets `503 Service
    /// Unavailable` with `Connection: close`.
    pub request_timeout: Duration,
    /// How long a write to the client may make no progress before the connection is
    /// closed. It applies to upgraded connections (WebSockets) too.
    pub write_stall_timeout: Duration,
    /// The most connections served at once (upgraded ones included). Connections over it
    /// are refused at once.
    pub max_connections: usize,
    /// The most connections served at once for one client address (an IPv4 address or an
    /// IPv6 /64 network; see [`ClientKey`](super::ClientKey)). Connections over it are
    /// refused at once.
    pub max_connections_per_address: usize,
    /// Reverse proxies in front of the server (addresses or networks). Their connections
    /// carry many clients', so they are held to [`max_connections`](Self::max_connections)
    /// only, not to [`max_connections_per_address`](Self::max_connections_per_address); what
    /// counts per client behind them takes the client from `X-Forwarded-For` with
    /// [`client_address`](super::client_address). Empty by default: every address is a
    /// client.
    pub trusted_proxies: Vec<IpRange>,
    /// The largest request head (request line and headers) in bytes, 8 KiB at least; a
    /// larger one is answered `431 Request Header Fields Too Large` and its connection closed.
    pub max_header_bytes: usize,
    /// How long a shutdown waits for requests in flight before cutting their connections.
    pub drain_timeout: Duration,
}

/// The smallest head limit: hyper's smallest read buffer, and room for a browser's cookies.
pub(super) const MIN_HEADER_BYTES: usize = 8 * 1024;

impl Default for ServeLimits {
    fn default() -> Self {
        ServeLimits {
            header_read_timeout: Duration::from_secs(10),
            request_timeout: Duration::from_secs(60),
            write_stall_timeout: Duration::from_secs(30),
            max_connections: 1024,
            max_connections_per_address: 64,
            trusted_proxies: Vec::new(),
            max_header_bytes: 64 * 1024,
            drain_timeout: Duration::from_secs(10),
        }
    }
}

impl ServeLimits {
    /// Sets [`header_read_timeout`](Self::header_read_timeout).
    pub fn with_header_read_timeout(mut self, timeout: Duration) -> Self {
        self.header_read_timeout = timeout;
        self
    }

    /// Sets [`request_timeout`](Self::request_timeout).
    pub fn with_request_timeout(mut self, timeout: Duration) -> Self {
        self.request_timeout = timeout;
        self
    }

    /// Sets [`write_stall_timeout`](Self::write_stall_timeout).
    pub fn with_write_stall_timeout(mut self, timeout: Duration) -> Self {
        self.write_stall_timeout = timeout;
        self
    }

    /// Sets [`max_connections`](Self::max_connections).
    pub fn with_max_connections(mut self, max: usize) -> Self {
        self.max_connections = max;
        self
    }

    /// Sets [`max_connections_per_address`](Self::max_connections_per_address).
    pub fn with_max_connections_per_address(mut self, max: usize) -> Self {
        self.max_connections_per_address = max;
        self
    }

    /// Sets [`trusted_proxies`](Self::trusted_proxies): addresses or networks
    /// (`"10.0.0.0/8".parse()`, or an `IpAddr` `.into()`).
    pub fn with_trusted_proxies(mut self, proxies: impl IntoIterator<Item = IpRange>) -> Self {
        self.trusted_proxies = proxies.into_iter().collect();
        self
    }

    /// Sets [`max_header_bytes`](Self::max_header_bytes) (raised to 8 KiB if lower).
    pub fn with_max_header_bytes(mut self, max: usize) -> Self {
        self.max_header_bytes = max;
        self
    }

    /// Sets [`drain_timeout`](Self::drain_timeout).
    pub fn with_drain_timeout(mut self, timeout: Duration) -> Self {
        self.drain_timeout = timeout;
        self
    }
}
