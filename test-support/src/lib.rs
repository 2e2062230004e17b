//! Helpers shared by the workspace's integration tests.
//!
//! Tests talk to real servers and real peer tools. They start their own throwaway servers on
//! loopback without racing for ports ([`startup`]: our binaries bind port 0 and announce the
//! address, peers are retried on a fresh port when theirs was taken), stop them by PID
//! ([`ChildGuard`]), and find peer programs with [`find_program`] and [`python_peer`]. When something is missing they call [`skip`]: a
//! loud message on a developer's machine, a test failure when `SESSIONS_REQUIRE_SERVERS=1`
//! (which `.ci/run` sets).

use std::io;
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::Child;
use std::time::{Duration, Instant};

pub mod browser;
#[cfg(feature = "hac")]
pub mod hac;
#[cfg(feature = "http")]
pub mod http;
pub mod lyskomd;
pub mod redis;
pub mod startup;

/// The environment variable under which a missing server or peer fails a test.
pub const REQUIRE_SERVERS_VAR: &str = "SESSIONS_REQUIRE_SERVERS";
/// The environment variable naming the virtualenv that holds the Python peers.
pub const VENV_VAR: &str = "SESSIONS_VENV";

/// Whether missing servers must fail tests (`SESSIONS_REQUIRE_SERVERS=1`).
pub fn servers_required() -> bool {
    std::env::var(REQUIRE_SERVERS_VAR).is_ok_and(|v| v == "1")
}

/// Reports that `test` cannot run because `missing` is not available. Fails the test when
/// servers are required; otherwise prints a loud skip notice. Callers return right after.
#[track_caller]
pub fn skip(test: &str, missing: &str) {
    let message = format!(
        "SKIPPED {test}: {missing} is not available (install it with scripts/install-peers; \
         {REQUIRE_SERVERS_VAR}=1 makes this a failure)"
    );
    if servers_required() {
        panic!("{message}");
    }
    eprintln!("\n!!!!!!!! {message} !!!!!!!!\n");
}

/// A TCP port on 127.0.0.1 that was free a moment ago. Something else may take it before it is
/// used: start servers through [`startup`] instead.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .unwrap_or_else(|e| panic!("cannot find a free loopback port: {e}"))
}

/// Waits until something accepts TCP connections at `addr`, probing every 20 ms.
pub fn wait_for_tcp(addr: SocketAddr, timeout: Duration) -> io::Result<()> {
    wait_until(timeout, || {
        TcpStream::connect_timeout(&addr, Duration::from_millis(500)).is_ok()
    })
    .map_err(|_| {
        io::Error::new(
            io::ErrorKind::TimedOut,
            format!("nothing accepted connections at {addr} within {timeout:?}"),
        )
    })
}

/// [`wait_until`]'s probe never succeeded in time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TimedOut;

/// Polls `probe` every 20 ms until it returns true or `timeout` passes.
pub fn wait_until(timeout: Duration, mut probe: impl FnMut() -> bool) -> Result<(), TimedOut> {
    let deadline = Instant::now() + timeout;
    loop {
        if probe() {
            return Ok(());
        }
        if Instant::now() >= deadline {
            return Err(TimedOut);
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// A child process that is stopped when the guard drops: SIGTERM, then SIGKILL if it has not
/// exited within five seconds. Only ever signals the PID it started.
#[derive(Debug)]
pub struct ChildGuard {
    child: Option<Child>,
    name: String,
}

impl ChildGuard {
    /// Guards `child`, called `name` in messages.
    pub fn new(name: impl Into<String>, child: Child) -> Self {
        ChildGuard {
            child: Some(child),
            name: name.into(),
        }
    }

    /// The process id.
    pub fn pid(&self) -> u32 {
        self.child.as_ref().map_or(0, Child::id)
    }

    /// Takes the process's stdin pipe, if it was spawned with one.
    pub fn take_stdin(&mut self) -> Option<std::process::ChildStdin> {
        self.child.as_mut().and_then(|c| c.stdin.take())
    }

    /// Whether the process is still running.
    pub fn is_running(&mut self) -> bool {
        self.child
            .as_mut()
            .is_some_and(|c| matches!(c.try_wait(), Ok(None)))
    }

    /// Stops the process now (SIGTERM, then SIGKILL after five seconds) and waits for it.
    /// Returns how it exited, `None` when it was stopped before or cannot be waited for.
    pub fn stop(&mut self) -> Option<std::process::ExitStatus> {
        let mut child = self.child.take()?;
        terminate(&mut child, &self.name)
    }

    /// Kills the process at once with SIGKILL and waits for it.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Drop for ChildGuard {
    fn drop(&mut self) {
        let _ = self.stop();
    }
}

fn terminate(child: &mut Child, name: &str) -> Option<std::process::ExitStatus> {
    if let Ok(Some(status)) = child.try_wait() {
        return Some(status);
    }
    let _ = std::process::Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status();
    let exited = wait_until(Duration::from_secs(5), || {
        matches!(child.try_wait(), Ok(Some(_)))
    });
    if exited.is_err() {
        eprintln!("{name} (pid {}) ignored SIGTERM; killing it", child.id());
        let _ = child.kill();
    }
    child.wait().ok()
}

/// Finds an executable on `PATH` or in the system directories (`/usr/sbin`, `/sbin`).
pub fn find_program(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain(["/usr/local/sbin", "/usr/sbin", "/sbin"].map(PathBuf::from))
        .map(|dir| dir.join(name))
        .find(|candidate| is_executable(candidate))
}

fn is_executable(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    path.metadata()
        .is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

/// The workspace's root directory.
pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_else(|| PathBuf::from("."))
}

/// The virtualenv with the Python peers: `$SESSIONS_VENV`, else `target/peers-venv` in the
/// workspace (where `scripts/install-peers` puts it).
pub fn peers_venv() -> PathBuf {
    std::env::var_os(VENV_VAR)
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace_root().join("target").join("peers-venv"))
}

/// A program installed in the peers' virtualenv (`http`, `python`, `hac` …), if there.
pub fn python_peer(program: &str) -> Option<PathBuf> {
    let candidate = peers_venv().join("bin").join(program);
    is_executable(&candidate).then_some(candidate)
}

/// The path of a program built from this workspace (`sessionctl`, `kom-gateway` …), for
/// tests outside the program's own package. Inside the package prefer
/// `env!("CARGO_BIN_EXE_<name>")`.
pub fn workspace_binary(name: &str) -> PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace_root().join("target"));
    let profile = if cfg!(debug_assertions) {
        "debug"
    } else {
        "release"
    };
    target.join(profile).join(name)
}

/// A fresh private temporary directory, removed on drop.
pub fn temp_dir() -> tempfile::TempDir {
    tempfile::Builder::new()
        .prefix("sessions-test-")
        .tempdir()
        .unwrap_or_else(|e| panic!("cannot create a temporary directory: {e}"))
}
