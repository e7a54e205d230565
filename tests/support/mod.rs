//! A real, throwaway PostgreSQL for the tests: no mock anywhere.
//!
//! `PgCluster::shared()` gives every test in one test binary the same cluster (each test makes
//! its own database with `fresh_database`), started on first use and stopped when the last test
//! holding it is done. `PgCluster::start(ClusterOptions)` gives a private one for tests that
//! crash, restore or reconfigure a server. Either way: a temp data dir, a free port, the socket in
//! the temp dir, logging switched on the way a forensic user would (stderr + csvlog + jsonlog,
//! `log_statement=all`), and a watchdog process that stops the server and removes the directory
//! even if the test process dies, so no stray server is ever left behind.
#![allow(dead_code)]

pub mod printed;

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::time::{Duration, Instant};

/// The password of the superuser `postgres` over TCP (the socket trusts).
pub const SUPERUSER_PASSWORD: &str = "triage-secret-pw";

#[derive(Debug, Clone)]
pub struct ClusterOptions {
    /// Extra `postgresql.conf` lines, appended after the forensic defaults.
    pub extra_conf: Vec<String>,
    /// Turn WAL archiving on into `<dir>/archive` (for PITR tests).
    pub archive: bool,
}

impl Default for ClusterOptions {
    fn default() -> Self {
        ClusterOptions {
            extra_conf: Vec::new(),
            archive: true,
        }
    }
}

pub struct PgCluster {
    pub bindir: PathBuf,
    /// Temp directory holding `data/`, the socket, and `archive/`.
    pub dir: PathBuf,
    pub data: PathBuf,
    pub port: u16,
    /// The process whose exit the watchdog waits for (kept to kill it when we stop cleanly).
    watchdog: Option<std::process::Child>,
    stopped: bool,
}

static SHARED: Mutex<Weak<PgCluster>> = Mutex::new(Weak::new());
static DB_COUNTER: AtomicU32 = AtomicU32::new(0);

fn running_as_root() -> bool {
    // SAFETY-free check: `id -u` avoids a libc dependency in tests.
    Command::new("id")
        .arg("-u")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
        .unwrap_or(false)
}

/// initdb/pg_ctl refuse to run as root: run them as `postgres` then.
fn as_server_user(program: &Path) -> Command {
    if running_as_root() {
        let mut c = Command::new("runuser");
        c.args(["-u", "postgres", "--"]).arg(program);
        c
    } else {
        Command::new(program)
    }
}

/// Finds the server binaries: `PGTRIAGE_PG_BINDIR`, `pg_config --bindir`, `PATH`, then the
/// highest `/usr/lib/postgresql/*/bin`.
pub fn find_bindir() -> PathBuf {
    if let Ok(dir) = std::env::var("PGTRIAGE_PG_BINDIR") {
        return PathBuf::from(dir);
    }
    if let Ok(out) = Command::new("pg_config").arg("--bindir").output() {
        let dir = PathBuf::from(String::from_utf8_lossy(&out.stdout).trim());
        if dir.join("initdb").exists() {
            return dir;
        }
    }
    if let Some(path) = std::env::var_os("PATH") {
        for dir in std::env::split_paths(&path) {
            if dir.join("initdb").exists() && dir.join("pg_ctl").exists() {
                return dir;
            }
        }
    }
    let mut candidates: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| {
            let v = e.file_name().to_string_lossy().parse::<u32>().ok()?;
            let bin = e.path().join("bin");
            bin.join("initdb").exists().then_some((v, bin))
        })
        .collect();
    candidates.sort();
    match candidates.pop() {
        Some((_, bin)) => bin,
        None => panic!(
            "no PostgreSQL server binaries found (initdb, pg_ctl): install postgresql (12-17) \
             or set PGTRIAGE_PG_BINDIR"
        ),
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("no free TCP port on 127.0.0.1")
}

