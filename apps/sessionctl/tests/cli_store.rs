//! `sessionctl store …` run as a binary against real stores: a file store directory and a
//! SQLite database (filled through the library), and Redis when a `redis-server` is installed.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::Duration;

use common::*;
use serde_json::Value;
use session_core::{
    ExpiryPolicy, MockClock, SaveOutcome, SessionConfig, SessionId, SessionManager, StoreConfig,
    Timestamp,
};

/// Fills the store at `url` with `live` live sessions (one logged in as alice) and `expired`
/// sessions that expired long ago; returns the ids of the live ones.
fn fill(url: &str, live: usize, expired: usize) -> Vec<SessionId> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let mut ids = Vec::new();
        let store = session_stores::open(url, StoreConfig::default())
            .await
            .unwrap();
        let manager = SessionManager::new(
            store,
            SessionConfig {
                expiry: ExpiryPolicy::idle(Duration::from_secs(3600)),
                ..SessionConfig::default()
            },
        );
        for i in 0..live {
            let session = manager.session(None);
            if i == 0 {
                session.log_in("alice").await.unwrap();
            }
            session.insert("n", &i).await.unwrap();
            let SaveOutcome::Stored { id, .. } = session.save().await.unwrap() else {
                panic!("not stored")
            };
            ids.push(id);
        }
        // Written "in 2020" with a one-second idle timeout: expired by now.
        let clock = MockClock::starting_at(Timestamp::from_millis(1_600_000_000_000));
        let config = StoreConfig {
            clock: clock.shared(),
            ..StoreConfig::default()
        };
        let store = session_stores::open(url, config).await.unwrap();
        let manager = SessionManager::new(
            store,
            SessionConfig {
                expiry: ExpiryPolicy::idle(Duration::from_secs(1)),
                clock: clock.shared(),
                ..SessionConfig::default()
            },
        );
        for _ in 0..expired {
            let session = manager.session(None);
            session.insert("old", "x").await.unwrap();
            session.save().await.unwrap();
        }
        ids
    })
}

fn json_of(out: &str) -> Value {
    serde_json::from_str(out.trim()).unwrap()
}

/// `expired_left`: how many of the expired sessions the backend still holds for
/// `purge-expired` (Redis purges them itself through native expiry).
fn exercise(store_url: &str, expired_left: u64) {
    let config = test_support::temp_dir();
    let ids = fill(store_url, 3, 2);
    let ctl = || {
        let mut c = sessionctl(config.path());
        c.arg("--json").arg("store").arg("--store").arg(store_url);
        c
    };

    let list = json_of(&ok(ctl().arg("list")));
    assert_eq!(list.as_array().unwrap().len(), 3, "{list}");
    let first_two = json_of(&ok(ctl().args(["list", "--limit", "2"])));
    assert_eq!(
        first_two.as_array().unwrap()[..],
        list.as_array().unwrap()[..2]
    );
    let key = ids[0].key().to_hex();
    assert!(
        list.as_array()
            .unwrap()
            .iter()
            .any(|r| r["key"] == key.as_str() && r["principal"] == "alice")
    );

    // By key or by the session id itself.
    let shown = json_of(&ok(ctl().args(["show", &key])));
    assert_eq!(shown["attributes"]["n"], 0);
    let shown = json_of(&ok(ctl().args(["show", &ids[1].expose_secret()])));
    assert_eq!(shown["attributes"]["n"], 1);

    let stats = json_of(&ok(ctl().arg("stats")));
    assert_eq!(stats["sessions"], 3);
    assert_eq!(stats["principals"], 1);

    let purged = json_of(&ok(ctl().arg("purge-expired")));
    assert_eq!(purged["purged"], expired_left);
    let purged = json_of(&ok(ctl().arg("purge-expired")));
    assert_eq!(purged["purged"], 0);

    ok(ctl().args(["delete", &key]));
    let missing = run(ctl().args(["delete", &key]));
    assert!(!missing.status.success());
    assert_eq!(stderr(&missing).lines().count(), 1);
    let bad = run(ctl().args(["show", "not-a-key"]));
    assert_eq!(bad.status.code(), Some(2));

    // Migrate what is left into a SQLite database, then again (skips), then with --overwrite.
    let dest = config.path().join("migrated.db");
    let dest_url = format!("sqlite:{}", dest.display());
    let report = json_of(&ok(ctl().args(["migrate", "--to", &dest_url])));
    assert_eq!(report["copied"], 2);
    let report = json_of(&ok(ctl().args(["migrate", "--to", &dest_url])));
    assert_eq!(report["skipped"], 2);
    let report = json_of(&ok(ctl().args([
        "migrate",
        "--to",
        &dest_url,
        "--overwrite",
    ])));
    assert_eq!(report["replaced"], 2);
    let migrated = json_of(&ok(sessionctl(config.path()).args([
        "--json",
        "store",
        "--store",
        &dest_url,
        "show",
        &ids[2].key().to_hex(),
    ])));
    assert_eq!(migrated["attributes"]["n"], 2);
}

