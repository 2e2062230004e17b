//! How the session layer behaves: id transport, cookie attributes and failure policies.

use std::fmt::Write as _;

use http::HeaderName;

/// The `SameSite` attribute of the session cookie.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum SameSite {
    /// Sent on same-site requests only.
    Strict,
    /// Sent on same-site requests and top-level cross-site navigations (the default).
    #[default]
    Lax,
    /// Sent on every request; needs `Secure`.
    None,
}

impl SameSite {
    fn as_str(self) -> &'static str {
        match self {
            SameSite::Strict => "Strict",
            SameSite::Lax => "Lax",
            SameSite::None => "None",
        }
    }
}

/// The session cookie's name and attributes.
///
/// The defaults are the safe ones: `session`, `Path=/`, `HttpOnly`, `Secure`, `SameSite=Lax`,
/// and a `Max-Age` that follows the stored session's expiry.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CookieConfig {
    /// The cookie name. A `__Host-` name requires `Secure`, `Path=/` and no `Domain`; a
    /// `__Secure-` name requires `Secure` (checked when the layer is built).
    pub name: String,
    /// The `Path` attribute.
    pub path: String,
    /// The `Domain` attribute (`None`: a host-only cookie).
    pub domain: Option<String>,
    /// `HttpOnly`: scripts cannot read the cookie.
    pub http_only: bool,
    /// `Secure`: sent over HTTPS only (browsers also accept it on `http://localhost`).
    pub secure: bool,
    /// The `SameSite` attribute.
    pub same_site: SameSite,
    /// Whether the cookie carries a `Max-Age` matching the session's expiry (`true`), or is
    /// a browser-session cookie that ends with the browser (`false`).
    pub persistent: bool,
}

impl Default for CookieConfig {
    fn default() -> Self {
        CookieConfig {
            name: "session".to_owned(),
            path: "/".to_owned(),
            domain: None,
            http_only: true,
            secure: true,
            same_site: SameSite::Lax,
            persistent: true,
        }
    }
}

impl CookieConfig {
    /// The attributes after the value and `Max-Age`, starting with `; `.
    pub(crate) fn attribute_suffix(&self) -> String {
        let mut text = String::with_capacity(64);
        let _ = write!(text, "; Path={}", self.path);
        if let Some(domain) = &self.domain {
            let _ = write!(text, "; Domain={domain}");
        }
        if self.http_only {
            text.push_str("; HttpOnly");
        }
        if self.secure {
            text.push_str("; Secure");
        }
        let _ = write!(text, "; SameSite={}", self.same_site.as_str());
        text
    }

    /// Checks the configuration against RFC 6265bis's rules for cookie prefixes and values.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let bad = |reason: &str| ConfigError::Cookie {
            name: self.name.clone(),
            reason: reason.to_owned(),
        };
        let token_char = |c: char| c.is_ascii_graphic() && !"()<>@,;:\\\"/[]?={}".contains(c);
        if self.name.is_empty() || !self.name.chars().all(token_char) {
            return Err(bad("the name must be a non-empty HTTP token"));
        }
        let attr_ok = |s: &str| s.chars().all(|c| c.is_ascii_graphic() && c != ';');
        if self.path.is_empty() || !self.path.starts_with('/') || !attr_ok(&self.path) {
            return Err(bad(
                "the path must start with '/' and contain no ';', spaces or controls",
            ));
        }
        if let Some(domain) = &self.domain
            && (domain.is_empty() || !attr_ok(domain))
        {
            return Err(bad(
                "the domain must be non-empty and contain no ';', spaces or controls",
            ));
        }
        if self.name.starts_with("__Host-") {
            if !self.secure {
                return Err(bad("a __Host- cookie must be Secure"));
            }
            if self.path != "/" {
                return Err(bad("a __Host- cookie must have Path=/"));
            }
            if self.domain.is_some() {
                return Err(bad("a __Host- cookie must not have a Domain"));
            }
        }
        if self.name.starts_with("__Secure-") && !self.secure {
            return Err(bad("a __Secure- cookie must be Secure"));
        }
        if self.same_site == SameSite::None && !self.secure {
            return Err(bad("SameSite=None requires Secure"));
        }
        Ok(())
    }
}

/// The header API clients present their session id in.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum HeaderTransport {
    /// `Authorization: Bearer <id>`; new and renewed ids are sent in `response_header`, and an
    /// ended session is announced by that header with an empty value.
    Bearer {
        /// The response header that carries a new id (default `x-session-id`).
        response_header: HeaderName,
    },
    /// A named header, in requests and in responses alike (e.g. `x-auth-token`); an ended
    /// session is announced by the header with an empty value.
    Named(HeaderName),
}

impl HeaderTransport {
    /// `Authorization: Bearer` in, `x-session-id` out.
    pub fn bearer() -> Self {
        HeaderTransport::Bearer {
            response_header: HeaderName::from_static("x-session-id"),
        }
    }
}

/// What the layer does when the session store fails (an unreachable backend, a corrupt record).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum StoreFailurePolicy {
    /// Answer `503 Service Unavailable` with `Retry-After: 1` and a plain-text body that names
    /// no detail, whatever the handler answered (the default: nothing pretends to have been
    /// saved).
    #[default]
    FailClosed,
    /// Carry on without a session: a failed load gives the handler a fresh, empty session;
    /// a failed save sends the handler's response without touching the client's id. A
    /// [`StoreError`](session_core::EventKind::StoreError) event is raised either way.
    ContinueWithoutSession,
}

/// What the layer does when the record stored under a client's id cannot be decoded: the
/// store's load fails with [`session_core::Error::Codec`], or with a backend error whose
/// source is a [`session_core::CodecError`] (damaged bytes, a format or codec this build
/// does not read).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum UnreadableRecordPolicy {
    /// Treat it as no session (the default): the record is deleted from the store, a
    /// [`Discarded`](session_core::EventKind::Discarded) event is raised, and the handler gets
    /// a fresh session; the client's id is replaced when the handler writes, and expired
    /// otherwise. One damaged record never locks its client out.
    #[default]
    Discard,
    /// Treat it like any other store failure, under the [`StoreFailurePolicy`] (`503` by
    /// default); the record stays in place for inspection.
    StoreFailure,
}

/// What the layer does when a save is refused because another request changed the same
/// attribute since this one loaded the session ([`session_core::Error::Conflict`]).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum ConflictPolicy {
    /// Answer `409 Conflict` (plain text) instead of the handler's response, so the client
    /// knows its change was not applied and can retry (the default).
    #[default]
    Respond409,
    /// Send the handler's response anyway; the change is lost (a
    /// [`Conflict`](session_core::EventKind::Conflict) event is raised).
    KeepResponse,
}

/// Why a layer configuration was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// The cookie's name or attributes break a rule.
    #[error("session cookie {name:?}: {reason}")]
    Cookie {
        /// The cookie name.
        name: String,
        /// Which rule.
        reason: String,
    },
    /// The login path of [`RequireLogin`](super::RequireLogin)'s redirect is not a path on
    /// this site.
    #[error("login path {path:?}: {reason}")]
    LoginPath {
        /// The path as given.
        path: String,
        /// Which rule.
        reason: String,
    },
    /// Neither a cookie nor a header was configured, so no id could ever reach a client.
    #[error("the session layer needs a cookie, a header, or both, to carry the session id")]
    NoTransport,
}
