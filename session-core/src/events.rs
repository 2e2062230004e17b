//! Lifecycle events: what happened to which session, for logs, metrics and audits.
//!
//! Sessions and stores report to an [`Events`] hub. It counts every kind of event (the counters
//! the apps export as metrics), calls the registered [`EventHook`]s, and broadcasts to
//! subscribers. Events carry the session's [`SessionKey`] (a digest), never its id.

use std::fmt;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, RwLock};

use tokio::sync::broadcast;

use crate::clock::Timestamp;
use crate::id::SessionKey;

/// What happened.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum EventKind {
    /// A new session was stored for the first time.
    Created,
    /// A session's id was cycled.
    Renewed,
    /// A session's idle expiry was extended without a change of data.
    Touched,
    /// A store dropped an expired session.
    Expired,
    /// A session was ended on purpose (logout, revoke).
    Invalidated,
    /// A store dropped a live session to make room (capacity, per-principal limit).
    Evicted,
    /// A save was refused because another writer changed the same data.
    Conflict,
    /// A store operation failed.
    StoreError,
    /// A client presented an id that is malformed or unknown.
    SuspiciousId,
    /// A stored session could not be decoded (damaged bytes, a format this build does not
    /// read) and was removed; the client was given a fresh session in its place.
    Discarded,
    /// A login was refused: wrong credentials.
    LoginFailed,
    /// A login attempt was refused unchecked: too many recent attempts for the principal or
    /// from the client address.
    LoginThrottled,
    /// A login attempt was refused unchecked: too many logins being checked at once.
    LoginBusy,
}

impl EventKind {
    /// Every kind, in a fixed order.
    pub const ALL: [EventKind; 13] = [
        EventKind::Created,
        EventKind::Renewed,
        EventKind::Touched,
        EventKind::Expired,
        EventKind::Invalidated,
        EventKind::Evicted,
        EventKind::Conflict,
        EventKind::StoreError,
        EventKind::SuspiciousId,
        EventKind::Discarded,
        EventKind::LoginFailed,
        EventKind::LoginThrottled,
        EventKind::LoginBusy,
    ];

    /// A snake_case name for metrics and logs.
    pub fn name(self) -> &'static str {
        match self {
            EventKind::Created => "created",
            EventKind::Renewed => "renewed",
            EventKind::Touched => "touched",
            EventKind::Expired => "expired",
            EventKind::Invalidated => "invalidated",
            EventKind::Evicted => "evicted",
            EventKind::Conflict => "conflict",
            EventKind::StoreError => "store_error",
            EventKind::SuspiciousId => "suspicious_id",
            EventKind::Discarded => "discarded",
            EventKind::LoginFailed => "login_failed",
            EventKind::LoginThrottled => "login_throttled",
            EventKind::LoginBusy => "login_busy",
        }
    }

    fn index(self) -> usize {
        self as usize
    }
}

/// One event.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SessionEvent {
    /// What happened.
    pub kind: EventKind,
    /// Which session, when known.
    pub key: Option<SessionKey>,
    /// When.
    pub at: Timestamp,
    /// A short explanation (an error message, the reason for an eviction); never a secret.
    pub detail: Option<String>,
}

impl SessionEvent {
    /// An event without detail.
    pub fn new(kind: EventKind, key: Option<SessionKey>, at: Timestamp) -> Self {
        SessionEvent {
            kind,
            key,
            at,
            detail: None,
        }
    }

    /// This event with a detail text.
    pub fn with_detail(mut self, detail: impl Into<String>) -> Self {
        self.detail = Some(detail.into());
        self
    }
}

/// Something that wants to hear about every event, synchronously. Keep it quick.
pub trait EventHook: Send + Sync + 'static {
    /// Called once per event.
    fn on_event(&self, event: &SessionEvent);
}

impl<F: Fn(&SessionEvent) + Send + Sync + 'static> EventHook for F {
    fn on_event(&self, event: &SessionEvent) {
        self(event)
    }
}

/// The event hub: counters, hooks and a broadcast channel. Clones share one hub.
#[derive(Clone)]
pub struct Events {
    inner: Arc<EventsInner>,
}

struct EventsInner {
    counters: [AtomicU64; EventKind::ALL.len()],
    hooks: RwLock<Vec<Arc<dyn EventHook>>>,
    channel: broadcast::Sender<SessionEvent>,
    /// Whether a hook was ever added or a receiver ever made. Until then an event is only
    /// counted: the hooks' lock and the channel's (which even counting its receivers takes)
    /// cost a new session more than the rest of its event.
    listened: AtomicBool,
}

impl Events {
    /// A hub with no hooks and no subscribers.
    pub fn new() -> Self {
        let (channel, _) = broadcast::channel(1024);
        Events {
            inner: Arc::new(EventsInner {
                counters: Default::default(),
                hooks: RwLock::new(Vec::new()),
                channel,
                listened: AtomicBool::new(false),
            }),
        }
    }

    /// Registers a hook.
    pub fn add_hook(&self, hook: impl EventHook) {
        if let Ok(mut hooks) = self.inner.hooks.write() {
            hooks.push(Arc::new(hook));
            self.inner.listened.store(true, Ordering::Release);
        }
    }

    /// A receiver of every event from now on (lagging receivers lose the oldest).
    pub fn subscribe(&self) -> broadcast::Receiver<SessionEvent> {
        let receiver = self.inner.channel.subscribe();
        self.inner.listened.store(true, Ordering::Release);
        receiver
    }

    /// Reports an event.
    pub fn emit(&self, event: SessionEvent) {
        self.inner.counters[event.kind.index()].fetch_add(1, Ordering::Relaxed);
        if !self.inner.listened.load(Ordering::Acquire) {
            return;
        }
        if let Ok(hooks) = self.inner.hooks.read() {
            for hook in hooks.iter() {
                hook.on_event(&event);
            }
        }
        if self.inner.channel.receiver_count() > 0 {
            let _ = self.inner.channel.send(event);
        }
    }

    /// How many events of `kind` were reported.
    pub fn count(&self, kind: EventKind) -> u64 {
        self.inner.counters[kind.index()].load(Ordering::Relaxed)
    }

    /// Every kind with its count.
    pub fn counts(&self) -> Vec<(EventKind, u64)> {
        EventKind::ALL.iter().map(|&k| (k, self.count(k))).collect()
    }
}

impl Default for Events {
    fn default() -> Self {
        Self::new()
    }
}

impl fmt::Debug for Events {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Events")
            .field("counts", &self.counts())
            .finish()
    }
}
