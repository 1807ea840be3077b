//! [`Warning`]: the things a reader of a result should know, each saying what
//! to do about it.
//!
//! A closed enum, so code (and tests) can ask which warnings a run raised
//! without reading words; the reports render each with [`Display`]. In
//! `result.json` a warning is an object with its `kind`, its fields and the
//! `message` as the reports show it, so a machine can filter by kind and a
//! person can read it. Results of schema version 2 held bare strings: they
//! read back as [`Warning::Note`].
//!
//! [`Display`]: std::fmt::Display

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::Value;

/// One warning of a run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Warning {
    /// The open model could not keep its schedule.
    OpenModelBehind {
        /// Arrivals planned.
        planned: u64,
        /// Sent after their intended time.
        late: u64,
        /// Never sent (the in-flight bound was full).
        never_sent: u64,
    },
    /// Fewer users ran at once than the scenario planned.
    UsersNeverStarted {
        /// Most users active at once.
        peak: u64,
        /// Users planned at the peak.
        wanted: u64,
        /// Users started per second.
        spawn_rate: f64,
        /// Planned duration, in seconds.
        duration_s: f64,
    },
    /// The load's NATS connections disconnected, lagged or erred.
    ConnectionTrouble {
        /// `"2 disconnected, 1 reconnected"`: each event with its count.
        events: String,
        /// When the first happened, in seconds from the start of the load.
        first_at_s: f64,
        /// What the first said.
        first_detail: String,
    },
    /// Ctrl-C (or a stop) cut the run short.
    Interrupted {
        /// Seconds that ran.
        ran_s: f64,
        /// Seconds planned.
        planned_s: f64,
    },
    /// Generator threads stopped before the end.
    WorkersLost {
        /// How many.
        count: usize,
    },
    /// A smoke call failed and `--preflight warn` let the run go on.
    PreflightTolerated {
        /// The task.
        task: String,
        /// Where it was sent.
        subject: String,
        /// What went wrong.
        problem: String,
    },
    /// The generator's CPU was near a full core per thread.
    GeneratorBusy {
        /// Its mean CPU, in percent of one core.
        cpu_percent: f64,
        /// Its worker threads.
        workers: usize,
    },
    /// A watched process exited during the run.
    ProcessExited {
        /// Its label in the report.
        label: String,
        /// Its process id.
        pid: u32,
    },
    /// The memory check was asked for but no service process was watched.
    MemoryNoService,
    /// The memory check was asked for but the run was too short to judge.
    MemoryTooFewSamples {
        /// The warm-up left out of the fit, in seconds.
        warmup_s: f64,
    },
    /// nats-server dropped messages for clients that could not keep up.
    SlowConsumers {
        /// New slow consumers during the load.
        count: u64,
        /// The monitoring URL read.
        url: String,
    },
    /// Streams created for the run that could not be deleted after it.
    StreamsLeft {
        /// Each stream, with why.
        streams: Vec<String>,
    },
    /// nats-server's monitoring endpoint could not be read.
    NatsMonitorUnreadable {
        /// What went wrong.
        detail: String,
    },
    /// Regression detection is on but there is no baseline yet.
    BaselineMissing {
        /// Where one was looked for.
        path: String,
        /// The scenario, for the per-scenario place.
        scenario: String,
    },
    /// `--baseline history`, but the history has too few passing runs of
    /// this scenario (same hash) to judge by.
    HistoryShort {
        /// Passing runs found.
        passing: usize,
        /// Passing runs needed.
        needed: usize,
        /// Where the history is.
        store: String,
    },
    /// The history could not be read or written; the run and its files are
    /// unaffected.
    HistoryUnavailable {
        /// What went wrong and what to do, in words.
        detail: String,
    },
    /// The baseline ran another scenario or another load.
    BaselineUnlike {
        /// Each difference, in words.
        differences: Vec<String>,
    },
    /// `ten_x_faster_than_rest` asked for, but there is no HTTP endpoint.
    RestClaimWithoutHttp,
    /// Ctrl-C during the HTTP half of a comparison.
    ComparisonInterrupted,
    /// The HTTP half of a comparison could not run.
    ComparisonFailed {
        /// Why.
        error: String,
    },
    /// A worker of a distributed run fell silent or could not run.
    WorkerLost {
        /// Its name.
        name: String,
        /// What became of it.
        detail: String,
        /// `--allow-worker-loss` was given: the run is degraded, not failed.
        allowed: bool,
    },
    /// Messages on a distributed run's control subjects were refused.
    ControlRefused {
        /// How many.
        count: u64,
        /// The first, in words.
        first: String,
    },
    /// A framework of `comparison_frameworks` did not run.
    FrameworkSkipped {
        /// Its key.
        name: String,
        /// Why.
        why: String,
    },
    /// An exporter (`--otlp`) could not deliver some of the run's metrics.
    /// Exporting watches the run; it is not part of the system under test,
    /// so the verdict does not depend on it.
    ExportFailed {
        /// Which: `otlp`.
        exporter: String,
        /// Where it pushed.
        endpoint: String,
        /// Pushes that failed during the run.
        failures: u64,
        /// Pushes tried during the run.
        pushes: u64,
        /// The cause of the last failure, in words.
        reason: String,
    },
    /// `order: unique` data rows ran out and users stopped.
    DataExhausted {
        /// The data file.
        file: String,
        /// Its rows.
        rows: u64,
        /// Users (or arrivals) that found no row left.
        stopped: u64,
    },
    /// A warning known only by its words (a result of schema version 2, or
    /// of a newer cliffload with kinds this one does not know).
    Note {
        /// The words.
        message: String,
    },
}

