//! The scratch PostgreSQL `recover` rehearses on: a private directory (0700) holding a data
//! directory and the unix socket, no TCP listener, archiving off. Started from a copy of a base
//! backup (archive recovery to a target) or from a fresh initdb (for a dump). Stopped on every
//! path: `Drop` on the normal ones, and a watchdog in its own session (so a Ctrl-C on the
//! terminal does not reach it) that waits for this process to end however it ends; the watchdog
//! also removes the directory then, so pgtriage does not wait on deleting a recovered copy.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};

use crate::error::{Result, UserError};

/// The port names the socket file only (`listen_addresses = ''` in a private directory), so it
/// never collides with another server.
pub const PORT: u16 = 5432;

pub struct Scratch {
    pub bindir: PathBuf,
    pub dir: PathBuf,
    pub data: PathBuf,
    pub log: PathBuf,
    /// The role psql connects as: `postgres` at first (a fresh initdb's), then, for a base
    /// backup, its bootstrap superuser (pg_authid oid 10), found through the first candidate
    /// role the copy has.
    user: std::sync::Mutex<String>,
    /// Roles to try when the copy has no `user`: the evidence's connecting role.
    other_users: Vec<String>,
    watchdog: Option<Child>,
    started: bool,
    started_at: Option<std::time::Instant>,
}

/// Whether this process runs as root: initdb and pg_ctl refuse to, so they run as `postgres`.
pub fn running_as_root() -> bool {
    use std::os::unix::fs::MetadataExt;
    fs::metadata("/proc/self")
        .map(|m| m.uid() == 0)
        .unwrap_or(false)
}

/// The server binaries of `major`: `PGTRIAGE_PG_BINDIR`, `/usr/lib/postgresql/N/bin`,
/// `/usr/pgsql-N/bin`, then `pg_config --bindir` when it is that version.
pub fn bindir(major: u32) -> Result<PathBuf> {
    let version_of = |dir: &Path| -> Option<u32> {
        let out = Command::new(dir.join("postgres"))
            .arg("--version")
            .output()
            .ok()?;
        let text = String::from_utf8_lossy(&out.stdout);
        let v = text.split_whitespace().last()?;
        v.split('.').next()?.parse().ok()
    };
    let mut candidates = Vec::new();
    if let Ok(d) = std::env::var("PGTRIAGE_PG_BINDIR") {
        candidates.push(PathBuf::from(d));
    }
    candidates.push(PathBuf::from(format!("/usr/lib/postgresql/{major}/bin")));
    candidates.push(PathBuf::from(format!("/usr/pgsql-{major}/bin")));
    if let Ok(out) = Command::new("pg_config").arg("--bindir").output() {
        candidates.push(PathBuf::from(String::from_utf8_lossy(&out.stdout).trim()));
    }
    candidates
        .into_iter()
        .find(|d| d.join("pg_ctl").exists() && version_of(d) == Some(major))
        .ok_or_else(|| {
            UserError::new(format!(
                "no PostgreSQL {major} server binaries (pg_ctl, postgres) found: install the postgresql-{major} server package or set PGTRIAGE_PG_BINDIR to its bin directory"
            ))
        })
}

/// `runuser`, found where util-linux puts it even when PATH lacks the sbin directories.
fn runuser() -> PathBuf {
    [
        "/usr/sbin/runuser",
        "/sbin/runuser",
        "/usr/bin/runuser",
        "/bin/runuser",
    ]
    .iter()
    .map(PathBuf::from)
    .find(|p| p.exists())
    .unwrap_or_else(|| PathBuf::from("runuser"))
}

fn as_server_user(program: &Path) -> Command {
    if running_as_root() {
        let mut c = Command::new(runuser());
        c.args(["-u", "postgres", "--"]).arg(program);
        c
    } else {
        Command::new(program)
    }
}

fn run(mut cmd: Command, what: &str) -> Result<Output> {
    let out = cmd
        .stdin(Stdio::null())
        .output()
        .map_err(|e| UserError::new(format!("{what}: cannot run: {e}")))?;
    if !out.status.success() {
        let err = String::from_utf8_lossy(&out.stderr);
        let line = err
            .lines()
            .find(|l| l.contains("ERROR") || l.contains("FATAL") || l.contains("error"))
            .or(err.lines().next())
            .unwrap_or("")
            .trim()
            .to_string();
        return Err(UserError::new(format!("{what} failed: {line}")));
    }
    Ok(out)
}

