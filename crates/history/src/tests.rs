//! The store on SQLite and on a real PostgreSQL server: the same checks.

use std::time::{Duration, SystemTime};

use cliffload_metrics::{IntervalStats, Outcome, TaskTable};
use cliffload_report::{RunMeta, RunResult};
use cliffload_scenario::ScenarioFile;
use cliffload_testkit::PgServer;

use super::*;

/// A result of scenario `name` whose `ping` task took about `us` µs,
/// started `minute` minutes into a day.
fn result(name: &str, us: u64, minute: u64) -> RunResult {
    let yaml = format!(
        "scenarios:\n  {name}:\n    users: 2\n    duration: 10s\n    tasks:\n      - {{name: ping, subject: test.rpc.ping}}\n      - {{name: echo, subject: test.rpc.echo}}\n"
    );
    let s = ScenarioFile::parse(&yaml, "t.yaml")
        .expect("valid")
        .get(name)
        .expect("it")
        .clone();
    let mut t = TaskTable::new(2);
    for i in 0..200 {
        t.record(0, Outcome::Ok, Duration::from_micros(us + i % 17));
        t.record(1, Outcome::Ok, Duration::from_micros(2 * us));
    }
    t.record(1, Outcome::Timeout, Duration::from_secs(1));
    let meta = RunMeta {
        scenario: &s,
        nats_url: "nats://127.0.0.1:1".into(),
        embedded: true,
        workers: 1,
        preflight: vec![],
        started_at: SystemTime::UNIX_EPOCH + Duration::from_secs(1_800_000_000 + 60 * minute),
        elapsed: Duration::from_secs(10),
        interrupted: false,
        warnings: vec![],
        generator_cpu: None,
        open: None,
        errors: Default::default(),
        connection_events: Vec::new(),
        flows: Default::default(),
        out_of_rows: 0,
    };
    RunResult::build(meta, &t, &[IntervalStats::from_table(0, &t)])
}

/// What every back end must do, on an empty history at `loc`.
fn stores_lists_reads_and_prunes(loc: &Location) {
    let mut h = History::open(loc).expect("opens");
    let first = h
        .record(&result("shop", 1000, 0), Some("abc123"))
        .expect("records");
    for (i, us) in [1100, 1200, 1300].into_iter().enumerate() {
        h.record(&result("shop", us, i as u64 + 1), None)
            .expect("records");
    }
    h.record(&result("other", 500, 9), None).expect("records");
    // Reopened: the schema is there, nothing is migrated twice.
    let mut h = History::open(loc).expect("reopens");

    let all = h.runs(&Filter::default()).expect("lists");
    assert_eq!(all.len(), 5);
    assert!(all.windows(2).all(|w| w[0].id < w[1].id), "oldest first");
    let shop = h
        .runs(&Filter {
            scenario: Some("shop".into()),
            limit: Some(3),
            ..Filter::default()
        })
        .expect("lists");
    assert_eq!(shop.len(), 3, "the newest three");
    let newest = cliffload_report::trend::PastRun::of(&result("shop", 1300, 3), shop[2].id, None);
    assert_eq!(shop[2], newest, "the row is the result's figures");
    assert_eq!(shop[2].tasks.len(), 2);
    assert_eq!(
        shop[2].tasks[0].name, "shop.ping",
        "in the scenario's order"
    );
    let hash = all[0].scenario_hash.clone();
    assert_eq!(hash.len(), 64);
    let same = h
        .runs(&Filter {
            scenario_hash: Some(hash),
            ..Filter::default()
        })
        .expect("lists");
    assert_eq!(same.len(), 4, "the four shop runs share a hash");

    // The whole result comes back, histograms and all.
    let stored = h.result(first).expect("reads");
    let original = result("shop", 1000, 0);
    assert_eq!(stored.tasks, original.tasks);
    let hist = &stored.tasks[0].latency_histogram.as_ref().expect("kept").0;
    assert_eq!(hist.count(), 200);
    assert_eq!(all[0].label.as_deref(), Some("abc123"));
    assert_eq!(
        all[0].verdict,
        original.verdict.status().word().to_ascii_lowercase()
    );
    assert_eq!(all[0].failures, 1);
    assert!(matches!(
        h.result(9999),
        Err(HistoryError::NoRun { id: 9999, .. })
    ));

    // Prune: the newest 2 of each scenario, then what started before minute 9.
    assert_eq!(
        h.prune(Prune {
            keep: Some(2),
            before: None
        })
        .expect("prunes"),
        2
    );
    let cutoff = jiff::Timestamp::from_second(1_800_000_000 + 60 * 9).expect("a time");
    assert_eq!(
        h.prune(Prune {
            keep: None,
            before: Some(cutoff)
        })
        .expect("prunes"),
        2
    );
    let left = h.runs(&Filter::default()).expect("lists");
    assert_eq!(
        left.iter().map(|r| r.scenario.as_str()).collect::<Vec<_>>(),
        ["other"]
    );
    assert_eq!(
        left[0].tasks.len(),
        2,
        "its tasks stay; the others' went with them"
    );
}

/// Two processes writing at once (two CI jobs): every row lands.
fn concurrent_writers_lose_nothing(loc: &Location) {
    let writers: Vec<_> = (0..4)
        .map(|w| {
            let loc = loc.clone();
            std::thread::spawn(move || {
                let mut h = History::open(&loc).expect("opens");
                for i in 0..10 {
                    h.record(&result("busy", 900 + w * 10 + i, i), Some(&format!("w{w}")))
                        .expect("records while others write");
                }
            })
        })
        .collect();
    for w in writers {
        w.join().expect("a writer finished");
    }
    let mut h = History::open(loc).expect("opens");
    let runs = h
        .runs(&Filter {
            scenario: Some("busy".into()),
            ..Filter::default()
        })
        .expect("lists");
    assert_eq!(runs.len(), 40);
    assert!(
        runs.iter().all(|r| r.tasks.len() == 2),
        "no run lost its tasks"
    );
}

