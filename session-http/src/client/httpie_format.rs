//! HTTPie 3.x session files: reading the current and legacy layouts, writing the current one.
//!
//! What HTTPie 3.2.4 does, and what this module matches (see `httpie/sessions.py`,
//! `httpie/legacy/` and `httpie/config.py` in HTTPie's sources):
//!
//! - The file is JSON written with `json.dumps(indent=4, sort_keys=True, ensure_ascii=True)`
//!   plus a newline; [`to_python_json`] produces exactly that (with [`super::python_json`]).
//! - `__meta__` holds `httpie` (the version that created the file, kept once set), `help` and
//!   `about`. A missing or older version only matters for legacy layouts.
//! - `headers` is a list of `{"name", "value"}` objects (legacy before 3.2.0: an object of
//!   name → value). `Content-*` and `If-*` request headers are never stored.
//! - `cookies` is a list of objects with exactly `name, value, domain, path, expires, secure`
//!   (legacy before 3.1.0: an object of name → attributes). HTTPie fails on any other key.
//!   `domain` is Python's cookie-jar domain: `.example.com` for a domain cookie,
//!   `example.com` for a host-only cookie, `localhost.local` for a host-only cookie of the
//!   dotless host `localhost`, and `""` or `null` for a cookie bound to no host at all (legacy
//!   files and cookies given in a `Cookie:` request header) — HTTPie sends those to every host.
//!   This module binds such cookies to the session's host instead, as
//!   `httpie cli sessions upgrade --bind-cookies` does.
//! - `auth` is `{"type", "raw_auth"}` (`basic` with `user:pass`, `bearer` with the token), the
//!   older `{"type", "username", "password"}`, or all-null when the session has no auth.
//! - Every other top-level key is kept as it was.

use serde_json::{Map, Value};
use time::OffsetDateTime;

use super::auth::Auth;
use super::cookie_jar::{CookieJar, StoredCookie, canonical_domain};
use super::error::ClientError;
use super::python_json::{DumpOptions, Json};

/// The HTTPie version written into `__meta__.httpie` of new files.
pub const HTTPIE_VERSION: &str = "3.2.4";
/// `__meta__.help` as HTTPie writes it.
pub const HTTPIE_HELP_URL: &str = "https://httpie.io/docs#sessions";
/// `__meta__.about` as HTTPie writes it.
pub const HTTPIE_ABOUT: &str = "HTTPie session file";

/// Request header name prefixes HTTPie never stores in a session (case-insensitive).
pub const IGNORED_HEADER_PREFIXES: [&str; 2] = ["content-", "if-"];

/// Which layout a file was read in.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Layout {
    /// Cookies were an object keyed by name (HTTPie before 3.1.0).
    pub legacy_cookies: bool,
    /// Headers were an object keyed by name (HTTPie before 3.2.0).
    pub legacy_headers: bool,
}

impl Layout {
    /// Whether any part of the file used a legacy layout.
    pub fn is_legacy(&self) -> bool {
        self.legacy_cookies || self.legacy_headers
    }
}

/// The auth part of a session file as found, including kinds this crate cannot apply.
#[derive(Clone, Default, PartialEq, Eq)]
pub enum FileAuth {
    /// No auth (`type` null or missing).
    #[default]
    None,
    /// Auth this crate applies.
    Known(Auth),
    /// Another kind (e.g. `digest` or a plugin's): kept unchanged, not applied.
    Other(Value),
}

impl std::fmt::Debug for FileAuth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            FileAuth::None => f.write_str("None"),
            FileAuth::Known(auth) => write!(f, "Known({auth:?})"),
            FileAuth::Other(value) => {
                let kind = value.get("type").and_then(Value::as_str).unwrap_or("?");
                write!(f, "Other(type={kind})")
            }
        }
    }
}

/// The parts of an HTTPie session file.
#[derive(Clone, Debug, Default)]
pub struct HttpieFileParts {
    /// Headers in file order (names as written).
    pub headers: Vec<(String, String)>,
    /// Cookies.
    pub cookies: CookieJar,
    /// Auth.
    pub auth: FileAuth,
    /// Every other top-level key, `__meta__` included.
    pub extra: Map<String, Value>,
    /// The `auth` object as read, written back unchanged while `auth` still means the same.
    pub original_auth: Option<(FileAuth, Value)>,
    /// The layout the file was in.
    pub layout: Layout,
}

