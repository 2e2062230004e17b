//! What `sessionctl request` prints: HTTPie's `--print` shapes, sessionctl's default
//! response text, and the JSON of `--json`.

use std::io::Write;
use std::time::Duration;

use http::HeaderValue;
use http::header::HOST;
use serde_json::Value;
use session_http::client::{ClientRequest, ClientResponse, ClientSession};

use crate::CliError;

/// HTTPie's separator after a message whose body was asked for.
const MESSAGE_SEPARATOR: &[u8] = b"\n\n";

/// The parts of an exchange to print, as HTTPie's `--print` letters.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Print {
    /// `H`: the request's headers.
    pub(crate) request_headers: bool,
    /// `B`: the request's body.
    pub(crate) request_body: bool,
    /// `h`: the response's headers.
    pub(crate) response_headers: bool,
    /// `b`: the response's body.
    pub(crate) response_body: bool,
    /// `m`: the response's metadata (the elapsed time).
    pub(crate) metadata: bool,
}

impl Print {
    /// `HBhb`, HTTPie's `-v`.
    pub(crate) const VERBOSE: Print = Print {
        request_headers: true,
        request_body: true,
        response_headers: true,
        response_body: true,
        metadata: false,
    };
    /// `HB`, HTTPie's default for `--offline`.
    pub(crate) const OFFLINE: Print = Print {
        request_headers: true,
        request_body: true,
        response_headers: false,
        response_body: false,
        metadata: false,
    };
}

/// Parses `--print`'s letters (HTTPie refuses unknown ones, naming them).
pub(crate) fn parse_print(letters: &str) -> Result<Print, String> {
    let mut print = Print::default();
    let mut unknown = Vec::new();
    for letter in letters.chars() {
        match letter {
            'H' => print.request_headers = true,
            'B' => print.request_body = true,
            'h' => print.response_headers = true,
            'b' => print.response_body = true,
            'm' => print.metadata = true,
            other => unknown.push(other.to_string()),
        }
    }
    if unknown.is_empty() {
        Ok(print)
    } else {
        Err(format!("unknown output options: {}", unknown.join(",")))
    }
}

/// The request as it goes out: with the session's headers, auth and cookies, without the
/// unset headers, with `Content-Length` and `Host` (as HTTPie prints it).
pub(crate) fn outgoing_request(
    session: &ClientSession,
    mut request: ClientRequest,
) -> Result<ClientRequest, CliError> {
    session.apply(&request.url, &mut request.headers)?;
    for name in &request.omit_headers {
        request.headers.remove(name);
    }
    with_connection_headers(request)
}

/// A request as sent, with the `Content-Length` and `Host` headers the connection adds.
fn with_connection_headers(mut request: ClientRequest) -> Result<ClientRequest, CliError> {
    if !request.body.is_empty() && !request.headers.contains_key(http::header::CONTENT_LENGTH) {
        request.headers.insert(
            http::header::CONTENT_LENGTH,
            HeaderValue::from(request.body.len()),
        );
    }
    if !request.headers.contains_key(HOST) {
        let host = &request.url[url::Position::BeforeHost..url::Position::AfterPort];
        let value = HeaderValue::from_str(host)
            .map_err(|_| CliError::usage(format!("invalid host {host:?}")))?;
        request.headers.insert(HOST, value);
    }
    Ok(request)
}

/// One message of an exchange, to print.
pub(crate) enum Message<'a> {
    /// A request as sent (boxed: a request is much larger than a reference).
    Request(Box<ClientRequest>),
    /// A response (a redirect followed, or the last).
    Response(&'a ClientResponse),
}

impl Message<'_> {
    /// The message's head as HTTPie prints it, without the final line end.
    fn head(&self, spellings: &Spellings) -> Vec<u8> {
        match self {
            Message::Request(request) => request_head(request, spellings),
            Message::Response(response) => response_head(response),
        }
    }
}

/// The messages of an exchange in the order HTTPie prints them: the request of every hop,
/// each redirect followed when `all` (HTTPie's `--all`, implied by `-v`), and the response.
pub(crate) fn exchange(response: &ClientResponse, all: bool) -> Result<Vec<Message<'_>>, CliError> {
    let last = response.history.len();
    let hops = response.history.iter().chain([response]);
    let mut messages = Vec::new();
    for (index, hop) in hops.enumerate() {
        let request = with_connection_headers(hop.request.clone())?;
        messages.push(Message::Request(Box::new(request)));
        if all || index == last {
            messages.push(Message::Response(hop));
        }
    }
    Ok(messages)
}

/// Header names as typed in the items or the session file, else in title case.
pub(crate) struct Spellings(pub(crate) Vec<String>);

