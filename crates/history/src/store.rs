//! Opening a history and the statements of each operation.

use std::time::Duration;

use cliffload_report::RunResult;
use cliffload_report::trend::{PastRun, PastTask};

use crate::error::{HistoryError, Raw};
use crate::sql::{Conn, Val};
use crate::{Filter, Location, Prune};

/// How long connecting to a PostgreSQL history may take.
const PG_CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// Connects to `location` (an SQLite file is created with its folder);
/// `wait`: how long an SQLite writer waits for another's lock.
pub(crate) fn open(location: &Location, wait: Duration) -> Result<Conn, HistoryError> {
    match location {
        Location::Sqlite(path) => {
            if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
                std::fs::create_dir_all(dir).map_err(|e| HistoryError::Folder {
                    path: path.display().to_string(),
                    detail: e.to_string(),
                })?;
            }
            let c = rusqlite::Connection::open(path).map_err(|e| Raw::from(e).at(location))?;
            c.busy_timeout(wait)
                .map_err(|e| Raw::from(e).at(location))?;
            // Readers never wait for a writer, and a writer's commit is one
            // append; the first statement also finds a file that is no database.
            c.pragma_update(None, "journal_mode", "WAL")
                .and_then(|()| c.pragma_update(None, "synchronous", "NORMAL"))
                .map_err(|e| Raw::from(e).at(location))?;
            Ok(Conn::Sqlite(c))
        }
        Location::Postgres(url) => {
            let mut config: postgres::Config =
                url.parse()
                    .map_err(|e: postgres::Error| HistoryError::Unreachable {
                        url: location.display(),
                        detail: format!("not a PostgreSQL URL ({e})"),
                    })?;
            config.connect_timeout(PG_CONNECT_TIMEOUT);
            config
                .connect(postgres::NoTls)
                .map(Conn::Postgres)
                .map_err(|e| Raw::from(e).at(location))
        }
    }
}

const RUN_COLUMNS: &str = "id, started_at, scenario, scenario_hash, load, duration_s, label, verdict, interrupted, requests, failures, failure_percent, rps, p50_us, p99_us";

impl Conn {
    /// Stores `r`; returns its id.
    pub(crate) fn record(&mut self, r: &RunResult, label: Option<&str>) -> Result<i64, Raw> {
        let p = PastRun::of(r, 0, label.map(str::to_owned));
        let started_ms = r
            .started_at
            .parse::<jiff::Timestamp>()
            .map_or(0, |t| t.as_millisecond());
        let checks = serde_json::to_string(&r.verdict.checks).unwrap_or_default();
        let params = [
            Val::Text(p.started_at.clone()),
            Val::Int(started_ms),
            Val::Text(jiff::Timestamp::now().to_string()),
            Val::Text(p.scenario.clone()),
            Val::Text(p.scenario_hash.clone()),
            Val::Text(p.load.clone()),
            Val::Text(r.load.model.clone()),
            Val::Int(i64::from(r.load.users)),
            r.load.arrival_rate.map_or(Val::Null, Val::Real),
            Val::Real(p.duration_s),
            p.label.clone().map_or(Val::Null, Val::Text),
            Val::Text(p.verdict.clone()),
            Val::Bool(p.interrupted),
            p.requests.into(),
            p.failures.into(),
            Val::Real(p.failure_percent),
            Val::Real(p.rps),
            p.p50_us.into(),
            p.p99_us.into(),
            Val::Text(checks),
            Val::Text(r.to_json()),
        ];
        self.in_tx(|c| {
            let rows = c.rows(
                "INSERT INTO cliffload_runs (started_at, started_ms, recorded_at, scenario, scenario_hash, load, model, users, rate, duration_s, label, verdict, interrupted, requests, failures, failure_percent, rps, p50_us, p99_us, checks, result) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21) RETURNING id",
                &params,
            )?;
            let id = rows.first().and_then(|r| r.first()).map_or(0, Val::int);
            for (position, (t, row)) in p.tasks.iter().zip(&r.tasks).enumerate() {
                let histogram = row
                    .latency_histogram
                    .as_ref()
                    .map_or(Val::Null, |h| Val::Bytes(h.0.to_bytes()));
                c.exec(
                    "INSERT INTO cliffload_run_tasks (run_id, task, position, requests, successes, failures, rps, p50_us, p99_us, histogram) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
                    &[
                        Val::Int(id),
                        Val::Text(t.name.clone()),
                        Val::Int(position as i64),
                        t.requests.into(),
                        t.successes.into(),
                        t.failures.into(),
                        Val::Real(t.rps),
                        t.p50_us.into(),
                        t.p99_us.into(),
                        histogram,
                    ],
                )?;
            }
            Ok(id)
        })
    }

