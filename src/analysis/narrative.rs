//! The postmortem's prose, from the findings and the evidence: the story in a few cited
//! sentences, root cause and contributing factors, action items with an owner, what went our
//! way, the ruled-out explanations grouped per kind, and which timeline events matter to which
//! finding. Deterministic: every list follows rank, time or name order.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::analysis::Analysis;
use crate::analysis::facts::{Facts, committed};
use crate::analysis::finding::{Finding, Kind, Relation};
use crate::analysis::impact::{Impact, span};
use crate::evidence::{EventKind, LogEvent};

/// A sentence and where each of its claims can be checked.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Cited {
    pub text: String,
    pub sources: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Default)]
pub struct Causes {
    pub root: Vec<Cited>,
    pub contributing: Vec<Cited>,
    /// The root causes by the "What happened" sentences that tell them, when each is one
    /// (`#1 truncate (What happened, 3); #2 delete (What happened, 2)`): the Markdown says this
    /// rather than the statements again.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub root_told: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ActionItem {
    pub what: String,
    /// A suggested owner role (the incident commander assigns the person).
    pub owner: &'static str,
    /// The forensic gap (`gaps[].what`) this item closes, said here with its effect and not
    /// again in the report's list of gaps.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub closes_gap: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Lesson {
    /// True for "where we got lucky", false for "what made it harder".
    pub lucky: bool,
    pub text: String,
    pub source: String,
}

/// Ruled-out explanations of one kind, with one reason for all the tables.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RuledOutGroup {
    pub kind: Kind,
    pub tables: Vec<String>,
    /// The reason of the first table (the others' are alike; each is in `ruled_out`).
    pub reason: String,
    /// The table the reason was written for, when the group has more than one.
    pub example: Option<String>,
    pub source: String,
    /// Entries of `ruled_out` in the group.
    pub count: usize,
}

fn who(f: &Finding) -> String {
    match &f.session {
        Some(s) if s.user.is_some() => format!(
            "{}@{}{}",
            s.user.as_deref().unwrap_or("?"),
            s.database.as_deref().unwrap_or("?"),
            s.application
                .as_deref()
                .filter(|a| !a.is_empty())
                .map(|a| format!(" ({a})"))
                .unwrap_or_default()
        ),
        _ => "a session the log does not name".into(),
    }
}

fn hms(at: DateTime<Utc>) -> String {
    at.format("%Y-%m-%d %H:%M:%S%.3f UTC").to_string()
}

/// The log (or WAL) source of a finding's statement, else its first supporting fact.
pub(crate) fn statement_source(f: &Finding) -> Option<String> {
    // The line of the statement itself first: a finding over several statements (five DROP
    // TABLEs of one migration) cites each, and its `statement` is one of them.
    let quoted = f.statement.as_deref().map(|s| format!("`{}`", s.trim()));
    f.evidence
        .iter()
        .filter(|e| e.supports)
        .find(|e| {
            e.source.starts_with("log:") && quoted.as_deref().is_some_and(|q| e.text.starts_with(q))
        })
        .or_else(|| {
            f.evidence
                .iter()
                .filter(|e| e.supports)
                .find(|e| e.source.starts_with("log:") || e.source.starts_with("wal:"))
        })
        .or_else(|| f.evidence.iter().find(|e| e.supports))
        .map(|e| e.source.clone())
}

/// Findings that explain at least one table, in rank order.
fn explaining(analysis: &Analysis) -> Vec<&Finding> {
    analysis
        .findings
        .iter()
        .filter(|f| analysis.explains_any(f))
        .collect()
}

/// The statement a failed statement's error names (`STATEMENT: …` in the detail).
pub fn failed_statement(e: &LogEvent) -> Option<&str> {
    let d = e.detail.as_deref()?;
    d.lines()
        .find_map(|l| l.trim().strip_prefix("STATEMENT:"))
        .map(str::trim)
}

