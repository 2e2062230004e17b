//! The session layer against a hostile browser, over real loopback HTTP: unsafe requests from
//! other origins, form tokens, ids in response headers, and planted duplicate cookies.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod server_support;

use server_support::{send, start};
use session_core::{EventKind, SessionId};
use session_http::server::{CrossOriginProtection, HeaderTransport};

const CROSS_SITE: (&str, &str) = ("sec-fetch-site", "cross-site");
const EVIL_ORIGIN: (&str, &str) = ("origin", "http://evil.example");

#[tokio::test]
async fn unsafe_cross_site_requests_with_the_cookie_are_refused_before_the_handler() {
    let app = start(|b| b).await;
    let cookie = send(app.addr, "POST", "/set/a/1", &[]).await.cookie_pair();
    let ops_before = app.ops();
    for attack in [
        vec![("cookie", cookie.as_str()), CROSS_SITE],
        vec![("cookie", cookie.as_str()), ("sec-fetch-site", "same-site")],
        vec![("cookie", cookie.as_str()), EVIL_ORIGIN],
        vec![("cookie", cookie.as_str()), ("origin", "null")],
    ] {
        let reply = send(app.addr, "POST", "/set/a/2", &attack).await;
        assert_eq!(reply.status, 403, "{attack:?}: {}", reply.body);
        assert!(reply.body.contains("Cross-origin"), "{}", reply.body);
        assert!(reply.set_cookies().is_empty());
    }
    assert_eq!(app.ops(), ops_before, "refused before any store access");
    let reply = send(app.addr, "GET", "/get/a", &[("cookie", &cookie)]).await;
    assert_eq!(reply.body, "\"1\"", "nothing changed");

    // Same-origin requests, navigations and non-browser clients pass.
    let own_origin = format!("http://{}", app.addr);
    for fine in [
        vec![
            ("cookie", cookie.as_str()),
            ("sec-fetch-site", "same-origin"),
        ],
        vec![("cookie", cookie.as_str()), ("sec-fetch-site", "none")],
        vec![("cookie", cookie.as_str()), ("origin", own_origin.as_str())],
        vec![("cookie", cookie.as_str())],
    ] {
        let reply = send(app.addr, "POST", "/set/a/3", &fine).await;
        assert_eq!(reply.status, 200, "{fine:?}: {}", reply.body);
    }
    // Safe methods pass even cross-site.
    let reply = send(
        app.addr,
        "GET",
        "/get/a",
        &[("cookie", &cookie), CROSS_SITE],
    )
    .await;
    assert_eq!(reply.status, 200);
}

#[tokio::test]
async fn a_cross_site_login_without_any_session_is_refused_too() {
    let app = start(|b| b).await;
    let reply = send(app.addr, "POST", "/login/mallory", &[CROSS_SITE]).await;
    assert_eq!(reply.status, 403);
    assert!(reply.set_cookies().is_empty(), "no session planted");
    assert_eq!(app.count().await, 0);
}

#[tokio::test]
async fn header_sessions_are_not_ambient_and_pass_cross_origin() {
    let app = start(|b| b.header(HeaderTransport::bearer())).await;
    let asking = [("x-session-transport", "header"), CROSS_SITE, EVIL_ORIGIN];
    let reply = send(app.addr, "POST", "/login/alice", &asking).await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    let id = reply.header("x-session-id").unwrap().to_owned();
    let bearer = format!("Bearer {id}");
    let reply = send(
        app.addr,
        "POST",
        "/set/k/v",
        &[("authorization", &bearer), CROSS_SITE, EVIL_ORIGIN],
    )
    .await;
    assert_eq!(reply.status, 200, "{}", reply.body);
}

#[tokio::test]
async fn the_knobs_trust_origins_allow_same_site_or_switch_the_check_off() {
    let trusted = CrossOriginProtection {
        trusted_origins: vec!["http://evil.example".into()],
        ..CrossOriginProtection::default()
    };
    let app = start(|b| b.cross_origin(trusted)).await;
    let reply = send(app.addr, "POST", "/set/a/1", &[CROSS_SITE, EVIL_ORIGIN]).await;
    assert_eq!(reply.status, 200);
    let reply = send(app.addr, "POST", "/set/a/1", &[CROSS_SITE]).await;
    assert_eq!(reply.status, 403, "no Origin: not trusted");

    let same_site = CrossOriginProtection {
        allow_same_site: true,
        ..CrossOriginProtection::default()
    };
    let app = start(|b| b.cross_origin(same_site)).await;
    let reply = send(
        app.addr,
        "POST",
        "/set/a/1",
        &[("sec-fetch-site", "same-site")],
    )
    .await;
    assert_eq!(reply.status, 200);
    let reply = send(app.addr, "POST", "/set/a/1", &[CROSS_SITE]).await;
    assert_eq!(reply.status, 403);

    let app = start(|b| b.cross_origin(CrossOriginProtection::disabled())).await;
    let reply = send(app.addr, "POST", "/set/a/1", &[CROSS_SITE, EVIL_ORIGIN]).await;
    assert_eq!(reply.status, 200);
}

