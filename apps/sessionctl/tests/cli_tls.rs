//! `sessionctl request --verify` and `sessionctl hac --verify` over https, against local TLS
//! servers whose certificates come from a CA made in the test: the CA bundle (flag or
//! `REQUESTS_CA_BUNDLE`) makes the session work, no bundle is a "not trusted" error that names
//! the flag, `--verify no` and hac-client-cli's `ignore_ssl = true` skip the check, and a
//! certificate for another host is a hostname mismatch.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;
#[path = "../../../session-http/tests/tls_support/mod.rs"]
mod tls_support;

use std::net::SocketAddr;
use std::path::Path;
use std::process::Command;

use common::{ok, run, session_json, sessionctl, stderr, stdout};
use session_http::hac::emulator::{EmulatorConfig, HacEmulator};
use tls_support::{BackgroundRuntime, TestCa, counter, serve_tls, server_config};

struct World {
    runtime: BackgroundRuntime,
    ca: TestCa,
    dir: tempfile::TempDir,
}

impl World {
    fn new() -> World {
        World {
            runtime: BackgroundRuntime::new(),
            ca: TestCa::new("sessionctl test CA"),
            dir: test_support::temp_dir(),
        }
    }

    fn bundle(&self) -> String {
        self.ca.write_bundle(self.dir.path()).display().to_string()
    }

    fn config(&self) -> &Path {
        self.dir.path()
    }

    /// The cookie counter behind TLS with a certificate for `names`.
    fn counter(&self, names: &[&str]) -> SocketAddr {
        let config = server_config(&self.ca.leaf(names), None);
        self.runtime.runtime.block_on(serve_tls(config, counter))
    }

    /// The HAC emulator behind TLS with a certificate for 127.0.0.1.
    fn hac(&self) -> (HacEmulator, SocketAddr) {
        let emulator = HacEmulator::new(EmulatorConfig::default());
        let serving = emulator.clone();
        let config = server_config(&self.ca.leaf(&["127.0.0.1"]), None);
        let addr = self
            .runtime
            .runtime
            .block_on(serve_tls(config, move |request| {
                let emulator = serving.clone();
                async move { emulator.serve(request).await }
            }));
        (emulator, addr)
    }

    fn request(&self) -> Command {
        let mut command = sessionctl(self.config());
        command
            .env_remove("REQUESTS_CA_BUNDLE")
            .env_remove("CURL_CA_BUNDLE")
            .arg("request");
        command
    }

    fn hac_command(&self, url: &str) -> Command {
        let mut command = sessionctl(self.config());
        command
            .env_remove("REQUESTS_CA_BUNDLE")
            .env_remove("CURL_CA_BUNDLE")
            .env_remove("HAC_USERNAME")
            .env("HAC_PASSWORD", "nimda")
            .env("HAC_CLIENT_CONFIG_PATH", self.dir.path().join("hac.toml"))
            .args(["hac", "--cache-dir"])
            .arg(self.dir.path().join("hac-cache"))
            .args(["--url", url, "--user", "admin"]);
        command
    }
}

#[test]
fn request_with_verify_ca_bundle_keeps_the_session_over_https() {
    let world = World::new();
    let addr = world.counter(&["127.0.0.1"]);
    let bundle = world.bundle();
    let url = format!("https://{addr}/count");
    let first = ok(world
        .request()
        .args(["--verify", &bundle, "--session", "tls", "GET", &url]));
    assert!(first.starts_with("HTTP/1.1 200 OK"), "{first}");
    assert!(first.contains("cookie: -"), "{first}");
    let second = ok(world
        .request()
        .args(["--verify", &bundle, "--session", "tls", "GET", &url]));
    assert!(second.contains("cookie: visits=1"), "{second}");

    // The HTTPie session file holds the Secure cookie.
    let host_dir = format!("127.0.0.1_{}", addr.port());
    let file = session_json(&common::session_path(world.config(), &host_dir, "tls"));
    let cookie = &file["cookies"][0];
    assert_eq!(cookie["name"], "visits");
    assert_eq!(cookie["value"], "2");
    assert_eq!(cookie["secure"], true);
}

#[test]
fn request_without_the_ca_is_not_trusted_and_names_the_flag() {
    let world = World::new();
    let addr = world.counter(&["127.0.0.1"]);
    let output = run(world
        .request()
        .args(["--session", "tls", &format!("https://{addr}/")]));
    assert_eq!(output.status.code(), Some(1));
    let message = stderr(&output);
    assert!(message.contains("not trusted"), "{message}");
    assert!(message.contains("--verify"), "{message}");
    assert!(stdout(&output).is_empty());
    // No exchange, no session file.
    let host_dir = format!("127.0.0.1_{}", addr.port());
    assert!(!common::session_path(world.config(), &host_dir, "tls").exists());
}

