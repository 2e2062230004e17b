//! The routes: the JSON API under `/api`, the HTML pages, `/healthz` and `/metrics`.

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post};
use axum::{Extension, Json, Router};
use serde::Deserialize;
use serde_json::{Value, json};
use session_core::{
    Authenticator, PasswordCredentials, PrincipalIndex, Record, SessionKey, SessionManager,
};
use session_http::server::{Session, SessionLayer};

use crate::metrics::{self, StoreTimings};
use crate::pages;
use crate::users::Users;

/// What every handler shares.
#[derive(Clone)]
pub struct AppState {
    /// The session manager (and through it the store).
    pub manager: SessionManager,
    /// The accounts.
    pub users: Users,
    /// Store operation timings for `/metrics`.
    pub timings: Arc<StoreTimings>,
}

/// The whole application: routes, state and the session layer.
pub fn router(state: AppState, layer: SessionLayer) -> Router {
    Router::new()
        .route("/api/login", post(api_login))
        .route("/api/session", get(api_session))
        .route("/api/counter/{name}", post(api_counter))
        .route("/api/sessions", get(api_sessions))
        .route("/api/sessions/{id_hash}", delete(api_revoke))
        .route("/api/logout", post(api_logout))
        .route("/api/logout-everywhere", post(api_logout_everywhere))
        .route("/", get(pages::index))
        .route("/login", get(pages::login_form).post(pages::login))
        .route("/session", get(pages::session_page))
        .route("/counter/{name}", post(pages::counter))
        .route("/sessions", get(pages::sessions_page))
        .route("/sessions/{id_hash}/revoke", post(pages::revoke))
        .route("/logout", post(pages::logout))
        .route("/logout-everywhere", post(pages::logout_everywhere))
        .layer(layer)
        // Outside the session layer: these never touch a session.
        .route("/healthz", get(healthz))
        .route("/metrics", get(metrics_page))
        .with_state(state)
}

/// An API error: a status and `{"error": "..."}`.
#[derive(Debug)]
pub struct ApiError {
    status: StatusCode,
    message: String,
}

impl ApiError {
    /// An error with a status and a message for the client.
    pub fn new(status: StatusCode, message: impl Into<String>) -> Self {
        ApiError {
            status,
            message: message.into(),
        }
    }

    /// 401: not logged in.
    pub fn unauthorized() -> Self {
        ApiError::new(StatusCode::UNAUTHORIZED, "not logged in")
    }
}

impl From<session_core::Error> for ApiError {
    fn from(error: session_core::Error) -> Self {
        tracing::warn!(error = %error, "session operation failed");
        match error {
            session_core::Error::Limit(limit) => {
                ApiError::new(StatusCode::PAYLOAD_TOO_LARGE, limit.to_string())
            }
            session_core::Error::Backend { .. } => {
                ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "session store unavailable")
            }
            _ => ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "session error"),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (self.status, Json(json!({ "error": self.message }))).into_response()
    }
}

/// The logged-in principal, or 401.
pub async fn require_login(session: &Session) -> Result<String, ApiError> {
    session
        .principal()
        .await?
        .ok_or_else(ApiError::unauthorized)
}

/// The principal index of the store, or 501.
pub fn principal_index(state: &AppState) -> Result<&dyn PrincipalIndex, ApiError> {
    state.manager.store().principal_index().ok_or_else(|| {
        ApiError::new(
            StatusCode::NOT_IMPLEMENTED,
            "this session store cannot list sessions by user",
        )
    })
}

/// Checks credentials and logs the session in (with a new id). Also gives the session a
/// fresh CSRF token for the HTML forms.
pub async fn log_in(
    state: &AppState,
    session: &Session,
    username: &str,
    password: &str,
) -> Result<Option<String>, ApiError> {
    let credentials = PasswordCredentials::new(username, password);
    match state.users.authenticate(&credentials).await {
        Ok(principal) => {
            // A different user on this browser starts from a clean session.
            if session.principal().await?.as_deref() != Some(principal.as_str()) {
                session.clear().await?;
            }
            session.log_in(&principal).await?;
            session
                .insert(pages::CSRF_KEY, &pages::new_csrf_token())
                .await?;
            tracing::info!(principal = %principal, "login");
            Ok(Some(principal))
        }
        Err(session_core::AuthError::InvalidCredentials) => {
            tracing::info!("failed login");
            Ok(None)
        }
        Err(error) => Err(ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            format!("login unavailable: {error}"),
        )),
    }
}

#[derive(Deserialize)]
struct LoginBody {
    username: String,
    password: String,
}

async fn api_login(
    State(state): State<AppState>,
    Extension(session): Extension<Session>,
    Json(body): Json<LoginBody>,
) -> Result<Response, ApiError> {
    match log_in(&state, &session, &body.username, &body.password).await? {
        Some(principal) => Ok(Json(json!({ "principal": principal })).into_response()),
        None => Err(ApiError::new(
            StatusCode::UNAUTHORIZED,
            "invalid credentials",
        )),
    }
}

/// The attributes of the session as JSON values (the CSRF token left out).
pub async fn attributes(session: &Session) -> Result<serde_json::Map<String, Value>, ApiError> {
    let mut map = serde_json::Map::new();
    for key in session.keys().await? {
        if key == pages::CSRF_KEY {
            continue;
        }
        if let Some(value) = session.get::<Value>(&key).await? {
            map.insert(key, value);
        }
    }
    Ok(map)
}

