//! `sessionctl request` against the real HTTPie 3.2.4 on its flags beyond sessions: both
//! tools run against the same throwaway server, and what the server received, what was
//! printed, the exit code and the saved session file are compared.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::io::Write;
use std::path::Path;
use std::process::{Command, Output, Stdio};

use common::*;
use serde_json::Value;

/// Runs `command` with `input` on a pipe as standard input (`None`: /dev/null).
fn run_with_stdin(command: &mut Command, input: Option<&[u8]>) -> Output {
    command
        .stdin(if input.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = command.spawn().unwrap();
    if let Some(bytes) = input {
        let mut stdin = child.stdin.take().unwrap();
        stdin.write_all(bytes).unwrap();
    }
    child.wait_with_output().unwrap()
}

/// `command` in a session of its own, without a controlling terminal (as in CI), so that a
/// password prompt falls back to standard input in both tools.
fn without_terminal(command: &Command) -> Command {
    let mut detached = Command::new("setsid");
    detached.arg("-w").arg(command.get_program());
    detached.args(command.get_args());
    for (name, value) in command.get_envs() {
        match value {
            Some(value) => detached.env(name, value),
            None => detached.env_remove(name),
        };
    }
    detached
}

fn code(output: &Output) -> Option<i32> {
    output.status.code()
}

/// The server's echo of the request, from a response body printed alone.
fn echo_of(output: &Output) -> Value {
    serde_json::from_slice(&output.stdout)
        .unwrap_or_else(|e| panic!("no echo ({e}): {}\n{}", stdout(output), stderr(output)))
}

/// What the server received that both tools decide alike.
fn received(echo: &Value) -> Value {
    let headers = &echo["headers"];
    serde_json::json!({
        "method": echo["method"],
        "path": echo["path"],
        "query": echo["query"],
        "body": echo["body"],
        "content-type": headers["content-type"],
        "content-length": headers["content-length"],
        "accept": headers["accept"],
        "authorization": headers["authorization"],
    })
}

#[test]
fn a_new_session_starts_from_the_read_only_one_where_httpie_refuses_the_pair() {
    let test = "a_new_session_starts_from_the_read_only_one_where_httpie_refuses_the_pair";
    let server = TestServer::start();
    let config = test_support::temp_dir();
    let sessions = config.path().join("sessions");
    let base = run(sessionctl(config.path()).arg("request").args([
        "--session=base",
        &server.localhost("/set?team=blue"),
        "X-Team:blue",
    ]));
    assert!(base.status.success(), "{}", stderr(&base));
    let base_file = sessions
        .join(format!("localhost_{}", server.port()))
        .join("base.json");
    let base_before = std::fs::read(&base_file).unwrap();

    let args = [
        "--body",
        "--session=user1",
        "--session-read-only=base",
        &server.localhost("/set?user=1"),
    ];
    let ours = run(sessionctl(config.path()).arg("request").args(args));
    assert!(ours.status.success(), "{}", stderr(&ours));
    // user1 started as a copy of base (its cookie and header were sent), then kept its own
    // cookie; base is as it was.
    let echo = echo_of(&ours);
    assert_eq!(echo["headers"]["x-team"], "blue", "{echo}");
    let cookie = echo["headers"]["cookie"].as_str().unwrap_or_default();
    assert!(cookie.contains("team=blue"), "{cookie}");
    let user1: Value =
        serde_json::from_slice(&std::fs::read(base_file.with_file_name("user1.json")).unwrap())
            .unwrap();
    let names: Vec<&str> = user1["cookies"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|c| c["name"].as_str())
        .collect();
    assert!(
        names.contains(&"team") && names.contains(&"user"),
        "{user1}"
    );
    assert_eq!(std::fs::read(&base_file).unwrap(), base_before);

    // Once user1 exists, base no longer matters.
    std::fs::write(&base_file, b"{}").unwrap();
    let again = run(sessionctl(config.path()).arg("request").args(args));
    assert!(again.status.success(), "{}", stderr(&again));
    assert_eq!(echo_of(&again)["headers"]["x-team"], "blue");

    let Some(mut http) = httpie(test, config.path()) else {
        return;
    };
    let theirs = run(http.args(args));
    assert!(!theirs.status.success());
    assert!(stderr(&theirs).contains("not allowed with argument --session"));
}

#[test]
fn standard_input_is_the_body_as_in_httpie() {
    let test = "standard_input_is_the_body_as_in_httpie";
    let server = TestServer::start();
    let url = server.localhost("/in");
    let cases: [(&[&str], Option<&[u8]>); 5] = [
        (&["q==1"], Some(b"{\"a\": 1}")),
        (&["PUT", "X-Kind:raw"], Some(b"plain text")),
        (&[], Some(b"")),
        (&["-f"], Some(b"a=1&b=2")),
        (&["-I"], Some(b"ignored")),
    ];
    for (args, input) in cases {
        let (options, rest): (Vec<&str>, Vec<&str>) = args.iter().partition(|a| a.starts_with('-'));
        let (method, items): (Vec<&str>, Vec<&str>) = rest
            .iter()
            .partition(|a| a.chars().all(|c| c.is_ascii_uppercase()));
        let line: Vec<&str> = options
            .iter()
            .chain(&["--session=s"])
            .chain(&method)
            .chain(&[url.as_str()])
            .chain(&items)
            .copied()
            .collect();
        let ours_config = test_support::temp_dir();
        let ours = run_with_stdin(
            sessionctl(ours_config.path())
                .args(["request", "-b"])
                .args(&line),
            input,
        );
        assert_eq!(code(&ours), Some(0), "{line:?}: {}", stderr(&ours));
        let theirs_config = test_support::temp_dir();
        let Some(mut http) = httpie_reading_stdin(test, theirs_config.path()) else {
            return;
        };
        let theirs = run_with_stdin(http.args(&line), input);
        assert_eq!(code(&theirs), Some(0), "{line:?}: {}", stderr(&theirs));
        assert_eq!(
            received(&echo_of(&ours)),
            received(&echo_of(&theirs)),
            "{line:?}"
        );
        let dir = format!("localhost_{}", server.port());
        let saved =
            |config: &Path| session_json(&session_path(config, &dir, "s"))["headers"].clone();
        assert_eq!(
            saved(ours_config.path()),
            saved(theirs_config.path()),
            "{line:?}"
        );
    }
}

#[test]
fn standard_input_and_data_items_or_raw_are_refused_as_in_httpie() {
    let test = "standard_input_and_data_items_or_raw_are_refused_as_in_httpie";
    let server = TestServer::start();
    let config = test_support::temp_dir();
    let url = server.localhost("/in");
    for line in [vec![url.as_str(), "a=1"], vec!["--raw", "x", url.as_str()]] {
        let ours = run_with_stdin(
            sessionctl(config.path()).arg("request").args(&line),
            Some(b"body"),
        );
        let Some(mut http) = httpie_reading_stdin(test, config.path()) else {
            return;
        };
        let theirs = run_with_stdin(http.args(&line), Some(b"body"));
        assert_eq!(code(&theirs), Some(1), "{}", stderr(&theirs));
        assert_eq!(code(&ours), code(&theirs), "{line:?}: {}", stderr(&ours));
        for message in [stderr(&ours), stderr(&theirs).replace('\n', "")] {
            assert!(message.contains("cannot be mixed"), "{message}");
            assert!(message.contains("--ignore-stdin"), "{message}");
        }
        assert_eq!(stderr(&ours).lines().count(), 1);
    }
}

#[test]
fn a_user_without_password_is_asked_for_it_as_in_httpie() {
    let test = "a_user_without_password_is_asked_for_it_as_in_httpie";
    let server = TestServer::start();
    let url = server.localhost("/who");
    let dir = format!("localhost_{}", server.port());

    // No terminal: the password is the first line of standard input, and the input still
    // counts as a (here empty) body.
    let ours_config = test_support::temp_dir();
    let mut ours = sessionctl(ours_config.path());
    ours.args(["request", "-b", "--session=s", "-a", "alice", &url]);
    let ours = run_with_stdin(&mut without_terminal(&ours), Some(b"pw\n"));
    assert_eq!(code(&ours), Some(0), "{}", stderr(&ours));
    assert!(stderr(&ours).contains("password for alice@localhost:"));
    let theirs_config = test_support::temp_dir();
    let Some(mut http) = httpie_reading_stdin(test, theirs_config.path()) else {
        return;
    };
    http.args(["--session=s", "-a", "alice", &url]);
    let theirs = run_with_stdin(&mut without_terminal(&http), Some(b"pw\n"));
    assert_eq!(code(&theirs), Some(0), "{}", stderr(&theirs));
    assert_eq!(received(&echo_of(&ours)), received(&echo_of(&theirs)));
    assert_eq!(
        received(&echo_of(&ours))["authorization"],
        "Basic YWxpY2U6cHc="
    );
    let auth = |config: &Path| session_json(&session_path(config, &dir, "s"))["auth"].clone();
    assert_eq!(auth(ours_config.path()), auth(theirs_config.path()));

    // The input ends at the prompt: both stop, successfully, having sent and saved nothing.
    for input in [Some(&b""[..]), None] {
        let config = test_support::temp_dir();
        let mut ours = sessionctl(config.path());
        ours.args(["request", "--session=s", "-a", "alice", &url]);
        let ours = run_with_stdin(&mut without_terminal(&ours), input);
        let Some(mut http) = httpie_reading_stdin(test, config.path()) else {
            return;
        };
        http.args(["--session=s", "-a", "alice", &url]);
        let theirs = run_with_stdin(&mut without_terminal(&http), input);
        for output in [&ours, &theirs] {
            assert_eq!(code(output), Some(0), "{}", stderr(output));
            assert_eq!(stdout(output), "");
        }
        assert!(!config.path().join("sessions").exists());
    }

    // --ignore-stdin: neither will prompt.
    let config = test_support::temp_dir();
    let ours = run(sessionctl(config.path()).args(["request", "-I", "-a", "alice", &url]));
    let Some(mut http) = httpie(test, config.path()) else {
        return;
    };
    let theirs = run(http.args(["-a", "alice", &url]));
    assert_eq!(code(&theirs), Some(1));
    assert_eq!(code(&ours), code(&theirs), "{}", stderr(&ours));
    assert!(stderr(&ours).contains("--ignore-stdin"));
}

/// Printed output with the header lines left out (they differ between the tools: user agent,
/// `Accept-Encoding`, `Date` …) and the elapsed time's number hidden.
fn skeleton(printed: &[u8]) -> String {
    let text = String::from_utf8_lossy(printed);
    let mut out = String::new();
    for line in text.split_inclusive('\n') {
        let is_header = line.ends_with("\r\n")
            && line.split_once(": ").is_some_and(|(name, _)| {
                !name.is_empty() && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
            });
        if is_header {
            continue;
        }
        match line.strip_prefix("Elapsed time: ") {
            Some(_) => out.push_str("Elapsed time: Ns\n"),
            None => out.push_str(line),
        }
    }
    out
}

/// Runs `line` with both tools, both succeeding, and checks that they print the same
/// skeleton; `None` when HTTPie is missing (and allowed to be).
fn print_alike(test: &str, config: &Path, line: &[&str]) -> Option<(Output, Output)> {
    let ours = run(sessionctl(config).arg("request").args(line));
    assert_eq!(code(&ours), Some(0), "{line:?}: {}", stderr(&ours));
    let theirs = run(httpie(test, config)?.args(line));
    assert_eq!(code(&theirs), Some(0), "{line:?}: {}", stderr(&theirs));
    assert_eq!(
        skeleton(&ours.stdout),
        skeleton(&theirs.stdout),
        "{line:?}\nours:\n{}\ntheirs:\n{}",
        stdout(&ours),
        stdout(&theirs)
    );
    Some((ours, theirs))
}

#[test]
fn print_options_print_what_httpie_prints() {
    let test = "print_options_print_what_httpie_prints";
    let server = TestServer::start();
    let config = test_support::temp_dir();
    let post = server.localhost("/status/201");
    let get = server.localhost("/status/404");
    let cases: [&[&str]; 14] = [
        &["-v"],
        &["--verbose"],
        &["-vv"],
        &["-h"],
        &["--headers"],
        &["-b"],
        &["--body"],
        &["-pH"],
        &["-pB"],
        &["-pHh"],
        &["-pBb"],
        &["-phm"],
        &["--print=Hbm"],
        &["-h", "-b"],
    ];
    for options in cases {
        for request in [vec![post.as_str(), "a=1"], vec!["GET", get.as_str()]] {
            let line: Vec<&str> = options.iter().copied().chain(request).collect();
            let Some((ours, theirs)) = print_alike(test, config.path(), &line) else {
                return;
            };
            let lower = |o: &Output| stdout(o).to_ascii_lowercase();
            assert_eq!(
                lower(&ours).contains("content-type: text/plain\r\n"),
                lower(&theirs).contains("content-type: text/plain\r\n"),
                "{line:?}"
            );
        }
    }
    // Unknown letters are refused by both.
    let ours = run(sessionctl(config.path()).args(["request", "-pHx", &post]));
    assert!(!ours.status.success());
    assert!(
        stderr(&ours).contains("unknown output options: x"),
        "{}",
        stderr(&ours)
    );
    let Some(mut http) = httpie(test, config.path()) else {
        return;
    };
    assert!(!run(http.args(["-pHx", &post])).status.success());
}

#[test]
fn redirects_followed_are_printed_as_httpie_prints_them() {
    let test = "redirects_followed_are_printed_as_httpie_prints_them";
    let server = TestServer::start();
    let config = test_support::temp_dir();
    // POST → 302 (sets a cookie) → 302 → a text page; the first redirect turns it into a GET.
    let end = server.localhost("/status/200");
    let second = server.localhost(&format!("/redirect?body=again&to={}", url_encode(&end)));
    let first = server.localhost(&format!(
        "/redirect?set=hop%3D1&body=moved&to={}",
        url_encode(&second)
    ));
    let cases: [&[&str]; 9] = [
        &["-v"],
        &["-vv"],
        &["--print=HBhb"],
        &["-pHh", "--all"],
        &["-pBb", "--all"],
        &["-pb", "--all"],
        &["-pbm", "--all"],
        &["-h"],
        &["-b"],
    ];
    // The Cookie header each printed request carried.
    let cookies = |printed: &[u8]| -> Vec<String> {
        String::from_utf8_lossy(printed)
            .split("\r\n")
            .filter_map(|line| line.strip_prefix("Cookie: ").map(str::to_string))
            .collect()
    };
    for options in cases {
        let line: Vec<&str> = options
            .iter()
            .copied()
            .chain(["--follow", first.as_str(), "a=1"])
            .collect();
        let Some((ours, theirs)) = print_alike(test, config.path(), &line) else {
            return;
        };
        assert_eq!(cookies(&ours.stdout), cookies(&theirs.stdout), "{line:?}");
    }
    // The hops' requests were printed, and the cookie set on the way went to the later ones.
    let ours = run(sessionctl(config.path()).args(["request", "-pH", "--follow", &first]));
    assert_eq!(stdout(&ours).matches(" HTTP/1.1\r\n").count(), 3);
    assert_eq!(cookies(&ours.stdout), ["hop=1", "hop=1"]);
}

#[test]
fn check_status_exits_as_httpie_does() {
    let test = "check_status_exits_as_httpie_does";
    let server = TestServer::start();
    let config = test_support::temp_dir();
    let to_ok = format!("/redirect?to={}", server.localhost("/status/200"));
    let to_missing = format!("/redirect?to={}", server.localhost("/status/404"));
    let cases: [(&[&str], String, i32); 8] = [
        (&["--check-status"], server.localhost("/status/200"), 0),
        (&["--check-status"], server.localhost("/status/404"), 4),
        (&["--check-status"], server.localhost("/status/503"), 5),
        (&["--check-status"], server.localhost(&to_ok), 3),
        (&["--check-status", "--follow"], server.localhost(&to_ok), 0),
        (
            &["--check-status", "--follow"],
            server.localhost(&to_missing),
            4,
        ),
        (&[], server.localhost("/status/500"), 0),
        (&[], server.localhost(&to_ok), 0),
    ];
    for (options, url, expected) in cases {
        let line: Vec<&str> = options.iter().copied().chain([url.as_str()]).collect();
        let ours = run(sessionctl(config.path())
            .args(["request", "-b"])
            .args(&line));
        let Some(mut http) = httpie(test, config.path()) else {
            return;
        };
        let theirs = run(http.args(&line));
        assert_eq!(
            code(&theirs),
            Some(expected),
            "{line:?}: {}",
            stderr(&theirs)
        );
        assert_eq!(code(&ours), Some(expected), "{line:?}: {}", stderr(&ours));
        // The status pages' bodies are the same for both (the redirect's echoes the request).
        if stdout(&theirs).starts_with("status ") {
            assert_eq!(stdout(&ours), stdout(&theirs), "{line:?}");
        }
        let warned = |o: &Output| stderr(o).contains("warning: HTTP ");
        assert_eq!(
            warned(&ours),
            warned(&theirs),
            "{line:?}: {}",
            stderr(&ours)
        );
        if expected != 0 {
            let status = url.rsplit('/').next().unwrap().to_string();
            let status = if expected == 3 { "302".into() } else { status };
            assert!(stderr(&ours).contains(&format!("HTTP {status}")));
        }
    }
}

#[test]
fn a_timeout_exits_2_and_saves_nothing_as_in_httpie() {
    let test = "a_timeout_exits_2_and_saves_nothing_as_in_httpie";
    let server = TestServer::start();
    let config = test_support::temp_dir();
    let slow = server.localhost("/slow?ms=3000");
    let line = ["--timeout=0.5", "--session=t", slow.as_str()];
    let ours = run(sessionctl(config.path()).arg("request").args(line));
    assert_eq!(code(&ours), Some(2), "{}", stderr(&ours));
    assert!(
        stderr(&ours).contains("timed out (0.5s)"),
        "{}",
        stderr(&ours)
    );
    let Some(mut http) = httpie(test, config.path()) else {
        return;
    };
    let theirs = run(http.args(line));
    assert_eq!(code(&theirs), Some(2), "{}", stderr(&theirs));
    assert!(stderr(&theirs).contains("timed out (0.5s)"));
    let dir = format!("localhost_{}", server.port());
    assert!(!session_path(config.path(), &dir, "t").exists());

    // In time: both fine.
    let quick = server.localhost("/slow?ms=10");
    let ours = run(sessionctl(config.path()).args(["request", "--timeout=5", &quick]));
    assert_eq!(code(&ours), Some(0), "{}", stderr(&ours));
}

#[test]
fn too_many_redirects_exit_6_and_save_nothing_as_in_httpie() {
    let test = "too_many_redirects_exit_6_and_save_nothing_as_in_httpie";
    let server = TestServer::start();
    let config = test_support::temp_dir();
    let chain = server.redirect_chain(3, "/set?end=1");
    let dir = format!("localhost_{}", server.port());
    for (max, expected) in [("3", 6), ("4", 0), ("0", 0)] {
        let session = format!("s{max}");
        let line = [
            "--follow",
            "--max-redirects",
            max,
            "--session",
            session.as_str(),
            chain.as_str(),
        ];
        let ours = run(sessionctl(config.path()).args(["request", "-b"]).args(line));
        assert_eq!(code(&ours), Some(expected), "{line:?}: {}", stderr(&ours));
        let saved = session_path(config.path(), &dir, &session);
        assert_eq!(saved.exists(), expected == 0, "{line:?}");
        if expected == 6 {
            assert!(
                stderr(&ours).contains("too many redirects (--max-redirects=3)"),
                "{}",
                stderr(&ours)
            );
        }
        std::fs::remove_file(&saved).ok();
        let Some(mut http) = httpie(test, config.path()) else {
            return;
        };
        let theirs = run(http.args(line));
        assert_eq!(
            code(&theirs),
            Some(expected),
            "{line:?}: {}",
            stderr(&theirs)
        );
        assert_eq!(saved.exists(), expected == 0, "{line:?}");
        if expected == 0 {
            assert_eq!(echo_of(&ours)["path"], "/set");
            assert_eq!(echo_of(&theirs)["path"], "/set");
        }
    }
}

#[test]
fn attributes_of_the_session_trait_survive_httpie_saving_the_file() {
    use session_core::Session;
    use session_http::client::HttpieSession;

    let test = "attributes_of_the_session_trait_survive_httpie_saving_the_file";
    let server = TestServer::start();
    let config = test_support::temp_dir();
    let path = config.path().join("shared.json");
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    runtime.block_on(async {
        let session = HttpieSession::open(&path, "localhost").unwrap();
        session
            .insert("deploy", &serde_json::json!({"ring": 2}))
            .await
            .unwrap();
        session.save().await.unwrap();
    });
    let Some(mut http) = httpie(test, config.path()) else {
        return;
    };
    let path_arg = format!("--session={}", path.display());
    let output = run(http.args([&path_arg, &server.localhost("/set?sid=h1"), "X-By:httpie"]));
    assert!(output.status.success(), "{}", stderr(&output));
    assert_eq!(stderr(&output), "", "HTTPie warned about the session file");
    runtime.block_on(async {
        let session = HttpieSession::open(&path, "localhost").unwrap();
        assert_eq!(
            session.get::<Value>("deploy").await.unwrap(),
            Some(serde_json::json!({"ring": 2}))
        );
        let client = session.client_session();
        assert_eq!(client.cookies.len(), 1);
        assert_eq!(client.headers()[0].0, "X-By");
        assert!(!session.is_modified().await);
    });
}
