//! `sessionctl`: client session files (HTTPie-compatible), server-side stores and SAP Commerce HAC.
//!
//! - `sessionctl request [--session NAME|PATH] METHOD URL [items]`: an HTTPie-style request that
//!   uses and updates an HTTPie session file (same `HTTPIE_CONFIG_DIR`, same paths, same format),
//!   or with `--session-store URL` a record in any session store, over http or https
//!   (`--verify yes|no|CA_BUNDLE`, `--cert`, `--cert-key` as in HTTPie), with HTTPie's
//!   `--print`/`-v`/`-h`/`-b`, `--check-status`, `--timeout`, standard input as the body and
//!   the password prompt of `-a USER`; `--session NAME --session-read-only BASE` starts a new
//!   session NAME from BASE.
//! - `sessionctl sessions list|show|delete|export|import|upgrade`: manage HTTPie session files.
//! - `sessionctl store … --store URL`: inspect and maintain any server-side session store.
//! - `sessionctl hac …`: SAP Commerce HAC (login, logout, Groovy, FlexibleSearch, Impex, the
//!   session cache).
//! - `sessionctl local login|status|extend|logout|prune`: a local application's login, kept in
//!   an encrypted store in the user's state directory.
//!
//! `--json` prints machine-readable output; errors are one line on standard error with a
//! non-zero exit code (2 for usage errors, 1 otherwise). `request` also exits as HTTPie does:
//! 2 on `--timeout`, 3/4/5 under `--check-status`, and 1 when standard input and data items
//! (or `--raw`) both give a body.

// The doc comments on arguments are clap's `--help` text, written for a terminal (`a[b][]=x`,
// `HAC_USERNAME_<ENV>`), not as rustdoc markup.
#![allow(rustdoc::broken_intra_doc_links, rustdoc::invalid_html_tags)]

mod form_body;
mod hac;
mod local;
mod nested_json;
mod output;
mod request;
mod request_items;
mod sealing;
mod sessions;
mod store;
mod tls;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// Manage sessions: HTTPie-compatible client sessions, server-side stores, SAP Commerce HAC.
#[derive(Debug, Parser)]
#[command(name = "sessionctl", version, about)]
struct Cli {
    /// Print JSON for scripts instead of tables and text.
    #[arg(long, global = true)]
    json: bool,
    #[command(flatten)]
    keys: sealing::KeyArgs,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Send an HTTPie-style request, using and updating an HTTPie session.
    Request(request::RequestArgs),
    /// Manage HTTPie session files (list, show, delete, export, import, upgrade).
    Sessions(sessions::SessionsArgs),
    /// Inspect and maintain a server-side session store.
    Store(store::StoreArgs),
    /// SAP Commerce HAC: log in, run Groovy, FlexibleSearch and Impex, manage cached sessions.
    Hac(hac::HacArgs),
    /// A local application's login, kept encrypted on disk (login, status, extend, logout, prune).
    Local(local::LocalArgs),
}

/// An error reported as one line.
#[derive(Debug, thiserror::Error)]
pub(crate) enum CliError {
    /// Bad arguments.
    #[error("{0}")]
    Usage(String),
    /// Something asked for does not exist.
    #[error("{0}")]
    NotFound(String),
    /// Client sessions.
    #[error(transparent)]
    Client(#[from] session_http::client::ClientError),
    /// A session store.
    #[error(transparent)]
    Core(#[from] session_core::Error),
    /// Anything else.
    #[error("{0}")]
    Other(String),
}

impl CliError {
    pub(crate) fn usage(message: impl Into<String>) -> Self {
        CliError::Usage(message.into())
    }
}

#[tokio::main]
async fn main() -> ExitCode {
    // The libraries' logs (store fallbacks, reconnects, HAC re-logins) on stderr, only when
    // asked for with RUST_LOG: the tool's own output stays as it is.
    if let Ok(filter) = tracing_subscriber::EnvFilter::try_from_default_env() {
        tracing_subscriber::fmt()
            .with_env_filter(filter)
            .with_writer(std::io::stderr)
            // Colour codes only for a person at a terminal who has not asked for none.
            .with_ansi(session_http::serve::use_colour())
            .init();
    }
    let cli = Cli::parse();
    let json = cli.json;
    let result = match cli.command {
        Command::Request(args) => request::run(args, &cli.keys, json).await,
        Command::Sessions(args) => sessions::run(args, &cli.keys, json).await,
        Command::Store(args) => store::run(args, json).await,
        Command::Hac(args) => hac::run(args, json)
            .await
            .map_err(|e| CliError::Other(e.to_string())),
        Command::Local(args) => local::run(args, &cli.keys, json).await,
    };
    match result {
        Ok(code) => code,
        Err(error) => {
            let message = error.to_string().replace('\n', " ");
            eprintln!("sessionctl: {message}");
            match error {
                CliError::Usage(_) => ExitCode::from(2),
                _ => ExitCode::FAILURE,
            }
        }
    }
}
