//! A stored record that does not decode: by default the layer discards it and the client
//! carries on with a fresh session; `UnreadableRecordPolicy::StoreFailure` keeps the old `503`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use axum::extract::Path;
use axum::routing::{get, post};
use axum::{Extension, Router};
use http::{Request, StatusCode, header};
use http_body_util::BodyExt;
use session_core::{
    ChangeSet, Clock, Error, EventKind, Page, PageRequest, Record, Result, SessionConfig,
    SessionId, SessionKey, SessionManager, SessionStore, SystemClock, Timestamp, TouchOutcome,
    decode_record, encode_record,
};
use session_http::server::{Session, SessionLayer, UnreadableRecordPolicy};
use tower::ServiceExt;

/// How a store reports bytes that do not decode.
#[derive(Debug, Default, Clone, Copy)]
enum Reports {
    /// `Error::Codec`.
    #[default]
    Codec,
    /// A backend error whose source is the codec error.
    BackendCausedByCodec,
    /// A backend error that names no codec error (damage found another way, such as a failed
    /// authentication tag).
    BackendOnly,
}

/// A store that keeps each record as the bytes of `encode_record`, as a third-party store
/// over a key-value backend would, and decodes them on every read (an error on load when the
/// bytes are not a record, reported as `reports` says).
#[derive(Debug, Default)]
struct EncodedStore {
    bytes: Mutex<HashMap<SessionKey, Vec<u8>>>,
    reports: Reports,
    /// The backend goes down right after a delete.
    down_after_delete: bool,
    down: AtomicBool,
}

impl EncodedStore {
    fn now() -> Timestamp {
        SystemClock.now()
    }

    fn put_raw(&self, key: SessionKey, bytes: Vec<u8>) {
        self.bytes.lock().unwrap().insert(key, bytes);
    }

    fn holds(&self, key: &SessionKey) -> bool {
        self.bytes.lock().unwrap().contains_key(key)
    }

    fn live(&self, key: &SessionKey) -> Result<Option<Record>> {
        if self.down.load(Ordering::SeqCst) {
            return Err(Error::backend("encoded", "load", "connection lost"));
        }
        let Some(bytes) = self.bytes.lock().unwrap().get(key).cloned() else {
            return Ok(None);
        };
        let record = decode_record(&bytes).map_err(|e| match self.reports {
            Reports::Codec => Error::from(e),
            Reports::BackendCausedByCodec => Error::backend("encoded", "load", e),
            Reports::BackendOnly => Error::backend("encoded", "load", e.to_string()),
        })?;
        Ok(Some(record).filter(|r| !r.is_expired(Self::now())))
    }

    fn put(&self, record: &Record) -> Result<()> {
        let bytes = encode_record(record)?;
        self.bytes.lock().unwrap().insert(record.key, bytes);
        Ok(())
    }
}

#[async_trait]
impl SessionStore for EncodedStore {
    fn name(&self) -> &'static str {
        "encoded"
    }
    async fn create(&self, record: &Record) -> Result<()> {
        if self.live(&record.key)?.is_some() {
            return Err(Error::AlreadyExists { key: record.key });
        }
        self.put(record)
    }
    async fn load(&self, key: &SessionKey) -> Result<Option<Record>> {
        self.live(key)
    }
    async fn save(&self, key: &SessionKey, changes: &ChangeSet, loaded: u64) -> Result<u64> {
        let mut record = self.live(key)?.ok_or(Error::Gone { key: *key })?;
        record.apply(changes, loaded, Self::now(), &Default::default())?;
        self.put(&record)?;
        Ok(record.version)
    }
    async fn touch(&self, key: &SessionKey) -> Result<TouchOutcome> {
        let Some(mut record) = self.live(key)? else {
            return Ok(TouchOutcome::Missing);
        };
        record.last_access = Self::now();
        self.put(&record)?;
        Ok(TouchOutcome::Touched {
            expires_at: record.expires_at(),
        })
    }
    async fn delete(&self, key: &SessionKey) -> Result<bool> {
        let removed = self.bytes.lock().unwrap().remove(key).is_some();
        if self.down_after_delete {
            self.down.store(true, Ordering::SeqCst);
        }
        Ok(removed)
    }
    async fn cycle_id(&self, old: &SessionKey, new: &SessionKey) -> Result<()> {
        let mut record = self.live(old)?.ok_or(Error::Gone { key: *old })?;
        record.key = *new;
        self.put(&record)?;
        self.bytes.lock().unwrap().remove(old);
        Ok(())
    }
    async fn delete_expired(&self) -> Result<u64> {
        Ok(0)
    }
    async fn list(&self, _page: PageRequest) -> Result<Page> {
        Ok(Page::default())
    }
    async fn count(&self) -> Result<u64> {
        Ok(self.bytes.lock().unwrap().len() as u64)
    }
}

