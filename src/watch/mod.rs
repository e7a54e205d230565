//! `pgtriage watch`: the smoke detector. Owns the loop that polls the tables-only snapshot every
//! `--interval`, compares it with the previous one (`detect`), follows the server logs
//! (`follow`), captures what a loss would destroy the moment one is seen (`capture`, through
//! `db::Session::loss_capture`), runs the `--on-loss` hook (`hook`), writes the rolling
//! baselines, and keeps going through restarts and failovers (reconnect with backoff). Memory
//! is bounded whatever the uptime: one snapshot, one partial line and a short tail per log.

pub mod capture;
pub mod detect;
pub mod follow;
pub mod hook;

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};

use crate::commands::LogArgs;
use crate::db::{ConnectionSettings, Session};
use crate::error::{Result, UserError};
use crate::evidence::{DatabaseSnapshot, Evidence};
use crate::gather::Sources;
use capture::{Baselines, EvidenceJob, EvidenceWorker, LogTail};
use detect::{Thresholds, WatchEvent, WatchEventKind};
use follow::{LogFollower, LoggedStatement, StatementScanner};
use hook::HookRunner;

/// The `format` of every event line of `--format jsonl`.
pub const WATCH_FORMAT: &str = "pgtriage-watch/1";
/// How often the logs are checked between polls.
const LOG_CHECK: Duration = Duration::from_millis(100);
/// A full tables-only snapshot (`collect --tables-only`) at least this often; the polls in
/// between read only what the detector compares (`Session::watch_poll`).
const FULL_EVERY: Duration = Duration::from_secs(300);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Output {
    Text,
    Jsonl,
}

/// Everything the watch was asked to do (from the command line).
#[derive(Debug, Clone)]
pub struct WatchConfig {
    pub database: ConnectionSettings,
    /// For the evidence files (read whole, as `collect` does).
    pub logs: LogArgs,
    /// Followed as they grow.
    pub follow: Vec<PathBuf>,
    pub interval: Duration,
    pub out: PathBuf,
    pub on_loss: Option<String>,
    pub baseline_every: Duration,
    pub keep_baselines: usize,
    pub output: Output,
    pub thresholds: Thresholds,
    pub max_backoff: Duration,
    /// Print poll statistics and the resident memory on stderr this often.
    pub heartbeat: Option<Duration>,
}

/// Poll timings since the last heartbeat.
#[derive(Default)]
struct PollStats {
    polls: u64,
    total: Duration,
    max: Duration,
    since_start: u64,
}

pub struct Watcher {
    config: WatchConfig,
    session: Option<Session>,
    target: String,
    previous: Option<DatabaseSnapshot>,
    /// The last full tables-only snapshot: completes the light polls into an evidence baseline.
    full: Option<DatabaseSnapshot>,
    next_full: Instant,
    followers: Vec<LogFollower>,
    scanner: StatementScanner,
    failures: u32,
    down_since: Option<Instant>,
    baselines: Baselines,
    next_baseline: Instant,
    worker: Option<EvidenceWorker>,
    stats: PollStats,
    next_heartbeat: Option<Instant>,
}

/// Resident memory of this process, MB (Linux: /proc/self/status).
fn rss_mb() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    let kb: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb / 1024.0)
}

impl Watcher {
    pub fn new(config: WatchConfig) -> Watcher {
        let followers = config.follow.iter().map(|p| LogFollower::new(p)).collect();
        let baselines = Baselines::open(&config.out, config.keep_baselines);
        let hooks = config
            .on_loss
            .as_deref()
            .map(|c| HookRunner::new(c, &config.out));
        let scanner = StatementScanner::new(config.logs.log_line_prefix.as_deref(), None);
        Watcher {
            config,
            session: None,
            target: String::new(),
            previous: None,
            full: None,
            next_full: Instant::now(),
            followers,
            scanner,
            failures: 0,
            down_since: None,
            baselines,
            next_baseline: Instant::now(),
            worker: Some(EvidenceWorker::start(hooks)),
            stats: PollStats::default(),
            next_heartbeat: None,
        }
    }

