//! `cevm stress [--threads N] [--seconds S] [--seed X]`: random calls from many threads on
//! shared processes, then the invariants and the frame count.

use std::process::ExitCode;
use std::time::Duration;

use clap::Args;

use crate::stress::{Plan, run};

/// Arguments of `cevm stress`.
#[derive(Debug, Args)]
pub struct StressArgs {
    /// Worker threads
    #[arg(long, default_value_t = 8)]
    pub threads: usize,
    /// How long the workers run
    #[arg(long, default_value_t = 10.0)]
    pub seconds: f64,
    /// Seed of the random choices (the same seed makes the same choices per thread; the
    /// interleaving still varies)
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// RAM of the emulated machine, in MiB (small, so memory runs out too)
    #[arg(long = "ram", value_name = "MB", default_value_t = 8)]
    pub ram_mb: u64,
}

/// Runs the stress test; exit 1 when any invariant was violated or any frame leaked.
pub fn execute(args: StressArgs) -> ExitCode {
    if args.threads == 0 || !(args.seconds.is_finite() && args.seconds >= 0.0) {
        eprintln!("error: --threads must be at least 1 and --seconds a non-negative number");
        return ExitCode::FAILURE;
    }
    let plan = Plan {
        threads: args.threads,
        duration: Duration::from_secs_f64(args.seconds.min(86_400.0)),
        seed: args.seed,
        ram_mb: args.ram_mb,
    };
    let report = match run(plan) {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::FAILURE;
        }
    };
    let secs = report.elapsed.as_secs_f64().max(1e-9);
    println!("threads:              {}", args.threads);
    println!("seconds:              {:.2}", report.elapsed.as_secs_f64());
    println!("seed:                 {}", args.seed);
    println!("calls made:           {}", report.calls);
    println!("calls per second:     {:.0}", report.calls as f64 / secs);
    println!(
        "calls that failed:    {} (random arguments; expected)",
        report.failed_calls
    );
    println!("terminations:         {}", report.terminations);
    println!("invariant checks:     {}", report.checks);
    println!("invariant violations: {}", report.violations.len());
    for v in report.violations.iter().take(5) {
        println!("  {v}");
    }
    println!("frames leaked:        {}", report.leaked_frames);
    if report.violations.is_empty() && report.leaked_frames == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}
