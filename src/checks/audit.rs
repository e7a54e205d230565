//! `audit`: forensic readiness and blast radius, before anything goes wrong.
//!
//! * Settings: would the next DELETE/TRUNCATE/DROP leave a trace (pg-forensics.md: with the
//!   default `log_statement='none'` none of them leaves a log line; `ddl` misses TRUNCATE and
//!   DELETE), can a log line be placed in time and tied to a session, can a catalog row's commit
//!   time be read (`track_commit_timestamp`), can the database be brought back to just before
//!   the incident (`wal_level`, `archive_mode`, and whether archiving actually succeeds).
//! * Blast radius: for each table, what a DELETE on it empties through ON DELETE CASCADE chains,
//!   and what `TRUNCATE … CASCADE` empties: every referencing table, whatever its ON DELETE
//!   action (rule 4 of pg-forensics.md), transitively.
//! * Repository: destructive statements that are active (not commented out), with file and line.
//!
//! Each finding carries a severity and the exact change that fixes it. Pure: the settings come
//! from `db::audit`, the repository statements from `migrations::repo_scan`.

use std::collections::{BTreeMap, BTreeSet, VecDeque};

use serde::Serialize;

use crate::checks::{quote_ident, quote_qualified};
use crate::evidence::ForeignKey;

// The server's settings (`db::audit`) and the repository's statements (`migrations::repo_scan`)
// are gathered into `evidence::probes`.
pub use crate::evidence::probes::{RepoStatement, ServerFacts};

/// The value of the `format` field of `audit --format json`.
pub const AUDIT_FORMAT: &str = "pgtriage-audit/1";

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    High,
    Medium,
    Low,
}

impl Severity {
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::High => "high",
            Severity::Medium => "medium",
            Severity::Low => "low",
        }
    }
}

/// One thing that would hurt the next investigation or widen the next loss.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AuditFinding {
    pub severity: Severity,
    /// `logging`, `recovery`, `blast_radius`, `repository`.
    pub category: String,
    /// The setting, table or `file:line` it is about.
    pub subject: String,
    /// What it is set to / what was found.
    pub value: String,
    pub problem: String,
    /// The exact setting or change that fixes it.
    pub fix: String,
}

/// A check that found nothing wrong, so a clean audit still shows what it looked at.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AuditPass {
    pub subject: String,
    pub value: String,
}

/// One table's blast radius.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct BlastRadius {
    /// `schema.name`.
    pub table: String,
    /// Tables a DELETE on it empties (of the matching rows) through ON DELETE CASCADE chains.
    pub delete_cascades_to: Vec<String>,
    /// Tables `TRUNCATE … CASCADE` on it empties entirely: every referencing table, transitively.
    pub truncate_cascade_empties: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AuditReport {
    pub format: String,
    /// The highest severity found, if any.
    pub worst: Option<Severity>,
    /// Sorted by severity, then category, then subject.
    pub findings: Vec<AuditFinding>,
    pub passed: Vec<AuditPass>,
    /// Only tables with something to lose; sorted by table.
    pub blast_radius: Vec<BlastRadius>,
    /// Active destructive statements of the repository (commented-out ones are left out).
    pub repository: Vec<RepoStatement>,
    /// What could not be seen (a setting the role may not read).
    pub problems: Vec<String>,
}

/// Runs the audit. `repo` is `None` without `--repo`.
pub fn audit(
    server: &ServerFacts,
    foreign_keys: &[ForeignKey],
    repo: Option<&[RepoStatement]>,
) -> AuditReport {
    let mut findings = Vec::new();
    let mut passed = Vec::new();
    let mut problems = Vec::new();
    settings_findings(server, &mut findings, &mut passed, &mut problems);
    let radius = blast_radius(foreign_keys);
    findings.extend(cascade_findings(foreign_keys, &radius));
    let mut repository: Vec<RepoStatement> = repo
        .unwrap_or_default()
        .iter()
        .filter(|s| s.active)
        .cloned()
        .collect();
    repository.sort_by(|a, b| (&a.path, a.line, &a.kind).cmp(&(&b.path, b.line, &b.kind)));
    findings.extend(repository_findings(&repository, &radius));
    findings.sort_by(|a, b| {
        (a.severity, &a.category, &a.subject).cmp(&(b.severity, &b.category, &b.subject))
    });
    passed.sort_by(|a, b| a.subject.cmp(&b.subject));
    AuditReport {
        format: AUDIT_FORMAT.to_string(),
        worst: findings.iter().map(|f| f.severity).min(),
        findings,
        passed,
        blast_radius: radius,
        repository,
        problems,
    }
}