/// Parses an HTTPie session file. `bound_host` is the host the session belongs to (without
/// port): cookies without a domain are bound to it.
pub fn parse_httpie_file(text: &str, bound_host: &str) -> Result<HttpieFileParts, ClientError> {
    let root: Value =
        serde_json::from_str(text).map_err(|e| ClientError::Format(format!("not JSON: {e}")))?;
    let Value::Object(mut root) = root else {
        return Err(ClientError::Format(
            "the top level is not a JSON object".into(),
        ));
    };
    let mut parts = HttpieFileParts::default();

    match root.remove("headers") {
        None | Some(Value::Null) => {}
        Some(Value::Array(items)) => {
            for item in items {
                let name = item.get("name").and_then(Value::as_str);
                let value = item.get("value");
                match (name, value) {
                    (Some(name), Some(Value::String(value))) => {
                        parts.headers.push((name.to_string(), value.clone()));
                    }
                    (Some(_), Some(Value::Null) | None) => {}
                    _ => return Err(ClientError::Format(format!("bad header entry: {item}"))),
                }
            }
        }
        Some(Value::Object(items)) => {
            parts.layout.legacy_headers = true;
            for (name, value) in items {
                match value {
                    Value::String(value) => parts.headers.push((name, value)),
                    Value::Null => {}
                    other => {
                        return Err(ClientError::Format(format!(
                            "header {name:?} has a non-string value {other}"
                        )));
                    }
                }
            }
        }
        Some(other) => {
            return Err(ClientError::Format(format!(
                "\"headers\" is neither a list nor an object: {other}"
            )));
        }
    }

    let cookies: Vec<Map<String, Value>> = match root.remove("cookies") {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Array(items)) => items
            .into_iter()
            .map(|item| match item {
                Value::Object(map) => Ok(map),
                other => Err(ClientError::Format(format!("bad cookie entry: {other}"))),
            })
            .collect::<Result<_, _>>()?,
        Some(Value::Object(items)) => {
            parts.layout.legacy_cookies = true;
            items
                .into_iter()
                .map(|(name, attributes)| match attributes {
                    Value::Object(mut map) => {
                        map.insert("name".into(), Value::String(name));
                        Ok(map)
                    }
                    other => Err(ClientError::Format(format!("bad cookie {name:?}: {other}"))),
                })
                .collect::<Result<_, _>>()?
        }
        Some(other) => {
            return Err(ClientError::Format(format!(
                "\"cookies\" is neither a list nor an object: {other}"
            )));
        }
    };
    let now = OffsetDateTime::now_utc();
    for map in cookies {
        let cookie = cookie_from_file(&map, bound_host)?;
        if !cookie.is_expired_at(now) {
            parts.cookies.insert(cookie);
        }
    }

    parts.auth = match root.remove("auth") {
        None | Some(Value::Null) => FileAuth::None,
        Some(value) => {
            let auth = auth_from_file(value.clone())?;
            parts.original_auth = Some((auth.clone(), value));
            auth
        }
    };
    parts.extra = root;
    Ok(parts)
}

fn cookie_from_file(
    map: &Map<String, Value>,
    bound_host: &str,
) -> Result<StoredCookie, ClientError> {
    let name = map
        .get("name")
        .and_then(Value::as_str)
        .ok_or_else(|| ClientError::Format("a cookie has no name".into()))?;
    let value = match map.get("value") {
        Some(Value::String(value)) => value.clone(),
        Some(Value::Null) | None => String::new(),
        Some(other) => other.to_string(),
    };
    let path = match map.get("path") {
        Some(Value::String(path)) if path.starts_with('/') => path.clone(),
        _ => "/".to_string(),
    };
    let domain = map.get("domain").and_then(Value::as_str).unwrap_or("");
    let (domain, host_only) = domain_from_file(domain, bound_host);
    let expires = match map.get("expires") {
        Some(Value::Number(n)) => {
            let seconds = n.as_f64().unwrap_or(0.0).floor() as i64;
            Some(OffsetDateTime::from_unix_timestamp(seconds).unwrap_or(OffsetDateTime::UNIX_EPOCH))
        }
        _ => None,
    };
    let secure = match map.get("secure") {
        Some(Value::Bool(b)) => *b,
        Some(Value::Number(n)) => n.as_i64().unwrap_or(0) != 0,
        _ => false,
    };
    let mut cookie = StoredCookie::new(name, value, domain, path);
    cookie.host_only = host_only;
    cookie.secure = secure;
    cookie.expires = expires;
    Ok(cookie)
}

