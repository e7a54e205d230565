//! `pgtriage verify`.

use std::process::ExitCode;

use clap::Args;

use crate::error::{Result, UserError};

#[derive(Debug, Args)]
pub struct VerifyArgs {}

pub fn run(_args: VerifyArgs) -> Result<ExitCode> {
    Err(UserError::new("`pgtriage verify` is not built yet"))
}
