//! What to do about the findings, computed from the facts: urgent actions, recovery options,
//! forensic gaps and prevention items. Suggestions only — pgtriage never runs them.

use std::collections::BTreeSet;

use chrono::{DateTime, Duration, Utc};
use serde::Serialize;

use crate::analysis::Analysis;
use crate::analysis::facts::Facts;
use crate::analysis::finding::Kind;
use crate::evidence::Evidence;

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Action {
    pub title: String,
    pub why: String,
    /// The exact command to run, when there is one.
    pub command: Option<String>,
    pub source: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Gap {
    pub what: String,
    /// The setting (or input) that would have shown it.
    pub setting: Option<String>,
    pub effect: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Default)]
pub struct Advice {
    pub immediate_actions: Vec<Action>,
    pub recovery: Vec<Action>,
    pub gaps: Vec<Gap>,
    pub prevention: Vec<String>,
}

/// `schema.name` as SQL: quoted only where PostgreSQL needs it.
pub fn sql_name(qualified: &str) -> String {
    qualified
        .split('.')
        .map(|part| {
            let plain = part
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
                && part.chars().next().is_some_and(|c| !c.is_ascii_digit());
            if plain {
                part.to_string()
            } else {
                format!("\"{}\"", part.replace('"', "\"\""))
            }
        })
        .collect::<Vec<_>>()
        .join(".")
}

fn setting<'a>(evidence: &'a Evidence, name: &str) -> Option<&'a str> {
    evidence
        .database
        .as_ref()
        .and_then(|d| d.settings.get(name))
        .map(|s| s.as_str())
}

/// The first destructive moment the findings pin, for a recovery target.
pub fn first_loss(analysis: &Analysis) -> Option<(DateTime<Utc>, String)> {
    analysis
        .findings
        .iter()
        .filter(|f| f.loss && f.kind != Kind::Restore)
        .filter_map(|f| {
            f.at.map(|t| {
                let source = f
                    .evidence
                    .iter()
                    .find(|e| e.supports && e.source.starts_with("log:"))
                    .or(f.evidence.first())
                    .map(|e| e.source.clone())
                    .unwrap_or_default();
                (t, source)
            })
        })
        .min()
}