/// A history written by a newer cliffload is refused, not rewritten.
fn a_newer_schema_is_refused(loc: &Location) {
    let mut conn = store::open(loc, error::BUSY_WAIT).expect("connects");
    migrate::up(&mut conn).expect("migrates");
    conn.exec(
        "INSERT INTO cliffload_schema (version) VALUES ($1)",
        &[sql::Val::Int(99)],
    )
    .expect("bumps");
    let err = History::open(loc).expect_err("refused");
    assert!(
        matches!(err, HistoryError::Newer { found: 99, .. }),
        "{err}"
    );
    assert!(err.to_string().contains("upgrade cliffload"), "{err}");
}

#[test]
fn sqlite_stores_lists_reads_and_prunes() {
    let dir = tempfile::tempdir().expect("temp");
    // The folder is made when missing.
    stores_lists_reads_and_prunes(&Location::Sqlite(dir.path().join("new/history.sqlite")));
}

#[test]
fn sqlite_concurrent_writers_lose_nothing() {
    let dir = tempfile::tempdir().expect("temp");
    concurrent_writers_lose_nothing(&Location::Sqlite(dir.path().join("h.sqlite")));
}

#[test]
fn sqlite_newer_schema_and_a_file_that_is_no_database_are_named() {
    let dir = tempfile::tempdir().expect("temp");
    a_newer_schema_is_refused(&Location::Sqlite(dir.path().join("h.sqlite")));
    let junk = dir.path().join("junk.sqlite");
    std::fs::write(&junk, vec![b'x'; 4096]).expect("writes");
    let err = History::open(&Location::Sqlite(junk.clone())).expect_err("refused");
    assert!(matches!(err, HistoryError::Corrupt { .. }), "{err}");
    assert!(err.to_string().contains("move it aside"), "{err}");
    assert_eq!(
        std::fs::read(&junk).expect("reads"),
        vec![b'x'; 4096],
        "left as it was"
    );
}

#[test]
fn sqlite_a_lock_held_too_long_is_named_and_nothing_is_half_written() {
    let dir = tempfile::tempdir().expect("temp");
    let loc = Location::Sqlite(dir.path().join("h.sqlite"));
    History::open(&loc).expect("made");
    // Another process in the middle of a long write.
    let other = rusqlite::Connection::open(dir.path().join("h.sqlite")).expect("opens");
    other.execute_batch("BEGIN IMMEDIATE").expect("locks");
    let mut h = History::open_waiting(&loc, std::time::Duration::from_millis(200)).expect("reads");
    let err = h
        .record(&result("shop", 1000, 0), None)
        .expect_err("locked out");
    assert!(matches!(err, HistoryError::Locked { .. }), "{err}");
    assert!(
        err.to_string().contains("let the other run finish"),
        "{err}"
    );
    other.execute_batch("ROLLBACK").expect("unlocks");
    assert_eq!(
        h.runs(&Filter::default()).expect("lists").len(),
        0,
        "nothing half-written"
    );
    h.record(&result("shop", 1000, 0), None)
        .expect("records once free");
}

#[test]
fn postgres_stores_lists_reads_prunes_and_takes_concurrent_writers() {
    let pg = PgServer::start();
    let loc = Location::parse(pg.url());
    assert!(matches!(loc, Location::Postgres(_)));
    stores_lists_reads_and_prunes(&loc);
    concurrent_writers_lose_nothing(&loc);
}

#[test]
fn postgres_newer_schema_is_refused_and_a_server_that_went_away_is_named() {
    let mut pg = PgServer::start();
    let loc = Location::parse(pg.url());
    a_newer_schema_is_refused(&loc);
    pg.stop();
    let err = History::open(&loc).expect_err("no server");
    assert!(matches!(err, HistoryError::Unreachable { .. }), "{err}");
    assert!(
        err.to_string().contains("check that the server runs"),
        "{err}"
    );
}

#[test]
fn a_url_is_shown_without_its_password() {
    let loc = Location::parse("postgres://ci:s3cret@db.internal:5432/perf");
    assert_eq!(loc.display(), "postgres://ci@db.internal:5432/perf");
    assert!(!format!("{loc:?}").contains("s3cret"));
    assert_eq!(
        Location::parse("results/h.sqlite"),
        Location::Sqlite("results/h.sqlite".into())
    );
    assert_eq!(Location::default().display(), DEFAULT_PATH);
}

#[test]
fn a_run_is_named_by_its_id_or_by_a_result_file() {
    let dir = tempfile::tempdir().expect("temp");
    let loc = Location::Sqlite(dir.path().join("h.sqlite"));
    let r = result("shop", 1000, 0);
    let id = History::open(&loc)
        .expect("opens")
        .record(&r, None)
        .expect("records");
    let mut opened = None;
    let (by_id, name) = named_run(&id.to_string(), &loc, &mut opened).expect("by id");
    assert_eq!(
        (by_id.tasks, name.as_str()),
        (r.tasks.clone(), format!("run {id}").as_str())
    );
    let file = dir.path().join("7");
    std::fs::write(&file, r.to_json()).expect("writes");
    // A result file, by its path.
    let (by_file, name) =
        named_run(file.to_str().expect("utf-8"), &loc, &mut opened).expect("by file");
    assert_eq!(by_file.tasks, r.tasks);
    assert!(name.ends_with("/7"), "{name}");
    let err = named_run("999", &loc, &mut opened).expect_err("no such run");
    assert!(err.contains("has no run 999"), "{err}");
}
