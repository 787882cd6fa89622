//! Known kernel disagreements: steps the differential runs skip (or outcomes they
//! tolerate) because the kernel is wrong there by semantics.md, each pinned by a named
//! `#[ignore = "kernel bug: …"]` test in `tests/regressions.rs`. A filter must be as narrow
//! as its bug — the exact call and condition — so every other case is still compared, and
//! it goes as soon as the kernel is fixed (the regression tests run with the filters off,
//! `Harness::run_exact`). A skipped step runs on neither side, so it cannot leave the two
//! apart.
//!
//! None is open now. The six found before issue 10 (see docs/reliability.md) and the two
//! found in the §7 helpers (tests/regressions.rs: the flush alias path accepting a live
//! duplicate, the page-by-page read missing a split wide terminator) were fixed in the
//! kernel; their filters went with the fixes.

use crate::model::{Mode, Model};
use crate::op::Op;
use crate::outcome::Outcome;
use crate::spec::arg;

/// Why a resolved step is skipped, or `None` to run it.
///
/// One skip is the model's limit, not a kernel bug: a string of unknown length (cb = 0)
/// measured in kernel mode from the kernel static mapping reads RAM frames that may be
/// free, whose bytes the spec does not determine (§2 zero-fills frames only when handed
/// out), so whether and where the string ends is the kernel's business
/// (`string_measured_through_the_static_mapping`).
pub fn skip(model: &Model, op: &Op) -> Option<&'static str> {
    let (src, cb, desc) = match *op {
        Op::CeOpenCallerBuffer { src, cb, desc, .. }
        | Op::CeAllocAsynchronousBuffer { src, cb, desc }
        | Op::CeAllocDuplicateBuffer { src, cb, desc } => (src.value(), cb, desc),
        _ => return None,
    };
    let string = matches!(desc & !arg::FORCE_ALIAS, arg::I_WSTR | arg::I_ASTR);
    if model.ctx.mode == Mode::Kernel && cb == 0 && string && model.is_static(u64::from(src)) {
        return Some("string_measured_through_the_static_mapping");
    }
    None
}

/// Why an outcome that differs from the model's is the known wrong one, or `None`.
pub fn tolerate(_model: &Model, _op: &Op, _m: &Outcome, _k: &Outcome) -> Option<&'static str> {
    None
}
