//! Helpers for kom-gateway's integration tests: a minimal HTTP/1.1 client and launchers for
//! the gateway and for httpkom.
#![allow(
    dead_code,
    unreachable_pub,
    missing_docs,
    clippy::unwrap_used,
    clippy::expect_used
)]

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::{Command, Stdio};
use std::sync::mpsc::Receiver;
use std::time::Duration;

use serde_json::Value;
use test_support::lyskomd::Lyskomd;
use test_support::startup::{Announced, on_fresh_ports, spawn_announced, start_watched};
use test_support::{ChildGuard, free_port};

/// One HTTP answer.
#[derive(Debug, Clone)]
pub struct Reply {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Reply {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|e| {
            panic!(
                "not JSON ({e}), status {}: {:?}",
                self.status,
                String::from_utf8_lossy(&self.body)
            )
        })
    }
}

/// An HTTP endpoint (gateway or httpkom) with an optional connection id.
#[derive(Debug, Clone)]
pub struct Http {
    pub addr: SocketAddr,
    pub connection: Option<String>,
}

impl Http {
    pub fn new(addr: SocketAddr) -> Self {
        Http {
            addr,
            connection: None,
        }
    }

    pub fn with_connection(&self, id: &str) -> Self {
        Http {
            addr: self.addr,
            connection: Some(id.to_string()),
        }
    }

    /// Sends one request (Connection: close) and reads the whole answer.
    pub fn request(
        &self,
        method: &str,
        path: &str,
        body: Option<&Value>,
        extra: &[(&str, &str)],
    ) -> Reply {
        let mut stream = TcpStream::connect(self.addr).unwrap();
        stream
            .set_read_timeout(Some(Duration::from_secs(60)))
            .unwrap();
        let body_bytes = body.map(|b| serde_json::to_vec(b).unwrap());
        let mut req = format!(
            "{method} {path} HTTP/1.1\r\nHost: {}\r\nConnection: close\r\n",
            self.addr
        );
        if let Some(id) = &self.connection {
            req.push_str(&format!("Httpkom-Connection: {id}\r\n"));
        }
        for (k, v) in extra {
            req.push_str(&format!("{k}: {v}\r\n"));
        }
        match &body_bytes {
            Some(b) => req.push_str(&format!(
                "Content-Type: application/json\r\nContent-Length: {}\r\n\r\n",
                b.len()
            )),
            None => req.push_str("Content-Length: 0\r\n\r\n"),
        }
        let mut bytes = req.into_bytes();
        if let Some(b) = body_bytes {
            bytes.extend(b);
        }
        stream.write_all(&bytes).unwrap();
        let mut raw = Vec::new();
        stream.read_to_end(&mut raw).unwrap();
        parse_reply(&raw)
    }

    pub fn get(&self, path: &str) -> Reply {
        self.request("GET", path, None, &[])
    }

    pub fn post(&self, path: &str, body: &Value) -> Reply {
        self.request("POST", path, Some(body), &[])
    }

    pub fn put(&self, path: &str, body: &Value) -> Reply {
        self.request("PUT", path, Some(body), &[])
    }

    pub fn delete(&self, path: &str) -> Reply {
        self.request("DELETE", path, None, &[])
    }
}

fn parse_reply(raw: &[u8]) -> Reply {
    let split = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("an HTTP header block");
    let head = String::from_utf8_lossy(&raw[..split]).into_owned();
    let mut lines = head.split("\r\n");
    let status_line = lines.next().unwrap();
    let status: u16 = status_line.split(' ').nth(1).unwrap().parse().unwrap();
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
        .collect();
    let mut body = raw[split + 4..].to_vec();
    let chunked = headers.iter().any(|(k, v)| {
        k.eq_ignore_ascii_case("transfer-encoding") && v.eq_ignore_ascii_case("chunked")
    });
    if chunked {
        body = dechunk(&body);
    }
    Reply {
        status,
        headers,
        body,
    }
}

fn dechunk(mut data: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    loop {
        let Some(nl) = data.windows(2).position(|w| w == b"\r\n") else {
            return out;
        };
        let size_text = String::from_utf8_lossy(&data[..nl]);
        let size =
            usize::from_str_radix(size_text.split(';').next().unwrap().trim(), 16).unwrap_or(0);
        if size == 0 {
            return out;
        }
        let start = nl + 2;
        out.extend_from_slice(&data[start..start + size]);
        data = &data[start + size + 2..];
    }
}

/// A throwaway lyskomd for `test`, or `None` (said loudly) when it is not installed.
pub fn lyskomd(test: &str) -> Option<Lyskomd> {
    let s = Lyskomd::start();
    if s.is_none() {
        test_support::skip(test, "lyskomd (Debian package lyskom-server)");
    }
    s
}

