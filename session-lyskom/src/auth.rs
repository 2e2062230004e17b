//! Logging in to LysKOM through session-core's [`Authenticator`] trait.

use std::fmt;
use std::sync::Mutex;

use async_trait::async_trait;
use session_core::{AuthError, Authenticator, Principal};

use crate::client::{Client, ConnectOptions};
use crate::error::Error;
use crate::lookup::lookup_name;
use crate::protocol::error_code;
use crate::protocol::numbers::PersNo;

/// Who logs in: a person number or a name (looked up like httpkom does: the name must match
/// exactly one person), and the password. `Debug` never shows the password.
#[derive(Clone, PartialEq, Eq)]
pub struct LyskomCredentials {
    /// The person.
    pub person: PersonRef,
    /// The password.
    pub password: String,
}

/// A person, by number or by name.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PersonRef {
    /// By person number.
    Number(PersNo),
    /// By (a unique prefix of) the name.
    Name(String),
}

impl fmt::Debug for LyskomCredentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LyskomCredentials")
            .field("person", &self.person)
            .field("password", &"<redacted>")
            .finish()
    }
}

/// A logged-in LysKOM connection.
#[derive(Debug)]
pub struct LyskomLogin {
    /// The connection, logged in.
    pub client: Client,
    /// The person logged in as.
    pub pers_no: PersNo,
    /// The person's name.
    pub pers_name: String,
}

/// Why a name did not identify one person.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum NameLookup {
    /// Exactly one person: its number.
    Found(PersNo),
    /// Nobody matched.
    NotFound,
    /// Several persons matched.
    Ambiguous,
}

/// Looks up `name` among persons the way pylyskom does for a login by name (`#<number>`
/// names included, see [`crate::lookup`]).
pub async fn lookup_person(client: &Client, name: &str) -> Result<NameLookup, Error> {
    let matches = lookup_name(client, name, true, false).await?;
    Ok(match matches.as_slice() {
        [] => NameLookup::NotFound,
        // The lookup asked for persons only: each conference found is a letterbox.
        [one] => NameLookup::Found(one.conf_no.to_pers_no()),
        _ => NameLookup::Ambiguous,
    })
}

/// Logs in to LysKOM: on a new connection to one server per login, or on a connection that
/// is already open (the gateway's, whose connection outlives a failed login).
///
/// After a refused login, [`take_refusal`](Self::take_refusal) has the server's own error,
/// for callers that pass it on (httpkom's error bodies carry its code and status).
#[derive(Debug)]
pub struct LyskomAuthenticator {
    target: Target,
    refusal: Mutex<Option<Error>>,
}

#[derive(Clone, Debug)]
enum Target {
    Connect {
        addr: String,
        options: ConnectOptions,
    },
    Connection(Client),
}

impl Clone for LyskomAuthenticator {
    /// The same target; the clone has no refusal of its own yet.
    fn clone(&self) -> Self {
        LyskomAuthenticator {
            target: self.target.clone(),
            refusal: Mutex::new(None),
        }
    }
}

impl LyskomAuthenticator {
    /// Logs in against the server at `addr` (`host:port`), on a new connection per login.
    pub fn new(addr: impl Into<String>, options: ConnectOptions) -> Self {
        LyskomAuthenticator::with_target(Target::Connect {
            addr: addr.into(),
            options,
        })
    }

    /// Logs in on `client`, a connection already open. The connection stays open whatever
    /// the outcome, and a failed login leaves nobody logged in on it.
    pub fn on_connection(client: Client) -> Self {
        LyskomAuthenticator::with_target(Target::Connection(client))
    }

    fn with_target(target: Target) -> Self {
        LyskomAuthenticator {
            target,
            refusal: Mutex::new(None),
        }
    }

    /// The Protocol A error (or the argument LysKOM could not take) that made the last
    /// authentication fail as [`AuthError::InvalidCredentials`], [`AuthError::Denied`] or
    /// [`AuthError::Malformed`]; `None` when the server said nothing (a name that matched
    /// nobody). Errors reported as [`AuthError::Unavailable`] carry the [`Error`] as their
    /// source instead.
    pub fn take_refusal(&self) -> Option<Error> {
        self.refusal
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take()
    }

    /// The refusal `e` means, remembered for [`take_refusal`](Self::take_refusal); errors
    /// that are no refusal are [`AuthError::Unavailable`].
    fn refused(&self, e: Error) -> AuthError {
        let auth = match &e {
            Error::Server { code, .. }
                if *code == error_code::INVALID_PASSWORD
                    || *code == error_code::UNDEFINED_PERSON =>
            {
                AuthError::InvalidCredentials
            }
            Error::Server { code, .. } if *code == error_code::LOGIN_DISALLOWED => {
                AuthError::Denied("the server disallows logins now".into())
            }
            Error::InvalidArgument(m) => AuthError::Malformed(m.clone()),
            _ => return unavailable(e),
        };
        *self.refusal.lock().unwrap_or_else(|e| e.into_inner()) = Some(e);
        auth
    }
}

fn unavailable(e: Error) -> AuthError {
    AuthError::Unavailable(Box::new(e))
}

impl Principal for LyskomLogin {
    /// The person number: what the gateway's connection records as its principal.
    fn principal_name(&self) -> String {
        self.pers_no.to_string()
    }
}

#[async_trait]
impl Authenticator for LyskomAuthenticator {
    type Credentials = LyskomCredentials;
    type Identity = LyskomLogin;

    async fn authenticate(
        &self,
        credentials: &LyskomCredentials,
    ) -> Result<LyskomLogin, AuthError> {
        let client = match &self.target {
            Target::Connect { addr, options } => {
                Client::connect(addr, options).await.map_err(unavailable)?
            }
            Target::Connection(client) => client.clone(),
        };
        let pers_no = match &credentials.person {
            PersonRef::Number(n) => *n,
            PersonRef::Name(name) => match lookup_person(&client, name).await {
                Ok(NameLookup::Found(n)) => n,
                Ok(NameLookup::NotFound | NameLookup::Ambiguous) => {
                    return Err(AuthError::InvalidCredentials);
                }
                Err(e @ Error::InvalidArgument(_)) => return Err(self.refused(e)),
                Err(e) => return Err(unavailable(e)),
            },
        };
        client
            .login(pers_no, &credentials.password, false)
            .await
            .map_err(|e| self.refused(e))?;
        let pers_name = match client.get_uconf_stat(pers_no).await {
            Ok(conf) => conf.name,
            Err(e) => {
                // Logged in but not answered: log out again, so that a failed login leaves
                // nobody logged in on a connection that stays open.
                if let Target::Connection(_) = self.target {
                    let _ = client.logout().await;
                }
                return Err(unavailable(e));
            }
        };
        Ok(LyskomLogin {
            client,
            pers_no,
            pers_name,
        })
    }
}
