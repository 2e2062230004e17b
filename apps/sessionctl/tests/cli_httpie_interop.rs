//! Interoperability with the real HTTPie 3.2.4 (from the peers' virtualenv): both tools use
//! the same HTTPIE_CONFIG_DIR and the same session files, in both directions.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::*;
use serde_json::Value;

/// What HTTPie would send, from `http --offline --session-read-only=NAME URL` (no stderr).
fn httpie_offline_request(
    test: &str,
    config: &std::path::Path,
    session: &str,
    url: &str,
) -> Option<String> {
    let mut command = httpie(test, config)?;
    let output = run(command.args(["--offline", &format!("--session-read-only={session}"), url]));
    assert!(
        output.status.success(),
        "HTTPie failed: {}",
        stderr(&output)
    );
    assert_eq!(stderr(&output), "", "HTTPie warned about the session file");
    Some(stdout(&output))
}

fn header_line<'a>(request: &'a str, name: &str) -> Option<&'a str> {
    request
        .lines()
        .find(|l| {
            l.to_ascii_lowercase()
                .starts_with(&format!("{}: ", name.to_ascii_lowercase()))
        })
        .map(|l| &l[name.len() + 2..])
}

type Meaning = (Vec<(String, String, String, String)>, Value, Value);

/// The meaning of a session file: cookies as a set, headers, auth.
fn meaning(file: &Value) -> Meaning {
    (
        cookie_set(file),
        file["headers"].clone(),
        file["auth"].clone(),
    )
}

#[test]
fn an_httpie_session_works_in_sessionctl_and_comes_back_unchanged() {
    let test = "an_httpie_session_works_in_sessionctl_and_comes_back_unchanged";
    let server = TestServer::start();
    let config = test_support::temp_dir();
    let Some(mut http) = httpie(test, config.path()) else {
        return;
    };

    // 1. HTTPie creates the session against the server: cookies, auth, a header.
    let output = run(http.args([
        "--session=dev",
        "-a",
        "alice:pw",
        &server.localhost("/set?sid=s1&theme=dark"),
        "X-Api-Version:2",
    ]));
    assert!(output.status.success(), "{}", stderr(&output));
    let path = session_path(
        config.path(),
        &format!("localhost_{}", server.port()),
        "dev",
    );
    let written_by_httpie = session_json(&path);

    // 2. sessionctl uses it: same cookies, auth and header go out.
    let out = ok(sessionctl(config.path()).args([
        "--json",
        "request",
        "--session=dev",
        "GET",
        &server.localhost("/use"),
    ]));
    let headers = &echoed(&out)["headers"];
    assert_eq!(headers["cookie"], "sid=s1; theme=dark");
    assert_eq!(headers["authorization"], "Basic YWxpY2U6cHc=");
    assert_eq!(headers["x-api-version"], "2");
    // ... and saves it back with the same meaning.
    let written_by_sessionctl = session_json(&path);
    assert_eq!(meaning(&written_by_sessionctl), meaning(&written_by_httpie));
    assert_eq!(
        written_by_sessionctl["__meta__"],
        written_by_httpie["__meta__"]
    );

    // 3. HTTPie reads sessionctl's file without a warning and sends the same again.
    let Some(request) =
        httpie_offline_request(test, config.path(), "dev", &server.localhost("/again"))
    else {
        return;
    };
    assert_eq!(header_line(&request, "Cookie"), Some("sid=s1; theme=dark"));
    assert_eq!(
        header_line(&request, "Authorization"),
        Some("Basic YWxpY2U6cHc=")
    );
    assert_eq!(header_line(&request, "X-Api-Version"), Some("2"));
}

#[test]
fn a_cookie_deleted_by_the_server_is_gone_for_both_tools() {
    let test = "a_cookie_deleted_by_the_server_is_gone_for_both_tools";
    let server = TestServer::start();
    let config = test_support::temp_dir();
    let Some(mut http) = httpie(test, config.path()) else {
        return;
    };
    assert!(
        run(http.args(["--session=del", &server.localhost("/set?a=1&b=2&c=3")]))
            .status
            .success()
    );

    // Deleted through sessionctl: HTTPie no longer sends it.
    ok(sessionctl(config.path()).args(["request", "--session=del", &server.localhost("/del?a")]));
    let Some(request) = httpie_offline_request(test, config.path(), "del", &server.localhost("/"))
    else {
        return;
    };
    assert_eq!(header_line(&request, "Cookie"), Some("b=2; c=3"));

    // Deleted through HTTPie: sessionctl no longer sends it.
    let Some(mut http) = httpie(test, config.path()) else {
        return;
    };
    assert!(
        run(http.args(["--session=del", &server.localhost("/del?b")]))
            .status
            .success()
    );
    let out = ok(sessionctl(config.path()).args([
        "--json",
        "request",
        "--session=del",
        &server.localhost("/"),
    ]));
    assert_eq!(echoed(&out)["headers"]["cookie"], "c=3");
}

