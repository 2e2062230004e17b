//! `sessionctl local`: one login per named local application, kept encrypted on disk.
//!
//! A program (a deploy script, a CLI wrapper) records who is logged in and until when:
//! `login APP USER --ttl 8h`, `status APP` (exit code 0 while logged in, 1 when not), `extend
//! APP --by 1h`, `logout APP`, and `prune` for every expired login. The logins live in an
//! encrypted file store (XChaCha20-Poly1305) in `$XDG_STATE_HOME/sessionctl/local` (else
//! `~/.local/state/sessionctl/local`), files 0600 in a 0700 directory, under a random key that
//! is written to `local.key` beside it (0600) the first time it is needed, or under the global
//! `--key-file`/`--key-env` keys (a passphrase stretched with Argon2id).
//!
//! Tools that derive their key from machine data (a MAC address, a hostname, a machine id)
//! protect nothing from anyone who can read those values, which every local user and every
//! backup can; a random key in a 0600 file is as strong as the file's permissions, and a
//! passphrase is as strong as the passphrase.
//!
//! Expired logins are removed whenever the store is used. A login file that cannot be read
//! (damaged, truncated, or sealed with another key) is an error naming the file, and the file
//! is moved aside to `NAME.unreadable-SECONDS` so the next login starts clean and the old bytes
//! can still be examined or decrypted with the right key.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use session_core::{
    Clock, LocalLogin, LocalSession, SessionStore, SharedClock, StoreConfig, SystemClock,
};
use session_stores::{EncryptedFileStore, Key, Keyring};

use crate::CliError;
use crate::sealing::KeyArgs;

/// Arguments of `sessionctl local`.
#[derive(Debug, clap::Args)]
pub(crate) struct LocalArgs {
    /// The directory of the encrypted login store [default: $XDG_STATE_HOME/sessionctl/local,
    /// else ~/.local/state/sessionctl/local; its key in local.key beside it].
    #[arg(long, value_name = "DIR", env = "SESSIONCTL_LOCAL_DIR")]
    dir: Option<PathBuf>,
    #[command(subcommand)]
    command: LocalCommand,
}

#[derive(Debug, clap::Subcommand)]
enum LocalCommand {
    /// Log USER in to APP for a time (replacing any current login of APP).
    Login {
        /// The application's name.
        app: String,
        /// Who logs in.
        user: String,
        /// How long the login lasts (e.g. 90s, 30m, 8h, 7d).
        #[arg(long, default_value = "8h", value_parser = parse_duration)]
        ttl: Duration,
        /// JSON data kept with the login (a token, a profile); shown only with --show-data.
        #[arg(long, value_name = "JSON")]
        data: Option<String>,
    },
    /// Show APP's login; exit code 0 while logged in, 1 when not.
    Status {
        /// The application's name.
        app: String,
        /// Include the data kept with the login.
        #[arg(long)]
        show_data: bool,
    },
    /// Move the end of APP's login later.
    Extend {
        /// The application's name.
        app: String,
        /// How much later (from the current end, or from now if that has passed).
        #[arg(long, default_value = "1h", value_parser = parse_duration)]
        by: Duration,
    },
    /// End APP's login.
    Logout {
        /// The application's name.
        app: String,
    },
    /// Remove every expired login from the store.
    Prune,
}

