//! `pgtriage watch`: flags, checks of the flags, signal handling and exit codes. The loop
//! itself lives in `crate::watch`.
//!
//! Exit codes: 0 stopped by SIGTERM/SIGINT (or `--once` saw nothing), 1 `--once` raised at
//! least one event, 2 bad input or no first connection.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use clap::{Args, ValueEnum};

use super::{DbArgs, LogArgs};
use crate::error::{Result, UserError};
use crate::watch::detect::Thresholds;
use crate::watch::{Output, WatchConfig, Watcher, parse_duration};

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// One line of text per event.
    Text,
    /// One JSON object per event (`"format": "pgtriage-watch/1"`).
    Jsonl,
}

#[derive(Debug, Args)]
pub struct WatchArgs {
    #[command(flatten)]
    pub db: DbArgs,
    #[command(flatten)]
    pub logs: LogArgs,
    /// Time between polls (500ms, 5s, 1m).
    #[arg(long, value_name = "DURATION", default_value = "5s")]
    pub interval: String,
    /// Directory for captures, evidence files, baselines and hooks.log (created if missing).
    #[arg(long, value_name = "DIR", default_value = "pgtriage-watch")]
    pub out: PathBuf,
    /// Shell command run for each event (event in PGTRIAGE_* variables, evidence path as $1).
    #[arg(long, value_name = "CMD")]
    pub on_loss: Option<String>,
    /// Write a tables-only baseline evidence file this often.
    #[arg(long, value_name = "DURATION", default_value = "1h")]
    pub baseline_every: String,
    /// Keep this many baselines (the oldest are removed).
    #[arg(long, value_name = "N", default_value_t = 24)]
    pub keep_baselines: usize,
    /// A fall of live rows is a loss when it is at least this many rows…
    #[arg(long, value_name = "ROWS", default_value_t = 1000)]
    pub min_rows: i64,
    /// …and at least this percentage of the table.
    #[arg(long, value_name = "PERCENT", default_value_t = 30.0)]
    pub min_percent: f64,
    /// Longest wait between reconnection attempts.
    #[arg(long, value_name = "DURATION", default_value = "5s")]
    pub max_backoff: String,
    /// `text`: one line per event; `jsonl`: one JSON object per event (schemas/watch-event.json).
    #[arg(long, value_enum, default_value = "text")]
    pub format: Format,
    /// Print poll timings and resident memory on stderr this often (e.g. 1m).
    #[arg(long, value_name = "DURATION")]
    pub heartbeat: Option<String>,
    /// One poll against the newest baseline in --out, then exit (cron): 1 if anything was raised.
    #[arg(long)]
    pub once: bool,
}

fn config(args: WatchArgs) -> Result<WatchConfig> {
    let interval = parse_duration("--interval", &args.interval)?;
    let baseline_every = parse_duration("--baseline-every", &args.baseline_every)?;
    let max_backoff = parse_duration("--max-backoff", &args.max_backoff)?;
    let heartbeat = match &args.heartbeat {
        Some(h) => Some(parse_duration("--heartbeat", h)?),
        None => None,
    };
    if args.min_rows < 1 {
        return Err(UserError::new(format!(
            "--min-rows {}: must be at least 1",
            args.min_rows
        )));
    }
    if !(args.min_percent > 0.0 && args.min_percent <= 100.0) {
        return Err(UserError::new(format!(
            "--min-percent {}: must be above 0 and at most 100",
            args.min_percent
        )));
    }
    let mut follow = Vec::new();
    for p in &args.logs.paths {
        let path = PathBuf::from(p);
        if p == "-" || path.is_dir() || p.contains(['*', '?', '[']) {
            return Err(UserError::new(format!(
                "--log {p}: watch follows files by name; give the server's current log file \
                 (e.g. log/postgresql.log)"
            )));
        }
        if p.ends_with(".csv") {
            return Err(UserError::new(format!(
                "--log {p}: watch follows stderr and jsonlog files, not csvlog; give the .log or \
                 .json file the server writes beside it"
            )));
        }
        follow.push(path);
    }
    std::fs::create_dir_all(&args.out).map_err(|e| {
        UserError::new(format!(
            "--out {}: cannot create the directory: {e}",
            args.out.display()
        ))
    })?;
    Ok(WatchConfig {
        database: args.db.settings(),
        logs: args.logs,
        follow,
        interval,
        out: args.out,
        on_loss: args.on_loss,
        baseline_every,
        keep_baselines: args.keep_baselines,
        output: match args.format {
            Format::Text => Output::Text,
            Format::Jsonl => Output::Jsonl,
        },
        thresholds: Thresholds {
            min_rows: args.min_rows,
            min_percent: args.min_percent,
        },
        max_backoff,
        heartbeat,
    })
}

pub fn run(args: WatchArgs) -> Result<ExitCode> {
    let once = args.once;
    let config = config(args)?;
    let stop = Arc::new(AtomicBool::new(false));
    for signal in [signal_hook::consts::SIGTERM, signal_hook::consts::SIGINT] {
        signal_hook::flag::register(signal, Arc::clone(&stop))
            .map_err(|e| UserError::new(format!("cannot handle signal {signal}: {e}")))?;
    }
    if once {
        return Watcher::new(config).run_once();
    }
    let (done, result) = std::sync::mpsc::channel();
    let flag = Arc::clone(&stop);
    std::thread::spawn(move || {
        let _ = done.send(Watcher::new(config).run(&flag));
    });
    loop {
        if stop.load(Ordering::SeqCst) {
            // The loop notices within a tenth of a second unless a query is in flight; never
            // wait for one (statement_timeout could be long): exit anyway.
            return match result.recv_timeout(Duration::from_millis(500)) {
                Ok(Err(e)) => Err(e),
                _ => Ok(ExitCode::SUCCESS),
            };
        }
        match result.recv_timeout(Duration::from_millis(50)) {
            Ok(r) => return r,
            Err(std::sync::mpsc::RecvTimeoutError::Timeout) => {}
            Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => {
                return Err(UserError::new("watch: the watch loop ended unexpectedly"));
            }
        }
    }
}
