//! `-a` and `-A`: the credentials a request sends and saves into its session, with HTTPie's
//! password prompt for `-a USER`.

use std::io::BufRead;

use session_http::client::Auth;
use url::Url;

use super::args::{AuthType, RequestArgs};
use crate::CliError;

/// What `-a` comes to.
#[derive(Debug)]
pub(crate) enum Credentials {
    /// No `-a`.
    None,
    /// Credentials to send and save.
    Given(Auth),
    /// The password prompt met the end of its input: HTTPie then stops, successfully,
    /// sending nothing.
    PromptClosed,
}

/// The credentials of `-a`/`-A`; for basic auth without a password, the password read with
/// [`read_password`].
pub(crate) fn credentials(args: &RequestArgs, url: &Url) -> Result<Credentials, CliError> {
    let Some(raw) = &args.auth else {
        return Ok(Credentials::None);
    };
    match args.auth_type {
        AuthType::Bearer => Ok(Credentials::Given(Auth::Bearer { token: raw.clone() })),
        AuthType::Basic if raw.contains(':') => Ok(Credentials::Given(Auth::basic_from_raw(raw))),
        AuthType::Basic => {
            if args.ignore_stdin {
                // HTTPie's rule: with --ignore-stdin it will not prompt, terminal or not.
                return Err(CliError::Other(
                    "unable to prompt for passwords because --ignore-stdin is set".into(),
                ));
            }
            let prompt = format!("sessionctl: password for {raw}@{}: ", netloc(url));
            Ok(match read_password(&prompt)? {
                Some(password) => Credentials::Given(Auth::Basic {
                    username: raw.clone(),
                    password,
                }),
                None => Credentials::PromptClosed,
            })
        }
    }
}

/// `host[:port]` of a URL, as HTTPie names it in the prompt.
fn netloc(url: &Url) -> String {
    let host = url.host_str().unwrap_or_default();
    match url.port() {
        Some(port) => format!("{host}:{port}"),
        None => host.to_string(),
    }
}

/// Asks for a password as Python's `getpass` does for HTTPie: on the controlling terminal
/// without echo; without one, a line of standard input (after a warning and the prompt on
/// standard error), the rest of standard input staying the body. `None` when the input ends
/// first.
fn read_password(prompt: &str) -> Result<Option<String>, CliError> {
    if std::fs::File::open("/dev/tty").is_ok() {
        return match rpassword::prompt_password(prompt) {
            Ok(password) => Ok(Some(password)),
            Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => Ok(None),
            Err(e) => Err(CliError::Other(format!("cannot read the password: {e}"))),
        };
    }
    eprintln!("sessionctl: warning: password input may be echoed");
    eprint!("{prompt}");
    let mut line = String::new();
    let read = std::io::stdin()
        .lock()
        .read_line(&mut line)
        .map_err(|e| CliError::Other(format!("cannot read the password: {e}")))?;
    if read == 0 {
        eprintln!();
        return Ok(None);
    }
    Ok(Some(line.trim_end_matches(['\n', '\r']).to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_prompt_names_host_and_port_as_typed() {
        let url = Url::parse("http://localhost:8080/x").unwrap();
        assert_eq!(netloc(&url), "localhost:8080");
        let url = Url::parse("https://example.org/").unwrap();
        assert_eq!(netloc(&url), "example.org");
    }
}