impl Scratch {
    /// A new private directory under `parent` (default: the temp dir) with the watchdog running.
    pub fn create(bindir: PathBuf, parent: Option<&Path>) -> Result<Scratch> {
        let parent = parent
            .map(Path::to_path_buf)
            .unwrap_or_else(std::env::temp_dir);
        let dir = tempfile::Builder::new()
            .prefix("pgtriage-recover-")
            .tempdir_in(&parent)
            .map_err(|e| {
                UserError::new(format!(
                    "{}: cannot create the scratch directory: {e}",
                    parent.display()
                ))
            })?
            .keep();
        let data = dir.join("data");
        let log = dir.join("server.log");
        let mut scratch = Scratch {
            bindir,
            dir,
            data,
            log,
            user: std::sync::Mutex::new("postgres".into()),
            other_users: Vec::new(),
            watchdog: None,
            started: false,
            started_at: None,
        };
        scratch.spawn_watchdog();
        Ok(scratch)
    }

    /// Stops the server and removes the directory once this process is gone, however it went.
    fn spawn_watchdog(&mut self) {
        let q = crate::analysis::quote::shell;
        let ctl = self.bindir.join("pg_ctl");
        let stop = if running_as_root() {
            format!(
                "{} -u postgres -- {}",
                q(&runuser().to_string_lossy()),
                q(&ctl.to_string_lossy())
            )
        } else {
            q(&ctl.to_string_lossy())
        };
        let script = format!(
            "while kill -0 {pid} 2>/dev/null; do sleep 1; done; {stop} -D {data} -m immediate stop >/dev/null 2>&1; rm -rf {dir}",
            pid = std::process::id(),
            data = q(&self.data.to_string_lossy()),
            dir = q(&self.dir.to_string_lossy()),
        );
        let mut cmd = if Path::new("/usr/bin/setsid").exists() {
            let mut c = Command::new("/usr/bin/setsid");
            c.arg("sh");
            c
        } else {
            Command::new("sh")
        };
        cmd.arg("-c")
            .arg(script)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        self.watchdog = cmd.spawn().ok();
    }

    /// Hands the directory to the server user and closes it to everyone else: the copy holds
    /// production data and the socket trusts every local connection.
    pub fn secure(&self) -> Result<()> {
        if running_as_root() {
            let mut c = Command::new("chown");
            c.args(["-R", "postgres:postgres"]).arg(&self.dir);
            run(c, "chown the scratch directory to postgres")?;
        }
        for (p, mode) in [(&self.dir, 0o700), (&self.data, 0o700)] {
            if p.exists() {
                use std::os::unix::fs::PermissionsExt;
                fs::set_permissions(p, fs::Permissions::from_mode(mode)).map_err(|e| {
                    UserError::new(format!("{}: cannot set permissions: {e}", p.display()))
                })?;
            }
        }
        Ok(())
    }

    /// Copies a plain-format base backup into the data directory.
    pub fn copy_base_backup(&self, base: &Path) -> Result<()> {
        let mut c = Command::new("cp");
        c.arg("-a").arg(base).arg(&self.data);
        run(c, "copying the base backup").map_err(|e| {
            if e.message().contains("No space") {
                UserError::new(format!(
                    "{}: the disk is full copying the base backup: free space or pass --scratch DIR on a larger disk",
                    self.dir.display()
                ))
            } else {
                e
            }
        })?;
        for stale in ["postmaster.pid", "standby.signal", "postmaster.opts"] {
            let _ = fs::remove_file(self.data.join(stale));
        }
        Ok(())
    }

    /// A fresh cluster (for a dump).
    pub fn initdb(&self) -> Result<()> {
        self.secure()?;
        let mut c = as_server_user(&self.bindir.join("initdb"));
        c.arg("-D").arg(&self.data).args([
            "-U",
            "postgres",
            "--auth=trust",
            "--encoding=UTF8",
            "--locale=C",
            "--no-sync",
        ]);
        run(c, "initdb of the scratch server").map(|_| ())
    }

