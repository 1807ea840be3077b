//! `cliffload sample`: generated payloads as JSON lines on stdout.

use anyhow::{Context, Result};
use cliffload_payloads::{GenConfig, Generator, InjectKind, ModelSpec};

use crate::args::SampleArgs;
use cliffload_run::exit;

pub fn sample(args: SampleArgs) -> Result<u8> {
    let now = match &args.at {
        Some(t) => t.parse::<jiff::Timestamp>().with_context(|| {
            format!("--at: {t:?} is not an RFC 3339 time (e.g. 2026-11-29T12:00:00Z)")
        })?,
        None => jiff::Timestamp::now()
            .to_zoned(jiff::tz::TimeZone::UTC)
            .start_of_day()
            .map(|z| z.timestamp())
            .context("cannot compute today's start")?,
    };
    let inject = match &args.inject {
        None => None,
        Some(k) => Some(InjectKind::parse(k).with_context(|| {
            let all: Vec<&str> = InjectKind::ALL.iter().map(|k| k.name()).collect();
            format!("--inject: unknown kind {k:?}; one of {}", all.join(", "))
        })?),
    };
    // --items is at least 1 (its parser checked).
    let n = args.items;
    // `args.model` is one of ModelSpec::NAMES (clap checked it).
    let spec = ModelSpec::named(&args.model, n.map(|n| (n, n)), 1)
        .with_context(|| format!("unknown model \"{}\"", args.model))?;
    let mut generator = Generator::new(&GenConfig::new(args.seed, now));
    let mut out = std::io::stdout().lock();
    for _ in 0..args.count {
        let s = spec.sample(&mut generator, inject)?;
        if let Some(kind) = s.injected {
            let at: Vec<String> = s.expect_at.iter().map(ToString::to_string).collect();
            eprintln!(
                "# injected {kind}: validation must fail at {}",
                at.join(".")
            );
        }
        let line = serde_json::to_string(&s.value)? + "\n";
        match std::io::Write::write_all(&mut out, line.as_bytes()) {
            // `cliffload sample … | head`: the reader has what it wanted.
            Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => return Ok(exit::OK),
            r => r?,
        }
    }
    Ok(exit::OK)
}
