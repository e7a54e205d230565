//! How a finding's confidence is computed — a score, not a probability: a sum of named reasons, each worth a fixed number of
//! points from the table below (each reason counts once per finding), clamped to 0–100 and
//! divided by 100. Findings are ranked by the unclamped sum, so two that both reach 1.00 are
//! still ordered by how much evidence they have; equal sums on the same tables are reported as
//! a tie. Every line is shown in the
//! report with the fact behind it, so a reader can redo the arithmetic.
//!
//! | reason | points | meaning |
//! |---|---|---|
//! | `stats_signature` | +35 | the table counters show this kind's measured signature (pg-forensics.md §c) |
//! | `catalog_signature` | +25 | `pg_class` corroborates it (new relfilenode, reltuples −1, new oid, …) |
//! | `cluster_signature` | +35 | cluster-level facts (timeline, system identifier, stats_reset, postmaster start) show it |
//! | `log_statement` | +30 | the server log shows the statement (or server event) naming the tables |
//! | `log_committed` | +5 | … and the statement's transaction is seen to commit |
//! | `one_transaction` | +10 | the tables' catalog rows share one commit time: one transaction |
//! | `fk_linked` | +10 | the tables are joined by the foreign keys the finding names |
//! | `migration_operation` | +10 | a migration in git does this to the tables |
//! | `baseline_confirms` | +10 | the baseline shows the rows were there before |
//! | `wal_record` | +45 | the WAL shows the transaction doing it, committed (xid, commit LSN, rows): a record of the change itself outweighs a counter |
//! | `partial_fit` | −15 | it explains only part of what is missing |
//! | `log_failed` | −30 | the logged statement failed or was rolled back |
//! | `contradicted` | −40 | a fact this kind cannot produce |
//! | `wal_aborted` | −100 | the only transaction in the WAL that did it aborted: nothing was removed (ruled out) |
//!
//! The weights order the kinds of evidence the way a careful investigator does: a measured
//! signature in the server's own counters or catalog outweighs one log line (which may belong
//! to a statement that failed), and both outweigh a migration file (which may never have run).

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Reason {
    StatsSignature,
    CatalogSignature,
    ClusterSignature,
    LogStatement,
    LogCommitted,
    OneTransaction,
    FkLinked,
    MigrationOperation,
    BaselineConfirms,
    PartialFit,
    LogFailed,
    Contradicted,
    WalRecord,
    WalAborted,
}

impl Reason {
    pub const ALL: [Reason; 14] = [
        Reason::StatsSignature,
        Reason::CatalogSignature,
        Reason::ClusterSignature,
        Reason::LogStatement,
        Reason::LogCommitted,
        Reason::OneTransaction,
        Reason::FkLinked,
        Reason::MigrationOperation,
        Reason::BaselineConfirms,
        Reason::PartialFit,
        Reason::LogFailed,
        Reason::Contradicted,
        Reason::WalRecord,
        Reason::WalAborted,
    ];

    /// The points table (keep it in step with the module comment and the README).
    pub fn points(self) -> i32 {
        match self {
            Reason::StatsSignature => 35,
            Reason::CatalogSignature => 25,
            Reason::ClusterSignature => 35,
            Reason::LogStatement => 30,
            Reason::LogCommitted => 5,
            Reason::OneTransaction => 10,
            Reason::FkLinked => 10,
            Reason::MigrationOperation => 10,
            Reason::BaselineConfirms => 10,
            Reason::PartialFit => -15,
            Reason::LogFailed => -30,
            Reason::Contradicted => -40,
            Reason::WalRecord => 45,
            Reason::WalAborted => -100,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Reason::StatsSignature => "stats_signature",
            Reason::CatalogSignature => "catalog_signature",
            Reason::ClusterSignature => "cluster_signature",
            Reason::LogStatement => "log_statement",
            Reason::LogCommitted => "log_committed",
            Reason::OneTransaction => "one_transaction",
            Reason::FkLinked => "fk_linked",
            Reason::MigrationOperation => "migration_operation",
            Reason::BaselineConfirms => "baseline_confirms",
            Reason::PartialFit => "partial_fit",
            Reason::LogFailed => "log_failed",
            Reason::Contradicted => "contradicted",
            Reason::WalRecord => "wal_record",
            Reason::WalAborted => "wal_aborted",
        }
    }

    pub fn meaning(self) -> &'static str {
        match self {
            Reason::StatsSignature => "the table counters show this kind's measured signature",
            Reason::CatalogSignature => "pg_class corroborates it",
            Reason::ClusterSignature => "cluster-level facts show it",
            Reason::LogStatement => "the server log shows it",
            Reason::LogCommitted => "its transaction committed",
            Reason::OneTransaction => "the tables changed in one transaction",
            Reason::FkLinked => "the tables are joined by foreign keys",
            Reason::MigrationOperation => "a migration in git does it",
            Reason::BaselineConfirms => "the baseline shows the rows were there",
            Reason::PartialFit => "it explains only part of what is missing",
            Reason::LogFailed => "the logged statement failed or rolled back",
            Reason::Contradicted => "a fact this kind cannot produce",
            Reason::WalRecord => "the WAL shows its committed transaction",
            Reason::WalAborted => "its transaction aborted in the WAL",
        }
    }
}

/// One line of a finding's score: the reason, its points, and the fact it rests on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScoreLine {
    pub reason: Reason,
    pub points: i32,
    pub source: String,
    pub text: String,
}

impl ScoreLine {
    pub fn new(reason: Reason, source: String, text: String) -> Self {
        ScoreLine {
            reason,
            points: reason.points(),
            source,
            text,
        }
    }
}

/// Σ points, clamped to 0–100, as a fraction. Two decimals so the number never pretends to a
/// precision the table does not have.
pub fn confidence(lines: &[ScoreLine]) -> f64 {
    let sum: i32 = lines.iter().map(|l| l.points).sum();
    f64::from(sum.clamp(0, 100)) / 100.0
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(reason: Reason) -> ScoreLine {
        ScoreLine::new(reason, "stats:x".into(), String::new())
    }

    #[test]
    fn confidence_is_the_clamped_sum() {
        assert_eq!(
            confidence(&[line(Reason::StatsSignature), line(Reason::LogStatement)]),
            0.65
        );
        assert_eq!(
            confidence(&[line(Reason::LogFailed), line(Reason::MigrationOperation)]),
            0.0
        );
        let all_for: Vec<_> = Reason::ALL
            .iter()
            .filter(|r| r.points() > 0)
            .map(|r| line(*r))
            .collect();
        assert_eq!(confidence(&all_for), 1.0);
    }

    #[test]
    fn every_reason_is_documented_in_the_module_table() {
        let doc = include_str!("scoring.rs");
        for r in Reason::ALL {
            let row = format!("| `{}` | {:+} |", r.as_str(), r.points()).replace('-', "−");
            assert!(doc.contains(&row), "scoring table lacks {row}");
        }
    }
}
