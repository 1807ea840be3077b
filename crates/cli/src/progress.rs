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
        let planned = p.planned.as_secs();
        // Past the planned end, the run is waiting for requests in flight.
        let clock = if u64::from(t) > planned {
            format!("[{planned}s/{planned}s, finishing]")
        } else {
            format!("[{t:>3}s/{planned}s]")
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
        let line = format!(
            "{clock} {active} · {} req · {} req/s · {lat} · failed {} · rejected {}",
            p.totals.total(),
            i.counts.total(),
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
