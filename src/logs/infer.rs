//! Format and `log_line_prefix` inference from a file's first lines. When nothing fits, the
//! error names the line that could not be matched and the escapes that seem to be missing: the
//! complaint pgBadger users raise most.

use regex::Regex;

use crate::error::UserError;
use crate::logs::format::LogFormat;
use crate::logs::prefix::{Escape, LinePrefix, SEVERITIES};

/// How to read one file.
#[derive(Debug, Clone)]
pub struct Detected {
    pub format: LogFormat,
    pub prefix: Option<LinePrefix>,
    /// CloudWatch exports: an RFC 3339 timestamp and a space before each line.
    pub leading_timestamp: bool,
    /// Something the reader should know (e.g. no process id in the prefix).
    pub warning: Option<String>,
}

/// Prefixes seen in the wild, most specific first (a prefix that is a start of another must come
/// after it). Covers the PostgreSQL and Debian defaults, pgBadger's recommendations, RDS/Aurora.
const KNOWN_PREFIXES: [&str; 24] = [
    "%m [%p] %q%u@%d ",
    "%t [%p] %q%u@%d ",
    "%t [%p-%l] %q%u@%d ",
    "%m [%p-%l] %q%u@%d ",
    "%t [%p]: [%l-1] user=%u,db=%d,app=%a,client=%h ",
    "%m [%p]: [%l-1] user=%u,db=%d,app=%a,client=%h ",
    "%t [%p]: user=%u,db=%d,app=%a,client=%h ",
    "%m [%p]: user=%u,db=%d,app=%a,client=%h ",
    "%t [%p]: [%l-1] db=%d,user=%u,app=%a,client=%h ",
    "%m [%p]: [%l-1] db=%d,user=%u,app=%a,client=%h ",
    "%t:%r:%u@%d:[%p]:",
    "%m:%r:%u@%d:[%p]:",
    "%m [%p] %q%u@%d/%a ",
    "%m [%p] %q[%u@%d] ",
    "%m [%p] %q%a %u@%d ",
    "%t [%p]: [%l-1] ",
    "%m [%p]: [%l-1] ",
    "%m [%p] ",
    "%t [%p] ",
    "%m [%p]: ",
    "%t [%p]: ",
    "%n [%p] ",
    "%m ",
    "%t ",
];

fn head_lines(sample: &[u8]) -> impl Iterator<Item = (usize, &[u8])> {
    sample
        .split(|c| *c == b'\n')
        .enumerate()
        .map(|(i, l)| (i + 1, l.strip_suffix(b"\r").unwrap_or(l)))
        .filter(|(_, l)| l.first().is_some_and(|c| *c != b'\t'))
        .take(400)
}

fn strip_leading_timestamp(line: &[u8], leading: bool) -> &[u8] {
    if !leading {
        return line;
    }
    memchr::memchr(b' ', line)
        .and_then(|sp| line.get(sp + 1..))
        .unwrap_or(line)
}

/// Share of head lines the prefix matches, and the first line it does not match.
fn score(
    prefix: &LinePrefix,
    sample: &[u8],
    leading: bool,
) -> (usize, usize, Option<(usize, String)>) {
    let mut hit = 0;
    let mut total = 0;
    let mut first_miss = None;
    for (n, line) in head_lines(sample) {
        total += 1;
        if prefix
            .matches(strip_leading_timestamp(line, leading))
            .is_some()
        {
            hit += 1;
        } else if first_miss.is_none() && has_severity(line) {
            first_miss = Some((n, String::from_utf8_lossy(quoted_head(line)).into_owned()));
        }
    }
    (hit, total, first_miss)
}

/// The part of a line quoted in an error: its first 160 bytes.
fn quoted_head(line: &[u8]) -> &[u8] {
    line.get(..160).unwrap_or(line)
}

/// Where a severity marker (`LOG:  `) is in a line, if any.
fn severity_pos(line: &[u8]) -> Option<usize> {
    let finder = memchr::memmem::Finder::new(b":  ");
    finder.find_iter(line).find_map(|i| {
        let before = line.get(..i)?;
        let word = SEVERITIES
            .iter()
            .filter(|s| before.ends_with(s))
            .map(|s| s.len())
            .max()?;
        Some(i - word)
    })
}

fn has_severity(line: &[u8]) -> bool {
    severity_pos(line).is_some()
}

