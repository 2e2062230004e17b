//! The command line of `sessionctl request`, as clap reads it.

use std::path::PathBuf;

/// How `-a` is interpreted.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum AuthType {
    /// HTTP Basic: `-a USER:PASS`, or `-a USER` to be asked for the password.
    Basic,
    /// Bearer token: `-a TOKEN`.
    Bearer,
}

/// Arguments of `sessionctl request`.
///
/// `-h` is HTTPie's `--headers`, so clap's help flag is `--help` alone.
#[derive(Debug, clap::Args)]
#[command(disable_help_flag = true)]
pub(crate) struct RequestArgs {
    /// Use and update this session (a name, or a path when it contains '/'). Given with
    /// --session-read-only BASE, a session that does not exist yet starts as a copy of BASE,
    /// which is left as it is (HTTPie 3.2.4 refuses the two flags together).
    #[arg(long, value_name = "NAME|PATH")]
    pub(crate) session: Option<String>,
    /// Use this session without saving changes (a new one is still created, as HTTPie does);
    /// with --session, the session a new one starts from.
    #[arg(long, value_name = "NAME|PATH")]
    pub(crate) session_read_only: Option<String>,
    /// Keep the session (of --session or --session-read-only) in this session store instead
    /// of an HTTPie file, so that several machines share one login: sqlite:PATH,
    /// redis://HOST:PORT, encrypted:DIR, file:DIR … (as `sessionctl store`). The record holds
    /// the HTTPie file's exact text, keyed by the host directory and the name; the same
    /// rules as for files decide when it is saved.
    #[arg(long, value_name = "URL")]
    pub(crate) session_store: Option<String>,
    /// Credentials: USER:PASS for basic (USER alone: the password is asked for on the
    /// terminal, without echo, as HTTPie does), the token for bearer. Saved into the session.
    #[arg(short = 'a', long, value_name = "USER[:PASS]|TOKEN")]
    pub(crate) auth: Option<String>,
    /// The auth type of -a.
    #[arg(short = 'A', long, value_enum, default_value = "basic")]
    pub(crate) auth_type: AuthType,
    /// Follow redirects (each hop gets the cookies of its own host).
    #[arg(short = 'F', long)]
    pub(crate) follow: bool,
    /// As in HTTPie, the Nth redirect in a row ends the request with exit code 6 (so N - 1
    /// are followed); 0 lifts the limit.
    #[arg(long, default_value_t = session_http::client::DEFAULT_MAX_REDIRECTS)]
    pub(crate) max_redirects: usize,
    /// Check the server's TLS certificate, as HTTPie's --verify: "yes" (the default; the
    /// Mozilla roots, or REQUESTS_CA_BUNDLE / CURL_CA_BUNDLE if set), "no" (no check:
    /// insecure), or the path of a CA bundle (PEM) to trust instead.
    #[arg(long, value_name = "yes|no|CA_BUNDLE")]
    pub(crate) verify: Option<String>,
    /// Client certificate to present (PEM; it may hold the private key too).
    #[arg(long, value_name = "FILE")]
    pub(crate) cert: Option<PathBuf>,
    /// The client certificate's private key (PEM, unencrypted), if not in --cert's file.
    #[arg(long, value_name = "FILE", requires = "cert")]
    pub(crate) cert_key: Option<PathBuf>,
    /// Send data fields as a form (urlencoded; multipart when a file is uploaded with
    /// field@path), as HTTPie's --form.
    #[arg(short = 'f', long, conflicts_with = "multipart")]
    pub(crate) form: bool,
    /// Send data fields and file uploads as multipart/form-data, as HTTPie's --multipart.
    #[arg(long)]
    pub(crate) multipart: bool,
    /// Send this text as the body, as HTTPie's --raw (JSON headers unless --form; no data
    /// items allowed with it).
    #[arg(long, value_name = "BODY", conflicts_with = "multipart")]
    pub(crate) raw: Option<String>,
    /// The multipart boundary to use instead of a random one, as HTTPie's --boundary.
    #[arg(long, value_name = "BOUNDARY")]
    pub(crate) boundary: Option<String>,
    /// Do not read a request body from standard input. Without it, as in HTTPie, piped or
    /// redirected standard input is the body (JSON headers unless --form), and data items,
    /// --raw or a password prompt with it are an error. Unlike HTTPie, /dev/null (or any
    /// other character device) counts as no input.
    #[arg(short = 'I', long)]
    pub(crate) ignore_stdin: bool,
    /// Print the request instead of sending it, as HTTPie's --offline (the session is still
    /// updated with the request's headers and auth, as HTTPie does).
    #[arg(long)]
    pub(crate) offline: bool,
    /// What to print, as HTTPie's --print: any of H (request headers), B (request body),
    /// h (response headers), b (response body), m (response metadata: the elapsed time).
    /// Without it, -v, -h or -b, sessionctl prints the status line, headers and body
    /// (and --offline the request's headers and body).
    #[arg(
        short = 'p',
        long = "print",
        value_name = "WHAT",
        value_parser = super::output::parse_print,
        overrides_with_all = ["headers", "body", "print"]
    )]
    pub(crate) print: Option<super::output::Print>,
    /// Print the request as well as the response (HBhb), as HTTPie's --verbose; twice (-vv)
    /// adds the metadata (m). --print, -h and -b win over it. Implies --all.
    #[arg(short = 'v', long, action = clap::ArgAction::Count)]
    pub(crate) verbose: u8,
    /// With --follow, print the redirects followed too, as HTTPie's --all (the request of
    /// every hop is printed either way, as HTTPie does).
    #[arg(long)]
    pub(crate) all: bool,
    /// Print only the response headers (--print=h), as HTTPie's --headers.
    #[arg(short = 'h', long, overrides_with_all = ["headers", "body", "print"])]
    pub(crate) headers: bool,
    /// Print only the response body (--print=b), as HTTPie's --body.
    #[arg(short = 'b', long, overrides_with_all = ["headers", "body", "print"])]
    pub(crate) body: bool,
    /// Exit with 3 for a redirect not followed, 4 for a client error (4xx) and 5 for a server
    /// error (5xx), as HTTPie's --check-status, with a warning on standard error when standard
    /// output is not a terminal. The response is still printed and the session saved.
    #[arg(long)]
    pub(crate) check_status: bool,
    /// Give up when the server has not answered within SECONDS (each hop of a redirect); exit
    /// code 2 then, as HTTPie. The default is 30 seconds (HTTPie's is no limit).
    #[arg(long, value_name = "SECONDS", value_parser = parse_timeout)]
    pub(crate) timeout: Option<std::time::Duration>,
    /// Print help.
    #[arg(long, action = clap::ArgAction::Help)]
    pub(crate) help: Option<bool>,
    /// The method (GET, POST …), optional as in HTTPie; then the URL and request items:
    /// Header:value, Header:, Header;, Header:@file, name==value, name==@file, field=value,
    /// field=@file, field:=json, field:=@file (nested keys such as a[b][]=x in JSON mode),
    /// field@file[;type=MIME] (with --form or --multipart).
    #[arg(value_name = "METHOD URL ITEMS", required = true, num_args = 1..)]
    pub(crate) args: Vec<String>,
}

/// A positive number of seconds, as HTTPie's `--timeout` (fractions allowed).
fn parse_timeout(text: &str) -> Result<std::time::Duration, String> {
    let seconds: f64 = text
        .parse()
        .map_err(|_| format!("{text:?} is not a number of seconds"))?;
    if !(seconds.is_finite() && seconds > 0.0) {
        return Err(format!("{text:?}: the timeout must be more than 0 seconds"));
    }
    std::time::Duration::try_from_secs_f64(seconds).map_err(|e| format!("{text:?}: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timeouts_are_positive_seconds() {
        assert_eq!(
            parse_timeout("0.5"),
            Ok(std::time::Duration::from_millis(500))
        );
        assert!(parse_timeout("0").is_err());
        assert!(parse_timeout("-1").is_err());
        assert!(parse_timeout("inf").is_err());
        assert!(parse_timeout("soon").is_err());
    }
}
