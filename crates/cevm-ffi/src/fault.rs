//! The window fault path as the C signal handler sees it, and the Rust doors of the
//! `__try` machinery of `src/exc.c` (a cdylib exports only Rust symbols, so the C
//! functions the header's macros call are re-exported from here).
//!
//! The handler cannot take the kernel's lock (the faulting thread may be anywhere), so the
//! kernel it asks is published through an atomic pointer. A handler announces itself in
//! `IN_FLIGHT` before loading the pointer; `publish` swaps the pointer and waits until no
//! handler is in flight before dropping the old kernel.

use std::ffi::c_int;
use std::sync::atomic::{AtomicPtr, AtomicUsize, Ordering};

use cevm::{Kernel, WindowFault};

static FAULT_KERNEL: AtomicPtr<Kernel> = AtomicPtr::new(std::ptr::null_mut());
static IN_FLIGHT: AtomicUsize = AtomicUsize::new(0);

/// Makes `kernel` the one the fault handler asks; the previous one is dropped once no
/// handler uses it.
pub fn publish(kernel: Kernel) {
    let new = Box::into_raw(Box::new(kernel));
    let old = FAULT_KERNEL.swap(new, Ordering::SeqCst);
    while IN_FLIGHT.load(Ordering::SeqCst) != 0 {
        std::thread::yield_now();
    }
    if !old.is_null() {
        // SAFETY: `old` came from Box::into_raw in an earlier publish, was swapped out of
        // FAULT_KERNEL above (so no new handler can load it), and every handler that loaded
        // it has left (IN_FLIGHT is zero after the swap); nothing else holds it.
        drop(unsafe { Box::from_raw(old) });
    }
}

unsafe extern "C" {
    fn cevm_c_install_fault_handler() -> c_int;
    fn cevm_c_try_enter(f: *mut TryFrame) -> c_int;
    fn cevm_c_try_cleanup(f: *mut TryFrame);
    fn cevm_c_try_filter(f: *mut TryFrame, disposition: c_int) -> c_int;
    fn cevm_c_raise(code: u32, address: u32, write: i32, pid: u32) -> !;
    fn cevm_c_try_top() -> *mut TryFrame;
}

/// Installs the SIGSEGV/SIGBUS handler once (the previous handlers are kept to chain to).
pub fn install_handler() {
    // SAFETY: installs a signal handler with sigaction; the C function is idempotent and
    // touches only its own statics.
    let r = unsafe { cevm_c_install_fault_handler() };
    if r != 0 {
        eprintln!("cevm: cannot install the window fault handler");
    }
}

/// What the C handler does with a fault at `addr`: 0 chain (not a window), 1 retry, 2
/// raise STATUS_ACCESS_VIOLATION (`*guest`, `*pid` filled), 3 retry later (busy).
///
/// # Safety
/// `guest` and `pid` are valid for writes.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn cevm_ffi_resolve_fault(
    addr: usize,
    write: c_int,
    guest: *mut u32,
    pid: *mut u32,
) -> c_int {
    IN_FLIGHT.fetch_add(1, Ordering::SeqCst);
    let k = FAULT_KERNEL.load(Ordering::SeqCst);
    let answer = if k.is_null() {
        WindowFault::NotAWindow
    } else {
        // SAFETY: a published kernel stays alive while IN_FLIGHT is non-zero (publish).
        let k = unsafe { &*k };
        std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            let a = k.resolve_window_fault(addr, write != 0);
            if let WindowFault::AccessViolation { .. } = a {
                let p = cevm::ce::window_owner(k, addr).map_or(0, |p| p.0);
                // SAFETY: the caller passes writable pointers (the C handler's locals).
                unsafe { *pid = p };
            }
            a
        }))
        .unwrap_or(WindowFault::NotAWindow)
    };
    IN_FLIGHT.fetch_sub(1, Ordering::SeqCst);
    match answer {
        WindowFault::NotAWindow => 0,
        WindowFault::Retry => 1,
        WindowFault::AccessViolation { address, .. } => {
            // SAFETY: as above.
            unsafe { *guest = address };
            2
        }
        WindowFault::Busy => 3,
    }
}

/// A `__try` frame; its layout is `cevm_try_frame` of include/ce/cevm_seh.h, which only
/// C code reads.
#[repr(C)]
pub struct TryFrame {
    _opaque: [u8; 0],
}

/// `__try` entry and exit (cevm_seh.h): 1 the first time (frame pushed), 0 the second.
///
/// # Safety
/// `f` points to a zero-initialised or already entered `cevm_try_frame` on the caller's stack.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn cevm_try_enter(f: *mut TryFrame) -> c_int {
    // SAFETY: forwarded with the caller's contract.
    unsafe { cevm_c_try_enter(f) }
}

/// The cleanup of a `__try` frame leaving its scope (return, goto, normal end).
///
/// # Safety
/// As [`cevm_try_enter`].
#[unsafe(no_mangle)]
pub unsafe extern "C" fn cevm_try_cleanup(f: *mut TryFrame) {
    // SAFETY: forwarded with the caller's contract.
    unsafe { cevm_c_try_cleanup(f) }
}

/// The `__except` filter's disposition: 1 runs the handler, 0 re-raises outward.
///
/// # Safety
/// As [`cevm_try_enter`]; the frame has caught an exception.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn cevm_try_filter(f: *mut TryFrame, disposition: c_int) -> c_int {
    // SAFETY: forwarded with the caller's contract.
    unsafe { cevm_c_try_filter(f, disposition) }
}

/// Raises an exception to the innermost `__try` of the calling thread (or reports it and
/// ends the program). Must not be called with Rust frames between it and that `__try`.
///
/// # Safety
/// The innermost `__try` frame's function is still running and only C frames lie
/// between it and the caller.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn cevm_raise_exception(code: u32, address: u32, write: i32, pid: u32) -> ! {
    // SAFETY: forwarded with the caller's contract.
    unsafe { cevm_c_raise(code, address, write, pid) }
}

/// The innermost `__try` frame of the calling thread, NULL when none.
#[unsafe(no_mangle)]
pub extern "C" fn cevm_try_top() -> *mut TryFrame {
    // SAFETY: reads the calling thread's own thread-local.
    unsafe { cevm_c_try_top() }
}
