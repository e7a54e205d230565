//! The live probes of `verify`: exact row counts under a time budget, bounded foreign-key
//! anti-joins with a sample of offending keys, and serial/identity sequences against their
//! column's max. Read-only like everything in `db/`: these only SELECT, inside the session's
//! READ ONLY transaction, each query in its own savepoint so one timeout does not stop the rest.
//!
//! These queries read user tables (the snapshot never does): they are the cost `verify` pays to
//! be sure, bounded by `statement_timeout`, the `--exact` budget and a LIMIT on orphans, and
//! run in batches of short transactions (see `PROBES_PER_TRANSACTION`).

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use sqlx::FromRow;

use crate::db::{QueryFailure, ReadOnly, Session};
use crate::error::UserError;
use crate::evidence::probes::{
    ExactCounts, ForeignKeyEdge, ORPHAN_SAMPLE, OrphanProbe, OrphanResult, SequenceProbe,
};

/// An orphan check stops counting here: enough to say "many", cheap enough to finish.
pub const ORPHAN_LIMIT: u64 = 1000;

/// Probes per READ ONLY transaction. Every table a probe reads stays locked (with its indexes,
/// AccessShareLock) until its transaction ends; the server's lock table holds
/// max_locks_per_transaction × max_connections entries (6,400 by default) for all sessions, and
/// one transaction over 10,000 tables ran out of it ("out of shared memory"). Batches keep the
/// locks of one transaction in the hundreds; the price is one snapshot per batch, not one for all.
const PROBES_PER_TRANSACTION: usize = 50;

/// Always-quoted identifier for SQL we build (names come from the catalog).
fn ident(name: &str) -> String {
    crate::evidence::relation::quote_ident(name)
}

fn literal(text: &str) -> String {
    format!("'{}'", text.replace('\'', "''"))
}

fn table(schema: &str, name: &str) -> String {
    format!("{}.{}", ident(schema), ident(name))
}

/// Lowers `statement_timeout` for the rest of the transaction (never raises it past the
/// session's own limit: the smaller wins).
fn limit_statement_time(
    tx: &mut ReadOnly<'_>,
    ms: u64,
    session_ms: u64,
) -> Result<(), QueryFailure> {
    let ms = ms.clamp(1, session_ms.max(1));
    let _: Option<(String,)> = tx.fetch_optional(
        sqlx::query_as("SELECT set_config('statement_timeout', $1, true)").bind(ms.to_string()),
    )?;
    Ok(())
}

fn why(f: &QueryFailure) -> String {
    match f.sqlstate.as_deref() {
        Some("57014") => "statement timeout".to_string(),
        Some("55P03") => "lock timeout (something holds a lock on it)".to_string(),
        Some("42501") => "permission denied".to_string(),
        _ => f.message.clone(),
    }
}

#[derive(FromRow)]
struct SequenceRow {
    schema: String,
    name: String,
    table_schema: String,
    table_name: String,
    column_name: String,
    kind: String,
    last_value: Option<i64>,
    readable: bool,
    start_value: Option<i64>,
    increment_by: Option<i64>,
}

impl Session {
    /// `count(*)` of each table in order until `budget` is spent; every count runs with a
    /// statement timeout of what is left, so the budget is never exceeded silently: what did not
    /// fit is listed with the reason.
    pub fn exact_counts(
        &mut self,
        tables: &[(String, String)],
        budget: Duration,
        session_timeout_ms: u64,
    ) -> Result<ExactCounts, UserError> {
        let target = self.target().to_string();
        let started = Instant::now();
        let mut out = ExactCounts {
            budget_ms: budget.as_millis() as u64,
            ..ExactCounts::default()
        };
        for chunk in tables.chunks(PROBES_PER_TRANSACTION) {
            // statement_timeout set with set_config(…, true) ends with each transaction.
            self.read_only(|tx| {
                for (schema, name) in chunk {
                    let key = format!("{schema}.{name}");
                    let left = budget.saturating_sub(started.elapsed());
                    if left.is_zero() {
                        out.not_counted.insert(key, "time budget spent".to_string());
                        continue;
                    }
                    limit_statement_time(tx, left.as_millis() as u64, session_timeout_ms).map_err(
                        |f| f.into_user_error(&format!("{target}: setting the count budget")),
                    )?;
                    let sql = format!("SELECT count(*) FROM {}", table(schema, name));
                    match tx.fetch_one::<(i64,)>(sqlx::query_as(sqlx::AssertSqlSafe(sql))) {
                        Ok((n,)) => {
                            out.counted.insert(key, n);
                        }
                        Err(f) => {
                            let reason = if f.sqlstate.as_deref() == Some("57014")
                                && started.elapsed() >= budget
                            {
                                "time budget spent".to_string()
                            } else {
                                why(&f)
                            };
                            out.not_counted.insert(key, reason);
                        }
                    }
                }
                Ok(())
            })?;
        }
        out.spent_ms = started.elapsed().as_millis() as u64;
        Ok(out)
    }

