//! An emulator of SAP Commerce's HAC (`/hac`): form login with CSRF tokens, Tomcat-style
//! sessions, and the Groovy, FlexibleSearch and Impex consoles, for testing HAC clients where a
//! real SAP Commerce server cannot run.
//!
//! What it reproduces, because clients depend on it:
//!
//! - `GET /hac/` without a session answers `302` to `/hac/login` and sets
//!   `JSESSIONID=…; Path=/hac; HttpOnly`; the login page carries the token as `_csrf` meta tags
//!   and as the form's hidden input.
//! - `POST /hac/j_spring_security_check` (`j_username`, `j_password`, `_csrf`): success rotates
//!   the session id and the token and redirects to `/hac/`; failure redirects to
//!   `/hac/login?login_error=1`.
//! - A `POST` with a dead session or a bad token is refused with `405` (configurable to `403`);
//!   a live but anonymous session is redirected to the login page.
//! - Sessions expire after an idle timeout (time comes from a [`session_core::Clock`]).
//! - An optional `ROUTE` cookie (load-balancer affinity): set when missing; a request that only
//!   carries another node's route does not reach this node's sessions.
//! - Repeated cookie names in a request are tolerated (the first live session wins).
//!
//! The consoles answer deterministically over the core types of a fresh SAP Commerce
//! (principals, languages, currencies, countries, units, catalogs and catalog versions,
//! products); see `items.rs`, `flexsearch.rs` and `impex.rs` for what they understand.
//!
//! [`HacEmulator::bind`] serves plain HTTP; [`HacEmulator::bind_tls`] serves HTTPS with a
//! rustls server configuration (a real HAC listens on `https://…:9002`).
//!
//! ```no_run
//! # async fn demo() -> std::io::Result<()> {
//! use session_http::hac::emulator::{EmulatorConfig, HacEmulator};
//! let running = HacEmulator::new(EmulatorConfig::default()).bind("127.0.0.1:0".parse().unwrap()).await?;
//! println!("HAC at {}", running.base_url());
//! # Ok(()) }
//! ```

mod console;
mod flexsearch;
mod impex;
mod items;
mod pages;

use std::collections::HashMap;
use std::convert::Infallible;
use std::fmt;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use bytes::Bytes;
use http::{HeaderValue, Method, Request, Response, StatusCode, header};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use session_core::{SharedClock, SystemClock, Timestamp};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpListener;
use tokio::task::JoinHandle;
use tokio_rustls::TlsAcceptor;

use console::Catalogue;

/// How the emulator behaves.
#[derive(Clone)]
pub struct EmulatorConfig {
    /// Accounts that may log in: (user name, password).
    pub users: Vec<(String, String)>,
    /// A session unused this long is gone.
    pub idle_timeout: Duration,
    /// The status for a POST with a dead session or a bad CSRF token (the real HAC: 405).
    pub rejection_status: StatusCode,
    /// The load-balancer route of this node; `None` sets no `ROUTE` cookie.
    pub route: Option<String>,
    /// Where time comes from.
    pub clock: SharedClock,
}

impl Default for EmulatorConfig {
    /// `admin`/`nimda`, 30 minutes idle timeout, 405, no route, the system clock.
    fn default() -> Self {
        EmulatorConfig {
            users: vec![("admin".to_string(), "nimda".to_string())],
            idle_timeout: Duration::from_secs(30 * 60),
            rejection_status: StatusCode::METHOD_NOT_ALLOWED,
            route: None,
            clock: Arc::new(SystemClock),
        }
    }
}

impl fmt::Debug for EmulatorConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EmulatorConfig")
            .field(
                "users",
                &self
                    .users
                    .iter()
                    .map(|(u, _)| u.as_str())
                    .collect::<Vec<_>>(),
            )
            .field("idle_timeout", &self.idle_timeout)
            .field("rejection_status", &self.rejection_status)
            .field("route", &self.route)
            .finish_non_exhaustive()
    }
}

/// What the emulator has seen, for tests that count requests and logins.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EmulatorStats {
    /// Requests by `"METHOD /path"` (no query).
    pub requests: HashMap<String, usize>,
    /// Successful logins.
    pub logins: usize,
    /// Failed logins (bad user name or password).
    pub failed_logins: usize,
    /// POSTs refused for a dead session or a bad token.
    pub rejected: usize,
}

impl EmulatorStats {
    /// How many requests were `method path`.
    pub fn count(&self, method: &str, path: &str) -> usize {
        self.requests
            .get(&format!("{method} {path}"))
            .copied()
            .unwrap_or(0)
    }

