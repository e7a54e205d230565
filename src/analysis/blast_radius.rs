//! The FK blast radius of the tables an incident touches.

use std::collections::BTreeSet;

use serde::Serialize;

use crate::analysis::facts::Facts;

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct BlastRadius {
    pub table: String,
    /// Tables a `DELETE` on it would reach through ON DELETE CASCADE (transitively).
    pub delete_cascades_to: Vec<String>,
    /// Tables `TRUNCATE … CASCADE` on it would empty (every referencing table, transitively).
    pub truncate_cascades_to: Vec<String>,
}

/// The FK blast radius of the tables this incident touches: the same cascade reach `audit`
/// computes (`checks::audit::blast_radius_where`), for the affected and named tables, each FK
/// tree once from its top (a table inside a listed radius is part of it).
pub fn blast_radius(
    facts: &Facts,
    affected: &BTreeSet<String>,
    named: &BTreeSet<&str>,
) -> Vec<BlastRadius> {
    let wanted = |fk_name: &str| {
        facts
            .resolve(fk_name)
            .and_then(|i| facts.tables.get(i))
            .is_some_and(|t| affected.contains(&t.name) || named.contains(t.name.as_str()))
    };
    crate::checks::audit::blast_radius_where(facts.foreign_keys, wanted, true)
        .into_iter()
        .filter(|b| !b.truncate_cascade_empties.is_empty())
        .filter_map(|b| {
            let name = &facts.tables.get(facts.resolve(&b.table)?)?.name;
            Some(BlastRadius {
                table: name.clone(),
                delete_cascades_to: b.delete_cascades_to,
                truncate_cascades_to: b.truncate_cascade_empties,
            })
        })
        .collect()
}
