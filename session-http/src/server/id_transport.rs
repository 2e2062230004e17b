//! Where a session id travels: pure functions that find it in request headers and write it
//! into response headers. No I/O here.

use http::HeaderValue;
use http::header::{AUTHORIZATION, COOKIE, HeaderMap, HeaderName};
use session_core::SessionId;

use super::config::{CookieConfig, HeaderTransport};

/// Which transport a request's id came by.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Via {
    /// The request carried no id.
    Nothing,
    /// The id came in a cookie.
    Cookie,
    /// The id came in a header.
    Header,
}

/// What a request presented as its session id, parsed once when the request arrives.
#[derive(Debug)]
pub(crate) enum Presented {
    /// No token at all.
    Nothing,
    /// A well-formed id.
    Id(SessionId),
    /// Several different well-formed ids under the cookie name (a sibling domain or path may
    /// have planted one: cookie tossing). None of them wins by position; the session is the
    /// one among them that is live, and none when several are.
    Several(Vec<SessionId>),
    /// A token that is not an id, kept for the suspicious-id event it raises when used.
    Malformed(String),
}

impl Presented {
    fn parse(token: &str) -> Self {
        match SessionId::parse(token) {
            Ok(id) => Presented::Id(id),
            Err(_) => Presented::Malformed(token.to_owned()),
        }
    }
}

/// The values of every cookie called `name` in the `Cookie` headers of a request, in order.
///
/// Follows RFC 6265 §5.4 loosely: pairs are separated by `;`, names and values are trimmed of
/// white space (a header value holds none but spaces and tabs), a value may be wrapped in
/// double quotes. Pairs without `=` are skipped. The headers are read as bytes, so that
/// another cookie whose value is not ASCII (browsers send what a page's script set) does not
/// hide this one; a value of `name` that is not UTF-8 is skipped.
pub fn cookie_values<'a>(headers: &'a HeaderMap, name: &'a str) -> CookieValues<'a> {
    CookieValues {
        lines: headers.get_all(COOKIE).iter(),
        rest: &[],
        name: name.as_bytes(),
    }
}

/// The values of one cookie in a request's `Cookie` headers: see [`cookie_values`].
///
/// A loop over the bytes rather than an adapter chain: every request with a session runs it,
/// and splitting through `flat_map` cost three times as much.
#[derive(Debug)]
pub struct CookieValues<'a> {
    /// The `Cookie` header lines not read yet.
    lines: http::header::ValueIter<'a, HeaderValue>,
    /// What is left of the line being read.
    rest: &'a [u8],
    /// The name looked for.
    name: &'a [u8],
}

impl<'a> Iterator for CookieValues<'a> {
    type Item = &'a str;

    fn next(&mut self) -> Option<&'a str> {
        loop {
            if self.rest.is_empty() {
                self.rest = self.lines.next()?.as_bytes();
            }
            let pair = match memchr::memchr(b';', self.rest) {
                Some(end) => {
                    let pair = &self.rest[..end];
                    self.rest = &self.rest[end + 1..];
                    pair
                }
                None => std::mem::take(&mut self.rest),
            };
            if let Some(value) = value_named(pair, self.name) {
                return Some(value);
            }
        }
    }
}

/// The value of one `name=value` pair when the pair is called `name` and the value is UTF-8.
fn value_named<'a>(pair: &'a [u8], name: &[u8]) -> Option<&'a str> {
    let equals = memchr::memchr(b'=', pair)?;
    if pair[..equals].trim_ascii() != name {
        return None;
    }
    let value = pair[equals + 1..].trim_ascii();
    let value = value
        .strip_prefix(b"\"")
        .and_then(|v| v.strip_suffix(b"\""))
        .unwrap_or(value);
    std::str::from_utf8(value).ok()
}

/// The token a request presents in a cookie: the first value that looks like an id (so that a
/// stale cookie from another path does not hide a good one), else the first value at all.
///
/// The session layer does not let that first id win when the request carries several
/// different ones: see [`SessionLayer`](super::SessionLayer).
pub fn token_from_cookies<'a>(headers: &'a HeaderMap, name: &'a str) -> Option<&'a str> {
    let mut first = None;
    for value in cookie_values(headers, name) {
        if SessionId::parse(value).is_ok() {
            return Some(value);
        }
        first.get_or_insert(value);
    }
    first
}

