//! Where to connect, resolved the way libpq (and so psql) resolves it: the URL's own parameters
//! first, then the connection service (`service=NAME` or `PGSERVICE`, from `PGSERVICEFILE` or
//! `~/.pg_service.conf`, else `PGSYSCONFDIR/pg_service.conf`), then the `PG*` variables, then
//! the defaults; the password last from the passfile (`passfile=`, `PGPASSFILE`, `~/.pgpass`),
//! matched field by field as libpq matches it. No sqlx here: `connect.rs` turns the result into
//! driver options.
//!
//! Deliberately not followed: `PGAPPNAME` and `application_name` (the session always says
//! `application_name=pgtriage`, so a server log shows what pgtriage did), and a
//! `connect_timeout` of 0 (libpq's "wait forever"; pgtriage never waits forever).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use crate::error::UserError;

/// The parameters pgtriage understands, with libpq's keyword names.
const KEYWORDS: &[&str] = &[
    "host",
    "hostaddr",
    "port",
    "dbname",
    "user",
    "password",
    "passfile",
    "sslmode",
    "sslrootcert",
    "sslcert",
    "sslkey",
    "connect_timeout",
    "service",
    "options",
    "application_name",
];

/// Environment variables and the keyword each fills, as libpq's `PQconndefaults`.
const ENVIRONMENT: &[(&str, &str)] = &[
    ("PGHOST", "host"),
    ("PGHOSTADDR", "hostaddr"),
    ("PGPORT", "port"),
    ("PGDATABASE", "dbname"),
    ("PGUSER", "user"),
    ("PGPASSWORD", "password"),
    ("PGPASSFILE", "passfile"),
    ("PGSSLMODE", "sslmode"),
    ("PGSSLROOTCERT", "sslrootcert"),
    ("PGSSLCERT", "sslcert"),
    ("PGSSLKEY", "sslkey"),
    ("PGCONNECT_TIMEOUT", "connect_timeout"),
    ("PGOPTIONS", "options"),
];

/// The default socket directory of Debian's libpq (upstream's is /tmp; both are tried).
pub(crate) const DEFAULT_SOCKET_DIRS: &[&str] = &["/var/run/postgresql", "/tmp"];

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Host {
    Tcp(String),
    Socket(PathBuf),
}

/// The resolved parameters; `secrets` are strings no message may show.
#[derive(Debug, Clone)]
pub(crate) struct ConnInfo {
    pub host: Host,
    /// The host name as written, for TLS host-name checks and messages.
    pub host_text: String,
    pub port: u16,
    pub user: String,
    pub dbname: String,
    pub password: Option<String>,
    pub sslmode: String,
    pub sslrootcert: Option<String>,
    pub sslcert: Option<String>,
    pub sslkey: Option<String>,
    pub connect_timeout_s: Option<u64>,
    pub options: Option<String>,
    /// `service=NAME` and the file it came from, for the evidence and messages.
    pub service: Option<(String, PathBuf)>,
    /// `--db`, `DATABASE_URL`, `the PG* variables`: where to look when something is wrong.
    pub source: &'static str,
    pub secrets: Vec<String>,
    /// A passfile that was skipped, and why (a hint for a password failure).
    pub passfile_note: Option<String>,
}

fn env_nonempty(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.is_empty())
}

pub(crate) fn home_dir() -> Option<PathBuf> {
    env_nonempty("HOME").map(PathBuf::from)
}

