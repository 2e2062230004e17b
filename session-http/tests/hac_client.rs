//! The HAC client against the HAC emulator (in process, on a loopback port): every login flow,
//! expiry and re-login, tokens, the ROUTE cookie, cache reuse — and the emulator's own HTTP
//! contract, request by request.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;
use std::time::Duration;

use http::{Request, StatusCode, header};
use session_core::{AuthError, Authenticator, MockClock, PasswordCredentials};
use session_http::hac::emulator::{EmulatorConfig, HacEmulator, RunningEmulator};
use session_http::hac::{
    CacheKey, CachedSession, FileSessionCache, FlexSearchQuery, HacAuthenticator, HacClient,
    HacError, LoginOutcome, SessionCache, csrf_token, is_login_page,
};

struct Fixture {
    hac: RunningEmulator,
    clock: MockClock,
    cache: Arc<FileSessionCache>,
    _dir: tempfile::TempDir,
}

impl Fixture {
    async fn start(configure: impl FnOnce(&mut EmulatorConfig)) -> Fixture {
        let clock = MockClock::new();
        let mut config = EmulatorConfig {
            clock: clock.shared(),
            ..EmulatorConfig::default()
        };
        configure(&mut config);
        let hac = HacEmulator::new(config)
            .bind("127.0.0.1:0".parse().unwrap())
            .await
            .unwrap();
        let dir = tempfile::tempdir().unwrap();
        let cache = Arc::new(FileSessionCache::new(dir.path().join("hac-client")));
        Fixture {
            hac,
            clock,
            cache,
            _dir: dir,
        }
    }

    fn key(&self) -> CacheKey {
        CacheKey::new(self.hac.base_url(), "admin", "local")
    }

    fn client(&self, password: Option<&str>) -> HacClient {
        let client = HacClient::new(self.key())
            .unwrap()
            .with_cache(self.cache.clone());
        match password {
            Some(p) => client.with_password(p),
            None => client,
        }
    }

    async fn cached(&self) -> Option<CachedSession> {
        self.cache.load(&self.key()).await.unwrap()
    }

    fn logins(&self) -> usize {
        self.hac.emulator().stats().logins
    }
}

#[tokio::test]
async fn login_and_the_three_operations() {
    let f = Fixture::start(|_| {}).await;
    let client = f.client(Some("nimda"));
    assert_eq!(client.login().await.unwrap(), LoginOutcome::LoggedIn);
    assert_eq!(client.login().await.unwrap(), LoginOutcome::AlreadyLoggedIn);

    let groovy = client
        .groovy("println 'hello'\nreturn 'done'", true)
        .await
        .unwrap();
    assert!(groovy.succeeded());
    assert_eq!(groovy.output, "hello\n");
    assert_eq!(groovy.result, "done");
    assert!(groovy.commit);
    let failed = client
        .groovy("throw new IllegalStateException('no')", false)
        .await
        .unwrap();
    assert!(!failed.succeeded());
    assert!(
        failed
            .stacktrace
            .unwrap()
            .starts_with("java.lang.IllegalStateException: no")
    );

    let users = client
        .flexible_search(&FlexSearchQuery::new("SELECT {pk}, {uid} FROM {User}").max_count(2))
        .await
        .unwrap();
    assert_eq!(users.headers, ["PK", "p_uid"]);
    assert_eq!(users.rows.len(), 2);
    assert_eq!(users.result_count, 2);
    let broken = client
        .flexible_search(&FlexSearchQuery::new("SELECT {pk} FROM {NoSuchType}"))
        .await
        .unwrap();
    assert!(!broken.succeeded());
    assert_eq!(
        broken.exception.unwrap().message,
        "type code 'NoSuchType' invalid"
    );

    let imported = client
        .import_impex("INSERT_UPDATE Product;code[unique=true];name[lang=en]\n;p1;First\n")
        .await
        .unwrap();
    assert!(imported.success, "{imported:?}");
    assert_eq!(imported.summary, "Import finished successfully");
    let products = client
        .flexible_search(&FlexSearchQuery::new(
            "SELECT {code}, {name} FROM {Product}",
        ))
        .await
        .unwrap();
    assert_eq!(products.rows, [["p1", "First"]]);
    let rejected = client
        .import_impex("INSERT_UPDATE Nope;code[unique=true]\n;x\n")
        .await
        .unwrap();
    assert!(!rejected.success);
    assert_eq!(rejected.summary, "Import has encountered problems");
    assert!(
        rejected.errors[0].contains("unknown type 'Nope'"),
        "{rejected:?}"
    );

    assert_eq!(f.logins(), 1);
}

