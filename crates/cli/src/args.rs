//! Command-line arguments. Parsed here, validated into the scenario's typed
//! values by [`crate::run`]; the library crates never see this struct.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

mod connect;
mod history;
mod parse;
#[cfg(test)]
mod tests;

pub use cliffload_run::embedded::{Latency, Service};
pub use cliffload_run::suite::SuiteMode;
pub use connect::ConnectArgs;
pub use history::{DiffArgs, DiffFormat, HistoryArgs, HistoryCmd, HistorySub, ListFormat};
use parse::*;

/// `cliffload --version`: the version and the commit it was built from.
pub const VERSION: &str = concat!(
    env!("CARGO_PKG_VERSION"),
    " (commit ",
    env!("CLIFFLOAD_COMMIT"),
    ")"
);

/// Load testing for NATS request/reply microservices, measured honestly.
///
/// Exit codes: 0 ran and every check passed; 1 ran and a check failed;
/// 2 usage, config, connection or preflight error; 3 ran and nothing failed
/// but a check could not be judged (too few samples: run longer);
/// 130 interrupted (partial results written).
#[derive(Debug, Parser)]
#[command(name = "cliffload", version = VERSION, about, long_about = None)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,

    /// Colour in terminal summaries: auto (on a terminal, unless NO_COLOR is set), always, never.
    #[arg(long, global = true, value_enum, default_value_t = ColorChoice::Auto, value_name = "WHEN")]
    pub color: ColorChoice,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ColorChoice {
    Auto,
    Always,
    Never,
}

impl ColorChoice {
    /// Whether to colour a stream: `--color always|never` decide; `auto`
    /// colours a terminal unless `NO_COLOR` is set to a non-empty value
    /// (no-color.org: a command-line flag overrides the variable) or `TERM`
    /// is `dumb`.
    pub fn wants(
        self,
        is_terminal: bool,
        no_color: Option<&std::ffi::OsStr>,
        term: Option<&std::ffi::OsStr>,
    ) -> bool {
        match self {
            Self::Always => true,
            Self::Never => false,
            Self::Auto => {
                is_terminal
                    && no_color.is_none_or(|v| v.is_empty())
                    && term.is_none_or(|t| t != "dumb")
            }
        }
    }

    /// For stdout.
    pub fn stdout(self) -> bool {
        use std::io::IsTerminal;
        self.wants(
            std::io::stdout().is_terminal(),
            std::env::var_os("NO_COLOR").as_deref(),
            std::env::var_os("TERM").as_deref(),
        )
    }

    /// For stderr.
    pub fn stderr(self) -> bool {
        use std::io::IsTerminal;
        self.wants(
            std::io::stderr().is_terminal(),
            std::env::var_os("NO_COLOR").as_deref(),
            std::env::var_os("TERM").as_deref(),
        )
    }

    /// The summary's style on stdout: colour as chosen, fitted to the
    /// terminal's width when stdout is one (a file or pipe gets every column).
    pub fn stdout_style(self) -> cliffload_report::text::Style {
        cliffload_report::text::Style {
            colour: self.stdout(),
            width: width_of(&console::Term::stdout()),
        }
    }

    /// The summary's style on stderr (see [`Self::stdout_style`]).
    pub fn stderr_style(self) -> cliffload_report::text::Style {
        cliffload_report::text::Style {
            colour: self.stderr(),
            width: width_of(&console::Term::stderr()),
        }
    }
}

/// Columns of the terminal `term` is, if it is one.
fn width_of(term: &console::Term) -> Option<usize> {
    term.size_checked().map(|(_rows, cols)| usize::from(cols))
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run a scenario: preflight, load, summary, verdict.
    Run(Box<RunArgs>),
    /// Run scenarios in sequence with a cool-down between them, and write one summary.
    Suite(Box<SuiteArgs>),
    /// Run the reference services (test, order_processing_service) until Ctrl-C.
    Serve(ServeArgs),
    /// List the scenarios (built-in, or in a file).
    Scenarios(ScenariosArgs),
    /// Print generated payloads as JSON lines: exactly what a run would send.
    Sample(SampleArgs),
    /// Check a scenario file (laid over the built-in catalog) and print the resolved plan.
    Validate(ValidateArgs),
    /// Re-render a saved result.json (text, Markdown, JUnit, Locust CSV) without re-running.
    Report(ReportArgs),
    /// Wait for work from a coordinator (`run --distributed N`) on a NATS server, and generate its share of the load.
    Worker(WorkerArgs),
    /// Kubernetes objects for a distributed run.
    K8s(K8sArgs),
    /// The runs remembered: a table of recent runs (time, label, load, req/s, p50, p99, failures, verdict), or prune.
    History(HistoryCmd),
    /// Two runs side by side (ids from the history, or result.json files): what changed beyond the noise.
    Diff(DiffArgs),
    /// Run a scenario over NATS, then the same plan against the frameworks of comparison_frameworks (FastAPI, Flask, Celery…), side by side.
    Compare(Box<CompareArgs>),
}

