//! Sending requests with a [`ClientSession`] over hyper's client, redirects included.
//!
//! Every hop of a redirect gets the `Cookie` header its own URL matches in the session's jar,
//! and its `Set-Cookie` headers are stored for its own URL. `Authorization` is dropped when a
//! redirect leaves the original host (as requests/HTTPie do); 301/302 turn a `POST` into a
//! `GET`, 303 turns anything but `HEAD` into a `GET`, 307/308 keep method and body.
//!
//! `http://` and `https://` URLs are sent over the shared [`HttpTransport`]: by default a
//! server's certificate is verified against the Mozilla roots; [`SessionClient::with_transport`]
//! takes one built with other [`crate::transport::TlsOptions`] (a CA bundle, or no
//! verification, as HTTPie's `--verify`). A certificate that is not accepted is a
//! [`ClientError::Tls`] saying why.

use std::time::{Duration, Instant};

use bytes::Bytes;
use http::header::{AUTHORIZATION, CONTENT_LENGTH, CONTENT_TYPE, LOCATION, TRANSFER_ENCODING};
use http::{HeaderMap, Method, StatusCode, Version};
use http_body_util::Full;
use url::Url;

use super::error::ClientError;
use super::session::{ClientSession, remove_keeping_order};
use crate::transport::{HttpTransport, TransportError};

/// HTTPie's default limit on redirects followed.
pub const DEFAULT_MAX_REDIRECTS: usize = 30;

/// A request to send.
#[derive(Clone, Debug)]
pub struct ClientRequest {
    /// The method.
    pub method: Method,
    /// The URL (`http://` or `https://`).
    pub url: Url,
    /// Headers given for this request (they win over the session's).
    pub headers: HeaderMap,
    /// The body (empty for none).
    pub body: Bytes,
    /// Headers not to send even if the session holds them (HTTPie's `Header:`).
    pub omit_headers: Vec<http::HeaderName>,
}

impl ClientRequest {
    /// A request without headers or body.
    pub fn new(method: Method, url: Url) -> Self {
        ClientRequest {
            method,
            url,
            headers: HeaderMap::new(),
            body: Bytes::new(),
            omit_headers: Vec::new(),
        }
    }
}

/// A response, with the request it answers and the redirects followed to reach it.
#[derive(Clone, Debug)]
pub struct ClientResponse {
    /// The status.
    pub status: StatusCode,
    /// The HTTP version.
    pub version: Version,
    /// The headers.
    pub headers: HeaderMap,
    /// The whole body.
    pub body: Bytes,
    /// The request this response answers, as it was sent: its URL is the one that answered;
    /// the session's headers, auth and cookies are applied (`Host` and `Content-Length` are
    /// left to the connection).
    pub request: ClientRequest,
    /// From sending the request to having the whole body.
    pub elapsed: Duration,
    /// The redirect responses followed to get here, oldest first (requests'
    /// `Response.history`); each carries the request it answered. Empty in those responses.
    pub history: Vec<ClientResponse>,
}

/// An HTTP client that uses and updates a [`ClientSession`].
#[derive(Clone, Debug)]
pub struct SessionClient {
    transport: HttpTransport,
    max_redirects: usize,
    timeout: Duration,
}

impl Default for SessionClient {
    fn default() -> Self {
        SessionClient::new()
    }
}

impl SessionClient {
    /// A client following at most [`DEFAULT_MAX_REDIRECTS`] redirects, with a 30 s timeout
    /// per hop, verifying certificates against the default roots.
    pub fn new() -> Self {
        SessionClient {
            transport: HttpTransport::default(),
            max_redirects: DEFAULT_MAX_REDIRECTS,
            timeout: Duration::from_secs(30),
        }
    }

    /// Sends over `transport` (its TLS settings: CA bundle, verification, client certificate).
    pub fn with_transport(mut self, transport: HttpTransport) -> Self {
        self.transport = transport;
        self
    }

