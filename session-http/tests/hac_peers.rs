//! The genuine hac-client-core 0.1.2 and hac-client-cli (PyPI) against the HAC emulator, and
//! the session cache shared between them and this crate's client in both directions.
//!
//! Needs the peers' virtualenv (`scripts/install-peers`: `pip install --ignore-requires-python
//! hac-client-core==0.1.2 hac-client-cli`); skips loudly without it.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};
use std::process::Output;
use std::sync::Arc;

use test_support::hac::{HacWorld, assert_ok};

use session_http::hac::emulator::EmulatorConfig;
use session_http::hac::{
    CacheKey, FileSessionCache, FlexSearchQuery, HacClient, LoginOutcome, SessionCache,
};

fn peer(test: &str, program: &str) -> Option<PathBuf> {
    let python = test_support::python_peer("python");
    let found = python.filter(|python| {
        std::process::Command::new(python)
            .args(["-c", "import hac_client_core, hac_client_cli"])
            .output()
            .is_ok_and(|o| o.status.success())
    });
    if found.is_none() {
        test_support::skip(
            test,
            "hac-client-core 0.1.2 / hac-client-cli in the peers' virtualenv",
        );
        return None;
    }
    test_support::python_peer(program)
}

async fn start(route: Option<&str>) -> HacWorld {
    let config = EmulatorConfig {
        route: route.map(str::to_string),
        ..EmulatorConfig::default()
    };
    HacWorld::start(config).await
}

fn cache(world: &HacWorld) -> Arc<FileSessionCache> {
    Arc::new(FileSessionCache::new(world.cache_dir()))
}

/// Runs `program args…` in the world, which must succeed.
async fn run_ok(
    world: &HacWorld,
    program: &Path,
    args: &[&str],
    extra_env: &[(&str, &str)],
) -> Output {
    let output = world.run(program, args, extra_env, None).await;
    assert_ok(&output);
    output
}

