//! The HAC client: form login, session reuse through the cache, re-login and one retry, and
//! the Groovy, FlexibleSearch and Impex consoles, over `http://` or `https://` (the shared
//! [`HttpTransport`]; hac-client-core's `ignore_ssl` is [`crate::transport::Verify::Off`]).

use std::fmt;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use async_trait::async_trait;
use bytes::Bytes;
use http::{HeaderMap, HeaderValue, Method, Request, StatusCode, header};
use http_body_util::Full;
use session_core::{AuthError, Authenticator, LoginError, PasswordCredentials, TrackedAttributes};
use url::Url;

use super::cache::{CacheKey, CachedSession, SessionCache, now_seconds};
use super::error::HacError;
use super::html::{csrf_token, is_login_page};
use super::results::{FlexSearchQuery, FlexSearchResult, GroovyResult, ImpexResult};
use crate::client::{CookieJar, StoredCookie};
use crate::transport::{HttpTransport, TransportError};

const MAX_REDIRECTS: usize = 10;
/// The session cookie of HAC (Tomcat).
pub const SESSION_COOKIE: &str = "JSESSIONID";
/// The load balancer's affinity cookie.
pub const ROUTE_COOKIE: &str = "ROUTE";

/// Where a password comes from when a login is needed: called at most once per login, so a
/// prompt or a read of stdin happens only when the cached session cannot be used.
pub type PasswordSource = Arc<dyn Fn() -> Option<String> + Send + Sync>;

/// How [`HacClient::login`] got its session.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LoginOutcome {
    /// The session was already established in this client.
    AlreadyLoggedIn,
    /// A cached session was validated and reused; no login request was sent.
    ReusedCached,
    /// A fresh form login was done.
    LoggedIn,
}

pub(super) struct Answer {
    status: StatusCode,
    headers: HeaderMap,
    body: Bytes,
}

/// What a client knows of its session. Kept behind a short-lived lock, never held across a
/// request; the client's operation lock is what serializes requests.
#[derive(Default)]
pub(super) struct State {
    pub(super) jar: CookieJar,
    pub(super) csrf: Option<String>,
    pub(super) ready: bool,
    pub(super) created_at: Option<f64>,
    pub(super) last_used_at: Option<f64>,
    /// Who is logged in, as [`session_core::Session::principal`] reports it.
    pub(super) principal: Option<String>,
    /// Attributes a program keeps with the session (see [`super::session`]), and what changed
    /// since the session was last filed.
    pub(super) tracked: TrackedAttributes,
    /// Set by a form login, consumed by the next `cycle_id`: HAC has just given the session a
    /// new `JSESSIONID`, so the login flow's id cycle has nothing left to do.
    pub(super) renewed_by_login: bool,
}

/// A client for one HAC user on one server and environment.
///
/// It keeps `JSESSIONID` and `ROUTE` in one cookie jar used by every request, files its session
/// in a [`SessionCache`] (shared with hac-client-core when it is a [`super::FileSessionCache`])
/// and validates a cached session before reusing it. When an operation meets a dead session
/// (401, 403, 405 or the login page) it drops the cache entry, logs in again and retries once.
/// Operations are serialized: one request at a time per client.
pub struct HacClient {
    key: CacheKey,
    base: Url,
    http: HttpTransport,
    password: Option<PasswordSource>,
    cache: Option<Arc<dyn SessionCache>>,
    timeout: Duration,
    /// Serializes operations and logins: one request sequence at a time per client.
    operations: tokio::sync::Mutex<()>,
    state: Mutex<State>,
}

impl fmt::Debug for HacClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HacClient")
            .field("key", &self.key)
            .field("has_password", &self.password.is_some())
            .field("cache", &self.cache)
            .field("timeout", &self.timeout)
            .field("transport", &self.http)
            .finish_non_exhaustive()
    }
}

