//! `sessionctl request`: an HTTPie-style request that uses and updates an HTTPie session.

use std::path::PathBuf;
use std::process::ExitCode;

use bytes::Bytes;
use http::header::{
    ACCEPT, CONTENT_LENGTH, CONTENT_TYPE, HOST, HeaderName, HeaderValue, USER_AGENT,
};
use http::{HeaderMap, Method};
use serde_json::Value;
use session_http::client::paths::{httpie_config_dir, session_file_path, url_as_host};
use session_http::client::{
    Auth, ClientError, ClientRequest, ClientSession, SessionClient, SessionFile,
};
use url::Url;

use crate::CliError;
use crate::form_body::{form_urlencode, multipart_body};
use crate::request_items::{Body, BodyKind, expand_url, read_user_file};

/// HTTPie's `Accept` for JSON requests (HTTPie stores it in the session too).
const JSON_ACCEPT: &str = "application/json, */*;q=0.5";
const JSON_CONTENT_TYPE: &str = "application/json";
/// HTTPie's `Content-Type` for `--form` without file uploads.
const FORM_CONTENT_TYPE: &str = "application/x-www-form-urlencoded; charset=utf-8";

/// How `-a` is interpreted.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum AuthType {
    /// HTTP Basic: `-a USER:PASS`.
    Basic,
    /// Bearer token: `-a TOKEN`.
    Bearer,
}

/// Arguments of `sessionctl request`.
#[derive(Debug, clap::Args)]
pub(crate) struct RequestArgs {
    /// Use and update this session (a name, or a path when it contains '/').
    #[arg(long, value_name = "NAME|PATH", conflicts_with = "session_read_only")]
    session: Option<String>,
    /// Use this session without saving changes (a new one is still created, as HTTPie does).
    #[arg(long, value_name = "NAME|PATH")]
    session_read_only: Option<String>,
    /// Credentials: USER:PASS for basic, the token for bearer. Saved into the session.
    #[arg(short = 'a', long, value_name = "USER:PASS|TOKEN")]
    auth: Option<String>,
    /// The auth type of -a.
    #[arg(short = 'A', long, value_enum, default_value = "basic")]
    auth_type: AuthType,
    /// Follow redirects (each hop gets the cookies of its own host).
    #[arg(short = 'F', long)]
    follow: bool,
    /// Most redirects to follow.
    #[arg(long, default_value_t = session_http::client::DEFAULT_MAX_REDIRECTS)]
    max_redirects: usize,
    /// Check the server's TLS certificate, as HTTPie's --verify: "yes" (the default; the
    /// Mozilla roots, or REQUESTS_CA_BUNDLE / CURL_CA_BUNDLE if set), "no" (no check:
    /// insecure), or the path of a CA bundle (PEM) to trust instead.
    #[arg(long, value_name = "yes|no|CA_BUNDLE")]
    verify: Option<String>,
    /// Client certificate to present (PEM; it may hold the private key too).
    #[arg(long, value_name = "FILE")]
    cert: Option<PathBuf>,
    /// The client certificate's private key (PEM, unencrypted), if not in --cert's file.
    #[arg(long, value_name = "FILE", requires = "cert")]
    cert_key: Option<PathBuf>,
    /// Send data fields as a form (urlencoded; multipart when a file is uploaded with
    /// field@path), as HTTPie's --form.
    #[arg(short = 'f', long, conflicts_with = "multipart")]
    form: bool,
    /// Send data fields and file uploads as multipart/form-data, as HTTPie's --multipart.
    #[arg(long)]
    multipart: bool,
    /// Send this text as the body, as HTTPie's --raw (JSON headers unless --form; no data
    /// items allowed with it).
    #[arg(long, value_name = "BODY", conflicts_with = "multipart")]
    raw: Option<String>,
    /// The multipart boundary to use instead of a random one, as HTTPie's --boundary.
    #[arg(long, value_name = "BOUNDARY")]
    boundary: Option<String>,
    /// Accepted for HTTPie compatibility: sessionctl never reads a body from standard input.
    #[arg(short = 'I', long)]
    ignore_stdin: bool,
    /// Print the request instead of sending it, as HTTPie's --offline (the session is still
    /// updated with the request's headers and auth, as HTTPie does).
    #[arg(long)]
    offline: bool,
    /// The method (GET, POST …), optional as in HTTPie; then the URL and request items:
    /// Header:value, Header:, Header;, Header:@file, name==value, name==@file, field=value,
    /// field=@file, field:=json, field:=@file (nested keys such as a[b][]=x in JSON mode),
    /// field@file[;type=MIME] (with --form or --multipart).
    #[arg(value_name = "METHOD URL ITEMS", required = true, num_args = 1..)]
    args: Vec<String>,
}