    /// All requests.
    pub fn total(&self) -> usize {
        self.requests.values().sum()
    }
}

#[derive(Debug, Clone)]
struct HttpSession {
    csrf_token: String,
    user: Option<String>,
    last_access: Timestamp,
}

#[derive(Debug, Default)]
struct State {
    sessions: HashMap<String, HttpSession>,
    catalogue: Catalogue,
    stats: EmulatorStats,
}

/// The emulator: a request handler with its state. Clones share the state.
#[derive(Clone, Debug)]
pub struct HacEmulator {
    config: Arc<EmulatorConfig>,
    state: Arc<Mutex<State>>,
}

/// A running emulator; stops accepting connections when dropped.
#[derive(Debug)]
pub struct RunningEmulator {
    emulator: HacEmulator,
    addr: SocketAddr,
    tls: bool,
    task: JoinHandle<()>,
}

impl RunningEmulator {
    /// The address it listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://ADDR`, or `https://ADDR` when serving TLS (without `/hac`): what clients take
    /// as the base URL.
    pub fn base_url(&self) -> String {
        let scheme = if self.tls { "https" } else { "http" };
        format!("{scheme}://{}", self.addr)
    }

    /// The emulator behind it (stats, session control).
    pub fn emulator(&self) -> &HacEmulator {
        &self.emulator
    }

    /// Waits until the server stops (never, unless its task fails).
    pub async fn wait(self) {
        let _ = (&mut { self }.task).await;
    }
}

impl Drop for RunningEmulator {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// The parts of a request the emulator looks at.
struct ParsedRequest {
    method: Method,
    path: String,
    query: String,
    cookies: Vec<(String, String)>,
    csrf_header: Option<String>,
    form: HashMap<String, String>,
}

impl HacEmulator {
    /// An emulator with `config` and fresh state.
    pub fn new(config: EmulatorConfig) -> Self {
        HacEmulator {
            config: Arc::new(config),
            state: Arc::new(Mutex::new(State::default())),
        }
    }