#[derive(Debug, Args)]
pub struct CompareArgs {
    #[command(flatten)]
    pub run: RunArgs,

    /// Only this framework (a key of comparison_frameworks); repeatable. Default: all of them.
    #[arg(long, value_name = "NAME")]
    pub framework: Vec<String>,
}

#[derive(Debug, Args)]
pub struct K8sArgs {
    #[command(subcommand)]
    pub command: K8sCommand,
}

#[derive(Debug, Subcommand)]
pub enum K8sCommand {
    /// Print a ConfigMap with the scenario file, an Indexed Job of N workers
    /// (`cliffload worker --exit-after-run`, dialling out to NATS) and a
    /// coordinator Job, for `kubectl apply -f -`.
    Render(K8sRenderArgs),
}

#[derive(Debug, Args)]
pub struct K8sRenderArgs {
    /// The scenario (built-in, or from --config).
    pub scenario: String,

    /// Scenario file, shipped in the ConfigMap.
    #[arg(long, short = 'c', value_name = "FILE")]
    pub config: Option<PathBuf>,

    /// Worker pods.
    #[arg(long, value_name = "N", allow_negative_numbers = true, value_parser = at_least_one::<u32>)]
    pub distributed: u32,

    /// The NATS server(s) of the system under test, as the pods reach them,
    /// without credentials (they would be written into the Jobs' args: use
    /// --nats-url-secret for a URL with them).
    #[arg(long, value_name = "URL", required_unless_present = "nats_url_secret")]
    pub nats_url: Option<String>,

    /// A Secret whose `url` key holds the NATS URL with its credentials
    /// (nats://USER:PASSWORD@HOST:4222); the pods read it as CLIFFLOAD_NATS_URL.
    #[arg(long, value_name = "SECRET", conflicts_with = "nats_url")]
    pub nats_url_secret: Option<String>,

    /// The image with the cliffload binary as its entrypoint.
    #[arg(long, default_value = "cliffload:latest", value_name = "IMAGE")]
    pub image: String,

    /// Object names start with this (default: cliffload-SCENARIO).
    #[arg(long, value_name = "NAME")]
    pub name: Option<String>,

    /// A Secret whose `token` key holds the control token.
    #[arg(long, value_name = "SECRET")]
    pub control_token_secret: Option<String>,

    /// A worker pod's memory request in MiB (default: estimated from the
    /// scenario's users and tasks; the limit is twice it).
    #[arg(long, value_name = "MIB", allow_negative_numbers = true, value_parser = at_least_one::<u64>)]
    pub worker_memory: Option<u64>,

    /// A worker pod's CPU request in millicores (the limit is twice it).
    #[arg(long, value_name = "MILLICORES", default_value_t = 1000, allow_negative_numbers = true, value_parser = at_least_one::<u32>)]
    pub worker_cpu: u32,

    /// How long the finished Jobs, their pods and logs are kept.
    #[arg(long, value_name = "DURATION", default_value = "24h", allow_hyphen_values = true, value_parser = positive_duration)]
    pub ttl: String,

    /// A PersistentVolumeClaim the coordinator writes every report into
    /// (a folder per run, named after its pod).
    #[arg(long, value_name = "CLAIM")]
    pub results_claim: Option<String>,

    /// A Secret whose `url` key is the results history (a team's
    /// PostgreSQL, postgres://…) the coordinator remembers the run in.
    /// Without it the coordinator keeps no history: the pod's files go
    /// with it.
    #[arg(long, value_name = "SECRET")]
    pub history_secret: Option<String>,
}

