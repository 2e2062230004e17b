//! The HTTPie session a request uses: found as HTTPie finds it, loaded, and saved when HTTPie
//! would save it.

use serde_json::Value;
use session_http::client::paths::{httpie_config_dir, session_file_path, url_as_host};
use session_http::client::{ClientSession, FileAuth, FileSealer, SessionFile};

use super::args::RequestArgs;
use super::parse::Parsed;
use crate::CliError;

/// The session of one request and the file it lives in, if it has one.
pub(crate) struct RequestSession {
    /// The session (an empty one bound to the host without `--session`).
    pub(crate) session: ClientSession,
    file: Option<SessionFile>,
    is_new: bool,
}

impl RequestSession {
    /// Locks and loads the session the arguments name; a new, empty one when its file does
    /// not exist yet or none is named.
    pub(crate) fn open(
        args: &RequestArgs,
        parsed: &Parsed,
        sealer: Option<&dyn FileSealer>,
    ) -> Result<Self, CliError> {
        // The host a session is bound to: the Host header if given, else the URL's
        // host:port as typed.
        let bound_hostname = parsed
            .host_header()
            .unwrap_or_else(|| url_as_host(&parsed.typed_url));
        let bare_host = strip_port(&bound_hostname);
        let name = args.session.as_ref().or(args.session_read_only.as_ref());
        let file = match name {
            Some(name) => {
                let path = session_file_path(&httpie_config_dir(), name, &bound_hostname)?;
                Some(SessionFile::lock(&path)?)
            }
            None => None,
        };
        let loaded = match &file {
            Some(file) => file.load_with(&bare_host, sealer)?,
            None => None,
        };
        let is_new = loaded.is_none();
        let mut session = loaded.unwrap_or_else(|| ClientSession::new(&bare_host));
        session.set_read_only(args.session_read_only.is_some());
        Ok(RequestSession {
            session,
            file,
            is_new,
        })
    }

    /// Warns when the session holds an auth this tool cannot send (and `-a` does not replace).
    pub(crate) fn warn_about_foreign_auth(&self, auth_given: bool) {
        if let FileAuth::Other(auth) = self.session.file_auth()
            && !auth_given
        {
            let kind = auth.get("type").and_then(Value::as_str).unwrap_or("?");
            eprintln!(
                "sessionctl: warning: the session's {kind:?} auth is not supported here and is not sent (it is kept in the file)"
            );
        }
    }

    /// Saves the session as HTTPie does after an exchange: always, except a read-only
    /// session that already existed.
    pub(crate) fn save(&self, sealer: Option<&dyn FileSealer>) -> Result<(), CliError> {
        if let Some(file) = &self.file
            && (self.is_new || !self.session.is_read_only())
        {
            file.save_with(&self.session, sealer)?;
        }
        Ok(())
    }
}

/// The host of `host[:port]` or `[v6]:port`, without the port.
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ports_are_stripped_from_names_and_addresses() {
        assert_eq!(strip_port("example.org:8080"), "example.org");
        assert_eq!(strip_port("example.org"), "example.org");
        assert_eq!(strip_port("[::1]:8080"), "::1");
    }
}
