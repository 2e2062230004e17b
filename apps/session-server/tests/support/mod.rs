//! Shared by the session-server tests: run the real binary, talk HTTP to it.
#![allow(dead_code, unreachable_pub, missing_docs)]

pub mod browser;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use argon2::password_hash::{PasswordHasher, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};
use test_support::ChildGuard;
use test_support::startup::{Announced, spawn_announced};

/// A server with the accounts alice/wonderland and bob/builder, its files in a private
/// directory that lives as long as the fixture.
pub struct Fixture {
    _dir: tempfile::TempDir,
    pub server: ServerProcess,
}

impl Fixture {
    /// Starts the server on the store `store` names, given the private directory (for a store
    /// that keeps its files there), with the `extra` flags.
    pub fn start(store: impl FnOnce(&Path) -> String, extra: &[&str]) -> Fixture {
        let dir = tempfile::tempdir().unwrap();
        let users = write_users_file(dir.path(), &[("alice", "wonderland"), ("bob", "builder")]);
        let server = ServerProcess::start(&store(dir.path()), &users, extra);
        Fixture { _dir: dir, server }
    }
}

/// A users file with cheap Argon2id hashes (tests log in often; the server verifies with the
/// parameters in the hash).
pub fn write_users_file(dir: &Path, users: &[(&str, &str)]) -> PathBuf {
    let params = Params::new(256, 1, 1, None).unwrap();
    let argon = Argon2::new(Algorithm::Argon2id, Version::V0x13, params);
    let mut text = String::from("# test accounts\n");
    for (name, password) in users {
        let salt = SaltString::encode_b64(format!("salt-of-{name}").as_bytes()).unwrap();
        let hash = argon.hash_password(password.as_bytes(), &salt).unwrap();
        text.push_str(&format!("{name}:{hash}\n"));
    }
    let path = dir.join("users");
    std::fs::write(&path, text).unwrap();
    path
}

/// What session-server prints on stdout once it has bound its address.
pub const ANNOUNCEMENT: &str = "session-server listening on";

/// A running session-server.
pub struct ServerProcess {
    pub addr: SocketAddr,
    pub guard: ChildGuard,
}

impl ServerProcess {
    /// Starts the binary on a port of its choosing (`--listen 127.0.0.1:0`) with the given
    /// store and users file, and reads the address it announces.
    pub fn start(store: &str, users: &Path, extra: &[&str]) -> ServerProcess {
        let Announced { guard, addr, .. } = start_announced(
            Self::command(extra)
                .arg("--store")
                .arg(store)
                .arg("--users")
                .arg(users),
        );
        ServerProcess { addr, guard }
    }

    /// The command line for a server on `127.0.0.1:0` with `extra` options, logging only
    /// warnings.
    pub fn command(extra: &[&str]) -> Command {
        let mut command = Command::new(env!("CARGO_BIN_EXE_session-server"));
        command
            .args(["--listen", "127.0.0.1:0"])
            .args(extra)
            .env("RUST_LOG", "warn")
            .stdin(Stdio::null());
        command
    }
}

/// Spawns a session-server `command` and reads the address it announces.
pub fn start_announced(command: &mut Command) -> Announced {
    spawn_announced(
        "session-server",
        command,
        ANNOUNCEMENT,
        Duration::from_secs(60),
    )
}

pub use test_support::http::Reply;
/// One request over a fresh connection, with an optional body of the given content type.
pub use test_support::http::send as send_body;

/// One request over a fresh connection, with an optional JSON body.
pub async fn send(
    addr: SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: Option<serde_json::Value>,
) -> Reply {
    match body {
        Some(json) => {
            let body = Some(("application/json", json.to_string()));
            send_body(addr, method, path, headers, body).await
        }
        None => send_body(addr, method, path, headers, None).await,
    }
}

/// Logs in through the API; returns the `Cookie` header value.
pub async fn login(addr: SocketAddr, user: &str, password: &str) -> String {
    let reply = send(
        addr,
        "POST",
        "/api/login",
        &[],
        Some(serde_json::json!({"username": user, "password": password})),
    )
    .await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    reply.cookie_pair()
}

/// `GET /api/session` with `cookie`.
pub async fn session_of(addr: SocketAddr, cookie: &str) -> Reply {
    send(addr, "GET", "/api/session", &[("cookie", cookie)], None).await
}