/// Resolves `url` (or `DATABASE_URL`, or nothing) into connection parameters.
pub(crate) fn resolve(url: Option<&str>) -> Result<ConnInfo, UserError> {
    let mut secrets: Vec<String> = Vec::new();
    if let Some(pw) = env_nonempty("PGPASSWORD") {
        secrets.push(pw);
    }
    let (url, source) = match (url, env_nonempty("DATABASE_URL")) {
        (Some(u), _) => (Some(u.to_string()), "--db"),
        (None, Some(u)) => (Some(u), "DATABASE_URL"),
        (None, None) => (None, "the PG* variables"),
    };
    let mut params: BTreeMap<String, String> = BTreeMap::new();
    // Where each parameter came from, for messages: `--db`, `PGSSLMODE`, `service file …`.
    let mut origins: BTreeMap<String, String> = BTreeMap::new();
    if let Some(url) = &url {
        parse_url(url, source, &mut params, &mut secrets)?;
        for k in params.keys() {
            origins.insert(k.clone(), source.to_string());
        }
    }
    // The service fills what the URL left out; the variables fill what both left out.
    let service_name = params
        .get("service")
        .cloned()
        .or_else(|| env_nonempty("PGSERVICE"));
    let mut service = None;
    if let Some(name) = service_name {
        let (entries, file) = read_service(&name, source)?;
        for (k, v) in entries {
            if k == "password" {
                secrets.push(v.clone());
            }
            origins
                .entry(k.clone())
                .or_insert_with(|| format!("service `{name}` in {}", file.display()));
            params.entry(k).or_insert(v);
        }
        service = Some((name, file));
    }
    for (var, keyword) in ENVIRONMENT {
        if let Some(v) = env_nonempty(var) {
            origins
                .entry(keyword.to_string())
                .or_insert_with(|| var.to_string());
            params.entry(keyword.to_string()).or_insert(v);
        }
    }
    build(params, &origins, source, service, secrets)
}

fn build(
    params: BTreeMap<String, String>,
    origins: &BTreeMap<String, String>,
    source: &'static str,
    service: Option<(String, PathBuf)>,
    secrets: Vec<String>,
) -> Result<ConnInfo, UserError> {
    let get = |k: &str| params.get(k).filter(|v| !v.is_empty()).cloned();
    let from = |k: &str| {
        origins
            .get(k)
            .cloned()
            .unwrap_or_else(|| source.to_string())
    };
    let port = match get("port") {
        None => 5432,
        Some(p) => p.parse::<u16>().map_err(|_| {
            UserError::new(format!(
                "port `{p}` (from {}) is not a port number; set it to the server's port (e.g. 5432)",
                from("port")
            ))
        })?,
    };
    let sslmode = get("sslmode").unwrap_or_else(|| "prefer".to_string());
    if !matches!(
        sslmode.as_str(),
        "disable" | "allow" | "prefer" | "require" | "verify-ca" | "verify-full"
    ) {
        return Err(UserError::new(format!(
            "sslmode `{sslmode}` (from {}) is not an sslmode; use disable, allow, prefer, require, verify-ca or verify-full",
            from("sslmode")
        )));
    }
    let host_param = get("host").or_else(|| get("hostaddr"));
    if let Some(h) = &host_param
        && h.contains(',')
    {
        return Err(UserError::new(format!(
            "several hosts `{h}` (from {source}): pgtriage connects to one server; name the one to investigate"
        )));
    }
    let (host, host_text) = match host_param {
        Some(h) if h.starts_with('/') => (Host::Socket(PathBuf::from(&h)), h),
        Some(h) => (Host::Tcp(h.clone()), h),
        None => match default_socket_dir(port) {
            Some(dir) => (Host::Socket(dir.clone()), dir.display().to_string()),
            None => (Host::Tcp("localhost".into()), "localhost".into()),
        },
    };
    let user = match get("user") {
        Some(u) => u,
        None => os_user_name().ok_or_else(|| {
            UserError::new(format!(
                "no user name given and the operating-system user is unknown; name one in {source} (user=NAME or PGUSER)"
            ))
        })?,
    };
    let dbname = get("dbname").unwrap_or_else(|| user.clone());
    let connect_timeout_s = match get("connect_timeout") {
        None => None,
        Some(t) => match t.trim().parse::<i64>() {
            // libpq reads 0 or less as "wait forever" and 1 as 2 seconds.
            Ok(n) if n <= 0 => None,
            Ok(n) => Some((n as u64).max(2)),
            Err(_) => {
                return Err(UserError::new(format!(
                    "connect_timeout `{t}` (from {}) is not a number of seconds",
                    from("connect_timeout")
                )));
            }
        },
    };
    let mut info = ConnInfo {
        host,
        host_text,
        port,
        user,
        dbname,
        password: get("password"),
        sslmode,
        sslrootcert: get("sslrootcert"),
        sslcert: get("sslcert"),
        sslkey: get("sslkey"),
        connect_timeout_s,
        options: get("options"),
        service,
        source,
        secrets,
        passfile_note: None,
    };
    if info.password.is_none() {
        let passfile = get("passfile")
            .map(PathBuf::from)
            .or_else(|| home_dir().map(|h| h.join(".pgpass")));
        if let Some(file) = passfile {
            match password_from_file(&file, &info) {
                Ok(Some(pw)) => {
                    info.secrets.push(pw.clone());
                    info.password = Some(pw);
                }
                Ok(None) => {}
                Err(note) => info.passfile_note = Some(note),
            }
        }
    }
    if let Some(pw) = &info.password {
        info.secrets.push(pw.clone());
    }
    Ok(info)
}

