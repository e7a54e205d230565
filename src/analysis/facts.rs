//! The facts every hypothesis reads, derived once from the evidence: each table with its
//! baseline row, expected rows and status; log events indexed by the tables they name; foreign
//! keys; and the small signature tests several hypotheses share. Pure: no I/O.

use std::collections::{BTreeMap, HashMap};

use chrono::{DateTime, Utc};

use crate::evidence::{
    DestructiveOperation, EventKind, Evidence, ForeignKey, LogEvent, TableStats, TxOutcome,
};

/// Where "expected rows" came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExpectedFrom {
    /// Exact: the baseline's rows plus the inserts minus the deletes counted since.
    Baseline,
    /// The baseline's live rows alone: the database was restored since, and a restore resets
    /// the counters (their inserts are the restore re-loading the rows, not new rows).
    BaselineRows,
    /// Inferred: inserts − deletes of the current counters.
    Counters,
    /// The catalog's `reltuples` (its last VACUUM/ANALYZE's estimate): the counters restarted,
    /// there is no baseline, and a count gave the rows now.
    Catalog,
    None,
}

impl ExpectedFrom {
    pub fn as_str(self) -> &'static str {
        match self {
            ExpectedFrom::Baseline | ExpectedFrom::BaselineRows => "baseline",
            ExpectedFrom::Counters => "counters",
            ExpectedFrom::Catalog => "catalog",
            ExpectedFrom::None => "none",
        }
    }
}

pub use crate::analysis::status::TableStatus as Status;

/// Rows are missing that no DELETE (or aborted insert) accounts for.
pub fn is_affected(status: Status) -> bool {
    matches!(status, Status::Wiped | Status::Partial)
}

/// One table as the hypotheses see it.
#[derive(Debug, Clone)]
pub struct TableView<'a> {
    pub stats: &'a TableStats,
    /// `schema.name`.
    pub name: String,
    /// The same table in the baseline (matched by `schema.name`).
    pub baseline: Option<&'a TableStats>,
    pub expected: Option<i64>,
    pub expected_from: ExpectedFrom,
    pub status: Status,
    /// The counters restarted (crash, reset, restore) and count from some later time.
    pub counters_restarted: bool,
    /// `n_live_tup` counts the table's rows (see `status::TableAssessment::rows_counted`).
    pub rows_counted: bool,
    /// The rows a `count(*)` found right after the snapshot, when the counters could not say
    /// (`status::assess_counted`): what `live()` reads instead of `n_live_tup`.
    pub counted: Option<i64>,
}

impl<'a> TableView<'a> {
    pub fn ins(&self) -> i64 {
        self.stats.n_tup_ins.unwrap_or(0)
    }
    pub fn upd(&self) -> i64 {
        self.stats.n_tup_upd.unwrap_or(0)
    }
    pub fn del(&self) -> i64 {
        self.stats.n_tup_del.unwrap_or(0)
    }
    pub fn live(&self) -> i64 {
        self.counted
            .unwrap_or_else(|| self.stats.n_live_tup.unwrap_or(0))
    }
    pub fn dead(&self) -> i64 {
        self.stats.n_dead_tup.unwrap_or(0)
    }
    pub fn has_counters(&self) -> bool {
        self.stats.n_live_tup.is_some() && self.stats.n_tup_ins.is_some()
    }
    /// `stats:SCHEMA.TABLE.COLUMN`.
    pub fn cite(&self, column: &str) -> String {
        format!("stats:{}.{column}", self.name)
    }
    /// `catalog:SCHEMA.TABLE.COLUMN` (pg_class).
    pub fn cite_catalog(&self, column: &str) -> String {
        format!("catalog:{}.{column}", self.name)
    }
    pub fn cite_baseline(&self, column: &str) -> String {
        format!("baseline:{}.{column}", self.name)
    }
    /// `evidence:exact_counts.counted.SCHEMA.TABLE`: the count(*) collect took.
    pub fn cite_count(&self) -> String {
        format!("evidence:exact_counts.counted.{}", self.name)
    }
    /// Wiped or partial.
    pub fn affected(&self) -> bool {
        is_affected(self.status)
    }
    /// Rows expected but not there (also when the status rule puts the shortfall down to
    /// inserts that never committed).
    pub fn missing(&self) -> i64 {
        match self.expected {
            Some(e) if self.rows_counted => (e - self.live()).max(0),
            _ => 0,
        }
    }
    /// Every cumulative counter is zero.
    pub fn counters_zero(&self) -> bool {
        let s = self.stats;
        self.has_counters()
            && [
                s.n_tup_ins,
                s.n_tup_upd,
                s.n_tup_del,
                s.n_live_tup,
                s.n_dead_tup,
            ]
            .iter()
            .all(|c| c.unwrap_or(0) == 0)
    }
    /// The catalog says the table holds rows (kept across a stats reset).
    pub fn catalog_rows(&self) -> bool {
        self.stats.reltuples > 0.0 || self.stats.relpages > 0 || self.stats.size_bytes > Some(0)
    }
    /// `relfilenode ≠ oid`: the table's storage was replaced at some point. A partitioned
    /// table (relkind `p`) has no storage at all — its relfilenode is always 0 — so it is never
    /// rewritten: a TRUNCATE through it replaces its partitions' files, not its own.
    pub fn rewritten(&self) -> bool {
        self.stats.relkind != "p" && self.stats.relfilenode != self.stats.oid
    }
    /// Every `last_*` time is NULL and no vacuum was ever counted.
    pub fn never_maintained(&self) -> bool {
        let s = self.stats;
        s.last_vacuum.is_none()
            && s.last_autovacuum.is_none()
            && s.last_analyze.is_none()
            && s.last_autoanalyze.is_none()
            && s.vacuum_count.unwrap_or(0) == 0
            && s.autovacuum_count.unwrap_or(0) == 0
    }
    /// The latest (auto)vacuum, if any.
    pub fn last_vacuum_any(&self) -> Option<DateTime<Utc>> {
        self.stats.last_vacuum.max(self.stats.last_autovacuum)
    }
}

