//! `session-server`: the reference web server. See the crate docs of `session_server`.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;
use session_server::{Config, serve, users};

/// The reference session web server: login, session pages, a JSON API, on any session store.
#[derive(Debug, Parser)]
#[command(version)]
struct Args {
    /// Session store URL: memory:, file:DIR, sqlite:PATH, redis://HOST:PORT/…, encrypted:DIR.
    /// Default: a SQLite file in the data directory.
    #[arg(long, env = "SESSION_SERVER_STORE")]
    store: Option<String>,
    /// Directory of the default SQLite store (default: the user's data directory).
    #[arg(long)]
    data_dir: Option<PathBuf>,
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:8080")]
    listen: SocketAddr,
    /// An account as NAME:PASSWORD (repeatable). The password is hashed with Argon2id at
    /// start-up and never logged.
    #[arg(long = "user", value_name = "NAME:PASSWORD")]
    users: Vec<String>,
    /// A file of NAME:ARGON2_HASH lines (make hashes with --hash-password).
    #[arg(long = "users", value_name = "FILE")]
    users_file: Option<PathBuf>,
    /// Idle timeout in seconds.
    #[arg(long, default_value_t = 1800)]
    idle_secs: u64,
    /// Absolute timeout in seconds.
    #[arg(long, default_value_t = 43200)]
    absolute_secs: u64,
    /// Secure cookies: true, false, or auto (secure unless listening on loopback).
    #[arg(long, default_value = "auto")]
    secure_cookies: String,
    /// When the store fails, carry on without a session instead of answering 503.
    #[arg(long)]
    continue_on_store_failure: bool,
    /// Read a password from standard input, print its Argon2id hash for a users file, exit.
    #[arg(long)]
    hash_password: bool,
}

#[tokio::main]
async fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    let args = Args::parse();
    if args.hash_password {
        let mut password = String::new();
        if std::io::stdin().read_line(&mut password).is_err() {
            eprintln!("session-server: cannot read a password from standard input");
            return ExitCode::FAILURE;
        }
        return match users::hash_password(password.trim_end_matches(['\r', '\n'])) {
            Ok(hash) => {
                println!("{hash}");
                ExitCode::SUCCESS
            }
            Err(error) => {
                eprintln!("session-server: {error}");
                ExitCode::FAILURE
            }
        };
    }
    let secure_cookies = match args.secure_cookies.as_str() {
        "auto" => None,
        "true" => Some(true),
        "false" => Some(false),
        other => {
            eprintln!("session-server: --secure-cookies takes true, false or auto, not {other:?}");
            return ExitCode::FAILURE;
        }
    };
    let config = Config {
        store: args.store,
        data_dir: args.data_dir,
        listen: args.listen,
        users: args.users,
        users_file: args.users_file,
        idle: Duration::from_secs(args.idle_secs),
        absolute: Duration::from_secs(args.absolute_secs),
        secure_cookies,
        continue_on_store_failure: args.continue_on_store_failure,
    };
    match serve(config).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("session-server: {error}");
            ExitCode::FAILURE
        }
    }
}
