//! A HAC emulator with a private HOME configured for hac-client-core and `sessionctl hac`:
//! what the HAC interop and CLI tests of several crates start from (feature `hac`).

use std::path::{Path, PathBuf};
use std::process::{Output, Stdio};

use session_http::hac::emulator::{EmulatorConfig, HacEmulator, RunningEmulator};
use tokio::io::AsyncWriteExt;

/// The user and password the emulator accepts by default.
pub const ADMIN: (&str, &str) = ("admin", "nimda");

/// A running HAC emulator and a private HOME whose hac-client configuration names it as the
/// `local` environment's `hac` endpoint.
pub struct HacWorld {
    /// The emulator, on a loopback port.
    pub hac: RunningEmulator,
    /// The private HOME (hac-client-core's cache and configuration live under it).
    pub home: tempfile::TempDir,
}

impl HacWorld {
    /// Starts an emulator with `config` and writes the configuration.
    ///
    /// # Panics
    /// When the emulator cannot bind or the HOME cannot be written (test set-up).
    pub async fn start(config: EmulatorConfig) -> HacWorld {
        let hac = HacEmulator::new(config)
            .bind(([127, 0, 0, 1], 0).into())
            .await
            .unwrap_or_else(|e| panic!("cannot start the HAC emulator: {e}"));
        let home = tempfile::tempdir().unwrap_or_else(|e| panic!("no temporary HOME: {e}"));
        let world = HacWorld { hac, home };
        world.write_config(&format!(
            "default_environment = \"local\"\n\n[environments.local]\ndefault_endpoint = \"hac\"\n\n\
             [environments.local.endpoints.hac]\nurl = \"{}\"\n",
            world.hac.base_url()
        ));
        world
    }

    /// Replaces the hac-client configuration file.
    ///
    /// # Panics
    /// When it cannot be written.
    pub fn write_config(&self, toml: &str) {
        std::fs::write(self.config_path(), toml)
            .unwrap_or_else(|e| panic!("cannot write the hac-client configuration: {e}"));
    }

    /// Where the hac-client configuration is (`HAC_CLIENT_CONFIG_PATH`).
    pub fn config_path(&self) -> PathBuf {
        self.home.path().join("config.toml")
    }

    /// Successful logins the emulator has seen.
    pub fn logins(&self) -> usize {
        self.hac.emulator().stats().logins
    }

    /// hac-client-core's cache directory under the private HOME.
    pub fn cache_dir(&self) -> PathBuf {
        self.home.path().join(".cache").join("hac-client")
    }

    /// The files in the cache directory (none when it does not exist).
    pub fn cache_files(&self) -> Vec<PathBuf> {
        match std::fs::read_dir(self.cache_dir()) {
            Ok(entries) => entries.filter_map(|e| e.ok()).map(|e| e.path()).collect(),
            Err(_) => Vec::new(),
        }
    }

    /// Runs `program args…` with the private HOME and configuration, no HAC credentials from
    /// the caller's environment, `env` added, and `stdin` (or nothing) as standard input.
    ///
    /// # Panics
    /// When the program cannot be started.
    pub async fn run(
        &self,
        program: &Path,
        args: &[&str],
        env: &[(&str, &str)],
        stdin: Option<&str>,
    ) -> Output {
        let mut command = tokio::process::Command::new(program);
        command
            .args(args)
            .env("HOME", self.home.path())
            .env("HAC_CLIENT_CONFIG_PATH", self.config_path())
            .env_remove("XDG_CONFIG_HOME")
            .env_remove("HAC_PASSWORD")
            .env_remove("HAC_USERNAME")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        for (name, value) in env {
            command.env(name, value);
        }
        let mut child = command
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {}: {e}", program.display()));
        if let Some(mut input) = child.stdin.take() {
            if let Some(text) = stdin {
                // A program that exits without reading its input is not an error here.
                let _ = input.write_all(text.as_bytes()).await;
            }
            drop(input);
        }
        child
            .wait_with_output()
            .await
            .unwrap_or_else(|e| panic!("{} did not finish: {e}", program.display()))
    }
}

/// A finished program's standard output, as text.
pub fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// A finished program's standard error, as text.
pub fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// Fails the test, showing both outputs, unless the program succeeded.
#[track_caller]
pub fn assert_ok(output: &Output) {
    assert!(
        output.status.success(),
        "exit {:?}\nstdout: {}\nstderr: {}",
        output.status.code(),
        stdout(output),
        stderr(output)
    );
}