struct App {
    store: Arc<EncodedStore>,
    manager: SessionManager,
    router: Router,
}

fn app(policy: UnreadableRecordPolicy) -> App {
    app_with(policy, EncodedStore::default())
}

fn app_reporting(policy: UnreadableRecordPolicy, reports: Reports) -> App {
    let store = EncodedStore {
        reports,
        ..EncodedStore::default()
    };
    app_with(policy, store)
}

fn app_with(policy: UnreadableRecordPolicy, store: EncodedStore) -> App {
    let store = Arc::new(store);
    let manager = SessionManager::new(store.clone(), SessionConfig::default());
    let router = router(policy, &manager);
    App {
        store,
        manager,
        router,
    }
}

/// A router whose handlers read and write attributes, behind the layer over `manager`.
fn router(policy: UnreadableRecordPolicy, manager: &SessionManager) -> Router {
    let layer = SessionLayer::builder(manager.clone())
        .on_unreadable_record(policy)
        .build()
        .unwrap();
    Router::new()
            .route(
                "/get/{key}",
                get(
                    |Extension(s): Extension<Session>, Path(key): Path<String>| async move {
                        match s.get::<String>(&key).await {
                            Ok(value) => (StatusCode::OK, value.unwrap_or_default()),
                            Err(e) => (StatusCode::INTERNAL_SERVER_ERROR, e.to_string()),
                        }
                    },
                ),
            )
            .route(
                "/set/{key}/{value}",
                post(
                    |Extension(s): Extension<Session>,
                     Path((key, value)): Path<(String, String)>| async move {
                        match s.insert(&key, &value).await {
                            Ok(()) => (StatusCode::OK, String::new()),
                            Err(e) => (StatusCode::INTERNAL_SERVER_ERROR, e.to_string()),
                        }
                    },
                ),
            )
            .layer(layer)
}

/// A client id whose stored record is garbage.
fn damaged(app: &App) -> SessionId {
    let id = SessionId::generate().unwrap();
    app.store
        .put_raw(id.key(), b"\x00\xffnot a session record".to_vec());
    id
}

async fn send(
    app: &App,
    method: &str,
    path: &str,
    id: &SessionId,
) -> (StatusCode, Vec<String>, String) {
    let request = Request::builder()
        .method(method)
        .uri(path)
        .header(header::COOKIE, format!("session={}", id.expose_secret()))
        .body(axum::body::Body::empty())
        .unwrap();
    let response = app.router.clone().oneshot(request).await.unwrap();
    let status = response.status();
    let cookies = response
        .headers()
        .get_all(header::SET_COOKIE)
        .iter()
        .map(|v| v.to_str().unwrap().to_owned())
        .collect();
    let body = response.into_body().collect().await.unwrap().to_bytes();
    (status, cookies, String::from_utf8_lossy(&body).into_owned())
}

#[tokio::test]
async fn an_undecodable_record_is_no_session_and_is_removed() {
    let app = app(UnreadableRecordPolicy::default());
    let id = damaged(&app);

    let (status, cookies, body) = send(&app, "GET", "/get/name", &id).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body, "", "the handler sees an empty session");
    assert!(!app.store.holds(&id.key()), "the damaged record is removed");
    assert_eq!(app.manager.events().count(EventKind::Discarded), 1);
    assert_eq!(app.manager.events().count(EventKind::SuspiciousId), 0);
    assert_eq!(cookies.len(), 1, "{cookies:?}");
    assert!(
        cookies[0].starts_with("session=;") && cookies[0].contains("Max-Age=0"),
        "the client's id is expired: {cookies:?}"
    );
}

