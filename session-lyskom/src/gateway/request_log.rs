//! One log event per request, in a span that carries what the request was: the method, the
//! route as a template (`/{server}/texts/{n}/body`: numbers and names the client chose are
//! not echoed) and a short hash of the connection id it presented (the id itself is the
//! key to a logged-in LysKOM session). The event at its end, at INFO, adds the status and
//! the latency; the gateway's default filter (`warn`) leaves it out unless `RUST_LOG` asks.
//! Scrapes of the metrics are logged at DEBUG, so that a Prometheus polling every few
//! seconds does not drown the log.

use std::time::Duration;

use http::{HeaderMap, Method, StatusCode, Uri};
use session_core::SessionKey;

use super::{CONNECTION_HEADER, parse_query, percent_decode, websocket};

/// The path segments of httpkom's routes; any other segment shows as `{name}`.
const WORDS: [&str; 21] = [
    "server",
    "info",
    "sessions",
    "current",
    "who-am-i",
    "active",
    "login",
    "logout",
    "working-conference",
    "conferences",
    "texts",
    "read-marking",
    "marks",
    "mark",
    "body",
    "persons",
    "set-passwd",
    "user-area",
    "set-presentation",
    "memberships",
    "unread",
];

/// The paths the gateway answers itself, outside every server.
const OWN_PATHS: [&str; 4] = ["/", websocket::PATH, "/metrics", "/_metrics"];

/// The metrics paths, whose requests are logged at DEBUG.
const SCRAPES: [&str; 2] = ["/metrics", "/_metrics"];

/// One request's log: its span, and whether it is a metrics scrape.
pub(super) struct RequestLog {
    /// The span the request is answered in.
    pub(super) span: tracing::Span,
    scrape: bool,
}

impl RequestLog {
    /// The log of a request; `status` and `latency_ms` follow in [`RequestLog::answered`].
    pub(super) fn start(method: &Method, uri: &Uri, headers: &HeaderMap) -> RequestLog {
        let span = tracing::info_span!(
            "request",
            method = %method,
            route = %route(uri.path()),
            connection = tracing::field::Empty,
        );
        // The digest is paid only when the span is logged at all.
        if !span.is_disabled()
            && let Some(hash) = connection_hash(uri, headers)
        {
            span.record("connection", tracing::field::display(&hash));
        }
        RequestLog {
            span,
            scrape: SCRAPES.contains(&uri.path()),
        }
    }

    /// The event that ends the request's span.
    pub(super) fn answered(&self, status: StatusCode, latency: Duration) {
        let _entered = self.span.enter();
        let status = status.as_u16();
        // Milliseconds with microsecond precision: the unit dashboards and people read.
        let latency_ms = latency.as_micros() as f64 / 1000.0;
        if self.scrape {
            tracing::debug!(status, latency_ms, "answered");
        } else {
            tracing::info!(status, latency_ms, "answered");
        }
    }
}

/// `path` as a route template: the gateway's own paths as they are, a server's resources
/// as `/{server}/…` with httpkom's words kept, numbers as `{n}` and anything else as
/// `{name}`.
pub(super) fn route(path: &str) -> String {
    if OWN_PATHS.contains(&path) {
        return path.to_owned();
    }
    let mut segments = path.strip_prefix('/').unwrap_or(path).split('/');
    // The first segment is the server id: configured, but a client may send any.
    segments.next();
    let mut template = String::from("/{server}");
    for segment in segments {
        template.push('/');
        let segment = percent_decode(segment);
        if segment.is_empty() {
            continue;
        }
        if segment.bytes().all(|b| b.is_ascii_digit()) {
            template.push_str("{n}");
        } else if let Some(word) = WORDS.iter().find(|w| **w == segment) {
            template.push_str(word);
        } else {
            template.push_str("{name}");
        }
    }
    template
}

/// A short hash of the connection id the request presents (header, else query parameter),
/// the same for every request on one connection and useless for taking it over.
fn connection_hash(uri: &Uri, headers: &HeaderMap) -> Option<String> {
    let id = match headers.get(CONNECTION_HEADER) {
        Some(v) => String::from_utf8_lossy(v.as_bytes()).into_owned(),
        None => parse_query(uri.query().unwrap_or("")).remove(CONNECTION_HEADER)?,
    };
    Some(SessionKey::derive("httpkom-connection", &[&id]).short())
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    #[test]
    fn routes_keep_httpkoms_words_and_hide_what_the_client_chose() {
        assert_eq!(route("/"), "/");
        assert_eq!(route("/metrics"), "/metrics");
        assert_eq!(route("/websocket"), "/websocket");
        assert_eq!(route("/kom/sessions/"), "/{server}/sessions/");
        assert_eq!(route("/kom/texts/4711/body"), "/{server}/texts/{n}/body");
        assert_eq!(
            route("/kom/persons/6/user-area/elisp"),
            "/{server}/persons/{n}/user-area/{name}"
        );
        assert_eq!(route("/kom/%74exts/1"), "/{server}/texts/{n}");
        assert_eq!(route("/metrics/server/info"), "/{server}/server/info");
    }

    #[test]
    fn the_connection_is_named_by_a_hash_from_the_header_or_the_query() {
        let id = "0b9a3f4e-7d2c-4e55-9a61-3c1f0e8d2b7a";
        let mut headers = HeaderMap::new();
        headers.insert(CONNECTION_HEADER, id.parse().unwrap());
        let plain: Uri = "/kom/texts/1".parse().unwrap();
        let from_header = connection_hash(&plain, &headers).unwrap();
        let with_query: Uri = format!("/websocket?{CONNECTION_HEADER}={id}")
            .parse()
            .unwrap();
        let from_query = connection_hash(&with_query, &HeaderMap::new()).unwrap();
        assert_eq!(from_header, from_query);
        assert_eq!(from_header.len(), 12);
        assert!(!id.contains(&from_header));
        assert_eq!(connection_hash(&plain, &HeaderMap::new()), None);
    }

    proptest! {
        /// Whatever path a client sends, its route template is made of httpkom's words,
        /// placeholders and slashes only, so nothing the client chose reaches the log.
        #[test]
        fn a_route_template_echoes_nothing_but_known_words(path in "/[a-z0-9%/._-]{0,40}") {
            let template = route(&path);
            if !OWN_PATHS.contains(&path.as_str()) {
                for part in template.split('/').filter(|p| !p.is_empty()) {
                    prop_assert!(
                        WORDS.contains(&part) || ["{server}", "{n}", "{name}"].contains(&part),
                        "{} from {}", template, path
                    );
                }
            }
        }
    }
}
