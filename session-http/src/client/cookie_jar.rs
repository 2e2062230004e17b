//! An RFC 6265 cookie jar for HTTP clients.
//!
//! The jar stores cookies from `Set-Cookie` header values received for a request URL and
//! produces the `Cookie` header for later request URLs, following RFC 6265 §5.3 (storage) and
//! §5.4 (the `Cookie` header):
//!
//! - A cookie without a `Domain` attribute is **host-only**: it goes back to exactly the host
//!   that set it, never to its subdomains and never to another host (the redirect leak HTTPie
//!   had before 3.1 cannot happen). A cookie with `Domain=example.com` goes to `example.com`
//!   and its subdomains, and only when the setting host is inside that domain. Single-label
//!   domains (`com`, `localhost`) are treated as public suffixes: refused unless they are the
//!   setting host itself, which makes the cookie host-only. IP addresses only ever match
//!   themselves.
//! - `Path` matching per §5.1.4, with the default path derived from the request URL.
//! - `Secure` cookies are only sent over `https`/`wss` or to `localhost` (as browsers and
//!   HTTPie treat it), and — following RFC 6265bis — only accepted from such origins.
//! - `Max-Age` takes precedence over `Expires`; `Max-Age=0`, a negative `Max-Age` or an
//!   `Expires` in the past delete a stored cookie with the same name, domain and path.
//! - The `Cookie` header lists cookies with longer paths first, then by creation time; a
//!   cookie that is replaced keeps its original creation time.
//!
//! Values are treated as opaque strings: no percent-decoding. `Debug` output never shows
//! values, which are often credentials.
//!
//! ```
//! use session_http::client::CookieJar;
//! use url::Url;
//!
//! let mut jar = CookieJar::new();
//! let login = Url::parse("https://shop.example.com/login").unwrap();
//! jar.store_set_cookie(&login, "JSESSIONID=abc123; Path=/; Secure; HttpOnly").unwrap();
//! jar.store_set_cookie(&login, "ROUTE=.node1; Domain=example.com; Path=/").unwrap();
//!
//! let page = Url::parse("https://shop.example.com/cart").unwrap();
//! assert_eq!(jar.cookie_header(&page).as_deref(), Some("JSESSIONID=abc123; ROUTE=.node1"));
//!
//! // The host-only JSESSIONID never goes to another host, not even a subdomain.
//! let other = Url::parse("https://cdn.example.com/").unwrap();
//! assert_eq!(jar.cookie_header(&other).as_deref(), Some("ROUTE=.node1"));
//!
//! // Max-Age=0 deletes it.
//! jar.store_set_cookie(&login, "JSESSIONID=; Path=/; Max-Age=0").unwrap();
//! assert_eq!(jar.cookie_header(&page).as_deref(), Some("ROUTE=.node1"));
//! ```

use std::fmt;
use std::net::IpAddr;

use time::{Duration, OffsetDateTime};
use url::{Host, Url};

/// Most cookies kept for one domain; the oldest is evicted beyond that (RFC 6265 §6.1 asks
/// for at least 50).
pub const MAX_COOKIES_PER_DOMAIN: usize = 50;
/// Most cookies kept in one jar; the oldest is evicted beyond that (RFC 6265 §6.1: 3000).
pub const MAX_COOKIES: usize = 3000;
/// Longest `name=value` accepted (RFC 6265 §6.1 asks for at least 4096 bytes).
pub const MAX_COOKIE_SIZE: usize = 4096;

/// One cookie held by a [`CookieJar`].
#[derive(Clone, PartialEq, Eq)]
pub struct StoredCookie {
    /// The cookie's name.
    pub name: String,
    /// The cookie's value, as sent by the server (not decoded).
    pub value: String,
    /// The host (host-only cookie) or domain (domain cookie) it belongs to: lower case,
    /// without a leading dot.
    pub domain: String,
    /// Whether the cookie goes only to exactly [`domain`](Self::domain), not to subdomains.
    pub host_only: bool,
    /// The path it is scoped to; always starts with `/`.
    pub path: String,
    /// Whether it is only sent over secure connections.
    pub secure: bool,
    /// Whether the server marked it `HttpOnly` (kept for completeness; an HTTP client sends it).
    pub http_only: bool,
    /// When it expires; `None` for a session cookie.
    pub expires: Option<OffsetDateTime>,
    /// Creation order inside the jar, for the `Cookie` header's order.
    creation: u64,
}