struct Parsed {
    method: Method,
    typed_url: String,
    url: Url,
    headers: Vec<(String, String)>,
    unset: Vec<String>,
    body: Body,
}

fn parse(args: &RequestArgs) -> Result<Parsed, CliError> {
    let mut rest = args.args.iter();
    let first = rest
        .next()
        .ok_or_else(|| CliError::usage("a URL is required"))?;
    let (explicit_method, typed_url) = if !first.is_empty()
        && first.bytes().all(|b| b.is_ascii_alphabetic())
        && args.args.len() > 1
    {
        let url = rest
            .next()
            .ok_or_else(|| CliError::usage("a URL is required"))?;
        (Some(first.to_ascii_uppercase()), url.clone())
    } else {
        (None, first.clone())
    };
    let expanded = expand_url(&typed_url);
    let mut url = Url::parse(&expanded)
        .map_err(|e| CliError::usage(format!("invalid URL {typed_url:?}: {e}")))?;
    if url.host_str().is_none_or(str::is_empty) {
        return Err(CliError::usage(format!(
            "invalid URL {typed_url:?}: no host"
        )));
    }
    let kind = if args.multipart {
        BodyKind::Multipart
    } else if args.form {
        BodyKind::Form
    } else {
        BodyKind::Json
    };
    let items: Vec<String> = rest.cloned().collect();
    let built =
        crate::request_items::build(&items, kind, &read_user_file).map_err(CliError::usage)?;
    for (name, value) in &built.headers {
        HeaderName::from_bytes(name.as_bytes())
            .map_err(|_| CliError::usage(format!("invalid header name {name:?}")))?;
        HeaderValue::from_str(value)
            .map_err(|_| CliError::usage(format!("invalid value for header {name:?}")))?;
    }
    for name in &built.unset {
        HeaderName::from_bytes(name.as_bytes())
            .map_err(|_| CliError::usage(format!("invalid header name {name:?}")))?;
    }
    for (name, value) in &built.query {
        url.query_pairs_mut().append_pair(name, value);
    }
    let mut body = built.body;
    if let Some(raw) = &args.raw {
        if built.has_data {
            return Err(CliError::usage(
                "request body (from --raw) and request data (key=value) cannot be mixed",
            ));
        }
        body = Body::Raw(raw.clone());
    }
    let method = match explicit_method {
        Some(m) => Method::from_bytes(m.as_bytes())
            .map_err(|_| CliError::usage(format!("invalid method {m:?}")))?,
        None if !built.has_data && args.raw.is_none() => Method::GET,
        None => Method::POST,
    };
    Ok(Parsed {
        method,
        typed_url: expanded,
        url,
        headers: built.headers,
        unset: built.unset,
        body,
    })
}

