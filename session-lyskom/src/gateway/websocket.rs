//! `GET /websocket?Httpkom-Connection=<id>`: httpkom's WebSocket endpoint (not under a
//! server id), carrying JSON messages over an httpkom connection.
//!
//! A request `{"protocol": "echo" | "a", "ref_no": …, "request": …}` is answered with
//! `{"protocol", "ref_no", "reply"}`, a failure with `{"ref_no", "error"}`; messages that are
//! not JSON objects, or lack `protocol` or `ref_no`, are ignored, as httpkom ignores them.
//! Requests are answered concurrently, each as soon as it is done.
//!
//! - `echo` replies with the request at once. httpkom 0.32 sleeps two seconds before
//!   answering every message (a debugging leftover in its `ws.py`); no client relies on it
//!   (jskom does not use this endpoint), so the gateway does not copy that delay.
//! - `a` sends a raw Protocol A request on the connection's LysKOM session: it is parsed and
//!   re-numbered ([`super::raw_request`]) so it cannot put the connection out of step, and
//!   the reply is the server's reply text after the reference number (`"12 30 5 …"`). A
//!   Protocol A error is sent as `{"ref_no", "error": "<ErrorName> (error code C, status S)"}`
//!   (httpkom sends the bare `"C S"` as if it were a reply, and drops the last character of
//!   replies that end in a string or an array; the gateway sends the whole reply). A raw
//!   login or logout updates who the gateway thinks is logged in.
//!
//! Limits ([`WebSocketLimits`]): an upgrade whose `Origin` is not allowed is refused with
//! 403 (a client without `Origin`, i.e. not a browser, passes); one connection id has at
//! most a few sockets; messages and frames have a size limit; and a socket whose client
//! does not read its replies stops being read once the replies waiting for it reach a
//! byte budget, so it cannot make the gateway buffer without end (the serve loop closes it
//! when its writes stall).

use std::sync::Arc;
use std::sync::atomic::Ordering;

use futures_util::{SinkExt, StreamExt};
use http::{HeaderMap, HeaderValue, Request, StatusCode, header};
use hyper_util::rt::TokioIo;
use serde_json::{Value, json};
use tokio::sync::{OwnedSemaphorePermit, Semaphore, mpsc};
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::Message as WsMessage;
use tokio_tungstenite::tungstenite::handshake::derive_accept_key;
use tokio_tungstenite::tungstenite::protocol::{Role, WebSocketConfig};

use super::raw_request::{format_reply, parse_raw_request};
use super::registry::Connection;
use super::response::{Resp, empty, httpkom_error, retry_later};
use super::{CONNECTION_HEADER, State, cors, parse_query};
use crate::error::{Error, ServerErrorName};
use crate::protocol::encode::Arg;
use crate::protocol::numbers::PersNo;

/// The path of the endpoint.
pub(super) const PATH: &str = "/websocket";

/// The WebSocket endpoint's limits.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WebSocketLimits {
    /// The largest message (and frame) read; a bigger one closes the socket. 1 MiB by
    /// default (a LysKOM text is at most 128 KiB unless lyskomd is told otherwise).
    pub max_message_bytes: usize,
    /// The most sockets open on one connection id at once (4 by default); more are
    /// refused with 429.
    pub max_sockets_per_connection: usize,
    /// The most bytes of requests read but not yet answered to the client (replies being
    /// made or waiting to be written) on one socket, 4 MiB by default; the socket is not
    /// read while it is over.
    pub max_pending_bytes: usize,
}

impl Default for WebSocketLimits {
    fn default() -> Self {
        WebSocketLimits {
            max_message_bytes: 1024 * 1024,
            max_sockets_per_connection: 4,
            max_pending_bytes: 4 * 1024 * 1024,
        }
    }
}

/// One of a connection's WebSocket places, counted in the gateway's metrics; given back
/// when dropped.
struct SocketPlace {
    connection: Arc<Connection>,
    state: Arc<State>,
}

impl SocketPlace {
    /// Takes a place on `connection` unless it has `max` sockets already.
    fn take(state: &Arc<State>, connection: Arc<Connection>, max: usize) -> Option<SocketPlace> {
        let counter = &connection.websockets;
        let mut current = counter.load(Ordering::SeqCst);
        loop {
            if current >= max {
                return None;
            }
            match counter.compare_exchange(current, current + 1, Ordering::SeqCst, Ordering::SeqCst)
            {
                Ok(_) => break,
                Err(actual) => current = actual,
            }
        }
        let metrics = &state.registry.metrics;
        metrics.websockets_opened.fetch_add(1, Ordering::Relaxed);
        metrics.websockets_open.fetch_add(1, Ordering::Relaxed);
        Some(SocketPlace {
            connection,
            state: state.clone(),
        })
    }
}

impl Drop for SocketPlace {
    fn drop(&mut self) {
        self.connection.websockets.fetch_sub(1, Ordering::SeqCst);
        let open = &self.state.registry.metrics.websockets_open;
        open.fetch_sub(1, Ordering::Relaxed);
    }
}