/// Decides how to read a file from its first bytes (decoded).
pub fn detect(
    sample: &[u8],
    display: &str,
    format: Option<LogFormat>,
    prefix: Option<&str>,
) -> Result<Detected, UserError> {
    let sample = sample.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(sample);
    let first = sample
        .split(|c| *c == b'\n')
        .map(|l| l.strip_suffix(b"\r").unwrap_or(l))
        .find(|l| !l.iter().all(u8::is_ascii_whitespace))
        .unwrap_or(b"");
    let format = match format {
        Some(f) => f,
        None => sniff_format(first),
    };
    let plain = |f| Detected {
        format: f,
        prefix: None,
        leading_timestamp: false,
        warning: None,
    };
    match format {
        LogFormat::Csvlog | LogFormat::Jsonlog | LogFormat::CloudSql => return Ok(plain(format)),
        LogFormat::Syslog => {
            // The prefix comes after the syslog header and `[n-m] `.
            let inner = syslog_inner_sample(sample);
            let p = prefix_for(&inner, prefix, display, false, true)?;
            return Ok(Detected {
                format,
                prefix: Some(p.0),
                leading_timestamp: false,
                warning: p.1,
            });
        }
        LogFormat::Stderr | LogFormat::Rds => {}
    }
    let leading = cloudwatch_re().is_match(&String::from_utf8_lossy(first));
    let (p, warning) = match prefix_for(sample, prefix, display, leading, false) {
        Ok(found) => found,
        // Before the generic complaint (which advises flags that cannot help for a file that
        // is not a server log at all), say what the file is when it is recognisably another
        // tool's log.
        Err(e) => match other_log(sample) {
            Some(what) => {
                return Err(UserError::new(format!(
                    "{display}: this is {what}, not a PostgreSQL server log; give --log the server's own log files (log_destination stderr, csvlog or jsonlog)"
                )));
            }
            None => return Err(e),
        },
    };
    let is_rds = p.text().contains(":%r:%u@%d:[%p]:");
    Ok(Detected {
        format: if is_rds || format == LogFormat::Rds {
            LogFormat::Rds
        } else {
            LogFormat::Stderr
        },
        prefix: Some(p),
        leading_timestamp: leading,
        warning,
    })
}

fn cloudwatch_re() -> Regex {
    Regex::new(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:?\d\d) \d{4}-\d\d-\d\d ")
        .unwrap_or_else(|_| Regex::new("$^").unwrap_or_else(|_| unreachable!()))
}

fn syslog_re() -> Regex {
    Regex::new(
        r"^(<\d+>\d? ?)?([A-Z][a-z]{2} [ \d]\d \d\d:\d\d:\d\d|\d{4}-\d\d-\d\dT\S+) \S+ [^\s\[]+\[\d+\]: \[\d+(-\d+)?\] ",
    )
    .unwrap_or_else(|_| unreachable!())
}

fn sniff_format(first: &[u8]) -> LogFormat {
    let text = String::from_utf8_lossy(first);
    if text.starts_with('{') {
        if let Ok(serde_json::Value::Object(map)) = serde_json::from_str::<serde_json::Value>(&text)
            && ["textPayload", "jsonPayload", "logName"]
                .iter()
                .any(|k| map.contains_key(*k))
        {
            return LogFormat::CloudSql;
        }
        return LogFormat::Jsonlog;
    }
    if syslog_re().is_match(&text) {
        return LogFormat::Syslog;
    }
    let commas = first.iter().filter(|c| **c == b',').count();
    if crate::logs::time::parse_civil(first).is_some() && commas >= 20 {
        let after_ts = first.iter().position(|c| *c == b',').unwrap_or(0);
        if after_ts <= 40 {
            return LogFormat::Csvlog;
        }
    }
    LogFormat::Stderr
}

/// The syslog payload after `[n-m] ` of each line, for prefix inference.
fn syslog_inner_sample(sample: &[u8]) -> Vec<u8> {
    let re = syslog_re();
    let mut out = Vec::new();
    for line in sample.split(|c| *c == b'\n') {
        let text = String::from_utf8_lossy(line);
        if let Some(m) = re.find(&text)
            && let Some(rest) = text.get(m.end()..)
            && !rest.starts_with("#011")
            && !rest.starts_with('\t')
        {
            out.extend_from_slice(rest.as_bytes());
            out.push(b'\n');
        }
    }
    out
}