/// Runs `sessionctl request`.
pub(crate) async fn run(
    args: RequestArgs,
    keys: &crate::sealing::KeyArgs,
    json: bool,
) -> Result<ExitCode, CliError> {
    let parsed = parse(&args)?;
    let verify = crate::tls::verify(args.verify.as_deref(), false, &|name| {
        std::env::var(name).ok()
    });
    let transport = crate::tls::transport(verify, true, args.cert.clone(), args.cert_key.clone())
        .map_err(ClientError::from)?;
    let sealer = crate::sealing::sealer(keys)?;
    let sealer = sealer
        .as_ref()
        .map(|s| s as &dyn session_http::client::FileSealer);
    let session_arg = args.session.as_ref().or(args.session_read_only.as_ref());
    let read_only = args.session_read_only.is_some();

    // The host a session is bound to: the Host header if given, else the URL's host:port as typed.
    let bound_hostname = parsed
        .headers
        .iter()
        .rev()
        .find(|(n, _)| n.eq_ignore_ascii_case("host"))
        .map(|(_, v)| v.clone())
        .unwrap_or_else(|| url_as_host(&parsed.typed_url));
    let bare_host = strip_port(&bound_hostname);

    let file = match session_arg {
        Some(name) => {
            let path = session_file_path(&httpie_config_dir(), name, &bound_hostname)?;
            Some(SessionFile::lock(&path)?)
        }
        None => None,
    };
    let is_new = file.as_ref().is_none_or(|f| !f.exists());
    let mut session = match &file {
        Some(file) => file
            .load_with(&bare_host, sealer)?
            .unwrap_or_else(|| ClientSession::new(&bare_host)),
        None => ClientSession::new(&bare_host),
    };
    session.set_read_only(read_only);
    if let session_http::client::FileAuth::Other(auth) = session.file_auth()
        && args.auth.is_none()
    {
        let kind = auth.get("type").and_then(Value::as_str).unwrap_or("?");
        eprintln!(
            "sessionctl: warning: the session's {kind:?} auth is not supported here and is not sent (it is kept in the file)"
        );
    }

    // What HTTPie records: its defaults for JSON requests, then the session's, then ours.
    let mut request_headers: Vec<(String, String)> = Vec::new();
    match &parsed.body {
        Body::Json(_) => {
            request_headers.push(("Accept".into(), JSON_ACCEPT.into()));
            request_headers.push(("Content-Type".into(), JSON_CONTENT_TYPE.into()));
        }
        Body::Raw(raw) if !args.form && !raw.is_empty() => {
            request_headers.push(("Accept".into(), JSON_ACCEPT.into()));
            request_headers.push(("Content-Type".into(), JSON_CONTENT_TYPE.into()));
        }
        Body::Form(_) | Body::Raw(_) if args.form => {
            request_headers.push(("Content-Type".into(), FORM_CONTENT_TYPE.into()));
        }
        Body::Form(_) | Body::Raw(_) | Body::Empty | Body::Multipart(_) => {}
    }
    request_headers.retain(|(n, _)| {
        !parsed
            .headers
            .iter()
            .any(|(m, _)| m.eq_ignore_ascii_case(n))
            && !session
                .headers()
                .iter()
                .any(|(m, _)| m.eq_ignore_ascii_case(n))
    });
    request_headers.extend(parsed.headers.iter().cloned());
    session.update_headers(&parsed.url, &request_headers);

    if let Some(raw) = &args.auth {
        let auth = match args.auth_type {
            AuthType::Basic if !raw.contains(':') => {
                return Err(CliError::usage("-a needs USER:PASS for basic auth"));
            }
            AuthType::Basic => Auth::basic_from_raw(raw),
            AuthType::Bearer => Auth::Bearer { token: raw.clone() },
        };
        session.set_auth(Some(auth));
    }

    let mut headers = HeaderMap::new();
    for (name, value) in &request_headers {
        if name.eq_ignore_ascii_case("cookie") {
            continue;
        }
        let name = HeaderName::from_bytes(name.as_bytes())
            .map_err(|_| CliError::usage(format!("invalid header {name:?}")))?;
        let value = HeaderValue::from_str(value)
            .map_err(|_| CliError::usage(format!("invalid header {name:?}")))?;
        headers.append(name, value);
    }
    if !headers.contains_key(USER_AGENT) {
        headers.insert(
            USER_AGENT,
            HeaderValue::from_static(concat!("sessionctl/", env!("CARGO_PKG_VERSION"))),
        );
    }
    if !headers.contains_key(ACCEPT) {
        headers.insert(ACCEPT, HeaderValue::from_static("*/*"));
    }
    let body = match &parsed.body {
        Body::Empty => Bytes::new(),
        Body::Json(value) => {
            if !headers.contains_key(CONTENT_TYPE) {
                headers.insert(CONTENT_TYPE, HeaderValue::from_static(JSON_CONTENT_TYPE));
            }
            Bytes::from(value.dumps())
        }
        Body::Form(fields) => Bytes::from(form_urlencode(fields)),
        Body::Raw(raw) => Bytes::from(raw.clone()),
        Body::Multipart(parts) => {
            let (content_type, body) = multipart_body(parts, args.boundary.as_deref())
                .map_err(|e| CliError::Other(format!("no multipart boundary: {e}")))?;
            // As HTTPie: a Content-Type given without a boundary gets ours appended.
            let content_type = match headers.get(CONTENT_TYPE).and_then(|v| v.to_str().ok()) {
                Some(given) if given.contains("boundary=") => given.to_string(),
                Some(given) => format!(
                    "{}; boundary={}",
                    given.trim(),
                    content_type.split("boundary=").nth(1).unwrap_or_default()
                ),
                None => content_type,
            };
            let value = HeaderValue::from_str(&content_type)
                .map_err(|_| CliError::usage("invalid Content-Type header"))?;
            headers.insert(CONTENT_TYPE, value);
            Bytes::from(body)
        }
    };
    // As `requests`: a request that may carry a body says so even when it is empty.
    if body.is_empty()
        && parsed.method != Method::GET
        && parsed.method != Method::HEAD
        && !headers.contains_key(CONTENT_LENGTH)
    {
        headers.insert(CONTENT_LENGTH, HeaderValue::from_static("0"));
    }
    let omit_headers = parsed
        .unset
        .iter()
        .filter_map(|n| HeaderName::from_bytes(n.as_bytes()).ok())
        .collect();
    let request = ClientRequest {
        method: parsed.method.clone(),
        url: parsed.url.clone(),
        headers,
        body,
        omit_headers,
    };

    if args.offline {
        let request = offline_request(&session, request)?;
        // Names as typed (in the items or the session file), as HTTPie prints them.
        let spellings: Vec<String> = parsed
            .headers
            .iter()
            .map(|(n, _)| n.clone())
            .chain(session.headers().iter().map(|(n, _)| n.clone()))
            .collect();
        if let Some(file) = &file
            && (is_new || !read_only)
        {
            file.save_with(&session, sealer)?;
        }
        print_offline(&request, &spellings, json);
        return Ok(ExitCode::SUCCESS);
    }

    let client = SessionClient::new()
        .with_transport(transport)
        .max_redirects(args.max_redirects);
    // As in HTTPie, the session is saved only after a completed exchange, and a read-only
    // session only when it did not exist yet.
    let response = client
        .send(&mut session, request, args.follow)
        .await
        .map_err(|error| match &error {
            ClientError::Tls { problem, .. } => {
                CliError::Other(format!("{error}{}", crate::tls::hint(problem)))
            }
            _ => CliError::from(error),
        })?;
    if let Some(file) = &file
        && (is_new || !read_only)
    {
        file.save_with(&session, sealer)?;
    }
    print_response(&response, json);
    Ok(ExitCode::SUCCESS)
}