/// Answers the upgrade request: 400 when it is not a WebSocket handshake (as httpkom), 403
/// for an origin that is not allowed, 403 `Invalid connection id` for an unknown or closed
/// connection (httpkom means to answer that, but fails building it and answers 500), 429
/// when the connection has its most sockets, else 101 and a task that serves the socket.
pub(super) fn upgrade<B: Send + 'static>(state: &Arc<State>, mut req: Request<B>) -> Resp {
    let Some(accept) = handshake_accept(req.headers()) else {
        return empty(StatusCode::BAD_REQUEST);
    };
    // Browsers send `Origin` on every WebSocket handshake and apply no CORS to it, so this
    // check is the only thing that keeps another site's page off a user's connection.
    if let Some(origin) = req.headers().get(header::ORIGIN)
        && !cors::allows(&state.config.allowed_origins, origin)
    {
        return httpkom_error(StatusCode::FORBIDDEN, "Origin not allowed");
    }
    let query = parse_query(req.uri().query().unwrap_or(""));
    let connection = query
        .get(CONNECTION_HEADER)
        .and_then(|id| state.registry.get(id))
        .filter(|c| !c.client.is_closed());
    let Some(connection) = connection else {
        return httpkom_error(StatusCode::FORBIDDEN, "Invalid connection id");
    };
    connection.touch();
    let limits = state.config.websocket.clone();
    let Some(place) = SocketPlace::take(state, connection, limits.max_sockets_per_connection)
    else {
        return retry_later(
            StatusCode::TOO_MANY_REQUESTS,
            "Too many WebSockets on this connection",
        );
    };
    let on_upgrade = hyper::upgrade::on(&mut req);
    tokio::spawn(async move {
        match on_upgrade.await {
            Ok(upgraded) => {
                let config = WebSocketConfig::default()
                    .max_message_size(Some(limits.max_message_bytes))
                    .max_frame_size(Some(limits.max_message_bytes));
                let socket = WebSocketStream::from_raw_socket(
                    TokioIo::new(upgraded),
                    Role::Server,
                    Some(config),
                )
                .await;
                serve(socket, place, limits.max_pending_bytes).await;
            }
            Err(e) => tracing::debug!("WebSocket upgrade failed: {e}"),
        }
    });
    let mut r = empty(StatusCode::SWITCHING_PROTOCOLS);
    let headers = r.headers_mut();
    headers.insert(header::UPGRADE, HeaderValue::from_static("websocket"));
    headers.insert(header::CONNECTION, HeaderValue::from_static("Upgrade"));
    if let Ok(v) = HeaderValue::from_str(&accept) {
        headers.insert(header::SEC_WEBSOCKET_ACCEPT, v);
    }
    r
}

/// The `Sec-WebSocket-Accept` value when the headers are a version 13 WebSocket handshake.
fn handshake_accept(headers: &HeaderMap) -> Option<String> {
    let has_token = |name: header::HeaderName, token: &str| {
        headers.get_all(name).iter().any(|v| {
            v.to_str()
                .map(|s| s.split(',').any(|t| t.trim().eq_ignore_ascii_case(token)))
                .unwrap_or(false)
        })
    };
    if !has_token(header::UPGRADE, "websocket") || !has_token(header::CONNECTION, "upgrade") {
        return None;
    }
    if headers.get(header::SEC_WEBSOCKET_VERSION)?.as_bytes() != b"13" {
        return None;
    }
    let key = headers.get(header::SEC_WEBSOCKET_KEY)?;
    Some(derive_accept_key(key.as_bytes()))
}

/// The most requests of one socket answered at once; reading waits beyond that.
const MAX_IN_FLIGHT: usize = 64;

/// Reads requests until the client closes the socket, the LysKOM connection ends or the
/// socket can no longer be written (then the socket is closed); answers each request in its
/// own task. A request is read only when its size fits in the socket's pending-bytes budget,
/// which its reply gives back once written.
async fn serve<S>(socket: WebSocketStream<S>, place: SocketPlace, max_pending_bytes: usize)
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let connection = place.connection.clone();
    let (mut sink, mut stream) = socket.split();
    let (tx, mut rx) = mpsc::channel::<(String, OwnedSemaphorePermit)>(MAX_IN_FLIGHT);
    let writer = tokio::spawn(async move {
        while let Some((text, _budget)) = rx.recv().await {
            if sink.send(WsMessage::text(text)).await.is_err() {
                return;
            }
        }
        let _ = sink.close().await;
    });
    let budget_bytes = u32::try_from(max_pending_bytes).unwrap_or(u32::MAX).max(1);
    let pending = Arc::new(Semaphore::new(budget_bytes as usize));
    let mut tasks = tokio::task::JoinSet::new();
    loop {
        let message = tokio::select! {
            m = stream.next() => m,
            () = connection.client.closed() => break,
            () = tx.closed() => break,
        };
        let data = match message {
            Some(Ok(WsMessage::Text(t))) => t.as_bytes().to_vec(),
            Some(Ok(WsMessage::Binary(b))) => b.to_vec(),
            Some(Ok(WsMessage::Close(_)) | Err(_)) | None => break,
            Some(Ok(_)) => continue,
        };
        while tasks.try_join_next().is_some() {}
        let Some(request) = WsRequest::parse(&data) else {
            continue;
        };
        let cost = u32::try_from(data.len())
            .unwrap_or(u32::MAX)
            .clamp(1, budget_bytes);
        drop(data);
        let budget = tokio::select! {
            b = pending.clone().acquire_many_owned(cost) => b,
            () = connection.client.closed() => break,
            () = tx.closed() => break,
        };
        let Ok(budget) = budget else { break };
        if tasks.len() >= MAX_IN_FLIGHT {
            tasks.join_next().await;
        }
        connection.touch();
        let connection = connection.clone();
        let tx = tx.clone();
        tasks.spawn(async move {
            let answer = request.answer(&connection).await;
            let _ = tx.send((answer.to_string(), budget)).await;
        });
    }
    tasks.abort_all();
    drop(tx);
    let _ = writer.await;
    drop(place);
}

