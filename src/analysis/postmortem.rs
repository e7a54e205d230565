//! What the postmortem draft adds to the analysis, computed once with the facts: the impact and
//! title (`impact`), the story, causes, action items and lessons (`narrative`), the ruled-out
//! explanations grouped per kind, and the timeline as a story — each event with the findings it
//! supports, whether it is in the story, its session and outcome — with the routine events
//! counted and the diagram's key instants per finding.

use std::collections::{BTreeMap, HashMap};

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::analysis::Analysis;
use crate::analysis::facts::Facts;
use crate::analysis::finding::Kind;
use crate::analysis::impact::Impact;
use crate::analysis::narrative::{self, ActionItem, Causes, Cited, Lesson, RuledOutGroup};
use crate::analysis::timeline::TimelineEntry;
use crate::evidence::{LogEvent, SessionInfo, TxOutcome};

/// A timeline entry as the postmortem shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TimelineRow {
    #[serde(flatten)]
    pub entry: TimelineEntry,
    /// Ranks of the findings this event supports (`→ #1` in Markdown).
    pub findings: Vec<usize>,
    /// In the story timeline (the rest is routine: counted, listed only in the collapsed block).
    pub story: bool,
    /// The session of a logged event.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub session: Option<SessionInfo>,
    /// How the statement's transaction ended, when the log shows it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub outcome: Option<TxOutcome>,
    /// The log's DETAIL/STATEMENT lines (a failed statement's text).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct KindCount {
    pub kind: String,
    pub count: usize,
}

/// One section of the Mermaid gantt: a finding and the key instants that support it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct GanttSection {
    pub rank: usize,
    pub kind: Kind,
    /// Its key instants, in time order (at most six across all sections).
    pub instants: Vec<GanttInstant>,
}

/// A key instant: the timeline entry's kind, text and (for a failed statement) detail; the
/// template writes the label.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct GanttInstant {
    pub at: DateTime<Utc>,
    pub kind: String,
    pub text: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Default)]
pub struct Postmortem {
    pub impact: Option<Impact>,
    pub story: Vec<Cited>,
    pub causes: Causes,
    pub action_items: Vec<ActionItem>,
    pub lessons: Vec<Lesson>,
    pub ruled_out_groups: Vec<RuledOutGroup>,
    pub timeline: Vec<TimelineRow>,
    pub routine_events: Vec<KindCount>,
    pub gantt: Vec<GanttSection>,
    /// Whether the foreign-key blast radius bears on this incident: a cascade explains a loss,
    /// or an ON DELETE CASCADE foreign key leads to or from a lost table. A TRUNCATE or DROP
    /// of tables whose keys cascade nowhere says nothing through it (the JSON keeps it).
    pub blast_radius_matters: bool,
}

/// The most instants the timeline diagram shows: a diagram of every event says less.
const GANTT_INSTANTS: usize = 6;