#[tokio::test]
async fn a_write_after_an_undecodable_record_starts_a_new_session() {
    let app = app(UnreadableRecordPolicy::default());
    let id = damaged(&app);

    let (status, cookies, body) = send(&app, "POST", "/set/name/ada", &id).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert!(!app.store.holds(&id.key()));
    let token = cookies
        .iter()
        .find_map(|c| c.strip_prefix("session="))
        .and_then(|rest| rest.split(';').next())
        .filter(|value| !value.is_empty())
        .unwrap_or_else(|| panic!("a new id is set: {cookies:?}"));
    assert_ne!(token, id.expose_secret().as_str());

    let fresh = SessionId::parse(token).unwrap();
    let (status, _, body) = send(&app, "GET", "/get/name", &fresh).await;
    assert_eq!((status, body.as_str()), (StatusCode::OK, "ada"));
    assert_eq!(app.manager.events().count(EventKind::Discarded), 1);
}

#[tokio::test]
async fn the_store_failure_policy_keeps_the_record_and_answers_503() {
    let app = app(UnreadableRecordPolicy::StoreFailure);
    let id = damaged(&app);

    let (status, cookies, body) = send(&app, "GET", "/get/name", &id).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
    assert!(cookies.is_empty(), "{cookies:?}");
    assert!(!body.contains("not a session"), "no detail leaks: {body}");
    assert!(
        app.store.holds(&id.key()),
        "the record stays for inspection"
    );
    assert_eq!(app.manager.events().count(EventKind::Discarded), 0);
    assert!(app.manager.events().count(EventKind::StoreError) >= 1);
}

#[tokio::test]
async fn a_backend_error_caused_by_a_codec_error_is_discarded_too() {
    let app = app_reporting(
        UnreadableRecordPolicy::default(),
        Reports::BackendCausedByCodec,
    );
    let id = damaged(&app);
    let (status, _, body) = send(&app, "GET", "/get/name", &id).await;
    assert_eq!((status, body.as_str()), (StatusCode::OK, ""));
    assert!(!app.store.holds(&id.key()));
    assert_eq!(app.manager.events().count(EventKind::Discarded), 1);
}

#[tokio::test]
async fn other_damage_stays_a_store_failure() {
    let app = app_reporting(UnreadableRecordPolicy::default(), Reports::BackendOnly);
    let id = damaged(&app);
    let (status, _, _) = send(&app, "GET", "/get/name", &id).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    assert!(app.store.holds(&id.key()), "never deleted silently");
    assert_eq!(app.manager.events().count(EventKind::Discarded), 0);
}

#[tokio::test]
async fn a_store_that_fails_after_the_discard_fails_the_request() {
    let store = EncodedStore {
        down_after_delete: true,
        ..EncodedStore::default()
    };
    let app = app_with(UnreadableRecordPolicy::default(), store);
    let id = damaged(&app);
    let (status, cookies, _) = send(&app, "GET", "/get/name", &id).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    assert!(cookies.is_empty(), "{cookies:?}");
    assert_eq!(app.manager.events().count(EventKind::Discarded), 1);
}

/// The project's own stores report a damaged record with its codec error as the cause, so the
/// layer discards it there too (here: a file store whose file was overwritten).
#[tokio::test]
async fn a_damaged_file_store_record_is_discarded_too() {
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(
        session_stores::FileStore::open(dir.path(), session_core::StoreConfig::default()).unwrap(),
    );
    let manager = SessionManager::new(store.clone(), SessionConfig::default());
    let router = router(UnreadableRecordPolicy::default(), &manager);
    let app = App {
        store: Arc::new(EncodedStore::default()),
        manager,
        router,
    };
    let session = app.manager.session(None);
    session.insert("k", "v").await.unwrap();
    session.save().await.unwrap();
    let id = session.id().await.unwrap().unwrap();
    std::fs::write(store.path_of(&id.key()), b"\x00\xffnot a session record").unwrap();

    let (status, cookies, body) = send(&app, "GET", "/get/k", &id).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body, "", "the damaged session's data is gone");
    assert!(
        !store.path_of(&id.key()).exists(),
        "the damaged file was not removed"
    );
    assert!(
        cookies.iter().any(|c| c.starts_with("session=;")),
        "the client's id was not expired: {cookies:?}"
    );
}