    /// The runs `f` takes, oldest first, with their tasks.
    pub(crate) fn runs(&mut self, f: &Filter) -> Result<Vec<PastRun>, Raw> {
        let mut sql = format!("SELECT {RUN_COLUMNS} FROM cliffload_runs");
        let mut params = Vec::new();
        let mut conditions = Vec::new();
        for (column, value) in [
            ("scenario", &f.scenario),
            ("scenario_hash", &f.scenario_hash),
        ] {
            if let Some(v) = value {
                params.push(Val::Text(v.clone()));
                conditions.push(format!("{column} = ${}", params.len()));
            }
        }
        if !conditions.is_empty() {
            sql.push_str(" WHERE ");
            sql.push_str(&conditions.join(" AND "));
        }
        sql.push_str(" ORDER BY id DESC");
        if let Some(n) = f.limit {
            params.push(Val::Int(i64::try_from(n).unwrap_or(i64::MAX)));
            sql.push_str(&format!(" LIMIT ${}", params.len()));
        }
        let mut runs: Vec<PastRun> = self
            .rows(&sql, &params)?
            .iter()
            .map(|r| past_run(r))
            .collect();
        runs.reverse();
        self.add_tasks(&mut runs)?;
        Ok(runs)
    }

    /// Fills in each run's tasks (one query).
    fn add_tasks(&mut self, runs: &mut [PastRun]) -> Result<(), Raw> {
        let (Some(first), Some(last)) = (runs.first(), runs.last()) else {
            return Ok(());
        };
        let rows = self.rows(
            "SELECT run_id, task, requests, successes, failures, rps, p50_us, p99_us FROM cliffload_run_tasks WHERE run_id >= $1 AND run_id <= $2 ORDER BY run_id, position",
            &[Val::Int(first.id), Val::Int(last.id)],
        )?;
        for row in rows {
            let Some(run) = runs.iter_mut().find(|r| r.id == row[0].int()) else {
                continue;
            };
            run.tasks.push(PastTask {
                name: row[1].text(),
                requests: row[2].count(),
                successes: row[3].count(),
                failures: row[4].count(),
                rps: row[5].real(),
                p50_us: row[6].count(),
                p99_us: row[7].count(),
            });
        }
        Ok(())
    }

    /// Run `id`'s result, as written.
    pub(crate) fn result(&mut self, id: i64) -> Result<RunResult, Raw> {
        let rows = self.rows(
            "SELECT result FROM cliffload_runs WHERE id = $1",
            &[Val::Int(id)],
        )?;
        let text = rows
            .first()
            .and_then(|r| r.first())
            .map(Val::text)
            .ok_or(Raw::NoRun(id))?;
        serde_json::from_str(&text).map_err(|e| Raw::Unreadable(id, e.to_string()))
    }

    /// Removes what `p` says; returns how many runs went.
    pub(crate) fn prune(&mut self, p: Prune) -> Result<usize, Raw> {
        self.in_tx(|c| {
            let mut gone = 0;
            if let Some(keep) = p.keep {
                gone += c.exec(
                    "DELETE FROM cliffload_runs WHERE id IN (SELECT id FROM (SELECT id, ROW_NUMBER() OVER (PARTITION BY scenario ORDER BY id DESC) AS n FROM cliffload_runs) AS ranked WHERE n > $1)",
                    &[Val::Int(i64::try_from(keep).unwrap_or(i64::MAX))],
                )?;
            }
            if let Some(before) = p.before {
                gone += c.exec(
                    "DELETE FROM cliffload_runs WHERE started_ms < $1",
                    &[Val::Int(before.as_millisecond())],
                )?;
            }
            c.exec(
                "DELETE FROM cliffload_run_tasks WHERE run_id NOT IN (SELECT id FROM cliffload_runs)",
                &[],
            )?;
            Ok(usize::try_from(gone).unwrap_or(usize::MAX))
        })
    }
}

fn past_run(row: &[Val]) -> PastRun {
    PastRun {
        id: row[0].int(),
        started_at: row[1].text(),
        scenario: row[2].text(),
        scenario_hash: row[3].text(),
        load: row[4].text(),
        duration_s: row[5].real(),
        label: row[6].opt_text(),
        verdict: row[7].text(),
        interrupted: row[8].bool(),
        requests: row[9].count(),
        failures: row[10].count(),
        failure_percent: row[11].real(),
        rps: row[12].real(),
        p50_us: row[13].count(),
        p99_us: row[14].count(),
        tasks: Vec::new(),
    }
}