#[test]
fn a_session_created_by_sessionctl_is_used_by_httpie() {
    let test = "a_session_created_by_sessionctl_is_used_by_httpie";
    let server = TestServer::start();
    let config = test_support::temp_dir();
    ok(sessionctl(config.path()).args([
        "request",
        "--session=fresh",
        "-A",
        "bearer",
        "-a",
        "t0k3n",
        &server.localhost("/set?sid=new"),
        "X-Team:core",
    ]));
    let Some(request) =
        httpie_offline_request(test, config.path(), "fresh", &server.localhost("/x"))
    else {
        return;
    };
    assert_eq!(header_line(&request, "Cookie"), Some("sid=new"));
    assert_eq!(header_line(&request, "Authorization"), Some("Bearer t0k3n"));
    assert_eq!(header_line(&request, "X-Team"), Some("core"));
    // Another host gets nothing (the cookie is host-only for localhost).
    let ip = format!("http://127.0.0.1:{}/", server.port());
    let config_path = config.path();
    let Some(mut http) = httpie(test, config_path) else {
        return;
    };
    let other = session_path(
        config_path,
        &format!("localhost_{}", server.port()),
        "fresh",
    );
    let output = run(http.args([
        "--offline",
        &format!("--session-read-only={}", other.display()),
        &ip,
    ]));
    assert!(output.status.success());
    assert_eq!(header_line(&stdout(&output), "Cookie"), None);
}

#[test]
fn a_legacy_session_upgraded_by_sessionctl_is_accepted_by_httpie_without_warnings() {
    let test = "a_legacy_session_upgraded_by_sessionctl_is_accepted_by_httpie_without_warnings";
    let config = test_support::temp_dir();
    let path = session_path(config.path(), "localhost_8080", "old");
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    let legacy = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../session-http/tests/data/httpie/legacy.json");
    std::fs::copy(legacy, &path).unwrap();

    // HTTPie itself warns about the legacy layout.
    let Some(mut http) = httpie(test, config.path()) else {
        return;
    };
    let output = run(http.args([
        "--offline",
        "--session-read-only=old",
        "localhost:8080/app/x",
    ]));
    assert!(
        stderr(&output).contains("Outdated layout"),
        "{}",
        stderr(&output)
    );

    ok(sessionctl(config.path()).args(["sessions", "upgrade", "localhost:8080", "old"]));
    let Some(request) = httpie_offline_request(test, config.path(), "old", "localhost:8080/app/x")
    else {
        return;
    };
    assert_eq!(
        header_line(&request, "Cookie"),
        Some("pref=compact; sid=abc123")
    );
    assert_eq!(
        header_line(&request, "Authorization"),
        Some("Basic YWxpY2U6czNjcmV0")
    );
    assert_eq!(header_line(&request, "X-Api-Version"), Some("2"));
}

/// One request as sent: method, path with query, headers (lowercase names) and body.
#[derive(Debug)]
struct Sent {
    method: String,
    target: String,
    headers: Vec<(String, String)>,
    body: String,
}

impl Sent {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    /// The multipart boundary of the Content-Type, if any.
    fn boundary(&self) -> Option<&str> {
        self.header("content-type")?.split("boundary=").nth(1)
    }

    /// The body with the multipart boundary (random in both tools) replaced.
    fn body_without_boundary(&self) -> String {
        match self.boundary() {
            Some(boundary) => self.body.replace(boundary, "BOUNDARY"),
            None => self.body.clone(),
        }
    }

    fn content_type_without_boundary(&self) -> Option<String> {
        self.header("content-type")
            .map(|v| v.split("; boundary=").next().unwrap_or(v).to_string())
    }
}