/// Maps a Python cookie-jar domain to (domain, host-only).
fn domain_from_file(domain: &str, bound_host: &str) -> (String, bool) {
    let canonical = canonical_domain(domain);
    // No domain, or only dots: bound to the session's host (an empty domain would be
    // written back as `.local`).
    if canonical.is_empty() {
        return (bound_host.to_ascii_lowercase(), true);
    }
    if domain.trim_start().starts_with('.') {
        // A single label after the dot cannot be a domain cookie (public suffix): host-only.
        let host_only = !canonical.contains('.');
        return (canonical, host_only);
    }
    if let Some(host) = canonical.strip_suffix(".local")
        && !host.contains('.')
        && canonical != bound_host.to_ascii_lowercase()
    {
        return (host.to_string(), true);
    }
    (canonical, true)
}

/// The Python cookie-jar domain HTTPie writes for a cookie.
fn domain_for_file(cookie: &StoredCookie) -> String {
    if !cookie.host_only {
        return format!(".{}", cookie.domain);
    }
    let domain = &cookie.domain;
    let is_ipv4 = domain.parse::<std::net::Ipv4Addr>().is_ok();
    if domain.parse::<std::net::Ipv6Addr>().is_ok() {
        return format!("[{domain}].local");
    }
    if !domain.contains('.') && !is_ipv4 {
        return format!("{domain}.local");
    }
    domain.clone()
}

fn auth_from_file(value: Value) -> Result<FileAuth, ClientError> {
    let Value::Object(map) = &value else {
        return Err(ClientError::Format(format!(
            "\"auth\" is not an object: {value}"
        )));
    };
    let kind = match map.get("type") {
        None | Some(Value::Null) => return Ok(FileAuth::None),
        Some(Value::String(kind)) => kind.as_str(),
        Some(other) => {
            return Err(ClientError::Format(format!(
                "auth type is not a string: {other}"
            )));
        }
    };
    let raw = map.get("raw_auth").and_then(Value::as_str);
    let username = map.get("username").and_then(Value::as_str);
    let password = map.get("password").and_then(Value::as_str);
    let auth = match (kind, raw) {
        ("basic", Some(raw)) => Some(Auth::basic_from_raw(raw)),
        ("basic", None) => username.map(|u| Auth::Basic {
            username: u.to_string(),
            password: password.unwrap_or("").to_string(),
        }),
        ("bearer", Some(raw)) => Some(Auth::Bearer {
            token: raw.to_string(),
        }),
        ("bearer", None) => username.map(|token| Auth::Bearer {
            token: token.to_string(),
        }),
        _ => None,
    };
    Ok(match auth {
        Some(auth) => FileAuth::Known(auth),
        None => FileAuth::Other(value),
    })
}

/// Builds the current-layout HTTPie session file for these parts (as text, with the final
/// newline). Expired cookies are left out. When the parts were read from a legacy layout,
/// `__meta__.httpie` becomes [`HTTPIE_VERSION`], as `httpie cli sessions upgrade` does.
pub fn write_httpie_file(parts: &HttpieFileParts) -> String {
    let mut root = parts.extra.clone();
    let meta = root
        .entry("__meta__")
        .or_insert_with(|| Value::Object(Map::new()));
    if !meta.is_object() {
        *meta = Value::Object(Map::new());
    }
    if let Value::Object(meta) = meta {
        if parts.layout.is_legacy() || !meta.get("httpie").is_some_and(Value::is_string) {
            meta.insert("httpie".into(), Value::String(HTTPIE_VERSION.into()));
        }
        meta.insert("help".into(), Value::String(HTTPIE_HELP_URL.into()));
        meta.insert("about".into(), Value::String(HTTPIE_ABOUT.into()));
    }

    let now = OffsetDateTime::now_utc();
    let cookies: Vec<Value> = parts
        .cookies
        .iter()
        .filter(|c| !c.is_expired_at(now))
        .map(|c| {
            let mut map = Map::new();
            map.insert("name".into(), Value::String(c.name.clone()));
            map.insert("value".into(), Value::String(c.value.clone()));
            map.insert("domain".into(), Value::String(domain_for_file(c)));
            map.insert("path".into(), Value::String(c.path.clone()));
            map.insert(
                "expires".into(),
                c.expires
                    .map_or(Value::Null, |e| Value::from(e.unix_timestamp())),
            );
            map.insert("secure".into(), Value::Bool(c.secure));
            Value::Object(map)
        })
        .collect();
    root.insert("cookies".into(), Value::Array(cookies));

    let headers: Vec<Value> = parts
        .headers
        .iter()
        .filter(|(name, _)| is_storable_header(name))
        .map(|(name, value)| {
            let mut map = Map::new();
            map.insert("name".into(), Value::String(name.clone()));
            map.insert("value".into(), Value::String(value.clone()));
            Value::Object(map)
        })
        .collect();
    root.insert("headers".into(), Value::Array(headers));

    let auth = match (&parts.auth, &parts.original_auth) {
        (auth, Some((original, value))) if auth == original => value.clone(),
        (FileAuth::None, _) => {
            let mut map = Map::new();
            map.insert("type".into(), Value::Null);
            map.insert("username".into(), Value::Null);
            map.insert("password".into(), Value::Null);
            Value::Object(map)
        }
        (FileAuth::Known(auth), _) => {
            let mut map = Map::new();
            map.insert("type".into(), Value::String(auth.kind().into()));
            map.insert("raw_auth".into(), Value::String(auth.raw()));
            Value::Object(map)
        }
        (FileAuth::Other(value), _) => value.clone(),
    };
    root.insert("auth".into(), auth);

    let mut text = to_python_json(&Value::Object(root));
    text.push('\n');
    text
}

