//! What the watch keeps when it raises: a capture file written at once (the sessions, the
//! tables' `pg_class.xmin`, the WAL position and segments, the log tail, the events), then a
//! full evidence file like `collect` writes (with the last snapshot before the loss as its
//! baseline), built on a worker thread so the loop keeps polling; the `--on-loss` hooks start
//! once the evidence file is there. Names are timestamped: `<UTC time>-<kind>.capture.json`,
//! `<UTC time>-<kind>.evidence.json`. Rolling baselines are `baseline-<UTC time>.json`.

use std::collections::VecDeque;
use std::path::{Path, PathBuf};
use std::sync::mpsc::{SyncSender, TrySendError};

use chrono::{DateTime, Utc};
use serde::Serialize;

use super::detect::WatchEvent;
use super::hook::HookRunner;
use crate::db::LossCapture;
use crate::error::{Result, UserError};
use crate::evidence::{DatabaseSnapshot, Evidence, Input};
use crate::gather::{Sources, build_evidence};

/// The `format` of a capture file.
pub const CAPTURE_FORMAT: &str = "pgtriage-watch-capture/1";
/// Evidence files being built or waiting, at most; beyond that an event keeps its capture file
/// only (and says so).
const EVIDENCE_QUEUE: usize = 4;

/// A file name stamp: sortable, no colons.
pub fn stamp(at: DateTime<Utc>) -> String {
    at.format("%Y%m%dT%H%M%S%.3fZ").to_string()
}

#[derive(Serialize)]
pub struct LogTail {
    pub path: String,
    pub lines: Vec<String>,
}

#[derive(Serialize)]
struct CaptureFile<'a> {
    format: &'static str,
    captured_at: DateTime<Utc>,
    /// `user@host:port/db`.
    database: &'a str,
    events: &'a [WatchEvent],
    /// What the database showed at the moment (absent when it could not be reached).
    #[serde(skip_serializing_if = "Option::is_none")]
    capture: Option<&'a LossCapture>,
    #[serde(skip_serializing_if = "Option::is_none")]
    capture_error: Option<&'a str>,
    logs: &'a [LogTail],
    /// The evidence file being written for these events.
    evidence: Option<String>,
}

/// The two files of one capture.
#[derive(Debug, Clone)]
pub struct CapturePaths {
    pub capture: PathBuf,
    pub evidence: Option<PathBuf>,
}

#[allow(clippy::too_many_arguments)]
pub fn write_capture(
    out: &Path,
    at: DateTime<Utc>,
    database: &str,
    events: &[WatchEvent],
    capture: std::result::Result<&LossCapture, &str>,
    logs: &[LogTail],
    evidence: Option<&Path>,
) -> Result<PathBuf> {
    let kind = events.first().map(|e| e.kind.name()).unwrap_or("event");
    let path = out.join(format!("{}-{kind}.capture.json", stamp(at)));
    let file = CaptureFile {
        format: CAPTURE_FORMAT,
        captured_at: at,
        database,
        events,
        capture: capture.ok(),
        capture_error: capture.err(),
        logs,
        evidence: evidence.map(|p| p.display().to_string()),
    };
    let mut text = serde_json::to_string_pretty(&file)
        .map_err(|e| UserError::new(format!("cannot serialise the capture: {e}")))?;
    text.push('\n');
    crate::io::write_atomically(&path, text.as_bytes())?;
    Ok(path)
}

/// One evidence file to build, and the hooks to start after it.
pub struct EvidenceJob {
    pub path: PathBuf,
    pub sources: Sources,
    /// The last snapshot before the loss, and when it was taken.
    pub baseline: Option<DatabaseSnapshot>,
    /// (what, environment) of each hook to start once the file is written.
    pub hooks: Vec<(String, Vec<(String, String)>)>,
}

/// The worker that builds evidence files one after the other.
pub struct EvidenceWorker {
    queue: SyncSender<EvidenceJob>,
    thread: std::thread::JoinHandle<()>,
}

