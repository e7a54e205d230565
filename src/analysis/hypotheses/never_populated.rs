//! `never_populated`: an empty table that never held rows (the seed 000 case). Not a loss.
//!
//! PostgreSQL behaviour relied on (pg-forensics.md, scenario 12): a table created and never
//! written has every counter at 0 (`n_tup_ins`, `n_tup_upd`, `n_tup_del`, `n_live_tup`,
//! `n_dead_tup`), every `last_*` NULL unless a vacuum ran, `reltuples = −1` (0 after a VACUUM),
//! `relpages = 0` and relfilenode = oid (never truncated). A DROP + CREATE without inserts
//! looks the same, which the log, the migrations or a baseline with a different oid tell apart;
//! so does a stats reset, whose tables keep `reltuples > 0`.

use crate::analysis::facts::{Facts, Status, TableView};
use crate::analysis::finding::{Fact, Finding, Hypothesis, Kind, RuledOut, Verdict};
use crate::analysis::scoring::Reason;
use crate::evidence::EventKind;

/// A fact that shows table `t` (index `i`) held rows once: the baseline counted them, or the
/// log shows it dropped or truncated. (reason, source)
fn contradiction(facts: &Facts, i: usize, t: &TableView) -> Option<(String, String)> {
    if let Some(b) = t.baseline
        && (b.n_live_tup.unwrap_or(0) > 0 || b.reltuples > 0.0)
    {
        return Some((
            format!(
                "the baseline counted {} rows in {}: it was populated before",
                b.n_live_tup.unwrap_or(0).max(b.reltuples as i64),
                t.name
            ),
            t.cite_baseline("n_live_tup"),
        ));
    }
    if t.rewritten() && facts.counters_restarted_cluster() {
        return Some((
            format!(
                "{}: relfilenode {} ≠ oid {} — its storage was replaced (TRUNCATE), and the counters restarted since: an emptied table reads the same as a never-written one",
                t.name, t.stats.relfilenode, t.stats.oid
            ),
            t.cite_catalog("relfilenode"),
        ));
    }
    facts
        .events_for(i, &[EventKind::DropTable, EventKind::Truncate])
        .into_iter()
        .find(|e| crate::analysis::facts::committed(e) != Some(false))
        .map(|e| {
            (
                format!(
                    "`{}`: {} existed before and was emptied or re-created",
                    e.text.trim(),
                    t.name
                ),
                e.source.clone(),
            )
        })
}

/// This hypothesis in the registry (`ALL` of the hypotheses module), with its advice.
pub const HYPOTHESIS: Hypothesis = Hypothesis {
    title: "Never populated",
    loss: false,
    hypothesize,
    recovery_note: None,
    prevention: &[],
};

