//! One module per subcommand: its flags (clap `Args`) and the glue that calls gatherers,
//! analysis and rendering. No SQL, no git, no templates here.

pub mod audit;
pub mod collect;
pub mod migrations;
pub mod recover;
pub mod report;
pub mod tables;
pub mod time_flags;
pub mod timeline;
pub mod verify;
pub mod watch;

use clap::Args;

/// How to reach the database, exactly as psql users expect: `--db URL`, else `DATABASE_URL`,
/// else the libpq variables (`PGHOST`, `PGPORT`, `PGUSER`, `PGDATABASE`, `PGPASSWORD`,
/// `PGSSLMODE`) and `~/.pgpass`.
#[derive(Debug, Clone, Args)]
pub struct DbArgs {
    /// Connection URL (postgres://user@host:port/db?sslmode=…); default: DATABASE_URL, then PG* variables.
    #[arg(long = "db", value_name = "URL")]
    pub url: Option<String>,
    /// Cancel any single query after this many milliseconds.
    #[arg(long, value_name = "MS", default_value_t = 30_000)]
    pub statement_timeout: u64,
    /// Give up waiting for a lock after this many milliseconds (never queue behind a migration).
    #[arg(long, value_name = "MS", default_value_t = 2_000)]
    pub lock_timeout: u64,
    /// Give up connecting after this many seconds [default: connect_timeout in the URL or
    /// service, PGCONNECT_TIMEOUT, else 10].
    #[arg(long, value_name = "SECONDS")]
    pub connect_timeout: Option<u64>,
}

impl DbArgs {
    pub fn settings(&self) -> crate::db::ConnectionSettings {
        crate::db::ConnectionSettings {
            url: self.url.clone(),
            statement_timeout_ms: self.statement_timeout,
            lock_timeout_ms: self.lock_timeout,
            connect_timeout_s: self.connect_timeout.unwrap_or(0),
        }
    }
}

/// Where server logs come from and how to read them.
#[derive(Debug, Clone, Default, Args)]
pub struct LogArgs {
    /// Log files, directories, globs, or `-` for stdin (repeatable).
    #[arg(long = "log", value_name = "PATH", num_args = 1..)]
    pub paths: Vec<String>,
    /// stderr, csvlog, jsonlog, syslog, rds, cloudsql (default: inferred from the content).
    #[arg(long, value_name = "FORMAT")]
    pub log_format: Option<String>,
    /// The server's log_line_prefix (default: inferred, or read from the database).
    #[arg(long, value_name = "PREFIX")]
    pub log_line_prefix: Option<String>,
    /// The server's log_timezone, for timestamps without an offset (default: inferred or UTC).
    #[arg(long, value_name = "ZONE")]
    pub log_timezone: Option<String>,
    /// With --since/--until, hash the whole log file too (default: only the byte range read is
    /// hashed, and recorded as the source's read_range).
    #[arg(long)]
    pub hash_all: bool,
}