/// The prefix for these lines: the given one (checked) or the best known one, or one built from
/// a line. `allow_empty` for syslog, where an empty prefix is common.
fn prefix_for(
    sample: &[u8],
    given: Option<&str>,
    display: &str,
    leading: bool,
    allow_empty: bool,
) -> Result<(LinePrefix, Option<String>), UserError> {
    if let Some(text) = given {
        let p = LinePrefix::compile(text)?;
        let (hit, total, miss) = score(&p, sample, leading);
        if total > 0 && hit == 0 {
            let (n, line) = miss.unwrap_or((1, String::new()));
            return Err(UserError::new(format!(
                "{display}: line {n} does not start with log_line_prefix {text:?}: {line:?}; {}",
                missing_escapes(line.as_bytes(), &p)
            )));
        }
        return Ok((p.clone(), session_warning(&p)));
    }
    let mut scored: Vec<(usize, LinePrefix)> = Vec::new();
    let mut candidates: Vec<String> = KNOWN_PREFIXES.iter().map(|s| s.to_string()).collect();
    if allow_empty {
        candidates.push(String::new());
    }
    // Built readings first: the first bracketed number as the pid, then the second (a `[%x]`
    // or `[%Q]` before `[%p]` reads alike; the session markers tell them apart).
    for slot in (0..2).rev() {
        if let Some(built) = build_prefix(sample, leading, slot)
            && !candidates.contains(&built)
        {
            candidates.insert(0, built);
        }
    }
    let mut total = 0;
    for c in &candidates {
        let Ok(p) = LinePrefix::compile(c) else {
            continue;
        };
        // Without a timestamp a stderr log cannot be placed in time: not a reading to guess.
        let timed = [Escape::Time, Escape::TimeMs, Escape::Epoch]
            .iter()
            .any(|e| p.has(*e));
        if !timed && !allow_empty {
            continue;
        }
        let (hit, t, _) = score(&p, sample, leading);
        total = t;
        if hit > 0 && !scored.iter().any(|(_, q)| q.text() == p.text()) {
            scored.push((hit, p));
        }
    }
    let (best, notes) = choose_prefix(scored, sample, leading);
    match best {
        Some((hit, p)) if hit > 0 && hit * 2 >= total => {
            let warning = match (session_warning(&p), notes) {
                (Some(a), Some(b)) => Some(format!("{b}; {a}")),
                (a, b) => b.or(a),
            };
            Ok((p, warning))
        }
        _ => {
            let line = head_lines(sample)
                .find(|(_, l)| has_severity(l))
                .or_else(|| head_lines(sample).next());
            match line {
                Some((n, l)) => Err(UserError::new(format!(
                    "{display}: cannot infer the log_line_prefix: line {n} matches no known prefix: {:?}; {}; give --log-line-prefix with the server's setting (SHOW log_line_prefix) or --log-format",
                    String::from_utf8_lossy(quoted_head(l)),
                    describe_line(l)
                ))),
                None => Err(UserError::new(format!(
                    "{display}: no log lines in the first part of the file; give --log-format and --log-line-prefix"
                ))),
            }
        }
    }
}

/// The process ids a prefix reads from the head lines, in order (`None` for a line it does not
/// match or that has no pid).
fn pid_reading(p: &LinePrefix, sample: &[u8], leading: bool) -> Vec<Option<i64>> {
    head_lines(sample)
        .map(|(_, l)| {
            let l = strip_leading_timestamp(l, leading);
            let m = p.matches(l)?;
            let v = m.get(l, Escape::Pid)?;
            std::str::from_utf8(v).ok()?.trim().parse::<i64>().ok()
        })
        .collect()
}

/// Whether a "pid" reading behaves like a line counter (`%l`) rather than a process: it often
/// goes up by one from one line to the next and most lines have a value of their own (a
/// process id stays put while its session logs).
fn pid_looks_like_a_counter(pids: &[Option<i64>]) -> bool {
    let values: Vec<i64> = pids.iter().flatten().copied().collect();
    let pairs = values.len().saturating_sub(1);
    if pairs < 3 {
        return false;
    }
    let plus_one = values
        .iter()
        .zip(values.iter().skip(1))
        .filter(|(a, b)| a.checked_add(1) == Some(**b))
        .count();
    // Sessions with consecutive pids taking turns (100, 101, 102, 100, …) also go up by one:
    // what sets a counter apart is that it hardly ever repeats a value.
    let mut distinct = values.clone();
    distinct.sort_unstable();
    distinct.dedup();
    distinct.len() * 2 > values.len() && plus_one * 3 > pairs
}

/// How a reading's sessions agree with what the server says about them in the head lines.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
struct MarkerCheck {
    /// Markers that agree: a COMMIT/ROLLBACK in the session that began the transaction, a
    /// session id (`%c`, `start.pid` in hex) that names the pid read.
    agree: usize,
    /// Markers that disagree: a COMMIT/ROLLBACK in a session with no transaction begun after
    /// its connection was seen, a BEGIN in a session whose transaction is open, a second
    /// `connection authorized` on a live session, a `%c` naming another pid, a session's virtual
    /// xid (`%v`) changing its backend id.
    disagree: usize,
}

impl MarkerCheck {
    /// Fewest disagreements first, then most agreements.
    fn rank(&self) -> (usize, std::cmp::Reverse<usize>) {
        (self.disagree, std::cmp::Reverse(self.agree))
    }
}

/// What a statement does to its session's transaction (simple and extended protocol).
fn transaction_verb(message: &[u8]) -> Option<bool> {
    let text = String::from_utf8_lossy(message);
    let sql = if let Some(s) = text.strip_prefix("statement: ") {
        s
    } else if text.starts_with("execute ") {
        text.split_once(": ")?.1
    } else {
        return None;
    };
    let sql = sql.trim().trim_end_matches(';').trim().to_ascii_uppercase();
    let words: Vec<&str> = sql.split_whitespace().collect();
    match words.as_slice() {
        ["BEGIN", ..] | ["START", "TRANSACTION", ..] => Some(true),
        ["COMMIT" | "END" | "ROLLBACK" | "ABORT"]
        | [
            "COMMIT" | "END" | "ROLLBACK" | "ABORT",
            "WORK" | "TRANSACTION" | "AND",
            ..,
        ] => Some(false),
        _ => None,
    }
}

