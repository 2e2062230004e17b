//! `sessionctl sessions …`: HTTPie session files in HTTPie's config directory.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use serde_json::{Value, json};
use session_http::client::paths::{
    SESSIONS_DIR_NAME, host_dir_name, httpie_config_dir, is_path_session, session_file_path,
};
use session_http::client::{
    ClientSession, FileAuth, FileSealer, SessionFile, looks_like_json, write_atomic,
};

use crate::CliError;
use crate::output::{Table, progress_bar};

/// Arguments of `sessionctl sessions`.
#[derive(Debug, clap::Args)]
pub(crate) struct SessionsArgs {
    #[command(subcommand)]
    command: SessionsCommand,
}

#[derive(Debug, clap::Subcommand)]
enum SessionsCommand {
    /// List session files (all hosts, or one).
    List {
        /// Only this host (`host:port` as typed, or the directory name `host_port`).
        host: Option<String>,
    },
    /// Show a session's cookies, headers and auth.
    Show {
        /// The host (`host:port` as typed in URLs, or `host_port`).
        host: String,
        /// The session name (or a path containing '/').
        name: String,
        /// Show passwords and tokens instead of masking them.
        #[arg(long)]
        reveal: bool,
    },
    /// Delete a session file.
    Delete {
        /// The host.
        host: String,
        /// The session name.
        name: String,
    },
    /// Print a session in HTTPie's current layout (or write it to a file).
    Export {
        /// The host.
        host: String,
        /// The session name.
        name: String,
        /// Write here (0600, atomically) instead of standard output.
        #[arg(short, long)]
        output: Option<PathBuf>,
    },
    /// Import an HTTPie session file (any layout) as this session.
    Import {
        /// The host.
        host: String,
        /// The session name.
        name: String,
        /// Read from this file instead of standard input.
        #[arg(short, long)]
        input: Option<PathBuf>,
        /// Replace an existing session.
        #[arg(long)]
        force: bool,
    },
    /// Rewrite session files in a legacy layout (HTTPie < 3.2) in the current layout.
    /// Cookies without a domain are bound to the session's host.
    Upgrade {
        /// Only this host (with NAME: only that session).
        host: Option<String>,
        /// Only this session.
        name: Option<String>,
    },
}

/// Runs `sessionctl sessions …`.
pub(crate) async fn run(
    args: SessionsArgs,
    keys: &crate::sealing::KeyArgs,
    json: bool,
) -> Result<ExitCode, CliError> {
    let config = httpie_config_dir();
    let sealer = crate::sealing::sealer(keys)?;
    let sealer = sealer.as_ref().map(|s| s as &dyn FileSealer);
    match args.command {
        SessionsCommand::List { host } => list(&config, host.as_deref(), sealer, json),
        SessionsCommand::Show { host, name, reveal } => {
            show(&config, &host, &name, reveal, sealer, json)
        }
        SessionsCommand::Delete { host, name } => {
            let path = resolve(&config, &host, &name)?;
            let file = lock_existing(&path, &host, &name)?;
            if !file.delete()? {
                return Err(CliError::NotFound(format!(
                    "no session {name:?} for {host} ({})",
                    path.display()
                )));
            }
            if json {
                println!("{}", json!({"deleted": path}));
            } else {
                println!("deleted {}", path.display());
            }
            Ok(ExitCode::SUCCESS)
        }
        SessionsCommand::Export { host, name, output } => {
            let path = resolve(&config, &host, &name)?;
            let file = lock_existing(&path, &host, &name)?;
            let session = file.load_with(&host_of(&host), sealer)?.ok_or_else(|| {
                CliError::NotFound(format!(
                    "no session {name:?} for {host} ({})",
                    path.display()
                ))
            })?;
            let text = session.to_httpie_json();
            match output {
                Some(out) => write_atomic(&out, text.as_bytes())?,
                None => print!("{text}"),
            }
            Ok(ExitCode::SUCCESS)
        }
        SessionsCommand::Import {
            host,
            name,
            input,
            force,
        } => {
            let text = match &input {
                Some(path) => std::fs::read_to_string(path)
                    .map_err(|e| CliError::Other(format!("cannot read {}: {e}", path.display())))?,
                None => {
                    let mut text = String::new();
                    std::io::stdin()
                        .read_to_string(&mut text)
                        .map_err(|e| CliError::Other(format!("cannot read standard input: {e}")))?;
                    text
                }
            };
            let session = ClientSession::from_httpie_json(&text, &host_of(&host))?;
            let path = resolve(&config, &host, &name)?;
            let file = SessionFile::lock(&path)?;
            if file.exists() && !force {
                return Err(CliError::Other(format!(
                    "{} exists; pass --force to replace it",
                    path.display()
                )));
            }
            file.save_with(&session, sealer)?;
            if json {
                println!(
                    "{}",
                    json!({"imported": path, "cookies": session.cookies.len(), "headers": session.headers().len()})
                );
            } else {
                println!(
                    "imported {} ({} cookies, {} headers)",
                    path.display(),
                    session.cookies.len(),
                    session.headers().len()
                );
            }
            Ok(ExitCode::SUCCESS)
        }
        SessionsCommand::Upgrade { host, name } => {
            upgrade(&config, host.as_deref(), name.as_deref(), sealer, json)
        }
    }
}

