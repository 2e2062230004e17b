//! An httpkom-compatible HTTP gateway to LysKOM servers (hyper 1).
//!
//! Every resource lives under `/<server_id>/…`. A client opens a LysKOM connection with
//! `POST /<server_id>/sessions/` and gets a secret connection id (a random UUID v4), which it
//! sends back in the `Httpkom-Connection` header (or query parameter) of later requests. The
//! id is valid only under the server it was made for. The answers, status codes and JSON
//! bodies are httpkom 0.32's, so its clients (jskom among them) work unchanged; where
//! httpkom has known defects (who-am-i failing when logged in, a dropped connection making
//! the next request hang, ids valid under any server) this gateway does the right thing.
//!
//! Besides `/<server_id>/…`, `GET /websocket?Httpkom-Connection=<id>` opens httpkom's
//! WebSocket on a connection (JSON messages; `echo`, and raw Protocol A that is parsed and
//! re-numbered so it cannot desynchronise the connection: see [`raw_request`]); a person's
//! settings are read from their user area ([`user_area`]).
//!
//! `GET /metrics` answers the gateway's metrics in the Prometheus text format (LysKOM
//! connections, logins, WebSockets, HTTP answers by status class and their latency; the
//! older `GET /_metrics` answers a JSON [`MetricsSnapshot`]). Both are matched before the
//! servers' routes; a server with the id `metrics` still has all of its resources, which
//! live under `/metrics/…`. Every request is logged in a span (see [`Gateway::handle`]).
//!
//! Connections idle for longer than [`GatewayConfig::idle_timeout`] (or
//! [`GatewayConfig::unauthenticated_idle_timeout`] while nobody is logged in on them) are
//! closed by a reaper task; at most [`GatewayConfig::max_connections`] are open at once (503
//! beyond that) and [`GatewayConfig::max_connections_per_address`] from one client address
//! (429 with `Retry-After` beyond that); a connection the LysKOM server dropped answers 403
//! at once.
//!
//! [`Gateway::serve`] serves HTTP through [`session_http::serve`], under the limits of
//! [`GatewayConfig::http`]: header-read and request timeouts, stalled writes cut,
//! connection caps, graceful shutdown. Browsers get CORS headers only for
//! [`GatewayConfig::allowed_origins`], WebSocket upgrades from other origins are refused,
//! and text bodies are served inert: never as HTML a browser would run.

mod cors;
mod http_metrics;
mod inert_body;
mod json;
mod prometheus;
pub mod raw_request;
mod registry;
mod request_log;
mod resources;
mod response;
mod sessions;
pub mod user_area;
mod websocket;

use std::collections::HashMap;
use std::future::Future;
use std::net::{IpAddr, Ipv4Addr};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::{HeaderMap, HeaderValue, Method, Request, StatusCode, header};
use http_body_util::{BodyExt, Limited};
use hyper::body::Body;
use serde_json::{Map, Value, json};
pub use session_http::serve::{Drained, ServeLimits};
use session_http::serve::{PeerAddr, serve};
use tokio::net::TcpListener;
use tracing::Instrument;

use crate::client::ConnectOptions;
use http_metrics::HttpMetrics;
pub use registry::{Connection, Lifetime, MetricsSnapshot, Registry, new_connection_id};
use request_log::RequestLog;
pub use response::Resp;
use response::{Fail, Outcome, empty};
pub use websocket::WebSocketLimits;

/// The header (and query parameter) carrying the connection id.
pub const CONNECTION_HEADER: &str = "Httpkom-Connection";
/// The largest request body accepted.
pub const MAX_BODY: usize = 4 * 1024 * 1024;

/// One LysKOM server the gateway serves.
#[derive(Clone, Debug, PartialEq, Eq, serde::Deserialize)]
pub struct ServerEntry {
    /// The id used in URLs (`/<id>/…`).
    pub id: String,
    /// A display name.
    pub name: String,
    /// Host name or address.
    pub host: String,
    /// Port (4894 by default).
    #[serde(default = "default_port")]
    pub port: u16,
    /// Position in the server list (defaults to the order of the configuration).
    #[serde(default)]
    pub sort_order: Option<u32>,
}

