//! One module per hypothesis kind; each is a pure function from the derived facts of one
//! evidence value to findings and ruled-out explanations, with its own tests and, in its top
//! comment, the PostgreSQL behaviour its signatures rely on.

pub mod cascade;
pub mod delete;
pub mod drop_recreate;
pub mod never_populated;
pub mod restore;
pub mod rollback;
pub mod stats_reset;
pub mod truncate;

use crate::analysis::facts::Facts;
use crate::analysis::finding::Verdict;

/// Every hypothesis, in a fixed order (the order only matters for ties, which the ranking
/// reports as such).
pub const ALL: &[fn(&Facts) -> Verdict] = &[
    cascade::hypothesize,
    truncate::hypothesize,
    drop_recreate::hypothesize,
    restore::hypothesize,
    delete::hypothesize,
    rollback::hypothesize,
    stats_reset::hypothesize,
    never_populated::hypothesize,
];

#[cfg(test)]
mod tests {
    /// No hypothesis imports another: what several share lives in `analysis::signatures`
    /// (and the cross-hypothesis rules in `analysis::consolidate`).
    #[test]
    fn no_hypothesis_imports_another() {
        let sources = [
            ("cascade", include_str!("cascade.rs")),
            ("delete", include_str!("delete.rs")),
            ("drop_recreate", include_str!("drop_recreate.rs")),
            ("never_populated", include_str!("never_populated.rs")),
            ("restore", include_str!("restore.rs")),
            ("rollback", include_str!("rollback.rs")),
            ("stats_reset", include_str!("stats_reset.rs")),
            ("truncate", include_str!("truncate.rs")),
        ];
        for (name, text) in sources {
            let code = text.split("#[cfg(test)]").next().unwrap_or(text);
            assert!(
                !code.contains("hypotheses::") && !code.contains("super::"),
                "{name}.rs imports another hypothesis"
            );
        }
    }
}
