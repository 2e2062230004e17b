//! The session middleware over real loopback HTTP: laziness, cookies, fixation, invalidation,
//! header transport, expiry, failure policies, bad ids and concurrency.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod server_support;

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use server_support::{ABSOLUTE, IDLE, REMEMBERED, attributes, max_age, send, start};
use session_core::{EventKind, SessionId};
use session_http::server::{
    ConfigError, ConflictPolicy, CookieConfig, HeaderTransport, SameSite, SessionLayer,
    StoreFailurePolicy,
};

#[tokio::test]
async fn untouched_session_means_no_store_io_and_no_cookie() {
    let app = start(|b| b).await;
    let reply = send(app.addr, "GET", "/unused", &[]).await;
    assert_eq!(reply.status, 200);
    assert!(reply.set_cookies().is_empty());
    assert!(reply.header("cache-control").is_none());
    // Even with a cookie presented, an untouched session is not loaded.
    let id = SessionId::generate().unwrap().expose_secret();
    let cookie = format!("session={id}");
    let reply = send(app.addr, "GET", "/unused", &[("cookie", &cookie)]).await;
    assert_eq!(reply.status, 200);
    assert!(reply.set_cookies().is_empty());
    assert_eq!(app.ops(), 0, "no store I/O for an untouched session");
}

#[tokio::test]
async fn reading_a_new_session_stores_nothing_and_sets_no_cookie() {
    let app = start(|b| b).await;
    let reply = send(app.addr, "GET", "/get/theme", &[]).await;
    assert_eq!(reply.status, 200);
    assert!(reply.set_cookies().is_empty());
    assert_eq!(app.count().await, 0);
    assert_eq!(app.ops(), 0, "a new session needs no load");
}

#[tokio::test]
async fn first_write_sets_a_safe_cookie_whose_max_age_matches_the_record() {
    let app = start(|b| b).await;
    let reply = send(app.addr, "POST", "/set/theme/dark", &[]).await;
    assert_eq!(reply.status, 200);
    let set_cookie = reply.set_cookie();
    assert_eq!(
        attributes(&set_cookie),
        ["Path=/", "HttpOnly", "Secure", "SameSite=Lax"]
    );
    assert_eq!(max_age(&set_cookie), Some(IDLE.as_secs()));
    assert_eq!(reply.header("cache-control"), Some("no-store"));
    assert_eq!(app.count().await, 1);

    let cookie = reply.cookie_pair();
    let reply = send(app.addr, "GET", "/get/theme", &[("cookie", &cookie)]).await;
    assert_eq!(reply.body, "\"dark\"");
    // A read right after a write needs no touch, so no new cookie.
    assert!(reply.set_cookies().is_empty());
    assert!(reply.header("cache-control").is_none());
}

#[tokio::test]
async fn a_cookie_header_with_a_neighbour_that_is_not_ascii_still_carries_the_session() {
    let app = start(|b| b).await;
    let cookie = send(app.addr, "POST", "/set/theme/dark", &[])
        .await
        .cookie_pair();
    let line = format!("pref=caf\u{e9}; {cookie}; emoji=\u{1F36A}");
    let reply = send(app.addr, "GET", "/get/theme", &[("cookie", &line)]).await;
    assert_eq!(reply.body, "\"dark\"");
    assert!(
        reply.set_cookies().is_empty(),
        "the session was found: no new id"
    );
}

#[tokio::test]
async fn reads_roll_the_idle_expiry_and_the_absolute_expiry_caps_it() {
    let app = start(|b| b).await;
    let cookie = send(app.addr, "POST", "/set/a/1", &[]).await.cookie_pair();
    // 20 minutes on a 30-minute idle timeout: a read touches and re-sends the cookie.
    for round in 0..5 {
        app.clock.advance(Duration::from_secs(20 * 60));
        let reply = send(app.addr, "GET", "/get/a", &[("cookie", &cookie)]).await;
        assert_eq!(reply.body, "\"1\"", "alive after round {round}");
        let set_cookie = reply.set_cookie();
        assert_eq!(set_cookie.split(';').next().unwrap(), cookie, "same id");
        let elapsed = 20 * 60 * (round + 1);
        let expected = IDLE.as_secs().min(ABSOLUTE.as_secs() - elapsed);
        assert_eq!(max_age(&set_cookie), Some(expected), "round {round}");
        assert_eq!(reply.header("cache-control"), Some("no-store"));
    }
    // 100 minutes in; the absolute timeout (2 h) ends it 20 minutes later however active.
    app.clock.advance(Duration::from_secs(20 * 60));
    let reply = send(app.addr, "GET", "/get/a", &[("cookie", &cookie)]).await;
    assert_eq!(reply.status, 200);
    assert_eq!(reply.body, "", "a fresh session after the absolute expiry");
    assert!(reply.set_cookie().contains("Max-Age=0"));
}