    /// One poll against the newest baseline in `--out` (cron): exit 1 when something was
    /// raised, 0 otherwise; a new baseline is written either way.
    pub fn run_once(mut self) -> Result<ExitCode> {
        let before = match self.baselines.newest() {
            Some(path) => match Evidence::load(path) {
                Ok(e) => e.database,
                Err(e) => {
                    eprintln!("watch: {e}; comparing with nothing this time");
                    None
                }
            },
            None => None,
        };
        let mut session = Session::connect(&self.config.database)?;
        self.target = session.target().to_string();
        let now = session.snapshot_tables_only()?;
        self.session = Some(session);
        let raised = match &before {
            Some(b) => {
                let events = detect::detect(b, &now, &self.config.thresholds);
                let n = events.len();
                if n > 0 {
                    self.raise(events, before.clone());
                }
                n
            }
            None => {
                eprintln!(
                    "watch: no baseline in {} yet; this run writes the first one, the next compares with it",
                    self.config.out.display()
                );
                0
            }
        };
        self.baselines.write(&self.target, &now)?;
        if let Some(w) = self.worker.take() {
            w.finish();
        }
        Ok(if raised > 0 {
            ExitCode::from(1)
        } else {
            ExitCode::SUCCESS
        })
    }

    /// Runs until `stop` is set. Only a failure to start (no first connection, an unwritable
    /// `--out`) is an error; afterwards every failure is one line on stderr and a retry.
    pub fn run(mut self, stop: &AtomicBool) -> Result<ExitCode> {
        self.connect()?;
        let first = match self.session.as_mut() {
            Some(s) => s.snapshot_tables_only()?,
            None => return Err(UserError::new("watch: not connected")),
        };
        self.start_with(&first)?;
        eprintln!(
            "watch: {} every {}, {} tables{}; events and evidence in {}",
            self.target,
            human(self.config.interval),
            first.tables.len(),
            if self.followers.is_empty() {
                String::new()
            } else {
                format!(
                    ", following {}",
                    self.followers
                        .iter()
                        .map(|f| f.path().display().to_string())
                        .collect::<Vec<_>>()
                        .join(", ")
                )
            },
            self.config.out.display()
        );
        self.full = Some(first.clone());
        self.next_full = Instant::now() + FULL_EVERY;
        self.previous = Some(first);
        let mut next_poll = Instant::now() + self.config.interval;
        self.next_heartbeat = self.config.heartbeat.map(|h| Instant::now() + h);
        while !stop.load(Ordering::SeqCst) {
            self.check_logs();
            let now = Instant::now();
            if self.next_heartbeat.is_some_and(|t| now >= t) {
                self.heartbeat();
            }
            if now >= next_poll {
                let started = Instant::now();
                let ok = self.poll();
                let took = started.elapsed();
                if ok {
                    self.stats.polls += 1;
                    self.stats.since_start += 1;
                    self.stats.total += took;
                    self.stats.max = self.stats.max.max(took);
                }
                let delay = if ok {
                    self.config.interval
                } else {
                    self.backoff()
                };
                next_poll = Instant::now() + delay;
            }
            let wait = next_poll
                .saturating_duration_since(Instant::now())
                .min(LOG_CHECK);
            std::thread::sleep(wait);
        }
        Ok(ExitCode::SUCCESS)
    }

    fn heartbeat(&mut self) {
        let s = std::mem::take(&mut self.stats);
        let mean = if s.polls > 0 {
            s.total.as_secs_f64() / s.polls as f64
        } else {
            0.0
        };
        eprintln!(
            "watch: heartbeat: {} polls (mean {mean:.4} s, max {:.4} s), {} since start, RSS {}",
            s.polls,
            s.max.as_secs_f64(),
            s.since_start,
            rss_mb().map_or("unknown".to_string(), |m| format!("{m:.1} MB"))
        );
        self.stats.since_start = s.since_start;
        self.next_heartbeat = self.config.heartbeat.map(|h| Instant::now() + h);
    }

