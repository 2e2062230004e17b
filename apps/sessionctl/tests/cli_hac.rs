//! `sessionctl hac --no-cache` and `sessionctl --json hac …`, black-box against the built
//! binary and the HAC emulator, and against hac-client-cli (the peers' virtualenv) for the
//! cache both tools share.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;
use std::process::Output;

use serde_json::Value;
use session_http::hac::emulator::EmulatorConfig;
use test_support::hac::{ADMIN, HacWorld, assert_ok, stderr, stdout};

const SESSIONCTL: &str = env!("CARGO_BIN_EXE_sessionctl");

async fn start() -> HacWorld {
    HacWorld::start(EmulatorConfig::default()).await
}

/// `program args…` in the world, with the admin password in the environment.
async fn run(world: &HacWorld, program: &Path, args: &[&str]) -> Output {
    let password = [("HAC_PASSWORD", ADMIN.1)];
    world.run(program, args, &password, None).await
}

/// `sessionctl [--json] hac --url <emulator> [--user admin] rest…`.
async fn sessionctl(world: &HacWorld, json: bool, user: bool, rest: &[&str]) -> Output {
    let url = world.hac.base_url();
    let mut args = Vec::new();
    if json {
        args.push("--json");
    }
    args.extend(["hac", "--url", url.as_str()]);
    if user {
        args.extend(["--user", ADMIN.0]);
    }
    args.extend_from_slice(rest);
    run(world, Path::new(SESSIONCTL), &args).await
}

