//! The service adapter: a tower service as a hyper service, with the client's address in
//! each request and a deadline on each response.

use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use http::{HeaderValue, Request, Response, StatusCode, header};
use hyper::body::Incoming;
use pin_project_lite::pin_project;
use tower::ServiceExt;
use tower::util::Oneshot;

/// The address of the client that sent a request, put into every request's extensions by
/// [`serve`](super::serve).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PeerAddr(pub SocketAddr);

/// A tower service served to one connection's hyper dispatcher.
pub(super) struct WithDeadline<S> {
    pub(super) inner: S,
    pub(super) peer: SocketAddr,
    pub(super) timeout: Duration,
}

impl<S, B> hyper::service::Service<Request<Incoming>> for WithDeadline<S>
where
    S: tower_service::Service<Request<Incoming>, Response = Response<B>> + Clone,
    B: Default,
{
    type Response = Response<B>;
    type Error = S::Error;
    type Future = Deadline<S>;

    fn call(&self, mut request: Request<Incoming>) -> Self::Future {
        request.extensions_mut().insert(PeerAddr(self.peer));
        Deadline {
            inner: tokio::time::timeout(self.timeout, self.inner.clone().oneshot(request)),
        }
    }
}

pin_project! {
    /// The response, or `503` with `Connection: close` once the deadline passes.
    pub(super) struct Deadline<S: tower_service::Service<Request<Incoming>>> {
        #[pin]
        inner: tokio::time::Timeout<Oneshot<S, Request<Incoming>>>,
    }
}

impl<S, B> Future for Deadline<S>
where
    S: tower_service::Service<Request<Incoming>, Response = Response<B>>,
    B: Default,
{
    type Output = Result<Response<B>, S::Error>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match self.project().inner.poll(cx) {
            Poll::Pending => Poll::Pending,
            Poll::Ready(Ok(outcome)) => Poll::Ready(outcome),
            Poll::Ready(Err(_elapsed)) => Poll::Ready(Ok(timed_out())),
        }
    }
}

/// The answer to a request that ran past its deadline; the connection closes after it.
fn timed_out<B: Default>() -> Response<B> {
    let mut response = Response::new(B::default());
    *response.status_mut() = StatusCode::SERVICE_UNAVAILABLE;
    response
        .headers_mut()
        .insert(header::CONNECTION, HeaderValue::from_static("close"));
    response
}
