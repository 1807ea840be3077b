//! The summary of a suite (`cliffload suite`): one row per scenario with its
//! verdict, as Markdown (`suite.md`), an HTML index linking each scenario's
//! report (`index.html`) and JSON (`suite.json`). Pure functions of
//! [`SuiteSummary`].

use std::fmt::Write;

use serde::{Deserialize, Serialize};

use crate::html::{STYLE, escape};
use crate::markdown::cell;
use crate::result::RunResult;
use crate::text::latency;
use crate::verdict::ClaimStatus;

/// What became of one scenario of the suite.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SuiteStatus {
    /// Ran, every check passed.
    Passed,
    /// Ran, a check failed or a claim was refuted.
    Failed,
    /// Ran, nothing failed, but a check could not be judged (too few samples).
    Inconclusive,
    /// Cut short by Ctrl-C (partial results).
    Interrupted,
    /// Could not run (preflight, connection): see `error`.
    Error,
    /// Not reached (the suite was interrupted before it).
    NotRun,
}

impl SuiteStatus {
    /// Upper-case word for people.
    pub fn word(self) -> &'static str {
        match self {
            Self::Passed => "PASSED",
            Self::Failed => "FAILED",
            Self::Inconclusive => "INCONCLUSIVE",
            Self::Interrupted => "INTERRUPTED",
            Self::Error => "ERROR",
            Self::NotRun => "NOT RUN",
        }
    }

    fn class(self) -> &'static str {
        match self {
            Self::Passed => "pass",
            Self::Failed | Self::Error => "fail",
            Self::Inconclusive | Self::Interrupted | Self::NotRun => "inconclusive",
        }
    }
}

/// One scenario's row.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SuiteRow {
    /// Scenario name.
    pub scenario: String,
    /// What became of it.
    pub status: SuiteStatus,
    /// Its results directory, relative to the suite's (when it ran).
    pub dir: Option<String>,
    /// Why it could not run.
    pub error: Option<String>,
    /// Users, and the load model's name.
    pub users: u32,
    /// Seconds the load ran.
    pub duration_s: f64,
    /// Requests completed.
    pub requests: u64,
    /// Successful requests.
    pub successes: u64,
    /// Failures.
    pub failures: u64,
    /// failures / requests × 100.
    pub failure_percent: f64,
    /// Successful requests per second.
    pub success_rps: f64,
    /// Median of successful requests, µs.
    pub p50_us: u64,
    /// p95 of successful requests, µs.
    pub p95_us: u64,
    /// p99 of successful requests, µs.
    pub p99_us: u64,
    /// Failed checks, each `name: measured (expected …)`.
    pub failed_checks: Vec<String>,
    /// Claims, each `name: STATUS — evidence`.
    pub claims: Vec<String>,
}

impl SuiteRow {
    /// The row of a scenario that ran; `dir` is where its reports are.
    pub fn ran(r: &RunResult, dir: &str) -> Self {
        let s = &r.summary;
        let status = if r.interrupted {
            SuiteStatus::Interrupted
        } else {
            match r.verdict.status() {
                crate::verdict::Status::Passed => SuiteStatus::Passed,
                crate::verdict::Status::Failed => SuiteStatus::Failed,
                crate::verdict::Status::Inconclusive => SuiteStatus::Inconclusive,
            }
        };
        Self {
            scenario: r.scenario.clone(),
            status,
            dir: Some(dir.to_owned()),
            error: None,
            users: r.load.users,
            duration_s: r.duration_s,
            requests: s.requests,
            successes: s.successes,
            failures: s.failures,
            failure_percent: s.failure_percent,
            success_rps: s.success_rps,
            p50_us: s.latency_us.p50,
            p95_us: s.latency_us.p95,
            p99_us: s.latency_us.p99,
            failed_checks: r
                .verdict
                .checks
                .iter()
                .filter(|c| !c.passed())
                .map(|c| format!("{}: {} (expected {})", c.name, c.actual, c.expected))
                .collect(),
            claims: r
                .verdict
                .claims
                .iter()
                .map(|c| {
                    let status = match c.status {
                        ClaimStatus::Validated => "VALIDATED",
                        ClaimStatus::NotValidated => "NOT VALIDATED",
                        ClaimStatus::Inconclusive => "INCONCLUSIVE",
                    };
                    format!("{}: {status} — {}", c.name, c.detail)
                })
                .collect(),
        }
    }