/// What the cookies called `name` present: the distinct well-formed ids among them (one, or
/// [`Presented::Several`]), else the first malformed value.
pub(crate) fn presented_in_cookies(headers: &HeaderMap, name: &str) -> Option<Presented> {
    // The usual request carries one id: it is kept aside, and a list is made only for others.
    let mut first_id: Option<SessionId> = None;
    let mut other_ids: Vec<SessionId> = Vec::new();
    let mut first_malformed = None;
    for value in cookie_values(headers, name) {
        match SessionId::parse(value) {
            Ok(id) => match &first_id {
                None => first_id = Some(id),
                Some(first) if *first != id && !other_ids.contains(&id) => other_ids.push(id),
                Some(_) => {}
            },
            Err(_) => {
                first_malformed.get_or_insert(value);
            }
        }
    }
    match first_id {
        None => first_malformed.map(|value| Presented::Malformed(value.to_owned())),
        Some(id) if other_ids.is_empty() => Some(Presented::Id(id)),
        Some(id) => {
            other_ids.insert(0, id);
            Some(Presented::Several(other_ids))
        }
    }
}

/// [`token_from_header`], parsed.
pub(crate) fn presented_in_header(
    headers: &HeaderMap,
    transport: &HeaderTransport,
) -> Option<Presented> {
    token_from_header(headers, transport).map(Presented::parse)
}

/// The token a request presents in a header: `Authorization: Bearer <id>` or a named header.
pub fn token_from_header<'a>(
    headers: &'a HeaderMap,
    transport: &HeaderTransport,
) -> Option<&'a str> {
    match transport {
        HeaderTransport::Bearer { .. } => headers
            .get_all(AUTHORIZATION)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .find_map(|v| {
                let (scheme, token) = v.trim().split_once(' ')?;
                scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
            }),
        HeaderTransport::Named(name) => headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::trim),
    }
}

/// The header a response names a new or renewed id in.
pub(crate) fn response_header(transport: &HeaderTransport) -> &HeaderName {
    match transport {
        HeaderTransport::Bearer { response_header } => response_header,
        HeaderTransport::Named(name) => name,
    }
}

/// A `Set-Cookie` value that stores `id` for `max_age_secs` (a browser-session cookie when
/// `None`).
pub fn set_cookie(
    config: &CookieConfig,
    id: &str,
    max_age_secs: Option<u64>,
) -> Option<HeaderValue> {
    set_cookie_with_suffix(
        &config.name,
        &config.attribute_suffix(),
        id.as_bytes(),
        max_age_secs,
    )
}

/// [`set_cookie`] with the attribute suffix computed once, when the layer was built.
pub(crate) fn set_cookie_with_suffix(
    name: &str,
    suffix: &str,
    id: &[u8],
    max_age_secs: Option<u64>,
) -> Option<HeaderValue> {
    // Bytes rather than a formatted string: the layer writes one on every save.
    let mut text = Vec::with_capacity(name.len() + id.len() + suffix.len() + 32);
    text.extend_from_slice(name.as_bytes());
    text.push(b'=');
    text.extend_from_slice(id);
    if let Some(secs) = max_age_secs {
        text.extend_from_slice(b"; Max-Age=");
        text.extend_from_slice(itoa::Buffer::new().format(secs).as_bytes());
    }
    text.extend_from_slice(suffix.as_bytes());
    HeaderValue::from_maybe_shared(bytes::Bytes::from(text)).ok()
}

