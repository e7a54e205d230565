//! `pgtriage collect`.

use std::process::ExitCode;

use clap::Args;

use crate::error::{Result, UserError};

#[derive(Debug, Args)]
pub struct CollectArgs {}

pub fn run(_args: CollectArgs) -> Result<ExitCode> {
    Err(UserError::new("`pgtriage collect` is not built yet"))
}