#[track_caller]
fn json_of(output: &Output) -> Value {
    assert_ok(output);
    serde_json::from_str(&stdout(output))
        .unwrap_or_else(|e| panic!("not JSON ({e}): {}", stdout(output)))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_cache_logs_in_every_run_and_writes_nothing() {
    let world = start().await;
    for run in 1..=2 {
        let out = sessionctl(
            &world,
            false,
            true,
            &["--no-cache", "groovy", "return 'fresh'"],
        )
        .await;
        assert_ok(&out);
        assert_eq!(stdout(&out), "fresh\n");
        assert!(
            stderr(&out).contains("logged in as admin"),
            "{}",
            stderr(&out)
        );
        assert_eq!(world.logins(), run);
    }
    assert!(world.cache_files().is_empty(), "{:?}", world.cache_files());

    // With the cache, the second run reuses the first one's session.
    assert_ok(&sessionctl(&world, false, true, &["login"]).await);
    assert_eq!(world.logins(), 3);
    assert_eq!(world.cache_files().len(), 1);
    let cached = std::fs::read(&world.cache_files()[0]).unwrap();
    // --no-cache neither uses nor replaces a cached session.
    let out = sessionctl(&world, false, true, &["--no-cache", "groovy", "return 1"]).await;
    assert_ok(&out);
    assert_eq!(world.logins(), 4);
    assert_eq!(std::fs::read(&world.cache_files()[0]).unwrap(), cached);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_cache_refuses_what_needs_a_cache() {
    let world = start().await;
    let out = sessionctl(&world, false, true, &["--no-cache", "sessions", "list"]).await;
    assert!(!out.status.success());
    assert!(stderr(&out).contains("--no-cache"), "{}", stderr(&out));

    // Without --user the user would come from a cached session.
    let out = sessionctl(&world, false, false, &["--no-cache", "groovy", "return 1"]).await;
    assert!(!out.status.success());
    assert!(stderr(&out).contains("--user"), "{}", stderr(&out));

    let out = sessionctl(
        &world,
        false,
        true,
        &["--no-cache", "--cache-dir", "/tmp/x", "login"],
    )
    .await;
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert_eq!(world.hac.emulator().stats().total(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_cache_ignores_a_session_hac_client_cli_cached() {
    let Some(hac) = test_support::python_peer("hac") else {
        test_support::skip(
            "no_cache_ignores_a_session_hac_client_cli_cached",
            "hac-client-cli in the peers' virtualenv",
        );
        return;
    };
    let world = start().await;
    let out = run(
        &world,
        &hac,
        &["session", "start", "local", "--username", "admin"],
    )
    .await;
    assert_ok(&out);
    assert_eq!(world.logins(), 1);
    let cached = world.cache_files();
    assert_eq!(cached.len(), 1);
    let before = std::fs::read(&cached[0]).unwrap();

    let out = run(
        &world,
        Path::new(SESSIONCTL),
        &[
            "hac",
            "-e",
            "local",
            "-u",
            "admin",
            "--no-cache",
            "groovy",
            "return 'own'",
        ],
    )
    .await;
    assert_ok(&out);
    assert_eq!(stdout(&out), "own\n");
    assert_eq!(world.logins(), 2);
    assert_eq!(std::fs::read(&cached[0]).unwrap(), before);

    // hac-client-cli still uses its session.
    let out = run(
        &world,
        &hac,
        &["groovy", "return 'still'", "-e", "local", "-q"],
    )
    .await;
    assert_ok(&out);
    assert_eq!(world.logins(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn json_flag_makes_every_hac_command_answer_json() {
    let world = start().await;

    let login = json_of(&sessionctl(&world, true, true, &["login"]).await);
    assert_eq!(login["outcome"], "logged_in");
    assert_eq!(login["username"], "admin");
    assert_eq!(login["base_url"], world.hac.base_url());
    let login = json_of(&sessionctl(&world, true, true, &["login"]).await);
    assert_eq!(login["outcome"], "reused_cached");

    let groovy = json_of(
        &sessionctl(
            &world,
            true,
            true,
            &["groovy", "println 'side'\nreturn 'value'"],
        )
        .await,
    );
    assert_eq!(groovy["result"], "value");
    assert!(groovy["output"].as_str().unwrap().contains("side"));

    let rows = json_of(
        &sessionctl(
            &world,
            true,
            true,
            &["flexsearch", "SELECT {uid} FROM {User}"],
        )
        .await,
    );
    assert_eq!(rows["result_count"], 3);

    let impex = world.home.path().join("data.impex");
    std::fs::write(
        &impex,
        "INSERT_UPDATE Product;code[unique=true];name\n;ctl-1;One\n",
    )
    .unwrap();
    let imported = json_of(
        &sessionctl(
            &world,
            true,
            true,
            &["impex", "-f", impex.to_str().unwrap()],
        )
        .await,
    );
    assert_eq!(imported["success"], true);

    // --json wins over a command's own --format.
    let listed = json_of(
        &sessionctl(
            &world,
            true,
            true,
            &["sessions", "list", "--format", "table"],
        )
        .await,
    );
    assert_eq!(listed.as_array().unwrap().len(), 1);
    assert_eq!(listed[0]["username"], "admin");
    let shown = json_of(&sessionctl(&world, true, true, &["sessions", "show"]).await);
    assert_eq!(shown["username"], "admin");

    let cleared = json_of(&sessionctl(&world, true, true, &["sessions", "clear"]).await);
    assert_eq!(cleared["dropped"], true);
    let cleared = json_of(&sessionctl(&world, true, true, &["sessions", "clear"]).await);
    assert_eq!(cleared["dropped"], false);
    let all = json_of(&sessionctl(&world, true, true, &["sessions", "clear", "--all"]).await);
    assert_eq!(all["cleared"], 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn logout_ends_the_session_at_the_server_and_in_the_cache_without_logging_in() {
    let world = start().await;
    assert_ok(&sessionctl(&world, false, true, &["login"]).await);
    assert_eq!(world.cache_files().len(), 1);
    assert_eq!(world.hac.emulator().live_sessions(), 1);

    let out = sessionctl(&world, false, true, &["logout"]).await;
    assert_ok(&out);
    assert!(
        stderr(&out).contains("logged out admin@"),
        "{}",
        stderr(&out)
    );
    assert_eq!(world.hac.emulator().stats().count("POST", "/hac/logout"), 1);
    assert_eq!(world.hac.emulator().live_sessions(), 0);
    assert!(world.cache_files().is_empty());

    // Nothing left: no login just to log out, and the answer says so.
    let report = json_of(&sessionctl(&world, true, true, &["logout"]).await);
    assert_eq!(report["logged_out"], false);
    assert_eq!(world.logins(), 1);

    // A cached session the server dropped is only removed from the cache.
    assert_ok(&sessionctl(&world, false, true, &["login"]).await);
    world.hac.emulator().drop_all_sessions();
    let report = json_of(&sessionctl(&world, true, true, &["logout"]).await);
    assert_eq!(report["logged_out"], false);
    assert!(world.cache_files().is_empty());
    assert_eq!(world.logins(), 2);
}
