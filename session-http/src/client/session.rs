//! A client session: cookies, headers and auth kept for one host under one name.

use http::HeaderMap;
use http::header::{AUTHORIZATION, COOKIE, HeaderName, HeaderValue};
use serde_json::{Map, Value};
use session_core::{ChangeSet, Codec, ExpiryPolicy, Record, SessionKey, SessionStore, StoreConfig};
use url::Url;

use super::auth::Auth;
use super::cookie_jar::{CookieJar, StoredCookie, request_host};
use super::error::ClientError;
use super::httpie_format::{
    FileAuth, HttpieFileParts, Layout, is_storable_header, parse_httpie_file, write_httpie_file,
};

/// The attribute under which [`ClientSession::save_to_store`] keeps the HTTPie JSON.
pub const STORE_ATTRIBUTE: &str = "httpie_session";

/// Cookies, headers and auth that a client keeps between requests to one host, the way
/// HTTPie's `--session` does.
///
/// - Requests get the session's headers (unless the request sets the same header), its
///   `Authorization` and the `Cookie` header the jar produces for the request URL
///   ([`apply`](Self::apply)).
/// - [`update_headers`](Self::update_headers) records a request's headers as HTTPie does:
///   new values replace old ones of the same name, `Content-*`, `If-*` and HTTPie's default
///   `User-Agent` are never kept, and a `Cookie:` header becomes host-only cookies.
/// - [`store_response`](Self::store_response) takes the `Set-Cookie` headers of every
///   response, each hop of a redirect with its own URL.
/// - A read-only session ([`set_read_only`](Self::set_read_only)) is used but not saved.
#[derive(Clone, Debug)]
pub struct ClientSession {
    host: String,
    /// The session's cookies.
    pub cookies: CookieJar,
    headers: Vec<(String, String)>,
    auth: FileAuth,
    read_only: bool,
    extra: Map<String, Value>,
    original_auth: Option<(FileAuth, Value)>,
    layout: Layout,
    /// The store record this session was loaded from or last saved as, and its version: a
    /// save under that key is checked against it, so that another run's save in between is a
    /// conflict instead of a silent overwrite.
    stored: Option<(SessionKey, u64)>,
}

impl ClientSession {
    /// An empty session bound to `host` (a host name or IP address, without port).
    pub fn new(host: &str) -> Self {
        ClientSession {
            host: bare_host(host),
            cookies: CookieJar::new(),
            headers: Vec::new(),
            auth: FileAuth::None,
            read_only: false,
            extra: Map::new(),
            original_auth: None,
            stored: None,
            layout: Layout::default(),
        }
    }

    /// The host the session is bound to (lower case, without port).
    pub fn host(&self) -> &str {
        &self.host
    }

    /// The stored headers, in order.
    pub fn headers(&self) -> &[(String, String)] {
        &self.headers
    }

    /// Sets (replacing any of the same name, case-insensitively) a stored header.
    pub fn set_header(&mut self, name: &str, value: &str) {
        self.update_headers_with_url(&[(name.to_string(), value.to_string())], None);
    }

    /// Removes a stored header (every value of it); returns whether there was one.
    pub fn remove_header(&mut self, name: &str) -> bool {
        let before = self.headers.len();
        self.headers.retain(|(n, _)| !n.eq_ignore_ascii_case(name));
        before != self.headers.len()
    }

    /// The auth the session applies, if it is one this crate knows.
    pub fn auth(&self) -> Option<&Auth> {
        match &self.auth {
            FileAuth::Known(auth) => Some(auth),
            _ => None,
        }
    }

    /// The auth as found in the file, including kinds this crate cannot apply.
    pub fn file_auth(&self) -> &FileAuth {
        &self.auth
    }

    /// Sets or clears the auth.
    pub fn set_auth(&mut self, auth: Option<Auth>) {
        self.auth = auth.map_or(FileAuth::None, FileAuth::Known);
    }

    /// Whether the session is read-only (used, never saved).
    pub fn is_read_only(&self) -> bool {
        self.read_only
    }

    /// Makes the session read-only or writable.
    pub fn set_read_only(&mut self, read_only: bool) {
        self.read_only = read_only;
    }

    /// The layout the session was read in (legacy layouts are written back as current).
    pub fn layout(&self) -> Layout {
        self.layout
    }

    /// Top-level keys of the file this session does not interpret (`__meta__` among them).
    pub fn extra(&self) -> &Map<String, Value> {
        &self.extra
    }

