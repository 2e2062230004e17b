//! kom-gateway against a real lyskomd: the sessions API, the resources jskom uses, the
//! connection registry's guarantees.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::Duration;

use common::{Http, WsClient, lyskomd, open, start_gateway, ws_exchange};
use serde_json::json;
use test_support::lyskomd::{ADMIN_PASSWORD, ADMIN_PERSON};

#[test]
fn index_lists_the_configured_servers() {
    let gw = start_gateway(&[("one", 4894), ("two", 4895)], "");
    let r = Http::new(gw.addr).get("/");
    assert_eq!(r.status, 200);
    let v = r.json();
    assert_eq!(
        v["one"],
        json!({"id": "one", "name": "Server one", "host": "127.0.0.1", "port": 4894, "sort_order": 0})
    );
    assert_eq!(v["two"]["sort_order"], 1);
    assert_eq!(
        Http::new(gw.addr)
            .get("/nosuch/sessions/current/who-am-i")
            .status,
        404
    );
}

#[test]
fn session_lifecycle() {
    let Some(kom) = lyskomd("session_lifecycle") else {
        return;
    };
    let gw = start_gateway(&[("kom", kom.port())], "");
    let http = Http::new(gw.addr);
    // No id: 403. Unknown id: 403.
    assert_eq!(http.get("/kom/sessions/current/who-am-i").status, 403);
    assert_eq!(
        http.with_connection("00000000-0000-4000-8000-000000000000")
            .get("/kom/sessions/current/who-am-i")
            .status,
        403
    );
    let (conn, session_no) = open(&http, "kom");
    let id = conn.connection.clone().unwrap();
    assert_eq!(id.len(), 36);
    assert_eq!(&id[14..15], "4", "a UUID v4");
    // Opening again with the header present is a conflict.
    let r = conn.post(
        "/kom/sessions/",
        &json!({"client": {"name": "x", "version": "1"}}),
    );
    assert_eq!(r.status, 409);

    let r = conn.get("/kom/sessions/current/who-am-i?_v=123");
    assert_eq!(r.status, 200);
    assert_eq!(r.json(), json!({"session_no": session_no, "person": null}));
    // The id also works as a query parameter.
    let r = http.get(&format!(
        "/kom/sessions/current/who-am-i?Httpkom-Connection={id}"
    ));
    assert_eq!(r.status, 200);

    // Not logged in: 401.
    assert_eq!(
        conn.post("/kom/sessions/current/logout", &json!({})).status,
        401
    );
    assert_eq!(conn.get("/kom/texts/marks/").status, 401);

    // Login by number (jskom sends an empty pers_name along).
    let r = conn.post(
        "/kom/sessions/current/login",
        &json!({"pers_no": ADMIN_PERSON, "pers_name": "", "passwd": ADMIN_PASSWORD}),
    );
    assert_eq!(r.status, 201);
    let me = r.json();
    assert_eq!(me["pers_no"], ADMIN_PERSON);
    assert!(me["pers_name"].as_str().unwrap().len() > 1);
    // who-am-i works when logged in (httpkom answers 500 here).
    let r = conn.get("/kom/sessions/current/who-am-i");
    assert_eq!(r.status, 200);
    assert_eq!(r.json(), json!({"session_no": session_no, "person": me}));
    assert_eq!(
        conn.post("/kom/sessions/current/active", &json!({})).status,
        204
    );
    assert_eq!(
        conn.post(
            "/kom/sessions/current/working-conference",
            &json!({"conf_no": ADMIN_PERSON})
        )
        .status,
        204
    );
    let r = conn.post("/kom/sessions/current/working-conference", &json!({}));
    assert_eq!(
        (r.status, r.json()["error_msg"].clone()),
        (400, json!("Missing \"conf_no\"."))
    );
    // Deleting another session that does not exist: 404 with the Protocol A error.
    let r = conn.delete("/kom/sessions/999999");
    assert_eq!(r.status, 404);
    assert_eq!(r.json()["error_msg"], "UndefinedSession");
    assert_eq!(
        conn.post("/kom/sessions/current/logout", &json!({})).status,
        204
    );
    assert_eq!(
        conn.get("/kom/sessions/current/who-am-i").json()["person"],
        json!(null)
    );

    // Deleting our own session ends the connection id.
    assert_eq!(
        conn.delete(&format!("/kom/sessions/{session_no}")).status,
        204
    );
    assert_eq!(conn.get("/kom/sessions/current/who-am-i").status, 403);
}