    /// The row of a scenario that did not run (`error`), or was not reached (`None`).
    pub fn not_run(scenario: &str, error: Option<String>) -> Self {
        Self {
            scenario: scenario.to_owned(),
            status: if error.is_some() {
                SuiteStatus::Error
            } else {
                SuiteStatus::NotRun
            },
            dir: None,
            error,
            users: 0,
            duration_s: 0.0,
            requests: 0,
            successes: 0,
            failures: 0,
            failure_percent: 0.0,
            success_rps: 0.0,
            p50_us: 0,
            p95_us: 0,
            p99_us: 0,
            failed_checks: Vec::new(),
            claims: Vec::new(),
        }
    }
}

/// The whole suite.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SuiteSummary {
    /// Format version (same numbering as `result.json`).
    pub schema_version: u32,
    /// `quick`, `full`, `stress`.
    pub mode: String,
    /// Start, RFC 3339 UTC.
    pub started_at: String,
    /// Pause between scenarios, seconds.
    pub cooldown_s: f64,
    /// Where the load went.
    pub nats_url: String,
    /// True when every scenario ran and passed.
    pub passed: bool,
    /// In the order they ran.
    pub scenarios: Vec<SuiteRow>,
}

impl SuiteSummary {
    /// A summary of `rows`; passed only if there is at least one row and all passed.
    pub fn new(
        mode: &str,
        started_at: String,
        cooldown_s: f64,
        nats_url: &str,
        rows: Vec<SuiteRow>,
    ) -> Self {
        Self {
            schema_version: crate::SCHEMA_VERSION,
            mode: mode.to_owned(),
            started_at,
            cooldown_s,
            nats_url: nats_url.to_owned(),
            passed: !rows.is_empty() && rows.iter().all(|r| r.status == SuiteStatus::Passed),
            scenarios: rows,
        }
    }

    fn count(&self, status: SuiteStatus) -> usize {
        self.scenarios.iter().filter(|r| r.status == status).count()
    }

    fn headline(&self) -> String {
        let mut parts = vec![format!("{} scenario(s)", self.scenarios.len())];
        for s in [
            SuiteStatus::Passed,
            SuiteStatus::Failed,
            SuiteStatus::Inconclusive,
            SuiteStatus::Error,
            SuiteStatus::Interrupted,
            SuiteStatus::NotRun,
        ] {
            let n = self.count(s);
            if n > 0 {
                parts.push(format!("{n} {}", s.word().to_lowercase()));
            }
        }
        parts.join(" · ")
    }

    /// Pretty JSON (`suite.json`).
    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).unwrap_or_else(|e| format!("{{\"error\":\"{e}\"}}"))
    }
}

fn figures(r: &SuiteRow) -> [String; 7] {
    if r.dir.is_none() {
        return std::array::from_fn(|_| "-".to_owned());
    }
    let lat = |us: u64| {
        if r.successes > 0 {
            latency(us)
        } else {
            "-".to_owned()
        }
    };
    [
        r.requests.to_string(),
        r.successes.to_string(),
        crate::verdict::percent(r.failure_percent),
        format!("{:.1}", r.success_rps),
        lat(r.p50_us),
        lat(r.p95_us),
        lat(r.p99_us),
    ]
}

use crate::escape::markdown_line as item;