/// Errors of the sessions an explaining finding names, or naming a table it lost once it was
/// lost, each with the ranks of the findings it bears on.
fn suspect_errors<'a>(facts: &Facts<'a>, analysis: &Analysis) -> Vec<(&'a LogEvent, Vec<usize>)> {
    let explaining = explaining(analysis);
    facts
        .evidence
        .timeline
        .iter()
        .flat_map(|tl| tl.events.iter())
        .filter(|e| e.kind == EventKind::Error)
        .filter_map(|e| {
            let ranks: Vec<usize> = explaining
                .iter()
                .filter(|f| {
                    let same_session = e.session.pid.is_some()
                        && f.session.as_ref().and_then(|s| s.pid) == e.session.pid;
                    // An error naming a table the finding lost, once it was lost: the
                    // application failing on the missing table or rows is the impact. The log
                    // may name it bare (`session` for `public.session`), or it may be gone.
                    let after = f.at.is_none_or(|at| e.at >= at);
                    let names_its_table = e
                        .tables
                        .iter()
                        .any(|n| f.tables.iter().any(|t| facts.names_table(n, t)));
                    same_session || (after && names_its_table)
                })
                .map(|f| f.rank)
                .collect();
            (!ranks.is_empty()).then_some((e, ranks))
        })
        .collect()
}