pub fn hypothesize(facts: &Facts) -> Verdict {
    let mut verdict = Verdict::default();
    let candidates = facts
        .tables
        .iter()
        .enumerate()
        .filter(|(_, t)| t.counters_zero() && !t.catalog_rows() && t.stats.relkind != "p");
    // A fact this kind cannot produce rules a table out by itself, with that fact as the
    // reason, instead of dragging down the tables that did stay empty.
    let mut members = Vec::new();
    for (i, t) in candidates {
        match contradiction(facts, i, t) {
            Some((reason, source)) => verdict.ruled_out.push(RuledOut {
                kind: Kind::NeverPopulated,
                tables: vec![t.name.clone()],
                reason,
                source,
            }),
            None => members.push((i, t)),
        }
    }
    let Some(&(_, first)) = members.first() else {
        return verdict;
    };
    let names: Vec<String> = members.iter().map(|(_, t)| t.name.clone()).collect();
    let mut f = Finding::new(
        Kind::NeverPopulated,
        names.clone(),
        match names.as_slice() {
            [only] => format!(
                "{only} is empty because nothing was ever inserted into it: nothing was lost"
            ),
            _ => format!(
                "{} tables are empty because nothing was ever inserted into them: nothing was lost",
                names.len()
            ),
        },
    );
    f.scored(
        Reason::StatsSignature,
        first.cite("n_tup_ins"),
        format!(
            "n_tup_ins, n_tup_upd, n_tup_del, n_live_tup and n_dead_tup are all 0 on {}",
            match names.as_slice() {
                [only] => only.clone(),
                _ => format!("all {} tables", names.len()),
            }
        ),
    );
    let unrewritten = members.iter().all(|(_, t)| !t.rewritten());
    if unrewritten {
        f.scored(
            Reason::CatalogSignature,
            first.cite_catalog("reltuples"),
            "reltuples ≤ 0, relpages 0 and relfilenode = oid: never truncated, never analysed with rows in it",
        );
    }
    for &(i, t) in &members {
        if let Some(b) = t.baseline
            && (b.n_live_tup.unwrap_or(0) > 0 || b.reltuples > 0.0)
        {
            f.scored(
                Reason::Contradicted,
                t.cite_baseline("n_live_tup"),
                format!(
                    "{}: the baseline counted {} rows",
                    t.name,
                    b.n_live_tup.unwrap_or(0)
                ),
            );
        }
        for e in facts.events_for(i, &[EventKind::DropTable, EventKind::Truncate]) {
            f.scored(
                Reason::Contradicted,
                e.source.clone(),
                format!(
                    "{}: `{}` — the table existed before and its counters restarted",
                    t.name, e.text
                ),
            );
        }
        for op in facts.migration_ops_for(i, &["drop_table", "truncate"]) {
            f.note(Fact::against(
                op.source.clone(),
                format!("{}: migration {} has `{}`", t.name, op.path, op.statement),
            ));
        }
        if t.status != Status::NeverPopulated {
            f.note(Fact::against(
                t.cite("n_live_tup"),
                format!("{}: status {}", t.name, t.status.as_str()),
            ));
        }
    }
    // The log of its creation, and no write into it since.
    for &(i, t) in &members {
        let created = facts
            .events_for(i, &[EventKind::Ddl])
            .into_iter()
            .rfind(|e| {
                e.text
                    .trim_start()
                    .to_uppercase()
                    .starts_with("CREATE TABLE")
            });
        let Some(e) = created else { continue };
        let writes = facts
            .events_for(i, &[EventKind::BulkLoad])
            .into_iter()
            .filter(|w| w.at >= e.at)
            .count();
        if members.len() == 1 {
            if writes == 0 {
                f.scored(
                    Reason::LogStatement,
                    e.source.clone(),
                    format!(
                        "{} created by `{}`, and no bulk write into it is logged since",
                        t.name,
                        e.text.trim()
                    ),
                );
            } else {
                f.note(Fact::for_(
                    e.source.clone(),
                    format!("{} created by `{}`", t.name, e.text.trim()),
                ));
            }
            f.pin(e);
        } else {
            f.note(Fact::for_(
                e.source.clone(),
                format!("{} created by `{}`", t.name, e.text.trim()),
            ));
        }
    }
    f.confirm.push("find the job or import that should fill it, and whether it ever ran (application logs, scheduler)".into());
    f.refute.push(
        "a baseline or backup holding rows for the table, or a DROP/TRUNCATE in the log".into(),
    );
    verdict.findings.push(f.finish());
    verdict
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analysis::fixtures::*;

    #[test]
    fn an_empty_new_table_is_not_a_loss() {
        let ev = evidence(
            vec![empty_new("ticker_info", 17242), table("users", 16400, 11)],
            vec![],
        );
        let v = hypothesize(&Facts::new(&ev));
        assert_eq!(v.findings.len(), 1);
        let f = &v.findings[0];
        assert_eq!(f.tables, vec!["public.ticker_info"]);
        assert!(!f.loss);
        assert_eq!(f.confidence, 0.6);
    }

    #[test]
    fn zeroed_counters_with_catalog_rows_are_not_never_populated() {
        let ev = evidence(vec![zeroed(table("parent", 16391, 1000))], vec![]);
        assert!(hypothesize(&Facts::new(&ev)).findings.is_empty());
    }

    #[test]
    fn a_logged_drop_contradicts_it() {
        let ev = with_log(
            evidence(vec![empty_new("session", 17300)], vec![]),
            vec![event(
                EventKind::DropTable,
                at(22, 1, 13),
                3,
                "DROP TABLE session;",
                &["session"],
            )],
        );
        // The DROP shows the table existed before: ruled out, with the DROP as the reason.
        let v = hypothesize(&Facts::new(&ev));
        assert!(v.findings.is_empty());
        assert!(v.ruled_out[0].reason.contains("DROP TABLE session"));
        assert_eq!(v.ruled_out[0].source, "log:postgresql.log:3");
    }
}