/// A running kom-gateway.
pub struct GatewayProcess {
    pub guard: ChildGuard,
    pub addr: SocketAddr,
    _dir: tempfile::TempDir,
}

/// Starts kom-gateway for `servers` (id, port on 127.0.0.1) with extra top-level TOML.
pub fn start_gateway(servers: &[(&str, u16)], extra: &str) -> GatewayProcess {
    // Dropping the output sends the gateway's later lines to the test's stderr.
    start_gateway_logging(servers, extra, "warn").0
}

/// [`start_gateway`] with `RUST_LOG` set to `filter`, and the gateway's later output
/// (stderr, line by line) for the test to read.
pub fn start_gateway_logging(
    servers: &[(&str, u16)],
    extra: &str,
    filter: &str,
) -> (GatewayProcess, Receiver<String>) {
    let dir = test_support::temp_dir();
    let mut toml = format!("listen = \"127.0.0.1:0\"\n{extra}\n");
    for (id, p) in servers {
        toml.push_str(&format!(
            "[[servers]]\nid = \"{id}\"\nname = \"Server {id}\"\nhost = \"127.0.0.1\"\nport = {p}\n"
        ));
    }
    let config = dir.path().join("kom-gateway.toml");
    std::fs::write(&config, toml).unwrap();
    let Announced {
        guard,
        addr,
        output,
        ..
    } = spawn_announced(
        "kom-gateway",
        Command::new(env!("CARGO_BIN_EXE_kom-gateway"))
            .arg("--config")
            .arg(&config)
            .env("RUST_LOG", filter)
            .stdin(Stdio::null()),
        "kom-gateway: listening on",
        Duration::from_secs(30),
    );
    let gateway = GatewayProcess {
        guard,
        addr,
        _dir: dir,
    };
    (gateway, output)
}

/// A running httpkom (PyPI 0.32) from the peers' virtualenv.
pub struct HttpkomProcess {
    pub guard: ChildGuard,
    pub addr: SocketAddr,
    _dir: tempfile::TempDir,
}

