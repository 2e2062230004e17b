//! `sessionctl store …`: server-side session stores by URL.

use std::process::ExitCode;

use crate::CliError;

/// Arguments of `sessionctl store`.
#[derive(Debug, clap::Args)]
pub(crate) struct StoreArgs {}

/// Runs `sessionctl store …`.
pub(crate) async fn run(_args: StoreArgs, _json: bool) -> Result<ExitCode, CliError> {
    Err(CliError::Other(
        "sessionctl store is not implemented yet".into(),
    ))
}
