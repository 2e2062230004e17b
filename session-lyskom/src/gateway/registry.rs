//! The connection registry: secret connection ids mapped to live LysKOM connections.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use crate::client::Client;

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
    pub session_no: u32,
    /// The client software's name, as given when the connection was opened.
    pub client_name: String,
    /// The client software's version.
    pub client_version: String,
    state: Mutex<ConnectionState>,
}

#[derive(Debug)]
struct ConnectionState {
    pers_no: u32,
    last_used: Instant,
}

impl Connection {
    /// A new, not logged-in connection.
    pub fn new(
        id: String,
        server_id: String,
        client: Client,
        session_no: u32,
        (client_name, client_version): (String, String),
    ) -> Self {
        Connection {
            id,
            server_id,
            client,
            session_no,
            client_name,
            client_version,
            state: Mutex::new(ConnectionState {
                pers_no: 0,
                last_used: Instant::now(),
            }),
        }
    }

    fn state(&self) -> std::sync::MutexGuard<'_, ConnectionState> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The person logged in, 0 if none.
    pub fn pers_no(&self) -> u32 {
        self.state().pers_no
    }

    /// Records a login (or a logout with 0).
    pub fn set_pers_no(&self, pers_no: u32) {
        self.state().pers_no = pers_no;
    }

    /// Marks the connection used now.
    pub fn touch(&self) {
        self.state().last_used = Instant::now();
    }

    fn idle_for(&self, now: Instant) -> Duration {
        now.saturating_duration_since(self.state().last_used)
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
    /// Connection attempts refused because the limit was reached.
    pub refused: AtomicU64,
    /// Connection attempts that failed to reach the server.
    pub connect_failures: AtomicU64,
    /// HTTP requests served.
    pub requests: AtomicU64,
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
    /// Connection attempts refused because the limit was reached.
    pub refused: u64,
    /// Connection attempts that failed to reach the server.
    pub connect_failures: u64,
    /// HTTP requests served.
    pub requests: u64,
}

/// All live connections, bounded in number.
#[derive(Debug)]
pub struct Registry {
    connections: RwLock<HashMap<String, Arc<Connection>>>,
    reserved: AtomicUsize,
    max: usize,
    /// The counters.
    pub metrics: Metrics,
}

/// A slot for one more connection, given back if the connection is never registered.
#[derive(Debug)]
pub struct Slot<'a> {
    registry: &'a Registry,
    used: bool,
}

impl Drop for Slot<'_> {
    fn drop(&mut self) {
        if !self.used {
            self.registry.reserved.fetch_sub(1, Ordering::SeqCst);
        }
    }
}

impl Registry {
    /// An empty registry allowing `max` connections.
    pub fn new(max: usize) -> Self {
        Registry {
            connections: RwLock::new(HashMap::new()),
            reserved: AtomicUsize::new(0),
            max,
            metrics: Metrics::default(),
        }
    }

    /// Reserves room for one connection, or `None` at the limit.
    pub fn reserve(&self) -> Option<Slot<'_>> {
        let mut current = self.reserved.load(Ordering::SeqCst);
        loop {
            if current >= self.max {
                self.metrics.refused.fetch_add(1, Ordering::Relaxed);
                return None;
            }
            match self.reserved.compare_exchange(
                current,
                current + 1,
                Ordering::SeqCst,
                Ordering::SeqCst,
            ) {
                Ok(_) => {
                    return Some(Slot {
                        registry: self,
                        used: false,
                    });
                }
                Err(actual) => current = actual,
            }
        }
    }

    /// Registers a connection in a reserved slot.
    pub fn insert(&self, mut slot: Slot<'_>, connection: Arc<Connection>) {
        slot.used = true;
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
                self.reserved.fetch_sub(1, Ordering::SeqCst);
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

    /// Removes connections idle for longer than `idle` and those the server dropped.
    /// Returns how many were removed.
    pub fn reap(&self, idle: Duration) -> usize {
        let now = Instant::now();
        let victims: Vec<(String, bool)> = self
            .connections
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .values()
            .filter_map(|c| {
                if c.client.is_closed() {
                    Some((c.id.clone(), true))
                } else if c.idle_for(now) > idle {
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
        self.reserved.load(Ordering::SeqCst)
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

    #[test]
    fn the_limit_counts_reserved_slots_and_gives_them_back() {
        let registry = Registry::new(2);
        let a = registry.reserve();
        let b = registry.reserve();
        assert!(a.is_some() && b.is_some());
        assert!(registry.reserve().is_none());
        assert_eq!(registry.snapshot().refused, 1);
        drop(a);
        assert_eq!(registry.open(), 1);
        assert!(registry.reserve().is_some());
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
