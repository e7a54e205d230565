//! The `--on-loss` hook: `sh -c CMD` with the event in environment variables and the evidence
//! path as `$1`, started and left to run. A thread per hook waits for it and reports a failure
//! on stderr, so a slow or failing hook never delays the watch loop. At most
//! [`MAX_RUNNING`] hooks run at once; beyond that an event's hook is skipped (and said so).

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

/// Hooks running at the same time, at most.
pub const MAX_RUNNING: usize = 32;

pub struct HookRunner {
    command: String,
    /// Where the hooks' stdout and stderr go (appended), so they never mix with the event
    /// stream on stdout.
    log: PathBuf,
    running: Arc<AtomicUsize>,
}

impl HookRunner {
    pub fn new(command: &str, out_dir: &Path) -> HookRunner {
        HookRunner {
            command: command.to_string(),
            log: out_dir.join("hooks.log"),
            running: Arc::new(AtomicUsize::new(0)),
        }
    }

    /// Starts the hook for one event; returns at once.
    pub fn start(&self, what: &str, env: &[(String, String)], evidence: Option<&Path>) {
        if self.running.load(Ordering::SeqCst) >= MAX_RUNNING {
            eprintln!("watch: --on-loss not run for {what}: {MAX_RUNNING} hooks are still running");
            return;
        }
        let open_log = || {
            std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(&self.log)
        };
        let (out, err) = match (open_log(), open_log()) {
            (Ok(a), Ok(b)) => (Stdio::from(a), Stdio::from(b)),
            _ => (Stdio::null(), Stdio::null()),
        };
        let mut cmd = Command::new("sh");
        cmd.arg("-c")
            .arg(&self.command)
            .arg("pgtriage-on-loss")
            .arg(evidence.map(|p| p.as_os_str()).unwrap_or_default())
            .envs(env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err);
        match cmd.spawn() {
            Ok(mut child) => {
                self.running.fetch_add(1, Ordering::SeqCst);
                let running = Arc::clone(&self.running);
                let what = what.to_string();
                let log = self.log.clone();
                std::thread::spawn(move || {
                    let status = child.wait();
                    running.fetch_sub(1, Ordering::SeqCst);
                    match status {
                        Ok(s) if s.success() => {}
                        Ok(s) => eprintln!(
                            "watch: --on-loss for {what} ended with {s}; its output is in {}",
                            log.display()
                        ),
                        Err(e) => eprintln!("watch: --on-loss for {what}: {e}"),
                    }
                });
            }
            Err(e) => eprintln!("watch: --on-loss for {what} could not start: {e}"),
        }
    }
}
