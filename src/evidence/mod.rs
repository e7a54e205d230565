//! The evidence model: plain Rust types that every gatherer fills and every analysis reads.
//!
//! This module owns the on-disk evidence file (`"format": "pgtriage-evidence/1"`). It must not
//! speak to a database, a log file or git: gatherers in `db/`, `logs/` and `migrations/` produce
//! these values, `analysis/` and `report/` consume them. Field names are a public contract: add
//! fields (with `#[serde(default)]` so older files still load), never rename or remove them.

pub mod database;
pub mod migrations;
pub mod probes;
pub mod relation;
pub mod timeline;
pub mod wal;

use std::path::Path;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

pub use database::*;
pub use migrations::*;
pub use relation::RelationName;
pub use timeline::*;
pub use wal::*;

use crate::error::UserError;

/// The value of the `format` field of every evidence file this version writes and reads.
pub const EVIDENCE_FORMAT: &str = "pgtriage-evidence/1";

/// Everything pgtriage gathered about one incident. Each source is optional: the analysis says
/// what it could not see instead of failing.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Evidence {
    pub format: String,
    pub tool_version: String,
    pub collected_at: DateTime<Utc>,
    /// What was read, in the order given: chain of custody.
    pub inputs: Vec<Input>,
    #[serde(default)]
    pub database: Option<DatabaseSnapshot>,
    #[serde(default)]
    pub timeline: Option<Timeline>,
    #[serde(default)]
    pub migrations: Option<MigrationHistory>,
    /// The database snapshot of an earlier evidence file (`--baseline`): makes "expected rows"
    /// exact arithmetic.
    #[serde(default)]
    pub baseline: Option<DatabaseSnapshot>,
    /// Problems met while gathering that did not stop it (a source that could not be read, a
    /// view the role may not see). Shown as forensic gaps.
    #[serde(default)]
    pub problems: Vec<String>,
    /// How the database session was reached: TLS, certificate checks, a pooler.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub connection: Option<SessionSecurity>,
    /// The loss transactions the write-ahead log shows (`--wal DIR` or pg_walinspect).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub wal: Option<WalEvidence>,
    /// Why no WAL was read when a database was (pg_walinspect missing or not permitted, a
    /// server before 15) and what would allow it: shown once, as a forensic gap, only when a
    /// loss the WAL would make exact is found.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub wal_unavailable: Option<WalGap>,
    /// `collect --exact-counts`: `count(*)` of the tables, smallest first, under a time budget
    /// (n_live_tup is an estimate: `verify` compares against these where they exist).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exact_counts: Option<ExactRowCounts>,
}

/// Exact row counts taken right after the snapshot, with what the budget did not allow.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExactRowCounts {
    pub budget_ms: u64,
    pub spent_ms: u64,
    /// `schema.name` → rows.
    pub counted: std::collections::BTreeMap<String, i64>,
    /// `schema.name` → why it was not counted.
    pub not_counted: std::collections::BTreeMap<String, String>,
}

/// One input of the evidence: a database, a log file, a repository, a baseline file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Input {
    /// `database`, `log`, `repository`, `baseline`.
    pub kind: String,
    /// For a database `user@host:port/dbname` (never a password); for files their path.
    pub name: String,
    /// SHA-256 (hex) of a file's bytes as read; `None` for a database or a directory.
    #[serde(default)]
    pub sha256: Option<String>,
    #[serde(default)]
    pub bytes: Option<u64>,
    /// For a repository: the commit HEAD pointed at.
    #[serde(default)]
    pub revision: Option<String>,
}

impl Evidence {
    /// An empty evidence value stamped with this tool's version and the given time.
    pub fn new(collected_at: DateTime<Utc>) -> Self {
        Evidence {
            format: EVIDENCE_FORMAT.to_string(),
            tool_version: env!("CARGO_PKG_VERSION").to_string(),
            collected_at,
            inputs: Vec::new(),
            database: None,
            timeline: None,
            migrations: None,
            baseline: None,
            problems: Vec::new(),
            connection: None,
            wal: None,
            wal_unavailable: None,
            exact_counts: None,
        }
    }