fn check(output: std::io::Result<Output>, what: &str) -> Output {
    let out = output.unwrap_or_else(|e| panic!("{what}: cannot run: {e}"));
    if !out.status.success() {
        panic!(
            "{what} failed ({}):\n{}\n{}",
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    out
}

impl PgCluster {
    /// The cluster shared by the tests of this test binary.
    pub fn shared() -> Arc<PgCluster> {
        let mut slot = SHARED.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(c) = slot.upgrade() {
            return c;
        }
        let c = Arc::new(PgCluster::start(ClusterOptions::default()));
        *slot = Arc::downgrade(&c);
        c
    }

    /// A private cluster.
    pub fn start(options: ClusterOptions) -> PgCluster {
        PgCluster::start_with_bindir(options, find_bindir())
    }

    /// A private cluster run by the server binaries in `bindir` (another major version, say:
    /// see `matrix_bindirs`). Log destinations a version lacks (jsonlog before 15) are left out.
    pub fn start_with_bindir(options: ClusterOptions, bindir: PathBuf) -> PgCluster {
        let dir = tempfile::Builder::new()
            .prefix("pgtriage-test-")
            .tempdir_in(std::env::temp_dir())
            .expect("temp dir")
            .keep();
        let data = dir.join("data");
        std::fs::create_dir_all(dir.join("archive")).expect("archive dir");
        if running_as_root() {
            check(
                Command::new("chown")
                    .args(["-R", "postgres:postgres"])
                    .arg(&dir)
                    .output(),
                "chown test dir to postgres",
            );
            check(
                Command::new("chmod").arg("0755").arg(&dir).output(),
                "chmod test dir",
            );
        }
        let pwfile = dir.join("pwfile");
        std::fs::write(&pwfile, SUPERUSER_PASSWORD).expect("pwfile");
        if running_as_root() {
            let _ = Command::new("chown")
                .args(["postgres:postgres"])
                .arg(&pwfile)
                .output();
        }
        check(
            as_server_user(&bindir.join("initdb"))
                .arg("-D")
                .arg(&data)
                .args([
                    "-U",
                    "postgres",
                    "--auth-local=trust",
                    "--auth-host=scram-sha-256",
                    "--encoding=UTF8",
                    "--locale=C",
                    "--no-sync",
                ])
                .arg(format!("--pwfile={}", pwfile.display()))
                .output(),
            "initdb",
        );
        let mut conf = vec![
            "listen_addresses = '127.0.0.1'".to_string(),
            format!("unix_socket_directories = '{}'", dir.display()),
            "fsync = off".into(),
            "synchronous_commit = off".into(),
            "full_page_writes = off".into(),
            "shared_buffers = '32MB'".into(),
            "max_connections = 60".into(),
            "logging_collector = on".into(),
            if server_major(&bindir) >= 15 {
                "log_destination = 'stderr,csvlog,jsonlog'".into()
            } else {
                "log_destination = 'stderr,csvlog'".into()
            },
            "log_directory = 'log'".into(),
            "log_filename = 'postgresql.log'".into(),
            "log_rotation_age = 0".into(),
            "log_rotation_size = 0".into(),
            "log_statement = 'all'".into(),
            "log_line_prefix = '%m [%p] %q%u@%d '".into(),
            "log_connections = on".into(),
            "log_disconnections = on".into(),
            "log_checkpoints = on".into(),
            "log_autovacuum_min_duration = 0".into(),
            "log_timezone = 'UTC'".into(),
            "timezone = 'UTC'".into(),
            "track_commit_timestamp = on".into(),
            "wal_level = replica".into(),
        ];
        if options.archive {
            let archive = dir.join("archive");
            conf.push("archive_mode = on".into());
            conf.push(format!(
                "archive_command = 'test ! -f {a}/%f && cp %p {a}/%f'",
                a = archive.display()
            ));
        }
        conf.extend(options.extra_conf.iter().cloned());
        let conf_path = data.join("postgresql.conf");
        let mut text = std::fs::read_to_string(&conf_path).expect("postgresql.conf");
        text.push_str("\n# pgtriage test harness\n");
        for line in &conf {
            text.push_str(line);
            text.push('\n');
        }
        std::fs::write(&conf_path, text).expect("write postgresql.conf");

        let mut cluster = PgCluster {
            bindir,
            dir,
            data,
            port: 0,
            watchdog: None,
            stopped: false,
        };
        cluster.start_server();
        cluster.spawn_watchdog();
        cluster
    }

    /// Starts (or restarts) the server on a fresh free port, retrying if another process took it.
    pub fn start_server(&mut self) {
        let mut last_err = String::new();
        for _ in 0..5 {
            let port = if self.port == 0 {
                free_port()
            } else {
                self.port
            };
            let out = as_server_user(&self.bindir.join("pg_ctl"))
                .arg("-D")
                .arg(&self.data)
                .args(["-w", "-t", "60", "-l"])
                .arg(self.dir.join("startup.log"))
                .arg("-o")
                .arg(format!("-p {port}"))
                .arg("start")
                .stdin(Stdio::null())
                .output()
                .expect("pg_ctl start");
            if out.status.success() {
                self.port = port;
                self.stopped = false;
                return;
            }
            last_err = format!(
                "{}{}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr),
                std::fs::read_to_string(self.dir.join("startup.log")).unwrap_or_default()
            );
            self.port = 0;
        }
        panic!("pg_ctl start failed 5 times: {last_err}");
    }

    /// `pg_ctl stop -m MODE` (`fast`, `smart`, or `immediate` to simulate a crash).
    pub fn stop_server(&mut self, mode: &str) {
        let _ = as_server_user(&self.bindir.join("pg_ctl"))
            .arg("-D")
            .arg(&self.data)
            .args(["-w", "-t", "60", "-m", mode, "stop"])
            .stdin(Stdio::null())
            .output();
        self.stopped = true;
    }

    /// A background shell that waits for this test process to exit, however it exits, then
    /// stops the server and removes the directory.
    fn spawn_watchdog(&mut self) {
        let script = format!(
            "while kill -0 {pid} 2>/dev/null; do sleep 1; done; \
             {ctl} -D '{data}' -m immediate stop >/dev/null 2>&1; rm -rf '{dir}'",
            pid = std::process::id(),
            ctl = self.bindir.join("pg_ctl").display(),
            data = self.data.display(),
            dir = self.dir.display(),
        );
        let mut cmd = if running_as_root() {
            // pg_ctl must run as postgres; rm needs root for files we created: do both.
            let mut c = Command::new("sh");
            c.arg("-c").arg(format!(
                "while kill -0 {pid} 2>/dev/null; do sleep 1; done; \
                 runuser -u postgres -- {ctl} -D '{data}' -m immediate stop >/dev/null 2>&1; rm -rf '{dir}'",
                pid = std::process::id(),
                ctl = self.bindir.join("pg_ctl").display(),
                data = self.data.display(),
                dir = self.dir.display(),
            ));
            c
        } else {
            let mut c = Command::new("sh");
            c.arg("-c").arg(script);
            c
        };
        cmd.stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        self.watchdog = cmd.spawn().ok();
    }

    /// A URL over the unix socket (trust), as the superuser.
    pub fn url(&self, database: &str) -> String {
        format!(
            "postgres:///{database}?host={}&port={}&user=postgres",
            self.dir.display(),
            self.port
        )
    }

    /// A URL over TCP with a password.
    pub fn tcp_url(&self, database: &str, user: &str, password: &str) -> String {
        format!(
            "postgres://{user}:{password}@127.0.0.1:{}/{database}",
            self.port
        )
    }

    pub fn socket_dir(&self) -> &Path {
        &self.dir
    }

    /// Where the server writes `postgresql.log`, `postgresql.csv` and `postgresql.json`.
    pub fn log_dir(&self) -> PathBuf {
        self.data.join("log")
    }

    pub fn archive_dir(&self) -> PathBuf {
        self.dir.join("archive")
    }

    /// A new empty database with a name unique to this test process.
    pub fn fresh_database(&self, hint: &str) -> String {
        let n = DB_COUNTER.fetch_add(1, Ordering::SeqCst);
        let clean: String = hint
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() {
                    c.to_ascii_lowercase()
                } else {
                    '_'
                }
            })
            .take(40)
            .collect();
        let name = format!("t_{clean}_{}_{n}", std::process::id());
        self.psql("postgres", &format!("CREATE DATABASE {name}"));
        name
    }

    fn psql_command(&self, database: &str) -> Command {
        let mut c = Command::new(client_tool(&self.bindir, "psql"));
        c.arg("-X")
            .args(["-q", "-v", "ON_ERROR_STOP=1", "-A", "-t"])
            .arg("-h")
            .arg(&self.dir)
            .arg("-p")
            .arg(self.port.to_string())
            .args(["-U", "postgres", "-d", database])
            .env_remove("PGPASSWORD")
            .env("PGAPPNAME", "psql")
            .stdin(Stdio::null());
        c
    }

    /// Runs SQL with psql (one session); panics on error. Returns stdout (unaligned, tuples only).
    pub fn psql(&self, database: &str, sql: &str) -> String {
        let out = check(
            self.psql_command(database).arg("-c").arg(sql).output(),
            &format!("psql {database}: {sql}"),
        );
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    }

    /// Runs a whole script in one psql session (BEGIN/ROLLBACK keep their meaning); panics on error
    /// unless `allow_errors`, in which case psql carries on after an error as a user's would.
    pub fn psql_script(&self, database: &str, script: &str, allow_errors: bool) -> Output {
        let path = self.dir.join(format!(
            "script-{}.sql",
            DB_COUNTER.fetch_add(1, Ordering::SeqCst)
        ));
        std::fs::write(&path, script).expect("write script");
        let mut c = self.psql_command(database);
        if allow_errors {
            c.args(["-v", "ON_ERROR_STOP=0"]);
        }
        c.arg("-f").arg(&path);
        let out = c.output().expect("psql -f");
        if !allow_errors && !out.status.success() {
            panic!(
                "psql script failed: {}\n{}",
                String::from_utf8_lossy(&out.stderr),
                script
            );
        }
        out
    }

    /// Makes the statistics of the work done so far visible to other sessions
    /// (pgstat flushes at most once a second otherwise).
    pub fn flush_stats(&self, database: &str) {
        // pg_stat_force_next_flush() exists from 15; on older servers wait for the flush interval.
        let _ = self
            .psql_command(database)
            .arg("-c")
            .arg("SELECT pg_stat_force_next_flush()")
            .output();
        std::thread::sleep(Duration::from_millis(1200));
    }

    /// Waits until `predicate` holds for the server log text (stderr format), up to `timeout`.
    pub fn wait_for_log(&self, predicate: impl Fn(&str) -> bool, timeout: Duration) -> String {
        let start = Instant::now();
        loop {
            let text =
                std::fs::read_to_string(self.log_dir().join("postgresql.log")).unwrap_or_default();
            if predicate(&text) || start.elapsed() > timeout {
                return text;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// The server's major version number (e.g. 15).
    pub fn major_version(&self) -> u32 {
        self.psql("postgres", "SHOW server_version_num")
            .parse::<u32>()
            .map(|n| n / 10000)
            .unwrap_or(0)
    }

    /// Takes a base backup of this cluster (`pg_basebackup -X stream -c fast`, plain format)
    /// into a new directory under this cluster's temp dir and returns its path.
    pub fn base_backup(&self) -> PathBuf {
        let target = self.dir.join(format!(
            "base-{}",
            DB_COUNTER.fetch_add(1, Ordering::SeqCst)
        ));
        check(
            self.server_tool("pg_basebackup")
                .arg("-h")
                .arg(&self.dir)
                .arg("-p")
                .arg(self.port.to_string())
                .args([
                    "-U",
                    "postgres",
                    "-X",
                    "stream",
                    "-c",
                    "fast",
                    "--no-sync",
                    "-D",
                ])
                .arg(&target)
                .stdin(Stdio::null())
                .output(),
            "pg_basebackup",
        );
        target
    }

    /// A private cluster started from a copy of `base_backup` (see `base_backup`): its own temp
    /// dir, socket and port, archiving off (so it never writes into the source's archive), the
    /// `extra_conf` lines appended (restore_command, recovery_target_time, …), and
    /// `recovery.signal` when `recovery` is true. Stopped and removed like any private cluster.
    /// With a recovery target and the default action `pause`, the server may still be in
    /// recovery when this returns: poll `pg_is_in_recovery()`.
    pub fn start_from_base_backup(
        base_backup: &Path,
        extra_conf: &[String],
        recovery: bool,
    ) -> PgCluster {
        let bindir = find_bindir();
        let dir = tempfile::Builder::new()
            .prefix("pgtriage-test-")
            .tempdir_in(std::env::temp_dir())
            .expect("temp dir")
            .keep();
        let data = dir.join("data");
        check(
            Command::new("cp")
                .arg("-a")
                .arg(base_backup)
                .arg(&data)
                .output(),
            "copy the base backup",
        );
        std::fs::create_dir_all(dir.join("archive")).expect("archive dir");
        let conf_path = data.join("postgresql.conf");
        let mut text = std::fs::read_to_string(&conf_path).expect("postgresql.conf");
        text.push_str("\n# pgtriage test harness: restored from a base backup\n");
        text.push_str(&format!("unix_socket_directories = '{}'\n", dir.display()));
        text.push_str("archive_mode = off\n");
        for line in extra_conf {
            text.push_str(line);
            text.push('\n');
        }
        std::fs::write(&conf_path, text).expect("write postgresql.conf");
        if recovery {
            std::fs::write(data.join("recovery.signal"), "").expect("recovery.signal");
        }
        if running_as_root() {
            check(
                Command::new("chown")
                    .args(["-R", "postgres:postgres"])
                    .arg(&dir)
                    .output(),
                "chown restored dir to postgres",
            );
            check(
                Command::new("chmod").arg("0755").arg(&dir).output(),
                "chmod restored dir",
            );
            check(
                Command::new("chmod").arg("0700").arg(&data).output(),
                "chmod restored data dir",
            );
        }
        let mut cluster = PgCluster {
            bindir,
            dir,
            data,
            port: 0,
            watchdog: None,
            stopped: false,
        };
        cluster.start_server();
        cluster.spawn_watchdog();
        cluster
    }

    /// Switches to a new WAL segment and waits until the archiver reports it archived, so the
    /// archive holds everything written so far (`archive_command` has returned: the copy is whole).
    pub fn archive_everything(&self) {
        let segment = self.psql("postgres", "SELECT pg_walfile_name(pg_switch_wal())");
        let start = Instant::now();
        while self.psql(
            "postgres",
            &format!(
                "SELECT coalesce(last_archived_wal >= '{segment}', false) FROM pg_stat_archiver"
            ),
        ) != "t"
        {
            assert!(
                start.elapsed() < Duration::from_secs(60),
                "segment {segment} never reached the archive"
            );
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    /// Run a server binary (pg_dump, pg_restore, pg_basebackup, …) as the server user.
    pub fn server_tool(&self, name: &str) -> Command {
        as_server_user(&self.bindir.join(name))
    }
}

impl Drop for PgCluster {
    fn drop(&mut self) {
        if !self.stopped {
            self.stop_server("fast");
        }
        let _ = std::fs::remove_dir_all(&self.dir);
        if let Some(mut w) = self.watchdog.take() {
            let _ = w.kill();
            let _ = w.wait();
        }
    }
}

/// Runs the pgtriage binary with `args`; panics with its stderr unless it exits 0. Returns stdout.
pub fn pgtriage_stdout(args: &[&str]) -> Vec<u8> {
    let out = Command::new(assert_cmd::cargo::cargo_bin("pgtriage"))
        .args(args)
        .output()
        .expect("run pgtriage");
    assert!(
        out.status.success(),
        "pgtriage {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

/// A test's temp path as the `&str` a command line takes.
pub fn path_str(p: &Path) -> &str {
    p.to_str().expect("utf-8 path")
}

/// Runs `git -C repo ARGS…` for a test repository; panics with git's stderr on failure.
pub fn git(repo: &Path, args: &[&str]) {
    let out = Command::new("git")
        .arg("-C")
        .arg(repo)
        .args(args)
        .output()
        .expect("git");
    assert!(
        out.status.success(),
        "git {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The major version of the server binaries in `bindir` (`postgres --version`).
pub fn server_major(bindir: &Path) -> u32 {
    Command::new(bindir.join("postgres"))
        .arg("--version")
        .output()
        .ok()
        .and_then(|o| {
            let text = String::from_utf8_lossy(&o.stdout).to_string();
            let version = text.split_whitespace().last()?.to_string();
            version.split('.').next()?.parse().ok()
        })
        .unwrap_or(0)
}

/// A client program (`psql`, `pg_dump`): from `bindir` when it has one, else from the
/// distribution's PostgreSQL (the npm server packages of other versions carry no client tools).
pub fn client_tool(bindir: &Path, name: &str) -> PathBuf {
    if bindir.join(name).exists() {
        return bindir.join(name);
    }
    let mut candidates: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| {
            let v = e.file_name().to_string_lossy().parse::<u32>().ok()?;
            let p = e.path().join("bin").join(name);
            p.exists().then_some((v, p))
        })
        .collect();
    candidates.sort();
    candidates
        .pop()
        .map(|(_, p)| p)
        .unwrap_or_else(|| PathBuf::from(name))
}

/// Where `scripts/fetch-pg-versions.sh` unpacks the server packages.
pub fn pg_versions_cache() -> PathBuf {
    match std::env::var_os("PGTRIAGE_PG_CACHE") {
        Some(d) => PathBuf::from(d),
        None => PathBuf::from("/var/cache/pgtriage/pg-versions"),
    }
}

/// The server binary directories of the version matrix: `PGTRIAGE_PG_VERSIONS=12,13,…` (the
/// majors, looked up in the fetch script's cache) or every major found there. A major asked for
/// but missing is a panic naming the fetch script, so CI cannot skip it silently.
pub fn matrix_bindirs() -> Vec<(u32, PathBuf)> {
    let cache = pg_versions_cache();
    let found: Vec<(u32, PathBuf)> = {
        let mut v: Vec<(u32, PathBuf)> = std::fs::read_dir(&cache)
            .into_iter()
            .flatten()
            .flatten()
            .filter_map(|e| {
                let major = e.file_name().to_string_lossy().parse::<u32>().ok()?;
                let bin = e.path().join("bin");
                bin.join("initdb").exists().then_some((major, bin))
            })
            .collect();
        v.sort();
        v
    };
    match std::env::var("PGTRIAGE_PG_VERSIONS") {
        Ok(list) if !list.trim().is_empty() => list
            .split(',')
            .map(|m| m.trim())
            .filter(|m| !m.is_empty())
            .map(|m| {
                let major: u32 = m
                    .parse()
                    .unwrap_or_else(|_| panic!("PGTRIAGE_PG_VERSIONS: `{m}` is not a major version"));
                if let Some((_, bin)) = found.iter().find(|(v, _)| *v == major) {
                    return (major, bin.clone());
                }
                let debian = PathBuf::from(format!("/usr/lib/postgresql/{major}/bin"));
                if debian.join("initdb").exists() {
                    return (major, debian);
                }
                panic!(
                    "PostgreSQL {major} is asked for in PGTRIAGE_PG_VERSIONS but not in {}: run scripts/fetch-pg-versions.sh",
                    cache.display()
                )
            })
            .collect(),
        _ => found,
    }
}

impl PgCluster {
    /// `pg_ctl reload`: re-reads postgresql.conf and pg_hba.conf.
    pub fn reload(&self) {
        check(
            as_server_user(&self.bindir.join("pg_ctl"))
                .arg("-D")
                .arg(&self.data)
                .arg("reload")
                .stdin(Stdio::null())
                .output(),
            "pg_ctl reload",
        );
        std::thread::sleep(Duration::from_millis(300));
    }

    /// Replaces pg_hba.conf and reloads.
    pub fn set_hba(&self, text: &str) {
        let path = self.data.join("pg_hba.conf");
        std::fs::write(&path, text).expect("write pg_hba.conf");
        if running_as_root() {
            let _ = Command::new("chown")
                .args(["postgres:postgres"])
                .arg(&path)
                .output();
        }
        self.reload();
    }

    /// A private cluster with TLS on (certificate and key from `ca`) whose pg_hba.conf lets TCP
    /// clients in only over TLS (`hostssl`), with scram passwords; the socket trusts.
    pub fn start_tls(ca: &TestCa) -> PgCluster {
        let cluster = PgCluster::start(ClusterOptions {
            archive: false,
            ..ClusterOptions::default()
        });
        cluster.enable_tls(ca);
        cluster
    }

    /// Turns TLS on (a reload: SSL settings are reloadable) with `ca`'s server certificate and
    /// allows TCP clients over TLS only.
    pub fn enable_tls(&self, ca: &TestCa) {
        // The server refuses a key others can read: its own copies, owned by postgres, 0600.
        let cert = self.dir.join("server.crt");
        let key = self.dir.join("server.key");
        let root = self.dir.join("root.crt");
        std::fs::copy(&ca.server_cert, &cert).expect("copy cert");
        std::fs::copy(&ca.server_key, &key).expect("copy key");
        std::fs::copy(&ca.ca_cert, &root).expect("copy ca");
        if running_as_root() {
            for f in [&cert, &key, &root] {
                let _ = Command::new("chown")
                    .arg("postgres:postgres")
                    .arg(f)
                    .output();
            }
        }
        let _ = Command::new("chmod").arg("0600").arg(&key).output();
        let conf_path = self.data.join("postgresql.conf");
        let mut text = std::fs::read_to_string(&conf_path).expect("postgresql.conf");
        text.push_str(&format!(
            "ssl = on\nssl_cert_file = '{}'\nssl_key_file = '{}'\nssl_ca_file = '{}'\n",
            cert.display(),
            key.display(),
            root.display()
        ));
        std::fs::write(&conf_path, text).expect("write postgresql.conf");
        self.set_hba(
            "local all all trust\n\
             hostssl all all 127.0.0.1/32 scram-sha-256\n\
             hostssl all all ::1/128 scram-sha-256\n",
        );
    }
}

/// A throwaway certificate authority made with the `openssl` command line: a CA, a server
/// certificate for the given names signed by it, a client certificate, and a second CA that
/// signed nothing (for "wrong CA" tests).
pub struct TestCa {
    pub dir: PathBuf,
    pub ca_cert: PathBuf,
    pub other_ca_cert: PathBuf,
    pub server_cert: PathBuf,
    pub server_key: PathBuf,
    pub client_cert: PathBuf,
    pub client_key: PathBuf,
}

fn openssl(dir: &Path, args: &[&str]) {
    check(
        Command::new("openssl")
            .current_dir(dir)
            .args(args)
            .stdin(Stdio::null())
            .output(),
        &format!("openssl {}", args.join(" ")),
    );
}

impl TestCa {
    /// `names`: the server certificate's DNS names (IP addresses go in as IP SANs).
    pub fn create(names: &[&str]) -> TestCa {
        let dir = tempfile::Builder::new()
            .prefix("pgtriage-ca-")
            .tempdir()
            .expect("temp dir")
            .keep();
        for ca in ["ca", "other-ca"] {
            openssl(
                &dir,
                &[
                    "req",
                    "-x509",
                    "-newkey",
                    "ec",
                    "-pkeyopt",
                    "ec_paramgen_curve:prime256v1",
                    "-nodes",
                    "-keyout",
                    &format!("{ca}.key"),
                    "-out",
                    &format!("{ca}.crt"),
                    "-days",
                    "30",
                    "-subj",
                    &format!("/CN=pgtriage test {ca}"),
                    "-addext",
                    "basicConstraints=critical,CA:TRUE",
                    "-addext",
                    "keyUsage=critical,keyCertSign,cRLSign",
                ],
            );
        }
        let san: Vec<String> = names
            .iter()
            .map(|n| {
                if n.parse::<std::net::IpAddr>().is_ok() {
                    format!("IP:{n}")
                } else {
                    format!("DNS:{n}")
                }
            })
            .collect();
        std::fs::write(
            dir.join("server.ext"),
            format!(
                "subjectAltName={}\nbasicConstraints=CA:FALSE\nkeyUsage=digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth\n",
                san.join(",")
            ),
        )
        .expect("ext");
        std::fs::write(
            dir.join("client.ext"),
            "basicConstraints=CA:FALSE\nkeyUsage=digitalSignature\nextendedKeyUsage=clientAuth\n",
        )
        .expect("ext");
        for (who, cn) in [
            ("server", names.first().copied().unwrap_or("localhost")),
            ("client", "postgres"),
        ] {
            openssl(
                &dir,
                &[
                    "req",
                    "-newkey",
                    "ec",
                    "-pkeyopt",
                    "ec_paramgen_curve:prime256v1",
                    "-nodes",
                    "-keyout",
                    &format!("{who}.key"),
                    "-out",
                    &format!("{who}.csr"),
                    "-subj",
                    &format!("/CN={cn}"),
                ],
            );
            openssl(
                &dir,
                &[
                    "x509",
                    "-req",
                    "-in",
                    &format!("{who}.csr"),
                    "-CA",
                    "ca.crt",
                    "-CAkey",
                    "ca.key",
                    "-CAcreateserial",
                    "-out",
                    &format!("{who}.crt"),
                    "-days",
                    "30",
                    "-extfile",
                    &format!("{who}.ext"),
                ],
            );
        }
        // rustls reads PKCS#8 and SEC1 keys alike; libpq's rule on the key's mode is tested.
        let _ = Command::new("chmod")
            .arg("0600")
            .arg(dir.join("client.key"))
            .output();
        TestCa {
            ca_cert: dir.join("ca.crt"),
            other_ca_cert: dir.join("other-ca.crt"),
            server_cert: dir.join("server.crt"),
            server_key: dir.join("server.key"),
            client_cert: dir.join("client.crt"),
            client_key: dir.join("client.key"),
            dir,
        }
    }
}

impl Drop for TestCa {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// A real PgBouncer (the distribution's `pgbouncer`, run as `postgres`) in front of `cluster`,
/// on a free port of 127.0.0.1, with scram authentication from a userlist holding the
/// superuser's password. Stopped on drop, and by a watchdog if the test process dies.
pub struct PgBouncer {
    pub port: u16,
    pub dir: PathBuf,
    child: Option<std::process::Child>,
    watchdog: Option<std::process::Child>,
}

/// The pgbouncer binary: `PGTRIAGE_PGBOUNCER`, else /usr/sbin/pgbouncer, else `PATH`.
pub fn pgbouncer_binary() -> Option<PathBuf> {
    if let Some(p) = std::env::var_os("PGTRIAGE_PGBOUNCER") {
        return Some(PathBuf::from(p));
    }
    let sbin = PathBuf::from("/usr/sbin/pgbouncer");
    if sbin.exists() {
        return Some(sbin);
    }
    std::env::var_os("PATH").and_then(|path| {
        std::env::split_paths(&path)
            .map(|d| d.join("pgbouncer"))
            .find(|p| p.exists())
    })
}

impl PgBouncer {
    /// `pool_mode`: `session`, `transaction` or `statement`.
    pub fn start(cluster: &PgCluster, pool_mode: &str) -> PgBouncer {
        let binary = pgbouncer_binary()
            .expect("pgbouncer is not installed: apt-get install pgbouncer (.ci/run does)");
        let dir = tempfile::Builder::new()
            .prefix("pgtriage-bouncer-")
            .tempdir()
            .expect("temp dir")
            .keep();
        let port = free_port();
        std::fs::write(
            dir.join("userlist.txt"),
            format!("\"postgres\" \"{SUPERUSER_PASSWORD}\"\n"),
        )
        .expect("userlist");
        let ini = format!(
            "[databases]\n* = host=127.0.0.1 port={pg}\n\n[pgbouncer]\nlisten_addr = 127.0.0.1\n\
             listen_port = {port}\nunix_socket_dir =\nauth_type = scram-sha-256\n\
             auth_file = {dir}/userlist.txt\npool_mode = {pool_mode}\nlogfile = {dir}/pgbouncer.log\n\
             pidfile = {dir}/pgbouncer.pid\nadmin_users = postgres\nmax_client_conn = 50\n\
             default_pool_size = 5\n",
            pg = cluster.port,
            dir = dir.display(),
        );
        let ini_path = dir.join("pgbouncer.ini");
        std::fs::write(&ini_path, ini).expect("pgbouncer.ini");
        if running_as_root() {
            check(
                Command::new("chown")
                    .args(["-R", "postgres:postgres"])
                    .arg(&dir)
                    .output(),
                "chown pgbouncer dir",
            );
        }
        let child = as_server_user(&binary)
            .arg(&ini_path)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start pgbouncer");
        let watchdog = Command::new("sh")
            .arg("-c")
            .arg(format!(
                "while kill -0 {me} 2>/dev/null; do sleep 1; done; \
                 kill $(cat '{dir}/pgbouncer.pid') 2>/dev/null; rm -rf '{dir}'",
                me = std::process::id(),
                dir = dir.display()
            ))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .ok();
        let start = Instant::now();
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                start.elapsed() < Duration::from_secs(15),
                "pgbouncer did not listen on {port}: {}",
                std::fs::read_to_string(dir.join("pgbouncer.log")).unwrap_or_default()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
        PgBouncer {
            port,
            dir,
            child: Some(child),
            watchdog,
        }
    }

    /// A URL through the pooler, as the superuser with its password.
    pub fn url(&self, database: &str) -> String {
        format!(
            "postgres://postgres:{SUPERUSER_PASSWORD}@127.0.0.1:{}/{database}",
            self.port
        )
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.join("pgbouncer.log")).unwrap_or_default()
    }
}

impl Drop for PgBouncer {
    fn drop(&mut self) {
        // runuser's child is pgbouncer itself: signal it by its pid file.
        if let Ok(pid) = std::fs::read_to_string(self.dir.join("pgbouncer.pid")) {
            let _ = Command::new("kill").arg(pid.trim()).status();
        }
        if let Some(mut c) = self.child.take() {
            let _ = c.wait();
        }
        if let Some(mut w) = self.watchdog.take() {
            let _ = w.kill();
            let _ = w.wait();
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
