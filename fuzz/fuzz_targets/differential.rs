//! Differential fuzzing: the input decodes (cevm_model::decode) to a world and up to 256
//! steps; each runs on the cevm kernel and on the reference model, which must agree on
//! every result, last error, byte, query field, pfn and exception, with the kernel's
//! invariants checked after every step. Steps that hit a known kernel bug
//! (cevm_model::known) are skipped.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let (cfg, ops) = cevm_model::decode::decode(data);
    if let Err(m) = cevm_model::Harness::run(&cfg, &ops) {
        panic!("{m}");
    }
});
