//! [`NatsError`]: everything this crate can fail with, one variant per
//! cause a caller may want to act on (a refused connection is not bad
//! credentials, which is not a TLS problem).

use std::path::PathBuf;

/// Why reaching, logging in to, checking or starting a NATS server failed.
///
/// Each message says what failed and what to check. None holds a secret:
/// URLs are masked and credentials are named by [`who`](crate::NatsAccess::who).
/// Errors from below (I/O, async-nats) are quoted in the message rather than
/// returned by `source()`, so printing the chain (`{:#}`) does not repeat them.
#[derive(Debug, thiserror::Error)]
pub enum NatsError {
    /// A JetStream API call (creating a stream, reading a consumer) failed.
    #[error("{what}: {why}")]
    JetStream {
        /// What was being done.
        what: String,
        /// Why it failed, and what to check.
        why: String,
    },
    /// The subscription to an observed subject (`observe:`) failed.
    #[error("cannot subscribe to {subject} (the subject a task observes): {error}")]
    Subscribe {
        /// The subject.
        subject: String,
        /// What async-nats said.
        error: String,
    },
    /// A server URL that does not parse, or would be read wrongly (its
    /// user info masked).
    #[error(
        "not a NATS URL: {url} ({problem}){}",
        if *.userinfo { PERCENT_ENCODE } else { "" }
    )]
    BadUrl {
        /// The whole argument, each URL's user info replaced by `***`.
        url: String,
        /// What is wrong with it.
        problem: String,
        /// Whether it has user info (then the usual cause is a character
        /// of a password that needed percent-encoding).
        userinfo: bool,
    },
    /// Two server URLs carry different credentials: which to use is a guess.
    #[error("the server URLs carry different credentials: give them once")]
    DifferentCredentials,
    /// No server URL at all.
    #[error("no server URL given")]
    NoServer,
    /// A file named by a flag (`--nkey`, `--tls-ca`, …) cannot be read.
    #[error("{flag} {}: cannot read it ({error})", path.display())]
    Unreadable {
        /// The flag that named it.
        flag: &'static str,
        /// The file.
        path: PathBuf,
        /// Why it cannot be read.
        error: std::io::Error,
    },
    /// The `--nkey` file holds no user seed.
    #[error("--nkey {}: no user NKey seed (a line starting with SU) in it", path.display())]
    NoNKeySeed {
        /// The file.
        path: PathBuf,
    },
    /// The `--creds` file is missing or not a credentials file.
    #[error("--creds {}: not a NATS credentials file ({error})", path.display())]
    NotCredentialsFile {
        /// The file.
        path: PathBuf,
        /// What async-nats found wrong with it.
        error: std::io::Error,
    },
    /// The TLS handshake or set-up failed.
    #[error("cannot connect to {servers}: TLS: {hint} ({detail})")]
    Tls {
        /// The servers tried.
        servers: String,
        /// What to do about it, read from the error's words.
        hint: &'static str,
        /// What async-nats said.
        detail: String,
    },
    /// The server refused the credentials.
    #[error(
        "cannot connect to {servers}: authorization violation: the server refused these credentials ({who}); check --user/--password, --token, --nkey or --creds"
    )]
    Authorization {
        /// The servers tried.
        servers: String,
        /// Who tried to log in (never the secret).
        who: String,
    },
    /// Signing the server's nonce failed (a bad NKey seed or credentials file).
    #[error(
        "cannot connect to {servers}: could not sign in with {who}{}; check the NKey seed or credentials file",
        colon(.cause)
    )]
    Authentication {
        /// The servers tried.
        servers: String,
        /// Who tried to log in (never the secret).
        who: String,
        /// What async-nats said went wrong, if anything.
        cause: Option<String>,
    },
    /// No server answered within the connection timeout.
    #[error(
        "cannot connect to {servers}: no answer within 5 s; is nats-server running there, and is the port reachable?"
    )]
    TimedOut {
        /// The servers tried.
        servers: String,
    },
    /// Nothing listens there: the connection was refused.
    #[error("cannot connect to {servers}: {detail}; is nats-server running there?")]
    Refused {
        /// The servers tried.
        servers: String,
        /// What async-nats said.
        detail: String,
    },
    /// A host name that does not resolve.
    #[error("cannot connect to {servers}: {detail}; is nats-server running there?")]
    Dns {
        /// The servers tried.
        servers: String,
        /// What async-nats said.
        detail: String,
    },
    /// Any other failure to reach a server (I/O, the server's reply).
    #[error("cannot connect to {servers}: {detail}; is nats-server running there?")]
    Unreachable {
        /// The servers tried.
        servers: String,
        /// What async-nats said.
        detail: String,
    },
    /// A task's smoke call shows the run would measure nothing useful.
    #[error("preflight: task {task:?} on subject {subject:?}: {problem}")]
    Preflight {
        /// Task name.
        task: String,
        /// Its subject.
        subject: String,
        /// What came back and what to do.
        problem: String,
    },
    /// The nats-server binary is not there.
    #[error(
        "cannot find `{binary}` on PATH or in /usr/sbin, /usr/local/sbin, /sbin: {}",
        crate::server::INSTALL_HINT
    )]
    ServerNotFound {
        /// What was looked for.
        binary: String,
    },
    /// The managed nats-server started but did not get ready, or exited.
    #[error("nats-server did not start: {reason}\n--- nats-server log (last lines) ---\n{log}")]
    ServerFailed {
        /// What happened.
        reason: String,
        /// The tail of its log.
        log: String,
    },
    /// The managed server's folder could not be made in the temp directory.
    #[error(
        "cannot make a folder for nats-server in {}: {error}; set TMPDIR to a writable directory",
        tmp.display()
    )]
    TempDir {
        /// The temp directory (`TMPDIR`, else /tmp).
        tmp: PathBuf,
        /// Why.
        error: std::io::Error,
    },
    /// Other local I/O around the managed server (its files, the spawn).
    #[error("cannot run nats-server: {0}")]
    ServerIo(std::io::Error),
}

