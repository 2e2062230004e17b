//! `kom-gateway --config FILE`: an httpkom-compatible HTTP gateway to LysKOM servers.
//!
//! The configuration is TOML:
//!
//! ```toml
//! listen = "127.0.0.1:8080"
//! idle_timeout_secs = 1800   # optional
//! max_connections = 10000    # optional
//!
//! [[servers]]
//! id = "lyskom"
//! name = "LysKOM"
//! host = "kom.lysator.liu.se"
//! port = 4894
//! sort_order = 0             # optional
//! ```

mod config;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;
use session_lyskom::gateway::Gateway;

/// httpkom-compatible HTTP gateway to LysKOM servers.
#[derive(Parser, Debug)]
#[command(version, about)]
struct Args {
    /// The TOML configuration file.
    #[arg(long)]
    config: PathBuf,
}

fn main() -> ExitCode {
    let args = Args::parse();
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .with_writer(std::io::stderr)
        .init();
    let text = match std::fs::read_to_string(&args.config) {
        Ok(t) => t,
        Err(e) => {
            eprintln!("kom-gateway: cannot read {}: {e}", args.config.display());
            return ExitCode::from(2);
        }
    };
    let config = match config::Config::parse(&text) {
        Ok(c) => c,
        Err(e) => {
            eprintln!(
                "kom-gateway: bad configuration in {}: {e}",
                args.config.display()
            );
            return ExitCode::from(2);
        }
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("kom-gateway: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    runtime.block_on(async {
        let listener = match tokio::net::TcpListener::bind(config.listen).await {
            Ok(l) => l,
            Err(e) => {
                eprintln!("kom-gateway: cannot listen on {}: {e}", config.listen);
                return ExitCode::FAILURE;
            }
        };
        eprintln!("kom-gateway: listening on http://{}", config.listen);
        let gateway = Gateway::new(config.gateway());
        tokio::select! {
            r = gateway.serve(listener) => {
                if let Err(e) = r {
                    eprintln!("kom-gateway: {e}");
                    return ExitCode::FAILURE;
                }
                ExitCode::SUCCESS
            }
            _ = tokio::signal::ctrl_c() => ExitCode::SUCCESS,
        }
    })
}
