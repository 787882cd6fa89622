//! The pointer rules of c-abi.md, in one place: what a pointer argument means as a guest
//! address, and the window pointer a guest address is returned as.

use std::ffi::c_void;

use cevm::{Kernel, Pid};

/// The guest address a pointer argument names: its low 32 bits, when it is a raw 32-bit
/// value or lies in some process's window; `None` (the call fails with 87) when it is at
/// or above 4 GiB and in no window.
pub fn guest(k: &Kernel, p: *const c_void) -> Option<u32> {
    let a = p as usize;
    if let Ok(v) = u32::try_from(a) {
        return Some(v);
    }
    cevm::ce::window_owner(k, a).map(|_| a as u32)
}

/// The window pointer of guest address `va` in process `pid` (the plain 32-bit value when
/// host windows are off or `va` is 0).
pub fn window_ptr(k: &Kernel, pid: Pid, va: u32) -> *mut c_void {
    if va == 0 {
        return std::ptr::null_mut();
    }
    at(k.window(pid), va)
}

/// As [`window_ptr`], with the window base already looked up (`Kernel::window`), for a
/// result with several addresses in one process.
pub fn at(base: Option<*mut u8>, va: u32) -> *mut c_void {
    match base {
        _ if va == 0 => std::ptr::null_mut(),
        Some(base) => base.wrapping_add(va as usize).cast(),
        None => va as usize as *mut c_void,
    }
}

/// The process whose window holds `p` (0 when none).
pub fn pid_of(k: &Kernel, p: *const c_void) -> u32 {
    cevm::ce::window_owner(k, p as usize).map_or(0, |p| p.0)
}
