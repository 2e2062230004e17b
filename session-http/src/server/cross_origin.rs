//! Cross-origin request protection for sessions a browser sends on its own (cookies): the
//! rule is on [`CrossOriginProtection`].

use http::header::{HOST, ORIGIN};
use http::{HeaderMap, Method, Uri};

/// Which scheme the server's own origin has, for comparing with `Origin`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum RequestScheme {
    /// `https` when the session cookie is `Secure`, else `http`. With a `Secure` cookie a
    /// loopback host (`localhost`, `127.0.0.1`, `[::1]`) may also be `http`, as browsers
    /// accept `Secure` cookies there (the default).
    #[default]
    FromCookie,
    /// Always `https` (the server is behind a TLS-terminating proxy).
    Https,
    /// Always `http`.
    Http,
}

/// How the session layer guards unsafe requests against other sites. On by default.
///
/// A browser attaches cookies to requests that other sites' pages make, so a page on
/// `evil.example` can post a form to this server with the victim's session (CSRF). The rule,
/// modelled on Go 1.25's `http.CrossOriginProtection` and on Django's and Rails' origin
/// checks, decides from headers only, before the handler runs:
///
/// 1. `GET`, `HEAD` and `OPTIONS` always pass: they must not change state.
/// 2. `Sec-Fetch-Site` (Fetch Metadata, sent by every current browser) decides when present:
///    `same-origin` and `none` (typed in the address bar, a bookmark) pass; `same-site` passes
///    only when [`allow_same_site`](CrossOriginProtection::allow_same_site) is set;
///    `cross-site` (and anything else) is refused — unless `Origin` names a
///    [trusted origin](CrossOriginProtection::trusted_origins).
/// 3. Without Fetch Metadata, an `Origin` header must equal the request's own origin: the
///    scheme ([`RequestScheme`]) with the `Host` header's host and port, or a trusted origin.
///    `Origin: null` (sandboxed frames, some redirects) matches nothing.
/// 4. Neither header: not a browser, or a same-origin request of a very old one; it passes.
///
/// The session layer applies the rule to requests whose session would come from a cookie or
/// that carry no session id yet (a cross-site login form would otherwise log the victim into
/// the attacker's account). Requests that present their id in a header (`Authorization:
/// Bearer`, a named header) or ask for header transport are not ambient — a page on another
/// site cannot add those headers without a CORS preflight — and pass.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CrossOriginProtection {
    /// Whether the check runs at all (default `true`).
    pub enabled: bool,
    /// Let `Sec-Fetch-Site: same-site` requests through (sibling subdomains; default `false`).
    pub allow_same_site: bool,
    /// Origins besides the server's own whose unsafe requests pass, as
    /// `scheme://host[:port]` (compared case-insensitively, default ports ignored).
    pub trusted_origins: Vec<String>,
    /// The scheme of the server's own origin.
    pub scheme: RequestScheme,
}

impl Default for CrossOriginProtection {
    fn default() -> Self {
        CrossOriginProtection {
            enabled: true,
            allow_same_site: false,
            trusted_origins: Vec::new(),
            scheme: RequestScheme::FromCookie,
        }
    }
}

/// Why a request was refused as cross-origin.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CrossOriginRefusal {
    /// The browser said the request came from another site (`Sec-Fetch-Site`).
    #[error("the request came from another site (Sec-Fetch-Site: cross-site)")]
    CrossSite,
    /// The browser said the request came from a sibling site and same-site is not allowed.
    #[error("the request came from another origin of this site (Sec-Fetch-Site: same-site)")]
    SameSite,
    /// `Origin` names neither this server nor a trusted origin.
    #[error("the request's Origin is not this server's")]
    ForeignOrigin,
}

impl CrossOriginProtection {
    /// No checks at all (for services that are not used from browsers, or that do their own).
    pub fn disabled() -> Self {
        CrossOriginProtection {
            enabled: false,
            ..CrossOriginProtection::default()
        }
    }