/// The postmortem of an analysis whose timeline, advice, blast radius and recovery plans are
/// computed.
pub fn postmortem(facts: &Facts, analysis: &Analysis) -> Postmortem {
    let impact = crate::analysis::impact::impact(facts, analysis);
    let events: HashMap<&str, &LogEvent> = facts
        .evidence
        .timeline
        .iter()
        .flat_map(|tl| tl.events.iter())
        .map(|e| (e.source.as_str(), e))
        .collect();
    let links = narrative::TimelineLinks::new(facts, analysis);
    let timeline: Vec<TimelineRow> = analysis
        .timeline
        .iter()
        .map(|e| {
            let (findings, story) = links.link(e.at, &e.kind, &e.source, &e.tables);
            let logged = events.get(e.source.as_str());
            TimelineRow {
                entry: e.clone(),
                findings,
                story,
                session: logged.map(|l| l.session.clone()),
                outcome: logged.and_then(|l| l.outcome),
                detail: logged.and_then(|l| l.detail.clone()),
            }
        })
        .collect();
    // A logged server start is told once: the catalog's postmaster start time is the same
    // start seen again, and a bgwriter stats reset in the seconds before it is the reset a
    // fresh cluster (initdb) or a restart brings. Both stay in the story when a finding rests
    // on them (a crash recovery's reset is the stats_reset finding's evidence).
    let logged_starts: Vec<DateTime<Utc>> = timeline
        .iter()
        .filter(|e| e.entry.kind == "server_start" && e.entry.source.starts_with("log:"))
        .map(|e| e.entry.at)
        .collect();
    let mut timeline = timeline;
    for e in timeline.iter_mut().filter(|e| e.findings.is_empty()) {
        let near = |before_ms: i64, after_ms: i64| {
            logged_starts.iter().any(|at| {
                let d = (*at - e.entry.at).num_milliseconds();
                (-after_ms..=before_ms).contains(&d)
            })
        };
        let again = match (e.entry.kind.as_str(), e.entry.source.as_str()) {
            ("server_start", "catalog:pg_postmaster_start_time") => near(1000, 1000),
            ("stats_reset", "stats:pg_stat_bgwriter.stats_reset") => near(5000, 1000),
            _ => false,
        };
        if again {
            e.story = false;
        }
    }
    // A table's catalog commit time within a second after a logged destructive statement of
    // the same finding is that statement's commit, seen again in pg_class: the finding's
    // evidence says it; the story tells the statement once.
    let logged_losses: Vec<(DateTime<Utc>, Vec<usize>)> = timeline
        .iter()
        .filter(|e| {
            e.entry.source.starts_with("log:")
                && crate::evidence::EventKind::is_destructive_name(&e.entry.kind)
        })
        .map(|e| (e.entry.at, e.findings.clone()))
        .collect();
    for e in timeline
        .iter_mut()
        .filter(|e| e.story && e.entry.kind == "catalog_change")
    {
        let committed = |(at, findings): &(DateTime<Utc>, Vec<usize>)| {
            let after = (e.entry.at - *at).num_milliseconds();
            (0..1000).contains(&after) && findings.iter().any(|f| e.findings.contains(f))
        };
        if logged_losses.iter().any(committed) {
            e.story = false;
        }
    }
    // Migration bookkeeping (a version table's INSERT or UPDATE) is told for the migrations the
    // cross-check lists: the row naming one of their revisions, quoted. Another revision's
    // bookkeeping is routine. Without a cross-checked migration every bookkeeping row is told.
    let revisions: Vec<String> = analysis
        .migrations
        .iter()
        .flat_map(|m| {
            let file = m.path.rsplit('/').next().unwrap_or(&m.path);
            let stem = file.split('.').next().unwrap_or(file);
            let prefix = stem.split('_').next().unwrap_or(stem);
            [format!("'{stem}'"), format!("'{prefix}'")]
        })
        .collect();
    if !revisions.is_empty() {
        for e in timeline
            .iter_mut()
            .filter(|e| e.findings.is_empty() && e.entry.kind == "migration_bookkeeping")
        {
            e.story = revisions.iter().any(|r| e.entry.text.contains(r.as_str()));
        }
    }
    let mut routine: BTreeMap<&str, usize> = BTreeMap::new();
    for e in timeline.iter().filter(|e| !e.story) {
        *routine.entry(e.entry.kind.as_str()).or_default() += 1;
    }
    let routine_events = routine
        .into_iter()
        .map(|(kind, count)| KindCount {
            kind: kind.to_string(),
            count,
        })
        .collect();
    // The diagram shows the key instants only: the loss statements and what caused them (a
    // DROP TYPE, a rollback), the failed statements of the suspect sessions, a crash or a
    // restore — each once, at most GANTT_INSTANTS in all. A finding none of whose events is
    // one of those shows its first event. The story table below has the rest.
    let key = |kind: &str| {
        crate::evidence::EventKind::is_destructive_name(kind)
            || matches!(
                kind,
                "rollback"
                    | "error"
                    | "crash"
                    | "crash_recovery"
                    | "recovery_start"
                    | "recovery_stop"
                    | "new_timeline"
                    | "promotion"
                    | "stats_reset"
            )
            || kind.starts_with("wal_")
    };
    let mut shown: std::collections::HashSet<&str> = std::collections::HashSet::new();
    let gantt = analysis
        .findings
        .iter()
        .filter_map(|f| {
            let linked: Vec<&TimelineRow> = timeline
                .iter()
                .filter(|e| e.findings.contains(&f.rank))
                .collect();
            let mut picked: Vec<&TimelineRow> = linked
                .iter()
                .copied()
                .filter(|e| key(&e.entry.kind))
                .collect();
            if picked.is_empty() && analysis.explains_any(f) {
                picked = linked.into_iter().take(1).collect();
            }
            let mut instants: Vec<GanttInstant> = Vec::new();
            for e in picked {
                if shown.len() >= GANTT_INSTANTS || !shown.insert(e.entry.source.as_str()) {
                    continue;
                }
                instants.push(GanttInstant {
                    at: e.entry.at,
                    kind: e.entry.kind.clone(),
                    text: e.entry.text.clone(),
                    detail: e.detail.clone(),
                });
            }
            (!instants.is_empty()).then_some(GanttSection {
                rank: f.rank,
                kind: f.kind,
                instants,
            })
        })
        .collect();
    let cascades: Vec<(String, Vec<String>)> = analysis
        .blast_radius
        .iter()
        .map(|b| (b.table.clone(), b.delete_cascades_to.clone()))
        .collect();
    let action_items = narrative::action_items(
        &analysis
            .recovery
            .iter()
            .map(|p| (p.id, p.tables.iter().map(|t| t.table.clone()).collect()))
            .collect::<Vec<_>>(),
        &analysis.advice.prevention,
        &analysis.advice.gaps,
        false,
    );
    let lost: std::collections::BTreeSet<&str> =
        impact.tables.iter().map(|r| r.table.as_str()).collect();
    let blast_radius_matters = analysis
        .findings
        .iter()
        .any(|f| f.kind == Kind::Cascade && analysis.explains_any(f))
        || analysis.blast_radius.iter().any(|b| {
            !b.delete_cascades_to.is_empty()
                && (lost.contains(b.table.as_str())
                    || b.delete_cascades_to
                        .iter()
                        .any(|t| lost.contains(t.as_str())))
        });
    let story = narrative::story(facts, analysis, &impact);
    Postmortem {
        blast_radius_matters,
        causes: narrative::causes(facts, analysis, &cascades, &story),
        story,
        action_items,
        lessons: point_to_actions(
            narrative::lessons(facts, analysis),
            &analysis.advice.immediate_actions,
        ),
        ruled_out_groups: narrative::ruled_out_groups(analysis),
        impact: Some(impact),
        timeline,
        routine_events,
        gantt,
    }
}

