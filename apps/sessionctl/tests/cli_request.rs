//! `sessionctl request` and `sessionctl sessions` against a local HTTP test server, with a
//! private HTTPIE_CONFIG_DIR.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::os::unix::fs::PermissionsExt;

use common::*;

#[test]
fn request_without_a_session_prints_status_headers_and_body() {
    let server = TestServer::start();
    let config = test_support::temp_dir();
    let out = ok(sessionctl(config.path()).args([
        "request",
        "GET",
        &server.localhost("/hello"),
        "X-A:1",
    ]));
    let mut lines = out.lines();
    assert_eq!(lines.next(), Some("HTTP/1.1 200 OK"));
    assert!(out.contains("Content-Type: application/json"));
    assert!(out.contains("\"path\":\"/hello\""));
    assert!(out.contains("\"x-a\":\"1\""));
    // No session, no files.
    assert!(!config.path().join("sessions").exists());
}

#[test]
fn fields_become_a_json_body_and_query_items_a_query() {
    let server = TestServer::start();
    let config = test_support::temp_dir();
    let out = ok(sessionctl(config.path()).args([
        "--json",
        "request",
        &server.localhost("/api"),
        "name=alice",
        "age:=30",
        "q==x y",
    ]));
    let echo = echoed(&out);
    assert_eq!(echo["method"], "POST");
    assert_eq!(echo["query"], "q=x+y");
    let body: serde_json::Value = serde_json::from_str(echo["body"].as_str().unwrap()).unwrap();
    assert_eq!(body, serde_json::json!({"name": "alice", "age": 30}));
    assert_eq!(echo["headers"]["content-type"], "application/json");
    assert_eq!(echo["headers"]["accept"], "application/json, */*;q=0.5");
}

#[test]
fn a_session_keeps_cookies_auth_and_headers_in_a_private_file() {
    let server = TestServer::start();
    let config = test_support::temp_dir();
    ok(sessionctl(config.path()).args([
        "request",
        "--session",
        "dev",
        "-a",
        "alice:pw",
        "GET",
        &server.localhost("/set?sid=s1&theme=dark"),
        "X-Api-Version:2",
        "Content-Type:text/plain",
        "If-None-Match:xyz",
    ]));
    let path = session_path(
        config.path(),
        &format!("localhost_{}", server.port()),
        "dev",
    );
    let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);
    let file = session_json(&path);
    assert_eq!(
        cookie_set(&file),
        vec![
            (
                "sid".into(),
                "s1".into(),
                "localhost.local".into(),
                "/".into()
            ),
            (
                "theme".into(),
                "dark".into(),
                "localhost.local".into(),
                "/".into()
            ),
        ]
    );
    // Content-* and If-* are not stored.
    assert_eq!(
        file["headers"],
        serde_json::json!([{"name": "X-Api-Version", "value": "2"}])
    );
    assert_eq!(
        file["auth"],
        serde_json::json!({"type": "basic", "raw_auth": "alice:pw"})
    );

    let out = ok(sessionctl(config.path()).args([
        "--json",
        "request",
        "--session",
        "dev",
        "GET",
        &server.localhost("/next"),
    ]));
    let headers = &echoed(&out)["headers"];
    assert_eq!(headers["cookie"], "sid=s1; theme=dark");
    assert_eq!(headers["authorization"], "Basic YWxpY2U6cHc=");
    assert_eq!(headers["x-api-version"], "2");
    assert!(headers.get("if-none-match").is_none());

    // The server deletes a cookie: gone from the file.
    ok(sessionctl(config.path()).args([
        "request",
        "--session",
        "dev",
        "GET",
        &server.localhost("/del?theme"),
    ]));
    let file = session_json(&path);
    assert_eq!(
        cookie_set(&file),
        vec![(
            "sid".into(),
            "s1".into(),
            "localhost.local".into(),
            "/".into()
        )]
    );
}