/// The facts derived from one evidence value.
#[derive(Debug)]
pub struct Facts<'a> {
    pub evidence: &'a Evidence,
    /// Sorted by `schema.name`.
    pub tables: Vec<TableView<'a>>,
    /// Exact `schema.name` (catalog spelling) → index.
    by_name: HashMap<String, usize>,
    /// Lower-cased `schema.name` → indices, for names from sources that did not fold.
    by_folded: HashMap<String, Vec<usize>>,
    by_bare: HashMap<String, Vec<usize>>,
    /// Baseline tables that no longer exist (by `schema.name`), sorted.
    pub gone: Vec<&'a TableStats>,
    pub foreign_keys: &'a [ForeignKey],
    /// Log events per table index, in log order.
    table_events: HashMap<usize, Vec<&'a LogEvent>>,
    /// Per foreign key: (child, parent) table indices.
    fk_ends: Vec<(Option<usize>, Option<usize>)>,
    /// Parent table index → indices of the foreign keys referencing it.
    referencing: HashMap<usize, Vec<usize>>,
    /// Log events naming tables that do not exist now, by name as logged (the catalog's
    /// spelling, `schema.name` or bare: the log classifier folds unquoted names already).
    pub unknown_table_events: BTreeMap<String, Vec<&'a LogEvent>>,
    /// The database was restored since the baseline (`Cluster::restored_since_baseline`).
    pub restored: bool,
    /// The migration history re-judged against the log and the snapshot
    /// (`migration_runs::judge`): what ran, which tables no migration manages.
    pub migrations: Option<crate::evidence::MigrationHistory>,
}

/// Lower-case, quotes removed: how PostgreSQL folds an unquoted identifier.
pub fn fold_name(name: &str) -> String {
    name.trim().replace('"', "").to_lowercase()
}