impl HacClient {
    /// A client for the user, server and environment of `key`, without a password (it can only
    /// reuse a cached session until one is given) and without a cache. An `https://` server's
    /// certificate is verified against the default roots; see [`HacClient::with_transport`].
    pub fn new(key: CacheKey) -> Result<Self, HacError> {
        let base = Url::parse(&key.base_url).map_err(|e| HacError::InvalidUrl {
            url: key.base_url.clone(),
            reason: e.to_string(),
        })?;
        match base.scheme() {
            "http" | "https" => {}
            other => {
                return Err(HacError::InvalidUrl {
                    url: key.base_url.clone(),
                    reason: format!("unsupported scheme {other:?}"),
                });
            }
        }
        if base.host().is_none() {
            return Err(HacError::InvalidUrl {
                url: key.base_url.clone(),
                reason: "no host".to_string(),
            });
        }
        Ok(HacClient {
            key,
            base,
            http: HttpTransport::default(),
            password: None,
            cache: None,
            timeout: Duration::from_secs(30),
            operations: tokio::sync::Mutex::new(()),
            state: Mutex::new(State::default()),
        })
    }

    /// Uses `password` when a login is needed. It is kept in memory only.
    pub fn with_password(self, password: impl Into<String>) -> Self {
        let password = password.into();
        self.with_password_source(Arc::new(move || Some(password.clone())))
    }

    /// Asks `source` for the password when (and only when) a login is needed.
    pub fn with_password_source(mut self, source: PasswordSource) -> Self {
        self.password = Some(source);
        self
    }

    /// Files the session in `cache` and reuses a session found there.
    pub fn with_cache(mut self, cache: Arc<dyn SessionCache>) -> Self {
        self.cache = Some(cache);
        self
    }

    /// Sends over `transport`: its TLS settings (a CA bundle, no verification as
    /// hac-client-core's `ignore_ssl`, a client certificate) and its connection pool.
    pub fn with_transport(mut self, transport: HttpTransport) -> Self {
        self.http = transport;
        self
    }

    /// How long one request may take (default 30 s).
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// The user, server and environment.
    pub fn key(&self) -> &CacheKey {
        &self.key
    }

    /// Makes sure there is a session: the one this client has, else a cached one that the
    /// server still accepts, else a fresh login.
    pub async fn login(&self) -> Result<LoginOutcome, HacError> {
        let _operation = self.operations.lock().await;
        self.ensure().await
    }

    /// Makes sure there is a session without logging in: the one this client has, else a
    /// cached one that the server still accepts (a dead one is dropped from the cache). Says
    /// whether there is one; no password is asked for.
    pub async fn resume(&self) -> Result<bool, HacError> {
        let _operation = self.operations.lock().await;
        if self.state().ready {
            return Ok(true);
        }
        self.take_up_cached().await
    }

    /// Logs in afresh, whatever the cache holds, and files the new session.
    pub async fn login_fresh(&self) -> Result<(), HacError> {
        let _operation = self.operations.lock().await;
        self.log_in_afresh().await
    }

    /// The session this client holds, in the cache's form.
    pub async fn session(&self) -> Option<CachedSession> {
        self.snapshot(&self.state())
    }

    /// Drops the session from the cache and from this client (nothing is sent to the server;
    /// [`session_core::Session::invalidate`] logs out at the server too).
    pub async fn forget(&self) -> Result<bool, HacError> {
        let _operation = self.operations.lock().await;
        self.forget_locally().await
    }

    /// Drops the session from this client and the cache; the caller holds the operation lock.
    pub(super) async fn forget_locally(&self) -> Result<bool, HacError> {
        *self.state() = State::default();
        self.drop_from_cache().await
    }

    /// Removes this client's entry from the cache; says whether there was one.
    pub(super) async fn drop_from_cache(&self) -> Result<bool, HacError> {
        match &self.cache {
            Some(cache) => cache.remove(&self.key).await,
            None => Ok(false),
        }
    }

    /// Runs a Groovy script; `commit` keeps its changes (HAC rolls them back otherwise).
    pub async fn groovy(&self, script: &str, commit: bool) -> Result<GroovyResult, HacError> {
        let form = [
            ("script", script.to_string()),
            ("scriptType", "groovy".to_string()),
            ("commit", commit.to_string()),
        ];
        let body = self
            .operate(
                "Groovy execution",
                "/hac/console/scripting/execute",
                &form,
                true,
            )
            .await?;
        GroovyResult::from_json(&body, commit)
    }