/// A name of the form `#<number>` is that conference or person, as pylyskom (and so
/// httpkom) reads it, in the name lookup and in a login by name.
#[test]
fn hash_names_are_conference_and_person_numbers() {
    let Some(kom) = lyskomd("hash_names_are_conference_and_person_numbers") else {
        return;
    };
    let gw = start_gateway(&[("kom", kom.port())], "");
    let (conn, _) = open(&Http::new(gw.addr), "kom");
    let r = conn.post(
        "/kom/persons/",
        &json!({"name": "Hash Tester", "passwd": "hemligt"}),
    );
    assert_eq!(r.status, 201);
    let pers_no = r.json()["pers_no"].as_u64().unwrap();
    let lookup = |query: &str| {
        let r = conn.get(&format!("/kom/conferences/?name={query}"));
        assert_eq!(
            r.status,
            200,
            "{query}: {:?}",
            String::from_utf8_lossy(&r.body)
        );
        r.json()["conferences"].clone()
    };
    let me = json!([{"conf_no": pers_no, "name": "Hash Tester"}]);

    // A login by the name `#<pers_no>`; a `#` name of a conference that is not a person
    // finds nobody.
    let r = conn.post(
        "/kom/sessions/current/login",
        &json!({"pers_name": format!("#{pers_no}"), "passwd": "hemligt"}),
    );
    assert_eq!(r.status, 201, "{:?}", String::from_utf8_lossy(&r.body));
    assert_eq!(
        r.json(),
        json!({"pers_no": pers_no, "pers_name": "Hash Tester"})
    );
    let r = conn.post("/kom/conferences/", &json!({"name": "Hash Conference"}));
    let conf_no = r.json()["conf_no"].as_u64().unwrap();
    let r = conn.post(
        "/kom/sessions/current/login",
        &json!({"pers_name": format!("#{conf_no}"), "passwd": "hemligt"}),
    );
    assert_eq!(r.status, 400);
    assert_eq!(
        r.json()["error_msg"],
        format!("recipient not found: #{conf_no}")
    );

    let conf = json!([{"conf_no": conf_no, "name": "Hash Conference"}]);
    assert_eq!(lookup(&format!("%23{conf_no}")), conf);
    assert_eq!(lookup(&format!("%23{pers_no}")), me);
    assert_eq!(lookup(&format!("%23{pers_no}&want-confs=false")), me);
    assert_eq!(lookup(&format!("%23{conf_no}&want-pers=false")), conf);
    // Python's int(): white space around, a sign, underscores between digits.
    assert_eq!(lookup(&format!("%23%20%2B{conf_no}%20")), conf);
    let spaced: String = conf_no.to_string().chars().flat_map(|c| [c, '_']).collect();
    assert_eq!(
        lookup(&format!("%23{}", spaced.trim_end_matches('_'))),
        conf
    );
    // Of the other kind, nonexistent, or not a number: nothing, and never a name lookup.
    for nothing in [
        format!("%23{conf_no}&want-confs=false"),
        format!("%23{pers_no}&want-pers=false"),
        "%23999999".to_string(),
        "%230".to_string(),
        "%23-5".to_string(),
        "%23".to_string(),
        "%23Hash".to_string(),
        "%234294967296".to_string(),
    ] {
        assert_eq!(lookup(&nothing), json!([]), "{nothing}");
    }
    // Without the `#`, the same text is a name.
    assert_eq!(lookup("Hash%20C"), conf);
}

