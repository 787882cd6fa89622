//! # cevm-model — an executable reference model of semantics.md, and a differential harness
//!
//! The model ([`model::Model`]) is a deliberately plain rendering of semantics.md §2–§7:
//! ordered maps of reservation records and committed pages per process, a vector of frame
//! reference counts with a lowest-free-first pool, per-byte frame contents, lock records,
//! placement cursors, a handle table and the thread's last error. It shares no code with
//! the `cevm` crate: every rule is written again from the spec, in the spec's order.
//!
//! The harness ([`harness::Harness`]) runs each step ([`op::Op`]) on the real kernel and on
//! the model and compares return values, last errors, bytes, VirtualQuery fields, pfns
//! and exceptions; after every step it runs `Kernel::check_invariants` and compares frame
//! reference counts. Steps come from proptest strategies ([`strategy`]) or from arbitrary
//! bytes ([`decode`], for the fuzz target in `fuzz/`).
//!
//! | file | idea |
//! |---|---|
//! | `spec.rs` | §1 constants and validation rules, §3 layout numbers |
//! | `model.rs` | the model's state and its primitives (frames, records, placement) |
//! | `touch.rs` | §6: a thread's access, guard pages, auto-commit, multi-page touches |
//! | `calls.rs` | §5: every call, check by check; §5.13 identity |
//! | `marshal.rs` | §7: the seven marshalling helpers, rule by rule, kernel and user mode |
//! | `op.rs` | the steps and their symbolic arguments |
//! | `outcome.rs` | what a step produced, and when kernel and model agree |
//! | `harness.rs` | apply to both, compare, check invariants, sweep |
//! | `decode.rs` | steps from arbitrary bytes, and back (for fuzz seeds) |
//! | `strategy.rs` | proptest strategies with hostile arguments |
//! | `hostile.rs` | the edge values both generators draw from |
//! | `scenarios.rs` | the conformance scripts as op sequences (fuzz seeds) |
//! | `known.rs` | filters for open kernel bugs (none now), each pinned by an ignored test, and one model limit |

#![warn(missing_docs)]

pub mod calls;
pub mod decode;
pub mod harness;
pub mod hostile;
pub mod known;
pub mod marshal;
pub mod model;
pub mod op;
pub mod outcome;
pub mod scenarios;
#[allow(missing_docs)]
pub mod spec;
pub mod strategy;
pub mod touch;

pub use harness::{Harness, Mismatch};
pub use model::{Mode, Model, WorldConfig};
pub use op::{Addr, H, Op, P, Phys, Src, Width};