/// Runs Python code with hac-client-core; `URL` and `ENV` are defined for it, and the
/// password comes from the environment (never from argv).
async fn run_python(
    world: &HacWorld,
    python: &Path,
    environment: &str,
    body: &str,
) -> serde_json::Value {
    let script = format!(
        "import json, os, sys\n\
         from hac_client_core.client import HacClient\n\
         from hac_client_core.auth import BasicAuthHandler\n\
         URL = sys.argv[1]\nENV = sys.argv[2]\n\
         def client():\n    return HacClient(URL, BasicAuthHandler('admin', os.environ['PEER_PASSWORD']), environment=ENV)\n\
         out = {{}}\n{body}\nprint(json.dumps(out))\n"
    );
    let file = world.home.path().join("peer.py");
    std::fs::write(&file, script).unwrap();
    let output = run_ok(
        world,
        python,
        &[file.to_str().unwrap(), &world.hac.base_url(), environment],
        &[("PEER_PASSWORD", "nimda")],
    )
    .await;
    let stdout = String::from_utf8_lossy(&output.stdout);
    let mut value: serde_json::Value = serde_json::from_str(stdout.lines().last().unwrap())
        .unwrap_or_else(|e| panic!("{e}: {stdout}"));
    value["stderr"] = String::from_utf8_lossy(&output.stderr).into();
    value
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hac_client_core_logs_in_and_runs_groovy_flexsearch_and_impex() {
    let Some(python) = peer(
        "hac_client_core_logs_in_and_runs_groovy_flexsearch_and_impex",
        "python",
    ) else {
        return;
    };
    let world = start(Some("node1")).await;
    let out = run_python(
        &world,
        &python,
        "local",
        r#"
c = client()
c.login()
out['route'] = c.session_info.route_cookie
g = c.execute_groovy("println 'hello from groovy'\nreturn 42", commit=False)
out['groovy'] = [g.output_text, g.execution_result, g.success]
f = c.execute_flexiblesearch("SELECT {pk}, {uid} FROM {User}", max_count=2)
out['flex'] = [f.headers, f.rows, f.result_count, f.success]
bad = c.execute_flexiblesearch("SELECT {pk} FROM {Nope}")
out['flex_error'] = [bad.success, bad.exception['message']]
i = c.import_impex("INSERT_UPDATE Product;code[unique=true];name[lang=en]\n;p1;First\n")
out['impex'] = [i.success, i.output]
e = c.import_impex("INSERT_UPDATE Nope;code[unique=true]\n;x\n")
out['impex_error'] = [e.success, e.error, e.validation_errors]
"#,
    )
    .await;
    assert_eq!(out["route"], "ROUTE=node1");
    assert_eq!(
        out["groovy"],
        serde_json::json!(["hello from groovy\n", "42", true])
    );
    assert_eq!(out["flex"][0], serde_json::json!(["PK", "p_uid"]));
    assert_eq!(out["flex"][1][0][1], "admin");
    assert_eq!(out["flex"][2], 2);
    assert_eq!(
        out["flex_error"],
        serde_json::json!([false, "type code 'Nope' invalid"])
    );
    assert_eq!(
        out["impex"],
        serde_json::json!([true, "Import finished successfully"])
    );
    assert_eq!(out["impex_error"][0], false);
    assert_eq!(out["impex_error"][1], "Import has encountered problems");
    assert!(
        out["impex_error"][2][0]
            .as_str()
            .unwrap()
            .contains("unknown type 'Nope'")
    );
    assert_eq!(world.logins(), 1);

    // A second run reuses the cached session (hac-client-core says so) without logging in.
    let out = run_python(
        &world,
        &python,
        "local",
        r#"
c = client()
c.login()
out['groovy'] = c.execute_groovy("return 'cached'").execution_result
"#,
    )
    .await;
    assert!(
        out["stderr"]
            .as_str()
            .unwrap()
            .contains("Using cached session"),
        "{out}"
    );
    assert_eq!(out["groovy"], "cached");
    assert_eq!(world.logins(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_session_cached_by_hac_client_core_is_used_without_a_login() {
    let Some(python) = peer(
        "a_session_cached_by_hac_client_core_is_used_without_a_login",
        "python",
    ) else {
        return;
    };
    let world = start(Some("node1")).await;
    run_python(&world, &python, "local", "client().login()").await;
    assert_eq!(world.logins(), 1);

    let key = CacheKey::new(world.hac.base_url(), "admin", "local");
    let cached = cache(&world)
        .load(&key)
        .await
        .unwrap()
        .expect("hac-client-core's file");
    assert_eq!(cached.route_cookie.as_deref(), Some("ROUTE=node1"));
    let client = HacClient::new(key).unwrap().with_cache(cache(&world));
    assert_eq!(client.login().await.unwrap(), LoginOutcome::ReusedCached);
    let users = client
        .flexible_search(&FlexSearchQuery::new("SELECT {uid} FROM {User}"))
        .await
        .unwrap();
    assert_eq!(users.rows[0], ["admin"]);
    assert_eq!(world.logins(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_session_cached_by_this_client_is_used_by_hac_client_core() {
    let Some(python) = peer(
        "a_session_cached_by_this_client_is_used_by_hac_client_core",
        "python",
    ) else {
        return;
    };
    let world = start(None).await;
    let key = CacheKey::new(world.hac.base_url(), "admin", "local");
    let client = HacClient::new(key)
        .unwrap()
        .with_password("nimda")
        .with_cache(cache(&world));
    client.login().await.unwrap();
    assert_eq!(world.logins(), 1);

    let out = run_python(
        &world,
        &python,
        "local",
        r#"
c = client()
c.login()
out['session'] = c.session_info.session_id
out['groovy'] = c.execute_groovy("println 'x'\nreturn 'from python'").execution_result
"#,
    )
    .await;
    assert!(
        out["stderr"]
            .as_str()
            .unwrap()
            .contains("Using cached session"),
        "{out}"
    );
    assert_eq!(out["session"], client.session().await.unwrap().session_id);
    assert_eq!(out["groovy"], "from python");
    assert_eq!(world.logins(), 1);
    // hac-client-core touched the file and it is still ours to read.
    let key = CacheKey::new(world.hac.base_url(), "admin", "local");
    assert!(cache(&world).load(&key).await.unwrap().is_some());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hac_client_cli_works_against_the_emulator_and_shares_its_sessions() {
    let Some(hac) = peer(
        "hac_client_cli_works_against_the_emulator_and_shares_its_sessions",
        "hac",
    ) else {
        return;
    };
    // The world's configuration names the emulator as environment "local", endpoint "hac".
    let world = start(None).await;
    run_ok(
        &world,
        &hac,
        &["session", "start", "local", "--username", "admin"],
        &[("HAC_PASSWORD", "nimda")],
    )
    .await;
    let out = run_ok(
        &world,
        &hac,
        &["groovy", "return 'cli'", "-e", "local", "-q"],
        &[],
    )
    .await;
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "cli");
    let out = run_ok(
        &world,
        &hac,
        &[
            "flexsearch",
            "SELECT {uid} FROM {User}",
            "--json",
            "-e",
            "local",
            "-q",
        ],
        &[],
    )
    .await;
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(json["headers"], serde_json::json!(["p_uid"]));
    let impex = world.home.path().join("products.impex");
    std::fs::write(&impex, "INSERT_UPDATE Product;code[unique=true]\n;cli-1\n").unwrap();
    let out = run_ok(
        &world,
        &hac,
        &["impex", "-f", impex.to_str().unwrap(), "-e", "local", "-q"],
        &[],
    )
    .await;
    assert!(String::from_utf8_lossy(&out.stdout).contains("Import finished successfully"));
    assert_eq!(world.logins(), 1);

    // hac-client-cli files the session under "env/endpoint"; this client finds it there.
    let key = CacheKey::new(world.hac.base_url(), "admin", "local/hac");
    let client = HacClient::new(key).unwrap().with_cache(cache(&world));
    let products = client
        .flexible_search(&FlexSearchQuery::new("SELECT {code} FROM {Product}"))
        .await
        .unwrap();
    assert_eq!(products.rows, [["cli-1"]]);
    assert_eq!(world.logins(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hac_client_core_works_against_the_emulator_binary() {
    let Some(python) = peer(
        "hac_client_core_works_against_the_emulator_binary",
        "python",
    ) else {
        return;
    };
    let binary = test_support::workspace_binary("hac-emulator");
    if !binary.exists() {
        test_support::skip(
            "hac_client_core_works_against_the_emulator_binary",
            "the hac-emulator binary (cargo build -p hac-emulator)",
        );
        return;
    }
    let emulator = test_support::startup::spawn_announced(
        "hac-emulator",
        std::process::Command::new(&binary).args(["--listen", "127.0.0.1:0", "--route", "b1"]),
        "listening on",
        std::time::Duration::from_secs(30),
    );

    let home = tempfile::tempdir().unwrap();
    let script = home.path().join("peer.py");
    std::fs::write(
        &script,
        "import sys\nfrom hac_client_core.client import HacClient\n\
         from hac_client_core.auth import BasicAuthHandler\n\
         c = HacClient(sys.argv[1], BasicAuthHandler('admin', 'nimda'), environment='bin')\n\
         c.login()\nprint(c.execute_groovy('return 99').execution_result)\n\
         print(c.session_info.route_cookie)\n",
    )
    .unwrap();
    let output = tokio::process::Command::new(&python)
        .arg(&script)
        .arg(format!("http://{}", emulator.addr))
        .env("HOME", home.path())
        .output()
        .await
        .unwrap();
    assert!(output.status.success(), "{output:?}");
    assert_eq!(String::from_utf8_lossy(&output.stdout), "99\nROUTE=b1\n");
}
