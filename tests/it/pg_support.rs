//! A throwaway PostgreSQL cluster for one test, from the server binaries installed on the machine
//! (`initdb` in a temporary directory, `pg_ctl start` on a free port of 127.0.0.1, trust
//! authentication, no unix socket). `tests/run_all.sh` installs Debian's `postgresql` when the
//! binaries are missing; here a missing server is a failure, not a skip, so a test that needs it
//! cannot pass without running.
//!
//! PostgreSQL refuses to run as root, and the tests do run as root in CI: the cluster is then made
//! and run as `nobody` through `runuser`. Dropping a [`PgCluster`] stops the server
//! (`pg_ctl stop -m immediate`) and removes its directory.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

/// The user the server runs as when the tests run as root.
const UNPRIVILEGED: &str = "nobody";

/// How long a start may take on a loaded machine before the test fails.
const START_LIMIT: Duration = Duration::from_secs(60);

/// A running cluster; its superuser is `postgres`, reached at 127.0.0.1:`port` without password.
pub struct PgCluster {
    dir: tempfile::TempDir,
    bin: PathBuf,
    pub port: u16,
    running: bool,
}

/// The directory of `initdb` and `pg_ctl`: `$PG_BINDIR`, else the newest
/// `/usr/lib/postgresql/*/bin` (Debian's layout), else whatever `PATH` has.
pub fn bin_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("PG_BINDIR") {
        return PathBuf::from(dir);
    }
    let mut versions: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .filter_map(Result::ok)
        .filter_map(|e| Some((e.file_name().to_str()?.parse().ok()?, e.path().join("bin"))))
        .filter(|(_, bin)| bin.join("initdb").is_file())
        .collect();
    versions.sort();
    if let Some((_, bin)) = versions.pop() {
        return bin;
    }
    let on_path = std::env::var_os("PATH")
        .map(|p| std::env::split_paths(&p).collect::<Vec<_>>())
        .unwrap_or_default()
        .into_iter()
        .find(|d| d.join("initdb").is_file());
    on_path.unwrap_or_else(|| {
        panic!("PostgreSQL server binaries (initdb, pg_ctl) not found: install postgresql (tests/run_all.sh does)")
    })
}

fn running_as_root() -> bool {
    // SAFETY: geteuid has no preconditions and cannot fail.
    unsafe { libc::geteuid() == 0 }
}

/// A port on 127.0.0.1 that nothing listened on a moment ago (the start retries if it is taken).
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

impl PgCluster {
    /// initdb and start; panics with the server's own words when it cannot.
    pub fn start() -> PgCluster {
        let bin = bin_dir();
        let dir = tempfile::Builder::new().prefix("auditgate-pg-").tempdir().unwrap();
        if running_as_root() {
            let (uid, gid) = (lookup_id("-u"), lookup_id("-g"));
            std::os::unix::fs::chown(dir.path(), Some(uid), Some(gid)).unwrap();
        }
        let data = dir.path().join("data");
        let out = as_server_user(&bin.join("initdb"))
            .args(["-D"])
            .arg(&data)
            .args(["-U", "postgres", "--auth=trust", "--no-sync", "-E", "UTF8", "--locale=C"])
            .output()
            .expect("run initdb");
        check(&out, "initdb");
        let mut cluster = PgCluster { dir, bin, port: 0, running: false };
        let mut last = String::new();
        for _ in 0..5 {
            cluster.port = free_port();
            match cluster.try_start() {
                Ok(()) => return cluster,
                Err(e) => last = e,
            }
        }
        panic!("PostgreSQL did not start: {last}");
    }

