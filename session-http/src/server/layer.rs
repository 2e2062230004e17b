//! The tower `Layer` and `Service`: give each request a lazy session, save it after the
//! handler, and tell the client about its id.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, ready};

use bytes::Bytes;
use http::header::{CACHE_CONTROL, CONTENT_TYPE, RETRY_AFTER, SET_COOKIE};
use http::{HeaderValue, Request, Response, StatusCode};
use http_body_util::{Either, Full};
use pin_project_lite::pin_project;
use session_core::{
    Error, EventKind, SaveOutcome, SessionEvent, SessionManager, StoredChange, Timestamp,
};
use tower_layer::Layer;
use tower_service::Service;

use super::config::{
    ConfigError, ConflictPolicy, CookieConfig, HeaderTransport, StoreFailurePolicy,
    UnreadableRecordPolicy,
};
use super::cross_origin::CrossOriginProtection;
use super::handle::{Session, Used};
use super::id_transport::{
    Presented, Via, expire_cookie, presented_in_cookies, presented_in_header, response_header,
    set_cookie_with_suffix,
};

/// The request header with which a client that presents no id yet asks for its new id in the
/// response header of the [`HeaderTransport`] instead of a cookie (value `header`).
pub const SESSION_TRANSPORT_HEADER: &str = "x-session-transport";

/// The body of a response that went through the layer: the handler's own, or the layer's
/// short plain-text answer when it had to replace it (503, 409 …).
pub type SessionBody<B> = Either<B, Full<Bytes>>;

/// What every service made by one layer shares.
#[derive(Debug)]
pub(crate) struct Shared {
    pub(crate) manager: SessionManager,
    pub(crate) cookie: Option<CookieConfig>,
    /// The cookie's attributes as they follow its value, computed once.
    pub(crate) cookie_suffix: String,
    /// The `Set-Cookie` value that expires the cookie, computed once.
    pub(crate) cookie_expired: Option<HeaderValue>,
    pub(crate) header: Option<HeaderTransport>,
    pub(crate) save_on_server_error: bool,
    pub(crate) store_failure: StoreFailurePolicy,
    pub(crate) unreadable: UnreadableRecordPolicy,
    pub(crate) conflict: ConflictPolicy,
    pub(crate) cross_origin: CrossOriginProtection,
    /// Where [`RequireLogin`](super::RequireLogin) sends HTML clients that are not logged in.
    pub(crate) login_path: Option<HeaderValue>,
}

impl Shared {
    fn new(builder: SessionLayerBuilder) -> Self {
        let cookie = builder.cookie;
        let cookie_suffix = cookie
            .as_ref()
            .map(CookieConfig::attribute_suffix)
            .unwrap_or_default();
        let cookie_expired = cookie.as_ref().and_then(expire_cookie);
        Shared {
            manager: builder.manager,
            cookie,
            cookie_suffix,
            cookie_expired,
            header: builder.header,
            save_on_server_error: builder.save_on_server_error,
            store_failure: builder.store_failure,
            unreadable: builder.unreadable,
            conflict: builder.conflict,
            cross_origin: builder.cross_origin,
            // `build` checked the path; an unchecked layer has none.
            login_path: builder
                .login_path
                .and_then(|path| HeaderValue::from_str(&path).ok()),
        }
    }

    /// Why an unsafe request that a browser may have sent on its own (no id in a header) is
    /// refused, if it is.
    fn refuse_cross_origin<B>(
        &self,
        request: &Request<B>,
        via: Via,
    ) -> Option<Response<Full<Bytes>>> {
        let cookie = self.cookie.as_ref()?;
        if via == Via::Header {
            return None;
        }
        let refusal = self
            .cross_origin
            .check(
                request.method(),
                request.uri(),
                request.headers(),
                cookie.secure,
            )
            .err()?;
        tracing::info!(method = %request.method(), path = request.uri().path(), %refusal, "cross-origin request refused");
        Some(plain_full(
            StatusCode::FORBIDDEN,
            "Cross-origin request refused: this action must come from this site's own pages.\n",
        ))
    }
}

