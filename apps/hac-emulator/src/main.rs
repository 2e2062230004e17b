//! `hac-emulator`: serves an emulated SAP Commerce HAC under `/hac` for testing HAC clients.
//!
//! It prints `listening on http://ADDR` once it accepts connections (so `--listen
//! 127.0.0.1:0` works for tests) and runs until SIGTERM or Ctrl-C. Accounts come from `--user
//! NAME` with the password in `HAC_EMULATOR_PASSWORD` (default `nimda`), or from
//! `HAC_EMULATOR_USERS="name:password,name2:password2"`.

use std::net::SocketAddr;
use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;
use session_http::hac::emulator::{EmulatorConfig, HacEmulator};

/// An emulator of SAP Commerce's HAC: form login with CSRF tokens, sessions, Groovy,
/// FlexibleSearch and Impex consoles.
#[derive(Debug, Parser)]
#[command(name = "hac-emulator", version, about)]
struct Args {
    /// Address to listen on (port 0 picks a free port).
    #[arg(long, default_value = "127.0.0.1:9001")]
    listen: SocketAddr,
    /// A user who may log in, with the password from HAC_EMULATOR_PASSWORD (default nimda).
    #[arg(long, default_value = "admin")]
    user: Vec<String>,
    /// Seconds a session may stay unused before it expires.
    #[arg(long, default_value_t = 1800)]
    idle_timeout: u64,
    /// Status for a POST with a dead session or a bad CSRF token (405 like HAC, or 403).
    #[arg(long, default_value_t = 405)]
    rejection_status: u16,
    /// Load-balancer route of this node: sets a ROUTE cookie.
    #[arg(long)]
    route: Option<String>,
}

#[tokio::main]
async fn main() -> ExitCode {
    let args = Args::parse();
    let rejection_status = match args.rejection_status {
        403 => http::StatusCode::FORBIDDEN,
        405 => http::StatusCode::METHOD_NOT_ALLOWED,
        other => {
            eprintln!("hac-emulator: --rejection-status must be 405 or 403, not {other}");
            return ExitCode::from(2);
        }
    };
    let users = match std::env::var("HAC_EMULATOR_USERS") {
        Ok(list) => list
            .split(',')
            .filter_map(|pair| pair.split_once(':'))
            .map(|(u, p)| (u.to_string(), p.to_string()))
            .collect(),
        Err(_) => {
            let password =
                std::env::var("HAC_EMULATOR_PASSWORD").unwrap_or_else(|_| "nimda".to_string());
            args.user
                .iter()
                .map(|u| (u.clone(), password.clone()))
                .collect()
        }
    };
    let config = EmulatorConfig {
        users,
        idle_timeout: Duration::from_secs(args.idle_timeout),
        rejection_status,
        route: args.route,
        ..EmulatorConfig::default()
    };
    let running = match HacEmulator::new(config).bind(args.listen).await {
        Ok(running) => running,
        Err(e) => {
            eprintln!("hac-emulator: cannot listen on {}: {e}", args.listen);
            return ExitCode::FAILURE;
        }
    };
    println!("listening on {}", running.base_url());
    let mut terminate =
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(signal) => signal,
            Err(e) => {
                eprintln!("hac-emulator: cannot watch SIGTERM: {e}");
                return ExitCode::FAILURE;
            }
        };
    tokio::select! {
        _ = terminate.recv() => {}
        _ = tokio::signal::ctrl_c() => {}
        () = running.wait() => {}
    }
    ExitCode::SUCCESS
}
