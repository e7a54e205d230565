//! One module per hypothesis kind; each is a pure function from the derived facts of one
//! evidence value to findings and ruled-out explanations, with its own tests and, in its top
//! comment, the PostgreSQL behaviour its signatures rely on.
//!
//! Adding a hypothesis is its file (which declares `pub const HYPOTHESIS: Hypothesis` — title,
//! whether it is a loss, the search, the advice) plus one `module: Kind` line in the
//! `hypotheses!` list below. The list declares the module, the `Kind` variant, the JSON
//! spelling (the module name), the order and the registry entry; nothing else names kinds one
//! by one.

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::analysis::finding::Hypothesis;

/// Declares every hypothesis from one `module: Kind` line each: the modules, `Kind` with its
/// variants in registry order, `Kind::ALL`, `Kind::as_str` (the module name, which is the JSON
/// spelling), `ALL` (the registered hypotheses) and, for the tests, each file's source text.
macro_rules! hypotheses {
    ($($module:ident: $kind:ident),+ $(,)?) => {
        $(pub mod $module;)+

        /// The kinds of explanation pgtriage knows, in registry order. The JSON spelling is
        /// the module name (`drop_recreate`).
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum Kind {
            $($kind),+
        }

        impl Kind {
            pub const ALL: [Kind; [$(stringify!($kind)),+].len()] = [$(Kind::$kind),+];

            /// The JSON spelling: the name of the kind's module.
            pub fn as_str(self) -> &'static str {
                match self {
                    $(Kind::$kind => stringify!($module)),+
                }
            }

            /// The kind's registry entry (its file's `HYPOTHESIS`).
            pub fn hypothesis(self) -> &'static Hypothesis {
                match self {
                    $(Kind::$kind => &$module::HYPOTHESIS),+
                }
            }
        }

        /// Every hypothesis, in registry order.
        pub const ALL: &[Hypothesis] = &[$($module::HYPOTHESIS),+];

        /// Each hypothesis file's source, for the tests that read the code.
        #[cfg(test)]
        const SOURCES: &[(&str, &str)] =
            &[$((stringify!($module), include_str!(concat!(stringify!($module), ".rs")))),+];
    };
}

// The order is the order of precedence: when two kinds describe one event exactly as well,
// the earlier (more specific) one is the finding (`consolidate`), and it breaks ties in the
// ranking. A cascade says more than the TRUNCATE or DELETE it started with; an UNLOGGED table
// emptied by crash recovery says more than the restore or statistics reset around it; "nothing
// was lost" comes last.
hypotheses! {
    cascade: Cascade,
    unlogged_crash: UnloggedCrash,
    restore: Restore,
    drop_recreate: DropRecreate,
    truncate: Truncate,
    delete: Delete,
    rollback: Rollback,
    never_populated: NeverPopulated,
    stats_reset: StatsReset,
}

/// The registered hypothesis of `kind` (every kind has one: the registry generates `Kind`).
pub fn of(kind: Kind) -> Option<&'static Hypothesis> {
    Some(kind.hypothesis())
}

impl Kind {
    /// A heading a person reads (the file's `HYPOTHESIS.title`).
    pub fn title(self) -> &'static str {
        self.hypothesis().title
    }

    /// Whether committed rows are gone when this explanation holds (the file's
    /// `HYPOTHESIS.loss`). Aborted work never became rows; a stats reset and an
    /// empty-from-the-start table lost nothing.
    pub fn is_loss(self) -> bool {
        self.hypothesis().loss
    }

    /// The kind whose JSON spelling is `name`.
    pub fn from_name(name: &str) -> Option<Kind> {
        Kind::ALL.into_iter().find(|k| k.as_str() == name)
    }
}

impl Serialize for Kind {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for Kind {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let name = std::borrow::Cow::<'de, str>::deserialize(deserializer)?;
        Kind::from_name(&name).ok_or_else(|| {
            let known: Vec<&str> = Kind::ALL.iter().map(|k| k.as_str()).collect();
            serde::de::Error::custom(format!(
                "unknown hypothesis kind `{name}` (known: {})",
                known.join(", ")
            ))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The spellings the JSON contract (schemas/report.json) has always used are kept: the
    /// module names are the snake_case of the variants.
    #[test]
    fn json_spelling_is_the_module_name() {
        for kind in Kind::ALL {
            let json = serde_json::to_string(&kind).unwrap();
            assert_eq!(json, format!("\"{}\"", kind.as_str()));
            assert_eq!(serde_json::from_str::<Kind>(&json).unwrap(), kind);
            let snake: String = format!("{kind:?}")
                .chars()
                .enumerate()
                .flat_map(|(i, c)| {
                    let sep = (i > 0 && c.is_uppercase()).then_some('_');
                    sep.into_iter().chain(c.to_lowercase())
                })
                .collect();
            assert_eq!(kind.as_str(), snake);
        }
        assert_eq!(Kind::DropRecreate.as_str(), "drop_recreate");
        assert!(serde_json::from_str::<Kind>("\"vacuum\"").is_err());
    }

    /// The JSON contract names every registered kind, and only those: a kind added to the
    /// registry fails here until schemas/report.json enumerates it.
    #[test]
    fn the_report_schema_enumerates_every_kind() {
        let schema: serde_json::Value =
            serde_json::from_str(include_str!("../../../schemas/report.json")).unwrap();
        let mut registered: Vec<&str> = Kind::ALL.iter().map(|k| k.as_str()).collect();
        registered.sort_unstable();
        for path in [
            "/properties/ruled_out_groups/items/properties/kind/enum",
            "/properties/gantt/items/properties/kind/enum",
        ] {
            let mut listed: Vec<&str> = schema
                .pointer(path)
                .and_then(|e| e.as_array())
                .unwrap_or_else(|| panic!("{path} is not in schemas/report.json"))
                .iter()
                .filter_map(|k| k.as_str())
                .collect();
            listed.sort_unstable();
            assert_eq!(listed, registered, "{path}");
        }
    }

    /// The registry and the kinds agree: every kind has exactly one hypothesis, with a title.
    #[test]
    fn every_kind_is_registered_once() {
        assert_eq!(ALL.len(), Kind::ALL.len());
        assert_eq!(SOURCES.len(), Kind::ALL.len());
        for kind in Kind::ALL {
            assert!(!kind.title().is_empty(), "{kind:?}");
            assert_eq!(ALL[kind_index(kind)].title, kind.title(), "{kind:?}");
        }
        let mut titles: Vec<&str> = ALL.iter().map(|h| h.title).collect();
        titles.sort_unstable();
        titles.dedup();
        assert_eq!(titles.len(), ALL.len(), "two hypotheses share a title");
    }

    fn kind_index(kind: Kind) -> usize {
        Kind::ALL.iter().position(|k| *k == kind).unwrap()
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
            "Kind::UnloggedCrash",
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
        for (name, text) in SOURCES {
            let code = text.split("#[cfg(test)]").next().unwrap_or(text);
            assert!(
                !code.contains("hypotheses::") && !code.contains("super::"),
                "{name}.rs imports another hypothesis"
            );
        }
    }
}