/// What happened, five to ten sentences, each citing.
pub fn story(facts: &Facts, analysis: &Analysis, impact: &Impact) -> Vec<Cited> {
    let evidence = facts.evidence;
    let mut out: Vec<(DateTime<Utc>, Cited)> = Vec::new();
    let first_loss = impact.window.loss_at.as_ref().map(|l| l.at);
    let events: Vec<&LogEvent> = evidence
        .timeline
        .iter()
        .flat_map(|tl| tl.events.iter())
        .collect();
    // The cluster's life: the start the running server dates from, crashes and recoveries.
    if let Some(e) = events.iter().find(|e| e.kind == EventKind::ServerStart) {
        out.push((
            e.at,
            Cited {
                text: format!("The server started at {}.", hms(e.at)),
                sources: vec![e.source.clone()],
            },
        ));
    } else if let Some(at) = evidence
        .database
        .as_ref()
        .and_then(|d| d.server.postmaster_start_time)
    {
        out.push((
            at,
            Cited {
                text: format!("The running server started at {}.", hms(at)),
                sources: vec!["catalog:pg_postmaster_start_time".into()],
            },
        ));
    }
    for e in events.iter().filter(|e| {
        matches!(
            e.kind,
            EventKind::Crash
                | EventKind::CrashRecovery
                | EventKind::RecoveryStart
                | EventKind::RecoveryStop
                | EventKind::Promotion
        )
    }) {
        let what = match e.kind {
            EventKind::Crash => "the server crashed",
            EventKind::CrashRecovery => "crash recovery began",
            EventKind::RecoveryStart => "archive or point-in-time recovery started",
            EventKind::RecoveryStop => "recovery stopped at its target",
            _ => "the server was promoted",
        };
        out.push((
            e.at,
            Cited {
                text: format!("At {}, {what}: {}.", hms(e.at), e.text.trim()),
                sources: vec![e.source.clone()],
            },
        ));
    }
    // Migrations a finding rests on.
    let cited: BTreeSet<&str> = analysis
        .findings
        .iter()
        .flat_map(|f| {
            f.evidence
                .iter()
                .map(|e| e.source.as_str())
                .chain(f.links.iter().map(|l| l.source.as_str()))
        })
        .collect();
    for op in evidence
        .migrations
        .iter()
        .flat_map(|h| h.operations.iter())
        .filter(|op| cited.contains(op.source.as_str()))
    {
        out.push((
            op.committed_at,
            Cited {
                text: format!(
                    "{} committed migration {} on {}: `{}`.",
                    op.author,
                    op.path,
                    op.committed_at.format("%Y-%m-%d"),
                    op.statement.trim()
                ),
                sources: vec![op.source.clone()],
            },
        ));
    }
    for f in explaining(analysis) {
        let Some(at) = f.at else {
            out.push((
                DateTime::<Utc>::MIN_UTC,
                Cited {
                    text: format!("{}.", f.summary),
                    sources: statement_source(f).into_iter().collect(),
                },
            ));
            continue;
        };
        let mut text = match &f.statement {
            Some(s) => format!("At {}, {} ran `{}`", hms(at), who(f), s.trim()),
            None => format!("At {}", hms(at)),
        };
        text.push_str(&format!(": {} (#{}).", f.summary, f.rank));
        let mut sources: Vec<String> = statement_source(f).into_iter().collect();
        // The cause by its statement; how it caused the loss is a contributing factor, told
        // there in full.
        for l in f.links.iter().filter(|l| l.relation == Relation::CausedBy) {
            match first_code_span(&l.text) {
                Some(stmt) => text.push_str(&format!(
                    " It was caused by `{stmt}` (see the contributing factors)."
                )),
                None => text.push_str(&format!(" It was {}.", l.text.trim_end_matches('.'))),
            }
            sources.push(l.source.clone());
        }
        out.push((at, Cited { text, sources }));
    }
    for (e, _) in suspect_errors(facts, analysis) {
        let text = match failed_statement(e) {
            Some(stmt) => format!("At {}, `{stmt}` failed: {}.", hms(e.at), e.text.trim()),
            None => format!("At {}, an error: {}.", hms(e.at), e.text.trim()),
        };
        out.push((
            e.at,
            Cited {
                text,
                sources: vec![e.source.clone()],
            },
        ));
    }
    out.sort_by_key(|a| a.0);
    let mut story: Vec<Cited> = out.into_iter().map(|(_, c)| c).collect();
    story.truncate(9);
    // The Impact's "Detected" line says when the evidence was collected and how long after the
    // loss: the story does not end by saying it again (unless it has nothing else to say).
    if impact.window.detected_by.is_some() && !story.is_empty() {
        return story;
    }
    story.push(Cited {
        text: match first_loss {
            Some(at) => format!(
                "The evidence was collected at {}, {} after the first loss.",
                hms(evidence.collected_at),
                span((evidence.collected_at - at).num_milliseconds() as f64 / 1000.0)
            ),
            None => format!(
                "The evidence was collected at {}.",
                hms(evidence.collected_at)
            ),
        },
        sources: vec!["evidence:collected_at".into()],
    });
    story
}

/// The text of the first `` `…` `` span.
fn first_code_span(text: &str) -> Option<&str> {
    let (_, rest) = text.split_once('`')?;
    let (span, _) = rest.split_once('`')?;
    Some(span).filter(|s| !s.trim().is_empty())
}

/// `a`, `a and b`, `a, b and c`.
fn and_list(items: &[&str]) -> String {
    match items {
        [] => String::new(),
        [one] => (*one).to_string(),
        [init @ .., last] => format!("{} and {last}", init.join(", ")),
    }
}

/// An application name that reads as a one-off script or a job rather than the service.
fn looks_like_script(app: &str) -> bool {
    let a = app.to_lowercase();
    [".py", ".sh", ".rb", ".js", ".pl"]
        .iter()
        .any(|s| a.ends_with(s))
        || [
            "reset", "seed", "janitor", "cleanup", "cron", "script", "job",
        ]
        .iter()
        .any(|w| a.contains(w))
}