/// [`Warning::DataExhausted`] in words.
fn data_exhausted(f: &mut fmt::Formatter<'_>, w: &Warning) -> fmt::Result {
    let Warning::DataExhausted {
        file,
        rows,
        stopped,
    } = w
    else {
        return Ok(());
    };
    write!(
        f,
        "{file} ran out of unique rows: all {rows} were used, and {stopped} user(s) or arrival(s) that needed one stopped, so the load ended lighter than planned; add rows, shorten the run, or set data.when_exhausted: cycle"
    )
}

impl fmt::Display for Warning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::OpenModelBehind {
                planned,
                late,
                never_sent,
            } => write!(
                f,
                "the open model fell behind its schedule: of {planned} arrivals planned, {late} were sent late and {never_sent} never sent; the latency from the intended send time (which counts each unsent arrival as its wait) is what the checks judge. Raise max_in_flight, lower the rate, or add --workers"
            ),
            w @ Self::DataExhausted { .. } => data_exhausted(f, w),
            Self::UsersNeverStarted {
                peak,
                wanted,
                spawn_rate,
                duration_s,
            } => write!(
                f,
                "only {peak} of the {wanted} users planned ever ran at once (spawning {spawn_rate} users/s over {duration_s:.0} s, as fast as the generator could start them): the rest never started; lower the users, raise the spawn rate, run longer, or add --workers"
            ),
            Self::ConnectionTrouble {
                events,
                first_at_s,
                first_detail,
            } => write!(
                f,
                "the load's NATS connections had trouble: {events} (first at {first_at_s:.1} s: {first_detail}); requests in those moments show as timeouts or transport failures. See connection_events in result.json"
            ),
            Self::Interrupted { ran_s, planned_s } => write!(
                f,
                "the run was interrupted after {ran_s:.1} s of {planned_s:.1} s planned: figures cover the part that ran"
            ),
            Self::WorkersLost { count } => write!(
                f,
                "{count} generator worker(s) stopped early: their last second is missing from the figures"
            ),
            Self::PreflightTolerated {
                task,
                subject,
                problem,
            } => write!(
                f,
                "preflight of task {task} ({subject}): {problem}; the run went on (--preflight warn)"
            ),
            Self::GeneratorBusy {
                cpu_percent,
                workers,
            } => write!(
                f,
                "the generator used {cpu_percent:.0}% CPU with {workers} worker thread(s): it may have been the bottleneck rather than the service; run with more --workers (or on another machine) and compare"
            ),
            Self::ProcessExited { label, pid } => {
                write!(f, "{label} (pid {pid}) exited during the run: check its logs")
            }
            Self::MemoryNoService => f.write_str(
                "memory growth not judged: no service process was watched (pass --monitor-pid PID for a service cliffload did not start)",
            ),
            Self::MemoryTooFewSamples { warmup_s } => write!(
                f,
                "memory growth not judged: fewer than 3 samples after the {warmup_s:.0} s warm-up (run longer)"
            ),
            Self::NatsMonitorUnreadable { detail } => f.write_str(detail),
            Self::BaselineMissing { .. }
            | Self::HistoryShort { .. }
            | Self::HistoryUnavailable { .. }
            | Self::BaselineUnlike { .. }
            | Self::RestClaimWithoutHttp
            | Self::ComparisonInterrupted
            | Self::ComparisonFailed { .. }
            | Self::WorkerLost { .. }
            | Self::ControlRefused { .. }
            | Self::FrameworkSkipped { .. }
            | Self::ExportFailed { .. }
            | Self::SlowConsumers { .. }
            | Self::StreamsLeft { .. } => self.fmt_beside(f),
            Self::Note { message } => f.write_str(message),
        }
    }
}

