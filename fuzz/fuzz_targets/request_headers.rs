//! Arbitrary `Cookie` and `X-Forwarded-For` headers from a client, through the session layer
//! and the proxy rule: never a panic, every request answered by its handler, an id the store
//! does not know never yields a session, and nothing is stored for a request that wrote
//! nothing.
#![no_main]

use std::convert::Infallible;
use std::net::{IpAddr, Ipv4Addr};
use std::sync::{Arc, OnceLock};

use bytes::Bytes;
use http::{HeaderMap, HeaderValue, Request, Response};
use http_body_util::{BodyExt, Full};
use libfuzzer_sys::fuzz_target;
use session_core::{MemoryStore, SessionConfig, SessionManager, SessionStore};
use session_http::serve::{IpRange, client_address};
use session_http::server::{Session, SessionLayer};
use tower::{Layer, ServiceExt, service_fn};

struct Fixture {
    runtime: tokio::runtime::Runtime,
    store: Arc<MemoryStore>,
    layer: SessionLayer,
}

fn fixture() -> &'static Fixture {
    static FIXTURE: OnceLock<Fixture> = OnceLock::new();
    FIXTURE.get_or_init(|| {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap_or_else(|e| panic!("runtime: {e}"));
        let store = runtime.block_on(async { Arc::new(MemoryStore::new()) });
        let store_handle: Arc<dyn SessionStore> = store.clone();
        let manager = SessionManager::new(store_handle, SessionConfig::default());
        Fixture {
            runtime,
            store,
            layer: SessionLayer::new(manager),
        }
    })
}

/// Reads attribute `k` of the request's session: what the handler saw.
async fn handler(request: Request<Full<Bytes>>) -> Result<Response<Full<Bytes>>, Infallible> {
    let Some(session) = request.extensions().get::<Session>().cloned() else {
        panic!("the layer gave the request no session")
    };
    let seen = match session.get::<String>("k").await {
        Ok(None) => "none",
        Ok(Some(_)) => "some",
        Err(_) => "error",
    };
    Ok(Response::new(Full::new(Bytes::from_static(
        seen.as_bytes(),
    ))))
}

fuzz_target!(|data: &[u8]| {
    let (cookie, forwarded) = match data.iter().position(|&b| b == 0xff) {
        Some(at) => (&data[..at], &data[at + 1..]),
        None => (data, &[][..]),
    };

    let peer = IpAddr::V4(Ipv4Addr::LOCALHOST);
    let mut headers = HeaderMap::new();
    if let Ok(value) = HeaderValue::from_bytes(forwarded) {
        headers.append("x-forwarded-for", value);
    }
    assert_eq!(
        client_address(peer, &headers, &[]),
        peer,
        "no proxy is trusted"
    );
    let _ = client_address(peer, &headers, &[IpRange::from(peer)]);

    let f = fixture();
    let mut request = Request::get("/read");
    if let Ok(value) = HeaderValue::from_bytes(cookie) {
        request = request.header(http::header::COOKIE, value);
    }
    let Ok(request) = request.body(Full::new(Bytes::new())) else {
        return;
    };
    let service = f.layer.layer(service_fn(handler));
    let (status, seen) = f.runtime.block_on(async move {
        let response = service
            .oneshot(request)
            .await
            .unwrap_or_else(|e| match e {});
        let status = response.status();
        let body = response
            .into_body()
            .collect()
            .await
            .unwrap_or_else(|e| panic!("body: {e}"));
        (status, body.to_bytes())
    });
    assert_eq!(status, 200);
    assert_eq!(&seen[..], b"none", "no id is known to the empty store");
    let count = f
        .runtime
        .block_on(f.store.count())
        .unwrap_or_else(|e| panic!("count: {e}"));
    assert_eq!(count, 0, "nothing was written, so nothing is stored");
});