    /// Runs a FlexibleSearch query. A query HAC cannot run is an `Ok` result with an exception.
    pub async fn flexible_search(
        &self,
        query: &FlexSearchQuery,
    ) -> Result<FlexSearchResult, HacError> {
        let form = [
            ("flexibleSearchQuery", query.query.clone()),
            ("sqlQuery", String::new()),
            ("maxCount", query.max_count.to_string()),
            ("user", self.key.username.clone()),
            ("locale", query.locale.clone()),
            ("dataSource", "master".to_string()),
            ("commit", "false".to_string()),
        ];
        let body = self
            .operate(
                "FlexibleSearch",
                "/hac/console/flexsearch/execute",
                &form,
                true,
            )
            .await?;
        FlexSearchResult::from_json(&body)
    }

    /// Imports Impex (strict validation, one thread, UTF-8, as the HAC console's defaults).
    pub async fn import_impex(&self, script: &str) -> Result<ImpexResult, HacError> {
        let form = [
            ("scriptContent", script.to_string()),
            ("validationEnum", "IMPORT_STRICT".to_string()),
            ("encoding", "UTF-8".to_string()),
            ("maxThreads", "1".to_string()),
            ("_legacyMode", "on".to_string()),
            ("_enableCodeExecution", "on".to_string()),
        ];
        let body = self
            .operate("Impex import", "/hac/console/impex/import", &form, false)
            .await?;
        ImpexResult::from_html(&String::from_utf8_lossy(&body))
    }

    pub(super) fn url(&self, path: &str) -> Result<Url, HacError> {
        self.base.join(path).map_err(|e| HacError::InvalidUrl {
            url: format!("{}{path}", self.key.base_url),
            reason: e.to_string(),
        })
    }

    pub(super) fn cookie_value(&self, state: &State, name: &str) -> Option<String> {
        let url = self.url("/hac/").ok()?;
        state
            .jar
            .matching(&url)
            .into_iter()
            .find(|c| c.name == name)
            .map(|c| c.value.clone())
    }

    /// The client's session state, locked for a moment (never across a request).
    pub(super) fn state(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Holds off other operations of this client (requests, logins) while the guard lives.
    pub(super) async fn operation_lock(&self) -> tokio::sync::MutexGuard<'_, ()> {
        self.operations.lock().await
    }

    pub(super) fn snapshot(&self, state: &State) -> Option<CachedSession> {
        let session_id = self.cookie_value(state, SESSION_COOKIE)?;
        let csrf_token = state.csrf.clone()?;
        let now = state.last_used_at.unwrap_or_else(now_seconds);
        Some(CachedSession {
            session_id,
            csrf_token,
            route_cookie: self
                .cookie_value(state, ROUTE_COOKIE)
                .map(|r| format!("ROUTE={r}")),
            environment: self.key.environment.clone(),
            base_url: self.key.base_url.clone(),
            username: self.key.username.clone(),
            created_at: state.created_at.unwrap_or(now),
            last_used_at: now,
            is_authenticated: true,
        })
    }

    /// Files the session in the cache (when there is a cache and a session), used now.
    pub(super) async fn file_in_cache(&self) -> Result<(), HacError> {
        let snapshot = {
            let mut state = self.state();
            state.last_used_at = Some(now_seconds());
            self.snapshot(&state)
        };
        if let (Some(cache), Some(session)) = (&self.cache, snapshot) {
            cache.save(&session).await?;
        }
        Ok(())
    }

    /// Makes sure there is a session; the caller holds the operation lock.
    async fn ensure(&self) -> Result<LoginOutcome, HacError> {
        if self.state().ready {
            return Ok(LoginOutcome::AlreadyLoggedIn);
        }
        if self.take_up_cached().await? {
            return Ok(LoginOutcome::ReusedCached);
        }
        self.log_in_afresh().await?;
        Ok(LoginOutcome::LoggedIn)
    }

    /// Takes up the cached session if the server still accepts it, and drops it from the
    /// cache if not; the caller holds the operation lock.
    async fn take_up_cached(&self) -> Result<bool, HacError> {
        let Some(cache) = &self.cache else {
            return Ok(false);
        };
        let Some(cached) = cache.load(&self.key).await? else {
            return Ok(false);
        };
        self.adopt(&cached);
        if self.validate().await? {
            {
                let mut state = self.state();
                state.ready = true;
                state.principal = Some(self.key.username.clone());
            }
            self.file_in_cache().await?;
            return Ok(true);
        }
        tracing::debug!(key = %self.key.digest(), "cached HAC session is no longer valid");
        cache.remove(&self.key).await?;
        Ok(false)
    }

