//! The connection registry: secret connection ids mapped to live LysKOM connections.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use session_http::serve::{AddressCounter, AddressPermit, CapReached};

use crate::client::Client;
use crate::protocol::numbers::{PersNo, SessionNo};

/// One gateway connection: a LysKOM connection owned by whoever knows its id.
#[derive(Debug)]
pub struct Connection {
    /// The secret id (a random UUID v4).
    pub id: String,
    /// The server it belongs to; the id is valid only under this server.
    pub server_id: String,
    /// The LysKOM connection.
    pub client: Client,
    /// The LysKOM session number.
    pub session_no: SessionNo,
    /// The client software's name, as given when the connection was opened.
    pub client_name: String,
    /// The client software's version.
    pub client_version: String,
    state: Mutex<ConnectionState>,
    /// The WebSockets open on this connection now.
    pub(super) websockets: AtomicUsize,
    /// The registry slot, counted against the client address that opened the connection;
    /// given back when the connection is dropped.
    _slot: AddressPermit,
}

#[derive(Debug)]
struct ConnectionState {
    pers_no: Option<PersNo>,
    last_used: Instant,
}

impl Connection {
    /// A new, not logged-in connection in a slot reserved with [`Registry::reserve`].
    pub fn new(
        id: String,
        server_id: String,
        client: Client,
        session_no: SessionNo,
        (client_name, client_version): (String, String),
        slot: AddressPermit,
    ) -> Self {
        Connection {
            id,
            server_id,
            client,
            session_no,
            client_name,
            client_version,
            state: Mutex::new(ConnectionState {
                pers_no: None,
                last_used: Instant::now(),
            }),
            websockets: AtomicUsize::new(0),
            _slot: slot,
        }
    }

    fn state(&self) -> std::sync::MutexGuard<'_, ConnectionState> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The person logged in, if anyone.
    pub fn pers_no(&self) -> Option<PersNo> {
        self.state().pers_no
    }

    /// Records a login (or a logout with `None`).
    pub fn set_pers_no(&self, pers_no: Option<PersNo>) {
        self.state().pers_no = pers_no;
    }

    /// Marks the connection used now.
    pub fn touch(&self) {
        self.state().last_used = Instant::now();
    }

    /// Whether the connection has been unused for longer than its timeout: `idle` when
    /// someone is logged in, `unauthenticated` (never longer than `idle`) when nobody is.
    fn is_idle(&self, now: Instant, idle: Duration, unauthenticated: Duration) -> bool {
        let state = self.state();
        let limit = if state.pers_no.is_none() {
            unauthenticated.min(idle)
        } else {
            idle
        };
        now.saturating_duration_since(state.last_used) > limit
    }
}

/// Counters describing the registry's life.
#[derive(Debug, Default)]
pub struct Metrics {
    /// Connections opened.
    pub opened: AtomicU64,
    /// Connections closed by a client (DELETE, logout of the session).
    pub closed: AtomicU64,
    /// Connections reaped after being idle.
    pub reaped: AtomicU64,
    /// Connections found dropped by the LysKOM server.
    pub lost: AtomicU64,
    /// Connection attempts refused because a limit (total or per client address) was
    /// reached.
    pub refused: AtomicU64,
    /// Connection attempts that failed to reach the server.
    pub connect_failures: AtomicU64,
    /// HTTP requests served.
    pub requests: AtomicU64,
    /// Logins through the sessions API that succeeded (raw Protocol A logins over a
    /// WebSocket are not counted).
    pub logins: AtomicU64,
    /// Logins through the sessions API that the LysKOM server refused (or that failed on
    /// the way).
    pub login_failures: AtomicU64,
    /// WebSockets opened.
    pub websockets_opened: AtomicU64,
    /// WebSockets open now.
    pub websockets_open: AtomicU64,
}

/// A snapshot of the metrics, for reporting.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct MetricsSnapshot {
    /// Connections open now.
    pub open: usize,
    /// Connections opened.
    pub opened: u64,
    /// Connections closed by a client.
    pub closed: u64,
    /// Connections reaped after being idle.
    pub reaped: u64,
    /// Connections found dropped by the LysKOM server.
    pub lost: u64,
    /// Connection attempts refused because a limit (total or per client address) was
    /// reached.
    pub refused: u64,
    /// Connection attempts that failed to reach the server.
    pub connect_failures: u64,
    /// HTTP requests served.
    pub requests: u64,
    /// Logins through the sessions API that succeeded (raw Protocol A logins over a
    /// WebSocket are not counted).
    pub logins: u64,
    /// Logins through the sessions API that the LysKOM server refused (or that failed on
    /// the way).
    pub login_failures: u64,
    /// WebSockets opened.
    pub websockets_opened: u64,
    /// WebSockets open now.
    pub websockets_open: u64,
}

/// All live connections, bounded in number in total and per client address.
#[derive(Debug)]
pub struct Registry {
    connections: RwLock<HashMap<String, Arc<Connection>>>,
    slots: AddressCounter,
    /// The counters.
    pub metrics: Metrics,
}