impl Spellings {
    fn spell(&self, name: &str) -> String {
        self.0
            .iter()
            .find(|typed| typed.eq_ignore_ascii_case(name))
            .cloned()
            .unwrap_or_else(|| title_case(name))
    }
}

/// The request's head as HTTPie prints it: request line and headers, CRLF-separated, without
/// the final line end.
fn request_head(request: &ClientRequest, spellings: &Spellings) -> Vec<u8> {
    let target = &request.url[url::Position::BeforePath..url::Position::AfterQuery];
    let mut out = format!("{} {target} HTTP/1.1", request.method).into_bytes();
    for (name, value) in &request.headers {
        out.extend_from_slice(b"\r\n");
        out.extend_from_slice(spellings.spell(name.as_str()).as_bytes());
        out.extend_from_slice(b": ");
        out.extend_from_slice(value.as_bytes());
    }
    out
}

/// The response's head as HTTPie prints it: status line and headers, CRLF-separated, without
/// the final line end.
fn response_head(response: &ClientResponse) -> Vec<u8> {
    let mut out = format!(
        "{:?} {} {}",
        response.version,
        response.status.as_u16(),
        response.status.canonical_reason().unwrap_or("")
    )
    .into_bytes();
    for (name, value) in &response.headers {
        out.extend_from_slice(b"\r\n");
        out.extend_from_slice(title_case(name.as_str()).as_bytes());
        out.extend_from_slice(b": ");
        out.extend_from_slice(value.as_bytes());
    }
    out
}

/// HTTPie's metadata block: `Elapsed time: 0.0123s` (Python's `str(round(t, 10))`).
fn metadata(elapsed: Duration) -> Vec<u8> {
    let seconds = (elapsed.as_secs_f64() * 1e10).round() / 1e10;
    format!("Elapsed time: {seconds}s").into_bytes()
}

