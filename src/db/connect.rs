//! The read-only session: resolving where to connect (exactly as psql users expect), connecting,
//! and running queries inside READ ONLY transactions. Owns the tokio runtime so the rest of
//! pgtriage stays synchronous.
//!
//! # Using the session from another file in `src/db/`
//!
//! ```ignore
//! use sqlx::FromRow;
//! use crate::db::Session;
//!
//! #[derive(FromRow)]
//! struct Row { relname: String, n_live_tup: Option<i64> }
//!
//! impl Session {
//!     pub fn live_rows(&mut self) -> Result<Vec<(String, Option<i64>)>, UserError> {
//!         self.read_only(|tx| {
//!             // One savepoint per query: a failure (permission denied, lock timeout) leaves the
//!             // transaction usable, so the caller can record the gap and carry on.
//!             let rows: Vec<Row> = tx
//!                 .fetch_all(sqlx::query_as("SELECT relname::text, n_live_tup FROM pg_stat_user_tables ORDER BY 1"))
//!                 .map_err(|f| f.into_user_error("reading pg_stat_user_tables"))?;
//!             Ok(rows.into_iter().map(|r| (r.relname, r.n_live_tup)).collect())
//!         })
//!     }
//! }
//! ```
//!
//! * `read_only` runs its closure inside `BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY` …
//!   `COMMIT` (one consistent catalog snapshot; allowed on a hot standby too). An `Err` from the
//!   closure rolls the transaction back.
//! * `ReadOnly::fetch_all` / `fetch_optional` / `fetch_one` take any `sqlx::query_as(…)` (with
//!   `.bind(…)`s) and run it inside its own `SAVEPOINT`; on failure they roll back to it and
//!   return a [`QueryFailure`] (SQLSTATE + message) instead of poisoning the transaction.
//!   `QueryFailure::is_not_permitted()` tells a privilege gap (record it as `not_visible`) from
//!   a real failure.
//! * Runtime-built SQL must be wrapped: `sqlx::query_as(sqlx::AssertSqlSafe(sql))` (sqlx 0.9).
//!   Never interpolate values; bind them.
//! * [`Session::target`] is `user@host:port/db` (never a password): use it in messages and in
//!   the evidence's input list. [`Session::server_version_num`] picks version-specific SQL.
//!
//! The session itself is read-only by construction: startup options
//! `default_transaction_read_only=on`, `statement_timeout`, `lock_timeout`,
//! `idle_in_transaction_session_timeout`, and `application_name=pgtriage`; `connect` checks the
//! server kept `default_transaction_read_only` and refuses to go on otherwise. Through a pooler
//! that refuses startup options (PgBouncer), the same settings are set inside every transaction
//! instead (`BEGIN … READ ONLY`, `SET LOCAL …`) and `transaction_read_only` is checked in each.
//!
//! Every round trip has a client-side deadline (the statement timeout plus [`DEADLINE_MARGIN`]):
//! a server that stops answering (SIGSTOP, a dead network path) ends the command with one line
//! instead of hanging it. Where to connect is `conninfo.rs`; TLS is `tls.rs`.

use std::time::Duration;

use sqlx::postgres::{PgArguments, PgConnectOptions, PgRow, PgSslMode};
use sqlx::query::QueryAs;
use sqlx::{Connection, FromRow, PgConnection, Postgres};

use super::ConnectionSettings;
use super::conninfo::{self, ConnInfo, Host, redact};
use super::tls::{self, Attempt, Check, ProbeFailure, Roots, TlsPlan};
use crate::error::UserError;
use crate::evidence::SessionSecurity;

/// How much longer than the statement timeout pgtriage waits for any answer before it gives the
/// server up: the server's own timeout should fire first; this only catches a server or network
/// that stopped answering altogether.
pub const DEADLINE_MARGIN: Duration = Duration::from_secs(5);

/// PostgreSQL's timeouts are `int` milliseconds.
const MAX_TIMEOUT_MS: u64 = i32::MAX as u64;

/// What [`Session::sibling`] gives: enough to connect again, on any thread.
#[derive(Debug, Clone)]
pub(crate) struct Sibling {
    settings: ConnectionSettings,
    target: String,
    server_version_num: i32,
}

impl Sibling {
    /// Connects like the original session; refused if it reached another server (a host list
    /// can fail over between two connections).
    pub fn connect(&self) -> Result<Session, UserError> {
        let other = Session::connect(&self.settings)?;
        if other.target != self.target || other.server_version_num != self.server_version_num {
            return Err(UserError::new(format!(
                "a second connection reached {} (server {}), not {} (server {})",
                other.target, other.server_version_num, self.target, self.server_version_num
            )));
        }
        Ok(other)
    }
}