#[derive(Debug, Args)]
pub struct WorkerArgs {
    /// The control server to wait on (required), and how to log in; the
    /// same login is used for the system under test each plan names.
    #[command(flatten)]
    pub connect: ConnectArgs,

    /// This worker's name in the coordinator's report (default: host-pid).
    #[arg(long, value_name = "NAME")]
    pub name: Option<String>,

    /// Stop after one run (for a Kubernetes Job or a one-off ssh).
    #[arg(long)]
    pub exit_after_run: bool,

    /// Generator threads (each with its own connection).
    #[arg(long, default_value_t = 1, value_name = "N", allow_negative_numbers = true, value_parser = at_least_one::<usize>)]
    pub workers: usize,

    /// A server a plan may send the load to, with this worker's login
    /// (repeatable; its control server always may). A plan naming another
    /// is refused.
    #[arg(long, value_name = "URL")]
    pub target: Vec<String>,

    /// Take plans that name any server, and dial the ones not given with
    /// --target or --nats-url without this worker's login or client
    /// certificate.
    #[arg(long)]
    pub any_target: bool,

    #[command(flatten)]
    pub token: ControlTokenArgs,
}

/// The secret a coordinator and its workers share.
#[derive(Debug, Args)]
#[command(next_help_heading = "Distributed load")]
pub struct ControlTokenArgs {
    /// Only coordinators that hold this token may give this worker work (or,
    /// on `run`, sign plans with it); prefer the environment variable or a file.
    #[arg(
        long,
        env = "CLIFFLOAD_CONTROL_TOKEN",
        hide_env_values = true,
        value_name = "TOKEN",
        conflicts_with = "control_token_file"
    )]
    pub control_token: Option<String>,

    /// Read the control token from this file.
    #[arg(long, value_name = "FILE")]
    pub control_token_file: Option<PathBuf>,

    /// Run without a control token on a control server that is not on
    /// loopback: anyone who may publish there can then give workers work
    /// and forge their results.
    #[arg(long)]
    pub insecure_no_token: bool,
}

impl ControlTokenArgs {
    /// The token, from the flag, the environment or the file.
    pub fn token(&self) -> anyhow::Result<Option<String>> {
        match (&self.control_token, &self.control_token_file) {
            (Some(t), _) if t.is_empty() => anyhow::bail!("--control-token: empty"),
            (Some(t), _) => Ok(Some(t.clone())),
            (None, Some(path)) => {
                let text = std::fs::read_to_string(path).map_err(|e| {
                    anyhow::anyhow!(
                        "--control-token-file {}: cannot read it ({e})",
                        path.display()
                    )
                })?;
                let t = text.trim();
                if t.is_empty() {
                    anyhow::bail!("--control-token-file {}: empty", path.display());
                }
                Ok(Some(t.to_owned()))
            }
            (None, None) => Ok(None),
        }
    }

    /// The token for a side whose control server is `control`: without
    /// one, only a server on loopback is allowed, unless
    /// --insecure-no-token says otherwise.
    pub fn token_for(&self, control: &[String]) -> anyhow::Result<Option<String>> {
        cliffload_distributed::trust::token_for(self.token()?, self.insecure_no_token, control)
            .map_err(|why| anyhow::anyhow!("{why}"))
    }
}

/// How a run spreads over workers (`cliffload worker`).
#[derive(Debug, Args)]
#[command(next_help_heading = "Distributed load")]
pub struct DistributedArgs {
    /// Spread the load over N worker processes found on the control server
    /// (`cliffload worker`); this process coordinates and merges.
    #[arg(long, value_name = "N", allow_negative_numbers = true, value_parser = at_least_one::<u32>)]
    pub distributed: Option<u32>,

    /// The NATS server the workers wait on (default: the --nats-url under test).
    #[arg(long, value_name = "URL", requires = "distributed")]
    pub control_url: Option<String>,

    /// A worker that dies or falls silent marks the run degraded instead of failing it.
    #[arg(long, requires = "distributed")]
    pub allow_worker_loss: bool,

    /// How long to look for the workers.
    #[arg(long, default_value = "30s", value_name = "DURATION", allow_hyphen_values = true, value_parser = positive_duration)]
    pub wait_workers: String,