/// Messages in HTTPie's `--print` shapes, as HTTPie writes them to a pipe: each head followed
/// by a blank CRLF line, bodies as they are, a response's metadata after it, and a blank line
/// pair before a message with something to print when the one before printed its body.
pub(crate) fn messages_bytes(
    print: Print,
    messages: &[Message<'_>],
    spellings: &Spellings,
) -> Vec<u8> {
    let mut out = Vec::new();
    let mut previous_with_body = false;
    for message in messages {
        let (with_headers, with_body, elapsed, body) = match message {
            Message::Request(request) => (
                print.request_headers,
                print.request_body,
                None,
                &request.body,
            ),
            Message::Response(response) => (
                print.response_headers,
                print.response_body,
                print.metadata.then_some(response.elapsed),
                &response.body,
            ),
        };
        if previous_with_body && (with_headers || with_body || elapsed.is_some()) {
            out.extend_from_slice(MESSAGE_SEPARATOR);
        }
        if with_headers {
            out.extend(message.head(spellings));
            out.extend_from_slice(b"\r\n\r\n");
        }
        if with_body {
            out.extend_from_slice(body);
        }
        if let Some(elapsed) = elapsed {
            if with_body {
                out.extend_from_slice(MESSAGE_SEPARATOR);
            }
            out.extend(metadata(elapsed));
            out.extend_from_slice(MESSAGE_SEPARATOR);
        }
        previous_with_body = with_body;
    }
    out
}

/// Writes bytes to standard output (a closed pipe is not an error worth reporting).
pub(crate) fn write_stdout(bytes: &[u8]) {
    let mut stdout = std::io::stdout().lock();
    let _ = stdout.write_all(bytes);
    let _ = stdout.flush();
}

/// An offline request under `--json`.
pub(crate) fn print_offline_json(request: &ClientRequest, spellings: &Spellings) {
    let headers: Vec<Value> = request
        .headers
        .iter()
        .map(|(name, value)| {
            serde_json::json!([
                spellings.spell(name.as_str()),
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
}

/// A response under `--json`.
pub(crate) fn print_response_json(response: &ClientResponse) {
    let body = String::from_utf8_lossy(&response.body);
    let headers: Vec<Value> = response
        .headers
        .iter()
        .map(|(name, value)| {
            serde_json::json!([name.as_str(), String::from_utf8_lossy(value.as_bytes())])
        })
        .collect();
    let body_json = serde_json::from_str::<Value>(&body).ok();
    let out = serde_json::json!({
        "url": response.request.url.as_str(),
        "status": response.status.as_u16(),
        "reason": response.status.canonical_reason(),
        "headers": headers,
        "body": body,
        "json": body_json,
        "redirects": response.history.len(),
    });
    println!("{out}");
}

/// A response as sessionctl prints it without `--print`: status line, headers, a blank line
/// and the body, with LF line ends and a final newline.
pub(crate) fn print_response_text(response: &ClientResponse) {
    let body = String::from_utf8_lossy(&response.body);
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

/// `content-type` → `Content-Type`.
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

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;
    use http::{Method, StatusCode, Version};
    use url::Url;

    fn response_to(
        request: ClientRequest,
        status: StatusCode,
        body: &'static str,
    ) -> ClientResponse {
        let mut headers = http::HeaderMap::new();
        headers.insert("content-type", HeaderValue::from_static("text/plain"));
        ClientResponse {
            status,
            version: Version::HTTP_11,
            headers,
            body: Bytes::from_static(body.as_bytes()),
            request,
            elapsed: Duration::from_millis(250),
            history: Vec::new(),
        }
    }

    /// `POST /p?q=1` answered `200 hi`, or first redirected by a `302 moved` from `/r`.
    fn sample(redirected: bool) -> ClientResponse {
        let mut request = ClientRequest::new(Method::POST, Url::parse("http://h:1/p?q=1").unwrap());
        request.headers.insert("x-a", HeaderValue::from_static("1"));
        request.body = Bytes::from_static(b"{}");
        if !redirected {
            return response_to(request, StatusCode::OK, "hi");
        }
        let mut first = request.clone();
        first.url = Url::parse("http://h:1/r").unwrap();
        let redirect = response_to(first, StatusCode::FOUND, "moved");
        request.method = Method::GET;
        request.body = Bytes::new();
        ClientResponse {
            history: vec![redirect],
            ..response_to(request, StatusCode::OK, "hi")
        }
    }

    fn printed_exchange(letters: &str, redirected: bool, all: bool) -> String {
        let response = sample(redirected);
        let messages = exchange_messages_without_host(&response, all);
        let print = parse_print(letters).unwrap();
        let spellings = Spellings(vec!["X-a".into()]);
        String::from_utf8(messages_bytes(print, &messages, &spellings)).unwrap()
    }

    /// The messages of `exchange`, without the `Host` header `exchange` adds (the tests'
    /// expected text stays short).
    fn exchange_messages_without_host(response: &ClientResponse, all: bool) -> Vec<Message<'_>> {
        let mut messages = super::exchange(response, all).unwrap();
        for message in &mut messages {
            if let Message::Request(request) = message {
                request.headers.remove(HOST);
                request.headers.remove(http::header::CONTENT_LENGTH);
            }
        }
        messages
    }

    fn printed(letters: &str) -> String {
        printed_exchange(letters, false, false)
    }

    #[test]
    fn print_letters_are_httpies() {
        assert_eq!(parse_print("HBhb").unwrap(), Print::VERBOSE);
        assert_eq!(parse_print("HB").unwrap(), Print::OFFLINE);
        assert!(parse_print("Hx").unwrap_err().contains('x'));
    }

    #[test]
    fn shapes_are_httpies() {
        assert_eq!(
            printed("HBhb"),
            "POST /p?q=1 HTTP/1.1\r\nX-a: 1\r\n\r\n{}\n\nHTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\nhi"
        );
        assert_eq!(
            printed("Hh"),
            "POST /p?q=1 HTTP/1.1\r\nX-a: 1\r\n\r\nHTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\n"
        );
        assert_eq!(printed("b"), "hi");
        assert_eq!(printed("bm"), "hi\n\nElapsed time: 0.25s\n\n");
        assert_eq!(printed("m"), "Elapsed time: 0.25s\n\n");
        assert_eq!(printed("Bb"), "{}\n\nhi");
    }

    #[test]
    fn redirects_are_printed_as_httpie_prints_them() {
        let printed = |letters, all| printed_exchange(letters, true, all);
        // Every hop's request; the redirect itself only with --all (or -v).
        assert_eq!(
            printed("Hh", false),
            "POST /r HTTP/1.1\r\nX-a: 1\r\n\r\nGET /p?q=1 HTTP/1.1\r\nX-a: 1\r\n\r\n\
             HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\n"
        );
        assert_eq!(
            printed("Hh", true),
            "POST /r HTTP/1.1\r\nX-a: 1\r\n\r\nHTTP/1.1 302 Found\r\nContent-Type: text/plain\r\n\r\n\
             GET /p?q=1 HTTP/1.1\r\nX-a: 1\r\n\r\nHTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\n"
        );
        // A body asked for is followed by a separator before the next message that prints
        // something, even an empty body.
        assert_eq!(printed("Bb", true), "{}\n\nmoved\n\n\n\nhi");
        assert_eq!(printed("b", true), "movedhi");
        assert_eq!(printed("b", false), "hi");
        assert_eq!(
            printed("bm", true),
            "moved\n\nElapsed time: 0.25s\n\nhi\n\nElapsed time: 0.25s\n\n"
        );
    }
}