#[test]
fn store_commands_on_a_file_store() {
    let dir = test_support::temp_dir();
    exercise(
        &format!("file:{}", dir.path().join("sessions").display()),
        2,
    );
}

#[test]
fn store_commands_on_a_sqlite_store() {
    let dir = test_support::temp_dir();
    let url = format!("sqlite:{}", dir.path().join("sessions.db").display());
    exercise(&url, 2);
}

#[test]
fn bad_store_urls_are_one_line_errors() {
    let config = test_support::temp_dir();
    for url in ["bogus:", "file:", "redis://127.0.0.1:1/0"] {
        let output = run(sessionctl(config.path()).args(["store", "--store", url, "list"]));
        assert!(!output.status.success(), "{url}");
        assert_eq!(
            stderr(&output).trim_end().lines().count(),
            1,
            "{url}: {}",
            stderr(&output)
        );
    }
}

#[test]
fn store_commands_on_a_real_redis_server() {
    let Some(server) =
        test_support::redis::RedisServer::start_for("store_commands_on_a_real_redis_server")
    else {
        return;
    };
    exercise(&server.url(), 0);
}

#[test]
fn migrate_into_an_encrypted_store_and_read_it_only_with_the_key() {
    use std::os::unix::fs::PermissionsExt;
    let dir = test_support::temp_dir();
    let config = test_support::temp_dir();
    let source = format!("file:{}", dir.path().join("plain").display());
    let ids = fill(&source, 2, 0);
    let key = dir.path().join("key");
    std::fs::write(&key, "11".repeat(32)).unwrap();
    std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o600)).unwrap();
    let wrong = dir.path().join("wrong");
    std::fs::write(&wrong, "22".repeat(32)).unwrap();
    std::fs::set_permissions(&wrong, std::fs::Permissions::from_mode(0o600)).unwrap();
    let sealed_dir = dir.path().join("sealed");
    let encrypted = format!(
        "encrypted:{}?key_file={}",
        sealed_dir.display(),
        key.display()
    );

    let report = json_of(&ok(sessionctl(config.path()).args([
        "--json", "store", "--store", &source, "migrate", "--to", &encrypted,
    ])));
    assert_eq!(report["copied"], 2);
    let shown = json_of(&ok(sessionctl(config.path()).args([
        "--json",
        "store",
        "--store",
        &encrypted,
        "show",
        &ids[1].key().to_hex(),
    ])));
    assert_eq!(shown["attributes"]["n"], 1);

    let with_wrong_key = format!(
        "encrypted:{}?key_file={}",
        sealed_dir.display(),
        wrong.display()
    );
    let output = run(sessionctl(config.path()).args([
        "store",
        "--store",
        &with_wrong_key,
        "show",
        &ids[1].key().to_hex(),
    ]));
    assert!(!output.status.success());
    assert_eq!(
        stderr(&output).trim_end().lines().count(),
        1,
        "{}",
        stderr(&output)
    );
}