/// Starts httpkom for `servers`, or `None` when it is not installed.
pub fn start_httpkom(servers: &[(&str, u16)]) -> Option<HttpkomProcess> {
    let python = test_support::python_peer("python")?;
    let ok = Command::new(&python)
        .args(["-c", "import httpkom"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .ok()?
        .success();
    if !ok {
        return None;
    }
    let dir = test_support::temp_dir();
    let list: Vec<String> = servers
        .iter()
        .map(|(id, p)| format!("('{id}', 'Server {id}', '127.0.0.1', {p})"))
        .collect();
    let config = dir.path().join("httpkom.cfg");
    std::fs::write(
        &config,
        format!("HTTPKOM_LYSKOM_SERVERS = [{}]\n", list.join(", ")),
    )
    .unwrap();
    let (guard, port) = start_python_server("httpkom", |port| {
        let mut command = Command::new(&python);
        command
            .args(["-m", "httpkom", "--config"])
            .arg(&config)
            .args(["--host", "127.0.0.1", "--port", &port.to_string()]);
        command
    });
    let addr: SocketAddr = ([127, 0, 0, 1], port).into();
    Some(HttpkomProcess {
        guard,
        addr,
        _dir: dir,
    })
}

/// Starts a Python web server of the peers' virtualenv (hypercorn underneath) on a free port,
/// another when that one is taken first: `command` builds its command line for a port.
pub fn start_python_server(name: &str, command: impl Fn(u16) -> Command) -> (ChildGuard, u16) {
    on_fresh_ports(free_port, |port| {
        // hypercorn says this once it has bound the port.
        let watched = start_watched(
            name,
            command(port).stdin(Stdio::null()),
            "Running on http://",
            Duration::from_secs(60),
        )?;
        Ok((watched.guard, port))
    })
    .unwrap_or_else(|e| panic!("{name} did not start: {e}"))
}

/// Opens a connection and returns the endpoint carrying its id.
pub fn open(http: &Http, server: &str) -> (Http, u32) {
    let r = http.post(
        &format!("/{server}/sessions/"),
        &serde_json::json!({"client": {"name": "tests", "version": "1.0"}}),
    );
    assert_eq!(r.status, 201, "{:?}", String::from_utf8_lossy(&r.body));
    let v = r.json();
    let id = v["connection_id"].as_str().unwrap().to_string();
    assert_eq!(r.header("Httpkom-Connection"), Some(id.as_str()));
    (
        http.with_connection(&id),
        v["session_no"].as_u64().unwrap() as u32,
    )
}

/// What the WebSocket endpoint answered: the handshake's status, and (when it upgraded) the
/// answers to the messages sent, sorted by `ref_no`.
pub struct WsExchange {
    pub status: u16,
    pub answers: Vec<Value>,
}

/// A minimal WebSocket client (RFC 6455, text frames, client-side masking), written out here
/// so that the gateway's framing is checked by code independent of the library it uses.
pub struct WsClient {
    stream: TcpStream,
}

impl WsClient {
    /// Opens `/websocket?Httpkom-Connection=<connection>` on `addr`: the client, or the
    /// status the server refused the handshake with.
    pub fn open(addr: SocketAddr, connection: &str) -> Result<WsClient, u16> {
        let mut stream = TcpStream::connect(addr).unwrap();
        stream
            .set_read_timeout(Some(Duration::from_secs(60)))
            .unwrap();
        let request = format!(
            "GET /websocket?Httpkom-Connection={connection} HTTP/1.1\r\nHost: {addr}\r\n\
             Upgrade: websocket\r\nConnection: Upgrade\r\n\
             Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
        );
        stream.write_all(request.as_bytes()).unwrap();
        let mut head = Vec::new();
        let mut byte = [0u8; 1];
        while !head.ends_with(b"\r\n\r\n") {
            stream.read_exact(&mut byte).unwrap();
            head.push(byte[0]);
        }
        let head = String::from_utf8_lossy(&head).to_string();
        let status: u16 = head
            .split_whitespace()
            .nth(1)
            .and_then(|s| s.parse().ok())
            .unwrap();
        if status != 101 {
            return Err(status);
        }
        assert!(
            head.to_ascii_lowercase()
                .contains("sec-websocket-accept: s3pplmbitxaq9kygzzhzrbk+xoo="),
            "{head}"
        );
        Ok(WsClient { stream })
    }

    /// Sends one JSON message.
    pub fn send(&mut self, message: &Value) {
        self.stream
            .write_all(&client_frame(0x1, message.to_string().as_bytes()))
            .unwrap();
    }

    /// The next JSON message, or `None` when the server closes the socket.
    pub fn receive(&mut self) -> Option<Value> {
        loop {
            let (opcode, payload) = read_frame(&mut self.stream);
            match opcode {
                0x1 => return Some(serde_json::from_slice::<Value>(&payload).unwrap()),
                0x8 => return None,
                _ => {}
            }
        }
    }

    /// Closes the socket.
    pub fn close(mut self) {
        let _ = self.stream.write_all(&client_frame(0x8, &[0x03, 0xe8]));
    }
}

/// Opens the WebSocket, sends `messages` and waits for `expected` answers (up to a minute
/// each), sorted by `ref_no`.
pub fn ws_exchange(
    addr: SocketAddr,
    connection: &str,
    messages: &[Value],
    expected: usize,
) -> WsExchange {
    let mut ws = match WsClient::open(addr, connection) {
        Ok(ws) => ws,
        Err(status) => {
            return WsExchange {
                status,
                answers: Vec::new(),
            };
        }
    };
    for m in messages {
        ws.send(m);
    }
    let mut answers = Vec::new();
    while answers.len() < expected {
        answers.push(ws.receive().expect("the WebSocket was closed early"));
    }
    ws.close();
    answers.sort_by_key(|a| a["ref_no"].to_string());
    WsExchange {
        status: 101,
        answers,
    }
}

fn client_frame(opcode: u8, payload: &[u8]) -> Vec<u8> {
    let mask = [0x37u8, 0xfa, 0x21, 0x3d];
    let mut f = vec![0x80 | opcode];
    match payload.len() {
        n if n < 126 => f.push(0x80 | n as u8),
        n if n < 65536 => {
            f.push(0x80 | 126);
            f.extend_from_slice(&(n as u16).to_be_bytes());
        }
        n => {
            f.push(0x80 | 127);
            f.extend_from_slice(&(n as u64).to_be_bytes());
        }
    }
    f.extend_from_slice(&mask);
    f.extend(payload.iter().enumerate().map(|(i, b)| b ^ mask[i % 4]));
    f
}

fn read_frame(stream: &mut TcpStream) -> (u8, Vec<u8>) {
    let mut h = [0u8; 2];
    stream.read_exact(&mut h).unwrap();
    assert!(h[0] & 0x80 != 0, "fragmented frames are not expected here");
    assert!(h[1] & 0x80 == 0, "a server must not mask its frames");
    let len = match h[1] & 0x7f {
        126 => {
            let mut b = [0u8; 2];
            stream.read_exact(&mut b).unwrap();
            u16::from_be_bytes(b) as usize
        }
        127 => {
            let mut b = [0u8; 8];
            stream.read_exact(&mut b).unwrap();
            u64::from_be_bytes(b) as usize
        }
        n => n as usize,
    };
    let mut payload = vec![0u8; len];
    stream.read_exact(&mut payload).unwrap();
    (h[0] & 0x0f, payload)
}