    fn start_with(&mut self, first: &DatabaseSnapshot) -> Result<()> {
        let prefix = self
            .config
            .logs
            .log_line_prefix
            .clone()
            .or_else(|| first.settings.get("log_line_prefix").cloned());
        let own = self.scanner_own_pid();
        // The server's name for the database, which the log uses (not a pooler's alias).
        let database = first
            .server
            .current_database
            .as_deref()
            .unwrap_or(&first.server.database);
        self.scanner = StatementScanner::new(prefix.as_deref(), Some(database));
        self.scanner.set_own_pid(own);
        self.baselines.write(&self.target, first)?;
        self.next_baseline = Instant::now() + self.config.baseline_every;
        Ok(())
    }

    fn scanner_own_pid(&self) -> Option<i32> {
        self.scanner.own_pid()
    }

    fn backoff(&self) -> Duration {
        let exp = self.failures.saturating_sub(1).min(10);
        (Duration::from_millis(500) * 2u32.pow(exp)).min(self.config.max_backoff)
    }

    /// One poll; false when it failed (the next one is after the backoff).
    fn poll(&mut self) -> bool {
        if self.session.is_none()
            && let Err(e) = self.connect()
        {
            self.failed(&e);
            return false;
        }
        let Some(session) = self.session.as_mut() else {
            return false;
        };
        let full_due = Instant::now() >= self.next_full || Instant::now() >= self.next_baseline;
        let taken = if full_due {
            session.snapshot_tables_only()
        } else {
            session.watch_poll()
        };
        let now = match taken {
            Ok(s) => s,
            Err(e) => {
                // A broken connection is not reused: the next poll connects afresh.
                self.session = None;
                self.failed(&e);
                return false;
            }
        };
        if self.failures > 0 {
            let secs = self.down_since.map_or(0, |t| t.elapsed().as_secs());
            eprintln!(
                "watch: {} answers again after {} failed polls ({secs}s)",
                self.target, self.failures
            );
            self.failures = 0;
            self.down_since = None;
        }
        let before = self.previous.take();
        if let Some(b) = &before {
            let events = detect::detect(b, &now, &self.config.thresholds);
            if !events.is_empty() {
                let baseline = self.baseline_from(b);
                self.raise(events, Some(baseline));
            }
        }
        if full_due {
            self.full = Some(now.clone());
            self.next_full = Instant::now() + FULL_EVERY;
        }
        if full_due && Instant::now() >= self.next_baseline {
            match self.baselines.write(&self.target, &now) {
                Ok(_) => {}
                Err(e) => eprintln!("watch: baseline not written: {e}"),
            }
            self.next_baseline = Instant::now() + self.config.baseline_every;
        }
        self.previous = Some(now);
        true
    }

    /// Connects, and learns the session's backend pid so its statements are told apart in
    /// the log.
    fn connect(&mut self) -> Result<()> {
        let mut session = Session::connect(&self.config.database)?;
        self.scanner.set_own_pid(session.backend_pid().ok());
        self.target = session.target().to_string();
        self.session = Some(session);
        Ok(())
    }

    fn failed(&mut self, e: &UserError) {
        self.failures += 1;
        self.down_since.get_or_insert_with(Instant::now);
        // One line per failed poll for the first few, then one a minute or so: a long outage
        // is not a flood.
        if self.failures <= 5 || self.failures.is_multiple_of(12) {
            eprintln!(
                "watch: poll {} failed: {e}; retrying in {}",
                self.failures,
                human(self.backoff())
            );
        }
    }