/// Root cause and contributing factors. `cascades` lists, per table, the tables a DELETE on it
/// reaches through ON DELETE CASCADE (the report's blast radius); `story` is "What happened".
pub fn causes(
    facts: &Facts,
    analysis: &Analysis,
    cascades: &[(String, Vec<String>)],
    story: &[Cited],
) -> Causes {
    let evidence = facts.evidence;
    let mut c = Causes::default();
    let losses: Vec<&Finding> = explaining(analysis)
        .into_iter()
        .filter(|f| f.loss)
        .collect();
    // A loss finding's sentence in the story ends with its rank, `(#2).`, and cites its
    // statement's line.
    let told: Option<Vec<String>> = losses
        .iter()
        .map(|f| {
            let marker = format!("(#{}).", f.rank);
            let source = statement_source(f);
            story
                .iter()
                .position(|s| s.text.contains(&marker) && s.sources.first() == source.as_ref())
                .map(|i| format!("#{} {} (What happened, {})", f.rank, f.kind.as_str(), i + 1))
        })
        .collect();
    c.root_told = told.filter(|t| !t.is_empty()).map(|t| t.join("; "));
    // What the statement did is in the impact and the story: the root cause names it and who.
    for f in &losses {
        let text = match &f.statement {
            Some(s) => format!(
                "#{} {}: `{}` run by {}.",
                f.rank,
                f.kind.as_str(),
                s.trim(),
                who(f)
            ),
            None => format!("#{} {}: {}.", f.rank, f.kind.as_str(), f.summary),
        };
        c.root.push(Cited {
            text,
            sources: statement_source(f).into_iter().collect(),
        });
    }
    // Links: an earlier event that made a later statement destructive.
    for f in &losses {
        for l in f.links.iter().filter(|l| l.relation == Relation::CausedBy) {
            c.contributing.push(Cited {
                text: format!("#{} was {}.", f.rank, l.text.trim_end_matches('.')),
                sources: vec![l.source.clone()],
            });
        }
    }
    // A migration a loss rests on reached production with a destructive operation.
    let cited: BTreeSet<&str> = losses
        .iter()
        .flat_map(|f| f.evidence.iter().map(|e| e.source.as_str()))
        .collect();
    for op in evidence
        .migrations
        .iter()
        .flat_map(|h| h.operations.iter())
        .filter(|op| cited.contains(op.source.as_str()))
    {
        c.contributing.push(Cited {
            text: format!(
                "A destructive migration was merged and deployed without a guard: {} runs `{}`.",
                op.path,
                op.statement.trim()
            ),
            sources: vec![op.source.clone()],
        });
    }
    // A script running with the application's role.
    let events: Vec<&LogEvent> = evidence
        .timeline
        .iter()
        .flat_map(|tl| tl.events.iter())
        .collect();
    // Scripts per role, in rank order: several scripts on one shared role are one factor.
    let mut scripts: BTreeMap<String, Vec<(String, &Finding)>> = BTreeMap::new();
    for f in &losses {
        let Some(s) = &f.session else { continue };
        let (Some(user), Some(app)) = (&s.user, &s.application) else {
            continue;
        };
        if !looks_like_script(app) {
            continue;
        }
        let of_user = scripts.entry(user.clone()).or_default();
        if !of_user.iter().any(|(a, _)| a == app) {
            of_user.push((app.clone(), f));
        }
    }
    for (user, apps) in &scripts {
        let names: Vec<&str> = apps.iter().map(|(a, _)| a.as_str()).collect();
        let others: BTreeSet<&str> = events
            .iter()
            .filter(|e| e.session.user.as_deref() == Some(user.as_str()))
            .filter_map(|e| e.session.application.as_deref())
            .filter(|a| !names.contains(a) && !a.is_empty())
            .collect();
        let mut sources: Vec<String> = apps
            .iter()
            .filter_map(|(_, f)| statement_source(f))
            .collect();
        sources.dedup();
        let scripts_word = if names.len() == 1 {
            "the script"
        } else {
            "the scripts"
        };
        if others.is_empty() {
            for (app, f) in apps {
                c.contributing.push(Cited {
                    text: format!("{app} could run `{}` against this database as role {user}: nothing kept the script away from it.", f.statement.as_deref().unwrap_or("it").trim()),
                    sources: statement_source(f).into_iter().collect(),
                });
            }
        } else {
            c.contributing.push(Cited {
                text: format!(
                    "{} ran with the credentials of role {user}, which {} also use: {scripts_word} had the application's rights on this database.",
                    and_list(&names),
                    others.into_iter().collect::<Vec<_>>().join(", "),
                ),
                sources,
            });
        }
    }
    // ON DELETE CASCADE carried a delete further than its statement names.
    let lost: BTreeSet<&str> = losses
        .iter()
        .flat_map(|f| f.tables.iter().map(String::as_str))
        .collect();
    for (table, reach) in cascades {
        if reach.is_empty()
            || !(lost.contains(table.as_str()) || reach.iter().any(|r| lost.contains(r.as_str())))
        {
            continue;
        }
        if !losses.iter().any(|f| f.kind == Kind::Cascade) {
            continue;
        }
        c.contributing.push(Cited {
            text: format!(
                "ON DELETE CASCADE on the foreign keys into {table} carries a DELETE on it to {}.",
                reach.join(", ")
            ),
            sources: vec![format!("catalog:{table}.foreign_keys")],
        });
    }
    // Statements without a WHERE clause.
    for e in events
        .iter()
        .filter(|e| e.kind == EventKind::DeleteAll)
        // Seen to commit, or of an outcome the log does not show (log_statement = mod) that a
        // loss finding rests on: its table showed the rows gone.
        .filter(|e| {
            committed(e) == Some(true)
                || (committed(e).is_none()
                    && losses
                        .iter()
                        .any(|f| f.at == Some(e.at) && f.statement.as_deref() == Some(&e.text)))
        })
    {
        c.contributing.push(Cited {
            text: format!(
                "`{}` has no WHERE clause: nothing asked how many rows it would remove.",
                e.text.trim()
            ),
            sources: vec![e.source.clone()],
        });
    }
    c
}

