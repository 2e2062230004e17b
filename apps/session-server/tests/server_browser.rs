//! End to end in headless Chromium: log in, press the counter, restart the server on its
//! SQLite store and still be logged in with the counter kept, then log out everywhere from a
//! second browser profile and see the first one logged out.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use fantoccini::{Client, ClientBuilder, Locator};
use support::{ServerProcess, write_users_file};
use test_support::browser::Chromedriver;

async fn browser(driver: &Chromedriver) -> Client {
    let capabilities: serde_json::Map<String, serde_json::Value> =
        serde_json::from_str(&driver.capabilities_json()).unwrap();
    ClientBuilder::native()
        .capabilities(capabilities)
        .connect(&driver.url())
        .await
        .unwrap()
}

async fn text(client: &Client, css: &str) -> String {
    client
        .find(Locator::Css(css))
        .await
        .unwrap()
        .text()
        .await
        .unwrap()
}

async fn log_in(client: &Client, base: &str) {
    client.goto(&format!("{base}/login")).await.unwrap();
    client
        .find(Locator::Css("#username"))
        .await
        .unwrap()
        .send_keys("alice")
        .await
        .unwrap();
    client
        .find(Locator::Css("#password"))
        .await
        .unwrap()
        .send_keys("wonderland")
        .await
        .unwrap();
    client
        .find(Locator::Css("#login"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    assert_eq!(text(client, "#principal").await, "alice");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn browser_login_counter_restart_and_logout_everywhere() {
    let Some(first_driver) = Chromedriver::start() else {
        test_support::skip(
            "browser_login_counter_restart_and_logout_everywhere",
            "chromium and chromedriver (Debian packages chromium, chromium-driver)",
        );
        return;
    };
    let second_driver = Chromedriver::start().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let users = write_users_file(dir.path(), &[("alice", "wonderland")]);
    let store = format!("sqlite:{}", dir.path().join("sessions.db").display());
    let port = test_support::free_port();
    let mut server = ServerProcess::start_on(port, &store, &users, &[]);
    let base = format!("http://127.0.0.1:{port}");

    let first = browser(&first_driver).await;
    log_in(&first, &base).await;
    for expected in ["1", "2"] {
        first
            .find(Locator::Css("#counter"))
            .await
            .unwrap()
            .click()
            .await
            .unwrap();
        assert_eq!(text(&first, "#counter-value").await, expected);
    }
    let id_hash = text(&first, "#id-hash").await;

    // Restart on the same SQLite file: still logged in, counter kept.
    server.guard.stop();
    let _server = ServerProcess::start_on(port, &store, &users, &[]);
    first.goto(&format!("{base}/session")).await.unwrap();
    assert_eq!(text(&first, "#principal").await, "alice");
    assert_eq!(text(&first, "#counter-value").await, "2");
    assert_eq!(text(&first, "#id-hash").await, id_hash);

    // A second browser profile logs in and logs out everywhere.
    let second = browser(&second_driver).await;
    log_in(&second, &base).await;
    second.goto(&format!("{base}/sessions")).await.unwrap();
    let rows = second.find_all(Locator::Css("tr.session")).await.unwrap();
    assert_eq!(rows.len(), 2, "both browsers' sessions are listed");
    second
        .find(Locator::Css("#logout-everywhere"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    assert!(
        second
            .current_url()
            .await
            .unwrap()
            .path()
            .ends_with("/login")
    );

    // The first browser is logged out too.
    first.goto(&format!("{base}/session")).await.unwrap();
    assert!(
        first
            .current_url()
            .await
            .unwrap()
            .path()
            .ends_with("/login")
    );
    assert!(first.find(Locator::Css("#username")).await.is_ok());

    first.close().await.unwrap();
    second.close().await.unwrap();
}
