//! Shared helpers of the sessionctl CLI tests: a local HTTP test server, the built binary with
//! a private HTTPIE_CONFIG_DIR, and the real HTTPie from the peers' virtualenv.
#![allow(dead_code, unreachable_pub, clippy::unwrap_used, clippy::expect_used)]

use std::convert::Infallible;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use bytes::Bytes;
use http::{Request, Response, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use serde_json::{Map, Value, json};

/// A local HTTP server, running on its own thread until the process ends.
///
/// Routes (all answer with a JSON echo of the request: method, path, query, headers, body):
/// - `/set?name=value&…`: sets each cookie with `Path=/`;
/// - `/del?name&…`: deletes each cookie (`Max-Age=0`);
/// - `/redirect?to=URL[&set=name=value][&body=TEXT]`: 302 to URL (optionally setting a cookie
///   first; with `body`, the text body TEXT instead of the echo);
/// - `/status/NNN`: status NNN with the text body `status NNN` (no final newline) instead of
///   the echo;
/// - `/slow?ms=N`: the echo after N milliseconds;
/// - anything else: the echo.
pub struct TestServer {
    pub addr: SocketAddr,
}

impl TestServer {
    pub fn start() -> TestServer {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let addr = listener.local_addr().unwrap();
        std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            runtime.block_on(async move {
                let listener = tokio::net::TcpListener::from_std(listener).unwrap();
                loop {
                    let Ok((stream, _)) = listener.accept().await else {
                        continue;
                    };
                    tokio::spawn(async move {
                        let _ = hyper::server::conn::http1::Builder::new()
                            .serve_connection(TokioIo::new(stream), service_fn(handle))
                            .await;
                    });
                }
            });
        });
        test_support::wait_for_tcp(addr, std::time::Duration::from_secs(10)).unwrap();
        TestServer { addr }
    }

    pub fn port(&self) -> u16 {
        self.addr.port()
    }

    /// `http://localhost:PORT{path}`.
    pub fn localhost(&self, path: &str) -> String {
        format!("http://localhost:{}{path}", self.port())
    }

    /// `http://127.0.0.1:PORT{path}`: another host on the same server.
    pub fn ip(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port())
    }

    /// A `localhost` URL that redirects `hops` times before it reaches `end` (a path).
    pub fn redirect_chain(&self, hops: usize, end: &str) -> String {
        let mut url = self.localhost(end);
        for _ in 0..hops {
            url = self.localhost(&format!("/redirect?to={}", url_encode(&url)));
        }
        url
    }
}