/// Runs `sessionctl local`.
pub(crate) async fn run(args: LocalArgs, keys: &KeyArgs, json: bool) -> Result<ExitCode, CliError> {
    let dir = match args.dir {
        Some(dir) => dir,
        None => default_dir()?,
    };
    let store = Arc::new(open_store(&dir, keys)?);
    // Expired logins go whenever the store is used, not only on `prune`.
    let pruned = store.delete_expired().await?;
    let clock: SharedClock = Arc::new(SystemClock);
    let app_session = |app: &str| LocalSession::new(store.clone(), app, clock.clone());
    match args.command {
        LocalCommand::Login {
            app,
            user,
            ttl,
            data,
        } => {
            let data: serde_json::Value = match data {
                Some(text) => serde_json::from_str(&text)
                    .map_err(|e| CliError::usage(format!("--data is not JSON: {e}")))?,
                None => serde_json::Value::Null,
            };
            let local = app_session(&app);
            // A damaged file of an earlier login is moved aside rather than overwritten
            // unseen (and the user told where); the new login is then written in its place.
            if let Err(error) = local.current().await {
                let moved = set_aside(&store, &local, error)?;
                eprintln!("sessionctl: {}", moved.to_string().replace('\n', " "));
            }
            let login = local.login(&user, &data, ttl).await?;
            print_login(&app, Some(&login), false, json)?;
            Ok(ExitCode::SUCCESS)
        }
        LocalCommand::Status { app, show_data } => {
            let local = app_session(&app);
            let login = match local.current().await {
                Ok(login) => login,
                Err(error) => return Err(set_aside(&store, &local, error)?),
            };
            print_login(&app, login.as_ref(), show_data, json)?;
            Ok(if login.is_some() {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            })
        }
        LocalCommand::Extend { app, by } => {
            let local = app_session(&app);
            if let Err(error) = local.current().await {
                return Err(set_aside(&store, &local, error)?);
            }
            match local.extend(by).await {
                Ok(_) => {}
                Err(session_core::Error::Gone { .. }) => {
                    return Err(CliError::NotFound(format!("nobody is logged in to {app}")));
                }
                Err(error) => return Err(error.into()),
            }
            let login = local.current().await?;
            print_login(&app, login.as_ref(), false, json)?;
            Ok(ExitCode::SUCCESS)
        }
        LocalCommand::Logout { app } => {
            let local = app_session(&app);
            let was_logged_in = local.logout().await?;
            if json {
                println!(
                    "{}",
                    serde_json::json!({ "app": app, "logged_out": was_logged_in })
                );
            } else if was_logged_in {
                println!("{app}: logged out");
            } else {
                println!("{app}: nobody was logged in");
            }
            Ok(ExitCode::SUCCESS)
        }
        LocalCommand::Prune => {
            if json {
                println!("{}", serde_json::json!({ "removed": pruned }));
            } else {
                println!("removed {pruned} expired login(s)");
            }
            Ok(ExitCode::SUCCESS)
        }
    }
}

/// `$XDG_STATE_HOME/sessionctl/local`, else `~/.local/state/sessionctl/local`.
fn default_dir() -> Result<PathBuf, CliError> {
    let env = |name| std::env::var_os(name).filter(|v| !v.is_empty());
    let state_home = env("XDG_STATE_HOME")
        .map(PathBuf::from)
        .or_else(|| env("HOME").map(|home| PathBuf::from(home).join(".local/state")))
        .ok_or_else(|| {
            CliError::usage("neither XDG_STATE_HOME nor HOME is set: give the store with --dir")
        })?;
    Ok(state_home.join("sessionctl").join("local"))
}

/// Opens the encrypted store in `dir` under the global keys, else under the key file beside
/// `dir`, created (random, 0600) on first use.
fn open_store(dir: &Path, keys: &KeyArgs) -> Result<EncryptedFileStore, CliError> {
    let sources = keys.sources();
    let keyring = if sources.is_empty() {
        Keyring::new(default_key(dir)?)
    } else {
        Keyring::from_sources(&sources).map_err(|e| CliError::Other(e.to_string()))?
    };
    EncryptedFileStore::with_keyring(dir, keyring, StoreConfig::default())
        .map_err(|e| CliError::Other(e.to_string()))
}

/// The key in `local.key` beside `dir`: read if it exists, else created.
fn default_key(dir: &Path) -> Result<Key, CliError> {
    let parent = dir.parent().unwrap_or(Path::new("."));
    create_private_dir(parent)?;
    let path = parent.join(format!(
        "{}.key",
        dir.file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| "local".into())
    ));
    let loaded = if path.exists() {
        Key::from_key_file(&path)
    } else {
        Key::create_key_file(&path)
    };
    loaded.map_err(|e| CliError::Other(e.to_string()))
}

/// Creates `dir` and its missing parents, the ones created with mode 0700.
fn create_private_dir(dir: &Path) -> Result<(), CliError> {
    use std::os::unix::fs::DirBuilderExt;
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .map_err(|e| CliError::Other(format!("{}: {e}", dir.display())))
}

/// Turns a failed read of `local`'s login into the error to report, moving its file aside
/// first when the file itself is unreadable (damaged, truncated, another key).
fn set_aside(
    store: &EncryptedFileStore,
    local: &LocalSession,
    error: session_core::Error,
) -> Result<CliError, CliError> {
    if !is_unreadable_record(&error) {
        return Err(error.into());
    }
    let path = store.path_of(&local.key());
    let seconds = SystemClock.now().as_millis() / 1000;
    let mut aside = path.clone().into_os_string();
    aside.push(format!(".unreadable-{seconds}"));
    let aside = PathBuf::from(aside);
    std::fs::rename(&path, &aside).map_err(|e| {
        CliError::Other(format!(
            "{error}; moving {} aside failed: {e}",
            path.display()
        ))
    })?;
    Ok(CliError::Other(format!(
        "the login file {} could not be read ({error}); it was moved to {}",
        path.display(),
        aside.display()
    )))
}

