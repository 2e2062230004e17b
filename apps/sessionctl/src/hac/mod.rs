//! `sessionctl hac …`: SAP Commerce HAC from the command line, sharing sessions with
//! hac-client-core / hac-client-cli.
//!
//! The target is `--url URL --user NAME [--env LABEL]`, or `-e ENV [-n ENDPOINT]` from
//! hac-client-cli's `config.toml` (`HAC_CLIENT_CONFIG_PATH`, `$XDG_CONFIG_HOME/hac-client/`,
//! `~/.config/hac-client/`); then sessions are filed under `ENV/ENDPOINT` exactly as
//! hac-client-cli files them, and the user may be left out when one session is cached there.
//! The password comes from `HAC_PASSWORD_<ENV>_<ENDPOINT>`, `HAC_PASSWORD_<ENV>` or
//! `HAC_PASSWORD`, else from standard input — and only when a login is needed. It is never
//! a flag (flags show in `ps`) and never stored.
//!
//! Sessions are cached (and reused) unless `--no-cache` is given, as hac-client-core's
//! `session_persistence=False`: then every run logs in and nothing is written. Under the
//! global `--json` every command writes its result as JSON on standard output (the `--format`
//! of a command is then ignored); messages for people stay on standard error.
//!
//! An `https://` HAC's certificate is verified against the Mozilla roots (or
//! `REQUESTS_CA_BUNDLE` / `CURL_CA_BUNDLE`, as `requests` does for hac-client-core), unless the
//! endpoint has hac-client-cli's `ignore_ssl = true`; `--verify yes|no|CA_BUNDLE` overrides
//! both, as HTTPie's flag.

mod format;
mod target;

use std::io::{IsTerminal, Read, Write};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use clap::{Subcommand, ValueEnum};
use session_core::{StoreConfig, Timestamp};
use session_http::hac::{
    CacheKey, CachedSession, FileSessionCache, FlexSearchQuery, HacClient, LoginOutcome,
    SessionCache, StoreSessionCache,
};

use target::Target;

type BoxError = Box<dyn std::error::Error>;

/// Arguments of `sessionctl hac`.
#[derive(Debug, clap::Args)]
pub(crate) struct HacArgs {
    #[command(flatten)]
    target: TargetArgs,
    #[command(subcommand)]
    command: HacCommand,
}

#[derive(Debug, clap::Args)]
struct TargetArgs {
    /// HAC base URL (e.g. http://localhost:9001); without it, the target comes from
    /// hac-client-cli's config.toml.
    #[arg(long, global = true)]
    url: Option<String>,
    /// User name (default: HAC_USERNAME_<ENV>_<ENDPOINT>, HAC_USERNAME_<ENV>, HAC_USERNAME, or
    /// the user of the one session cached for the target).
    #[arg(long, short = 'u', global = true)]
    user: Option<String>,
    /// With --url: the environment label sessions are cached under (default "local").
    /// Without --url: the environment of config.toml (default: its default_environment).
    #[arg(long = "env", short = 'e', global = true)]
    env: Option<String>,
    /// The endpoint of the environment in config.toml (default: its default_endpoint).
    #[arg(long, short = 'n', global = true)]
    endpoint: Option<String>,
    /// Directory of the session cache (default: hac-client-core's ~/.cache/hac-client).
    #[arg(long, global = true)]
    cache_dir: Option<PathBuf>,
    /// Keep sessions in this session store instead of the shared cache directory, e.g.
    /// encrypted:DIR?key_file=PATH (such sessions are not shared with hac-client-core).
    #[arg(long, global = true, conflicts_with = "cache_dir")]
    store: Option<String>,
    /// Neither read nor write cached sessions: log in for this run only (hac-client-core's
    /// session_persistence=False).
    #[arg(long, global = true, conflicts_with_all = ["cache_dir", "store"])]
    no_cache: bool,
    /// Seconds one HTTP request may take.
    #[arg(long, global = true)]
    timeout: Option<u64>,
    /// Check the server's TLS certificate: "yes" (the default, unless config.toml's endpoint
    /// has ignore_ssl = true), "no" (no check: insecure, as ignore_ssl), or the path of a CA
    /// bundle (PEM) to trust.
    #[arg(long, global = true, value_name = "yes|no|CA_BUNDLE")]
    verify: Option<String>,
}

