//! HTTP responses as httpkom writes them, and the mapping of errors to them.

use bytes::Bytes;
use http::{HeaderValue, Response, StatusCode, header};
use http_body_util::Full;
use serde_json::{Value, json};

use crate::error::Error;
use crate::protocol::error_code;

/// The gateway's response type.
pub type Resp = Response<Full<Bytes>>;

/// A response with no body (and no content type), like httpkom's `empty_response`.
pub(crate) fn empty(status: StatusCode) -> Resp {
    let mut r = Response::new(Full::new(Bytes::new()));
    *r.status_mut() = status;
    r
}

/// A JSON response.
pub(crate) fn json(status: StatusCode, value: &Value) -> Resp {
    let body = serde_json::to_vec(value).unwrap_or_else(|_| b"null".to_vec());
    let mut r = Response::new(Full::new(Bytes::from(body)));
    *r.status_mut() = status;
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    r
}

/// httpkom's own error: `{"error_msg": …, "error_type": "httpkom"}`.
pub(crate) fn httpkom_error(status: StatusCode, message: &str) -> Resp {
    json(
        status,
        &json!({"error_type": "httpkom", "error_msg": message}),
    )
}

/// How many seconds a client told to come back later waits first.
const RETRY_AFTER_SECS: &str = "10";

/// httpkom's own error with `Retry-After`: a limit that frees up with time.
pub(crate) fn retry_later(status: StatusCode, message: &str) -> Resp {
    let mut r = httpkom_error(status, message);
    r.headers_mut().insert(
        header::RETRY_AFTER,
        HeaderValue::from_static(RETRY_AFTER_SECS),
    );
    r
}

/// A Protocol A error: `{"error_code", "error_msg", "error_status", "error_type": "protocol-a"}`.
pub(crate) fn protocol_error(status: StatusCode, code: u32, error_status: u32) -> Resp {
    json(
        status,
        &json!({
            "error_code": code,
            "error_msg": error_code::name(code).unwrap_or("UnknownError"),
            "error_status": error_status.to_string(),
            "error_type": "protocol-a",
        }),
    )
}

/// Why a handler did not produce its normal answer.
#[derive(Debug)]
pub(crate) enum Fail {
    /// A finished response (an error answer).
    Respond(Box<Resp>),
    /// A LysKOM error, mapped the default way by [`Fail::into_response`].
    Kom(Error),
}

impl From<Error> for Fail {
    fn from(e: Error) -> Self {
        Fail::Kom(e)
    }
}

impl From<Resp> for Fail {
    fn from(r: Resp) -> Self {
        Fail::respond(r)
    }
}

impl Fail {
    /// A finished response as a `Fail`.
    pub(crate) fn respond(r: Resp) -> Fail {
        Fail::Respond(Box::new(r))
    }
}

/// The result of a handler.
pub(crate) type Outcome = Result<Resp, Fail>;

impl Fail {
    /// Maps Protocol A errors with one of `codes` to `status` (e.g. 404 for UndefinedConference).
    pub(crate) fn with_status(self, codes: &[u32], status: StatusCode) -> Fail {
        match self {
            Fail::Kom(Error::Server { code, status: s }) if codes.contains(&code) => {
                Fail::respond(protocol_error(status, code, s))
            }
            other => other,
        }
    }

    /// Whether the LysKOM connection is gone (the client must get 403 and a new connection).
    pub(crate) fn is_connection_lost(&self) -> bool {
        matches!(self, Fail::Kom(e) if e.is_connection_lost())
    }

    /// The response: Protocol A errors as 400 (401 for LoginFirst), a lost connection as
    /// 403, a timeout as 504, an argument LysKOM cannot take as 400.
    pub(crate) fn into_response(self) -> Resp {
        match self {
            Fail::Respond(r) => *r,
            Fail::Kom(Error::Server { code, status }) => {
                let http = if code == error_code::LOGIN_FIRST {
                    StatusCode::UNAUTHORIZED
                } else {
                    StatusCode::BAD_REQUEST
                };
                protocol_error(http, code, status)
            }
            Fail::Kom(e) if e.is_connection_lost() => empty(StatusCode::FORBIDDEN),
            Fail::Kom(Error::Timeout(_)) => httpkom_error(
                StatusCode::GATEWAY_TIMEOUT,
                "The LysKOM server did not answer in time.",
            ),
            Fail::Kom(Error::InvalidArgument(m)) => httpkom_error(StatusCode::BAD_REQUEST, &m),
            Fail::Kom(e) => httpkom_error(StatusCode::INTERNAL_SERVER_ERROR, &e.to_string()),
        }
    }
}

/// Shorthand: an error response as a `Fail`.
pub(crate) fn fail(status: StatusCode, message: &str) -> Fail {
    Fail::respond(httpkom_error(status, message))
}
