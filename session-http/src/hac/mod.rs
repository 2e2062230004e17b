//! A SAP Commerce HAC (hybris administration console) client whose session cache is shared
//! with hac-client-core, and an emulator of HAC to test clients against.
//!
//! ## The model
//!
//! HAC is a Spring Security web application under `/hac`. A client:
//!
//! 1. `GET /hac/` — without a session HAC redirects to `/hac/login` and sets
//!    `JSESSIONID` (`Path=/hac`); the login page carries a CSRF token as
//!    `<meta name="_csrf">` and as the form's hidden `_csrf` input ([`csrf_token`]);
//! 2. `POST /hac/j_spring_security_check` with `j_username`, `j_password`, `_csrf`, without
//!    following the redirect;
//! 3. `GET` the redirect's target: the login page again ([`is_login_page`]) means bad
//!    credentials; otherwise HAC has rotated `JSESSIONID` and the token, and the page carries
//!    the fresh token.
//!
//! Every later request goes through one cookie jar ([`crate::client::CookieJar`]) holding
//! `JSESSIONID` and the load balancer's `ROUTE`, and sends the token as `X-CSRF-TOKEN`.
//! A dead session shows as 401, 403, 405 or the login page; [`HacClient`] then drops the cache
//! entry, logs in again and retries once.
//!
//! Sessions are filed by a [`SessionCache`]: [`FileSessionCache`] uses hac-client-core 0.1.2's
//! directory, file names (`session_<md5("base_url:username:environment")>.json`) and JSON
//! fields, so a session started by either tool is reused by the other (see [`CacheKey`]);
//! [`StoreSessionCache`] keeps them in any [`session_core::SessionStore`] instead (the encrypted
//! file store, say). A cached session is validated (`GET /hac/`) before it is reused. The
//! password never touches disk.
//!
//! The server may be `http://` or `https://`. An https server's certificate is verified
//! against the default roots unless the client is given another
//! [`crate::transport::HttpTransport`] ([`HacClient::with_transport`]): a CA bundle for a
//! private CA, or no verification ([`crate::transport::Verify::Off`], what hac-client-cli's
//! `ignore_ssl = true` does — for development servers with self-signed certificates only).
//! A certificate that is not accepted is a [`HacError::Tls`] saying why.
//!
//! The operations return typed results: [`GroovyResult`], [`FlexSearchResult`] (a query HAC
//! cannot run is a 200 with an exception object, kept as [`FlexSearchError`]) and
//! [`ImpexResult`] (read from the HTML page HAC answers with).
//!
//! A [`HacClient`] is a [`session_core::Session`]: its logins go through session-core's one
//! login flow ([`session_core::log_in`]) with the form login as the protocol's
//! authenticator, and [`session_core::Session::invalidate`] logs out at the server.
//! [`HacAuthenticator`] is the login as a standalone [`session_core::Authenticator`].
//!
//! ## Example
//!
//! ```
//! # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
//! use std::sync::Arc;
//! use session_http::hac::emulator::{EmulatorConfig, HacEmulator};
//! use session_http::hac::{CacheKey, FileSessionCache, FlexSearchQuery, HacClient, LoginOutcome};
//!
//! // A HAC to talk to: the emulator, on a free port.
//! let hac = HacEmulator::new(EmulatorConfig::default()).bind("127.0.0.1:0".parse()?).await?;
//! let cache_dir = tempfile::tempdir()?;
//! let cache = Arc::new(FileSessionCache::new(cache_dir.path()));
//! let key = CacheKey::new(hac.base_url(), "admin", "local");
//!
//! let client = HacClient::new(key.clone())?.with_password("nimda").with_cache(cache.clone());
//! let users = client.flexible_search(&FlexSearchQuery::new("SELECT {uid} FROM {User}")).await?;
//! assert_eq!(users.headers, ["p_uid"]);
//! assert_eq!(users.rows[0], ["admin"]);
//!
//! // Another client (another process, or hac-client-core) reuses the cached session:
//! // no password, no login.
//! let again = HacClient::new(key)?.with_cache(cache);
//! assert_eq!(again.login().await?, LoginOutcome::ReusedCached);
//! assert_eq!(again.groovy("println 'hi'\nreturn 42", false).await?.result, "42");
//! assert_eq!(hac.emulator().stats().logins, 1);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! # }).unwrap();
//! ```

mod cache;
mod client;
pub mod emulator;
mod error;
mod html;
mod results;
mod session;
mod store_cache;

pub use cache::{CacheKey, CachedSession, FileSessionCache, SessionCache};
pub use client::{
    HacAuthenticator, HacClient, LoginOutcome, PasswordSource, ROUTE_COOKIE, SESSION_COOKIE,
};
pub use error::HacError;
pub use html::{csrf_token, is_login_page};
pub use results::{FlexSearchError, FlexSearchQuery, FlexSearchResult, GroovyResult, ImpexResult};
pub use store_cache::StoreSessionCache;
