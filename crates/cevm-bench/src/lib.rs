//! The performance figures of `design.md`, each measured beside a baseline run in the same
//! process, so the ratio holds on a noisy machine. `cevm bench` prints them; the criterion
//! benches in `benches/` run the same cases for development.
//!
//! Timings never go into tests: this crate measures, it does not assert.

/// The C ABI figures (libcevm is Linux only).
#[cfg(target_os = "linux")]
pub mod cabi;
pub mod cases;
mod measure;
/// Host windows are Linux only (memfd).
#[cfg(target_os = "linux")]
pub mod windows;

pub use measure::{Figure, Scale, run_all};
