//! `sessionctl hac` against the HAC emulator, and sessions shared with hac-client-cli in both
//! directions. Needs the `sessionctl` binary of this workspace (built by `cargo build` or a
//! workspace-wide `cargo test`) and, for the interop tests, hac-client-cli in the peers'
//! virtualenv; skips loudly without them.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};
use std::process::Output;

use session_http::hac::emulator::EmulatorConfig;
use test_support::hac::{ADMIN, HacWorld, assert_ok, stderr, stdout};

fn sessionctl(test: &str) -> Option<PathBuf> {
    let binary = test_support::workspace_binary("sessionctl");
    if binary.exists() {
        Some(binary)
    } else {
        test_support::skip(test, "the sessionctl binary (cargo build -p sessionctl)");
        None
    }
}

fn hac_cli(test: &str) -> Option<PathBuf> {
    let found = test_support::python_peer("hac");
    if found.is_none() {
        test_support::skip(test, "hac-client-cli in the peers' virtualenv");
    }
    found
}

/// `sessionctl hac --url <emulator> --user admin --store <store> <rest…>`.
async fn hac_with_store(
    world: &HacWorld,
    sessionctl: &Path,
    store: &str,
    rest: &[&str],
    env: &[(&str, &str)],
) -> Output {
    let url = world.hac.base_url();
    let mut args = vec!["hac", "--url", &url, "--user", ADMIN.0, "--store", store];
    args.extend_from_slice(rest);
    world.run(sessionctl, &args, env, None).await
}

