//! Client-side HTTP sessions, compatible with HTTPie's `--session` files.
//!
//! - [`CookieJar`]: an RFC 6265 cookie jar (host-only and domain cookies, path, `Secure`,
//!   `Expires`/`Max-Age`, `Cookie` header order) that never sends a cookie to a host it was
//!   not set for.
//! - [`ClientSession`]: cookies, headers and auth (basic, bearer) kept per host and name,
//!   applied to requests and updated from responses exactly as HTTPie does, read-only or not.
//! - [`httpie_format`]: HTTPie 3.x session files (current and legacy layouts read, current
//!   layout written byte for byte as HTTPie writes it).
//! - [`paths`]: HTTPie's config directory and session file paths.
//! - [`python_json`]: JSON written byte for byte as Python's `json.dumps` writes it (bodies
//!   and session files).
//! - [`SessionFile`]: 0600 files in 0700 directories, atomic writes, a lock against
//!   concurrent runs.
//! - [`HttpieSession`]: a session file as a [`session_core::Session`] (identity = path,
//!   principal, cookie expiry, typed attributes under a key HTTPie keeps, dirty tracking).
//! - [`SessionClient`]: sends requests with a session over `http://` or `https://` (the shared
//!   [`crate::transport::HttpTransport`]: certificates verified against the Mozilla roots by
//!   default, a CA bundle or no verification as HTTPie's `--verify PATH|no`, an optional
//!   client certificate), following redirects hop by hop; the response keeps each redirect
//!   followed and the request it answered, as sent ([`ClientResponse::history`]). A certificate that is not accepted
//!   is a [`ClientError::Tls`] that says why (not trusted, another host name, expired).
//!
//! ```
//! use session_http::client::{Auth, ClientSession};
//! use url::Url;
//!
//! let url = Url::parse("http://localhost:8080/api").unwrap();
//! let mut session = ClientSession::new("localhost");
//! session.update_headers(&url, &[("X-Api-Version".into(), "2".into())]);
//! session.set_auth(Some(Auth::Bearer { token: "t0k3n".into() }));
//! session.cookies.store_set_cookie(&url, "sid=abc; Path=/").unwrap();
//!
//! // The file HTTPie reads: a dotless host's host-only cookie is written as `localhost.local`.
//! let json = session.to_httpie_json();
//! assert!(json.contains("\"domain\": \"localhost.local\""));
//! let again = ClientSession::from_httpie_json(&json, "localhost").unwrap();
//! assert_eq!(again.cookies.cookie_header(&url).as_deref(), Some("sid=abc"));
//! assert_eq!(again.auth(), session.auth());
//! ```

mod auth;
pub mod cookie_jar;
mod error;
pub mod httpie_format;
mod httpie_session;
pub mod paths;
pub mod python_json;
mod send;
mod session;
mod session_file;

pub use auth::Auth;
pub use cookie_jar::{CookieJar, CookieRejected, SetCookieOutcome, StoredCookie};
pub use error::ClientError;
pub use httpie_format::{FileAuth, Layout};
pub use httpie_session::{EXTENSION_KEY, HttpieSession};
pub use send::{ClientRequest, ClientResponse, DEFAULT_MAX_REDIRECTS, SessionClient};
pub use session::{ClientSession, STORE_ATTRIBUTE};
pub use session_file::{
    FileSealer, SessionFile, create_private_dirs, lock_path, looks_like_json, read_if_exists,
    write_atomic,
};
