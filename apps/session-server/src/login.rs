//! The login flow: throttled and bounded password checks, then the one generic login (cycle
//! the id, set the principal).
//!
//! Every attempt counts against the claimed user name and against the client's address
//! ([`ThrottledAuthenticator`]): past a few free attempts the next must wait (exponential
//! backoff), answered `429 Too Many Requests` with `Retry-After`. At most a few passwords
//! (one per core by default) are hashed at once ([`ConcurrencyLimited`]); an attempt that
//! cannot get a turn within a short wait is answered `503` with `Retry-After`, so a flood of
//! logins costs bounded memory. The counts live in the process, or in Redis when several
//! servers share them.

use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::FromRequestParts;
use axum::http::StatusCode;
use axum::http::request::Parts;
use session_core::{
    AuthError, Authenticator, Backoff, ConcurrencyLimited, Events, LoginAttempt,
    MemoryThrottleState, PasswordCredentials, ThrottleState, ThrottledAuthenticator, whole_seconds,
};
use session_http::serve::{PeerAddr, client_address};
use session_http::server::Session;

use crate::StartError;
use crate::app::{ApiError, AppState};
use crate::users::Users;

/// The accounts behind the throttle and the hashing bound.
pub type GuardedLogin = ThrottledAuthenticator<ConcurrencyLimited<Users>>;

/// How hard the login is guarded.
#[derive(Clone, Debug)]
pub struct LoginLimits {
    /// Backoff per user name.
    pub per_user: Backoff,
    /// Backoff per client address (behind trusted proxies, the address they name); `None`
    /// when every client comes through one proxy address that is not trusted.
    pub per_address: Option<Backoff>,
    /// Passwords hashed at once.
    pub hash_concurrency: usize,
    /// How long an attempt may wait for a turn to be hashed.
    pub hash_wait: Duration,
    /// Where the counts live: `memory:` (this process), a `redis://` URL, or `None`: the
    /// session store's Redis when it is one, else this process.
    pub throttle_store: Option<String>,
}

impl Default for LoginLimits {
    fn default() -> Self {
        LoginLimits {
            per_user: Backoff::PER_PRINCIPAL,
            per_address: Some(Backoff::PER_ADDRESS),
            hash_concurrency: std::thread::available_parallelism().map_or(1, usize::from),
            hash_wait: Duration::from_secs(2),
            throttle_store: None,
        }
    }
}

/// The guarded login over `users`.
pub async fn guarded_login(
    users: Users,
    limits: &LoginLimits,
    session_store_url: &str,
    events: Events,
) -> Result<GuardedLogin, StartError> {
    let state = throttle_state(limits.throttle_store.as_deref(), session_store_url).await?;
    let bounded = ConcurrencyLimited::new(users, limits.hash_concurrency, limits.hash_wait)
        .events(events.clone());
    // Without a per-address backoff, no address is passed and none is counted.
    let per_address = limits.per_address.unwrap_or(limits.per_user);
    Ok(ThrottledAuthenticator::new(bounded, state)
        .per_principal(limits.per_user)
        .per_address(per_address)
        .events(events))
}

/// Opens the throttle counts' store.
async fn throttle_state(
    configured: Option<&str>,
    session_store_url: &str,
) -> Result<Arc<dyn ThrottleState>, StartError> {
    let redis_session_store = session_store_url
        .starts_with("redis://")
        .then_some(session_store_url);
    let url = match configured {
        Some("memory:") => None,
        Some(url) => Some(url),
        None => redis_session_store,
    };
    let Some(url) = url else {
        return Ok(Arc::new(MemoryThrottleState::new()));
    };
    if !url.starts_with("redis://") && !url.starts_with("rediss://") {
        return Err(StartError::ThrottleStore {
            url: crate::redact_url(url),
            reason: "expected memory: or a redis:// URL".to_owned(),
        });
    }
    // The session store URL may carry a `?prefix=`; the throttle keys have their own.
    let server = url.split('?').next().unwrap_or(url);
    let state = session_stores::RedisThrottleState::connect(server)
        .await
        .map_err(|error| StartError::ThrottleStore {
            url: crate::redact_url(url),
            reason: error.to_string(),
        })?;
    Ok(Arc::new(state))
}

/// The client a login attempt counts against: the connection's address, or behind a trusted
/// reverse proxy the client it names in `X-Forwarded-For` (`None` outside the serve loop).
#[derive(Clone, Copy, Debug)]
pub struct LoginClient(pub Option<IpAddr>);

impl FromRequestParts<AppState> for LoginClient {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        Ok(LoginClient(parts.extensions.get::<PeerAddr>().map(
            |peer| client_address(peer.0.ip(), &parts.headers, &state.trusted_proxies),
        )))
    }
}

/// Checks credentials and logs the session in with a new id (and a new form token), keeping
/// the data of an anonymous session. `Ok(None)` for wrong credentials; throttled and
/// overloaded attempts are errors that carry `Retry-After`.
pub async fn log_in(
    login: &GuardedLogin,
    limits: &LoginLimits,
    session: &Session,
    client: Option<IpAddr>,
    username: &str,
    password: &str,
) -> Result<Option<String>, ApiError> {
    let client = limits.per_address.and(client);
    let attempt = LoginAttempt::new(PasswordCredentials::new(username, password), client);
    match login.authenticate(&attempt).await {
        Ok(principal) => {
            // A different user on this browser starts from a clean session; an anonymous
            // visitor keeps what it gathered (a counter, a cart) under the new id, as Spring's
            // changeSessionId does: the id changes, so a planted id stops working.
            if session
                .principal()
                .await?
                .is_some_and(|current| current != principal)
            {
                session.clear().await?;
            }
            session.log_in(&principal).await?;
            tracing::info!(principal = %principal, "login");
            Ok(Some(principal))
        }
        Err(AuthError::InvalidCredentials) => {
            tracing::info!("failed login");
            Ok(None)
        }
        Err(AuthError::Throttled { retry_after }) => {
            tracing::info!(retry_after = ?retry_after, "login throttled");
            Err(ApiError::new(
                StatusCode::TOO_MANY_REQUESTS,
                "too many login attempts; try again later",
            )
            .retry_after(whole_seconds(retry_after)))
        }
        Err(AuthError::Busy { retry_after }) => Err(ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "too many logins in progress; try again shortly",
        )
        .retry_after(whole_seconds(retry_after))),
        Err(error) => {
            tracing::warn!(error = %error, "login unavailable");
            Err(ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "login is unavailable; try again later",
            ))
        }
    }
}