    /// Sets (`Some`) or removes (`None`) a top-level key of the file this session does not
    /// interpret; HTTPie 3.2.4 keeps such keys when it saves the file. The keys this session
    /// writes itself (`headers`, `cookies`, `auth`) are refused (returns `false`).
    pub fn set_extra(&mut self, key: &str, value: Option<Value>) -> bool {
        if matches!(key, "headers" | "cookies" | "auth") {
            return false;
        }
        match value {
            Some(value) => {
                self.extra.insert(key.to_string(), value);
            }
            None => {
                self.extra.remove(key);
            }
        }
        true
    }

    /// Records the headers of a request to `url` as HTTPie does (see the type's docs).
    pub fn update_headers(&mut self, request_url: &Url, request_headers: &[(String, String)]) {
        self.update_headers_with_url(request_headers, Some(request_url));
    }

    fn update_headers_with_url(&mut self, request_headers: &[(String, String)], url: Option<&Url>) {
        let mut new_headers: Vec<(String, String)> = Vec::new();
        for (name, value) in request_headers {
            if name.eq_ignore_ascii_case("user-agent") && value.starts_with("HTTPie/") {
                continue;
            }
            if name.eq_ignore_ascii_case("cookie") {
                self.add_request_cookies(value, url);
                continue;
            }
            if is_storable_header(name) {
                new_headers.push((name.clone(), value.clone()));
            }
        }
        for (name, value) in &self.headers {
            if !new_headers
                .iter()
                .any(|(n, _)| n.eq_ignore_ascii_case(name))
            {
                new_headers.push((name.clone(), value.clone()));
            }
        }
        self.headers = new_headers;
    }

    fn add_request_cookies(&mut self, header: &str, url: Option<&Url>) {
        let host = url
            .and_then(request_host)
            .unwrap_or_else(|| self.host.clone());
        for pair in header.split(';') {
            let Some((name, value)) = pair.split_once('=') else {
                continue;
            };
            let name = name.trim();
            if name.is_empty() {
                continue;
            }
            let value = value.trim();
            let value = value
                .strip_prefix('"')
                .and_then(|v| v.strip_suffix('"'))
                .unwrap_or(value);
            self.cookies
                .insert(StoredCookie::new(name, value, host.clone(), "/"));
        }
    }

    /// Adds the session's headers, `Authorization` and `Cookie` to a request to `url`.
    /// Headers the request already has win over stored ones; a `Cookie` header is replaced
    /// by the jar's (request cookies are put into the jar by [`update_headers`](Self::update_headers)).
    pub fn apply(&self, url: &Url, headers: &mut HeaderMap) -> Result<(), ClientError> {
        for (name, value) in &self.headers {
            let name = HeaderName::from_bytes(name.as_bytes())
                .map_err(|_| ClientError::InvalidHeader(name.clone()))?;
            if headers.contains_key(&name) {
                continue;
            }
            let value = HeaderValue::from_str(value)
                .map_err(|_| ClientError::InvalidHeader(name.to_string()))?;
            headers.append(name, value);
        }
        if let Some(auth) = self.auth()
            && !headers.contains_key(AUTHORIZATION)
        {
            let value = HeaderValue::from_str(&auth.header_value())
                .map_err(|_| ClientError::InvalidHeader("Authorization".into()))?;
            headers.insert(AUTHORIZATION, value);
        }
        self.apply_cookies(url, headers)
    }

    /// Sets the `Cookie` header for `url` from the jar alone (for redirect hops).
    pub fn apply_cookies(&self, url: &Url, headers: &mut HeaderMap) -> Result<(), ClientError> {
        remove_keeping_order(headers, &[COOKIE]);
        if let Some(cookie) = self.cookies.cookie_header(url) {
            let value = HeaderValue::from_str(&cookie)
                .map_err(|_| ClientError::InvalidHeader("Cookie".into()))?;
            headers.insert(COOKIE, value);
        }
        Ok(())
    }

    /// Takes the `Set-Cookie` headers of a response to `url`.
    pub fn store_response(&mut self, url: &Url, headers: &HeaderMap) {
        self.cookies.store_response_headers(url, headers);
    }