/// A suggested owner for a prevention step, by what it changes.
fn owner_of(text: &str) -> &'static str {
    let t = text.to_lowercase();
    if t.starts_with("revoke") || t.starts_with("grant") {
        "DBA"
    } else if t.contains("migration") {
        "application team (migration owners)"
    } else if t.contains("revoke")
        || t.contains("grant")
        || t.contains("role")
        || t.contains("privilege")
    {
        "DBA"
    } else if t.contains("baseline")
        || t.contains("backup")
        || t.contains("archive")
        || t.contains("wal")
    {
        "platform / SRE"
    } else if t.contains("delete") || t.contains("application") {
        "application team"
    } else if t.contains("log_") || t.contains("setting") {
        "DBA"
    } else {
        "incident owner"
    }
}

/// Checkbox items: recover, verify, then each prevention step and each forensic gap to close.
pub fn action_items(
    plans: &[(usize, Vec<String>)],
    prevention: &[String],
    gaps: &[crate::analysis::advice::Gap],
    has_verification: bool,
) -> Vec<ActionItem> {
    let mut out = Vec::new();
    // One item for every plan: the on-call DBA runs them together, and checks the rows with
    // the plan's own `pgtriage verify` step (unless a verification result is attached).
    let check = if has_verification {
        ""
    } else {
        "; check them with `pgtriage verify` and attach its result to this postmortem (`pgtriage report … --verify` adds it to the report)"
    };
    let item = |what: String, owner: &'static str| ActionItem {
        what,
        owner,
        closes_gap: None,
    };
    match plans {
        [] => {}
        [(id, tables)] => out.push(item(
            format!(
                "Put back the missing rows of {} (recovery plan {id}){check}.",
                tables.join(", ")
            ),
            "on-call DBA",
        )),
        _ => out.push(item(
            format!(
                "Put back the missing rows: {}{check}.",
                plans
                    .iter()
                    .map(|(id, tables)| format!("{} (recovery plan {id})", tables.join(", ")))
                    .collect::<Vec<_>>()
                    .join("; ")
            ),
            "on-call DBA",
        )),
    }
    // A missing baseline is closed by keeping one: that item says what its absence cost.
    let no_baseline = gaps
        .iter()
        .find(|g| g.setting.as_deref() == Some("--baseline"));
    for p in prevention {
        match no_baseline.filter(|_| p.as_str() == crate::analysis::advice::KEEP_A_BASELINE) {
            Some(g) => out.push(ActionItem {
                what: format!("{p} {}: {}.", g.what, g.effect),
                owner: owner_of(p),
                closes_gap: Some(g.what.clone()),
            }),
            None => out.push(item(p.clone(), owner_of(p))),
        }
    }
    for g in gaps {
        // A missing input (`--repo`, `--log`) is this report's limit, not a setting to change:
        // it stays in the list of gaps.
        if let Some(s) = g.setting.as_ref().filter(|s| !s.starts_with("--")) {
            // Say what the setting should become, not only what it is now, and what its
            // absence hid.
            let to = g
                .change_to
                .as_ref()
                .map(|t| format!(" to {t}"))
                .unwrap_or_default();
            out.push(ActionItem {
                what: format!(
                    "Close the forensic gap \"{}\" ({}): change {s}{to} so the next incident is seen.",
                    g.what, g.effect
                ),
                owner: "DBA",
                closes_gap: Some(g.what.clone()),
            });
        }
    }
    out
}