/// libpq's default: the socket of that port in the default directory if it exists.
fn default_socket_dir(port: u16) -> Option<PathBuf> {
    DEFAULT_SOCKET_DIRS
        .iter()
        .map(PathBuf::from)
        .find(|d| d.join(format!(".s.PGSQL.{port}")).exists())
}

/// Reads a `postgres://` URL into libpq keywords; records its password as a secret before
/// anything can fail, so no message can echo it.
fn parse_url(
    url: &str,
    source: &str,
    params: &mut BTreeMap<String, String>,
    secrets: &mut Vec<String>,
) -> Result<(), UserError> {
    let usage = "expected postgres://user@host:port/dbname or postgres:///dbname?host=/socket/dir";
    let text = url.trim();
    let (scheme, rest) = text.split_once("://").ok_or_else(|| {
        UserError::new(format!(
            "{source}: the connection URL does not start with postgres:// or postgresql://; {usage}"
        ))
    })?;
    if scheme != "postgres" && scheme != "postgresql" {
        return Err(UserError::new(format!(
            "{source}: unsupported URL scheme `{scheme}`; {usage}"
        )));
    }
    // The password runs from the first `:` of the user part to the LAST `@`: a `/`, `#` or `?`
    // in an unencoded password must still be kept out of every message.
    let mut suspicious_password = false;
    if let Some((userinfo, _)) = rest.rsplit_once('@')
        && let Some((_, raw)) = userinfo.split_once(':')
        && !raw.is_empty()
    {
        secrets.push(raw.to_string());
        secrets.push(percent_decode(raw));
        suspicious_password = raw.contains(['/', '#', '?', '@']);
    }
    let encode_hint = if suspicious_password {
        "; the password seems to hold `/`, `#`, `?` or `@`: percent-encode them in a URL (%2F, %23, %3F, %40)"
    } else {
        ""
    };
    let fail = |what: String, secrets: &[String]| {
        UserError::new(redact(
            &format!("{source}: cannot parse the connection URL ({what}); {usage}{encode_hint}"),
            secrets,
        ))
    };
    if suspicious_password {
        return Err(fail(
            "the user:password@ part is ambiguous".to_string(),
            secrets,
        ));
    }
    // libpq allows an empty host (`postgres://user@/db?host=/dir`); the url crate does not.
    let (authority, tail) = match rest.find(['/', '?']) {
        Some(end) => rest.split_at_checked(end).unwrap_or((rest, "")),
        None => (rest, ""),
    };
    let host_part = authority
        .rsplit_once('@')
        .map(|(_, h)| h)
        .unwrap_or(authority);
    let empty_host = host_part.is_empty() || host_part.starts_with(':');
    let mended = match authority.rsplit_once('@') {
        Some((userinfo, host)) if empty_host => {
            format!("{scheme}://{userinfo}@localhost{host}{tail}")
        }
        _ => text.to_string(),
    };
    let parsed = url::Url::parse(&mended).map_err(|e| fail(e.to_string(), secrets))?;
    let username = parsed.username();
    if !username.is_empty() {
        params.insert("user".into(), percent_decode(username));
    }
    if let Some(pw) = parsed.password() {
        params.insert("password".into(), percent_decode(pw));
    }
    if !empty_host && let Some(h) = parsed.host_str() {
        let h = percent_decode(h);
        let h = h.trim_start_matches('[').trim_end_matches(']').to_string();
        params.insert("host".into(), h);
    }
    if let Some(p) = parsed.port() {
        params.insert("port".into(), p.to_string());
    }
    let path = parsed.path().trim_start_matches('/');
    if !path.is_empty() {
        params.insert("dbname".into(), percent_decode(path));
    }
    for (k, v) in parsed.query_pairs() {
        let key = k.into_owned();
        if !KEYWORDS.contains(&key.as_str()) {
            return Err(UserError::new(redact(
                &format!(
                    "{source}: unknown connection parameter `{key}`; pgtriage understands {}",
                    KEYWORDS.join(", ")
                ),
                secrets,
            )));
        }
        if key == "password" && !v.is_empty() {
            secrets.push(v.to_string());
        }
        params.insert(key, v.into_owned());
    }
    if empty_host && !params.contains_key("host") && authority.contains('@') {
        return Err(UserError::new(redact(
            &format!(
                "{source}: the URL names a user but no host; write postgres://user@host/db, \
                 or postgres:///db?host=/socket/dir&user=NAME"
            ),
            secrets,
        )));
    }
    Ok(())
}

