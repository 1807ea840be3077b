//! A `nats-server` child process on a free loopback port.

use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::error::NatsError;

/// Environment variable naming the nats-server binary (default: `nats-server` on PATH).
pub const BINARY_ENV: &str = "CLIFFLOAD_NATS_SERVER";

const READY_DEADLINE: Duration = Duration::from_secs(10);
pub(crate) const INSTALL_HINT: &str = "install it (Debian/Ubuntu: `sudo apt-get install nats-server`; \
macOS: `brew install nats-server`; or see https://docs.nats.io/running-a-nats-service/introduction/installation), \
set CLIFFLOAD_NATS_SERVER to its path, or pass --nats-url to use a running server";

/// Where Debian's package (`/usr/sbin`) and hand installs put nats-server,
/// off a normal user's PATH: looked in after PATH.
const SBIN_DIRS: [&str; 3] = ["/usr/sbin", "/usr/local/sbin", "/sbin"];

/// The nats-server binary: the first on `path`, else in an sbin directory
/// (where `apt-get install nats-server` puts it, not on a non-root PATH).
pub fn locate(path: Option<&std::ffi::OsStr>) -> Option<PathBuf> {
    let on_path = path.into_iter().flat_map(std::env::split_paths);
    on_path
        .chain(SBIN_DIRS.iter().map(PathBuf::from))
        .map(|dir| dir.join("nats-server"))
        .find(|candidate| candidate.is_file())
}

/// Where util-linux installs `setpriv`.
const SETPRIV: [&str; 2] = ["/usr/bin/setpriv", "/bin/setpriv"];

/// A launcher ([`NatsServer::start_via`]) that kills the server when the
/// thread that started it ends, however this process ends: util-linux's
/// `setpriv --pdeathsig KILL --` (Debian and Ubuntu always have it); empty
/// when it is not installed.
///
/// For processes other than cliffload, which has `cliffload __child` for
/// this: test binaries and cliffload-bench. The server is in its own process
/// group, so a terminal's Ctrl-C does not reach it, and a test binary that
/// dies of that Ctrl-C runs no destructor: without this, `cargo test`
/// interrupted left its servers running. Start servers on a thread that
/// outlives them (a test's own thread; not `spawn_blocking`, whose threads
/// end when idle).
pub fn setpriv_launcher() -> Vec<std::ffi::OsString> {
    SETPRIV
        .iter()
        .find(|p| Path::new(p).is_file())
        .map(|p| vec![p.into(), "--pdeathsig".into(), "KILL".into(), "--".into()])
        .unwrap_or_default()
}

/// Temp folders of managed servers: `cliffload-nats-<pid of cliffload>-…`.
const DIR_PREFIX: &str = "cliffload-nats-";

/// Removes the temp folders left by cliffload processes that no longer run
/// (killed with SIGKILL, their server with them: nothing else could clean up).
fn remove_stale_dirs(tmp: &Path) {
    // Without /proc, "no longer runs" cannot be told: leave everything.
    if !Path::new("/proc/self").exists() {
        return;
    }
    let Ok(entries) = std::fs::read_dir(tmp) else {
        return;
    };
    for e in entries.flatten() {
        let name = e.file_name();
        let Some(pid) = name
            .to_str()
            .and_then(|n| n.strip_prefix(DIR_PREFIX))
            .and_then(|rest| rest.split('-').next())
            .and_then(|p| p.parse::<u32>().ok())
        else {
            continue;
        };
        if !Path::new(&format!("/proc/{pid}")).exists() {
            let _ = std::fs::remove_dir_all(e.path());
        }
    }
}

/// A running `nats-server` bound to 127.0.0.1 on a free port, with
/// monitoring on another free port. Killed and reaped on drop.
#[derive(Debug)]
pub struct NatsServer {
    child: Option<Child>,
    dir: tempfile::TempDir,
    binary: String,
    /// A command the server is started through (it execs the server), e.g.
    /// one that makes it die with this process; empty: started directly.
    launcher: Vec<std::ffi::OsString>,
    /// A configuration file (auth, TLS) passed with `-c`, if any.
    config: Option<PathBuf>,
    /// JetStream on (`-js`), its store in this server's own folder.
    jetstream: bool,
    port: u16,
    url: String,
    monitor_url: String,
}