#[test]
fn login_by_name_bad_password_and_error_bodies() {
    let Some(kom) = lyskomd("login_by_name_bad_password_and_error_bodies") else {
        return;
    };
    let gw = start_gateway(&[("kom", kom.port())], "");
    let http = Http::new(gw.addr);
    let (conn, _) = open(&http, "kom");
    let r = conn.post(
        "/kom/persons/",
        &json!({"name": "Gateway Tester", "passwd": "s3cret"}),
    );
    assert_eq!(r.status, 201);
    let pers_no = r.json()["pers_no"].as_u64().unwrap();
    assert_eq!(r.json()["pers_name"], "Gateway Tester");

    let r = conn.post(
        "/kom/sessions/current/login",
        &json!({"pers_no": pers_no, "passwd": "wrong"}),
    );
    assert_eq!(r.status, 401);
    assert_eq!(
        r.json(),
        json!({"error_code": 4, "error_msg": "InvalidPassword", "error_status": pers_no.to_string(), "error_type": "protocol-a"})
    );
    let r = conn.post("/kom/sessions/current/login", &json!({"pers_no": pers_no}));
    assert_eq!(
        r.json(),
        json!({"error_type": "httpkom", "error_msg": "Missing \"passwd\"."})
    );
    let r = conn.post("/kom/sessions/current/login", &json!({"passwd": "x"}));
    assert_eq!(
        r.json()["error_msg"],
        "Missing \"pers_no\" or \"pers_name\"."
    );
    let r = conn.post(
        "/kom/sessions/current/login",
        &json!({"pers_no": 5, "pers_name": "Gateway Tester", "passwd": "x"}),
    );
    assert_eq!(
        r.json()["error_msg"],
        "Only one of \"pers_no\" and \"pers_name\" is allowed"
    );
    let r = conn.post(
        "/kom/sessions/current/login",
        &json!({"pers_name": "No Such Person Here", "passwd": "x"}),
    );
    assert_eq!(r.status, 400);
    assert_eq!(
        r.json()["error_msg"],
        "recipient not found: No Such Person Here"
    );

    let r = conn.post(
        "/kom/sessions/current/login",
        &json!({"pers_name": "Gateway Tester", "passwd": "s3cret"}),
    );
    assert_eq!(r.status, 201);
    assert_eq!(
        r.json(),
        json!({"pers_no": pers_no, "pers_name": "Gateway Tester"})
    );
}