/// Where we got lucky, and what made it harder.
pub fn lessons(facts: &Facts, analysis: &Analysis) -> Vec<Lesson> {
    let evidence = facts.evidence;
    let mut out = Vec::new();
    let losses: Vec<&Finding> = explaining(analysis)
        .into_iter()
        .filter(|f| f.loss)
        .collect();
    let lost: BTreeSet<&str> = losses
        .iter()
        .flat_map(|f| f.tables.iter().map(String::as_str))
        .collect();
    for t in facts
        .tables
        .iter()
        .filter(|t| lost.contains(t.name.as_str()))
    {
        let loss_at = losses
            .iter()
            .filter(|f| f.tables.contains(&t.name))
            .filter_map(|f| f.at)
            .min();
        let vacuumed_since = match (t.last_vacuum_any(), loss_at) {
            (Some(v), Some(l)) => v >= l,
            _ => false,
        };
        if t.dead() > 0 && !vacuumed_since {
            out.push(Lesson {
                lucky: true,
                text: format!(
                    "{}: {} still on disk and no vacuum has run since the loss — the deleted rows can be read back.",
                    t.name,
                    if t.dead() == 1 {
                        "1 dead tuple is".to_string()
                    } else {
                        format!("{} dead tuples are", t.dead())
                    }
                ),
                source: t.cite("n_dead_tup"),
            });
        }
    }
    if let Some(db) = &evidence.database {
        let archived = db.archiver.as_ref().is_some_and(|a| a.archived_count > 0);
        if archived
            || db
                .settings
                .get("archive_mode")
                .is_some_and(|v| v == "on" || v == "always")
        {
            out.push(Lesson {
                lucky: true,
                text: "The WAL archive was on: point-in-time recovery to just before the loss is possible.".into(),
                source: if archived {
                    "stats:pg_stat_archiver.archived_count".into()
                } else {
                    "setting:archive_mode".into()
                },
            });
        } else {
            out.push(Lesson {
                lucky: false,
                text: "No WAL archive: there is no point-in-time recovery; only dumps and dead tuples can bring rows back.".into(),
                source: "setting:archive_mode".into(),
            });
        }
        for d in db
            .dropped_columns
            .iter()
            .filter(|d| lost.contains(format!("{}.{}", d.schema, d.table).as_str()))
        {
            out.push(Lesson {
                lucky: true,
                text: format!(
                    "The values of {}.{}'s dropped column #{} are still in the heap until the table is rewritten.",
                    d.schema, d.table, d.attnum
                ),
                source: format!("catalog:{}.{}.attnum_{}.attisdropped", d.schema, d.table, d.attnum),
            });
        }
        match db.settings.get("log_statement").map(String::as_str) {
            Some(v @ ("all" | "mod" | "ddl")) => out.push(Lesson {
                lucky: true,
                text: format!("log_statement = {v}: the destructive statements are in the server log with their sessions."),
                source: "setting:log_statement".into(),
            }),
            Some(v) => out.push(Lesson {
                lucky: false,
                text: format!("log_statement = {v}: the statements that removed rows are not in the log."),
                source: "setting:log_statement".into(),
            }),
            None => {}
        }
    }
    if evidence.baseline.is_some() {
        out.push(Lesson {
            lucky: true,
            text: "A baseline from before the loss existed: expected rows are known, not inferred."
                .into(),
            // A citation like every other: the baseline file the evidence names.
            source: evidence
                .inputs
                .iter()
                .find(|i| i.kind == "baseline")
                .map(|i| format!("baseline:{}", i.name))
                .unwrap_or_else(|| "evidence:baseline".into()),
        });
    } else if evidence.database.is_some() {
        out.push(Lesson {
            lucky: false,
            text: "No baseline from before the loss: expected rows are inferred from counters."
                .into(),
            source: "evidence:inputs".into(),
        });
    }
    out
}

