//! The session layer in front of a plain hyper 1 service (no axum), over loopback.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod server_support;

use std::convert::Infallible;
use std::sync::Arc;

use bytes::Bytes;
use http::{Request, Response};
use http_body_util::Full;
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use session_core::{MemoryStore, SessionConfig, SessionManager};
use session_http::server::{Session, SessionLayer};
use tower::{Service, ServiceBuilder, service_fn};

use server_support::send;

#[tokio::test]
async fn works_with_plain_hyper() {
    let manager = SessionManager::new(Arc::new(MemoryStore::new()), SessionConfig::default());
    let service = ServiceBuilder::new()
        .layer(SessionLayer::new(manager))
        .service(service_fn(|request: Request<Incoming>| async move {
            let session = request.extensions().get::<Session>().cloned().unwrap();
            let n = session.get::<u32>("n").await.unwrap().unwrap_or(0) + 1;
            session.insert("n", &n).await.unwrap();
            Ok::<_, Infallible>(Response::new(Full::new(Bytes::from(n.to_string()))))
        }));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        loop {
            let (stream, _) = listener.accept().await.unwrap();
            let service = service.clone();
            tokio::spawn(async move {
                let hyper_service = hyper::service::service_fn(move |request| {
                    let mut service = service.clone();
                    service.call(request)
                });
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), hyper_service)
                    .await;
            });
        }
    });
    let first = send(addr, "GET", "/", &[]).await;
    assert_eq!(first.body, "1");
    let cookie = first.cookie_pair();
    let second = send(addr, "GET", "/", &[("cookie", &cookie)]).await;
    assert_eq!(second.body, "2");
}