fn finding(
    severity: Severity,
    category: &str,
    subject: &str,
    value: &str,
    problem: impl Into<String>,
    fix: impl Into<String>,
) -> AuditFinding {
    AuditFinding {
        severity,
        category: category.to_string(),
        subject: subject.to_string(),
        value: value.to_string(),
        problem: problem.into(),
        fix: fix.into(),
    }
}

fn pass(subject: &str, value: &str) -> AuditPass {
    AuditPass {
        subject: subject.to_string(),
        value: value.to_string(),
    }
}

fn settings_findings(
    server: &ServerFacts,
    findings: &mut Vec<AuditFinding>,
    passed: &mut Vec<AuditPass>,
    problems: &mut Vec<String>,
) {
    let get = |name: &str| server.settings.get(name).map(String::as_str);
    let mut need = |name: &str| -> Option<String> {
        let v = server.settings.get(name).cloned();
        if v.is_none() {
            problems.push(format!("setting {name} is not visible to this role"));
        }
        v
    };
    let preload = get("shared_preload_libraries").unwrap_or("");
    let pgaudit_loaded = preload
        .split(',')
        .any(|l| l.trim().trim_matches('"') == "pgaudit");
    let pgaudit_logs_writes = pgaudit_loaded
        && get("pgaudit.log").is_some_and(|v| {
            v.split(',').any(|c| {
                let c = c.trim().to_ascii_lowercase();
                c == "all" || c == "write" || c == "ddl"
            })
        });
    let every_statement_logged = get("log_min_duration_statement") == Some("0");

    // log_statement: the only trace a DELETE/TRUNCATE/DROP leaves in the server log.
    if let Some(v) = need("log_statement") {
        let visible = v == "mod" || v == "all" || every_statement_logged || pgaudit_logs_writes;
        if visible {
            passed.push(pass("log_statement", &v));
        } else {
            let (sev, what) = if v == "ddl" {
                (
                    Severity::High,
                    "DROP is logged, but a DELETE or TRUNCATE leaves no line in the server log",
                )
            } else {
                (
                    Severity::High,
                    "the next DELETE, TRUNCATE or DROP leaves no line in the server log: nobody \
                     will be able to say who ran it, or when",
                )
            };
            findings.push(finding(
                sev,
                "logging",
                "log_statement",
                &v,
                what,
                "ALTER SYSTEM SET log_statement = 'mod'; SELECT pg_reload_conf();",
            ));
        }
    }

    // log_line_prefix: csvlog/jsonlog always carry time, pid and session; stderr needs the prefix.
    let destinations = get("log_destination")
        .unwrap_or("stderr")
        .to_ascii_lowercase();
    let structured = destinations
        .split(',')
        .any(|d| matches!(d.trim(), "csvlog" | "jsonlog"));
    if let Some(prefix) = need("log_line_prefix") {
        let has = |escapes: &[&str]| escapes.iter().any(|e| prefix.contains(e));
        let time = has(&["%m", "%t", "%n"]);
        let session = has(&["%p", "%c"]);
        let who = has(&["%u"]) && has(&["%d"]);
        if structured {
            passed.push(pass(
                "log_line_prefix",
                &format!("{destinations} carries time, pid and session"),
            ));
        } else if !time || !session {
            let missing = match (time, session) {
                (false, false) => "neither a time nor a process id",
                (false, true) => "no time",
                _ => "no process id or session id",
            };
            findings.push(finding(
                if time {
                    Severity::Medium
                } else {
                    Severity::High
                },
                "logging",
                "log_line_prefix",
                &prefix,
                format!(
                    "log lines carry {missing}: a logged statement cannot be placed on the \
                     timeline or tied to its session's COMMIT or ROLLBACK"
                ),
                "ALTER SYSTEM SET log_line_prefix = '%m [%p] %q%u@%d '; SELECT pg_reload_conf();",
            ));
        } else if !who {
            findings.push(finding(
                Severity::Low,
                "logging",
                "log_line_prefix",
                &prefix,
                "log lines do not name the user and database (%u, %d)",
                "ALTER SYSTEM SET log_line_prefix = '%m [%p] %q%u@%d '; SELECT pg_reload_conf();",
            ));
        } else {
            passed.push(pass("log_line_prefix", &prefix));
        }
    }

    if let Some(v) = need("track_commit_timestamp") {
        if v == "on" {
            passed.push(pass("track_commit_timestamp", &v));
        } else {
            findings.push(finding(
                Severity::Medium,
                "logging",
                "track_commit_timestamp",
                &v,
                "the commit time of a TRUNCATE or DROP+CREATE (the pg_class row's xmin) cannot be \
                 read back",
                "ALTER SYSTEM SET track_commit_timestamp = on; -- takes effect after a restart",
            ));
        }
    }

    let wal_level = need("wal_level");
    if let Some(v) = &wal_level {
        if v == "minimal" {
            findings.push(finding(
                Severity::High,
                "recovery",
                "wal_level",
                v,
                "WAL at level minimal can neither be archived nor replayed to a point in time",
                "ALTER SYSTEM SET wal_level = 'replica'; -- takes effect after a restart",
            ));
        } else {
            passed.push(pass("wal_level", v));
        }
    }

    if let Some(mode) = need("archive_mode") {
        if mode == "off" {
            findings.push(finding(
                Severity::High,
                "recovery",
                "archive_mode",
                &mode,
                "no WAL archive: the database can only go back to its last backup, not to just \
                 before the incident",
                "ALTER SYSTEM SET archive_mode = on; ALTER SYSTEM SET archive_command = \
                 'test ! -f /ARCHIVE/%f && cp %p /ARCHIVE/%f'; -- or archive_library; restart",
            ));
        } else {
            archiving_findings(server, &mode, findings, passed);
        }
    }

    if pgaudit_loaded && server.pgaudit_installed {
        passed.push(pass(
            "pgaudit",
            &format!(
                "loaded, pgaudit.log = {}",
                get("pgaudit.log").unwrap_or("none")
            ),
        ));
    } else {
        let visible_anyway = matches!(get("log_statement"), Some("mod") | Some("all"));
        findings.push(finding(
            if visible_anyway {
                Severity::Low
            } else {
                Severity::Medium
            },
            "logging",
            "pgaudit",
            if pgaudit_loaded {
                "loaded, extension not created"
            } else {
                "not loaded"
            },
            "no session audit log (pgaudit logs the object each statement touched, with \
             statement class)",
            "ALTER SYSTEM SET shared_preload_libraries = 'pgaudit'; -- restart, then: CREATE \
             EXTENSION pgaudit; ALTER SYSTEM SET pgaudit.log = 'write, ddl';",
        ));
    }
}