impl Warning {
    /// The words of the warnings about what runs beside the load: the
    /// baseline, the HTTP and framework comparisons, the workers, the
    /// exporters, the NATS server's own state (its slow consumers, the
    /// run's streams). (`fmt` sends only those here.)
    fn fmt_beside(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::BaselineMissing { path, scenario } => write!(
                f,
                "no regression check: advanced.regression_detection is enabled but there is no baseline at {path} (nor {path}/{scenario}/result.json); keep this run's result.json there to compare the next one with it"
            ),
            Self::BaselineUnlike { differences } => write!(
                f,
                "the regression baseline is not like this run: {}; differences may come from that, not from the service",
                differences.join("; ")
            ),
            Self::HistoryShort {
                passing,
                needed,
                store,
            } => write!(
                f,
                "no regression check against the history: {store} has {passing} passing run(s) of this scenario with the same settings, and {needed} are needed; it is judged once there are"
            ),
            Self::HistoryUnavailable { detail } => {
                write!(f, "history: {detail}; the run and its files are not affected")
            }
            Self::RestClaimWithoutHttp => f.write_str(
                "ten_x_faster_than_rest not judged: no HTTP endpoint to compare with; pass --http-url http://HOST:PORT of the same service",
            ),
            Self::ComparisonInterrupted => f.write_str(
                "interrupted during the HTTP comparison: ten_x_faster_than_rest not judged",
            ),
            Self::ComparisonFailed { error } => {
                write!(f, "the HTTP comparison could not run: {error}")
            }
            Self::WorkerLost { detail, allowed, .. } => {
                if *allowed {
                    write!(f, "degraded run: {detail}; the figures are what the other workers (and it, before) sent, so the load was smaller than planned")
                } else {
                    write!(f, "a worker was lost: {detail}; the run fails (pass --allow-worker-loss to accept a smaller load); check the worker's log and its machine")
                }
            }
            Self::ControlRefused { count, first } => write!(
                f,
                "{count} message(s) on the run's control subjects were refused and left the result unchanged (first: {first}); someone on the NATS account is publishing there: see distributed.refused in result.json, and restrict cliffload.v1.> with NATS permissions"
            ),
            Self::FrameworkSkipped { name, why } => write!(
                f,
                "framework {name} was not compared: {why}"
            ),
            Self::ExportFailed {
                exporter,
                endpoint,
                failures,
                pushes,
                reason,
            } => {
                let lost = if failures >= pushes {
                    "it has none of this run's metrics"
                } else {
                    "it misses some of this run's metrics"
                };
                write!(
                    f,
                    "--{exporter}: {failures} of {pushes} pushes to {endpoint} failed ({reason}): {lost}. Start an OTLP/HTTP collector there or correct --{exporter}; the run's figures and verdict do not depend on it"
                )
            }
            Self::SlowConsumers { count, url } => write!(
                f,
                "nats-server counted {count} new slow consumer(s) during the load ({url}): it dropped messages for clients that could not keep up, which shows here as timeouts; lower the load or add --workers"
            ),
            Self::StreamsLeft { streams } => write!(
                f,
                "the streams created for the run could not be deleted ({}): delete them with `nats stream rm NAME` before the next run, which refuses to reuse them",
                streams.join("; ")
            ),
            // The others are worded in `fmt`.
            _ => Ok(()),
        }
    }
}