impl StoredCookie {
    /// A cookie for `domain` with `path`, host-only unless changed, never expiring, not secure.
    pub fn new(
        name: impl Into<String>,
        value: impl Into<String>,
        domain: impl Into<String>,
        path: impl Into<String>,
    ) -> Self {
        let path = path.into();
        StoredCookie {
            name: name.into(),
            value: value.into(),
            domain: canonical_domain(&domain.into()),
            host_only: true,
            path: if path.starts_with('/') {
                path
            } else {
                "/".to_string()
            },
            secure: false,
            http_only: false,
            expires: None,
            creation: 0,
        }
    }

    /// Whether the cookie has expired at `now`.
    pub fn is_expired_at(&self, now: OffsetDateTime) -> bool {
        self.expires.is_some_and(|expires| expires <= now)
    }

    /// Whether the cookie would be sent with a request to `url` at `now`.
    pub fn matches(&self, url: &Url, now: OffsetDateTime) -> bool {
        let Some(host) = request_host(url) else {
            return false;
        };
        !self.is_expired_at(now)
            && self.matches_host(&host)
            && path_matches(url.path(), &self.path)
            && (!self.secure || is_secure_origin(url, &host))
    }

    /// Whether the cookie goes to `host` (lower case, no brackets around IPv6 addresses).
    pub fn matches_host(&self, host: &str) -> bool {
        if self.host_only {
            host == self.domain
        } else {
            domain_matches(host, &self.domain)
        }
    }

    fn same_identity(&self, other: &StoredCookie) -> bool {
        self.name == other.name && self.domain == other.domain && self.path == other.path
    }
}

impl fmt::Debug for StoredCookie {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StoredCookie")
            .field("name", &self.name)
            .field("value", &format_args!("<{} bytes>", self.value.len()))
            .field("domain", &self.domain)
            .field("host_only", &self.host_only)
            .field("path", &self.path)
            .field("secure", &self.secure)
            .field("http_only", &self.http_only)
            .field("expires", &self.expires)
            .finish()
    }
}

/// What storing a `Set-Cookie` value did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SetCookieOutcome {
    /// A new cookie was added.
    Added,
    /// A cookie with the same name, domain and path was replaced.
    Replaced,
    /// The cookie had already expired and removed a stored cookie with the same identity.
    Removed,
    /// The cookie had already expired and there was nothing to remove.
    Expired,
}

/// Why a `Set-Cookie` value was ignored.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum CookieRejected {
    /// The header value is not a cookie (no `=`, an empty name …).
    #[error("malformed Set-Cookie value: {0}")]
    Malformed(String),
    /// The URL has no host.
    #[error("the request URL has no host")]
    NoHost,
    /// `Domain` names a domain the request host is not inside of.
    #[error("cookie domain {domain:?} does not match the request host {host:?}")]
    DomainMismatch {
        /// The `Domain` attribute.
        domain: String,
        /// The request host.
        host: String,
    },
    /// `Domain` names a public suffix (a single label such as `com`).
    #[error("cookie domain {0:?} is a public suffix")]
    PublicSuffix(String),
    /// A `Secure` cookie came over an insecure connection.
    #[error("a Secure cookie cannot be set over an insecure connection")]
    SecureFromInsecureOrigin,
    /// `name=value` is longer than [`MAX_COOKIE_SIZE`].
    #[error("cookie is larger than {MAX_COOKIE_SIZE} bytes")]
    TooLarge,
}

/// An RFC 6265 cookie jar. See the [module documentation](self).
#[derive(Clone, Default, PartialEq, Eq)]
pub struct CookieJar {
    cookies: Vec<StoredCookie>,
    next_creation: u64,
}