/// Writes the files the item tests name into `dir`.
fn item_files(dir: &std::path::Path) {
    std::fs::write(dir.join("t.txt"), "hello\n").unwrap();
    std::fs::write(
        dir.join("j.json"),
        "{\"x\": [1, 2], \"y\": {\"z\": null}}\n",
    )
    .unwrap();
    std::fs::write(dir.join("bad.json"), "bad{").unwrap();
    std::fs::write(dir.join("i.png"), "not really a PNG").unwrap();
    std::fs::write(dir.join("noext"), "x").unwrap();
    std::fs::write(
        dir.join("o.json"),
        "{\"b\": 1, \"a\": [1.0, 1e100, -0.00001, \"é\\u00e8\"], \"b\": 2}",
    )
    .unwrap();
}

/// What HTTPie 3.2.4 would send for `args` (options first, then `url`, then items), run in
/// `dir`; `None` after a skip when HTTPie is missing.
fn httpie_sends(test: &str, dir: &std::path::Path, args: &[&str]) -> Option<Sent> {
    let config = test_support::temp_dir();
    let mut command = httpie(test, config.path())?;
    let output = run(command
        .current_dir(dir)
        .args(["--offline", "--print=HB"])
        .args(args));
    assert!(
        output.status.success(),
        "HTTPie failed for {args:?}: {}",
        stderr(&output)
    );
    Some(parse_offline(&stdout(&output)))
}

/// Parses what `http --offline --print=HB` (or `sessionctl request --offline`) prints.
fn parse_offline(text: &str) -> Sent {
    let (head, body) = text.split_once("\r\n\r\n").unwrap();
    let mut lines = head.lines();
    let mut request_line = lines.next().unwrap().split(' ');
    let method = request_line.next().unwrap().to_string();
    let target = request_line.next().unwrap().to_string();
    let headers: Vec<(String, String)> = lines
        .map(|l| {
            let (n, v) = l.split_once(": ").unwrap();
            (n.to_ascii_lowercase(), v.to_string())
        })
        .collect();
    let length = headers
        .iter()
        .find(|(n, _)| n == "content-length")
        .map_or(0, |(_, v)| v.parse::<usize>().unwrap());
    Sent {
        method,
        target,
        headers,
        body: body[..length].to_string(),
    }
}

/// What sessionctl sent for the same `args`, as the test server saw it.
fn sessionctl_sends(dir: &std::path::Path, args: &[&str]) -> Sent {
    let config = test_support::temp_dir();
    let out = ok(sessionctl(config.path())
        .current_dir(dir)
        .args(["--json", "request"])
        .args(args));
    let echo = echoed(&out);
    let query = echo["query"].as_str().unwrap();
    let path = echo["path"].as_str().unwrap();
    Sent {
        method: echo["method"].as_str().unwrap().to_string(),
        target: if query.is_empty() {
            path.to_string()
        } else {
            format!("{path}?{query}")
        },
        headers: echo["headers"]
            .as_object()
            .unwrap()
            .iter()
            .map(|(n, v)| (n.clone(), v.as_str().unwrap().to_string()))
            .collect(),
        body: echo["body"].as_str().unwrap().to_string(),
    }
}

/// Sends `options URL items` with both tools and asserts the same request: method, target,
/// Accept, Content-Type (boundary aside), the named headers, and the body byte for byte (JSON
/// as Python's json.dumps writes it; the multipart boundary aside).
fn assert_same_request(test: &str, options: &[&str], items: &[&str], headers: &[&str]) {
    let server = TestServer::start();
    let dir = test_support::temp_dir();
    item_files(dir.path());
    let url = server.localhost("/p");
    let args: Vec<&str> = options
        .iter()
        .copied()
        .chain([url.as_str()])
        .chain(items.iter().copied())
        .collect();
    let Some(httpie) = httpie_sends(test, dir.path(), &args) else {
        return;
    };
    let ours = sessionctl_sends(dir.path(), &args);
    assert_eq!(ours.method, httpie.method, "{args:?}");
    assert_eq!(ours.target, httpie.target, "{args:?}");
    assert_eq!(ours.header("accept"), httpie.header("accept"), "{args:?}");
    assert_eq!(
        ours.content_type_without_boundary(),
        httpie.content_type_without_boundary(),
        "{args:?}"
    );
    for name in headers {
        assert_eq!(
            ours.header(name),
            httpie.header(name),
            "{name} for {args:?}"
        );
    }
    assert_eq!(
        ours.body_without_boundary(),
        httpie.body_without_boundary(),
        "{args:?}"
    );
    assert_eq!(
        ours.header("content-length"),
        httpie.header("content-length"),
        "{args:?}"
    );
}

