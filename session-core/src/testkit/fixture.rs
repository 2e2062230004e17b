//! What each case is handed: a fresh store, its mock clock and its event hub.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use crate::clock::{MockClock, Timestamp};
use crate::codec::Codec;
use crate::events::Events;
use crate::expiry::ExpiryPolicy;
use crate::id::{SessionId, SessionKey};
use crate::limits::Limits;
use crate::principal_limit::PrincipalLimit;
use crate::record::Record;
use crate::store::{SessionStore, StoreConfig};

/// A store under test, with the clock and events it was built with.
pub struct Fixture<S, G> {
    /// The store (shared, so cases can hand it to concurrent tasks).
    pub store: Arc<S>,
    /// The store's clock.
    pub clock: MockClock,
    /// The store's event hub.
    pub events: Events,
    /// Whatever the factory needs kept alive.
    pub guard: G,
}

/// A new record (not stored) under `key`: JSON, expiring after `idle` unused, created now by
/// the system clock — what a store's own tests create when the contract's cases are not
/// enough.
pub fn json_record(key: SessionKey, idle: Duration) -> Record {
    Record::new(
        key,
        Codec::Json,
        ExpiryPolicy::idle(idle),
        StoreConfig::default().now(),
    )
}

/// Limits used by every case: small enough to hit, large enough for the cases' data.
pub(crate) fn kit_limits() -> Limits {
    Limits {
        max_attributes: 100,
        max_key_bytes: 64,
        max_record_bytes: 16 * 1024,
        max_principal_bytes: 64,
    }
}

impl<S: SessionStore, G> Fixture<S, G> {
    /// Builds a store through `factory` with a fresh mock clock and the kit's limits.
    pub async fn build<F, Fut>(factory: F, principal_limit: Option<PrincipalLimit>) -> Self
    where
        F: FnOnce(StoreConfig) -> Fut,
        Fut: Future<Output = (S, G)>,
    {
        let clock = MockClock::new();
        let events = Events::new();
        let config = StoreConfig {
            clock: clock.shared(),
            limits: kit_limits(),
            principal_limit,
            events: events.clone(),
        };
        let (store, guard) = factory(config).await;
        Fixture {
            store: Arc::new(store),
            clock,
            events,
            guard,
        }
    }

    /// The clock's time.
    pub fn now(&self) -> Timestamp {
        use crate::clock::Clock;
        self.clock.now()
    }

    /// A new record (not stored) with a fresh key, created now.
    pub fn record(&self, expiry: ExpiryPolicy) -> Record {
        Record::new(fresh_key(), Codec::Json, expiry, self.now())
    }

    /// Stores a new record with `attributes` (JSON strings) and `principal`; returns it as stored.
    pub async fn stored(
        &self,
        expiry: ExpiryPolicy,
        principal: Option<&str>,
        attributes: &[(&str, &str)],
    ) -> Record {
        let mut record = self.record(expiry);
        record.principal = principal.map(str::to_owned);
        for (name, value) in attributes {
            record
                .insert(name, value)
                .unwrap_or_else(|e| panic!("encoding a test value: {e}"));
        }
        self.store
            .create(&record)
            .await
            .unwrap_or_else(|e| panic!("{} store: create failed: {e}", self.store.name()));
        record
    }

    /// Loads `key`, failing the case on a store error.
    pub async fn load(&self, key: &SessionKey) -> Option<Record> {
        self.store
            .load(key)
            .await
            .unwrap_or_else(|e| panic!("{} store: load failed: {e}", self.store.name()))
    }

    /// Advances the clock.
    pub fn advance(&self, by: Duration) {
        self.clock.advance(by);
    }
}

/// A key nobody has used.
pub(crate) fn fresh_key() -> SessionKey {
    SessionId::generate()
        .unwrap_or_else(|e| panic!("no randomness: {e}"))
        .key()
}