    /// Reads an HTTPie session file's text; cookies without a domain are bound to `host`.
    pub fn from_httpie_json(text: &str, host: &str) -> Result<Self, ClientError> {
        let host = bare_host(host);
        let parts = parse_httpie_file(text, &host)?;
        Ok(ClientSession {
            host,
            cookies: parts.cookies,
            headers: parts.headers,
            auth: parts.auth,
            read_only: false,
            extra: parts.extra,
            original_auth: parts.original_auth,
            layout: parts.layout,
            stored: None,
        })
    }

    /// The session as an HTTPie 3.x session file (current layout, with the final newline).
    pub fn to_httpie_json(&self) -> String {
        write_httpie_file(&HttpieFileParts {
            headers: self.headers.clone(),
            cookies: self.cookies.clone(),
            auth: self.auth.clone(),
            extra: self.extra.clone(),
            original_auth: self.original_auth.clone(),
            layout: self.layout,
        })
    }

    /// The key [`save_to_store`](Self::save_to_store) uses for a session `name` of a
    /// `host_port` directory name (as in `sessions/<host>_<port>/`).
    pub fn store_key(host_dir: &str, name: &str) -> SessionKey {
        SessionKey::derive("httpie-session", &[host_dir, name])
    }

    /// Saves the session into any session store under `key` (its HTTPie JSON in one
    /// attribute). Does nothing for a read-only session.
    ///
    /// Written with the store's version check: when this session was loaded from `key` (or
    /// last saved there), a save by anyone else since then makes this one fail with a
    /// [`session_core::Error::Conflict`] (and a session new here fails with
    /// `AlreadyExists` when another run created it first) instead of overwriting their
    /// cookies. The record is never absent in between, so other readers always find it.
    pub async fn save_to_store(
        &mut self,
        store: &dyn SessionStore,
        key: SessionKey,
        config: &StoreConfig,
    ) -> Result<(), ClientError> {
        if self.read_only {
            return Ok(());
        }
        let text = self.to_httpie_json();
        let version = match self.stored {
            Some((stored_key, version)) if stored_key == key => {
                let encode = |value: &String| {
                    Codec::Json
                        .encode_value(value)
                        .map_err(session_core::Error::from)
                };
                let mut changes = ChangeSet::default();
                changes.upsert(STORE_ATTRIBUTE.to_owned(), encode(&text)?);
                changes.upsert("host".to_owned(), encode(&self.host)?);
                store.save(&key, &changes, version).await?
            }
            _ => {
                let mut record = Record::new(key, Codec::Json, ExpiryPolicy::NEVER, config.now());
                record.insert(STORE_ATTRIBUTE, &text)?;
                record.insert("host", &self.host)?;
                store.create(&record).await?;
                record.version
            }
        };
        self.stored = Some((key, version));
        Ok(())
    }

    /// Loads a session saved by [`save_to_store`](Self::save_to_store), if there is one.
    pub async fn load_from_store(
        store: &dyn SessionStore,
        key: &SessionKey,
    ) -> Result<Option<Self>, ClientError> {
        let Some(record) = store.load(key).await? else {
            return Ok(None);
        };
        let host: String = record.get("host")?.unwrap_or_default();
        let Some(text) = record.get::<String>(STORE_ATTRIBUTE)? else {
            return Err(ClientError::Format(format!(
                "store record {key} holds no {STORE_ATTRIBUTE} attribute"
            )));
        };
        let mut session = ClientSession::from_httpie_json(&text, &host)?;
        session.stored = Some((*key, record.version));
        Ok(Some(session))
    }
}

/// A host without port, brackets or case: `Example.com:8080` → `example.com`.
fn bare_host(host: &str) -> String {
    let host = host.trim();
    let host = if let Some(rest) = host.strip_prefix('[') {
        rest.split(']').next().unwrap_or(rest)
    } else {
        host.split(':').next().unwrap_or(host)
    };
    host.to_ascii_lowercase()
}