    /// Logs in with the password through session-core's one login flow (the form login,
    /// the id cycle, the principal, filing the session); the caller holds the operation lock.
    async fn log_in_afresh(&self) -> Result<(), HacError> {
        let password = self
            .password
            .as_ref()
            .and_then(|source| source())
            .ok_or(HacError::PasswordRequired)?;
        let credentials = PasswordCredentials::new(self.key.username.clone(), password);
        match session_core::log_in(self, &FormLogin { client: self }, &credentials).await {
            Ok(_) => Ok(()),
            Err(LoginError::Session(e)) => Err(e),
            Err(LoginError::Auth(AuthError::InvalidCredentials)) => {
                Err(HacError::InvalidCredentials {
                    base_url: self.key.base_url.clone(),
                    username: self.key.username.clone(),
                })
            }
            Err(LoginError::Auth(AuthError::Unavailable(source))) => {
                match source.downcast::<HacError>() {
                    Ok(hac) => Err(*hac),
                    Err(other) => Err(HacError::InvalidResponse {
                        operation: "login",
                        detail: other.to_string(),
                    }),
                }
            }
            Err(LoginError::Auth(other)) => Err(HacError::InvalidResponse {
                operation: "login",
                detail: other.to_string(),
            }),
        }
    }

    /// Puts a cached session's cookies into the jar, as the server set them.
    fn adopt(&self, cached: &CachedSession) {
        let host = crate::client::cookie_jar::request_host(&self.base).unwrap_or_default();
        let mut state = self.state();
        state.jar.clear();
        let mut session = StoredCookie::new(SESSION_COOKIE, &cached.session_id, &host, "/hac");
        session.http_only = true;
        state.jar.insert(session);
        if let Some(route) = cached.route() {
            state
                .jar
                .insert(StoredCookie::new(ROUTE_COOKIE, route, &host, "/"));
        }
        state.csrf = Some(cached.csrf_token.clone());
        state.created_at = Some(cached.created_at);
        state.last_used_at = Some(cached.last_used_at);
    }

    /// Whether the server still accepts the session in the jar: `GET /hac/` answers the console,
    /// not a redirect to the login page. A fresh token on the page replaces the cached one.
    pub(super) async fn validate(&self) -> Result<bool, HacError> {
        let url = self.url("/hac/")?;
        let answer = self.send(Method::GET, &url, &[], None).await?;
        if answer.status != StatusCode::OK {
            return Ok(false);
        }
        let page = String::from_utf8_lossy(&answer.body);
        if is_login_page(&page) {
            return Ok(false);
        }
        if let Some(token) = csrf_token(&page) {
            self.state().csrf = Some(token);
        }
        Ok(true)
    }

    /// HAC's form login with `password`: on success the jar holds the new `JSESSIONID` and the
    /// state its token; the caller holds the operation lock.
    async fn form_login(&self, password: &str) -> Result<(), HacError> {
        {
            let mut state = self.state();
            state.ready = false;
            state.csrf = None;
            state.created_at = None;
            state.jar.remove_where(|c| c.name == SESSION_COOKIE);
        }

        // 1. The login page, through the redirect from /hac/: a session and its token.
        let (page_url, answer) = self.get_following(self.url("/hac/")?).await?;
        if answer.status != StatusCode::OK {
            return Err(HacError::UnexpectedStatus {
                operation: "the login page",
                status: answer.status.as_u16(),
            });
        }
        let token = csrf_token(&String::from_utf8_lossy(&answer.body)).ok_or_else(|| {
            HacError::NoCsrfToken {
                url: page_url.to_string(),
            }
        })?;

        // 2. The form, without following its redirect.
        let form = form_body(&[
            ("j_username", self.key.username.as_str()),
            ("j_password", password),
            ("_csrf", token.as_str()),
        ]);
        let check = self.url("/hac/j_spring_security_check")?;
        let answer = self.send(Method::POST, &check, &[], Some(form)).await?;

        // 3. The target: the login page again means the credentials were refused.
        let page = if answer.status.is_redirection() {
            let location = answer
                .headers
                .get(header::LOCATION)
                .and_then(|v| v.to_str().ok())
                .unwrap_or("/hac/");
            let target = check
                .join(location)
                .map_err(|e| HacError::InvalidResponse {
                    operation: "login",
                    detail: format!("bad redirect {location:?}: {e}"),
                })?;
            self.get_following(target).await?.1.body
        } else if answer.status == StatusCode::OK {
            answer.body
        } else {
            return Err(HacError::UnexpectedStatus {
                operation: "login",
                status: answer.status.as_u16(),
            });
        };
        let page = String::from_utf8_lossy(&page);
        if is_login_page(&page) {
            return Err(HacError::InvalidCredentials {
                base_url: self.key.base_url.clone(),
                username: self.key.username.clone(),
            });
        }
        let mut state = self.state();
        state.csrf = Some(csrf_token(&page).unwrap_or(token));
        if self.cookie_value(&state, SESSION_COOKIE).is_none() {
            return Err(HacError::InvalidResponse {
                operation: "login",
                detail: "the server set no JSESSIONID cookie".to_string(),
            });
        }
        state.created_at = Some(now_seconds());
        state.ready = true;
        state.renewed_by_login = true;
        Ok(())
    }

