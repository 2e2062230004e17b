//! `/sessions/…`: opening, logging in and out of, and closing LysKOM connections.

use std::sync::Arc;
use std::sync::atomic::Ordering;

use http::{HeaderValue, StatusCode};
use serde_json::{Value, json};
use session_core::{AuthError, LoginError, Session, log_in};
use session_http::serve::CapReached;

use super::json::{Namer, person};
use super::registry::{Connection, new_connection_id};
use super::response::{self, Fail, Outcome, empty, fail, json as json_response};
use super::{CONNECTION_HEADER, Ctx};
use crate::auth::{LyskomAuthenticator, LyskomCredentials, NameLookup, PersonRef, lookup_person};
use crate::client::Client;
use crate::error::Error;
use crate::protocol::error_code;
use crate::protocol::numbers::{ConfNo, PersNo, SessionNo};

/// POST /sessions/: a new connection.
pub(super) async fn create(ctx: &Ctx<'_>) -> Outcome {
    if ctx.headers.contains_key(CONNECTION_HEADER) {
        return Ok(empty(StatusCode::CONFLICT));
    }
    let body = match ctx.json_body()? {
        Some(v) if !v.is_null() => v,
        _ => return Err(fail(StatusCode::BAD_REQUEST, "Invalid body.")),
    };
    let Some(client_info) = body.get("client") else {
        return Err(fail(StatusCode::BAD_REQUEST, "Missing \"client\"."));
    };
    let text = |key: &str| -> Option<String> {
        match client_info.get(key)? {
            Value::String(s) => Some(s.clone()),
            Value::Null => None,
            other => Some(other.to_string()),
        }
    };
    let (Some(name), Some(version)) = (text("name"), text("version")) else {
        return Err(fail(
            StatusCode::BAD_REQUEST,
            "Missing \"client\" \"name\" or \"version\".",
        ));
    };
    if ctx.connection_id().is_some() {
        // httpkom: an id given as a query parameter means "already connected".
        return Ok(empty(StatusCode::NO_CONTENT));
    }
    let registry = &ctx.state.registry;
    let slot = match registry.reserve(ctx.client) {
        Ok(slot) => slot,
        Err(CapReached::Total) => {
            return Err(fail(
                StatusCode::SERVICE_UNAVAILABLE,
                "Too many open connections; try again later.",
            ));
        }
        Err(CapReached::PerAddress) => {
            return Err(Fail::respond(response::retry_later(
                StatusCode::TOO_MANY_REQUESTS,
                "Too many open connections from your address; close some or try again later.",
            )));
        }
    };
    let addr = format!("{}:{}", ctx.server.host, ctx.server.port);
    let opened = async {
        let client = Client::connect(&addr, &ctx.state.config.connect).await?;
        client.set_client_version(&name, &version).await?;
        let session_no = client.who_am_i().await?;
        Ok::<_, Error>((client, session_no))
    }
    .await;
    let (client, session_no) = match opened {
        Ok(c) => c,
        Err(Error::Server { code, status }) => {
            return Err(Fail::Kom(Error::Server { code, status }));
        }
        Err(e) => {
            registry
                .metrics
                .connect_failures
                .fetch_add(1, Ordering::Relaxed);
            tracing::warn!("cannot connect to LysKOM server {}: {e}", ctx.server.id);
            return Err(fail(
                StatusCode::BAD_GATEWAY,
                "Cannot connect to the LysKOM server.",
            ));
        }
    };
    let id = new_connection_id();
    registry.insert(Arc::new(Connection::new(
        id.clone(),
        ctx.server.id.clone(),
        client,
        session_no,
        (name, version),
        slot,
        registry.lifetime().clone(),
    )));
    let mut r = json_response(
        StatusCode::CREATED,
        &json!({"session_no": session_no, "connection_id": id}),
    );
    if let Ok(v) = HeaderValue::from_str(&id) {
        r.headers_mut().insert(CONNECTION_HEADER, v);
    }
    Ok(r)
}

/// GET /sessions/current/who-am-i.
pub(super) async fn who_am_i(ctx: &Ctx<'_>) -> Outcome {
    let c = ctx.session()?;
    let session_no = c.client.who_am_i().await?;
    let person = match c.pers_no() {
        None => Value::Null,
        Some(pers_no) => Namer::new(&c.client).person(pers_no).await?,
    };
    Ok(json_response(
        StatusCode::OK,
        &json!({"session_no": session_no, "person": person}),
    ))
}

/// POST /sessions/current/active.
pub(super) async fn active(ctx: &Ctx<'_>) -> Outcome {
    let c = ctx.session()?;
    c.client.user_active().await?;
    Ok(empty(StatusCode::NO_CONTENT))
}

fn present(v: Option<&Value>) -> Option<&Value> {
    match v {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) if s.is_empty() => None,
        Some(v) => Some(v),
    }
}