#[tokio::test]
async fn the_core_types_of_a_fresh_system_are_there_to_query_and_import() {
    let f = Fixture::start(|_| {}).await;
    let client = f.client(Some("nimda"));
    let query = |q: &str| FlexSearchQuery::new(q);
    let currencies = client
        .flexible_search(&query(
            "SELECT {isocode}, {symbol} FROM {Currency} ORDER BY {isocode}",
        ))
        .await
        .unwrap();
    assert_eq!(currencies.headers, ["p_isocode", "p_symbol"]);
    assert_eq!(currencies.rows, [["EUR", "€"], ["USD", "$"]]);
    for (type_code, at_least) in [
        ("Language", 2),
        ("Country", 3),
        ("Unit", 2),
        ("Catalog", 1),
        ("CatalogVersion", 2),
        ("Employee", 1),
        ("UserGroup", 3),
    ] {
        let found = client
            .flexible_search(&query(&format!("SELECT {{pk}} FROM {{{type_code}}}")))
            .await
            .unwrap();
        assert!(found.exception.is_none(), "{type_code}: {found:?}");
        assert!(found.rows.len() >= at_least, "{type_code}: {found:?}");
    }

    // A product in the staged catalog version, by the usual Impex pattern.
    let imported = client
        .import_impex(
            "INSERT_UPDATE Product;code[unique=true];name[lang=en];unit(code);catalogVersion(catalog(id),version)[unique=true]\n\
             ;shoe-1;\"Shoe; red\";pieces;Default:Staged\n",
        )
        .await
        .unwrap();
    assert!(imported.success, "{imported:?}");
    let staged = client
        .flexible_search(&query(
            "SELECT {v.pk} FROM {CatalogVersion AS v} WHERE {v.version} = 'Staged'",
        ))
        .await
        .unwrap();
    let products = client
        .flexible_search(&query(&format!(
            "SELECT {{code}}, {{name}} FROM {{Product}} WHERE {{catalogVersion}} = {}",
            staged.rows[0][0]
        )))
        .await
        .unwrap();
    assert_eq!(products.rows, [["shoe-1", "Shoe; red"]]);
    let unresolved = client
        .import_impex(
            "INSERT_UPDATE Product;code[unique=true];catalogVersion(catalog(id),version)[unique=true]\n;shoe-2;Nowhere:Online\n",
        )
        .await
        .unwrap();
    assert!(!unresolved.success);
    assert!(
        unresolved.errors[0].contains("cannot resolve value 'Nowhere:Online'"),
        "{unresolved:?}"
    );
}

#[tokio::test]
async fn a_wrong_password_is_invalid_credentials_and_caches_nothing() {
    let f = Fixture::start(|_| {}).await;
    let error = f.client(Some("wrong")).login().await.unwrap_err();
    assert!(
        matches!(error, HacError::InvalidCredentials { .. }),
        "{error}"
    );
    assert_eq!(f.hac.emulator().stats().failed_logins, 1);
    assert_eq!(f.cached().await, None);
}

#[tokio::test]
async fn without_a_password_only_a_cached_session_can_be_used() {
    let f = Fixture::start(|_| {}).await;
    let error = f.client(None).login().await.unwrap_err();
    assert!(matches!(error, HacError::PasswordRequired), "{error}");
    assert_eq!(f.hac.emulator().stats().total(), 0);
}