impl<'a> Facts<'a> {
    pub fn new(evidence: &'a Evidence) -> Self {
        // The baseline is the same database: its tables match by exact name, as in `status`.
        let mut baseline_by_name: HashMap<crate::evidence::RelationName, &TableStats> =
            HashMap::new();
        if let Some(b) = &evidence.baseline {
            for t in &b.tables {
                baseline_by_name.insert(t.relation(), t);
            }
        }
        // A database restored since the baseline: its counters count the restore, so tables are
        // compared with the baseline's rows (`status::assess_restored`).
        let restored = Cluster::of(evidence).restored_since_baseline();
        // `pg_restore --clean` into the same database keeps its oid: the log's pg_restore
        // session after the baseline says so, and each table it re-created and loaded (a new
        // oid, counters of a load alone) is judged as restored too, not as the baseline's rows
        // plus the dump's (random incidents seed 3434: 11,144 rows "lost" that the dump put
        // back).
        let restored_in_place = !restored
            && evidence.baseline.as_ref().is_some_and(|b| {
                evidence
                    .timeline
                    .iter()
                    .flat_map(|t| t.events.iter())
                    .any(|e| {
                        e.kind == EventKind::ToolSession
                            && e.at > b.server.server_time
                            && e.session.application.as_deref() == Some("pg_restore")
                    })
            });
        let restarted_at = Cluster::of(evidence).counters_restarted_at();
        let mut tables: Vec<TableView> = evidence
            .database
            .iter()
            .flat_map(|d| d.tables.iter())
            .map(|t| {
                let name = t.qualified_name();
                let baseline = baseline_by_name.get(&t.relation()).copied();
                let loaded_by_restore = restored_in_place
                    && baseline.is_some_and(|b| b.oid != t.oid)
                    && t.n_tup_upd == Some(0)
                    && t.n_tup_del == Some(0);
                let assessment = if restored || loaded_by_restore {
                    crate::analysis::status::assess_restored(t, baseline)
                } else {
                    crate::analysis::status::assess(t, baseline)
                };
                // A count taken because the counters could not say (or by --exact-counts)
                // settles what the table holds.
                let count = evidence
                    .exact_counts
                    .as_ref()
                    .and_then(|c| c.counted.get(&name).copied())
                    .filter(|_| {
                        assessment.counters_restarted
                            || assessment.status == crate::analysis::status::TableStatus::Unknown
                    });
                let assessment = match count {
                    Some(n) => crate::analysis::status::assess_counted(
                        t, baseline, n, restored, assessment,
                    ),
                    None => assessment,
                };
                let mut assessment = assessment;
                if count.is_none()
                    && assessment.status == crate::analysis::status::TableStatus::Intact
                    && crate::analysis::status::replaced_before_restart(t, restarted_at)
                    // A baseline already on this file was taken after the swap: the swap is
                    // older history, and the baseline's rows are what is expected.
                    && baseline.is_none_or(|b| b.relfilenode != t.relfilenode)
                {
                    assessment.status = crate::analysis::status::TableStatus::Unknown;
                    assessment.counters_restarted = true;
                }
                let expected = assessment.expected_rows;
                let status = assessment.status;
                let expected_from = match (expected, baseline) {
                    (None, _) => ExpectedFrom::None,
                    (Some(_), None) if count.is_some() && t.reltuples > 0.0 => {
                        ExpectedFrom::Catalog
                    }
                    (Some(_), Some(b))
                        if b.n_live_tup.is_some() && (restored || loaded_by_restore) =>
                    {
                        ExpectedFrom::BaselineRows
                    }
                    (Some(_), Some(b)) if b.n_live_tup.is_some() => ExpectedFrom::Baseline,
                    (Some(_), _) => ExpectedFrom::Counters,
                };
                TableView {
                    stats: t,
                    name,
                    baseline,
                    expected,
                    expected_from,
                    status,
                    counters_restarted: assessment.counters_restarted,
                    rows_counted: assessment.rows_counted,
                    counted: count,
                }
            })
            .collect();
        tables.sort_by(|a, b| a.name.cmp(&b.name));
        let mut by_name = HashMap::new();
        let mut by_folded: HashMap<String, Vec<usize>> = HashMap::new();
        let mut by_bare: HashMap<String, Vec<usize>> = HashMap::new();
        for (i, t) in tables.iter().enumerate() {
            by_name.insert(t.name.clone(), i);
            by_folded.entry(fold_name(&t.name)).or_default().push(i);
            by_bare.entry(fold_name(&t.stats.name)).or_default().push(i);
        }
        let mut gone: Vec<&TableStats> = evidence
            .baseline
            .iter()
            .flat_map(|b| b.tables.iter())
            .filter(|t| !by_name.contains_key(&t.qualified_name()))
            .collect();
        gone.sort_by_key(|t| t.qualified_name());
        let foreign_keys: &[ForeignKey] = evidence
            .database
            .as_ref()
            .map(|d| d.foreign_keys.as_slice())
            .unwrap_or(&[]);
        let mut facts = Facts {
            evidence,
            tables,
            by_name,
            by_folded,
            by_bare,
            gone,
            foreign_keys,
            table_events: HashMap::new(),
            unknown_table_events: BTreeMap::new(),
            migrations: crate::analysis::migration_runs::judge(evidence),
            restored,
            fk_ends: Vec::new(),
            referencing: HashMap::new(),
        };
        for (k, fk) in foreign_keys.iter().enumerate() {
            let child = facts.resolve(&format!("{}.{}", fk.schema, fk.table));
            let parent = facts.resolve(&format!("{}.{}", fk.ref_schema, fk.ref_table));
            facts.fk_ends.push((child, parent));
            if let Some(p) = parent {
                facts.referencing.entry(p).or_default().push(k);
            }
        }
        // The server log is the cluster's: a statement another database ran names that
        // database's tables, whatever their names (random incidents seed 1212: `DELETE FROM
        // app_data."Reviews"` in shop_staging pinned to shop's untouched table as a loss). A
        // line without the database (no %d in the prefix) may be this one's. The name is the
        // server's (`current_database()`); evidence older than that field has the connection's,
        // which through a pooler may be an alias the log never shows: then nothing is set aside.
        let this_database = evidence
            .database
            .as_ref()
            .map(|d| {
                d.server
                    .current_database
                    .as_deref()
                    .unwrap_or(d.server.database.as_str())
            })
            .filter(|here| {
                evidence
                    .timeline
                    .iter()
                    .flat_map(|t| t.events.iter())
                    .any(|e| e.session.database.as_deref() == Some(*here))
            });
        if let Some(timeline) = &evidence.timeline {
            for event in &timeline.events {
                if !is_table_event(event.kind) {
                    continue;
                }
                if let (Some(here), Some(there)) =
                    (this_database, event.session.database.as_deref())
                    && here != there
                {
                    continue;
                }
                for name in &event.tables {
                    match facts.resolve_logged(name, event) {
                        Some(i) => {
                            // A statement on a partitioned table acts on its partitions, which
                            // hold the rows (and the counters).
                            let parent = facts.tables.get(i).map(|t| t.name.as_str());
                            let partitions: Vec<usize> = facts
                                .tables
                                .iter()
                                .enumerate()
                                .filter(|(_, t)| {
                                    parent.is_some()
                                        && t.stats.partition_parent.as_deref() == parent
                                })
                                .map(|(p, _)| p)
                                .collect();
                            for p in partitions {
                                facts.table_events.entry(p).or_default().push(event);
                            }
                            facts.table_events.entry(i).or_default().push(event)
                        }
                        None => facts
                            .unknown_table_events
                            .entry(name.trim().to_string())
                            .or_default()
                            .push(event),
                    }
                }
            }
        }
        facts
    }

