//! The foreign-key graph of one snapshot, over the table indices of `Facts`: who references
//! whom, and what a cascade starting at a table can reach. The one traversal the cascade
//! reasoning and the TRUNCATE grouping share.

use std::collections::BTreeSet;

use crate::analysis::facts::Facts;
use crate::evidence::ForeignKey;

/// Tables (indices) referencing `roots`, directly or through each other, over the foreign keys
/// `follow` accepts and the tables `within` accepts; the roots themselves are not included.
pub fn referencing_closure(
    facts: &Facts,
    roots: &[usize],
    follow: impl Fn(&ForeignKey) -> bool,
    within: impl Fn(usize) -> bool,
) -> BTreeSet<usize> {
    let mut seen = BTreeSet::new();
    let mut frontier: Vec<usize> = roots.to_vec();
    while let Some(p) = frontier.pop() {
        for fk in facts.fks_referencing(p) {
            if !follow(fk) {
                continue;
            }
            if let Some(c) = facts.fk_child(fk)
                && !roots.contains(&c)
                && within(c)
                && seen.insert(c)
            {
                frontier.push(c);
            }
        }
    }
    seen
}

/// Whether `child` references `parent` directly.
pub fn references(facts: &Facts, child: usize, parent: usize) -> bool {
    facts
        .fks_referencing(parent)
        .iter()
        .any(|fk| facts.fk_child(fk) == Some(child))
}