    /// Sets the redirect limit.
    pub fn max_redirects(mut self, max: usize) -> Self {
        self.max_redirects = max;
        self
    }

    /// Sets the timeout of each hop.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// Sends `request` with `session`'s headers, auth and cookies, stores the cookies of every
    /// response into the session, and follows redirects when `follow` is set.
    pub async fn send(
        &self,
        session: &mut ClientSession,
        request: ClientRequest,
        follow: bool,
    ) -> Result<ClientResponse, ClientError> {
        let mut request = request;
        session.apply(&request.url, &mut request.headers)?;
        for name in std::mem::take(&mut request.omit_headers) {
            request.headers.remove(name);
        }
        let original_host = request.url.host_str().map(str::to_string);
        let mut history = Vec::new();
        loop {
            let started = Instant::now();
            let (status, version, headers, body) = self.send_once(&request).await?;
            let elapsed = started.elapsed();
            session.store_response(&request.url, &headers);
            let location = headers
                .get(LOCATION)
                .and_then(|v| v.to_str().ok())
                .and_then(|l| request.url.join(l).ok());
            let response = ClientResponse {
                status,
                version,
                headers,
                body,
                request,
                elapsed,
                history: Vec::new(),
            };
            let next = match location {
                Some(next)
                    if follow && status.is_redirection() && status != StatusCode::NOT_MODIFIED =>
                {
                    next
                }
                _ => {
                    return Ok(ClientResponse {
                        history,
                        ..response
                    });
                }
            };
            if history.len() >= self.max_redirects {
                return Err(ClientError::TooManyRedirects(self.max_redirects));
            }
            request = response.request.clone();
            history.push(response);
            let to_get = match status {
                StatusCode::SEE_OTHER => request.method != Method::HEAD,
                StatusCode::MOVED_PERMANENTLY | StatusCode::FOUND => request.method == Method::POST,
                _ => false,
            };
            if to_get {
                request.method = Method::GET;
                request.body = Bytes::new();
                remove_keeping_order(
                    &mut request.headers,
                    &[CONTENT_TYPE, CONTENT_LENGTH, TRANSFER_ENCODING],
                );
            }
            if next.host_str().map(str::to_string) != original_host
                || (request.url.scheme() == "https" && next.scheme() == "http")
            {
                remove_keeping_order(&mut request.headers, &[AUTHORIZATION]);
            }
            request.url = next;
            session.apply_cookies(&request.url, &mut request.headers)?;
        }
    }

    async fn send_once(
        &self,
        request: &ClientRequest,
    ) -> Result<(StatusCode, Version, HeaderMap, Bytes), ClientError> {
        let ClientRequest {
            method,
            url,
            headers,
            body,
            ..
        } = request;
        match url.scheme() {
            "http" | "https" => {}
            other => {
                return Err(ClientError::InvalidUrl {
                    url: url.to_string(),
                    reason: format!("unsupported scheme {other:?}"),
                });
            }
        }
        let mut target = url.clone();
        target.set_fragment(None);
        let mut builder = http::Request::builder()
            .method(method.clone())
            .uri(target.as_str());
        for (name, value) in headers {
            builder = builder.header(name, value);
        }
        let request =
            builder
                .body(Full::new(body.clone()))
                .map_err(|e| ClientError::InvalidUrl {
                    url: url.to_string(),
                    reason: e.to_string(),
                })?;
        let failed = |message: String| ClientError::Request {
            url: url.to_string(),
            message,
        };
        let (parts, body) = tokio::time::timeout(self.timeout, self.transport.fetch(request))
            .await
            .map_err(|_| ClientError::Timeout {
                url: url.to_string(),
                after: self.timeout,
            })?
            .map_err(|error| match error {
                TransportError::Tls(problem) => ClientError::Tls {
                    url: url.to_string(),
                    problem,
                },
                other => failed(other.to_string()),
            })?;
        Ok((parts.status, parts.version, parts.headers, body))
    }
}