    fn state(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// A snapshot of what it has seen.
    pub fn stats(&self) -> EmulatorStats {
        self.state().stats.clone()
    }

    /// Forgets every session, as a server restart would.
    pub fn drop_all_sessions(&self) {
        self.state().sessions.clear();
    }

    /// Gives every session a new CSRF token, so that clients holding the old one are refused
    /// (as after a token rotation they did not see). Fails, leaving every token as it was,
    /// when the OS random generator does.
    pub fn rotate_csrf_tokens(&self) -> Result<(), getrandom::Error> {
        let mut state = self.state();
        let tokens = state
            .sessions
            .values()
            .map(|_| random_uuid())
            .collect::<Result<Vec<_>, _>>()?;
        for (session, token) in state.sessions.values_mut().zip(tokens) {
            session.csrf_token = token;
        }
        Ok(())
    }

    /// How many sessions are alive (anonymous ones included).
    pub fn live_sessions(&self) -> usize {
        let now = self.config.clock.now();
        self.state()
            .sessions
            .values()
            .filter(|s| !self.expired(s, now))
            .count()
    }

    /// Listens on `addr` and serves plain HTTP connections on the current tokio runtime.
    pub async fn bind(self, addr: SocketAddr) -> std::io::Result<RunningEmulator> {
        self.listen(addr, None).await
    }

    /// Listens on `addr` and serves HTTPS with `tls` (its certificate and key) on the current
    /// tokio runtime. A connection whose handshake fails is closed.
    pub async fn bind_tls(
        self,
        addr: SocketAddr,
        tls: Arc<rustls::ServerConfig>,
    ) -> std::io::Result<RunningEmulator> {
        self.listen(addr, Some(TlsAcceptor::from(tls))).await
    }

    async fn listen(
        self,
        addr: SocketAddr,
        acceptor: Option<TlsAcceptor>,
    ) -> std::io::Result<RunningEmulator> {
        let listener = TcpListener::bind(addr).await?;
        let addr = listener.local_addr()?;
        let emulator = self.clone();
        let tls = acceptor.is_some();
        let task = tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    continue;
                };
                let emulator = emulator.clone();
                let acceptor = acceptor.clone();
                tokio::spawn(async move {
                    match acceptor {
                        None => emulator.serve_connection(stream).await,
                        Some(acceptor) => {
                            if let Ok(stream) = acceptor.accept(stream).await {
                                emulator.serve_connection(stream).await;
                            }
                        }
                    }
                });
            }
        });
        Ok(RunningEmulator {
            emulator: self,
            addr,
            tls,
            task,
        })
    }

    async fn serve_connection<I>(self, io: I)
    where
        I: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    {
        let service = service_fn(move |request: Request<Incoming>| {
            let emulator = self.clone();
            async move { Ok::<_, Infallible>(emulator.serve(request).await) }
        });
        let _ = hyper::server::conn::http1::Builder::new()
            .serve_connection(TokioIo::new(io), service)
            .await;
    }

    /// Answers one request.
    pub async fn serve(&self, request: Request<Incoming>) -> Response<Full<Bytes>> {
        let (parts, body) = request.into_parts();
        let body = match body.collect().await {
            Ok(collected) => collected.to_bytes(),
            Err(_) => return plain(StatusCode::BAD_REQUEST, "unreadable body"),
        };
        self.handle(parts, &body)
    }

    /// Answers a request given as parts and a complete body (no I/O).
    pub fn handle(&self, parts: http::request::Parts, body: &[u8]) -> Response<Full<Bytes>> {
        let mut cookies = Vec::new();
        for value in parts.headers.get_all(header::COOKIE) {
            if let Ok(text) = value.to_str() {
                cookies.extend(parse_cookie_header(text));
            }
        }
        let is_form = parts
            .headers
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.starts_with("application/x-www-form-urlencoded"));
        let form = if is_form || parts.method == Method::POST {
            url::form_urlencoded::parse(body).into_owned().collect()
        } else {
            HashMap::new()
        };
        let incoming = ParsedRequest {
            method: parts.method.clone(),
            path: parts.uri.path().to_string(),
            query: parts.uri.query().unwrap_or_default().to_string(),
            cookies,
            csrf_header: parts
                .headers
                .get("x-csrf-token")
                .and_then(|v| v.to_str().ok())
                .map(str::to_string),
            form,
        };
        let mut state = self.state();
        *state
            .stats
            .requests
            .entry(format!("{} {}", incoming.method, incoming.path))
            .or_default() += 1;
        let mut response = self.route(&mut state, &incoming);
        drop(state);
        if let Some(route) = &self.config.route
            && !incoming
                .cookies
                .iter()
                .any(|(n, v)| n == "ROUTE" && v == route)
            && let Ok(value) = HeaderValue::from_str(&format!("ROUTE={route}; Path=/"))
        {
            response.headers_mut().append(header::SET_COOKIE, value);
        }
        response
    }

    fn expired(&self, session: &HttpSession, now: Timestamp) -> bool {
        now.saturating_duration_since(session.last_access) > self.config.idle_timeout
    }

    /// The live session the request names, touched; `None` if it has none that lives here.
    fn live_session(&self, state: &mut State, request: &ParsedRequest) -> Option<String> {
        if let Some(route) = &self.config.route {
            let routes: Vec<&str> = request
                .cookies
                .iter()
                .filter(|(n, _)| n == "ROUTE")
                .map(|(_, v)| v.as_str())
                .collect();
            // A request that only carries other nodes' routes is balanced elsewhere.
            if !routes.is_empty() && !routes.contains(&route.as_str()) {
                return None;
            }
        }
        let now = self.config.clock.now();
        state.sessions.retain(|_, s| !self.expired(s, now));
        let id = request
            .cookies
            .iter()
            .filter(|(n, _)| n == "JSESSIONID")
            .map(|(_, v)| v)
            .find(|id| state.sessions.contains_key(id.as_str()))?
            .clone();
        if let Some(session) = state.sessions.get_mut(&id) {
            session.last_access = now;
        }
        Some(id)
    }

    fn new_session(
        &self,
        state: &mut State,
        user: Option<String>,
    ) -> Result<(String, String), getrandom::Error> {
        let id = random_hex(16)?.to_ascii_uppercase();
        let token = random_uuid()?;
        state.sessions.insert(
            id.clone(),
            HttpSession {
                csrf_token: token.clone(),
                user,
                last_access: self.config.clock.now(),
            },
        );
        Ok((id, token))
    }

    fn route(&self, state: &mut State, request: &ParsedRequest) -> Response<Full<Bytes>> {
        let path = request.path.as_str();
        let get = request.method == Method::GET || request.method == Method::HEAD;
        let post = request.method == Method::POST;
        match path {
            "/hac" | "/hac/" if get => self.page(state, request, "Home"),
            "/hac/login" | "/hac/login.jsp" if get => self.login_page(state, request),
            "/hac/j_spring_security_check" if post => self.login(state, request),
            "/hac/logout" | "/hac/j_spring_security_logout" if post => self.logout(state, request),
            "/hac/console/scripting" if get => self.page(state, request, "Scripting Languages"),
            "/hac/console/flexsearch" if get => self.page(state, request, "FlexibleSearch"),
            "/hac/console/impex/import" if get => self.page(state, request, "ImpEx Import"),
            "/hac/console/scripting/execute"
            | "/hac/console/flexsearch/execute"
            | "/hac/console/impex/import"
                if post =>
            {
                self.console(state, request)
            }
            _ if path == "/hac" || path.starts_with("/hac/") => {
                if get {
                    plain(StatusCode::NOT_FOUND, &pages::error(404, "Not Found"))
                } else {
                    self.reject_status(StatusCode::METHOD_NOT_ALLOWED)
                }
            }
            _ => plain(StatusCode::NOT_FOUND, &pages::error(404, "Not Found")),
        }
    }

    fn reject_status(&self, status: StatusCode) -> Response<Full<Bytes>> {
        let reason = status.canonical_reason().unwrap_or("Error");
        plain(status, &pages::error(status.as_u16(), reason))
    }

    fn reject(&self, state: &mut State) -> Response<Full<Bytes>> {
        state.stats.rejected += 1;
        self.reject_status(self.config.rejection_status)
    }

    fn page(
        &self,
        state: &mut State,
        request: &ParsedRequest,
        title: &str,
    ) -> Response<Full<Bytes>> {
        match self.live_session(state, request) {
            Some(id) => match state.sessions.get(&id) {
                Some(HttpSession {
                    user: Some(user),
                    csrf_token,
                    ..
                }) => html(StatusCode::OK, pages::console(title, csrf_token, user)),
                _ => redirect("/hac/login", None),
            },
            None => match self.new_session(state, None) {
                Ok((id, _)) => redirect("/hac/login", Some(&id)),
                Err(e) => no_randomness(e),
            },
        }
    }

    fn login_page(&self, state: &mut State, request: &ParsedRequest) -> Response<Full<Bytes>> {
        let login_error = request
            .query
            .split('&')
            .any(|p| p.starts_with("login_error"));
        let (cookie, token) = match self.live_session(state, request) {
            Some(id) => {
                let token = state
                    .sessions
                    .get(&id)
                    .map(|s| s.csrf_token.clone())
                    .unwrap_or_default();
                (None, token)
            }
            None => match self.new_session(state, None) {
                Ok((id, token)) => (Some(id), token),
                Err(e) => return no_randomness(e),
            },
        };
        let mut response = html(StatusCode::OK, pages::login(&token, login_error));
        if let Some(id) = cookie {
            set_session_cookie(&mut response, &id);
        }
        response
    }

    /// The session and whether the request's token matches it; `None` when it has no session.
    fn checked_session(
        &self,
        state: &mut State,
        request: &ParsedRequest,
    ) -> Option<(String, bool)> {
        let id = self.live_session(state, request)?;
        let expected = state.sessions.get(&id)?.csrf_token.clone();
        let offered = request
            .csrf_header
            .as_deref()
            .or(request.form.get("_csrf").map(String::as_str));
        Some((id, offered == Some(expected.as_str())))
    }

    fn login(&self, state: &mut State, request: &ParsedRequest) -> Response<Full<Bytes>> {
        let Some((id, true)) = self.checked_session(state, request) else {
            return self.reject(state);
        };
        let user = request.form.get("j_username").cloned().unwrap_or_default();
        let password = request.form.get("j_password").cloned().unwrap_or_default();
        let valid = self
            .config
            .users
            .iter()
            .any(|(u, p)| *u == user && constant_time_eq(p.as_bytes(), password.as_bytes()));
        if !valid {
            state.stats.failed_logins += 1;
            return redirect("/hac/login?login_error=1", None);
        }
        state.stats.logins += 1;
        // Session fixation protection: a new id and a new token for the logged-in session.
        state.sessions.remove(&id);
        match self.new_session(state, Some(user)) {
            Ok((new_id, _)) => redirect("/hac/", Some(&new_id)),
            Err(e) => no_randomness(e),
        }
    }

    fn logout(&self, state: &mut State, request: &ParsedRequest) -> Response<Full<Bytes>> {
        let Some((id, true)) = self.checked_session(state, request) else {
            return self.reject(state);
        };
        state.sessions.remove(&id);
        redirect("/hac/login?logout=true", None)
    }

    fn console(&self, state: &mut State, request: &ParsedRequest) -> Response<Full<Bytes>> {
        let Some((id, true)) = self.checked_session(state, request) else {
            return self.reject(state);
        };
        let Some((token, Some(_))) = state
            .sessions
            .get(&id)
            .map(|s| (s.csrf_token.clone(), s.user.clone()))
        else {
            return redirect("/hac/login", None);
        };
        let field = |name: &str| request.form.get(name).map(String::as_str).unwrap_or("");
        match request.path.as_str() {
            "/hac/console/scripting/execute" => {
                let run = state.catalogue.groovy(field("script"));
                json(run.to_json())
            }
            "/hac/console/flexsearch/execute" => {
                let max_count = field("maxCount").parse().unwrap_or(200);
                json(
                    state
                        .catalogue
                        .flexible_search(field("flexibleSearchQuery"), max_count),
                )
            }
            _ => {
                let script = field("scriptContent");
                let run = state.catalogue.import_impex(script);
                html(
                    StatusCode::OK,
                    pages::impex_result(&token, script, &run.problems),
                )
            }
        }
    }
}