/// `s` as a query value.
pub fn url_encode(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

fn query_pairs(query: &str) -> Vec<(String, String)> {
    url::form_urlencoded::parse(query.as_bytes())
        .into_owned()
        .collect()
}

async fn handle(request: Request<Incoming>) -> Result<Response<Full<Bytes>>, Infallible> {
    let (parts, body) = request.into_parts();
    let body = body
        .collect()
        .await
        .map(|b| b.to_bytes())
        .unwrap_or_default();
    let path = parts.uri.path().to_string();
    let query = parts.uri.query().unwrap_or("").to_string();
    let mut headers = Map::new();
    for (name, value) in &parts.headers {
        headers.insert(
            name.as_str().to_string(),
            Value::String(value.to_str().unwrap_or("").to_string()),
        );
    }
    let echo = json!({
        "method": parts.method.as_str(),
        "path": path,
        "query": query,
        "headers": headers,
        "body": String::from_utf8_lossy(&body),
    });
    if let Some(code) = path.strip_prefix("/status/") {
        let status = code
            .parse::<u16>()
            .ok()
            .and_then(|c| StatusCode::from_u16(c).ok())
            .unwrap_or(StatusCode::BAD_REQUEST);
        return Ok(Response::builder()
            .status(status)
            .header("content-type", "text/plain")
            .body(Full::new(Bytes::from(format!(
                "status {}",
                status.as_u16()
            ))))
            .unwrap());
    }
    if path == "/slow" {
        let ms = query_pairs(&query)
            .into_iter()
            .find(|(name, _)| name == "ms")
            .and_then(|(_, value)| value.parse().ok())
            .unwrap_or(1000);
        tokio::time::sleep(std::time::Duration::from_millis(ms)).await;
    }
    let mut response = Response::builder();
    let mut text = None;
    match path.as_str() {
        "/set" => {
            for (name, value) in query_pairs(&query) {
                response = response.header("set-cookie", format!("{name}={value}; Path=/"));
            }
        }
        "/del" => {
            for (name, _) in query_pairs(&query) {
                response = response.header("set-cookie", format!("{name}=; Path=/; Max-Age=0"));
            }
        }
        "/redirect" => {
            response = response.status(StatusCode::FOUND);
            for (name, value) in query_pairs(&query) {
                match name.as_str() {
                    "to" => response = response.header("location", value),
                    "set" => response = response.header("set-cookie", format!("{value}; Path=/")),
                    "body" => text = Some(value),
                    _ => {}
                }
            }
        }
        _ => {}
    }
    let (content_type, body) = match text {
        Some(text) => ("text/plain", text),
        None => ("application/json", echo.to_string()),
    };
    Ok(response
        .header("content-type", content_type)
        .body(Full::new(Bytes::from(body)))
        .unwrap())
}

/// The built `sessionctl` with `HTTPIE_CONFIG_DIR` set to `config`.
pub fn sessionctl(config: &Path) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_sessionctl"));
    command
        .env("HTTPIE_CONFIG_DIR", config)
        .env_remove("HOME_OVERRIDE");
    command
}

/// Runs a command and returns its output.
pub fn run(command: &mut Command) -> Output {
    command.output().unwrap()
}

pub fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

pub fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// Asserts success and returns standard output.
pub fn ok(command: &mut Command) -> String {
    let output = run(command);
    assert!(
        output.status.success(),
        "command failed: {command:?}\nstdout: {}\nstderr: {}",
        stdout(&output),
        stderr(&output)
    );
    stdout(&output)
}

/// The JSON echo in a `sessionctl --json request` output.
pub fn echoed(output: &str) -> Value {
    let response: Value = serde_json::from_str(output.trim()).unwrap();
    response["json"].clone()
}

/// HTTPie's `http` from the peers' virtualenv, with `HTTPIE_CONFIG_DIR` set to `config`
/// and `--ignore-stdin`; `None` (after a loud skip) when HTTPie is not installed.
pub fn httpie(test: &str, config: &Path) -> Option<Command> {
    let mut command = httpie_reading_stdin(test, config)?;
    command.arg("--ignore-stdin");
    Some(command)
}

/// [`httpie`] without `--ignore-stdin`: HTTPie reads its standard input as the body.
pub fn httpie_reading_stdin(test: &str, config: &Path) -> Option<Command> {
    let Some(program) = test_support::python_peer("http") else {
        test_support::skip(
            test,
            "HTTPie 3.2.4 (pip install httpie==3.2.4 into the peers venv)",
        );
        return None;
    };
    let mut command = Command::new(program);
    command.env("HTTPIE_CONFIG_DIR", config);
    Some(command)
}

/// The session file `<config>/sessions/<host_dir>/<name>.json`.
pub fn session_path(config: &Path, host_dir: &str, name: &str) -> PathBuf {
    config
        .join("sessions")
        .join(host_dir)
        .join(format!("{name}.json"))
}

/// A session file's JSON.
pub fn session_json(path: &Path) -> Value {
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

/// The (name, value, domain, path) of every cookie in a session file, sorted.
pub fn cookie_set(file: &Value) -> Vec<(String, String, String, String)> {
    let mut cookies: Vec<_> = file["cookies"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            (
                c["name"].as_str().unwrap().to_string(),
                c["value"].as_str().unwrap().to_string(),
                c["domain"].as_str().unwrap_or("").to_string(),
                c["path"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    cookies.sort();
    cookies
}