#[test]
fn read_only_sessions_are_used_but_not_saved() {
    let server = TestServer::start();
    let config = test_support::temp_dir();
    ok(sessionctl(config.path()).args([
        "request",
        "--session",
        "ro",
        &server.localhost("/set?a=1"),
    ]));
    let path = session_path(config.path(), &format!("localhost_{}", server.port()), "ro");
    let before = std::fs::read(&path).unwrap();
    let out = ok(sessionctl(config.path()).args([
        "--json",
        "request",
        "--session-read-only",
        "ro",
        &server.localhost("/set?b=2"),
        "X-New:1",
    ]));
    assert_eq!(echoed(&out)["headers"]["cookie"], "a=1");
    assert_eq!(std::fs::read(&path).unwrap(), before);
}

#[test]
fn redirects_never_carry_cookies_to_another_host() {
    let server = TestServer::start();
    let config = test_support::temp_dir();
    // localhost sets a cookie, then sends us to 127.0.0.1 (another host), which sets its own.
    ok(sessionctl(config.path()).args([
        "request",
        "--session",
        "r",
        &server.localhost("/set?mine=1"),
    ]));
    let target = server.ip("/set?theirs=2");
    let redirect = format!("/redirect?set=hop%3D1&to={}", url_encode(&target));
    let out = ok(sessionctl(config.path()).args([
        "--json",
        "request",
        "--follow",
        "--session",
        "r",
        "-a",
        "u:p",
        &server.localhost(&redirect),
    ]));
    let echo = echoed(&out);
    assert_eq!(echo["path"], "/set");
    assert!(
        echo["headers"].get("cookie").is_none(),
        "cookies leaked: {echo}"
    );
    assert!(
        echo["headers"].get("authorization").is_none(),
        "auth leaked: {echo}"
    );
    let file = session_json(&session_path(
        config.path(),
        &format!("localhost_{}", server.port()),
        "r",
    ));
    assert_eq!(
        cookie_set(&file),
        vec![
            (
                "hop".into(),
                "1".into(),
                "localhost.local".into(),
                "/".into()
            ),
            (
                "mine".into(),
                "1".into(),
                "localhost.local".into(),
                "/".into()
            ),
            ("theirs".into(), "2".into(), "127.0.0.1".into(), "/".into()),
        ]
    );
    // Back on localhost, only localhost's cookies go out.
    let out = ok(sessionctl(config.path()).args([
        "--json",
        "request",
        "--session",
        "r",
        &server.localhost("/x"),
    ]));
    assert_eq!(echoed(&out)["headers"]["cookie"], "mine=1; hop=1");
}

#[test]
fn max_redirects_bounds_how_many_hops_are_followed() {
    let server = TestServer::start();
    let config = test_support::temp_dir();
    let url = server.redirect_chain(3, "/set?end=1");
    let request = |max: &str| {
        let mut command = sessionctl(config.path());
        command.args([
            "--json",
            "request",
            "--follow",
            "--max-redirects",
            max,
            &url,
        ]);
        command
    };
    // As in HTTPie, the limit's Nth redirect response ends the request: three redirects need
    // a limit of four.
    let out = ok(&mut request("4"));
    assert_eq!(echoed(&out)["path"], "/set");
    let out = ok(&mut request("0"));
    assert_eq!(echoed(&out)["path"], "/set", "0 lifts the limit");
    let refused = run(&mut request("3"));
    assert_eq!(refused.status.code(), Some(6), "{}", stderr(&refused));
    assert!(
        stderr(&refused).contains("too many redirects (--max-redirects=3)"),
        "{}",
        stderr(&refused)
    );
}

#[test]
fn session_paths_and_names_resolve_like_httpie() {
    let server = TestServer::start();
    let config = test_support::temp_dir();
    let explicit = config.path().join("elsewhere").join("my.json");
    ok(sessionctl(config.path()).args([
        "request",
        "--session",
        explicit.to_str().unwrap(),
        &server.localhost("/set?p=1"),
    ]));
    assert!(explicit.exists());
    ok(sessionctl(config.path()).args([
        "request",
        "--session",
        "h",
        &server.localhost("/x"),
        "Host:api.example:8080",
    ]));
    assert!(session_path(config.path(), "api.example_8080", "h").exists());
}