#[tokio::test]
async fn remember_me_gives_the_session_and_its_cookie_a_longer_life() {
    let app = start(|b| b).await;
    let cookie = send(app.addr, "POST", "/login/alice", &[])
        .await
        .cookie_pair();
    let reply = send(app.addr, "POST", "/remember-me", &[("cookie", &cookie)]).await;
    assert_eq!(reply.status, 200);
    let set_cookie = reply.set_cookie();
    assert_eq!(set_cookie.split(';').next().unwrap(), cookie, "same id");
    assert_eq!(max_age(&set_cookie), Some(REMEMBERED.as_secs()));
    // Past both timeouts the app started it with, the session lives on.
    app.clock.advance(ABSOLUTE + IDLE);
    let reply = send(app.addr, "GET", "/whoami", &[("cookie", &cookie)]).await;
    assert_eq!(reply.body, "alice");
}

#[tokio::test]
async fn idle_expiry_gives_a_fresh_session_and_expires_the_cookie() {
    let app = start(|b| b).await;
    let cookie = send(app.addr, "POST", "/set/a/1", &[]).await.cookie_pair();
    app.clock.advance(IDLE);
    let reply = send(app.addr, "GET", "/get/a", &[("cookie", &cookie)]).await;
    assert_eq!(reply.status, 200);
    assert_eq!(reply.body, "");
    let set_cookie = reply.set_cookie();
    assert!(set_cookie.starts_with("session=;"), "{set_cookie}");
    assert_eq!(max_age(&set_cookie), Some(0));
}

#[tokio::test]
async fn login_cycles_the_id_and_the_old_one_stops_working() {
    let app = start(|b| b).await;
    let before = send(app.addr, "POST", "/set/cart/book", &[])
        .await
        .cookie_pair();
    let reply = send(app.addr, "POST", "/login/alice", &[("cookie", &before)]).await;
    assert_eq!(reply.status, 200);
    let after = reply.cookie_pair();
    assert_ne!(before, after, "login must change the id");
    assert_eq!(reply.header("cache-control"), Some("no-store"));

    let reply = send(app.addr, "GET", "/whoami", &[("cookie", &after)]).await;
    assert_eq!(reply.body, "alice");
    let reply = send(app.addr, "GET", "/get/cart", &[("cookie", &after)]).await;
    assert_eq!(reply.body, "\"book\"", "data survives the id cycle");
    let reply = send(app.addr, "GET", "/whoami", &[("cookie", &before)]).await;
    assert_eq!(reply.body, "", "the pre-login id is dead");
    assert_eq!(app.count().await, 1);
}

#[tokio::test]
async fn invalidate_deletes_the_record_and_expires_the_cookie_with_the_same_attributes() {
    let cookie_config = CookieConfig {
        name: "sid".into(),
        path: "/app".into(),
        domain: Some("localhost".into()),
        same_site: SameSite::Strict,
        ..CookieConfig::default()
    };
    let app = start(|b| b.cookie(cookie_config)).await;
    let reply = send(app.addr, "POST", "/login/alice", &[]).await;
    let set = reply.set_cookie();
    let cookie = reply.cookie_pair();
    assert_eq!(app.count().await, 1);
    let reply = send(app.addr, "POST", "/logout", &[("cookie", &cookie)]).await;
    assert_eq!(reply.status, 200);
    let expired = reply.set_cookie();
    assert!(expired.starts_with("sid=;"));
    assert_eq!(max_age(&expired), Some(0));
    assert!(expired.contains("Expires=Thu, 01 Jan 1970 00:00:00 GMT"));
    assert_eq!(attributes(&expired), attributes(&set));
    assert_eq!(reply.header("cache-control"), Some("no-store"));
    assert_eq!(app.count().await, 0, "the record is deleted");
    let reply = send(app.addr, "GET", "/whoami", &[("cookie", &cookie)]).await;
    assert_eq!(reply.body, "");
}