    /// The table a name (qualified or bare, as logged or written in a migration) refers to.
    /// Exact catalog spelling first (what the log classifier and the catalog write); quoted SQL
    /// text by PostgreSQL's folding rules (`RelationName`); then, for a source that did not
    /// fold, a case-insensitive match — the exact lower-case one when several tables differ
    /// only in case. A bare name prefers `public`, as the default search_path does.
    pub fn resolve(&self, name: &str) -> Option<usize> {
        let name = name.trim();
        if let Some(i) = self.by_name.get(name) {
            return Some(*i);
        }
        if name.contains('"') {
            let written = crate::evidence::relation::WrittenName::parse(name)?;
            let schema = written.schema.as_deref().unwrap_or("public");
            if let Some(i) = self.by_name.get(&format!("{schema}.{}", written.name)) {
                return Some(*i);
            }
            if written.schema.is_some() {
                return None;
            }
            return self
                .by_bare
                .get(&written.name.to_lowercase())?
                .iter()
                .find(|i| {
                    self.tables
                        .get(**i)
                        .is_some_and(|t| t.stats.name == written.name)
                })
                .copied();
        }
        let folded = fold_name(name);
        if folded.contains('.') {
            let candidates = self.by_folded.get(&folded)?;
            return match candidates.as_slice() {
                [only] => Some(*only),
                several => several
                    .iter()
                    .find(|i| self.tables.get(**i).is_some_and(|t| t.name == folded))
                    .copied(),
            };
        }
        let candidates = self.by_bare.get(&folded)?;
        let rank = |t: &TableView| {
            let spelling = if t.stats.name == name {
                0
            } else if t.stats.name == folded {
                1
            } else {
                2
            };
            (spelling, t.stats.schema != "public")
        };
        candidates
            .iter()
            .filter_map(|i| self.tables.get(*i).map(|t| (*i, t)))
            .min_by_key(|(_, t)| rank(t))
            .map(|(i, _)| i)
    }

