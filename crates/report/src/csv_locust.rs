//! CSV in Locust's layout and column names (`*_stats.csv`,
//! `*_stats_history.csv`, `*_failures.csv`), so scripts written for Locust's
//! output keep working. Times are milliseconds (with µs precision, as
//! decimals), as Locust writes them.

use cliffload_metrics::visible;

use crate::result::{LatencyUs, RunResult};

const PERCENTILES: [&str; 11] = [
    "50%", "66%", "75%", "80%", "90%", "95%", "98%", "99%", "99.9%", "99.99%", "100%",
];

fn ms(us: u64) -> String {
    format!("{:.3}", us as f64 / 1000.0)
}

fn percentiles(l: &LatencyUs) -> Vec<String> {
    [
        l.p50, l.p66, l.p75, l.p80, l.p90, l.p95, l.p98, l.p99, l.p999, l.p9999, l.max,
    ]
    .into_iter()
    .map(ms)
    .collect()
}

fn finish(w: csv::Writer<Vec<u8>>) -> String {
    // Writing into memory cannot fail.
    w.into_inner()
        .map(|b| String::from_utf8_lossy(&b).into_owned())
        .unwrap_or_default()
}

/// `*_stats.csv`: a row per task (Type = the subject), a row per flow
/// (Type = `FLOW`), then `Aggregated` (of the tasks).
pub fn stats(r: &RunResult) -> String {
    let mut w = csv::Writer::from_writer(Vec::new());
    let mut header: Vec<&str> = vec![
        "Type",
        "Name",
        "Request Count",
        "Failure Count",
        "Median Response Time",
        "Average Response Time",
        "Min Response Time",
        "Max Response Time",
        "Average Content Size",
        "Requests/s",
        "Failures/s",
    ];
    header.extend(PERCENTILES);
    let _ = w.write_record(&header);
    let secs = r.duration_s.max(1e-9);
    let mut row =
        |kind: &str, name: &str, requests: u64, failures: u64, bytes: u64, l: &LatencyUs| {
            // Without a successful request there is no response time: N/A, not 0.
            let na = || "N/A".to_owned();
            let or_na = |s: String| if l.count == 0 { na() } else { s };
            let mut cells = vec![
                kind.to_owned(),
                name.to_owned(),
                requests.to_string(),
                failures.to_string(),
                or_na(ms(l.p50)),
                or_na(format!("{:.3}", l.mean / 1000.0)),
                or_na(ms(l.min)),
                or_na(ms(l.max)),
                average_size(bytes, requests),
                format!("{:.3}", requests as f64 / secs),
                format!("{:.3}", failures as f64 / secs),
            ];
            if l.count == 0 {
                cells.extend(PERCENTILES.iter().map(|_| na()));
            } else {
                cells.extend(percentiles(l));
            }
            let _ = w.write_record(&cells);
        };
    for t in &r.tasks {
        row(
            &t.subject,
            &t.name,
            t.requests,
            t.failures,
            t.reply_bytes,
            &t.latency_us,
        );
    }
    // Flows as rows of their own, typed FLOW (where a task's row has its
    // subject), as Locust shows custom transactions; Aggregated sums the
    // requests alone, so a request is never counted twice.
    for f in &r.flows {
        row(
            "FLOW",
            &f.name,
            f.requests,
            f.failures,
            f.reply_bytes,
            &f.latency_us,
        );
    }
    row(
        "",
        "Aggregated",
        r.summary.requests,
        r.summary.failures,
        r.tasks.iter().map(|t| t.reply_bytes).sum(),
        &r.summary.latency_us,
    );
    finish(w)
}

/// Locust's "Average Content Size": bytes of reply bodies per request,
/// whole bytes (0 without requests, as Locust writes it).
fn average_size(bytes: u64, requests: u64) -> String {
    (bytes.checked_div(requests).unwrap_or(0)).to_string()
}

/// `*_stats_history.csv`: one `Aggregated` row per second.
pub fn stats_history(r: &RunResult) -> String {
    let mut w = csv::Writer::from_writer(Vec::new());
    let mut header: Vec<&str> = vec![
        "Timestamp",
        "User Count",
        "Type",
        "Name",
        "Requests/s",
        "Failures/s",
    ];
    header.extend(PERCENTILES);
    header.extend([
        "Total Request Count",
        "Total Failure Count",
        "Total Median Response Time",
        "Total Average Response Time",
        "Total Min Response Time",
        "Total Max Response Time",
        "Total Average Content Size",
    ]);
    let _ = w.write_record(&header);
    let start = r
        .started_at
        .parse::<jiff::Timestamp>()
        .map_or(0, |t| t.as_second());
    let (mut total, mut failed, mut bytes) = (0u64, 0u64, 0u64);
    for i in &r.intervals {
        total += i.requests;
        failed += i.failures;
        bytes += i.reply_bytes;
        let mut cells = vec![
            (start + i64::from(i.t) + 1).to_string(),
            // The users (or requests in flight) of that second, not the plan's maximum.
            i.active.to_string(),
            String::new(),
            "Aggregated".to_owned(),
            format!("{:.3}", i.rps),
            format!(
                "{:.3}",
                crate::verdict::per_second(i.failures, i.duration_s)
            ),
        ];
        cells.extend(percentiles(&i.latency_us));
        cells.extend([
            total.to_string(),
            failed.to_string(),
            // Locust's "Total" columns are since the start, not of this second.
            ms(i.total_latency_us.p50),
            format!("{:.3}", i.total_latency_us.mean / 1000.0),
            ms(i.total_latency_us.min),
            ms(i.total_latency_us.max),
            average_size(bytes, total),
        ]);
        let _ = w.write_record(&cells);
    }
    finish(w)
}

/// `*_failures.csv`: a row per task × failure outcome.
pub fn failures(r: &RunResult) -> String {
    let mut w = csv::Writer::from_writer(Vec::new());
    let _ = w.write_record(["Method", "Name", "Error", "Occurrences"]);
    for t in &r.tasks {
        for (o, e) in t.outcomes.iter().filter(|(o, _)| o.is_failure()) {
            // Locust's Error column holds the message; an outcome whose
            // messages were not kept (older results) keeps its name.
            let messages: Vec<_> = t.errors.iter().filter(|m| m.outcome == *o).collect();
            if messages.is_empty() {
                let _ = w.write_record([
                    t.subject.as_str(),
                    t.name.as_str(),
                    o.name(),
                    &e.count.to_string(),
                ]);
            }
            for m in messages {
                let _ = w.write_record([
                    t.subject.as_str(),
                    t.name.as_str(),
                    &format!("{}: {}", o.name(), visible(&m.message)),
                    &m.count.to_string(),
                ]);
            }
        }
    }
    finish(w)
}