/// Parses a `Cookie` header into (name, value) pairs, in order, duplicates kept.
pub(crate) fn parse_cookie_header(text: &str) -> Vec<(String, String)> {
    text.split(';')
        .filter_map(|pair| {
            let (name, value) = pair.split_once('=')?;
            let value = value.trim().trim_matches('"');
            Some((name.trim().to_string(), value.to_string()))
        })
        .filter(|(name, _)| !name.is_empty())
        .collect()
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// Bytes from the OS generator; without it there is no safe id or token to hand out, so an
/// error rather than anything guessable.
fn random_bytes<const N: usize>() -> Result<[u8; N], getrandom::Error> {
    let mut bytes = [0u8; N];
    getrandom::fill(&mut bytes)?;
    Ok(bytes)
}

fn random_hex(len: usize) -> Result<String, getrandom::Error> {
    Ok(hex::encode(&random_bytes::<32>()?[..len.min(32)]))
}

fn random_uuid() -> Result<String, getrandom::Error> {
    let b = random_bytes::<16>()?;
    let h = hex::encode(b);
    Ok(format!(
        "{}-{}-4{}-{}-{}",
        &h[0..8],
        &h[8..12],
        &h[13..16],
        &h[16..20],
        &h[20..32]
    ))
}

fn set_session_cookie(response: &mut Response<Full<Bytes>>, id: &str) {
    if let Ok(value) = HeaderValue::from_str(&format!("JSESSIONID={id}; Path=/hac; HttpOnly")) {
        response.headers_mut().append(header::SET_COOKIE, value);
    }
}

fn redirect(location: &str, new_session: Option<&str>) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(Bytes::new()));
    *response.status_mut() = StatusCode::FOUND;
    if let Ok(value) = HeaderValue::from_str(location) {
        response.headers_mut().insert(header::LOCATION, value);
    }
    if let Some(id) = new_session {
        set_session_cookie(&mut response, id);
    }
    response
}

