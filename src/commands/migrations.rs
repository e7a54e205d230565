//! `pgtriage migrations`.

use std::process::ExitCode;

use clap::Args;

use crate::error::{Result, UserError};

#[derive(Debug, Args)]
pub struct MigrationsArgs {}

pub fn run(_args: MigrationsArgs) -> Result<ExitCode> {
    Err(UserError::new("`pgtriage migrations` is not built yet"))
}