#[tokio::test]
async fn a_cached_session_is_reused_without_a_login() {
    let f = Fixture::start(|_| {}).await;
    f.client(Some("nimda")).login().await.unwrap();
    let cached = f.cached().await.unwrap();
    let before = f.hac.emulator().stats();

    // A second client (a later run of a tool), with no password at all.
    let client = f.client(None);
    assert_eq!(client.login().await.unwrap(), LoginOutcome::ReusedCached);
    client.groovy("return 1", false).await.unwrap();

    let after = f.hac.emulator().stats();
    assert_eq!(after.logins, 1);
    // One validation (GET /hac/) and the operation itself: nothing else.
    assert_eq!(after.total() - before.total(), 2);
    assert_eq!(
        after.count("GET", "/hac/") - before.count("GET", "/hac/"),
        1
    );
    let reused = f.cached().await.unwrap();
    assert_eq!(reused.session_id, cached.session_id);
    assert_eq!(reused.created_at, cached.created_at);
    assert!(reused.last_used_at >= cached.last_used_at);
}

#[tokio::test]
async fn an_idle_expired_session_is_replaced_by_a_new_login_and_the_operation_retried() {
    let f = Fixture::start(|c| c.idle_timeout = Duration::from_secs(600)).await;
    let client = f.client(Some("nimda"));
    client.login().await.unwrap();
    let first = f.cached().await.unwrap();

    f.clock.advance(Duration::from_secs(601));
    let result = client.groovy("return 'after expiry'", false).await.unwrap();
    assert_eq!(result.result, "after expiry");
    assert_eq!(f.logins(), 2);
    assert_eq!(f.hac.emulator().stats().rejected, 1);
    let second = f.cached().await.unwrap();
    assert_ne!(second.session_id, first.session_id);
    assert_ne!(second.csrf_token, first.csrf_token);
}

#[tokio::test]
async fn an_expired_cached_session_is_dropped_at_validation() {
    let f = Fixture::start(|c| c.idle_timeout = Duration::from_secs(600)).await;
    f.client(Some("nimda")).login().await.unwrap();
    f.clock.advance(Duration::from_secs(601));

    let client = f.client(Some("nimda"));
    assert_eq!(client.login().await.unwrap(), LoginOutcome::LoggedIn);
    assert_eq!(f.logins(), 2);
    // Without a password the dead cached session is dropped and a login is asked for.
    f.clock.advance(Duration::from_secs(601));
    let error = f.client(None).login().await.unwrap_err();
    assert!(matches!(error, HacError::PasswordRequired), "{error}");
    assert_eq!(f.cached().await, None);
}

#[tokio::test]
async fn a_server_restart_with_403_for_dead_sessions_is_survived() {
    let f = Fixture::start(|c| c.rejection_status = StatusCode::FORBIDDEN).await;
    let client = f.client(Some("nimda"));
    client.login().await.unwrap();
    f.hac.emulator().drop_all_sessions();
    let users = client
        .flexible_search(&FlexSearchQuery::new("SELECT {uid} FROM {User}"))
        .await
        .unwrap();
    assert_eq!(users.rows.len(), 3);
    assert_eq!(f.logins(), 2);
}

#[tokio::test]
async fn a_refused_token_means_a_new_login_and_one_retry() {
    let f = Fixture::start(|_| {}).await;
    let client = f.client(Some("nimda"));
    client.login().await.unwrap();
    f.hac.emulator().rotate_csrf_tokens().unwrap();
    let result = client.groovy("return 'retried'", false).await.unwrap();
    assert_eq!(result.result, "retried");
    let stats = f.hac.emulator().stats();
    assert_eq!((stats.logins, stats.rejected), (2, 1));
    assert_eq!(stats.count("POST", "/hac/console/scripting/execute"), 2);
}

