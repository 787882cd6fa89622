//! The C ABI figures (c-abi.md, design.md): VirtualQuery called from C through libcevm
//! beside the same call through the Rust API on the same CE thread; and a plain C read loop
//! over a 1 MiB VirtualAllocCopyEx alias, through host windows, beside memcpy of 1 MiB.
//! The C half is c/cabi.c; libcevm comes from the cevm-ffi dependency, linked in whole.

use std::ffi::{c_int, c_uint, c_void};

// Links libcevm: c/cabi.c calls its CE functions.
use cevm_ffi as _;

use crate::cases::figure;
use crate::measure::Figure;

const MIB: usize = 1 << 20;

unsafe extern "C" {
    fn cevm_cbench_setup(bytes: usize, buf: *mut *mut c_void, alias: *mut *const c_void) -> c_int;
    fn cevm_cbench_query_ns(p: *const c_void, n: c_uint) -> f64;
    fn cevm_cbench_read_ns(p: *const u64, bytes: usize, reps: c_uint) -> f64;
    fn cevm_cbench_memcpy_ns(dst: *mut c_void, src: *const c_void, n: usize, reps: c_uint) -> f64;
    /// libcevm's hook for this figure: the same VirtualQuery through the Rust API.
    fn cevm_bench_rust_virtual_query(va: u32, iterations: u32) -> f64;
}

/// Both C ABI figures.
pub fn c_abi(rounds: u32, quick: bool) -> Vec<Figure> {
    let (mut buf, mut alias) = (std::ptr::null_mut(), std::ptr::null());
    // SAFETY: the out-pointers are live locals; the function boots libcevm's own kernel.
    if unsafe { cevm_cbench_setup(MIB, &mut buf, &mut alias) } == 0 {
        eprintln!("cevm bench: libcevm could not be set up; C ABI figures skipped");
        return Vec::new();
    }
    let n = if quick { 2_000 } else { 200_000 };
    let target = buf.cast::<u8>().wrapping_add(0x3000).cast::<c_void>();
    // A guest address is the low 32 bits of a window pointer (windows are 4 GiB aligned).
    let va = target as usize as u32;
    let (mut c, mut r) = (f64::MAX, f64::MAX);
    for _ in 0..rounds.max(3) {
        // SAFETY: `target` is a pointer into app.exe's window, which the calling thread is
        // in (setup left it there); VirtualQuery only reads it as an address.
        c = c.min(unsafe { cevm_cbench_query_ns(target, n) });
        // SAFETY: plain values.
        r = r.min(unsafe { cevm_bench_rust_virtual_query(va, n) });
    }
    let reps = if quick { 20 } else { 400 };
    let mut src = vec![1u8; MIB];
    let mut dst = vec![0u8; MIB];
    // SAFETY: `alias` is 1 MiB of committed read-only memory in udevice.exe's window, and
    // stays so (nothing frees it); the host buffers are 1 MiB each.
    let (read, copy) = unsafe {
        (
            cevm_cbench_read_ns(alias.cast(), MIB, reps),
            cevm_cbench_memcpy_ns(dst.as_mut_ptr().cast(), src.as_mut_ptr().cast(), MIB, reps),
        )
    };
    vec![
        figure(
            "c_abi_virtual_query",
            "VirtualQuery through the C ABI (called from C)".into(),
            c,
            "the same call through the Rust API",
            r,
            Some(("<= 1.5x", c >= 0.0 && c <= 1.5 * r)),
        ),
        figure(
            "c_abi_alias_read",
            "a plain C read loop over a 1 MiB VirtualAllocCopyEx alias (host windows)".into(),
            read,
            "memcpy of 1 MiB between host buffers",
            copy,
            Some((">= 0.9x memcpy bandwidth", copy / read >= 0.9)),
        ),
    ]
}
