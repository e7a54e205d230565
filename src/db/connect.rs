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
//! server kept `default_transaction_read_only` and refuses to go on otherwise.

use std::str::FromStr;
use std::time::Duration;

use sqlx::postgres::{PgArguments, PgConnectOptions, PgRow, PgSslMode};
use sqlx::query::QueryAs;
use sqlx::{Connection, FromRow, PgConnection, Postgres};

use super::ConnectionSettings;
use crate::error::UserError;

/// A connected, read-only session to one database.
pub struct Session {
    runtime: tokio::runtime::Runtime,
    connection: Option<PgConnection>,
    target: String,
    endpoint: Endpoint,
    server_version_num: i32,
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

/// A query that failed inside a read-only transaction (the transaction itself is still usable).
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
}

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
        let result = self
            .runtime
            .block_on(query.fetch_all(&mut *self.connection));
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
        let result = self
            .runtime
            .block_on(query.fetch_optional(&mut *self.connection));
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

    fn simple(&mut self, sql: &'static str) -> Result<(), QueryFailure> {
        self.runtime
            .block_on(sqlx::raw_sql(sql).execute(&mut *self.connection))
            .map(|_| ())
            .map_err(failure)
    }

    fn savepoint(&mut self) -> Result<(), QueryFailure> {
        self.simple("SAVEPOINT pgtriage_step")
    }

    fn end_savepoint<R>(&mut self, result: Result<R, sqlx::Error>) -> Result<R, QueryFailure> {
        match result {
            Ok(rows) => {
                self.simple("RELEASE SAVEPOINT pgtriage_step")?;
                Ok(rows)
            }
            Err(e) => {
                let f = failure(e);
                // Undo the failed step only; what was read before stays valid.
                self.simple("ROLLBACK TO SAVEPOINT pgtriage_step")?;
                self.simple("RELEASE SAVEPOINT pgtriage_step")?;
                Err(f)
            }
        }
    }
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
}

impl Session {
    /// Connects read-only. Where to: `settings.url`, else `DATABASE_URL`, else the libpq
    /// variables (`PGHOST` — a host or a socket directory —, `PGPORT`, `PGUSER`, `PGDATABASE`,
    /// `PGPASSWORD`, `PGSSLMODE`) and `~/.pgpass` (or `PGPASSFILE`). Variables also fill what a
    /// URL leaves out, as in libpq. Every failure is one line without the password.
    pub fn connect(settings: &ConnectionSettings) -> Result<Session, UserError> {
        let resolved = resolve(settings)?;
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| UserError::new(format!("cannot start the async runtime: {e}")))?;
        let options = resolved.options.clone();
        let timeout = Duration::from_secs(settings.connect_timeout_s.max(1));
        let connected = runtime.block_on(async {
            tokio::time::timeout(timeout, PgConnection::connect_with(&options)).await
        });
        let mut connection = match connected {
            Err(_) => {
                return Err(resolved.error(format!(
                    "no answer within {}s; check the host and port, or raise --connect-timeout",
                    timeout.as_secs()
                )));
            }
            Ok(Err(e)) => return Err(resolved.connect_error(&e, settings)),
            Ok(Ok(c)) => c,
        };
        let check = runtime.block_on(
            sqlx::query_as::<_, SessionCheck>(
                "SELECT current_setting('default_transaction_read_only') AS read_only, \
                        current_setting('server_version_num')::int AS version_num",
            )
            .fetch_one(&mut connection),
        );
        let check = match check {
            Ok(c) => c,
            Err(e) => {
                let _ = runtime.block_on(connection.close());
                return Err(resolved.error(format!(
                    "connected, but cannot check the session settings: {}",
                    failure(e).message
                )));
            }
        };
        if check.read_only != "on" {
            let _ = runtime.block_on(connection.close());
            return Err(resolved.error(format!(
                "the server did not keep default_transaction_read_only=on (it is `{}`); \
                 pgtriage only reads through a read-only session: connect to PostgreSQL \
                 directly rather than through a pooler that drops startup options",
                check.read_only
            )));
        }
        Ok(Session {
            runtime,
            connection: Some(connection),
            target: resolved.target,
            endpoint: resolved.endpoint,
            server_version_num: check.version_num,
        })
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

