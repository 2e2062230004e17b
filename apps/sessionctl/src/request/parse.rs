//! The method, URL, headers and body a `sessionctl request` command line asks for, checked
//! once: every header is a valid `http` header here, so building the request cannot fail on
//! one later.

use http::Method;
use http::header::{HeaderName, HeaderValue};
use url::Url;

use super::args::RequestArgs;
use crate::CliError;
use crate::request_items::{Body, BodyKind, RequestItems, expand_url, read_user_file};

/// HTTPie's refusal of two body sources at once (it exits 1, as for its other usage errors).
pub(crate) const MIXED_BODY_SOURCES: &str = "request body (from stdin or --raw) and request \
     data (key=value) cannot be mixed; pass --ignore-stdin to let key/value take priority";

/// A header to send, valid by construction, with its name as typed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct RequestHeader {
    /// The name as typed (HTTPie prints and stores it so).
    pub(crate) spelling: String,
    /// The name.
    pub(crate) name: HeaderName,
    /// The value.
    pub(crate) value: HeaderValue,
}

impl RequestHeader {
    /// A header from its typed name and value, or why it is not one.
    pub(crate) fn new(name: &str, value: &str) -> Result<Self, CliError> {
        let header_name = header_name(name)?;
        let value = HeaderValue::from_str(value)
            .map_err(|_| CliError::usage(format!("invalid value for header {name:?}")))?;
        Ok(RequestHeader {
            spelling: name.to_string(),
            name: header_name,
            value,
        })
    }

    /// A header whose name and value are known to be valid, spelled as HTTPie spells it.
    pub(crate) fn fixed(name: HeaderName, spelling: &'static str, value: &'static str) -> Self {
        RequestHeader {
            spelling: spelling.to_string(),
            name,
            value: HeaderValue::from_static(value),
        }
    }

    /// The value as text (it was made from text).
    pub(crate) fn value_text(&self) -> String {
        String::from_utf8_lossy(self.value.as_bytes()).into_owned()
    }

    /// The (name as typed, value) pair the session records.
    pub(crate) fn as_pair(&self) -> (String, String) {
        (self.spelling.clone(), self.value_text())
    }
}

fn header_name(name: &str) -> Result<HeaderName, CliError> {
    HeaderName::from_bytes(name.as_bytes())
        .map_err(|_| CliError::usage(format!("invalid header name {name:?}")))
}

/// The request a command line asks for.
#[derive(Debug)]
pub(crate) struct Parsed {
    /// The method, given or guessed as HTTPie guesses it.
    pub(crate) method: Method,
    /// The URL as typed, with HTTPie's shorthands (`:8080/x`, `example.org`) expanded.
    pub(crate) typed_url: String,
    /// The URL with the query items appended.
    pub(crate) url: Url,
    /// The headers of the items, in order.
    pub(crate) headers: Vec<RequestHeader>,
    /// Headers not to send (`Header:`), even if the session has them.
    pub(crate) unset: Vec<HeaderName>,
    /// The body.
    pub(crate) body: Body,
}

impl Parsed {
    /// The `Host` header given in the items, if any (the last one).
    pub(crate) fn host_header(&self) -> Option<String> {
        self.headers
            .iter()
            .rev()
            .find(|h| h.name == http::header::HOST)
            .map(RequestHeader::value_text)
    }
}

/// Where a body may come from besides the items: standard input, when it is not a terminal
/// and not ignored. It is read later (after a password prompt, as HTTPie orders it): the
/// parsed body is then an empty [`Body::Stdin`] for [`read_stdin_body`] to fill.
pub(crate) trait StdinBody {
    /// Whether standard input holds a body.
    fn has_body(&self) -> bool;
    /// Reads it all.
    fn read(&self) -> std::io::Result<Vec<u8>>;
}

/// Reads standard input into the body when the body is to come from there.
pub(crate) fn read_stdin_body(parsed: &mut Parsed, stdin: &dyn StdinBody) -> Result<(), CliError> {
    if let Body::Stdin(bytes) = &mut parsed.body {
        *bytes = stdin
            .read()
            .map_err(|e| CliError::Other(format!("cannot read standard input: {e}")))?;
    }
    Ok(())
}

/// Parses the command line's method, URL and items, with `stdin` as a possible body.
pub(crate) fn parse(args: &RequestArgs, stdin: &dyn StdinBody) -> Result<Parsed, CliError> {
    let (explicit_method, typed_url, items) = split_method(&args.args)?;
    let expanded = expand_url(typed_url);
    let mut url = parse_url(typed_url, &expanded)?;
    let built = crate::request_items::build(items, body_kind(args), &read_user_file)
        .map_err(CliError::usage)?;
    for (name, value) in &built.query {
        url.query_pairs_mut().append_pair(name, value);
    }
    let headers = built
        .headers
        .iter()
        .map(|(name, value)| RequestHeader::new(name, value))
        .collect::<Result<Vec<_>, _>>()?;
    let unset = built
        .unset
        .iter()
        .map(|name| header_name(name))
        .collect::<Result<Vec<_>, _>>()?;
    let has_input = args.raw.is_some() || stdin.has_body();
    let body = body(args, &built, stdin)?;
    let method = method(explicit_method, built.has_data || has_input)?;
    Ok(Parsed {
        method,
        typed_url: expanded,
        url,
        headers,
        unset,
        body,
    })
}