#[test]
fn errors_are_one_line_with_a_non_zero_exit_and_touch_no_file() {
    let server = TestServer::start();
    let config = test_support::temp_dir();
    let cases: Vec<Vec<String>> = vec![
        vec!["request".into(), "GET".into(), "http://".into()],
        vec![
            "request".into(),
            "GET".into(),
            "https://example.com/".into(),
        ],
        vec![
            "request".into(),
            "--session".into(),
            "bad name".into(),
            server.localhost("/"),
        ],
        vec![
            "request".into(),
            "GET".into(),
            server.localhost("/"),
            "n:={".into(),
        ],
        vec!["request".into(), "GET".into(), "http://127.0.0.1:1/".into()],
        vec![
            "sessions".into(),
            "show".into(),
            "nohost".into(),
            "nosession".into(),
        ],
    ];
    for args in cases {
        let output = run(sessionctl(config.path()).args(&args));
        assert!(!output.status.success(), "{args:?} succeeded");
        let err = stderr(&output);
        assert_eq!(err.trim_end().lines().count(), 1, "{args:?}: {err}");
        assert!(err.starts_with("sessionctl: "), "{args:?}: {err}");
        assert!(!err.contains("panicked"), "{args:?}: {err}");
    }

    // A foreign file where a session should be: refused, left exactly as it was.
    let path = session_path(
        config.path(),
        &format!("localhost_{}", server.port()),
        "foreign",
    );
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(&path, "[1, 2, 3]\n").unwrap();
    let output = run(sessionctl(config.path()).args([
        "request",
        "--session",
        "foreign",
        &server.localhost("/set?a=1"),
    ]));
    assert!(!output.status.success());
    assert!(
        stderr(&output).contains("not an HTTPie session file"),
        "{}",
        stderr(&output)
    );
    assert_eq!(std::fs::read_to_string(&path).unwrap(), "[1, 2, 3]\n");
}

#[test]
fn sessions_list_show_export_import_delete() {
    let server = TestServer::start();
    let config = test_support::temp_dir();
    let host = format!("localhost:{}", server.port());
    ok(sessionctl(config.path()).args([
        "request",
        "--session",
        "one",
        "-A",
        "bearer",
        "-a",
        "tok",
        &server.localhost("/set?a=1"),
        "X-A:1",
    ]));

    let list: serde_json::Value = serde_json::from_str(&ok(
        sessionctl(config.path()).args(["--json", "sessions", "list"])
    ))
    .unwrap();
    assert_eq!(list[0]["host"], format!("localhost_{}", server.port()));
    assert_eq!(list[0]["name"], "one");
    assert_eq!(list[0]["cookies"], 1);
    assert_eq!(list[0]["auth"], "bearer");
    let table = ok(sessionctl(config.path()).args(["sessions", "list"]));
    assert!(table.starts_with("HOST"));

    let shown = ok(sessionctl(config.path()).args(["sessions", "show", &host, "one"]));
    assert!(
        shown.contains("bearer ********") && !shown.contains("tok\n"),
        "{shown}"
    );
    let shown: serde_json::Value = serde_json::from_str(&ok(
        sessionctl(config.path()).args(["--json", "sessions", "show", &host, "one"])
    ))
    .unwrap();
    assert_eq!(shown["auth"]["raw_auth"], "********");
    let revealed =
        ok(sessionctl(config.path()).args(["sessions", "show", &host, "one", "--reveal"]));
    assert!(revealed.contains("bearer tok"), "{revealed}");
    let revealed: serde_json::Value =
        serde_json::from_str(&ok(sessionctl(config.path())
            .args(["--json", "sessions", "show", &host, "one", "--reveal"])))
        .unwrap();
    assert_eq!(revealed["auth"]["raw_auth"], "tok");

    let exported = ok(sessionctl(config.path()).args(["sessions", "export", &host, "one"]));
    let original = std::fs::read_to_string(session_path(
        config.path(),
        &format!("localhost_{}", server.port()),
        "one",
    ))
    .unwrap();
    assert_eq!(exported, original);

    let import_file = config.path().join("in.json");
    std::fs::write(&import_file, &exported).unwrap();
    ok(sessionctl(config.path()).args([
        "sessions",
        "import",
        "other.test",
        "copy",
        "--input",
        import_file.to_str().unwrap(),
    ]));
    assert!(session_path(config.path(), "other.test", "copy").exists());
    let again = run(sessionctl(config.path()).args([
        "sessions",
        "import",
        "other.test",
        "copy",
        "--input",
        import_file.to_str().unwrap(),
    ]));
    assert!(
        !again.status.success(),
        "import must not overwrite without --force"
    );
    let bad = config.path().join("bad.json");
    std::fs::write(&bad, "{\"cookies\": 1}").unwrap();
    let refused = run(sessionctl(config.path()).args([
        "sessions",
        "import",
        "other.test",
        "bad",
        "--input",
        bad.to_str().unwrap(),
    ]));
    assert!(!refused.status.success());
    assert!(!session_path(config.path(), "other.test", "bad").exists());

    ok(sessionctl(config.path()).args(["sessions", "delete", "other.test", "copy"]));
    assert!(!session_path(config.path(), "other.test", "copy").exists());
    let missing = run(sessionctl(config.path()).args(["sessions", "delete", "other.test", "copy"]));
    assert!(!missing.status.success());
}

