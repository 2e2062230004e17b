//! Headless Chromium driven through chromedriver, for end-to-end tests of web clients.
//!
//! [`Chromedriver::start`] runs `chromedriver` (Debian `chromium-driver`) on a free loopback
//! port (another when that one is taken first) and waits until it says it has started;
//! [`Chromedriver::capabilities_json`] gives the W3C capabilities for a headless Chromium with
//! a fresh private profile, to pass to a WebDriver client (the workspace pins `fantoccini`).
//! Dropping the handle stops chromedriver (which ends its browsers) and removes the profile
//! directory.

use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::Duration;

use crate::startup::{on_fresh_ports, start_watched};
use crate::{ChildGuard, find_program, free_port};

/// The flags every test browser runs with.
pub const CHROMIUM_FLAGS: &[&str] = &[
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
];

/// A running chromedriver.
#[derive(Debug)]
pub struct Chromedriver {
    guard: ChildGuard,
    port: u16,
    profile: tempfile::TempDir,
    chromium: PathBuf,
}

impl Chromedriver {
    /// Starts chromedriver, or returns `None` when chromium or chromedriver is not installed
    /// (the caller then calls [`crate::skip`]). Panics if an installed one does not come up.
    pub fn start() -> Option<Chromedriver> {
        let driver = find_program("chromedriver")?;
        let chromium = find_program("chromium").or_else(|| find_program("chromium-browser"))?;
        let (guard, port) = on_fresh_ports(free_port, |port| {
            let watched = start_watched(
                "chromedriver",
                Command::new(&driver)
                    .arg(format!("--port={port}"))
                    .arg("--allowed-ips=127.0.0.1")
                    .stdin(Stdio::null()),
                "started successfully",
                Duration::from_secs(30),
            )?;
            Ok((watched.guard, port))
        })
        .unwrap_or_else(|e| panic!("chromedriver did not start: {e}"));
        let profile = tempfile::Builder::new()
            .prefix("chromium-profile-")
            .tempdir()
            .unwrap_or_else(|e| panic!("cannot create a browser profile directory: {e}"));
        Some(Chromedriver {
            guard,
            port,
            profile,
            chromium,
        })
    }

    /// The WebDriver URL, `http://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// chromedriver's process id.
    pub fn pid(&self) -> u32 {
        self.guard.pid()
    }

    /// The Chromium flags including the fresh `--user-data-dir`.
    pub fn chromium_args(&self) -> Vec<String> {
        CHROMIUM_FLAGS
            .iter()
            .map(|f| (*f).to_string())
            .chain([format!("--user-data-dir={}", self.profile.path().display())])
            .collect()
    }

    /// W3C capabilities as JSON text: `{"browserName":"chrome","goog:chromeOptions":{…}}`.
    /// Parse it with the JSON library at hand and give it to the WebDriver client.
    pub fn capabilities_json(&self) -> String {
        let args: Vec<String> = self
            .chromium_args()
            .iter()
            .map(|a| format!("\"{}\"", a.replace('\\', "\\\\").replace('"', "\\\"")))
            .collect();
        format!(
            "{{\"browserName\":\"chrome\",\"goog:chromeOptions\":{{\"binary\":\"{}\",\"args\":[{}]}}}}",
            self.chromium.display(),
            args.join(",")
        )
    }
}
