//! The connection registry: secret connection ids mapped to live LysKOM connections.
//!
//! Each [`Connection`] is a [`session_core::Session`]: its identity is the server and the
//! LysKOM session number (never the secret id), its principal the person logged in, its
//! lifetime the idle limit the reaper enforces, and it keeps a small map of attributes in
//! memory.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use async_trait::async_trait;
use serde::Serialize;
use serde::de::DeserializeOwned;
use session_core::{Changes, SessionTimes, SharedClock, SystemClock, Timestamp, TrackedAttributes};
use session_http::serve::{AddressCounter, AddressPermit, CapReached};

use crate::client::Client;
use crate::error::Error;
use crate::protocol::numbers::{PersNo, SessionNo};

/// How long gateway connections may sit unused, and the clock that tells.
#[derive(Clone, Debug)]
pub struct Lifetime {
    /// A connection with someone logged in ends after this long unused.
    pub idle: Duration,
    /// A connection with nobody logged in ends after this long unused (or after `idle`, if
    /// that is shorter).
    pub unauthenticated: Duration,
    /// The clock.
    pub clock: SharedClock,
}

impl Lifetime {
    /// The limits `idle` and `unauthenticated` on the system clock.
    pub fn new(idle: Duration, unauthenticated: Duration) -> Self {
        Lifetime {
            idle,
            unauthenticated,
            clock: Arc::new(SystemClock),
        }
    }

    /// How long a connection may sit unused, with or without someone logged in.
    fn limit(&self, logged_in: bool) -> Duration {
        if logged_in {
            self.idle
        } else {
            self.unauthenticated.min(self.idle)
        }
    }
}

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
    lifetime: Lifetime,
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
    created_at: Timestamp,
    last_used: Timestamp,
    /// The attributes, and what changed since the last save.
    tracked: TrackedAttributes,
    /// Invalidated: closed on purpose, not lost.
    ended: bool,
}

