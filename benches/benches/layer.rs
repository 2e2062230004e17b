//! The session layers alone, without sockets: one request through this project's
//! `SessionLayer` and through tower-sessions' `SessionManagerLayer`, each around the same
//! plain tower handler and over its own memory store, beside the handler with no layer.
//!
//! Run: `cargo bench -p session-benches --bench layer`. The HTTP load benchmark
//! (`http_load`) measures the same scenarios through real connections; this one isolates
//! what a layer adds to a request, where the kernel and the HTTP codec do not dilute it.
//! Scenarios as there: `unused`, `new`, `read`, `read+write`.
//!
//! Counting instead of timing: with `LAYER_REQUESTS=N LAYER_RUN=<name>` (a benchmark's name,
//! such as `ours/read`), the binary sends that benchmark's request N times and exits, for an
//! instruction counter: the difference between two counts (say N = 2000 and 1000) under
//! `valgrind --tool=cachegrind --cache-sim=no`, divided by the difference in N, is the
//! instructions per request, which a busy machine does not disturb as it does a timing.

// criterion's macros generate undocumented public items.
#![allow(missing_docs)]

#[path = "support/scenario.rs"]
mod scenario;

use std::convert::Infallible;
use std::sync::Arc;

use bytes::Bytes;
use criterion::Criterion;
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

/// The three services of a run and the runtime they run on.
struct Services<A, B, C> {
    rt: tokio::runtime::Runtime,
    bare: A,
    ours: B,
    theirs: C,
}

/// Every scenario: its name, its path and whether it sends the session cookie.
const SCENARIOS: [(&str, &str, bool); 4] = [
    ("unused", "/unused", true),
    ("new", "/new", false),
    ("read", "/read", true),
    ("read+write", "/write", true),
];

/// A service the benchmarks drive: a request in, a response out, never an error.
trait Driven:
    Service<Request<Body>, Response = Response<Self::ResponseBody>, Error = Infallible>
{
    type ResponseBody;
}

impl<S, B> Driven for S
where
    S: Service<Request<Body>, Response = Response<B>, Error = Infallible>,
{
    type ResponseBody = B;
}

/// The handler bare, behind our layer and behind tower-sessions' (each over its own memory
/// store).
fn services() -> Services<impl Driven, impl Driven, impl Driven> {
    let rt = runtime();
    let ours_layer = rt.block_on(async { scenario::our_layer(Arc::new(MemoryStore::new())) });
    Services {
        bare: service_fn(handler::<Session>),
        ours: ours_layer.layer(service_fn(handler::<Session>)),
        theirs: scenario::tower_sessions_layer()
            .layer(service_fn(handler::<tower_sessions::Session>)),
        rt,
    }
}

impl<A, B: Driven, C: Driven> Services<A, B, C> {
    /// Fresh session cookies, ours and tower-sessions', ours checked to name a live session.
    /// Made just before each scenario: the `new` scenario fills the bounded memory store,
    /// which evicts its oldest sessions, so one made at the start would be gone by the later
    /// scenarios, which would then measure an unknown id instead.
    fn fresh_cookies(&mut self) -> (String, String) {
        let ours = cookie_of(
            &self
                .rt
                .block_on(call(&mut self.ours, request("/new", None))),
        );
        let theirs = cookie_of(
            &self
                .rt
                .block_on(call(&mut self.theirs, request("/new", None))),
        );
        let response = self
            .rt
            .block_on(call(&mut self.ours, request("/read", Some(&ours))));
        assert!(
            response.headers().get(http::header::SET_COOKIE).is_none(),
            "the session sent must be live"
        );
        (ours, theirs)
    }
}

fn layers(c: &mut Criterion) {
    let mut s = services();
    let mut group = c.benchmark_group("layer");
    for (scenario, path, sends_cookie) in SCENARIOS {
        if scenario == "unused" {
            group.bench_function("no layer/unused", |b| {
                b.iter(|| s.rt.block_on(call(&mut s.bare, request(path, None))))
            });
        }
        let (our_cookie, their_cookie) = s.fresh_cookies();
        let cookie = sends_cookie.then_some(our_cookie.as_str());
        group.bench_function(format!("ours/{scenario}"), |b| {
            b.iter(|| s.rt.block_on(call(&mut s.ours, request(path, cookie))))
        });
        let cookie = sends_cookie.then_some(their_cookie.as_str());
        group.bench_function(format!("tower-sessions/{scenario}"), |b| {
            b.iter(|| s.rt.block_on(call(&mut s.theirs, request(path, cookie))))
        });
    }
    group.finish();
}

/// Sends benchmark `name`'s request `requests` times (see the module docs).
fn count(name: &str, requests: u64) {
    let mut s = services();
    let (layer, scenario) = name
        .split_once('/')
        .unwrap_or_else(|| panic!("LAYER_RUN={name}: expected <layer>/<scenario>"));
    let Some((_, path, sends_cookie)) = SCENARIOS.iter().find(|(n, ..)| *n == scenario) else {
        panic!("LAYER_RUN={name}: no scenario {scenario}")
    };
    let (our_cookie, their_cookie) = s.fresh_cookies();
    for _ in 0..requests {
        match layer {
            "no layer" => drop(s.rt.block_on(call(&mut s.bare, request(path, None)))),
            "ours" => {
                let cookie = sends_cookie.then_some(our_cookie.as_str());
                drop(s.rt.block_on(call(&mut s.ours, request(path, cookie))));
            }
            "tower-sessions" => {
                let cookie = sends_cookie.then_some(their_cookie.as_str());
                drop(s.rt.block_on(call(&mut s.theirs, request(path, cookie))));
            }
            other => panic!("LAYER_RUN={name}: no layer {other}"),
        }
    }
}

fn main() {
    if let (Ok(name), Ok(requests)) = (std::env::var("LAYER_RUN"), std::env::var("LAYER_REQUESTS"))
    {
        let requests = requests
            .parse()
            .unwrap_or_else(|e| panic!("LAYER_REQUESTS={requests}: {e}"));
        count(&name, requests);
        return;
    }
    let mut criterion = Criterion::default().configure_from_args();
    layers(&mut criterion);
    criterion.final_summary();
}
