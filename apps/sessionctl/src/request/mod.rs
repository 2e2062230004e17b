//! `sessionctl request`: an HTTPie-style request that uses and updates an HTTPie session.
//!
//! | file | what is in it |
//! |---|---|
//! | `args.rs` | the command line (clap), with HTTPie's flags |
//! | `parse.rs` | method, URL, typed headers and body from the command line, checked once |
//! | `stdin.rs` | standard input as a body, as HTTPie reads it |
//! | `auth.rs` | `-a`/`-A`, with HTTPie's password prompt |
//! | `session.rs` | finding, loading and saving the HTTPie session (a file, or a record of `--session-store`) |
//! | `build.rs` | HTTPie's default headers and the body's bytes: the request to send |
//! | `output.rs` | HTTPie's `--print` shapes, the default text and `--json` |

mod args;
mod auth;
mod build;
mod output;
mod parse;
mod session;
mod stdin;

use std::io::IsTerminal;
use std::process::ExitCode;

use session_http::client::{ClientError, ClientResponse, FileSealer, SessionClient};

pub(crate) use args::RequestArgs;
use auth::Credentials;
use output::{Message, Print, Spellings};
use parse::Parsed;
use session::RequestSession;

use crate::CliError;

/// HTTPie's exit code for a request that timed out.
const EXIT_TIMEOUT: u8 = 2;
/// HTTPie's exit code for a request that met more redirects than `--max-redirects` allows.
const EXIT_TOO_MANY_REDIRECTS: u8 = 6;

/// Runs `sessionctl request`.
pub(crate) async fn run(
    args: RequestArgs,
    keys: &crate::sealing::KeyArgs,
    json: bool,
) -> Result<ExitCode, CliError> {
    let stdin = stdin::ProcessStdin::detect(args.ignore_stdin);
    let mut parsed = parse::parse(&args, &stdin)?;
    let credentials = match auth::credentials(&args, &parsed.url)? {
        Credentials::PromptClosed => return Ok(ExitCode::SUCCESS),
        Credentials::Given(auth) => Some(auth),
        Credentials::None => None,
    };
    parse::read_stdin_body(&mut parsed, &stdin)?;
    let verify = crate::tls::verify(args.verify.as_deref(), false, &|name| {
        std::env::var(name).ok()
    });
    let transport = crate::tls::transport(verify, true, args.cert.clone(), args.cert_key.clone())
        .map_err(ClientError::from)?;
    let sealer = crate::sealing::sealer(keys)?;
    let sealer = sealer.as_ref().map(|s| s as &dyn FileSealer);

    let mut target = RequestSession::open(&args, &parsed, sealer).await?;
    target.warn_about_foreign_auth(credentials.is_some());
    let headers = build::request_headers(&parsed, &target.session, args.form);
    let recorded: Vec<(String, String)> = headers.iter().map(|h| h.as_pair()).collect();
    target.session.update_headers(&parsed.url, &recorded);
    if credentials.is_some() {
        target.session.set_auth(credentials);
    }
    let request = build::client_request(&parsed, &headers, args.boundary.as_deref())?;
    let spellings = spellings(&parsed, &target);

    if args.offline {
        let request = output::outgoing_request(&target.session, request)?;
        target.save(sealer).await?;
        if json {
            output::print_offline_json(&request, &spellings);
        } else {
            let print = print_choice(&args).unwrap_or(Print::OFFLINE);
            let messages = [Message::Request(Box::new(request))];
            output::write_stdout(&output::messages_bytes(print, &messages, &spellings));
        }
        return Ok(ExitCode::SUCCESS);
    }

    let client = SessionClient::new()
        .with_transport(transport)
        .max_redirects(redirects_to_follow(args.max_redirects));
    let client = match args.timeout {
        Some(timeout) => client.timeout(timeout),
        None => client,
    };
    // As in HTTPie, the session is saved only after a completed exchange, and a read-only
    // session only when it did not exist yet.
    let response = match client.send(&mut target.session, request, args.follow).await {
        Ok(response) => response,
        Err(error) => return send_failed(error, args.max_redirects),
    };
    target.save(sealer).await?;
    if json {
        output::print_response_json(&response);
    } else if let Some(print) = print_choice(&args) {
        let messages = output::exchange(&response, args.all || args.verbose > 0)?;
        output::write_stdout(&output::messages_bytes(print, &messages, &spellings));
    } else {
        output::print_response_text(&response);
    }
    Ok(check_status(&args, &response))
}