impl NatsServer {
    /// Starts a server on a free port and waits until it accepts clients.
    pub fn start() -> Result<Self, NatsError> {
        Self::start_via(Vec::new())
    }

    /// Like [`NatsServer::start`], through `launcher` (a program and its
    /// first arguments; the server's command line follows them), which must
    /// end by exec'ing it: e.g. `cliffload __child PID`, which ties the
    /// server's life to this process's even when this one is SIGKILLed.
    pub fn start_via(launcher: Vec<std::ffi::OsString>) -> Result<Self, NatsError> {
        Self::start_full(launcher, None)
    }

    /// [`NatsServer::start_via`] with JetStream on, its store in the
    /// server's own temporary folder (removed with it).
    pub fn start_jetstream_via(launcher: Vec<std::ffi::OsString>) -> Result<Self, NatsError> {
        let mut server = Self::prepare(launcher, None)?;
        server.jetstream = true;
        server.spawn("-1")?;
        Ok(server)
    }

    /// Starts a server with `config` (nats-server configuration text: an
    /// `authorization` or `tls` block, say; not its port, which is chosen
    /// here), for tests of secured deployments.
    pub fn start_with_config(config: &str) -> Result<Self, NatsError> {
        Self::start_full(Vec::new(), Some(config))
    }

    /// [`NatsServer::start_with_config`] through `launcher` (as [`NatsServer::start_via`]).
    pub fn start_with_config_via(
        launcher: Vec<std::ffi::OsString>,
        config: &str,
    ) -> Result<Self, NatsError> {
        Self::start_full(launcher, Some(config))
    }

    /// [`NatsServer::start_via`] without blocking the async runtime: the
    /// process is spawned from the calling thread (which a launcher ties
    /// its life to, so not a pool thread that may exit), and its readiness
    /// is awaited, so Ctrl-C and timers go on meanwhile. With `jetstream`,
    /// JetStream is on, its store in the server's own temporary folder.
    pub async fn start_via_async(
        launcher: Vec<std::ffi::OsString>,
        jetstream: bool,
    ) -> Result<Self, NatsError> {
        let mut server = Self::prepare(launcher, None)?;
        server.jetstream = jetstream;
        let (ports_dir, log) = server.launch("-1")?;
        let deadline = Instant::now() + READY_DEADLINE;
        loop {
            match server.poll_ready(&ports_dir, &log, deadline) {
                Ok(true) => return Ok(server),
                // Polling a readiness signal (the file), not sleeping in its place.
                Ok(false) => tokio::time::sleep(Duration::from_millis(5)).await,
                Err(e) => {
                    server.stop();
                    return Err(e);
                }
            }
        }
    }

    fn start_full(
        launcher: Vec<std::ffi::OsString>,
        config: Option<&str>,
    ) -> Result<Self, NatsError> {
        let mut server = Self::prepare(launcher, config)?;
        server.spawn("-1")?;
        Ok(server)
    }

    /// A server not yet started: its folder, binary and configuration.
    fn prepare(launcher: Vec<std::ffi::OsString>, config: Option<&str>) -> Result<Self, NatsError> {
        remove_stale_dirs(&std::env::temp_dir());
        let binary = std::env::var(BINARY_ENV).unwrap_or_else(|_| {
            locate(std::env::var_os("PATH").as_deref())
                .map_or_else(|| "nats-server".to_owned(), |p| p.display().to_string())
        });
        let dir = tempfile::Builder::new()
            .prefix(&format!("{DIR_PREFIX}{}-", std::process::id()))
            .tempdir()
            .map_err(|error| NatsError::TempDir {
                tmp: std::env::temp_dir(),
                error,
            })?;
        let config = match config {
            Some(text) => {
                let path = dir.path().join("server.conf");
                std::fs::write(&path, text).map_err(NatsError::ServerIo)?;
                Some(path)
            }
            None => None,
        };
        Ok(Self {
            child: None,
            dir,
            binary,
            launcher,
            config,
            jetstream: false,
            port: 0,
            url: String::new(),
            monitor_url: String::new(),
        })
    }

