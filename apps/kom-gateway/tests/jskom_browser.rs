//! End to end: jskom (httpkom's web client, from PyPI) served against kom-gateway, driven
//! in headless Chromium. A person logs in by name and sees their memberships with unread
//! counts.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::process::{Command, Stdio};
use std::time::Duration;

use common::start_gateway;
use fantoccini::{ClientBuilder, Locator};
use hyper_util::client::legacy::connect::HttpConnector;
use session_lyskom::client::{Client, ConnectOptions};
use session_lyskom::protocol::numbers::SessionNo;
use session_lyskom::protocol::types::{ConfType, MembershipType, MiscInfo};
use test_support::browser::Chromedriver;
use test_support::lyskomd::Lyskomd;
use test_support::{ChildGuard, python_peer};

const NAME: &str = "Browser Tester";
const PASSWORD: &str = "webb-lösen";
const CONF: &str = "Fikarummet";

/// Creates the person, a conference they are a member of, and two unread texts in it.
async fn seed(kom: &Lyskomd) {
    let options = ConnectOptions {
        connect_timeout: Duration::from_secs(20),
        ..ConnectOptions::default()
    };
    let client = Client::connect(&kom.addr_string(), &options).await.unwrap();
    let pers_no = client.create_person(NAME, PASSWORD).await.unwrap();
    client.login(pers_no, PASSWORD, false).await.unwrap();
    let conf = client.create_conf(CONF, ConfType::default()).await.unwrap();
    client
        .add_member(conf, pers_no, 200, 0, MembershipType::default())
        .await
        .unwrap();
    for subject in ["Första", "Andra"] {
        let text = format!("{subject}\nKaffe finns i köket.");
        client
            .create_text(
                text.as_bytes(),
                &[MiscInfo::Recipient(conf)],
                &[(1, b"text/plain;charset=utf-8".to_vec())],
            )
            .await
            .unwrap();
    }
    // A fresh login leaves these texts unread for the person (they wrote them, but the
    // server only marks texts read when the author's client says so).
    client.set_unread(conf, 2).await.unwrap();
    client.disconnect(SessionNo(0)).await.ok();
}

fn start_jskom(gateway_port: u16, dir: &std::path::Path) -> Option<(ChildGuard, u16)> {
    let python = python_peer("python")?;
    let ok = Command::new(&python)
        .args(["-c", "import jskom"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .ok()?
        .success();
    if !ok {
        return None;
    }
    let settings = dir.join("jskom.cfg");
    std::fs::write(
        &settings,
        format!("HTTPKOM_SERVER = 'http://127.0.0.1:{gateway_port}'\n"),
    )
    .unwrap();
    let (guard, port) = common::start_python_server("jskom", |port| {
        let mut command = Command::new(&python);
        command
            .args([
                "-m",
                "jskom",
                "--host",
                "127.0.0.1",
                "--port",
                &port.to_string(),
            ])
            .env("JSKOM_SETTINGS", &settings)
            .current_dir(dir);
        command
    });
    Some((guard, port))
}

async fn wait_for_text(
    browser: &fantoccini::Client,
    css: &str,
    wanted: &str,
) -> Result<String, String> {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    let mut last = String::new();
    loop {
        if let Ok(elements) = browser.find_all(Locator::Css(css)).await {
            for e in elements {
                if let Ok(text) = e.text().await {
                    if text.contains(wanted) {
                        return Ok(text);
                    }
                    last = text;
                }
            }
        }
        if tokio::time::Instant::now() > deadline {
            let body = browser.find(Locator::Css("body")).await.ok();
            let page = match body {
                Some(b) => b.text().await.unwrap_or_default(),
                None => String::new(),
            };
            return Err(format!(
                "no {css} containing {wanted:?} (last: {last:?}); page:\n{page}"
            ));
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn jskom_logs_in_through_kom_gateway_and_lists_memberships() {
    let test = "jskom_logs_in_through_kom_gateway_and_lists_memberships";
    let Some(kom) = Lyskomd::start() else {
        test_support::skip(test, "lyskomd (Debian package lyskom-server)");
        return;
    };
    seed(&kom).await;
    let gateway = start_gateway(&[("kom", kom.port())], "");
    let dir = test_support::temp_dir();
    let Some((_jskom, jskom_port)) = start_jskom(gateway.addr.port(), dir.path()) else {
        test_support::skip(test, "jskom in the peers virtualenv (pip install jskom)");
        return;
    };
    let Some(driver) = Chromedriver::start() else {
        test_support::skip(
            test,
            "chromium and chromedriver (Debian chromium, chromium-driver)",
        );
        return;
    };
    let capabilities: serde_json::Map<String, serde_json::Value> =
        serde_json::from_str(&driver.capabilities_json()).unwrap();
    let browser = ClientBuilder::new(HttpConnector::new())
        .capabilities(capabilities)
        .connect(&driver.url())
        .await
        .unwrap();
    let result = drive(&browser, jskom_port).await;
    let _ = browser.close().await;
    result.unwrap();
    let metrics = common::Http::new(gateway.addr).get("/_metrics").json();
    assert!(metrics["opened"].as_u64().unwrap() >= 1, "{metrics}");
}

async fn drive(browser: &fantoccini::Client, jskom_port: u16) -> Result<(), String> {
    let e = |e: fantoccini::error::CmdError| e.to_string();
    browser
        .goto(&format!("http://127.0.0.1:{jskom_port}/"))
        .await
        .map_err(e)?;
    let lookup = browser
        .wait()
        .at_most(Duration::from_secs(60))
        .for_element(Locator::Css(".jskomConfInputLookup input"))
        .await
        .map_err(e)?;
    lookup.send_keys(NAME).await.map_err(e)?;
    browser
        .find(Locator::Css(".jskomConfInputLookup button"))
        .await
        .map_err(e)?
        .click()
        .await
        .map_err(e)?;
    // The name lookup went through the gateway: the matched name is shown.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    loop {
        let shown = browser
            .find(Locator::Css(".jskomConfInputConfName input"))
            .await
            .map_err(e)?
            .prop("value")
            .await
            .map_err(e)?;
        if shown.as_deref() == Some(NAME) {
            break;
        }
        if tokio::time::Instant::now() > deadline {
            return Err(format!("the name lookup never matched (shown {shown:?})"));
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    browser
        .find(Locator::Css("input[type=password]"))
        .await
        .map_err(e)?
        .send_keys(PASSWORD)
        .await
        .map_err(e)?;
    browser
        .find(Locator::Css("button[type=submit]"))
        .await
        .map_err(e)?
        .click()
        .await
        .map_err(e)?;
    // Logged in: the sidebar lists the membership with its two unread texts.
    let entry = wait_for_text(browser, "li.unread.membership", CONF).await?;
    if !entry.contains('2') {
        return Err(format!("expected 2 unread in {entry:?}"));
    }
    eprintln!("jskom shows the membership: {entry:?}");
    Ok(())
}
