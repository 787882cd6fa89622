//! The Rust side of the C ABI figure of `cevm bench` (crates/cevm-bench/src/cabi.rs): the
//! same VirtualQuery through the Rust API on the calling thread's CE thread, so the bench
//! compares the two in one process. Not part of the documented ABI.

use std::hint::black_box;
use std::time::Instant;

use crate::state::on_thread;

/// Nanoseconds per `Thread::virtual_query(va, 28)` over `iterations` calls (0.0 on error).
#[unsafe(no_mangle)]
pub extern "C" fn cevm_bench_rust_virtual_query(va: u32, iterations: u32) -> f64 {
    on_thread(0.0, |_, t| {
        let start = Instant::now();
        for _ in 0..iterations {
            let _ = black_box(t.virtual_query(black_box(va), 28));
        }
        start.elapsed().as_nanos() as f64 / f64::from(iterations.max(1))
    })
}