    fn check_logs(&mut self) {
        let mut found: Vec<LoggedStatement> = Vec::new();
        for f in &mut self.followers {
            let mut lines = f.read_new_lines();
            if lines.is_empty() {
                continue;
            }
            let jsonlog = f.is_jsonlog();
            lines.retain(|(_, l)| !self.scanner.is_own(jsonlog, l));
            for (_, l) in &lines {
                f.remember(l);
            }
            found.extend(self.scanner.scan(f.path(), jsonlog, &lines));
        }
        if found.is_empty() {
            return;
        }
        let events: Vec<WatchEvent> = found
            .into_iter()
            .map(|s| {
                let mut e = WatchEvent::new(
                    WatchEventKind::DestructiveStatement,
                    format!(
                        "{} logged by pid {}: {}",
                        s.kind,
                        s.pid.map_or("?".to_string(), |p| p.to_string()),
                        one_line(&s.statement, 200)
                    ),
                );
                e.table = s.tables.first().cloned();
                e.oid = e.table.as_deref().and_then(|t| self.oid_of(t));
                e.statement_kind = Some(s.kind);
                e.statement = Some(s.statement);
                e.pid = s.pid;
                e.source = Some(s.source);
                e
            })
            .collect();
        let baseline = self.previous.as_ref().map(|p| self.baseline_from(p));
        self.raise(events, baseline);
    }

    /// The evidence baseline for a loss seen after the poll `last`: `last`'s counters,
    /// completed by the last full snapshot.
    fn baseline_from(&self, last: &DatabaseSnapshot) -> DatabaseSnapshot {
        match &self.full {
            Some(full) => merge_into(full, last),
            None => last.clone(),
        }
    }

    /// The oid of a table named in a log line (qualified or bare) in the last snapshot.
    fn oid_of(&self, name: &str) -> Option<u32> {
        let snapshot = self.previous.as_ref()?;
        let lower = name.to_lowercase();
        snapshot
            .tables
            .iter()
            .find(|t| t.qualified_name() == lower)
            .or_else(|| {
                snapshot
                    .tables
                    .iter()
                    .find(|t| t.name == lower && t.schema == "public")
            })
            .map(|t| t.oid)
    }

    /// Captures, prints one line per event, and queues the evidence file and the hooks.
    fn raise(&mut self, events: Vec<WatchEvent>, baseline: Option<DatabaseSnapshot>) {
        let at = Utc::now();
        let oids: Vec<u32> = events
            .iter()
            .filter(|e| e.kind != WatchEventKind::TableDropped)
            .filter_map(|e| e.oid)
            .collect();
        // A log event can come while the server is unreachable: try once, now.
        if self.session.is_none() && self.connect().is_err() {
            self.session = None;
        }
        let captured = match self.session.as_mut() {
            Some(s) => s.loss_capture(&oids).map_err(|e| e.to_string()),
            None => Err("not connected".to_string()),
        };
        let tails: Vec<LogTail> = self
            .followers
            .iter()
            .map(|f| LogTail {
                path: f.path().display().to_string(),
                lines: f.tail(),
            })
            .collect();
        let kind = events.first().map(|e| e.kind.name()).unwrap_or("event");
        let evidence = self
            .config
            .out
            .join(format!("{}-{kind}.evidence.json", capture::stamp(at)));
        let capture_path = match capture::write_capture(
            &self.config.out,
            at,
            &self.target,
            &events,
            captured.as_ref().map_err(String::as_str),
            &tails,
            Some(&evidence),
        ) {
            Ok(p) => Some(p),
            Err(e) => {
                eprintln!("watch: capture not written: {e}");
                None
            }
        };
        let mut hooks = Vec::new();
        for e in &events {
            let line = event_json(e, at, &self.target, capture_path.as_deref(), &evidence);
            let text = match self.config.output {
                Output::Jsonl => line.to_string(),
                Output::Text => format!(
                    "{} {} {}: {} (evidence {})",
                    at.format("%Y-%m-%dT%H:%M:%S%.3fZ"),
                    e.kind.name(),
                    e.table.as_deref().unwrap_or("-"),
                    e.detail,
                    evidence.display()
                ),
            };
            let _ = crate::io::print_stdout(&format!("{text}\n"));
            if self.config.on_loss.is_some() {
                let what = format!(
                    "{}{}",
                    e.kind.name(),
                    e.table
                        .as_deref()
                        .map(|t| format!(" {t}"))
                        .unwrap_or_default()
                );
                hooks.push((
                    what,
                    hook_env(
                        e,
                        at,
                        &self.target,
                        capture_path.as_deref(),
                        &evidence,
                        &line,
                    ),
                ));
            }
        }
        let sources = Sources {
            database: Some(self.config.database.clone()),
            logs: (!self.config.logs.paths.is_empty()).then(|| self.config.logs.clone()),
            repo: None,
            baseline: None,
            tables_only: false,
            wal: None,
            ..Default::default()
        };
        if let Some(w) = &self.worker {
            w.submit(EvidenceJob {
                path: evidence,
                sources,
                baseline,
                hooks,
            });
        }
    }
}

