//! Every run remembered: a store of runs (an embedded SQLite file by
//! default, a PostgreSQL database for a team that shares one), one schema
//! with versioned migrations behind one interface, [`History`].
//!
//! A run is stored once, after it ran: a row of its figures (scenario, its
//! content hash, load, label, verdict and checks, totals), a row per task
//! with its latency histogram (HdrHistogram V2, so later percentiles are
//! exact), and the whole `result.json`. What the rows mean (trends,
//! `--baseline history`, diffs) is `cliffload_report`'s business
//! ([`cliffload_report::trend`]); this crate only keeps them.
//!
//! The store is synchronous (the PostgreSQL client runs its own small
//! runtime): call it off an async runtime, e.g. in `spawn_blocking`.

use std::fmt;
use std::path::PathBuf;

use cliffload_report::RunResult;
use cliffload_report::trend::PastRun;

mod error;
mod migrate;
mod sql;
mod store;

pub use error::HistoryError;

/// Where the history is kept when nothing says otherwise, relative to the
/// working directory.
pub const DEFAULT_PATH: &str = "results/history.sqlite";

/// The environment variable naming the history (a path or a PostgreSQL URL).
pub const ENV: &str = "CLIFFLOAD_HISTORY";

/// Where a history is.
#[derive(Clone, PartialEq, Eq)]
pub enum Location {
    /// An SQLite file (created with its folder when missing).
    Sqlite(PathBuf),
    /// A PostgreSQL database, by URL (`postgres://user:pass@host:port/db`).
    Postgres(String),
}

impl Location {
    /// `postgres://…` or `postgresql://…` is a PostgreSQL URL; anything
    /// else is the path of an SQLite file.
    pub fn parse(text: &str) -> Self {
        if text.starts_with("postgres://") || text.starts_with("postgresql://") {
            Self::Postgres(text.to_owned())
        } else {
            Self::Sqlite(PathBuf::from(text))
        }
    }

    /// A flag's value (`--history`) parsed, else [`DEFAULT_PATH`].
    pub fn or_default(flag: Option<&str>) -> Self {
        flag.map_or_else(Self::default, Self::parse)
    }

    /// For people and reports: the path, or the URL without its password.
    pub fn display(&self) -> String {
        match self {
            Self::Sqlite(p) => p.display().to_string(),
            Self::Postgres(url) => without_password(url),
        }
    }
}

impl fmt::Debug for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Location({})", self.display())
    }
}

/// `postgres://user:secret@host/db` → `postgres://user@host/db`.
fn without_password(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_owned();
    };
    let (auth, host) = match rest.rsplit_once('@') {
        Some((auth, host)) => (auth, host),
        None => return url.to_owned(),
    };
    let user = auth.split_once(':').map_or(auth, |(u, _)| u);
    format!("{scheme}://{user}@{host}")
}

/// Which runs a listing takes.
#[derive(Debug, Clone, Default)]
pub struct Filter {
    /// Only this scenario (by name).
    pub scenario: Option<String>,
    /// Only runs with this scenario hash.
    pub scenario_hash: Option<String>,
    /// At most this many, the newest.
    pub limit: Option<usize>,
}

/// What [`History::prune`] removes.
#[derive(Debug, Clone, Copy, Default)]
pub struct Prune {
    /// Keep the newest `N` runs of each scenario.
    pub keep: Option<usize>,
    /// Remove runs that started before this instant.
    pub before: Option<jiff::Timestamp>,
}

/// An open history.
pub struct History {
    location: Location,
    store: sql::Conn,
}

impl fmt::Debug for History {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "History({})", self.location.display())
    }
}

impl History {
    /// Opens the history at `location`, creating it (and an SQLite file's
    /// folder) when missing and bringing its schema up to date. Refuses a
    /// schema newer than this cliffload knows.
    pub fn open(location: &Location) -> Result<Self, HistoryError> {
        Self::open_waiting(location, error::BUSY_WAIT)
    }

    /// [`Self::open`], an SQLite writer waiting at most `wait` for another
    /// process's lock (30 s for `open`) before [`HistoryError::Locked`].
    pub fn open_waiting(
        location: &Location,
        wait: std::time::Duration,
    ) -> Result<Self, HistoryError> {
        // SQLite answers "locked" at once, without waiting, where waiting
        // could deadlock: switching a new file to WAL, or a reader turning
        // writer, while another process does the same (two runs opening a
        // new history together; one in eight lost its run here). Opening
        // again after a pause gets through once the other has finished.
        let started = std::time::Instant::now();
        loop {
            match Self::open_once(location, wait) {
                Err(HistoryError::Locked { .. }) if started.elapsed() < wait => {
                    std::thread::sleep(std::time::Duration::from_millis(50));
                }
                opened => return opened,
            }
        }
    }

    fn open_once(location: &Location, wait: std::time::Duration) -> Result<Self, HistoryError> {
        let store = store::open(location, wait)?;
        let mut h = Self {
            location: location.clone(),
            store,
        };
        migrate::up(&mut h.store).map_err(|e| e.at(location))?;
        Ok(h)
    }

    /// Where it is.
    pub fn location(&self) -> &Location {
        &self.location
    }

    /// Stores `result` (with `label`) in one transaction; returns its id.
    pub fn record(&mut self, result: &RunResult, label: Option<&str>) -> Result<i64, HistoryError> {
        let loc = self.location.clone();
        self.store.record(result, label).map_err(|e| e.at(&loc))
    }

    /// The runs `filter` takes, oldest first, each with its tasks.
    pub fn runs(&mut self, filter: &Filter) -> Result<Vec<PastRun>, HistoryError> {
        let loc = self.location.clone();
        self.store.runs(filter).map_err(|e| e.at(&loc))
    }

    /// Run `id`'s whole result, as it was written.
    pub fn result(&mut self, id: i64) -> Result<RunResult, HistoryError> {
        let loc = self.location.clone();
        self.store.result(id).map_err(|e| e.at(&loc))
    }

    /// Removes what `prune` says; returns how many runs went.
    pub fn prune(&mut self, prune: Prune) -> Result<usize, HistoryError> {
        let loc = self.location.clone();
        self.store.prune(prune).map_err(|e| e.at(&loc))
    }
}

/// A run named on a command line (`cliffload diff A B`): an id in the
/// history at `location` (opened on first use, kept in `opened`), or the
/// path of a result.json (a path that exists wins over an id); with how it
/// is named in the comparison ("run 12", or the path).
pub fn named_run(
    which: &str,
    location: &Location,
    opened: &mut Option<History>,
) -> Result<(RunResult, String), String> {
    let path = std::path::Path::new(which);
    match which.parse::<i64>() {
        Ok(id) if !path.exists() => {
            let h = match opened {
                Some(h) => h,
                None => opened.insert(History::open(location).map_err(|e| e.to_string())?),
            };
            let r = h.result(id).map_err(|e| e.to_string())?;
            Ok((r, format!("run {id}")))
        }
        _ => Ok((
            cliffload_report::read_result(path)?,
            path.display().to_string(),
        )),
    }
}

impl Default for Location {
    /// [`DEFAULT_PATH`], relative to the working directory.
    fn default() -> Self {
        Self::Sqlite(PathBuf::from(DEFAULT_PATH))
    }
}

#[cfg(test)]
mod tests;