#[tokio::test]
async fn form_tokens_are_kept_in_the_session_and_replaced_on_login() {
    let app = start(|b| b).await;
    // An anonymous visitor gets a session holding only the token (for the login form).
    let reply = send(app.addr, "GET", "/form-token", &[]).await;
    let cookie = reply.cookie_pair();
    let token = reply.body.clone();
    assert_eq!(token.len(), 32);
    let with_cookie = [("cookie", cookie.as_str())];
    let again = send(app.addr, "GET", "/form-token", &with_cookie).await;
    assert_eq!(again.body, token, "one token per session");

    let forged = format!("/form-post/{}", "A".repeat(32));
    assert_eq!(
        send(app.addr, "POST", &forged, &with_cookie).await.status,
        403
    );
    let genuine = format!("/form-post/{token}");
    assert_eq!(
        send(app.addr, "POST", &genuine, &with_cookie).await.status,
        200
    );
    assert_eq!(
        send(app.addr, "POST", &genuine, &[]).await.status,
        403,
        "the token is bound to its session"
    );

    // Logging in cycles the id and the token.
    let reply = send(app.addr, "POST", "/login/alice", &with_cookie).await;
    let logged_in = reply.cookie_pair();
    let with_new = [("cookie", logged_in.as_str())];
    assert_eq!(
        send(app.addr, "POST", &genuine, &with_new).await.status,
        403
    );
    let fresh = send(app.addr, "GET", "/form-token", &with_new).await.body;
    assert_ne!(fresh, token);
    let accepted = send(app.addr, "POST", &format!("/form-post/{fresh}"), &with_new).await;
    assert_eq!(accepted.status, 200);
}

#[tokio::test]
async fn cookie_clients_never_see_their_id_in_a_response_header() {
    let app = start(|b| b.header(HeaderTransport::bearer())).await;
    let reply = send(app.addr, "POST", "/login/alice", &[]).await;
    assert!(reply.header("x-session-id").is_none());
    let cookie = reply.cookie_pair();
    let reply = send(app.addr, "POST", "/login/alice", &[("cookie", &cookie)]).await;
    assert!(reply.header("x-session-id").is_none());
    assert!(reply.cookie_pair().starts_with("session="));
    let reply = send(
        app.addr,
        "POST",
        "/logout",
        &[("cookie", &reply.cookie_pair())],
    )
    .await;
    assert!(reply.header("x-session-id").is_none());
}

#[tokio::test]
async fn a_planted_second_cookie_never_wins() {
    let app = start(|b| b).await;
    let victim = send(app.addr, "POST", "/login/victim", &[])
        .await
        .cookie_pair();
    let attacker = send(app.addr, "POST", "/login/attacker", &[])
        .await
        .cookie_pair();
    let suspicious = app.manager.events().count(EventKind::SuspiciousId);

    // Both orders: the attacker's cookie first (a more specific path is sent first) or last.
    for cookies in [
        format!("{attacker}; {victim}"),
        format!("{victim}; {attacker}"),
    ] {
        let reply = send(app.addr, "GET", "/whoami", &[("cookie", &cookies)]).await;
        assert_eq!(reply.status, 200);
        assert_eq!(reply.body, "", "no session for {cookies}");
    }
    assert_eq!(
        app.manager.events().count(EventKind::SuspiciousId),
        suspicious + 2
    );
    // A write with both gets a fresh session: neither account is touched.
    let reply = send(
        app.addr,
        "POST",
        "/set/planted/1",
        &[("cookie", &format!("{attacker}; {victim}"))],
    )
    .await;
    let fresh = reply.cookie_pair();
    assert_ne!(fresh, victim);
    assert_ne!(fresh, attacker);
    for (cookie, who) in [(&victim, "victim"), (&attacker, "attacker")] {
        let reply = send(app.addr, "GET", "/whoami", &[("cookie", cookie)]).await;
        assert_eq!(reply.body, who);
        let reply = send(app.addr, "GET", "/get/planted", &[("cookie", cookie)]).await;
        assert_eq!(reply.body, "");
    }

    // A dead id beside a live one: the live one is the session. Repeats are one id.
    let dead = format!("session={}", SessionId::generate().unwrap().expose_secret());
    for cookies in [format!("{dead}; {victim}"), format!("{victim}; {victim}")] {
        let reply = send(app.addr, "GET", "/whoami", &[("cookie", &cookies)]).await;
        assert_eq!(reply.body, "victim", "{cookies}");
    }
}
