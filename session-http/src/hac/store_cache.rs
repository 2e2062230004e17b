//! The HAC session cache in a [`SessionStore`], e.g. the encrypted file store, for when the
//! session should not sit in plain JSON on disk (it then is not shared with hac-client-core).

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use session_core::{
    Codec, ExpiryPolicy, PageRequest, Record, SessionKey, SessionStore, SharedClock, SystemClock,
};

use super::cache::{CacheKey, CachedSession, SessionCache};
use super::error::HacError;

const ATTRIBUTE: &str = "hac_session";
const NAMESPACE: &str = "hac";

/// A [`SessionCache`] over any [`SessionStore`]. Each session is one record filed under
/// [`SessionKey::derive`]`("hac", [base_url, username, environment])`, with the user name as its
/// principal and the cached session as its one attribute.
#[derive(Debug, Clone)]
pub struct StoreSessionCache {
    store: Arc<dyn SessionStore>,
    expiry: ExpiryPolicy,
    clock: SharedClock,
}

impl StoreSessionCache {
    /// A cache in `store`; entries expire when unused for eight hours (HAC itself drops idle
    /// sessions much sooner; a dead entry is only a wasted validation).
    pub fn new(store: Arc<dyn SessionStore>) -> Self {
        StoreSessionCache {
            store,
            expiry: ExpiryPolicy::idle(Duration::from_secs(8 * 3600)),
            clock: Arc::new(SystemClock),
        }
    }

    /// Sets how long entries live.
    pub fn with_expiry(mut self, expiry: ExpiryPolicy) -> Self {
        self.expiry = expiry;
        self
    }

    /// Sets the clock that stamps new records (the store's own clock judges expiry).
    pub fn with_clock(mut self, clock: SharedClock) -> Self {
        self.clock = clock;
        self
    }

    /// The store key of a cache key.
    pub fn store_key(key: &CacheKey) -> SessionKey {
        SessionKey::derive(NAMESPACE, &[&key.base_url, &key.username, &key.environment])
    }
}

#[async_trait]
impl SessionCache for StoreSessionCache {
    async fn load(&self, key: &CacheKey) -> Result<Option<CachedSession>, HacError> {
        let Some(record) = self
            .store
            .load(&Self::store_key(key))
            .await
            .map_err(HacError::Store)?
        else {
            return Ok(None);
        };
        match record.get::<CachedSession>(ATTRIBUTE) {
            Ok(found) => Ok(found),
            Err(_) => {
                self.store
                    .delete(&record.key)
                    .await
                    .map_err(HacError::Store)?;
                Ok(None)
            }
        }
    }

    async fn save(&self, session: &CachedSession) -> Result<(), HacError> {
        let key = Self::store_key(&session.key());
        let mut record = Record::new(key, Codec::Json, self.expiry, self.clock.now());
        record.principal = Some(session.username.clone());
        record.insert(ATTRIBUTE, session).map_err(HacError::Store)?;
        // Replace rather than merge: the cached session is one value, written whole.
        self.store.delete(&key).await.map_err(HacError::Store)?;
        self.store.create(&record).await.map_err(HacError::Store)
    }

    async fn remove(&self, key: &CacheKey) -> Result<bool, HacError> {
        self.store
            .delete(&Self::store_key(key))
            .await
            .map_err(HacError::Store)
    }

    async fn list(&self) -> Result<Vec<CachedSession>, HacError> {
        let mut sessions = Vec::new();
        let mut request = Some(PageRequest::first(256));
        while let Some(page_request) = request {
            let page = self
                .store
                .list(page_request)
                .await
                .map_err(HacError::Store)?;
            sessions.extend(
                page.records
                    .iter()
                    .filter_map(|r| r.get::<CachedSession>(ATTRIBUTE).ok().flatten()),
            );
            request = page.next;
        }
        sessions.sort_by(|a, b| b.last_used_at.total_cmp(&a.last_used_at));
        Ok(sessions)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use session_core::{MemoryStore, MockClock, Timestamp};

    fn cached(username: &str) -> CachedSession {
        CachedSession {
            session_id: "S1".into(),
            csrf_token: "T1".into(),
            route_cookie: None,
            environment: "dev".into(),
            base_url: "http://h:1".into(),
            username: username.into(),
            created_at: 1.0,
            last_used_at: 2.0,
            is_authenticated: true,
        }
    }

    #[tokio::test]
    async fn sessions_round_trip_through_a_store() {
        let cache = StoreSessionCache::new(Arc::new(MemoryStore::builder().build()));
        let session = cached("admin");
        cache.save(&session).await.unwrap();
        let mut newer = session.clone();
        newer.csrf_token = "T2".into();
        cache.save(&newer).await.unwrap();
        assert_eq!(cache.load(&session.key()).await.unwrap(), Some(newer));
        assert_eq!(cache.list().await.unwrap().len(), 1);
        assert!(cache.remove(&session.key()).await.unwrap());
        assert_eq!(cache.load(&session.key()).await.unwrap(), None);
    }

    #[tokio::test]
    async fn entries_are_stamped_by_the_cache_clock_and_expire_by_the_store_clock() {
        let start = Timestamp::from_millis(1_700_000_000_000);
        let store_clock = Arc::new(MockClock::starting_at(start));
        let store: Arc<dyn SessionStore> =
            Arc::new(MemoryStore::builder().clock(store_clock.clone()).build());
        let cache = StoreSessionCache::new(store.clone())
            .with_clock(Arc::new(MockClock::starting_at(start)))
            .with_expiry(ExpiryPolicy::idle(Duration::from_secs(600)));
        let session = cached("admin");
        cache.save(&session).await.unwrap();

        let record = store
            .load(&StoreSessionCache::store_key(&session.key()))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(record.created_at, start);
        assert_eq!(record.principal.as_deref(), Some("admin"));
        store_clock.advance(Duration::from_secs(599));
        assert!(cache.load(&session.key()).await.unwrap().is_some());
        store_clock.advance(Duration::from_secs(2));
        assert_eq!(cache.load(&session.key()).await.unwrap(), None);
    }
}
