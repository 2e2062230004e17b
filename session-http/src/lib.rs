//! # session-http
//!
//! HTTP on both sides of a session (work in progress):
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
//! - [`transport`]: the HTTP/HTTPS transport both clients use (rustls; certificates verified
//!   against the Mozilla roots by default, or a CA bundle, or not at all on request; clear
//!   errors for untrusted certificates and host name mismatches).

#[cfg(feature = "client")]
pub mod client;
#[cfg(feature = "hac")]
pub mod hac;
#[cfg(feature = "server")]
pub mod server;
#[cfg(any(feature = "client", feature = "hac"))]
pub mod transport;