/// A HAC whose consoles refuse every request (405), whatever the session: logins work.
async fn hac_with_broken_consoles() -> (std::net::SocketAddr, HacEmulator) {
    use http_body_util::BodyExt;
    let emulator = HacEmulator::new(EmulatorConfig::default());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let inner = emulator.clone();
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let emulator = inner.clone();
            let service =
                hyper::service::service_fn(move |request: Request<hyper::body::Incoming>| {
                    let emulator = emulator.clone();
                    async move {
                        let (parts, body) = request.into_parts();
                        let body = body.collect().await?.to_bytes();
                        let mut response = emulator.handle(parts.clone(), &body);
                        if parts.uri.path().starts_with("/hac/console/") {
                            *response.status_mut() = StatusCode::METHOD_NOT_ALLOWED;
                        }
                        Ok::<_, hyper::Error>(response)
                    }
                });
            tokio::spawn(
                hyper::server::conn::http1::Builder::new()
                    .serve_connection(hyper_util::rt::TokioIo::new(stream), service),
            );
        }
    });
    (addr, emulator)
}

#[tokio::test]
async fn the_retry_happens_once_then_the_session_is_reported_rejected() {
    let (addr, emulator) = hac_with_broken_consoles().await;
    let client = HacClient::new(CacheKey::new(format!("http://{addr}"), "admin", "local"))
        .unwrap()
        .with_password("nimda");
    let error = client.groovy("return 1", false).await.unwrap_err();
    assert!(
        matches!(error, HacError::SessionRejected { answer: ref a, .. } if a == "HTTP 405"),
        "{error}"
    );
    let stats = emulator.stats();
    assert_eq!(stats.logins, 2);
    assert_eq!(stats.count("POST", "/hac/console/scripting/execute"), 2);
}

#[tokio::test]
async fn a_stale_token_in_the_cache_is_refreshed_by_validation() {
    let f = Fixture::start(|_| {}).await;
    f.client(Some("nimda")).login().await.unwrap();
    let mut cached = f.cached().await.unwrap();
    let good_token = cached.csrf_token.clone();
    cached.csrf_token = "not-the-token".to_string();
    f.cache.save(&cached).await.unwrap();

    let client = f.client(None);
    client.groovy("return 2", false).await.unwrap();
    assert_eq!(f.logins(), 1);
    assert_eq!(f.cached().await.unwrap().csrf_token, good_token);
}

#[tokio::test]
async fn the_route_cookie_is_kept_and_a_foreign_route_means_a_new_login() {
    let f = Fixture::start(|c| c.route = Some("node1".to_string())).await;
    f.client(Some("nimda")).login().await.unwrap();
    let mut cached = f.cached().await.unwrap();
    assert_eq!(cached.route_cookie.as_deref(), Some("ROUTE=node1"));

    // With the route, a later client reaches the session.
    let client = f.client(None);
    assert_eq!(client.login().await.unwrap(), LoginOutcome::ReusedCached);

    // With another node's route the session is not there: log in again, on this node.
    cached.route_cookie = Some("ROUTE=node2".to_string());
    f.cache.save(&cached).await.unwrap();
    let client = f.client(Some("nimda"));
    assert_eq!(client.login().await.unwrap(), LoginOutcome::LoggedIn);
    assert_eq!(f.logins(), 2);
    assert_eq!(
        f.cached().await.unwrap().route_cookie.as_deref(),
        Some("ROUTE=node1")
    );
}

#[tokio::test]
async fn forget_drops_the_cache_entry() {
    let f = Fixture::start(|_| {}).await;
    let client = f.client(Some("nimda"));
    client.login().await.unwrap();
    assert!(client.forget().await.unwrap());
    assert_eq!(f.cached().await, None);
}