/// `result.json`'s `warnings`: each warning's fields, its `kind` and its
/// `message`.
pub(crate) fn serialize<S: Serializer>(warnings: &[Warning], s: S) -> Result<S::Ok, S::Error> {
    s.collect_seq(warnings.iter().map(|w| {
        let mut v = serde_json::to_value(w).unwrap_or(Value::Null);
        if let Value::Object(fields) = &mut v {
            fields.insert("message".into(), Value::String(w.to_string()));
        }
        v
    }))
}

/// Reads what [`serialize`] wrote, and the bare strings of schema version 2;
/// a kind this version does not know keeps its message.
pub(crate) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<Warning>, D::Error> {
    let values = Vec::<Value>::deserialize(d)?;
    Ok(values.into_iter().map(read_one).collect())
}

fn read_one(v: Value) -> Warning {
    let message = match &v {
        Value::String(s) => s.clone(),
        Value::Object(fields) => fields
            .get("message")
            .and_then(Value::as_str)
            .map_or_else(|| v.to_string(), str::to_owned),
        other => other.to_string(),
    };
    if v.is_object()
        && let Ok(w) = serde_json::from_value::<Warning>(v)
    {
        return w;
    }
    Warning::Note { message }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Serialize, Deserialize)]
    struct Holder {
        #[serde(serialize_with = "serialize", deserialize_with = "deserialize")]
        warnings: Vec<Warning>,
    }

    #[test]
    fn a_warning_is_written_with_its_kind_fields_and_message_and_read_back_typed() {
        let w = Warning::OpenModelBehind {
            planned: 1000,
            late: 30,
            never_sent: 800,
        };
        let json = serde_json::to_value(Holder {
            warnings: vec![w.clone()],
        })
        .expect("JSON");
        let written = &json["warnings"][0];
        assert_eq!(written["kind"], "open_model_behind");
        assert_eq!(written["never_sent"], 800);
        assert_eq!(written["message"], w.to_string());
        let back: Holder = serde_json::from_value(json).expect("JSON");
        assert_eq!(back.warnings, vec![w]);
    }

    #[test]
    fn a_failed_export_names_the_endpoint_the_cause_and_the_fix() {
        let w = Warning::ExportFailed {
            exporter: "otlp".into(),
            endpoint: "http://127.0.0.1:9/v1/metrics".into(),
            failures: 5,
            pushes: 5,
            reason: "cannot connect (Connection refused (os error 111))".into(),
        };
        assert_eq!(
            w.to_string(),
            "--otlp: 5 of 5 pushes to http://127.0.0.1:9/v1/metrics failed (cannot connect (Connection refused (os error 111))): it has none of this run's metrics. Start an OTLP/HTTP collector there or correct --otlp; the run's figures and verdict do not depend on it"
        );
        let json = serde_json::to_value(Holder {
            warnings: vec![w.clone()],
        })
        .expect("JSON");
        assert_eq!(json["warnings"][0]["kind"], "export_failed");
        assert_eq!(json["warnings"][0]["failures"], 5);
        let back: Holder = serde_json::from_value(json).expect("JSON");
        assert_eq!(back.warnings, vec![w]);
    }

    #[test]
    fn schema_2_strings_and_unknown_kinds_read_back_as_notes() {
        let json = serde_json::json!({"warnings": [
            "an old warning",
            {"kind": "from_the_future", "message": "a newer warning"},
        ]});
        let back: Holder = serde_json::from_value(json).expect("JSON");
        assert_eq!(
            back.warnings,
            vec![
                Warning::Note {
                    message: "an old warning".into()
                },
                Warning::Note {
                    message: "a newer warning".into()
                },
            ]
        );
    }
}