    /// Applies the rule to a request's method, URI and headers; `cookie_secure` is whether
    /// the session cookie is `Secure` (for [`RequestScheme::FromCookie`]).
    pub fn check(
        &self,
        method: &Method,
        uri: &Uri,
        headers: &HeaderMap,
        cookie_secure: bool,
    ) -> Result<(), CrossOriginRefusal> {
        if !self.enabled || is_safe(method) {
            return Ok(());
        }
        // Absent (`None`), or present and readable as text or not (`Some(None)`).
        let origin = headers.get(ORIGIN).map(|v| v.to_str().ok());
        let trusted = || origin.flatten().is_some_and(|o| self.is_trusted(o));
        match headers.get("sec-fetch-site").map(|v| v.as_bytes()) {
            Some(b"same-origin" | b"none") => return Ok(()),
            Some(b"same-site") if self.allow_same_site => return Ok(()),
            Some(b"same-site") if !trusted() => return Err(CrossOriginRefusal::SameSite),
            Some(_) if !trusted() => return Err(CrossOriginRefusal::CrossSite),
            Some(_) => return Ok(()),
            None => {}
        }
        let Some(origin) = origin else {
            return Ok(());
        };
        // An origin that is not even text is nobody's own: refused, not waved through.
        let Some(origin) = origin else {
            return Err(CrossOriginRefusal::ForeignOrigin);
        };
        let host = headers
            .get(HOST)
            .and_then(|v| v.to_str().ok())
            .or_else(|| uri.authority().map(|a| a.as_str()));
        if let Some(host) = host
            && self.own_schemes(host, cookie_secure).any(|scheme| {
                normalize_origin(origin).is_some_and(|o| o == normalize(scheme, host))
            })
        {
            return Ok(());
        }
        if trusted() {
            return Ok(());
        }
        Err(CrossOriginRefusal::ForeignOrigin)
    }

    fn is_trusted(&self, origin: &str) -> bool {
        let Some(origin) = normalize_origin(origin) else {
            return false;
        };
        self.trusted_origins
            .iter()
            .any(|t| normalize_origin(t).is_some_and(|t| t == origin))
    }

    /// The schemes the server's own origin may have for a request to `host`.
    fn own_schemes(&self, host: &str, cookie_secure: bool) -> impl Iterator<Item = &'static str> {
        let (first, second) = match self.scheme {
            RequestScheme::Https => ("https", None),
            RequestScheme::Http => ("http", None),
            RequestScheme::FromCookie if !cookie_secure => ("http", None),
            RequestScheme::FromCookie if is_loopback(host) => ("https", Some("http")),
            RequestScheme::FromCookie => ("https", None),
        };
        std::iter::once(first).chain(second)
    }
}

/// Methods that must not change state (RFC 9110 §9.2.1, less `TRACE`, which nothing serves).
fn is_safe(method: &Method) -> bool {
    matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS)
}

/// `scheme://host[:port]` lower-cased, without the scheme's default port.
fn normalize(scheme: &str, authority: &str) -> String {
    let authority = authority.to_ascii_lowercase();
    let default_port = if scheme == "https" { ":443" } else { ":80" };
    let authority = authority.strip_suffix(default_port).unwrap_or(&authority);
    format!("{scheme}://{authority}")
}

/// An origin (`scheme://host[:port]`, nothing after) in the form [`normalize`] gives; `None`
/// for `null` and anything else that is not an http(s) origin.
fn normalize_origin(origin: &str) -> Option<String> {
    let (scheme, authority) = origin.trim().split_once("://")?;
    let scheme = scheme.to_ascii_lowercase();
    if !matches!(scheme.as_str(), "http" | "https")
        || authority.is_empty()
        || authority.contains(['/', '?', '#', '@'])
    {
        return None;
    }
    Some(normalize(&scheme, authority))
}

