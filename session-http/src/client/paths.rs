//! Where HTTPie keeps session files, resolved exactly as HTTPie 3.2.4 does.
//!
//! - The config directory is `$HTTPIE_CONFIG_DIR`; else `~/.httpie` if it exists; else
//!   `$XDG_CONFIG_HOME/httpie`; else `~/.config/httpie` ([`httpie_config_dir`]).
//! - A session *name* (letters, digits, `_`, `.`, `-`) lives at
//!   `<config>/sessions/<host>/<name>.json`, where `<host>` is the URL's host and port *as
//!   typed* (or the `Host` header's value) with `:` replaced by `_`: `localhost:8080` →
//!   `localhost_8080`, `example.com` → `example.com` (no default port added),
//!   `Example.COM:80` → `Example.COM_80`.
//! - A session argument containing `/` is a path to the file itself (`~` expanded).

use std::path::{Path, PathBuf};

use super::error::ClientError;

/// The environment variable HTTPie reads its config directory from.
pub const HTTPIE_CONFIG_DIR_VAR: &str = "HTTPIE_CONFIG_DIR";
/// The directory of session files inside the config directory.
pub const SESSIONS_DIR_NAME: &str = "sessions";

/// HTTPie's config directory (see the [module docs](self)).
pub fn httpie_config_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os(HTTPIE_CONFIG_DIR_VAR).filter(|d| !d.is_empty()) {
        return PathBuf::from(dir);
    }
    let home = dirs::home_dir().unwrap_or_else(|| PathBuf::from("."));
    let legacy = home.join(".httpie");
    if legacy.exists() {
        return legacy;
    }
    let xdg = std::env::var_os("XDG_CONFIG_HOME")
        .filter(|d| !d.is_empty())
        .map(PathBuf::from)
        .unwrap_or_else(|| home.join(".config"));
    xdg.join("httpie")
}

/// Whether a session argument is a path (it contains a `/`) rather than a name.
pub fn is_path_session(session: &str) -> bool {
    session.contains(std::path::MAIN_SEPARATOR)
}

/// Checks a session name as HTTPie does: `^[a-zA-Z0-9_.-]+$`, or a path.
pub fn validate_session_name(session: &str) -> Result<(), ClientError> {
    let valid_name = !session.is_empty()
        && session
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-'));
    if is_path_session(session) || valid_name && session != "." && session != ".." {
        Ok(())
    } else {
        Err(ClientError::InvalidName(session.to_string()))
    }
}

/// The directory name HTTPie uses for a bound host (`host:port` as typed → `host_port`).
pub fn host_dir_name(bound_hostname: &str) -> String {
    bound_hostname.replace(':', "_")
}

/// The `host[:port]` as typed in a URL (HTTPie's `url_as_host`): the authority after any
/// `user:pass@`, with case and port kept. A URL without a scheme is taken as `http://`.
pub fn url_as_host(url: &str) -> String {
    let rest = match url.find("://") {
        Some(i) => &url[i + 3..],
        None => url,
    };
    let authority = rest.split(['/', '?', '#']).next().unwrap_or("");
    authority.rsplit('@').next().unwrap_or("").to_string()
}

/// The file of session `session` for a request whose bound host (`Host` header or
/// [`url_as_host`]) is `bound_hostname`, under `config_dir`.
pub fn session_file_path(
    config_dir: &Path,
    session: &str,
    bound_hostname: &str,
) -> Result<PathBuf, ClientError> {
    validate_session_name(session)?;
    if is_path_session(session) {
        return Ok(expand_user(session));
    }
    let host = if bound_hostname.is_empty() {
        "localhost"
    } else {
        bound_hostname
    };
    let host_dir = host_dir_name(host);
    if host_dir.contains(['/', '\\']) || host_dir == "." || host_dir == ".." {
        return Err(ClientError::InvalidUrl {
            url: bound_hostname.to_string(),
            reason: "the host cannot name a session directory".into(),
        });
    }
    Ok(config_dir
        .join(SESSIONS_DIR_NAME)
        .join(host_dir)
        .join(format!("{session}.json")))
}

/// Expands a leading `~/` to the home directory, as Python's `os.path.expanduser` does.
pub fn expand_user(path: &str) -> PathBuf {
    match (path.strip_prefix("~/"), dirs::home_dir()) {
        (Some(rest), Some(home)) => home.join(rest),
        _ if path == "~" => dirs::home_dir().unwrap_or_else(|| PathBuf::from(path)),
        _ => PathBuf::from(path),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_follow_httpie() {
        let config = Path::new("/cfg");
        assert_eq!(
            session_file_path(config, "dev", "localhost:8080").unwrap(),
            Path::new("/cfg/sessions/localhost_8080/dev.json")
        );
        assert_eq!(
            session_file_path(config, "dev", "Example.COM").unwrap(),
            Path::new("/cfg/sessions/Example.COM/dev.json")
        );
        assert_eq!(
            session_file_path(config, "./s.json", "x").unwrap(),
            Path::new("./s.json")
        );
        assert!(session_file_path(config, "bad name", "x").is_err());
        assert!(session_file_path(config, "..", "x").is_err());
        assert_eq!(
            url_as_host("http://u:p@Example.com:80/x?y"),
            "Example.com:80"
        );
        assert_eq!(url_as_host("localhost:3000/x"), "localhost:3000");
        assert_eq!(url_as_host("http://[::1]:8080/"), "[::1]:8080");
    }
}
