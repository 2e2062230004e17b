//! Conformance with httpkom 0.32: one request script against httpkom and against
//! kom-gateway, each in front of its own fresh lyskomd; the answers (status, JSON body,
//! content type, Location) must match after normalizing connection ids, session numbers and
//! times. httpkom's known defects are listed as intended differences, with the status
//! each side gives.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::collections::HashMap;

use common::{Http, Reply, start_gateway, start_httpkom, ws_exchange};
use serde_json::{Value, json};
use test_support::lyskomd::Lyskomd;

/// One request of the script.
struct Step {
    method: &'static str,
    /// Path with `{name}` placeholders for captured values.
    path: &'static str,
    body: Option<Value>,
    /// Send the connection id?
    with_connection: bool,
    /// Capture a value from the JSON answer: (name, key).
    capture: Option<(&'static str, &'static str)>,
    /// An intended difference: (httpkom's status, kom-gateway's status, why).
    differs: Option<(u16, u16, &'static str)>,
    /// For `GET /websocket`: the messages to send and how many answers to wait for.
    ws: Option<(Vec<Value>, usize)>,
}

fn step(method: &'static str, path: &'static str) -> Step {
    Step {
        method,
        path,
        body: None,
        with_connection: true,
        capture: None,
        differs: None,
        ws: None,
    }
}

/// A WebSocket exchange on the connection (`GET /websocket`).
fn websocket(messages: Vec<Value>, answers: usize) -> Step {
    Step {
        ws: Some((messages, answers)),
        ..step("GET", "/websocket")
    }
}

/// A raw Protocol A request over the WebSocket endpoint.
fn raw(ref_no: u32, request: &str) -> Value {
    json!({"protocol": "a", "ref_no": ref_no, "request": request})
}

/// The user area the script stores: two JSON blocks, as jskom and other clients write them.
fn user_area() -> String {
    let blocks = vec![
        (
            b"common".to_vec(),
            br#"{"a": 1, "b": ["x", null]}"#.to_vec(),
        ),
        (b"jskom".to_vec(), b"[1, 2.5, \"tre\"]".to_vec()),
        (b"notjson".to_vec(), b"(setq x 1)".to_vec()),
    ];
    let area = session_lyskom::gateway::user_area::encode_user_area(&blocks);
    String::from_utf8(area).unwrap()
}

impl Step {
    fn body(mut self, b: Value) -> Self {
        self.body = Some(b);
        self
    }
    fn anonymous(mut self) -> Self {
        self.with_connection = false;
        self
    }
    fn capture(mut self, name: &'static str, key: &'static str) -> Self {
        self.capture = Some((name, key));
        self
    }
    fn differs(mut self, httpkom: u16, gateway: u16, why: &'static str) -> Self {
        self.differs = Some((httpkom, gateway, why));
        self
    }
}

fn script() -> Vec<Step> {
    let client = json!({"client": {"name": "conformance", "version": "1.0"}});
    let text1 = json!({
        "subject": "Räksmörgås på menyn",
        "body": "Hej alla!\nGrüße 🍰 日本語.\n",
        "content_type": "text/x-kom-basic",
        "recipient_list": [{"type": "to", "recpt": {"conf_no": "{conf}"}}],
    });
    let text2 = json!({
        "subject": "Re: Räksmörgås",
        "body": "Ja tack.",
        "content_type": "text/plain",
        "recipient_list": [{"type": "to", "recpt": {"conf_no": "{conf}"}},
                           {"type": "cc", "recpt": {"conf_no": "{pers}"}}],
        "comment_to_list": [{"type": "comment", "text_no": "{t1}"}],
    });
    vec![
        step("GET", "/").anonymous(),
        step("POST", "/kom/sessions/")
            .anonymous()
            .body(client.clone())
            .capture("conn", "connection_id"),
        step("POST", "/kom/sessions/").body(client.clone()),
        step("GET", "/kom/sessions/current/who-am-i"),
        step("GET", "/kom/sessions/current/who-am-i?_v=abc"),
        step("GET", "/nosuch/sessions/current/who-am-i"),
        step("GET", "/kom/sessions/current/who-am-i").anonymous(),
        step("GET", "/other/sessions/current/who-am-i").differs(
            200,
            403,
            "httpkom accepts a connection id under another server id",
        ),
        step("POST", "/kom/persons/")
            .body(json!({"name": "Conformance Person", "passwd": "pw"}))
            .capture("pers", "pers_no"),
        // `#<number>` names are that conference or person, before a login too.
        step("GET", "/kom/conferences/?name=%23{pers}"),
        step("POST", "/kom/sessions/current/login")
            .body(json!({"pers_no": "{pers}", "passwd": "wrong"})),
        step("POST", "/kom/sessions/current/login").body(json!({"pers_no": "{pers}"})),
        step("POST", "/kom/sessions/current/login")
            .body(json!({"pers_no": "{pers}", "passwd": null})),
        step("POST", "/kom/sessions/current/login")
            .body(json!({"pers_no": "{pers}", "pers_name": "Conformance Person", "passwd": "pw"})),
        step("POST", "/kom/sessions/current/login").body(json!({"passwd": "pw"})),
        step("POST", "/kom/sessions/current/login")
            .body(json!({"pers_name": "Nobody Here At All", "passwd": "pw"})),
        step("POST", "/kom/sessions/current/login")
            .body(json!({"pers_name": "#{pers}", "passwd": "wrong"})),
        step("POST", "/kom/sessions/current/login")
            .body(json!({"pers_name": "#999999", "passwd": "pw"})),
        step("POST", "/kom/sessions/current/login")
            .body(json!({"pers_name": "#Conformance Person", "passwd": "pw"})),
        step("GET", "/kom/texts/marks/"),
        step("POST", "/kom/sessions/current/logout"),
        step("POST", "/kom/sessions/current/login")
            .body(json!({"pers_name": "Conformance Person", "passwd": "pw"})),
        step("GET", "/kom/sessions/current/who-am-i").differs(
            500,
            200,
            "httpkom's who-am-i fails when logged in",
        ),
        step("POST", "/kom/sessions/current/active"),
        step("GET", "/kom/server/info"),
        step("POST", "/kom/conferences/")
            .body(json!({"name": "Conformance Conf"}))
            .capture("conf", "conf_no"),
        step("GET", "/kom/conferences/{conf}"),
        step("GET", "/kom/conferences/{conf}?micro=false"),
        step("GET", "/kom/conferences/999999"),
        step("GET", "/kom/conferences/?name=Conformance"),
        step("GET", "/kom/conferences/?name=Conformance&want-pers=false"),
        step("GET", "/kom/conferences/?name=%23{conf}"),
        step("GET", "/kom/conferences/?name=%23{conf}&want-confs=false"),
        step("GET", "/kom/conferences/?name=%23{pers}"),
        step("GET", "/kom/conferences/?name=%23{pers}&want-pers=false"),
        step("GET", "/kom/conferences/?name=%23%20%2B{conf}%0A"),
        step("GET", "/kom/conferences/?name=%23999999"),
        step("GET", "/kom/conferences/?name=%230"),
        step("GET", "/kom/conferences/?name=%23"),
        step("GET", "/kom/conferences/?name=%23Conformance"),
        step("POST", "/kom/sessions/current/login")
            .body(json!({"pers_name": "#{conf}", "passwd": "pw"})),
        step("PUT", "/kom/persons/{pers}/memberships/{conf}").body(json!({"priority": 150})),
        step("GET", "/kom/persons/{pers}/memberships/{conf}"),
        step("POST", "/kom/texts/")
            .body(text1)
            .capture("t1", "text_no"),
        step("POST", "/kom/texts/")
            .body(text2)
            .capture("t2", "text_no"),
        step("GET", "/kom/texts/{t1}"),
        step("GET", "/kom/texts/{t2}"),
        step("GET", "/kom/texts/{t1}/body"),
        step("GET", "/kom/texts/999999"),
        step("GET", "/kom/conferences/{conf}/texts/?no-of-texts=5"),
        step("GET", "/kom/persons/{pers}/memberships/{conf}/unread"),
        step("PUT", "/kom/texts/{t1}/read-marking").body(json!({})),
        step("GET", "/kom/persons/{pers}/memberships/{conf}/unread"),
        step("GET", "/kom/persons/{pers}/memberships/unread/"),
        step("GET", "/kom/persons/{pers}/memberships/"),
        step("GET", "/kom/persons/{pers}/memberships/?unread=true"),
        step("POST", "/kom/persons/current/memberships/{conf}/unread")
            .body(json!({"no_of_unread": 2})),
        step("GET", "/kom/persons/{pers}/memberships/{conf}/unread"),
        step("PUT", "/kom/texts/{t1}/mark").body(json!({"type": 42})),
        step("GET", "/kom/texts/marks/"),
        step("DELETE", "/kom/texts/{t1}/mark"),
        step("GET", "/kom/texts/marks/"),
        step("GET", "/kom/persons/5/user-area/common"),
        step("POST", "/kom/texts/")
            .body(json!({"subject": "", "body": user_area(), "content_type": "x-kom/user-area"}))
            .capture("ua", "text_no"),
        websocket(vec![raw(1, "57 {pers} {ua}")], 1),
        // httpkom caches the person's status per connection: read the new user area the
        // way a client does after logging in, on a new connection.
        step("POST", "/kom/sessions/")
            .anonymous()
            .body(client.clone())
            .capture("conn", "connection_id"),
        step("POST", "/kom/sessions/current/login")
            .body(json!({"pers_no": "{pers}", "passwd": "pw"})),
        step("GET", "/kom/persons/{pers}/user-area/common").differs(404, 200, "httpkom 0.32 looks blocks up by str in a dict keyed by bytes, so it never finds one"),
        step("GET", "/kom/persons/{pers}/user-area/jskom").differs(404, 200, "httpkom 0.32 looks blocks up by str in a dict keyed by bytes, so it never finds one"),
        step("GET", "/kom/persons/{pers}/user-area/nosuch"),
        step("GET", "/kom/persons/{pers}/user-area/notjson").differs(
            404,
            500,
            "a block that is not JSON: httpkom never finds it; were it found, its json.loads would fail with 500 Unknown error",
        ),
        step("GET", "/kom/persons/999999/user-area/common"),
        step("GET", "/kom/persons/{t1}/user-area/common"),
        // The user area is a text of another content type: httpkom refuses it (400).
        websocket(vec![raw(1, "57 {pers} {t1}")], 1),
        step("POST", "/kom/sessions/")
            .anonymous()
            .body(client.clone())
            .capture("conn", "connection_id"),
        step("POST", "/kom/sessions/current/login")
            .body(json!({"pers_no": "{pers}", "passwd": "pw"})),
        step("GET", "/kom/persons/{pers}/user-area/common"),
        step("GET", "/websocket"),
        websocket(vec![raw(1, "25 {t1} 0 3"), raw(2, "90 999999")], 2).differs(
            101,
            101,
            "httpkom drops the last character of a raw reply that ends in a string, and sends an error's code and status as a reply",
        ),
        websocket(
            vec![
                raw(7, "78 {conf}"),
                raw(8, "78 {pers}"),
                json!({"protocol": "echo", "ref_no": 9, "request": {"x": [1, "å"]}}),
                json!({"protocol": "b", "ref_no": 10, "request": "35"}),
                json!({"ref_no": 11, "request": "ignored: no protocol"}),
            ],
            4,
        ),
        step("POST", "/kom/sessions/current/working-conference").body(json!({"conf_no": "{conf}"})),
        step("POST", "/kom/sessions/current/working-conference").body(json!({})),
        step("POST", "/kom/persons/{pers}/set-passwd")
            .body(json!({"old_pwd": "pw", "new_pwd": "pw2"})),
        step("DELETE", "/kom/persons/{pers}/memberships/{conf}"),
        step("GET", "/kom/persons/{pers}/memberships/{conf}"),
        step("POST", "/kom/sessions/current/logout"),
        step("POST", "/kom/sessions/current/logout"),
        step("POST", "/kom/sessions/current/login")
            .body(json!({"pers_name": "#{pers}", "passwd": "pw2"})),
        step("POST", "/kom/sessions/current/login")
            .body(json!({"pers_no": "{pers}", "passwd": "pw2"})),
        step("DELETE", "/kom/sessions/0"),
        step("GET", "/kom/sessions/current/who-am-i"),
        websocket(vec![raw(1, "56")], 1).differs(
            500,
            403,
            "httpkom fails building its 403 answer for a deleted connection's WebSocket",
        ),
        websocket(vec![raw(1, "56")], 1).anonymous().differs(
            500,
            403,
            "httpkom fails building its 403 answer for an unknown connection's WebSocket",
        ),
    ]
}

/// Replaces `{name}` placeholders (in paths and WebSocket requests) with captured values.
fn fill(text: &str, vars: &HashMap<&str, Value>) -> String {
    let mut out = text.to_string();
    for (k, v) in vars {
        let raw = match v {
            Value::String(s) => s.clone(),
            other => other.to_string(),
        };
        out = out.replace(&format!("{{{k}}}"), &raw);
    }
    out
}

/// Fills a JSON body: a string that is one `"{name}"` placeholder becomes the captured value
/// (a number stays a number), placeholders inside longer strings become their text.
fn fill_value(v: &Value, vars: &HashMap<&str, Value>) -> Value {
    match v {
        Value::String(s) if s.starts_with('{') && s.ends_with('}') => vars
            .get(&s[1..s.len() - 1])
            .cloned()
            .unwrap_or_else(|| v.clone()),
        Value::String(s) => Value::String(fill(s, vars)),
        Value::Array(a) => Value::Array(a.iter().map(|x| fill_value(x, vars)).collect()),
        Value::Object(o) => Value::Object(
            o.iter()
                .map(|(k, x)| (k.clone(), fill_value(x, vars)))
                .collect(),
        ),
        other => other.clone(),
    }
}

fn is_time(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() == 20 && b[4] == b'-' && b[7] == b'-' && b[10] == b'T' && b[19] == b'Z'
}

/// Connection ids, session numbers, times and the servers' ports are not comparable.
fn normalize(v: &Value) -> Value {
    match v {
        Value::Object(o) => Value::Object(
            o.iter()
                .map(|(k, x)| {
                    let x = match k.as_str() {
                        "connection_id" => json!("<connection-id>"),
                        "session_no" => json!("<session-no>"),
                        "port" => json!("<port>"),
                        _ => normalize(x),
                    };
                    (k.clone(), x)
                })
                .collect(),
        ),
        Value::Array(a) => Value::Array(a.iter().map(normalize).collect()),
        Value::String(s) if is_time(s) => json!("<time>"),
        other => other.clone(),
    }
}

#[derive(Debug, PartialEq)]
struct Observed {
    status: u16,
    content_type: Option<String>,
    body: Value,
    location: Option<String>,
}

fn observe(r: &Reply) -> Observed {
    let content_type = r
        .header("Content-Type")
        .map(|c| c.replace(' ', "").to_ascii_lowercase());
    let body = if r.body.is_empty() {
        Value::Null
    } else if content_type
        .as_deref()
        .is_some_and(|c| c.starts_with("application/json"))
    {
        normalize(&r.json())
    } else {
        Value::String(String::from_utf8_lossy(&r.body).into_owned())
    };
    let location = r.header("Location").map(|l| match l.find("/kom/") {
        Some(i) => l[i..].to_string(),
        None => l.to_string(),
    });
    Observed {
        status: r.status,
        content_type,
        body,
        location,
    }
}

fn run(base: std::net::SocketAddr, steps: &[Step]) -> Vec<Observed> {
    let mut vars: HashMap<&str, Value> = HashMap::new();
    let mut out = Vec::new();
    for s in steps {
        let mut http = Http::new(base);
        if let (true, Some(Value::String(id))) = (s.with_connection, vars.get("conn")) {
            http = http.with_connection(id);
        }
        let path = fill(s.path, &vars);
        if let Some((messages, expected)) = &s.ws {
            let connection = match (s.with_connection, vars.get("conn")) {
                (true, Some(Value::String(id))) => id.clone(),
                _ => "not-a-connection".to_string(),
            };
            let messages: Vec<Value> = messages
                .iter()
                .map(|m| {
                    let mut m = m.clone();
                    if let Some(Value::String(r)) = m.get("request") {
                        m["request"] = json!(fill(r, &vars));
                    }
                    m
                })
                .collect();
            let x = ws_exchange(base, &connection, &messages, *expected);
            out.push(Observed {
                status: x.status,
                content_type: None,
                body: normalize(&Value::Array(x.answers)),
                location: None,
            });
            continue;
        }
        let body = s.body.as_ref().map(|b| fill_value(b, &vars));
        let r = http.request(s.method, &path, body.as_ref(), &[]);
        if let Some((name, key)) = s.capture {
            let v = r.json();
            vars.insert(name, v[key].clone());
        }
        out.push(observe(&r));
    }
    out
}

#[test]
fn kom_gateway_answers_like_httpkom() {
    let test = "kom_gateway_answers_like_httpkom";
    let (Some(kom_a), Some(kom_b)) = (Lyskomd::start(), Lyskomd::start()) else {
        test_support::skip(test, "lyskomd (Debian package lyskom-server)");
        return;
    };
    let Some(httpkom) = start_httpkom(&[("kom", kom_a.port()), ("other", kom_a.port())]) else {
        test_support::skip(
            test,
            "httpkom 0.32 in the peers virtualenv (pip install httpkom==0.32)",
        );
        return;
    };
    let gateway = start_gateway(&[("kom", kom_b.port()), ("other", kom_b.port())], "");
    let steps = script();
    let theirs = run(httpkom.addr, &steps);
    let ours = run(gateway.addr, &steps);
    let mut mismatches = Vec::new();
    for (i, s) in steps.iter().enumerate() {
        let label = format!("#{i} {} {}", s.method, s.path);
        match s.differs {
            Some((their_status, our_status, why)) => {
                eprintln!(
                    "{label}: intended difference ({why}):\n  httpkom:     {:?}\n  kom-gateway: {:?}",
                    theirs[i], ours[i]
                );
                if theirs[i].status != their_status || ours[i].status != our_status {
                    mismatches.push(format!(
                        "{label}: intended difference ({why}) expected httpkom {their_status} / kom-gateway {our_status}, got {} / {}",
                        theirs[i].status, ours[i].status
                    ));
                }
            }
            None => {
                if theirs[i] != ours[i] {
                    mismatches.push(format!(
                        "{label}:\n  httpkom:     {:?}\n  kom-gateway: {:?}",
                        theirs[i], ours[i]
                    ));
                }
            }
        }
    }
    assert!(
        mismatches.is_empty(),
        "{} differences:\n{}",
        mismatches.len(),
        mismatches.join("\n")
    );
}
