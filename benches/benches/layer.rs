//! The session layers alone, without sockets: one request through this project's
//! `SessionLayer` and through tower-sessions' `SessionManagerLayer`, each around the same
//! plain tower handler and over its own memory store, beside the handler with no layer.
//!
//! Run: `cargo bench -p session-benches --bench layer`. The HTTP load benchmark
//! (`http_load`) measures the same scenarios through real connections; this one isolates
//! what a layer adds to a request, where the kernel and the HTTP codec do not dilute it.
//! Scenarios as there: `unused`, `new`, `read`, `read+write`.

// criterion's macros generate undocumented public items.
#![allow(missing_docs)]

#[path = "support/scenario.rs"]
mod scenario;

use std::convert::Infallible;
use std::sync::Arc;

use bytes::Bytes;
use criterion::{Criterion, criterion_group, criterion_main};
use http::{Request, Response};
use http_body_util::Full;
use session_core::MemoryStore;
use session_http::server::Session;
use tower::{Layer, Service, ServiceExt, service_fn};

type Body = Full<Bytes>;

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap_or_else(|e| panic!("tokio runtime: {e}"))
}

fn request(path: &str, cookie: Option<&str>) -> Request<Body> {
    let mut builder = Request::get(path);
    if let Some(cookie) = cookie {
        builder = builder.header(http::header::COOKIE, cookie);
    }
    builder
        .body(Full::new(Bytes::new()))
        .unwrap_or_else(|e| panic!("{e}"))
}

/// The `name=value` part of a response's `Set-Cookie`.
fn cookie_of<B>(response: &Response<B>) -> String {
    response
        .headers()
        .get(http::header::SET_COOKIE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .unwrap_or_else(|| panic!("no session cookie"))
        .to_owned()
}

async fn call<S, B>(service: &mut S, request: Request<Body>) -> Response<B>
where
    S: Service<Request<Body>, Response = Response<B>, Error = Infallible>,
{
    let ready = service.ready().await.unwrap_or_else(|e| match e {});
    ready.call(request).await.unwrap_or_else(|e| match e {})
}

fn text(body: String) -> Response<Body> {
    Response::new(Full::new(Bytes::from(body)))
}

/// The handler behind both layers: `S` is the layer's session type, found in the request
/// extensions.
async fn handler<S: scenario::CounterSession + Send + Sync + 'static>(
    request: Request<Body>,
) -> Result<Response<Body>, Infallible> {
    let path = request.uri().path();
    if path == "/unused" {
        return Ok(text("hello".to_owned()));
    }
    let Some(session) = request.extensions().get::<S>() else {
        panic!("no session extension")
    };
    Ok(text(scenario::respond(path, session).await))
}

fn layers(c: &mut Criterion) {
    let rt = runtime();
    let mut bare = service_fn(handler::<Session>);
    let ours_layer = rt.block_on(async { scenario::our_layer(Arc::new(MemoryStore::new())) });
    let mut ours = ours_layer.layer(service_fn(handler::<Session>));
    let mut theirs =
        scenario::tower_sessions_layer().layer(service_fn(handler::<tower_sessions::Session>));

    let mut group = c.benchmark_group("layer");
    for (scenario, path, sends_cookie) in [
        ("unused", "/unused", true),
        ("new", "/new", false),
        ("read", "/read", true),
        ("read+write", "/write", true),
    ] {
        if scenario == "unused" {
            group.bench_function("no layer/unused", |b| {
                b.iter(|| rt.block_on(call(&mut bare, request(path, None))))
            });
        }
        // A session made just before its scenario: the `new` scenario fills the bounded
        // memory store, which evicts its oldest sessions, so one made at the start would be
        // gone by the later scenarios, which would then measure an unknown id instead.
        let our_cookie = cookie_of(&rt.block_on(call(&mut ours, request("/new", None))));
        let their_cookie = cookie_of(&rt.block_on(call(&mut theirs, request("/new", None))));
        let cookie = sends_cookie.then_some(our_cookie.as_str());
        if sends_cookie {
            let response = rt.block_on(call(&mut ours, request("/read", cookie)));
            assert!(
                response.headers().get(http::header::SET_COOKIE).is_none(),
                "{scenario}: the session sent must be live"
            );
        }
        group.bench_function(format!("ours/{scenario}"), |b| {
            b.iter(|| rt.block_on(call(&mut ours, request(path, cookie))))
        });
        let cookie = sends_cookie.then_some(their_cookie.as_str());
        group.bench_function(format!("tower-sessions/{scenario}"), |b| {
            b.iter(|| rt.block_on(call(&mut theirs, request(path, cookie))))
        });
    }
    group.finish();
}

criterion_group!(benches, layers);
criterion_main!(benches);
