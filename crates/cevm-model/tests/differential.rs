//! Differential property tests: random worlds and op sequences with hostile arguments,
//! run on the kernel and the model side by side. `PROPTEST_CASES=N` runs more cases;
//! `CEVM_MODEL_STATS=1` prints how the steps ended, per call.

use std::collections::BTreeMap;
use std::sync::Mutex;

use cevm_model::Harness;
use cevm_model::strategy::scenario;
use proptest::prelude::*;

/// `PROPTEST_CASES` when set (for long runs), else `default`.
fn cases(default: u32) -> u32 {
    std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

type Stats = BTreeMap<(&'static str, String), u64>;

static STATS: Mutex<Option<Stats>> = Mutex::new(None);

fn record(h: &Harness) {
    let mut g = STATS.lock().unwrap_or_else(|e| e.into_inner());
    let all = g.get_or_insert_with(BTreeMap::new);
    for (k, v) in &h.stats {
        *all.entry(k.clone()).or_default() += v;
    }
}

fn print_stats() {
    if std::env::var_os("CEVM_MODEL_STATS").is_none() {
        return;
    }
    let g = STATS.lock().unwrap_or_else(|e| e.into_inner());
    let Some(all) = g.as_ref() else { return };
    let total: u64 = all.values().sum();
    println!("{total} steps");
    for ((name, how), n) in all {
        println!("{name:24} {how:10} {n}");
    }
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: cases(768),
        failure_persistence: None,
        ..ProptestConfig::default()
    })]

    /// Many short runs: fresh worlds, up to 60 steps or snippets each.
    #[test]
    fn kernel_agrees_with_model((cfg, ops) in scenario(60)) {
        match Harness::run(&cfg, &ops) {
            Ok(h) => record(&h),
            Err(m) => prop_assert!(false, "{}", m),
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: cases(768) / 32,
        failure_persistence: None,
        ..ProptestConfig::default()
    })]

    /// Fewer, long runs: up to 400 steps or snippets in one world, so RAM runs out,
    /// processes come and go and placement wraps.
    #[test]
    fn kernel_agrees_with_model_over_long_runs((cfg, ops) in scenario(400)) {
        match Harness::run(&cfg, &ops) {
            Ok(h) => record(&h),
            Err(m) => prop_assert!(false, "{}", m),
        }
    }
}

#[test]
fn zz_print_stats() {
    print_stats();
}