#[tokio::test]
async fn logout_everywhere_ends_every_session_of_the_principal() {
    let app = start(|b| b).await;
    let laptop = send(app.addr, "POST", "/login/alice", &[])
        .await
        .cookie_pair();
    let phone = send(app.addr, "POST", "/login/alice", &[])
        .await
        .cookie_pair();
    let bob = send(app.addr, "POST", "/login/bob", &[])
        .await
        .cookie_pair();
    let reply = send(
        app.addr,
        "POST",
        "/logout-everywhere",
        &[("cookie", &phone)],
    )
    .await;
    assert_eq!(reply.status, 200);
    assert_eq!(reply.body, "2");
    assert_eq!(max_age(&reply.set_cookie()), Some(0));
    for dead in [&laptop, &phone] {
        let reply = send(app.addr, "GET", "/whoami", &[("cookie", dead)]).await;
        assert_eq!(reply.body, "");
    }
    let reply = send(app.addr, "GET", "/whoami", &[("cookie", &bob)]).await;
    assert_eq!(reply.body, "bob");
}

#[tokio::test]
async fn a_write_to_a_session_ended_meanwhile_does_not_resurrect_it() {
    use session_core::SessionStore;
    let app = start(|b| b).await;
    let cookie = send(app.addr, "POST", "/login/alice", &[])
        .await
        .cookie_pair();
    let addr = app.addr;
    let slow_cookie = cookie.clone();
    let slow = tokio::spawn(async move {
        send(addr, "POST", "/gated-set/k/v", &[("cookie", &slow_cookie)]).await
    });
    // The request has loaded the session; end it (as "log out everywhere" on another device
    // would), then let the request write.
    app.loaded.notified().await;
    let key = SessionId::parse(cookie.trim_start_matches("session="))
        .unwrap()
        .key();
    assert!(
        app.store.inner().delete(&key).await.unwrap(),
        "the session was live"
    );
    app.gate.add_permits(1);
    let reply = slow.await.unwrap();
    assert_eq!(reply.status, 200, "{reply:?}");
    assert_eq!(
        max_age(&reply.set_cookie()),
        Some(0),
        "the client is told to forget the id"
    );
    assert_eq!(app.count().await, 0, "the session stays gone");
}

#[tokio::test]
async fn concurrent_writes_of_the_same_attribute_answer_409_by_default() {
    let app = start(|b| b).await;
    let cookie = send(app.addr, "POST", "/set/k/start", &[])
        .await
        .cookie_pair();
    let headers = [("cookie", cookie.as_str())];
    let (a, b) = tokio::join!(
        send(app.addr, "POST", "/slow-set/k/a", &headers),
        send(app.addr, "POST", "/slow-set/k/b", &headers),
    );
    let mut statuses = [a.status.as_u16(), b.status.as_u16()];
    statuses.sort_unstable();
    assert_eq!(statuses, [200, 409]);
    let loser = if a.status == 409 { &a } else { &b };
    assert!(loser.body.contains("retry"));
    let winner = if a.status == 200 { "\"a\"" } else { "\"b\"" };
    let reply = send(app.addr, "GET", "/get/k", &[("cookie", &cookie)]).await;
    assert_eq!(reply.body, winner);
    assert_eq!(app.manager.events().count(EventKind::Conflict), 1);
}

#[tokio::test]
async fn conflicts_can_keep_the_handlers_response() {
    let app = start(|b| b.on_conflict(ConflictPolicy::KeepResponse)).await;
    let cookie = send(app.addr, "POST", "/set/k/start", &[])
        .await
        .cookie_pair();
    let headers = [("cookie", cookie.as_str())];
    let (a, b) = tokio::join!(
        send(app.addr, "POST", "/slow-set/k/a", &headers),
        send(app.addr, "POST", "/slow-set/k/b", &headers),
    );
    assert_eq!((a.status.as_u16(), b.status.as_u16()), (200, 200));
    assert_eq!(app.manager.events().count(EventKind::Conflict), 1);
}

#[tokio::test]
async fn header_transport_for_api_clients() {
    let app = start(|b| b.without_cookie().header(HeaderTransport::bearer())).await;
    let reply = send(app.addr, "POST", "/login/alice", &[]).await;
    assert!(reply.set_cookies().is_empty());
    let id = reply.header("x-session-id").unwrap().to_owned();
    assert_eq!(reply.header("cache-control"), Some("no-store"));
    let bearer = format!("Bearer {id}");
    let reply = send(app.addr, "GET", "/whoami", &[("authorization", &bearer)]).await;
    assert_eq!(reply.body, "alice");
    assert!(reply.header("x-session-id").is_none());
    let reply = send(app.addr, "POST", "/logout", &[("authorization", &bearer)]).await;
    assert_eq!(reply.header("x-session-id"), Some(""));
    let reply = send(app.addr, "GET", "/whoami", &[("authorization", &bearer)]).await;
    assert_eq!(reply.body, "");
}

