//! Browser helpers for the session-server tests: a fantoccini client on a chromedriver, and
//! waits that probe the page until it shows what is expected.

use std::time::{Duration, Instant};

use fantoccini::{Client, ClientBuilder, Locator};
use hyper_util::client::legacy::connect::HttpConnector;
use test_support::browser::Chromedriver;

/// How long a wait for the page lasts.
pub const PATIENCE: Duration = Duration::from_secs(30);

pub async fn browser(driver: &Chromedriver) -> Client {
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
pub async fn text(client: &Client, css: &str) -> String {
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
pub async fn wait_for_text(client: &Client, css: &str, expected: &str) {
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
pub async fn wait_for_path(client: &Client, path: &str) {
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
pub async fn click(client: &Client, css: &str) {
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

pub async fn type_into(client: &Client, css: &str, keys: &str) {
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

/// Logs in as alice (password `wonderland`) through the form.
pub async fn log_in(client: &Client, base: &str) {
    client.goto(&format!("{base}/login")).await.unwrap();
    type_into(client, "#username", "alice").await;
    type_into(client, "#password", "wonderland").await;
    click(client, "#login").await;
    wait_for_path(client, "/session").await;
    assert_eq!(text(client, "#principal").await, "alice");
}