fn with_type(
    status: StatusCode,
    body: String,
    content_type: &'static str,
) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(Bytes::from(body)));
    *response.status_mut() = status;
    response
        .headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    response
}

fn html(status: StatusCode, body: String) -> Response<Full<Bytes>> {
    with_type(status, body, "text/html;charset=UTF-8")
}

/// The answer when no session id or token can be made.
fn no_randomness(error: getrandom::Error) -> Response<Full<Bytes>> {
    plain(
        StatusCode::INTERNAL_SERVER_ERROR,
        &format!("no randomness for a session: {error}"),
    )
}

fn plain(status: StatusCode, body: &str) -> Response<Full<Bytes>> {
    html(status, body.to_string())
}

fn json(value: serde_json::Value) -> Response<Full<Bytes>> {
    with_type(
        StatusCode::OK,
        value.to_string(),
        "application/json;charset=UTF-8",
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cookie_headers_keep_duplicates_in_order() {
        assert_eq!(
            parse_cookie_header("JSESSIONID=A; JSESSIONID=B;ROUTE=ROUTE=n1; junk"),
            vec![
                ("JSESSIONID".to_string(), "A".to_string()),
                ("JSESSIONID".to_string(), "B".to_string()),
                ("ROUTE".to_string(), "ROUTE=n1".to_string()),
            ]
        );
    }

    #[test]
    fn tokens_look_like_springs() {
        let token = random_uuid().unwrap();
        assert_eq!(token.len(), 36);
        assert_eq!(token.matches('-').count(), 4);
        assert_ne!(token, random_uuid().unwrap());
    }
}
