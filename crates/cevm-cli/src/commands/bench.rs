//! `cevm bench`: every performance figure of design.md beside its baseline, measured in
//! this process, as a table or JSON.

use std::process::ExitCode;

use cevm_bench::{Figure, Scale, run_all};
use clap::Args;

/// Arguments of `cevm bench`.
#[derive(Debug, Args)]
pub struct BenchArgs {
    /// Measure briefly (keeps the command working in CI; figures are rough)
    #[arg(long)]
    pub quick: bool,
    /// Print JSON (one object with a `figures` array) instead of a table
    #[arg(long)]
    pub json: bool,
}

/// Runs the figures and prints them. Never fails on a missed target: timings are
/// reported, not asserted.
pub fn execute(args: BenchArgs) -> ExitCode {
    let figures = run_all(if args.quick {
        Scale::Quick
    } else {
        Scale::Full
    });
    if args.json {
        crate::out::line(&to_json(&figures, args.quick));
    } else {
        crate::out::text(&to_table(&figures));
    }
    ExitCode::SUCCESS
}

fn verdict(f: &Figure) -> &'static str {
    match f.met {
        Some(true) => "met",
        Some(false) => "MISSED",
        None => "",
    }
}

/// The ratio figure/baseline, as `x2.73` when the figure is slower and `1/145` when it
/// is that many times faster.
fn ratio_text(f: &Figure) -> String {
    let r = f.ratio();
    if r == 0.0 {
        String::new()
    } else if r >= 1.0 {
        format!("x{r:.2}")
    } else {
        format!("1/{:.0}", 1.0 / r)
    }
}

fn to_table(figures: &[Figure]) -> String {
    let mut s = format!(
        "{:<66} {:>12} {:>12} {:>9}  {:<28} {}\n",
        "figure", "ns/op", "baseline", "ratio", "target", ""
    );
    for f in figures {
        s.push_str(&format!(
            "{:<66} {:>12.1} {:>12.1} {:>9}  {:<28} {}\n",
            f.what,
            f.ns,
            f.baseline_ns,
            ratio_text(f),
            f.target.as_deref().unwrap_or(""),
            verdict(f)
        ));
        if f.baseline_ns > 0.0 {
            s.push_str(&format!("  (baseline: {})\n", f.baseline_what));
        }
    }
    s.push_str("ratio = figure / baseline: x2 is twice the baseline's time, 1/100 a hundredth\n");
    s
}

fn to_json(figures: &[Figure], quick: bool) -> String {
    let list: Vec<serde_json::Value> = figures
        .iter()
        .map(|f| {
            serde_json::json!({
                "id": f.id,
                "figure": f.what,
                "ns_per_op": f.ns,
                "baseline": f.baseline_what,
                "baseline_ns_per_op": f.baseline_ns,
                "ratio": f.ratio(),
                "target": f.target,
                "met": f.met,
            })
        })
        .collect();
    serde_json::json!({ "quick": quick, "figures": list }).to_string()
}
