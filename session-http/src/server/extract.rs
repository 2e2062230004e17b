//! The session handle as an axum extractor: handlers take `session: Session` as an argument.

use axum_core::extract::FromRequestParts;
use axum_core::response::{IntoResponse, Response};
use http::StatusCode;
use http::request::Parts;

use super::handle::Session;

/// The [`Session`] extractor's rejection: the request did not pass through a
/// [`SessionLayer`](super::SessionLayer), so there is no session to give the handler.
///
/// This is a mistake in how the application is assembled (the route is outside the layer, or
/// the layer was added with `route_layer` to another router), never the client's fault: it
/// answers `500 Internal Server Error` with a message saying what to fix, and logs it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error(
    "no session layer: this route is not wrapped in session_http::server::SessionLayer \
     (add it with Router::layer around the routes that take a Session)"
)]
pub struct MissingSessionLayer;

impl IntoResponse for MissingSessionLayer {
    fn into_response(self) -> Response {
        tracing::error!("{self}");
        (StatusCode::INTERNAL_SERVER_ERROR, format!("{self}\n")).into_response()
    }
}

/// `async fn handler(session: Session)`: the handle the layer put into the request's
/// extensions (the same one `Extension<Session>` gives).
impl<S: Send + Sync> FromRequestParts<S> for Session {
    type Rejection = MissingSessionLayer;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        parts
            .extensions
            .get::<Session>()
            .cloned()
            .ok_or(MissingSessionLayer)
    }
}
