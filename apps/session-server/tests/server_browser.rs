//! End to end in headless Chromium: log in, press the counter, restart the server on its
//! SQLite store and still be logged in with the counter kept, then log out everywhere from a
//! second browser profile and see the first one logged out.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::time::{Duration, Instant};

use fantoccini::{Client, ClientBuilder, Locator};
use hyper_util::client::legacy::connect::HttpConnector;
use support::{ServerProcess, write_users_file};
use test_support::browser::Chromedriver;

const PATIENCE: Duration = Duration::from_secs(30);

async fn browser(driver: &Chromedriver) -> Client {
    let capabilities: serde_json::Map<String, serde_json::Value> =
        serde_json::from_str(&driver.capabilities_json()).unwrap();
    // A busy machine can make a browser start time out; try a few times.
    let mut last_error = None;
    for _ in 0..3 {
        match ClientBuilder::new(HttpConnector::new())
            .capabilities(capabilities.clone())
            .connect(&driver.url())
            .await
        {
            Ok(client) => return client,
            Err(error) => last_error = Some(error),
        }
    }
    panic!("cannot start a browser session: {last_error:?}")
}

/// The text of the element `css`, waiting for it to appear (pages load after clicks; an
/// element found just before a navigation goes stale and is looked up again).
async fn text(client: &Client, css: &str) -> String {
    let deadline = Instant::now() + PATIENCE;
    loop {
        if let Ok(element) = client.find(Locator::Css(css)).await
            && let Ok(text) = element.text().await
        {
            return text;
        }
        assert!(Instant::now() < deadline, "no {css} on the page");
        tokio::task::yield_now().await;
    }
}

/// Waits until the element `css` shows `expected`.
async fn wait_for_text(client: &Client, css: &str, expected: &str) {
    let deadline = Instant::now() + PATIENCE;
    loop {
        let shown = match client.find(Locator::Css(css)).await {
            Ok(element) => element.text().await.unwrap_or_default(),
            Err(_) => String::new(),
        };
        if shown == expected {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "{css} shows {shown:?}, expected {expected:?}"
        );
        tokio::task::yield_now().await;
    }
}

/// Waits until the browser is on a page whose path is `path`.
async fn wait_for_path(client: &Client, path: &str) {
    let deadline = Instant::now() + PATIENCE;
    loop {
        let url = client.current_url().await.unwrap();
        if url.path() == path {
            return;
        }
        assert!(Instant::now() < deadline, "on {url}, expected {path}");
        tokio::task::yield_now().await;
    }
}

/// Clicks the element `css` once it is there.
async fn click(client: &Client, css: &str) {
    let deadline = Instant::now() + PATIENCE;
    loop {
        if let Ok(element) = client.find(Locator::Css(css)).await
            && element.click().await.is_ok()
        {
            return;
        }
        assert!(Instant::now() < deadline, "cannot click {css}");
        tokio::task::yield_now().await;
    }
}

async fn type_into(client: &Client, css: &str, keys: &str) {
    let deadline = Instant::now() + PATIENCE;
    loop {
        if let Ok(element) = client.find(Locator::Css(css)).await
            && element.send_keys(keys).await.is_ok()
        {
            return;
        }
        assert!(Instant::now() < deadline, "cannot type into {css}");
        tokio::task::yield_now().await;
    }
}

async fn log_in(client: &Client, base: &str) {
    client.goto(&format!("{base}/login")).await.unwrap();
    type_into(client, "#username", "alice").await;
    type_into(client, "#password", "wonderland").await;
    click(client, "#login").await;
    wait_for_path(client, "/session").await;
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
        click(&first, "#counter").await;
        wait_for_text(&first, "#counter-value", expected).await;
    }
    let id_hash = text(&first, "#id-hash").await;

    // Restart on the same SQLite file: still logged in, counter kept.
    server.guard.stop();
    let _server = ServerProcess::start_on(port, &store, &users, &[]);
    first.goto(&format!("{base}/session")).await.unwrap();
    wait_for_path(&first, "/session").await;
    assert_eq!(text(&first, "#principal").await, "alice");
    assert_eq!(text(&first, "#counter-value").await, "2");
    assert_eq!(text(&first, "#id-hash").await, id_hash);

    // A second browser profile logs in and logs out everywhere.
    let second = browser(&second_driver).await;
    log_in(&second, &base).await;
    second.goto(&format!("{base}/sessions")).await.unwrap();
    text(&second, "#sessions").await;
    let rows = second.find_all(Locator::Css("tr.session")).await.unwrap();
    assert_eq!(rows.len(), 2, "both browsers' sessions are listed");
    click(&second, "#logout-everywhere").await;
    wait_for_path(&second, "/login").await;

    // The first browser is logged out too.
    first.goto(&format!("{base}/session")).await.unwrap();
    wait_for_path(&first, "/login").await;
    text(&first, "#username").await;

    first.close().await.unwrap();
    second.close().await.unwrap();
}