/// Checks a reading's pids against the session markers of the head lines.
fn check_markers(p: &LinePrefix, sample: &[u8], leading: bool) -> MarkerCheck {
    #[derive(Default)]
    struct Session {
        /// `connection received/authorized` seen, no disconnection since.
        live: bool,
        /// First seen after the server said it was ready: its whole life is in the sample.
        whole: bool,
        authorized: bool,
        open: bool,
        backend: Option<Vec<u8>>,
    }
    let mut check = MarkerCheck::default();
    if !p.has(Escape::Pid) {
        return check;
    }
    let mut sessions: std::collections::HashMap<i64, Session> = Default::default();
    // After the server says it is ready, every process seen is new: its whole session is in
    // the sample, so a COMMIT without its BEGIN is a disagreement there too.
    let mut started = false;
    for (_, l) in head_lines(sample) {
        let l = strip_leading_timestamp(l, leading);
        let Some(m) = p.matches(l) else { continue };
        let Some(pid) = m
            .get(l, Escape::Pid)
            .and_then(|v| std::str::from_utf8(v).ok())
            .and_then(|v| v.trim().parse::<i64>().ok())
        else {
            continue;
        };
        if let Some(sid) = m.get(l, Escape::SessionId)
            && let Some((_, hex)) = std::str::from_utf8(sid).unwrap_or("").rsplit_once('.')
            && let Ok(sid_pid) = i64::from_str_radix(hex, 16)
        {
            if sid_pid == pid {
                check.agree += 1;
            } else {
                check.disagree += 1;
            }
        }
        let Some(rest) = l.get(m.rest..) else {
            continue;
        };
        let Some(n) = crate::logs::prefix::severity_at(rest) else {
            continue;
        };
        let message = rest.get(n + 3..).unwrap_or(b"");
        if message.starts_with(b"database system is ready to accept") {
            started = true;
        }
        let s = sessions.entry(pid).or_insert_with(|| Session {
            whole: started,
            ..Session::default()
        });
        if let Some(v) = m.get(l, Escape::VirtualXid)
            && let Some((backend, _)) = memchr::memchr(b'/', v).and_then(|i| v.split_at_checked(i))
            && s.live
        {
            match &s.backend {
                Some(b) if b.as_slice() != backend => check.disagree += 1,
                Some(_) => {}
                None => s.backend = Some(backend.to_vec()),
            }
        }
        if message.starts_with(b"connection received:") {
            if s.live {
                check.disagree += 1;
            }
            *s = Session {
                live: true,
                whole: s.whole,
                ..Session::default()
            };
        } else if message.starts_with(b"connection authorized:") {
            if s.authorized {
                check.disagree += 1;
            }
            s.live = true;
            s.authorized = true;
        } else if message.starts_with(b"disconnection:") {
            // A pid reused later is a new process, begun after this point.
            *s = Session {
                whole: true,
                ..Session::default()
            };
        } else if let Some(begins) = transaction_verb(message) {
            match (begins, s.open) {
                (true, true) => check.disagree += 1,
                (true, false) => s.open = true,
                (false, true) => {
                    check.agree += 1;
                    s.open = false;
                }
                // Without its connection in the sample, the BEGIN may be before the sample.
                (false, false) if s.live || s.whole => check.disagree += 1,
                (false, false) => {}
            }
        }
    }
    check
}