    #[command(flatten)]
    pub token: ControlTokenArgs,
}

#[derive(Debug, Args)]
pub struct ReportArgs {
    /// A result.json written by `cliffload run --out`.
    pub result: std::path::PathBuf,
    /// Write every report into this directory.
    #[arg(long, short = 'o', value_name = "DIR")]
    pub out: Option<std::path::PathBuf>,
    /// What to print on stdout.
    #[arg(long, value_enum, default_value_t = ReportFormat::Text)]
    pub format: ReportFormat,
    /// Compare with an earlier result.json (regression check).
    #[arg(long, value_name = "RESULT_JSON")]
    pub baseline: Option<std::path::PathBuf>,
    /// Allowed degradation against the baseline, percent.
    #[arg(long, default_value_t = 20.0, value_name = "PERCENT", allow_negative_numbers = true, value_parser = not_negative)]
    pub max_degradation_percent: f64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ReportFormat {
    /// The terminal summary.
    Text,
    /// The Markdown summary.
    Markdown,
    /// JUnit XML.
    Junit,
    /// Locust's *_stats.csv.
    Csv,
}

#[derive(Debug, Args)]
pub struct ValidateArgs {
    /// The scenario file (YAML).
    pub file: std::path::PathBuf,
    /// Only this scenario.
    pub scenario: Option<String>,
}

/// What a load goes to and how it is generated: shared by `run` and `suite`.
#[derive(Debug, Args)]
#[command(next_help_heading = "Target")]
pub struct TargetArgs {
    /// Scenario file (YAML) laid over the built-in catalog.
    #[arg(help_heading = "Load", long, short = 'c', value_name = "FILE")]
    pub config: Option<PathBuf>,

    #[command(flatten)]
    pub connect: ConnectArgs,

    /// Simulated I/O of the reference services when cliffload starts them
    /// (default: the file's environment.reference_service_latency, else realistic).
    #[arg(long, value_enum)]
    pub latency: Option<Latency>,

    /// Multiply the realistic delays of the reference services cliffload
    /// starts by this (1.3: a service 30 % slower in its I/O, to see a
    /// regression caught).
    #[arg(long, default_value_t = 1.0, value_name = "FACTOR", value_parser = above_zero)]
    pub latency_factor: f64,

    /// Generator threads, each with its own connection.
    #[arg(long, default_value_t = 1, value_name = "N", allow_negative_numbers = true, value_parser = at_least_one::<usize>)]
    pub workers: usize,

    /// HTTP endpoint of the same service (http://HOST:PORT), for scenarios
    /// that claim ten_x_faster_than_rest: the same requests are run over it
    /// after NATS (default: the HTTP endpoint of the services cliffload starts).
    #[arg(long, value_name = "URL")]
    pub http_url: Option<String>,

    /// Also watch this process (a service under test cliffload did not
    /// start): its memory and CPU go into the report and the memory-growth
    /// check. Repeatable.
    #[arg(long, value_name = "PID")]
    pub monitor_pid: Vec<u32>,
}

impl TargetArgs {
    /// What the loads go to: `target` (resolved from the login flags and
    /// the file), and how they are generated.
    pub fn deployment(
        &self,
        target: Option<cliffload_nats::NatsAccess>,
    ) -> cliffload_run::run::Deployment {
        cliffload_run::run::Deployment {
            target,
            latency: self.latency,
            latency_factor: self.latency_factor,
            workers: self.workers,
            http_url: self.http_url.clone(),
            monitor_pids: self.monitor_pid.clone(),
        }
    }

