//! One log event per request, in a span that carries what the request was: the method, the
//! route template it matched (`/api/sessions/{id_hash}`, never the path with its ids), and
//! the short store key of the session id it presented (never the id, which is a password
//! for as long as the session lives). The event at its end adds the status and the latency.
//!
//! Probes (`/healthz`, `/readyz`, `/metrics`) are logged at DEBUG, everything else at INFO,
//! so that a load balancer polling every few seconds does not drown the log.

use std::time::Instant;

use axum::Router;
use axum::extract::{MatchedPath, Request, State};
use axum::http::HeaderMap;
use axum::middleware::{self, Next};
use axum::response::Response;
use session_core::SessionId;
use session_http::server::{HeaderTransport, token_from_cookies, token_from_header};
use tracing::Instrument;

/// Routes whose requests are logged at DEBUG rather than INFO.
const PROBES: [&str; 3] = ["/healthz", "/readyz", "/metrics"];

/// `router` with every request logged; `cookie` is the session cookie's name, so the span
/// can name the session the request presented. Outside the session layer, so the latency
/// includes saving the session.
pub fn wrap(router: Router, cookie: String) -> Router {
    router.layer(middleware::from_fn_with_state(cookie, log_request))
}

async fn log_request(State(cookie): State<String>, request: Request, next: Next) -> Response {
    // Unmatched paths are not echoed: they are whatever a client made up.
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or("unmatched", MatchedPath::as_str)
        .to_owned();
    let span = tracing::info_span!(
        "request",
        method = %request.method(),
        route = %route,
        session = tracing::field::Empty,
    );
    // The cookie parse and the digest are paid only when the span is logged at all.
    if !span.is_disabled()
        && let Some(hash) = presented_session(request.headers(), &cookie)
    {
        span.record("session", tracing::field::display(&hash));
    }
    let started = Instant::now();
    let response = next.run(request).instrument(span.clone()).await;
    let status = response.status().as_u16();
    // Milliseconds with microsecond precision: the unit dashboards and people read.
    let latency_ms = started.elapsed().as_micros() as f64 / 1000.0;
    let _entered = span.enter();
    if PROBES.contains(&route.as_str()) {
        tracing::debug!(status, latency_ms, "answered");
    } else {
        tracing::info!(status, latency_ms, "answered");
    }
    response
}

/// The short store key of the session id the request presents (in the cookie, else as a
/// bearer token), `malformed` for a token that is no session id, `None` without one.
fn presented_session(headers: &HeaderMap, cookie: &str) -> Option<String> {
    let token = token_from_cookies(headers, cookie)
        .or_else(|| token_from_header(headers, &HeaderTransport::bearer()))?;
    Some(SessionId::parse(token).map_or_else(|_| "malformed".to_owned(), |id| id.key().short()))
}

#[cfg(test)]
mod tests {
    use axum::http::HeaderValue;

    use super::*;

    #[test]
    fn the_session_is_named_by_its_short_key_never_by_its_id() {
        let id = SessionId::generate().unwrap();
        let mut headers = HeaderMap::new();
        let cookie = format!("other=1; session={}", id.expose_secret());
        headers.insert("cookie", HeaderValue::from_str(&cookie).unwrap());
        assert_eq!(
            presented_session(&headers, "session"),
            Some(id.key().short())
        );

        let mut headers = HeaderMap::new();
        let bearer = format!("Bearer {}", id.expose_secret());
        headers.insert("authorization", HeaderValue::from_str(&bearer).unwrap());
        assert_eq!(
            presented_session(&headers, "session"),
            Some(id.key().short())
        );

        let mut headers = HeaderMap::new();
        headers.insert("cookie", HeaderValue::from_static("session=not-an-id"));
        assert_eq!(
            presented_session(&headers, "session").as_deref(),
            Some("malformed")
        );
        assert_eq!(presented_session(&HeaderMap::new(), "session"), None);
    }
}
