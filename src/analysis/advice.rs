//! What to do about the findings, computed from the facts: urgent actions, recovery options,
//! forensic gaps and prevention items. Suggestions only — pgtriage never runs them.

use std::collections::BTreeSet;

use chrono::{DateTime, Duration, Utc};
use serde::Serialize;

use crate::analysis::Analysis;
use crate::analysis::facts::Facts;
use crate::analysis::finding::Kind;
use crate::analysis::quote::{quote_ident, quote_literal};
use crate::evidence::Evidence;

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Action {
    pub title: String,
    pub why: String,
    /// The exact command to run, when there is one.
    pub command: Option<String>,
    /// What `command` is, as its code fence names it: `sql` (statements to run in psql) or `sh`
    /// (a shell command line, such as psql with a heredoc); `None` without a command.
    pub language: Option<&'static str>,
    pub source: String,
}

/// The prevention step that closes the "No baseline" gap (the action item says what the
/// report lacked without one).
pub const KEEP_A_BASELINE: &str = "Keep a recent baseline: `pgtriage collect --db … -o baseline.json` daily makes expected rows exact next time.";

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Gap {
    pub what: String,
    /// The setting (or input) that would have shown it.
    pub setting: Option<String>,
    /// What the setting should become (None for a missing input such as `--log`).
    pub change_to: Option<String>,
    pub effect: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Default)]
pub struct Advice {
    pub immediate_actions: Vec<Action>,
    pub recovery: Vec<Action>,
    pub gaps: Vec<Gap>,
    pub prevention: Vec<String>,
}