/// A `Set-Cookie` value that makes the browser forget the cookie: the same name, path, domain
/// and flags, an empty value, `Max-Age=0` and an `Expires` in the past.
pub fn expire_cookie(config: &CookieConfig) -> Option<HeaderValue> {
    let mut text = String::with_capacity(config.name.len() + 128);
    text.push_str(&config.name);
    text.push_str("=; Max-Age=0; Expires=Thu, 01 Jan 1970 00:00:00 GMT");
    text.push_str(&config.attribute_suffix());
    HeaderValue::from_str(&text).ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::server::config::SameSite;

    fn headers(cookie_lines: &[&str]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for line in cookie_lines {
            h.append(COOKIE, HeaderValue::from_str(line).unwrap());
        }
        h
    }

    #[test]
    fn finds_cookie_among_others_and_across_headers() {
        let h = headers(&[
            "a=1; session=abc ; b=2",
            "session=\"def\"",
            "\tsession\t=\tghi\t;x",
        ]);
        let found: Vec<_> = cookie_values(&h, "session").collect();
        assert_eq!(found, ["abc", "def", "ghi"]);
        assert_eq!(cookie_values(&h, "sess").count(), 0);
    }

    #[test]
    fn a_neighbour_cookie_that_is_not_ascii_hides_nothing() {
        let id = session_core::SessionId::generate().unwrap().expose_secret();
        let mut h = HeaderMap::new();
        let line = format!("pref=caf\u{e9}; session={id}; other=\u{1F36A}");
        h.append(COOKIE, HeaderValue::from_bytes(line.as_bytes()).unwrap());
        h.append(
            COOKIE,
            HeaderValue::from_bytes(b"session=\xff\xfe").unwrap(),
        );
        let found: Vec<_> = cookie_values(&h, "session").collect();
        assert_eq!(found, [id.as_str()], "a value that is not UTF-8 is skipped");
        assert!(matches!(
            presented_in_cookies(&h, "session"),
            Some(Presented::Id(_))
        ));
    }

    #[test]
    fn prefers_a_well_formed_id() {
        let id = session_core::SessionId::generate().unwrap().expose_secret();
        let line = format!("session=stale; session={id}");
        let h = headers(&[&line]);
        assert_eq!(token_from_cookies(&h, "session"), Some(id.as_str()));
        let h = headers(&["session=junk"]);
        assert_eq!(token_from_cookies(&h, "session"), Some("junk"));
    }

    #[test]
    fn bearer_and_named_headers() {
        let mut h = HeaderMap::new();
        h.insert(AUTHORIZATION, HeaderValue::from_static("Bearer  tok "));
        h.insert("x-session", HeaderValue::from_static("named"));
        let bearer = HeaderTransport::bearer();
        assert_eq!(token_from_header(&h, &bearer), Some("tok"));
        let named = HeaderTransport::Named(HeaderName::from_static("x-session"));
        assert_eq!(token_from_header(&h, &named), Some("named"));
        h.insert(AUTHORIZATION, HeaderValue::from_static("Basic abc"));
        assert_eq!(token_from_header(&h, &bearer), None);
    }

    #[test]
    fn set_and_expire_share_attributes() {
        let config = CookieConfig {
            domain: Some("example.org".into()),
            same_site: SameSite::Strict,
            ..CookieConfig::default()
        };
        let set = set_cookie(&config, "ID", Some(60)).unwrap();
        assert_eq!(
            set.to_str().unwrap(),
            "session=ID; Max-Age=60; Path=/; Domain=example.org; HttpOnly; Secure; SameSite=Strict"
        );
        let gone = expire_cookie(&config).unwrap();
        assert_eq!(
            gone.to_str().unwrap(),
            "session=; Max-Age=0; Expires=Thu, 01 Jan 1970 00:00:00 GMT; Path=/; Domain=example.org; HttpOnly; Secure; SameSite=Strict"
        );
    }

    #[test]
    fn several_different_ids_are_kept_and_repeats_are_one() {
        let a = session_core::SessionId::generate().unwrap().expose_secret();
        let b = session_core::SessionId::generate().unwrap().expose_secret();
        let h = headers(&[
            &format!("session={a}; session=junk"),
            &format!("session={a}"),
        ]);
        assert!(matches!(
            presented_in_cookies(&h, "session"),
            Some(Presented::Id(_))
        ));
        let h = headers(&[&format!("session={a}; session={b}")]);
        match presented_in_cookies(&h, "session") {
            Some(Presented::Several(ids)) => assert_eq!(ids.len(), 2),
            other => panic!("{other:?}"),
        }
        let h = headers(&["session=junk; session=more-junk"]);
        match presented_in_cookies(&h, "session") {
            Some(Presented::Malformed(token)) => assert_eq!(token, "junk"),
            other => panic!("{other:?}"),
        }
    }

    proptest::proptest! {
        #[test]
        fn cookie_parsing_never_panics_and_finds_what_was_set(
            other in "[a-z]{1,8}", value in "[A-Za-z0-9_-]{0,50}", noise in "[ -~]{0,40}"
        ) {
            let line = format!("{noise}; {other}x=1; session={value}");
            if let Ok(v) = HeaderValue::from_str(&line) {
                let mut h = HeaderMap::new();
                h.insert(COOKIE, v);
                let found: Vec<_> = cookie_values(&h, "session").collect();
                proptest::prop_assert_eq!(found.last().copied(), Some(value.as_str()));
            }
        }
    }
}