/// A connected, read-only session to one database.
pub struct Session {
    runtime: tokio::runtime::Runtime,
    connection: Option<PgConnection>,
    target: String,
    endpoint: Endpoint,
    server_version_num: i32,
    /// Settings to apply per transaction when a pooler refused them at startup.
    per_transaction: Option<Vec<String>>,
    deadline: Duration,
    /// Why the connection was given up (a missed deadline): every later call fails with it.
    broken: Option<String>,
    security: SessionSecurity,
    /// How this session was asked for, so [`Session::sibling`] can open another one like it.
    settings: ConnectionSettings,
}

/// Where the session is connected, as the user asked for it (never a password).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoint {
    pub user: String,
    /// A host name, an address, or a socket directory.
    pub host: String,
    pub port: u16,
    pub database: String,
}

/// A query that failed inside a read-only transaction (the transaction itself is still usable,
/// unless the server stopped answering: then the session is broken and says so).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct QueryFailure {
    /// SQLSTATE, when the server answered with an error.
    pub sqlstate: Option<String>,
    pub message: String,
}

#[allow(dead_code)] // part of the API for the other files of src/db/
impl QueryFailure {
    /// The role may not read this (insufficient_privilege), or the object is held by a lock
    /// (lock_not_available: a paused recovery holds AccessExclusiveLock on truncated tables):
    /// a gap to record, not a reason to stop.
    pub fn is_not_permitted(&self) -> bool {
        matches!(self.sqlstate.as_deref(), Some("42501"))
    }

    pub fn is_lock_timeout(&self) -> bool {
        matches!(self.sqlstate.as_deref(), Some("55P03"))
    }

    /// A one-line error for the user, naming what pgtriage was doing.
    pub fn into_user_error(self, doing: &str) -> UserError {
        let hint = match self.sqlstate.as_deref() {
            Some("57014") => "; raise --statement-timeout if the server is just slow",
            Some("55P03") => {
                "; something holds a lock on it (a migration, a paused recovery); raise --lock-timeout or try later"
            }
            Some("42501") => "; connect as a role with pg_monitor or pg_read_all_stats",
            _ => "",
        };
        UserError::new(format!("{doing}: {}{hint}", self.message))
    }
}

/// A READ ONLY transaction in progress; handed to the closure of [`Session::read_only`].
pub(crate) struct ReadOnly<'s> {
    runtime: &'s tokio::runtime::Runtime,
    connection: &'s mut PgConnection,
    deadline: Duration,
    broken: &'s mut Option<String>,
    /// Through a pooler a named prepared statement may outlive us on a server connection
    /// another client gets next: use unnamed ones only.
    pooled: bool,
    /// The `SET LOCAL`s a pooler needs in every transaction (see [`Session::read_only`]).
    per_transaction: Option<&'s [String]>,
    target: &'s str,
}

type Timed<R> = Result<Result<R, sqlx::Error>, tokio::time::error::Elapsed>;