    async fn operate(
        &self,
        operation: &'static str,
        path: &str,
        form: &[(&str, String)],
        expects_json: bool,
    ) -> Result<Bytes, HacError> {
        // The login page where JSON or the Impex page was expected means the session is gone.
        let url = self.url(path)?;
        let form: Vec<(&str, &str)> = form.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let _operation = self.operations.lock().await;
        self.ensure().await?;
        let mut last = String::new();
        for attempt in 0..2 {
            if attempt == 1 {
                tracing::debug!(operation, answer = %last, "HAC session gone; logging in again");
                if let Some(cache) = &self.cache {
                    cache.remove(&self.key).await?;
                }
                self.log_in_afresh().await?;
            }
            let token = self.state().csrf.clone().unwrap_or_default();
            let mut headers = vec![("x-csrf-token", token)];
            if expects_json {
                headers.push(("x-requested-with", "XMLHttpRequest".to_string()));
                headers.push(("accept", "application/json".to_string()));
            }
            let answer = self
                .send(Method::POST, &url, &headers, Some(form_body(&form)))
                .await?;
            let status = answer.status;
            if matches!(status.as_u16(), 401 | 403 | 405) {
                last = format!("HTTP {}", status.as_u16());
                continue;
            }
            if status.is_redirection() {
                last = format!("HTTP {} to the login page", status.as_u16());
                continue;
            }
            if status != StatusCode::OK {
                return Err(HacError::UnexpectedStatus {
                    operation,
                    status: status.as_u16(),
                });
            }
            let looks_like_json =
                answer.body.iter().find(|b| !b.is_ascii_whitespace()) == Some(&b'{');
            let text = String::from_utf8_lossy(&answer.body);
            if !looks_like_json && !text.contains("id=\"impexResult\"") && is_login_page(&text) {
                last = "the login page".to_string();
                continue;
            }
            self.file_in_cache().await?;
            return Ok(answer.body);
        }
        self.state().ready = false;
        Err(HacError::SessionRejected {
            operation,
            answer: last,
        })
    }

    async fn get_following(&self, mut url: Url) -> Result<(Url, Answer), HacError> {
        for _ in 0..MAX_REDIRECTS {
            let answer = self.send(Method::GET, &url, &[], None).await?;
            if !answer.status.is_redirection() {
                return Ok((url, answer));
            }
            let Some(location) = answer
                .headers
                .get(header::LOCATION)
                .and_then(|v| v.to_str().ok())
            else {
                return Ok((url, answer));
            };
            url = url.join(location).map_err(|e| HacError::InvalidResponse {
                operation: "following a redirect",
                detail: format!("bad Location {location:?}: {e}"),
            })?;
        }
        Err(HacError::InvalidResponse {
            operation: "following redirects",
            detail: format!("more than {MAX_REDIRECTS} redirects"),
        })
    }

