//! Throwaway Redis servers for tests: one `redis-server` on a free loopback port, or a
//! Redis Cluster of three masters. Both need the Debian package `redis-server` (which also
//! brings `redis-cli`); when it is missing, [`redis_server_program`] is `None` and tests call
//! [`skip`](crate::skip).

use std::io::{self, BufRead, BufReader, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use crate::startup::{StartFailure, on_fresh_ports, start_watched};
use crate::{ChildGuard, find_program, wait_until};

/// How long a server may take to accept connections.
const START_TIMEOUT: Duration = Duration::from_secs(20);

/// Runs `"$@"` (the server) in the background and stops it when the shell's stdin closes;
/// the shell exits when the server does, with the server's output as its own.
const LIFELINE_SCRIPT: &str = r#"exec 3<&0
"$@" <&- 3<&- &
server=$!
(cat <&3 >/dev/null; kill "$server" 2>/dev/null) >/dev/null 2>&1 &
exec 3<&-
wait "$server""#;

/// The `redis-server` program, if installed.
pub fn redis_server_program() -> Option<PathBuf> {
    find_program("redis-server")
}

/// The `redis-cli` program, if installed.
pub fn redis_cli_program() -> Option<PathBuf> {
    find_program("redis-cli")
}

/// One `redis-server` on 127.0.0.1, with its data in a private temporary directory, stopped
/// when dropped. No persistence (no RDB, no AOF) unless it is part of a cluster.
#[derive(Debug)]
pub struct RedisServer {
    port: u16,
    dir: tempfile::TempDir,
    extra_args: Vec<String>,
    /// Whether the port speaks TLS only (no plain-text port).
    tls: bool,
    child: Option<ChildGuard>,
    /// The server's shell stops it when this closes.
    lifeline: Option<std::process::ChildStdin>,
}

/// Sends one inline command and returns the first reply line (`+PONG`, `$12` …).
pub fn redis_command(port: u16, command: &str) -> io::Result<String> {
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    let mut stream = TcpStream::connect_timeout(&addr, Duration::from_secs(2))?;
    stream.set_read_timeout(Some(Duration::from_secs(5)))?;
    stream.write_all(format!("{command}\r\n").as_bytes())?;
    let mut reader = BufReader::new(stream);
    let mut line = String::new();
    reader.read_line(&mut line)?;
    if let Some(length) = line
        .strip_prefix('$')
        .and_then(|n| n.trim().parse::<usize>().ok())
    {
        let mut body = vec![0u8; length + 2];
        io::Read::read_exact(&mut reader, &mut body)?;
        return Ok(String::from_utf8_lossy(&body).into_owned());
    }
    Ok(line.trim_end().to_owned())
}

fn answers_ping(port: u16) -> bool {
    redis_command(port, "PING").is_ok_and(|reply| reply == "+PONG")
}

/// A free loopback port whose cluster bus port (`port + 10000`) is free too.
fn free_cluster_port() -> u16 {
    loop {
        let port = crate::free_port();
        if port < 55_000 && TcpListener::bind(("127.0.0.1", port + 10_000)).is_ok() {
            return port;
        }
    }
}

impl RedisServer {
    /// Starts a server on a free port (another one when that port is taken before the server
    /// binds it). `Err` when `redis-server` is not installed or does not come up (the message
    /// says which).
    pub fn start() -> Result<RedisServer, String> {
        Self::start_with(Vec::new())
    }

    /// A server for `test`, or `None` once [`crate::skip`] has reported that `redis-server`
    /// is not installed (a failure when servers are required). Panics when it is installed
    /// but does not come up.
    #[track_caller]
    pub fn start_for(test: &str) -> Option<RedisServer> {
        if redis_server_program().is_none() {
            crate::skip(test, "redis-server (Debian package redis-server)");
            return None;
        }
        match RedisServer::start() {
            Ok(server) => Some(server),
            Err(message) => panic!("{test}: {message}"),
        }
    }

    fn start_with(extra_args: Vec<String>) -> Result<RedisServer, String> {
        Self::start_on_ports(extra_args, false, crate::free_port)
    }

    /// Starts a server that speaks only TLS on its port, with the certificate chain `cert`
    /// and the private key `key` (PEM files), not asking clients for certificates. Its
    /// [`url`](Self::url) is `rediss://127.0.0.1:PORT/0`.
    pub fn start_tls(cert: &Path, key: &Path) -> Result<RedisServer, String> {
        let args = vec![
            "--tls-cert-file".into(),
            cert.display().to_string(),
            "--tls-key-file".into(),
            key.display().to_string(),
            "--tls-auth-clients".into(),
            "no".into(),
        ];
        Self::start_on_ports(args, true, crate::free_port)
    }

    fn start_on_ports(
        extra_args: Vec<String>,
        tls: bool,
        mut pick_port: impl FnMut() -> u16,
    ) -> Result<RedisServer, String> {
        let dir = tempfile::Builder::new()
            .prefix("sessions-redis-")
            .tempdir()
            .map_err(|e| format!("cannot create a directory for redis-server: {e}"))?;
        let mut server = RedisServer {
            port: 0,
            dir,
            extra_args,
            tls,
            child: None,
            lifeline: None,
        };
        on_fresh_ports(&mut pick_port, |port| {
            server.port = port;
            server.launch()
        })
        .map_err(|e| e.to_string())?;
        Ok(server)
    }

    fn launch(&mut self) -> Result<(), StartFailure> {
        let program = redis_server_program().ok_or_else(|| {
            StartFailure::Failed("redis-server (Debian package redis-server)".into())
        })?;
        // redis-server runs under a small shell that stops it when our end of its stdin closes,
        // so a test process that exits without running destructors (statics, a panic) does not
        // leave servers behind. The shell exits with the server, so a server that cannot
        // start is seen at once.
        let mut command = Command::new("sh");
        command
            .arg("-c")
            .arg(LIFELINE_SCRIPT)
            .arg("redis-server-guard")
            .arg(program)
            .args(self.port_args())
            .args(["--bind", "127.0.0.1"])
            .args(["--save", ""])
            .args(["--appendonly", "no"])
            .args(["--daemonize", "no"])
            .args(["--dir", &self.dir.path().display().to_string()])
            .args(&self.extra_args)
            .stdin(Stdio::piped());
        let port = self.port;
        let mut guard = start_watched(
            &format!("redis-server :{port}"),
            &mut command,
            "Ready to accept connections",
            START_TIMEOUT,
        )?
        .guard;
        let lifeline = guard.take_stdin();
        // A TLS server's PING would need a TLS client; its ready line has to do.
        if !self.tls && !answers_ping(port) {
            drop(lifeline);
            guard.stop();
            return Err(StartFailure::Failed(format!(
                "redis-server on port {port} said it was ready but does not answer PING"
            )));
        }
        self.lifeline = lifeline;
        self.child = Some(guard);
        Ok(())
    }

    fn port_args(&self) -> [String; 4] {
        let port = self.port.to_string();
        if self.tls {
            ["--port".into(), "0".into(), "--tls-port".into(), port]
        } else {
            ["--port".into(), port, "--tls-port".into(), "0".into()]
        }
    }

    /// The port.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// `redis://127.0.0.1:PORT/0` (`rediss://` for a TLS server).
    pub fn url(&self) -> String {
        let scheme = if self.tls { "rediss" } else { "redis" };
        format!("{scheme}://127.0.0.1:{}/0", self.port)
    }

    /// Stops the server (SIGTERM, then SIGKILL) and waits for it to exit.
    pub fn stop(&mut self) {
        drop(self.lifeline.take());
        if let Some(mut child) = self.child.take() {
            let _ = wait_until(Duration::from_secs(10), || !child.is_running());
            child.stop();
        }
    }

    /// Starts the server again on the same port (after [`stop`](Self::stop)).
    pub fn restart(&mut self) -> Result<(), String> {
        self.stop();
        self.launch().map_err(|e| e.to_string())
    }

    /// Whether the server answers `PING` (over plain TCP: never for a TLS server).
    pub fn is_up(&self) -> bool {
        answers_ping(self.port)
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        self.stop();
    }
}

/// A Redis Cluster of masters without replicas on 127.0.0.1, each in its own temporary
/// directory, created with `redis-cli --cluster create … --cluster-yes`; stopped when dropped.
#[derive(Debug)]
pub struct RedisCluster {
    nodes: Vec<RedisServer>,
}

impl RedisCluster {
    /// Starts `masters` (at least 3) nodes and joins them into a cluster covering all slots.
    pub fn start(masters: usize) -> Result<RedisCluster, String> {
        let cli = redis_cli_program().ok_or("redis-cli (Debian package redis-tools)")?;
        let mut nodes = Vec::new();
        for _ in 0..masters.max(3) {
            nodes.push(RedisServer::start_on_ports(
                vec![
                    "--cluster-enabled".into(),
                    "yes".into(),
                    "--cluster-config-file".into(),
                    "nodes.conf".into(),
                    "--cluster-node-timeout".into(),
                    "5000".into(),
                ],
                false,
                free_cluster_port,
            )?);
        }
        let addresses: Vec<String> = nodes
            .iter()
            .map(|n| format!("127.0.0.1:{}", n.port))
            .collect();
        let output = Command::new(cli)
            .arg("--cluster")
            .arg("create")
            .args(&addresses)
            .args(["--cluster-replicas", "0", "--cluster-yes"])
            .stdin(Stdio::null())
            .output()
            .map_err(|e| format!("cannot run redis-cli --cluster create: {e}"))?;
        if !output.status.success() {
            return Err(format!(
                "redis-cli --cluster create failed: {}",
                String::from_utf8_lossy(&output.stdout)
            ));
        }
        let ports: Vec<u16> = nodes.iter().map(|n| n.port).collect();
        let ready = wait_until(START_TIMEOUT, || {
            ports.iter().all(|&port| {
                redis_command(port, "CLUSTER INFO").is_ok_and(|info| {
                    info.contains("cluster_state:ok")
                        && info.contains("cluster_known_nodes:")
                        && info.contains(&format!("cluster_size:{}", ports.len()))
                })
            })
        });
        if ready.is_err() {
            return Err("the Redis Cluster did not reach cluster_state:ok".into());
        }
        Ok(RedisCluster { nodes })
    }

    /// `redis://127.0.0.1:PORT` of every node (seed URLs for a cluster client).
    pub fn node_urls(&self) -> Vec<String> {
        self.nodes
            .iter()
            .map(|n| format!("redis://127.0.0.1:{}", n.port))
            .collect()
    }

    /// `redis+cluster://127.0.0.1:P1,127.0.0.1:P2,…` (the store URL form).
    pub fn store_url(&self) -> String {
        let hosts: Vec<String> = self
            .nodes
            .iter()
            .map(|n| format!("127.0.0.1:{}", n.port))
            .collect();
        format!("redis+cluster://{}", hosts.join(","))
    }

    /// The nodes' ports.
    pub fn ports(&self) -> Vec<u16> {
        self.nodes.iter().map(|n| n.port).collect()
    }
}
