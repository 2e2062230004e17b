//! A plain HTTP/1.1 client for tests of our servers over loopback: one request on a fresh
//! connection ([`send`]), or many in a row on one kept-alive connection ([`KeepAlive`]), each
//! answer read whole into a [`Reply`].

use std::net::SocketAddr;

use bytes::Bytes;
use http::{HeaderMap, HeaderValue, Request, Response, StatusCode};
use http_body_util::{BodyExt, Full};
use tokio::net::TcpStream;

/// A response as the tests see it: status, headers and the body as text.
#[derive(Debug)]
pub struct Reply {
    /// The status.
    pub status: StatusCode,
    /// The headers.
    pub headers: HeaderMap,
    /// The body, any invalid UTF-8 replaced.
    pub body: String,
}

impl Reply {
    /// Reads `response` whole. Panics when its body fails.
    pub async fn read<B>(response: Response<B>) -> Reply
    where
        B: http_body::Body,
        B::Error: std::fmt::Debug,
    {
        let (parts, body) = response.into_parts();
        let body = match body.collect().await {
            Ok(collected) => collected.to_bytes(),
            Err(error) => panic!("reading the response body: {error:?}"),
        };
        Reply {
            status: parts.status,
            headers: parts.headers,
            body: String::from_utf8_lossy(&body).into_owned(),
        }
    }

    /// The body as JSON. Panics, showing the body, when it is not.
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("{e}: {}", self.body))
    }

    /// Every `Set-Cookie`, in order.
    pub fn set_cookies(&self) -> Vec<String> {
        self.headers
            .get_all(http::header::SET_COOKIE)
            .iter()
            .map(|v| text(v).to_owned())
            .collect()
    }

    /// The single `Set-Cookie` of the response. Panics when there is not exactly one.
    pub fn set_cookie(&self) -> String {
        let all = self.set_cookies();
        assert_eq!(all.len(), 1, "expected one Set-Cookie, got {all:?}");
        all[0].clone()
    }

    /// `name=value` of the single `Set-Cookie`, ready for a `Cookie` header.
    pub fn cookie_pair(&self) -> String {
        let cookie = self.set_cookie();
        cookie.split(';').next().unwrap_or_default().to_owned()
    }

    /// The header `name`, if present. Panics when it is not visible ASCII.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).map(text)
    }
}

fn text(value: &HeaderValue) -> &str {
    value
        .to_str()
        .unwrap_or_else(|e| panic!("header value {value:?}: {e}"))
}

/// One request over a fresh connection to `addr`, with an optional body of the given content
/// type.
pub async fn send(
    addr: SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: Option<(&str, String)>,
) -> Reply {
    KeepAlive::open(addr)
        .await
        .send(method, path, headers, body)
        .await
}

/// One HTTP/1.1 connection kept open for requests in a row, as a browser or a load generator
/// sends them.
pub struct KeepAlive {
    addr: SocketAddr,
    sender: hyper::client::conn::http1::SendRequest<Full<Bytes>>,
}

impl KeepAlive {
    /// Connects to `addr`. Panics when it cannot.
    pub async fn open(addr: SocketAddr) -> KeepAlive {
        let stream = TcpStream::connect(addr)
            .await
            .unwrap_or_else(|e| panic!("connecting to {addr}: {e}"));
        let io = hyper_util::rt::TokioIo::new(stream);
        let (sender, connection) = hyper::client::conn::http1::handshake(io)
            .await
            .unwrap_or_else(|e| panic!("HTTP handshake with {addr}: {e}"));
        tokio::spawn(connection);
        KeepAlive { addr, sender }
    }

    /// One request on this connection, with an optional body of the given content type.
    /// Header values go as bytes: a browser may send what is not ASCII (a cookie a page's
    /// script set). Panics when the exchange fails.
    pub async fn send(
        &mut self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: Option<(&str, String)>,
    ) -> Reply {
        let mut request = Request::builder()
            .method(method)
            .uri(path)
            .header(http::header::HOST, self.addr.to_string());
        for (name, value) in headers {
            let value = HeaderValue::from_bytes(value.as_bytes())
                .unwrap_or_else(|e| panic!("header {name}: {e}"));
            request = request.header(*name, value);
        }
        let bytes = match body {
            Some((content_type, text)) => {
                request = request.header(http::header::CONTENT_TYPE, content_type);
                Bytes::from(text)
            }
            None => Bytes::new(),
        };
        let request = request
            .body(Full::new(bytes))
            .unwrap_or_else(|e| panic!("building {method} {path}: {e}"));
        let exchange = async {
            self.sender.ready().await?;
            self.sender.send_request(request).await
        };
        let response = exchange
            .await
            .unwrap_or_else(|e| panic!("{method} {path} to {}: {e}", self.addr));
        Reply::read(response).await
    }
}
