//! What an analysis concludes: findings (one explanation of one incident, with the evidence for
//! and against it and how it was scored) and what the evidence rules out. Plain data, serialised
//! as-is into the JSON report.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::analysis::scoring::{Reason, ScoreLine};
use crate::evidence::SessionInfo;

/// The kinds of explanation pgtriage knows. Generated, with their order and JSON spelling, by
/// the registry (`hypotheses!` in `analysis::hypotheses`); each kind's title and whether it is a
/// loss come from its file's `HYPOTHESIS`.
pub use crate::analysis::hypotheses::Kind;

/// One fact cited for or against a finding.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Fact {
    /// True when the fact supports the finding, false when it speaks against it.
    pub supports: bool,
    /// Where to check it: `stats:SCHEMA.TABLE.COLUMN`, `catalog:…`, `log:FILE:LINE`,
    /// `git:SHA:PATH:LINE`, `baseline:…`, `wal:LSN`.
    pub source: String,
    pub text: String,
}

impl Fact {
    pub fn for_(source: impl Into<String>, text: impl Into<String>) -> Self {
        Fact {
            supports: true,
            source: source.into(),
            text: text.into(),
        }
    }

    pub fn against(source: impl Into<String>, text: impl Into<String>) -> Self {
        Fact {
            supports: false,
            source: source.into(),
            text: text.into(),
        }
    }
}

/// One explanation of (part of) the incident.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Finding {
    pub kind: Kind,
    /// 1 = most likely; set by the ranking.
    pub rank: usize,
    /// 0–1: the score lines' points (see `scoring`), clamped to 100 and divided by 100. A
    /// score of how much independent evidence backs the finding, not a probability: 0.80 is
    /// "80 points of evidence", not "80 % likely".
    pub confidence: f64,
    /// The unclamped sum of the score lines: ranks findings that both reach confidence 1.
    pub points: i32,
    /// `schema.name`, sorted.
    pub tables: Vec<String>,
    /// One sentence: what happened, in the reader's terms.
    pub summary: String,
    /// Whether committed rows are gone if this is true.
    pub loss: bool,
    /// For a cascade: the table the cascade started from.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub parent: Option<String>,
    /// For a cascade: the foreign keys it followed, `child.col → parent` with the action.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub fk_path: Vec<String>,
    /// When it happened (UTC), when the evidence pins it.
    pub at: Option<DateTime<Utc>>,
    /// Who did it, when the log says.
    pub session: Option<SessionInfo>,
    /// The statement, when the log shows it.
    pub statement: Option<String>,
    /// The bind parameters the log's DETAIL gave a statement sent over the extended protocol
    /// (`$1 = '3'`): without them `WHERE id > $1` does not say which rows went.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parameters: Option<String>,
    pub evidence: Vec<Fact>,
    /// What would confirm it: the next query, file or setting to look at.
    pub confirm: Vec<String>,
    /// What would refute it.
    pub refute: Vec<String>,
    /// The points behind the confidence, each a named reason.
    pub score: Vec<ScoreLine>,
    /// Ranks of other findings about the same tables that fit exactly as well.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub ties_with: Vec<usize>,
    /// The transaction the WAL shows doing it: xid, commit LSN and time, timeline, rows per
    /// table, outcome, `wal:LSN` (see `wal_join`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub transaction: Option<crate::analysis::wal_join::LossTransaction>,
    /// How this finding relates to other events: what caused it, what it restored over.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub links: Vec<Link>,
}

/// One hypothesis as the analysis registers it (`hypotheses::ALL`): what a reader calls it,
/// whether it is a loss, the function that looks for it, and the advice text that belongs to
/// it — so adding a hypothesis is its file (which declares this) plus one line in the
/// `hypotheses!` list, and `advice` has no per-kind arms.
#[derive(Clone, Copy)]
pub struct Hypothesis {
    /// A heading a person reads (`Kind::title`).
    pub title: &'static str,
    /// Whether committed rows are gone when this explanation holds (`Kind::is_loss`).
    pub loss: bool,
    pub hypothesize: fn(&crate::analysis::facts::Facts) -> Verdict,
    /// What to do when a finding of this kind explains a table but lost no committed rows
    /// (re-run the import, ANALYZE).
    pub recovery_note: Option<RecoveryNote>,
    /// Prevention items when a finding of this kind explains a loss.
    pub prevention: &'static [&'static str],
}

#[derive(Debug, Clone, Copy)]
pub struct RecoveryNote {
    pub title: &'static str,
    pub why: &'static str,
    pub command: Option<&'static str>,
}

/// How two events of one incident relate.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Relation {
    /// The other event made this one do damage (a dropped column → the DELETE its NULLs met).
    CausedBy,
    /// Both happened in one transaction.
    SameTransaction,
    /// This restore replaced what the other event had made.
    RestoredOver,
}

/// A link from a finding to another event: another finding (by rank) or a logged statement or
/// migration that is not a finding itself.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Link {
    pub relation: Relation,
    /// The rank of the other finding, when the other event is one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rank: Option<usize>,
    /// Where the other event is seen (`log:…`, `git:…`, `catalog:…`).
    pub source: String,
    pub text: String,
}

