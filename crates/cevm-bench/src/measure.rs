//! Running the cases and turning timings into figures with baselines and targets.

use std::hint::black_box;
use std::time::{Duration, Instant};

use crate::cases;

/// One measured figure beside its baseline.
#[derive(Debug, Clone)]
pub struct Figure {
    /// Short identifier (`read4_random`).
    pub id: &'static str,
    /// What was measured.
    pub what: String,
    /// Nanoseconds per operation.
    pub ns: f64,
    /// What the baseline is.
    pub baseline_what: String,
    /// Baseline nanoseconds per operation (0 when there is none).
    pub baseline_ns: f64,
    /// The target, as text (`<= 10 ns/op`), when design.md sets one.
    pub target: Option<String>,
    /// Whether the target is met (None when there is no target).
    pub met: Option<bool>,
}

impl Figure {
    /// `ns / baseline_ns` (how many baselines one operation costs), or 0 without baseline.
    pub fn ratio(&self) -> f64 {
        if self.baseline_ns > 0.0 {
            self.ns / self.baseline_ns
        } else {
            0.0
        }
    }
}

/// How long to measure.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scale {
    /// A few milliseconds per case: keeps the command working in CI.
    Quick,
    /// Long enough for stable figures.
    Full,
}

/// Best time per iteration of `f` over several rounds of `iters` iterations.
pub(crate) fn time_per_iter(rounds: u32, iters: u64, mut f: impl FnMut()) -> f64 {
    let mut best = Duration::MAX;
    for _ in 0..rounds {
        let t = Instant::now();
        for _ in 0..iters {
            f();
        }
        best = best.min(t.elapsed());
    }
    black_box(());
    best.as_nanos() as f64 / iters as f64
}

/// Runs every figure.
pub fn run_all(scale: Scale) -> Vec<Figure> {
    let r = match scale {
        Scale::Quick => 2,
        Scale::Full => 7,
    };
    let q = scale == Scale::Quick;
    let mut out = Vec::new();
    out.extend(cases::access(r, q));
    out.extend(cases::alloc_copy(r, q));
    out.extend(cases::process_memory(r, q));
    out.extend(cases::alloc_free(r, q));
    out.extend(cases::marshal(r, q));
    #[cfg(target_os = "linux")]
    out.extend(crate::windows::windows(r, q));
    #[cfg(target_os = "linux")]
    out.extend(crate::cabi::c_abi(r, q));
    out
}
