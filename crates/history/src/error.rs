//! What can go wrong with a history, each saying what to do.

use crate::Location;

/// A history that cannot be opened, read or written.
#[derive(Debug, thiserror::Error)]
pub enum HistoryError {
    /// The SQLite file is not a database (or is damaged).
    #[error(
        "{path} is not a cliffload history (SQLite says: {detail}); move it aside to start a new history there, or pass --history another path"
    )]
    Corrupt {
        /// The file.
        path: String,
        /// SQLite's words.
        detail: String,
    },
    /// Another process held the SQLite file's lock for too long.
    #[error(
        "{path} stayed locked by another process all the time cliffload waited (SQLite says: {detail}); let the other run finish, or pass --history another path"
    )]
    Locked {
        /// The file.
        path: String,
        /// SQLite's words.
        detail: String,
    },
    /// The PostgreSQL server could not be reached or refused the login.
    #[error(
        "cannot reach the PostgreSQL history at {url}: {detail}; check that the server runs and the URL (user, password, database) is right"
    )]
    Unreachable {
        /// The URL, without its password.
        url: String,
        /// The client's words.
        detail: String,
    },
    /// The history was written by a newer cliffload.
    #[error(
        "{location} holds history schema version {found}, and this cliffload knows versions up to {known}: upgrade cliffload, or pass --history another store"
    )]
    Newer {
        /// Where.
        location: String,
        /// The schema version found.
        found: i64,
        /// The newest this build knows.
        known: i64,
    },
    /// No run with this id.
    #[error("{location} has no run {id}; `cliffload history` lists the runs and their ids")]
    NoRun {
        /// Where.
        location: String,
        /// The id asked for.
        id: i64,
    },
    /// A stored result that no longer reads.
    #[error("run {id} in {location} does not read back: {detail}")]
    Unreadable {
        /// Where.
        location: String,
        /// The run.
        id: i64,
        /// What is wrong.
        detail: String,
    },
    /// Anything else the database said.
    #[error("the history at {location}: {detail}")]
    Database {
        /// Where.
        location: String,
        /// The database's words.
        detail: String,
    },
    /// The folder of the SQLite file could not be made.
    #[error(
        "cannot create the folder of the history {path}: {detail}; pass --history a writable path"
    )]
    Folder {
        /// The file.
        path: String,
        /// The OS's words.
        detail: String,
    },
}

/// An error from the store before it knows where it is ([`Self::at`] fills that in).
#[derive(Debug)]
pub(crate) enum Raw {
    Sqlite(rusqlite::Error),
    Postgres(postgres::Error),
    NoRun(i64),
    Unreadable(i64, String),
    Newer(i64, i64),
}

impl From<rusqlite::Error> for Raw {
    fn from(e: rusqlite::Error) -> Self {
        Raw::Sqlite(e)
    }
}

impl From<postgres::Error> for Raw {
    fn from(e: postgres::Error) -> Self {
        Raw::Postgres(e)
    }
}

/// How long a writer waits for another's lock on an SQLite history: a
/// run's write takes milliseconds, so 30 s is another process stuck.
pub(crate) const BUSY_WAIT: std::time::Duration = std::time::Duration::from_secs(30);

impl Raw {
    /// The error, at `location`.
    pub(crate) fn at(self, location: &Location) -> HistoryError {
        let where_ = location.display();
        match self {
            Raw::Sqlite(e) => sqlite(e, where_),
            Raw::Postgres(e) => postgres(&e, where_),
            Raw::NoRun(id) => HistoryError::NoRun {
                location: where_,
                id,
            },
            Raw::Unreadable(id, detail) => HistoryError::Unreadable {
                location: where_,
                id,
                detail,
            },
            Raw::Newer(found, known) => HistoryError::Newer {
                location: where_,
                found,
                known,
            },
        }
    }
}

fn sqlite(e: rusqlite::Error, path: String) -> HistoryError {
    use rusqlite::ErrorCode::{DatabaseBusy, DatabaseCorrupt, DatabaseLocked, NotADatabase};
    let detail = e.to_string();
    match e.sqlite_error_code() {
        Some(NotADatabase | DatabaseCorrupt) => HistoryError::Corrupt { path, detail },
        Some(DatabaseBusy | DatabaseLocked) => HistoryError::Locked { path, detail },
        _ => HistoryError::Database {
            location: path,
            detail,
        },
    }
}

fn postgres(e: &postgres::Error, url: String) -> HistoryError {
    // The client's Display is terse ("db error"); the server's message is in the source.
    let detail = match e.as_db_error() {
        Some(db) => format!("{}: {}", db.severity(), db.message()),
        None => {
            let mut words = e.to_string();
            let mut source = std::error::Error::source(e);
            while let Some(s) = source {
                words = format!("{words}: {s}");
                source = s.source();
            }
            words
        }
    };
    if e.as_db_error().is_none() && (e.is_closed() || detail.contains("connect")) {
        HistoryError::Unreachable { url, detail }
    } else {
        HistoryError::Database {
            location: url,
            detail,
        }
    }
}