impl fmt::Debug for CookieJar {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(&self.cookies).finish()
    }
}

impl CookieJar {
    /// An empty jar.
    pub fn new() -> Self {
        CookieJar::default()
    }

    /// Stores the cookie of one `Set-Cookie` header value received in the response to `url`.
    pub fn store_set_cookie(
        &mut self,
        url: &Url,
        set_cookie: &str,
    ) -> Result<SetCookieOutcome, CookieRejected> {
        self.store_set_cookie_at(url, set_cookie, OffsetDateTime::now_utc())
    }

    /// [`store_set_cookie`](Self::store_set_cookie) with an explicit "now".
    pub fn store_set_cookie_at(
        &mut self,
        url: &Url,
        set_cookie: &str,
        now: OffsetDateTime,
    ) -> Result<SetCookieOutcome, CookieRejected> {
        let cookie = parse_set_cookie(url, set_cookie, now)?;
        Ok(self.store(cookie, now))
    }

    /// Stores every `Set-Cookie` header of a response to `url`; values the jar refuses are
    /// skipped (and logged at debug level). Returns how many were stored or applied.
    pub fn store_response_headers(&mut self, url: &Url, headers: &http::HeaderMap) -> usize {
        self.store_response_headers_at(url, headers, OffsetDateTime::now_utc())
    }

    /// [`store_response_headers`](Self::store_response_headers) with an explicit "now".
    pub fn store_response_headers_at(
        &mut self,
        url: &Url,
        headers: &http::HeaderMap,
        now: OffsetDateTime,
    ) -> usize {
        let mut applied = 0;
        for value in headers.get_all(http::header::SET_COOKIE) {
            let Ok(text) = value.to_str() else {
                tracing::debug!("ignoring a Set-Cookie header that is not visible ASCII");
                continue;
            };
            match self.store_set_cookie_at(url, text, now) {
                Ok(_) => applied += 1,
                Err(reason) => tracing::debug!(%reason, "ignoring a Set-Cookie header"),
            }
        }
        applied
    }

    /// Puts `cookie` into the jar (as loaded from a file, say), replacing one with the same
    /// name, domain and path. An expired cookie removes that one instead.
    pub fn insert(&mut self, cookie: StoredCookie) -> SetCookieOutcome {
        self.store(cookie, OffsetDateTime::now_utc())
    }

    fn store(&mut self, mut cookie: StoredCookie, now: OffsetDateTime) -> SetCookieOutcome {
        let existing = self.cookies.iter().position(|c| c.same_identity(&cookie));
        if cookie.is_expired_at(now) {
            return match existing {
                Some(index) => {
                    self.cookies.remove(index);
                    SetCookieOutcome::Removed
                }
                None => SetCookieOutcome::Expired,
            };
        }
        match existing {
            Some(index) => {
                cookie.creation = self.cookies[index].creation;
                self.cookies[index] = cookie;
                SetCookieOutcome::Replaced
            }
            None => {
                cookie.creation = self.next_creation;
                self.next_creation += 1;
                let domain = cookie.domain.clone();
                self.cookies.push(cookie);
                self.evict(&domain, now);
                SetCookieOutcome::Added
            }
        }
    }

    fn evict(&mut self, domain: &str, now: OffsetDateTime) {
        if self.cookies.iter().filter(|c| c.domain == domain).count() > MAX_COOKIES_PER_DOMAIN
            || self.cookies.len() > MAX_COOKIES
        {
            self.remove_expired_at(now);
        }
        while self.cookies.iter().filter(|c| c.domain == domain).count() > MAX_COOKIES_PER_DOMAIN {
            if let Some(oldest) = self.oldest_where(|c| c.domain == domain) {
                self.cookies.remove(oldest);
            }
        }
        while self.cookies.len() > MAX_COOKIES {
            if let Some(oldest) = self.oldest_where(|_| true) {
                self.cookies.remove(oldest);
            }
        }
    }