/// Picks the reading that matches most head lines and whose pid behaves like a pid. A reading
/// rejected for that, or a tie between readings that disagree on the pid, is said (the note
/// becomes a problem of the file), never resolved silently.
fn choose_prefix(
    scored: Vec<(usize, LinePrefix)>,
    sample: &[u8],
    leading: bool,
) -> (Option<(usize, LinePrefix)>, Option<String>) {
    let mut notes: Vec<String> = Vec::new();
    let mut kept: Vec<(usize, LinePrefix, Vec<Option<i64>>)> = Vec::new();
    let mut rejected: Vec<(usize, LinePrefix)> = Vec::new();
    for (hit, p) in scored {
        let pids = if p.has(Escape::Pid) {
            pid_reading(&p, sample, leading)
        } else {
            Vec::new()
        };
        if pid_looks_like_a_counter(&pids) {
            rejected.push((hit, p));
        } else {
            kept.push((hit, p, pids));
        }
    }
    let top = kept.iter().map(|k| k.0).max();
    // Among the readings that fit most lines, the one the session markers disagree with least
    // (the first of equals: the list is in order of preference).
    let markers: Vec<MarkerCheck> = kept
        .iter()
        .map(|(h, p, _)| {
            if Some(*h) == top {
                check_markers(p, sample, leading)
            } else {
                MarkerCheck::default()
            }
        })
        .collect();
    let best = kept
        .iter()
        .zip(&markers)
        .enumerate()
        .filter(|(_, (k, _))| Some(k.0) == top)
        .min_by_key(|(i, (_, m))| (m.rank(), *i));
    let Some((best_i, ((top, best_prefix, best_pids), &best_markers))) = best else {
        // Nothing plausible: fall back to the best match, and say its pid is doubtful.
        let best = rejected.into_iter().max_by_key(|r| r.0);
        if let Some((_, p)) = &best {
            notes.push(format!(
                "log_line_prefix inferred as {:?}, but its process id goes up by one line after line like a line number (%l): sessions may be wrong; give --log-line-prefix",
                p.text()
            ));
        }
        return (best, notes.pop());
    };
    let top = *top;
    for (i, ((h, q, pids), m)) in kept.iter().zip(&markers).enumerate() {
        if i != best_i && *h == top && m.rank() > best_markers.rank() && pids != best_pids {
            notes.push(format!(
                "log_line_prefix read as {:?}, not {:?}: the session markers (BEGIN and COMMIT/ROLLBACK in one session, connection lines, %c, %v) agree {} and disagree {} times with the former's process ids, {} and {} times with the latter's",
                best_prefix.text(),
                q.text(),
                best_markers.agree,
                best_markers.disagree,
                m.agree,
                m.disagree
            ));
        }
    }
    let markers_best = best_markers;
    let mut kept: Vec<_> = kept
        .into_iter()
        .zip(markers)
        .filter(|(k, m)| k.0 != top || m.rank() == markers_best.rank())
        .map(|(k, _)| k)
        .collect();
    let best_i = kept.iter().position(|k| k.0 == top).unwrap_or(0);
    let (hit, best, best_pids) = kept.swap_remove(best_i);
    if best_markers.disagree >= 2 && best_markers.disagree > best_markers.agree {
        notes.push(format!(
            "log_line_prefix inferred as {:?}, but the session markers disagree with its process ids {} times and agree {} times: sessions may be wrong; give --log-line-prefix",
            best.text(),
            best_markers.disagree,
            best_markers.agree
        ));
    }
    if let Some((_, r)) = rejected.iter().filter(|r| r.0 >= hit).max_by_key(|r| r.0) {
        notes.push(format!(
            "log_line_prefix read as {:?}, not {:?}: in the latter the process id goes up by one line after line (a line number, %l)",
            best.text(),
            r.text()
        ));
    }
    // A tie with a reading that gives other pids is an ambiguity to report.
    if let Some((_, other, _)) = kept
        .iter()
        .find(|(h, q, pids)| *h == hit && q.has(Escape::Pid) && *pids != best_pids)
    {
        notes.push(format!(
            "log_line_prefix is ambiguous: {:?} and {:?} both fit but read different process ids; read as the first (give --log-line-prefix to choose)",
            best.text(),
            other.text()
        ));
    }
    let note = (!notes.is_empty()).then(|| notes.join("; "));
    (Some((hit, best)), note)
}

fn session_warning(p: &LinePrefix) -> Option<String> {
    (!p.has(Escape::Pid) && !p.has(Escape::SessionId)).then(|| {
        format!(
            "log_line_prefix {:?} has no %p or %c: follow-up lines and transactions cannot be tied to their session (add %p)",
            p.text()
        )
    })
}

/// What another tool's log looks like, by its head lines: most of them must fit.
fn other_log(sample: &[u8]) -> Option<&'static str> {
    let kinds: [(&str, &str); 4] = [
        (
            "a PgBouncer log",
            r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d(\.\d+)? \S+ \[\d+\] (LOG|WARNING|ERROR|FATAL|NOISE|DEBUG) ([CS]-0x[0-9a-f]+: |stats: |kernel file descriptor|listening on|process up|Stats: |using unix|safe_accept|server login|tls:|C-0x|S-0x|got SIGTERM|got SIGINT|shutting down|PgBouncer|pgbouncer)",
        ),
        (
            "a Heroku logplex stream (app[…]/heroku[…] lines)",
            r"^(<\d+>\d+ )?\d{4}-\d\d-\d\dT\S+ (\S+ )?(app|heroku)\[[^\]]+\]:? ",
        ),
        (
            "an Amazon Redshift audit log",
            r"^('\d{4}-\d\d-\d\dT\S+ UTC \[ db=|(authenticated|initiating session|disconnecting session|set application_name) *\|)",
        ),
        (
            "a Redshift/ODBC-style connection log",
            r"^\w[\w ]*\|[A-Z][a-z]{2}, \d\d [A-Z][a-z]{2} \d{4} ",
        ),
    ];
    let lines: Vec<String> = head_lines(sample)
        .map(|(_, l)| String::from_utf8_lossy(l).into_owned())
        .take(200)
        .collect();
    if lines.is_empty() {
        return None;
    }
    for (what, re) in kinds {
        let Ok(re) = Regex::new(re) else { continue };
        let hits = lines.iter().filter(|l| re.is_match(l)).count();
        if hits * 2 > lines.len() {
            return Some(what);
        }
    }
    None
}