/// Locks an existing session file; a missing one is `NotFound` (and creates nothing).
fn lock_existing(path: &Path, host: &str, name: &str) -> Result<SessionFile, CliError> {
    if !path.exists() {
        return Err(CliError::NotFound(format!(
            "no session {name:?} for {host} ({})",
            path.display()
        )));
    }
    Ok(SessionFile::lock(path)?)
}

/// The session file for HOST and NAME.
fn resolve(config: &Path, host: &str, name: &str) -> Result<PathBuf, CliError> {
    Ok(session_file_path(config, name, host)?)
}

/// The bare host (no port) of a `host:port` or `host_port` argument.
fn host_of(host: &str) -> String {
    let host = host.rsplit('@').next().unwrap_or(host);
    if let Some(rest) = host.strip_prefix('[') {
        return rest.split(']').next().unwrap_or(rest).to_string();
    }
    if let Some((name, port)) = host.rsplit_once(['_', ':'])
        && !port.is_empty()
        && port.bytes().all(|b| b.is_ascii_digit())
    {
        return name.to_string();
    }
    host.to_string()
}

struct Found {
    host_dir: String,
    name: String,
    path: PathBuf,
}

fn find_sessions(config: &Path, host: Option<&str>) -> Result<Vec<Found>, CliError> {
    let root = config.join(SESSIONS_DIR_NAME);
    let mut found = Vec::new();
    let hosts: Vec<String> = match host {
        Some(host) => vec![host_dir_name(host)],
        None => match std::fs::read_dir(&root) {
            Ok(entries) => entries
                .filter_map(Result::ok)
                .filter(|e| e.path().is_dir())
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect(),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Vec::new(),
            Err(e) => {
                return Err(CliError::Other(format!(
                    "cannot read {}: {e}",
                    root.display()
                )));
            }
        },
    };
    for host_dir in hosts {
        let dir = root.join(&host_dir);
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for entry in entries.filter_map(Result::ok) {
            let file_name = entry.file_name().to_string_lossy().into_owned();
            if let Some(name) = file_name.strip_suffix(".json")
                && !name.starts_with('.')
            {
                found.push(Found {
                    host_dir: host_dir.clone(),
                    name: name.to_string(),
                    path: entry.path(),
                });
            }
        }
    }
    found.sort_by(|a, b| (&a.host_dir, &a.name).cmp(&(&b.host_dir, &b.name)));
    Ok(found)
}

fn auth_kind(session: &ClientSession) -> String {
    match session.file_auth() {
        FileAuth::None => "-".into(),
        FileAuth::Known(auth) => auth.kind().into(),
        FileAuth::Other(value) => value
            .get("type")
            .and_then(Value::as_str)
            .unwrap_or("?")
            .to_string(),
    }
}

fn list(
    config: &Path,
    host: Option<&str>,
    sealer: Option<&dyn FileSealer>,
    json: bool,
) -> Result<ExitCode, CliError> {
    let found = find_sessions(config, host)?;
    let mut rows = Vec::new();
    let mut table = Table::new(["HOST", "NAME", "COOKIES", "HEADERS", "AUTH", "LAYOUT"]);
    for f in &found {
        let sealed = std::fs::read(&f.path).is_ok_and(|b| !looks_like_json(&b));
        let loaded = SessionFile::lock(&f.path).and_then(|file| {
            file.load_with(&host_of(&f.host_dir), sealer)?
                .ok_or_else(|| session_http::client::ClientError::Format("vanished".into()))
        });
        match loaded {
            Ok(session) => {
                let layout = if sealed {
                    "encrypted"
                } else if session.layout().is_legacy() {
                    "legacy"
                } else {
                    "current"
                };
                rows.push(json!({
                    "host": f.host_dir, "name": f.name, "path": f.path,
                    "cookies": session.cookies.len(), "headers": session.headers().len(),
                    "auth": auth_kind(&session), "layout": layout,
                }));
                table.row([
                    f.host_dir.clone(),
                    f.name.clone(),
                    session.cookies.len().to_string(),
                    session.headers().len().to_string(),
                    auth_kind(&session),
                    layout.to_string(),
                ]);
            }
            Err(e) => {
                rows.push(json!({"host": f.host_dir, "name": f.name, "path": f.path, "error": e.to_string()}));
                table.row([
                    f.host_dir.clone(),
                    f.name.clone(),
                    "?".into(),
                    "?".into(),
                    "?".into(),
                    if sealed {
                        "encrypted (no key)"
                    } else {
                        "unreadable"
                    }
                    .into(),
                ]);
            }
        }
    }
    if json {
        println!("{}", Value::Array(rows));
    } else if found.is_empty() {
        println!(
            "no sessions in {}",
            config.join(SESSIONS_DIR_NAME).display()
        );
    } else {
        table.print();
    }
    Ok(ExitCode::SUCCESS)
}

