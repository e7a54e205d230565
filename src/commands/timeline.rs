//! `pgtriage timeline`.

use std::process::ExitCode;

use clap::Args;

use crate::error::{Result, UserError};

#[derive(Debug, Args)]
pub struct TimelineArgs {}

pub fn run(_args: TimelineArgs) -> Result<ExitCode> {
    Err(UserError::new("`pgtriage timeline` is not built yet"))
}