#[tokio::test]
async fn with_both_transports_a_client_is_answered_on_the_one_it_used() {
    let named = HeaderTransport::Named(http::HeaderName::from_static("x-auth-token"));
    let app = start(|b| b.header(named)).await;
    // No id presented: the cookie carries the new id, and no header shows it to scripts.
    let reply = send(app.addr, "POST", "/set/a/1", &[]).await;
    assert!(reply.cookie_pair().starts_with("session="));
    assert!(reply.header("x-auth-token").is_none());
    // Asking for header transport: the header carries it, and no cookie is set.
    let asking = [("x-session-transport", "header")];
    let reply = send(app.addr, "POST", "/set/a/1", &asking).await;
    assert!(reply.set_cookies().is_empty());
    let id = reply.header("x-auth-token").unwrap().to_owned();
    // Header in: header out, no cookie.
    let reply = send(app.addr, "POST", "/login/alice", &[("x-auth-token", &id)]).await;
    assert!(reply.set_cookies().is_empty());
    let renewed = reply.header("x-auth-token").unwrap().to_owned();
    assert_ne!(renewed, id);
    // Cookie in: cookie out, no header.
    let cookie = format!("session={renewed}");
    let reply = send(app.addr, "POST", "/login/alice", &[("cookie", &cookie)]).await;
    assert!(reply.header("x-auth-token").is_none());
    assert_ne!(reply.cookie_pair(), cookie);
}

#[tokio::test]
async fn malformed_and_unknown_ids_give_a_fresh_session_and_raise_events() {
    let app = start(|b| b).await;
    let events = app.manager.events().clone();
    for bad in ["garbage", "../../etc/passwd", "", &"A".repeat(500)] {
        let cookie = format!("session={bad}");
        let reply = send(app.addr, "POST", "/incr/n", &[("cookie", &cookie)]).await;
        assert_eq!(reply.status, 200, "{bad:?}");
        assert_eq!(reply.body, "1");
        assert_ne!(reply.cookie_pair(), cookie);
    }
    assert_eq!(events.count(EventKind::SuspiciousId), 4);
    assert_eq!(
        app.ops(),
        4,
        "malformed ids never reach the store (4 creates)"
    );

    // Well-formed but unknown: one load, a fresh session, the stale cookie expired.
    let unknown = format!("session={}", SessionId::generate().unwrap().expose_secret());
    let reply = send(app.addr, "GET", "/get/n", &[("cookie", &unknown)]).await;
    assert_eq!(reply.status, 200);
    assert_eq!(reply.body, "");
    assert_eq!(max_age(&reply.set_cookie()), Some(0));
    assert_eq!(events.count(EventKind::SuspiciousId), 5);

    // A malformed cookie on a route that never touches the session still raises the event.
    let reply = send(app.addr, "GET", "/unused", &[("cookie", "session=%%%")]).await;
    assert_eq!(reply.status, 200);
    assert_eq!(events.count(EventKind::SuspiciousId), 6);
}

#[tokio::test]
async fn nothing_is_saved_after_a_server_error_unless_asked() {
    let app = start(|b| b).await;
    let reply = send(app.addr, "POST", "/write-then-fail", &[]).await;
    assert_eq!(reply.status, 500);
    assert!(reply.set_cookies().is_empty());
    assert_eq!(app.count().await, 0);

    let app = start(|b| b.save_on_server_error(true)).await;
    let reply = send(app.addr, "POST", "/write-then-fail", &[]).await;
    assert_eq!(reply.status, 500);
    assert_eq!(reply.set_cookies().len(), 1);
    assert_eq!(app.count().await, 1);
}

#[tokio::test]
async fn store_failure_fails_closed_with_a_plain_503_by_default() {
    let app = start(|b| b).await;
    let cookie = send(app.addr, "POST", "/set/a/1", &[]).await.cookie_pair();
    app.store.hook().fail.store(true, Ordering::SeqCst);
    for (method, path, with_cookie) in [
        ("GET", "/get/a", true),
        ("POST", "/set/a/2", true),
        ("POST", "/set/a/2", false),
    ] {
        let headers: &[(&str, &str)] = if with_cookie {
            &[("cookie", &cookie)]
        } else {
            &[]
        };
        let reply = send(app.addr, method, path, headers).await;
        assert_eq!(reply.status, 503, "{method} {path}");
        assert!(
            reply
                .header("content-type")
                .unwrap()
                .starts_with("text/plain")
        );
        assert_eq!(reply.header("retry-after"), Some("1"), "{method} {path}");
        assert!(!reply.body.contains("10.0.0.7") && !reply.body.contains("probe"));
        assert!(reply.set_cookies().is_empty());
    }
    assert!(app.manager.events().count(EventKind::StoreError) >= 3);
    // Routes that do not use the session are unaffected.
    assert_eq!(send(app.addr, "GET", "/unused", &[]).await.status, 200);
    app.store.hook().fail.store(false, Ordering::SeqCst);
    let reply = send(app.addr, "GET", "/get/a", &[("cookie", &cookie)]).await;
    assert_eq!(reply.body, "\"1\"", "the session survived the outage");
}