/// `archive_mode` is on: is anything actually being archived, and is it failing now?
fn archiving_findings(
    server: &ServerFacts,
    mode: &str,
    findings: &mut Vec<AuditFinding>,
    passed: &mut Vec<AuditPass>,
) {
    let command = server
        .settings
        .get("archive_command")
        .map(|s| s.trim())
        .unwrap_or("");
    let library = server
        .settings
        .get("archive_library")
        .map(|s| s.trim())
        .unwrap_or("");
    if server.settings.contains_key("archive_command") && command.is_empty() && library.is_empty() {
        findings.push(finding(
            Severity::High,
            "recovery",
            "archive_command",
            "(empty)",
            "archive_mode is on but nothing archives: WAL piles up in pg_wal and no \
             point-in-time recovery is possible",
            "ALTER SYSTEM SET archive_command = 'test ! -f /ARCHIVE/%f && cp %p /ARCHIVE/%f'; \
             SELECT pg_reload_conf();",
        ));
        return;
    }
    passed.push(pass("archive_mode", mode));
    let Some(a) = &server.archiver else {
        return;
    };
    let failing_now = a.failed_count > 0
        && match (a.last_failed_time, a.last_archived_time) {
            (Some(f), Some(ok)) => f > ok,
            (Some(_), None) => true,
            _ => false,
        };
    if failing_now {
        findings.push(finding(
            Severity::High,
            "recovery",
            "pg_stat_archiver",
            &format!(
                "{} failed, last failure {} at {}",
                a.failed_count,
                a.last_failed_wal.as_deref().unwrap_or("?"),
                a.last_failed_time
                    .map(|t| t.to_rfc3339())
                    .unwrap_or_default()
            ),
            "archiving is failing: the last attempt failed after the last success, so the \
             archive ends there and WAL piles up in pg_wal",
            "fix archive_command (run it by hand as the server user on the WAL file named above \
             and read the server log), then watch pg_stat_archiver.last_archived_time move",
        ));
    } else if a.archived_count == 0 {
        findings.push(finding(
            Severity::Medium,
            "recovery",
            "pg_stat_archiver",
            "0 archived",
            "archive_mode is on but no WAL segment has been archived since the statistics were \
             reset: nothing proves the archive works",
            "SELECT pg_switch_wal(); then check that pg_stat_archiver.archived_count grows and \
             the segment is in the archive",
        ));
    } else {
        passed.push(pass(
            "pg_stat_archiver",
            &format!(
                "{} archived, last {} at {}{}",
                a.archived_count,
                a.last_archived_wal.as_deref().unwrap_or("?"),
                a.last_archived_time
                    .map(|t| t.to_rfc3339())
                    .unwrap_or_default(),
                if a.failed_count > 0 {
                    format!(" ({} earlier failures, none since)", a.failed_count)
                } else {
                    String::new()
                }
            ),
        ));
    }
}

