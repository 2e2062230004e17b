//! End to end in headless Chromium: log in, press the counter, restart the server on its
//! SQLite store and still be logged in with the counter kept, then log out everywhere from a
//! second browser profile and see the first one logged out. A visitor counts before logging
//! in and keeps the counter through the login, under a new id, until logging out. And a page of another origin on
//! the same host cannot change the counter, log the user out everywhere, or log the browser
//! into another account.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use fantoccini::{Client, Locator};
use support::browser::{
    PATIENCE, browser, click, log_in, text, type_into, wait_for_path, wait_for_text,
};
use support::{ServerProcess, write_users_file};
use test_support::browser::Chromedriver;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

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
    let mut server = ServerProcess::start(&store, &users, &[]);
    let base = format!("http://{}", server.addr);

    let first = browser(&first_driver).await;
    log_in(&first, &base).await;
    for expected in ["1", "2"] {
        click(&first, "#counter").await;
        wait_for_text(&first, "#counter-value", expected).await;
    }
    let id_hash = text(&first, "#id-hash").await;

    // Restart on the same SQLite file: still logged in, counter kept. The new server has a
    // port of its own; cookies are kept per host, not per port, so the browser's still counts.
    server.guard.stop();
    let server = ServerProcess::start(&store, &users, &[]);
    let base = format!("http://{}", server.addr);
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

    // The first browser is logged out too: the session page greets a visitor with a fresh
    // counter.
    first.goto(&format!("{base}/session")).await.unwrap();
    wait_for_path(&first, "/session").await;
    text(&first, "#anonymous").await;
    assert_eq!(text(&first, "#counter-value").await, "0");

    first.close().await.unwrap();
    second.close().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn browser_counts_anonymously_and_keeps_the_counter_through_login_until_logout() {
    let Some(driver) = Chromedriver::start() else {
        test_support::skip(
            "browser_counts_anonymously_and_keeps_the_counter_through_login_until_logout",
            "chromium and chromedriver (Debian packages chromium, chromium-driver)",
        );
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let users = write_users_file(dir.path(), &[("alice", "wonderland")]);
    let server = ServerProcess::start("memory:", &users, &[]);
    let base = format!("http://{}", server.addr);
    let client = browser(&driver).await;

    client.goto(&format!("{base}/session")).await.unwrap();
    text(&client, "#anonymous").await;
    for expected in ["1", "2"] {
        click(&client, "#counter").await;
        wait_for_text(&client, "#counter-value", expected).await;
    }
    let anonymous_hash = text(&client, "#id-hash").await;

    click(&client, "#login-link").await;
    wait_for_path(&client, "/login").await;
    type_into(&client, "#username", "alice").await;
    type_into(&client, "#password", "wonderland").await;
    click(&client, "#login").await;
    wait_for_path(&client, "/session").await;
    assert_eq!(text(&client, "#principal").await, "alice");
    assert_eq!(
        text(&client, "#counter-value").await,
        "2",
        "the counter is kept"
    );
    assert_ne!(text(&client, "#id-hash").await, anonymous_hash, "a new id");

    click(&client, "#logout").await;
    wait_for_path(&client, "/login").await;
    client.goto(&format!("{base}/session")).await.unwrap();
    text(&client, "#anonymous").await;
    assert_eq!(
        text(&client, "#counter-value").await,
        "0",
        "the session ended"
    );
    client.close().await.unwrap();
}

/// Serves `page` for every request on a loopback port of its own: the attacker's site.
async fn serve_page(page: String) -> (std::net::SocketAddr, tokio::task::JoinHandle<()>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let task = tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            let page = page.clone();
            tokio::spawn(async move {
                let mut head = [0u8; 4096];
                let _ = stream.read(&mut head).await;
                let response = format!(
                    "HTTP/1.1 200 OK\r\ncontent-type: text/html; charset=utf-8\r\n\
                     content-length: {}\r\nconnection: close\r\n\r\n{page}",
                    page.len()
                );
                let _ = stream.write_all(response.as_bytes()).await;
            });
        }
    });
    (addr, task)
}

/// Waits until the page's title is `expected`.
async fn wait_for_title(client: &Client, expected: &str) {
    let deadline = std::time::Instant::now() + PATIENCE;
    loop {
        if client.title().await.is_ok_and(|t| t == expected) {
            return;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "title never {expected:?}"
        );
        tokio::task::yield_now().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_page_of_another_origin_cannot_act_with_the_users_session() {
    let Some(driver) = Chromedriver::start() else {
        test_support::skip(
            "a_page_of_another_origin_cannot_act_with_the_users_session",
            "chromium and chromedriver (Debian packages chromium, chromium-driver)",
        );
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let users = write_users_file(dir.path(), &[("alice", "wonderland"), ("mallory", "evil")]);
    let server = ServerProcess::start("memory:", &users, &[]);
    let base = format!("http://{}", server.addr);
    let client = browser(&driver).await;
    log_in(&client, &base).await;
    click(&client, "#counter").await;
    wait_for_text(&client, "#counter-value", "1").await;

    // Same host, another port: a sibling origin of the same site, so the browser sends the
    // SameSite=Lax cookie along. Its scripts fire requests with the user's cookie.
    let script_attack = format!(
        "<!doctype html><title>attacking</title><script>\
         const target = '{base}';\
         const hit = path => fetch(target + path, {{method: 'POST', credentials: 'include', mode: 'no-cors'}});\
         Promise.allSettled([hit('/api/counter/clicks'), hit('/counter/clicks')])\
           .then(() => hit('/api/logout-everywhere'))\
           .finally(() => {{ document.title = 'done'; }});\
         </script>"
    );
    let (attacker, _page) = serve_page(script_attack).await;
    client.goto(&format!("http://{attacker}/")).await.unwrap();
    wait_for_title(&client, "done").await;
    client.goto(&format!("{base}/session")).await.unwrap();
    wait_for_path(&client, "/session").await;
    assert_eq!(
        text(&client, "#principal").await,
        "alice",
        "still logged in"
    );
    assert_eq!(
        text(&client, "#counter-value").await,
        "1",
        "counter untouched"
    );

    // A form that logs the browser into the attacker's account (login CSRF).
    let form_attack = format!(
        "<!doctype html><title>login</title>\
         <form id=\"f\" method=\"post\" action=\"{base}/login\">\
         <input name=\"username\" value=\"mallory\"><input name=\"password\" value=\"evil\">\
         </form><script>document.getElementById('f').submit();</script>"
    );
    let (attacker, _page) = serve_page(form_attack).await;
    client.goto(&format!("http://{attacker}/")).await.unwrap();
    wait_for_path(&client, "/login").await;
    client.goto(&format!("{base}/session")).await.unwrap();
    wait_for_path(&client, "/session").await;
    assert_eq!(text(&client, "#principal").await, "alice", "not mallory");
    let cookies = client.get_all_cookies().await.unwrap();
    let sessions: Vec<_> = cookies.iter().filter(|c| c.name() == "session").collect();
    assert_eq!(sessions.len(), 1, "{sessions:?}");
    assert_eq!(sessions[0].http_only(), Some(true));
    client.close().await.unwrap();
}