fn as_number(v: &Value) -> Option<u32> {
    match v {
        Value::Number(n) => n.as_u64().and_then(|n| u32::try_from(n).ok()),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

/// POST /sessions/current/login.
pub(super) async fn login(ctx: &Ctx<'_>) -> Outcome {
    let c = ctx.session()?;
    let body = ctx.json_object()?;
    let pers_no = present(body.get("pers_no"));
    let pers_name = present(body.get("pers_name"));
    let who = match (pers_no, pers_name) {
        (None, None) => {
            return Err(fail(
                StatusCode::BAD_REQUEST,
                "Missing \"pers_no\" or \"pers_name\".",
            ));
        }
        (Some(_), Some(_)) => {
            return Err(fail(
                StatusCode::BAD_REQUEST,
                "Only one of \"pers_no\" and \"pers_name\" is allowed",
            ));
        }
        (Some(n), None) => {
            Ok(PersNo(as_number(n).ok_or_else(|| {
                fail(StatusCode::BAD_REQUEST, "Invalid \"pers_no\".")
            })?))
        }
        (None, Some(name)) => Err(match name {
            Value::String(s) => s.clone(),
            other => other.to_string(),
        }),
    };
    let passwd = match body.get("passwd") {
        None => return Err(fail(StatusCode::BAD_REQUEST, "Missing \"passwd\".")),
        Some(Value::Null) => return Err(fail(StatusCode::BAD_REQUEST, "\"passwd\" is null.")),
        Some(Value::String(s)) => s.clone(),
        Some(other) => other.to_string(),
    };
    let pers_no = match who {
        Ok(n) => n,
        Err(name) => match lookup_person(&c.client, &name).await? {
            NameLookup::Found(n) => n,
            NameLookup::NotFound => {
                return Err(fail(
                    StatusCode::BAD_REQUEST,
                    &format!("recipient not found: {name}"),
                ));
            }
            NameLookup::Ambiguous => {
                return Err(fail(
                    StatusCode::BAD_REQUEST,
                    &format!("ambiguous recipient: {name}"),
                ));
            }
        },
    };
    // The one login flow: the authenticator logs in on this connection, the connection
    // (a session_core::Session) records the person as its principal.
    let authenticator = LyskomAuthenticator::on_connection(c.client.clone());
    let credentials = LyskomCredentials {
        person: PersonRef::Number(pers_no),
        password: passwd,
    };
    let logged_in = log_in(c.as_ref(), &authenticator, &credentials).await;
    let metrics = &ctx.state.registry.metrics;
    let counter = match logged_in {
        Ok(_) => &metrics.logins,
        Err(_) => &metrics.login_failures,
    };
    counter.fetch_add(1, Ordering::Relaxed);
    let login = logged_in.map_err(|e| {
        login_failure(e, &authenticator).with_status(
            &[
                error_code::INVALID_PASSWORD,
                error_code::UNDEFINED_PERSON,
                error_code::LOGIN_DISALLOWED,
                error_code::CONFERENCE_ZERO,
            ],
            StatusCode::UNAUTHORIZED,
        )
    })?;
    Ok(json_response(
        StatusCode::CREATED,
        &person(login.pers_no, &login.pers_name),
    ))
}

/// Why a login failed, as the LysKOM error httpkom reports: the server's refusal, or the
/// error that stopped the login on the way.
fn login_failure(e: LoginError<Error>, authenticator: &LyskomAuthenticator) -> Fail {
    let unexplained = |e: &dyn std::fmt::Display| {
        fail(
            StatusCode::INTERNAL_SERVER_ERROR,
            &format!("The login failed: {e}"),
        )
    };
    match e {
        LoginError::Session(e) => Fail::Kom(e),
        LoginError::Auth(AuthError::Unavailable(source)) => match source.downcast::<Error>() {
            Ok(e) => Fail::Kom(*e),
            Err(other) => unexplained(&other),
        },
        LoginError::Auth(refused) => match authenticator.take_refusal() {
            Some(e) => Fail::Kom(e),
            None => unexplained(&refused),
        },
    }
}

/// POST /sessions/current/logout.
pub(super) async fn logout(ctx: &Ctx<'_>) -> Outcome {
    let c = ctx.login()?;
    c.client.logout().await?;
    c.set_principal(None).await?;
    c.save().await?;
    Ok(empty(StatusCode::NO_CONTENT))
}

/// POST /sessions/current/working-conference.
pub(super) async fn working_conference(ctx: &Ctx<'_>) -> Outcome {
    let c = ctx.login()?;
    let body = ctx.json_object()?;
    let conf_no = match body.get("conf_no") {
        None => return Err(fail(StatusCode::BAD_REQUEST, "Missing \"conf_no\".")),
        Some(Value::Null) => return Err(fail(StatusCode::BAD_REQUEST, "\"conf_no\" is null.")),
        Some(v) => {
            as_number(v).ok_or_else(|| fail(StatusCode::BAD_REQUEST, "Invalid \"conf_no\"."))?
        }
    };
    c.client.change_conference(ConfNo(conf_no)).await?;
    Ok(empty(StatusCode::NO_CONTENT))
}

/// DELETE /sessions/<n>: disconnects a session (0 or its own number: this connection).
pub(super) async fn delete(ctx: &Ctx<'_>, session_no: SessionNo) -> Outcome {
    let c = ctx.session()?;
    let own = session_no.is_zero() || session_no == c.session_no;
    match c.client.disconnect(session_no).await {
        Ok(()) => {}
        Err(e) if own && e.is_connection_lost() => {}
        Err(e) => {
            return Err(
                Fail::Kom(e).with_status(&[error_code::UNDEFINED_SESSION], StatusCode::NOT_FOUND)
            );
        }
    }
    if own {
        ctx.state.registry.remove_closed_by_client(&c.id);
    }
    Ok(empty(StatusCode::NO_CONTENT))
}
