//! `PGTRIAGE_TIMING=1`: when each source of a gathering started and ended (seconds since the
//! gathering began) and the CPU time of the thread that read it, on stderr. For
//! `scripts/bench-gather.sh` (issue #16: is the slowest source the bound, or do the sources
//! wait for one another?). Off by default, and never on stdout: normal output is unchanged.

use std::time::{Duration, Instant};

/// The clock of one gathering; `None` when timing is off.
#[derive(Clone, Copy)]
pub struct Clock(Option<Instant>);

impl Clock {
    pub fn start() -> Self {
        let on = std::env::var_os("PGTRIAGE_TIMING").is_some_and(|v| !v.is_empty() && v != "0");
        Clock(on.then(Instant::now))
    }

    /// Runs `f` as the phase `name`, timed when the clock is on.
    pub fn phase<T>(self, name: &str, f: impl FnOnce() -> T) -> T {
        let Some(origin) = self.0 else {
            return f();
        };
        let from = origin.elapsed();
        let cpu0 = thread_cpu();
        let out = f();
        let to = origin.elapsed();
        let cpu = match (cpu0, thread_cpu()) {
            (Some(a), Some(b)) => format!("{:.3} s", b.saturating_sub(a).as_secs_f64()),
            _ => "?".to_string(),
        };
        eprintln!(
            "timing: {name}: {:.3}–{:.3} s ({:.3} s wall, this thread's CPU {cpu})",
            from.as_secs_f64(),
            to.as_secs_f64(),
            (to - from).as_secs_f64()
        );
        out
    }

    /// The whole process's CPU time so far (every thread), with the time since the start.
    pub fn total(self, name: &str) {
        let Some(origin) = self.0 else {
            return;
        };
        let cpu = process_cpu()
            .map(|d| format!("{:.3} s", d.as_secs_f64()))
            .unwrap_or_else(|| "?".to_string());
        eprintln!(
            "timing: {name}: at {:.3} s, process CPU so far {cpu}",
            origin.elapsed().as_secs_f64()
        );
    }
}

/// CPU time of the calling thread (Linux: the first field of /proc/thread-self/schedstat, in
/// nanoseconds); `None` elsewhere.
fn thread_cpu() -> Option<Duration> {
    let text = std::fs::read_to_string("/proc/thread-self/schedstat").ok()?;
    let ns: u64 = text.split_whitespace().next()?.parse().ok()?;
    Some(Duration::from_nanos(ns))
}

/// User + system CPU time of this process (Linux: /proc/self/stat, fields 14 and 15, in clock
/// ticks of 1/100 s — the kernel's USER_HZ on every Linux architecture).
fn process_cpu() -> Option<Duration> {
    let text = std::fs::read_to_string("/proc/self/stat").ok()?;
    // The command name (field 2) may hold spaces: count from the closing parenthesis.
    let (_, rest) = text.rsplit_once(')')?;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks = fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?;
    Some(Duration::from_millis(ticks * 10))
}
