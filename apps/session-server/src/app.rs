//! The routes: the JSON API under `/api`, the HTML pages, `/healthz`, `/readyz` and
//! `/metrics`.

use std::sync::Arc;

use axum::extract::rejection::{JsonRejection, PathRejection};
use axum::extract::{Path, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{Value, json};
use session_core::{PrincipalIndex, Record, SessionKey, SessionManager};
use session_http::serve::IpRange;
use session_http::server::{CSRF_TOKEN_KEY, RequireLogin, Session, SessionLayer};

use crate::health::{ActiveSessions, Readiness};
use crate::login::{self, GuardedLogin, LoginClient, LoginLimits};
use crate::metrics::{self, StoreTimings};
use crate::pages;

/// What every handler shares.
#[derive(Clone)]
pub struct AppState {
    /// The session manager (and through it the store).
    pub manager: SessionManager,
    /// The accounts, behind login throttling and the hashing bound.
    pub login: Arc<GuardedLogin>,
    /// How the login is guarded.
    pub login_limits: Arc<LoginLimits>,
    /// Store operation timings for `/metrics`.
    pub timings: Arc<StoreTimings>,
    /// The cached store probe of `/readyz`.
    pub readiness: Arc<Readiness>,
    /// The live-session count of `/metrics`, refreshed in the background.
    pub active: Arc<ActiveSessions>,
    /// Reverse proxies whose `X-Forwarded-For` names the client (`--trusted-proxy`).
    pub trusted_proxies: Arc<[IpRange]>,
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
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics_page))
        .with_state(state)
}

/// An API error: a status and `{"error": "..."}`, and `Retry-After` when waiting helps.
#[derive(Debug)]
pub struct ApiError {
    status: StatusCode,
    message: String,
    retry_after_secs: Option<u64>,
}

impl ApiError {
    /// An error with a status and a message for the client.
    pub fn new(status: StatusCode, message: impl Into<String>) -> Self {
        ApiError {
            status,
            message: message.into(),
            retry_after_secs: None,
        }
    }

    /// The same error telling the client to retry after `seconds`.
    pub fn retry_after(mut self, seconds: u64) -> Self {
        self.retry_after_secs = Some(seconds);
        self
    }