/// `ruled_out` grouped per kind: the tables and one reason.
pub fn ruled_out_groups(analysis: &Analysis) -> Vec<RuledOutGroup> {
    let mut groups: BTreeMap<Kind, RuledOutGroup> = BTreeMap::new();
    for r in &analysis.ruled_out {
        let g = groups.entry(r.kind).or_insert_with(|| RuledOutGroup {
            kind: r.kind,
            tables: Vec::new(),
            reason: r.reason.clone(),
            example: r.tables.first().cloned(),
            source: r.source.clone(),
            count: 0,
        });
        g.count += 1;
        for t in &r.tables {
            if !g.tables.contains(t) {
                g.tables.push(t.clone());
            }
        }
    }
    groups
        .into_values()
        .map(|mut g| {
            g.tables.sort();
            if g.tables.len() <= 1 {
                g.example = None;
            }
            g
        })
        .collect()
}

/// The event kinds that are routine: counted in the report, listed only in the full timeline.
pub fn routine(kind: &str) -> bool {
    matches!(
        kind,
        "vacuum"
            | "autovacuum"
            | "analyze"
            | "autoanalyze"
            | "connection"
            | "disconnection"
            | "checkpoint"
            | "ready_to_accept_connections"
            | "tool_session"
            | "ddl"
            | "bulk_load"
    )
}

/// A finding's rank, the sources it cites, its tables and its time.
struct FindingMarks {
    rank: usize,
    cites: BTreeSet<String>,
    tables: BTreeSet<String>,
    at: Option<DateTime<Utc>>,
}

/// Which findings (by rank) a timeline event supports, and whether it belongs to the story:
/// cited by a finding, a destructive statement on a finding's tables, a migration, the cluster's
/// life, an error of a suspect session, or the last write to a lost table before its loss.
/// Built once per report; each event is then looked up in constant time per finding.
pub struct TimelineLinks {
    /// Per explaining finding: what it cites and where.
    findings: Vec<FindingMarks>,
    /// Sources of errors and last writes → the findings they support.
    extra: BTreeMap<String, Vec<usize>>,
}

