//! Starting servers without racing for ports.
//!
//! Our own binaries are told to listen on `127.0.0.1:0` and announce the address they bound
//! ([`spawn_announced`]): nothing can take the port between choosing and binding it. Peers
//! that must be given a port ([`on_fresh_ports`]) are started on a free one and, when the
//! port was taken meanwhile, on another, a bounded number of times. Both watch the child's
//! output ([`start_watched`]) for the line that says it is ready, so a test never mistakes
//! whatever else took the port for its own server.

use std::io::{BufRead, BufReader, Read};
use std::net::SocketAddr;
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use crate::ChildGuard;

/// How many ports a peer is tried on before [`on_fresh_ports`] gives up.
pub const PORT_ATTEMPTS: usize = 5;

/// What the servers we start print when their port is taken (`strerror(EADDRINUSE)`), and
/// lyskomd's own words for it.
pub const PORT_TAKEN_MARKERS: &[&str] = &["Address already in use", "can't isc_listentcp"];

/// A started child whose ready line was seen.
#[derive(Debug)]
pub struct Watched {
    /// Stops the child when dropped.
    pub guard: ChildGuard,
    /// The line that said it was ready.
    pub ready_line: String,
    /// What it printed before, on either stream.
    pub said_before: Vec<String>,
    /// Its later output, line by line, stdout and stderr in the order they were read. Once
    /// this is dropped, the output goes to the test's stderr instead.
    pub output: mpsc::Receiver<String>,
}

/// Why [`start_watched`] did not see the child become ready.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StartFailure {
    /// The child said its port was already in use.
    PortTaken(String),
    /// It exited, stayed silent too long, or could not be spawned; the message says which
    /// and what it printed.
    Failed(String),
}

impl std::fmt::Display for StartFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            StartFailure::PortTaken(message) | StartFailure::Failed(message) => {
                f.write_str(message)
            }
        }
    }
}

/// Spawns `command` with stdout and stderr piped and waits up to `timeout` for a line
/// containing `ready`. A line with one of [`PORT_TAKEN_MARKERS`] is [`StartFailure::PortTaken`].
/// The child's further output is read on, so it never blocks on a full pipe: into
/// [`Watched::output`] while that is kept, else to the test's stderr.
pub fn start_watched(
    name: &str,
    command: &mut Command,
    ready: &str,
    timeout: Duration,
) -> Result<Watched, StartFailure> {
    let mut child = command
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| StartFailure::Failed(format!("cannot start {name}: {e}")))?;
    let (sender, lines) = mpsc::channel();
    if let Some(stdout) = child.stdout.take() {
        forward_lines(stdout, sender.clone());
    }
    if let Some(stderr) = child.stderr.take() {
        forward_lines(stderr, sender);
    }
    let guard = ChildGuard::new(name, child);
    let mut seen = Vec::new();
    let deadline = Instant::now() + timeout;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        let said = |seen: &[String]| seen.join("\n");
        match lines.recv_timeout(left) {
            Ok(line) if PORT_TAKEN_MARKERS.iter().any(|m| line.contains(m)) => {
                return Err(StartFailure::PortTaken(format!("{name}: {line}")));
            }
            Ok(line) if line.contains(ready) => {
                return Ok(Watched {
                    guard,
                    ready_line: line,
                    said_before: seen,
                    output: lines,
                });
            }
            Ok(line) => seen.push(line),
            Err(mpsc::RecvTimeoutError::Timeout) => {
                return Err(StartFailure::Failed(format!(
                    "{name} did not say {ready:?} within {timeout:?}; it said:\n{}",
                    said(&seen)
                )));
            }
            Err(mpsc::RecvTimeoutError::Disconnected) => {
                return Err(StartFailure::Failed(format!(
                    "{name} exited before saying {ready:?}; it said:\n{}",
                    said(&seen)
                )));
            }
        }
    }
}

/// Reads `pipe` line by line on a thread: lines go to `sender` while someone listens, then
/// to stderr.
fn forward_lines(pipe: impl Read + Send + 'static, sender: mpsc::Sender<String>) {
    std::thread::spawn(move || {
        let mut listening = true;
        for line in BufReader::new(pipe).lines() {
            let Ok(line) = line else { break };
            if listening {
                match sender.send(line) {
                    Ok(()) => continue,
                    Err(mpsc::SendError(line)) => {
                        listening = false;
                        eprintln!("{line}");
                    }
                }
            } else {
                eprintln!("{line}");
            }
        }
    });
}

/// A started server and the address it announced.
#[derive(Debug)]
pub struct Announced {
    /// Stops the server when dropped.
    pub guard: ChildGuard,
    /// The address the server announced.
    pub addr: SocketAddr,
    /// Everything else it printed, as in [`Watched`].
    pub said_before: Vec<String>,
    /// Its later output, as in [`Watched::output`].
    pub output: mpsc::Receiver<String>,
}

