//! pgtriage: triage for the hour after data went missing from a PostgreSQL database.
//!
//! Data flows one way: `gather` reads the sources (`db`, `logs`, `migrations`, `wal`) into the
//! plain types of `evidence`; `analysis::analyze` turns evidence into an `Analysis` (findings
//! and everything the report shows); `report` renders it. Only
//! `db/` speaks sqlx, only `migrations/history.rs` speaks git2, only `report/` speaks minijinja
//! and comfy-table.

// Input comes from files and servers an attacker may control: the compiler refuses the ways
// non-test code panics on it (tests may unwrap; see clippy.toml).
#![deny(clippy::unwrap_used, clippy::expect_used)]
// Indexing and byte-range slicing (`v[i]`, `&s[..n]`) panic on short or non-ASCII input too:
// a log line, an evidence file, a migration, a WAL segment or a server's reply. No module may
// (tests may; see clippy.toml). Use `get`, slice patterns, iterators or `split_at_checked`.
#![deny(clippy::indexing_slicing, clippy::string_slice)]

pub mod analysis;
pub mod checks;
pub mod cli;
pub mod commands;
pub mod db;
pub mod error;
pub mod evidence;
pub mod gather;
pub mod io;
pub mod logs;
pub mod migrations;
pub mod recovery;
pub mod report;
pub mod wal;
pub mod watch;