#[derive(Debug, Subcommand)]
enum HacCommand {
    /// Log in (or validate and reuse the cached session) and cache the session.
    Login {
        /// Log in afresh even if a cached session is still valid.
        #[arg(long)]
        fresh: bool,
    },
    /// Log out at the server and drop the cached session (one the server no longer accepts is
    /// just dropped). Never logs in.
    Logout,
    /// Run a Groovy script (rolled back unless --commit).
    Groovy {
        /// The script.
        #[arg(required_unless_present = "file", conflicts_with = "file")]
        script: Option<String>,
        /// Read the script from FILE.
        #[arg(long, short = 'f')]
        file: Option<PathBuf>,
        /// Commit the script's changes.
        #[arg(long)]
        commit: bool,
        /// Output format.
        #[arg(long, value_enum, default_value_t = TextFormat::Text)]
        format: TextFormat,
    },
    /// Run a FlexibleSearch query.
    Flexsearch {
        /// The query, e.g. "SELECT {pk}, {uid} FROM {User}".
        query: String,
        /// Most rows to return.
        #[arg(long, short = 'm', default_value_t = 200)]
        max_count: u32,
        /// Locale of localized attributes.
        #[arg(long, short = 'l', default_value = "en")]
        locale: String,
        /// Output format.
        #[arg(long, value_enum, default_value_t = RowsFormat::Table)]
        format: RowsFormat,
    },
    /// Import an Impex file.
    Impex {
        /// The Impex file.
        #[arg(long, short = 'f')]
        file: PathBuf,
        /// Output format.
        #[arg(long, value_enum, default_value_t = TextFormat::Text)]
        format: TextFormat,
    },
    /// Manage cached sessions.
    Sessions {
        #[command(subcommand)]
        command: SessionsCommand,
    },
}