#[tokio::test]
async fn the_authenticator_logs_in_or_refuses() {
    let f = Fixture::start(|_| {}).await;
    let authenticator =
        HacAuthenticator::new(f.hac.base_url(), "local").with_cache(f.cache.clone());
    let session = authenticator
        .authenticate(&PasswordCredentials::new("admin", "nimda"))
        .await
        .unwrap();
    assert_eq!(session.username, "admin");
    assert_eq!(f.cached().await.unwrap().session_id, session.session_id);
    let refused = authenticator
        .authenticate(&PasswordCredentials::new("admin", "nope"))
        .await
        .unwrap_err();
    assert!(matches!(refused, AuthError::InvalidCredentials));
}

#[tokio::test]
async fn the_password_never_reaches_the_cache_file() {
    let f = Fixture::start(|c| c.users = vec![("admin".into(), "s3cret-pw".into())]).await;
    f.client(Some("s3cret-pw")).login().await.unwrap();
    let file = f.cache.path_of(&f.key());
    let text = std::fs::read_to_string(&file).unwrap();
    assert!(!text.contains("s3cret-pw"));
    let fields: serde_json::Value = serde_json::from_str(&text).unwrap();
    let mut names: Vec<&str> = fields
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    names.sort_unstable();
    assert_eq!(
        names,
        [
            "base_url",
            "created_at",
            "csrf_token",
            "environment",
            "is_authenticated",
            "last_used_at",
            "route_cookie",
            "session_id",
            "username"
        ]
    );
}

#[tokio::test]
async fn an_unreachable_server_is_a_connection_error() {
    let port = test_support::free_port();
    let client = HacClient::new(CacheKey::new(
        format!("http://127.0.0.1:{port}"),
        "admin",
        "x",
    ))
    .unwrap()
    .with_password("nimda");
    let error = client.login().await.unwrap_err();
    assert!(matches!(error, HacError::Connection { .. }), "{error}");
    assert!(error.to_string().contains(&port.to_string()));
}

#[test]
fn odd_urls_are_refused_up_front() {
    HacClient::new(CacheKey::new("https://localhost:9002", "admin", "x")).unwrap();
    for url in ["ftp://h", "not a url", "http://"] {
        let error = HacClient::new(CacheKey::new(url, "admin", "x")).unwrap_err();
        assert!(
            matches!(error, HacError::InvalidUrl { .. }),
            "{url}: {error}"
        );
    }
}

// ---- The emulator's HTTP contract, without a network. ----

fn request(method: &str, uri: &str, cookie: Option<&str>) -> http::request::Builder {
    let mut builder = Request::builder().method(method).uri(uri);
    if let Some(cookie) = cookie {
        builder = builder.header(header::COOKIE, cookie);
    }
    builder
}

struct Reply {
    status: StatusCode,
    location: Option<String>,
    set_cookies: Vec<String>,
    body: String,
}

fn send(emulator: &HacEmulator, builder: http::request::Builder, body: &str) -> Reply {
    let (parts, ()) = builder.body(()).unwrap().into_parts();
    let response = emulator.handle(parts, body.as_bytes());
    let headers = response.headers();
    let reply_headers = (
        headers
            .get(header::LOCATION)
            .map(|v| v.to_str().unwrap().to_string()),
        headers
            .get_all(header::SET_COOKIE)
            .iter()
            .map(|v| v.to_str().unwrap().to_string())
            .collect(),
    );
    let status = response.status();
    let body = futures_body(response.into_body());
    Reply {
        status,
        location: reply_headers.0,
        set_cookies: reply_headers.1,
        body,
    }
}

fn futures_body(body: http_body_util::Full<bytes::Bytes>) -> String {
    use http_body_util::BodyExt;
    let bytes = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap()
        .block_on(body.collect())
        .unwrap()
        .to_bytes();
    String::from_utf8(bytes.to_vec()).unwrap()
}