/// The parts to print that the flags ask for; `None` for sessionctl's default.
fn print_choice(args: &RequestArgs) -> Option<Print> {
    if let Some(print) = args.print {
        return Some(print);
    }
    if args.headers {
        return output::parse_print("h").ok();
    }
    if args.body {
        return output::parse_print("b").ok();
    }
    match args.verbose {
        0 => None,
        1 => Some(Print::VERBOSE),
        _ => Some(Print {
            metadata: true,
            ..Print::VERBOSE
        }),
    }
}

/// Header names as typed (in the items or the session file), as HTTPie prints them.
fn spellings(parsed: &Parsed, target: &RequestSession) -> Spellings {
    Spellings(
        parsed
            .headers
            .iter()
            .map(|h| h.spelling.clone())
            .chain(target.session.headers().iter().map(|(n, _)| n.clone()))
            .collect(),
    )
}

/// How many redirects the client follows for HTTPie's `--max-redirects`: HTTPie stops at the
/// Nth redirect response, so it follows one fewer, and 0 means no limit.
fn redirects_to_follow(max_redirects: usize) -> usize {
    max_redirects.checked_sub(1).unwrap_or(usize::MAX)
}

/// A failed exchange: a timeout and too many redirects are HTTPie's exit codes 2 and 6 with
/// its messages, the rest errors.
fn send_failed(error: ClientError, max_redirects: usize) -> Result<ExitCode, CliError> {
    match &error {
        ClientError::Timeout { after, .. } => {
            eprintln!("sessionctl: request timed out ({}s)", after.as_secs_f64());
            Ok(ExitCode::from(EXIT_TIMEOUT))
        }
        ClientError::TooManyRedirects(_) => {
            eprintln!("sessionctl: too many redirects (--max-redirects={max_redirects})");
            Ok(ExitCode::from(EXIT_TOO_MANY_REDIRECTS))
        }
        ClientError::Tls { problem, .. } => Err(CliError::Other(format!(
            "{error}{}",
            crate::tls::hint(problem)
        ))),
        _ => Err(CliError::from(error)),
    }
}

/// With `--check-status`, HTTPie's exit code for the status (3 for a redirect not followed,
/// 4 and 5 for errors), and its warning when standard output is not a terminal.
fn check_status(args: &RequestArgs, response: &ClientResponse) -> ExitCode {
    if !args.check_status {
        return ExitCode::SUCCESS;
    }
    let code = status_exit_code(response.status.as_u16(), args.follow);
    if code != 0 && !std::io::stdout().is_terminal() {
        eprintln!(
            "sessionctl: warning: HTTP {} {}",
            response.status.as_u16(),
            response.status.canonical_reason().unwrap_or("")
        );
    }
    ExitCode::from(code)
}

/// HTTPie's `http_status_to_exit_status`.
fn status_exit_code(status: u16, follow: bool) -> u8 {
    match status {
        300..=399 if !follow => 3,
        400..=499 => 4,
        500..=599 => 5,
        _ => 0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_exit_codes_are_httpies() {
        assert_eq!(status_exit_code(200, false), 0);
        assert_eq!(status_exit_code(302, false), 3);
        assert_eq!(status_exit_code(302, true), 0);
        assert_eq!(status_exit_code(404, true), 4);
        assert_eq!(status_exit_code(503, false), 5);
    }

    #[test]
    fn max_redirects_counts_as_in_httpie() {
        assert_eq!(redirects_to_follow(30), 29);
        assert_eq!(redirects_to_follow(1), 0);
        assert_eq!(redirects_to_follow(0), usize::MAX);
    }
}