pub fn advise(evidence: &Evidence, analysis: &Analysis) -> Advice {
    let facts = Facts::new(evidence);
    let mut advice = Advice::default();
    let archive_on = setting(evidence, "archive_mode").is_some_and(|m| m == "on" || m == "always");
    let archiver = evidence.database.as_ref().and_then(|d| d.archiver.as_ref());
    let losses: Vec<_> = analysis.findings.iter().filter(|f| f.loss).collect();
    let first = first_loss(analysis);

    // Dead tuples of deleted rows still on disk: stop autovacuum before it removes them.
    let mut seen = BTreeSet::new();
    for f in analysis
        .findings
        .iter()
        .filter(|f| matches!(f.kind, Kind::Delete | Kind::Cascade))
    {
        for name in &f.tables {
            if analysis.explanation(name).map(|e| e.rank) != Some(f.rank)
                || !seen.insert(name.clone())
            {
                continue;
            }
            let Some(t) = facts.table(name) else { continue };
            if t.dead() == 0 {
                continue;
            }
            let vacuumed_after = match (t.last_vacuum_any(), f.at) {
                (Some(v), Some(at)) => v > at,
                _ => false,
            };
            if vacuumed_after {
                continue;
            }
            advice.immediate_actions.push(Action {
                title: format!("Turn autovacuum off for {name} now"),
                why: format!(
                    "n_dead_tup {}: the deleted rows are still on disk and no vacuum has run since the delete; the next (auto)vacuum makes them unrecoverable. Read them with a dirty-read tool (pg_dirtyread, pageinspect) first, then re-enable.",
                    t.dead()
                ),
                command: Some(format!("ALTER TABLE {} SET (autovacuum_enabled = false);", sql_name(name))),
                source: t.cite("n_dead_tup"),
            });
        }
    }
    if !losses.is_empty() && archive_on {
        let since = first
            .as_ref()
            .map(|(t, _)| format!(" from before {}", t.format("%Y-%m-%d %H:%M:%S UTC")))
            .unwrap_or_default();
        advice.immediate_actions.push(Action {
            title: "Keep the WAL archive and base backups".into(),
            why: format!(
                "archive_mode = {}{}: the archive covers the loss window, so point-in-time recovery is possible; stop any retention job from deleting the base backup{since} and the WAL after it",
                setting(evidence, "archive_mode").unwrap_or("on"),
                archiver
                    .and_then(|a| a.last_archived_wal.as_ref().map(|w| format!(", last archived {w}")))
                    .unwrap_or_default()
            ),
            command: None,
            source: "stats:pg_stat_archiver.last_archived_wal".into(),
        });
    }
    if evidence
        .database
        .as_ref()
        .is_some_and(|d| d.server.in_recovery == Some(true))
    {
        advice.immediate_actions.push(Action {
            title: "Do not open tables on the paused recovery without a lock_timeout".into(),
            why: "the server is in recovery: the startup process may hold AccessExclusiveLock on the restored tables, and a plain SELECT then waits forever".into(),
            command: Some("SET lock_timeout = '3s';".into()),
            source: "catalog:pg_is_in_recovery".into(),
        });
    }

    // Dropped columns: the rows stay, the column's values stay in the heap until a rewrite.
    for dropped in evidence
        .database
        .iter()
        .flat_map(|d| d.dropped_columns.iter())
    {
        let table = format!("{}.{}", dropped.schema, dropped.table);
        let cause = dropped_column_cause(evidence, dropped);
        advice.immediate_actions.push(Action {
            title: format!(
                "Do not rewrite {table}: column #{} was dropped but its values are still on disk",
                dropped.attnum
            ),
            why: format!(
                "pg_attribute keeps the dropped column{} and the heap keeps its values until VACUUM FULL, CLUSTER or a rewriting ALTER TABLE; read them with pageinspect (heap_page_item_attrs) before anything rewrites the table. An enum's labels are gone with its type: decode the values with an older dump's pg_enum{}",
                dropped
                    .dropped_at
                    .map(|t| format!(" (dropped at {})", t.format("%Y-%m-%d %H:%M:%S%.3f UTC")))
                    .unwrap_or_default(),
                cause
                    .as_ref()
                    .map(|(text, source)| format!(". The drop matches `{text}` ({source})"))
                    .unwrap_or_default()
            ),
            command: Some(format!(
                "SELECT attnum, attisdropped FROM pg_attribute WHERE attrelid = '{}'::regclass AND attisdropped;",
                sql_name(&table)
            )),
            source: format!("catalog:{table}.attnum_{}.attisdropped", dropped.attnum),
        });
    }

    // Recovery options.
    let lost_tables: BTreeSet<&String> = losses.iter().flat_map(|f| f.tables.iter()).collect();
    let table_list = lost_tables
        .iter()
        .map(|t| format!("-t {}", sql_name(t)))
        .collect::<Vec<_>>()
        .join(" ");
    if !losses.is_empty() {
        if let Some(tx) = crate::analysis::wal_join::first_loss_transaction(&analysis.findings)
            && let Some(lsn) = &tx.commit_lsn
        {
            advice.recovery.push(Action {
                title: "Point-in-time recovery to just before the loss transaction commits".into(),
                why: format!(
                    "the WAL shows xid {} committing the first loss at LSN {lsn}{} on timeline {}; recovery that stops before that COMMIT record keeps every transaction that committed before it and nothing of the loss. Restore the last base backup taken before it into a NEW data directory (never over the live one), add these lines and your restore_command to its postgresql.conf, create recovery.signal, start it, then copy the lost tables back. recovery_target_xid = '{}' (also with recovery_target_inclusive = false) is the same target by transaction",
                    tx.xid,
                    tx.commit_at
                        .map(|t| format!(" ({})", t.format("%Y-%m-%d %H:%M:%S%.6f UTC")))
                        .unwrap_or_default(),
                    tx.timeline,
                    tx.xid
                ),
                command: Some(format!(
                    "recovery_target_lsn = '{lsn}'\nrecovery_target_inclusive = false\nrecovery_target_timeline = '{}'\nrecovery_target_action = 'pause'\n# then, on the recovered copy:\npg_dump --data-only {table_list} -f lost_rows.sql",
                    tx.timeline
                )),
                source: tx.source.clone(),
            });
        }
        if let Some((at, source)) = &first {
            let target = *at - Duration::milliseconds(1);
            if archive_on {
                advice.recovery.push(Action {
                    title: "Point-in-time recovery to just before the first destructive event".into(),
                    why: format!(
                        "the first destructive event is at {} ({source}); archiving is on. Restore the last base backup taken before it into a NEW data directory (never over the live one), recover to the target, then copy the lost tables back{}",
                        at.format("%Y-%m-%d %H:%M:%S%.3f UTC"),
                        if crate::analysis::wal_join::first_loss_transaction(&analysis.findings).is_some() {
                            ". A fallback to the LSN target above: a time target rounds to the millisecond and may also drop other transactions that committed in that millisecond, or keep the loss when the logged time is the statement's start rather than its commit"
                        } else {
                            ""
                        }
                    ),
                    command: Some(format!(
                        "recovery_target_time = '{}'\nrecovery_target_action = 'pause'\n# then, on the recovered copy:\npg_dump --data-only {table_list} -f lost_rows.sql",
                        target.format("%Y-%m-%d %H:%M:%S%.3f+00")
                    )),
                    source: source.clone(),
                });
            } else {
                advice.recovery.push(Action {
                    title: "Point-in-time recovery is not possible".into(),
                    why: format!(
                        "archive_mode = {}: no WAL archive covers the loss window",
                        setting(evidence, "archive_mode").unwrap_or("unknown")
                    ),
                    command: None,
                    source: "catalog:pg_settings.archive_mode".into(),
                });
            }
        }
        advice.recovery.push(Action {
            title: "Restore the lost tables from the latest dump taken before the loss".into(),
            why: "into a scratch database first, then copy the rows across; check the dump's time against the timeline".into(),
            command: Some(format!("createdb scratch && pg_restore -d scratch {table_list} BACKUP.dump")),
            source: String::new(),
        });
        advice.recovery.push(Action {
            title: "Re-import from the source data".into(),
            why: "for tables loaded from files or another system: re-run the import for the lost rows".into(),
            command: None,
            source: String::new(),
        });
    }
    for f in analysis
        .findings
        .iter()
        .filter(|f| analysis.explains_any(f))
    {
        match f.kind {
            Kind::StatsReset => advice.recovery.push(Action {
                title: "Nothing to recover for the reset statistics".into(),
                why: "the rows are there; refresh the estimates".into(),
                command: Some("ANALYZE;".into()),
                source: f.evidence.first().map(|e| e.source.clone()).unwrap_or_default(),
            }),
            Kind::Rollback => advice.recovery.push(Action {
                title: "Re-run the failed import or migration".into(),
                why: "its rows never committed; find why it failed (the error in the log) and run it again".into(),
                command: None,
                source: f.evidence.first().map(|e| e.source.clone()).unwrap_or_default(),
            }),
            _ => {}
        }
    }

    // Forensic gaps.
    match setting(evidence, "log_statement") {
        Some("none") => advice.gaps.push(Gap {
            what: "No statement reaches the log".into(),
            setting: Some("log_statement = none".into()),
            effect: "a DELETE, TRUNCATE or DROP cannot be seen in the log: who did it and when rests on the catalog alone. log_statement = 'mod' would have shown it".into(),
        }),
        Some("ddl") => advice.gaps.push(Gap {
            what: "DELETE and TRUNCATE are not logged".into(),
            setting: Some("log_statement = ddl".into()),
            effect: "only DROP/CREATE/ALTER reach the log; TRUNCATE and DELETE are in the mod class. log_statement = 'mod' would have shown them".into(),
        }),
        _ => {}
    }
    if setting(evidence, "track_commit_timestamp") == Some("off") {
        advice.gaps.push(Gap {
            what: "No commit times for catalog rows".into(),
            setting: Some("track_commit_timestamp = off".into()),
            effect: "when a TRUNCATE or CREATE committed, and whether several tables changed in one transaction (a TRUNCATE … CASCADE), cannot be read from pg_class".into(),
        });
    }
    if evidence.database.is_some() && !archive_on {
        advice.gaps.push(Gap {
            what: "No WAL archive".into(),
            setting: Some(format!("archive_mode = {}", setting(evidence, "archive_mode").unwrap_or("unknown"))),
            effect: "the WAL records of the loss (which xid, which relation) are gone once recycled, and point-in-time recovery is impossible".into(),
        });
    }
    if let Some(prefix) = setting(evidence, "log_line_prefix") {
        let missing: Vec<&str> = [
            ("%u", "user"),
            ("%d", "database"),
            ("%a", "application"),
            ("%h", "host"),
            ("%p", "pid"),
        ]
        .iter()
        .filter(|(esc, _)| {
            // %r (host and port) covers %h.
            let shown = prefix.contains(esc) || (*esc == "%h" && prefix.contains("%r"));
            !shown
        })
        .map(|(_, what)| *what)
        .collect();
        if !missing.is_empty() {
            advice.gaps.push(Gap {
                what: format!("The log does not say the {}", missing.join(", ")),
                setting: Some(format!("log_line_prefix = '{prefix}'")),
                effect: "the session behind a statement cannot be fully named; '%m [%p] %q%u@%d/%a %h ' would".into(),
            });
        }
    }
    if evidence.database.is_none() {
        advice.gaps.push(Gap {
            what: "No database snapshot".into(),
            setting: Some("--db".into()),
            effect: "row counts, counters and catalog signatures are unknown: hypotheses rest on the log and migrations alone".into(),
        });
    }
    if evidence.timeline.is_none() {
        advice.gaps.push(Gap {
            what: "No server log".into(),
            setting: Some("--log".into()),
            effect: "statements, sessions and exact times are unknown: times come from the catalog, if at all".into(),
        });
    }
    if evidence.migrations.is_none() {
        advice.gaps.push(Gap {
            what: "No migration history".into(),
            setting: Some("--repo".into()),
            effect: "a migration that drops or truncates tables cannot be cross-checked".into(),
        });
    }
    if evidence.baseline.is_none() {
        advice.gaps.push(Gap {
            what: "No baseline".into(),
            setting: Some("--baseline".into()),
            effect: "expected rows are inferred from inserts − deletes (labelled as such), not known; a table dropped and re-created, or a restore, is harder to see".into(),
        });
    }
    if let Some(tl) = &evidence.timeline {
        if let Some((at, _)) = &first {
            let covered = tl.sources.iter().any(|s| match (s.first_at, s.last_at) {
                (Some(a), Some(b)) => a <= *at && *at <= b,
                _ => true,
            });
            if !covered && !tl.sources.is_empty() {
                advice.gaps.push(Gap {
                    what: "The logs do not cover the loss".into(),
                    setting: Some("--log".into()),
                    effect: format!(
                        "no log file spans {}: give the rotated files around that time",
                        at.format("%Y-%m-%d %H:%M:%S UTC")
                    ),
                });
            }
        }
        for p in &tl.problems {
            advice.gaps.push(Gap {
                what: format!(
                    "{}{}: {} unreadable line(s)",
                    p.path,
                    p.line.map(|l| format!(":{l}")).unwrap_or_default(),
                    p.count
                ),
                setting: None,
                effect: p.message.clone(),
            });
        }
    }
    if let Some(d) = &evidence.database {
        for nv in &d.not_visible {
            advice.gaps.push(Gap {
                what: format!("{} not visible", nv.what),
                setting: None,
                effect: nv.reason.clone(),
            });
        }
    }
    for (what, setting, effect) in crate::analysis::wal_join::gaps(evidence, &analysis.findings) {
        advice.gaps.push(Gap {
            what,
            setting,
            effect,
        });
    }
    for p in &evidence.problems {
        advice.gaps.push(Gap {
            what: p.clone(),
            setting: None,
            effect: "that source was not used".into(),
        });
    }

    // Prevention.
    let kinds: BTreeSet<Kind> = analysis
        .findings
        .iter()
        .filter(|f| f.loss)
        .map(|f| f.kind)
        .collect();
    if kinds.contains(&Kind::Truncate) || kinds.contains(&Kind::Cascade) {
        advice.prevention.push("Revoke TRUNCATE from application and migration roles that do not need it (REVOKE TRUNCATE ON ALL TABLES IN SCHEMA … FROM …).".into());
    }
    if kinds.contains(&Kind::Cascade) {
        advice.prevention.push("Review ON DELETE CASCADE foreign keys (see the blast radius): prefer RESTRICT where a parent delete should never take children with it; never TRUNCATE … CASCADE outside a maintenance window.".into());
    }
    if kinds.contains(&Kind::DropRecreate) {
        advice.prevention.push("Review migrations for DROP TABLE in CI (`pgtriage migrations`); give tables managed outside the ORM a model or exclude them from autogenerate.".into());
    }
    if kinds.contains(&Kind::Delete) {
        advice.prevention.push("Guard bulk DELETEs: require a WHERE clause (pg-safeupdate), soft deletes for critical tables, and a row-count check before COMMIT.".into());
    }
    if kinds.contains(&Kind::Restore) {
        advice.prevention.push("Restores go through a runbook that ends with `pgtriage verify --baseline …` before traffic returns.".into());
    }
    if setting(evidence, "log_statement").is_none_or(|s| s == "none" || s == "ddl") {
        advice.prevention.push("Set log_statement = 'mod' so every DELETE, TRUNCATE and DROP is logged with its session.".into());
    }
    if setting(evidence, "track_commit_timestamp") != Some("on") {
        advice.prevention.push(
            "Set track_commit_timestamp = on: catalog changes then carry their commit time.".into(),
        );
    }
    if !archive_on {
        advice.prevention.push("Turn on WAL archiving (archive_mode = on) with retention longer than the time it takes to notice a loss.".into());
    }
    advice.prevention.push("Keep a recent baseline: `pgtriage collect --db … -o baseline.json` daily makes expected rows exact next time.".into());
    advice
}

/// The logged `DROP TYPE … CASCADE` / `DROP COLUMN` that most likely dropped the column: the last
/// one at or before the drop's commit time (within a minute), else the last one naming the table.
fn dropped_column_cause(
    evidence: &Evidence,
    dropped: &crate::evidence::DroppedColumn,
) -> Option<(String, String)> {
    use crate::evidence::EventKind;
    let events = &evidence.timeline.as_ref()?.events;
    let mut drops = events
        .iter()
        .filter(|e| matches!(e.kind, EventKind::DropType | EventKind::DropColumn));
    let chosen = match dropped.dropped_at {
        Some(at) => drops.rfind(|e| e.at <= at && at - e.at <= Duration::seconds(60)),
        None => drops.rfind(|e| {
            e.tables.iter().any(|t| {
                t == &dropped.table || t == &format!("{}.{}", dropped.schema, dropped.table)
            })
        }),
    }?;
    Some((chosen.text.clone(), chosen.source.clone()))
}
