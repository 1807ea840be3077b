//! Live progress on stderr: one line per second on a terminal (rewritten in
//! place), one line every 5 s otherwise.

use std::io::{IsTerminal, Write};

use cliffload_engine::Progress;
use cliffload_metrics::OutcomeClass;
use cliffload_report::text::latency;

/// Prints progress lines.
#[derive(Debug)]
pub struct Printer {
    tty: bool,
    quiet: bool,
    dirty: bool,
    /// The open model shows requests in flight, the closed one users.
    open_model: bool,
}

impl Printer {
    pub fn new(quiet: bool) -> Self {
        Self {
            tty: std::io::stderr().is_terminal(),
            quiet,
            dirty: false,
            open_model: false,
        }
    }

    /// Shows requests in flight (open model) rather than users.
    pub fn set_open_model(&mut self, open: bool) {
        self.open_model = open;
    }

    pub fn update(&mut self, p: &Progress<'_>) {
        let t = p.interval.index + 1;
        if self.quiet || (!self.tty && !t.is_multiple_of(5)) {
            return;
        }
        let i = p.interval;
        let active = if self.open_model {
            format!("{} in flight", i.active)
        } else {
            format!("{} users", i.active)
        };
        let line = format!(
            "[{t:>4}s/{}s] {active} · {} req · {} req/s · p50 {} p99 {} · failed {} · rejected {}",
            p.planned.as_secs(),
            p.totals.total(),
            i.counts.total(),
            latency(i.success_latency.p50),
            latency(i.success_latency.p99),
            p.totals.in_class(OutcomeClass::Failure),
            p.totals.in_class(OutcomeClass::Rejected),
        );
        let mut err = std::io::stderr().lock();
        if self.tty {
            let _ = write!(err, "\r\x1b[2K{line}");
            self.dirty = true;
        } else {
            let _ = writeln!(err, "{line}");
        }
    }

    /// Ends the in-place line, if any.
    pub fn finish(&mut self) {
        if self.dirty {
            eprintln!();
            self.dirty = false;
        }
    }

    /// A message, unless quiet.
    pub fn note(&mut self, msg: &str) {
        if !self.quiet {
            self.finish();
            eprintln!("{msg}");
        }
    }
}
