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

use crate::analysis::finding::{Hypothesis, Kind};

/// Every hypothesis, in a fixed order (the order only matters for ties, which the ranking
/// reports as such). Each file declares its `HYPOTHESIS`: kind, search, advice.
pub const ALL: &[Hypothesis] = &[
    cascade::HYPOTHESIS,
    truncate::HYPOTHESIS,
    drop_recreate::HYPOTHESIS,
    restore::HYPOTHESIS,
    delete::HYPOTHESIS,
    rollback::HYPOTHESIS,
    stats_reset::HYPOTHESIS,
    never_populated::HYPOTHESIS,
];

/// The registered hypothesis of `kind`.
pub fn of(kind: Kind) -> Option<&'static Hypothesis> {
    ALL.iter().find(|h| h.kind == kind)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The registry and the kinds agree: every kind has exactly one hypothesis.
    #[test]
    fn every_kind_is_registered_once() {
        for kind in Kind::ALL {
            assert_eq!(ALL.iter().filter(|h| h.kind == kind).count(), 1, "{kind:?}");
        }
        assert_eq!(ALL.len(), Kind::ALL.len());
    }

    /// `advice` reads the per-kind text from the registry: it names no kind itself beyond the
    /// cross-kind rules (restore targets, dead tuples of deletes).
    #[test]
    fn advice_has_no_per_kind_text() {
        let advice = include_str!("../advice.rs");
        let code = advice.split("#[cfg(test)]").next().unwrap_or(advice);
        for kind in [
            "Kind::StatsReset",
            "Kind::Rollback",
            "Kind::DropRecreate",
            "Kind::Truncate",
        ] {
            assert!(
                !code.contains(kind),
                "advice.rs has a per-kind arm for {kind}"
            );
        }
    }

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