/// A tower [`Layer`] that gives every request a [`Session`]. See the [module docs](super).
#[derive(Clone, Debug)]
pub struct SessionLayer {
    shared: Arc<Shared>,
}

impl SessionLayer {
    /// A layer with the default configuration: the id in a `session` cookie (`HttpOnly`,
    /// `Secure`, `SameSite=Lax`, `Path=/`), no header transport, no save on 5xx, fail closed
    /// on store failure, unreadable records discarded, 409 on conflicting writes.
    pub fn new(manager: SessionManager) -> Self {
        // The defaults pass every check of `build`.
        Self::builder(manager).into_layer()
    }

    /// A builder starting from the defaults of [`SessionLayer::new`].
    pub fn builder(manager: SessionManager) -> SessionLayerBuilder {
        SessionLayerBuilder {
            manager,
            cookie: Some(CookieConfig::default()),
            header: None,
            save_on_server_error: false,
            store_failure: StoreFailurePolicy::default(),
            unreadable: UnreadableRecordPolicy::default(),
            conflict: ConflictPolicy::default(),
            cross_origin: CrossOriginProtection::default(),
            login_path: None,
        }
    }

    /// The session manager behind the layer.
    pub fn manager(&self) -> &SessionManager {
        &self.shared.manager
    }
}

/// Builds a [`SessionLayer`]; [`build`](SessionLayerBuilder::build) checks the configuration.
#[derive(Debug)]
#[must_use]
pub struct SessionLayerBuilder {
    manager: SessionManager,
    cookie: Option<CookieConfig>,
    header: Option<HeaderTransport>,
    save_on_server_error: bool,
    store_failure: StoreFailurePolicy,
    unreadable: UnreadableRecordPolicy,
    conflict: ConflictPolicy,
    cross_origin: CrossOriginProtection,
    login_path: Option<String>,
}

impl SessionLayerBuilder {
    /// Carry the id in a cookie with this name and these attributes.
    pub fn cookie(mut self, cookie: CookieConfig) -> Self {
        self.cookie = Some(cookie);
        self
    }

    /// Do not use a cookie (header transport only).
    pub fn without_cookie(mut self) -> Self {
        self.cookie = None;
        self
    }

    /// Also (or, with [`without_cookie`](Self::without_cookie), only) accept the id in a
    /// header. When a request carries both, the header wins. A response names a new id on the
    /// transport the request used. A request that used none gets the cookie; it gets the
    /// header instead only when it asks with [`SESSION_TRANSPORT_HEADER`]` : header` or when
    /// no cookie is configured — so an id never reaches a page's scripts through a response
    /// header unless the client wanted it there.
    pub fn header(mut self, header: HeaderTransport) -> Self {
        self.header = Some(header);
        self
    }

    /// Save sessions even when the handler answered with a 5xx status (default: do not).
    pub fn save_on_server_error(mut self, save: bool) -> Self {
        self.save_on_server_error = save;
        self
    }

    /// What to do when the store fails.
    pub fn on_store_failure(mut self, policy: StoreFailurePolicy) -> Self {
        self.store_failure = policy;
        self
    }

    /// What to do with a stored record that cannot be decoded (default: discard it and start
    /// a fresh session; see [`UnreadableRecordPolicy`]).
    pub fn on_unreadable_record(mut self, policy: UnreadableRecordPolicy) -> Self {
        self.unreadable = policy;
        self
    }

    /// What to do when a save conflicts with a concurrent one.
    pub fn on_conflict(mut self, policy: ConflictPolicy) -> Self {
        self.conflict = policy;
        self
    }

    /// How unsafe requests from other sites are refused (on by default; see
    /// [`CrossOriginProtection`]).
    pub fn cross_origin(mut self, protection: CrossOriginProtection) -> Self {
        self.cross_origin = protection;
        self
    }

    /// The login page that [`RequireLogin`](super::RequireLogin) sends HTML clients to when
    /// nobody is logged in (`303 See Other`): a path on this site, such as `/login`. Without
    /// one (the default), HTML clients get the `401` that API clients get.
    pub fn login_path(mut self, path: impl Into<String>) -> Self {
        self.login_path = Some(path.into());
        self
    }