/// The method if the first argument is one (letters only, with a URL after it), the URL,
/// and the items.
fn split_method(args: &[String]) -> Result<(Option<&str>, &str, &[String]), CliError> {
    let no_url = || CliError::usage("a URL is required");
    let first = args.first().ok_or_else(no_url)?;
    let is_method = !first.is_empty() && first.bytes().all(|b| b.is_ascii_alphabetic());
    match args.get(1) {
        Some(url) if is_method => Ok((Some(first), url, &args[2..])),
        _ => Ok((None, first, &args[1..])),
    }
}

fn parse_url(typed: &str, expanded: &str) -> Result<Url, CliError> {
    let url =
        Url::parse(expanded).map_err(|e| CliError::usage(format!("invalid URL {typed:?}: {e}")))?;
    if url.host_str().is_none_or(str::is_empty) {
        return Err(CliError::usage(format!("invalid URL {typed:?}: no host")));
    }
    Ok(url)
}

fn body_kind(args: &RequestArgs) -> BodyKind {
    if args.multipart {
        BodyKind::Multipart
    } else if args.form {
        BodyKind::Form
    } else {
        BodyKind::Json
    }
}

/// The body: the items', or `--raw`, or standard input; never two of them.
fn body(args: &RequestArgs, built: &RequestItems, stdin: &dyn StdinBody) -> Result<Body, CliError> {
    let stdin_body = stdin.has_body();
    if (stdin_body || args.raw.is_some()) && built.has_data || stdin_body && args.raw.is_some() {
        return Err(CliError::Other(MIXED_BODY_SOURCES.into()));
    }
    if let Some(raw) = &args.raw {
        return Ok(Body::Raw(raw.clone().into_bytes()));
    }
    if stdin_body {
        return Ok(Body::Stdin(Vec::new()));
    }
    Ok(built.body.clone())
}

/// The method given, else GET without a body and POST with one, as HTTPie guesses.
fn method(explicit: Option<&str>, has_body: bool) -> Result<Method, CliError> {
    match explicit {
        Some(m) => Method::from_bytes(m.to_ascii_uppercase().as_bytes())
            .map_err(|_| CliError::usage(format!("invalid method {m:?}"))),
        None if has_body => Ok(Method::POST),
        None => Ok(Method::GET),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser)]
    struct Cli {
        #[command(flatten)]
        args: RequestArgs,
    }

    struct Stdin(Option<&'static str>);

    impl StdinBody for Stdin {
        fn has_body(&self) -> bool {
            self.0.is_some()
        }
        fn read(&self) -> std::io::Result<Vec<u8>> {
            Ok(self.0.unwrap_or_default().as_bytes().to_vec())
        }
    }

    fn parse_line(line: &[&str], stdin: Option<&'static str>) -> Result<Parsed, CliError> {
        let cli = Cli::try_parse_from(std::iter::once("request").chain(line.iter().copied()))
            .map_err(|e| CliError::usage(e.to_string()))?;
        parse(&cli.args, &Stdin(stdin))
    }

    #[test]
    fn headers_are_typed_once_and_keep_their_spelling() {
        let parsed = parse_line(&["http://h/", "X-Api:2", "Gone:"], None).unwrap();
        assert_eq!(parsed.headers[0].spelling, "X-Api");
        assert_eq!(parsed.headers[0].name, HeaderName::from_static("x-api"));
        assert_eq!(parsed.unset, vec![HeaderName::from_static("gone")]);
        assert!(parse_line(&["http://h/", "Bad Name:1"], None).is_err());
        assert!(parse_line(&["http://h/", "X:a\u{7f}"], None).is_err());
    }

    #[test]
    fn the_method_is_guessed_from_the_body_as_httpie_does() {
        assert_eq!(
            parse_line(&["http://h/"], None).unwrap().method,
            Method::GET
        );
        assert_eq!(
            parse_line(&["http://h/", "a=1"], None).unwrap().method,
            Method::POST
        );
        assert_eq!(
            parse_line(&["http://h/"], Some("")).unwrap().method,
            Method::POST
        );
        assert_eq!(
            parse_line(&["put", "http://h/"], None).unwrap().method,
            Method::PUT
        );
    }

    #[test]
    fn standard_input_is_the_body_unless_items_or_raw_say_otherwise() {
        let mut parsed = parse_line(&["http://h/", "q==1"], Some("{\"a\": 1}")).unwrap();
        assert_eq!(parsed.body, Body::Stdin(Vec::new()));
        read_stdin_body(&mut parsed, &Stdin(Some("{\"a\": 1}"))).unwrap();
        assert_eq!(parsed.body, Body::Stdin(b"{\"a\": 1}".to_vec()));
        assert_eq!(parsed.url.query(), Some("q=1"));
        for line in [&["http://h/", "a=1"][..], &["--raw", "x", "http://h/"]] {
            let error = parse_line(line, Some("x")).unwrap_err();
            assert!(
                matches!(&error, CliError::Other(m) if m == MIXED_BODY_SOURCES),
                "{error}"
            );
        }
    }
}