impl TimelineLinks {
    pub fn new(facts: &Facts, analysis: &Analysis) -> Self {
        let explaining = explaining(analysis);
        let findings = explaining
            .iter()
            .map(|f| {
                let cites: BTreeSet<String> = f
                    .evidence
                    .iter()
                    .map(|e| e.source.clone())
                    .chain(f.links.iter().map(|l| l.source.clone()))
                    .chain(f.transaction.iter().map(|t| t.source.clone()))
                    .collect();
                FindingMarks {
                    rank: f.rank,
                    cites,
                    tables: f.tables.iter().cloned().collect(),
                    at: f.at,
                }
            })
            .collect();
        let mut extra: BTreeMap<String, Vec<usize>> = BTreeMap::new();
        for (e, ranks) in suspect_errors(facts, analysis) {
            extra.entry(e.source.clone()).or_default().extend(ranks);
        }
        // The last logged write to a loss finding's tables before it: one pass over the log.
        let events: Vec<&LogEvent> = facts
            .evidence
            .timeline
            .iter()
            .flat_map(|tl| tl.events.iter())
            .filter(|e| matches!(e.kind, EventKind::BulkLoad | EventKind::UpdateAll))
            .collect();
        for f in explaining.iter().filter(|f| f.loss) {
            let Some(fa) = f.at else { continue };
            let last = events
                .iter()
                .filter(|e| e.at < fa && e.tables.iter().any(|t| f.tables.contains(t)))
                .max_by_key(|e| e.at);
            if let Some(e) = last {
                extra.entry(e.source.clone()).or_default().push(f.rank);
            }
        }
        // A dropped table's first CREATE TABLE after the DROP ends what the loss broke (the
        // errors of the application that needed it): part of the drop's story.
        for f in explaining
            .iter()
            .filter(|f| f.loss && f.kind == Kind::DropRecreate)
        {
            let Some(fa) = f.at else { continue };
            for t in &f.tables {
                let created = facts
                    .events_named(t, &[EventKind::Ddl])
                    .into_iter()
                    .filter(|e| e.at >= fa)
                    .find(|e| {
                        e.text
                            .trim_start()
                            .get(..12)
                            .is_some_and(|w| w.eq_ignore_ascii_case("CREATE TABLE"))
                    });
                if let Some(e) = created {
                    extra.entry(e.source.clone()).or_default().push(f.rank);
                }
            }
        }
        TimelineLinks { findings, extra }
    }

    pub fn link(
        &self,
        at: DateTime<Utc>,
        kind: &str,
        source: &str,
        tables: &[String],
    ) -> (Vec<usize>, bool) {
        let destructive = crate::evidence::EventKind::is_destructive_name(kind)
            || kind == "rollback"
            || kind.starts_with("wal_");
        let mut ranks: Vec<usize> = Vec::new();
        for FindingMarks {
            rank,
            cites,
            tables: its_tables,
            at: fa,
        } in &self.findings
        {
            // A destructive statement on a finding's tables, in the same transaction time as the
            // finding, is part of it even when the finding cites another line of it.
            let on_its_tables = tables.iter().any(|t| its_tables.contains(t));
            let same_moment = fa.is_some_and(|fa| (fa - at).num_milliseconds().abs() < 1000);
            if cites.contains(source) || (destructive && on_its_tables && same_moment) {
                ranks.push(*rank);
            }
        }
        if let Some(more) = self.extra.get(source) {
            ranks.extend(more);
        }
        ranks.sort();
        ranks.dedup();
        let lifecycle = matches!(
            kind,
            "server_start"
                | "crash"
                | "crash_recovery"
                | "recovery_start"
                | "recovery_stop"
                | "new_timeline"
                | "promotion"
                | "stats_reset"
                | "server_shutdown"
                | "shutdown_request"
                | "last_completed_transaction"
        );
        let migration = matches!(kind, "migration_commit" | "migration_bookkeeping");
        // A destructive statement no finding rests on (an earlier routine DELETE on a lost
        // table) is counted with the routine events, not told.
        let story = !ranks.is_empty() || lifecycle || migration;
        (ranks, story)
    }
}
