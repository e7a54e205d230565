//! What the write-ahead log shows: the transactions that removed rows (DELETE, TRUNCATE, DROP),
//! each with its xid, outcome, commit LSN and time, and the relation files it touched. Filled by
//! `wal/` (a directory of segments, read natively or with pg_waldump) or `db/wal.rs`
//! (pg_walinspect over the connection);
//! judged in `analysis/wal_join.rs`. Relations are kept as PostgreSQL names them in WAL
//! (relfilenode, table oid): mapping them to tables is a judgement, made at analysis time.
//! See ../shared/pg-forensics.md for the records each incident leaves.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// The WAL read for one incident.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WalEvidence {
    /// `wal_directory` (read natively), `pg_waldump` (both over `directory`) or
    /// `pg_walinspect` (over the connection).
    pub source: String,
    /// The directory read, for `pg_waldump`.
    #[serde(default)]
    pub directory: Option<String>,
    /// The major version of the WAL (from the segment header, or the server).
    #[serde(default)]
    pub major_version: Option<u32>,
    /// The system identifier in the segment headers (decimal).
    #[serde(default)]
    pub system_identifier: Option<String>,
    /// The first and last LSN read (`X/X`).
    pub start_lsn: String,
    pub end_lsn: String,
    /// Segment files read, in order (`pg_waldump`).
    #[serde(default)]
    pub segments: Vec<String>,
    /// Transactions that deleted rows, truncated or dropped relations, in commit-LSN order.
    pub transactions: Vec<WalTransaction>,
    /// Per relation file touched by those transactions: the committed row inserts and deletes
    /// seen over the whole range read, and whether the file was created inside it (then
    /// `inserted − deleted` is the exact number of rows the file held).
    #[serde(default)]
    pub files: Vec<WalFile>,
    /// What the WAL could not show (a missing segment, a truncated file, …), one line each.
    #[serde(default)]
    pub gaps: Vec<WalGap>,
    /// The incident window the read was bounded by (absent: every segment was read).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub window: Option<WalWindow>,
}

/// A WAL read bounded by the incident window: only the segments that can hold a transaction
/// ending inside it are decoded (found by probing segment starts), and only transactions ending
/// inside it are kept. `start_lsn`–`end_lsn` of the evidence is the range actually read.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WalWindow {
    #[serde(default)]
    pub since: Option<DateTime<Utc>>,
    #[serde(default)]
    pub until: Option<DateTime<Utc>>,
    /// Where the window comes from: `--since/--until`, or `logs: …` (from the earliest
    /// destructive statement the logs recorded, to now).
    pub basis: String,
    /// The standby snapshot (RUNNING_XACTS) the read is anchored to: every transaction ending
    /// after it began inside the range read, so its records are all there.
    #[serde(default)]
    pub complete_from_lsn: Option<String>,
    /// Segments of the directory not decoded because they lie outside the window.
    pub segments_skipped: u64,
    /// Segments decoded.
    pub segments_read: u64,
}

/// One transaction, with its subtransactions folded in.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WalTransaction {
    pub xid: u32,
    pub timeline: u32,
    /// `committed`, `aborted`, `prepared` (PREPARE TRANSACTION with no COMMIT/ROLLBACK
    /// PREPARED in the WAL read: in doubt), or `unfinished` (no COMMIT/ABORT in the WAL read).
    pub outcome: WalOutcome,
    /// The LSN of the transaction's first record seen.
    pub first_lsn: String,
    /// The LSN of the COMMIT (or ABORT) record: the exact recovery target.
    #[serde(default)]
    pub end_lsn: Option<String>,
    /// The commit (or abort) time the record carries.
    #[serde(default)]
    pub end_at: Option<DateTime<Utc>>,
    /// The database the records belong to (from block references and locks).
    #[serde(default)]
    pub database_oid: Option<u32>,
    /// Rows deleted and inserted per relation file (relfilenode), sorted by relfilenode.
    #[serde(default)]
    pub rows: Vec<WalRowChange>,
    /// Table oids locked AccessExclusive (`Standby LOCK`): TRUNCATE, DROP, ALTER take that lock.
    #[serde(default)]
    pub locked_oids: Vec<u32>,
    /// Relation files created (`Storage CREATE`): TRUNCATE and CREATE give a table new files.
    #[serde(default)]
    pub created_files: Vec<u32>,
    /// Relation files unlinked at commit (the COMMIT's `rels:` list): the old files of a
    /// TRUNCATE, the files of a dropped table.
    #[serde(default)]
    pub dropped_files: Vec<u32>,
    /// Statistics entries dropped with the commit (`dropped stats:`, PostgreSQL 15+): a DROP.
    #[serde(default)]
    pub dropped_stats: Vec<u32>,
    /// Table oids of `Heap TRUNCATE` (written only at `wal_level = logical`).
    #[serde(default)]
    pub truncated_oids: Vec<u32>,
    /// `Heap TRUNCATE` carried the `cascade` flag.
    #[serde(default)]
    pub truncate_cascade: bool,
    #[serde(default)]
    pub subxacts: Vec<u32>,
    /// Two-phase commit: the LSN and time of its PREPARE TRANSACTION record (its COMMIT
    /// PREPARED or ROLLBACK PREPARED is then `end_lsn`/`end_at`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prepared_lsn: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prepared_at: Option<DateTime<Utc>>,
    /// The global transaction identifier given to PREPARE TRANSACTION.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gid: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum WalOutcome {
    Committed,
    Aborted,
    /// Prepared (two-phase commit) and neither committed nor rolled back in the WAL read.
    Prepared,
    Unfinished,
}

impl WalOutcome {
    pub fn as_str(self) -> &'static str {
        match self {
            WalOutcome::Committed => "committed",
            WalOutcome::Aborted => "aborted",
            WalOutcome::Prepared => "prepared",
            WalOutcome::Unfinished => "unfinished",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WalRowChange {
    pub relfilenode: u32,
    pub deleted: u64,
    #[serde(default)]
    pub inserted: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WalFile {
    pub relfilenode: u32,
    /// LSN of its `Storage CREATE`, when inside the range read.
    #[serde(default)]
    pub created_lsn: Option<String>,
    /// Committed heap inserts and deletes over the range read.
    pub inserted: u64,
    pub deleted: u64,
}

/// Something the WAL could not show.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WalGap {
    pub what: String,
    /// The setting or input that would have shown it.
    #[serde(default)]
    pub setting: Option<String>,
}

/// `X/X` as PostgreSQL prints an LSN (`pg_lsn` output: upper-case hex, no padding).
pub fn format_lsn(lsn: u64) -> String {
    format!("{:X}/{:X}", lsn >> 32, lsn & 0xFFFF_FFFF)
}

/// Parses `X/X` (padded or not).
pub fn parse_lsn(text: &str) -> Option<u64> {
    let (hi, lo) = text.trim().split_once('/')?;
    let hi = u64::from_str_radix(hi, 16).ok()?;
    let lo = u64::from_str_radix(lo, 16).ok()?;
    (hi <= 0xFFFF_FFFF && lo <= 0xFFFF_FFFF).then_some((hi << 32) | lo)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lsn_round_trips_in_postgres_spelling() {
        assert_eq!(parse_lsn("0/01543090"), Some(0x1543090));
        assert_eq!(format_lsn(0x1543090), "0/1543090");
        assert_eq!(format_lsn(parse_lsn("1A/FF").unwrap_or(0)), "1A/FF");
        assert_eq!(parse_lsn("nope"), None);
    }
}
