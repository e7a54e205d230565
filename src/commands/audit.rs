//! `pgtriage audit`.

use std::process::ExitCode;

use clap::Args;

use crate::error::{Result, UserError};

#[derive(Debug, Args)]
pub struct AuditArgs {}

pub fn run(_args: AuditArgs) -> Result<ExitCode> {
    Err(UserError::new("`pgtriage audit` is not built yet"))
}