/// Blast radius of every table that is referenced by at least one foreign key.
pub fn blast_radius(foreign_keys: &[ForeignKey]) -> Vec<BlastRadius> {
    blast_radius_where(foreign_keys, |_| true, false)
}

/// The blast radius of the referenced tables `wanted` keeps. With `covered_once`, a table
/// already inside the TRUNCATE … CASCADE radius of one listed before it is left out (its own
/// radius is part of that one): a report then lists each FK tree once, from its top, and a
/// 10,000-deep chain costs one traversal instead of 10,000.
pub fn blast_radius_where(
    foreign_keys: &[ForeignKey],
    wanted: impl Fn(&str) -> bool,
    covered_once: bool,
) -> Vec<BlastRadius> {
    // parent → (child, on_delete)
    let mut children: BTreeMap<String, Vec<(String, String)>> = BTreeMap::new();
    for fk in foreign_keys {
        children
            .entry(format!("{}.{}", fk.ref_schema, fk.ref_table))
            .or_default()
            .push((format!("{}.{}", fk.schema, fk.table), fk.on_delete.clone()));
    }
    let reach = |start: &str, follow: &dyn Fn(&str) -> bool| -> Vec<String> {
        let mut seen = BTreeSet::new();
        let mut queue = VecDeque::from([start.to_string()]);
        while let Some(t) = queue.pop_front() {
            for (child, action) in children.get(&t).into_iter().flatten() {
                if follow(action) && child != start && seen.insert(child.clone()) {
                    queue.push_back(child.clone());
                }
            }
        }
        seen.into_iter().collect()
    };
    let roots: Vec<&String> = children.keys().filter(|p| wanted(p)).collect();
    if !covered_once {
        return roots
            .into_iter()
            .map(|parent| BlastRadius {
                table: parent.clone(),
                delete_cascades_to: reach(parent, &|a| a == "cascade"),
                truncate_cascade_empties: reach(parent, &|_| true),
            })
            .collect();
    }
    // Tops first: a wanted table that no other wanted table references downwards.
    let referenced_by_wanted: BTreeSet<&String> = roots
        .iter()
        .flat_map(|p| children.get(*p).into_iter().flatten().map(|(c, _)| c))
        .collect();
    let (tops, rest): (Vec<&String>, Vec<&String>) = roots
        .into_iter()
        .partition(|r| !referenced_by_wanted.contains(r));
    let mut covered: BTreeSet<String> = BTreeSet::new();
    let mut out = Vec::new();
    for parent in tops.into_iter().chain(rest) {
        if covered.contains(parent) {
            continue;
        }
        let empties = reach(parent, &|_| true);
        covered.extend(empties.iter().cloned());
        out.push(BlastRadius {
            table: parent.clone(),
            delete_cascades_to: reach(parent, &|a| a == "cascade"),
            truncate_cascade_empties: empties,
        });
    }
    out.sort_by(|a, b| a.table.cmp(&b.table));
    out
}

