//! The Markdown summary: verdict first, then a table per task and the outcomes.

use std::fmt::Write;

use crate::result::RunResult;
use crate::text::latency;
use crate::verdict::ClaimStatus;

pub(crate) use crate::escape::markdown_cell as cell;

/// Renders the summary as Markdown.
pub fn render(r: &RunResult) -> String {
    let mut out = String::new();
    headline(&mut out, r);
    claims(&mut out, r);
    checks(&mut out, r);
    if let Some(t) = &r.trend {
        let _ = writeln!(
            out,
            "\n{}",
            crate::escape::markdown_line(&crate::text::trend_line(t))
        );
    }
    tasks(&mut out, r);
    flows(&mut out, r);
    outcomes(&mut out, r);
    notes(&mut out, r);
    out
}

/// The title, and the verdict with the run's figures in one line.
fn headline(out: &mut String, r: &RunResult) {
    let s = &r.summary;
    let _ = writeln!(out, "# cliffload: {}\n", cell(&r.scenario));
    let _ = writeln!(
        out,
        "**Verdict: {}** · {} requests in {:.1} s · {:.1} successful req/s · failure rate {} · seed {} · {}\n",
        r.verdict.status().word(),
        s.requests,
        r.duration_s,
        s.success_rps,
        crate::verdict::percent(s.failure_percent),
        r.seed,
        if r.interrupted {
            "interrupted"
        } else {
            "completed"
        }
    );
}

/// The claims table, when there are claims.
fn claims(out: &mut String, r: &RunResult) {
    if r.verdict.claims.is_empty() {
        return;
    }
    out.push_str("| claim | status | evidence |\n| --- | --- | --- |\n");
    for c in &r.verdict.claims {
        let status = match c.status {
            ClaimStatus::Validated => "✅ VALIDATED",
            ClaimStatus::NotValidated => "❌ NOT VALIDATED",
            ClaimStatus::Inconclusive => "❔ INCONCLUSIVE",
        };
        let _ = writeln!(
            out,
            "| {} | {status} | {} |",
            cell(&c.name),
            cell(&c.detail)
        );
    }
    out.push('\n');
}

/// The checks table.
fn checks(out: &mut String, r: &RunResult) {
    out.push_str("| check | result | measured | expected |\n| --- | --- | --- | --- |\n");
    for c in &r.verdict.checks {
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} |",
            cell(&c.name),
            match c.status {
                crate::verdict::Status::Passed => "✅ pass",
                crate::verdict::Status::Failed => "❌ fail",
                crate::verdict::Status::Inconclusive => "❔ inconclusive",
            },
            cell(&c.actual),
            cell(&c.expected)
        );
    }
}

/// The Tasks section: a row per task.
fn tasks(out: &mut String, r: &RunResult) {
    out.push_str("\n## Tasks\n\nLatency is of successful requests.\n\n");
    out.push_str(
        "| task | subject | requests | ok | rejected | failed | req/s | p50 | p90 | p99 | max |\n",
    );
    out.push_str("| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |\n");
    for t in &r.tasks {
        let l = &t.latency_us;
        let lat = |v| crate::text::success_latency(t, v);
        let _ = writeln!(
            out,
            "| {} | `{}` | {} | {} | {} | {} | {:.1} | {} | {} | {} | {} |",
            cell(&t.name),
            cell(&t.subject),
            t.requests,
            t.successes,
            t.rejected,
            t.failures,
            t.rps,
            lat(l.p50),
            lat(l.p90),
            lat(l.p99),
            lat(l.max)
        );
    }
}

/// The Flows section, when there are flows: a row per flow, its whole passes.
fn flows(out: &mut String, r: &RunResult) {
    if r.flows.is_empty() {
        return;
    }
    out.push_str("\n## Flows\n\nA pass runs the flow's steps in order; it failed when a step failed. Latency is of the passes that succeeded, from the first step's send to the last step's reply. Passes are not counted among the requests.\n\n");
    out.push_str("| flow | steps | passes | ok | failed | passes/s | p50 | p95 | p99 | max |\n");
    out.push_str("| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |\n");
    for f in &r.flows {
        let l = &f.latency_us;
        let lat = |v| crate::text::success_latency(f, v);
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} | {} | {:.1} | {} | {} | {} | {} |",
            cell(&f.name),
            cell(&f.subject),
            f.requests,
            f.successes,
            f.failures,
            f.rps,
            lat(l.p50),
            lat(l.p95),
            lat(l.p99),
            lat(l.max)
        );
    }
}

/// The Outcomes section: the counts, then the open model's schedule.
fn outcomes(out: &mut String, r: &RunResult) {
    out.push_str("\n## Outcomes\n\n| outcome | count |\n| --- | ---: |\n");
    for (o, n) in &r.summary.outcomes {
        let _ = writeln!(out, "| {} | {n} |", o.name());
    }
    if let Some(o) = &r.open_model {
        let _ = writeln!(
            out,
            "\nOpen model: {} arrivals planned, {} sent ({} late), {} never sent; from the intended send time p50 {} p99 {}.",
            o.planned,
            o.sent,
            o.late,
            o.never_sent,
            latency(o.intended_latency_us.p50),
            latency(o.intended_latency_us.p99)
        );
    }
}

/// The HTTP comparison, processes and warnings sections, each when there is one.
fn notes(out: &mut String, r: &RunResult) {
    if let Some(c) = &r.comparison {
        out.push_str("\n## NATS vs HTTP (the same requests)\n\n");
        for l in crate::comparison::lines(r, c) {
            let _ = writeln!(out, "- {}", cell(&l));
        }
    }
    if !r.consumers.is_empty() {
        out.push_str("\n## JetStream consumers\n\n");
        for l in crate::consumers::lines(r) {
            let _ = writeln!(out, "- {}", cell(&l));
        }
    }
    if let Some(m) = &r.monitor {
        out.push_str("\n## Processes\n\n");
        for l in crate::processes::lines(m) {
            let _ = writeln!(out, "- {}", cell(&l));
        }
    }
    if !r.frameworks.is_empty() {
        out.push_str("\n## Frameworks (the same plan)\n\n");
        for l in crate::frameworks::lines(&r.frameworks) {
            let _ = writeln!(out, "- {}", cell(&l));
        }
    }
    if let Some(d) = &r.distributed {
        out.push_str("\n## Workers\n\n");
        for l in crate::distributed::lines(d) {
            let _ = writeln!(out, "- {}", cell(&l));
        }
    }
    if !r.warnings.is_empty() {
        out.push_str("\n## Warnings\n\n");
        for w in &r.warnings {
            let _ = writeln!(out, "- {}", cell(&w.to_string()));
        }
    }
}
