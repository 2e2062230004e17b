//! Client-side HTTP sessions.
//!
//! - [`CookieJar`]: an RFC 6265 cookie jar (host-only and domain cookies, path, `Secure`,
//!   `Expires`/`Max-Age`, `Cookie` header order) that never sends a cookie to a host it was
//!   not set for.

pub mod cookie_jar;

pub use cookie_jar::{CookieJar, CookieRejected, SetCookieOutcome, StoredCookie};