/// The suite as Markdown (`suite.md`).
pub fn markdown(s: &SuiteSummary) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "# cliffload suite: {}\n", cell(&s.mode));
    let _ = writeln!(
        out,
        "**Verdict: {}** · {} · started {} · cool-down {:.0} s · {}\n",
        if s.passed { "PASSED" } else { "FAILED" },
        s.headline(),
        cell(&s.started_at),
        s.cooldown_s,
        cell(&s.nats_url)
    );
    out.push_str(
        "| scenario | verdict | requests | ok | failure % | ok req/s | p50 | p95 | p99 | report |\n\
         | --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |\n",
    );
    for r in &s.scenarios {
        let [req, ok, fail, rps, p50, p95, p99] = figures(r);
        let link = r.dir.as_deref().map_or("-".to_owned(), |d| {
            format!("[report]({}/report.html)", cell(d))
        });
        let _ = writeln!(
            out,
            "| {} | {} | {req} | {ok} | {fail} | {rps} | {p50} | {p95} | {p99} | {link} |",
            cell(&r.scenario),
            r.status.word()
        );
    }
    out.push_str("\n(latency percentiles are of successful requests)\n");
    for r in &s.scenarios {
        if r.failed_checks.is_empty() && r.claims.is_empty() && r.error.is_none() {
            continue;
        }
        let _ = writeln!(out, "\n## {} — {}\n", cell(&r.scenario), r.status.word());
        if let Some(e) = &r.error {
            let _ = writeln!(out, "- could not run: {}", item(e));
        }
        for c in &r.failed_checks {
            let _ = writeln!(out, "- ✗ {}", item(c));
        }
        for c in &r.claims {
            let _ = writeln!(out, "- claim {}", item(c));
        }
    }
    out
}

/// The suite as a self-contained HTML index (`index.html`) linking each
/// scenario's `report.html`.
pub fn html(s: &SuiteSummary) -> String {
    let mut out = String::new();
    let _ = write!(
        out,
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>cliffload suite · {}</title>\n<style>{STYLE}</style></head><body>\n",
        escape(&s.mode)
    );
    let _ = write!(
        out,
        "<h1>cliffload suite · {}</h1>\n<p class=\"verdict {}\">{}</p>\n<p>{} · started {} · cool-down {:.0} s · {}</p>\n",
        escape(&s.mode),
        if s.passed { "pass" } else { "fail" },
        if s.passed { "PASSED" } else { "FAILED" },
        escape(&s.headline()),
        escape(&s.started_at),
        s.cooldown_s,
        escape(&s.nats_url)
    );
    out.push_str(
        "<table><tr><th>scenario</th><th>verdict</th><th>requests</th><th>ok</th><th>failure %</th><th>ok req/s</th><th>p50</th><th>p95</th><th>p99</th><th>why</th></tr>\n",
    );
    for r in &s.scenarios {
        let name = match &r.dir {
            Some(d) => format!(
                "<a href=\"{}/report.html\">{}</a>",
                escape(d),
                escape(&r.scenario)
            ),
            None => escape(&r.scenario),
        };
        let why: Vec<String> = r
            .error
            .iter()
            .map(|e| format!("could not run: {e}"))
            .chain(r.failed_checks.iter().map(|c| format!("✗ {c}")))
            .chain(r.claims.iter().map(|c| format!("claim {c}")))
            .map(|l| escape(&l))
            .collect();
        let _ = write!(
            out,
            "<tr><td>{name}</td><td class=\"{}\">{}</td>",
            r.status.class(),
            r.status.word()
        );
        for f in figures(r) {
            let _ = write!(out, "<td>{}</td>", escape(&f));
        }
        let _ = writeln!(out, "<td>{}</td></tr>", why.join("<br>"));
    }
    out.push_str("</table>\n<p class=\"note\">Latency percentiles are of successful requests. Each scenario's page has its charts, tasks and outcomes.</p>\n</body></html>\n");
    out
}

/// Writes `suite.json`, `suite.md` and `index.html` into `dir`, atomically.
pub fn write_all(
    dir: &std::path::Path,
    s: &SuiteSummary,
) -> std::io::Result<Vec<std::path::PathBuf>> {
    let mut written = Vec::new();
    for (name, body) in [
        ("suite.json", s.to_json()),
        ("suite.md", markdown(s)),
        ("index.html", html(s)),
    ] {
        let path = dir.join(name);
        crate::write_atomically(&path, body.as_bytes())?;
        written.push(path);
    }
    Ok(written)
}