#[allow(dead_code)] // part of the API for the other files of src/db/
impl ReadOnly<'_> {
    /// Runs `query` in its own savepoint and returns every row.
    pub fn fetch_all<'q, T>(
        &mut self,
        query: QueryAs<'q, Postgres, T, PgArguments>,
    ) -> Result<Vec<T>, QueryFailure>
    where
        T: Send + Unpin + for<'r> FromRow<'r, PgRow>,
    {
        self.savepoint()?;
        let query = query.persistent(!self.pooled);
        let result = timed(
            self.runtime,
            self.deadline,
            query.fetch_all(&mut *self.connection),
        );
        let result = self.settle(result)?;
        self.end_savepoint(result)
    }

    /// Runs `query` in its own savepoint and returns its first row, if any.
    pub fn fetch_optional<'q, T>(
        &mut self,
        query: QueryAs<'q, Postgres, T, PgArguments>,
    ) -> Result<Option<T>, QueryFailure>
    where
        T: Send + Unpin + for<'r> FromRow<'r, PgRow>,
    {
        self.savepoint()?;
        let query = query.persistent(!self.pooled);
        let result = timed(
            self.runtime,
            self.deadline,
            query.fetch_optional(&mut *self.connection),
        );
        let result = self.settle(result)?;
        self.end_savepoint(result)
    }

    /// Runs `query` in its own savepoint; no row is a failure.
    pub fn fetch_one<'q, T>(
        &mut self,
        query: QueryAs<'q, Postgres, T, PgArguments>,
    ) -> Result<T, QueryFailure>
    where
        T: Send + Unpin + for<'r> FromRow<'r, PgRow>,
    {
        self.fetch_optional(query)?.ok_or_else(|| QueryFailure {
            sqlstate: None,
            message: "the query returned no row".to_string(),
        })
    }

    /// `pg_export_snapshot()`: the identifier other sessions give `SET TRANSACTION SNAPSHOT` to
    /// see exactly what this transaction sees (as `pg_dump -j` does). Call it first: it cannot run
    /// in a savepoint (a subtransaction cannot export), so a failure aborts the transaction, which
    /// is then begun again; what was read before would be from another snapshot.
    pub fn export_snapshot(&mut self) -> Result<String, QueryFailure> {
        self.alive()?;
        let result = timed(
            self.runtime,
            self.deadline,
            sqlx::query_as::<_, (String,)>("SELECT pg_export_snapshot()")
                .persistent(false)
                .fetch_one(&mut *self.connection),
        );
        match self.settle(result)? {
            Ok((id,)) => Ok(id),
            Err(e) => {
                let f = failure(e);
                self.simple("ROLLBACK".into())?;
                self.begin(None).map_err(|e| QueryFailure {
                    sqlstate: None,
                    message: e.message().to_string(),
                })?;
                Err(f)
            }
        }
    }

    /// `BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY`, then `SET TRANSACTION SNAPSHOT` when
    /// importing one (it must come before any query), then what a pooler needs: the `SET LOCAL`s
    /// and the check that the transaction is read-only. Rolls back whatever failed.
    fn begin(&mut self, import: Option<&str>) -> Result<(), UserError> {
        let target = self.target;
        self.simple("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY".into())
            .map_err(|f| {
                f.into_user_error(&format!("{target}: cannot begin a read-only transaction"))
            })?;
        if let Some(id) = import {
            // The identifier comes from the server (`00000003-0000001B-1`); it is still checked
            // before it goes into a statement that takes no parameter.
            let set = if !id.is_empty() && id.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
            {
                Ok(format!("SET TRANSACTION SNAPSHOT '{id}'"))
            } else {
                Err(UserError::new(format!(
                    "{target}: not a snapshot identifier: `{id}`"
                )))
            };
            let imported = set.and_then(|set| {
                self.simple(set)
                    .map_err(|f| f.into_user_error(&format!("{target}: importing the snapshot")))
            });
            if let Err(e) = imported {
                let _ = self.simple("ROLLBACK".into());
                return Err(e);
            }
        }
        if let Some(sets) = self.per_transaction {
            for set in sets {
                if let Err(f) = self.simple(set.clone()) {
                    let _ = self.simple("ROLLBACK".into());
                    return Err(f.into_user_error(&format!("{target}: `{set}`")));
                }
            }
            let state = self
                .fetch_one::<(String,)>(sqlx::query_as(
                    "SELECT current_setting('transaction_read_only')",
                ))
                .map_err(|f| {
                    f.into_user_error(&format!("{target}: reading transaction_read_only"))
                });
            match state {
                Ok((on,)) if on == "on" => {}
                Ok((other,)) => {
                    let _ = self.simple("ROLLBACK".into());
                    return Err(UserError::new(format!(
                        "{target}: the transaction is not read-only through the pooler (transaction_read_only = `{other}`); pgtriage stops"
                    )));
                }
                Err(e) => {
                    let _ = self.simple("ROLLBACK".into());
                    return Err(e);
                }
            }
        }
        Ok(())
    }

    fn alive(&self) -> Result<(), QueryFailure> {
        match self.broken.as_ref() {
            Some(why) => Err(QueryFailure {
                sqlstate: None,
                message: why.clone(),
            }),
            None => Ok(()),
        }
    }

    /// A missed deadline breaks the session for good: the answer may still come, at any time.
    fn settle<R>(&mut self, timed: Timed<R>) -> Result<Result<R, sqlx::Error>, QueryFailure> {
        match timed {
            Ok(r) => Ok(r),
            Err(_) => {
                let why = deadline_message(self.deadline);
                *self.broken = Some(why.clone());
                Err(QueryFailure {
                    sqlstate: None,
                    message: why,
                })
            }
        }
    }

    fn simple(&mut self, sql: String) -> Result<(), QueryFailure> {
        self.alive()?;
        let result = timed(
            self.runtime,
            self.deadline,
            sqlx::raw_sql(sqlx::AssertSqlSafe(sql)).execute(&mut *self.connection),
        );
        self.settle(result)?.map(|_| ()).map_err(failure)
    }

    fn savepoint(&mut self) -> Result<(), QueryFailure> {
        self.simple("SAVEPOINT pgtriage_step".into())
    }

    fn end_savepoint<R>(&mut self, result: Result<R, sqlx::Error>) -> Result<R, QueryFailure> {
        match result {
            Ok(rows) => {
                self.simple("RELEASE SAVEPOINT pgtriage_step".into())?;
                Ok(rows)
            }
            Err(e) => {
                let f = failure(e);
                // Undo the failed step only; what was read before stays valid.
                self.simple("ROLLBACK TO SAVEPOINT pgtriage_step".into())?;
                self.simple("RELEASE SAVEPOINT pgtriage_step".into())?;
                Err(f)
            }
        }
    }
}

