//! `cevm stress [--threads N] [--seconds S] [--seed X]`: random calls from many threads on
//! shared processes, then the invariants and the frame count.

use std::process::ExitCode;
use std::time::Duration;

use clap::Args;

use crate::out::{errln, outln};
use crate::stress::{Plan, run};

/// Arguments of `cevm stress`.
#[derive(Debug, Args)]
pub struct StressArgs {
    /// Worker threads (1 to 256)
    #[arg(long, default_value_t = 8, value_parser = clap::value_parser!(u64).range(1..=256))]
    pub threads: u64,
    /// How long the workers run, in seconds (0 to 86400)
    #[arg(long, default_value_t = 10.0, value_parser = super::seconds)]
    pub seconds: f64,
    /// Seed of the random choices (the same seed makes the same choices per thread; the
    /// interleaving still varies)
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// RAM of the emulated machine, in MiB (1 to 1024; small, so memory runs out too)
    #[arg(long = "ram", value_name = "MB", default_value_t = 8,
          value_parser = clap::value_parser!(u64).range(1..=1024))]
    pub ram_mb: u64,
}

/// Runs the stress test; exit 1 when any invariant or data check was violated or any frame
/// leaked.
pub fn execute(args: StressArgs) -> ExitCode {
    let plan = Plan {
        threads: args.threads as usize,
        duration: Duration::from_secs_f64(args.seconds),
        seed: args.seed,
        ram_mb: args.ram_mb,
    };
    let report = match run(plan) {
        Ok(r) => r,
        Err(e) => {
            errln!("error: {e}");
            return ExitCode::FAILURE;
        }
    };
    let secs = report.elapsed.as_secs_f64().max(1e-9);
    outln!("threads:              {}", args.threads);
    outln!("seconds:              {:.2}", report.elapsed.as_secs_f64());
    outln!("seed:                 {}", args.seed);
    outln!("calls made:           {}", report.calls);
    outln!("calls per second:     {:.0}", report.calls as f64 / secs);
    outln!(
        "calls that failed:    {} (random arguments; expected)",
        report.failed_calls
    );
    outln!("terminations:         {}", report.terminations);
    outln!("invariant checks:     {}", report.checks);
    outln!("invariant violations: {}", report.violations.len());
    for v in report.violations.iter().take(5) {
        outln!("  {v}");
    }
    outln!("data checks:          {}", report.data_checks);
    outln!(
        "data violations:      {} ({} freshly committed pages not zero, {} tags not kept)",
        report.data_violations,
        report.dirty_fresh_pages,
        report.data_violations - report.dirty_fresh_pages
    );
    for v in report.data_examples.iter().take(5) {
        outln!("  {v}");
    }
    outln!("frames leaked:        {}", report.leaked_frames);
    if report.violations.is_empty() && report.data_violations == 0 && report.leaked_frames == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}