#[test]
fn request_with_verify_no_skips_the_check_with_a_warning() {
    let world = World::new();
    let addr = world.counter(&["elsewhere.example"]);
    let output = run(world
        .request()
        .args(["--verify", "no", &format!("https://{addr}/")]));
    assert!(output.status.success(), "{}", stderr(&output));
    assert!(stdout(&output).starts_with("HTTP/1.1 200 OK"));
    assert!(stderr(&output).contains("verification is off"));
}

#[test]
fn request_reads_requests_ca_bundle_like_httpie() {
    let world = World::new();
    let addr = world.counter(&["127.0.0.1"]);
    let out = ok(world
        .request()
        .env("REQUESTS_CA_BUNDLE", world.bundle())
        .args(["--verify", "yes", &format!("https://{addr}/")]));
    assert!(out.starts_with("HTTP/1.1 200 OK"), "{out}");
}

#[test]
fn request_to_a_host_the_certificate_is_not_for_is_a_hostname_mismatch() {
    let world = World::new();
    let addr = world.counter(&["other.example"]);
    let output =
        run(world
            .request()
            .args(["--verify", &world.bundle(), &format!("https://{addr}/")]));
    assert_eq!(output.status.code(), Some(1));
    let message = stderr(&output);
    assert!(message.contains("hostname mismatch"), "{message}");
    assert!(message.contains("other.example"), "{message}");
}

#[test]
fn request_with_a_missing_ca_bundle_fails_before_sending() {
    let world = World::new();
    let output =
        run(world
            .request()
            .args(["--verify", "/nonexistent/ca.pem", "https://127.0.0.1:1/"]));
    assert_eq!(output.status.code(), Some(1));
    let message = stderr(&output);
    assert!(
        message.contains("CA bundle /nonexistent/ca.pem"),
        "{message}"
    );
}

#[test]
fn hac_over_https_with_verify_and_with_ignore_ssl() {
    let world = World::new();
    let (emulator, addr) = world.hac();
    let url = format!("https://{addr}");

    // Without the CA: not trusted, and nothing reached the server.
    let output = run(world.hac_command(&url).arg("login"));
    assert_eq!(output.status.code(), Some(1));
    let message = stderr(&output);
    assert!(message.contains("not trusted"), "{message}");
    assert!(message.contains("--verify"), "{message}");
    assert_eq!(emulator.stats().total(), 0);

    // With the CA bundle: login, then the cached session runs a query.
    ok(world
        .hac_command(&url)
        .args(["--verify", &world.bundle(), "login"]));
    let out = ok(world.hac_command(&url).args([
        "--verify",
        &world.bundle(),
        "flexsearch",
        "--format",
        "csv",
        "SELECT {uid} FROM {User}",
    ]));
    assert!(out.contains("admin"), "{out}");
    assert_eq!(emulator.stats().logins, 1);

    // --verify no, as hac-client-cli's ignore_ssl, with a warning.
    let output = run(world
        .hac_command(&url)
        .args(["--verify", "no", "login", "--fresh"]));
    assert!(output.status.success(), "{}", stderr(&output));
    assert!(stderr(&output).contains("verification is off"));
    assert_eq!(emulator.stats().logins, 2);

    // ignore_ssl = true in hac-client-cli's config.toml.
    std::fs::write(
        world.dir.path().join("hac.toml"),
        format!(
            "default_environment = \"local\"\n\n[environments.local]\ndefault_endpoint = \"hac\"\n\n\
             [environments.local.endpoints.hac]\nurl = \"{url}\"\nignore_ssl = true\n"
        ),
    )
    .unwrap();
    let mut command = sessionctl(world.config());
    command
        .env_remove("REQUESTS_CA_BUNDLE")
        .env_remove("CURL_CA_BUNDLE")
        .env("HAC_PASSWORD", "nimda")
        .env("HAC_USERNAME", "admin")
        .env("HAC_CLIENT_CONFIG_PATH", world.dir.path().join("hac.toml"))
        .args(["hac", "--cache-dir"])
        .arg(world.dir.path().join("hac-cache"))
        .args(["-e", "local", "login", "--fresh"]);
    let output = run(&mut command);
    assert!(output.status.success(), "{}", stderr(&output));
    // Quiet, as hac-client-cli: the configuration asked for it.
    assert!(!stderr(&output).contains("verification is off"));
    assert_eq!(emulator.stats().logins, 3);
    // ... and --verify yes overrides it.
    let output = run(command.args(["--verify", "yes"]));
    assert_eq!(output.status.code(), Some(1), "{}", stderr(&output));
    assert!(stderr(&output).contains("not trusted"));
}

