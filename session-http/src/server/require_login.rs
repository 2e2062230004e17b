//! `RequireLogin`: an extractor that lets a handler run only for a logged-in session, and
//! answers everyone else the way their client expects (a login page or a `401`).

use axum_core::extract::FromRequestParts;
use axum_core::response::{IntoResponse, Response};
use http::request::Parts;
use http::{HeaderMap, HeaderValue, StatusCode, header};

use super::extract::MissingSessionLayer;
use super::handle::Session;

/// The logged-in principal and its session. A handler that takes it as an argument runs only
/// when someone is logged in; otherwise the request is answered before the handler
/// ([`LoginRequired`]):
///
/// - a client that accepts HTML (its `Accept` lists `text/html`, as a browser's navigations
///   and form posts do) is sent to the login page with `303 See Other`, when the layer has
///   one ([`SessionLayerBuilder::login_path`](super::SessionLayerBuilder::login_path));
/// - any other client (an API client, a script's `fetch`) gets `401 Unauthorized` with the
///   JSON body `{"error":"not logged in"}`.
///
/// ```
/// use session_http::server::RequireLogin;
///
/// async fn profile(RequireLogin { principal, session }: RequireLogin) -> String {
///     let theme = session.get::<String>("theme").await.ok().flatten();
///     format!("{principal}: {}", theme.unwrap_or_default())
/// }
/// # let _ = profile;
/// ```
#[derive(Clone, Debug)]
pub struct RequireLogin {
    /// Who is logged in.
    pub principal: String,
    /// The request's session.
    pub session: Session,
}

/// Why [`RequireLogin`] did not let a request through, and its answer.
#[derive(Debug)]
#[non_exhaustive]
pub enum LoginRequired {
    /// Nobody is logged in and the client reads HTML: `303 See Other` to the login path.
    RedirectToLogin {
        /// The layer's login path.
        location: HeaderValue,
    },
    /// Nobody is logged in: `401 Unauthorized`, `{"error":"not logged in"}`.
    Unauthorized,
    /// The session could not be read (the store failed): `503 Service Unavailable`. Under
    /// the layer's default [`StoreFailurePolicy`](super::StoreFailurePolicy) the layer
    /// answers its own `503` in any case.
    SessionUnavailable,
    /// The route is not behind a [`SessionLayer`](super::SessionLayer): `500`.
    NoSessionLayer(MissingSessionLayer),
}

impl IntoResponse for LoginRequired {
    fn into_response(self) -> Response {
        match self {
            LoginRequired::RedirectToLogin { location } => {
                (StatusCode::SEE_OTHER, [(header::LOCATION, location)]).into_response()
            }
            LoginRequired::Unauthorized => (
                StatusCode::UNAUTHORIZED,
                [(
                    header::CONTENT_TYPE,
                    HeaderValue::from_static("application/json"),
                )],
                "{\"error\":\"not logged in\"}",
            )
                .into_response(),
            LoginRequired::SessionUnavailable => {
                super::layer::store_unavailable_response().map(axum_core::body::Body::new)
            }
            LoginRequired::NoSessionLayer(missing) => missing.into_response(),
        }
    }
}

impl<S: Send + Sync> FromRequestParts<S> for RequireLogin {
    type Rejection = LoginRequired;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let session = Session::from_request_parts(parts, state)
            .await
            .map_err(LoginRequired::NoSessionLayer)?;
        match session.principal().await {
            Ok(Some(principal)) => Ok(RequireLogin { principal, session }),
            Ok(None) => Err(match &session.shared().login_path {
                Some(location) if accepts_html(&parts.headers) => LoginRequired::RedirectToLogin {
                    location: location.clone(),
                },
                _ => LoginRequired::Unauthorized,
            }),
            Err(error) => {
                tracing::warn!(%error, "cannot read the session to check the login");
                Err(LoginRequired::SessionUnavailable)
            }
        }
    }
}