fn session_cookie(reply: &Reply) -> String {
    let cookie = reply
        .set_cookies
        .iter()
        .find(|c| c.starts_with("JSESSIONID="))
        .expect("a JSESSIONID cookie");
    assert!(cookie.ends_with("; Path=/hac; HttpOnly"), "{cookie}");
    cookie["JSESSIONID=".len()..cookie.find(';').unwrap()].to_string()
}

fn login_form(user: &str, password: &str, token: &str) -> String {
    url::form_urlencoded::Serializer::new(String::new())
        .append_pair("j_username", user)
        .append_pair("j_password", password)
        .append_pair("_csrf", token)
        .finish()
}

#[test]
fn the_emulator_speaks_hacs_login_protocol() {
    let emulator = HacEmulator::new(EmulatorConfig::default());

    let first = send(&emulator, request("GET", "/hac/", None), "");
    assert_eq!(first.status, StatusCode::FOUND);
    assert_eq!(first.location.as_deref(), Some("/hac/login"));
    let anonymous = session_cookie(&first);
    let cookie = format!("JSESSIONID={anonymous}");

    let page = send(&emulator, request("GET", "/hac/login", Some(&cookie)), "");
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.set_cookies.is_empty());
    assert!(is_login_page(&page.body));
    let token = csrf_token(&page.body).unwrap();
    assert!(
        page.body
            .contains(&format!("<meta name=\"_csrf\" content=\"{token}\""))
    );
    assert!(
        page.body
            .contains(&format!("name=\"_csrf\" value=\"{token}\""))
    );

    // A bad token: 405, like the real HAC.
    let bad = send(
        &emulator,
        request("POST", "/hac/j_spring_security_check", Some(&cookie))
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded"),
        &login_form("admin", "nimda", "forged"),
    );
    assert_eq!(bad.status, StatusCode::METHOD_NOT_ALLOWED);

    // A wrong password: back to the login page with an error, same session.
    let wrong = send(
        &emulator,
        request("POST", "/hac/j_spring_security_check", Some(&cookie)),
        &login_form("admin", "nope", &token),
    );
    assert_eq!(wrong.status, StatusCode::FOUND);
    assert_eq!(wrong.location.as_deref(), Some("/hac/login?login_error=1"));
    assert!(wrong.set_cookies.is_empty());

    // Success rotates the session id and the token.
    let ok = send(
        &emulator,
        request("POST", "/hac/j_spring_security_check", Some(&cookie)),
        &login_form("admin", "nimda", &token),
    );
    assert_eq!(ok.status, StatusCode::FOUND);
    assert_eq!(ok.location.as_deref(), Some("/hac/"));
    let session = session_cookie(&ok);
    assert_ne!(session, anonymous);
    let cookie = format!("JSESSIONID={session}");
    let home = send(&emulator, request("GET", "/hac/", Some(&cookie)), "");
    assert_eq!(home.status, StatusCode::OK);
    assert!(!is_login_page(&home.body));
    let fresh_token = csrf_token(&home.body).unwrap();
    assert_ne!(fresh_token, token);

    // The old session is gone: a POST with it is refused.
    let old = send(
        &emulator,
        request(
            "POST",
            "/hac/console/scripting/execute",
            Some(&format!("JSESSIONID={anonymous}")),
        )
        .header("X-CSRF-TOKEN", &token),
        "script=return+1&scriptType=groovy&commit=false",
    );
    assert_eq!(old.status, StatusCode::METHOD_NOT_ALLOWED);

    // Repeated cookie names are tolerated: the live session among them is used.
    let duplicated = format!("JSESSIONID={anonymous}; JSESSIONID={session}; JSESSIONID={session}");
    let run = send(
        &emulator,
        request("POST", "/hac/console/scripting/execute", Some(&duplicated))
            .header("X-CSRF-TOKEN", &fresh_token),
        "script=return+1&scriptType=groovy&commit=false",
    );
    assert_eq!(run.status, StatusCode::OK);
    let json: serde_json::Value = serde_json::from_str(&run.body).unwrap();
    assert_eq!(json["executionResult"], "1");
    assert_eq!(json["stacktraceText"], "");

    // The token may also come as the _csrf form field.
    let form_token = send(
        &emulator,
        request("POST", "/hac/console/flexsearch/execute", Some(&cookie)),
        &format!(
            "flexibleSearchQuery=SELECT+%7Buid%7D+FROM+%7BUser%7D&maxCount=1&_csrf={fresh_token}"
        ),
    );
    assert_eq!(form_token.status, StatusCode::OK);
    let json: serde_json::Value = serde_json::from_str(&form_token.body).unwrap();
    assert_eq!(json["resultList"], serde_json::json!([["admin"]]));
    assert!(json["exception"].is_null());

    let stats = emulator.stats();
    assert_eq!(
        (stats.logins, stats.failed_logins, stats.rejected),
        (1, 1, 2)
    );
}

