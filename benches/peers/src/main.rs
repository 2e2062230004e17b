//! tower-sessions 0.14 over its Redis store (tower-sessions-redis-store 0.16, fred) or its
//! SQLite store (tower-sessions-sqlx-store 0.15, sqlx), serving the HTTP load benchmark's
//! handlers (`benches/benches/support/counter.rs`, the same file the workspace benchmarks
//! use) on axum, as the benchmark serves this project's layer.
//!
//! `session-bench-peers STORE TARGET PORT WORKERS`: STORE is `redis` (TARGET a `redis://`
//! URL) or `sqlite` (TARGET a database file, created when missing). Built on its own
//! (`cargo build --release --manifest-path benches/peers/Cargo.toml`) so that the workspace
//! never compiles sqlx and fred; `http_load` runs the binary when it finds it.

#[path = "../../benches/support/counter.rs"]
mod counter;

use std::net::SocketAddr;

use axum::Router;
use axum::routing::get;
use counter::IDLE;
use tower_sessions::{Expiry, SessionManagerLayer, SessionStore};
use tower_sessions_redis_store::RedisStore;
use tower_sessions_redis_store::fred::prelude::{ClientLike, Config, Pool};
use tower_sessions_sqlx_store::SqliteStore;
use tower_sessions_sqlx_store::sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous,
};

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let [_, store, target, port, workers] = args.as_slice() else {
        eprintln!("usage: session-bench-peers redis|sqlite TARGET PORT WORKERS");
        std::process::exit(2);
    };
    let port: u16 = port.parse().unwrap_or_else(|e| panic!("port: {e}"));
    let workers: usize = workers.parse().unwrap_or_else(|e| panic!("workers: {e}"));
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(workers)
        .enable_all()
        .build()
        .unwrap_or_else(|e| panic!("runtime: {e}"));
    runtime.block_on(async {
        let listener = tokio::net::TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], port)))
            .await
            .unwrap_or_else(|e| panic!("bind: {e}"));
        match store.as_str() {
            "redis" => {
                // Pool size as in the crate's own example.
                let config = Config::from_url(target).unwrap_or_else(|e| panic!("{e}"));
                let pool = Pool::new(config, None, None, None, 6).unwrap_or_else(|e| panic!("{e}"));
                let _connection = pool.connect();
                pool.wait_for_connect()
                    .await
                    .unwrap_or_else(|e| panic!("redis: {e}"));
                serve(listener, RedisStore::new(pool)).await
            }
            "sqlite" => {
                // WAL and synchronous=NORMAL, as this project's SQLite store runs.
                let options = SqliteConnectOptions::new()
                    .filename(target)
                    .create_if_missing(true)
                    .journal_mode(SqliteJournalMode::Wal)
                    .synchronous(SqliteSynchronous::Normal);
                let pool = SqlitePoolOptions::new()
                    .connect_with(options)
                    .await
                    .unwrap_or_else(|e| panic!("sqlite: {e}"));
                let store = SqliteStore::new(pool);
                store
                    .migrate()
                    .await
                    .unwrap_or_else(|e| panic!("migrate: {e}"));
                serve(listener, store).await
            }
            other => panic!("unknown store {other}"),
        }
    });
}

async fn serve<S: SessionStore + Clone>(listener: tokio::net::TcpListener, store: S) {
    let layer = SessionManagerLayer::new(store)
        .with_secure(false)
        .with_expiry(Expiry::OnInactivity(
            tower_sessions::cookie::time::Duration::seconds(IDLE.as_secs() as i64),
        ));
    let router = Router::new()
        .route("/{scenario}", get(handler))
        .layer(layer);
    axum::serve(listener, router)
        .await
        .unwrap_or_else(|e| panic!("serve: {e}"));
}

async fn handler(session: tower_sessions::Session, uri: http::Uri) -> String {
    counter::respond(uri.path(), &session).await
}