impl Connection {
    /// A new, not logged-in connection in a slot reserved with [`Registry::reserve`], ended
    /// after sitting unused as `lifetime` says.
    pub fn new(
        id: String,
        server_id: String,
        client: Client,
        session_no: SessionNo,
        (client_name, client_version): (String, String),
        slot: AddressPermit,
        lifetime: Lifetime,
    ) -> Self {
        let now = lifetime.clock.now();
        Connection {
            id,
            server_id,
            client,
            session_no,
            client_name,
            client_version,
            lifetime,
            state: Mutex::new(ConnectionState {
                pers_no: None,
                created_at: now,
                last_used: now,
                tracked: TrackedAttributes::default(),
                ended: false,
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

    /// Records a login or logout seen on the connection without the sessions API (raw
    /// Protocol A over the WebSocket): the principal changes like a login through
    /// [`session_core::log_in`] changes it.
    pub fn set_pers_no(&self, pers_no: Option<PersNo>) {
        let mut state = self.state();
        if state.pers_no != pers_no {
            state.pers_no = pers_no;
            state.tracked.changes.principal = true;
        }
    }

    /// Marks the connection used now.
    pub fn touch(&self) {
        let now = self.lifetime.clock.now();
        self.state().last_used = now;
    }

    /// Whether the connection was invalidated (closed on purpose rather than lost).
    pub fn is_ended(&self) -> bool {
        self.state().ended
    }

    /// When the connection ends unless used again: its last use plus the idle limit for
    /// whether someone is logged in.
    fn idle_end(&self, state: &ConnectionState) -> Timestamp {
        let limit = self.lifetime.limit(state.pers_no.is_some());
        state.last_used.saturating_add(limit)
    }

    /// Whether the connection has been unused for longer than its idle limit.
    fn is_idle(&self) -> bool {
        let now = self.lifetime.clock.now();
        let state = self.state();
        now > self.idle_end(&state)
    }
}

fn attribute_error(key: &str, e: &serde_json::Error) -> Error {
    Error::Attribute {
        key: key.to_string(),
        reason: e.to_string(),
    }
}

/// A gateway connection as a session: the LysKOM session number is its identity, the person
/// logged in its principal, the gateway's idle limit its lifetime; its attributes live in
/// memory only, so saving writes nothing and only forgets what changed.
#[async_trait]
impl session_core::Session for Connection {
    type Error = Error;

    /// `<server id>:<session number>`, safe to log; never the secret connection id.
    async fn identity(&self) -> Result<Option<String>, Error> {
        Ok(Some(format!("{}:{}", self.server_id, self.session_no)))
    }

    /// The person number of who is logged in.
    async fn principal(&self) -> Result<Option<String>, Error> {
        Ok(self.pers_no().map(|p| p.to_string()))
    }

    /// Records who is logged in: a person number (what [`crate::auth::LyskomLogin`] names as
    /// its principal), or `None` after a logout. The LysKOM login or logout itself is the
    /// caller's (the authenticator's, the logout handler's).
    async fn set_principal(&self, principal: Option<String>) -> Result<(), Error> {
        let pers_no = principal
            .map(|p| {
                p.parse::<PersNo>().map_err(|e| {
                    Error::InvalidArgument(format!(
                        "a gateway connection's principal is a person number, not {p:?}: {e}"
                    ))
                })
            })
            .transpose()?;
        self.set_pers_no(pers_no);
        Ok(())
    }

    async fn times(&self) -> Result<SessionTimes, Error> {
        let state = self.state();
        Ok(SessionTimes {
            created_at: Some(state.created_at),
            last_access: Some(state.last_used),
            expires_at: Some(self.idle_end(&state)),
        })
    }

    async fn touch(&self) -> Result<(), Error> {
        Connection::touch(self);
        Ok(())
    }

    /// The gateway's configuration decides how long a connection may sit unused, not its
    /// holder: answers the end it has now (the last use plus the idle limit), unchanged.
    async fn extend(&self, _by: Duration) -> Result<Option<Timestamp>, Error> {
        let state = self.state();
        Ok(Some(self.idle_end(&state)))
    }

    async fn get<T>(&self, key: &str) -> Result<Option<T>, Error>
    where
        T: DeserializeOwned + Send,
    {
        self.state()
            .tracked
            .get(key)
            .map_err(|e| attribute_error(key, &e))
    }

    async fn insert<T>(&self, key: &str, value: &T) -> Result<(), Error>
    where
        T: Serialize + Sync + ?Sized,
    {
        self.state()
            .tracked
            .insert(key, value)
            .map_err(|e| attribute_error(key, &e))
    }

    async fn remove(&self, key: &str) -> Result<bool, Error> {
        Ok(self.state().tracked.remove(key))
    }

    async fn keys(&self) -> Result<Vec<String>, Error> {
        Ok(self.state().tracked.keys())
    }

    async fn changes(&self) -> Changes {
        self.state().tracked.changes.clone()
    }

    /// Nothing to cycle: the session number is the LysKOM server's and a login keeps it, and
    /// the connection id stays the one the client holds (httpkom's clients keep using it
    /// across a login).
    async fn cycle_id(&self) -> Result<(), Error> {
        Ok(())
    }

    /// The connection lives in memory only: saving forgets what changed.
    async fn save(&self) -> Result<(), Error> {
        self.state().tracked.saved();
        Ok(())
    }

    /// Ends the connection at once: logs out whoever is logged in (briefly waiting for the
    /// server), closes the LysKOM connection and forgets the attributes. The registry then
    /// drops it as closed, not lost.
    async fn invalidate(&self) -> Result<(), Error> {
        let logged_in = {
            let mut state = self.state();
            state.ended = true;
            state.tracked.changes.invalidated = true;
            state.tracked.forget_all();
            state.pers_no.take().is_some()
        };
        if logged_in && !self.client.is_closed() {
            let _ = tokio::time::timeout(LOGOUT_WAIT, self.client.logout()).await;
        }
        self.client.close();
        Ok(())
    }
}

/// How long [`session_core::Session::invalidate`] waits for the logout before it closes the
/// connection anyway.
const LOGOUT_WAIT: Duration = Duration::from_secs(2);

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
    lifetime: Lifetime,
    /// The counters.
    pub metrics: Metrics,
}

impl Registry {
    /// An empty registry allowing `max` connections, `max_per_address` of them opened from
    /// one client address, whose connections end after sitting unused as `lifetime` says.
    pub fn new(max: usize, max_per_address: usize, lifetime: Lifetime) -> Self {
        Registry {
            connections: RwLock::new(HashMap::new()),
            slots: AddressCounter::new(max, max_per_address),
            lifetime,
            metrics: Metrics::default(),
        }
    }

    /// How long the registry's connections may sit unused: what new connections get.
    pub fn lifetime(&self) -> &Lifetime {
        &self.lifetime
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

    /// Removes a connection whose LysKOM connection is closed: counted as closed by the
    /// client when it was invalidated, else as lost. Returns whether it was there.
    pub fn remove_closed(&self, connection: &Connection) -> bool {
        if !self.remove(&connection.id) {
            return false;
        }
        let counter = if connection.is_ended() {
            &self.metrics.closed
        } else {
            &self.metrics.lost
        };
        counter.fetch_add(1, Ordering::Relaxed);
        true
    }

    /// Removes connections whose LysKOM connection is closed (see
    /// [`remove_closed`](Self::remove_closed)), and those unused for longer than their
    /// [`Lifetime`] allows. Returns how many were removed.
    pub fn reap(&self) -> usize {
        let victims: Vec<(Arc<Connection>, bool)> = self
            .connections
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .values()
            .filter_map(|c| {
                if c.client.is_closed() {
                    Some((c.clone(), true))
                } else if c.is_idle() {
                    Some((c.clone(), false))
                } else {
                    None
                }
            })
            .collect();
        let mut removed = 0;
        for (connection, closed) in victims {
            if closed {
                removed += usize::from(self.remove_closed(&connection));
            } else if self.remove(&connection.id) {
                removed += 1;
                self.metrics.reaped.fetch_add(1, Ordering::Relaxed);
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
    use session_core::{Clock, MockClock, Session, log_in};
    use test_support::lyskomd::{ADMIN_PASSWORD, ADMIN_PERSON, Lyskomd};

    use crate::auth::{LyskomAuthenticator, LyskomCredentials, PersonRef};
    use crate::client::ConnectOptions;
    use crate::protocol::error_code;

    fn ip(text: &str) -> IpAddr {
        text.parse().unwrap()
    }

    const IDLE: Duration = Duration::from_secs(600);
    const UNAUTHENTICATED: Duration = Duration::from_secs(60);

    /// A registry on a mock clock and one of its connections to a fresh lyskomd (`None`,
    /// after a loud skip, when lyskomd is not installed).
    async fn connection(test: &str) -> Option<(Lyskomd, MockClock, Registry, Arc<Connection>)> {
        let Some(kom) = Lyskomd::start() else {
            test_support::skip(test, "lyskomd (Debian package lyskom-server)");
            return None;
        };
        let clock = MockClock::starting_at(Timestamp::from_millis(1_000_000));
        let lifetime = Lifetime {
            clock: clock.shared(),
            ..Lifetime::new(IDLE, UNAUTHENTICATED)
        };
        let registry = Registry::new(10, 10, lifetime);
        let options = ConnectOptions {
            connect_timeout: Duration::from_secs(20),
            ..ConnectOptions::default()
        };
        let client = Client::connect(&kom.addr_string(), &options).await.unwrap();
        let session_no = client.who_am_i().await.unwrap();
        let connection = Arc::new(Connection::new(
            new_connection_id(),
            "kom".into(),
            client,
            session_no,
            ("tests".into(), "1".into()),
            registry.reserve(ip("127.0.0.1")).unwrap(),
            registry.lifetime().clone(),
        ));
        registry.insert(connection.clone());
        Some((kom, clock, registry, connection))
    }

    fn admin(password: &str) -> LyskomCredentials {
        LyskomCredentials {
            person: PersonRef::Number(PersNo(ADMIN_PERSON)),
            password: password.into(),
        }
    }

    #[tokio::test]
    async fn a_connection_tracks_what_changed_until_saved() {
        let Some((_kom, clock, _registry, c)) =
            connection("a_connection_tracks_what_changed_until_saved").await
        else {
            return;
        };
        let identity = c.identity().await.unwrap().unwrap();
        assert_eq!(identity, format!("kom:{}", c.session_no));
        assert!(!identity.contains(&c.id), "never the secret id");
        assert_eq!(c.principal().await.unwrap(), None);
        assert!(c.changes().await.is_empty());

        c.insert("theme", "dark").await.unwrap();
        c.insert("unread", &[1, 2, 3]).await.unwrap();
        assert_eq!(
            c.get::<String>("theme").await.unwrap().as_deref(),
            Some("dark")
        );
        assert_eq!(
            c.get::<Vec<u32>>("unread").await.unwrap(),
            Some(vec![1, 2, 3])
        );
        assert!(matches!(
            c.get::<u32>("theme").await,
            Err(Error::Attribute { key, .. }) if key == "theme"
        ));
        assert_eq!(c.keys().await.unwrap(), vec!["theme", "unread"]);
        let changes = c.changes().await;
        assert_eq!(changes.set.len(), 2);
        assert!(c.is_modified().await);

        c.save().await.unwrap();
        assert!(c.changes().await.is_empty());
        // Setting what is there already changes nothing.
        c.insert("theme", "dark").await.unwrap();
        assert!(c.changes().await.is_empty());
        assert!(c.remove("theme").await.unwrap());
        assert!(!c.remove("theme").await.unwrap());
        let changes = c.changes().await;
        assert!(changes.removed.contains("theme") && changes.set.is_empty());
        c.save().await.unwrap();
        assert_eq!(c.keys().await.unwrap(), vec!["unread"]);

        // The lifetime: the idle limit from the last use, shorter while nobody is logged in;
        // the holder cannot extend it.
        let start = clock.now();
        let times = c.times().await.unwrap();
        assert_eq!(times.created_at, Some(start));
        assert_eq!(
            times.expires_at,
            Some(start.saturating_add(UNAUTHENTICATED))
        );
        clock.advance(Duration::from_secs(30));
        Session::touch(c.as_ref()).await.unwrap();
        let later = start.saturating_add(Duration::from_secs(30));
        assert_eq!(c.times().await.unwrap().last_access, Some(later));
        assert_eq!(
            c.extend(Duration::from_secs(86_400)).await.unwrap(),
            Some(later.saturating_add(UNAUTHENTICATED))
        );
        assert!(c.changes().await.is_empty(), "touching is no change");

        assert!(matches!(
            c.set_principal(Some("alice".into())).await,
            Err(Error::InvalidArgument(_))
        ));
        c.set_principal(Some("5".into())).await.unwrap();
        assert!(c.changes().await.principal);
        assert_eq!(
            c.times().await.unwrap().expires_at,
            Some(later.saturating_add(IDLE))
        );
    }

    #[tokio::test]
    async fn the_login_flow_makes_the_person_the_principal() {
        let Some((_kom, _clock, _registry, c)) =
            connection("the_login_flow_makes_the_person_the_principal").await
        else {
            return;
        };
        let authenticator = LyskomAuthenticator::on_connection(c.client.clone());
        let refused = log_in(c.as_ref(), &authenticator, &admin("wrong")).await;
        assert!(matches!(
            refused,
            Err(session_core::LoginError::Auth(
                session_core::AuthError::InvalidCredentials
            ))
        ));
        assert_eq!(
            authenticator.take_refusal().and_then(|e| e.server_code()),
            Some(error_code::INVALID_PASSWORD)
        );
        assert_eq!(c.principal().await.unwrap(), None);
        assert!(c.changes().await.is_empty());
        assert!(
            !c.client.is_closed(),
            "a refused login keeps the connection"
        );

        let login = log_in(c.as_ref(), &authenticator, &admin(ADMIN_PASSWORD))
            .await
            .unwrap();
        assert_eq!(login.pers_no, PersNo(ADMIN_PERSON));
        assert_eq!(c.principal().await.unwrap().as_deref(), Some("5"));
        assert_eq!(c.pers_no(), Some(PersNo(ADMIN_PERSON)));
        assert!(c.changes().await.is_empty(), "the login flow saves");
        // Logged in on this very connection, which keeps its session number.
        assert!(c.client.get_marks().await.is_ok());
        assert_eq!(c.client.who_am_i().await.unwrap(), c.session_no);
    }

    #[tokio::test]
    async fn invalidating_logs_out_and_closes_the_connection() {
        let Some((_kom, _clock, registry, c)) =
            connection("invalidating_logs_out_and_closes_the_connection").await
        else {
            return;
        };
        let authenticator = LyskomAuthenticator::on_connection(c.client.clone());
        log_in(c.as_ref(), &authenticator, &admin(ADMIN_PASSWORD))
            .await
            .unwrap();
        c.insert("draft", "Hej").await.unwrap();
        c.invalidate().await.unwrap();
        assert!(c.changes().await.invalidated);
        assert_eq!(c.principal().await.unwrap(), None);
        assert!(c.keys().await.unwrap().is_empty());
        assert!(c.client.is_closed() && c.is_ended());
        // The registry drops it as closed on purpose, not as lost.
        assert_eq!(registry.reap(), 1);
        let metrics = registry.snapshot();
        assert_eq!((metrics.closed, metrics.lost), (1, 0));
        assert!(registry.get(&c.id).is_none());
    }

    #[tokio::test]
    async fn idle_connections_are_reaped_by_the_clock() {
        let Some((_kom, clock, registry, c)) =
            connection("idle_connections_are_reaped_by_the_clock").await
        else {
            return;
        };
        clock.advance(UNAUTHENTICATED);
        assert_eq!(registry.reap(), 0, "not longer than the limit yet");
        clock.advance(Duration::from_millis(1));
        assert_eq!(registry.reap(), 1);
        assert_eq!(registry.snapshot().reaped, 1);
        assert!(c.client.is_closed());
    }

    #[test]
    fn the_limits_count_reserved_slots_and_give_them_back() {
        let registry = Registry::new(
            3,
            2,
            Lifetime::new(Duration::from_secs(60), Duration::from_secs(10)),
        );
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
