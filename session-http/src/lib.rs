//! # session-http
//!
//! HTTP on both sides of a session:
//!
//! - [`server`]: a tower `Layer` for hyper 1 and axum that gives every request a lazy session
//!   (id by cookie or header, no store I/O unless used), saves what changed before the response
//!   head goes out, rolls the idle expiry, renews ids on login and fails closed on store errors.
//! - [`client`]: client-side sessions shared with HTTPie: an RFC 6265 cookie jar that never
//!   sends a cookie to a host it was not set for, headers and auth (basic, bearer) per host and
//!   name, HTTPie 3.x session files (current and legacy layouts read, current layout written as
//!   HTTPie writes it, at HTTPie's paths) kept 0600, atomically and under a lock, in any session
//!   store too, and a hyper client that applies and updates a session across redirects, over
//!   `http://` and `https://`.
//! - [`hac`]: a SAP Commerce HAC client (CSRF form login, `JSESSIONID`/`ROUTE` in one cookie
//!   jar, re-login and one retry on a dead session; Groovy, FlexibleSearch, Impex) over
//!   `http://` or `https://`, with a session cache shared with hac-client-core, and an emulator
//!   of HAC for tests.
//! - [`serve`]: a hardened HTTP/1.1 serve loop for any tower service (header-read and
//!   request timeouts, stalled writes cut, connection caps in total and per client address
//!   with a fast refusal, graceful shutdown with a bounded drain).
//! - [`transport`]: the HTTP/HTTPS transport both clients use (rustls; certificates verified
//!   against the Mozilla roots by default, or a CA bundle, or not at all on request; clear
//!   errors for untrusted certificates and host name mismatches).
//!
//! Each module opens with a runnable example: [`server`] (a counter behind the layer),
//! [`client`] (a session written as HTTPie writes it), [`hac`] (a login, a query and a cached
//! session reused against the emulator).
//!
//! ## Features
//!
//! Take only the side you need; each feature pulls only its own dependencies.
//!
//! | feature | module | brings in |
//! |---|---|---|
//! | `server` (default) | [`server`] | tower's `Layer`/`Service`, `http-body-util`, `axum-core` (the extractor traits) |
//! | `serve` (default) | [`serve`] | hyper's server, `hyper-util`, tower |
//! | `client` (default) | [`client`], [`transport`] | hyper's client, rustls (ring), webpki roots, `cookie`, `url`, `dirs` |
//! | `hac` (default) | [`hac`] (needs `client`) | `md-5`, tokio-rustls for the emulator's HTTPS |
//!
//! A web service that only needs the middleware depends on
//! `session-http = { version = "0.1", default-features = false, features = ["server"] }`:
//! no TLS stack, no HTTP client.
//!
//! ## Example
//!
//! The session middleware with axum: a counter kept in the session.
//!
//! ```
//! # #[cfg(feature = "server")]
//! # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
//! use std::sync::Arc;
//!
//! use axum::{Extension, Router, routing::post};
//! use http::{Request, header};
//! use session_core::{MemoryStore, SessionConfig, SessionManager};
//! use session_http::server::{Session, SessionLayer};
//! use tower::ServiceExt;
//!
//! async fn count(Extension(session): Extension<Session>) -> String {
//!     let visits = session.get::<u64>("visits").await.ok().flatten().unwrap_or(0) + 1;
//!     let _ = session.insert("visits", &visits).await;
//!     visits.to_string()
//! }
//!
//! let manager = SessionManager::new(Arc::new(MemoryStore::new()), SessionConfig::default());
//! let app = Router::new()
//!     .route("/count", post(count))
//!     .layer(SessionLayer::new(manager));
//!
//! let first = app.clone().oneshot(Request::post("/count").body(String::new())?).await?;
//! let cookie = first.headers()[header::SET_COOKIE].to_str()?;
//! let cookie = cookie.split(';').next().unwrap_or_default().to_owned();
//! let second = Request::post("/count").header(header::COOKIE, cookie).body(String::new())?;
//! let body = axum::body::to_bytes(app.oneshot(second).await?.into_body(), 64).await?;
//! assert_eq!(body, "2");
//! # Ok::<(), Box<dyn std::error::Error + Send + Sync>>(())
//! # }).unwrap();
//! ```

#![cfg_attr(docsrs, feature(doc_cfg))]

#[cfg(feature = "client")]
#[cfg_attr(docsrs, doc(cfg(feature = "client")))]
pub mod client;
#[cfg(feature = "hac")]
#[cfg_attr(docsrs, doc(cfg(feature = "hac")))]
pub mod hac;
pub mod html_escape;
#[cfg(feature = "serve")]
#[cfg_attr(docsrs, doc(cfg(feature = "serve")))]
pub mod serve;
#[cfg(feature = "server")]
#[cfg_attr(docsrs, doc(cfg(feature = "server")))]
pub mod server;
#[cfg(any(feature = "client", feature = "hac"))]
#[cfg_attr(docsrs, doc(cfg(any(feature = "client", feature = "hac"))))]
pub mod transport;