fn default_port() -> u16 {
    4894
}

/// How the gateway behaves.
#[derive(Clone, Debug)]
pub struct GatewayConfig {
    /// The servers, in order.
    pub servers: Vec<ServerEntry>,
    /// Connections with someone logged in are closed after this long unused.
    pub idle_timeout: Duration,
    /// Connections with nobody logged in are closed after this long unused, or after
    /// `idle_timeout` if that is shorter (it costs nothing to open one, so they must not
    /// hold a LysKOM connection for long).
    pub unauthenticated_idle_timeout: Duration,
    /// How often the reaper looks for idle connections.
    pub reap_interval: Duration,
    /// The most LysKOM connections open at once (keep it below the open-file limit).
    pub max_connections: usize,
    /// The most LysKOM connections opened from one client address (an IPv4 address or an
    /// IPv6 /64) open at once, so that one client cannot take them all.
    pub max_connections_per_address: usize,
    /// How LysKOM connections are made.
    pub connect: ConnectOptions,
    /// Allowed CORS origins; `*` allows all (httpkom's default). Browsers from other origins
    /// get no CORS headers, and their WebSocket upgrades are refused.
    pub allowed_origins: Vec<String>,
    /// The WebSocket endpoint's limits.
    pub websocket: WebSocketLimits,
    /// The HTTP server's limits (timeouts, connection caps, shutdown drain). Its
    /// [`trusted_proxies`](ServeLimits::trusted_proxies) also name the client a request
    /// counts against for [`max_connections_per_address`](Self::max_connections_per_address)
    /// (from their `X-Forwarded-For`).
    pub http: ServeLimits,
}

impl Default for GatewayConfig {
    fn default() -> Self {
        GatewayConfig {
            servers: Vec::new(),
            idle_timeout: Duration::from_secs(30 * 60),
            unauthenticated_idle_timeout: Duration::from_secs(2 * 60),
            reap_interval: Duration::from_secs(30),
            max_connections: 10_000,
            max_connections_per_address: 16,
            connect: ConnectOptions {
                handshake_user: "kom-gateway".into(),
                ..ConnectOptions::default()
            },
            allowed_origins: vec!["*".into()],
            websocket: WebSocketLimits::default(),
            http: ServeLimits::default(),
        }
    }
}

struct State {
    config: GatewayConfig,
    registry: Registry,
    /// The answers' status classes and latencies, for `/metrics`.
    http: HttpMetrics,
}

impl State {
    fn reap(&self) -> usize {
        self.registry.reap()
    }
}

/// The gateway: cheap to clone, all clones share the connections.
#[derive(Clone)]
pub struct Gateway {
    state: Arc<State>,
}

impl std::fmt::Debug for Gateway {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Gateway")
            .field("servers", &self.state.config.servers.len())
            .field("open", &self.state.registry.open())
            .finish()
    }
}

impl Gateway {
    /// A gateway for `config`. Call [`Gateway::spawn_reaper`] (or [`Gateway::serve`], which
    /// does) inside a tokio runtime to close idle connections.
    pub fn new(config: GatewayConfig) -> Self {
        let lifetime = Lifetime::new(config.idle_timeout, config.unauthenticated_idle_timeout);
        let registry = Registry::new(
            config.max_connections,
            config.max_connections_per_address,
            lifetime,
        );
        Gateway {
            state: Arc::new(State {
                config,
                registry,
                http: HttpMetrics::default(),
            }),
        }
    }

    /// The metrics now.
    pub fn metrics(&self) -> MetricsSnapshot {
        self.state.registry.snapshot()
    }

    /// Closes idle connections and those the server dropped now; returns how many.
    pub fn reap(&self) -> usize {
        self.state.reap()
    }