/// A finding per table whose DELETE cascades, with the constraint changes that stop it.
fn cascade_findings(foreign_keys: &[ForeignKey], radius: &[BlastRadius]) -> Vec<AuditFinding> {
    radius
        .iter()
        .filter(|r| !r.delete_cascades_to.is_empty())
        .map(|r| {
            let fixes: Vec<String> = foreign_keys
                .iter()
                .filter(|fk| {
                    fk.on_delete == "cascade"
                        && format!("{}.{}", fk.ref_schema, fk.ref_table) == r.table
                })
                .map(restrict_fix)
                .collect();
            let depth_note = if r.delete_cascades_to.len() > fixes.len() {
                " (through more than one level of ON DELETE CASCADE)"
            } else {
                ""
            };
            finding(
                Severity::Medium,
                "blast_radius",
                &r.table,
                &match r.delete_cascades_to.len() {
                    1 => "1 table".to_string(),
                    n => format!("{n} tables"),
                },
                format!(
                    "a DELETE on {} also deletes the matching rows of {}{}; the server log shows \
                     only the first statement",
                    r.table,
                    r.delete_cascades_to.join(", "),
                    depth_note
                ),
                if fixes.is_empty() {
                    "review the ON DELETE CASCADE constraints of its children".to_string()
                } else {
                    fixes.join(" ")
                },
            )
        })
        .collect()
}

fn restrict_fix(fk: &ForeignKey) -> String {
    let cols = |c: &[String]| {
        c.iter()
            .map(|x| quote_ident(x))
            .collect::<Vec<_>>()
            .join(", ")
    };
    format!(
        "ALTER TABLE {t} DROP CONSTRAINT {n}, ADD CONSTRAINT {n} FOREIGN KEY ({c}) REFERENCES {p} \
         ({rc}) ON DELETE RESTRICT;",
        t = quote_qualified(&fk.schema, &fk.table),
        n = quote_ident(&fk.name),
        c = cols(&fk.columns),
        p = quote_qualified(&fk.ref_schema, &fk.ref_table),
        rc = cols(&fk.ref_columns),
    )
}

/// Matches a table as written in code (`name`, `schema.name`, quoted or not) with a
/// `schema.name` of the database.
fn names_table(written: &str, qualified: &str) -> bool {
    let w = written.replace('"', "").to_ascii_lowercase();
    let q = qualified.to_ascii_lowercase();
    w == q || q.split_once('.').is_some_and(|(_, n)| n == w)
}

