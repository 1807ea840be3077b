//! The schema, versioned: migration N brings a history from version N − 1
//! to N, in one transaction, under a lock (two processes opening a new
//! history at once apply each migration once).

use crate::error::Raw;
use crate::sql::{Conn, Val};

/// Each migration, in order; `{id}` and `{bytes}` are the database's types.
const MIGRATIONS: &[&str] = &[
    // 1: runs, their tasks with histograms, the whole result.
    "CREATE TABLE cliffload_runs (
        id {id},
        started_at TEXT NOT NULL,
        started_ms BIGINT NOT NULL,
        recorded_at TEXT NOT NULL,
        scenario TEXT NOT NULL,
        scenario_hash TEXT NOT NULL,
        load TEXT NOT NULL,
        model TEXT NOT NULL,
        users BIGINT NOT NULL,
        rate DOUBLE PRECISION,
        duration_s DOUBLE PRECISION NOT NULL,
        label TEXT,
        verdict TEXT NOT NULL,
        interrupted BOOLEAN NOT NULL,
        requests BIGINT NOT NULL,
        failures BIGINT NOT NULL,
        failure_percent DOUBLE PRECISION NOT NULL,
        rps DOUBLE PRECISION NOT NULL,
        p50_us BIGINT NOT NULL,
        p99_us BIGINT NOT NULL,
        checks TEXT NOT NULL,
        result TEXT NOT NULL
    );
    CREATE INDEX cliffload_runs_by_hash ON cliffload_runs (scenario_hash, id);
    CREATE INDEX cliffload_runs_by_scenario ON cliffload_runs (scenario, id);
    CREATE TABLE cliffload_run_tasks (
        run_id BIGINT NOT NULL,
        task TEXT NOT NULL,
        position BIGINT NOT NULL,
        requests BIGINT NOT NULL,
        successes BIGINT NOT NULL,
        failures BIGINT NOT NULL,
        rps DOUBLE PRECISION NOT NULL,
        p50_us BIGINT NOT NULL,
        p99_us BIGINT NOT NULL,
        histogram {bytes},
        PRIMARY KEY (run_id, task)
    );",
];

/// The newest schema version this build knows.
pub(crate) const LATEST: i64 = MIGRATIONS.len() as i64;

/// An arbitrary key for PostgreSQL's advisory lock around migrations.
const PG_LOCK: i64 = 0x00c1_1ff1_0ad0;

/// Brings the schema up to [`LATEST`]; a newer schema is an error.
pub(crate) fn up(conn: &mut Conn) -> Result<(), Raw> {
    // Most opens find the schema current: read it without taking the
    // write lock, so reading a history never waits for another's write.
    if let Ok(found) = version(conn) {
        if found > LATEST {
            return Err(Raw::Newer(found, LATEST));
        }
        if found == LATEST {
            return Ok(());
        }
    }
    conn.in_tx(|c| {
        if matches!(c, Conn::Postgres(_)) {
            // It returns void, which no row type reads: run it as a batch.
            c.batch(&format!("SELECT pg_advisory_xact_lock({PG_LOCK})"))?;
        }
        c.batch("CREATE TABLE IF NOT EXISTS cliffload_schema (version BIGINT NOT NULL)")?;
        let found = version(c)?;
        if found > LATEST {
            return Err(Raw::Newer(found, LATEST));
        }
        let (id, bytes) = c.dialect();
        for (i, m) in MIGRATIONS.iter().enumerate().skip(found as usize) {
            c.batch(&m.replace("{id}", id).replace("{bytes}", bytes))?;
            c.exec(
                "INSERT INTO cliffload_schema (version) VALUES ($1)",
                &[Val::Int(i as i64 + 1)],
            )?;
        }
        Ok(())
    })
}

/// The schema version of the open history (0: empty).
pub(crate) fn version(c: &mut Conn) -> Result<i64, Raw> {
    let rows = c.rows("SELECT MAX(version) FROM cliffload_schema", &[])?;
    Ok(rows.first().and_then(|r| r.first()).map_or(0, Val::int))
}