#[test]
fn texts_memberships_and_unread_counts() {
    let Some(kom) = lyskomd("texts_memberships_and_unread_counts") else {
        return;
    };
    let gw = start_gateway(&[("kom", kom.port())], "");
    let (conn, _) = open(&Http::new(gw.addr), "kom");
    let r = conn.post(
        "/kom/sessions/current/login",
        &json!({"pers_no": ADMIN_PERSON, "passwd": ADMIN_PASSWORD}),
    );
    assert_eq!(r.status, 201);
    let r = conn.post("/kom/conferences/", &json!({"name": "Kaffe och kakor"}));
    assert_eq!(r.status, 201);
    let conf_no = r.json()["conf_no"].as_u64().unwrap();
    let path = format!("/kom/persons/{ADMIN_PERSON}/memberships/{conf_no}");
    assert_eq!(conn.put(&path, &json!({"priority": 200})).status, 201);

    let subject = "Fika på fredag";
    let body = "Välkomna! 🍰 Ta med 日本茶.";
    let mut texts = Vec::new();
    for _ in 0..3 {
        let r = conn.post(
            "/kom/texts/",
            &json!({"subject": subject, "body": body, "content_type": "text/plain",
                    "recipient_list": [{"type": "to", "recpt": {"conf_no": conf_no}}]}),
        );
        assert_eq!(r.status, 201);
        let text_no = r.json()["text_no"].as_u64().unwrap();
        assert_eq!(
            r.header("Location"),
            Some(format!("/kom/texts/{text_no}").as_str())
        );
        texts.push(text_no);
    }
    let r = conn.get(&format!("/kom/texts/{}", texts[0]));
    assert_eq!(r.status, 200);
    let t = r.json();
    assert_eq!(t["subject"], subject);
    assert_eq!(t["body"], body);
    assert_eq!(t["content_type"], "text/plain");
    assert_eq!(t["author"]["pers_no"], ADMIN_PERSON);
    assert_eq!(
        t["recipient_list"][0]["recpt"],
        json!({"conf_no": conf_no, "name": "Kaffe och kakor"})
    );
    assert_eq!(t["recipient_list"][0]["loc_no"], 1);
    let r = conn.get(&format!("/kom/texts/{}/body", texts[0]));
    assert_eq!(r.status, 200);
    assert_eq!(String::from_utf8(r.body.clone()).unwrap(), body);
    assert!(r.header("Content-Type").unwrap().starts_with("text/plain"));
    assert_eq!(conn.get("/kom/texts/999999").status, 404);

    let r = conn.get(&format!("{path}/unread"));
    assert_eq!(
        r.json(),
        json!({"pers_no": ADMIN_PERSON, "conf_no": conf_no, "no_of_unread": 3, "unread_texts": texts})
    );
    assert_eq!(
        conn.put(&format!("/kom/texts/{}/read-marking", texts[0]), &json!({}))
            .status,
        201
    );
    assert_eq!(
        conn.put(
            &format!("/kom/conferences/{conf_no}/texts/2/read-marking"),
            &json!({})
        )
        .status,
        201
    );
    let r = conn.get(&format!("{path}/unread"));
    assert_eq!(r.json()["no_of_unread"], 1);
    assert_eq!(r.json()["unread_texts"], json!([texts[2]]));
    let r = conn.get(&format!("/kom/persons/{ADMIN_PERSON}/memberships/unread/"));
    assert!(
        r.json()["list"]
            .as_array()
            .unwrap()
            .iter()
            .any(|m| m["conf_no"] == conf_no)
    );
    assert_eq!(
        conn.post(
            &format!("/kom/persons/current/memberships/{conf_no}/unread"),
            &json!({"no_of_unread": 3})
        )
        .status,
        204
    );
    assert_eq!(
        conn.get(&format!("{path}/unread")).json()["no_of_unread"],
        3
    );

    let r = conn.get(&format!(
        "/kom/persons/{ADMIN_PERSON}/memberships/?unread=true&_v=1"
    ));
    assert_eq!(r.status, 200);
    let list = r.json();
    assert_eq!(list["has_more"], false, "{list}");
    let m = list["memberships"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["conference"]["conf_no"] == conf_no)
        .cloned()
        .unwrap_or_else(|| panic!("no membership of {conf_no} in {list}"));
    assert_eq!(m["priority"], 200);
    assert_eq!(m["conference"]["name"], "Kaffe och kakor");
    assert_eq!(m["added_by"]["pers_no"], ADMIN_PERSON);
    let r = conn.get(&path);
    assert_eq!(r.json()["conference"]["conf_no"], conf_no);

    let r = conn.get(&format!("/kom/conferences/{conf_no}/texts/?no-of-texts=2"));
    assert_eq!(r.status, 200, "{:?}", String::from_utf8_lossy(&r.body));
    let listed: Vec<u64> = r.json()["texts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["text_no"].as_u64().unwrap())
        .collect();
    assert_eq!(listed, vec![texts[2], texts[1]], "newest first, as httpkom");
    let r = conn.get(&format!("/kom/conferences/{conf_no}?micro=false"));
    assert_eq!(r.json()["no_of_texts"], 3);
    assert_eq!(conn.get("/kom/conferences/999999").status, 404);
    let r = conn.get("/kom/conferences/?name=Kaffe");
    assert_eq!(
        r.json()["conferences"],
        json!([{"conf_no": conf_no, "name": "Kaffe och kakor"}])
    );

    assert_eq!(
        conn.put(
            &format!("/kom/texts/{}/mark", texts[1]),
            &json!({"type": 100})
        )
        .status,
        201
    );
    assert_eq!(
        conn.get("/kom/texts/marks/").json(),
        json!({"marks": [{"text_no": texts[1], "type": 100}]})
    );
    assert_eq!(
        conn.delete(&format!("/kom/texts/{}/mark", texts[1])).status,
        204
    );

    assert_eq!(conn.delete(&path).status, 204);
    assert_eq!(conn.get(&path).status, 404);
}

#[test]
fn ids_are_bound_to_their_server_and_limits_hold() {
    let Some(kom) = lyskomd("ids_are_bound_to_their_server_and_limits_hold") else {
        return;
    };
    let gw = start_gateway(
        &[("a", kom.port()), ("b", kom.port())],
        "max_connections = 2",
    );
    let http = Http::new(gw.addr);
    let (conn_a, _) = open(&http, "a");
    assert_eq!(conn_a.get("/a/sessions/current/who-am-i").status, 200);
    assert_eq!(conn_a.get("/b/sessions/current/who-am-i").status, 403);
    assert_eq!(conn_a.get("/a/sessions/current/who-am-i").status, 200);
    let (_conn_b, _) = open(&http, "b");
    let r = http.post(
        "/a/sessions/",
        &json!({"client": {"name": "x", "version": "1"}}),
    );
    assert_eq!(r.status, 503);
    assert_eq!(conn_a.delete("/a/sessions/0").status, 204);
    let (_again, _) = open(&http, "a");
}

#[test]
fn a_connection_dropped_by_lyskomd_answers_403_at_once() {
    let Some(kom) = lyskomd("a_connection_dropped_by_lyskomd_answers_403_at_once") else {
        return;
    };
    let gw = start_gateway(&[("kom", kom.port())], "");
    let http = Http::new(gw.addr);
    let (victim, victim_session) = open(&http, "kom");
    assert_eq!(victim.get("/kom/sessions/current/who-am-i").status, 200);
    // An administrator, over Protocol A directly, disconnects the victim's session: lyskomd
    // closes the gateway's connection for it.
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        use session_lyskom::client::{Client, ConnectOptions};
        use session_lyskom::protocol::numbers::{PersNo, SessionNo};
        let options = ConnectOptions {
            connect_timeout: Duration::from_secs(20),
            ..ConnectOptions::default()
        };
        let admin = Client::connect(&kom.addr_string(), &options).await.unwrap();
        admin
            .login(PersNo(ADMIN_PERSON), ADMIN_PASSWORD, false)
            .await
            .unwrap();
        admin.enable(255).await.unwrap();
        admin.disconnect(SessionNo(victim_session)).await.unwrap();
    });
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    loop {
        let r = victim.get("/kom/sessions/current/who-am-i");
        if r.status == 403 {
            break;
        }
        assert_eq!(r.status, 200);
        assert!(
            std::time::Instant::now() < deadline,
            "the dropped connection kept answering"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn a_dead_lyskomd_gives_403_not_a_hang() {
    let Some(mut kom) = lyskomd("a_dead_lyskomd_gives_403_not_a_hang") else {
        return;
    };
    let gw = start_gateway(&[("kom", kom.port())], "");
    let http = Http::new(gw.addr);
    let (conn, _) = open(&http, "kom");
    kom.kill();
    // The gateway notices the closed socket; every answer is 403 from then on.
    let r = conn.get("/kom/sessions/current/who-am-i");
    assert!(r.status == 403, "status {}", r.status);
    let r = http.post(
        "/kom/sessions/",
        &json!({"client": {"name": "x", "version": "1"}}),
    );
    assert_eq!(r.status, 502);
    assert_eq!(r.json()["error_type"], "httpkom");
}

#[test]
fn idle_connections_are_reaped() {
    let Some(kom) = lyskomd("idle_connections_are_reaped") else {
        return;
    };
    let gw = start_gateway(&[("kom", kom.port())], "idle_timeout_secs = 1");
    let http = Http::new(gw.addr);
    let (conn, _) = open(&http, "kom");
    assert_eq!(conn.get("/kom/sessions/current/who-am-i").status, 200);
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    loop {
        let m = http.get("/_metrics").json();
        if m["reaped"] == 1 {
            assert_eq!(m["open"], 0);
            break;
        }
        assert!(std::time::Instant::now() < deadline, "not reaped: {m}");
        std::thread::sleep(Duration::from_millis(100));
    }
    assert_eq!(conn.get("/kom/sessions/current/who-am-i").status, 403);
}

#[test]
fn cors_headers_as_httpkom() {
    let gw = start_gateway(&[("kom", 1)], "");
    let r = Http::new(gw.addr).request("GET", "/", None, &[("Origin", "http://example.test")]);
    assert_eq!(r.header("Access-Control-Allow-Origin"), Some("*"));
    assert_eq!(
        r.header("Access-Control-Allow-Headers"),
        Some("Origin, Accept, Content-Type, X-Requested-With, Cache-Control, Httpkom-Connection")
    );
    assert_eq!(
        r.header("Access-Control-Expose-Headers"),
        Some("Cache-Control, Httpkom-Connection")
    );
    assert_eq!(r.header("Cache-Control"), Some("no-cache"));
    let r = Http::new(gw.addr).get("/");
    assert_eq!(r.header("Access-Control-Allow-Origin"), None);
}

/// A raw Protocol A request message for the WebSocket endpoint.
fn raw(ref_no: u32, request: &str) -> serde_json::Value {
    json!({"protocol": "a", "ref_no": ref_no, "request": request})
}

#[test]
fn websocket_passes_raw_protocol_a_through_in_step() {
    let Some(kom) = lyskomd("websocket_passes_raw_protocol_a_through_in_step") else {
        return;
    };
    let gw = start_gateway(&[("kom", kom.port())], "");
    let http = Http::new(gw.addr);
    let (conn, session_no) = open(&http, "kom");
    let id = conn.connection.clone().unwrap();

    // An unknown id is refused before the upgrade.
    assert_eq!(
        ws_exchange(gw.addr, "not-a-connection", &[raw(1, "56")], 0).status,
        403
    );

    // who-am-i and get-time answer with the server's reply text; echo answers at once.
    let x = ws_exchange(
        gw.addr,
        &id,
        &[
            raw(1, "56"),
            raw(2, "35\n"),
            json!({"protocol": "echo", "ref_no": 3, "request": ["å", 1]}),
        ],
        3,
    );
    assert_eq!(x.status, 101);
    assert_eq!(
        x.answers[0],
        json!({"protocol": "a", "ref_no": 1, "reply": session_no.to_string()})
    );
    let time = x.answers[1]["reply"].as_str().unwrap();
    assert_eq!(
        time.split(' ').count(),
        9,
        "get-time answers a Time: {time}"
    );
    assert!(time.split(' ').all(|f| f.parse::<i64>().is_ok()), "{time}");
    assert_eq!(
        x.answers[2],
        json!({"protocol": "echo", "ref_no": 3, "reply": ["å", 1]})
    );

    // A second request smuggled into the first, a half request and an unknown call are
    // refused; Protocol A errors come back as errors. The connection stays in step: many
    // raw and HTTP calls at once each get their own answer.
    let x = ws_exchange(
        gw.addr,
        &id,
        &[
            raw(1, "56 2 35"),
            raw(2, "56\n2 35"),
            raw(3, "53 0 99Hshort"),
            raw(4, "79 0 0 0 0 0 0"),
            raw(5, "90 999999"),
            json!({"protocol": "b", "ref_no": 6}),
        ],
        6,
    );
    let errors: Vec<&str> = x
        .answers
        .iter()
        .map(|a| a["error"].as_str().unwrap_or("<no error>"))
        .collect();
    assert!(errors[0].contains("takes 0 parameters"), "{errors:?}");
    assert!(errors[1].contains("one request"), "{errors:?}");
    assert!(errors[2].contains("past the end"), "{errors:?}");
    assert!(errors[3].contains("call 79"), "{errors:?}");
    assert!(errors[4].starts_with("NoSuchText"), "{errors:?}");
    assert_eq!(errors[5], "Unknown protocol: b");
    let many: Vec<_> = (1..=40).map(|i| raw(i, "56")).collect();
    let x = ws_exchange(gw.addr, &id, &many, 40);
    for a in &x.answers {
        assert_eq!(a["reply"], json!(session_no.to_string()), "{a}");
    }
    let r = conn.get("/kom/sessions/current/who-am-i");
    assert_eq!(r.status, 200);
    assert_eq!(r.json()["session_no"], session_no);

    // A raw login and logout change who the gateway thinks is logged in.
    assert_eq!(conn.get("/kom/texts/marks/").status, 401);
    let x = ws_exchange(
        gw.addr,
        &id,
        &[raw(
            1,
            &format!(
                "62 {ADMIN_PERSON} {}H{ADMIN_PASSWORD} 1",
                ADMIN_PASSWORD.len()
            ),
        )],
        1,
    );
    assert_eq!(x.answers[0]["reply"], "", "{:?}", x.answers);
    assert_eq!(conn.get("/kom/texts/marks/").status, 200);
    ws_exchange(gw.addr, &id, &[raw(1, "1")], 1);
    assert_eq!(conn.get("/kom/texts/marks/").status, 401);
}

#[test]
fn user_area_blocks_are_read_as_json() {
    let Some(kom) = lyskomd("user_area_blocks_are_read_as_json") else {
        return;
    };
    let gw = start_gateway(&[("kom", kom.port())], "");
    let http = Http::new(gw.addr);
    let (conn, _) = open(&http, "kom");
    let id = conn.connection.clone().unwrap();
    let path = format!("/kom/persons/{ADMIN_PERSON}/user-area/common");
    assert_eq!(conn.get(&path).status, 401, "login first");
    let r = conn.post(
        "/kom/sessions/current/login",
        &json!({"pers_no": ADMIN_PERSON, "passwd": ADMIN_PASSWORD}),
    );
    assert_eq!(r.status, 201);
    assert_eq!(conn.get(&path).status, 404, "no user area yet");
    let area = session_lyskom::gateway::user_area::encode_user_area(&[
        (
            b"common".to_vec(),
            br#"{"dashboard": [1, 2], "theme": "dark"}"#.to_vec(),
        ),
        (b"elisp".to_vec(), b"(setq kom-x t)".to_vec()),
    ]);
    let r = conn.post(
        "/kom/texts/",
        &json!({
            "subject": "",
            "body": String::from_utf8(area).unwrap(),
            "content_type": "x-kom/user-area",
        }),
    );
    assert_eq!(r.status, 201);
    let text_no = r.json()["text_no"].as_u64().unwrap();
    let x = ws_exchange(
        gw.addr,
        &id,
        &[raw(1, &format!("57 {ADMIN_PERSON} {text_no}"))],
        1,
    );
    assert_eq!(x.answers[0]["reply"], "", "{:?}", x.answers);
    let r = conn.get(&path);
    assert_eq!(r.status, 200);
    assert_eq!(r.json(), json!({"dashboard": [1, 2], "theme": "dark"}));
    let missing = format!("/kom/persons/{ADMIN_PERSON}/user-area/jskom");
    assert_eq!(conn.get(&missing).status, 404);
    let lisp = format!("/kom/persons/{ADMIN_PERSON}/user-area/elisp");
    assert_eq!(conn.get(&lisp).status, 500, "a block that is not JSON");
    let r = conn.get("/kom/persons/999999/user-area/common");
    assert_eq!(r.status, 400);
    assert_eq!(r.json()["error_msg"], "UndefinedPerson");
}

#[test]
fn a_websocket_closes_when_its_lyskom_connection_ends() {
    let Some(kom) = lyskomd("a_websocket_closes_when_its_lyskom_connection_ends") else {
        return;
    };
    let gw = start_gateway(&[("kom", kom.port())], "");
    let (conn, session_no) = open(&Http::new(gw.addr), "kom");
    let id = conn.connection.clone().unwrap();
    let mut ws = WsClient::open(gw.addr, &id).unwrap();
    ws.send(&raw(1, "56"));
    assert_eq!(ws.receive().unwrap()["reply"], session_no.to_string());
    assert_eq!(conn.delete("/kom/sessions/0").status, 204);
    assert_eq!(ws.receive(), None, "the socket is closed, not left hanging");
    assert_eq!(
        WsClient::open(gw.addr, &id).err(),
        Some(403),
        "the connection id is gone"
    );
}