    fn oldest_where(&self, keep: impl Fn(&StoredCookie) -> bool) -> Option<usize> {
        self.cookies
            .iter()
            .enumerate()
            .filter(|(_, c)| keep(c))
            .min_by_key(|(_, c)| c.creation)
            .map(|(index, _)| index)
    }

    /// The cookies to send with a request to `url`, in `Cookie` header order.
    pub fn matching(&self, url: &Url) -> Vec<&StoredCookie> {
        self.matching_at(url, OffsetDateTime::now_utc())
    }

    /// [`matching`](Self::matching) with an explicit "now".
    pub fn matching_at(&self, url: &Url, now: OffsetDateTime) -> Vec<&StoredCookie> {
        let mut matching: Vec<&StoredCookie> = self
            .cookies
            .iter()
            .filter(|c| c.matches(url, now))
            .collect();
        matching.sort_by(|a, b| {
            b.path
                .len()
                .cmp(&a.path.len())
                .then(a.creation.cmp(&b.creation))
        });
        matching
    }

    /// The `Cookie` header value for a request to `url`, or `None` when no cookie matches.
    pub fn cookie_header(&self, url: &Url) -> Option<String> {
        self.cookie_header_at(url, OffsetDateTime::now_utc())
    }

    /// [`cookie_header`](Self::cookie_header) with an explicit "now".
    pub fn cookie_header_at(&self, url: &Url, now: OffsetDateTime) -> Option<String> {
        let matching = self.matching_at(url, now);
        if matching.is_empty() {
            return None;
        }
        let pairs: Vec<String> = matching
            .iter()
            .map(|c| format!("{}={}", c.name, c.value))
            .collect();
        Some(pairs.join("; "))
    }

    /// Every cookie in the jar (expired ones included until removed), in creation order.
    pub fn iter(&self) -> impl Iterator<Item = &StoredCookie> {
        let mut cookies: Vec<&StoredCookie> = self.cookies.iter().collect();
        cookies.sort_by_key(|c| c.creation);
        cookies.into_iter()
    }

    /// How many cookies the jar holds.
    pub fn len(&self) -> usize {
        self.cookies.len()
    }

    /// Whether the jar is empty.
    pub fn is_empty(&self) -> bool {
        self.cookies.is_empty()
    }

    /// Removes the cookie with exactly this name, domain and path; returns it.
    pub fn remove(&mut self, domain: &str, path: &str, name: &str) -> Option<StoredCookie> {
        let domain = canonical_domain(domain);
        let index = self
            .cookies
            .iter()
            .position(|c| c.name == name && c.domain == domain && c.path == path)?;
        Some(self.cookies.remove(index))
    }

    /// Removes every cookie for which `remove` returns true; returns how many.
    pub fn remove_where(&mut self, mut remove: impl FnMut(&StoredCookie) -> bool) -> usize {
        let before = self.cookies.len();
        self.cookies.retain(|c| !remove(c));
        before - self.cookies.len()
    }

    /// Removes cookies expired at `now`; returns how many.
    pub fn remove_expired_at(&mut self, now: OffsetDateTime) -> usize {
        self.remove_where(|c| c.is_expired_at(now))
    }

    /// Removes expired cookies; returns how many.
    pub fn remove_expired(&mut self) -> usize {
        self.remove_expired_at(OffsetDateTime::now_utc())
    }

    /// Removes every cookie.
    pub fn clear(&mut self) {
        self.cookies.clear();
    }
}