#[test]
fn file_items_and_nested_json_build_the_body_httpie_builds() {
    let test = "file_items_and_nested_json_build_the_body_httpie_builds";
    assert_same_request(
        test,
        &[],
        &[
            "x=@t.txt",
            "y:=@j.json",
            "a[b][c]:=1",
            "a[b][d][]=x",
            "a[b][d][]:=2",
            "l[2]=z",
            "l[0]=first",
            r"esc\[k\]=v",
            "007=seven",
            r"k[\1]=text",
            "H:@t.txt",
            "q==@t.txt",
            r"e\:x=a\=b",
            "o:=@o.json",
            "z=é 😀",
        ],
        &["h"],
    );
    // A top-level array.
    assert_same_request(test, &[], &["[]=x", "[2]:=3", "[]:=@j.json"], &[]);
    // Stepping into a null restarts from a new root, as in HTTPie.
    assert_same_request(test, &[], &["a:=null", "a[b]=1"], &[]);
    // Only headers and a query: a GET without a body.
    assert_same_request(test, &[], &["H:@t.txt", "q==@t.txt", "E;"], &["h", "e"]);
}

#[test]
fn forms_are_urlencoded_like_httpie() {
    let test = "forms_are_urlencoded_like_httpie";
    assert_same_request(
        test,
        &["--form"],
        &[
            "a=1",
            "b=x~*y+z é/&%=",
            "a=@t.txt",
            "n:=1.5e300",
            "t:=true",
            "k[x]=literal",
        ],
        &[],
    );
    assert_same_request(test, &["-f"], &[], &[]);
}

#[test]
fn multipart_uploads_have_the_parts_httpie_sends() {
    let test = "multipart_uploads_have_the_parts_httpie_sends";
    assert_same_request(
        test,
        &["--multipart"],
        &[
            "a=1",
            "f@i.png",
            "g@noext",
            "h@t.txt;type=text/x-foo",
            "x=@t.txt",
            "q:=2",
            "a=3",
        ],
        &[],
    );
    // --form with a file upload turns multipart.
    assert_same_request(test, &["-f"], &["f@t.txt", "a=1"], &[]);
    assert_same_request(test, &["--multipart"], &[], &[]);
}

#[test]
fn bad_items_fail_in_both_tools_and_sessionctl_names_the_item() {
    let test = "bad_items_fail_in_both_tools_and_sessionctl_names_the_item";
    let dir = test_support::temp_dir();
    item_files(dir.path());
    let cases: [(&[&str], &str); 8] = [
        (&["a=1", "a[b]=2"], "a[b]=2"),
        (&["a[b=c"], "a[b=c"),
        (&["a[-1]=c"], "a[-1]=c"),
        (&["x=@missing.txt"], "x=@missing.txt"),
        (&["x:=@bad.json"], "x:=@bad.json"),
        (&["H:@missing.txt"], "H:@missing.txt"),
        (&["f@t.txt"], "--form"),
        (&["-f", "c:=[1]"], "c:=[1]"),
    ];
    let config = test_support::temp_dir();
    for (args, named) in cases {
        let (options, items): (Vec<&str>, Vec<&str>) = args
            .iter()
            .partition(|a| a.starts_with('-') && a.len() == 2);
        let full: Vec<&str> = options
            .iter()
            .copied()
            .chain(["http://localhost:9/p"])
            .chain(items.iter().copied())
            .collect();
        let output = run(sessionctl(config.path())
            .current_dir(dir.path())
            .arg("request")
            .args(&full));
        assert_eq!(
            output.status.code(),
            Some(2),
            "{full:?}: {}",
            stderr(&output)
        );
        let message = stderr(&output);
        assert!(message.starts_with("sessionctl: "), "{message}");
        assert!(message.contains(named), "{full:?}: {message}");
        assert!(!message.contains("panicked"), "{message}");

        let Some(mut http) = httpie(test, config.path()) else {
            return;
        };
        let output = run(http.current_dir(dir.path()).arg("--offline").args(&full));
        assert!(!output.status.success(), "HTTPie accepted {full:?}");
    }
}