/// Whether `error` says the stored bytes are unreadable (as opposed to the store failing).
fn is_unreadable_record(error: &session_core::Error) -> bool {
    match error {
        session_core::Error::Codec(_) => true,
        session_core::Error::Backend { source, .. } => matches!(
            source.downcast_ref::<session_stores::Error>(),
            Some(
                session_stores::Error::Corrupt { .. }
                    | session_stores::Error::Tampered { .. }
                    | session_stores::Error::Truncated { .. }
                    | session_stores::Error::WrongKey { .. }
                    | session_stores::Error::UnsupportedFormat { .. }
            )
        ),
        _ => false,
    }
}

fn print_login(
    app: &str,
    login: Option<&LocalLogin>,
    show_data: bool,
    json: bool,
) -> Result<(), CliError> {
    let now = SystemClock.now();
    if json {
        let mut out = serde_json::json!({ "app": app, "logged_in": login.is_some() });
        if let Some(login) = login {
            out["principal"] = login.principal.clone().into();
            out["logged_in_at"] = login.logged_in_at.to_rfc3339().into();
            out["expires_at"] = login.expires_at.to_rfc3339().into();
            out["remaining_secs"] = login
                .expires_at
                .saturating_duration_since(now)
                .as_secs()
                .into();
            if show_data {
                out["data"] = login
                    .data::<serde_json::Value>()?
                    .unwrap_or(serde_json::Value::Null);
            }
        }
        println!("{out}");
        return Ok(());
    }
    match login {
        None => println!("{app}: not logged in"),
        Some(login) => {
            let remaining = login.expires_at.saturating_duration_since(now).as_secs();
            println!(
                "{app}: logged in as {} for {} more ({}s)",
                login.principal,
                human_duration(remaining),
                remaining
            );
            if show_data {
                let data = login
                    .data::<serde_json::Value>()?
                    .unwrap_or(serde_json::Value::Null);
                println!("data: {data}");
            }
        }
    }
    Ok(())
}

fn human_duration(seconds: u64) -> String {
    match seconds {
        s if s >= 86_400 => format!("{}d{}h", s / 86_400, (s % 86_400) / 3600),
        s if s >= 3600 => format!("{}h{}m", s / 3600, (s % 3600) / 60),
        s if s >= 60 => format!("{}m{}s", s / 60, s % 60),
        s => format!("{s}s"),
    }
}

/// Parses `90`, `90s`, `30m`, `8h` or `7d`.
fn parse_duration(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    let (number, unit) = match text.find(|c: char| !c.is_ascii_digit()) {
        Some(at) => text.split_at(at),
        None => (text, "s"),
    };
    let number: u64 = number
        .parse()
        .map_err(|_| format!("{text:?} is not a duration like 90s, 30m, 8h or 7d"))?;
    let unit_secs = match unit {
        "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 86_400,
        _ => return Err(format!("{text:?}: the unit is one of s, m, h, d")),
    };
    number
        .checked_mul(unit_secs)
        .filter(|&s| s > 0)
        .map(Duration::from_secs)
        .ok_or_else(|| format!("{text:?} is not a positive duration that fits"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn durations_in_every_unit() {
        assert_eq!(parse_duration("90"), Ok(Duration::from_secs(90)));
        assert_eq!(parse_duration("30m"), Ok(Duration::from_secs(1800)));
        assert_eq!(parse_duration("8h"), Ok(Duration::from_secs(28_800)));
        assert_eq!(parse_duration("7d"), Ok(Duration::from_secs(604_800)));
        for bad in ["", "h", "0s", "5w", "-1h", "1.5h", "99999999999999999999d"] {
            assert!(parse_duration(bad).is_err(), "{bad:?} was accepted");
        }
    }

    proptest! {
        #[test]
        fn any_duration_written_with_a_unit_reads_back(n in 1u64..1_000_000, unit in 0usize..4) {
            let (suffix, secs) = [("s", 1), ("m", 60), ("h", 3600), ("d", 86_400)][unit];
            prop_assert_eq!(parse_duration(&format!("{n}{suffix}")), Ok(Duration::from_secs(n * secs)));
        }
    }
}
