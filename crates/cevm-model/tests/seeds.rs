//! The conformance scenarios (`src/scenarios.rs`) run as differential tests, and the fuzz
//! seeds in `fuzz/seeds/` are exactly their encodings. `CEVM_WRITE_SEEDS=1` rewrites the
//! seed files; `CEVM_REPLAY=file` replays a fuzz input.

use std::path::PathBuf;

use cevm_model::decode::{decode, encode};
use cevm_model::{Harness, scenarios};

fn seed_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../fuzz/seeds")
}

#[test]
fn conformance_scenarios_agree() {
    let cfg = scenarios::world();
    for (name, ops) in scenarios::all() {
        if let Err(m) = Harness::run(&cfg, &ops) {
            panic!("{name}: {m}");
        }
    }
}

#[test]
fn seeds_are_the_encoded_scenarios() {
    let cfg = scenarios::world();
    let write = std::env::var_os("CEVM_WRITE_SEEDS").is_some();
    let dir = seed_dir();
    for (name, ops) in scenarios::all() {
        let bytes = encode(&cfg, &ops);
        assert_eq!(
            decode(&bytes),
            (cfg.clone(), ops.clone()),
            "{name} round trip"
        );
        let path = dir.join(format!("{name}.bin"));
        if write {
            std::fs::create_dir_all(&dir).expect("seed dir");
            std::fs::write(&path, &bytes).expect("write seed");
        } else {
            let on_disk = std::fs::read(&path).unwrap_or_else(|e| {
                panic!("{}: {e} (run with CEVM_WRITE_SEEDS=1)", path.display())
            });
            assert_eq!(
                on_disk,
                bytes,
                "{} is stale (run with CEVM_WRITE_SEEDS=1)",
                path.display()
            );
        }
    }
}

/// Replays a fuzz input (`CEVM_REPLAY=path/to/crash-…`), printing the decoded steps and,
/// on a disagreement, the resolved trace; without the variable it does nothing.
#[test]
fn replay_fuzz_input() {
    let Some(path) = std::env::var_os("CEVM_REPLAY") else {
        return;
    };
    let bytes = std::fs::read(&path).expect("CEVM_REPLAY names a readable file");
    let (cfg, ops) = decode(&bytes);
    println!("{cfg:?}");
    for op in &ops {
        println!("  {op:?},");
    }
    if let Err(m) = Harness::run(&cfg, &ops) {
        panic!("{m}");
    }
}

mod round_trip {
    use cevm_model::decode::{decode, encode};
    use cevm_model::strategy::scenario;
    use proptest::prelude::*;

    proptest! {
        #![proptest_config(ProptestConfig {
            cases: 256,
            failure_persistence: None,
            ..ProptestConfig::default()
        })]

        /// Every generated scenario survives encode → decode, so a proptest failure can be
        /// replayed under the fuzzer (and a seed written for it).
        #[test]
        fn generated_scenarios_survive_encoding((cfg, ops) in scenario(30)) {
            let (cfg2, ops2) = decode(&encode(&cfg, &ops));
            prop_assert_eq!(cfg2, cfg);
            prop_assert_eq!(ops2, ops);
        }
    }
}