#[test]
fn the_emulator_can_answer_403_and_sets_a_route() {
    let emulator = HacEmulator::new(EmulatorConfig {
        rejection_status: StatusCode::FORBIDDEN,
        route: Some("n7".to_string()),
        ..EmulatorConfig::default()
    });
    let first = send(&emulator, request("GET", "/hac/", None), "");
    assert!(first.set_cookies.iter().any(|c| c == "ROUTE=n7; Path=/"));
    let refused = send(
        &emulator,
        request(
            "POST",
            "/hac/console/impex/import",
            Some("JSESSIONID=dead; ROUTE=n7"),
        ),
        "scriptContent=x",
    );
    assert_eq!(refused.status, StatusCode::FORBIDDEN);
    assert!(refused.set_cookies.is_empty(), "the route was sent");
}

#[test]
fn an_anonymous_session_with_a_valid_token_is_sent_to_the_login_page() {
    let emulator = HacEmulator::new(EmulatorConfig::default());
    let page = send(&emulator, request("GET", "/hac/login", None), "");
    let cookie = format!("JSESSIONID={}", session_cookie(&page));
    let token = csrf_token(&page.body).unwrap();
    let reply = send(
        &emulator,
        request("POST", "/hac/console/scripting/execute", Some(&cookie))
            .header("X-CSRF-TOKEN", &token),
        "script=return+1",
    );
    assert_eq!(reply.status, StatusCode::FOUND);
    assert_eq!(reply.location.as_deref(), Some("/hac/login"));
}

/// The HAC client as a `session_core::Session`: what generic tools see.
mod as_a_session {
    use super::*;
    use session_core::Session;

    #[tokio::test]
    async fn a_login_goes_through_the_one_flow_and_files_the_session() {
        let f = Fixture::start(|_| {}).await;
        let client = f.client(Some("nimda"));
        assert_eq!(client.identity().await.unwrap(), None);
        assert_eq!(client.principal().await.unwrap(), None);

        client.login().await.unwrap();
        // The flow recorded the principal and saved: nothing left to write, the cache holds
        // the session, and the identity is the cache key's digest, not the JSESSIONID.
        assert_eq!(client.principal().await.unwrap().as_deref(), Some("admin"));
        assert!(!client.is_modified().await);
        let cached = f.cached().await.expect("the login filed the session");
        let identity = client.identity().await.unwrap().unwrap();
        assert_eq!(identity, f.key().digest());
        assert_ne!(identity, cached.session_id);
        let times = client.times().await.unwrap();
        assert!(times.created_at.is_some());
        assert_eq!(times.expires_at, None, "HAC decides when its session ends");
        assert_eq!(client.extend(Duration::from_secs(60)).await.unwrap(), None);
    }