    /// Starts the task that closes idle connections every `reap_interval`. It stops when
    /// the last clone of the gateway is dropped.
    pub fn spawn_reaper(&self) -> tokio::task::JoinHandle<()> {
        let weak = Arc::downgrade(&self.state);
        let interval = self
            .state
            .config
            .reap_interval
            .max(Duration::from_millis(10));
        tokio::spawn(async move {
            let mut ticker = tokio::time::interval(interval);
            ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                ticker.tick().await;
                let Some(state) = weak.upgrade() else { return };
                state.reap();
            }
        })
    }

    /// Serves HTTP/1.1 on `listener` under [`GatewayConfig::http`] until `shutdown`
    /// completes, then drains the requests in flight (see [`session_http::serve`]).
    pub async fn serve(self, listener: TcpListener, shutdown: impl Future<Output = ()>) -> Drained {
        let _reaper = AbortOnDrop(self.spawn_reaper());
        let limits = self.state.config.http.clone();
        serve(listener, self, limits, shutdown).await
    }

    /// The metrics now in the Prometheus text exposition format, as `GET /metrics`
    /// answers them.
    pub fn prometheus_metrics(&self) -> String {
        prometheus::render(&self.metrics(), &self.state.http)
    }

    /// Answers one HTTP request, counted in the metrics and logged (at INFO, DEBUG for the
    /// metrics paths, in a span with its method, route template and a hash of its
    /// connection id).
    pub async fn handle<B>(&self, req: Request<B>) -> Resp
    where
        B: Body<Data = Bytes> + Send + 'static,
        B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
    {
        let started = Instant::now();
        let log = RequestLog::start(req.method(), req.uri(), req.headers());
        let response = self.answer(req).instrument(log.span.clone()).await;
        let latency = started.elapsed();
        self.state.http.observe(response.status(), latency);
        log.answered(response.status(), latency);
        response
    }

    async fn answer<B>(&self, req: Request<B>) -> Resp
    where
        B: Body<Data = Bytes> + Send + 'static,
        B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
    {
        self.state
            .registry
            .metrics
            .requests
            .fetch_add(1, Ordering::Relaxed);
        // Requests that did not come through `serve` (in-process callers) share one address.
        let peer = req
            .extensions()
            .get::<PeerAddr>()
            .map_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED), |p| p.0.ip());
        let client = session_http::serve::client_address(
            peer,
            req.headers(),
            &self.state.config.http.trusted_proxies,
        );
        if req.uri().path() == websocket::PATH {
            let origin = req.headers().get(header::ORIGIN).cloned();
            let response = if req.method() == Method::GET {
                websocket::upgrade(&self.state, req)
            } else {
                empty(StatusCode::METHOD_NOT_ALLOWED)
            };
            return self.finish(response, origin, false);
        }
        let (parts, body) = req.into_parts();
        let origin = parts.headers.get(header::ORIGIN).cloned();
        let is_post = parts.method == Method::POST;
        let body = match Limited::new(body, MAX_BODY).collect().await {
            Ok(b) => b.to_bytes(),
            Err(_) => {
                return self.finish(empty(StatusCode::PAYLOAD_TOO_LARGE), origin, is_post);
            }
        };
        let response = self
            .route(&parts.method, &parts.uri, &parts.headers, body, client)
            .await;
        self.finish(response, origin, is_post)
    }

    fn finish(&self, mut response: Resp, origin: Option<HeaderValue>, is_post: bool) -> Resp {
        let headers = response.headers_mut();
        if let Some(origin) = origin {
            cors::add_headers(headers, &self.state.config.allowed_origins, &origin);
        }
        // No answer of the gateway is meant to be sniffed into another type.
        headers.insert(
            header::X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        );
        if is_post || !headers.contains_key(header::CACHE_CONTROL) {
            headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
        }
        response
    }

    async fn route(
        &self,
        method: &Method,
        uri: &http::Uri,
        headers: &HeaderMap,
        body: Bytes,
        client: IpAddr,
    ) -> Resp {
        let path = uri.path();
        let query = parse_query(uri.query().unwrap_or(""));
        if path == "/" {
            return match *method {
                Method::GET | Method::HEAD => self.index(),
                Method::OPTIONS => options_response(),
                _ => empty(StatusCode::METHOD_NOT_ALLOWED),
            };
        }
        // Before the servers: a server called `metrics` keeps every `/metrics/…` route, and
        // the bare `/metrics` is none of its resources.
        if path == "/metrics" && *method == Method::GET {
            return prometheus::response(self.prometheus_metrics());
        }
        if path == "/_metrics" && *method == Method::GET {
            return response::json(
                StatusCode::OK,
                &serde_json::to_value(self.metrics()).unwrap_or(Value::Null),
            );
        }
        let Some(rest) = path.strip_prefix('/') else {
            return empty(StatusCode::NOT_FOUND);
        };
        let (server_id, rest) = rest.split_once('/').unwrap_or((rest, ""));
        let server_id = percent_decode(server_id);
        let Some(server) = self.state.config.servers.iter().find(|s| s.id == server_id) else {
            return empty(StatusCode::NOT_FOUND);
        };
        let segments: Vec<String> = rest.split('/').map(percent_decode).collect();
        let ctx = Ctx {
            state: &self.state,
            server,
            method: method.clone(),
            headers,
            query,
            body,
            client,
        };
        if *method == Method::OPTIONS {
            return options_response();
        }
        let outcome = ctx.dispatch(&segments).await;
        match outcome {
            Ok(r) => r,
            Err(fail) => {
                if let (true, Some(id)) = (fail.is_connection_lost(), ctx.connection_id()) {
                    self.state.registry.remove_lost(&id);
                }
                fail.into_response()
            }
        }
    }

    fn index(&self) -> Resp {
        let mut servers = Map::new();
        for (i, s) in self.state.config.servers.iter().enumerate() {
            servers.insert(
                s.id.clone(),
                json!({
                    "id": s.id,
                    "sort_order": s.sort_order.unwrap_or(i as u32),
                    "name": s.name,
                    "host": s.host,
                    "port": s.port,
                }),
            );
        }
        response::json(StatusCode::OK, &Value::Object(servers))
    }
}