    /// The table a logged statement acted on. A bare name several schemas have is read the way
    /// the default search_path reads it (`resolve`), unless that table's counters show the
    /// statement never reached it and exactly one namesake's show it did: the session had set
    /// its search_path (`SET search_path` is logged under `log_statement = all` only), and a
    /// `DELETE FROM orders` pinned to the public table that lost nothing would be a false loss
    /// there and a missing statement on the table that lost the rows (random incidents seed
    /// 6161).
    fn resolve_logged(&self, name: &str, event: &LogEvent) -> Option<usize> {
        let default = self.resolve(name)?;
        if name.contains('.') || name.contains('"') {
            return Some(default);
        }
        // Whether table `t`'s counters show this kind of statement took effect on it.
        let reached = |t: &TableView| match event.kind {
            EventKind::Truncate => t.rewritten(),
            EventKind::DeleteAll => t.del() > 0 && t.del().saturating_mul(2) >= t.ins().max(1),
            EventKind::Delete => t.del() > 0,
            _ => true,
        };
        let Some(d) = self.tables.get(default) else {
            return Some(default);
        };
        if !d.has_counters() || d.counters_restarted || reached(d) {
            return Some(default);
        }
        let namesakes: Vec<usize> = self
            .by_bare
            .get(&fold_name(name))
            .into_iter()
            .flatten()
            .copied()
            .filter(|i| *i != default)
            .filter(|i| {
                self.tables.get(*i).is_some_and(|t| {
                    t.stats.name == d.stats.name
                        && t.has_counters()
                        && !t.counters_restarted
                        && reached(t)
                })
            })
            .collect();
        match namesakes.as_slice() {
            [only] => Some(*only),
            _ => Some(default),
        }
    }