    /// Checks the values clap cannot: the worker count and the HTTP URL.
    pub fn check(&self) -> anyhow::Result<()> {
        if self.workers == 0 || self.workers > 256 {
            anyhow::bail!("--workers: must be from 1 to 256, got {}", self.workers);
        }
        if let Some(u) = &self.http_url {
            cliffload_http::check_base(u).map_err(|e| anyhow::anyhow!("--http-url: {e}"))?;
        }
        Ok(())
    }
}

/// Shown after `run --help`'s flags: the commands people start from.
const RUN_EXAMPLES: &str = "\
Examples:
  # the reference services, on a nats-server cliffload starts and stops
  cliffload run ping
  # your deployment, every report written into results/
  cliffload run baseline --nats-url nats://10.0.0.5:4222 --out results
  # your own scenario file, with more users for longer
  cliffload run checkout -c my-service.yaml --users 50 --duration 2m
  # the open model: 2,000 requests a second, whatever the replies do
  cliffload run baseline --rate 2000 --duration 1m
  # fail on a regression against an earlier run
  cliffload run baseline --baseline last/result.json
  # or against the recent runs in the history, labelled with the commit
  cliffload run baseline --baseline history --label $(git rev-parse --short HEAD)

Exit codes: 0 passed, 1 failed, 2 usage or connection error,
3 inconclusive (run longer), 130 interrupted.";

#[derive(Debug, Args)]
#[command(after_help = RUN_EXAMPLES)]
pub struct RunArgs {
    /// Scenario name (built-in, or a key under `scenarios:` in --config).
    pub scenario: String,

    #[command(flatten)]
    pub target: TargetArgs,

    /// Override the scenario's duration (e.g. 30s, 2m).
    #[arg(help_heading = "Load", long, short = 'd', value_name = "DURATION", allow_hyphen_values = true, value_parser = positive_duration)]
    pub duration: Option<String>,

    /// Override the number of virtual users.
    #[arg(help_heading = "Load", long, short = 'u', value_name = "N", allow_negative_numbers = true, value_parser = at_least_one::<u32>)]
    pub users: Option<u32>,

    /// Override the users started per second.
    #[arg(help_heading = "Load", long, value_name = "PER_SECOND", allow_negative_numbers = true, value_parser = above_zero)]
    pub spawn_rate: Option<f64>,

    /// Open model: start this many requests per second, whatever the replies
    /// do (instead of users that wait for their reply).
    #[arg(help_heading = "Load", long, value_name = "PER_SECOND", allow_negative_numbers = true, value_parser = above_zero)]
    pub rate: Option<f64>,

    /// Override the seed of the run's random choices.
    #[arg(help_heading = "Load", long, value_name = "N", allow_negative_numbers = true, value_parser = whole::<u64>)]
    pub seed: Option<u64>,

    /// Stop after this many requests (or at the duration, whichever comes first).
    #[arg(help_heading = "Load", long, value_name = "N", allow_negative_numbers = true, value_parser = at_least_one::<u64>)]
    pub requests: Option<u64>,

    /// What a problem in the smoke call of each task before the load does:
    /// strict stops the run (a service error or timeout after 3 tries),
    /// warn says so and runs, off skips the calls. Overrides the scenario's
    /// `preflight:` (default strict).
    #[arg(help_heading = "Load", long, value_enum, value_name = "MODE")]
    pub preflight: Option<PreflightArg>,

    /// Compare with an earlier result.json, or with `history`: the recent
    /// passing runs of the same scenario in the history (their median and
    /// spread, and a step in the series). A task worse by more than the
    /// allowed percentage (advanced.regression_detection, default 20) and
    /// more than the noise fails the verdict.
    #[arg(help_heading = "Results", long, value_name = "RESULT_JSON|history")]
    pub baseline: Option<PathBuf>,

    /// Write the results (result.json, report.html, summary.*, junit.xml, Locust CSVs) into this directory.
    #[arg(help_heading = "Results", long, short = 'o', value_name = "DIR")]
    pub out: Option<PathBuf>,

    /// What to print on stdout at the end.
    #[arg(help_heading = "Results", long, value_enum, default_value_t = Format::Text)]
    pub format: Format,

    /// No progress on stderr.
    #[arg(help_heading = "Results", long, short = 'q')]
    pub quiet: bool,

    #[command(flatten)]
    pub dist: DistributedArgs,

    /// Send the scenario's requests as Celery tasks (`{service}.{method}`,
    /// the keyword arguments as kwargs) on this Redis broker
    /// (redis://HOST:PORT), read results from its result backend: a Celery
    /// worker serves them instead of a NATS service.
    #[arg(
        help_heading = "Celery",
        long,
        value_name = "URL",
        conflicts_with = "distributed"
    )]
    pub celery_url: Option<String>,

    /// The Celery queue.
    #[arg(
        help_heading = "Celery",
        long,
        default_value = "celery",
        value_name = "QUEUE",
        requires = "celery_url"
    )]
    pub celery_queue: String,

    #[command(flatten)]
    pub observe: ObserveArgs,

    #[command(flatten)]
    pub history: HistoryArgs,
}