    /// The layer, once the configuration is checked (cookie prefixes and attributes, at
    /// least one transport, a login path on this site).
    pub fn build(self) -> Result<SessionLayer, ConfigError> {
        if self.cookie.is_none() && self.header.is_none() {
            return Err(ConfigError::NoTransport);
        }
        if let Some(path) = &self.login_path {
            check_login_path(path)?;
        }
        if let Some(cookie) = &self.cookie {
            cookie.validate()?;
        }
        Ok(self.into_layer())
    }

    /// The layer, unchecked.
    fn into_layer(self) -> SessionLayer {
        SessionLayer {
            shared: Arc::new(Shared::new(self)),
        }
    }
}

impl<S> Layer<S> for SessionLayer {
    type Service = SessionService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        SessionService {
            inner,
            shared: self.shared.clone(),
        }
    }
}

/// The service a [`SessionLayer`] wraps around a handler.
#[derive(Clone, Debug)]
pub struct SessionService<S> {
    inner: S,
    shared: Arc<Shared>,
}

impl<S, ReqBody, ResBody> Service<Request<ReqBody>> for SessionService<S>
where
    S: Service<Request<ReqBody>, Response = Response<ResBody>> + Clone + Send + 'static,
    S::Future: Send + 'static,
    ReqBody: Send + 'static,
    ResBody: Send + 'static,
{
    type Response = Response<SessionBody<ResBody>>;
    type Error = S::Error;
    type Future = ResponseFuture<S::Future, ResBody>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut request: Request<ReqBody>) -> Self::Future {
        let (presented, via) = presented_id(&self.shared, request.headers());
        if let Some(refused) = self.shared.refuse_cross_origin(&request, via) {
            return ResponseFuture {
                state: State::Refused {
                    response: Some(refused.map(Either::Right)),
                },
            };
        }
        let session = Session::new(self.shared.clone(), presented);
        request.extensions_mut().insert(session.clone());
        // The clone is the one that is ready; keep the fresh clone for the next call.
        let clone = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, clone);
        ResponseFuture {
            state: State::Handler {
                handler: inner.call(request),
                session: Some(session),
                via,
            },
        }
    }
}

pin_project! {
    /// The future of a [`SessionService`]: the handler's response, then (only when the handler
    /// used the session) the save.
    pub struct ResponseFuture<F, B> {
        #[pin]
        state: State<F, B>,
    }
}

pin_project! {
    #[project = StateProjection]
    enum State<F, B> {
        // The handler is running.
        Handler {
            #[pin]
            handler: F,
            session: Option<Session>,
            via: Via,
        },
        // The handler used the session; it is being saved.
        Saving {
            saving: Pin<Box<dyn Future<Output = Response<SessionBody<B>>> + Send>>,
        },
        // The request was refused before the handler.
        Refused {
            response: Option<Response<SessionBody<B>>>,
        },
    }
}

impl<F, B, E> Future for ResponseFuture<F, B>
where
    F: Future<Output = Result<Response<B>, E>>,
    B: Send + 'static,
{
    type Output = Result<Response<SessionBody<B>>, E>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let mut state = self.project().state;
        loop {
            match state.as_mut().project() {
                StateProjection::Handler {
                    handler,
                    session,
                    via,
                } => {
                    let response = ready!(handler.poll(cx))?;
                    let via = *via;
                    let Some(session) = session.take() else {
                        return Poll::Ready(Ok(response.map(Either::Left)));
                    };
                    let saving = match finish_without_store(&session, via, response) {
                        Ok(done) => return Poll::Ready(Ok(done)),
                        Err((core, response)) => Box::pin(finish(session, core, via, response)),
                    };
                    state.set(State::Saving { saving });
                }
                StateProjection::Saving { saving } => {
                    return saving.as_mut().poll(cx).map(Ok);
                }
                StateProjection::Refused { response } => {
                    let response = response
                        .take()
                        .unwrap_or_else(|| plain(StatusCode::FORBIDDEN, "Request refused.\n"));
                    return Poll::Ready(Ok(response));
                }
            }
        }
    }
}

impl<F, B> fmt::Debug for ResponseFuture<F, B> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = match self.state {
            State::Handler { .. } => "handler",
            State::Saving { .. } => "saving",
            State::Refused { .. } => "refused",
        };
        f.debug_struct("ResponseFuture")
            .field("state", &state)
            .finish()
    }
}

