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
        let store = match (name, &args.session_store) {
            (None, Some(_)) => {
                return Err(CliError::usage(
                    "--session-store needs --session or --session-read-only",
                ));
            }
            (_, Some(url)) => Some(crate::store::open(url).await?),
            (_, None) => None,
        };
        let place = |name: &str| SessionPlace::of(name, store.as_ref(), &bound_hostname);
        let (file, store_key, loaded) = match name {
            None => (None, None, None),
            Some(name) => place(name)?.open(&bare_host, sealer).await?,
        };
        let is_new = loaded.is_none();
        // A new --session starts from the --session-read-only one, which is only read.
        let inherited = match (&args.session, &args.session_read_only, is_new) {
            (Some(own), Some(base), true) if own != base => {
                let (base_file, _, base_session) = place(base)?.open(&bare_host, sealer).await?;
                drop(base_file);
                base_session
            }
            _ => None,
        };
        let mut session = loaded
            .or(inherited)
            .unwrap_or_else(|| ClientSession::new(&bare_host));
        session.set_read_only(args.session.is_none() && args.session_read_only.is_some());
        let store = store.zip(store_key);
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

/// Where a named session is kept: an HTTPie file, or a record in a session store.
enum SessionPlace {
    File(std::path::PathBuf),
    Store(Arc<dyn SessionStore>, SessionKey),
}

/// A session place opened: the file's lock (held until the session is saved), the store key,
/// and the session if it exists.
type Opened = (
    Option<SessionFile>,
    Option<SessionKey>,
    Option<ClientSession>,
);

impl SessionPlace {
    /// Where the session `name` of the host `bound_hostname` is kept.
    fn of(
        name: &str,
        store: Option<&Arc<dyn SessionStore>>,
        bound_hostname: &str,
    ) -> Result<Self, CliError> {
        Ok(match store {
            Some(store) => {
                validate_session_name(name)?;
                let key = ClientSession::store_key(&host_dir_name(bound_hostname), name);
                SessionPlace::Store(Arc::clone(store), key)
            }
            None => SessionPlace::File(session_file_path(
                &httpie_config_dir(),
                name,
                bound_hostname,
            )?),
        })
    }

    /// Locks (a file) and loads the session.
    async fn open(
        &self,
        bare_host: &str,
        sealer: Option<&dyn FileSealer>,
    ) -> Result<Opened, CliError> {
        Ok(match self {
            SessionPlace::File(path) => {
                let file = SessionFile::lock(path)?;
                let loaded = file.load_with(bare_host, sealer)?;
                (Some(file), None, loaded)
            }
            SessionPlace::Store(store, key) => {
                let loaded = ClientSession::load_from_store(store.as_ref(), key).await?;
                (None, Some(*key), loaded)
            }
        })
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
