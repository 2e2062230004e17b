//! The request to send: HTTPie's default headers for the body, the item headers, and the
//! body's bytes.

use bytes::Bytes;
use http::header::{ACCEPT, CONTENT_LENGTH, CONTENT_TYPE, COOKIE, HeaderValue, USER_AGENT};
use http::{HeaderMap, Method};
use session_http::client::{ClientRequest, ClientSession};

use super::parse::{Parsed, RequestHeader};
use crate::CliError;
use crate::form_body::{form_urlencode, multipart_body};
use crate::request_items::Body;

/// HTTPie's `Accept` for JSON requests (HTTPie stores it in the session too).
const JSON_ACCEPT: &str = "application/json, */*;q=0.5";
const JSON_CONTENT_TYPE: &str = "application/json";
/// HTTPie's `Content-Type` for `--form` without file uploads.
const FORM_CONTENT_TYPE: &str = "application/x-www-form-urlencoded; charset=utf-8";

/// The headers HTTPie sends and records in the session: its defaults for the body (unless
/// the items or the session have them), then the items'.
pub(crate) fn request_headers(
    parsed: &Parsed,
    session: &ClientSession,
    form: bool,
) -> Vec<RequestHeader> {
    let mut headers = default_headers(&parsed.body, form);
    headers.retain(|default| {
        let name = default.name.as_str();
        !parsed.headers.iter().any(|h| h.name == default.name)
            && !session
                .headers()
                .iter()
                .any(|(m, _)| m.eq_ignore_ascii_case(name))
    });
    headers.extend(parsed.headers.iter().cloned());
    headers
}

/// HTTPie's `Accept` and `Content-Type` for a body: JSON ones for JSON data, a non-empty
/// `--raw` body and any standard input, the form type with `--form`.
fn default_headers(body: &Body, form: bool) -> Vec<RequestHeader> {
    let json = || {
        vec![
            RequestHeader::fixed(ACCEPT, "Accept", JSON_ACCEPT),
            RequestHeader::fixed(CONTENT_TYPE, "Content-Type", JSON_CONTENT_TYPE),
        ]
    };
    match body {
        Body::Form(_) | Body::Raw(_) | Body::Stdin(_) if form => vec![RequestHeader::fixed(
            CONTENT_TYPE,
            "Content-Type",
            FORM_CONTENT_TYPE,
        )],
        Body::Json(_) | Body::Stdin(_) => json(),
        Body::Raw(raw) if !raw.is_empty() => json(),
        Body::Form(_) | Body::Raw(_) | Body::Empty | Body::Multipart(_) => Vec::new(),
    }
}

/// The request from the parsed command line and the headers of [`request_headers`]
/// (`Cookie` headers are left to the session, which took them into its jar).
pub(crate) fn client_request(
    parsed: &Parsed,
    headers: &[RequestHeader],
    boundary: Option<&str>,
) -> Result<ClientRequest, CliError> {
    let mut map = HeaderMap::new();
    for header in headers.iter().filter(|h| h.name != COOKIE) {
        map.append(header.name.clone(), header.value.clone());
    }
    if !map.contains_key(USER_AGENT) {
        map.insert(
            USER_AGENT,
            HeaderValue::from_static(concat!("sessionctl/", env!("CARGO_PKG_VERSION"))),
        );
    }
    if !map.contains_key(ACCEPT) {
        map.insert(ACCEPT, HeaderValue::from_static("*/*"));
    }
    let body = body_bytes(&parsed.body, &mut map, boundary)?;
    // As `requests`: a request that may carry a body says so even when it is empty.
    if body.is_empty()
        && parsed.method != Method::GET
        && parsed.method != Method::HEAD
        && !map.contains_key(CONTENT_LENGTH)
    {
        map.insert(CONTENT_LENGTH, HeaderValue::from_static("0"));
    }
    Ok(ClientRequest {
        method: parsed.method.clone(),
        url: parsed.url.clone(),
        headers: map,
        body,
        omit_headers: parsed.unset.clone(),
    })
}

/// The body's bytes, completing `Content-Type` where the body decides it.
fn body_bytes(
    body: &Body,
    headers: &mut HeaderMap,
    boundary: Option<&str>,
) -> Result<Bytes, CliError> {
    Ok(match body {
        Body::Empty => Bytes::new(),
        Body::Json(value) => {
            if !headers.contains_key(CONTENT_TYPE) {
                headers.insert(CONTENT_TYPE, HeaderValue::from_static(JSON_CONTENT_TYPE));
            }
            Bytes::from(value.dumps())
        }
        Body::Form(fields) => Bytes::from(form_urlencode(fields)),
        Body::Raw(bytes) | Body::Stdin(bytes) => Bytes::from(bytes.clone()),
        Body::Multipart(parts) => {
            let (content_type, body) = multipart_body(parts, boundary)
                .map_err(|e| CliError::Other(format!("no multipart boundary: {e}")))?;
            let given = headers.get(CONTENT_TYPE).and_then(|v| v.to_str().ok());
            let content_type = multipart_content_type(given, &content_type);
            let value = HeaderValue::from_str(&content_type)
                .map_err(|_| CliError::usage("invalid Content-Type header"))?;
            headers.insert(CONTENT_TYPE, value);
            Bytes::from(body)
        }
    })
}

/// As HTTPie: a `Content-Type` given without a boundary gets ours appended.
fn multipart_content_type(given: Option<&str>, ours: &str) -> String {
    match given {
        Some(given) if given.contains("boundary=") => given.to_string(),
        Some(given) => format!(
            "{}; boundary={}",
            given.trim(),
            ours.split("boundary=").nth(1).unwrap_or_default()
        ),
        None => ours.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_given_multipart_type_gets_the_boundary() {
        let ours = "multipart/form-data; boundary=xyz";
        assert_eq!(multipart_content_type(None, ours), ours);
        assert_eq!(
            multipart_content_type(Some("multipart/mixed "), ours),
            "multipart/mixed; boundary=xyz"
        );
        assert_eq!(
            multipart_content_type(Some("multipart/x; boundary=a"), ours),
            "multipart/x; boundary=a"
        );
    }

    #[test]
    fn default_headers_follow_the_body() {
        let names = |body: &Body, form| {
            default_headers(body, form)
                .into_iter()
                .map(|h| h.as_pair())
                .collect::<Vec<_>>()
        };
        assert_eq!(names(&Body::Stdin(Vec::new()), false).len(), 2);
        assert!(names(&Body::Raw(Vec::new()), false).is_empty());
        assert_eq!(
            names(&Body::Stdin(b"a=1".to_vec()), true),
            vec![("Content-Type".to_string(), FORM_CONTENT_TYPE.to_string())]
        );
        assert!(names(&Body::Empty, false).is_empty());
    }
}
