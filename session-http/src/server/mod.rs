//! Server-side HTTP sessions: a tower [`Layer`](tower_layer::Layer) for hyper 1 and axum.
//!
//! [`SessionLayer`] wraps a service. For every request it finds the session id the client
//! presents (a cookie, a header, or either), puts a lazy [`Session`] handle into the request's
//! extensions, runs the handler, and then — before the response head goes out — saves what
//! the handler changed and tells the client about its id.
//!
//! ## What the layer promises
//!
//! - **Lazy.** A handler that does not touch the session causes no store I/O and gets no
//!   cookie. A new session that nothing was written to is never stored.
//! - **Minimal writes.** A read-only request at most *touches* the session (throttled by the
//!   manager's [`TouchPolicy`](session_core::TouchPolicy)) to roll its idle expiry; a write
//!   sends only the changed attributes, so concurrent requests that change different
//!   attributes of one session both win.
//! - **Cookie.** `HttpOnly`, `Secure`, `SameSite=Lax`, `Path=/` by default; `Max-Age` is the
//!   time the stored record has left (idle and absolute expiry together), re-sent whenever the
//!   record is written or touched. `__Host-` and `__Secure-` names are checked when the layer
//!   is built. Every response that sets or clears the id carries `Cache-Control: no-store`.
//! - **Header transport** for API clients: `Authorization: Bearer <id>` (new ids come back in
//!   `x-session-id`) or a named header ([`HeaderTransport`]). With both configured, a request
//!   is answered on the transport it used; a client that presents no id yet gets a cookie, and
//!   the id in the response header only when it asks with `x-session-transport: header`
//!   ([`SESSION_TRANSPORT_HEADER`]) — a cookie client never sees its id in a header, where a
//!   page's scripts could read what `HttpOnly` hides.
//! - **Ending and renewing.** [`Session::invalidate`] deletes the record and expires the cookie
//!   with the same attributes (or sends an empty id header). [`Session::log_in`] (or
//!   [`Session::cycle_id`]) gives the session a new id — fixation protection.
//! - **Bad ids are not errors.** A malformed, unknown or expired id gives the handler a fresh
//!   session and the client's stale cookie is expired when the handler uses the session;
//!   malformed and unknown ids raise a [`SuspiciousId`](session_core::EventKind::SuspiciousId)
//!   event.
//! - **Unreadable records are not errors either.** When the record under a client's id does
//!   not decode ([`Error::Codec`](session_core::Error::Codec) on load, or a backend error
//!   caused by a [`CodecError`](session_core::CodecError)), the layer deletes it,
//!   raises a [`Discarded`](session_core::EventKind::Discarded) event and gives the handler a
//!   fresh session, so one damaged record does not lock its client out;
//!   [`UnreadableRecordPolicy::StoreFailure`] keeps the record and fails as below instead.
//! - **Failures.** Nothing is saved after a 5xx response unless
//!   [`save_on_server_error`](SessionLayerBuilder::save_on_server_error) says so. When the store
//!   fails, [`StoreFailurePolicy::FailClosed`] (the default) answers `503` with a plain body
//!   that leaks no detail; [`StoreFailurePolicy::ContinueWithoutSession`] lets the handler carry
//!   on with an empty, unsaved session. Both raise a `StoreError` event.
//! - **Concurrency outcomes.** A save refused because another request changed the *same*
//!   attribute ([`Error::Conflict`](session_core::Error::Conflict)) becomes `409 Conflict`
//!   (plain text, the handler's response is dropped so the client knows to retry), or with
//!   [`ConflictPolicy::KeepResponse`] the handler's response goes out and the change is lost.
//!   A save to a session that was ended meanwhile
//!   ([`Error::Gone`](session_core::Error::Gone), e.g. "log out everywhere" from another
//!   device) is never applied — no resurrection — and the client's id is expired; the
//!   handler's response goes out unchanged. A per-principal session limit set to refuse gives
//!   `403`, an oversized session `413`.
//!
//! ## Secure by default against a hostile browser
//!
//! - **Cross-origin requests.** Unsafe requests (not `GET`/`HEAD`/`OPTIONS`) that would use
//!   a cookie session, or that carry no id yet, are refused with `403` before the handler
//!   runs when `Sec-Fetch-Site` says `cross-site` or `same-site`, or, from browsers without
//!   Fetch Metadata, when `Origin` is not the server's own — the rule of Go 1.25's
//!   `http.CrossOriginProtection`, Django's and Rails' origin checks. Requests with the id
//!   in a header pass (a page cannot add it without a CORS preflight). Knobs:
//!   [`CrossOriginProtection`] (`allow_same_site`, `trusted_origins`, the `scheme` behind a
//!   TLS proxy, or [`disabled`](CrossOriginProtection::disabled)) through
//!   [`SessionLayerBuilder::cross_origin`].
//! - **Form tokens.** [`Session::csrf_token`] and [`Session::verify_csrf_token`]:
//!   synchronizer tokens kept in the session, compared in constant time, replaced on
//!   [`Session::log_in`] and [`Session::cycle_id`]. Use them in every HTML form, the login
//!   form included.
//! - **Cookie tossing.** A page on a sibling domain can plant a second cookie of the same name
//!   (with a more specific path, it is even sent first). When a request presents several
//!   different well-formed ids, none wins by position: the session is the one of them that
//!   is live, and when more than one is, the request gets a fresh session and a
//!   [`SuspiciousId`](session_core::EventKind::SuspiciousId) event is raised. Identical
//!   repeats count as one and cost nothing.
//!
//! ## Compared with tower-sessions and actix-session
//!
//! | | `session_http::server` | tower-sessions 0.14 | actix-session 0.10 |
//! |---|---|---|---|
//! | frameworks | tower: hyper 1, axum | tower: axum | actix-web only |
//! | lazy: no store I/O, no cookie unless used/written | yes | yes | loads on extraction |
//! | saves only changed attributes; concurrent writes to different keys all survive | yes (per-key delta, versioned) | no: whole record, last writer wins | no: whole state, last writer wins |
//! | conflicting write to the same key detected | yes: `409` (configurable) | no: silently lost | no: silently lost |
//! | a session ended elsewhere is never resurrected by a late write | yes (`Gone`, cookie expired) | no: save re-creates it | no |
//! | idle and absolute expiry together | yes | one policy at a time | TTL with extension policy |
//! | rolling expiry without a write per request | yes: throttled touch of the timestamp only | only by re-saving the record (`always_save`) | `OnEveryRequest` rewrites the state |
//! | cookie `Max-Age` follows the stored expiry | yes | yes | yes |
//! | id in a header for API clients (Bearer or named) | yes, also both with cookie | cookie only | cookie only |
//! | `__Host-`/`__Secure-` prefix and `SameSite=None` rules checked at build | yes | no | no |
//! | `Cache-Control: no-store` when the id is set or cleared | yes | no | no |
//! | store failure policy | fail closed `503` with a plain body, or continue without a session | `500` | `500` |
//! | not saved after a 5xx | yes (configurable) | yes | no |
//! | malformed/unknown ids | fresh session + `SuspiciousId` event, no store access for malformed ids | fresh session | fresh session |
//! | stores keep a digest of the id (a dump yields no usable cookie) | yes (SHA-256) | no: id is the key | no: key is the id |
//! | list and revoke a user's sessions ("log out everywhere") | yes (principal index) | no | no |
//! | lifecycle events and counters for metrics | yes | no | no |
//! | unsafe cross-origin requests refused (Fetch Metadata, `Origin`) | yes, by default | no | no |
//! | form tokens bound to the session | yes | no (separate crate) | no |
//! | several presented session cookies | the live one; none if several are live | the first | the first |
//! | conformance test kit for third-party stores | yes | no | no |
//! | stores in the same project | memory, file, SQLite, Redis (and Cluster), encrypted file | memory (others in separate crates) | cookie, Redis |
//!
//! Throughput and latency against bare hyper and tower-sessions on the same handler are
//! measured by `benches/benches/http_load.rs` (through real connections) and
//! `benches/benches/layer.rs` (the layers alone); the results are in `benches/RESULTS.md`.
//!
//! ## Example
//!
//! ```
//! # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
//! use std::convert::Infallible;
//! use std::sync::Arc;
//!
//! use bytes::Bytes;
//! use http::{Request, Response, header};
//! use http_body_util::Full;
//! use session_core::{MemoryStore, SessionConfig, SessionManager};
//! use session_http::server::{Session, SessionLayer};
//! use tower::{ServiceBuilder, ServiceExt, service_fn};
//!
//! let manager = SessionManager::new(Arc::new(MemoryStore::new()), SessionConfig::default());
//! let app = ServiceBuilder::new()
//!     .layer(SessionLayer::new(manager))
//!     .service(service_fn(|request: Request<()>| async move {
//!         let session = request.extensions().get::<Session>().cloned().expect("layer");
//!         if request.uri().path() == "/visit" {
//!             let visits = session.get::<u64>("visits").await.unwrap_or(None).unwrap_or(0) + 1;
//!             session.insert("visits", &visits).await.ok();
//!             return Ok::<_, Infallible>(Response::new(Full::new(Bytes::from(visits.to_string()))));
//!         }
//!         Ok(Response::new(Full::new(Bytes::from_static(b"hello"))))
//!     }));
//!
//! // A handler that never touches the session: no store I/O, no cookie.
//! let response = app.clone().oneshot(Request::get("/").body(())?).await?;
//! assert!(response.headers().get(header::SET_COOKIE).is_none());
//!
//! // The first write creates the session and sets the cookie.
//! let response = app.clone().oneshot(Request::get("/visit").body(())?).await?;
//! let set_cookie = response.headers()[header::SET_COOKIE].to_str()?.to_owned();
//! assert!(set_cookie.contains("HttpOnly") && set_cookie.contains("SameSite=Lax"));
//! assert_eq!(response.headers()[header::CACHE_CONTROL], "no-store");
//!
//! // The browser sends it back.
//! let cookie = set_cookie.split(';').next().unwrap_or_default().to_owned();
//! let request = Request::get("/visit").header(header::COOKIE, cookie).body(())?;
//! let response = app.clone().oneshot(request).await?;
//! let body = http_body_util::BodyExt::collect(response.into_body()).await?.to_bytes();
//! assert_eq!(body, "2");
//! # Ok::<(), Box<dyn std::error::Error + Send + Sync>>(())
//! # }).unwrap();
//! ```
//!
//! With axum, add the layer with `Router::layer` and take the handle as a handler argument,
//! `session: Session` (a route outside the layer answers `500`, [`MissingSessionLayer`]);
//! see `examples/axum_counter.rs`. A handler that takes [`RequireLogin`] runs only when
//! someone is logged in: others get a `303` to the login page
//! ([`SessionLayerBuilder::login_path`]) when they read HTML, and `401` otherwise.

mod config;
mod cross_origin;
mod csrf;
mod extract;
mod handle;
mod id_transport;
mod layer;
mod require_login;

pub use config::{
    ConfigError, ConflictPolicy, CookieConfig, HeaderTransport, SameSite, StoreFailurePolicy,
    UnreadableRecordPolicy,
};
pub use cross_origin::{CrossOriginProtection, CrossOriginRefusal, RequestScheme};
pub use csrf::CSRF_TOKEN_KEY;
pub use extract::MissingSessionLayer;
pub use handle::Session;
pub use id_transport::{
    CookieValues, cookie_values, expire_cookie, set_cookie, token_from_cookies, token_from_header,
};
pub use layer::{
    ResponseFuture, SESSION_TRANSPORT_HEADER, SessionBody, SessionLayer, SessionLayerBuilder,
    SessionService,
};
pub use require_login::{LoginRequired, RequireLogin};
