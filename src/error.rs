//! The one error type that reaches the user: a one-line message saying what failed and what to
//! do, and exit code 2. Nothing else ever reaches the terminal (no panic, no backtrace).

use std::fmt;

/// An input or usage problem: unreadable file, unreachable database, bad flag value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserError {
    message: String,
}

impl UserError {
    pub fn new(message: impl Into<String>) -> Self {
        UserError {
            message: message.into(),
        }
    }

    pub fn message(&self) -> &str {
        &self.message
    }
}

impl fmt::Display for UserError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // One line, always: a multi-line driver message would break the contract.
        let one_line = self.message.replace(['\n', '\r'], " ");
        f.write_str(one_line.trim_end())
    }
}

impl std::error::Error for UserError {}

pub type Result<T, E = UserError> = std::result::Result<T, E>;