/// The service's entries: the user's file (`PGSERVICEFILE`, else `~/.pg_service.conf`) first,
/// the system's (`PGSYSCONFDIR/pg_service.conf`) only when the user's has no such service.
fn read_service(name: &str, source: &str) -> Result<(Vec<(String, String)>, PathBuf), UserError> {
    let mut files: Vec<PathBuf> = Vec::new();
    match env_nonempty("PGSERVICEFILE") {
        Some(f) => files.push(PathBuf::from(f)),
        None => {
            if let Some(h) = home_dir() {
                files.push(h.join(".pg_service.conf"));
            }
        }
    }
    match env_nonempty("PGSYSCONFDIR") {
        Some(d) => files.push(Path::new(&d).join("pg_service.conf")),
        None => files.push(PathBuf::from("/etc/postgresql-common/pg_service.conf")),
    }
    for file in &files {
        let text = match std::fs::read(file) {
            Ok(bytes) => String::from_utf8_lossy(&bytes).into_owned(),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
            Err(e) => {
                return Err(UserError::new(format!(
                    "service file {}: cannot read it ({e}); fix its permissions or set PGSERVICEFILE",
                    file.display()
                )));
            }
        };
        if let Some(entries) = service_entries(&text, name, file)? {
            return Ok((entries, file.clone()));
        }
    }
    let looked: Vec<String> = files.iter().map(|f| f.display().to_string()).collect();
    Err(UserError::new(format!(
        "service `{name}` (from {source} or PGSERVICE) is not defined in {}; add a [{name}] section or set PGSERVICEFILE",
        looked.join(" or ")
    )))
}

/// One service's `key=value` lines from a pg_service.conf text, `None` if it has no such section.
fn service_entries(
    text: &str,
    name: &str,
    file: &Path,
) -> Result<Option<Vec<(String, String)>>, UserError> {
    let mut in_section = false;
    let mut found = false;
    let mut entries = Vec::new();
    for (i, raw) in text.lines().enumerate() {
        let line = raw.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        if line.starts_with('[') {
            let section = line.trim_start_matches('[').trim_end_matches(']').trim();
            in_section = section == name;
            found |= in_section;
            continue;
        }
        if !in_section {
            continue;
        }
        let Some((k, v)) = line.split_once('=') else {
            return Err(UserError::new(format!(
                "{}:{}: syntax error in service file (expected key=value); fix that line",
                file.display(),
                i + 1
            )));
        };
        let key = k.trim().to_string();
        if key == "service" {
            return Err(UserError::new(format!(
                "{}:{}: a service may not name another service (libpq refuses nested service specifications)",
                file.display(),
                i + 1
            )));
        }
        if !KEYWORDS.contains(&key.as_str()) {
            return Err(UserError::new(format!(
                "{}:{}: unknown connection parameter `{key}` in service `{name}`; pgtriage understands {}",
                file.display(),
                i + 1,
                KEYWORDS.join(", ")
            )));
        }
        entries.push((key, v.trim().to_string()));
    }
    Ok(found.then_some(entries))
}