impl Registry {
    /// An empty registry allowing `max` connections, `max_per_address` of them opened from
    /// one client address.
    pub fn new(max: usize, max_per_address: usize) -> Self {
        Registry {
            connections: RwLock::new(HashMap::new()),
            slots: AddressCounter::new(max, max_per_address),
            metrics: Metrics::default(),
        }
    }

    /// Reserves a slot for one more connection opened from `client`; it is given back when
    /// the slot, or the connection holding it, is dropped.
    pub fn reserve(&self, client: IpAddr) -> Result<AddressPermit, CapReached> {
        self.slots.acquire(client).inspect_err(|_| {
            self.metrics.refused.fetch_add(1, Ordering::Relaxed);
        })
    }

    /// Registers a connection (which holds its reserved slot).
    pub fn insert(&self, connection: Arc<Connection>) {
        self.metrics.opened.fetch_add(1, Ordering::Relaxed);
        self.write().insert(connection.id.clone(), connection);
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, HashMap<String, Arc<Connection>>> {
        self.connections.write().unwrap_or_else(|e| e.into_inner())
    }

    /// The connection with `id`, if registered.
    pub fn get(&self, id: &str) -> Option<Arc<Connection>> {
        self.connections
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .get(id)
            .cloned()
    }

    /// Removes a connection (and closes it). Returns whether it was there.
    pub fn remove(&self, id: &str) -> bool {
        let removed = self.write().remove(id);
        match removed {
            Some(connection) => {
                connection.client.close();
                true
            }
            None => false,
        }
    }

    /// Removes a connection the client ended.
    pub fn remove_closed_by_client(&self, id: &str) {
        if self.remove(id) {
            self.metrics.closed.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Removes a connection the server dropped.
    pub fn remove_lost(&self, id: &str) {
        if self.remove(id) {
            self.metrics.lost.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Removes connections the server dropped, and those unused for longer than `idle`
    /// (`unauthenticated` when nobody is logged in on them). Returns how many were removed.
    pub fn reap(&self, idle: Duration, unauthenticated: Duration) -> usize {
        let now = Instant::now();
        let victims: Vec<(String, bool)> = self
            .connections
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .values()
            .filter_map(|c| {
                if c.client.is_closed() {
                    Some((c.id.clone(), true))
                } else if c.is_idle(now, idle, unauthenticated) {
                    Some((c.id.clone(), false))
                } else {
                    None
                }
            })
            .collect();
        let mut removed = 0;
        for (id, lost) in victims {
            if self.remove(&id) {
                removed += 1;
                let counter = if lost {
                    &self.metrics.lost
                } else {
                    &self.metrics.reaped
                };
                counter.fetch_add(1, Ordering::Relaxed);
            }
        }
        removed
    }

    /// How many connections are open (or being opened).
    pub fn open(&self) -> usize {
        self.slots.held()
    }

    /// The metrics now.
    pub fn snapshot(&self) -> MetricsSnapshot {
        let m = &self.metrics;
        MetricsSnapshot {
            open: self.open(),
            opened: m.opened.load(Ordering::Relaxed),
            closed: m.closed.load(Ordering::Relaxed),
            reaped: m.reaped.load(Ordering::Relaxed),
            lost: m.lost.load(Ordering::Relaxed),
            refused: m.refused.load(Ordering::Relaxed),
            connect_failures: m.connect_failures.load(Ordering::Relaxed),
            requests: m.requests.load(Ordering::Relaxed),
            logins: m.logins.load(Ordering::Relaxed),
            login_failures: m.login_failures.load(Ordering::Relaxed),
            websockets_opened: m.websockets_opened.load(Ordering::Relaxed),
            websockets_open: m.websockets_open.load(Ordering::Relaxed),
        }
    }
}

/// A new connection id: a UUID v4 from the operating system's CSPRNG.
pub fn new_connection_id() -> String {
    uuid::Uuid::new_v4().to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(text: &str) -> IpAddr {
        text.parse().unwrap()
    }

    #[test]
    fn the_limits_count_reserved_slots_and_give_them_back() {
        let registry = Registry::new(3, 2);
        let a = registry.reserve(ip("127.0.0.1"));
        let b = registry.reserve(ip("127.0.0.1"));
        assert!(a.is_ok() && b.is_ok());
        assert_eq!(
            registry.reserve(ip("127.0.0.1")).unwrap_err(),
            CapReached::PerAddress
        );
        let c = registry.reserve(ip("127.0.0.2")).unwrap();
        assert_eq!(
            registry.reserve(ip("127.0.0.3")).unwrap_err(),
            CapReached::Total
        );
        assert_eq!(registry.snapshot().refused, 2);
        drop(a);
        assert_eq!(registry.open(), 2);
        assert!(registry.reserve(ip("127.0.0.1")).is_ok());
        drop(c);
    }

    #[test]
    fn connection_ids_are_random_uuid_v4() {
        let a = new_connection_id();
        let b = new_connection_id();
        assert_ne!(a, b);
        let parsed = uuid::Uuid::parse_str(&a).unwrap();
        assert_eq!(parsed.get_version_num(), 4);
    }
}