/// `poll`'s cluster facts and per-table counters over `full`'s other fields (settings,
/// archiver, timestamps and counters a light poll does not read), table by table (same oid).
/// Tables gone since `full` are left out; tables new since are kept as the poll read them.
pub fn merge_into(full: &DatabaseSnapshot, poll: &DatabaseSnapshot) -> DatabaseSnapshot {
    let mut merged = full.clone();
    merged.server = crate::evidence::ServerInfo {
        checkpoint_time: full.server.checkpoint_time,
        system_identifier: poll
            .server
            .system_identifier
            .clone()
            .or_else(|| full.server.system_identifier.clone()),
        timeline_id: poll.server.timeline_id.or(full.server.timeline_id),
        current_database: poll
            .server
            .current_database
            .clone()
            .or_else(|| full.server.current_database.clone()),
        ..poll.server.clone()
    };
    if let (Some(m), Some(p)) = (merged.database_stats.as_mut(), poll.database_stats.as_ref()) {
        m.xact_commit = p.xact_commit;
        m.xact_rollback = p.xact_rollback;
        m.tup_inserted = p.tup_inserted;
        m.tup_updated = p.tup_updated;
        m.tup_deleted = p.tup_deleted;
        m.stats_reset = p.stats_reset;
    }
    merged.bgwriter_stats_reset = poll.bgwriter_stats_reset;
    let by_oid: std::collections::HashMap<u32, &crate::evidence::TableStats> =
        full.tables.iter().map(|t| (t.oid, t)).collect();
    merged.tables = poll
        .tables
        .iter()
        .map(|p| match by_oid.get(&p.oid) {
            Some(f) => crate::evidence::TableStats {
                schema: p.schema.clone(),
                name: p.name.clone(),
                relfilenode: p.relfilenode,
                n_tup_ins: p.n_tup_ins,
                n_tup_upd: p.n_tup_upd,
                n_tup_del: p.n_tup_del,
                n_live_tup: p.n_live_tup,
                n_dead_tup: p.n_dead_tup,
                vacuum_count: p.vacuum_count,
                reltuples: p.reltuples,
                relpages: p.relpages,
                ..(*f).clone()
            },
            None => p.clone(),
        })
        .collect();
    merged
}

fn one_line(s: &str, max: usize) -> String {
    let flat: String = s.split_whitespace().collect::<Vec<_>>().join(" ");
    if flat.chars().count() > max {
        let cut: String = flat.chars().take(max).collect();
        format!("{cut}…")
    } else {
        flat
    }
}