/// Runs `fut` on `runtime`, giving up after `deadline` (the timer must be made inside it).
fn timed<F: std::future::Future>(
    runtime: &tokio::runtime::Runtime,
    deadline: Duration,
    fut: F,
) -> Result<F::Output, tokio::time::error::Elapsed> {
    runtime.block_on(async move { tokio::time::timeout(deadline, fut).await })
}

fn deadline_message(deadline: Duration) -> String {
    format!(
        "no answer from the server within {}s (the statement timeout plus {}s): it is stopped, \
         overloaded or unreachable; pgtriage gave the connection up",
        deadline.as_secs(),
        DEADLINE_MARGIN.as_secs()
    )
}

fn failure(e: sqlx::Error) -> QueryFailure {
    match e.as_database_error() {
        Some(db) => QueryFailure {
            sqlstate: db.code().map(|c| c.into_owned()),
            message: db.message().to_string(),
        },
        None => QueryFailure {
            sqlstate: None,
            message: e.to_string(),
        },
    }
}

#[derive(FromRow)]
struct SessionCheck {
    read_only: String,
    version_num: i32,
    ssl_version: Option<String>,
    ssl_cipher: Option<String>,
}

/// Refuses timeouts PostgreSQL reads as "never" (0) or cannot take (above 2147483647 ms).
fn check_timeouts(settings: &ConnectionSettings) -> Result<(), UserError> {
    for (flag, value) in [
        ("--statement-timeout", settings.statement_timeout_ms),
        ("--lock-timeout", settings.lock_timeout_ms),
    ] {
        if value == 0 {
            return Err(UserError::new(format!(
                "{flag} 0 would let a query wait forever (PostgreSQL reads 0 as no limit); \
                 give a limit in milliseconds, e.g. {flag} 600000 for ten minutes"
            )));
        }
        if value > MAX_TIMEOUT_MS {
            return Err(UserError::new(format!(
                "{flag} {value} is more than PostgreSQL accepts (at most {MAX_TIMEOUT_MS} ms, about 24 days); give a smaller limit"
            )));
        }
    }
    Ok(())
}

/// What the startup options pgtriage sends are: read-only plus the timeouts.
fn session_settings(settings: &ConnectionSettings) -> Vec<(&'static str, String)> {
    vec![
        ("default_transaction_read_only", "on".to_string()),
        (
            "statement_timeout",
            format!("{}", settings.statement_timeout_ms),
        ),
        ("lock_timeout", format!("{}", settings.lock_timeout_ms)),
        (
            "idle_in_transaction_session_timeout",
            format!(
                "{}",
                settings
                    .statement_timeout_ms
                    .saturating_mul(2)
                    .min(MAX_TIMEOUT_MS)
            ),
        ),
    ]
}