/// What a line's pre-severity part seems to hold or lack.
fn describe_line(line: &[u8]) -> String {
    let Some(pos) = severity_pos(line) else {
        return "no severity word (LOG:, ERROR:, …) found: is this a PostgreSQL log, with English lc_messages?".into();
    };
    let head = line.get(..pos).unwrap_or(line);
    let mut missing = Vec::new();
    let has_ts = (0..head.len().saturating_sub(18))
        .filter_map(|i| head.get(i..))
        .any(|from| crate::logs::time::parse_civil(from).is_some());
    if !has_ts {
        missing.push("a timestamp (%m, %t or %n): events cannot be placed in time");
    }
    let has_pid = Regex::new(r"\[\d+\]|\b\d{2,7}\b")
        .map(|re| re.is_match(&String::from_utf8_lossy(head)))
        .unwrap_or(false);
    if !has_pid {
        missing.push("a process id (%p): DETAIL/STATEMENT lines and transactions cannot be tied to their session");
    }
    if missing.is_empty() {
        "its prefix has a timestamp and a process id but in an unknown layout".into()
    } else {
        format!("the prefix seems to lack {}", missing.join(", and "))
    }
}

/// Which escapes of the given prefix the line seems not to carry.
fn missing_escapes(line: &[u8], p: &LinePrefix) -> String {
    let described = describe_line(line);
    let mut checks = Vec::new();
    for e in p.escapes() {
        let needs = match e {
            Escape::Time | Escape::TimeMs | Escape::SessionStart => described.contains("timestamp"),
            Escape::Pid => described.contains("process id"),
            _ => false,
        };
        if needs {
            checks.push(format!("%{}", e.letter()));
        }
    }
    if checks.is_empty() {
        format!("{described}; check the prefix against SHOW log_line_prefix")
    } else {
        format!(
            "the line seems to lack {} of the prefix ({described})",
            checks.join(" ")
        )
    }
}

