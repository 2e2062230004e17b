//! Text from the session store reaches the session page escaped: a counter whose name or value
//! holds markup (written into the store by another program sharing it) shows as text, never
//! as a script.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use session_core::{SessionConfig, SessionId, SessionManager, StoreConfig};
use support::{ServerProcess, login, send, write_users_file};

#[tokio::test]
async fn counter_names_and_values_with_markup_render_escaped() {
    let dir = tempfile::tempdir().unwrap();
    let users = write_users_file(dir.path(), &[("alice", "wonderland")]);
    let store_url = format!("sqlite:{}", dir.path().join("sessions.db").display());
    let server = ServerProcess::start(&store_url, &users, &[]);
    let cookie = login(server.addr, "alice", "wonderland").await;
    let reply = send(
        server.addr,
        "POST",
        "/api/counter/clicks",
        &[("cookie", &cookie)],
        None,
    )
    .await;
    assert_eq!(reply.status, 200, "{}", reply.body);

    // Another program sharing the store writes markup where the page shows counters.
    let (_, id) = cookie.split_once('=').unwrap();
    let store = session_stores::open(&store_url, StoreConfig::default())
        .await
        .unwrap();
    let manager = SessionManager::new(store, SessionConfig::default());
    let session = manager.session(Some(SessionId::parse(id).unwrap()));
    session
        .insert("counter:clicks", "<script>alert(1)</script>")
        .await
        .unwrap();
    session
        .insert("counter:<script>alert(2)</script>", &1)
        .await
        .unwrap();
    session.save().await.unwrap();

    let page = send(server.addr, "GET", "/session", &[("cookie", &cookie)], None).await;
    assert_eq!(page.status, 200, "{}", page.body);
    assert!(
        page.body.contains(
            "<span id=\"counter-value\">&quot;&lt;script&gt;alert(1)&lt;/script&gt;&quot;</span>"
        ),
        "{}",
        page.body
    );
    assert!(
        page.body
            .contains("counter:&lt;script&gt;alert(2)&lt;/script&gt;"),
        "{}",
        page.body
    );
    assert!(!page.body.contains("<script>alert"), "{}", page.body);
}
