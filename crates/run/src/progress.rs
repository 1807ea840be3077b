//! Live progress on stderr. On a terminal, one line redrawn in place by
//! indicatif, cut to the terminal's width (a line wider than the terminal
//! would wrap and leave a stale copy at every redraw); elsewhere (a pipe, a
//! file, `TERM=dumb`), one plain line every 5 s.

use std::io::IsTerminal;

use cliffload_engine::Progress;
use cliffload_metrics::OutcomeClass;
use cliffload_report::text::latency;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

/// Prints progress lines.
#[derive(Debug)]
pub struct Printer {
    /// On a terminal: the in-place line of the run in progress, if any.
    tty: bool,
    bar: Option<ProgressBar>,
    quiet: bool,
    /// The open model shows requests in flight, the closed one users.
    open_model: bool,
}

/// True when stderr is a terminal that can redraw a line in place.
fn redrawable_stderr() -> bool {
    std::io::stderr().is_terminal() && std::env::var_os("TERM").is_none_or(|t| t != "dumb")
}

impl Printer {
    pub fn new(quiet: bool) -> Self {
        Self {
            tty: redrawable_stderr(),
            bar: None,
            quiet,
            open_model: false,
        }
    }

    /// The in-place line: `wide_msg` takes the width the bar leaves and cuts
    /// the message to it, so the line never wraps.
    fn new_bar() -> ProgressBar {
        let bar = ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr());
        let style = ProgressStyle::with_template("{bar:12} {wide_msg}")
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("█▌ ");
        bar.set_style(style);
        bar
    }

    /// Shows requests in flight (open model) rather than users.
    pub fn set_open_model(&mut self, open: bool) {
        self.open_model = open;
    }

    pub fn update(&mut self, p: &Progress<'_>) {
        let t = u64::from(p.interval.index) + 1;
        if self.quiet {
            return;
        }
        let line = self.line(p, t);
        if self.tty && self.bar.is_none() {
            self.bar = Some(Self::new_bar());
        }
        match &self.bar {
            Some(bar) => {
                let planned = p.planned.as_secs().max(1);
                bar.set_length(planned);
                bar.set_position(t.min(planned));
                bar.set_message(line);
            }
            None if t.is_multiple_of(5) => eprintln!("{line}"),
            None => {}
        }
    }

    /// One second's figures, most important first, since a narrow terminal
    /// cuts the end: where the run is, what went wrong (a run with 16 %
    /// failures showed none at 80 columns when they came last), how fast,
    /// how long, who is sending, how much.
    fn line(&self, p: &Progress<'_>, t: u64) -> String {
        let i = p.interval;
        let planned = p.planned.as_secs();
        // Past the planned end, the run is waiting for requests in flight.
        let clock = if t > planned {
            format!("{planned}s/{planned}s finishing")
        } else {
            format!("{t:>3}s/{planned}s")
        };
        let active = if self.open_model {
            format!("{} in flight", i.active)
        } else {
            format!("{} users", i.active)
        };
        // No success this second: no latency to show (not "0µs").
        let lat = if i.success_latency.count == 0 {
            "p50 - p99 -".to_owned()
        } else {
            format!(
                "p50 {} p99 {}",
                latency(i.success_latency.p50),
                latency(i.success_latency.p99)
            )
        };
        format!(
            "{clock} · {} failed · {} rejected · {} req/s · {lat} · {active} · {} req",
            p.totals.in_class(OutcomeClass::Failure),
            p.totals.in_class(OutcomeClass::Rejected),
            i.counts.total(),
            p.totals.total(),
        )
    }

    /// Takes the in-place line off the screen (the summary follows).
    pub fn finish(&mut self) {
        if let Some(bar) = self.bar.take() {
            bar.finish_and_clear();
        }
    }

    /// A message, unless quiet; printed above the in-place line.
    pub fn note(&mut self, msg: &str) {
        if !self.quiet {
            self.say(msg);
        }
    }

    /// A message even under `--quiet` (where a server of the run listens,
    /// a warning); printed above the in-place line.
    pub fn say(&mut self, msg: &str) {
        match &self.bar {
            Some(bar) => bar.suspend(|| eprintln!("{msg}")),
            None => eprintln!("{msg}"),
        }
    }
}