/// The request as it would go out: with the session's headers, auth and cookies, without the
/// unset headers, and with `Host` (as HTTPie prints it).
fn offline_request(
    session: &ClientSession,
    mut request: ClientRequest,
) -> Result<ClientRequest, CliError> {
    session.apply(&request.url, &mut request.headers)?;
    for name in &request.omit_headers {
        request.headers.remove(name);
    }
    if !request.body.is_empty() && !request.headers.contains_key(CONTENT_LENGTH) {
        request
            .headers
            .insert(CONTENT_LENGTH, HeaderValue::from(request.body.len()));
    }
    if !request.headers.contains_key(HOST) {
        let host = &request.url[url::Position::BeforeHost..url::Position::AfterPort];
        let value = HeaderValue::from_str(host)
            .map_err(|_| CliError::usage(format!("invalid host {host:?}")))?;
        request.headers.insert(HOST, value);
    }
    Ok(request)
}

/// Prints an offline request like `http --offline` does into a pipe (CRLF line ends, the
/// body as is), or as JSON.
fn print_offline(request: &ClientRequest, spellings: &[String], json: bool) {
    let spell = |name: &str| {
        spellings
            .iter()
            .find(|typed| typed.eq_ignore_ascii_case(name))
            .cloned()
            .unwrap_or_else(|| title_case(name))
    };
    let target = &request.url[url::Position::BeforePath..url::Position::AfterQuery];
    if json {
        let headers: Vec<Value> = request
            .headers
            .iter()
            .map(|(name, value)| {
                serde_json::json!([
                    spell(name.as_str()),
                    String::from_utf8_lossy(value.as_bytes())
                ])
            })
            .collect();
        let out = serde_json::json!({
            "method": request.method.as_str(),
            "url": request.url.as_str(),
            "headers": headers,
            "body": String::from_utf8_lossy(&request.body),
        });
        println!("{out}");
        return;
    }
    let mut out = format!("{} {target} HTTP/1.1\r\n", request.method).into_bytes();
    for (name, value) in &request.headers {
        out.extend_from_slice(spell(name.as_str()).as_bytes());
        out.extend_from_slice(b": ");
        out.extend_from_slice(value.as_bytes());
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(b"\r\n");
    out.extend_from_slice(&request.body);
    use std::io::Write;
    let mut stdout = std::io::stdout().lock();
    let _ = stdout.write_all(&out);
    let _ = stdout.flush();
}

fn strip_port(bound_hostname: &str) -> String {
    if let Some(rest) = bound_hostname.strip_prefix('[') {
        return rest.split(']').next().unwrap_or(rest).to_string();
    }
    bound_hostname
        .split(':')
        .next()
        .unwrap_or(bound_hostname)
        .to_string()
}

fn print_response(response: &session_http::client::ClientResponse, json: bool) {
    let body = String::from_utf8_lossy(&response.body);
    if json {
        let mut headers = Vec::new();
        for (name, value) in &response.headers {
            headers.push(Value::Array(vec![
                Value::String(name.as_str().to_string()),
                Value::String(String::from_utf8_lossy(value.as_bytes()).into_owned()),
            ]));
        }
        let body_json = serde_json::from_str::<Value>(&body).ok();
        let out = serde_json::json!({
            "url": response.url.as_str(),
            "status": response.status.as_u16(),
            "reason": response.status.canonical_reason(),
            "headers": headers,
            "body": body,
            "json": body_json,
            "redirects": response.redirects,
        });
        println!("{out}");
        return;
    }
    println!(
        "{:?} {} {}",
        response.version,
        response.status.as_u16(),
        response.status.canonical_reason().unwrap_or("")
    );
    for (name, value) in &response.headers {
        println!(
            "{}: {}",
            title_case(name.as_str()),
            String::from_utf8_lossy(value.as_bytes())
        );
    }
    println!();
    if !body.is_empty() {
        print!("{body}");
        if !body.ends_with('\n') {
            println!();
        }
    }
}

fn title_case(name: &str) -> String {
    name.split('-')
        .map(|part| {
            let mut chars = part.chars();
            match chars.next() {
                Some(first) => first.to_ascii_uppercase().to_string() + chars.as_str(),
                None => String::new(),
            }
        })
        .collect::<Vec<_>>()
        .join("-")
}