async fn api_session(Extension(session): Extension<Session>) -> Result<Json<Value>, ApiError> {
    let principal = require_login(&session).await?;
    let metadata = session
        .metadata()
        .await?
        .ok_or_else(ApiError::unauthorized)?;
    Ok(Json(json!({
        "id_hash": metadata.key.to_hex(),
        "principal": principal,
        "created_at": metadata.created_at.to_rfc3339(),
        "expires_at": metadata.expires_at.map(|t| t.to_rfc3339()),
        "attributes": attributes(&session).await?,
    })))
}

/// Whether a counter name is acceptable.
pub fn valid_counter_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 64
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// Increments the attribute `counter:{name}` and returns its new value.
pub async fn increment(session: &Session, name: &str) -> Result<u64, ApiError> {
    if !valid_counter_name(name) {
        return Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            "a counter name is 1 to 64 letters, digits, '-' or '_'",
        ));
    }
    let key = format!("counter:{name}");
    let value = session.get::<u64>(&key).await?.unwrap_or(0) + 1;
    session.insert(&key, &value).await?;
    Ok(value)
}

async fn api_counter(
    Extension(session): Extension<Session>,
    Path(name): Path<String>,
) -> Result<Json<Value>, ApiError> {
    require_login(&session).await?;
    let value = increment(&session, &name).await?;
    Ok(Json(json!({ "value": value })))
}

/// A session of the principal, as the sessions list shows it.
pub fn session_entry(record: &Record, current: Option<SessionKey>) -> Value {
    json!({
        "id_hash": record.key.to_hex(),
        "created_at": record.created_at.to_rfc3339(),
        "last_access": record.last_access.to_rfc3339(),
        "expires_at": record.expires_at().map(|t| t.to_rfc3339()),
        "current": Some(record.key) == current,
    })
}

/// The principal's sessions, most recently used first, and the current session's key.
pub async fn sessions_of(
    state: &AppState,
    session: &Session,
) -> Result<(Vec<Record>, Option<SessionKey>), ApiError> {
    let principal = require_login(session).await?;
    let current = session.metadata().await?.map(|m| m.key);
    let mut records = principal_index(state)?.sessions_of(&principal).await?;
    records.reverse();
    Ok((records, current))
}

async fn api_sessions(
    State(state): State<AppState>,
    Extension(session): Extension<Session>,
) -> Result<Json<Value>, ApiError> {
    let (records, current) = sessions_of(&state, &session).await?;
    Ok(Json(Value::Array(
        records.iter().map(|r| session_entry(r, current)).collect(),
    )))
}

/// Ends one of the principal's sessions by its id hash. Ending the current one logs out.
pub async fn revoke(state: &AppState, session: &Session, id_hash: &str) -> Result<(), ApiError> {
    let (records, current) = sessions_of(state, session).await?;
    let key = SessionKey::parse(id_hash)
        .map_err(|_| ApiError::new(StatusCode::NOT_FOUND, "no such session"))?;
    if !records.iter().any(|r| r.key == key) {
        return Err(ApiError::new(StatusCode::NOT_FOUND, "no such session"));
    }
    if Some(key) == current {
        session.invalidate().await?;
    } else {
        state.manager.store().delete(&key).await?;
    }
    tracing::info!(session = %key.short(), "session revoked");
    Ok(())
}

async fn api_revoke(
    State(state): State<AppState>,
    Extension(session): Extension<Session>,
    Path(id_hash): Path<String>,
) -> Result<StatusCode, ApiError> {
    revoke(&state, &session, &id_hash).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn api_logout(Extension(session): Extension<Session>) -> Result<StatusCode, ApiError> {
    require_login(&session).await?;
    session.invalidate().await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Ends every session of the logged-in principal, this one included; returns how many.
pub async fn logout_everywhere(state: &AppState, session: &Session) -> Result<u64, ApiError> {
    let principal = require_login(session).await?;
    let current = session.metadata().await?.map(|m| m.key);
    let others = principal_index(state)?
        .revoke_all(&principal, current.as_ref())
        .await?;
    session.invalidate().await?;
    tracing::info!(principal = %principal, ended = others + 1, "logged out everywhere");
    Ok(others + 1)
}

async fn api_logout_everywhere(
    State(state): State<AppState>,
    Extension(session): Extension<Session>,
) -> Result<Json<Value>, ApiError> {
    let revoked = logout_everywhere(&state, &session).await?;
    Ok(Json(json!({ "revoked": revoked })))
}

async fn healthz(State(state): State<AppState>) -> Response {
    match state.manager.store().count().await {
        Ok(_) => (StatusCode::OK, "ok\n").into_response(),
        Err(error) => {
            tracing::warn!(error = %error, "health check: store failed");
            (
                StatusCode::SERVICE_UNAVAILABLE,
                "session store unavailable\n",
            )
                .into_response()
        }
    }
}

async fn metrics_page(State(state): State<AppState>) -> Response {
    let active = state.manager.store().count().await.ok();
    let body = metrics::render(
        active,
        state.manager.store().name(),
        &state.timings,
        state.manager.events(),
    );
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        body,
    )
        .into_response()
}
