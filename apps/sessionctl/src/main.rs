//! `sessionctl`: client session files (HTTPie-compatible), server-side stores and SAP Commerce HAC.

mod hac;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// Manage sessions: HTTPie-compatible client sessions, server-side stores, SAP Commerce HAC.
#[derive(Debug, Parser)]
#[command(name = "sessionctl", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// SAP Commerce HAC: log in, run Groovy, FlexibleSearch and Impex, manage cached sessions.
    Hac(hac::HacArgs),
}

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Hac(args) => hac::run(args).await,
    };
    match result {
        Ok(code) => code,
        Err(error) => {
            eprintln!("sessionctl: {error}");
            ExitCode::FAILURE
        }
    }
}
