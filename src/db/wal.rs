//! The WAL through `pg_walinspect` on the live server (PostgreSQL 15+): probes that the
//! extension is installed and the role may call it (pgtriage never runs CREATE EXTENSION or
//! GRANT; it says which one would help), then reads the WAL still in `pg_wal` in chunks of
//! `CHUNK` bytes, each chunk starting where the last record of the previous one ended, and
//! folds the records with the same code as pg_waldump's (`wal::group`). Only
//! `pg_get_wal_records_info(start, end)` is used: it exists in 15, 16 and 17 alike (16 dropped
//! the `_till_end_of_wal` variants).

use sqlx::FromRow;

use super::Session;
use crate::error::UserError;
use crate::evidence::{WalEvidence, WalGap, format_lsn, parse_lsn};
use crate::wal::group::{Grouper, WalRecord, merge};

/// WAL bytes per query: bounds the rows held in memory at once.
const CHUNK: u64 = 16 * 1024 * 1024;

#[derive(FromRow)]
struct Probe {
    schema: Option<String>,
    allowed: Option<bool>,
    timeline: Option<i64>,
    end_lsn: Option<String>,
    system_identifier: Option<String>,
    segment_size: Option<i64>,
    redo_lsn: Option<String>,
}

#[derive(FromRow)]
struct RecordRow {
    start_lsn: String,
    xid: String,
    resource_manager: String,
    record_type: String,
    description: Option<String>,
    block_ref: Option<String>,
}