    fn data(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    fn try_start(&mut self) -> Result<(), String> {
        // fsync off: these clusters hold test data only, and with it on a restart after an
        // immediate stop first fsyncs the whole data directory (seconds on a loaded CI disk).
        // The sessions' synchronous_commit, which the gateway sets, is unaffected.
        let options = format!(
            "-p {} -c listen_addresses=127.0.0.1 -c unix_socket_directories='' -c max_connections=100 -c fsync=off",
            self.port
        );
        let log = self.dir.path().join("server.log");
        let out = as_server_user(&self.bin.join("pg_ctl"))
            .arg("-D")
            .arg(self.data())
            .arg("-l")
            .arg(&log)
            .args(["-o", &options, "-w", "-t", &START_LIMIT.as_secs().to_string(), "start"])
            .output()
            .map_err(|e| e.to_string())?;
        if !out.status.success() {
            // A failed start can leave a server that came up later; stop it before another try.
            let _ = self.pg_ctl_stop();
            return Err(format!(
                "{}\n{}",
                String::from_utf8_lossy(&out.stderr),
                std::fs::read_to_string(&log).unwrap_or_default()
            ));
        }
        self.running = true;
        self.wait_ready()
    }

    /// pg_ctl -w already waited; a connection attempt by `pg_isready` confirms the port is this
    /// server's before a test uses it.
    fn wait_ready(&self) -> Result<(), String> {
        let deadline = Instant::now() + START_LIMIT;
        loop {
            let out = Command::new(self.bin.join("pg_isready"))
                .args(["-h", "127.0.0.1", "-p", &self.port.to_string(), "-U", "postgres", "-d", "postgres", "-t", "5"])
                .output()
                .map_err(|e| e.to_string())?;
            if out.status.success() {
                return Ok(());
            }
            if Instant::now() > deadline {
                return Err(format!("not ready: {}", String::from_utf8_lossy(&out.stdout)));
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    fn pg_ctl_stop(&self) -> Output {
        as_server_user(&self.bin.join("pg_ctl"))
            .arg("-D")
            .arg(self.data())
            .args(["-m", "immediate", "-w", "stop"])
            .output()
            .expect("run pg_ctl stop")
    }

    /// The URL of database `db` as the superuser.
    pub fn url(&self, db: &str) -> String {
        self.url_as("postgres", db)
    }

    /// The URL of database `db` as `user` (trust authentication: no password).
    pub fn url_as(&self, user: &str, db: &str) -> String {
        format!("postgresql://{user}@127.0.0.1:{}/{db}", self.port)
    }

    /// Create a database for one test.
    pub fn create_db(&self, name: &str) -> String {
        self.sql("postgres", &format!("CREATE DATABASE {name}"));
        self.url(name)
    }

    /// Run SQL with `psql` as the superuser; the rows of the last statement, `|`-separated.
    pub fn sql(&self, db: &str, sql: &str) -> Vec<String> {
        self.sql_as("postgres", db, sql).unwrap_or_else(|e| panic!("{sql}: {e}"))
    }

    /// Run SQL with `psql` as `user`; the server's error text when it refuses.
    pub fn sql_as(&self, user: &str, db: &str, sql: &str) -> Result<Vec<String>, String> {
        let out = Command::new(self.bin.join("psql"))
            .args(["-X", "-q", "-At", "-v", "ON_ERROR_STOP=1", "-d", &self.url_as(user, db), "-c", sql])
            .output()
            .expect("run psql");
        if !out.status.success() {
            return Err(String::from_utf8_lossy(&out.stderr).into_owned());
        }
        Ok(String::from_utf8_lossy(&out.stdout).lines().map(str::to_string).collect())
    }

    /// Stop the server at once (as a crash or a lost database host would).
    pub fn stop(&mut self) {
        if self.running {
            check(&self.pg_ctl_stop(), "pg_ctl stop");
            self.running = false;
        }
    }

    /// Start the stopped server again on the same port.
    pub fn restart(&mut self) {
        self.try_start().unwrap_or_else(|e| panic!("PostgreSQL did not start again: {e}"));
    }
}

impl Drop for PgCluster {
    fn drop(&mut self) {
        if self.running {
            let _ = self.pg_ctl_stop();
        }
    }
}

/// `cmd` run as the unprivileged user when the tests run as root, else as is.
fn as_server_user(cmd: &Path) -> Command {
    if running_as_root() {
        let mut c = Command::new("runuser");
        c.args(["-u", UNPRIVILEGED, "--"]).arg(cmd);
        c
    } else {
        Command::new(cmd)
    }
}

/// The numeric user (`-u`) or group (`-g`) id of [`UNPRIVILEGED`].
fn lookup_id(which: &str) -> u32 {
    let out = Command::new("id").args([which, UNPRIVILEGED]).output().expect("run id");
    check(&out, "id");
    String::from_utf8_lossy(&out.stdout).trim().parse().expect("a numeric id")
}

fn check(out: &Output, what: &str) {
    assert!(
        out.status.success(),
        "{what} failed: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn a_throwaway_cluster_starts_answers_and_is_gone_after_drop() {
    let mut pg = PgCluster::start();
    pg.create_db("probe");
    assert_eq!(pg.sql("probe", "SELECT 1 + 1"), ["2"]);
    assert_eq!(pg.sql("probe", "SHOW synchronous_commit"), ["on"]);
    pg.stop();
    assert!(pg.sql_as("postgres", "probe", "SELECT 1").is_err(), "a stopped server still answers");
    pg.restart();
    assert_eq!(pg.sql("probe", "SELECT 2"), ["2"]);
    let dir = pg.dir.path().to_path_buf();
    // The postmaster's pid is the first line of postmaster.pid (a port could be reused at once
    // by another test's cluster, a pid not).
    let pid = std::fs::read_to_string(pg.data().join("postmaster.pid")).unwrap().lines().next().unwrap().to_string();
    assert!(alive(&pid));
    drop(pg);
    assert!(!dir.exists(), "the cluster's directory is left behind");
    assert!(!alive(&pid), "the server {pid} still runs");
}

/// Whether process `pid` runs (a zombie left for a parent that does not reap it does not).
fn alive(pid: &str) -> bool {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status.lines().any(|l| l.starts_with("State:") && !l.contains("zombie"))
}