fn presented_id(shared: &Shared, headers: &http::HeaderMap) -> (Presented, Via) {
    if let Some(transport) = &shared.header
        && let Some(presented) = presented_in_header(headers, transport)
    {
        return (presented, Via::Header);
    }
    if let Some(cookie) = &shared.cookie
        && let Some(presented) = presented_in_cookies(headers, &cookie.name)
    {
        return (presented, Via::Cookie);
    }
    if shared.header.is_some() && asks_for_header_transport(headers) {
        return (Presented::Nothing, Via::Header);
    }
    (Presented::Nothing, Via::Nothing)
}

/// The response when finishing the session needs no store call (unused, given up on after a
/// store failure, not saved after a server error, or read with nothing to write); otherwise
/// the session to save, with the response back.
fn finish_without_store<B>(
    session: &Session,
    via: Via,
    response: Response<B>,
) -> Result<Response<SessionBody<B>>, (session_core::StoreSession, Response<B>)> {
    let shared = session.shared();
    match session.used() {
        Used::Untouched => {
            session.report_untouched_token();
            Ok(response.map(Either::Left))
        }
        Used::Degraded => Ok(response.map(Either::Left)),
        Used::StoreFailed => Ok(match shared.store_failure {
            StoreFailurePolicy::FailClosed => store_unavailable(),
            StoreFailurePolicy::ContinueWithoutSession => response.map(Either::Left),
        }),
        Used::Active(_) if response.status().is_server_error() && !shared.save_on_server_error => {
            tracing::debug!(status = %response.status(), "session not saved after a server error");
            Ok(response.map(Either::Left))
        }
        Used::Active(core) => match core.try_save_without_store() {
            Some(outcome) => Ok(conclude(shared, via, response, Ok(outcome))),
            None => Err((core, response)),
        },
    }
}

/// Saves a session the handler used and adjusts the response head.
async fn finish<B>(
    session: Session,
    core: session_core::StoreSession,
    via: Via,
    response: Response<B>,
) -> Response<SessionBody<B>> {
    let saved = core.save().await;
    conclude(session.shared(), via, response, saved)
}

/// The response once the session is saved: the id announced or forgotten, or the handler's
/// response replaced when the save failed.
fn conclude<B>(
    shared: &Shared,
    via: Via,
    response: Response<B>,
    saved: session_core::Result<SaveOutcome>,
) -> Response<SessionBody<B>> {
    let mut response = response.map(Either::Left);
    match saved {
        Ok(SaveOutcome::Nothing | SaveOutcome::Unchanged { .. }) => {}
        Ok(SaveOutcome::Stored {
            id,
            expires_at,
            change,
        }) => {
            if change != StoredChange::Touched {
                tracing::debug!(session = %id.key().short(), ?change, "session saved");
            }
            let now = shared.manager.config().clock.now();
            announce_id(
                shared,
                via,
                &mut response,
                &id.expose_secret_ascii(),
                expires_at,
                now,
            );
        }
        Ok(SaveOutcome::Removed) => forget_id(shared, via, &mut response),
        Err(Error::Gone { key }) => {
            tracing::debug!(session = %key.short(), "session ended meanwhile; change dropped");
            forget_id(shared, via, &mut response);
        }
        Err(Error::Conflict { key, .. }) => {
            tracing::debug!(session = %key.short(), "session save conflicted");
            if shared.conflict == ConflictPolicy::Respond409 {
                return plain(
                    StatusCode::CONFLICT,
                    "The session was changed by another request at the same time; \
                     this change was not saved. Please retry.\n",
                );
            }
        }
        Err(Error::PrincipalLimit { .. }) => {
            return plain(
                StatusCode::FORBIDDEN,
                "This account has reached its limit of sessions.\n",
            );
        }
        Err(Error::Limit(_)) => {
            return plain(
                StatusCode::PAYLOAD_TOO_LARGE,
                "The session would be too large.\n",
            );
        }
        Err(error) => {
            tracing::warn!(error = %error, "saving the session failed");
            if !matches!(error, Error::Backend { .. }) {
                // Backend errors are reported by the session itself.
                shared.manager.events().emit(
                    SessionEvent::new(
                        EventKind::StoreError,
                        None,
                        shared.manager.config().clock.now(),
                    )
                    .with_detail(error.to_string()),
                );
            }
            if shared.store_failure == StoreFailurePolicy::FailClosed {
                return store_unavailable();
            }
        }
    }
    response
}