    pub fn table(&self, name: &str) -> Option<&TableView<'a>> {
        self.resolve(name).and_then(|i| self.tables.get(i))
    }

    /// The tables at `members` (indices this `Facts` handed out), in that order.
    pub fn views<'s>(
        &'s self,
        members: &'s [usize],
    ) -> impl Iterator<Item = &'s TableView<'a>> + 's {
        members.iter().filter_map(|i| self.tables.get(*i))
    }

    /// The tables at `members` with their indices, in that order.
    pub fn indexed_views<'s>(
        &'s self,
        members: &'s [usize],
    ) -> impl Iterator<Item = (usize, &'s TableView<'a>)> + 's {
        members
            .iter()
            .filter_map(|i| self.tables.get(*i).map(|t| (*i, t)))
    }

    /// `schema.name` of the tables at `members`, in that order.
    pub fn names(&self, members: &[usize]) -> Vec<String> {
        self.views(members).map(|t| t.name.clone()).collect()
    }

    /// Sorts table indices by `schema.name`.
    pub fn sort_by_name(&self, members: &mut [usize]) {
        members.sort_by_key(|i| self.tables.get(*i).map(|t| t.name.as_str()));
    }

    /// Log events of the given kinds naming table `i`, in log order.
    pub fn events_for(&self, i: usize, kinds: &[EventKind]) -> Vec<&'a LogEvent> {
        self.table_events
            .get(&i)
            .map(|v| {
                v.iter()
                    .filter(|e| kinds.contains(&e.kind))
                    .copied()
                    .collect()
            })
            .unwrap_or_default()
    }

    /// Log events of the given kinds naming the table called `name` (its catalog name), also
    /// when the database no longer has it (a DROP not followed by a CREATE): the log's names
    /// for such a table are kept as written, qualified or — for `public` — bare. In log order.
    pub fn events_named(&self, name: &str, kinds: &[EventKind]) -> Vec<&'a LogEvent> {
        if let Some(i) = self.resolve(name) {
            return self.events_for(i, kinds);
        }
        // The exact spelling first; a source that did not fold (a hand-written name) by case.
        let name = name.trim();
        let bare = name.strip_prefix("public.");
        let mut keys: Vec<&String> = [Some(name), bare]
            .into_iter()
            .flatten()
            .filter_map(|k| self.unknown_table_events.get_key_value(k).map(|(k, _)| k))
            .collect();
        if keys.is_empty() {
            let folded = fold_name(name);
            let bare = folded.strip_prefix("public.");
            keys = self
                .unknown_table_events
                .keys()
                .filter(|k| {
                    let k = fold_name(k);
                    k == folded || Some(k.as_str()) == bare
                })
                .collect();
        }
        let mut out: Vec<&'a LogEvent> = keys
            .into_iter()
            .filter_map(|k| self.unknown_table_events.get(k))
            .flatten()
            .filter(|e| kinds.contains(&e.kind))
            .copied()
            .collect();
        out.sort_by(|a, b| (a.at, &a.source).cmp(&(b.at, &b.source)));
        out.dedup_by(|a, b| a.source == b.source);
        out
    }

    /// Whether a name the log wrote (`session`, `public."user"`) is the table whose catalog
    /// name is `table`, also when the database no longer has that table.
    pub fn names_table(&self, logged: &str, table: &str) -> bool {
        match self.resolve(logged).and_then(|i| self.tables.get(i)) {
            Some(t) => t.name == table,
            None => {
                let (logged, table) = (logged.trim(), table.trim());
                if logged == table || format!("public.{logged}") == table {
                    return true;
                }
                let (logged, table) = (fold_name(logged), fold_name(table));
                logged == table || format!("public.{logged}") == table
            }
        }
    }

    /// Every log event of the given kinds, whatever it names.
    pub fn events_of(&self, kinds: &[EventKind]) -> Vec<&'a LogEvent> {
        self.evidence
            .timeline
            .iter()
            .flat_map(|t| t.events.iter())
            .filter(|e| kinds.contains(&e.kind))
            .collect()
    }

    pub fn has_log(&self) -> bool {
        self.evidence.timeline.is_some()
    }

    /// Active destructive migration operations of the given kinds naming table `i`.
    pub fn migration_ops_for(&self, i: usize, kinds: &[&str]) -> Vec<&'a DestructiveOperation> {
        let Some(history) = &self.evidence.migrations else {
            return Vec::new();
        };
        history
            .operations
            .iter()
            .filter(|op| op.active && kinds.contains(&op.kind.as_str()))
            .filter(|op| op.objects.iter().any(|o| self.resolve(o) == Some(i)))
            .collect()
    }

    /// Foreign keys whose both ends are among `members` (table indices).
    pub fn fks_within(&self, members: &[usize]) -> Vec<&'a ForeignKey> {
        self.foreign_keys
            .iter()
            .zip(&self.fk_ends)
            .filter(|(_, ends)| {
                matches!(ends, (Some(c), Some(p)) if c != p && members.contains(c) && members.contains(p))
            })
            .map(|(fk, _)| fk)
            .collect()
    }

    /// Foreign keys referencing table `i` (its children).
    pub fn fks_referencing(&self, i: usize) -> Vec<&'a ForeignKey> {
        self.referencing
            .get(&i)
            .map(|ks| {
                ks.iter()
                    .filter_map(|k| self.foreign_keys.get(*k))
                    .collect()
            })
            .unwrap_or_default()
    }

    /// The child (referencing) table index of a foreign key of this evidence.
    pub fn fk_child(&self, fk: &ForeignKey) -> Option<usize> {
        self.resolve(&format!("{}.{}", fk.schema, fk.table))
    }

    /// Every foreign key with its (child, parent) table indices.
    pub fn fk_edges(
        &self,
    ) -> impl Iterator<Item = (&'a ForeignKey, Option<usize>, Option<usize>)> + '_ {
        self.foreign_keys
            .iter()
            .zip(&self.fk_ends)
            .map(|(fk, (c, p))| (fk, *c, *p))
    }

    /// Foreign keys held by table `i` (its parents).
    pub fn fks_held(&self, i: usize) -> usize {
        self.fk_ends.iter().filter(|(c, _)| *c == Some(i)).count()
    }

    /// Table indices that are affected (wiped or partial).
    pub fn affected(&self) -> Vec<usize> {
        self.affected_tables().map(|(i, _)| i).collect()
    }

    /// The affected tables (wiped or partial) with their indices.
    pub fn affected_tables(&self) -> impl Iterator<Item = (usize, &TableView<'a>)> + '_ {
        self.tables.iter().enumerate().filter(|(_, t)| t.affected())
    }

    /// Every table's counters are zero while the catalog shows rows in at least one: the
    /// statistics were lost (crash recovery, PITR, `pg_stat_reset()`), not the data — unless an
    /// UNLOGGED table's file was emptied (`status::unlogged_file_emptied`).
    pub fn stats_zeroed_everywhere(&self) -> bool {
        let with_counters: Vec<_> = self.tables.iter().filter(|t| t.has_counters()).collect();
        !with_counters.is_empty()
            && with_counters.iter().all(|t| t.counters_zero())
            && with_counters.iter().any(|t| t.catalog_rows())
            && !with_counters
                .iter()
                .any(|t| crate::analysis::status::unlogged_file_emptied(t.stats))
    }

    /// Indices of tables whose counters are zero while the catalog shows rows.
    /// The cluster says its counters restarted: `pg_stat_reset()` (database stats_reset), or
    /// crash/archive recovery (bgwriter reset at postmaster start).
    pub fn counters_restarted_cluster(&self) -> bool {
        let c = self.cluster();
        c.database_stats_reset.is_some() || c.reset_at_start()
    }

    /// The statements the log shows emptying table `i` whole (TRUNCATE, DELETE without WHERE,
    /// DROP TABLE), seen to commit or of an outcome the log does not show that the table does not
    /// show undone (`signatures::undone`): facts no statistics artefact explains.
    pub fn logged_emptying(&self, i: usize) -> Vec<&'a LogEvent> {
        self.events_for(
            i,
            &[
                EventKind::Truncate,
                EventKind::DeleteAll,
                EventKind::DropTable,
            ],
        )
        .into_iter()
        .filter(|e| crate::analysis::signatures::may_have_committed(self, i, e))
        .collect()
    }

    pub fn stats_zeroed_tables(&self) -> Vec<usize> {
        self.tables
            .iter()
            .enumerate()
            // A partitioned table (relkind p) has no storage: its counters are always zero and
            // say nothing; its partitions carry the rows.
            .filter(|(_, t)| {
                t.counters_zero()
                    && t.catalog_rows()
                    && t.stats.relkind != "p"
                    && !crate::analysis::status::unlogged_file_emptied(t.stats)
            })
            .map(|(i, _)| i)
            .collect()
    }
}