/// `1s`, `500ms`, `5m`, `1h`.
pub fn human(d: Duration) -> String {
    let ms = d.as_millis();
    if ms.is_multiple_of(3_600_000) && ms > 0 {
        format!("{}h", ms / 3_600_000)
    } else if ms.is_multiple_of(60_000) && ms > 0 {
        format!("{}m", ms / 60_000)
    } else if ms.is_multiple_of(1000) {
        format!("{}s", ms / 1000)
    } else {
        format!("{ms}ms")
    }
}

/// Parses `500ms`, `1s`, `5m`, `1h` (a bare number is seconds) for the flag `flag`.
pub fn parse_duration(flag: &str, text: &str) -> Result<Duration> {
    let t = text.trim();
    let (number, unit_ms) = if let Some(n) = t.strip_suffix("ms") {
        (n, 1u64)
    } else if let Some(n) = t.strip_suffix('s') {
        (n, 1000)
    } else if let Some(n) = t.strip_suffix('m') {
        (n, 60_000)
    } else if let Some(n) = t.strip_suffix('h') {
        (n, 3_600_000)
    } else {
        (t, 1000)
    };
    match number.trim().parse::<u64>() {
        Ok(n) if n > 0 => Ok(Duration::from_millis(n.saturating_mul(unit_ms))),
        _ => Err(UserError::new(format!(
            "{flag} `{text}`: not a duration; use a positive number with ms, s, m or h (e.g. 5s)"
        ))),
    }
}

/// One event as the JSON object of `--format jsonl` (and `PGTRIAGE_EVENT_JSON`).
fn event_json(
    e: &WatchEvent,
    at: DateTime<Utc>,
    target: &str,
    capture: Option<&std::path::Path>,
    evidence: &std::path::Path,
) -> serde_json::Value {
    let mut map = serde_json::Map::new();
    map.insert("format".into(), WATCH_FORMAT.into());
    map.insert(
        "at".into(),
        at.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
            .into(),
    );
    map.insert("database".into(), target.into());
    if let Ok(serde_json::Value::Object(fields)) = serde_json::to_value(e) {
        map.extend(fields);
    }
    if let Some(c) = capture {
        map.insert("capture".into(), c.display().to_string().into());
    }
    map.insert("evidence".into(), evidence.display().to_string().into());
    serde_json::Value::Object(map)
}