fn show(
    config: &Path,
    host: &str,
    name: &str,
    reveal: bool,
    sealer: Option<&dyn FileSealer>,
    json: bool,
) -> Result<ExitCode, CliError> {
    let path = resolve(config, host, name)?;
    let file = lock_existing(&path, host, name)?;
    let session = file.load_with(&host_of(host), sealer)?.ok_or_else(|| {
        CliError::NotFound(format!(
            "no session {name:?} for {host} ({})",
            path.display()
        ))
    })?;
    drop(file);
    if json {
        let value: Value = serde_json::from_str(&session.to_httpie_json()).unwrap_or(Value::Null);
        let mut value = value;
        if !reveal && let Some(auth) = value.get_mut("auth").and_then(Value::as_object_mut) {
            for key in ["raw_auth", "password"] {
                if auth.get(key).is_some_and(Value::is_string) {
                    auth.insert(key.into(), Value::String("********".into()));
                }
            }
        }
        println!("{value}");
        return Ok(ExitCode::SUCCESS);
    }
    println!("session {name} @ {host}  ({})", path.display());
    if session.layout().is_legacy() {
        println!("layout: legacy (run `sessionctl sessions upgrade {host} {name}`)");
    }
    println!(
        "auth: {}",
        match session.auth() {
            Some(session_http::client::Auth::Basic { username, password }) => {
                format!(
                    "basic {username}:{}",
                    if reveal {
                        password.as_str()
                    } else {
                        "********"
                    }
                )
            }
            Some(session_http::client::Auth::Bearer { token }) => {
                format!(
                    "bearer {}",
                    if reveal { token.as_str() } else { "********" }
                )
            }
            None => auth_kind(&session),
        }
    );
    println!();
    let mut headers = Table::new(["HEADER", "VALUE"]);
    for (n, v) in session.headers() {
        headers.row([n.clone(), v.clone()]);
    }
    headers.print();
    println!();
    let mut cookies = Table::new(["COOKIE", "VALUE", "DOMAIN", "PATH", "EXPIRES", "SECURE"]);
    for c in session.cookies.iter() {
        let domain = if c.host_only {
            c.domain.clone()
        } else {
            format!(".{}", c.domain)
        };
        let expires = c
            .expires
            .map(|e| {
                e.format(&time::format_description::well_known::Rfc3339)
                    .unwrap_or_default()
            })
            .unwrap_or_else(|| "session".into());
        cookies.row([
            c.name.clone(),
            c.value.clone(),
            domain,
            c.path.clone(),
            expires,
            c.secure.to_string(),
        ]);
    }
    cookies.print();
    Ok(ExitCode::SUCCESS)
}

fn upgrade(
    config: &Path,
    host: Option<&str>,
    name: Option<&str>,
    sealer: Option<&dyn FileSealer>,
    json: bool,
) -> Result<ExitCode, CliError> {
    let targets: Vec<Found> = match (host, name) {
        (Some(host), Some(name)) => vec![Found {
            host_dir: host_dir_name(host),
            name: name.to_string(),
            path: resolve(config, host, name)?,
        }],
        (host, None) => find_sessions(config, host)?,
        (None, Some(_)) => return Err(CliError::usage("a session name needs a host")),
    };
    let bar = progress_bar(targets.len() as u64, "upgrading", json);
    let mut report = Vec::new();
    let mut failed = false;
    for target in &targets {
        bar.inc(1);
        let outcome = (|| -> Result<&'static str, CliError> {
            let file = SessionFile::lock(&target.path)?;
            let sealed = std::fs::read(&target.path).is_ok_and(|b| !looks_like_json(&b));
            let session = file
                .load_with(&host_of(&target.host_dir), sealer)?
                .ok_or_else(|| {
                    CliError::NotFound(format!("{} does not exist", target.path.display()))
                })?;
            if !session.layout().is_legacy() {
                return Ok("up to date");
            }
            file.save_with(&session, if sealed { sealer } else { None })?;
            Ok("upgraded")
        })();
        let label = if is_path_session(&target.name) {
            target.name.clone()
        } else {
            format!("{} @ {}", target.name, target.host_dir)
        };
        match outcome {
            Ok(state) => {
                if !json {
                    bar.println(format!("{label}: {state}"));
                }
                report.push(json!({"host": target.host_dir, "name": target.name, "result": state}));
            }
            Err(e) => {
                failed = true;
                if !json {
                    bar.println(format!("{label}: error: {e}"));
                }
                report.push(
                    json!({"host": target.host_dir, "name": target.name, "error": e.to_string()}),
                );
            }
        }
    }
    bar.finish_and_clear();
    if json {
        println!("{}", Value::Array(report));
    }
    Ok(if failed {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}
