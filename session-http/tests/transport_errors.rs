//! A connection that fails keeps its cause: the error's `source()` chain reaches the operating
//! system's error, for the transport and for the HAC client built on it.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::error::Error as StdError;
use std::io;
use std::net::{SocketAddr, TcpListener};

use bytes::Bytes;
use http_body_util::Full;
use session_http::hac::{CacheKey, HacClient, HacError};
use session_http::transport::{HttpTransport, TransportError};

/// A loopback address nothing listens on (the port was just given back).
fn closed_address() -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    drop(listener);
    addr
}

/// The `io::ErrorKind` of the first `io::Error` in `error`'s source chain.
fn io_cause(error: &(dyn StdError + 'static)) -> Option<io::ErrorKind> {
    let mut current = error.source();
    while let Some(cause) = current {
        if let Some(io) = cause.downcast_ref::<io::Error>() {
            return Some(io.kind());
        }
        current = cause.source();
    }
    None
}

#[tokio::test]
async fn a_refused_connection_names_its_cause_in_the_source_chain() {
    let addr = closed_address();
    let request = http::Request::get(format!("http://{addr}/"))
        .body(Full::new(Bytes::new()))
        .unwrap();
    let error = HttpTransport::default().fetch(request).await.unwrap_err();
    assert!(matches!(error, TransportError::Connection(_)), "{error}");
    assert_eq!(io_cause(&error), Some(io::ErrorKind::ConnectionRefused));
    // The message still says it all for programs that print only the message.
    assert!(error.to_string().contains("refused"), "{error}");
}

#[tokio::test]
async fn a_hac_that_cannot_be_reached_names_the_cause() {
    let addr = closed_address();
    let client = HacClient::new(CacheKey::new(format!("http://{addr}"), "admin", "local"))
        .unwrap()
        .with_password("nimda");
    let error = client.login().await.unwrap_err();
    assert!(matches!(error, HacError::Connection { .. }), "{error}");
    assert_eq!(io_cause(&error), Some(io::ErrorKind::ConnectionRefused));
}