/// Whether the `Host` value names the loopback interface.
fn is_loopback(host: &str) -> bool {
    let name = match host.rsplit_once(':') {
        // `[::1]:8080` and `[::1]`; a bare IPv6 address is not a valid Host value.
        Some((name, port)) if !name.is_empty() && port.bytes().all(|b| b.is_ascii_digit()) => name,
        _ => host,
    };
    let name = name.trim_start_matches('[').trim_end_matches(']');
    name.eq_ignore_ascii_case("localhost")
        || name
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::HeaderValue;

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.append(*name, HeaderValue::from_static(value));
        }
        map
    }

    fn check(
        protection: &CrossOriginProtection,
        method: Method,
        pairs: &[(&'static str, &'static str)],
        secure: bool,
    ) -> Result<(), CrossOriginRefusal> {
        protection.check(&method, &Uri::from_static("/x"), &headers(pairs), secure)
    }

    #[test]
    fn fetch_metadata_decides_first() {
        let p = CrossOriginProtection::default();
        let host = ("host", "app.example");
        for site in ["same-origin", "none"] {
            let site_header = ("sec-fetch-site", site);
            assert_eq!(check(&p, Method::POST, &[host, site_header], true), Ok(()));
        }
        let cross = [host, ("sec-fetch-site", "cross-site")];
        assert_eq!(
            check(&p, Method::POST, &cross, true),
            Err(CrossOriginRefusal::CrossSite)
        );
        assert_eq!(check(&p, Method::GET, &cross, true), Ok(()));
        let same_site = [host, ("sec-fetch-site", "same-site")];
        assert_eq!(
            check(&p, Method::DELETE, &same_site, true),
            Err(CrossOriginRefusal::SameSite)
        );
        let lenient = CrossOriginProtection {
            allow_same_site: true,
            ..CrossOriginProtection::default()
        };
        assert_eq!(check(&lenient, Method::DELETE, &same_site, true), Ok(()));
        // Fetch Metadata wins over a matching Origin.
        let lying = [
            host,
            ("sec-fetch-site", "cross-site"),
            ("origin", "https://app.example"),
        ];
        assert_eq!(
            check(&p, Method::POST, &lying, true),
            Err(CrossOriginRefusal::CrossSite)
        );
    }

    #[test]
    fn without_fetch_metadata_the_origin_must_be_the_servers_own() {
        let p = CrossOriginProtection::default();
        let ok = [
            ("host", "App.Example:443"),
            ("origin", "https://app.example"),
        ];
        assert_eq!(check(&p, Method::POST, &ok, true), Ok(()));
        for origin in [
            "http://app.example",
            "https://evil.example",
            "https://app.example:8443",
            "null",
            "https://app.example/path",
        ] {
            let mut h = headers(&[("host", "app.example")]);
            h.insert(ORIGIN, HeaderValue::from_str(origin).unwrap());
            assert_eq!(
                p.check(&Method::POST, &Uri::from_static("/"), &h, true),
                Err(CrossOriginRefusal::ForeignOrigin),
                "{origin}"
            );
        }
        // An Origin that is not visible ASCII is no origin of this server's.
        let mut h = headers(&[("host", "app.example")]);
        h.insert(
            ORIGIN,
            HeaderValue::from_bytes(b"https://app.example\xff").unwrap(),
        );
        assert_eq!(
            p.check(&Method::POST, &Uri::from_static("/"), &h, true),
            Err(CrossOriginRefusal::ForeignOrigin)
        );
        // No Origin and no Fetch Metadata: not a browser; it passes.
        assert_eq!(
            check(&p, Method::POST, &[("host", "app.example")], true),
            Ok(())
        );
    }

    #[test]
    fn the_scheme_follows_the_cookie_or_the_configuration() {
        let p = CrossOriginProtection::default();
        let plain = [("host", "app.example"), ("origin", "http://app.example")];
        assert_eq!(check(&p, Method::POST, &plain, false), Ok(()));
        assert_eq!(
            check(&p, Method::POST, &plain, true),
            Err(CrossOriginRefusal::ForeignOrigin)
        );
        let loopback = [
            ("host", "127.0.0.1:8080"),
            ("origin", "http://127.0.0.1:8080"),
        ];
        assert_eq!(check(&p, Method::POST, &loopback, true), Ok(()));
        let other_port = [
            ("host", "127.0.0.1:8080"),
            ("origin", "http://127.0.0.1:9090"),
        ];
        assert_eq!(
            check(&p, Method::POST, &other_port, true),
            Err(CrossOriginRefusal::ForeignOrigin)
        );
        let proxied = CrossOriginProtection {
            scheme: RequestScheme::Https,
            ..CrossOriginProtection::default()
        };
        let tls = [("host", "app.example"), ("origin", "https://app.example")];
        assert_eq!(check(&proxied, Method::POST, &tls, false), Ok(()));
    }

    #[test]
    fn trusted_origins_pass_and_disabled_checks_nothing() {
        let p = CrossOriginProtection {
            trusted_origins: vec!["https://Admin.Example".into()],
            ..CrossOriginProtection::default()
        };
        let from_admin = [
            ("host", "app.example"),
            ("sec-fetch-site", "cross-site"),
            ("origin", "https://admin.example"),
        ];
        assert_eq!(check(&p, Method::POST, &from_admin, true), Ok(()));
        let old_browser = [("host", "app.example"), ("origin", "https://admin.example")];
        assert_eq!(check(&p, Method::PUT, &old_browser, true), Ok(()));
        let evil = [
            ("host", "app.example"),
            ("sec-fetch-site", "cross-site"),
            ("origin", "https://evil.example"),
        ];
        assert_eq!(
            check(&p, Method::POST, &evil, true),
            Err(CrossOriginRefusal::CrossSite)
        );
        assert_eq!(
            check(
                &CrossOriginProtection::disabled(),
                Method::POST,
                &evil,
                true
            ),
            Ok(())
        );
    }
}
