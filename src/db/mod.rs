//! The only module that speaks sqlx. Everything here is read-only by construction: the session
//! sets `default_transaction_read_only=on`, every query runs inside a READ ONLY transaction, with
//! `statement_timeout`, `lock_timeout` and `application_name=pgtriage`.
//!
//! The rest of pgtriage sees a synchronous API returning plain `evidence` types. Helpers adding
//! queries put them in their own file here as `impl Session { … }` blocks: see `connect.rs` for
//! how to run a query (`Session::read_only`).

mod audit;
mod connect;
mod conninfo;
mod snapshot;
mod tls;
pub mod tracking;
mod verify;
mod wal;
mod watch;

pub use connect::{DEADLINE_MARGIN, Endpoint, Session};
#[allow(unused_imports)]
pub(crate) use connect::{QueryFailure, ReadOnly};
pub use verify::ORPHAN_LIMIT;
pub use watch::{ActivityRow, ClassXmin, LossCapture, WalSegment};

/// How to connect; see `commands::DbArgs` for the precedence of URL, `DATABASE_URL` and `PG*`.
#[derive(Debug, Clone)]
pub struct ConnectionSettings {
    pub url: Option<String>,
    pub statement_timeout_ms: u64,
    pub lock_timeout_ms: u64,
    /// 0: not given on the command line; then `connect_timeout` from the URL or service,
    /// `PGCONNECT_TIMEOUT`, else 10 s.
    pub connect_timeout_s: u64,
}