/// The gateway as a tower service, for [`session_http::serve`] or any other server.
impl<B> tower_service::Service<Request<B>> for Gateway
where
    B: Body<Data = Bytes> + Send + 'static,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    type Response = Resp;
    type Error = std::convert::Infallible;
    type Future = std::pin::Pin<Box<dyn Future<Output = Result<Resp, Self::Error>> + Send>>;

    fn poll_ready(
        &mut self,
        _: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Result<(), Self::Error>> {
        std::task::Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: Request<B>) -> Self::Future {
        let gateway = self.clone();
        Box::pin(async move { Ok(gateway.handle(request).await) })
    }
}

struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

fn options_response() -> Resp {
    let mut r = empty(StatusCode::OK);
    r.headers_mut().insert(
        header::ALLOW,
        HeaderValue::from_static("GET, POST, PUT, DELETE, OPTIONS, HEAD"),
    );
    r
}

fn parse_query(q: &str) -> HashMap<String, String> {
    let mut out = HashMap::new();
    for pair in q.split('&').filter(|p| !p.is_empty()) {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        out.entry(percent_decode(&k.replace('+', " ")))
            .or_insert_with(|| percent_decode(&v.replace('+', " ")));
    }
    out
}

/// Decodes `%XX` escapes (invalid ones are kept as they are), as UTF-8.
fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' && i + 2 < bytes.len() {
            let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).ok();
            if let Some(v) = hex.and_then(|h| u8::from_str_radix(h, 16).ok()) {
                out.push(v);
                i += 3;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// One request being answered.
pub(crate) struct Ctx<'a> {
    state: &'a State,
    server: &'a ServerEntry,
    method: Method,
    headers: &'a HeaderMap,
    query: HashMap<String, String>,
    body: Bytes,
    /// The client's address, for the per-address connection cap.
    client: IpAddr,
}