    /// For each edge, child rows whose (non-NULL) key has no parent: counted up to
    /// `ORPHAN_LIMIT`, with the first few keys (sorted) as a sample.
    pub fn orphans(&mut self, edges: &[ForeignKeyEdge]) -> Result<Vec<OrphanProbe>, UserError> {
        let mut out = Vec::new();
        for chunk in edges.chunks(PROBES_PER_TRANSACTION) {
            self.read_only(|tx| {
                orphan_probes(tx, chunk, &mut out);
                Ok(())
            })?;
        }
        Ok(out)
    }

    /// Every sequence owned by a column (serial, identity) with what its next value will be and
    /// the column's max. One catalog query, then one indexed `max()` per sequence.
    pub fn sequence_probes(&mut self) -> Result<Vec<SequenceProbe>, UserError> {
        let target = self.target().to_string();
        let rows = self.read_only(|tx| {
            let rows: Vec<SequenceRow> = tx
                .fetch_all(sqlx::query_as(
                    "WITH feeds AS (
                         -- serial (OWNED BY) and identity columns
                         SELECT d.objid AS seq, d.refobjid AS rel, d.refobjsubid AS attnum,
                                CASE d.deptype WHEN 'i' THEN 'identity' ELSE 'serial' END AS kind,
                                0 AS pref
                         FROM pg_depend d
                         WHERE d.classid = 'pg_class'::regclass
                           AND d.refclassid = 'pg_class'::regclass
                           AND d.deptype IN ('a', 'i') AND d.refobjsubid > 0
                         UNION ALL
                         -- a column DEFAULT nextval('seq') on a sequence it does not own
                         SELECT d.refobjid, ad.adrelid, ad.adnum, 'default', 1
                         FROM pg_attrdef ad
                         JOIN pg_depend d ON d.classid = 'pg_attrdef'::regclass
                                         AND d.objid = ad.oid
                                         AND d.refclassid = 'pg_class'::regclass
                                         AND d.deptype = 'n')
                     SELECT DISTINCT ON (sn.nspname, s.relname, tn.nspname, t.relname, a.attname)
                            sn.nspname::text AS schema, s.relname::text AS name,
                            tn.nspname::text AS table_schema, t.relname::text AS table_name,
                            a.attname::text AS column_name, f.kind,
                            -- What the pg_sequences view does, without joining the view by
                            -- name (quadratic on thousands of sequences).
                            CASE WHEN has_sequence_privilege(s.oid, 'SELECT,USAGE')
                                 THEN pg_sequence_last_value(s.oid) END AS last_value,
                            has_sequence_privilege(s.oid, 'SELECT,USAGE') AS readable,
                            sq.seqstart AS start_value, sq.seqincrement AS increment_by
                     FROM feeds f
                     JOIN pg_class s ON s.oid = f.seq AND s.relkind = 'S'
                     JOIN pg_sequence sq ON sq.seqrelid = s.oid
                     JOIN pg_namespace sn ON sn.oid = s.relnamespace
                     JOIN pg_class t ON t.oid = f.rel AND t.relkind IN ('r', 'p')
                     JOIN pg_namespace tn ON tn.oid = t.relnamespace
                     JOIN pg_attribute a ON a.attrelid = t.oid AND a.attnum = f.attnum
                     WHERE a.atttypid IN ('int2'::regtype, 'int4'::regtype, 'int8'::regtype)
                       AND tn.nspname NOT IN ('pg_catalog', 'information_schema')
                       AND tn.nspname NOT LIKE 'pg\\_toast%'
                     ORDER BY sn.nspname, s.relname, tn.nspname, t.relname, a.attname, f.pref",
                ))
                .map_err(|f| f.into_user_error(&format!("{target}: reading sequences")))?;
            Ok(rows)
        })?;
        let mut out = Vec::new();
        let mut rows = rows.into_iter().peekable();
        while rows.peek().is_some() {
            let chunk: Vec<SequenceRow> = rows.by_ref().take(PROBES_PER_TRANSACTION).collect();
            self.read_only(|tx| {
                for r in chunk {
                    let sql = format!(
                        "SELECT max({})::bigint FROM {}",
                        ident(&r.column_name),
                        table(&r.table_schema, &r.table_name)
                    );
                    let (column_max, error) = if !r.readable {
                        let why = "no SELECT or USAGE privilege on the sequence".to_string();
                        (None, Some(why))
                    } else {
                        match tx
                            .fetch_one::<(Option<i64>,)>(sqlx::query_as(sqlx::AssertSqlSafe(sql)))
                        {
                            Ok((m,)) => (m, None),
                            Err(f) => (None, Some(why(&f))),
                        }
                    };
                    // pg_sequence_last_value() is NULL until the first nextval(): the next value
                    // is then start_value (is_called = false).
                    let (last_value, is_called) = match (r.last_value, r.start_value) {
                        (Some(v), _) => (Some(v), true),
                        (None, start) => (start, false),
                    };
                    out.push(SequenceProbe {
                        schema: r.schema,
                        name: r.name,
                        table_schema: r.table_schema,
                        table: r.table_name,
                        column: r.column_name,
                        kind: r.kind,
                        last_value,
                        is_called,
                        increment: r.increment_by.unwrap_or(1),
                        column_max,
                        error,
                    });
                }
                Ok(())
            })?;
        }
        Ok(out)
    }
}