/// `--otlp`: a URL OTLP/HTTP can push to.
fn otlp_url(s: &str) -> Result<String, String> {
    cliffload_observe::otlp::endpoint(s)
        .map(|_| s.to_owned())
        .map_err(|e| format!("{e:#}"))
}

/// What watches the run as it goes.
#[derive(Debug, Clone, Default, Args)]
#[command(next_help_heading = "Watching the run")]
pub struct ObserveArgs {
    /// A live web page of the run at http://ADDR/ (default 127.0.0.1 and a
    /// free port, printed at start): throughput, latency, users, errors,
    /// processes and checks each second, and a Stop button. Give the
    /// address with `=`: --dashboard=127.0.0.1:8089.
    #[arg(
        long,
        value_name = "ADDR",
        num_args = 0..=1,
        require_equals = true,
        default_missing_value = "127.0.0.1:0"
    )]
    pub dashboard: Option<std::net::SocketAddr>,

    /// Keep the dashboard up after the run (with its final result) until Ctrl-C.
    #[arg(long, requires = "dashboard")]
    pub keep_dashboard: bool,

    /// Serve the run's metrics for Prometheus at http://ADDR/metrics
    /// (e.g. 127.0.0.1:9464; port 0 picks a free one, printed at start):
    /// requests per task and outcome, a latency histogram per task, users or
    /// requests in flight, labelled with the scenario and a run id.
    #[arg(long, value_name = "ADDR")]
    pub prometheus: Option<std::net::SocketAddr>,

    /// After the run, keep /metrics up until a scraper has read the final
    /// figures (they equal result.json's, with cliffload_run_finished 1),
    /// for at most DURATION; 0s closes it at once. Ctrl-C ends the wait.
    /// Give a few of the scraper's scrape intervals.
    #[arg(
        long,
        value_name = "DURATION",
        default_value = "15s",
        requires = "prometheus",
        allow_hyphen_values = true,
        value_parser = linger
    )]
    pub prometheus_linger: std::time::Duration,

    /// Push the run's metrics as OpenTelemetry over OTLP/HTTP (protobuf) to
    /// URL every second, and at the end: a collector's address
    /// (http://HOST:4318, /v1/metrics is added) or a full metrics URL.
    #[arg(long, value_name = "URL", value_parser = otlp_url)]
    pub otlp: Option<String>,
}