impl Ctx<'_> {
    /// The connection id from the header, else from the query parameter.
    fn connection_id(&self) -> Option<String> {
        match self.headers.get(CONNECTION_HEADER) {
            Some(v) => Some(String::from_utf8_lossy(v.as_bytes()).into_owned()),
            None => self.query.get(CONNECTION_HEADER).cloned(),
        }
    }

    /// The request's connection: 403 if missing, unknown, for another server or dropped.
    fn session(&self) -> Result<Arc<Connection>, Fail> {
        let forbidden = || Fail::respond(empty(StatusCode::FORBIDDEN));
        let id = self.connection_id().ok_or_else(forbidden)?;
        let connection = self.state.registry.get(&id).ok_or_else(forbidden)?;
        if connection.server_id != self.server.id {
            return Err(forbidden());
        }
        if connection.client.is_closed() {
            self.state.registry.remove_closed(&connection);
            return Err(forbidden());
        }
        connection.touch();
        Ok(connection)
    }

    /// The request's connection, which must be logged in (401 otherwise).
    fn login(&self) -> Result<Arc<Connection>, Fail> {
        let connection = self.session()?;
        if connection.pers_no().is_none() {
            return Err(Fail::respond(empty(StatusCode::UNAUTHORIZED)));
        }
        Ok(connection)
    }

    /// The body as a JSON value: `None` when it is not sent as JSON, 400 when it is
    /// malformed JSON.
    fn json_body(&self) -> Result<Option<Value>, Fail> {
        let is_json = self
            .headers
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .map(|v| {
                let mime = v
                    .split(';')
                    .next()
                    .unwrap_or("")
                    .trim()
                    .to_ascii_lowercase();
                mime == "application/json"
                    || (mime.starts_with("application/") && mime.ends_with("+json"))
            })
            .unwrap_or(false);
        if !is_json {
            return Ok(None);
        }
        serde_json::from_slice(&self.body)
            .map(Some)
            .map_err(|_| Fail::respond(empty(StatusCode::BAD_REQUEST)))
    }

    /// The body as a JSON object (400 `Invalid body.` otherwise).
    fn json_object(&self) -> Result<Map<String, Value>, Fail> {
        match self.json_body()? {
            Some(Value::Object(m)) => Ok(m),
            _ => Err(response::fail(StatusCode::BAD_REQUEST, "Invalid body.")),
        }
    }

    /// A query parameter.
    fn arg(&self, name: &str) -> Option<&str> {
        self.query.get(name).map(String::as_str)
    }

    /// A boolean query parameter (`true`/`false`; anything else is 400).
    fn bool_arg(&self, name: &str, default: bool) -> Result<bool, Fail> {
        match self.arg(name) {
            None => Ok(default),
            Some("true") => Ok(true),
            Some("false") => Ok(false),
            Some(_) => Err(Fail::respond(empty(StatusCode::BAD_REQUEST))),
        }
    }

    /// An integer query parameter (400 when not a number).
    fn int_arg(&self, name: &str, default: u32) -> Result<u32, Fail> {
        match self.arg(name) {
            None => Ok(default),
            Some(v) => v
                .trim()
                .parse()
                .map_err(|_| Fail::respond(empty(StatusCode::BAD_REQUEST))),
        }
    }

    async fn dispatch(&self, segments: &[String]) -> Outcome {
        let s: Vec<&str> = segments.iter().map(String::as_str).collect();
        let m = &self.method;
        let get = *m == Method::GET || *m == Method::HEAD;
        let post = *m == Method::POST;
        let put = *m == Method::PUT;
        let delete = *m == Method::DELETE;
        // A path segment that is a number (digits only, as httpkom's routes take them).
        let ok = |x: &str| number::<u32>(x).is_some();
        let not_allowed = || Ok(empty(StatusCode::METHOD_NOT_ALLOWED));
        match s.as_slice() {
            ["server", "info"] if get => resources::server_info(self).await,
            ["sessions", ""] if post => sessions::create(self).await,
            ["sessions", "current", "who-am-i"] if get => sessions::who_am_i(self).await,
            ["sessions", "current", "active"] if post => sessions::active(self).await,
            ["sessions", "current", "login"] if post => sessions::login(self).await,
            ["sessions", "current", "logout"] if post => sessions::logout(self).await,
            ["sessions", "current", "working-conference"] if post => {
                sessions::working_conference(self).await
            }
            ["sessions", n] if delete && ok(n) => {
                sessions::delete(self, number(n).unwrap_or_default()).await
            }
            ["conferences", ""] if get => resources::conferences_lookup(self).await,
            ["conferences", ""] if post => resources::conferences_create(self).await,
            ["conferences", c] if get && ok(c) => {
                resources::conferences_get(self, number(c).unwrap_or_default()).await
            }
            ["conferences", c, "texts", ""] if get && ok(c) => {
                resources::conferences_texts(self, number(c).unwrap_or_default()).await
            }
            ["conferences", c, "texts", l, "read-marking"] if put && ok(c) && ok(l) => {
                resources::conference_read_marking(
                    self,
                    number(c).unwrap_or_default(),
                    number(l).unwrap_or_default(),
                )
                .await
            }
            ["texts", ""] if post => resources::texts_create(self).await,
            ["texts", "marks", ""] if get => resources::texts_marks(self).await,
            ["texts", t] if get && ok(t) => {
                resources::texts_get(self, number(t).unwrap_or_default()).await
            }
            ["texts", t, "body"] if get && ok(t) => {
                resources::texts_body(self, number(t).unwrap_or_default()).await
            }
            ["texts", t, "mark"] if (put || delete) && ok(t) => {
                resources::texts_mark(self, number(t).unwrap_or_default(), put).await
            }
            ["texts", t, "read-marking"] if (put || delete) && ok(t) => {
                resources::texts_read_marking(self, number(t).unwrap_or_default(), put).await
            }
            ["persons", ""] if post => resources::persons_create(self).await,
            ["persons", p, "set-passwd"] if post && ok(p) => {
                resources::persons_set_passwd(self, number(p).unwrap_or_default()).await
            }
            ["persons", p, "user-area", block] if get && ok(p) && !block.is_empty() => {
                user_area::get_block(self, number(p).unwrap_or_default(), block).await
            }
            ["persons", p, "set-presentation"] if post && ok(p) => {
                resources::persons_set_presentation(self, number(p).unwrap_or_default()).await
            }
            ["persons", "current", "memberships", c, "unread"] if post && ok(c) => {
                resources::memberships_set_unread(self, number(c).unwrap_or_default()).await
            }
            ["persons", p, "memberships", ""] if get && ok(p) => {
                resources::memberships_list(self, number(p).unwrap_or_default()).await
            }
            ["persons", p, "memberships", "unread", ""] if get && ok(p) => {
                resources::memberships_unreads(self, number(p).unwrap_or_default()).await
            }
            ["persons", p, "memberships", c] if ok(p) && ok(c) => {
                let (p, c) = (number(p).unwrap_or_default(), number(c).unwrap_or_default());
                if get {
                    resources::memberships_get(self, p, c).await
                } else if put {
                    resources::memberships_add(self, p, c).await
                } else if delete {
                    resources::memberships_remove(self, p, c).await
                } else {
                    not_allowed()
                }
            }
            ["persons", p, "memberships", c, "unread"] if get && ok(p) && ok(c) => {
                resources::memberships_unread(
                    self,
                    number(p).unwrap_or_default(),
                    number(c).unwrap_or_default(),
                )
                .await
            }
            _ => Ok(empty(StatusCode::NOT_FOUND)),
        }
    }
}