fn is_table_event(kind: EventKind) -> bool {
    matches!(
        kind,
        EventKind::Truncate
            | EventKind::Delete
            | EventKind::DeleteAll
            | EventKind::UpdateAll
            | EventKind::DropTable
            | EventKind::DropColumn
            | EventKind::DropType
            | EventKind::Ddl
            | EventKind::BulkLoad
            | EventKind::Error
            | EventKind::Rollback
            | EventKind::Autovacuum
            | EventKind::Autoanalyze
            | EventKind::Audit
    )
}

/// Whether the server log can show how a transaction ended. `log_statement` `none`, `ddl` and
/// `mod` log neither `BEGIN` nor `COMMIT` nor `ROLLBACK` (they are in no class but `all`), so a
/// statement of a transaction that rolled back reads exactly like one that committed in
/// autocommit — unless `log_min_duration_statement = 0` logs every statement, these included.
/// `None` when the evidence does not say (no snapshot, or the setting was not visible).
pub fn transaction_ends_logged(evidence: &Evidence) -> Option<bool> {
    let settings = &evidence.database.as_ref()?.settings;
    let statement = settings.get("log_statement")?;
    let every_duration = settings
        .get("log_min_duration_statement")
        .is_some_and(|v| v.trim() == "0" || v.trim() == "0ms");
    Some(statement.as_str() == "all" || every_duration)
}

/// The evidence with the outcomes the log cannot show said as unknown: when the server did not
/// log transaction control (`transaction_ends_logged`), the log reader's "committed" for a
/// statement of a session whose BEGIN/COMMIT/ROLLBACK no line shows is an assumption
/// (autocommit), not a seen COMMIT — a `BEGIN; DELETE FROM t; ROLLBACK;` under
/// `log_statement = mod` logs `DELETE FROM t` alone. Those become `unknown`; what the tables
/// still show decides them (`signatures::undone`). Borrowed unchanged when nothing is assumed.
pub fn with_unseen_outcomes(evidence: &Evidence) -> std::borrow::Cow<'_, Evidence> {
    use std::borrow::Cow;
    let Some(timeline) = evidence.timeline.as_ref() else {
        return Cow::Borrowed(evidence);
    };
    if transaction_ends_logged(evidence) != Some(false) {
        return Cow::Borrowed(evidence);
    }
    // Sessions whose transaction control the log does show (a BEGIN logged another way, say
    // by a setting changed since): their outcomes were seen.
    let key = |e: &LogEvent| (e.session.pid, e.session.session_id.clone());
    let controlled: std::collections::HashSet<_> = timeline
        .events
        .iter()
        .filter(|e| {
            matches!(
                e.kind,
                EventKind::Begin | EventKind::Commit | EventKind::Rollback
            )
        })
        .map(key)
        .collect();
    let assumed =
        |e: &LogEvent| e.outcome == Some(TxOutcome::Committed) && !controlled.contains(&key(e));
    if !timeline.events.iter().any(assumed) {
        return Cow::Borrowed(evidence);
    }
    let mut settled = evidence.clone();
    if let Some(t) = settled.timeline.as_mut() {
        for e in t.events.iter_mut().filter(|e| assumed(e)) {
            e.outcome = Some(TxOutcome::Unknown);
        }
    }
    Cow::Owned(settled)
}

/// Whether a logged statement's transaction is known to have committed; `None` when unknown.
pub fn committed(event: &LogEvent) -> Option<bool> {
    match event.outcome {
        Some(TxOutcome::Committed) => Some(true),
        Some(TxOutcome::RolledBack) | Some(TxOutcome::Aborted) => Some(false),
        Some(TxOutcome::Unknown) | None => None,
    }
}