impl Session {
    /// Connects read-only. Where to: `settings.url`, else `DATABASE_URL`, else the libpq
    /// variables, a connection service and `~/.pgpass`, resolved as libpq resolves them (see
    /// `conninfo.rs`); TLS as libpq's `sslmode` says (see `tls.rs`). Every failure is one line
    /// without the password.
    pub fn connect(settings: &ConnectionSettings) -> Result<Session, UserError> {
        check_timeouts(settings)?;
        let info = conninfo::resolve(settings.url.as_deref())?;
        let target = redact(
            &format!(
                "{}@{}:{}/{}",
                info.user, info.host_text, info.port, info.dbname
            ),
            &info.secrets,
        );
        let prefix = |what: String| {
            UserError::new(redact(
                &format!("cannot connect to {target}: {what}"),
                &info.secrets,
            ))
        };
        let plan = tls::plan(&info).map_err(|e| prefix(e.message().to_string()))?;
        let connect_timeout = Duration::from_secs(if settings.connect_timeout_s > 0 {
            settings.connect_timeout_s
        } else {
            info.connect_timeout_s.unwrap_or(10)
        });
        let deadline = Duration::from_millis(settings.statement_timeout_ms) + DEADLINE_MARGIN;
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| UserError::new(format!("cannot start the async runtime: {e}")))?;
        let attempts = plan.attempts();
        let mut pooler: Option<String> = None;
        let mut index = 0;
        let (mut connection, attempt) = loop {
            // `attempts()` is never empty and `index` only moves on while `has_next`.
            let Some(&attempt) = attempts.get(index) else {
                return Err(prefix(format!(
                    "sslmode={} leaves no way to connect",
                    plan.sslmode
                )));
            };
            let has_next = index + 1 < attempts.len();
            // libpq trusts the root file alone; the driver adds the system's roots, so check
            // strictly first.
            if let (
                Attempt::Tls(check @ (Check::Chain | Check::Full)),
                Roots::File { .. },
                Host::Tcp(host),
            ) = (attempt, &plan.roots, &info.host)
            {
                match tls::probe(host, info.port, check, &plan, connect_timeout) {
                    Ok(_) | Err(ProbeFailure::Unreachable) => {}
                    Err(_) if has_next => {
                        index += 1;
                        continue;
                    }
                    Err(f) => return Err(prefix(probe_message(&f, &plan))),
                }
            }
            let options = driver_options(&info, &plan, attempt, settings, pooler.is_some());
            let connected = runtime.block_on(async {
                tokio::time::timeout(connect_timeout, PgConnection::connect_with(&options)).await
            });
            match connected {
                Ok(Ok(c)) => break (c, attempt),
                Err(_) => {
                    return Err(prefix(format!(
                        "no answer within {}s; check the host and port, or raise --connect-timeout",
                        connect_timeout.as_secs()
                    )));
                }
                Ok(Err(e)) => {
                    if pooler.is_none() && startup_option_refused(&e) {
                        pooler = Some(failure(e).message);
                        continue;
                    }
                    let tls_failed = matches!(attempt, Attempt::Tls(_)) && is_tls_failure(&e);
                    let plain_refused = attempt == Attempt::Plain && needs_encryption(&e);
                    if (tls_failed || plain_refused) && has_next {
                        index += 1;
                        continue;
                    }
                    if let (Attempt::Tls(check), true, Host::Tcp(host)) =
                        (attempt, tls_failed, &info.host)
                    {
                        let why = match tls::probe(host, info.port, check, &plan, connect_timeout) {
                            Ok(_) | Err(ProbeFailure::Unreachable) => tls_error_text(&e),
                            Err(f) => probe_message(&f, &plan),
                        };
                        return Err(prefix(why));
                    }
                    return Err(prefix(connect_error(&e, &info, &plan, settings)));
                }
            }
        };
        let mut session = Session {
            runtime,
            connection: None,
            target: target.clone(),
            endpoint: Endpoint {
                user: redact(&info.user, &info.secrets),
                host: redact(&info.host_text, &info.secrets),
                port: info.port,
                database: redact(&info.dbname, &info.secrets),
            },
            server_version_num: 0,
            per_transaction: None,
            deadline,
            broken: None,
            settings: settings.clone(),
            security: SessionSecurity {
                sslmode: plan.sslmode.clone(),
                encrypted: matches!(attempt, Attempt::Tls(_)),
                certificate_checked: match attempt {
                    Attempt::Plain | Attempt::Tls(Check::Nothing) => "none",
                    Attempt::Tls(Check::Chain) => "ca",
                    Attempt::Tls(Check::Full) => "full",
                }
                .to_string(),
                root_certificate: match (&plan.roots, attempt) {
                    (_, Attempt::Plain) | (Roots::None, _) => None,
                    (Roots::File { path, .. }, _) => Some(path.display().to_string()),
                    (Roots::System, _) => Some("system".to_string()),
                },
                client_certificate: match attempt {
                    Attempt::Tls(_) => plan
                        .client
                        .as_ref()
                        .map(|c| c.cert_path.display().to_string()),
                    Attempt::Plain => None,
                },
                tls_version: None,
                tls_cipher: None,
                over_socket: plan.over_socket,
                pooler: pooler.as_ref().map(|why| {
                    format!(
                        "startup options refused ({why}): read-only and the timeouts are set in every transaction"
                    )
                }),
                service: info
                    .service
                    .as_ref()
                    .map(|(name, file)| format!("{name} ({})", file.display())),
                single_connection: None,
            },
        };
        if pooler.is_some() {
            session.per_transaction = Some(
                session_settings(settings)
                    .into_iter()
                    .filter(|(k, _)| *k != "default_transaction_read_only")
                    .map(|(k, v)| format!("SET LOCAL {k} = {v}"))
                    .collect(),
            );
        }
        // The first check: the session must be read-only before anything else runs.
        let check_sql = "SELECT current_setting('default_transaction_read_only') AS read_only, \
                        current_setting('server_version_num')::int AS version_num, \
                        (SELECT version FROM pg_stat_ssl WHERE pid = pg_backend_pid()) AS ssl_version, \
                        (SELECT cipher FROM pg_stat_ssl WHERE pid = pg_backend_pid()) AS ssl_cipher";
        let check = if session.per_transaction.is_some() {
            session.connection = Some(connection);
            let checked = session.read_only(|tx| {
                tx.fetch_one::<SessionCheck>(sqlx::query_as(check_sql))
                    .map_err(|f| UserError::new(f.message))
            });
            match checked {
                Ok(mut c) => {
                    // Inside `BEGIN READ ONLY`, checked by `read_only` itself.
                    c.read_only = "on".into();
                    // pg_stat_ssl there describes the pooler's own link to the server.
                    c.ssl_version = None;
                    c.ssl_cipher = None;
                    c
                }
                Err(e) => {
                    return Err(prefix(format!(
                        "connected through a pooler, but cannot check the session: {}",
                        e.message()
                    )));
                }
            }
        } else {
            let checked = runtime_check(&session.runtime, &mut connection, check_sql, deadline);
            match checked {
                Ok(c) => {
                    session.connection = Some(connection);
                    c
                }
                Err(why) => {
                    return Err(prefix(format!(
                        "connected, but cannot check the session settings: {why}"
                    )));
                }
            }
        };
        if check.read_only != "on" {
            return Err(prefix(format!(
                "the server did not keep default_transaction_read_only=on (it is `{}`); \
                 pgtriage only reads through a read-only session: check PGOPTIONS and the role's settings",
                check.read_only
            )));
        }
        session.server_version_num = check.version_num;
        session.security.tls_version = check.ssl_version;
        session.security.tls_cipher = check.ssl_cipher;
        Ok(session)
    }

    /// `user@host:port/db` (a socket directory as the host); never a password.
    pub fn target(&self) -> &str {
        &self.target
    }

    /// The parts of [`Session::target`].
    pub fn endpoint(&self) -> &Endpoint {
        &self.endpoint
    }

    /// `server_version_num`, e.g. 150018.
    pub fn server_version_num(&self) -> i32 {
        self.server_version_num
    }

    /// How the session reached the server: TLS, what was checked, a pooler (for the evidence).
    pub fn security(&self) -> &SessionSecurity {
        &self.security
    }

    /// Runs `work` inside `BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY` … `COMMIT`.
    /// An `Err` from `work` rolls back and is returned as is. Through a pooler the session
    /// settings are set first with `SET LOCAL`, and `transaction_read_only` must be `on`.
    pub(crate) fn read_only<T>(
        &mut self,
        work: impl FnOnce(&mut ReadOnly<'_>) -> Result<T, UserError>,
    ) -> Result<T, UserError> {
        self.read_only_with(None, work)
    }

    /// [`Session::read_only`] in the snapshot another session exported with
    /// [`ReadOnly::export_snapshot`] (its transaction must still be open): both see the same rows.
    pub(crate) fn read_only_in_snapshot<T>(
        &mut self,
        snapshot: &str,
        work: impl FnOnce(&mut ReadOnly<'_>) -> Result<T, UserError>,
    ) -> Result<T, UserError> {
        self.read_only_with(Some(snapshot), work)
    }

    /// How to open another session to the same server, asked for exactly as this one was
    /// (read-only, the same timeouts, TLS and pooler handling), for work that runs beside this
    /// session's on another thread.
    pub(crate) fn sibling(&self) -> Sibling {
        Sibling {
            settings: self.settings.clone(),
            target: self.target.clone(),
            server_version_num: self.server_version_num,
        }
    }

    /// Records why the database snapshot was read on this one connection only (see
    /// `SessionSecurity::single_connection`).
    pub(crate) fn note_single_connection(&mut self, why: String) {
        self.security.single_connection = Some(why);
    }

    fn read_only_with<T>(
        &mut self,
        import: Option<&str>,
        work: impl FnOnce(&mut ReadOnly<'_>) -> Result<T, UserError>,
    ) -> Result<T, UserError> {
        let target = self.target.clone();
        if let Some(why) = &self.broken {
            return Err(UserError::new(format!("{target}: {why}")));
        }
        let connection = self
            .connection
            .as_mut()
            .ok_or_else(|| UserError::new(format!("{target}: the session is closed")))?;
        let mut tx = ReadOnly {
            runtime: &self.runtime,
            connection,
            deadline: self.deadline,
            broken: &mut self.broken,
            pooled: self.per_transaction.is_some(),
            per_transaction: self.per_transaction.as_deref(),
            target: &self.target,
        };
        tx.begin(import)?;
        let result = work(&mut tx);
        if let Some(why) = tx.broken.clone() {
            // Nothing more can be said to this connection; drop it without a goodbye.
            self.connection = None;
            return Err(UserError::new(format!("{target}: {why}")));
        }
        match result {
            Ok(value) => {
                tx.simple("COMMIT".into()).map_err(|f| {
                    f.into_user_error(&format!("{target}: cannot end the read-only transaction"))
                })?;
                Ok(value)
            }
            Err(e) => {
                let _ = tx.simple("ROLLBACK".into());
                Err(e)
            }
        }
    }

    /// `transaction_read_only` as seen inside a [`Session::read_only`] transaction: `on`, always.
    pub fn transaction_read_only(&mut self) -> Result<String, UserError> {
        let target = self.target.clone();
        self.read_only(|tx| {
            let (setting,): (String,) = tx
                .fetch_one(sqlx::query_as(
                    "SELECT current_setting('transaction_read_only')",
                ))
                .map_err(|f| {
                    f.into_user_error(&format!("{target}: reading transaction_read_only"))
                })?;
            Ok(setting)
        })
    }

    /// Runs one statement outside `read_only`'s savepoints, for tests of the read-only guard:
    /// returns the server's error message if it refused.
    #[doc(hidden)]
    pub fn try_statement(&mut self, sql: &str) -> Result<(), String> {
        let connection = self.connection.as_mut().ok_or("closed")?;
        self.runtime
            .block_on(sqlx::raw_sql(sqlx::AssertSqlSafe(sql.to_string())).execute(connection))
            .map(|_| ())
            .map_err(|e| failure(e).message)
    }

    /// Runs a query inside a read-only transaction and returns the first column of its rows as
    /// text, for tests (e.g. that a long query is cut by the client-side deadline).
    #[doc(hidden)]
    pub fn query_texts(&mut self, sql: &str) -> Result<Vec<String>, UserError> {
        let sql = sql.to_string();
        self.read_only(|tx| {
            let rows: Vec<(Option<String>,)> = tx
                .fetch_all(sqlx::query_as(sqlx::AssertSqlSafe(sql)))
                .map_err(|f| f.into_user_error("query"))?;
            Ok(rows.into_iter().map(|r| r.0.unwrap_or_default()).collect())
        })
    }
}

fn runtime_check(
    runtime: &tokio::runtime::Runtime,
    connection: &mut PgConnection,
    sql: &'static str,
    deadline: Duration,
) -> Result<SessionCheck, String> {
    match timed(
        runtime,
        deadline,
        sqlx::query_as::<_, SessionCheck>(sql).fetch_one(connection),
    ) {
        Ok(Ok(c)) => Ok(c),
        Ok(Err(e)) => Err(failure(e).message),
        Err(_) => Err(deadline_message(deadline)),
    }
}

impl Drop for Session {
    fn drop(&mut self) {
        // Say goodbye properly so the server log shows a clean disconnection, but never wait
        // long for a server that stopped answering.
        if let Some(c) = self.connection.take()
            && self.broken.is_none()
        {
            let _ = self
                .runtime
                .block_on(async { tokio::time::timeout(Duration::from_secs(2), c.close()).await });
        }
    }
}

/// The driver's options for one attempt; `pooler` leaves out what a pooler refuses at startup.
fn driver_options(
    info: &ConnInfo,
    plan: &TlsPlan,
    attempt: Attempt,
    settings: &ConnectionSettings,
    pooler: bool,
) -> PgConnectOptions {
    let mut o = PgConnectOptions::new_without_pgpass()
        .port(info.port)
        .username(&info.user)
        .database(&info.dbname)
        .application_name("pgtriage");
    o = match &info.host {
        Host::Socket(dir) => o.socket(dir),
        Host::Tcp(h) => o.host(h),
    };
    if let Some(pw) = &info.password {
        o = o.password(pw);
    }
    o = match attempt {
        Attempt::Plain => o.ssl_mode(PgSslMode::Disable),
        Attempt::Tls(Check::Nothing) => o.ssl_mode(PgSslMode::Require),
        Attempt::Tls(Check::Chain) => o.ssl_mode(PgSslMode::VerifyCa),
        Attempt::Tls(Check::Full) => o.ssl_mode(PgSslMode::VerifyFull),
    };
    // Always given as PEM, so a PG* file variable the driver read itself never takes over.
    o = match &plan.roots {
        Roots::File { pem, .. } => o.ssl_root_cert_from_pem(pem.clone()),
        // No file: the driver's store is then the system's alone.
        Roots::System | Roots::None => o.ssl_root_cert_from_pem(Vec::new()),
    };
    if let Some(c) = &plan.client {
        o = o
            .ssl_client_cert_from_pem(&c.cert_pem)
            .ssl_client_key_from_pem(&c.key_pem);
    }
    if pooler {
        // PgBouncer refuses `options` and `extra_float_digits`, and a named prepared statement
        // may not exist on the server connection of the next transaction.
        o = o.extra_float_digits(None).statement_cache_capacity(0);
    } else {
        if let Some(user_options) = &info.options {
            // The user's options first: pgtriage's own come later and win.
            o = o.options(option_pairs(user_options));
        }
        o = o.options(session_settings(settings));
    }
    o
}

/// The `-c name=value` and `--name=value` settings of a libpq `options` string.
fn option_pairs(options: &str) -> Vec<(String, String)> {
    let mut pairs = Vec::new();
    let mut words = options.split_whitespace();
    while let Some(w) = words.next() {
        let setting = if w == "-c" {
            words.next()
        } else {
            w.strip_prefix("-c").or_else(|| w.strip_prefix("--"))
        };
        if let Some((k, v)) = setting.and_then(|s| s.split_once('=')) {
            pairs.push((k.to_string(), v.to_string()));
        }
    }
    pairs
}

/// PgBouncer (and other poolers) answer a startup packet with parameters they do not track
/// with "unsupported startup parameter".
fn startup_option_refused(e: &sqlx::Error) -> bool {
    match e {
        sqlx::Error::Database(db) => db.message().contains("unsupported startup parameter"),
        _ => false,
    }
}

/// The server refused a plain connection because `pg_hba.conf` wants TLS.
fn needs_encryption(e: &sqlx::Error) -> bool {
    match e {
        sqlx::Error::Database(db) => {
            db.code().as_deref() == Some("28000") && db.message().contains("no encryption")
        }
        _ => false,
    }
}

fn is_tls_failure(e: &sqlx::Error) -> bool {
    match e {
        sqlx::Error::Tls(_) => true,
        sqlx::Error::Io(io) => io
            .get_ref()
            .is_some_and(|inner| inner.downcast_ref::<rustls::Error>().is_some()),
        _ => false,
    }
}

fn tls_error_text(e: &sqlx::Error) -> String {
    format!("the TLS handshake failed ({e})")
}

fn probe_message(f: &ProbeFailure, plan: &TlsPlan) -> String {
    match f {
        ProbeFailure::NoTls => format!(
            "the server does not support TLS (it refused the SSL request) but sslmode={} requires it; \
             enable ssl on the server, connect through a TLS-terminating proxy, or use sslmode=prefer",
            plan.sslmode
        ),
        ProbeFailure::Handshake(msg) => msg.clone(),
        ProbeFailure::Unreachable => "cannot reach the server".to_string(),
    }
}

fn connect_error(
    e: &sqlx::Error,
    info: &ConnInfo,
    plan: &TlsPlan,
    settings: &ConnectionSettings,
) -> String {
    let source = info.source;
    match e {
        sqlx::Error::Database(db) => {
            let code = db.code().map(|c| c.into_owned()).unwrap_or_default();
            let msg = db.message();
            match code.as_str() {
                "28P01" => match &info.passfile_note {
                    Some(note) => format!("{msg}; check the password ({note})"),
                    None => {
                        format!("{msg}; check the password (in the URL, PGPASSWORD or ~/.pgpass)")
                    }
                },
                "28000" if msg.contains("no encryption") => format!(
                    "{msg}; the server accepts only TLS connections from here: try sslmode=require \
                     (now sslmode={})",
                    plan.sslmode
                ),
                "28000" => format!("{msg}; check the user name and the server's pg_hba.conf"),
                "3D000" => {
                    format!("{msg}; check the database name in {source} (`psql -l` lists them)")
                }
                "22023" | "42704" | "22P02" => format!(
                    "the server rejected the read-only session settings pgtriage sends \
                     (default_transaction_read_only, statement_timeout={}ms, lock_timeout={}ms): {msg}; check PGOPTIONS",
                    settings.statement_timeout_ms, settings.lock_timeout_ms
                ),
                "53300" => format!("{msg}; try again when a connection slot is free"),
                "57P03" => {
                    format!("{msg}; the server is starting up or shutting down, try again shortly")
                }
                _ => format!("{msg} (SQLSTATE {code})"),
            }
        }
        sqlx::Error::Io(io) => match io.kind() {
            std::io::ErrorKind::ConnectionRefused => format!(
                "connection refused; is PostgreSQL running and listening on that host and port? Check {source}"
            ),
            std::io::ErrorKind::NotFound if matches!(info.host, Host::Socket(_)) => format!(
                "no server socket in that directory ({io}); check the socket directory and port in {source}"
            ),
            std::io::ErrorKind::UnexpectedEof | std::io::ErrorKind::InvalidData => format!(
                "whatever listens there did not answer like PostgreSQL ({io}); check the port in {source}"
            ),
            _ => format!("{io}; check the host and port in {source}"),
        },
        sqlx::Error::Protocol(p) => format!(
            "whatever listens there did not answer like PostgreSQL ({p}); check the port in {source}"
        ),
        sqlx::Error::Tls(t) => format!("TLS failed ({t})"),
        sqlx::Error::Configuration(c) => {
            format!("invalid connection settings ({c}); check {source}")
        }
        other => format!("{other}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(st: u64, lt: u64) -> ConnectionSettings {
        ConnectionSettings {
            url: None,
            statement_timeout_ms: st,
            lock_timeout_ms: lt,
            connect_timeout_s: 5,
        }
    }

    #[test]
    fn timeouts_that_mean_never_or_overflow_are_refused_naming_the_flag() {
        let e = check_timeouts(&settings(0, 100)).unwrap_err();
        assert!(e.message().starts_with("--statement-timeout 0"), "{e}");
        let e = check_timeouts(&settings(100, 0)).unwrap_err();
        assert!(e.message().starts_with("--lock-timeout 0"), "{e}");
        let e = check_timeouts(&settings(100, 99_999_999_999)).unwrap_err();
        assert!(e.message().contains("--lock-timeout 99999999999"), "{e}");
        assert!(!e.message().contains("pooler"), "{e}");
        assert!(check_timeouts(&settings(30_000, 2_000)).is_ok());
    }
}