    /// Serialises deterministically: struct fields in declaration order, collections sorted by
    /// their gatherers, pretty-printed with a trailing newline.
    pub fn to_json(&self) -> String {
        let mut s = serde_json::to_string_pretty(self).unwrap_or_else(|e| {
            // Serialising plain data with string keys cannot fail; keep the reason if it ever does.
            format!("{{\"error\": \"{e}\"}}")
        });
        s.push('\n');
        s
    }

    pub fn from_json(text: &str, origin: &Path) -> Result<Self, UserError> {
        // Fast path: one typed parse (an evidence file of 10,000 tables is tens of MB). The
        // slower path below only runs to explain what is wrong.
        if let Ok(evidence) = serde_json::from_str::<Evidence>(text)
            && evidence.format == EVIDENCE_FORMAT
        {
            evidence.check_counters(origin)?;
            return Ok(evidence);
        }
        let value: serde_json::Value = serde_json::from_str(text).map_err(|e| {
            UserError::new(format!(
                "{}: not an evidence file ({e}); create one with `pgtriage collect -o FILE`",
                origin.display()
            ))
        })?;
        match value.get("format").and_then(|f| f.as_str()) {
            Some(EVIDENCE_FORMAT) => {}
            Some(other) => {
                return Err(UserError::new(format!(
                    "{}: evidence format `{other}` is not supported by this pgtriage (it reads `{EVIDENCE_FORMAT}`)",
                    origin.display()
                )));
            }
            None => {
                return Err(UserError::new(format!(
                    "{}: no `format` field; is this a pgtriage evidence file? Create one with `pgtriage collect -o FILE`",
                    origin.display()
                )));
            }
        }
        serde_json::from_value(value).map_err(|e| {
            UserError::new(format!(
                "{}: evidence file does not match {EVIDENCE_FORMAT}: {e}",
                origin.display()
            ))
        })
    }

    /// Counters PostgreSQL keeps are never negative, and none reaches 2^53 in any real
    /// database: such a value is a damaged or hand-edited file, not evidence to rank on.
    fn check_counters(&self, origin: &Path) -> Result<(), UserError> {
        const ABSURD: i64 = 1 << 53;
        for (which, snap) in [("database", &self.database), ("baseline", &self.baseline)] {
            let Some(snap) = snap else { continue };
            for t in &snap.tables {
                for (field, v) in [
                    ("n_tup_ins", t.n_tup_ins),
                    ("n_tup_upd", t.n_tup_upd),
                    ("n_tup_del", t.n_tup_del),
                    ("n_tup_hot_upd", t.n_tup_hot_upd),
                    ("n_live_tup", t.n_live_tup),
                    ("n_dead_tup", t.n_dead_tup),
                    ("n_mod_since_analyze", t.n_mod_since_analyze),
                    ("n_ins_since_vacuum", t.n_ins_since_vacuum),
                    ("vacuum_count", t.vacuum_count),
                    ("autovacuum_count", t.autovacuum_count),
                    ("analyze_count", t.analyze_count),
                    ("autoanalyze_count", t.autoanalyze_count),
                    ("size_bytes", t.size_bytes),
                    // −1: a partitioned table's relpages (PostgreSQL 14+ writes −1, no storage).
                    ("relpages", Some(t.relpages.max(0))),
                ] {
                    if let Some(v) = v
                        && !(0..ABSURD).contains(&v)
                    {
                        return Err(UserError::new(format!(
                            "{}: {which}.tables {}.{}: {field} = {v} is impossible (PostgreSQL counters are between 0 and 2^53); the file is damaged or edited: collect it again",
                            origin.display(),
                            t.schema,
                            t.name
                        )));
                    }
                }
            }
        }
        Ok(())
    }

    /// Reads an evidence file, with errors that name the file.
    pub fn load(path: &Path) -> Result<Self, UserError> {
        let text = std::fs::read_to_string(path).map_err(|e| {
            UserError::new(format!(
                "{}: cannot read evidence file: {e}",
                path.display()
            ))
        })?;
        Self::from_json(&text, path)
    }

    /// Writes the evidence file (whole or not at all: through a temporary file and a rename).
    pub fn save(&self, path: &Path) -> Result<(), UserError> {
        crate::io::write_atomically(path, self.to_json().as_bytes())
    }
}