/// Whether HTTPie would keep a request header with this name in a session.
pub fn is_storable_header(name: &str) -> bool {
    let lower = name.to_ascii_lowercase();
    !IGNORED_HEADER_PREFIXES
        .iter()
        .any(|prefix| lower.starts_with(prefix))
        && lower != "cookie"
}

/// Serializes like Python's `json.dumps(value, indent=4, sort_keys=True, ensure_ascii=True)`
/// ([`DumpOptions::HTTPIE_SESSION_FILE`]).
pub fn to_python_json(value: &Value) -> String {
    Json::from(value).dumps_with(DumpOptions::HTTPIE_SESSION_FILE)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_are_written_as_python_writes_them() {
        // serde_json writes these `1e16` and `1e-5`; Python's json.dumps does not.
        let value: Value = serde_json::from_str(r#"{"big": 1e16, "small": 1e-5}"#).unwrap();
        assert_eq!(
            to_python_json(&value),
            "{\n    \"big\": 1e+16,\n    \"small\": 1e-05\n}"
        );
    }

    #[test]
    fn python_json_matches_json_dumps() {
        let value: Value =
            serde_json::from_str(r#"{"b": [1, {"z": null, "a": "é\n"}], "a": {}, "c": []}"#)
                .unwrap();
        assert_eq!(
            to_python_json(&value),
            "{\n    \"a\": {},\n    \"b\": [\n        1,\n        {\n            \"a\": \"\\u00e9\\n\",\n            \"z\": null\n        }\n    ],\n    \"c\": []\n}"
        );
    }

    #[test]
    fn domains_map_both_ways() {
        assert_eq!(
            domain_from_file("localhost.local", "localhost"),
            ("localhost".into(), true)
        );
        assert_eq!(
            domain_from_file(".example.com", "x"),
            ("example.com".into(), false)
        );
        assert_eq!(
            domain_from_file("example.com", "x"),
            ("example.com".into(), true)
        );
        assert_eq!(domain_from_file("", "api.test"), ("api.test".into(), true));
        assert_eq!(
            domain_from_file(" . ", "api.test"),
            ("api.test".into(), true)
        );
        assert_eq!(
            domain_from_file("127.0.0.1", "x"),
            ("127.0.0.1".into(), true)
        );
        let mut c = StoredCookie::new("a", "1", "localhost", "/");
        assert_eq!(domain_for_file(&c), "localhost.local");
        c.domain = "127.0.0.1".into();
        assert_eq!(domain_for_file(&c), "127.0.0.1");
        c.domain = "example.com".into();
        c.host_only = false;
        assert_eq!(domain_for_file(&c), ".example.com");
    }

    #[test]
    fn odd_domains_read_back_as_they_were_written() {
        for domain in [
            " . ",
            "..",
            "host .",
            "..example.com",
            "Example.COM.",
            "[::1]",
            "x.local.",
        ] {
            let text = format!(
                r#"{{"cookies": [{{"name": "a", "value": "1", "domain": "{domain}", "path": "/"}}]}}"#
            );
            let read = parse_httpie_file(&text, "example.com").unwrap();
            let written = write_httpie_file(&read);
            let again = parse_httpie_file(&written, "example.com").unwrap();
            assert!(again.cookies == read.cookies, "{domain:?}: {written}");
            assert_eq!(write_httpie_file(&again), written, "{domain:?}");
        }
    }

    #[test]
    fn ignored_headers() {
        assert!(!is_storable_header("Content-Type"));
        assert!(!is_storable_header("if-none-match"));
        assert!(!is_storable_header("Cookie"));
        assert!(is_storable_header("X-Api-Key"));
        assert!(is_storable_header("Accept"));
    }
}