impl EvidenceWorker {
    pub fn start(hooks: Option<HookRunner>) -> EvidenceWorker {
        let (queue, jobs) = std::sync::mpsc::sync_channel::<EvidenceJob>(EVIDENCE_QUEUE);
        let thread = std::thread::spawn(move || {
            for job in jobs {
                let written = match build(&job) {
                    Ok(()) => Some(job.path.as_path()),
                    Err(e) => {
                        eprintln!("watch: evidence {} not written: {e}", job.path.display());
                        None
                    }
                };
                if let Some(h) = &hooks {
                    for (what, env) in &job.hooks {
                        h.start(what, env, written);
                    }
                }
            }
        });
        EvidenceWorker { queue, thread }
    }

    /// Waits for the queued evidence files (`--once`: the process ends afterwards).
    pub fn finish(self) {
        drop(self.queue);
        let _ = self.thread.join();
    }

    /// Queues a job; returns false when the queue is full (the job is dropped, said on stderr).
    pub fn submit(&self, job: EvidenceJob) -> bool {
        match self.queue.try_send(job) {
            Ok(()) => true,
            Err(TrySendError::Full(job)) | Err(TrySendError::Disconnected(job)) => {
                eprintln!(
                    "watch: evidence {} skipped: {EVIDENCE_QUEUE} evidence files are still being written",
                    job.path.display()
                );
                false
            }
        }
    }
}

fn build(job: &EvidenceJob) -> Result<()> {
    let mut evidence = build_evidence(&job.sources)?;
    if let Some(b) = &job.baseline {
        evidence.inputs.push(Input {
            kind: "baseline".to_string(),
            name: format!("watch: snapshot of {}", b.server.server_time.to_rfc3339()),
            sha256: None,
            bytes: None,
            revision: None,
        });
        evidence.baseline = Some(b.clone());
    }
    evidence.save(&job.path)
}

/// The rolling baselines in `--out`: the newest `keep` are kept.
pub struct Baselines {
    dir: PathBuf,
    keep: usize,
    files: VecDeque<PathBuf>,
}

impl Baselines {
    /// Finds the baselines already in `dir` (from an earlier run), oldest first.
    pub fn open(dir: &Path, keep: usize) -> Baselines {
        let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
            .map(|rd| {
                rd.filter_map(|e| e.ok().map(|e| e.path()))
                    .filter(|p| {
                        p.file_name()
                            .and_then(|n| n.to_str())
                            .is_some_and(|n| n.starts_with("baseline-") && n.ends_with(".json"))
                    })
                    .collect()
            })
            .unwrap_or_default();
        files.sort();
        Baselines {
            dir: dir.to_path_buf(),
            keep: keep.max(1),
            files: files.into(),
        }
    }

    pub fn newest(&self) -> Option<&Path> {
        self.files.back().map(PathBuf::as_path)
    }

    /// Writes `snapshot` as a tables-only evidence file and removes the oldest beyond `keep`.
    pub fn write(&mut self, target: &str, snapshot: &DatabaseSnapshot) -> Result<PathBuf> {
        let at = Utc::now();
        let path = self.dir.join(format!("baseline-{}.json", stamp(at)));
        let mut evidence = Evidence::new(at);
        evidence.inputs.push(Input {
            kind: "database".to_string(),
            name: target.to_string(),
            sha256: None,
            bytes: None,
            revision: None,
        });
        evidence.database = Some(snapshot.clone());
        evidence.problems.push(
            "tables-only snapshot (pgtriage watch baseline): foreign keys and sequences were not \
             collected"
                .to_string(),
        );
        evidence.save(&path)?;
        self.files.push_back(path.clone());
        while self.files.len() > self.keep {
            if let Some(old) = self.files.pop_front()
                && let Err(e) = std::fs::remove_file(&old)
            {
                eprintln!("watch: cannot remove old baseline {}: {e}", old.display());
            }
        }
        Ok(path)
    }
}