/// The password for `info` from a passfile, as libpq finds it: fields `host:port:db:user:pw`,
/// `*` matching anything, `\` escaping `:` and `\`; a socket directory matched as written
/// (the default socket directory also as `localhost`). `Err` says why the file was skipped.
fn password_from_file(file: &Path, info: &ConnInfo) -> Result<Option<String>, String> {
    let meta = match std::fs::metadata(file) {
        Ok(m) => m,
        Err(_) => return Ok(None),
    };
    if !meta.is_file() {
        return Err(format!("{} is not a regular file", file.display()));
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        if meta.permissions().mode() & 0o077 != 0 {
            return Err(format!(
                "{} was ignored: it has group or world access (chmod 0600 it, as libpq requires)",
                file.display()
            ));
        }
    }
    let text = match std::fs::read(file) {
        Ok(b) => String::from_utf8_lossy(&b).into_owned(),
        Err(e) => return Err(format!("{} cannot be read ({e})", file.display())),
    };
    let mut hosts: Vec<String> = vec![info.host_text.clone()];
    if let Host::Socket(dir) = &info.host
        && DEFAULT_SOCKET_DIRS.iter().any(|d| Path::new(d) == dir)
    {
        hosts.push("localhost".into());
    }
    let port = info.port.to_string();
    for line in text.lines() {
        if line.starts_with('#') || line.trim().is_empty() {
            continue;
        }
        let fields = split_passfile_line(line);
        let [host, port_field, dbname, user, password, ..] = fields.as_slice() else {
            continue;
        };
        let m = |field: &str, value: &str| field == "*" || field == value;
        if hosts.iter().any(|h| m(host, h))
            && m(port_field, &port)
            && m(dbname, &info.dbname)
            && m(user, &info.user)
        {
            return Ok(Some(password.clone()));
        }
    }
    Ok(None)
}

/// Splits a passfile line on unescaped `:` into 5 fields (the password keeps any later `:`).
fn split_passfile_line(line: &str) -> Vec<String> {
    let mut fields = vec![String::new()];
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => {
                if let (Some(n), Some(f)) = (chars.next(), fields.last_mut()) {
                    f.push(n);
                }
            }
            ':' if fields.len() < 5 => fields.push(String::new()),
            c => {
                if let Some(f) = fields.last_mut() {
                    f.push(c)
                }
            }
        }
    }
    fields
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

/// Replaces every secret (and any `user:password@` in a URL) with `***`.
pub(crate) fn redact(text: &str, secrets: &[String]) -> String {
    let mut out = text.to_string();
    let mut sorted: Vec<&String> = secrets.iter().filter(|s| !s.is_empty()).collect();
    // Longest first, so a secret that contains another is hidden whole.
    sorted.sort_by_key(|s| std::cmp::Reverse(s.len()));
    for s in sorted {
        out = out.replace(s.as_str(), "***");
    }
    // Belt and braces: a URL that slipped into a driver message.
    if let Ok(re) = regex::Regex::new(r"(postgres(?:ql)?://[^:/@\s]*):[^@\s]*@") {
        out = re.replace_all(&out, "$1:***@").into_owned();
    }
    out
}

fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while let Some(&c) = bytes.get(i) {
        // `%XX`; a `%` without two hex digits after it stays as written.
        if c == b'%'
            && let Some(b) = s
                .get(i + 1..i + 3)
                .and_then(|h| u8::from_str_radix(h, 16).ok())
        {
            out.push(b);
            i += 3;
            continue;
        }
        out.push(c);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(url: &str) -> Result<(BTreeMap<String, String>, Vec<String>), UserError> {
        let mut p = BTreeMap::new();
        let mut s = Vec::new();
        parse_url(url, "--db", &mut p, &mut s)?;
        Ok((p, s))
    }

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
        let (p, secrets) = parse("postgres://bob:p%40ss@db:5432/x").unwrap();
        assert_eq!(p["password"], "p@ss");
        assert_eq!(p["host"], "db");
        assert!(secrets.contains(&"p@ss".to_string()), "{secrets:?}");
        assert!(secrets.contains(&"p%40ss".to_string()), "{secrets:?}");
    }

    #[test]
    fn user_with_socket_host_query() {
        let (p, _) = parse("postgres://bob@/x?host=/tmp/sock").unwrap();
        assert_eq!(p["host"], "/tmp/sock");
        assert_eq!(p["user"], "bob");
        assert_eq!(p["dbname"], "x");
    }

    #[test]
    fn unencoded_password_gets_the_percent_encoding_hint_and_stays_hidden() {
        for pw in ["pa/ss", "pa#ss", "pa?ss", "p@ss"] {
            let e = parse(&format!("postgres://bob:{pw}@db:5432/x")).unwrap_err();
            assert!(e.message().contains("percent-encode"), "{pw}: {e}");
            assert!(!e.message().contains(pw), "{pw} leaked: {e}");
        }
    }

    #[test]
    fn bad_urls_say_what_to_write() {
        let e = parse("mysql://a@b/c").unwrap_err();
        assert!(e.message().contains("unsupported URL scheme"), "{e}");
        let e = parse("db.example.com:5432").unwrap_err();
        assert!(e.message().contains("postgres://"), "{e}");
        let e = parse("postgres://bob:pw@host:notaport/db").unwrap_err();
        assert!(!e.message().contains("pw@"), "{e}");
        let e = parse("postgres://bob@host/db?frobnicate=1").unwrap_err();
        assert!(e.message().contains("`frobnicate`"), "{e}");
    }

    #[test]
    fn service_file_sections() {
        let text = "# comment\n[a]\nhost=h1\nport=5433\n\n[b]\nhost = h2\nsslmode=require\n";
        let b = service_entries(text, "b", Path::new("f")).unwrap().unwrap();
        assert_eq!(
            b,
            vec![
                ("host".to_string(), "h2".to_string()),
                ("sslmode".to_string(), "require".to_string())
            ]
        );
        assert!(
            service_entries(text, "c", Path::new("f"))
                .unwrap()
                .is_none()
        );
        let e = service_entries("[a]\nbogus\n", "a", Path::new("f")).unwrap_err();
        assert!(e.message().contains("f:2"), "{e}");
    }

    #[test]
    fn passfile_lines_split_with_escapes() {
        assert_eq!(
            split_passfile_line(r"h\:x:5432:*:bob:pw:with:colons"),
            vec!["h:x", "5432", "*", "bob", "pw:with:colons"]
        );
    }

    #[test]
    fn non_ascii_urls_parse_or_fail_in_one_line() {
        let (p, secrets) = parse("postgres://jörg:pässwört@/dæta?host=/tmp/sock").unwrap();
        assert_eq!(p["user"], "jörg");
        assert_eq!(p["password"], "pässwört");
        assert_eq!(p["dbname"], "dæta");
        assert!(secrets.contains(&"pässwört".to_string()), "{secrets:?}");
        assert_eq!(percent_decode("%é%4"), "%é%4");
        assert_eq!(percent_decode("a%C3%A9"), "aé");
        for url in [
            "pøstgres://a@b/c",
            "postgres://é@",
            "postgres://%é:%@:é/",
            "é://",
        ] {
            let e = parse(url).map(|_| ()).unwrap_err();
            assert_eq!(e.message().lines().count(), 1, "{url}: {e}");
        }
    }
}