/// Builds a prefix from a session line's pre-severity text: timestamp, `[pid]`, `user@db`,
/// `key=value` pairs. A guess, kept only if it then matches most lines.
/// `pid_slot`: which bracketed number is read as the pid (0: the first); the others are `%l`.
fn build_prefix(sample: &[u8], leading: bool, pid_slot: usize) -> Option<String> {
    let (_, line) = head_lines(sample)
        .map(|(n, l)| (n, strip_leading_timestamp(l, leading)))
        .filter(|(_, l)| has_severity(l))
        .max_by_key(|(_, l)| severity_pos(l).unwrap_or(0))?;
    let head = String::from_utf8_lossy(line.get(..severity_pos(line)?)?).into_owned();
    let ts = Regex::new(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d(\.\d+)?( [A-Za-z+\-][A-Za-z0-9+\-:]*)?")
        .ok()?;
    let mut out = String::new();
    let mut rest = head.as_str();
    if let Some(m) = ts.find(rest) {
        out.push_str(if m.as_str().contains('.') { "%m" } else { "%t" });
        // The pattern is anchored: the match is where `rest` starts.
        rest = rest.strip_prefix(m.as_str())?;
    }
    let token = Regex::new(
        r"^(?:\[(\d+)\]|\[(\d+)-(\d+)\]|(user|db|database|app|application|client|host|remote)=([^,\s]*)|([^\s@:,]+)@([^\s:,]+)|(\d+))",
    )
    .ok()?;
    let mut session_started = false;
    let mut pid_seen = false;
    let mut brackets = 0;
    while !rest.is_empty() {
        if let Some(c) = token.captures(rest) {
            let whole = c.get(0)?.as_str();
            // One pid per line: a second bracketed number after it is `%l` (`[%l-1]`).
            let piece = if c.get(1).is_some() {
                brackets += 1;
                if brackets - 1 == pid_slot && !pid_seen {
                    pid_seen = true;
                    "[%p]".to_string()
                } else {
                    "[%l]".to_string()
                }
            } else if let (Some(_), Some(m)) = (c.get(2), c.get(3))
                && pid_seen
            {
                format!("[%l-{}]", m.as_str())
            } else if c.get(2).is_some() {
                pid_seen = true;
                "[%p-%l]".to_string()
            } else if let Some(k) = c.get(4) {
                let esc = match k.as_str() {
                    "user" => "%u",
                    "db" | "database" => "%d",
                    "app" | "application" => "%a",
                    _ => "%h",
                };
                let q = if session_started { "" } else { "%q" };
                session_started = true;
                format!("{q}{}={esc}", k.as_str())
            } else if c.get(6).is_some() {
                let q = if session_started { "" } else { "%q" };
                session_started = true;
                format!("{q}%u@%d")
            } else if pid_seen {
                "%l".to_string()
            } else {
                pid_seen = true;
                "%p".to_string()
            };
            out.push_str(&piece);
            // Anchored too.
            rest = rest.strip_prefix(whole)?;
        } else {
            let mut chars = rest.chars();
            let ch = chars.next()?;
            if ch == '%' {
                out.push_str("%%");
            } else {
                out.push(ch);
            }
            rest = chars.as_str();
        }
    }
    (pid_slot == 0 || (brackets > pid_slot && pid_seen)).then_some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// One session of `%m [%p]: [%l-1] `: the line number must not be taken for the pid.
    fn one_session() -> String {
        (1..=8)
            .map(|l| {
                format!(
                    "2026-11-23 12:00:0{} UTC [4242]: [{l}-1] LOG:  statement: SELECT {l}\n",
                    l % 10
                )
            })
            .collect()
    }

    #[test]
    fn a_pid_that_counts_lines_is_rejected_and_said() {
        let sample = one_session();
        let right = LinePrefix::compile("%m [%p]: [%l-1] ").unwrap();
        // `[%p-%l]` second: the pid it keeps is the line number.
        let wrong = LinePrefix::compile("%m [%l]: [%p-1] ").unwrap();
        assert!(
            wrong
                .matches(sample.lines().next().unwrap().as_bytes())
                .is_some()
        );
        let (best, note) = choose_prefix(
            vec![(8, wrong.clone()), (8, right.clone())],
            sample.as_bytes(),
            false,
        );
        assert_eq!(best.unwrap().1.text(), right.text());
        let note = note.expect("the rejection is said");
        assert!(
            note.contains(wrong.text()) && note.contains(right.text()),
            "{note}"
        );
        // Only the wrong reading fits: kept, but its doubt is said.
        let (best, note) = choose_prefix(vec![(8, wrong.clone())], sample.as_bytes(), false);
        assert_eq!(best.unwrap().1.text(), wrong.text());
        assert!(note.unwrap().contains("line number"));
    }

    #[test]
    fn other_tools_logs_are_named() {
        let pgbouncer = "2026-11-23 12:00:00.123 UTC [811] LOG kernel file descriptor limit: 1024 (hard: 524288); max_client_conn: 100, max expected fd use: 112\n\
            2026-11-23 12:00:00.124 UTC [811] LOG listening on 127.0.0.1:6432\n\
            2026-11-23 12:00:05.001 UTC [811] LOG C-0x55d5c8a1b2c0: shop/app@127.0.0.1:41234 login attempt: db=shop user=app tls=no\n\
            2026-11-23 12:01:00.000 UTC [811] LOG stats: 0 xacts/s, 0 queries/s, in 0 B/s, out 0 B/s, xact 0 us, query 0 us, wait 0 us\n";
        let heroku = "2026-11-23T12:00:00.000000+00:00 app[postgres.1234]: [DATABASE] [9-1] sql_error_code = 00000 LOG:  checkpoint starting\n\
            2026-11-23T12:00:01.000000+00:00 heroku[router]: at=info method=GET path=\"/\" status=200\n";
        let redshift = "'2026-11-23T12:00:00Z UTC [ db=dev user=rdsdb pid=1234 userid=1 xid=5678 ]' LOG: select 1\n\
            '2026-11-23T12:00:01Z UTC [ db=dev user=app pid=1235 userid=100 xid=5679 ]' LOG: delete from t\n";
        for (text, what) in [
            (pgbouncer, "PgBouncer"),
            (heroku, "Heroku"),
            (redshift, "Redshift"),
        ] {
            let err = detect(text.as_bytes(), "f.log", None, None)
                .err()
                .unwrap_or_else(|| panic!("{what} read as a server log"))
                .to_string();
            assert!(
                err.contains(what) && err.contains("not a PostgreSQL server log"),
                "{err}"
            );
        }
    }

    #[test]
    fn sessions_taking_turns_with_consecutive_pids_are_not_a_counter() {
        let pids: Vec<Option<i64>> = (0..40).map(|i| Some(100 + i % 3)).collect();
        assert!(!pid_looks_like_a_counter(&pids));
        let counter: Vec<Option<i64>> = (1..=40).map(Some).collect();
        assert!(pid_looks_like_a_counter(&counter));
    }

    #[test]
    fn a_pid_at_the_top_of_i64_is_read_without_overflow() {
        // The counter check computed `pid + 1` for each pid: `i64::MAX + 1` panicked in a debug
        // build (and wrapped in release, taking MAX then MIN for a step of one).
        let log: String = (0..8)
            .map(|i| {
                let pid = if i % 2 == 0 { i64::MAX } else { 4242 };
                format!("2026-11-23 12:00:0{i} UTC [{pid}] LOG:  statement: SELECT 1\n")
            })
            .collect();
        let d = detect(log.as_bytes(), "f.log", None, None).unwrap();
        assert!(d.prefix.is_some_and(|p| p.has(Escape::Pid)));
        let wrapping = [
            Some(i64::MAX),
            Some(i64::MIN),
            Some(i64::MAX),
            Some(i64::MIN),
            Some(7),
        ];
        assert!(!pid_looks_like_a_counter(&wrapping));
    }

    #[test]
    fn two_readings_with_different_pids_are_reported_as_ambiguous() {
        let sample = "2026-11-23 12:00:00 UTC 11 22 LOG:  a\n2026-11-23 12:00:01 UTC 11 23 LOG:  b\n\
                      2026-11-23 12:00:02 UTC 12 22 LOG:  c\n2026-11-23 12:00:03 UTC 12 22 LOG:  d\n";
        let a = LinePrefix::compile("%t %p %l ").unwrap();
        let b = LinePrefix::compile("%t %l %p ").unwrap();
        let (best, note) = choose_prefix(
            vec![(4, a.clone()), (4, b.clone())],
            sample.as_bytes(),
            false,
        );
        assert_eq!(best.unwrap().1.text(), a.text());
        let note = note.expect("ambiguity said");
        assert!(
            note.contains("ambiguous") && note.contains(b.text()),
            "{note}"
        );
    }

    #[test]
    fn built_prefix_reads_the_second_bracket_as_the_line_number() {
        let built = build_prefix(one_session().as_bytes(), false, 0).unwrap();
        assert_eq!(built, "%t [%p]: [%l-1] ");
    }

    const HARNESS: &str = "2026-11-23 12:09:26.463 UTC [23485] postgres@s01 LOG:  statement: DELETE FROM t;\n\
        2026-11-23 12:10:29.615 UTC [26400] LOG:  automatic vacuum of table \"a.b.c\": index scans: 1\n\
        \tpages: 1 removed\n";

    #[test]
    fn infers_known_and_built_prefixes() {
        let d = detect(HARNESS.as_bytes(), "f", None, None).unwrap();
        assert_eq!(d.format, LogFormat::Stderr);
        assert_eq!(d.prefix.unwrap().text(), "%m [%p] %q%u@%d ");
        let odd = "2026-11-23 12:09:26 UTC <4242> app=shop user=bob LOG:  statement: SELECT 1\n\
                   2026-11-23 12:09:27 UTC <4243> app=shop user=bob LOG:  statement: SELECT 2\n";
        let d = detect(odd.as_bytes(), "f", None, None).unwrap();
        let p = d.prefix.unwrap();
        assert!(
            p.matches(b"2026-11-23 12:09:26 UTC <4242> app=shop user=bob LOG:  x")
                .is_some(),
            "{}",
            p.text()
        );
        let rds =
            "2026-11-23 12:09:26 UTC:10.0.0.1(5432):app@prod:[77]:LOG:  statement: SELECT 1\n";
        assert_eq!(
            detect(rds.as_bytes(), "f", None, None).unwrap().format,
            LogFormat::Rds
        );
        let cw = "2026-11-23T12:09:26.000Z 2026-11-23 12:09:26 UTC:10.0.0.1(5432):app@prod:[77]:LOG:  statement: SELECT 1\n";
        let d = detect(cw.as_bytes(), "f", None, None).unwrap();
        assert!(d.leading_timestamp);
    }

    #[test]
    fn failure_names_the_line_and_missing_escapes() {
        let no_pid = "LOG:  statement: SELECT 1\nLOG:  statement: SELECT 2\n";
        let p = detect(no_pid.as_bytes(), "app.log", None, None);
        // An empty-prefix log is not a known stderr layout: the error says what is missing.
        let err = p.err().map(|e| e.message().to_string()).unwrap_or_default();
        assert!(
            err.contains("app.log: cannot infer the log_line_prefix: line 1"),
            "{err}"
        );
        assert!(err.contains("timestamp"), "{err}");
        assert!(err.contains("process id"), "{err}");
        let err = detect(HARNESS.as_bytes(), "f", None, Some("%t [%p]: [%l-1] "))
            .err()
            .map(|e| e.message().to_string())
            .unwrap_or_default();
        assert!(
            err.contains("line 1 does not start with log_line_prefix"),
            "{err}"
        );
    }

    #[test]
    fn sniffs_formats() {
        assert_eq!(
            sniff_format(b"{\"timestamp\":\"2026-11-23 12:00:00.000 UTC\",\"message\":\"x\"}"),
            LogFormat::Jsonlog
        );
        assert_eq!(
            sniff_format(b"{\"textPayload\":\"x\",\"logName\":\"y\"}"),
            LogFormat::CloudSql
        );
        assert_eq!(
            sniff_format(b"2026-11-23 12:09:26.463 UTC,\"postgres\",\"s01\",23485,\"[local]\",655f3a1b.5bbd,1,\"idle\",2026-11-23 12:09:26 UTC,3/2,0,LOG,00000,\"statement: SELECT 1\",,,,,,,,,\"psql\",\"client backend\",,0"),
            LogFormat::Csvlog
        );
        assert_eq!(
            sniff_format(b"Nov 23 12:09:26 db1 postgres[123]: [5-1] LOG:  statement: SELECT 1"),
            LogFormat::Syslog
        );
        assert_eq!(
            sniff_format(b"<134>1 2026-11-23T12:09:26.463+00:00 db1 postgres[123]: [5-1] LOG:  x"),
            LogFormat::Syslog
        );
    }
}
