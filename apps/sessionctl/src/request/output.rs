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

    fn any_request(self) -> bool {
        self.request_headers || self.request_body
    }

    fn any_response(self) -> bool {
        self.response_headers || self.response_body || self.metadata
    }
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

/// An exchange (or an offline request alone) in HTTPie's `--print` shapes, as HTTPie writes
/// them to a pipe: each head followed by a blank CRLF line, bodies as they are, and a blank
/// line pair after a message whose body was asked for when another message follows.
pub(crate) fn exchange_bytes(
    print: Print,
    request: &ClientRequest,
    spellings: &Spellings,
    response: Option<(&ClientResponse, Duration)>,
) -> Vec<u8> {
    let mut out = Vec::new();
    if print.any_request() {
        if print.request_headers {
            out.extend(request_head(request, spellings));
            out.extend_from_slice(b"\r\n\r\n");
        }
        if print.request_body {
            out.extend_from_slice(&request.body);
        }
    }
    let Some((response, elapsed)) = response else {
        return out;
    };
    if !print.any_response() {
        return out;
    }
    if print.request_body {
        out.extend_from_slice(MESSAGE_SEPARATOR);
    }
    if print.response_headers {
        out.extend(response_head(response));
        out.extend_from_slice(b"\r\n\r\n");
    }
    if print.response_body {
        out.extend_from_slice(&response.body);
    }
    if print.metadata {
        if print.response_body {
            out.extend_from_slice(MESSAGE_SEPARATOR);
        }
        out.extend(metadata(elapsed));
        out.extend_from_slice(MESSAGE_SEPARATOR);
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
        "url": response.url.as_str(),
        "status": response.status.as_u16(),
        "reason": response.status.canonical_reason(),
        "headers": headers,
        "body": body,
        "json": body_json,
        "redirects": response.redirects,
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

    fn exchange() -> (ClientRequest, ClientResponse) {
        let url = Url::parse("http://h:1/p?q=1").unwrap();
        let mut request = ClientRequest::new(Method::POST, url.clone());
        request.headers.insert("x-a", HeaderValue::from_static("1"));
        request.body = Bytes::from_static(b"{}");
        let mut headers = http::HeaderMap::new();
        headers.insert("content-type", HeaderValue::from_static("text/plain"));
        let response = ClientResponse {
            url,
            status: StatusCode::OK,
            version: Version::HTTP_11,
            headers,
            body: Bytes::from_static(b"hi"),
            redirects: 0,
        };
        (request, response)
    }

    fn printed(letters: &str) -> String {
        let (request, response) = exchange();
        let print = parse_print(letters).unwrap();
        let spellings = Spellings(vec!["X-a".into()]);
        let elapsed = Duration::from_millis(250);
        String::from_utf8(exchange_bytes(
            print,
            &request,
            &spellings,
            Some((&response, elapsed)),
        ))
        .unwrap()
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
}
