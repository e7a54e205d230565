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
