//! [`HttpieSession`]: an HTTPie session file as a [`session_core::Session`], so that tools
//! written against the trait work on it as on any other kind of session.
//!
//! The mapping:
//!
//! | trait | HTTPie session file |
//! |---|---|
//! | identity | the file's path |
//! | principal | the one set through the trait, else the user name of the file's basic auth |
//! | times | created and last access unknown (HTTPie keeps neither); `expires_at` the earliest expiry of its cookies |
//! | attributes | JSON values under the top-level key [`EXTENSION_KEY`], which HTTPie 3.2.4 keeps when it saves the file |
//! | dirty tracking | attributes set and removed, the principal, and the file's `cookies`, `headers` and `auth` (reported as `httpie.cookies` … among the keys set) compared with what was loaded |
//! | save | only when something changed: the file written atomically (0600, [`session_core::atomic_file`]) under the session's lock; a read-only session only when it is new, as HTTPie |
//! | invalidate | deletes the file at once; later saves of this handle write nothing |
//! | cycle_id | forgets the cookies (the server's session id is one), so the next login gets new ones |
//!
//! Why the earliest cookie expiry: it is the first moment something the server handed out
//! is gone (often the login cookie), so a tool that refreshes sessions before they end acts
//! in time. Cookies without an expiry (session cookies, which HTTPie keeps in the file for
//! ever) do not count; a session with none that expire has no `expires_at`.

use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

use async_trait::async_trait;
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::{Map, Value};
use session_core::{Changes, Session, SessionTimes, Timestamp, TrackedAttributes};

use super::auth::Auth;
use super::error::ClientError;
use super::session::ClientSession;
use super::session_file::SessionFile;

/// The top-level key of the session file under which the trait's attributes and principal
/// are kept: `{"attributes": {...}, "principal": "..."}`.
pub const EXTENSION_KEY: &str = "sessionctl";

/// The names under which changes to the file's own parts appear in [`Changes::set`].
const PART_NAMES: [(&str, &str); 3] = [
    ("cookies", "httpie.cookies"),
    ("headers", "httpie.headers"),
    ("auth", "httpie.auth"),
];

/// An HTTPie session file, locked while this handle lives, as a [`Session`].
///
/// ```
/// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
/// use session_core::Session;
/// use session_http::client::HttpieSession;
///
/// let dir = tempfile::tempdir().unwrap();
/// let path = dir.path().join("dev.json");
/// let session = HttpieSession::open(&path, "api.example")?;
/// session.insert("team", "core").await?;
/// session.save().await?;
/// drop(session); // the file stays locked while a handle lives
///
/// let again = HttpieSession::open(&path, "api.example")?;
/// assert_eq!(again.get::<String>("team").await?.as_deref(), Some("core"));
/// assert!(!again.is_modified().await);
/// # Ok::<(), session_http::client::ClientError>(())
/// # }).unwrap();
/// ```
#[derive(Debug)]
pub struct HttpieSession {
    path: PathBuf,
    state: Mutex<State>,
}

#[derive(Debug)]
struct State {
    session: ClientSession,
    /// The lock (and the way to delete the file); `None` once invalidated.
    file: Option<SessionFile>,
    /// The file's `cookies`, `headers` and `auth` as loaded or last saved.
    saved_parts: Map<String, Value>,
    /// Whether there was no file when opened and none has been written since.
    is_new: bool,
    /// The attributes (written into the extension key on save) and what changed in them.
    attributes: TrackedAttributes,
    principal: bool,
    renewed: bool,
    invalidated: bool,
}

impl HttpieSession {
    /// Locks and loads the session file at `path` (a new, empty session bound to `host` when
    /// there is no file yet).
    pub fn open(path: &Path, host: &str) -> Result<Self, ClientError> {
        let file = SessionFile::lock(path)?;
        let loaded = file.load(host)?;
        let is_new = loaded.is_none();
        let session = loaded.unwrap_or_else(|| ClientSession::new(host));
        let saved_parts = parts(&session);
        let attributes = match extension_of(&session).get("attributes") {
            Some(Value::Object(map)) => TrackedAttributes::loaded(map.clone()),
            _ => TrackedAttributes::default(),
        };
        Ok(HttpieSession {
            path: path.to_path_buf(),
            state: Mutex::new(State {
                session,
                file: Some(file),
                saved_parts,
                is_new,
                attributes,
                principal: false,
                renewed: false,
                invalidated: false,
            }),
        })
    }

    /// The file's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// A copy of the HTTPie session (cookies, headers, auth), e.g. to send a request with
    /// [`SessionClient`](super::SessionClient); give it back with
    /// [`set_client_session`](Self::set_client_session).
    pub fn client_session(&self) -> ClientSession {
        self.lock().session.clone()
    }

