//! Logging in to LysKOM through session-core's [`Authenticator`] trait.

use std::fmt;

use async_trait::async_trait;
use session_core::{AuthError, Authenticator};

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

/// Opens a connection to one LysKOM server per login.
#[derive(Clone, Debug)]
pub struct LyskomAuthenticator {
    addr: String,
    options: ConnectOptions,
}

impl LyskomAuthenticator {
    /// Logs in against the server at `addr` (`host:port`).
    pub fn new(addr: impl Into<String>, options: ConnectOptions) -> Self {
        LyskomAuthenticator {
            addr: addr.into(),
            options,
        }
    }
}

fn unavailable(e: Error) -> AuthError {
    AuthError::Unavailable(Box::new(e))
}

#[async_trait]
impl Authenticator for LyskomAuthenticator {
    type Credentials = LyskomCredentials;
    type Identity = LyskomLogin;

    async fn authenticate(
        &self,
        credentials: &LyskomCredentials,
    ) -> Result<LyskomLogin, AuthError> {
        let client = Client::connect(&self.addr, &self.options)
            .await
            .map_err(unavailable)?;
        let pers_no = match &credentials.person {
            PersonRef::Number(n) => *n,
            PersonRef::Name(name) => match lookup_person(&client, name).await {
                Ok(NameLookup::Found(n)) => n,
                Ok(NameLookup::NotFound | NameLookup::Ambiguous) => {
                    return Err(AuthError::InvalidCredentials);
                }
                Err(Error::InvalidArgument(m)) => return Err(AuthError::Malformed(m)),
                Err(e) => return Err(unavailable(e)),
            },
        };
        match client.login(pers_no, &credentials.password, false).await {
            Ok(()) => {}
            Err(Error::Server { code, .. })
                if code == error_code::INVALID_PASSWORD || code == error_code::UNDEFINED_PERSON =>
            {
                return Err(AuthError::InvalidCredentials);
            }
            Err(Error::Server { code, .. }) if code == error_code::LOGIN_DISALLOWED => {
                return Err(AuthError::Denied("the server disallows logins now".into()));
            }
            Err(Error::InvalidArgument(m)) => return Err(AuthError::Malformed(m)),
            Err(e) => return Err(unavailable(e)),
        }
        let pers_name = client
            .get_uconf_stat(pers_no)
            .await
            .map_err(unavailable)?
            .name;
        Ok(LyskomLogin {
            client,
            pers_no,
            pers_name,
        })
    }
}