#[test]
fn httpie_and_sessionctl_share_a_session_over_https() {
    let test = "httpie_and_sessionctl_share_a_session_over_https";
    let world = World::new();
    let Some(mut httpie) = common::httpie(test, world.config()) else {
        return;
    };
    let addr = world.counter(&["127.0.0.1"]);
    let bundle = world.bundle();
    let url = format!("https://{addr}/count");
    httpie
        .env_remove("REQUESTS_CA_BUNDLE")
        .env_remove("CURL_CA_BUNDLE")
        .args(["--verify", &bundle, "--session", "shared", "GET", &url]);

    // HTTPie starts the session over https (the CA bundle makes the server trusted) ...
    let first = ok(&mut httpie);
    assert!(first.contains("cookie: -"), "{first}");
    // ... sessionctl sends HTTPie's Secure cookie back and stores the next one ...
    let second =
        ok(world
            .request()
            .args(["--verify", &bundle, "--session", "shared", "GET", &url]));
    assert!(second.contains("cookie: visits=1"), "{second}");
    // ... which HTTPie then sends.
    let third = ok(&mut httpie);
    assert!(third.contains("cookie: visits=2"), "{third}");
}

#[test]
fn a_hac_client_cli_session_over_https_is_reused_by_sessionctl() {
    let test = "a_hac_client_cli_session_over_https_is_reused_by_sessionctl";
    let Some(hac_cli) = test_support::python_peer("hac") else {
        test_support::skip(test, "hac-client-cli in the peers' virtualenv");
        return;
    };
    let world = World::new();
    let (emulator, addr) = world.hac();
    let home = world.dir.path().join("home");
    std::fs::create_dir_all(&home).unwrap();
    let config = world.dir.path().join("hac.toml");
    // A development HAC with a certificate nobody trusts: hac-client-cli's ignore_ssl.
    std::fs::write(
        &config,
        format!(
            "default_environment = \"local\"\n\n[environments.local]\ndefault_endpoint = \"hac\"\n\n\
             [environments.local.endpoints.hac]\nurl = \"https://{addr}\"\nignore_ssl = true\n"
        ),
    )
    .unwrap();
    let with_env = |command: &mut Command| {
        command
            .env("HOME", &home)
            .env("HAC_CLIENT_CONFIG_PATH", &config)
            .env_remove("XDG_CONFIG_HOME")
            .env_remove("XDG_CACHE_HOME")
            .env_remove("HAC_USERNAME")
            .env_remove("REQUESTS_CA_BUNDLE")
            .env_remove("CURL_CA_BUNDLE");
    };
    let mut start = Command::new(hac_cli);
    with_env(&mut start);
    start
        .env("HAC_PASSWORD", "nimda")
        .args(["session", "start", "local", "--username", "admin"]);
    ok(&mut start);
    assert_eq!(emulator.stats().logins, 1);

    let mut groovy = sessionctl(world.config());
    with_env(&mut groovy);
    groovy
        .env_remove("HAC_PASSWORD")
        .args(["hac", "-e", "local", "groovy", "return 'shared'"]);
    let output = run(&mut groovy);
    assert!(output.status.success(), "{}", stderr(&output));
    assert_eq!(stdout(&output), "shared\n");
    assert!(stderr(&output).contains("using the cached session"));
    assert_eq!(emulator.stats().logins, 1);
}

#[test]
fn request_presents_a_client_certificate_with_cert_and_cert_key() {
    let world = World::new();
    let clients = TestCa::new("client CA");
    let config = server_config(&world.ca.leaf(&["127.0.0.1"]), Some(&clients));
    let addr = world.runtime.runtime.block_on(serve_tls(config, counter));
    let url = format!("https://{addr}/");
    let bundle = world.bundle();
    let me = clients.leaf(&["alice"]);
    let cert = world.dir.path().join("alice.crt");
    let key = world.dir.path().join("alice.key");
    std::fs::write(&cert, &me.cert_pem).unwrap();
    std::fs::write(&key, &me.key_pem).unwrap();

    let out = ok(world
        .request()
        .args(["--verify", &bundle, "--cert"])
        .arg(&cert)
        .arg("--cert-key")
        .arg(&key)
        .arg(&url));
    assert!(out.starts_with("HTTP/1.1 200 OK"), "{out}");

    let output = run(world.request().args(["--verify", &bundle, &url]));
    assert_eq!(output.status.code(), Some(1));
    let message = stderr(&output);
    assert!(message.contains("client certificate"), "{message}");
    assert!(message.contains("--cert"), "{message}");

    // --cert-key alone is a usage error.
    let output = run(world.request().arg("--cert-key").arg(&key).arg(&url));
    assert_eq!(output.status.code(), Some(2));
}