impl Session {
    /// The loss transactions pg_walinspect shows, or the gap that kept it from looking.
    pub fn wal_transactions(&mut self) -> Result<Result<WalEvidence, WalGap>, UserError> {
        let target = self.target().to_string();
        let version = self.server_version_num();
        let database = self.endpoint().database.clone();
        let user = self.endpoint().user.clone();
        if version < 150000 {
            return Ok(Err(WalGap {
                what: format!(
                    "pg_walinspect needs PostgreSQL 15 or later (the server is {})",
                    version / 10000
                ),
                setting: Some("--wal DIR (pg_waldump over the archive)".into()),
            }));
        }
        self.read_only(|tx| {
            let schema: Option<(String,)> = tx
                .fetch_optional(sqlx::query_as(
                    "SELECT n.nspname::text FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace \
                     WHERE e.extname = 'pg_walinspect'",
                ))
                .map_err(|f| f.into_user_error(&format!("{target}: reading pg_extension")))?;
            let Some((schema,)) = schema else {
                return Ok(Err(WalGap {
                    what: format!("pg_walinspect is not installed in database {database}"),
                    setting: Some(
                        "CREATE EXTENSION pg_walinspect (by a superuser; pgtriage never creates it), or --wal DIR".into(),
                    ),
                }));
            };
            let function = format!("{}.pg_get_wal_records_info", quote_ident(&schema));
            let probe: Probe = tx
                .fetch_one(
                    sqlx::query_as(
                        "SELECT $1::text AS schema, \
                                has_function_privilege($2 || '(pg_lsn, pg_lsn)', 'EXECUTE') AS allowed, \
                                (SELECT timeline_id::bigint FROM pg_control_checkpoint()) AS timeline, \
                                (CASE WHEN pg_is_in_recovery() THEN pg_last_wal_replay_lsn() ELSE pg_current_wal_flush_lsn() END)::text AS end_lsn, \
                                (SELECT system_identifier::text FROM pg_control_system()) AS system_identifier, \
                                (SELECT setting::bigint FROM pg_settings WHERE name = 'wal_segment_size') AS segment_size, \
                                (SELECT redo_lsn::text FROM pg_control_checkpoint()) AS redo_lsn",
                    )
                    .bind(schema.clone())
                    .bind(function.clone()),
                )
                .map_err(|f| f.into_user_error(&format!("{target}: probing pg_walinspect")))?;
            let _ = probe.schema;
            if probe.allowed != Some(true) {
                return Ok(Err(WalGap {
                    what: format!("role {user} may not call {function}() (pg_walinspect)"),
                    setting: Some(format!(
                        "GRANT pg_read_server_files TO {user}; (or GRANT EXECUTE ON FUNCTION {function}(pg_lsn, pg_lsn) TO {user};)",
                        user = quote_ident(&user)
                    )),
                }));
            }
            let timeline = probe.timeline.unwrap_or(1) as u32;
            let segment_size = probe.segment_size.unwrap_or(16 * 1024 * 1024).max(1) as u64;
            let end = probe.end_lsn.as_deref().and_then(parse_lsn).unwrap_or(0);
            // The oldest segment still in pg_wal on this timeline; without pg_ls_waldir (a role
            // without pg_monitor) the last checkpoint's redo point.
            let oldest: Result<Option<(Option<String>,)>, _> = tx.fetch_optional(
                sqlx::query_as(
                    "SELECT min(name)::text FROM pg_ls_waldir() WHERE name ~ '^[0-9A-F]{24}$' AND substr(name, 1, 8) = lpad(upper(to_hex($1::bigint)), 8, '0')",
                )
                .bind(i64::from(timeline)),
            );
            let mut gaps = Vec::new();
            let start = match oldest {
                Ok(Some((Some(name),))) => segment_start(&name, segment_size),
                _ => {
                    gaps.push(WalGap {
                        what: "pg_ls_waldir() not readable: WAL before the last checkpoint was not read".into(),
                        setting: Some(format!("GRANT pg_monitor TO {};", quote_ident(&user))),
                    });
                    None
                }
            }
            .or_else(|| probe.redo_lsn.as_deref().and_then(parse_lsn))
            .unwrap_or(end);
            let sql = format!(
                "WITH r AS MATERIALIZED (SELECT start_lsn, end_lsn, xid, resource_manager, record_type, description, block_ref \
                                         FROM {function}($1::pg_lsn, $2::pg_lsn)) \
                 SELECT start_lsn::text, xid::text, resource_manager::text, record_type::text, description::text, block_ref::text \
                 FROM r WHERE resource_manager IN ('Heap', 'Heap2', 'Transaction', 'Standby', 'Storage') \
                 UNION ALL \
                 SELECT max(end_lsn)::text, '0', '', '', NULL, NULL FROM r"
            );
            let mut grouper = Grouper::new(true);
            let mut from = start;
            let mut last_seen: Option<u64> = None;
            while from < end {
                let to = (from + CHUNK).min(end);
                let rows: Vec<RecordRow> = tx
                    .fetch_all(
                        sqlx::query_as(sqlx::AssertSqlSafe(sql.clone()))
                            .bind(format_lsn(from))
                            .bind(format_lsn(to)),
                    )
                    .map_err(|f| {
                        f.into_user_error(&format!(
                            "{target}: reading WAL {}–{} with pg_walinspect",
                            format_lsn(from),
                            format_lsn(to)
                        ))
                    })?;
                let mut next = None;
                for row in &rows {
                    if row.resource_manager.is_empty() {
                        next = parse_lsn(&row.start_lsn);
                        continue;
                    }
                    let Some(lsn) = parse_lsn(&row.start_lsn) else { continue };
                    let record = WalRecord {
                        lsn,
                        xid: row.xid.parse().unwrap_or(0),
                        rmgr: &row.resource_manager,
                        kind: &row.record_type,
                        desc: row.description.as_deref().unwrap_or(""),
                        block_ref: row.block_ref.as_deref().unwrap_or(""),
                    };
                    last_seen = Some(lsn);
                    grouper.record(&record);
                }
                // The next chunk starts where this one's last record ended: a record that
                // crosses the chunk's end is read whole by the next query.
                from = match next {
                    Some(n) if n > from => n,
                    _ => to,
                };
            }
            let (transactions, files) = merge(vec![grouper.finish()], timeline);
            Ok(Ok(WalEvidence {
                source: "pg_walinspect".into(),
                directory: None,
                major_version: Some((version / 10000) as u32),
                system_identifier: probe.system_identifier,
                start_lsn: format_lsn(start),
                end_lsn: format_lsn(last_seen.unwrap_or(end)),
                segments: Vec::new(),
                transactions,
                files,
                gaps,
                window: None,
            }))
        })
    }
}

/// The LSN where segment `name` starts.
fn segment_start(name: &str, segment_size: u64) -> Option<u64> {
    let log = u64::from_str_radix(name.get(8..16)?, 16).ok()?;
    let seg = u64::from_str_radix(name.get(16..24)?, 16).ok()?;
    Some((log * (0x1_0000_0000 / segment_size) + seg) * segment_size)
}

fn quote_ident(name: &str) -> String {
    let plain = name
        .chars()
        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
        && name.chars().next().is_some_and(|c| !c.is_ascii_digit());
    if plain {
        name.to_string()
    } else {
        format!("\"{}\"", name.replace('"', "\"\""))
    }
}