#[test]
fn raw_bodies_and_content_type_overrides_match_httpie() {
    let test = "raw_bodies_and_content_type_overrides_match_httpie";
    assert_same_request(test, &["--raw", r#"{"a": [1]}"#], &["q==1"], &[]);
    assert_same_request(test, &["--form", "--raw", "a=1&b=2"], &[], &[]);
    assert_same_request(test, &["--raw", ""], &[], &[]);
    // A Content-Type without a boundary gets the boundary appended.
    assert_same_request(
        test,
        &["--multipart"],
        &["a=1", "Content-Type:multipart/mixed"],
        &[],
    );
}

#[test]
fn a_form_request_keeps_the_same_session_headers_as_httpie() {
    let test = "a_form_request_keeps_the_same_session_headers_as_httpie";
    let server = TestServer::start();
    let dir = test_support::temp_dir();
    item_files(dir.path());
    let ours = test_support::temp_dir();
    let theirs = test_support::temp_dir();
    let url = server.localhost("/p");
    let items = [
        "--form",
        "--session=s",
        &url,
        "a=1",
        "X-A:@t.txt",
        "f@t.txt",
    ];
    ok(sessionctl(ours.path())
        .current_dir(dir.path())
        .arg("request")
        .args(items));
    let Some(mut http) = httpie(test, theirs.path()) else {
        return;
    };
    let output = run(http.current_dir(dir.path()).arg("--offline").args(items));
    assert!(output.status.success(), "{}", stderr(&output));
    let host_dir = format!("localhost_{}", server.port());
    let ours = session_json(&session_path(ours.path(), &host_dir, "s"));
    let theirs = session_json(&session_path(theirs.path(), &host_dir, "s"));
    assert_eq!(ours["headers"], theirs["headers"]);
    assert_eq!(
        ours["headers"],
        serde_json::json!([{"name": "X-A", "value": "hello"}])
    );
}

#[test]
fn offline_requests_print_what_httpie_prints() {
    let test = "offline_requests_print_what_httpie_prints";
    let dir = test_support::temp_dir();
    item_files(dir.path());
    let cases: [&[&str]; 5] = [
        &[
            "--multipart",
            "--boundary=b0undary",
            ":9/up",
            "a=1",
            "f@t.txt",
            "x=@t.txt",
        ],
        &["-f", ":9/form?x=1", "a=1", "b=@t.txt", "H:@t.txt", "q==2"],
        &[
            "PUT",
            ":9/j",
            "a[b][]:=@j.json",
            "c=d",
            "X-Unset:",
            "Empty;",
        ],
        &["-a", "u:p", "DELETE", ":9/d", "x-lower:1", "X-UPPER;"],
        &["--raw", "text body", ":9/raw"],
    ];
    for args in cases {
        let config = test_support::temp_dir();
        let printed = ok(sessionctl(config.path())
            .current_dir(dir.path())
            .args(["request", "--offline"])
            .args(args));
        let ours = parse_offline(&printed);
        let Some(httpie) = httpie_sends(test, dir.path(), args) else {
            return;
        };
        assert_eq!(ours.method, httpie.method, "{args:?}");
        assert_eq!(ours.target, httpie.target, "{args:?}");
        let comparable = |sent: &Sent| {
            let mut headers: Vec<(String, String)> = sent
                .headers
                .iter()
                .filter(|(n, _)| {
                    !matches!(n.as_str(), "user-agent" | "accept-encoding" | "connection")
                })
                .cloned()
                .collect();
            headers.sort();
            headers
        };
        assert_eq!(comparable(&ours), comparable(&httpie), "{args:?}");
        assert_eq!(ours.body, httpie.body, "{args:?}");
        // Header names are printed as typed, like HTTPie does.
        for item in args
            .iter()
            .filter(|a| a.starts_with("x-lower") || a.starts_with("X-UPPER"))
        {
            let name = item.split([':', ';']).next().unwrap();
            assert!(printed.contains(&format!("\r\n{name}: ")), "{printed}");
        }
    }
}

#[test]
fn an_offline_request_saves_the_session_httpie_saves() {
    let test = "an_offline_request_saves_the_session_httpie_saves";
    let ours = test_support::temp_dir();
    let theirs = test_support::temp_dir();
    let args = [
        "--offline",
        "--session=s",
        "-a",
        "u:p",
        ":9/x",
        "X-A:1",
        "a[b]=1",
    ];
    ok(sessionctl(ours.path()).arg("request").args(args));
    let Some(mut http) = httpie(test, theirs.path()) else {
        return;
    };
    assert!(run(http.args(args)).status.success());
    let ours = session_json(&session_path(ours.path(), "localhost_9", "s"));
    let theirs = session_json(&session_path(theirs.path(), "localhost_9", "s"));
    assert_eq!(meaning(&ours), meaning(&theirs));
}
