//! A counter kept in the session, served by axum with the session layer.
//!
//! `cargo run -p session-http --example axum_counter`, then open http://127.0.0.1:3000/ and
//! reload a few times (the cookie is not `Secure` here because the example serves plain HTTP
//! on loopback). `POST /logout` ends the session.

use std::sync::Arc;

use axum::Router;
use axum::routing::{get, post};
use http::StatusCode;
use session_core::{MemoryStore, SessionConfig, SessionManager};
use session_http::server::{CookieConfig, Session, SessionLayer};

async fn count(session: Session) -> Result<String, StatusCode> {
    let visits: u64 = session
        .get("visits")
        .await
        .map_err(|_| StatusCode::SERVICE_UNAVAILABLE)?
        .unwrap_or(0)
        + 1;
    session
        .insert("visits", &visits)
        .await
        .map_err(|_| StatusCode::SERVICE_UNAVAILABLE)?;
    Ok(format!("You have been here {visits} time(s).\n"))
}

async fn logout(session: Session) -> Result<&'static str, StatusCode> {
    session
        .invalidate()
        .await
        .map_err(|_| StatusCode::SERVICE_UNAVAILABLE)?;
    Ok("Bye.\n")
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let manager = SessionManager::new(Arc::new(MemoryStore::new()), SessionConfig::default());
    let layer = SessionLayer::builder(manager)
        .cookie(CookieConfig {
            secure: false,
            ..CookieConfig::default()
        })
        .build()?;
    let app = Router::new()
        .route("/", get(count))
        .route("/logout", post(logout))
        .layer(layer);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:3000").await?;
    println!("listening on http://{}", listener.local_addr()?);
    axum::serve(listener, app).await?;
    Ok(())
}