impl ObserveArgs {
    /// What to start, for `cliffload-observe`.
    pub fn config(&self) -> cliffload_observe::ObserveConfig {
        cliffload_observe::ObserveConfig {
            dashboard: self.dashboard,
            keep_dashboard: self.keep_dashboard,
            prometheus: self.prometheus,
            prometheus_linger: self.prometheus_linger,
            otlp: self.otlp.clone(),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// An aligned summary table and the verdict.
    Text,
    /// The RunResult JSON (docs/run-result.schema.json).
    Json,
}

#[derive(Debug, Args)]
pub struct SuiteArgs {
    /// quick: baseline (30 s) and high_throughput (50 users, 60 s);
    /// full: the six load scenarios as configured; stress: stress_test.
    #[arg(value_enum, default_value_t = SuiteMode::Full)]
    pub mode: SuiteMode,

    #[command(flatten)]
    pub target: TargetArgs,

    /// Pause between scenarios, so one's backlog does not count in the next (e.g. 30s, 0s).
    #[arg(long, default_value = "30s", value_name = "DURATION", allow_hyphen_values = true, value_parser = duration)]
    pub cooldown: String,

    /// Override every scenario's duration (e.g. 5s for a smoke run of the suite).
    #[arg(long, short = 'd', value_name = "DURATION", allow_hyphen_values = true, value_parser = positive_duration)]
    pub duration: Option<String>,

    /// Override every scenario's seed.
    #[arg(long, value_name = "N", allow_negative_numbers = true, value_parser = whole::<u64>)]
    pub seed: Option<u64>,

    /// Results directory: one sub-directory per scenario, and suite.md,
    /// index.html, suite.json (default: cliffload-reports/suite-MODE-TIME).
    #[arg(long, short = 'o', value_name = "DIR")]
    pub out: Option<PathBuf>,

    /// No progress on stderr.
    #[arg(long, short = 'q')]
    pub quiet: bool,

    #[command(flatten)]
    pub observe: ObserveArgs,

    #[command(flatten)]
    pub history: HistoryArgs,
}

#[derive(Debug, Args)]
pub struct ServeArgs {
    #[command(flatten)]
    pub connect: ConnectArgs,

    /// Which services (comma-separated).
    #[arg(long, value_enum, value_delimiter = ',', default_values_t = [Service::Test, Service::Order])]
    pub services: Vec<Service>,

    /// Also serve them over HTTP on this address (e.g. 127.0.0.1:8080; port 0 picks a free one).
    #[arg(long, value_name = "ADDR")]
    pub http: Option<std::net::SocketAddr>,

    /// Simulated I/O latency of order_processing_service.
    #[arg(long, value_enum, default_value_t = Latency::Realistic)]
    pub latency: Latency,

    /// Multiply the realistic delays by this (1.3: a service 30 % slower
    /// in its I/O, to see a regression caught).
    #[arg(long, default_value_t = 1.0, value_name = "FACTOR", value_parser = above_zero)]
    pub latency_factor: f64,

    /// Instances of each service (they share load through the queue group).
    #[arg(long, default_value_t = 1, value_name = "N", allow_negative_numbers = true, value_parser = at_least_one::<usize>)]
    pub replicas: usize,

    /// Without --nats-url: start nats-server with JetStream on (its store in
    /// a temporary folder), for the order service's JetStream listener.
    #[arg(long)]
    pub jetstream: bool,

    /// The order service does not look for JetStream (its durable listener
    /// off, without the line saying so): `cliffload run` serves on its own
    /// server started without JetStream.
    #[arg(long, hide = true)]
    pub no_durable: bool,

    /// Stop when stdin closes (how `cliffload run` stops the services it started).
    #[arg(long, hide = true)]
    pub stop_on_stdin_eof: bool,
}

#[derive(Debug, Args)]
pub struct ScenariosArgs {
    /// Lay this file over the built-in scenarios and list the result (its
    /// own scenarios added, the built-in ones it changes as changed).
    #[arg(long, short = 'c', value_name = "FILE")]
    pub config: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct SampleArgs {
    /// The model to generate.
    #[arg(value_parser = clap::builder::PossibleValuesParser::new(cliffload_payloads::ModelSpec::NAMES))]
    pub model: String,

    /// Seed (same seed and --at: same bytes).
    #[arg(long, default_value_t = 1, allow_negative_numbers = true, value_parser = whole::<u64>)]
    pub seed: u64,

    /// How many payloads.
    #[arg(long, short = 'n', default_value_t = 1, allow_negative_numbers = true, value_parser = at_least_one::<usize>)]
    pub count: usize,

    /// Inject this error into every payload (e.g. negative_total, invalid_email,
    /// future_birth_date, invalid_totals, missing_required, short_field,
    /// bad_email, out_of_range, bad_pattern, contains_fail).
    #[arg(long, value_name = "KIND")]
    pub inject: Option<String>,

    /// Items per order or batch request, events per analytics batch, orders
    /// per order batch: 1 to 10000 (the most a scenario's count takes).
    #[arg(long, value_name = "N", allow_negative_numbers = true, value_parser = sample_items)]
    pub items: Option<usize>,

    /// The instant generated times are relative to (RFC 3339; default: today 00:00 UTC).
    #[arg(long, value_name = "TIME")]
    pub at: Option<String>,
}

/// `--preflight`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum PreflightArg {
    /// Stop the run on a problem (transient ones after 3 tries).
    Strict,
    /// Warn and run.
    Warn,
    /// No smoke calls.
    Off,
}

impl From<PreflightArg> for cliffload_scenario::PreflightMode {
    fn from(a: PreflightArg) -> Self {
        match a {
            PreflightArg::Strict => Self::Strict,
            PreflightArg::Warn => Self::Warn,
            PreflightArg::Off => Self::Off,
        }
    }
}