/// `schema.name` as SQL: quoted only where PostgreSQL needs it, reserved words included (the
/// one quoter, `analysis::quote`).
pub fn sql_name(qualified: &str) -> String {
    crate::analysis::quote::qualified(qualified)
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

/// The advice for `analysis`, from the facts it was computed from (`analyze` calls this once).
pub fn advise(facts: &Facts, analysis: &Analysis) -> Advice {
    let evidence = facts.evidence;
    let mut advice = Advice::default();
    let archive_on = setting(evidence, "archive_mode").is_some_and(|m| m == "on" || m == "always");
    let archiver = evidence.database.as_ref().and_then(|d| d.archiver.as_ref());
    let losses: Vec<_> = analysis.findings.iter().filter(|f| f.loss).collect();
    let first = first_loss(analysis);

    // The writer first: a job that removed the rows once may run again while we restore.
    advice
        .immediate_actions
        .extend(stop_the_writer(evidence, analysis));
    let timeline_moved = evidence
        .database
        .as_ref()
        .and_then(|d| d.server.timeline_id)
        .is_some_and(|t| t > 1);
    if timeline_moved
        && analysis
            .findings
            .iter()
            .any(|f| f.kind == Kind::Restore && analysis.explains_any(f))
    {
        let timeline = evidence
            .database
            .as_ref()
            .and_then(|d| d.server.timeline_id)
            .filter(|t| *t > 1)
            .map(|t| format!(" and timeline {}'s WAL in the archive", t - 1))
            .unwrap_or_default();
        advice.immediate_actions.push(Action {
            title: "Keep the old primary's data directory and its WAL".into(),
            why: format!(
                "a restore or failover replaced the data: the writes it lost exist only in the old primary's data directory{timeline}. Do not re-initialise, rejoin (pg_rewind) or delete it until the recovery plan has put the rows back"
            ),
            command: None,
            language: None,
            source: "catalog:pg_control_checkpoint.timeline_id".into(),
        });
    }

    // Dead tuples of deleted rows still on disk: stop autovacuum before it removes them. One
    // pair of actions per finding: a cascade's tables are one ALTER block and one psql session.
    let mut seen = BTreeSet::new();
    for f in analysis
        .findings
        .iter()
        .filter(|f| matches!(f.kind, Kind::Delete | Kind::Cascade))
    {
        let mut kept: Vec<(&str, &crate::analysis::facts::TableView)> = Vec::new();
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
            kept.push((name.as_str(), t));
        }
        if !kept.is_empty() {
            advice
                .immediate_actions
                .extend(dead_tuple_actions(evidence, &kept, f));
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
            language: None,
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
            language: Some("sql"),
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
            // A "do not" has nothing to run; the catalog row it rests on is the citation.
            command: None,
            language: None,
            source: format!("catalog:{table}.attnum_{}.attisdropped", dropped.attnum),
        });
    }

    // What the kind says to do when it lost no committed rows (its file's registry entry).
    for f in analysis
        .findings
        .iter()
        .filter(|f| analysis.explains_any(f))
    {
        if let Some(note) = crate::analysis::hypotheses::of(f.kind).and_then(|h| h.recovery_note) {
            advice.recovery.push(Action {
                title: note.title.into(),
                why: note.why.into(),
                command: note.command.map(str::to_string),
                language: note.command.map(|_| "sql"),
                source: f
                    .evidence
                    .first()
                    .map(|e| e.source.clone())
                    .unwrap_or_default(),
            });
        }
    }

    // Forensic gaps.
    if let Some(p) = crate::analysis::recovery::provider(evidence) {
        advice.gaps.push(Gap {
            what: format!(
                "the server is a managed service ({}): its server log is not on a file system pgtriage can read",
                crate::analysis::recovery::provider_name(p)
            ),
            setting: None,
            change_to: None,
            effect: format!(
                "download the log files that cover the loss window and give them with --log: {}",
                crate::analysis::recovery::provider_logs(p)
            ),
        });
    }
    match setting(evidence, "log_statement") {
        Some("none") => advice.gaps.push(Gap {
            what: "No statement reaches the log".into(),
            setting: Some("log_statement = none".into()),
            change_to: Some("log_statement = 'mod'".into()),
            effect: "a DELETE, TRUNCATE or DROP cannot be seen in the log: who did it and when rests on the catalog alone. log_statement = 'mod' would have shown it".into(),
        }),
        Some("ddl") => advice.gaps.push(Gap {
            what: "DELETE and TRUNCATE are not logged".into(),
            setting: Some("log_statement = ddl".into()),
            change_to: Some("log_statement = 'mod'".into()),
            effect: "only DROP/CREATE/ALTER reach the log; TRUNCATE and DELETE are in the mod class. log_statement = 'mod' would have shown them".into(),
        }),
        _ => {}
    }
    if setting(evidence, "track_commit_timestamp") == Some("off") {
        advice.gaps.push(Gap {
            what: "No commit times for catalog rows".into(),
            setting: Some("track_commit_timestamp = off".into()),
            change_to: Some("track_commit_timestamp = on".into()),
            effect: "when a TRUNCATE or CREATE committed, and whether several tables changed in one transaction (a TRUNCATE … CASCADE), cannot be read from pg_class".into(),
        });
    }
    if evidence.database.is_some() && !archive_on {
        advice.gaps.push(Gap {
            what: "No WAL archive".into(),
            setting: Some(format!("archive_mode = {}", setting(evidence, "archive_mode").unwrap_or("unknown"))),
            change_to: Some("archive_mode = on, with an archive_command or archive_library".into()),
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
                change_to: Some("log_line_prefix = '%m [%p] %q%u@%d/%a %h '".into()),
                effect: "the session behind a statement cannot be fully named".into(),
            });
        }
    }
    if evidence.database.is_none() {
        advice.gaps.push(Gap {
            what: "No database snapshot".into(),
            setting: Some("--db".into()),
            change_to: None,
            effect: "row counts, counters and catalog signatures are unknown: hypotheses rest on the log and migrations alone".into(),
        });
    }
    if evidence.timeline.is_none() {
        advice.gaps.push(Gap {
            what: "No server log".into(),
            setting: Some("--log".into()),
            change_to: None,
            effect: "statements, sessions and exact times are unknown: times come from the catalog, if at all".into(),
        });
    }
    if evidence.migrations.is_none() {
        advice.gaps.push(Gap {
            what: "No migration history".into(),
            setting: Some("--repo".into()),
            change_to: None,
            effect: "a migration that drops or truncates tables cannot be cross-checked".into(),
        });
    }
    if evidence.baseline.is_none() {
        advice.gaps.push(Gap {
            what: "No baseline".into(),
            setting: Some("--baseline".into()),
            change_to: None,
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
                    change_to: None,
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
                change_to: None,
                effect: p.message.clone(),
            });
        }
    }
    if let Some(d) = &evidence.database {
        for nv in &d.not_visible {
            advice.gaps.push(Gap {
                what: format!("{} not visible", nv.what),
                setting: None,
                change_to: None,
                effect: nv.reason.clone(),
            });
        }
    }
    for (what, setting, effect) in crate::analysis::wal_join::gaps(evidence, &analysis.findings) {
        advice.gaps.push(Gap {
            what,
            setting,
            change_to: None,
            effect,
        });
    }
    for p in &evidence.problems {
        advice.gaps.push(Gap {
            what: p.clone(),
            setting: None,
            change_to: None,
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
    // Each kind's prevention items (its file's registry entry), once each.
    for kind in &kinds {
        for item in crate::analysis::hypotheses::of(*kind)
            .map(|h| h.prevention)
            .unwrap_or_default()
        {
            if !advice.prevention.iter().any(|p| p == item) {
                advice.prevention.push(item.to_string());
            }
        }
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
    advice.prevention.push(KEEP_A_BASELINE.into());
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

/// Stop the session, role or job that removed the rows before restoring anything: a cron job,
/// a janitor or a reset script runs again. One action per role seen doing it, naming every
/// application of that role that removed rows, with one SQL block: one pg_terminate_backend line
/// for all of them (an IN list) and one ALTER ROLE (two actions for one role would block it twice). A
/// pg_cron job, or a writer without a role, is an action of its own.
fn stop_the_writer(evidence: &Evidence, analysis: &Analysis) -> Vec<Action> {
    struct Writer<'a> {
        user: Option<&'a str>,
        app: Option<&'a str>,
        /// (application, statement, pid, source) per application, in rank order.
        runs: Vec<(Option<&'a str>, &'a str, Option<i64>, String)>,
    }
    let live_user = evidence.database.as_ref().map(|d| d.server.user.as_str());
    let mut writers: Vec<Writer> = Vec::new();
    for f in analysis
        .findings
        .iter()
        .filter(|f| f.loss && f.kind != Kind::Restore && analysis.explains_any(f))
    {
        let Some(s) = &f.session else { continue };
        let (user, app) = (s.user.as_deref(), s.application.as_deref());
        if user.is_none() && app.is_none() {
            continue;
        }
        // The statement's own line (a finding over five DROP TABLEs cites each).
        let source = crate::analysis::narrative::statement_source(f)
            .filter(|s| s.starts_with("log:"))
            .or_else(|| {
                f.evidence
                    .iter()
                    .find(|e| e.supports && e.source.starts_with("log:"))
                    .map(|e| e.source.clone())
            })
            .unwrap_or_default();
        let statement = f.statement.as_deref().unwrap_or(f.kind.title()).trim();
        let own = app == Some("pg_cron") || user.is_none();
        let group = writers.iter_mut().find(|w| {
            w.user == user
                && if own {
                    w.app == app
                } else {
                    w.app != Some("pg_cron")
                }
        });
        let run = (app, statement, s.pid.map(i64::from), source);
        match group {
            Some(w) => {
                if !w.runs.iter().any(|r| r.0 == app) {
                    w.runs.push(run);
                }
            }
            None => writers.push(Writer {
                user,
                app: if own { app } else { None },
                runs: vec![run],
            }),
        }
    }
    let mut out = Vec::new();
    for w in writers {
        let cron = w.app == Some("pg_cron");
        let apps: Vec<&str> = w
            .runs
            .iter()
            .filter_map(|r| r.0)
            .filter(|a| !a.is_empty() && *a != "[unknown]")
            .collect();
        // One line for the role: its applications in one IN list (a run whose application
        // the log does not name leaves the filter at the role alone).
        let mut filter = Vec::new();
        if let Some(u) = w.user {
            filter.push(format!("usename = {}", quote_literal(u)));
        }
        let named = w
            .runs
            .iter()
            .all(|r| r.0.is_some_and(|a| !a.is_empty() && a != "[unknown]"));
        match apps.as_slice() {
            [one] if named => filter.push(format!("application_name = {}", quote_literal(one))),
            [_, _, ..] if named => filter.push(format!(
                "application_name IN ({})",
                apps.iter()
                    .map(|a| quote_literal(a))
                    .collect::<Vec<_>>()
                    .join(", ")
            )),
            _ => {}
        }
        filter.push("pid <> pg_backend_pid()".into());
        let mut command = format!(
            "SELECT pid, pg_terminate_backend(pid) FROM pg_stat_activity WHERE {};",
            filter.join(" AND ")
        );
        let ran: Vec<String> = w
            .runs
            .iter()
            .map(|(app, statement, pid, _)| {
                let who = [
                    app.filter(|_| w.runs.len() > 1 || w.user.is_none())
                        .map(str::to_string),
                    pid.map(|p| format!("pid {p}")),
                ]
                .into_iter()
                .flatten()
                .collect::<Vec<_>>()
                .join(", ");
                match (who.is_empty(), w.runs.len() > 1 || w.user.is_none()) {
                    (true, _) => format!("`{statement}`"),
                    (false, true) => format!("`{statement}` ({who})"),
                    (false, false) => format!("`{statement}` from {who}"),
                }
            })
            .collect();
        let many = w.runs.len() > 1;
        let mut why = format!(
            "{} ran {} and, if {}, may run again during the restore: end {} sessions",
            match (w.user, apps.as_slice()) {
                (Some(u), [a]) => format!("role {u} ({a})"),
                (Some(u), _) => format!("role {u}"),
                (None, [a, ..]) => format!("the application {a}"),
                (None, []) => String::new(),
            },
            ran.join(" and "),
            if many {
                "they are jobs or scripts"
            } else {
                "it is a job or script"
            },
            if many { "their" } else { "its" },
        );
        let first_statement = w.runs.first().map(|r| r.1).unwrap_or("");
        if cron {
            command.push_str(&pause_cron_jobs(first_statement));
            why.push_str(" and pause the pg_cron job that issued it");
        } else if let Some(u) = w.user.filter(|u| Some(*u) != live_user && *u != "postgres") {
            let their = if many { "their" } else { "its" };
            let others = other_applications_of(evidence, u, &apps);
            if others.is_empty() {
                command.push_str(&format!("\nALTER ROLE {} NOLOGIN;", quote_ident(u)));
                why.push_str(&format!(
                    ", then block role {u} from logging in (only if it is the job's own role, not the application's; ALTER ROLE … LOGIN undoes it), or pause {their} scheduler"
                ));
            } else {
                // Blocking a role the application also logs in with would take the application
                // down: the log shows who else uses it, so the printed block leaves it out.
                why.push_str(&format!(
                    "; do not block role {u}: the log shows {} logging in with it too, so pause {their} scheduler instead",
                    others.join(", ")
                ));
            }
        } else {
            why.push_str(", and pause its scheduler or script");
        }
        let mut sources: Vec<&str> = Vec::new();
        for r in &w.runs {
            if !r.3.is_empty() && !sources.contains(&r.3.as_str()) {
                sources.push(&r.3);
            }
        }
        let name = if apps.is_empty() {
            w.user.unwrap_or("the writer").to_string()
        } else {
            apps.join(" and ")
        };
        out.push(Action {
            title: format!("Stop {name} before restoring"),
            why,
            command: Some(command),
            language: Some("sql"),
            source: sources.join(", "),
        });
    }
    out
}

/// The applications the log shows using role `user` besides `writers` (sorted, distinct).
fn other_applications_of<'a>(evidence: &'a Evidence, user: &str, writers: &[&str]) -> Vec<&'a str> {
    let Some(timeline) = &evidence.timeline else {
        return Vec::new();
    };
    let others: BTreeSet<&str> = timeline
        .events
        .iter()
        .map(|e| &e.session)
        .filter(|s| s.user.as_deref() == Some(user))
        .filter_map(|s| s.application.as_deref())
        .filter(|a| !a.is_empty() && *a != "[unknown]" && !writers.contains(a))
        .collect();
    others.into_iter().collect()
}

/// `cron.job.command` or the logged statement as `;stmt;stmt;`: whitespace runs made one space,
/// each run of `;` and spaces one `;`. pg_cron sends a job's command verbatim, so the log holds
/// its text, but the finding's statement is one statement of it, trimmed, and may have lost its
/// newlines. Both sides go through the same SQL so the server's idea of whitespace decides.
fn cron_statements(text_sql: &str) -> String {
    format!(
        "';' || btrim(regexp_replace(regexp_replace({text_sql}, '[[:space:]]+', ' ', 'g'), ' ?;[ ;]*', ';', 'g'), ' ;') || ';'"
    )
}

/// Pauses every pg_cron job whose command is, or has among its statements, `statement`. A plain
/// substring test (`strpos`), not LIKE: `_` and `%` in the statement are no wildcards, and the
/// `;` bounds keep `DELETE … WHERE a` from matching a job running `DELETE … WHERE a AND b`.
fn pause_cron_jobs(statement: &str) -> String {
    format!(
        "\nSELECT jobid, jobname, cron.alter_job(jobid, active := false) FROM cron.job\n WHERE strpos({}, {}) > 0;",
        cron_statements("command"),
        cron_statements(&quote_literal(statement))
    )
}

/// A setting as a number, else PostgreSQL's default (and whether the default was assumed).
fn number(evidence: &Evidence, name: &str, default: f64) -> (f64, bool) {
    match setting(evidence, name).and_then(|v| v.trim_end_matches('s').parse::<f64>().ok()) {
        Some(v) => (v, false),
        None => (default, true),
    }
}

/// How soon autovacuum reaches one table's dead rows (its reloptions and the server's settings,
/// or PostgreSQL's defaults, said so), and what would vacuum it anyway.
fn autovacuum_outlook(evidence: &Evidence, t: &crate::analysis::facts::TableView) -> String {
    // A table's own reloptions override the server's settings (pg_class.reloptions, collected
    // beside the statistics); `toast.` ones are its TOAST table's.
    let option = |key: &str| {
        t.stats
            .reloptions
            .iter()
            .filter_map(|o| o.split_once('='))
            .find(|(k, _)| *k == key)
            .map(|(_, v)| v.to_string())
    };
    let table_number = |key: &str| option(key).and_then(|v| v.parse::<f64>().ok());
    let (mut threshold, mut d1) = number(evidence, "autovacuum_vacuum_threshold", 50.0);
    let (mut scale, mut d2) = number(evidence, "autovacuum_vacuum_scale_factor", 0.2);
    let (naptime, d3) = number(evidence, "autovacuum_naptime", 60.0);
    let (mut freeze_max_age, _) = number(evidence, "autovacuum_freeze_max_age", 200_000_000.0);
    let mut overrides = Vec::new();
    if let Some(v) = table_number("autovacuum_vacuum_threshold") {
        threshold = v;
        d1 = false;
        overrides.push(format!("autovacuum_vacuum_threshold = {v}"));
    }
    if let Some(v) = table_number("autovacuum_vacuum_scale_factor") {
        scale = v;
        d2 = false;
        overrides.push(format!("autovacuum_vacuum_scale_factor = {v}"));
    }
    if let Some(v) = table_number("autovacuum_freeze_max_age") {
        freeze_max_age = v;
        overrides.push(format!("autovacuum_freeze_max_age = {v}"));
    }
    for key in ["autovacuum_enabled", "toast.autovacuum_enabled"] {
        if let Some(v) = option(key) {
            overrides.push(format!("{key} = {v}"));
        }
    }
    let server_off = setting(evidence, "autovacuum") == Some("off");
    let reltuples = t.stats.reltuples.max(0.0);
    let trigger = threshold + scale * reltuples;
    let dead = t.dead() as f64;
    let when = if dead > trigger {
        format!(
            "n_dead_tup {} is past the autovacuum trigger ({threshold} + {scale} × reltuples {reltuples} = {trigger:.0}): the next autovacuum round (every autovacuum_naptime = {naptime}s, per database) vacuums it",
            t.dead()
        )
    } else {
        format!(
            "n_dead_tup {} is below the autovacuum trigger ({threshold} + {scale} × reltuples {reltuples} = {trigger:.0}): autovacuum reaches it after {:.0} more dead rows, checked every autovacuum_naptime = {naptime}s",
            t.dead(),
            trigger - dead
        )
    };
    let mut assumed = if d1 || d2 || d3 {
        " (PostgreSQL's defaults for what the evidence lacks: the server's autovacuum settings were not visible)".to_string()
    } else {
        String::new()
    };
    if !overrides.is_empty() {
        assumed.push_str(&format!(
            "; the table's own reloptions apply: {}",
            overrides.join(", ")
        ));
    }
    if option("autovacuum_enabled").as_deref() == Some("false") || server_off {
        assumed.push_str(&format!(
            "; autovacuum is off for it{}, which stops the vacuum above but not an anti-wraparound one once its oldest transaction id is older than autovacuum_freeze_max_age = {freeze_max_age:.0}",
            if server_off { " (autovacuum = off on the server)" } else { " (autovacuum_enabled = false)" }
        ));
    } else {
        assumed.push_str(&format!(
            "; an anti-wraparound vacuum also comes once its oldest transaction id is older than autovacuum_freeze_max_age = {freeze_max_age:.0}"
        ));
    }
    format!("{when}{assumed}")
}

/// The deleted rows of a finding's tables are still on disk: keep autovacuum away (saying how
/// long is left for each), and read them with pg_dirtyread, each column list taken from the
/// catalog. Several tables (a cascade) are one ALTER block and one psql session.
fn dead_tuple_actions(
    evidence: &Evidence,
    tables: &[(&str, &crate::analysis::facts::TableView)],
    f: &crate::analysis::finding::Finding,
) -> Vec<Action> {
    let names: Vec<&str> = tables.iter().map(|(n, _)| *n).collect();
    let name = names.join(", ");
    let qualified: Vec<String> = names
        .iter()
        .map(|n| crate::analysis::quote::qualified(n))
        .collect();
    let outlook = match tables {
        [(_, t)] => autovacuum_outlook(evidence, t),
        _ => tables
            .iter()
            .map(|(n, t)| format!("{n}: {}", autovacuum_outlook(evidence, t)))
            .collect::<Vec<_>>()
            .join("; "),
    };
    let source = tables
        .iter()
        .map(|(_, t)| t.cite("n_dead_tup"))
        .collect::<Vec<_>>()
        .join(", ");
    let url = crate::analysis::recovery::live_url(evidence).unwrap_or_default();
    let regs: Vec<String> = qualified.iter().map(|q| quote_literal(q)).collect();
    let reads: String = regs
        .iter()
        .map(|reg| format!("SELECT format('SELECT * FROM pg_dirtyread(%L::regclass) AS t(xmax xid, %s) WHERE xmax <> ''0''', {reg}, string_agg(CASE WHEN a.attisdropped THEN format('dropped_%s %s', a.attnum, CASE a.attlen WHEN 1 THEN '\"char\"' WHEN 2 THEN 'smallint' WHEN 4 THEN 'integer' WHEN 8 THEN 'bigint' ELSE 'text' END) ELSE format('%I %s', a.attname, format_type(a.atttypid, a.atttypmod)) END, ', ' ORDER BY a.attnum)) FROM pg_attribute a WHERE a.attrelid = {reg}::regclass AND a.attnum > 0\n\\gexec\n"))
        .collect();
    let dirtyread = format!(
        "psql {} -X -v ON_ERROR_STOP=1 <<'SQL'\nCREATE EXTENSION IF NOT EXISTS pg_dirtyread;\n{reads}SQL",
        crate::analysis::quote::shell(&url)
    );
    let first_reg = regs.first().cloned().unwrap_or_default();
    let several = tables.len() > 1;
    let the_table = if several { "the tables" } else { "the table" };
    vec![
        Action {
            title: format!("Turn autovacuum off for {name} now"),
            why: format!(
                "the deleted rows are still on disk and no vacuum has run since the delete; {outlook}. An anti-wraparound vacuum runs even with autovacuum_enabled = false, and HOT pruning removes dead rows whenever a page is read, so every read of {the_table} destroys evidence: read the dead rows once (next action) before anything else does, then re-enable"
            ),
            language: Some("sql"),
            command: Some(
                qualified
                    .iter()
                    .map(|q| {
                        format!(
                            "ALTER TABLE {q} SET (autovacuum_enabled = false, toast.autovacuum_enabled = false);"
                        )
                    })
                    .collect::<Vec<_>>()
                    .join("\n"),
            ),
            source: source.clone(),
        },
        Action {
            title: format!("Read the deleted rows of {name} with pg_dirtyread"),
            why: format!(
                "pg_dirtyread returns the dead rows{} with the table's full column list, taken from pg_attribute (a dropped column as dropped_N); rows with a non-zero xmax are the deleted ones — and old versions of updated or locked rows, told apart by their key still being in the table (pg_dirtyread's `dead` flag needs hint bits a fresh DELETE has not set yet){}. Save the output (psql \\o FILE) and re-insert from it. Without the extension, pageinspect's heap_page_item_attrs(get_raw_page({first_reg}, N), {first_reg}::regclass) shows the same tuples page by page{}. CREATE EXTENSION is the one write this makes",
                if several { " (one query per table)" } else { "" },
                f.at.map(|at| format!(
                    "; the DELETE ran at {}: when the log names its transaction, add AND xmax = 'XID'",
                    at.format("%H:%M:%S%.3f UTC")
                ))
                .unwrap_or_default(),
                if several { " (for the first table; the others alike)" } else { "" }
            ),
            // psql with the SQL in a heredoc: a shell command line.
            command: Some(dirtyread),
            language: Some("sh"),
            source,
        },
    ]
}