    /// `nats://127.0.0.1:PORT`.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// `http://127.0.0.1:PORT` of the monitoring endpoint (`/varz`, `/connz`).
    pub fn monitor_url(&self) -> &str {
        &self.monitor_url
    }

    /// The process id, while running.
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    /// Kills the server (clients see it go away). [`NatsServer::restart`] brings it back.
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts the server again on the same port, so clients can reconnect.
    pub fn restart(&mut self) -> Result<(), NatsError> {
        self.stop();
        self.spawn(&self.port.to_string())
    }

    fn spawn(&mut self, port: &str) -> Result<(), NatsError> {
        let (ports_dir, log_path) = self.launch(port)?;
        match self.wait_ready(&ports_dir, &log_path) {
            Ok(()) => Ok(()),
            Err(e) => {
                self.stop();
                Err(e)
            }
        }
    }

    /// Starts the process on `port`; where its ports file and log will be.
    fn launch(&mut self, port: &str) -> Result<(PathBuf, PathBuf), NatsError> {
        let ports_dir = self.dir.path().join("ports");
        let _ = std::fs::remove_dir_all(&ports_dir);
        std::fs::create_dir_all(&ports_dir).map_err(NatsError::ServerIo)?;
        let log_path = self.dir.path().join("nats-server.log");
        let log = std::fs::File::create(&log_path).map_err(NatsError::ServerIo)?;
        let mut command = match self.launcher.split_first() {
            Some((program, first)) => {
                let mut c = Command::new(program);
                c.args(first).arg(&self.binary);
                c
            }
            None => Command::new(&self.binary),
        };
        let child = command
            .args([
                "-a",
                "127.0.0.1",
                "-p",
                port,
                "-m",
                "-1",
                "--ports_file_dir",
            ])
            .arg(&ports_dir)
            .args(
                self.config
                    .iter()
                    .flat_map(|c| [std::ffi::OsStr::new("-c"), c.as_os_str()]),
            )
            .args(self.jetstream_args())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            // Its own process group: a terminal's Ctrl-C reaches cliffload,
            // which finishes in-flight requests and then stops the server,
            // instead of the server dying under the run.
            .process_group(0)
            .spawn()
            .map_err(|e| match e.kind() {
                std::io::ErrorKind::NotFound => NatsError::ServerNotFound {
                    binary: self.binary.clone(),
                },
                _ => NatsError::ServerIo(e),
            })?;
        self.child = Some(child);
        Ok((ports_dir, log_path))
    }

    /// `-js -sd DIR` when JetStream is on: its store in this server's folder.
    fn jetstream_args(&self) -> Vec<std::ffi::OsString> {
        if !self.jetstream {
            return Vec::new();
        }
        let store = self.dir.path().join("jetstream");
        vec!["-js".into(), "-sd".into(), store.into_os_string()]
    }

    /// Waits for the ports file, which nats-server writes once it listens.
    fn wait_ready(&mut self, ports_dir: &Path, log: &Path) -> Result<(), NatsError> {
        let deadline = Instant::now() + READY_DEADLINE;
        while !self.poll_ready(ports_dir, log, deadline)? {
            // Polling a readiness signal (the file), not sleeping in its place.
            std::thread::sleep(Duration::from_millis(5));
        }
        Ok(())
    }

    /// Whether the server listens yet (its ports file is there); an error
    /// when it exited or `deadline` passed.
    fn poll_ready(
        &mut self,
        ports_dir: &Path,
        log: &Path,
        deadline: Instant,
    ) -> Result<bool, NatsError> {
        {
            if let Some(status) = self
                .child
                .as_mut()
                .and_then(|c| c.try_wait().ok().flatten())
            {
                // A launcher that could not exec the server exits 127, as a shell does.
                if !self.launcher.is_empty() && status.code() == Some(127) {
                    return Err(NatsError::ServerNotFound {
                        binary: self.binary.clone(),
                    });
                }
                return Err(NatsError::ServerFailed {
                    reason: format!("it exited with {status}"),
                    log: tail(log),
                });
            }
            if let Some((url, monitor)) = read_ports(ports_dir) {
                self.port = url
                    .rsplit(':')
                    .next()
                    .and_then(|p| p.parse().ok())
                    .unwrap_or(0);
                self.url = url;
                self.monitor_url = monitor;
                return Ok(true);
            }
            if Instant::now() > deadline {
                return Err(NatsError::ServerFailed {
                    reason: format!("no ports file within {READY_DEADLINE:?}"),
                    log: tail(log),
                });
            }
            Ok(false)
        }
    }
}