    /// Appends the scratch settings (and `extra`) to postgresql.auto.conf, which overrides
    /// postgresql.conf; trusts local connections only.
    pub fn configure(&self, extra: &[String]) -> Result<()> {
        let conf = self.data.join("postgresql.conf");
        if !conf.exists() {
            // A base backup of a cluster whose config lives in /etc has none.
            write(&conf, "")?;
        }
        let mut lines = vec![
            format!("port = {PORT}"),
            "listen_addresses = ''".to_string(),
            format!(
                "unix_socket_directories = {}",
                crate::analysis::quote::quote_literal(&self.dir.to_string_lossy())
            ),
            "archive_mode = off".into(),
            "hot_standby = on".into(),
            "logging_collector = off".into(),
            "log_destination = 'stderr'".into(),
            "ssl = off".into(),
            "shared_preload_libraries = ''".into(),
            "fsync = off".into(),
            "autovacuum = off".into(),
        ];
        lines.extend(extra.iter().cloned());
        let auto = self.data.join("postgresql.auto.conf");
        // A directory restored by pgBackRest carries its own target: the plan's replaces it
        // (two kinds of recovery_target_* set at once is an error).
        let mut text: String = fs::read_to_string(&auto)
            .unwrap_or_default()
            .lines()
            .filter(|l| {
                let key = l.split('=').next().unwrap_or("").trim();
                !(key.starts_with("recovery_target") || key == "restore_command")
            })
            .map(|l| format!("{l}\n"))
            .collect();
        text.push_str("\n# pgtriage recover: scratch server\n");
        for l in lines {
            text.push_str(&l);
            text.push('\n');
        }
        write(&auto, &text)?;
        write(
            &self.data.join("pg_hba.conf"),
            "# pgtriage recover: the scratch server is reached through its private socket only\nlocal all all trust\n",
        )?;
        Ok(())
    }

    pub fn signal_recovery(&self) -> Result<()> {
        write(&self.data.join("recovery.signal"), "")
    }

    /// Starts the server without waiting (replay may take long: the caller polls).
    pub fn start(&mut self) -> Result<()> {
        self.secure()?;
        let mut c = as_server_user(&self.bindir.join("pg_ctl"));
        c.arg("-D")
            .arg(&self.data)
            .arg("-l")
            .arg(&self.log)
            .args(["-W", "start"]);
        run(c, "starting the scratch server")?;
        self.started = true;
        self.started_at = Some(std::time::Instant::now());
        Ok(())
    }