/// Parses one `Set-Cookie` value received for `url` into the cookie the jar would store
/// (RFC 6265 §5.2 and §5.3), without storing it.
pub fn parse_set_cookie(
    url: &Url,
    set_cookie: &str,
    now: OffsetDateTime,
) -> Result<StoredCookie, CookieRejected> {
    let host = request_host(url).ok_or(CookieRejected::NoHost)?;
    // RFC 6265bis §5.7, step 1: a control character (tab aside) voids the whole line, as in
    // browsers; kept, it would end up in every `Cookie` header sent to the host, which no
    // HTTP stack accepts.
    if set_cookie
        .bytes()
        .any(|b| (b < 0x20 && b != b'\t') || b == 0x7f)
    {
        return Err(CookieRejected::Malformed(
            "it contains a control character".into(),
        ));
    }
    let parsed =
        cookie::Cookie::parse(set_cookie).map_err(|e| CookieRejected::Malformed(e.to_string()))?;
    let name = parsed.name().trim();
    if name.is_empty() {
        return Err(CookieRejected::Malformed(
            "the cookie's name is empty".into(),
        ));
    }
    if name.len() + parsed.value().len() > MAX_COOKIE_SIZE {
        return Err(CookieRejected::TooLarge);
    }

    let expires = match (parsed.max_age(), parsed.expires_datetime()) {
        (Some(max_age), _) if max_age <= Duration::ZERO => Some(OffsetDateTime::UNIX_EPOCH),
        (Some(max_age), _) => Some(now.checked_add(max_age).unwrap_or(far_future())),
        (None, Some(at)) => Some(at),
        (None, None) => None,
    };

    let (domain, host_only) = match parsed.domain().map(canonical_domain) {
        None => (host.clone(), true),
        Some(domain) if domain.is_empty() => (host.clone(), true),
        Some(domain) if domain == host => (host.clone(), true),
        Some(domain) if is_ip(&host) || is_ip(&domain) => {
            return Err(CookieRejected::DomainMismatch { domain, host });
        }
        Some(domain) if !domain.contains('.') => return Err(CookieRejected::PublicSuffix(domain)),
        Some(domain) if domain_matches(&host, &domain) => (domain, false),
        Some(domain) => return Err(CookieRejected::DomainMismatch { domain, host }),
    };

    let path = match parsed.path() {
        Some(path) if path.starts_with('/') => path.to_string(),
        _ => default_path(url.path()),
    };

    let secure = parsed.secure().unwrap_or(false);
    if secure && !is_secure_origin(url, &host) {
        return Err(CookieRejected::SecureFromInsecureOrigin);
    }

    Ok(StoredCookie {
        name: name.to_string(),
        value: parsed.value().to_string(),
        domain,
        host_only,
        path,
        secure,
        http_only: parsed.http_only().unwrap_or(false),
        expires,
        creation: 0,
    })
}

fn far_future() -> OffsetDateTime {
    // 9999-12-31T23:59:59Z, the latest date RFC 6265 §5.2.2 needs to represent.
    OffsetDateTime::from_unix_timestamp(253_402_300_799).unwrap_or(OffsetDateTime::UNIX_EPOCH)
}

/// The request host of `url` as cookies see it: lower case, IPv6 without brackets.
pub fn request_host(url: &Url) -> Option<String> {
    match url.host()? {
        Host::Domain(domain) => Some(canonical_domain(domain)),
        Host::Ipv4(ip) => Some(ip.to_string()),
        Host::Ipv6(ip) => Some(ip.to_string()),
    }
}

/// A domain as the jar keeps it: lower case, without the dots and spaces around it or an IPv6
/// address's brackets. Canonical forms are fixed points, so a cookie read back from a session
/// file keeps the domain it was written with.
pub(crate) fn canonical_domain(domain: &str) -> String {
    let domain = domain.trim_matches(|c: char| c == '.' || c.is_whitespace());
    let domain = domain
        .strip_prefix('[')
        .and_then(|d| d.strip_suffix(']'))
        .unwrap_or(domain);
    domain.to_ascii_lowercase()
}

fn is_ip(host: &str) -> bool {
    host.parse::<IpAddr>().is_ok()
}

/// RFC 6265 §5.1.3: whether `host` is `domain` or a subdomain of it (never for IP addresses).
pub fn domain_matches(host: &str, domain: &str) -> bool {
    if host == domain {
        return true;
    }
    !is_ip(host)
        && host.len() > domain.len()
        && host.ends_with(domain)
        && host.as_bytes()[host.len() - domain.len() - 1] == b'.'
}