/// Removes the headers named `names`, keeping the others in their order, as requests does
/// between redirect hops (`HeaderMap::remove` moves the last header into the gap).
pub(super) fn remove_keeping_order(headers: &mut HeaderMap, names: &[HeaderName]) {
    if !names.iter().any(|name| headers.contains_key(name)) {
        return;
    }
    let kept: Vec<(HeaderName, HeaderValue)> = headers
        .iter()
        .filter(|(name, _)| !names.contains(name))
        .map(|(name, value)| (name.clone(), value.clone()))
        .collect();
    headers.clear();
    for (name, value) in kept {
        headers.append(name, value);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn url(s: &str) -> Url {
        Url::parse(s).unwrap()
    }

    #[test]
    fn headers_update_like_httpie() {
        let mut session = ClientSession::new("api.test:8080");
        assert_eq!(session.host(), "api.test");
        let u = url("http://api.test:8080/");
        session.update_headers(
            &u,
            &[
                ("X-A".into(), "1".into()),
                ("Content-Type".into(), "application/json".into()),
                ("If-Match".into(), "x".into()),
                ("User-Agent".into(), "HTTPie/3.2.4".into()),
                ("Cookie".into(), "sid=abc; theme=\"dark\"".into()),
            ],
        );
        session.update_headers(
            &u,
            &[("x-b".into(), "2".into()), ("x-a".into(), "3".into())],
        );
        assert_eq!(
            session.headers(),
            &[
                ("x-b".to_string(), "2".to_string()),
                ("x-a".to_string(), "3".to_string())
            ]
        );
        assert_eq!(
            session.cookies.cookie_header(&u).as_deref(),
            Some("sid=abc; theme=dark")
        );
        assert_eq!(
            session.cookies.cookie_header(&url("http://other.test/")),
            None
        );
    }

    #[test]
    fn remove_header_drops_it_whatever_its_case() {
        let mut session = ClientSession::new("api.test");
        session.set_header("X-Token", "t");
        session.set_header("Accept", "text/plain");
        assert!(session.remove_header("x-token"));
        assert!(!session.remove_header("X-Token"), "nothing left to remove");
        assert_eq!(
            session.headers(),
            &[("Accept".to_string(), "text/plain".to_string())]
        );
    }

    #[test]
    fn apply_adds_headers_auth_and_cookies() {
        let mut session = ClientSession::new("api.test");
        let u = url("http://api.test/x");
        session.set_header("X-Token", "t");
        session.set_header("Accept", "text/plain");
        session.set_auth(Some(Auth::basic_from_raw("u:p")));
        session.cookies.store_set_cookie(&u, "a=1").unwrap();
        let mut headers = HeaderMap::new();
        headers.insert("accept", HeaderValue::from_static("application/json"));
        session.apply(&u, &mut headers).unwrap();
        assert_eq!(headers["x-token"], "t");
        assert_eq!(headers["accept"], "application/json");
        assert_eq!(headers["authorization"], "Basic dTpw");
        assert_eq!(headers["cookie"], "a=1");
    }

    #[tokio::test]
    async fn round_trips_through_a_store() {
        let store = session_core::MemoryStore::builder().build();
        let config = StoreConfig::default();
        let mut session = ClientSession::new("api.test");
        session.set_header("X-A", "1");
        let key = ClientSession::store_key("api.test", "dev");
        session.save_to_store(&store, key, &config).await.unwrap();
        session.set_header("X-A", "2");
        session.save_to_store(&store, key, &config).await.unwrap();
        let loaded = ClientSession::load_from_store(&store, &key)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(loaded.headers(), &[("X-A".to_string(), "2".to_string())]);
        assert_eq!(loaded.host(), "api.test");
    }

    #[tokio::test]
    async fn a_save_by_another_run_in_between_is_a_conflict_not_an_overwrite() {
        let store = session_core::MemoryStore::builder().build();
        let config = StoreConfig::default();
        let key = ClientSession::store_key("api.test", "shared");
        let load = || async {
            ClientSession::load_from_store(&store, &key)
                .await
                .unwrap()
                .unwrap()
        };
        let mut first_run = ClientSession::new("api.test");
        first_run.set_header("X-Run", "0");
        first_run.save_to_store(&store, key, &config).await.unwrap();

        let (mut one, mut two) = (load().await, load().await);
        one.set_header("X-Run", "1");
        two.set_header("X-Run", "2");
        one.save_to_store(&store, key, &config).await.unwrap();
        assert!(matches!(
            two.save_to_store(&store, key, &config).await,
            Err(ClientError::Store(session_core::Error::Conflict { .. }))
        ));
        assert_eq!(
            load().await.headers(),
            &[("X-Run".to_string(), "1".to_string())]
        );
        // The winner goes on saving; a second session new here finds the key taken.
        one.set_header("X-Run", "3");
        one.save_to_store(&store, key, &config).await.unwrap();
        assert!(
            ClientSession::new("api.test")
                .save_to_store(&store, key, &config)
                .await
                .is_err()
        );
        assert_eq!(
            load().await.headers(),
            &[("X-Run".to_string(), "3".to_string())]
        );
    }
}
