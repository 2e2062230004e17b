//! Shared by the session-server tests: run the real binary, talk HTTP to it.
#![allow(dead_code, unreachable_pub, missing_docs)]

pub mod browser;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use argon2::password_hash::{PasswordHasher, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};
use bytes::Bytes;
use http::{HeaderMap, Request, StatusCode};
use http_body_util::{BodyExt, Full};
use test_support::ChildGuard;
use test_support::startup::{Announced, spawn_announced};
use tokio::net::TcpStream;

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

#[derive(Debug)]
pub struct Reply {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: String,
}

impl Reply {
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("{e}: {}", self.body))
    }
    pub fn set_cookies(&self) -> Vec<String> {
        self.headers
            .get_all("set-cookie")
            .iter()
            .map(|v| v.to_str().unwrap().to_owned())
            .collect()
    }
    /// `name=value` of the single Set-Cookie.
    pub fn cookie_pair(&self) -> String {
        let all = self.set_cookies();
        assert_eq!(all.len(), 1, "{all:?}");
        all[0].split(';').next().unwrap().to_owned()
    }
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).map(|v| v.to_str().unwrap())
    }
}

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

/// One request over a fresh connection, with an optional body of the given content type.
pub async fn send_body(
    addr: SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: Option<(&str, String)>,
) -> Reply {
    KeepAlive::open(addr)
        .await
        .send_body(method, path, headers, body)
        .await
}

/// One HTTP/1.1 connection kept open for requests in a row, as a browser or a load generator
/// sends them.
pub struct KeepAlive {
    addr: SocketAddr,
    sender: hyper::client::conn::http1::SendRequest<Full<Bytes>>,
}

impl KeepAlive {
    /// Connects to `addr`.
    pub async fn open(addr: SocketAddr) -> KeepAlive {
        let stream = TcpStream::connect(addr).await.unwrap();
        let (sender, connection) =
            hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(stream))
                .await
                .unwrap();
        tokio::spawn(connection);
        KeepAlive { addr, sender }
    }

    /// One request on this connection, with an optional body of the given content type.
    pub async fn send_body(
        &mut self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: Option<(&str, String)>,
    ) -> Reply {
        let mut request = Request::builder()
            .method(method)
            .uri(path)
            .header("host", self.addr.to_string());
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        let bytes = match body {
            Some((content_type, text)) => {
                request = request.header("content-type", content_type);
                Bytes::from(text)
            }
            None => Bytes::new(),
        };
        self.sender.ready().await.unwrap();
        let response = self
            .sender
            .send_request(request.body(Full::new(bytes)).unwrap())
            .await
            .unwrap();
        let status = response.status();
        let headers = response.headers().clone();
        let body = response.into_body().collect().await.unwrap().to_bytes();
        Reply {
            status,
            headers,
            body: String::from_utf8_lossy(&body).into_owned(),
        }
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
