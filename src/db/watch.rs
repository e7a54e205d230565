//! What `pgtriage watch` reads at the moment it notices a loss, before it is gone: every
//! session (the culprit may still be connected), the `pg_class.xmin` of the affected tables
//! (the xid of a TRUNCATE; shared by the tables of one TRUNCATE … CASCADE), the current WAL
//! position and the WAL segments still in `pg_wal`. Four read-only queries in one transaction;
//! what the role may not read is a gap, never a failure.

use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::FromRow;

use super::Session;
use crate::error::UserError;

/// One row of `pg_stat_activity`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, FromRow)]
pub struct ActivityRow {
    pub pid: i32,
    pub database: Option<String>,
    pub user: Option<String>,
    pub application: Option<String>,
    pub client_addr: Option<String>,
    pub client_port: Option<i32>,
    pub backend_type: Option<String>,
    pub state: Option<String>,
    pub backend_start: Option<DateTime<Utc>>,
    pub xact_start: Option<DateTime<Utc>>,
    pub query_start: Option<DateTime<Utc>>,
    pub state_change: Option<DateTime<Utc>>,
    pub backend_xid: Option<String>,
    pub backend_xmin: Option<String>,
    pub query: Option<String>,
    /// This is pgtriage's own session.
    pub is_pgtriage: bool,
}

/// `pg_class.xmin` of one table: the transaction that last wrote its catalog row.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, FromRow)]
pub struct ClassXmin {
    pub oid: i64,
    pub table: String,
    pub xmin: String,
    pub relfilenode: i64,
    /// `pg_xact_commit_timestamp(xmin)` when `track_commit_timestamp` is on.
    pub committed_at: Option<DateTime<Utc>>,
}

/// One file of `pg_ls_waldir()`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, FromRow)]
pub struct WalSegment {
    pub name: String,
    pub size: i64,
    pub modified: Option<DateTime<Utc>>,
}

/// What was read at the moment of an event.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LossCapture {
    pub server_time: DateTime<Utc>,
    pub sessions: Vec<ActivityRow>,
    pub class_xmin: Vec<ClassXmin>,
    /// `pg_current_wal_lsn()` (on a standby: `pg_last_wal_replay_lsn()`).
    pub wal_lsn: Option<String>,
    /// The segment file of `wal_lsn`.
    pub wal_file: Option<String>,
    /// `None` when not visible (see `not_visible`).
    pub wal_segments: Option<Vec<WalSegment>>,
    pub not_visible: Vec<String>,
}

#[derive(FromRow)]
struct WalPosition {
    server_time: DateTime<Utc>,
    wal_lsn: Option<String>,
    wal_file: Option<String>,
}

const ACTIVITY_SQL: &str = "\
SELECT pid, datname::text AS database, usename::text AS user,
       application_name AS application, host(client_addr) AS client_addr, client_port,
       backend_type, state, backend_start, xact_start, query_start, state_change,
       backend_xid::text AS backend_xid, backend_xmin::text AS backend_xmin, query,
       pid = pg_backend_pid() AS is_pgtriage
  FROM pg_stat_activity
 ORDER BY pid";

impl Session {
    /// `pg_backend_pid()` of this session (once per connection: the watch leaves its own
    /// statements out of what it follows in the log).
    pub fn backend_pid(&mut self) -> Result<i32, UserError> {
        let target = self.target().to_string();
        self.read_only(|tx| {
            let (pid,): (i32,) = tx
                .fetch_one(sqlx::query_as("SELECT pg_backend_pid()"))
                .map_err(|f| f.into_user_error(&format!("{target}: reading the backend pid")))?;
            Ok(pid)
        })
    }

    /// Reads the loss capture; `oids` are the affected tables still in the catalog.
    pub fn loss_capture(&mut self, oids: &[u32]) -> Result<LossCapture, UserError> {
        let target = self.target().to_string();
        let oids: Vec<i64> = oids.iter().map(|o| i64::from(*o)).collect();
        self.read_only(|tx| {
            let mut not_visible = Vec::new();
            let position: WalPosition = tx
                .fetch_one(sqlx::query_as(
                    "SELECT now() AS server_time,
                            CASE WHEN pg_is_in_recovery() THEN pg_last_wal_replay_lsn()::text
                                 ELSE pg_current_wal_lsn()::text END AS wal_lsn,
                            CASE WHEN pg_is_in_recovery() THEN NULL
                                 ELSE pg_walfile_name(pg_current_wal_lsn()) END AS wal_file",
                ))
                .map_err(|f| f.into_user_error(&format!("{target}: reading the WAL position")))?;
            let sessions = match tx.fetch_all::<ActivityRow>(sqlx::query_as(ACTIVITY_SQL)) {
                Ok(rows) => rows,
                Err(f) => {
                    not_visible.push(format!("pg_stat_activity: {}", f.message));
                    Vec::new()
                }
            };
            let class_xmin = match tx.fetch_all::<ClassXmin>(
                sqlx::query_as(
                    "SELECT c.oid::bigint AS oid, n.nspname || '.' || c.relname AS \"table\",
                            c.xmin::text AS xmin, c.relfilenode::bigint AS relfilenode,
                            CASE WHEN current_setting('track_commit_timestamp') = 'on'
                                 THEN pg_xact_commit_timestamp(c.xmin) END AS committed_at
                       FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
                      WHERE c.oid = ANY($1::bigint[]::oid[])
                      ORDER BY 2",
                )
                .bind(&oids),
            ) {
                Ok(rows) => rows,
                Err(f) => {
                    not_visible.push(format!("pg_class.xmin: {}", f.message));
                    Vec::new()
                }
            };
            let wal_segments = match tx.fetch_all::<WalSegment>(sqlx::query_as(
                "SELECT name::text, size::bigint AS size, modification AS modified
                   FROM pg_ls_waldir() ORDER BY name",
            )) {
                Ok(rows) => Some(rows),
                Err(f) => {
                    let hint = if f.is_not_permitted() {
                        " (grant pg_monitor to see it)"
                    } else {
                        ""
                    };
                    not_visible.push(format!("pg_ls_waldir(): {}{hint}", f.message));
                    None
                }
            };
            Ok(LossCapture {
                server_time: position.server_time,
                sessions,
                class_xmin,
                wal_lsn: position.wal_lsn,
                wal_file: position.wal_file,
                wal_segments,
                not_visible,
            })
        })
    }
}
