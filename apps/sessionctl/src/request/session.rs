//! The HTTPie session a request uses: found as HTTPie finds it, loaded, and saved when HTTPie
//! would save it.

use std::sync::Arc;

use serde_json::Value;
use session_core::{SessionKey, SessionStore, StoreConfig};
use session_http::client::paths::{
    host_dir_name, httpie_config_dir, session_file_path, url_as_host, validate_session_name,
};
use session_http::client::{ClientSession, FileAuth, FileSealer, SessionFile};

use super::args::RequestArgs;
use super::parse::Parsed;
use crate::CliError;

/// The session of one request and the file it lives in, if it has one.
pub(crate) struct RequestSession {
    /// The session (an empty one bound to the host without `--session`).
    pub(crate) session: ClientSession,
    file: Option<SessionFile>,
    store: Option<(Arc<dyn SessionStore>, SessionKey)>,
    is_new: bool,
}

impl RequestSession {
    /// Locks and loads the session the arguments name (from its file, or from
    /// `--session-store`); a new, empty one when it does not exist yet or none is named.
    pub(crate) async fn open(
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
        let (file, store, loaded) = match (name, &args.session_store) {
            (None, Some(_)) => {
                return Err(CliError::usage(
                    "--session-store needs --session or --session-read-only",
                ));
            }
            (None, None) => (None, None, None),
            (Some(name), Some(url)) => {
                validate_session_name(name)?;
                let store = crate::store::open(url).await?;
                let key = ClientSession::store_key(&host_dir_name(&bound_hostname), name);
                let loaded = ClientSession::load_from_store(store.as_ref(), &key).await?;
                (None, Some((store, key)), loaded)
            }
            (Some(name), None) => {
                let path = session_file_path(&httpie_config_dir(), name, &bound_hostname)?;
                let file = SessionFile::lock(&path)?;
                let loaded = file.load_with(&bare_host, sealer)?;
                (Some(file), None, loaded)
            }
        };
        let is_new = loaded.is_none();
        let mut session = loaded.unwrap_or_else(|| ClientSession::new(&bare_host));
        session.set_read_only(args.session_read_only.is_some());
        Ok(RequestSession {
            session,
            file,
            store,
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
    pub(crate) async fn save(&self, sealer: Option<&dyn FileSealer>) -> Result<(), CliError> {
        if !self.is_new && self.session.is_read_only() {
            return Ok(());
        }
        if let Some(file) = &self.file {
            file.save_with(&self.session, sealer)?;
        }
        if let Some((store, key)) = &self.store {
            let mut session = self.session.clone();
            session.set_read_only(false);
            session
                .save_to_store(store.as_ref(), *key, &StoreConfig::default())
                .await?;
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