    /// Runs `work` inside `BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY` … `COMMIT`.
    /// An `Err` from `work` rolls back and is returned as is.
    pub(crate) fn read_only<T>(
        &mut self,
        work: impl FnOnce(&mut ReadOnly<'_>) -> Result<T, UserError>,
    ) -> Result<T, UserError> {
        let target = self.target.clone();
        let connection = self
            .connection
            .as_mut()
            .ok_or_else(|| UserError::new(format!("{target}: the session is closed")))?;
        let mut tx = ReadOnly {
            runtime: &self.runtime,
            connection,
        };
        tx.simple("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
            .map_err(|f| {
                f.into_user_error(&format!("{target}: cannot begin a read-only transaction"))
            })?;
        match work(&mut tx) {
            Ok(value) => {
                tx.simple("COMMIT").map_err(|f| {
                    f.into_user_error(&format!("{target}: cannot end the read-only transaction"))
                })?;
                Ok(value)
            }
            Err(e) => {
                let _ = tx.simple("ROLLBACK");
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
}

impl Drop for Session {
    fn drop(&mut self) {
        // Say goodbye properly so the server log shows a clean disconnection.
        if let Some(c) = self.connection.take() {
            let _ = self.runtime.block_on(c.close());
        }
    }
}

/// Where to connect, resolved; plus what is needed to word errors without leaking secrets.
struct Resolved {
    options: PgConnectOptions,
    target: String,
    endpoint: Endpoint,
    /// Strings that must never appear in a message.
    secrets: Vec<String>,
    /// Where the settings came from, for hints (`--db`, `DATABASE_URL`, `PG* variables`).
    source: &'static str,
}

impl Resolved {
    fn error(&self, what: String) -> UserError {
        UserError::new(redact(
            &format!("cannot connect to {}: {what}", self.target),
            &self.secrets,
        ))
    }

    fn connect_error(&self, e: &sqlx::Error, settings: &ConnectionSettings) -> UserError {
        let source = self.source;
        let what = match e {
            sqlx::Error::Database(db) => {
                let code = db.code().map(|c| c.into_owned()).unwrap_or_default();
                let msg = db.message();
                match code.as_str() {
                    "28P01" => {
                        format!("{msg}; check the password (in the URL, PGPASSWORD or ~/.pgpass)")
                    }
                    "28000" => format!("{msg}; check the user name and the server's pg_hba.conf"),
                    "3D000" => {
                        format!("{msg}; check the database name in {source} (`psql -l` lists them)")
                    }
                    "22023" | "42704" | "22P02" | "08P01" => format!(
                        "the server rejected the read-only session settings pgtriage sends \
                         (default_transaction_read_only, statement_timeout={}ms, lock_timeout={}ms): {msg}; \
                         connect to PostgreSQL directly rather than through a pooler, and check PGOPTIONS",
                        settings.statement_timeout_ms, settings.lock_timeout_ms
                    ),
                    "53300" => format!("{msg}; try again when a connection slot is free"),
                    "57P03" => format!(
                        "{msg}; the server is starting up or shutting down, try again shortly"
                    ),
                    _ => format!("{msg} (SQLSTATE {code})"),
                }
            }
            sqlx::Error::Io(io) => match io.kind() {
                std::io::ErrorKind::ConnectionRefused => format!(
                    "connection refused; is PostgreSQL running and listening on that host and port? Check {source}"
                ),
                std::io::ErrorKind::NotFound
                    if self.options.get_socket().is_some()
                        || self.options.get_host().starts_with('/') =>
                {
                    format!(
                        "no server socket in that directory ({io}); check the socket directory and port in {source}"
                    )
                }
                std::io::ErrorKind::UnexpectedEof | std::io::ErrorKind::InvalidData => format!(
                    "whatever listens there did not answer like PostgreSQL ({io}); check the port in {source}"
                ),
                _ => format!("{io}; check the host and port in {source}"),
            },
            sqlx::Error::Protocol(p) => format!(
                "whatever listens there did not answer like PostgreSQL ({p}); check the port in {source}"
            ),
            sqlx::Error::Tls(t) => format!(
                "{t}; this pgtriage has no TLS support: use sslmode=prefer or disable, \
                 a unix socket, or an SSH tunnel"
            ),
            sqlx::Error::Configuration(c) => {
                format!("invalid connection settings ({c}); check {source}")
            }
            other => format!("{other}"),
        };
        self.error(what)
    }
}

/// Replaces every secret (and any `user:password@` in a URL) with `***`.
fn redact(text: &str, secrets: &[String]) -> String {
    let mut out = text.to_string();
    for s in secrets {
        if !s.is_empty() {
            out = out.replace(s.as_str(), "***");
        }
    }
    // Belt and braces: a URL that slipped into a driver message.
    if let Ok(re) = regex::Regex::new(r"(postgres(?:ql)?://[^:/@\s]*):[^@\s]*@") {
        out = re.replace_all(&out, "$1:***@").into_owned();
    }
    out
}

fn env_nonempty(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.is_empty())
}

fn resolve(settings: &ConnectionSettings) -> Result<Resolved, UserError> {
    let mut secrets: Vec<String> = Vec::new();
    if let Some(pw) = env_nonempty("PGPASSWORD") {
        secrets.push(pw);
    }
    // libpq rejects these; sqlx would silently fall back to a default.
    if let Some(mode) = env_nonempty("PGSSLMODE")
        && PgSslMode::from_str(&mode).is_err()
    {
        return Err(UserError::new(format!(
            "PGSSLMODE=`{mode}` is not an sslmode; use disable, allow, prefer, require, verify-ca or verify-full"
        )));
    }
    if let Some(port) = env_nonempty("PGPORT")
        && port.parse::<u16>().is_err()
    {
        return Err(UserError::new(format!(
            "PGPORT=`{port}` is not a port number; set it to the server's port (e.g. 5432)"
        )));
    }

    let (url, source) = match (&settings.url, env_nonempty("DATABASE_URL")) {
        (Some(u), _) => (Some(u.clone()), "--db"),
        (None, Some(u)) => (Some(u), "DATABASE_URL"),
        (None, None) => (None, "the PG* variables"),
    };
    // libpq's default user is the operating-system user; sqlx's lookup of it fails in some
    // environments ("anonymous"). Name it before parsing, so ~/.pgpass is matched for that user.
    let default_user = (env_nonempty("PGUSER").is_none())
        .then(os_user_name)
        .flatten();
    let url = match (url, &default_user) {
        (Some(u), Some(user)) if url_lacks_user(&u) => {
            let sep = if u.contains('?') { '&' } else { '?' };
            let user: String = url::form_urlencoded::byte_serialize(user.as_bytes()).collect();
            Some(format!("{u}{sep}user={user}"))
        }
        (None, Some(user)) => {
            let user: String = url::form_urlencoded::byte_serialize(user.as_bytes()).collect();
            Some(format!("postgres:///?user={user}"))
        }
        (u, _) => u,
    };
    let options = match url {
        Some(url) => {
            let parsed = parse_url(&url, source, &mut secrets)?;
            PgConnectOptions::from_str(&parsed).map_err(|e| {
                UserError::new(redact(
                    &format!(
                        "{source}: cannot parse the connection URL ({e}); expected \
                         postgres://user@host:port/dbname or postgres:///dbname?host=/socket/dir"
                    ),
                    &secrets,
                ))
            })?
        }
        None => PgConnectOptions::new(),
    };
    let options = options.application_name("pgtriage").options([
        ("default_transaction_read_only", "on".to_string()),
        (
            "statement_timeout",
            format!("{}", settings.statement_timeout_ms),
        ),
        ("lock_timeout", format!("{}", settings.lock_timeout_ms)),
        (
            "idle_in_transaction_session_timeout",
            format!("{}", settings.statement_timeout_ms.saturating_mul(2)),
        ),
    ]);
    let host = match options.get_socket() {
        Some(dir) => dir.display().to_string(),
        None => options.get_host().to_string(),
    };
    let user = options.get_username().to_string();
    let database = options.get_database().unwrap_or(&user).to_string();
    let target = format!("{user}@{host}:{}/{database}", options.get_port());
    let endpoint = Endpoint {
        user: redact(&user, &secrets),
        host: redact(&host, &secrets),
        port: options.get_port(),
        database: redact(&database, &secrets),
    };
    Ok(Resolved {
        target: redact(&target, &secrets),
        endpoint,
        options,
        secrets,
        source,
    })
}

/// Checks the URL's shape with the `url` crate first (for a message that says what is wrong),
/// records its password as a secret, and mends the one libpq form sqlx refuses:
/// `postgres://user@/db?host=/socket/dir` (a user with an empty host).
fn parse_url(url: &str, source: &str, secrets: &mut Vec<String>) -> Result<String, UserError> {
    let usage = "expected postgres://user@host:port/dbname or postgres:///dbname?host=/socket/dir";
    let mut text = url.trim().to_string();
    let scheme_end = text.find("://").ok_or_else(|| {
        UserError::new(format!(
            "{source}: the connection URL does not start with postgres:// or postgresql://; {usage}"
        ))
    })?;
    let scheme = &text[..scheme_end];
    if scheme != "postgres" && scheme != "postgresql" {
        return Err(UserError::new(format!(
            "{source}: unsupported URL scheme `{scheme}`; {usage}"
        )));
    }
    // Password before anything can fail, so no error can echo it.
    let rest = &text[scheme_end + 3..];
    let authority_end = rest.find(['/', '?']).unwrap_or(rest.len());
    let authority = &rest[..authority_end];
    if let Some(at) = authority.rfind('@') {
        let userinfo = &authority[..at];
        if let Some(colon) = userinfo.find(':') {
            let raw = &userinfo[colon + 1..];
            if !raw.is_empty() {
                secrets.push(raw.to_string());
                secrets.push(percent_decode(raw));
            }
        }
        let host_part = &authority[at + 1..];
        if host_part.is_empty() || host_part.starts_with(':') {
            if !rest.contains("host=") {
                return Err(UserError::new(redact(
                    &format!(
                        "{source}: the URL names a user but no host; write postgres://user@host/db, \
                         or postgres:///db?host=/socket/dir&user=NAME"
                    ),
                    secrets,
                )));
            }
            // libpq's form for a socket with a user; sqlx needs some host there.
            let insert_at = scheme_end + 3 + at + 1;
            text.insert_str(insert_at, "localhost");
        }
    }
    if let Some(query) = text.split_once('?').map(|(_, q)| q.to_string()) {
        for (k, v) in url::form_urlencoded::parse(query.as_bytes()) {
            if k == "password" && !v.is_empty() {
                secrets.push(v.into_owned());
            }
        }
    }
    match url::Url::parse(&text) {
        Ok(_) => Ok(text),
        Err(e) => Err(UserError::new(redact(
            &format!("{source}: cannot parse the connection URL ({e}); {usage}"),
            secrets,
        ))),
    }
}

/// The URL names no user (neither `user@` nor `?user=`).
fn url_lacks_user(url: &str) -> bool {
    match url::Url::parse(url) {
        Ok(u) => u.username().is_empty() && !u.query_pairs().any(|(k, _)| k == "user"),
        Err(_) => false,
    }
}

/// The operating-system user running pgtriage: `USER`, `LOGNAME`, else the `/etc/passwd` entry
/// of the uid that owns this process.
fn os_user_name() -> Option<String> {
    if let Some(u) = env_nonempty("USER").or_else(|| env_nonempty("LOGNAME")) {
        return Some(u);
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        let uid = std::fs::metadata("/proc/self").ok()?.uid().to_string();
        let passwd = std::fs::read_to_string("/etc/passwd").ok()?;
        passwd.lines().find_map(|line| {
            let mut fields = line.split(':');
            let name = fields.next()?;
            let _password = fields.next()?;
            (fields.next()? == uid).then(|| name.to_string())
        })
    }
    #[cfg(not(unix))]
    {
        None
    }
}

fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%'
            && i + 2 < bytes.len()
            && let Some(b) = s
                .get(i + 1..i + 3)
                .and_then(|h| u8::from_str_radix(h, 16).ok())
        {
            out.push(b);
            i += 3;
            continue;
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redact_hides_secrets_and_url_passwords() {
        let text = "cannot connect postgres://bob:hunter2@db:5432/x (hunter2)";
        let out = redact(text, &["hunter2".to_string()]);
        assert!(!out.contains("hunter2"), "{out}");
        let out = redact("postgres://bob:s3cr%40t@db/x", &[]);
        assert_eq!(out, "postgres://bob:***@db/x");
    }

    #[test]
    fn url_password_is_recorded_as_secret_even_when_encoded() {
        let mut secrets = Vec::new();
        let url = parse_url("postgres://bob:p%40ss@db:5432/x", "--db", &mut secrets).unwrap();
        assert_eq!(url, "postgres://bob:p%40ss@db:5432/x");
        assert!(secrets.contains(&"p@ss".to_string()), "{secrets:?}");
        assert!(secrets.contains(&"p%40ss".to_string()), "{secrets:?}");
    }

    #[test]
    fn user_with_socket_host_query_is_mended() {
        let mut secrets = Vec::new();
        let url = parse_url("postgres://bob@/x?host=/tmp/sock", "--db", &mut secrets).unwrap();
        assert_eq!(url, "postgres://bob@localhost/x?host=/tmp/sock");
    }

    #[test]
    fn bad_urls_say_what_to_write() {
        let mut s = Vec::new();
        let e = parse_url("mysql://a@b/c", "--db", &mut s).unwrap_err();
        assert!(e.message().contains("unsupported URL scheme"), "{e}");
        let e = parse_url("db.example.com:5432", "--db", &mut s).unwrap_err();
        assert!(e.message().contains("postgres://"), "{e}");
        let e = parse_url("postgres://bob:pw@host:notaport/db", "--db", &mut s).unwrap_err();
        assert!(!e.message().contains("pw@"), "{e}");
    }
}