#[derive(Debug, Subcommand)]
enum SessionsCommand {
    /// List cached sessions (no secrets are shown).
    List {
        /// Output format.
        #[arg(long, value_enum, default_value_t = RowsFormat::Table)]
        format: RowsFormat,
    },
    /// Show the target's cached session (the session id shortened, the token hidden).
    Show {
        /// Output format.
        #[arg(long, value_enum, default_value_t = TextFormat::Text)]
        format: TextFormat,
    },
    /// Drop the target's cached session, or every cached session with --all.
    Clear {
        /// Drop every cached session.
        #[arg(long)]
        all: bool,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum TextFormat {
    Text,
    Json,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum RowsFormat {
    Table,
    Csv,
    Json,
}

fn env_var(name: &str) -> Option<String> {
    std::env::var(name).ok()
}

/// Runs `sessionctl hac …`; `json` is the global `--json`.
pub(crate) async fn run(args: HacArgs, json: bool) -> Result<ExitCode, BoxError> {
    let cache = if args.target.no_cache {
        if matches!(args.command, HacCommand::Sessions { .. }) {
            return Err("--no-cache: there are no cached sessions to manage".into());
        }
        None
    } else {
        Some(open_cache(&args.target).await?)
    };
    if let (
        Some(cache),
        HacCommand::Sessions {
            command: SessionsCommand::List { format },
        },
    ) = (&cache, &args.command)
    {
        let format = if json { RowsFormat::Json } else { *format };
        return list_sessions(cache.as_ref(), format).await;
    }
    if let (
        Some(cache),
        HacCommand::Sessions {
            command: SessionsCommand::Clear { all: true },
        },
    ) = (&cache, &args.command)
    {
        let mut cleared = 0;
        for session in cache.list().await? {
            cleared += usize::from(cache.remove(&session.key()).await?);
        }
        if json {
            println!("{}", serde_json::json!({ "cleared": cleared }));
        } else {
            eprintln!("cleared {cleared} cached HAC session(s)");
        }
        return Ok(ExitCode::SUCCESS);
    }

    let target = resolve_target(&args.target)?;
    let key = match (&target.user, &cache) {
        (Some(user), _) => CacheKey::new(&target.url, user, &target.label),
        (None, Some(cache)) => cached_key_for(cache.as_ref(), &target).await?,
        (None, None) => {
            return Err(
                "no user given (and --no-cache: no cached session to take it from); pass --user NAME or set HAC_USERNAME"
                    .into(),
            );
        }
    };

    match (args.command, cache) {
        (
            HacCommand::Sessions {
                command: SessionsCommand::Show { format },
            },
            Some(cache),
        ) => {
            let format = if json { TextFormat::Json } else { format };
            show_session(cache.as_ref(), &key, format).await
        }
        (
            HacCommand::Sessions {
                command: SessionsCommand::Clear { .. },
            },
            Some(cache),
        ) => {
            let dropped = cache.remove(&key).await?;
            if json {
                println!("{}", session_report(&key, "dropped", dropped));
            } else if dropped {
                eprintln!("dropped the cached session of {}", session_name(&key));
            } else {
                eprintln!("no cached session for {}", session_name(&key));
            }
            Ok(ExitCode::SUCCESS)
        }
        (command, cache) => {
            let client = client(&args.target, &target, key, cache)?;
            operate(&client, command, json)
                .await
                .map_err(
                    |error| match error.downcast_ref::<session_http::hac::HacError>() {
                        Some(session_http::hac::HacError::Tls { problem, .. }) => {
                            format!("{error}{}", crate::tls::hint(problem)).into()
                        }
                        _ => error,
                    },
                )
        }
    }
}

async fn open_cache(args: &TargetArgs) -> Result<Arc<dyn SessionCache>, BoxError> {
    if let Some(url) = &args.store {
        let store = session_stores::open(url, StoreConfig::default()).await?;
        return Ok(Arc::new(StoreSessionCache::new(store)));
    }
    let cache = match &args.cache_dir {
        Some(dir) => FileSessionCache::new(dir),
        None => FileSessionCache::in_default_dir()?,
    };
    Ok(Arc::new(cache))
}

fn resolve_target(args: &TargetArgs) -> Result<Target, BoxError> {
    if let Some(url) = &args.url {
        if args.endpoint.is_some() {
            return Err(
                "-n/--endpoint picks an endpoint of config.toml; it cannot go with --url".into(),
            );
        }
        let label = args.env.as_deref().unwrap_or("local");
        return Ok(target::from_url(url, args.user.as_deref(), label, &env_var));
    }
    let path = target::config_path(&env_var)
        .ok_or("no --url given and no home directory to find hac-client's config.toml in")?;
    let text = std::fs::read_to_string(&path).map_err(|e| {
        format!(
            "no --url given and hac-client's configuration {} cannot be read: {e}",
            path.display()
        )
    })?;
    let config = target::Config::parse(&text).map_err(|e| format!("{}: {e}", path.display()))?;
    Ok(target::from_config(
        &config,
        args.env.as_deref(),
        args.endpoint.as_deref(),
        args.user.as_deref(),
        &env_var,
    )?)
}

/// Without a user name: the user of the most recently used session cached for the target
/// (as hac-client-cli finds its sessions).
async fn cached_key_for(cache: &dyn SessionCache, target: &Target) -> Result<CacheKey, BoxError> {
    cache
        .list()
        .await?
        .into_iter()
        .find(|s| s.environment == target.label && s.base_url.trim_end_matches('/') == target.url)
        .map(|s| CacheKey::new(&target.url, s.username, &target.label))
        .ok_or_else(|| {
            format!(
                "no user given and no session cached for {} ({}); pass --user NAME or set HAC_USERNAME",
                target.url, target.label
            )
            .into()
        })
}

fn client(
    args: &TargetArgs,
    target: &Target,
    key: CacheKey,
    cache: Option<Arc<dyn SessionCache>>,
) -> Result<HacClient, BoxError> {
    let suffixes = target.variable_suffixes.clone();
    let password = Arc::new(move || {
        target::lookup("PASSWORD", &suffixes, &env_var).or_else(|| {
            let mut stdin = std::io::stdin();
            if stdin.is_terminal() {
                return None;
            }
            let mut text = String::new();
            stdin.read_to_string(&mut text).ok()?;
            let password = text.trim_end_matches(['\n', '\r']).to_string();
            (!password.is_empty()).then_some(password)
        })
    });
    let verify = crate::tls::verify(args.verify.as_deref(), target.ignore_ssl, &env_var);
    let transport = crate::tls::transport(verify, args.verify.is_some(), None, None)?;
    let mut client = HacClient::new(key)?
        .with_transport(transport)
        .with_password_source(password);
    // Without a cache the client keeps its session in memory only, for this run.
    if let Some(cache) = cache {
        client = client.with_cache(cache);
    }
    if let Some(seconds) = args.timeout.or(target.timeout) {
        client = client.with_timeout(Duration::from_secs(seconds));
    }
    Ok(client)
}

fn announce(client: &HacClient, outcome: LoginOutcome) {
    let key = client.key();
    match outcome {
        LoginOutcome::ReusedCached => {
            eprintln!("using the cached session of {}", session_name(key));
        }
        LoginOutcome::LoggedIn => eprintln!(
            "logged in as {} at {} ({})",
            key.username, key.base_url, key.environment
        ),
        LoginOutcome::AlreadyLoggedIn => {}
    }
}

/// How messages name the session of `key`: `user@base_url (environment)`.
fn session_name(key: &CacheKey) -> String {
    format!("{}@{} ({})", key.username, key.base_url, key.environment)
}

/// A command's `--json` report: `field: value` beside the session's user, server and
/// environment.
fn session_report(
    key: &CacheKey,
    field: &str,
    value: impl Into<serde_json::Value>,
) -> serde_json::Value {
    let mut report = serde_json::json!({
        "username": key.username,
        "base_url": key.base_url,
        "environment": key.environment,
    });
    report[field] = value.into();
    report
}

/// What `login` did, as `--json` reports it.
fn outcome_name(outcome: LoginOutcome) -> &'static str {
    match outcome {
        LoginOutcome::ReusedCached => "reused_cached",
        LoginOutcome::LoggedIn => "logged_in",
        LoginOutcome::AlreadyLoggedIn => "already_logged_in",
    }
}

async fn operate(
    client: &HacClient,
    command: HacCommand,
    json: bool,
) -> Result<ExitCode, BoxError> {
    let mut stdout = std::io::stdout().lock();
    match command {
        HacCommand::Login { fresh } => {
            if fresh && let Err(e) = client.forget().await {
                eprintln!("warning: {e}");
            }
            let outcome = client.login().await?;
            announce(client, outcome);
            if json {
                let report = session_report(client.key(), "outcome", outcome_name(outcome));
                writeln!(stdout, "{}", serde_json::to_string_pretty(&report)?)?;
            }
            Ok(ExitCode::SUCCESS)
        }
        HacCommand::Logout => {
            let had_session = client.resume().await?;
            session_core::Session::invalidate(client).await?;
            let key = client.key();
            if json {
                let report = session_report(key, "logged_out", had_session);
                writeln!(stdout, "{}", serde_json::to_string_pretty(&report)?)?;
            } else if had_session {
                eprintln!("logged out {}", session_name(key));
            } else {
                eprintln!("no session of {} to log out", session_name(key));
            }
            Ok(ExitCode::SUCCESS)
        }
        HacCommand::Groovy {
            script,
            file,
            commit,
            format,
        } => {
            let format = if json { TextFormat::Json } else { format };
            let script = match (script, file) {
                (Some(script), None) => script,
                (None, Some(file)) => std::fs::read_to_string(&file)
                    .map_err(|e| format!("cannot read {}: {e}", file.display()))?,
                _ => return Err("give the script or -f FILE, not both".into()),
            };
            announce(client, client.login().await?);
            let result = client.groovy(&script, commit).await?;
            match format {
                TextFormat::Json => {
                    writeln!(stdout, "{}", serde_json::to_string_pretty(&result)?)?;
                }
                TextFormat::Text => {
                    // As hac-client-cli: the script's output on stderr, its result on stdout.
                    if !result.output.is_empty() {
                        eprint!("{}", result.output);
                        if !result.output.ends_with('\n') {
                            eprintln!();
                        }
                    }
                    if let Some(trace) = &result.stacktrace {
                        eprintln!("the script failed:\n{trace}");
                    } else {
                        writeln!(stdout, "{}", result.result)?;
                    }
                }
            }
            Ok(if result.succeeded() {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            })
        }
        HacCommand::Flexsearch {
            query,
            max_count,
            locale,
            format,
        } => {
            let format = if json { RowsFormat::Json } else { format };
            announce(client, client.login().await?);
            let query = FlexSearchQuery::new(query)
                .max_count(max_count)
                .locale(locale);
            let result = client.flexible_search(&query).await?;
            if format == RowsFormat::Json {
                writeln!(stdout, "{}", serde_json::to_string_pretty(&result)?)?;
            } else if let Some(error) = &result.exception {
                eprintln!("FlexibleSearch failed: {}", error.message);
            } else {
                let text = match format {
                    RowsFormat::Csv => format::csv(&result.headers, &result.rows),
                    _ => format::table(&result.headers, &result.rows),
                };
                write!(stdout, "{text}")?;
                if format == RowsFormat::Table {
                    eprintln!("{} row(s)", result.result_count);
                }
            }
            Ok(if result.succeeded() {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            })
        }
        HacCommand::Impex { file, format } => {
            let format = if json { TextFormat::Json } else { format };
            let script = std::fs::read_to_string(&file)
                .map_err(|e| format!("cannot read {}: {e}", file.display()))?;
            announce(client, client.login().await?);
            let result = client.import_impex(&script).await?;
            match format {
                TextFormat::Json => {
                    writeln!(stdout, "{}", serde_json::to_string_pretty(&result)?)?;
                }
                TextFormat::Text if result.success => {
                    writeln!(stdout, "{}", result.summary)?;
                    if !result.detail.is_empty() {
                        writeln!(stdout, "{}", result.detail)?;
                    }
                }
                TextFormat::Text => {
                    eprintln!("Impex import failed: {}", result.summary);
                    for line in &result.errors {
                        eprintln!("  {line}");
                    }
                }
            }
            Ok(if result.success {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            })
        }
        HacCommand::Sessions { .. } => Err("unreachable: sessions handled above".into()),
    }
}

fn when(seconds: f64) -> String {
    let millis = (seconds * 1000.0).max(0.0) as u64;
    Timestamp::from_millis(millis).to_rfc3339()
}

fn short_secret(secret: &str) -> String {
    let prefix: String = secret.chars().take(4).collect();
    format!("{prefix}…")
}

fn public_view(session: &CachedSession) -> serde_json::Value {
    serde_json::json!({
        "environment": session.environment,
        "username": session.username,
        "base_url": session.base_url,
        "route_cookie": session.route_cookie,
        "session_id": short_secret(&session.session_id),
        "created_at": when(session.created_at),
        "last_used_at": when(session.last_used_at),
        "is_authenticated": session.is_authenticated,
        "cache_file": session.key().file_name(),
    })
}

async fn list_sessions(cache: &dyn SessionCache, format: RowsFormat) -> Result<ExitCode, BoxError> {
    let sessions = cache.list().await?;
    let mut stdout = std::io::stdout().lock();
    if format == RowsFormat::Json {
        let list: Vec<_> = sessions.iter().map(public_view).collect();
        writeln!(stdout, "{}", serde_json::to_string_pretty(&list)?)?;
        return Ok(ExitCode::SUCCESS);
    }
    let headers: Vec<String> = [
        "ENVIRONMENT",
        "USER",
        "URL",
        "ROUTE",
        "CREATED",
        "LAST USED",
    ]
    .map(str::to_string)
    .to_vec();
    let rows: Vec<Vec<String>> = sessions
        .iter()
        .map(|s| {
            vec![
                s.environment.clone(),
                s.username.clone(),
                s.base_url.clone(),
                s.route().unwrap_or("-").to_string(),
                when(s.created_at),
                when(s.last_used_at),
            ]
        })
        .collect();
    let text = match format {
        RowsFormat::Csv => format::csv(&headers, &rows),
        _ => format::table(&headers, &rows),
    };
    write!(stdout, "{text}")?;
    Ok(ExitCode::SUCCESS)
}

async fn show_session(
    cache: &dyn SessionCache,
    key: &CacheKey,
    format: TextFormat,
) -> Result<ExitCode, BoxError> {
    let Some(session) = cache.load(key).await? else {
        eprintln!("no cached session for {}", session_name(key));
        return Ok(ExitCode::FAILURE);
    };
    let view = public_view(&session);
    let mut stdout = std::io::stdout().lock();
    match format {
        TextFormat::Json => writeln!(stdout, "{}", serde_json::to_string_pretty(&view)?)?,
        TextFormat::Text => {
            if let Some(fields) = view.as_object() {
                for (name, value) in fields {
                    let value = match value {
                        serde_json::Value::String(s) => s.clone(),
                        serde_json::Value::Null => "-".to_string(),
                        other => other.to_string(),
                    };
                    writeln!(stdout, "{name:<17} {value}")?;
                }
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}
