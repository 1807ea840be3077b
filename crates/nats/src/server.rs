//! A `nats-server` child process on a free loopback port.

use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Environment variable naming the nats-server binary (default: `nats-server` on PATH).
pub const BINARY_ENV: &str = "CLIFFLOAD_NATS_SERVER";

const READY_DEADLINE: Duration = Duration::from_secs(10);
const INSTALL_HINT: &str = "install it (Debian/Ubuntu: `sudo apt-get install nats-server`; \
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

/// Why the managed server could not start.
#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    /// The binary is not there.
    #[error(
        "cannot find `{binary}` on PATH or in /usr/sbin, /usr/local/sbin, /sbin: {INSTALL_HINT}"
    )]
    NotFound {
        /// What was looked for.
        binary: String,
    },
    /// It started but did not get ready, or exited.
    #[error("nats-server did not start: {reason}\n--- nats-server log (last lines) ---\n{log}")]
    Failed {
        /// What happened.
        reason: String,
        /// The tail of its log.
        log: String,
    },
    /// Local I/O (temp dir, spawn).
    #[error("cannot run nats-server: {0}")]
    Io(#[from] std::io::Error),
}

/// A running `nats-server` bound to 127.0.0.1 on a free port, with
/// monitoring on another free port. Killed and reaped on drop.
#[derive(Debug)]
pub struct NatsServer {
    child: Option<Child>,
    dir: tempfile::TempDir,
    binary: String,
    port: u16,
    url: String,
    monitor_url: String,
}

impl NatsServer {
    /// Starts a server on a free port and waits until it accepts clients.
    pub fn start() -> Result<Self, ServerError> {
        let binary = std::env::var(BINARY_ENV).unwrap_or_else(|_| {
            locate(std::env::var_os("PATH").as_deref())
                .map_or_else(|| "nats-server".to_owned(), |p| p.display().to_string())
        });
        let dir = tempfile::Builder::new()
            .prefix("cliffload-nats-")
            .tempdir()?;
        let mut server = Self {
            child: None,
            dir,
            binary,
            port: 0,
            url: String::new(),
            monitor_url: String::new(),
        };
        server.spawn("-1")?;
        Ok(server)
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
    pub fn restart(&mut self) -> Result<(), ServerError> {
        self.stop();
        self.spawn(&self.port.to_string())
    }

    fn spawn(&mut self, port: &str) -> Result<(), ServerError> {
        let ports_dir = self.dir.path().join("ports");
        let _ = std::fs::remove_dir_all(&ports_dir);
        std::fs::create_dir_all(&ports_dir)?;
        let log_path = self.dir.path().join("nats-server.log");
        let log = std::fs::File::create(&log_path)?;
        let child = Command::new(&self.binary)
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
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            // Its own process group: a terminal's Ctrl-C reaches cliffload,
            // which finishes in-flight requests and then stops the server,
            // instead of the server dying under the run.
            .process_group(0)
            .spawn()
            .map_err(|e| match e.kind() {
                std::io::ErrorKind::NotFound => ServerError::NotFound {
                    binary: self.binary.clone(),
                },
                _ => ServerError::Io(e),
            })?;
        self.child = Some(child);
        match self.wait_ready(&ports_dir, &log_path) {
            Ok(()) => Ok(()),
            Err(e) => {
                self.stop();
                Err(e)
            }
        }
    }

    /// Waits for the ports file, which nats-server writes once it listens.
    fn wait_ready(&mut self, ports_dir: &Path, log: &Path) -> Result<(), ServerError> {
        let deadline = Instant::now() + READY_DEADLINE;
        loop {
            if let Some(status) = self
                .child
                .as_mut()
                .and_then(|c| c.try_wait().ok().flatten())
            {
                return Err(ServerError::Failed {
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
                return Ok(());
            }
            if Instant::now() > deadline {
                return Err(ServerError::Failed {
                    reason: format!("no ports file within {READY_DEADLINE:?}"),
                    log: tail(log),
                });
            }
            // Polling a readiness signal (the file), not sleeping in its place.
            std::thread::sleep(Duration::from_millis(5));
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