impl Finding {
    pub fn new(kind: Kind, mut tables: Vec<String>, summary: impl Into<String>) -> Self {
        tables.sort();
        tables.dedup();
        Finding {
            kind,
            rank: 0,
            confidence: 0.0,
            points: 0,
            tables,
            summary: summary.into(),
            loss: kind.is_loss(),
            parent: None,
            fk_path: Vec::new(),
            at: None,
            session: None,
            statement: None,
            parameters: None,
            evidence: Vec::new(),
            confirm: Vec::new(),
            refute: Vec::new(),
            score: Vec::new(),
            ties_with: Vec::new(),
            transaction: None,
            links: Vec::new(),
        }
    }

    /// Adds a scored reason (and the fact behind it) in one step.
    pub fn scored(&mut self, reason: Reason, source: impl Into<String>, text: impl Into<String>) {
        let text = text.into();
        let source = source.into();
        self.evidence.push(Fact {
            supports: reason.points() > 0,
            source: source.clone(),
            text: text.clone(),
        });
        self.score.push(ScoreLine::new(reason, source, text));
    }

    /// A fact shown in the report that does not move the score.
    pub fn note(&mut self, fact: Fact) {
        self.evidence.push(fact);
    }

    /// Sums the score lines into the confidence. Each reason counts once per finding, however
    /// many tables show it (a group of five tables is not five times as likely); the facts of the
    /// other tables stay in the evidence list.
    pub fn finish(mut self) -> Self {
        // Each reason's first line, with how many more lines gave that reason.
        let mut kept: Vec<(ScoreLine, usize)> = Vec::new();
        for line in std::mem::take(&mut self.score) {
            match kept.iter_mut().find(|(k, _)| k.reason == line.reason) {
                Some((_, extra)) => *extra += 1,
                None => kept.push((line, 0)),
            }
        }
        self.score = kept
            .into_iter()
            .map(|(mut line, n)| {
                if n > 0 {
                    line.text = format!("{} (and {n} more like it)", line.text);
                }
                line
            })
            .collect();
        self.confidence = crate::analysis::scoring::confidence(&self.score);
        self.points = self.score.iter().map(|l| l.points).sum();
        self
    }
}

/// An explanation the evidence rules out for some tables, with the reason.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RuledOut {
    pub kind: Kind,
    pub tables: Vec<String>,
    pub reason: String,
    pub source: String,
}

/// What one hypothesis concludes.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Verdict {
    pub findings: Vec<Finding>,
    pub ruled_out: Vec<RuledOut>,
}

impl Finding {
    /// Pins time, session and statement from the log event that did it.
    pub fn pin(&mut self, event: &crate::evidence::LogEvent) {
        self.at = Some(event.at);
        // A server process's line (recovery, checkpointer) names no client: no session to show.
        let s = &event.session;
        let client =
            s.user.is_some() || s.database.is_some() || s.application.is_some() || s.host.is_some();
        self.session = client.then(|| event.session.clone());
        self.statement = Some(event.text.clone());
        self.parameters = event.detail.as_deref().and_then(bind_parameters);
    }

    /// Cites a logged statement that did not fail and pins the finding to it. Only a statement
    /// whose transaction is seen to commit earns the log points: one whose outcome the log does
    /// not show (a session cut off, a prefix without `%p`) is cited, but scores nothing.
    pub fn cite_logged(&mut self, event: &crate::evidence::LogEvent) {
        if crate::analysis::facts::committed(event) == Some(true) {
            self.scored(
                Reason::LogStatement,
                event.source.clone(),
                format!("`{}`", event.text),
            );
            self.scored(
                Reason::LogCommitted,
                event.source.clone(),
                "its transaction committed",
            );
        } else {
            self.note(Fact::for_(
                event.source.clone(),
                format!(
                    "`{}` — the log does not show how its transaction ended, so it earns no points",
                    event.text
                ),
            ));
        }
        self.pin(event);
    }
}

/// `$1 = '3', $2 = 'x'` from an event's attached lines (`DETAIL: parameters: $1 = '3', …`,
/// one per line as the log assembler joins them).
fn bind_parameters(detail: &str) -> Option<String> {
    detail.lines().find_map(|line| {
        let line = line.trim();
        let line = line.strip_prefix("DETAIL:").map_or(line, str::trim_start);
        line.strip_prefix("parameters:")
            .map(|p| p.trim().to_string())
            .filter(|p| !p.is_empty())
    })
}

/// "1 row", "N rows": a count of rows as a sentence says it.
pub fn rows(n: i64) -> String {
    if n == 1 {
        "1 row".to_string()
    } else {
        format!("{n} rows")
    }
}

#[cfg(test)]
mod tests {
    use super::bind_parameters;

    #[test]
    fn bind_parameters_come_from_the_detail_line_that_gives_them() {
        assert_eq!(
            bind_parameters("DETAIL: parameters: $1 = '7', $2 = 'x'").as_deref(),
            Some("$1 = '7', $2 = 'x'")
        );
        assert_eq!(
            bind_parameters("HINT: something\nDETAIL: parameters: $1 = '7'").as_deref(),
            Some("$1 = '7'")
        );
        assert_eq!(
            bind_parameters("DETAIL: Key (id)=(1) is still referenced"),
            None
        );
    }
}