    /// Sends one request with the jar's cookies and keeps the cookies the answer sets.
    pub(super) async fn send(
        &self,
        method: Method,
        url: &Url,
        headers: &[(&'static str, String)],
        form: Option<String>,
    ) -> Result<Answer, HacError> {
        let mut builder = Request::builder().method(method).uri(url.as_str());
        let cookies = self.state().jar.cookie_header(url);
        if let Some(cookies) = cookies {
            builder = builder.header(header::COOKIE, cookies);
        }
        for (name, value) in headers {
            if let Ok(value) = HeaderValue::from_str(value) {
                builder = builder.header(*name, value);
            }
        }
        let body = match form {
            Some(form) => {
                builder = builder.header(
                    header::CONTENT_TYPE,
                    "application/x-www-form-urlencoded; charset=UTF-8",
                );
                Bytes::from(form)
            }
            None => Bytes::new(),
        };
        let request = builder
            .body(Full::new(body))
            .map_err(|e| HacError::InvalidUrl {
                url: url.to_string(),
                reason: e.to_string(),
            })?;
        let (parts, body) = tokio::time::timeout(self.timeout, self.http.fetch(request))
            .await
            .map_err(|_| HacError::Timeout {
                url: url.to_string(),
                seconds: self.timeout.as_secs(),
            })?
            .map_err(|error| match error {
                TransportError::Tls(problem) => HacError::Tls {
                    url: url.to_string(),
                    problem,
                },
                other => HacError::Connection {
                    url: url.to_string(),
                    source: Box::new(other),
                },
            })?;
        let answer = Answer {
            status: parts.status,
            headers: parts.headers,
            body,
        };
        self.state()
            .jar
            .store_response_headers(url, &answer.headers);
        Ok(answer)
    }
}

pub(super) fn form_body(fields: &[(&str, &str)]) -> String {
    url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs(fields)
        .finish()
}

/// The form login of one client as an [`Authenticator`]: the protocol step of
/// [`session_core::log_in`], which then cycles the id, records the principal and files the
/// session. The credentials' user name must be the client's.
struct FormLogin<'a> {
    client: &'a HacClient,
}

#[async_trait]
impl Authenticator for FormLogin<'_> {
    type Credentials = PasswordCredentials;
    type Identity = String;

    async fn authenticate(&self, credentials: &PasswordCredentials) -> Result<String, AuthError> {
        if credentials.username != self.client.key.username {
            return Err(AuthError::Malformed(format!(
                "this client logs in as {:?}, not {:?}",
                self.client.key.username, credentials.username
            )));
        }
        match self.client.form_login(&credentials.password).await {
            Ok(()) => Ok(credentials.username.clone()),
            Err(HacError::InvalidCredentials { .. }) => Err(AuthError::InvalidCredentials),
            Err(other) => Err(AuthError::Unavailable(Box::new(other))),
        }
    }
}

/// HAC form login as an [`Authenticator`]: user name and password in, a session (filed in the
/// cache, if there is one) out.
#[derive(Debug, Clone)]
pub struct HacAuthenticator {
    base_url: String,
    environment: String,
    cache: Option<Arc<dyn SessionCache>>,
    transport: HttpTransport,
}

impl HacAuthenticator {
    /// Logs in to the HAC at `base_url`, filing sessions under `environment`.
    pub fn new(base_url: impl Into<String>, environment: impl Into<String>) -> Self {
        HacAuthenticator {
            base_url: base_url.into(),
            environment: environment.into(),
            cache: None,
            transport: HttpTransport::default(),
        }
    }

    /// Logs in over `transport` (its TLS settings).
    pub fn with_transport(mut self, transport: HttpTransport) -> Self {
        self.transport = transport;
        self
    }

    /// Files sessions in `cache`.
    pub fn with_cache(mut self, cache: Arc<dyn SessionCache>) -> Self {
        self.cache = Some(cache);
        self
    }
}

#[async_trait]
impl Authenticator for HacAuthenticator {
    type Credentials = PasswordCredentials;
    type Identity = CachedSession;

    async fn authenticate(
        &self,
        credentials: &PasswordCredentials,
    ) -> Result<CachedSession, AuthError> {
        let key = CacheKey::new(&self.base_url, &credentials.username, &self.environment);
        let mut client = HacClient::new(key)
            .map_err(|e| AuthError::Malformed(e.to_string()))?
            .with_transport(self.transport.clone())
            .with_password(credentials.password.clone());
        if let Some(cache) = &self.cache {
            client = client.with_cache(Arc::clone(cache));
        }
        match client.login_fresh().await {
            Ok(()) => client
                .session()
                .await
                .ok_or_else(|| AuthError::Unavailable("the login yielded no session".into())),
            Err(HacError::InvalidCredentials { .. }) => Err(AuthError::InvalidCredentials),
            Err(other) => Err(AuthError::Unavailable(Box::new(other))),
        }
    }
}