fn hook_env(
    e: &WatchEvent,
    at: DateTime<Utc>,
    target: &str,
    capture: Option<&std::path::Path>,
    evidence: &std::path::Path,
    line: &serde_json::Value,
) -> Vec<(String, String)> {
    let mut env = vec![
        ("PGTRIAGE_EVENT".to_string(), e.kind.name().to_string()),
        ("PGTRIAGE_EVENT_JSON".to_string(), line.to_string()),
        (
            "PGTRIAGE_AT".to_string(),
            at.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
        ),
        ("PGTRIAGE_DATABASE".to_string(), target.to_string()),
        ("PGTRIAGE_DETAIL".to_string(), e.detail.clone()),
        (
            "PGTRIAGE_EVIDENCE".to_string(),
            evidence.display().to_string(),
        ),
    ];
    let mut opt = |k: &str, v: Option<String>| {
        if let Some(v) = v {
            env.push((k.to_string(), v));
        }
    };
    opt("PGTRIAGE_TABLE", e.table.clone());
    opt("PGTRIAGE_CAPTURE", capture.map(|c| c.display().to_string()));
    opt("PGTRIAGE_ROWS_BEFORE", e.rows_before.map(|n| n.to_string()));
    opt("PGTRIAGE_ROWS_AFTER", e.rows_after.map(|n| n.to_string()));
    opt("PGTRIAGE_PID", e.pid.map(|n| n.to_string()));
    opt("PGTRIAGE_STATEMENT", e.statement.clone());
    env
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(
            parse_duration("--interval", "1s").ok(),
            Some(Duration::from_secs(1))
        );
        assert_eq!(
            parse_duration("--interval", "250ms").ok(),
            Some(Duration::from_millis(250))
        );
        assert_eq!(
            parse_duration("--x", "1h").ok(),
            Some(Duration::from_secs(3600))
        );
        assert_eq!(
            parse_duration("--x", "2").ok(),
            Some(Duration::from_secs(2))
        );
        let e = parse_duration("--interval", "soon").unwrap_err();
        assert!(e.message().contains("--interval `soon`"), "{e}");
        assert!(parse_duration("--interval", "0s").is_err());
        assert_eq!(human(Duration::from_secs(3600)), "1h");
        assert_eq!(human(Duration::from_millis(1500)), "1500ms");
    }

    #[test]
    fn a_light_poll_is_completed_by_the_full_snapshot() {
        let mut full: DatabaseSnapshot = serde_json::from_str(
            r#"{"server":{"version_num":150000,"version":"15","host":"h","port":1,"database":"d",
                "user":"u","system_identifier":"7","server_time":"2026-01-01T00:00:00Z"},
                "settings":{"log_statement":"all"},
                "tables":[{"schema":"public","name":"a","oid":1,"relfilenode":1,"relkind":"r",
                  "n_tup_ins":10,"n_tup_upd":0,"n_tup_del":0,"n_tup_hot_upd":0,"n_live_tup":10,
                  "n_dead_tup":0,"n_mod_since_analyze":3,"n_ins_since_vacuum":3,"last_vacuum":null,
                  "last_autovacuum":"2026-01-01T00:00:00Z","last_analyze":null,"last_autoanalyze":null,
                  "vacuum_count":0,"autovacuum_count":1,"analyze_count":0,"autoanalyze_count":0,
                  "reltuples":10.0,"relpages":1,"size_bytes":null,"catalog_xmin_age":5,
                  "catalog_commit_time":null}]}"#,
        )
        .expect("snapshot");
        let mut poll = full.clone();
        poll.settings.clear();
        poll.server.system_identifier = None;
        poll.tables[0].n_live_tup = Some(4);
        poll.tables[0].n_tup_del = Some(6);
        poll.tables[0].last_autovacuum = None;
        let mut new = poll.tables[0].clone();
        new.oid = 2;
        new.name = "b".into();
        poll.tables.push(new);
        full.tables[0].autovacuum_count = Some(1);
        let merged = merge_into(&full, &poll);
        assert_eq!(
            merged.settings.get("log_statement").map(String::as_str),
            Some("all")
        );
        assert_eq!(merged.server.system_identifier.as_deref(), Some("7"));
        assert_eq!(merged.tables.len(), 2);
        let a = &merged.tables[0];
        assert_eq!((a.n_live_tup, a.n_tup_del), (Some(4), Some(6)));
        assert!(a.last_autovacuum.is_some(), "kept from the full snapshot");
        assert_eq!(a.catalog_xmin_age, Some(5));
        assert_eq!(merged.tables[1].name, "b");
    }

    #[test]
    fn event_lines_carry_the_format_and_the_paths() {
        let mut e = WatchEvent::new(WatchEventKind::Truncate, "gone".into());
        e.table = Some("public.a".into());
        let at = Utc::now();
        let v = event_json(
            &e,
            at,
            "u@h:1/db",
            Some(std::path::Path::new("/o/c.json")),
            std::path::Path::new("/o/e.json"),
        );
        assert_eq!(v["format"], WATCH_FORMAT);
        assert_eq!(v["kind"], "truncate");
        assert_eq!(v["table"], "public.a");
        assert_eq!(v["evidence"], "/o/e.json");
        assert!(v.get("rows_before").is_none());
        let env = hook_env(
            &e,
            at,
            "u@h:1/db",
            None,
            std::path::Path::new("/o/e.json"),
            &v,
        );
        assert!(env.contains(&("PGTRIAGE_EVENT".into(), "truncate".into())));
        assert!(env.contains(&("PGTRIAGE_TABLE".into(), "public.a".into())));
    }
}