/// Whether the client's `Accept` lists `text/html` (with a weight above zero): a browser
/// showing a page, which a redirect to the login page serves better than a `401`.
pub(crate) fn accepts_html(headers: &HeaderMap) -> bool {
    headers
        .get_all(header::ACCEPT)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(','))
        .any(|range| {
            let mut parts = range.split(';');
            let media = parts.next().unwrap_or_default().trim();
            media.eq_ignore_ascii_case("text/html") && parts.all(|p| !is_zero_weight(p))
        })
}

/// Whether a media-range parameter is `q=0` (in any of its spellings: `0`, `0.0`, `0.000`).
fn is_zero_weight(parameter: &str) -> bool {
    let Some((name, value)) = parameter.split_once('=') else {
        return false;
    };
    name.trim().eq_ignore_ascii_case("q")
        && value
            .trim()
            .parse::<f32>()
            .is_ok_and(|weight| weight <= 0.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn accept(values: &[&str]) -> HeaderMap {
        let mut headers = HeaderMap::new();
        for value in values {
            headers.append(header::ACCEPT, HeaderValue::from_str(value).unwrap());
        }
        headers
    }

    #[test]
    fn a_failed_store_answers_as_the_layer_does() {
        let response = LoginRequired::SessionUnavailable.into_response();
        assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
        let headers = response.headers();
        assert_eq!(headers[header::RETRY_AFTER], "1");
        assert_eq!(headers[header::CACHE_CONTROL], "no-store");
        assert_eq!(headers[header::CONTENT_TYPE], "text/plain; charset=utf-8");
    }

    #[test]
    fn browsers_navigations_accept_html() {
        // Chromium's and Firefox's Accept for a navigation.
        assert!(accepts_html(&accept(&[
            "text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,*/*;q=0.8"
        ])));
        assert!(accepts_html(&accept(&["TEXT/HTML"])));
        assert!(accepts_html(&accept(&[
            "application/json",
            "text/html; q=0.5"
        ])));
    }

    /// Media ranges that are not `text/html`, with or without a weight.
    fn other_range() -> impl proptest::strategy::Strategy<Value = String> {
        use proptest::prelude::*;
        (
            prop::sample::select(vec![
                "*/*",
                "text/*",
                "text/plain",
                "application/json",
                "application/xhtml+xml",
                "text/htmlx",
                "image/webp",
            ]),
            prop::option::of(0u8..=10),
        )
            .prop_map(|(media, weight)| match weight {
                Some(w) => format!("{media};q={}", f32::from(w) / 10.0),
                None => media.to_owned(),
            })
    }

    proptest::proptest! {
        #[test]
        fn html_is_accepted_exactly_when_listed_with_a_weight_above_zero(
            before in proptest::collection::vec(other_range(), 0..4),
            after in proptest::collection::vec(other_range(), 0..4),
            html in proptest::option::of((0u8..=10, proptest::bool::ANY)),
        ) {
            let mut ranges = before;
            let expected = match html {
                Some((weight, upper)) => {
                    let media = if upper { "TEXT/HTML" } else { "text/html" };
                    ranges.push(format!("{media} ; q={}", f32::from(weight) / 10.0));
                    weight > 0
                }
                None => false,
            };
            ranges.extend(after);
            let headers = accept(&[&ranges.join(", ")]);
            proptest::prop_assert_eq!(accepts_html(&headers), expected, "{:?}", ranges);
        }
    }

    #[test]
    fn api_clients_do_not() {
        assert!(!accepts_html(&HeaderMap::new()));
        assert!(!accepts_html(&accept(&["*/*"])));
        assert!(!accepts_html(&accept(&["application/json, */*;q=0.5"])));
        assert!(!accepts_html(&accept(&[
            "text/html;q=0",
            "application/json"
        ])));
        assert!(!accepts_html(&accept(&["text/html; q=0.000"])));
        assert!(!accepts_html(&accept(&["text/htmlx"])));
    }
}