/// A lucky break an immediate action already acts on (the dead rows to read, the archive to
/// keep, the dropped column's values) is said short with the number of that action, not its
/// reasons again; two or more such breaks are one lesson ("still there, each kept by the immediate action in brackets:
/// …"), citing each break's source, in the place of the first.
fn point_to_actions(
    lessons: Vec<Lesson>,
    actions: &[crate::analysis::advice::Action],
) -> Vec<Lesson> {
    let archive = |source: &str| {
        source == "setting:archive_mode" || source.starts_with("stats:pg_stat_archiver.")
    };
    let acted_on = |l: &Lesson| {
        if !l.lucky {
            return None;
        }
        actions.iter().position(|a| {
            a.source.split(", ").any(|s| s == l.source)
                || (archive(&l.source) && a.title.starts_with("Keep the WAL archive"))
        })
    };
    let short = |l: &Lesson| {
        l.text
            .split(" — ")
            .next()
            .unwrap_or(&l.text)
            .trim_end_matches('.')
            .to_string()
    };
    let pointed: Vec<(usize, String, String)> = lessons
        .iter()
        .filter_map(|l| acted_on(l).map(|i| (i + 1, short(l), l.source.clone())))
        .collect();
    let mut out = Vec::with_capacity(lessons.len());
    let mut told = false;
    for l in lessons {
        let Some(i) = acted_on(&l) else {
            out.push(l);
            continue;
        };
        if pointed.len() == 1 {
            out.push(Lesson {
                text: format!("{} — immediate action {i}.", short(&l)),
                ..l
            });
        } else if !told {
            told = true;
            let parts: Vec<String> = pointed
                .iter()
                .enumerate()
                .map(|(n, (action, text, _))| {
                    // Each part after the first continues the sentence.
                    let text = if n == 0 {
                        text.clone()
                    } else {
                        lower_first(text)
                    };
                    format!("{text} ({action})")
                })
                .collect();
            out.push(Lesson {
                lucky: true,
                text: format!(
                    "Still there, each kept by the immediate action in brackets: {}.",
                    parts.join("; ")
                ),
                source: pointed
                    .iter()
                    .map(|(_, _, source)| source.as_str())
                    .collect::<Vec<_>>()
                    .join(", "),
            });
        }
    }
    out
}

/// "The WAL archive…" → "the WAL archive…"; a sentence starting with a table name or an
/// acronym ("WAL", "n_dead_tup") keeps its case.
fn lower_first(text: &str) -> String {
    let mut chars = text.chars();
    match (chars.next(), chars.next()) {
        (Some(first), Some(second)) if first.is_uppercase() && second.is_lowercase() => first
            .to_lowercase()
            .chain(std::iter::once(second))
            .chain(chars)
            .collect(),
        _ => text.to_string(),
    }
}
