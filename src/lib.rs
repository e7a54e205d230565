//! pgtriage: triage for the hour after data went missing from a PostgreSQL database.
//!
//! Data flows one way: gatherers (`db`, `logs`, `migrations`) fill the plain types of
//! `evidence`; `analysis` turns evidence into ranked findings; `report` renders them. Only
//! `db/` speaks sqlx, only `migrations/history.rs` speaks git2, only `report/` speaks minijinja
//! and comfy-table.

// Input comes from files and servers an attacker may control: the compiler refuses the ways
// non-test code panics on it (tests may unwrap; see clippy.toml).
#![deny(clippy::unwrap_used, clippy::expect_used)]

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