    #[tokio::test]
    async fn attributes_are_tracked_and_never_reach_the_shared_cache_file() {
        let f = Fixture::start(|_| {}).await;
        let client = f.client(Some("nimda"));
        client.login().await.unwrap();
        client.insert("job", &"nightly-import").await.unwrap();
        assert_eq!(
            client.changes().await.set.into_iter().collect::<Vec<_>>(),
            ["job"]
        );
        assert_eq!(
            client.get::<String>("job").await.unwrap().as_deref(),
            Some("nightly-import")
        );
        assert!(matches!(
            client.get::<u64>("job").await,
            Err(HacError::Attribute { .. })
        ));
        client.save().await.unwrap();
        assert!(!client.is_modified().await);
        // hac-client-core reads the cache file: it keeps its own fields only.
        let dir = f.cache.dir().to_path_buf();
        for entry in std::fs::read_dir(dir).unwrap() {
            let text = std::fs::read_to_string(entry.unwrap().path()).unwrap();
            assert!(!text.contains("nightly-import"), "{text}");
        }
        assert!(client.remove("job").await.unwrap());
        assert!(!client.remove("job").await.unwrap());
        assert_eq!(
            client
                .changes()
                .await
                .removed
                .into_iter()
                .collect::<Vec<_>>(),
            ["job"]
        );
    }

    #[tokio::test]
    async fn a_cached_session_is_taken_up_with_its_principal_and_nothing_to_save() {
        let f = Fixture::start(|_| {}).await;
        f.client(Some("nimda")).login().await.unwrap();
        let reuser = f.client(None);
        assert_eq!(reuser.login().await.unwrap(), LoginOutcome::ReusedCached);
        assert_eq!(reuser.principal().await.unwrap().as_deref(), Some("admin"));
        assert!(!reuser.is_modified().await);
        assert_eq!(f.logins(), 1);
    }

    #[tokio::test]
    async fn touch_finds_out_that_the_server_dropped_the_session() {
        let f = Fixture::start(|_| {}).await;
        let client = f.client(Some("nimda"));
        client.login().await.unwrap();
        client.touch().await.unwrap();
        assert_eq!(client.principal().await.unwrap().as_deref(), Some("admin"));

        f.hac.emulator().drop_all_sessions();
        client.touch().await.unwrap();
        assert_eq!(client.principal().await.unwrap(), None);
        // The next operation logs in again.
        assert_eq!(client.login().await.unwrap(), LoginOutcome::LoggedIn);
        assert_eq!(f.logins(), 2);
    }

    #[tokio::test]
    async fn cycling_the_id_outside_a_login_means_a_new_login_next_time() {
        let f = Fixture::start(|_| {}).await;
        let client = f.client(Some("nimda"));
        client.login().await.unwrap();
        let before = f.cached().await.unwrap().session_id;
        client.cycle_id().await.unwrap();
        assert!(client.changes().await.renewed);
        assert_eq!(client.login().await.unwrap(), LoginOutcome::LoggedIn);
        assert_ne!(f.cached().await.unwrap().session_id, before);
    }

    #[tokio::test]
    async fn invalidate_logs_out_at_the_server_and_empties_the_cache() {
        let f = Fixture::start(|_| {}).await;
        let client = f.client(Some("nimda"));
        client.login().await.unwrap();
        assert_eq!(f.hac.emulator().live_sessions(), 1);
        client.invalidate().await.unwrap();
        assert_eq!(f.hac.emulator().stats().count("POST", "/hac/logout"), 1);
        assert_eq!(f.hac.emulator().live_sessions(), 0);
        assert!(f.cached().await.is_none());
        assert_eq!(client.identity().await.unwrap(), None);
        assert_eq!(client.principal().await.unwrap(), None);
    }

    #[tokio::test]
    async fn a_refused_password_leaves_the_session_as_it_was() {
        let f = Fixture::start(|_| {}).await;
        let client = f.client(Some("wrong"));
        assert!(matches!(
            client.login().await,
            Err(HacError::InvalidCredentials { .. })
        ));
        assert_eq!(client.principal().await.unwrap(), None);
        assert!(!client.is_modified().await);
        assert!(f.cached().await.is_none());
    }
}