fn repository_findings(statements: &[RepoStatement], radius: &[BlastRadius]) -> Vec<AuditFinding> {
    statements
        .iter()
        .map(|s| {
            let mut reaches: BTreeSet<String> = BTreeSet::new();
            for object in &s.objects {
                for r in radius.iter().filter(|r| names_table(object, &r.table)) {
                    let emptied = if s.kind == "truncate" && s.cascade {
                        &r.truncate_cascade_empties
                    } else if matches!(s.kind.as_str(), "delete_all" | "truncate") {
                        &r.delete_cascades_to
                    } else {
                        continue;
                    };
                    reaches.extend(emptied.iter().cloned());
                }
            }
            let severity = if s.cascade || !reaches.is_empty() || !s.migration {
                Severity::High
            } else {
                Severity::Medium
            };
            let place = if s.migration {
                "a migration"
            } else {
                "application code"
            };
            let mut problem = format!(
                "active {} in {place}: {}",
                s.kind.replace('_', " "),
                s.statement
            );
            if !reaches.is_empty() {
                problem.push_str(&format!(
                    "; it also empties {}",
                    reaches.into_iter().collect::<Vec<_>>().join(", ")
                ));
            }
            let fix = match (s.kind.as_str(), s.cascade) {
                ("truncate", true) => {
                    "drop CASCADE (the TRUNCATE then fails instead of emptying every referencing \
                     table) or use DELETE FROM … WHERE, which ON DELETE RESTRICT can stop"
                }
                ("truncate", false) | ("delete_all", _) => {
                    "add a WHERE clause, or guard the statement behind an explicit confirmation; \
                     take a backup (pg_dump -t) first"
                }
                (_, true) => "drop CASCADE so that dependent objects stop the statement",
                _ => {
                    "make sure it cannot run against production by accident (guard, review, \
                     backup first)"
                }
            };
            finding(
                severity,
                "repository",
                &format!("{}:{}", s.path, s.line),
                &s.kind,
                problem,
                fix,
            )
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::evidence::ArchiverStats;

    fn fk(child: &str, parent: &str, on_delete: &str) -> ForeignKey {
        ForeignKey {
            name: format!("{child}_fkey"),
            schema: "public".into(),
            table: child.into(),
            columns: vec!["parent_id".into()],
            ref_schema: "public".into(),
            ref_table: parent.into(),
            ref_columns: vec!["id".into()],
            on_delete: on_delete.into(),
            on_update: "no_action".into(),
        }
    }

    /// The schema of pg-forensics.md: parent ← child_cascade ← grandchild (both CASCADE),
    /// parent ← child_restrict (NO ACTION).
    fn forensics_schema() -> Vec<ForeignKey> {
        vec![
            fk("child_cascade", "parent", "cascade"),
            fk("grandchild", "child_cascade", "cascade"),
            fk("child_restrict", "parent", "no_action"),
        ]
    }

    fn settings(pairs: &[(&str, &str)]) -> ServerFacts {
        ServerFacts {
            settings: pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            ..ServerFacts::default()
        }
    }

    #[test]
    fn truncate_cascade_empties_every_referencing_table_delete_follows_only_cascade() {
        let r = blast_radius(&forensics_schema());
        let parent = r.iter().find(|b| b.table == "public.parent").unwrap();
        assert_eq!(
            parent.delete_cascades_to,
            vec!["public.child_cascade", "public.grandchild"]
        );
        assert_eq!(
            parent.truncate_cascade_empties,
            vec![
                "public.child_cascade",
                "public.child_restrict",
                "public.grandchild"
            ]
        );
        let child = r
            .iter()
            .find(|b| b.table == "public.child_cascade")
            .unwrap();
        assert_eq!(child.delete_cascades_to, vec!["public.grandchild"]);
    }

    #[test]
    fn cascade_chains_get_a_finding_with_the_restrict_fix() {
        let report = audit(&ServerFacts::default(), &forensics_schema(), None);
        let f = report
            .findings
            .iter()
            .find(|f| f.category == "blast_radius" && f.subject == "public.parent")
            .unwrap();
        assert_eq!(f.severity, Severity::Medium);
        assert!(
            f.problem
                .contains("public.child_cascade, public.grandchild")
        );
        assert!(f.problem.contains("more than one level"));
        assert_eq!(
            f.fix,
            "ALTER TABLE public.child_cascade DROP CONSTRAINT child_cascade_fkey, ADD CONSTRAINT \
             child_cascade_fkey FOREIGN KEY (parent_id) REFERENCES public.parent (id) ON DELETE \
             RESTRICT;"
        );
    }

    #[test]
    fn a_default_server_is_blind_and_not_recoverable() {
        let s = settings(&[
            ("log_statement", "none"),
            ("log_line_prefix", "%m [%p] "),
            ("log_destination", "stderr"),
            ("track_commit_timestamp", "off"),
            ("wal_level", "replica"),
            ("archive_mode", "off"),
            ("shared_preload_libraries", ""),
        ]);
        let r = audit(&s, &[], None);
        let subjects: Vec<(&str, Severity)> = r
            .findings
            .iter()
            .map(|f| (f.subject.as_str(), f.severity))
            .collect();
        assert_eq!(
            subjects,
            vec![
                ("log_statement", Severity::High),
                ("archive_mode", Severity::High),
                ("pgaudit", Severity::Medium),
                ("track_commit_timestamp", Severity::Medium),
                ("log_line_prefix", Severity::Low),
            ]
        );
        assert_eq!(r.worst, Some(Severity::High));
        assert_eq!(
            r.findings[0].fix,
            "ALTER SYSTEM SET log_statement = 'mod'; SELECT pg_reload_conf();"
        );
    }

    #[test]
    fn a_well_configured_server_has_no_high_finding() {
        let mut s = settings(&[
            ("log_statement", "mod"),
            ("log_line_prefix", "%m [%p] %q%u@%d "),
            ("log_destination", "stderr"),
            ("track_commit_timestamp", "on"),
            ("wal_level", "replica"),
            ("archive_mode", "on"),
            ("archive_command", "cp %p /a/%f"),
            ("shared_preload_libraries", ""),
        ]);
        s.archiver = Some(ArchiverStats {
            archived_count: 3,
            last_archived_wal: Some("000000010000000000000003".into()),
            last_archived_time: Some(chrono::Utc::now()),
            failed_count: 0,
            last_failed_wal: None,
            last_failed_time: None,
            stats_reset: None,
        });
        let r = audit(&s, &[], None);
        assert_eq!(r.worst, Some(Severity::Low), "{:?}", r.findings);
        assert_eq!(r.passed.len(), 6);
    }

    #[test]
    fn archiving_that_fails_after_its_last_success_is_high() {
        let now = chrono::Utc::now();
        let mut s = settings(&[("archive_mode", "on"), ("archive_command", "false")]);
        s.archiver = Some(ArchiverStats {
            archived_count: 3,
            last_archived_wal: Some("A".into()),
            last_archived_time: Some(now - chrono::Duration::hours(1)),
            failed_count: 7,
            last_failed_wal: Some("B".into()),
            last_failed_time: Some(now),
            stats_reset: None,
        });
        let r = audit(&s, &[], None);
        let f = r
            .findings
            .iter()
            .find(|f| f.subject == "pg_stat_archiver")
            .unwrap();
        assert_eq!(f.severity, Severity::High);
        assert!(f.value.starts_with("7 failed, last failure B"));
    }

    #[test]
    fn csvlog_makes_the_prefix_irrelevant_and_ddl_is_not_enough() {
        let s = settings(&[
            ("log_statement", "ddl"),
            ("log_line_prefix", ""),
            ("log_destination", "csvlog"),
        ]);
        let r = audit(&s, &[], None);
        assert!(r.passed.iter().any(|p| p.subject == "log_line_prefix"));
        let f = r
            .findings
            .iter()
            .find(|f| f.subject == "log_statement")
            .unwrap();
        assert!(f.problem.contains("DELETE or TRUNCATE leaves no line"));
        let stderr = settings(&[("log_line_prefix", "%u@%d "), ("log_destination", "stderr")]);
        let r = audit(&stderr, &[], None);
        let f = r
            .findings
            .iter()
            .find(|f| f.subject == "log_line_prefix")
            .unwrap();
        assert_eq!(f.severity, Severity::High);
        assert!(
            f.problem
                .starts_with("log lines carry neither a time nor a process id")
        );
    }

    #[test]
    fn repository_statements_rank_by_what_they_would_empty() {
        let stmt = |kind: &str, cascade: bool, object: &str, migration: bool, active: bool| {
            RepoStatement {
                path: "etl/extract.py".into(),
                line: 42,
                kind: kind.into(),
                cascade,
                objects: vec![object.into()],
                statement: format!("TRUNCATE {object}"),
                active,
                migration,
                note: None,
            }
        };
        let repo = vec![
            stmt("truncate", true, "parent", false, true),
            stmt("drop_table", false, "old_stuff", true, true),
            stmt("drop_table", false, "ticker_info", false, false),
        ];
        let r = audit(&ServerFacts::default(), &forensics_schema(), Some(&repo));
        assert_eq!(
            r.repository.len(),
            2,
            "commented-out statements are left out"
        );
        let repo_findings: Vec<&AuditFinding> = r
            .findings
            .iter()
            .filter(|f| f.category == "repository")
            .collect();
        assert_eq!(repo_findings[0].severity, Severity::High);
        assert!(repo_findings[0].problem.contains(
            "it also empties public.child_cascade, public.child_restrict, public.grandchild"
        ));
        assert_eq!(repo_findings[1].severity, Severity::Medium);
    }
}