/// One request message, as httpkom reads it.
#[derive(Clone, Debug, PartialEq)]
pub(super) struct WsRequest {
    protocol: Value,
    ref_no: Value,
    request: Value,
}

impl WsRequest {
    /// The request in `data`, or `None` for what httpkom ignores (not JSON, not an object,
    /// no `protocol` or no `ref_no`).
    pub(super) fn parse(data: &[u8]) -> Option<WsRequest> {
        let Ok(Value::Object(mut m)) = serde_json::from_slice::<Value>(data) else {
            return None;
        };
        let present = |v: Option<Value>| v.filter(|v| !v.is_null());
        Some(WsRequest {
            protocol: present(m.remove("protocol"))?,
            ref_no: present(m.remove("ref_no"))?,
            request: m.remove("request").unwrap_or(Value::Null),
        })
    }

    fn reply(&self, reply: Value) -> Value {
        json!({"protocol": self.protocol, "ref_no": self.ref_no, "reply": reply})
    }

    fn error(&self, error: &str) -> Value {
        json!({"ref_no": self.ref_no, "error": error})
    }

    /// The answer message.
    pub(super) async fn answer(&self, connection: &Connection) -> Value {
        match self.protocol.as_str() {
            Some("echo") => self.reply(self.request.clone()),
            Some("a") => match self.raw(connection).await {
                Ok(reply) => self.reply(Value::String(reply)),
                Err(e) => self.error(&e),
            },
            Some(other) => self.error(&format!("Unknown protocol: {other}")),
            None => self.error(&format!("Unknown protocol: {}", self.protocol)),
        }
    }

    async fn raw(&self, connection: &Connection) -> Result<String, String> {
        let Some(text) = self.request.as_str() else {
            return Err("\"request\" must be a string".into());
        };
        let request = parse_raw_request(text.as_bytes()).map_err(|e| e.to_string())?;
        let result = connection
            .client
            .call_raw(request.call_no, &request.args)
            .await;
        let tokens = match result {
            Ok(tokens) => tokens,
            Err(Error::Server { code, status }) => {
                return Err(format!(
                    "{} (error code {code}, status {status})",
                    ServerErrorName(code)
                ));
            }
            Err(e) => return Err(e.to_string()),
        };
        match (request.call_no, request.args.first()) {
            (62 | 0, Some(Arg::Int(pers_no))) => {
                connection.set_pers_no(Some(PersNo(*pers_no)).filter(|p| !p.is_zero()));
            }
            (1, _) => connection.set_pers_no(None),
            _ => {}
        }
        String::from_utf8(format_reply(&tokens))
            .map_err(|_| "the reply is not UTF-8 text (it holds ISO 8859-1 bytes)".to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_httpkom_ignores_are_ignored() {
        assert_eq!(WsRequest::parse(b"not json"), None);
        assert_eq!(WsRequest::parse(b"[1, 2]"), None);
        assert_eq!(WsRequest::parse(br#"{"ref_no": 1}"#), None);
        assert_eq!(
            WsRequest::parse(br#"{"protocol": "a", "ref_no": null}"#),
            None
        );
        let r = WsRequest::parse(br#"{"protocol": "echo", "ref_no": 3}"#).unwrap();
        assert_eq!(r.request, Value::Null);
    }

    #[test]
    fn handshakes_are_checked() {
        let mut h = HeaderMap::new();
        h.insert(header::UPGRADE, HeaderValue::from_static("WebSocket"));
        h.insert(
            header::CONNECTION,
            HeaderValue::from_static("keep-alive, Upgrade"),
        );
        h.insert(
            header::SEC_WEBSOCKET_VERSION,
            HeaderValue::from_static("13"),
        );
        assert_eq!(handshake_accept(&h), None);
        h.insert(
            header::SEC_WEBSOCKET_KEY,
            HeaderValue::from_static("dGhlIHNhbXBsZSBub25jZQ=="),
        );
        assert_eq!(
            handshake_accept(&h).as_deref(),
            Some("s3pPLMBiTxaQ9kYGzzhZRbK+xOo=")
        );
        h.insert(header::SEC_WEBSOCKET_VERSION, HeaderValue::from_static("8"));
        assert_eq!(handshake_accept(&h), None);
    }
}