#[test]
fn sessions_upgrade_rewrites_legacy_files() {
    let config = test_support::temp_dir();
    let path = session_path(config.path(), "localhost_8080", "legacy");
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    let legacy = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../session-http/tests/data/httpie/legacy.json"),
    )
    .unwrap();
    std::fs::write(&path, legacy).unwrap();
    let report: serde_json::Value = serde_json::from_str(&ok(
        sessionctl(config.path()).args(["--json", "sessions", "upgrade"])
    ))
    .unwrap();
    assert_eq!(report[0]["result"], "upgraded");
    let file = session_json(&path);
    assert!(file["cookies"].is_array() && file["headers"].is_array());
    assert_eq!(file["__meta__"]["httpie"], "3.2.4");
    let report: serde_json::Value = serde_json::from_str(&ok(sessionctl(config.path()).args([
        "--json",
        "sessions",
        "upgrade",
        "localhost:8080",
        "legacy",
    ])))
    .unwrap();
    assert_eq!(report[0]["result"], "up to date");
}

#[test]
fn concurrent_runs_on_one_session_lose_no_cookie() {
    let server = TestServer::start();
    let config = test_support::temp_dir();
    let runs = 8;
    let children: Vec<_> = (0..runs)
        .map(|i| {
            sessionctl(config.path())
                .args([
                    "request",
                    "--session",
                    "shared",
                    &server.localhost(&format!("/set?c{i}={i}")),
                ])
                .stdout(std::process::Stdio::null())
                .spawn()
                .unwrap()
        })
        .collect();
    for mut child in children {
        assert!(child.wait().unwrap().success());
    }
    let file = session_json(&session_path(
        config.path(),
        &format!("localhost_{}", server.port()),
        "shared",
    ));
    assert_eq!(cookie_set(&file).len(), runs, "{file}");
    let leftovers: Vec<_> = std::fs::read_dir(
        session_path(
            config.path(),
            &format!("localhost_{}", server.port()),
            "shared",
        )
        .parent()
        .unwrap(),
    )
    .unwrap()
    .filter_map(Result::ok)
    .map(|e| e.file_name().to_string_lossy().into_owned())
    .filter(|n| n.ends_with(".tmp"))
    .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
}