/// Logs in with the store, then runs a script that returns `value` on the stored session:
/// one login in all.
async fn logs_in_once_and_runs_groovy(world: &HacWorld, ctl: &Path, store: &str, value: &str) {
    let password = [("HAC_PASSWORD", ADMIN.1)];
    assert_ok(&hac_with_store(world, ctl, store, &["login"], &password).await);
    let script = format!("return '{value}'");
    let out = hac_with_store(world, ctl, store, &["groovy", &script], &[]).await;
    assert_ok(&out);
    assert_eq!(stdout(&out), format!("{value}\n"));
    assert_eq!(world.logins(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sessionctl_hac_logs_in_once_and_runs_everything() {
    let Some(ctl) = sessionctl("sessionctl_hac_logs_in_once_and_runs_everything") else {
        return;
    };
    let world = HacWorld::start(EmulatorConfig::default()).await;
    let url = world.hac.base_url();
    let target = ["hac", "--url", url.as_str(), "--user", "admin"];
    let with = |rest: &[&str]| -> Vec<String> {
        target.iter().chain(rest).map(|s| s.to_string()).collect()
    };
    let run =
        |args: Vec<String>, env: Vec<(&'static str, &'static str)>, stdin: Option<&'static str>| {
            let world = &world;
            let ctl = ctl.clone();
            async move {
                let args: Vec<&str> = args.iter().map(String::as_str).collect();
                world.run(&ctl, &args, &env, stdin).await
            }
        };

    // No password anywhere: refused before any request.
    let out = run(with(&["login"]), vec![], None).await;
    assert!(!out.status.success());
    assert!(stderr(&out).contains("no password"), "{}", stderr(&out));
    assert_eq!(world.hac.emulator().stats().total(), 0);

    // A wrong password from the environment.
    let out = run(with(&["login"]), vec![("HAC_PASSWORD", "wrong")], None).await;
    assert!(!out.status.success());
    assert!(stderr(&out).contains("refused"), "{}", stderr(&out));

    // The password on stdin.
    let out = run(with(&["login"]), vec![], Some("nimda\n")).await;
    assert_ok(&out);
    assert_eq!(world.logins(), 1);

    let out = run(
        with(&["groovy", "println 'side'\nreturn 'value'"]),
        vec![],
        None,
    )
    .await;
    assert_ok(&out);
    assert_eq!(stdout(&out), "value\n");
    assert!(stderr(&out).contains("side"));

    let script = world.home.path().join("fail.groovy");
    std::fs::write(&script, "throw new RuntimeException('bad')\n").unwrap();
    let out = run(
        with(&["groovy", "-f", script.to_str().unwrap(), "--commit"]),
        vec![],
        None,
    )
    .await;
    assert!(!out.status.success());
    assert!(stderr(&out).contains("java.lang.RuntimeException: bad"));

    let out = run(
        with(&[
            "flexsearch",
            "SELECT {uid}, {name} FROM {User}",
            "--max-count",
            "2",
            "--format",
            "csv",
        ]),
        vec![],
        None,
    )
    .await;
    assert_ok(&out);
    assert_eq!(
        stdout(&out),
        "p_uid,p_name\r\nadmin,Administrator\r\nanonymous,Anonymous\r\n"
    );
    let out = run(
        with(&["flexsearch", "SELECT {uid} FROM {User}", "--format", "json"]),
        vec![],
        None,
    )
    .await;
    assert_ok(&out);
    let json: serde_json::Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(json["result_count"], 3);
    let out = run(
        with(&["flexsearch", "SELECT {pk} FROM {Nope}"]),
        vec![],
        None,
    )
    .await;
    assert!(!out.status.success());
    assert!(stderr(&out).contains("type code 'Nope' invalid"));

    let impex = world.home.path().join("data.impex");
    std::fs::write(
        &impex,
        "INSERT_UPDATE Product;code[unique=true];name\n;ctl-1;One\n",
    )
    .unwrap();
    let out = run(
        with(&["impex", "-f", impex.to_str().unwrap()]),
        vec![],
        None,
    )
    .await;
    assert_ok(&out);
    assert!(stdout(&out).contains("Import finished successfully"));
    assert_eq!(world.logins(), 1, "every command reused the cached session");

    let out = run(
        vec!["hac".into(), "sessions".into(), "list".into()],
        vec![],
        None,
    )
    .await;
    assert_ok(&out);
    assert!(stdout(&out).contains(&url));
    let out = run(
        with(&["sessions", "show", "--format", "json"]),
        vec![],
        None,
    )
    .await;
    assert_ok(&out);
    let shown: serde_json::Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(shown["username"], "admin");
    assert!(shown["session_id"].as_str().unwrap().ends_with('…'));
    let out = run(with(&["sessions", "clear"]), vec![], None).await;
    assert_ok(&out);
    let out = run(with(&["groovy", "return 1"]), vec![], None).await;
    assert!(
        !out.status.success(),
        "the session was dropped; a password is needed"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_session_started_by_hac_client_cli_is_used_by_sessionctl() {
    let test = "a_session_started_by_hac_client_cli_is_used_by_sessionctl";
    let (Some(ctl), Some(hac)) = (sessionctl(test), hac_cli(test)) else {
        return;
    };
    let world = HacWorld::start(EmulatorConfig::default()).await;
    let out = world
        .run(
            &hac,
            &["session", "start", "local", "--username", "admin"],
            &[("HAC_PASSWORD", "nimda")],
            None,
        )
        .await;
    assert_ok(&out);
    assert_eq!(world.logins(), 1);

    // From the config file, without a user: the session hac-client-cli cached is found.
    let out = world
        .run(
            &ctl,
            &["hac", "-e", "local", "groovy", "return 'shared'"],
            &[],
            None,
        )
        .await;
    assert_ok(&out);
    assert_eq!(stdout(&out), "shared\n");
    assert!(stderr(&out).contains("using the cached session"));
    assert_eq!(world.logins(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_session_started_by_sessionctl_is_used_by_hac_client_cli() {
    let test = "a_session_started_by_sessionctl_is_used_by_hac_client_cli";
    let (Some(ctl), Some(hac)) = (sessionctl(test), hac_cli(test)) else {
        return;
    };
    let world = HacWorld::start(EmulatorConfig::default()).await;
    let out = world
        .run(
            &ctl,
            &[
                "hac", "-e", "local", "-n", "hac", "--user", "admin", "login",
            ],
            &[("HAC_PASSWORD_LOCAL_HAC", "nimda")],
            None,
        )
        .await;
    assert_ok(&out);
    assert_eq!(world.logins(), 1);

    let out = world
        .run(
            &hac,
            &["groovy", "return 'from cli'", "-e", "local", "-q"],
            &[],
            None,
        )
        .await;
    assert_ok(&out);
    assert_eq!(stdout(&out).trim(), "from cli");
    let out = world
        .run(
            &hac,
            &[
                "flexsearch",
                "SELECT {uid} FROM {User}",
                "--csv",
                "-e",
                "local",
                "-q",
            ],
            &[],
            None,
        )
        .await;
    assert_ok(&out);
    assert!(
        stdout(&out).starts_with("p_uid\nadmin\n"),
        "{}",
        stdout(&out)
    );
    assert_eq!(world.logins(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sessions_can_live_in_a_session_store_instead_of_the_shared_cache() {
    let Some(ctl) = sessionctl("sessions_can_live_in_a_session_store_instead_of_the_shared_cache")
    else {
        return;
    };
    let world = HacWorld::start(EmulatorConfig::default()).await;
    let url = world.hac.base_url();
    let store = format!("file:{}", world.home.path().join("store").display());
    logs_in_once_and_runs_groovy(&world, &ctl, &store, "stored").await;
    // Nothing went to hac-client-core's directory, and the store's files hold no password.
    assert!(!world.home.path().join(".cache").join("hac-client").exists());
    for entry in walk(&world.home.path().join("store")) {
        let bytes = std::fs::read(&entry).unwrap();
        assert!(!String::from_utf8_lossy(&bytes).contains("nimda"));
    }
    let out = hac_with_store(&world, &ctl, &store, &["sessions", "list"], &[]).await;
    assert_ok(&out);
    assert!(stdout(&out).contains(&url));
}

fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap().flatten() {
        let path = entry.path();
        if path.is_dir() {
            files.extend(walk(&path));
        } else {
            files.push(path);
        }
    }
    files
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sessions_can_be_kept_in_the_encrypted_store() {
    let Some(ctl) = sessionctl("sessions_can_be_kept_in_the_encrypted_store") else {
        return;
    };
    let world = HacWorld::start(EmulatorConfig::default()).await;
    let key_file = world.home.path().join("hac.key");
    {
        use std::os::unix::fs::OpenOptionsExt;
        let mut file = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&key_file)
            .unwrap();
        std::io::Write::write_all(&mut file, "ab".repeat(32).as_bytes()).unwrap();
    }
    let dir = world.home.path().join("sealed");
    let store = format!(
        "encrypted:{}?key_file={}",
        dir.display(),
        key_file.display()
    );
    logs_in_once_and_runs_groovy(&world, &ctl, &store, "sealed").await;
    // Nothing of the session is in the clear on disk.
    let out = hac_with_store(
        &world,
        &ctl,
        &store,
        &["sessions", "list", "--format", "json"],
        &[],
    )
    .await;
    assert_ok(&out);
    let shown: serde_json::Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(shown[0]["username"], "admin");
    let files = walk(&dir);
    assert!(!files.is_empty());
    for file in files {
        let bytes = std::fs::read(&file).unwrap();
        let text = String::from_utf8_lossy(&bytes);
        assert!(
            !text.contains("nimda") && !text.contains("session_id"),
            "{}",
            file.display()
        );
    }
}
