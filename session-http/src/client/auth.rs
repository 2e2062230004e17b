//! Credentials a client session sends: HTTP Basic or a bearer token.

use std::fmt;

use base64::Engine;

/// Credentials kept in a client session and sent as `Authorization`.
#[derive(Clone, PartialEq, Eq)]
pub enum Auth {
    /// HTTP Basic (`-a user:pass`).
    Basic {
        /// The user name.
        username: String,
        /// The password.
        password: String,
    },
    /// A bearer token (`-A bearer -a TOKEN`).
    Bearer {
        /// The token.
        token: String,
    },
}

impl Auth {
    /// Basic auth from HTTPie's `raw_auth` form `user:pass` (split at the first colon; no
    /// colon means an empty password).
    pub fn basic_from_raw(raw: &str) -> Auth {
        let (username, password) = raw.split_once(':').unwrap_or((raw, ""));
        Auth::Basic {
            username: username.to_string(),
            password: password.to_string(),
        }
    }

    /// HTTPie's name of the auth type: `basic` or `bearer`.
    pub fn kind(&self) -> &'static str {
        match self {
            Auth::Basic { .. } => "basic",
            Auth::Bearer { .. } => "bearer",
        }
    }

    /// HTTPie's `raw_auth`: `user:pass` or the token.
    pub fn raw(&self) -> String {
        match self {
            Auth::Basic { username, password } => format!("{username}:{password}"),
            Auth::Bearer { token } => token.clone(),
        }
    }

    /// The `Authorization` header value.
    pub fn header_value(&self) -> String {
        match self {
            Auth::Basic { username, password } => format!(
                "Basic {}",
                base64::engine::general_purpose::STANDARD.encode(format!("{username}:{password}"))
            ),
            Auth::Bearer { token } => format!("Bearer {token}"),
        }
    }
}

impl fmt::Debug for Auth {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Auth::Basic { username, .. } => write!(f, "Basic({username}, password: <redacted>)"),
            Auth::Bearer { .. } => f.write_str("Bearer(<redacted>)"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_values() {
        assert_eq!(
            Auth::basic_from_raw("u:p:q").header_value(),
            "Basic dTpwOnE="
        );
        assert_eq!(
            Auth::Bearer { token: "t".into() }.header_value(),
            "Bearer t"
        );
        assert!(!format!("{:?}", Auth::basic_from_raw("u:secret")).contains("secret"));
    }
}