#[test]
fn file_items_and_nested_keys_build_the_json_body() {
    let server = TestServer::start();
    let config = test_support::temp_dir();
    let home = test_support::temp_dir();
    std::fs::write(home.path().join("note.txt"), "hi\n").unwrap();
    std::fs::write(home.path().join("data.json"), "{\"k\": [true]}").unwrap();
    let out = ok(sessionctl(config.path())
        .current_dir(home.path())
        .env("HOME", home.path())
        .args([
            "--json",
            "request",
            &server.localhost("/api"),
            "note=@~/note.txt",
            "data:=@data.json",
            "user[name]=alice",
            "user[roles][]=admin",
            "user[roles][]:=7",
            "X-Note:@note.txt",
            "q==@note.txt",
        ]));
    let echo = echoed(&out);
    assert_eq!(echo["method"], "POST");
    assert_eq!(echo["query"], "q=hi");
    assert_eq!(echo["headers"]["x-note"], "hi");
    let body: serde_json::Value = serde_json::from_str(echo["body"].as_str().unwrap()).unwrap();
    assert_eq!(
        body,
        serde_json::json!({
            "note": "hi\n",
            "data": {"k": [true]},
            "user": {"name": "alice", "roles": ["admin", 7]},
        })
    );
}

#[test]
fn forms_and_multipart_uploads_reach_the_server() {
    let server = TestServer::start();
    let config = test_support::temp_dir();
    let dir = test_support::temp_dir();
    std::fs::write(dir.path().join("a.txt"), "file body").unwrap();
    let out = ok(sessionctl(config.path()).current_dir(dir.path()).args([
        "--json",
        "request",
        "-f",
        &server.localhost("/form"),
        "name=a b",
        "n:=2",
    ]));
    let echo = echoed(&out);
    assert_eq!(echo["method"], "POST");
    assert_eq!(echo["body"], "name=a+b&n=2");
    assert_eq!(
        echo["headers"]["content-type"],
        "application/x-www-form-urlencoded; charset=utf-8"
    );

    let out = ok(sessionctl(config.path()).current_dir(dir.path()).args([
        "--json",
        "request",
        "--multipart",
        &server.localhost("/upload"),
        "title=x",
        "doc@a.txt",
    ]));
    let echo = echoed(&out);
    let content_type = echo["headers"]["content-type"].as_str().unwrap();
    let boundary = content_type
        .strip_prefix("multipart/form-data; boundary=")
        .unwrap();
    assert_eq!(
        echo["body"].as_str().unwrap().replace(boundary, "B"),
        "--B\r\nContent-Disposition: form-data; name=\"title\"\r\n\r\nx\r\n\
         --B\r\nContent-Disposition: form-data; name=\"doc\"; filename=\"a.txt\"\r\n\
         Content-Type: text/plain\r\n\r\nfile body\r\n--B--\r\n"
    );
}

#[test]
fn bad_items_are_usage_errors_naming_the_item() {
    let config = test_support::temp_dir();
    let dir = test_support::temp_dir();
    std::fs::write(dir.path().join("bad.json"), "{nope").unwrap();
    for (item, expected) in [
        ("x=@missing.txt", "\"x=@missing.txt\": cannot read"),
        ("x:=@bad.json", "\"x:=@bad.json\": not valid JSON"),
        ("a[b=1", "expecting ']'"),
        ("[x]=1", "expecting a number or ']'"),
        ("f@bad.json", "perhaps you meant --form"),
    ] {
        let output = run(sessionctl(config.path()).current_dir(dir.path()).args([
            "request",
            "http://localhost:9/",
            item,
        ]));
        assert_eq!(output.status.code(), Some(2), "{item}");
        let message = stderr(&output);
        assert!(message.contains(expected), "{item}: {message}");
        assert_eq!(message.lines().count(), 1, "{message}");
    }
    let output =
        run(sessionctl(config.path()).args(["request", "http://localhost:9/", "a=1", "a[b]=2"]));
    assert_eq!(output.status.code(), Some(2));
    assert!(
        stderr(&output).contains("\"a[b]=2\": cannot perform \"key\" based access on \"a\""),
        "{}",
        stderr(&output)
    );
}
