//! `pgtriage report`.

use std::process::ExitCode;

use clap::Args;

use crate::error::{Result, UserError};

#[derive(Debug, Args)]
pub struct ReportArgs {}

pub fn run(_args: ReportArgs) -> Result<ExitCode> {
    Err(UserError::new("`pgtriage report` is not built yet"))
}