impl NatsError {
    /// True when no server could be reached: refused, no answer, a name
    /// that does not resolve, other I/O. What a wrong URL or a stopped
    /// server gives.
    pub fn is_unreachable(&self) -> bool {
        matches!(
            self,
            Self::TimedOut { .. }
                | Self::Refused { .. }
                | Self::Dns { .. }
                | Self::Unreachable { .. }
        )
    }
}

/// The characters of a user, password or token that end it, or the URL,
/// early, and how to write them.
const PERCENT_ENCODE: &str =
    "; in a user, password or token, write , @ / : # ? % as %2C %40 %2F %3A %23 %3F %25";

/// `: cause`, or nothing.
fn colon(cause: &Option<String>) -> String {
    cause
        .as_ref()
        .map_or_else(String::new, |c| format!(": {c}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn authentication_quotes_its_cause_only_when_there_is_one() {
        let e = |cause: Option<&str>| NatsError::Authentication {
            servers: "nats://h:1".into(),
            who: "the NKey seed in u.nk".into(),
            cause: cause.map(str::to_owned),
        };
        assert_eq!(
            e(None).to_string(),
            "cannot connect to nats://h:1: could not sign in with the NKey seed in u.nk; check the NKey seed or credentials file"
        );
        assert_eq!(
            e(Some("bad seed")).to_string(),
            "cannot connect to nats://h:1: could not sign in with the NKey seed in u.nk: bad seed; check the NKey seed or credentials file"
        );
    }

    #[test]
    fn errors_from_below_are_quoted_not_chained() {
        let e = NatsError::Unreadable {
            flag: "--tls-ca",
            path: "ca.pem".into(),
            error: std::io::Error::from(std::io::ErrorKind::NotFound),
        };
        assert_eq!(
            e.to_string(),
            "--tls-ca ca.pem: cannot read it (entity not found)"
        );
        // `{:#}` through anyhow walks `source()`: the cause must not print twice.
        assert!(std::error::Error::source(&e).is_none());
    }
}