impl Drop for NatsServer {
    fn drop(&mut self) {
        self.stop();
    }
}

fn read_ports(dir: &Path) -> Option<(String, String)> {
    let file: PathBuf = std::fs::read_dir(dir)
        .ok()?
        .filter_map(Result::ok)
        .map(|e| e.path())
        .find(|p| p.extension().is_some_and(|x| x == "ports"))?;
    let v: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(file).ok()?).ok()?;
    let first = |key: &str| v.get(key)?.get(0)?.as_str().map(str::to_owned);
    Some((first("nats")?, first("monitoring").unwrap_or_default()))
}

fn tail(log: &Path) -> String {
    let text = std::fs::read_to_string(log).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(15)..].join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn folders_of_dead_cliffload_processes_are_removed_and_live_ones_kept() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let dead = tmp.path().join(format!("{DIR_PREFIX}4000000000-abc"));
        let live = tmp
            .path()
            .join(format!("{DIR_PREFIX}{}-def", std::process::id()));
        let other = tmp.path().join("cliffload-nats-notapid");
        for d in [&dead, &live, &other] {
            std::fs::create_dir_all(d.join("ports")).expect("mkdir");
        }
        remove_stale_dirs(tmp.path());
        assert!(!dead.exists());
        assert!(live.exists() && other.exists());
    }

    /// Whether process `pid` has ended (gone, or a zombie not yet reaped).
    fn ended(pid: u32) -> bool {
        std::fs::read_to_string(format!("/proc/{pid}/stat")).map_or(true, |s| {
            s.rsplit_once(')')
                .is_some_and(|(_, r)| r.trim_start().starts_with('Z'))
        })
    }

    /// Starts a server on a thread that ends without dropping it (as a
    /// process killed by a signal would); its pid, after the thread ended.
    fn started_by_a_thread_that_ends(launcher: Vec<std::ffi::OsString>) -> u32 {
        std::thread::spawn(move || {
            let server = NatsServer::start_via(launcher).expect("nats-server starts");
            let pid = server.pid().expect("running");
            std::mem::forget(server);
            pid
        })
        .join()
        .expect("thread")
    }

    #[test]
    fn through_setpriv_a_server_dies_with_the_thread_that_started_it() {
        let launcher = setpriv_launcher();
        assert!(
            !launcher.is_empty(),
            "util-linux's setpriv is installed here"
        );
        let tied = started_by_a_thread_that_ends(launcher);
        let deadline = Instant::now() + Duration::from_secs(5);
        while !ended(tied) {
            assert!(
                Instant::now() < deadline,
                "server {tied} outlived its thread"
            );
            std::thread::sleep(Duration::from_millis(10));
        }
        // Without it, the server outlives the thread: the launcher is what ties it.
        let free = started_by_a_thread_that_ends(Vec::new());
        std::thread::sleep(Duration::from_millis(200));
        let outlived = !ended(free);
        let _ = Command::new("kill")
            .args(["-KILL", &free.to_string()])
            .status();
        assert!(outlived, "an untied server died with its thread");
    }

    #[test]
    fn finds_nats_server_off_path_in_an_sbin_directory_or_says_none() {
        let dir = tempfile::tempdir().expect("tempdir");
        let fake = dir.path().join("nats-server");
        std::fs::write(&fake, b"").expect("write");
        let path = std::env::join_paths([dir.path()]).expect("path");
        assert_eq!(locate(Some(&path)), Some(fake));
        // With an empty PATH only the sbin directories are searched.
        let found = locate(Some(std::ffi::OsStr::new("")));
        let installed = SBIN_DIRS
            .iter()
            .any(|d| Path::new(d).join("nats-server").is_file());
        assert_eq!(found.is_some(), installed, "{found:?}");
    }
}