/// (count, capped): the probe fetched at most `ORPHAN_LIMIT + 1` rows.
fn rows_len_capped(rows: usize) -> (u64, bool) {
    let n = rows as u64;
    if n > ORPHAN_LIMIT {
        (ORPHAN_LIMIT, true)
    } else {
        (n, false)
    }
}

/// One transaction's worth of orphan checks.
fn orphan_probes(tx: &mut ReadOnly<'_>, edges: &[ForeignKeyEdge], out: &mut Vec<OrphanProbe>) {
    for edge in edges {
        let fk = &edge.fk;
        let result = if fk.columns.is_empty() || fk.columns.len() != fk.ref_columns.len() {
            OrphanResult::NotChecked {
                reason: "the constraint's columns are not known".to_string(),
            }
        } else {
            let key_text = fk
                .columns
                .iter()
                .map(|c| format!("{} || '=' || c.{}::text", literal(c), ident(c)))
                .collect::<Vec<_>>()
                .join(", ");
            let not_null = fk
                .columns
                .iter()
                .map(|c| format!("c.{} IS NOT NULL", ident(c)))
                .collect::<Vec<_>>()
                .join(" AND ");
            let join = fk
                .columns
                .iter()
                .zip(&fk.ref_columns)
                .map(|(c, r)| format!("p.{} = c.{}", ident(r), ident(c)))
                .collect::<Vec<_>>()
                .join(" AND ");
            let sql = format!(
                "SELECT concat_ws(', ', {key_text}) FROM {child} c WHERE {not_null} \
                         AND NOT EXISTS (SELECT 1 FROM {parent} p WHERE {join}) LIMIT {limit}",
                child = table(&fk.schema, &fk.table),
                parent = table(&fk.ref_schema, &fk.ref_table),
                limit = ORPHAN_LIMIT + 1,
            );
            match tx.fetch_all::<(String,)>(sqlx::query_as(sqlx::AssertSqlSafe(sql))) {
                Ok(rows) => {
                    let n = rows_len_capped(rows.len());
                    let mut keys: Vec<String> = rows.into_iter().map(|(k,)| k).collect();
                    keys.sort();
                    keys.dedup();
                    OrphanResult::Checked {
                        orphans: n.0,
                        capped: n.1,
                        sample: keys.into_iter().take(ORPHAN_SAMPLE).collect(),
                    }
                }
                Err(f) => OrphanResult::NotChecked { reason: why(&f) },
            }
        };
        out.push(OrphanProbe {
            edge: edge.clone(),
            result,
        });
    }
}

impl Session {
    /// The planner's row estimate of each table (`EXPLAIN`, which plans but never reads rows):
    /// for a table never vacuumed or analyzed, PostgreSQL estimates from the pages on disk and
    /// the width of the column types. Tables it cannot plan (a lock, a permission) are left out.
    pub fn planner_estimates(
        &mut self,
        tables: &[(String, String)],
    ) -> Result<BTreeMap<String, i64>, UserError> {
        let mut out = BTreeMap::new();
        for chunk in tables.chunks(PROBES_PER_TRANSACTION) {
            self.read_only(|tx| {
                for (schema, name) in chunk {
                    let sql = format!(
                        "EXPLAIN (FORMAT JSON) SELECT 1 FROM {}",
                        table(schema, name)
                    );
                    let plan = tx.fetch_one::<(serde_json::Value,)>(sqlx::query_as(
                        sqlx::AssertSqlSafe(sql),
                    ));
                    if let Ok((plan,)) = plan
                        && let Some(rows) =
                            plan.pointer("/0/Plan/Plan Rows").and_then(|r| r.as_f64())
                    {
                        out.insert(format!("{schema}.{name}"), rows.round() as i64);
                    }
                }
                Ok(())
            })?;
        }
        Ok(out)
    }
}