/// RFC 6265 §5.1.4: whether `request_path` is inside `cookie_path`.
pub fn path_matches(request_path: &str, cookie_path: &str) -> bool {
    if request_path == cookie_path {
        return true;
    }
    request_path.starts_with(cookie_path)
        && (cookie_path.ends_with('/')
            || request_path.as_bytes().get(cookie_path.len()) == Some(&b'/'))
}

/// RFC 6265 §5.1.4: the default cookie path for a request to `request_path`.
pub fn default_path(request_path: &str) -> String {
    if !request_path.starts_with('/') {
        return "/".to_string();
    }
    match request_path.rfind('/') {
        Some(0) | None => "/".to_string(),
        Some(last) => request_path[..last].to_string(),
    }
}

/// Whether `Secure` cookies may be sent to (and set by) `url`: `https`, `wss`, or `localhost`
/// and its subdomains, which browsers and HTTPie treat as secure.
fn is_secure_origin(url: &Url, host: &str) -> bool {
    matches!(url.scheme(), "https" | "wss") || host == "localhost" || host.ends_with(".localhost")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn url(s: &str) -> Url {
        Url::parse(s).unwrap()
    }

    fn at(seconds: i64) -> OffsetDateTime {
        OffsetDateTime::from_unix_timestamp(seconds).unwrap()
    }

    #[test]
    fn a_set_cookie_line_with_a_control_character_is_ignored_whole() {
        let mut jar = CookieJar::new();
        let u = url("http://example.com/");
        for line in [
            "a=1\u{0}",
            "a=\u{1}x",
            "a=1; Path=/\r",
            "a\u{7f}=1",
            "a=1\n; b=2",
        ] {
            assert!(
                matches!(
                    jar.store_set_cookie(&u, line),
                    Err(CookieRejected::Malformed(_))
                ),
                "{line:?}"
            );
        }
        assert!(jar.is_empty());
        jar.store_set_cookie(&u, "a=1;\tPath=/").unwrap();
        assert_eq!(jar.cookie_header(&u).as_deref(), Some("a=1"));
    }

    #[test]
    fn remove_expired_drops_what_has_expired_by_now_and_keeps_the_rest() {
        let mut jar = CookieJar::new();
        let u = url("http://example.com/");
        // Stored a long time ago: one that lived a minute, one that lives a century.
        jar.store_set_cookie_at(&u, "gone=1; Max-Age=60", at(1_000_000_000))
            .unwrap();
        jar.store_set_cookie_at(&u, "kept=1; Max-Age=3153600000", at(1_000_000_000))
            .unwrap();
        jar.store_set_cookie(&u, "session=1").unwrap();
        assert_eq!(jar.len(), 3);
        assert_eq!(jar.remove_expired(), 1);
        assert_eq!(jar.cookie_header(&u).as_deref(), Some("kept=1; session=1"));
        assert_eq!(jar.remove_expired(), 0);
    }

    #[test]
    fn host_only_cookie_goes_to_its_host_only() {
        let mut jar = CookieJar::new();
        jar.store_set_cookie(&url("http://example.com/"), "a=1")
            .unwrap();
        assert_eq!(
            jar.cookie_header(&url("http://example.com/x")).as_deref(),
            Some("a=1")
        );
        assert_eq!(jar.cookie_header(&url("http://www.example.com/")), None);
        assert_eq!(jar.cookie_header(&url("http://evil.test/")), None);
    }

    #[test]
    fn domain_cookie_goes_to_subdomains() {
        let mut jar = CookieJar::new();
        jar.store_set_cookie(&url("http://www.example.com/"), "a=1; Domain=.Example.com")
            .unwrap();
        assert_eq!(
            jar.cookie_header(&url("http://example.com/")).as_deref(),
            Some("a=1")
        );
        assert_eq!(
            jar.cookie_header(&url("http://x.y.example.com/"))
                .as_deref(),
            Some("a=1")
        );
        assert_eq!(jar.cookie_header(&url("http://badexample.com/")), None);
    }

    #[test]
    fn foreign_and_public_suffix_domains_are_refused() {
        let mut jar = CookieJar::new();
        let u = url("http://www.example.com/");
        assert!(matches!(
            jar.store_set_cookie(&u, "a=1; Domain=other.com"),
            Err(CookieRejected::DomainMismatch { .. })
        ));
        assert!(matches!(
            jar.store_set_cookie(&u, "a=1; Domain=com"),
            Err(CookieRejected::PublicSuffix(_))
        ));
        assert!(matches!(
            jar.store_set_cookie(&u, "a=1; Domain=sub.www.example.com"),
            Err(CookieRejected::DomainMismatch { .. })
        ));
        assert!(jar.is_empty());
    }

    #[test]
    fn domain_equal_to_a_dotless_host_is_host_only() {
        let mut jar = CookieJar::new();
        jar.store_set_cookie(&url("http://localhost:8080/"), "a=1; Domain=localhost")
            .unwrap();
        let cookie = jar.iter().next().unwrap();
        assert!(cookie.host_only);
        assert_eq!(cookie.domain, "localhost");
    }

    #[test]
    fn ip_hosts_only_match_themselves() {
        let mut jar = CookieJar::new();
        jar.store_set_cookie(&url("http://127.0.0.1:1/"), "a=1")
            .unwrap();
        assert_eq!(
            jar.cookie_header(&url("http://127.0.0.1:2/")).as_deref(),
            Some("a=1")
        );
        assert_eq!(jar.cookie_header(&url("http://127.0.0.2/")), None);
        assert!(
            jar.store_set_cookie(&url("http://1.2.3.4/"), "a=1; Domain=2.3.4")
                .is_err()
        );
        jar.store_set_cookie(&url("http://[::1]/"), "b=2").unwrap();
        assert_eq!(
            jar.cookie_header(&url("http://[::1]/")).as_deref(),
            Some("b=2")
        );
    }

    #[test]
    fn paths_match_per_rfc() {
        assert!(path_matches("/a/b", "/a"));
        assert!(path_matches("/a/b", "/a/"));
        assert!(path_matches("/a", "/a"));
        assert!(!path_matches("/ab", "/a"));
        assert!(!path_matches("/", "/a"));
        assert_eq!(default_path("/a/b/c"), "/a/b");
        assert_eq!(default_path("/a"), "/");
        assert_eq!(default_path(""), "/");
        let mut jar = CookieJar::new();
        jar.store_set_cookie(&url("http://h.test/docs/page"), "d=1")
            .unwrap();
        jar.store_set_cookie(&url("http://h.test/"), "x=1; Path=nope")
            .unwrap();
        assert_eq!(
            jar.cookie_header(&url("http://h.test/docs/other"))
                .as_deref(),
            Some("d=1; x=1")
        );
        assert_eq!(
            jar.cookie_header(&url("http://h.test/docsx")).as_deref(),
            Some("x=1")
        );
    }

    #[test]
    fn secure_cookies_need_a_secure_origin() {
        let mut jar = CookieJar::new();
        assert_eq!(
            jar.store_set_cookie(&url("http://h.test/"), "s=1; Secure"),
            Err(CookieRejected::SecureFromInsecureOrigin)
        );
        jar.store_set_cookie(&url("https://h.test/"), "s=1; Secure")
            .unwrap();
        assert_eq!(jar.cookie_header(&url("http://h.test/")), None);
        assert_eq!(
            jar.cookie_header(&url("https://h.test/")).as_deref(),
            Some("s=1")
        );
        jar.store_set_cookie(&url("http://localhost/"), "l=1; Secure")
            .unwrap();
        assert_eq!(
            jar.cookie_header(&url("http://localhost/")).as_deref(),
            Some("l=1")
        );
    }

    #[test]
    fn expiry_and_deletion() {
        let now = at(1_700_000_000);
        let u = url("http://h.test/");
        let mut jar = CookieJar::new();
        jar.store_set_cookie_at(&u, "a=1; Max-Age=60", now).unwrap();
        assert_eq!(jar.iter().next().unwrap().expires, Some(at(1_700_000_060)));
        assert_eq!(
            jar.cookie_header_at(&u, at(1_700_000_059)).as_deref(),
            Some("a=1")
        );
        assert_eq!(jar.cookie_header_at(&u, at(1_700_000_060)), None);

        // Max-Age wins over Expires.
        jar.store_set_cookie_at(
            &u,
            "b=1; Expires=Thu, 01 Jan 1970 00:00:00 GMT; Max-Age=10",
            now,
        )
        .unwrap();
        assert_eq!(jar.cookie_header_at(&u, now).as_deref(), Some("a=1; b=1"));

        assert_eq!(
            jar.store_set_cookie_at(&u, "a=x; Max-Age=0", now),
            Ok(SetCookieOutcome::Removed)
        );
        assert_eq!(
            jar.store_set_cookie_at(&u, "b=x; Max-Age=-5", now),
            Ok(SetCookieOutcome::Removed)
        );
        assert!(jar.is_empty());
        jar.store_set_cookie_at(&u, "c=1", now).unwrap();
        assert_eq!(
            jar.store_set_cookie_at(&u, "c=; Expires=Wed, 21 Oct 2015 07:28:00 GMT", now),
            Ok(SetCookieOutcome::Removed)
        );
        assert_eq!(
            jar.store_set_cookie_at(&u, "d=; Max-Age=0", now),
            Ok(SetCookieOutcome::Expired)
        );
        assert!(jar.is_empty());
    }

    #[test]
    fn deletion_needs_the_same_path() {
        let u = url("http://h.test/app/x");
        let mut jar = CookieJar::new();
        jar.store_set_cookie(&u, "a=1; Path=/app").unwrap();
        jar.store_set_cookie(&u, "a=; Path=/; Max-Age=0").unwrap();
        assert_eq!(jar.len(), 1);
        jar.store_set_cookie(&u, "a=; Path=/app; Max-Age=0")
            .unwrap();
        assert!(jar.is_empty());
    }

    #[test]
    fn header_order_is_longest_path_then_oldest() {
        let u = url("http://h.test/a/b/c");
        let mut jar = CookieJar::new();
        jar.store_set_cookie(&u, "first=1; Path=/").unwrap();
        jar.store_set_cookie(&u, "deep=1; Path=/a/b").unwrap();
        jar.store_set_cookie(&u, "second=1; Path=/").unwrap();
        jar.store_set_cookie(&u, "mid=1; Path=/a").unwrap();
        // Replacing keeps the creation time.
        jar.store_set_cookie(&u, "first=2; Path=/").unwrap();
        assert_eq!(
            jar.cookie_header(&u).as_deref(),
            Some("deep=1; mid=1; first=2; second=1")
        );
    }

    #[test]
    fn debug_hides_values() {
        let mut jar = CookieJar::new();
        jar.store_set_cookie(&url("http://h.test/"), "token=supersecret")
            .unwrap();
        assert!(!format!("{jar:?}").contains("supersecret"));
    }

    #[test]
    fn per_domain_limit_evicts_the_oldest() {
        let u = url("http://h.test/");
        let mut jar = CookieJar::new();
        for i in 0..=MAX_COOKIES_PER_DOMAIN {
            jar.store_set_cookie(&u, &format!("c{i}=1")).unwrap();
        }
        assert_eq!(jar.len(), MAX_COOKIES_PER_DOMAIN);
        assert!(jar.iter().all(|c| c.name != "c0"));
    }

    #[test]
    fn response_headers_are_all_applied() {
        let mut headers = http::HeaderMap::new();
        headers.append(http::header::SET_COOKIE, "a=1".parse().unwrap());
        headers.append(
            http::header::SET_COOKIE,
            "b=2; Domain=elsewhere.test".parse().unwrap(),
        );
        headers.append(http::header::SET_COOKIE, "c=3".parse().unwrap());
        let mut jar = CookieJar::new();
        assert_eq!(
            jar.store_response_headers(&url("http://h.test/"), &headers),
            2
        );
        assert_eq!(
            jar.cookie_header(&url("http://h.test/")).as_deref(),
            Some("a=1; c=3")
        );
    }
}