/// Starts one of our binaries, told to listen on `127.0.0.1:0`, and reads the address it
/// announces after `marker` (`127.0.0.1:PORT`, optionally after `http://` or `https://`).
/// Panics with what the binary printed when it exits or stays silent for `timeout`.
pub fn spawn_announced(
    name: &str,
    command: &mut Command,
    marker: &str,
    timeout: Duration,
) -> Announced {
    let watched = start_watched(name, command, marker, timeout).unwrap_or_else(|e| panic!("{e}"));
    let addr = announced_addr(&watched.ready_line, marker).unwrap_or_else(|| {
        panic!(
            "{name} announced no address after {marker:?}: {}",
            watched.ready_line
        )
    });
    Announced {
        guard: watched.guard,
        addr,
        said_before: watched.said_before,
        output: watched.output,
    }
}

/// The address after `marker` in `line`, if any.
pub fn announced_addr(line: &str, marker: &str) -> Option<SocketAddr> {
    let rest = line.split_once(marker)?.1.trim_start();
    let rest = rest
        .strip_prefix("http://")
        .or_else(|| rest.strip_prefix("https://"))
        .unwrap_or(rest);
    let end = rest
        .find(|c: char| c.is_whitespace() || c == '/')
        .unwrap_or(rest.len());
    rest[..end].parse().ok()
}

/// Runs `start` on ports from `pick_port` (usually [`free_port`](crate::free_port)) until it does not fail with
/// [`StartFailure::PortTaken`], at most [`PORT_ATTEMPTS`] times: for peers that must be given
/// their port.
pub fn on_fresh_ports<T>(
    mut pick_port: impl FnMut() -> u16,
    mut start: impl FnMut(u16) -> Result<T, StartFailure>,
) -> Result<T, StartFailure> {
    let mut last = None;
    for _ in 0..PORT_ATTEMPTS {
        match start(pick_port()) {
            Err(StartFailure::PortTaken(message)) => last = Some(message),
            other => return other,
        }
    }
    Err(StartFailure::Failed(format!(
        "every one of {PORT_ATTEMPTS} ports was taken; the last: {}",
        last.unwrap_or_default()
    )))
}

/// A server's output lines (as in [`Announced::output`]) until one contains every one of
/// `wanted`; returns every line read. Fails the test, showing what was read, when no such
/// line comes within a minute.
pub fn read_until(output: &mpsc::Receiver<String>, wanted: &[&str]) -> Vec<String> {
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut lines = Vec::new();
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match output.recv_timeout(left) {
            Ok(line) => {
                let found = wanted.iter().all(|w| line.contains(w));
                lines.push(line);
                if found {
                    return lines;
                }
            }
            Err(_) => panic!("no line with {wanted:?} in:\n{}", lines.join("\n")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_are_read_after_the_marker() {
        let marker = "listening on";
        assert_eq!(
            announced_addr("session-server listening on http://127.0.0.1:4000", marker),
            Some(([127, 0, 0, 1], 4000).into())
        );
        assert_eq!(
            announced_addr("listening on https://127.0.0.1:9/hac", marker),
            Some(([127, 0, 0, 1], 9).into())
        );
        assert_eq!(
            announced_addr("x listening on 127.0.0.1:5 now", marker),
            Some(([127, 0, 0, 1], 5).into())
        );
        assert_eq!(announced_addr("starting", marker), None);
        assert_eq!(announced_addr("listening on soon", marker), None);
    }

    #[test]
    fn an_announcement_on_stderr_is_found_after_other_lines() {
        let announced = spawn_announced(
            "sh",
            Command::new("sh").args([
                "-c",
                "echo warming up; echo 'ready: listening on http://127.0.0.1:7' >&2; exec sleep 60",
            ]),
            "listening on",
            Duration::from_secs(30),
        );
        assert_eq!(announced.addr, SocketAddr::from(([127, 0, 0, 1], 7)));
    }

    #[test]
    fn a_child_that_exits_silently_is_a_failure_with_its_output() {
        let failure = start_watched(
            "sh",
            Command::new("sh").args(["-c", "echo nothing to see"]),
            "listening on",
            Duration::from_secs(30),
        )
        .unwrap_err();
        assert!(
            matches!(&failure, StartFailure::Failed(m) if m.contains("exited") && m.contains("nothing to see")),
            "{failure:?}"
        );
    }

    #[test]
    fn a_taken_port_is_retried_on_another_until_it_starts() {
        let mut ports = Vec::new();
        let started = on_fresh_ports(crate::free_port, |port| {
            ports.push(port);
            let script = if ports.len() < 3 {
                "echo 'bind: Address already in use' >&2; exit 1"
            } else {
                "echo server up; exec sleep 60"
            };
            start_watched(
                "sh",
                Command::new("sh").args(["-c", script]),
                "server up",
                Duration::from_secs(30),
            )
        });
        assert!(started.is_ok(), "{started:?}");
        assert_eq!(ports.len(), 3);
    }

    #[test]
    fn a_port_that_stays_taken_gives_up_after_the_bounded_attempts() {
        let mut attempts = 0;
        let failure = on_fresh_ports(crate::free_port, |_| {
            attempts += 1;
            start_watched(
                "sh",
                Command::new("sh").args(["-c", "echo 'Address already in use' >&2"]),
                "server up",
                Duration::from_secs(30),
            )
        })
        .unwrap_err();
        assert_eq!(attempts, PORT_ATTEMPTS);
        assert!(
            matches!(&failure, StartFailure::Failed(m) if m.contains("taken")),
            "{failure:?}"
        );
    }
}
