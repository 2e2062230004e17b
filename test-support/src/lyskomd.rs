//! A throwaway LysKOM server (`lyskomd` from the Debian package `lyskom-server`) for tests.
//!
//! [`Lyskomd::start`] copies the package's English template database into a private
//! directory, writes a configuration with every path under it, starts `lyskomd -f CONF` in
//! the foreground on a free loopback port (another when that one is taken before lyskomd binds
//! it) and waits until a full Protocol A handshake
//! succeeds. Dropping the handle stops the server (SIGTERM) and removes the directory.
//! The built-in administrator is person 5 with the password `gazonk`.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::startup::{on_fresh_ports, start_watched};
use crate::{ChildGuard, find_program, free_port};

/// Where the Debian package keeps the template database.
pub const TEMPLATE_DIR: &str = "/usr/share/lyskom-server/default";
/// The aux-item definitions the package installs.
pub const AUX_ITEMS_CONF: &str = "/etc/lyskom-server/aux-items.conf";
/// The built-in administrator's person number.
pub const ADMIN_PERSON: u32 = 5;
/// The built-in administrator's password.
pub const ADMIN_PASSWORD: &str = "gazonk";

/// A running throwaway lyskomd.
#[derive(Debug)]
pub struct Lyskomd {
    guard: ChildGuard,
    port: u16,
    dir: tempfile::TempDir,
}

impl Lyskomd {
    /// The `lyskomd` program, if installed.
    pub fn program() -> Option<PathBuf> {
        find_program("lyskomd").filter(|_| Path::new(TEMPLATE_DIR).join("lyskomd-data-en").exists())
    }

    /// Starts a fresh server, or returns `None` when lyskomd is not installed (the caller
    /// then calls [`crate::skip`]). Panics if an installed lyskomd does not come up.
    pub fn start() -> Option<Lyskomd> {
        Lyskomd::start_with_env(&[])
    }

    /// Like [`Lyskomd::start`], with extra environment variables for the server process
    /// (e.g. `ADNS_RES_CONF_TEXT` to point its resolver at a fast local responder).
    pub fn start_with_env(env: &[(&str, &str)]) -> Option<Lyskomd> {
        let program = Lyskomd::program()?;
        let dir = tempfile::Builder::new()
            .prefix("lyskomd-test-")
            .tempdir()
            .unwrap_or_else(|e| panic!("cannot create a directory for lyskomd: {e}"));
        let root = dir.path();
        let copy = |from: &str, to: &str| {
            std::fs::copy(Path::new(TEMPLATE_DIR).join(from), root.join(to))
                .unwrap_or_else(|e| panic!("cannot copy the lyskomd template {from}: {e}"));
        };
        copy("lyskomd-data-en", "lyskomd-data");
        copy("lyskomd-texts", "lyskomd-texts");
        copy("number.txt", "number.txt");
        let _ = std::fs::create_dir(root.join("cores"));
        let (guard, port) = on_fresh_ports(free_port, |port| {
            // An attempt that lost its port leaves its lock file behind.
            let _ = std::fs::remove_file(root.join("lyskomd-lock"));
            let conf_path = write_config(root, port);
            let mut command = Command::new(&program);
            command
                .arg("-f")
                .arg(&conf_path)
                .current_dir(root)
                .stdin(Stdio::null());
            for (k, v) in env {
                command.env(k, v);
            }
            // lyskomd says this once it has bound the port; a taken port it retries for ten
            // seconds, then says it cannot listen and aborts.
            let watched = start_watched(
                "lyskomd",
                &mut command,
                "Listening for clients on",
                Duration::from_secs(30),
            )?;
            Ok((watched.guard, port))
        })
        .unwrap_or_else(|e| panic!("lyskomd did not start: {e}"));
        let mut server = Lyskomd { guard, port, dir };
        server.wait_ready(Duration::from_secs(30));
        Some(server)
    }

    fn wait_ready(&mut self, timeout: Duration) {
        let deadline = Instant::now() + timeout;
        loop {
            if handshake(self.addr()).is_ok() {
                return;
            }
            if !self.guard.is_running() {
                let log =
                    std::fs::read_to_string(self.dir.path().join("server-log")).unwrap_or_default();
                panic!("lyskomd exited during start-up; its log:\n{log}");
            }
            if Instant::now() >= deadline {
                panic!("lyskomd did not answer a handshake within {timeout:?}");
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// The port it listens on (loopback).
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Its address.
    pub fn addr(&self) -> SocketAddr {
        SocketAddr::from(([127, 0, 0, 1], self.port))
    }

    /// `127.0.0.1:PORT`, for clients that take a string.
    pub fn addr_string(&self) -> String {
        self.addr().to_string()
    }

    /// The server's process id.
    pub fn pid(&self) -> u32 {
        self.guard.pid()
    }

    /// The directory holding its database and logs.
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// Stops the server now (SIGTERM: it saves and exits).
    pub fn stop(&mut self) {
        self.guard.stop();
    }

    /// Kills the server at once (SIGKILL), as a crash would.
    pub fn kill(&mut self) {
        self.guard.kill();
    }
}

/// Writes a configuration for a server on `port` with every file under `root`; returns its
/// path.
fn write_config(root: &Path, port: u16) -> PathBuf {
    let p = |name: &str| root.join(name).display().to_string();
    let config = format!(
        "Client port: {port}\n\
         Client host: ::ffff:127.0.0.1\n\
         Max conferences: 4765\n\
         Max texts: 2000000\n\
         Ident-authentication: never\n\
         Force ISO 8859-1: yes\n\
         Data file: {}\n\
         Backup file: {}\n\
         Backup file 2: {}\n\
         Lock file: {}\n\
         Text file: {}\n\
         Text backup file: {}\n\
         Number file: {}\n\
         Number temp file: {}\n\
         Connection status file: {}\n\
         Connection status temp file: {}\n\
         Log file: {}\n\
         Log statistics: {}\n\
         Memory usage file: {}\n\
         Pid file: {}\n\
         Status file: {}\n\
         Core directory: {}\n\
         Aux-item definition file: {AUX_ITEMS_CONF}\n",
        p("lyskomd-data"),
        p("lyskomd-backup"),
        p("lyskomd-backup-prev"),
        p("lyskomd-lock"),
        p("lyskomd-texts"),
        p("lyskomd-texts-backup"),
        p("number.txt"),
        p("number.tmp"),
        p("lyskomd.clients"),
        p("lyskomd.clnt.tmp"),
        p("server-log"),
        p("lyskomd-log"),
        p("memory-usage"),
        p("pid"),
        p("status"),
        p("cores"),
    );
    let path = root.join("lyskomd.conf");
    std::fs::write(&path, config)
        .unwrap_or_else(|e| panic!("cannot write the lyskomd configuration: {e}"));
    path
}

/// One full Protocol A handshake against `addr`: `A5Hprobe` answered by `LysKOM`.
pub fn handshake(addr: SocketAddr) -> std::io::Result<()> {
    let mut stream = TcpStream::connect_timeout(&addr, Duration::from_millis(500))?;
    stream.set_read_timeout(Some(Duration::from_secs(10)))?;
    stream.write_all(b"A5Hprobe\n")?;
    let mut buf = [0u8; 7];
    stream.read_exact(&mut buf)?;
    if &buf == b"LysKOM\n" {
        Ok(())
    } else {
        Err(std::io::Error::other("not a LysKOM server"))
    }
}