/// A path segment as a number: ASCII digits only, the rule of the `FromStr` of
/// [`ConfNo`](crate::protocol::numbers::ConfNo) and the other LysKOM numbers, applied to local
/// numbers too, which have no type of their own.
fn number<T: std::str::FromStr>(segment: &str) -> Option<T> {
    if segment.is_empty() || !segment.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    segment.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn gateway() -> Gateway {
        Gateway::new(GatewayConfig {
            servers: vec![ServerEntry {
                id: "kom".into(),
                name: "Kom".into(),
                host: "127.0.0.1".into(),
                port: 1,
                sort_order: None,
            }],
            ..GatewayConfig::default()
        })
    }

    fn request(
        method: &str,
        uri: &str,
        headers: &[(&str, &str)],
    ) -> Request<http_body_util::Full<Bytes>> {
        let mut b = Request::builder().method(method).uri(uri);
        for (k, v) in headers {
            b = b.header(*k, *v);
        }
        b.body(http_body_util::Full::new(Bytes::new())).unwrap()
    }

    #[tokio::test]
    async fn routes_answer_like_httpkom_without_a_connection() {
        let gw = gateway();
        let r = gw
            .handle(request("GET", "/nosuch/sessions/current/who-am-i", &[]))
            .await;
        assert_eq!(r.status(), StatusCode::NOT_FOUND);
        let r = gw
            .handle(request("GET", "/kom/sessions/current/who-am-i?_v=1", &[]))
            .await;
        assert_eq!(r.status(), StatusCode::FORBIDDEN);
        let r = gw
            .handle(request(
                "GET",
                "/kom/texts/1",
                &[(CONNECTION_HEADER, "not-a-connection")],
            ))
            .await;
        assert_eq!(r.status(), StatusCode::FORBIDDEN);
        let r = gw
            .handle(request(
                "POST",
                "/kom/sessions/",
                &[(CONNECTION_HEADER, "x")],
            ))
            .await;
        assert_eq!(r.status(), StatusCode::CONFLICT);
        let r = gw.handle(request("POST", "/kom/sessions/", &[])).await;
        assert_eq!(r.status(), StatusCode::BAD_REQUEST);
        let r = gw
            .handle(request("GET", "/kom/no/such/resource", &[]))
            .await;
        assert_eq!(r.status(), StatusCode::NOT_FOUND);
        let r = gw
            .handle(request(
                "OPTIONS",
                "/kom/sessions/",
                &[("Origin", "http://a.test")],
            ))
            .await;
        assert_eq!(r.status(), StatusCode::OK);
        assert_eq!(r.headers()["access-control-allow-origin"], "*");
        assert_eq!(r.headers()["cache-control"], "no-cache");
        assert_eq!(gw.metrics().requests, 7);
    }

    #[tokio::test]
    async fn the_websocket_endpoint_checks_the_handshake_then_the_connection() {
        let gw = gateway();
        let r = gw.handle(request("GET", "/websocket", &[])).await;
        assert_eq!(r.status(), StatusCode::BAD_REQUEST);
        let r = gw.handle(request("POST", "/websocket", &[])).await;
        assert_eq!(r.status(), StatusCode::METHOD_NOT_ALLOWED);
        let handshake = [
            ("Upgrade", "websocket"),
            ("Connection", "Upgrade"),
            ("Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ=="),
            ("Sec-WebSocket-Version", "13"),
            ("Origin", "http://a.test"),
        ];
        let r = gw
            .handle(request(
                "GET",
                "/websocket?Httpkom-Connection=nope",
                &handshake,
            ))
            .await;
        assert_eq!(r.status(), StatusCode::FORBIDDEN);
        assert_eq!(r.headers()["access-control-allow-origin"], "*");
        let body = r.into_body().collect().await.unwrap().to_bytes();
        let body: Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(
            body,
            json!({"error_type": "httpkom", "error_msg": "Invalid connection id"})
        );
    }

    #[test]
    fn query_strings_and_escapes_decode() {
        let q = parse_query("name=R%C3%A4k+sm%C3%B6rg%C3%A5s&want-pers=false&x=%zz&name=second");
        assert_eq!(q["name"], "Räk smörgås");
        assert_eq!(q["want-pers"], "false");
        assert_eq!(q["x"], "%zz");
        assert_eq!(percent_decode("%"), "%");
        assert_eq!(percent_decode("a%2"), "a%2");
    }
}
