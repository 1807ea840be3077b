//! A real PostgreSQL server for one test: `initdb` into a temp folder,
//! `postgres` on a free loopback port, killed on drop (and with the test's
//! thread, through `setpriv --pdeathsig`). Debian's `postgresql` package
//! puts the programs in `/usr/lib/postgresql/<version>/bin`.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A running PostgreSQL server; `url()` logs in without a password.
#[derive(Debug)]
pub struct PgServer {
    child: Option<Child>,
    url: String,
    port: u16,
    _dir: tempfile::TempDir,
}

/// The folder holding `initdb` and `postgres`: the newest under Debian's
/// `/usr/lib/postgresql`, else the PATH's.
fn bin_dir() -> Option<PathBuf> {
    let mut versions: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.path().join("bin"))
        .filter(|b| b.join("postgres").is_file() && b.join("initdb").is_file())
        .collect();
    versions.sort_by_key(|p| {
        p.parent()
            .and_then(|v| v.file_name())
            .and_then(|v| v.to_str())
            .and_then(|v| v.parse::<u32>().ok())
    });
    versions.pop().or_else(|| {
        std::env::var_os("PATH").and_then(|paths| {
            std::env::split_paths(&paths)
                .find(|d| d.join("postgres").is_file() && d.join("initdb").is_file())
        })
    })
}

/// PostgreSQL refuses to run as root: then it runs as the `postgres` user
/// (Debian's package makes it), else `nobody`.
fn run_as() -> Option<(u32, u32)> {
    if rustix::process::geteuid().is_root() {
        let passwd = std::fs::read_to_string("/etc/passwd").unwrap_or_default();
        let find = |name: &str| {
            passwd.lines().find_map(|l| {
                let f: Vec<&str> = l.split(':').collect();
                if f.first() != Some(&name) {
                    return None;
                }
                Some((f.get(2)?.parse().ok()?, f.get(3)?.parse().ok()?))
            })
        };
        Some(
            find("postgres")
                .or_else(|| find("nobody"))
                .unwrap_or((65534, 65534)),
        )
    } else {
        None
    }
}

fn command(bin: &Path, user: Option<(u32, u32)>) -> Command {
    let launcher = cliffload_nats::setpriv_launcher();
    let mut c = match (launcher.split_first(), user) {
        (Some((setpriv, rest)), Some((uid, gid))) => {
            let mut c = Command::new(setpriv);
            c.args([
                "--reuid",
                &uid.to_string(),
                "--regid",
                &gid.to_string(),
                "--clear-groups",
            ]);
            c.args(rest).arg(bin);
            c
        }
        (Some((setpriv, rest)), None) => {
            let mut c = Command::new(setpriv);
            c.args(rest).arg(bin);
            c
        }
        (None, _) => Command::new(bin),
    };
    c.stdin(Stdio::null());
    c
}

impl PgServer {
    /// Starts one, or fails the test saying what to install.
    pub fn start() -> Self {
        let bin = bin_dir().unwrap_or_else(|| {
            panic!("the history tests need PostgreSQL's server programs (initdb, postgres): apt-get install postgresql")
        });
        let user = run_as();
        let dir = tempfile::tempdir().expect("a temp folder");
        if let Some((uid, gid)) = user {
            std::os::unix::fs::chown(dir.path(), Some(uid), Some(gid))
                .expect("chown the temp folder");
        }
        let data = dir.path().join("data");
        let init = command(&bin.join("initdb"), user)
            .args(["-D"])
            .arg(&data)
            .args([
                "-U",
                "cliffload",
                "--auth=trust",
                "-E",
                "UTF8",
                "--no-sync",
                "--no-instructions",
            ])
            .output()
            .expect("initdb runs");
        assert!(
            init.status.success(),
            "initdb failed: {}",
            String::from_utf8_lossy(&init.stderr)
        );
        let port = crate::free_port();
        let child = command(&bin.join("postgres"), user)
            .arg("-D")
            .arg(&data)
            .args([
                "-p",
                &port.to_string(),
                "-c",
                "listen_addresses=127.0.0.1",
                "-c",
                "fsync=off",
                "-c",
                "full_page_writes=off",
            ])
            .arg("-k")
            .arg(dir.path())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("postgres starts");
        let mut s = Self {
            child: Some(child),
            url: format!("postgres://cliffload@127.0.0.1:{port}/postgres"),
            port,
            _dir: dir,
        };
        s.wait_ready();
        s
    }

    /// Waits (20 s at most) until the server takes a login.
    fn wait_ready(&mut self) {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if let Some(Ok(Some(status))) = self.child.as_mut().map(Child::try_wait) {
                panic!("postgres exited at start: {status}");
            }
            // The port answers before the server takes logins: a query says it does.
            let ready = std::net::TcpStream::connect(("127.0.0.1", self.port)).is_ok()
                && Command::new(self.psql())
                    .args([&self.url, "-c", "SELECT 1", "-q"])
                    .stdout(Stdio::null())
                    .stderr(Stdio::null())
                    .status()
                    .is_ok_and(|s| s.success());
            if ready {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "postgres did not take logins within 20 s"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    fn psql(&self) -> PathBuf {
        bin_dir().map_or_else(|| PathBuf::from("psql"), |b| b.join("psql"))
    }

    /// `postgres://cliffload@127.0.0.1:PORT/postgres`.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// Stops the server now (a history that went away).
    pub fn stop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

impl Drop for PgServer {
    fn drop(&mut self) {
        self.stop();
    }
}