    /// Replaces the HTTPie session, keeping this handle's attributes and principal.
    pub fn set_client_session(&self, mut session: ClientSession) {
        let mut state = self.lock();
        let extension = state.session.extra().get(EXTENSION_KEY).cloned();
        session.set_extra(EXTENSION_KEY, extension);
        state.session = session;
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// The file's own parts as JSON, for comparing.
fn parts(session: &ClientSession) -> Map<String, Value> {
    let written: Value = serde_json::from_str(&session.to_httpie_json()).unwrap_or_default();
    PART_NAMES
        .iter()
        .map(|(key, _)| {
            (
                key.to_string(),
                written.get(key).cloned().unwrap_or_default(),
            )
        })
        .collect()
}

/// The session file's extension key (this crate's part of the file), empty when absent.
fn extension_of(session: &ClientSession) -> Map<String, Value> {
    match session.extra().get(EXTENSION_KEY) {
        Some(Value::Object(map)) => map.clone(),
        _ => Map::new(),
    }
}

impl State {
    fn extension(&self) -> Map<String, Value> {
        extension_of(&self.session)
    }

    fn set_extension(&mut self, extension: Map<String, Value>) {
        let value = (!extension.is_empty()).then_some(Value::Object(extension));
        self.session.set_extra(EXTENSION_KEY, value);
    }

    /// Puts the attributes into the extension key, as the file keeps them.
    fn write_attributes(&mut self) {
        let mut extension = self.extension();
        let values = self.attributes.values();
        if values.is_empty() {
            extension.remove("attributes");
        } else {
            let map = values.iter().map(|(k, v)| (k.clone(), v.clone())).collect();
            extension.insert("attributes".into(), Value::Object(map));
        }
        self.set_extension(extension);
    }

    fn stored_principal(&self) -> Option<String> {
        self.extension()
            .get("principal")
            .and_then(Value::as_str)
            .map(str::to_string)
    }

    fn principal(&self) -> Option<String> {
        self.stored_principal()
            .or_else(|| match self.session.auth() {
                Some(Auth::Basic { username, .. }) if !username.is_empty() => {
                    Some(username.clone())
                }
                _ => None,
            })
    }

    fn changes(&self) -> Changes {
        let mut set = self.attributes.changes.set.clone();
        let now = parts(&self.session);
        for (key, name) in PART_NAMES {
            if now.get(key) != self.saved_parts.get(key) {
                set.insert(name.to_string());
            }
        }
        Changes {
            set,
            removed: self.attributes.changes.removed.clone(),
            cleared: false,
            principal: self.principal,
            lifetime: false,
            renewed: self.renewed,
            invalidated: false,
        }
    }

    fn mark_saved(&mut self) {
        self.saved_parts = parts(&self.session);
        self.is_new = false;
        self.attributes.saved();
        self.principal = false;
        self.renewed = false;
    }
}

fn attribute_error(key: &str, e: &serde_json::Error) -> ClientError {
    ClientError::Attribute {
        key: key.to_string(),
        message: e.to_string(),
    }
}

/// The earliest expiry among the session's cookies that have one.
fn earliest_cookie_expiry(session: &ClientSession) -> Option<Timestamp> {
    session
        .cookies
        .iter()
        .filter_map(|cookie| cookie.expires)
        .min()
        .map(|expires| {
            let millis = expires.unix_timestamp_nanos() / 1_000_000;
            Timestamp::from_millis(u64::try_from(millis).unwrap_or(0))
        })
}

#[async_trait]
impl Session for HttpieSession {
    type Error = ClientError;

    async fn identity(&self) -> Result<Option<String>, ClientError> {
        Ok(Some(self.path.display().to_string()))
    }

    async fn principal(&self) -> Result<Option<String>, ClientError> {
        Ok(self.lock().principal())
    }

    /// `Some` records the principal in the file's extension key; `None` logs out: it forgets
    /// the recorded principal and the auth (the credentials are what log a client in),
    /// keeping cookies and headers.
    async fn set_principal(&self, principal: Option<String>) -> Result<(), ClientError> {
        let mut state = self.lock();
        let mut extension = state.extension();
        match principal {
            Some(name) => {
                extension.insert("principal".into(), Value::String(name));
            }
            None => {
                extension.remove("principal");
                state.session.set_auth(None);
            }
        }
        state.set_extension(extension);
        state.principal = true;
        Ok(())
    }

    async fn times(&self) -> Result<SessionTimes, ClientError> {
        Ok(SessionTimes {
            created_at: None,
            last_access: None,
            expires_at: earliest_cookie_expiry(&self.lock().session),
        })
    }

    /// Nothing to do: HTTPie keeps no time of last use.
    async fn touch(&self) -> Result<(), ClientError> {
        Ok(())
    }

    /// The server decides how long its cookies live: the end is returned unchanged.
    async fn extend(&self, _by: Duration) -> Result<Option<Timestamp>, ClientError> {
        Ok(earliest_cookie_expiry(&self.lock().session))
    }

    async fn get<T>(&self, key: &str) -> Result<Option<T>, ClientError>
    where
        T: DeserializeOwned + Send,
    {
        self.lock()
            .attributes
            .get(key)
            .map_err(|e| attribute_error(key, &e))
    }

    async fn insert<T>(&self, key: &str, value: &T) -> Result<(), ClientError>
    where
        T: Serialize + Sync + ?Sized,
    {
        self.lock()
            .attributes
            .insert(key, value)
            .map_err(|e| attribute_error(key, &e))
    }

    async fn remove(&self, key: &str) -> Result<bool, ClientError> {
        Ok(self.lock().attributes.remove(key))
    }

    async fn keys(&self) -> Result<Vec<String>, ClientError> {
        Ok(self.lock().attributes.keys())
    }

    async fn changes(&self) -> Changes {
        let state = self.lock();
        if state.invalidated {
            return Changes::default();
        }
        state.changes()
    }

    async fn cycle_id(&self) -> Result<(), ClientError> {
        let mut state = self.lock();
        state.session.cookies.clear();
        state.renewed = true;
        Ok(())
    }

    /// Writes the file when something changed (a read-only session only when it is new);
    /// the write is small and synchronous, done under the handle's lock.
    async fn save(&self) -> Result<(), ClientError> {
        let mut state = self.lock();
        if state.invalidated || state.changes().is_empty() {
            return Ok(());
        }
        if state.session.is_read_only() && !state.is_new {
            return Ok(());
        }
        state.write_attributes();
        if let Some(file) = &state.file {
            file.save(&state.session)?;
        }
        state.mark_saved();
        Ok(())
    }

    /// Deletes the file (and its lock file) at once.
    async fn invalidate(&self) -> Result<(), ClientError> {
        let mut state = self.lock();
        state.invalidated = true;
        if let Some(file) = state.file.take() {
            file.delete()?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use super::*;
    use url::Url;

    fn block_on<F: std::future::Future>(future: F) -> F::Output {
        tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap()
            .block_on(future)
    }

    /// A session file with a basic auth, a header and two cookies (one expiring).
    fn written_by_a_request(path: &Path) {
        let url = Url::parse("http://api.test/").unwrap();
        let mut session = ClientSession::new("api.test");
        session.set_auth(Some(Auth::basic_from_raw("alice:pw")));
        session.update_headers(&url, &[("X-Team".into(), "core".into())]);
        session
            .cookies
            .store_set_cookie(&url, "sid=1; Path=/; Expires=Wed, 01 Jan 2100 00:00:00 GMT")
            .unwrap();
        session
            .cookies
            .store_set_cookie(&url, "theme=dark; Path=/")
            .unwrap();
        SessionFile::lock(path).unwrap().save(&session).unwrap();
    }

    #[test]
    fn identity_principal_and_times_come_from_the_file() {
        block_on(async {
            let dir = tempfile::tempdir().unwrap();
            let path = dir.path().join("s.json");
            written_by_a_request(&path);
            let session = HttpieSession::open(&path, "api.test").unwrap();
            assert_eq!(
                session.identity().await.unwrap(),
                Some(path.display().to_string())
            );
            assert_eq!(session.principal().await.unwrap().as_deref(), Some("alice"));
            let times = session.times().await.unwrap();
            assert_eq!(times.created_at, None);
            assert_eq!(
                times.expires_at,
                Some(Timestamp::from_millis(4_102_444_800_000))
            );
            assert_eq!(
                session.extend(Duration::from_secs(60)).await.unwrap(),
                times.expires_at
            );
            assert!(!session.is_modified().await);
        });
    }

    #[test]
    fn attributes_are_typed_tracked_and_kept_beside_httpies_keys() {
        block_on(async {
            let dir = tempfile::tempdir().unwrap();
            let path = dir.path().join("s.json");
            written_by_a_request(&path);
            let before = ClientSession::from_httpie_json(
                &std::fs::read_to_string(&path).unwrap(),
                "api.test",
            )
            .unwrap();
            let session = HttpieSession::open(&path, "api.test").unwrap();
            session.insert("visits", &3u32).await.unwrap();
            session.insert("gone", "x").await.unwrap();
            assert!(session.remove("gone").await.unwrap());
            let changes = session.changes().await;
            assert_eq!(changes.set, BTreeSet::from(["visits".to_string()]));
            assert_eq!(changes.removed, BTreeSet::from(["gone".to_string()]));
            session.save().await.unwrap();
            assert!(!session.is_modified().await);
            drop(session);

            let text = std::fs::read_to_string(&path).unwrap();
            let file: Value = serde_json::from_str(&text).unwrap();
            assert_eq!(file[EXTENSION_KEY]["attributes"]["visits"], 3);
            let after = ClientSession::from_httpie_json(&text, "api.test").unwrap();
            assert_eq!(after.headers(), before.headers());
            assert_eq!(after.auth(), before.auth());
            assert_eq!(after.cookies.len(), before.cookies.len());

            let again = HttpieSession::open(&path, "api.test").unwrap();
            assert_eq!(again.get::<u32>("visits").await.unwrap(), Some(3));
            assert_eq!(again.keys().await.unwrap(), vec!["visits".to_string()]);
            assert!(again.get::<String>("visits").await.is_err());
        });
    }

    #[test]
    fn nothing_changed_means_nothing_written() {
        block_on(async {
            let dir = tempfile::tempdir().unwrap();
            let path = dir.path().join("s.json");
            // A new session never written to is never stored.
            let session = HttpieSession::open(&path, "api.test").unwrap();
            session.save().await.unwrap();
            assert!(!path.exists());
            drop(session);

            written_by_a_request(&path);
            let session = HttpieSession::open(&path, "api.test").unwrap();
            session.insert("same", &1).await.unwrap();
            session.save().await.unwrap();
            std::fs::write(&path, "{\"written\": \"by someone else\"}").unwrap();
            session.insert("same", &1).await.unwrap();
            session.save().await.unwrap();
            assert_eq!(
                std::fs::read_to_string(&path).unwrap(),
                "{\"written\": \"by someone else\"}"
            );
        });
    }

    #[test]
    fn changes_to_cookies_headers_and_auth_are_tracked() {
        block_on(async {
            let dir = tempfile::tempdir().unwrap();
            let path = dir.path().join("s.json");
            written_by_a_request(&path);
            let session = HttpieSession::open(&path, "api.test").unwrap();
            let mut client = session.client_session();
            client
                .cookies
                .store_set_cookie(&Url::parse("http://api.test/").unwrap(), "n=1")
                .unwrap();
            session.set_client_session(client);
            let changes = session.changes().await;
            assert_eq!(changes.set, BTreeSet::from(["httpie.cookies".to_string()]));

            session.set_principal(None).await.unwrap();
            let changes = session.changes().await;
            assert!(changes.principal && changes.set.contains("httpie.auth"));
            assert_eq!(session.principal().await.unwrap(), None);
            session.save().await.unwrap();
            // The lock is held by `session`: open a second handle only after dropping it.
            drop(session);
            let saved = HttpieSession::open(&path, "api.test").unwrap();
            assert_eq!(saved.principal().await.unwrap(), None);
            assert_eq!(saved.client_session().cookies.len(), 3);
        });
    }

    #[test]
    fn invalidate_deletes_the_file_and_nothing_brings_it_back() {
        block_on(async {
            let dir = tempfile::tempdir().unwrap();
            let path = dir.path().join("s.json");
            written_by_a_request(&path);
            let session = HttpieSession::open(&path, "api.test").unwrap();
            session.invalidate().await.unwrap();
            assert!(!path.exists());
            session.insert("late", &1).await.unwrap();
            assert!(session.changes().await.is_empty());
            session.save().await.unwrap();
            assert!(!path.exists());
        });
    }

    #[test]
    fn a_read_only_session_is_saved_only_when_new() {
        block_on(async {
            let dir = tempfile::tempdir().unwrap();
            let path = dir.path().join("s.json");
            written_by_a_request(&path);
            let before = std::fs::read_to_string(&path).unwrap();
            let session = HttpieSession::open(&path, "api.test").unwrap();
            let mut client = session.client_session();
            client.set_read_only(true);
            session.set_client_session(client);
            session.insert("a", &1).await.unwrap();
            session.save().await.unwrap();
            assert_eq!(std::fs::read_to_string(&path).unwrap(), before);
        });
    }

    #[test]
    fn cycle_id_forgets_the_servers_cookies() {
        block_on(async {
            let dir = tempfile::tempdir().unwrap();
            let path = dir.path().join("s.json");
            written_by_a_request(&path);
            let session = HttpieSession::open(&path, "api.test").unwrap();
            session.cycle_id().await.unwrap();
            let changes = session.changes().await;
            assert!(changes.renewed && changes.set.contains("httpie.cookies"));
            assert!(session.client_session().cookies.is_empty());
            assert_eq!(session.times().await.unwrap().expires_at, None);
        });
    }
}
