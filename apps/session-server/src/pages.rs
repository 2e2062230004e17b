//! The HTML pages: login, the session page with a counter, "your sessions", logout.
//!
//! Every form, the login form included, carries the session's form token
//! ([`Session::csrf_token`]; a visitor who is not logged in gets a session holding just the
//! token), checked on post — on top of the session layer's cross-origin check and the
//! `SameSite=Lax` cookie. Logging in replaces the token with the id.

use std::collections::HashMap;
use std::fmt::Write as _;

use axum::Form;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Redirect, Response};
use session_core::{SessionMetadata, Timestamp};
use session_http::html_escape::escape;
use session_http::server::{RequireLogin, Session};

use crate::app::{self, ApiError, AppState};
use crate::login::LoginClient;

fn page(title: &str, body: &str) -> Html<String> {
    Html(format!(
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>{title} — session-server</title>\
         <style>body{{font-family:system-ui,sans-serif;max-width:46rem;margin:2rem auto;padding:0 1rem}}\
         table{{border-collapse:collapse}}td,th{{padding:.2rem .6rem;border-bottom:1px solid #ddd;text-align:left}}\
         code{{font-size:.85em}}form.inline{{display:inline}}.error{{color:#b00}}</style></head>\
         <body>{body}</body></html>\n",
        title = escape(title)
    ))
}

fn error_page(error: ApiError) -> Response {
    error.into_response()
}

async fn logged_in(session: &Session) -> Result<Option<String>, ApiError> {
    Ok(session.principal().await?)
}

async fn check_csrf(session: &Session, form: &HashMap<String, String>) -> Result<(), ApiError> {
    let given = form.get("csrf").map(String::as_str).unwrap_or_default();
    if session.verify_csrf_token(given).await? {
        return Ok(());
    }
    Err(ApiError::new(
        StatusCode::FORBIDDEN,
        "the form is stale or did not come from this site; reload the page",
    ))
}

fn csrf_field(token: &str) -> String {
    format!(
        "<input type=\"hidden\" name=\"csrf\" value=\"{}\">",
        escape(token)
    )
}

/// `/`: the session page when logged in, else the login form.
pub async fn index(session: Session) -> Response {
    match logged_in(&session).await {
        Ok(Some(_)) => Redirect::to("/session").into_response(),
        Ok(None) => Redirect::to("/login").into_response(),
        Err(error) => error_page(error),
    }
}

fn login_body(error: Option<&str>, csrf: &str) -> String {
    let error = error
        .map(|e| format!("<p class=\"error\" id=\"error\">{}</p>", escape(e)))
        .unwrap_or_default();
    let csrf_field = csrf_field(csrf);
    format!(
        "<h1>Log in</h1>{error}\
         <form method=\"post\" action=\"/login\">{csrf_field}\
         <p><label>User name <input name=\"username\" id=\"username\" autocomplete=\"username\" required></label></p>\
         <p><label>Password <input name=\"password\" id=\"password\" type=\"password\" autocomplete=\"current-password\" required></label></p>\
         <p><button type=\"submit\" id=\"login\">Log in</button></p></form>"
    )
}

/// `GET /login`: the form, with the form token of the visitor's (pre-login) session.
pub async fn login_form(session: Session) -> Response {
    match session.csrf_token().await {
        Ok(token) => page("Log in", &login_body(None, &token)).into_response(),
        Err(error) => error_page(error.into()),
    }
}

/// `POST /login` (form): check the form token (login CSRF), log in, go to the session page.
pub async fn login(
    State(state): State<AppState>,
    session: Session,
    client: LoginClient,
    Form(form): Form<HashMap<String, String>>,
) -> Response {
    if let Err(error) = check_csrf(&session, &form).await {
        return error_page(error);
    }
    let username = form.get("username").map(String::as_str).unwrap_or_default();
    let password = form.get("password").map(String::as_str).unwrap_or_default();
    match app::log_in(&state, &session, client, username, password).await {
        Ok(Some(_)) => Redirect::to("/session").into_response(),
        Ok(None) => match session.csrf_token().await {
            Ok(token) => (
                StatusCode::UNAUTHORIZED,
                page(
                    "Log in",
                    &login_body(Some("Wrong user name or password."), &token),
                ),
            )
                .into_response(),
            Err(error) => error_page(error.into()),
        },
        Err(error) => error_page(error),
    }
}

fn countdown_script() -> &'static str {
    "<script>\
     function tick(){for(const el of document.querySelectorAll('[data-until]')){\
     const left=Math.max(0,Math.floor((Date.parse(el.dataset.until)-Date.now())/1000));\
     const h=Math.floor(left/3600),m=Math.floor(left%3600/60),s=left%60;\
     el.textContent=(h?h+'h ':'')+m+'m '+s+'s';}}tick();setInterval(tick,1000);\
     </script>"
}

fn until(label: &str, at: Option<Timestamp>) -> String {
    match at {
        Some(at) => format!(
            "<tr><th>{label}</th><td>{} (in <span data-until=\"{}\"></span>)</td></tr>",
            at.to_rfc3339(),
            at.to_rfc3339()
        ),
        None => format!("<tr><th>{label}</th><td>never</td></tr>"),
    }
}

/// The facts of a stored session: its hashed id, creation and ends.
fn facts_table(metadata: &SessionMetadata) -> String {
    let expiry = metadata.expiry;
    let idle_end = expiry
        .idle
        .map(|idle| metadata.last_access.saturating_add(idle));
    let absolute_end = expiry
        .absolute
        .map(|absolute| metadata.created_at.saturating_add(absolute));
    format!(
        "<table>\
         <tr><th>Session (hashed id)</th><td><code id=\"id-hash\">{id_hash}</code></td></tr>\
         <tr><th>Created</th><td>{created}</td></tr>\
         {idle}{absolute}\
         </table>",
        id_hash = metadata.key.to_hex(),
        created = metadata.created_at.to_rfc3339(),
        idle = until("Idle expiry", idle_end),
        absolute = until("Absolute expiry", absolute_end),
    )
}

/// `GET /session`: the session's facts, attributes and a counter button, for logged-in users
/// and anonymous visitors alike (whose session the counter's form token starts, and whose
/// data a login keeps).
pub async fn session_page(session: Session) -> Response {
    let result: Result<Response, ApiError> = async {
        let principal = logged_in(&session).await?;
        let csrf = session.csrf_token().await?;
        // A visitor's first page: the session holding the form token is stored after it.
        let facts = session
            .metadata()
            .await?
            .map(|metadata| facts_table(&metadata))
            .unwrap_or_default();
        let attributes = app::attributes(&session).await?;
        let mut rows = String::new();
        for (key, value) in &attributes {
            let _ = write!(
                rows,
                "<tr><td><code>{}</code></td><td><code>{}</code></td></tr>",
                escape(key),
                escape(&value.to_string())
            );
        }
        let counter = attributes
            .get("counter:clicks")
            .map(|value| escape(&value.to_string()))
            .unwrap_or_else(|| "0".to_owned());
        let csrf_field = csrf_field(&csrf);
        let (greeting, account) = match &principal {
            Some(principal) => (
                format!(
                    "<h1>Hello, <span id=\"principal\">{}</span></h1>",
                    escape(principal)
                ),
                format!(
                    "<p><a href=\"/sessions\" id=\"sessions-link\">Your sessions</a></p>\
                     <form method=\"post\" action=\"/logout\">{csrf_field}<button type=\"submit\" id=\"logout\">Log out</button></form>"
                ),
            ),
            None => (
                "<h1>Hello, visitor</h1>\
                 <p id=\"anonymous\">You are not logged in. \
                 <a href=\"/login\" id=\"login-link\">Log in</a> and this session's data stays with you.</p>"
                    .to_owned(),
                String::new(),
            ),
        };
        let body = format!(
            "{greeting}{facts}\
             <h2>Counter</h2>\
             <form method=\"post\" action=\"/counter/clicks\">{csrf_field}\
             <button type=\"submit\" id=\"counter\">Clicked <span id=\"counter-value\">{counter}</span> times</button></form>\
             <h2>Attributes</h2><table id=\"attributes\"><tr><th>Name</th><th>Value</th></tr>{rows}</table>\
             {account}{script}",
            script = countdown_script(),
        );
        Ok(page("Your session", &body).into_response())
    }
    .await;
    result.unwrap_or_else(error_page)
}

/// `POST /counter/{name}` (form), for anyone holding the page's form token.
pub async fn counter(
    session: Session,
    Path(name): Path<String>,
    Form(form): Form<HashMap<String, String>>,
) -> Response {
    let result: Result<(), ApiError> = async {
        check_csrf(&session, &form).await?;
        app::increment(&session, &name).await?;
        Ok(())
    }
    .await;
    match result {
        Ok(()) => Redirect::to("/session").into_response(),
        Err(error) => error_page(error),
    }
}

/// `GET /sessions`: every session of the user, with revoke buttons.
pub async fn sessions_page(State(state): State<AppState>, login: RequireLogin) -> Response {
    let result: Result<Response, ApiError> = async {
        let csrf = login.session.csrf_token().await?;
        let (records, current) = app::sessions_of(&state, &login).await?;
        let mut rows = String::new();
        for record in &records {
            let hash = record.key.to_hex();
            let this = Some(record.key) == current;
            let _ = write!(
                rows,
                "<tr class=\"session\"><td><code>{short}…</code>{this}</td><td>{created}</td><td>{last}</td>\
                 <td>{expires}</td><td><form class=\"inline\" method=\"post\" action=\"/sessions/{hash}/revoke\">\
                 {csrf}<button type=\"submit\">Revoke</button></form></td></tr>",
                short = &hash[..12],
                this = if this { " (this one)" } else { "" },
                created = record.created_at.to_rfc3339(),
                last = record.last_access.to_rfc3339(),
                expires = record
                    .expires_at()
                    .map_or_else(|| "never".to_owned(), |t| t.to_rfc3339()),
                csrf = csrf_field(&csrf),
            );
        }
        let body = format!(
            "<h1>Your sessions</h1>\
             <table id=\"sessions\"><tr><th>Session</th><th>Created</th><th>Last used</th><th>Expires</th><th></th></tr>{rows}</table>\
             <form method=\"post\" action=\"/logout-everywhere\">{csrf}\
             <button type=\"submit\" id=\"logout-everywhere\">Log out everywhere</button></form>\
             <p><a href=\"/session\">Back</a></p>",
            csrf = csrf_field(&csrf)
        );
        Ok(page("Your sessions", &body).into_response())
    }
    .await;
    result.unwrap_or_else(error_page)
}

/// `POST /sessions/{id_hash}/revoke` (form).
pub async fn revoke(
    State(state): State<AppState>,
    login: RequireLogin,
    Path(id_hash): Path<String>,
    Form(form): Form<HashMap<String, String>>,
) -> Response {
    let result: Result<(), ApiError> = async {
        check_csrf(&login.session, &form).await?;
        app::revoke(&state, &login, &id_hash).await
    }
    .await;
    match result {
        Ok(()) => Redirect::to("/sessions").into_response(),
        Err(error) => error_page(error),
    }
}

/// `POST /logout` (form).
pub async fn logout(session: Session, Form(form): Form<HashMap<String, String>>) -> Response {
    let result: Result<(), ApiError> = async {
        if logged_in(&session).await?.is_some() {
            check_csrf(&session, &form).await?;
            session.invalidate().await?;
        }
        Ok(())
    }
    .await;
    match result {
        Ok(()) => Redirect::to("/login").into_response(),
        Err(error) => error_page(error),
    }
}

/// `POST /logout-everywhere` (form).
pub async fn logout_everywhere(
    State(state): State<AppState>,
    login: RequireLogin,
    Form(form): Form<HashMap<String, String>>,
) -> Response {
    let result: Result<u64, ApiError> = async {
        check_csrf(&login.session, &form).await?;
        app::logout_everywhere(&state, &login).await
    }
    .await;
    match result {
        Ok(_) => Redirect::to("/login").into_response(),
        Err(error) => error_page(error),
    }
}