/// A login path must stay on this site: `/` and not `//` or `/\` (which browsers read as
/// another host), printable ASCII for the `Location` header.
fn check_login_path(path: &str) -> Result<(), ConfigError> {
    let bad = |reason: &str| ConfigError::LoginPath {
        path: path.to_owned(),
        reason: reason.to_owned(),
    };
    if !path.starts_with('/') || path.starts_with("//") || path.starts_with("/\\") {
        return Err(bad("it must be a path on this site, starting with one '/'"));
    }
    if !path.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(bad("it must be printable ASCII without spaces"));
    }
    Ok(())
}

/// Whether the request asks for its new id in a header rather than a cookie.
fn asks_for_header_transport(headers: &http::HeaderMap) -> bool {
    headers
        .get(SESSION_TRANSPORT_HEADER)
        .is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"header"))
}

/// Whether a response may name the id in the header transport: the request came by header
/// (or asked for it), or there is no cookie it could have used.
fn header_allowed(shared: &Shared, via: Via) -> bool {
    via == Via::Header || (via == Via::Nothing && shared.cookie.is_none())
}

/// Tells the client its (new) id on the transport it used (a client that used none gets the
/// cookie, see [`header_allowed`]).
fn announce_id<B>(
    shared: &Shared,
    via: Via,
    response: &mut Response<B>,
    id: &[u8],
    expires_at: Option<Timestamp>,
    now: Timestamp,
) {
    let headers = response.headers_mut();
    if let Some(cookie) = &shared.cookie
        && via != Via::Header
    {
        let max_age = if cookie.persistent {
            expires_at.map(|end| end.saturating_duration_since(now).as_secs())
        } else {
            None
        };
        if let Some(value) =
            set_cookie_with_suffix(&cookie.name, &shared.cookie_suffix, id, max_age)
        {
            headers.append(SET_COOKIE, value);
        }
    }
    if let Some(transport) = &shared.header
        && header_allowed(shared, via)
        && let Ok(value) = HeaderValue::from_bytes(id)
    {
        headers.insert(response_header(transport).clone(), value);
    }
    headers.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
}

/// Tells the client to forget its id, on the transport it used.
fn forget_id<B>(shared: &Shared, via: Via, response: &mut Response<B>) {
    let headers = response.headers_mut();
    if shared.cookie.is_some()
        && via != Via::Header
        && let Some(value) = &shared.cookie_expired
    {
        headers.append(SET_COOKIE, value.clone());
    }
    if let Some(transport) = &shared.header
        && header_allowed(shared, via)
    {
        headers.insert(
            response_header(transport).clone(),
            HeaderValue::from_static(""),
        );
    }
    headers.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
}

fn store_unavailable<B>() -> Response<SessionBody<B>> {
    store_unavailable_response().map(Either::Right)
}

/// The answer when the session store fails: `503`, and a `Retry-After` of a second, about the
/// time a store's dropped connection takes to come back, so that a client or proxy that
/// honours it tries again soon rather than never or at once.
pub(crate) fn store_unavailable_response() -> Response<Full<Bytes>> {
    let mut response = plain_full(
        StatusCode::SERVICE_UNAVAILABLE,
        "The session service is temporarily unavailable. Please try again later.\n",
    );
    response
        .headers_mut()
        .insert(RETRY_AFTER, HeaderValue::from_static("1"));
    response
}

fn plain<B>(status: StatusCode, text: &'static str) -> Response<SessionBody<B>> {
    plain_full(status, text).map(Either::Right)
}

fn plain_full(status: StatusCode, text: &'static str) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(Bytes::from_static(text.as_bytes())));
    *response.status_mut() = status;
    let headers = response.headers_mut();
    headers.insert(
        CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    headers.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}