    /// Waits (up to 60 s) for connections after a plain start.
    pub fn wait_ready(&self) -> Result<()> {
        for _ in 0..600 {
            if self.query("postgres", "SELECT 1").is_ok() {
                return Ok(());
            }
            if !self.alive() {
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
        Err(UserError::new(format!(
            "the scratch server did not start: {}",
            self.last_fatal().unwrap_or_else(|| "see its log".into())
        )))
    }

    /// Whether the postmaster still runs. Right after `pg_ctl -W start` it may not have written
    /// postmaster.pid yet: it counts as running for 20 s unless it logged a FATAL.
    pub fn alive(&self) -> bool {
        let young = self
            .started_at
            .is_some_and(|t| t.elapsed() < std::time::Duration::from_secs(20));
        if young && self.last_fatal().is_none() {
            return true;
        }
        let mut c = as_server_user(&self.bindir.join("pg_ctl"));
        c.arg("-D").arg(&self.data).arg("status");
        c.stdout(Stdio::null()).stderr(Stdio::null());
        c.status().map(|s| s.success()).unwrap_or(false)
    }

    pub fn log_text(&self) -> String {
        fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// The server's first FATAL or PANIC line, message only.
    pub fn last_fatal(&self) -> Option<String> {
        self.log_text()
            .lines()
            // A connection refused while the server starts (our own polling, under load) is
            // FATAL too, but says nothing of why recovery stopped.
            .filter(|l| {
                !l.contains("the database system is starting up")
                    && !l.contains("the database system is not yet accepting connections")
                    && !l.contains("the database system is shutting down")
            })
            .find(|l| l.contains("FATAL:") || l.contains("PANIC:"))
            .map(|l| {
                l.split_once("FATAL:")
                    .or_else(|| l.split_once("PANIC:"))
                    .map(|(_, m)| m.trim().to_string())
                    .unwrap_or_else(|| l.to_string())
            })
    }

    /// Roles to try, after `postgres`, when the recovered copy has no such role (a cluster
    /// initialised with `initdb -U someone`).
    pub fn also_try_users(&mut self, users: &[String]) {
        self.other_users = users
            .iter()
            .filter(|u| !u.is_empty() && u.as_str() != "postgres")
            .cloned()
            .collect();
    }

    fn user(&self) -> String {
        self.user
            .lock()
            .map(|u| u.clone())
            .unwrap_or_else(|p| p.into_inner().clone())
    }

    /// After "role … does not exist": connects as the next candidate, and from there switches
    /// to the copy's bootstrap superuser. False when no candidate is left.
    fn switch_user(&self, database: &str) -> bool {
        let current = self.user();
        let next = std::iter::once("postgres".to_string())
            .chain(self.other_users.iter().cloned())
            .skip_while(|u| *u != current)
            .nth(1);
        let Some(next) = next else { return false };
        if let Ok(mut u) = self.user.lock() {
            *u = next;
        }
        if let Ok(name) = self.query_once(database, "SELECT rolname FROM pg_roles WHERE oid = 10")
            && !name.trim().is_empty()
            && let Ok(mut u) = self.user.lock()
        {
            *u = name.trim().to_string();
        }
        true
    }

    pub fn psql(&self, database: &str) -> Command {
        let user = self.user();
        let mut c = Command::new(self.bindir.join("psql"));
        c.args(["-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1"])
            .arg("-h")
            .arg(&self.dir)
            .args(["-p", &PORT.to_string(), "-U", &user, "-d", database])
            .env_remove("PGPASSWORD")
            .env_remove("PGSERVICE")
            .env("PGAPPNAME", "pgtriage-recover")
            .stdin(Stdio::null());
        c
    }

    /// Runs one query; returns its unaligned, tuples-only output.
    pub fn query(&self, database: &str, sql: &str) -> Result<String> {
        loop {
            match self.query_once(database, sql) {
                Err(e)
                    if e.message().contains("role \"")
                        && e.message().contains("does not exist")
                        && self.switch_user(database) => {}
                other => return other,
            }
        }
    }

    fn query_once(&self, database: &str, sql: &str) -> Result<String> {
        let mut c = self.psql(database);
        c.arg("-c").arg(sql);
        let out = run(c, "a query on the scratch server")?;
        Ok(String::from_utf8_lossy(&out.stdout).trim_end().to_string())
    }

    /// Runs `COPY (…) TO STDOUT` into `path`.
    pub fn copy_out(&self, database: &str, copy: &str, path: &Path) -> Result<()> {
        let file = fs::File::create(path)
            .map_err(|e| UserError::new(format!("{}: cannot write: {e}", path.display())))?;
        self.copy_into(database, copy, file)
    }

    /// Runs `COPY (…) TO STDOUT`, psql writing straight into `file` (no copy in memory).
    pub fn copy_into(&self, database: &str, copy: &str, file: fs::File) -> Result<()> {
        let mut c = self.psql(database);
        c.arg("-c").arg(copy).stdout(file).stderr(Stdio::piped());
        let out = c
            .output()
            .map_err(|e| UserError::new(format!("psql: cannot run: {e}")))?;
        if !out.status.success() {
            let err = String::from_utf8_lossy(&out.stderr);
            return Err(UserError::new(format!(
                "copying rows out of the scratch server failed: {}{}",
                err.lines().next().unwrap_or("").trim(),
                if err.contains("No space") {
                    " (the disk is full: free space or use --out on a larger disk)"
                } else {
                    ""
                }
            )));
        }
        Ok(())
    }

    /// A server tool (pg_restore, createdb, …) as a command, as the server user.
    pub fn tool(&self, name: &str) -> Command {
        let mut c = Command::new(self.bindir.join(name));
        c.env_remove("PGPASSWORD").stdin(Stdio::null());
        c
    }

    /// `host=… port=… user=… dbname=…` for tools taking `-d`.
    pub fn conninfo(&self, database: &str) -> String {
        format!(
            "host={} port={PORT} user={} dbname={}",
            conninfo_value(&self.dir.to_string_lossy()),
            conninfo_value(&self.user()),
            conninfo_value(database)
        )
    }

    fn stop(&mut self) {
        if self.started {
            let mut c = as_server_user(&self.bindir.join("pg_ctl"));
            c.arg("-D")
                .arg(&self.data)
                .args(["-m", "immediate", "-w", "stop"])
                .stdout(Stdio::null())
                .stderr(Stdio::null());
            let _ = c.status();
            self.started = false;
        }
    }
}

/// A libpq keyword value: single-quoted, `\` and `'` escaped.
fn conninfo_value(v: &str) -> String {
    format!("'{}'", v.replace('\\', "\\\\").replace('\'', "\\'"))
}

fn write(path: &Path, text: &str) -> Result<()> {
    fs::write(path, text)
        .map_err(|e| UserError::new(format!("{}: cannot write: {e}", path.display())))
}

impl Drop for Scratch {
    /// Stops the server now; the directory is removed by the watchdog once pgtriage has
    /// exited. Removing a recovered copy is one unlink per file (4.7 s of a 1 GB copy, a
    /// quarter of the replay time): the user has restore.sql by then and need not wait for it.
    /// Without a watchdog (it could not be spawned) the directory is removed here.
    fn drop(&mut self) {
        self.stop();
        let watching = self
            .watchdog
            .as_mut()
            .is_some_and(|w| matches!(w.try_wait(), Ok(None)));
        if !watching {
            let _ = fs::remove_dir_all(&self.dir);
        }
        // A watchdog still running is left to it: it waits for this process to end, then
        // removes the directory (and is reaped by init).
        self.watchdog = None;
    }
}
