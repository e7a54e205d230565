//! `pgtriage tables`.

use std::process::ExitCode;

use clap::Args;

use crate::error::{Result, UserError};

#[derive(Debug, Args)]
pub struct TablesArgs {}

pub fn run(_args: TablesArgs) -> Result<ExitCode> {
    Err(UserError::new("`pgtriage tables` is not built yet"))
}