/// Cluster-level facts, now and (when there is one) in the baseline.
#[derive(Debug, Clone, Default)]
pub struct Cluster {
    pub timeline_id: Option<i64>,
    pub baseline_timeline_id: Option<i64>,
    pub system_identifier: Option<String>,
    pub baseline_system_identifier: Option<String>,
    pub datid: Option<u32>,
    pub baseline_datid: Option<u32>,
    pub postmaster_start: Option<DateTime<Utc>>,
    pub baseline_postmaster_start: Option<DateTime<Utc>>,
    /// `pg_stat_bgwriter.stats_reset`: set by crash recovery and PITR (and initdb).
    pub bgwriter_stats_reset: Option<DateTime<Utc>>,
    /// `pg_stat_database.stats_reset`: set by `pg_stat_reset*()` only.
    pub database_stats_reset: Option<DateTime<Utc>>,
    pub in_recovery: Option<bool>,
}

impl Facts<'_> {
    pub fn cluster(&self) -> Cluster {
        Cluster::of(self.evidence)
    }

    /// When the baseline was taken (its server's clock).
    pub fn baseline_at(&self) -> Option<DateTime<Utc>> {
        self.evidence
            .baseline
            .as_ref()
            .map(|b| b.server.server_time)
    }

    /// "expected from the baseline of 2026-11-23 15:24:18 UTC", or "inferred from inserts −
    /// deletes" without one: how a reader should take an expected-rows figure.
    pub fn expected_basis(&self) -> String {
        match self.baseline_at() {
            Some(at) if self.restored => format!(
                "expected from the baseline of {} (its live rows: a restore resets the counters)",
                at.format("%Y-%m-%d %H:%M:%S UTC")
            ),
            Some(at) => format!(
                "expected from the baseline of {}",
                at.format("%Y-%m-%d %H:%M:%S UTC")
            ),
            None => "inferred from inserts − deletes: no baseline was given".into(),
        }
    }
}

impl Cluster {
    pub fn of(evidence: &Evidence) -> Cluster {
        let mut c = Cluster::default();
        if let Some(d) = &evidence.database {
            c.timeline_id = d.server.timeline_id;
            c.system_identifier = d.server.system_identifier.clone();
            c.datid = d.server.datid;
            c.postmaster_start = d.server.postmaster_start_time;
            c.bgwriter_stats_reset = d.bgwriter_stats_reset;
            c.database_stats_reset = d.database_stats.as_ref().and_then(|s| s.stats_reset);
            c.in_recovery = d.server.in_recovery;
        }
        if let Some(b) = &evidence.baseline {
            c.baseline_timeline_id = b.server.timeline_id;
            c.baseline_system_identifier = b.server.system_identifier.clone();
            c.baseline_datid = b.server.datid;
            c.baseline_postmaster_start = b.server.postmaster_start_time;
        }
        c
    }

    /// The database was replaced since the baseline: archive recovery (the timeline moved on),
    /// another cluster (a new system identifier) or a dump restored into a re-created database
    /// (a new database oid).
    pub fn restored_since_baseline(&self) -> bool {
        self.timeline_advanced() || self.system_changed() || self.datid_changed()
    }

    /// The bgwriter's stats were reset when this postmaster started (within five minutes):
    /// what crash recovery and archive recovery do. On a cluster that never crashed the reset
    /// is the initdb time, before the first start.
    /// When the cluster's counters restarted, if they did: `pg_stat_reset()` (the database's
    /// stats_reset) or crash/archive recovery (the postmaster start that reset them).
    pub fn counters_restarted_at(&self) -> Option<DateTime<Utc>> {
        let recovery = self.postmaster_start.filter(|_| self.reset_at_start());
        self.database_stats_reset.max(recovery)
    }

    pub fn reset_at_start(&self) -> bool {
        match (self.bgwriter_stats_reset, self.postmaster_start) {
            (Some(r), Some(s)) => r >= s && r - s <= chrono::Duration::minutes(5),
            _ => false,
        }
    }

    pub fn timeline_advanced(&self) -> bool {
        matches!((self.timeline_id, self.baseline_timeline_id), (Some(n), Some(b)) if n > b)
    }

    pub fn system_changed(&self) -> bool {
        matches!((&self.system_identifier, &self.baseline_system_identifier), (Some(n), Some(b)) if n != b)
    }

    pub fn datid_changed(&self) -> bool {
        matches!((self.datid, self.baseline_datid), (Some(n), Some(b)) if n != b)
    }
}