    /// The HTTP status.
    pub fn status(&self) -> StatusCode {
        self.status
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

/// A body that is not the JSON asked for (malformed, of the wrong shape or type, too large)
/// gets the API's JSON error with the status axum chose (400, 415, 422, 413).
impl From<JsonRejection> for ApiError {
    fn from(rejection: JsonRejection) -> Self {
        ApiError::new(rejection.status(), rejection.body_text())
    }
}

/// A path segment that does not decode gets the API's JSON error.
impl From<PathRejection> for ApiError {
    fn from(rejection: PathRejection) -> Self {
        ApiError::new(rejection.status(), rejection.body_text())
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut response = (self.status, Json(json!({ "error": self.message }))).into_response();
        if let Some(seconds) = self.retry_after_secs {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(seconds));
        }
        response
    }
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

#[derive(Deserialize)]
struct LoginBody {
    username: String,
    password: String,
}

/// Checks credentials and logs the session in, guarded as [`login`] describes.
pub async fn log_in(
    state: &AppState,
    session: &Session,
    LoginClient(client): LoginClient,
    username: &str,
    password: &str,
) -> Result<Option<String>, ApiError> {
    login::log_in(
        &state.login,
        &state.login_limits,
        session,
        client,
        username,
        password,
    )
    .await
}

async fn api_login(
    State(state): State<AppState>,
    session: Session,
    client: LoginClient,
    body: Result<Json<LoginBody>, JsonRejection>,
) -> Result<Response, ApiError> {
    let Json(body) = body?;
    match log_in(&state, &session, client, &body.username, &body.password).await? {
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
        if key == CSRF_TOKEN_KEY {
            continue;
        }
        if let Some(value) = session.get::<Value>(&key).await? {
            map.insert(key, value);
        }
    }
    Ok(map)
}

/// The session document; `principal` is null for an anonymous session, and a client without
/// a stored session gets 404.
async fn api_session(session: Session) -> Result<Json<Value>, ApiError> {
    let Some(metadata) = session.metadata().await? else {
        return Err(ApiError::new(StatusCode::NOT_FOUND, "no session"));
    };
    let principal = session.principal().await?;
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

/// Increments the attribute `counter:{name}` and returns its new value as this request sees
/// it (other requests' increments since the session was loaded count in the store, not here).
pub async fn increment(session: &Session, name: &str) -> Result<u64, ApiError> {
    if !valid_counter_name(name) {
        return Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            "a counter name is 1 to 64 letters, digits, '-' or '_'",
        ));
    }
    let key = format!("counter:{name}");
    // An addition the store applies to the value it holds, in one step: concurrent increments
    // of one session all count, and none is refused as a conflict.
    let value = session.add(&key, 1).await?;
    // Only increments reach the counter, so it never falls below 1 here.
    Ok(u64::try_from(value).unwrap_or(0))
}

/// Anyone may count: for a visitor without a session, the first increment creates one (and
/// sets the cookie), which a later login keeps.
async fn api_counter(
    session: Session,
    name: Result<Path<String>, PathRejection>,
) -> Result<Json<Value>, ApiError> {
    let Path(name) = name?;
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

/// The logged-in principal's sessions, most recently used first, and the current session's
/// key.
pub async fn sessions_of(
    state: &AppState,
    login: &RequireLogin,
) -> Result<(Vec<Record>, Option<SessionKey>), ApiError> {
    let current = login.session.metadata().await?.map(|m| m.key);
    let mut records = principal_index(state)?
        .sessions_of(&login.principal)
        .await?;
    records.reverse();
    Ok((records, current))
}

async fn api_sessions(
    State(state): State<AppState>,
    login: RequireLogin,
) -> Result<Json<Value>, ApiError> {
    let (records, current) = sessions_of(&state, &login).await?;
    Ok(Json(Value::Array(
        records.iter().map(|r| session_entry(r, current)).collect(),
    )))
}

/// Ends one of the principal's sessions by its id hash. Ending the current one logs out.
pub async fn revoke(state: &AppState, login: &RequireLogin, id_hash: &str) -> Result<(), ApiError> {
    let (records, current) = sessions_of(state, login).await?;
    let key = SessionKey::parse(id_hash)
        .map_err(|_| ApiError::new(StatusCode::NOT_FOUND, "no such session"))?;
    if !records.iter().any(|r| r.key == key) {
        return Err(ApiError::new(StatusCode::NOT_FOUND, "no such session"));
    }
    if Some(key) == current {
        login.session.invalidate().await?;
    } else {
        state.manager.store().delete(&key).await?;
    }
    tracing::info!(session = %key.short(), "session revoked");
    Ok(())
}

async fn api_revoke(
    State(state): State<AppState>,
    login: RequireLogin,
    id_hash: Result<Path<String>, PathRejection>,
) -> Result<StatusCode, ApiError> {
    let Path(id_hash) = id_hash?;
    revoke(&state, &login, &id_hash).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Ends the session, logged in or anonymous (204 either way; a client without one has nothing
/// to end).
async fn api_logout(session: Session) -> Result<StatusCode, ApiError> {
    session.invalidate().await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Ends every session of the logged-in principal, this one included; returns how many.
pub async fn logout_everywhere(state: &AppState, login: &RequireLogin) -> Result<u64, ApiError> {
    let RequireLogin { principal, session } = login;
    let current = session.metadata().await?.map(|m| m.key);
    let others = principal_index(state)?
        .revoke_all(principal, current.as_ref())
        .await?;
    session.invalidate().await?;
    tracing::info!(principal = %principal, ended = others + 1, "logged out everywhere");
    Ok(others + 1)
}

async fn api_logout_everywhere(
    State(state): State<AppState>,
    login: RequireLogin,
) -> Result<Json<Value>, ApiError> {
    let revoked = logout_everywhere(&state, &login).await?;
    Ok(Json(json!({ "revoked": revoked })))
}

/// Liveness: the process answers. Never touches the store.
async fn healthz() -> &'static str {
    "ok\n"
}

/// Readiness: the store answers (a cached, bounded probe).
async fn readyz(State(state): State<AppState>) -> Response {
    if state.readiness.is_ready().await {
        (StatusCode::OK, "ready\n").into_response()
    } else {
        (
            StatusCode::SERVICE_UNAVAILABLE,
            "session store unavailable\n",
        )
            .into_response()
    }
}

async fn metrics_page(State(state): State<AppState>) -> Response {
    let active = state.active.get();
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
