//! One parser per log format, behind one small trait. A parser turns whole lines into complete
//! `Entry`s; it never classifies and never decides what is kept.

pub mod cloudsql;
pub mod csvlog;
pub mod jsonlog;
pub mod stderr;
pub mod synthetic;
pub mod syslog;

use crate::logs::entry::EntrySink;

/// A log format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum LogFormat {
    Stderr,
    Csvlog,
    Jsonlog,
    Syslog,
    /// AWS RDS/Aurora: stderr with `%t:%r:%u@%d:[%p]:`, maybe behind a CloudWatch timestamp.
    Rds,
    /// Google Cloud SQL / Cloud Logging JSON export (`textPayload`).
    CloudSql,
}

impl LogFormat {
    pub fn parse(name: &str) -> Option<LogFormat> {
        Some(match name.trim().to_ascii_lowercase().as_str() {
            "stderr" | "plain" | "text" => LogFormat::Stderr,
            "csv" | "csvlog" => LogFormat::Csvlog,
            "json" | "jsonlog" => LogFormat::Jsonlog,
            "syslog" | "syslog2" | "rsyslog" => LogFormat::Syslog,
            "rds" | "aurora" | "cloudwatch" => LogFormat::Rds,
            "cloudsql" | "gcp" | "cloudlogging" => LogFormat::CloudSql,
            _ => return None,
        })
    }

    pub fn name(self) -> &'static str {
        match self {
            LogFormat::Stderr => "stderr",
            LogFormat::Csvlog => "csvlog",
            LogFormat::Jsonlog => "jsonlog",
            LogFormat::Syslog => "syslog",
            LogFormat::Rds => "rds",
            LogFormat::CloudSql => "cloudsql",
        }
    }

    /// Whether a file of this format can be cut at any line that starts an entry (for parallel
    /// reading and bisecting on time).
    pub fn splittable(self) -> bool {
        matches!(
            self,
            LogFormat::Stderr | LogFormat::Rds | LogFormat::Jsonlog
        )
    }
}

/// Turns blocks of whole lines into entries.
pub trait FormatParser: Send {
    /// Parses `block` (whole lines; its first line is number `first_line`), handing complete
    /// entries to `sink`. Returns how many bytes were used: an entry whose follow-up lines may be
    /// in the next block is left for the next call, unless `last`.
    fn parse(
        &mut self,
        block: &[u8],
        first_line: u64,
        last: bool,
        sink: &mut dyn EntrySink,
    ) -> usize;

    /// Whether a line can begin an entry (a place to cut a file for parallel reading).
    fn starts_entry(&self, line: &[u8]) -> bool {
        line.first().is_some_and(|c| *c != b'\t')
    }

    /// Whether an entry of many lines that grows past the cap may be cut at a line boundary
    /// and its remaining lines (until the next line where `starts_entry`) dropped. True where
    /// an entry's lines are told from the next entry's by `starts_entry` alone (stderr).
    fn caps_long_entries(&self) -> bool {
        false
    }
}
