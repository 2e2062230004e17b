//! `sessionctl hac …` (work in progress).

use std::process::ExitCode;

/// Arguments of `sessionctl hac`.
#[derive(Debug, clap::Args)]
pub(crate) struct HacArgs {}

/// Runs `sessionctl hac …`.
pub(crate) async fn run(_args: HacArgs) -> Result<ExitCode, Box<dyn std::error::Error>> {
    Err("sessionctl hac is not implemented yet".into())
}
