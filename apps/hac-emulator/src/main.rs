//! `hac-emulator`: serves an emulated SAP Commerce HAC under `/hac` for testing HAC clients.
//!
//! It prints `listening on http://ADDR` (`https://ADDR` with `--tls-cert`) once it accepts
//! connections (so `--listen 127.0.0.1:0` works for tests) and runs until SIGTERM or Ctrl-C. Accounts come from `--user
//! NAME` with the password in `HAC_EMULATOR_PASSWORD` (default `nimda`), or from
//! `HAC_EMULATOR_USERS="name:password,name2:password2"`.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
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
    /// Serve HTTPS with this certificate chain (PEM, leaf first; it may hold the key too).
    #[arg(long, value_name = "FILE")]
    tls_cert: Option<PathBuf>,
    /// The private key of --tls-cert (PEM), if not in the same file.
    #[arg(long, value_name = "FILE", requires = "tls_cert")]
    tls_key: Option<PathBuf>,
}

/// A rustls server configuration from PEM files.
fn tls_config(cert: &Path, key: Option<&Path>) -> Result<rustls::ServerConfig, String> {
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::{CertificateDer, PrivateKeyDer};
    let chain = CertificateDer::pem_file_iter(cert)
        .and_then(|certs| certs.collect::<Result<Vec<_>, _>>())
        .map_err(|e| format!("{}: {e}", cert.display()))?;
    if chain.is_empty() {
        return Err(format!("{}: no certificate in it", cert.display()));
    }
    let key_path = key.unwrap_or(cert);
    let key = PrivateKeyDer::from_pem_file(key_path)
        .map_err(|e| format!("{}: no private key: {e}", key_path.display()))?;
    rustls::ServerConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?
        .with_no_client_auth()
        .with_single_cert(chain, key)
        .map_err(|e| format!("{}: {e}", cert.display()))
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
    let emulator = HacEmulator::new(config);
    let bound = match &args.tls_cert {
        None => emulator.bind(args.listen).await,
        Some(cert) => match tls_config(cert, args.tls_key.as_deref()) {
            Ok(tls) => emulator.bind_tls(args.listen, Arc::new(tls)).await,
            Err(e) => {
                eprintln!("hac-emulator: TLS: {e}");
                return ExitCode::from(2);
            }
        },
    };
    let running = match bound {
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