#[tokio::test]
async fn store_failure_can_continue_without_a_session() {
    let app = start(|b| b.on_store_failure(StoreFailurePolicy::ContinueWithoutSession)).await;
    let cookie = send(app.addr, "POST", "/set/a/1", &[]).await.cookie_pair();
    app.store.hook().fail.store(true, Ordering::SeqCst);
    let reply = send(app.addr, "GET", "/get/a", &[("cookie", &cookie)]).await;
    assert_eq!(reply.status, 200);
    assert_eq!(reply.body, "", "the handler sees an empty session");
    assert!(
        reply.set_cookies().is_empty(),
        "the client's cookie is left alone"
    );
    let reply = send(app.addr, "POST", "/set/a/2", &[]).await;
    assert_eq!(reply.status, 200);
    assert!(reply.set_cookies().is_empty());
    assert!(app.manager.events().count(EventKind::StoreError) >= 2);
    app.store.hook().fail.store(false, Ordering::SeqCst);
    let reply = send(app.addr, "GET", "/get/a", &[("cookie", &cookie)]).await;
    assert_eq!(reply.body, "\"1\"");
}

#[tokio::test]
async fn many_clients_incrementing_their_own_counters_on_one_session_lose_nothing() {
    let app = start(|b| b).await;
    let cookie = send(app.addr, "POST", "/login/alice", &[])
        .await
        .cookie_pair();
    let cookie = Arc::new(cookie);
    const CLIENTS: usize = 64;
    const ROUNDS: usize = 10;
    let mut tasks = Vec::new();
    for client in 0..CLIENTS {
        let cookie = cookie.clone();
        let addr = app.addr;
        tasks.push(tokio::spawn(async move {
            for _ in 0..ROUNDS {
                let path = format!("/incr/c{client}");
                let reply = send(addr, "POST", &path, &[("cookie", &cookie)]).await;
                assert_eq!(reply.status, 200, "{}", reply.body);
            }
        }));
    }
    for task in tasks {
        task.await.unwrap();
    }
    for client in 0..CLIENTS {
        let reply = send(
            app.addr,
            "GET",
            &format!("/get/c{client}"),
            &[("cookie", &cookie)],
        )
        .await;
        assert_eq!(reply.body, ROUNDS.to_string(), "client {client}");
    }
}

#[test]
fn cookie_prefixes_and_attributes_are_checked_when_the_layer_is_built() {
    let manager = session_core::SessionManager::new(
        Arc::new(session_core::MemoryStore::new()),
        session_core::SessionConfig::default(),
    );
    let build = |cookie: CookieConfig| {
        SessionLayer::builder(manager.clone())
            .cookie(cookie)
            .build()
    };
    let host = |f: fn(&mut CookieConfig)| {
        let mut c = CookieConfig {
            name: "__Host-session".into(),
            ..CookieConfig::default()
        };
        f(&mut c);
        c
    };
    assert!(build(host(|_| {})).is_ok());
    for bad in [
        host(|c| c.secure = false),
        host(|c| c.path = "/app".into()),
        host(|c| c.domain = Some("example.org".into())),
        CookieConfig {
            name: "__Secure-s".into(),
            secure: false,
            ..CookieConfig::default()
        },
        CookieConfig {
            same_site: SameSite::None,
            secure: false,
            ..CookieConfig::default()
        },
        CookieConfig {
            name: "bad name;".into(),
            ..CookieConfig::default()
        },
        CookieConfig {
            path: "/a; Domain=evil".into(),
            ..CookieConfig::default()
        },
    ] {
        assert!(
            matches!(build(bad.clone()), Err(ConfigError::Cookie { .. })),
            "{bad:?}"
        );
    }
    assert!(matches!(
        SessionLayer::builder(manager).without_cookie().build(),
        Err(ConfigError::NoTransport)
    ));
}
