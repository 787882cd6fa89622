//! The host API of `include/cevm.h` (interfaces.md §2.2 in C): what a host program does
//! around the kernel. `include/cevm.h` is generated from this file by cbindgen.

#![allow(non_camel_case_types, clippy::upper_case_acronyms)]

use std::ffi::{CStr, CString, c_char, c_void};

use cevm::{Context, ExposurePolicy, Mode, Pid};

use crate::ptr;
use crate::state::{self, guarded, on_thread};

/// 32-bit unsigned, as on CE.
pub type DWORD = u32;
/// 32-bit signed boolean, as on CE.
pub type BOOL = i32;
/// 64-bit unsigned.
pub type ULONGLONG = u64;

/// `cevm_enter` mode: user mode.
pub const CEVM_USER_MODE: DWORD = 0;
/// `cevm_enter` mode: kernel mode.
pub const CEVM_KERNEL_MODE: DWORD = 1;
/// Exposure policy: CE's behaviour (the default).
pub const CEVM_POLICY_COMPATIBLE: DWORD = 0;
/// Exposure policy: strict (audit.md: an exposing alias fails with 87).
pub const CEVM_POLICY_STRICT: DWORD = 1;
/// Exposure policy: isolate (audit.md: partial pages get bounce frames).
pub const CEVM_POLICY_ISOLATE: DWORD = 2;

const ERROR_INVALID_PARAMETER: u32 = 87;
const ERROR_NOT_SUPPORTED: u32 = 50;
const ERROR_NOT_ENOUGH_MEMORY: u32 = 8;

/// How `cevm_boot` boots the kernel; all zero (or a NULL pointer) gives the defaults.
#[repr(C)]
#[derive(Clone, Copy)]
pub struct cevm_config {
    /// RAM in MiB (0: 64).
    pub ram_mb: DWORD,
    /// The physical address of the first RAM byte (page aligned).
    pub ram_base: ULONGLONG,
    /// Seeded placement randomisation on when non-zero.
    pub aslr: BOOL,
    /// The ASLR seed.
    pub aslr_seed: ULONGLONG,
    /// `CEVM_POLICY_COMPATIBLE` (0), `CEVM_POLICY_STRICT` (1) or `CEVM_POLICY_ISOLATE` (2).
    pub exposure_policy: DWORD,
}

/// The full context of semantics.md §2 for `cevm_enter_ex`.
#[repr(C)]
#[derive(Clone, Copy)]
pub struct cevm_context {
    /// The active process P.
    pub process: DWORD,
    /// `CEVM_USER_MODE` or `CEVM_KERNEL_MODE`.
    pub mode: DWORD,
    /// The VM process V (0: P).
    pub vm: DWORD,
    /// The direct caller C (0: none).
    pub caller: DWORD,
    /// The owner O (0: the default of §2).
    pub owner: DWORD,
}

/// A fault of `cevm_read` / `cevm_write`.
#[repr(C)]
#[derive(Clone, Copy)]
pub struct cevm_exception {
    /// The exception code (STATUS_ACCESS_VIOLATION).
    pub code: DWORD,
    /// The guest address of the fault.
    pub address: DWORD,
    /// TRUE when the access was a write.
    pub write: BOOL,
}

fn pid_opt(v: DWORD) -> Option<Pid> {
    (v != 0).then_some(Pid(v))
}

fn mode_of(v: DWORD) -> Option<Mode> {
    match v {
        CEVM_USER_MODE => Some(Mode::User),
        CEVM_KERNEL_MODE => Some(Mode::Kernel),
        _ => None,
    }
}

/// Boots a fresh kernel for the whole program, replacing any earlier one; `cfg` NULL or
/// all zero gives the defaults (64 MiB at 0, no ASLR, host windows on). Returns 0 or a
/// Win32 error code (87 for a bad field). A policy other than compatible, or the
/// environment variable `CEVM_AUDIT`, turns the auditor on.
///
/// # Safety
/// `cfg` is NULL or points to a readable `cevm_config`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn cevm_boot(cfg: *const cevm_config) -> DWORD {
    guarded(ERROR_NOT_ENOUGH_MEMORY, || {
        let mut config = state::default_config();
        if !cfg.is_null() {
            // SAFETY: the caller passes NULL or a readable config.
            let c = unsafe { *cfg };
            config.exposure_policy = match c.exposure_policy {
                CEVM_POLICY_COMPATIBLE => ExposurePolicy::Compatible,
                CEVM_POLICY_STRICT => ExposurePolicy::Strict,
                CEVM_POLICY_ISOLATE => ExposurePolicy::Isolate,
                _ => return ERROR_INVALID_PARAMETER,
            };
            if c.ram_mb != 0 {
                if c.ram_mb > 4096 {
                    return ERROR_INVALID_PARAMETER;
                }
                config.ram_bytes = u64::from(c.ram_mb) << 20;
            }
            config.ram_base = c.ram_base;
            if c.aslr != 0 {
                config.aslr_seed = Some(c.aslr_seed);
            }
        }
        match state::boot(config) {
            Ok(()) => 0,
            Err(e) => e,
        }
    })
}

/// NK.EXE's process id.
#[unsafe(no_mangle)]
pub extern "C" fn cevm_kernel_pid() -> DWORD {
    guarded(0, || {
        state::current().map_or(0, |b| b.kernel.kernel_pid().0)
    })
}

/// A new empty process named `name`; its id, 0 on failure.
///
/// # Safety
/// `name` is NULL or a NUL-terminated string.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn cevm_create_process(name: *const c_char) -> DWORD {
    if name.is_null() {
        return 0;
    }
    // SAFETY: the caller passes a NUL-terminated string.
    let name = unsafe { CStr::from_ptr(name) }
        .to_string_lossy()
        .into_owned();
    guarded(0, || {
        state::current()
            .ok()
            .and_then(|b| b.kernel.create_process(&name).ok())
            .map_or(0, |p| p.0)
    })
}

/// Registers `n` bytes of device memory at physical address `pa`.
///
/// # Safety
/// `name` is NULL or a NUL-terminated string.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn cevm_add_device(name: *const c_char, pa: ULONGLONG, n: DWORD) -> BOOL {
    if name.is_null() {
        return 0;
    }
    // SAFETY: the caller passes a NUL-terminated string.
    let name = unsafe { CStr::from_ptr(name) }
        .to_string_lossy()
        .into_owned();
    guarded(0, || {
        state::current()
            .ok()
            .is_some_and(|b| b.kernel.add_device(&name, pa, u64::from(n)).is_ok())
            .into()
    })
}

fn enter(ctx: Option<Context>) -> BOOL {
    on_thread(0, |_, t| {
        let Some(ctx) = ctx else {
            t.set_last_error(ERROR_INVALID_PARAMETER);
            return 0;
        };
        match t.enter_context(ctx) {
            Ok(()) => 1,
            Err(e) => {
                t.set_last_error(e.win32());
                0
            }
        }
    })
}

/// The calling host thread now runs in `pid` (active and VM process) in `mode`, with
/// `caller_pid` (0: none) as its direct caller and owner.
#[unsafe(no_mangle)]
pub extern "C" fn cevm_enter(pid: DWORD, mode: DWORD, caller_pid: DWORD) -> BOOL {
    enter(mode_of(mode).map(|m| Context {
        caller: pid_opt(caller_pid),
        ..Context::new(Pid(pid), m)
    }))
}

/// The calling host thread now runs in the full context `*ctx`.
///
/// # Safety
/// `ctx` is NULL or points to a readable `cevm_context`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn cevm_enter_ex(ctx: *const cevm_context) -> BOOL {
    let c = if ctx.is_null() {
        None
    } else {
        // SAFETY: the caller passes a readable context.
        Some(unsafe { *ctx })
    };
    enter(c.and_then(|c| {
        mode_of(c.mode).map(|m| Context {
            process: Pid(c.process),
            mode: m,
            vm: pid_opt(c.vm),
            caller: pid_opt(c.caller),
            owner: pid_opt(c.owner),
        })
    }))
}

/// The window pointer of guest address `va` in process `pid` (the raw value when host
/// windows are off; NULL when `va` is 0).
#[unsafe(no_mangle)]
pub extern "C" fn cevm_ptr(pid: DWORD, va: DWORD) -> *mut c_void {
    guarded(std::ptr::null_mut(), || match state::current() {
        Ok(b) => ptr::window_ptr(&b.kernel, Pid(pid), va),
        Err(_) => std::ptr::null_mut(),
    })
}

/// The guest address of a window pointer (its low 32 bits).
#[unsafe(no_mangle)]
pub extern "C" fn cevm_va(p: *const c_void) -> DWORD {
    p as usize as u32
}

/// The process whose window holds `p`, 0 outside every window.
#[unsafe(no_mangle)]
pub extern "C" fn cevm_pid_of(p: *const c_void) -> DWORD {
    guarded(0, || {
        state::current().map_or(0, |b| ptr::pid_of(&b.kernel, p))
    })
}

fn fill(e: *mut cevm_exception, x: cevm::Exception) {
    if !e.is_null() {
        // SAFETY: a non-NULL `e` is writable (the callers' contract).
        unsafe {
            *e = cevm_exception {
                code: x.code,
                address: x.address,
                write: x.write.into(),
            }
        };
    }
}

/// The checked read of semantics.md §6 in the calling thread's context: `n` bytes at
/// guest address `va` into `buf`. On a fault returns FALSE and fills `*e` (if given).
///
/// # Safety
/// `buf` is writable for `n` bytes; `e` is NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn cevm_read(
    va: DWORD,
    buf: *mut c_void,
    n: DWORD,
    e: *mut cevm_exception,
) -> BOOL {
    on_thread(0, |_, t| {
        if buf.is_null() && n != 0 {
            t.set_last_error(ERROR_INVALID_PARAMETER);
            return 0;
        }
        let mut empty = [0u8; 0];
        let b: &mut [u8] = if n == 0 {
            &mut empty
        } else {
            // SAFETY: the caller passes a buffer writable for n bytes.
            unsafe { std::slice::from_raw_parts_mut(buf.cast::<u8>(), n as usize) }
        };
        match t.read_bytes(va, b) {
            Ok(()) => 1,
            Err(x) => {
                fill(e, x);
                0
            }
        }
    })
}

/// The checked write of semantics.md §6: `n` bytes of `buf` to guest address `va`.
///
/// # Safety
/// `buf` is readable for `n` bytes; `e` is NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn cevm_write(
    va: DWORD,
    buf: *const c_void,
    n: DWORD,
    e: *mut cevm_exception,
) -> BOOL {
    on_thread(0, |_, t| {
        if buf.is_null() && n != 0 {
            t.set_last_error(ERROR_INVALID_PARAMETER);
            return 0;
        }
        let b: &[u8] = if n == 0 {
            &[]
        } else {
            // SAFETY: the caller passes a buffer readable for n bytes.
            unsafe { std::slice::from_raw_parts(buf.cast::<u8>(), n as usize) }
        };
        match t.write_bytes(va, b) {
            Ok(()) => 1,
            Err(x) => {
                fill(e, x);
                0
            }
        }
    })
}

/// The auditor's findings so far as JSON lines (audit.md, "Output"), freed with
/// `cevm_free_string`: TRUE and `*json` set; FALSE with ERROR_NOT_SUPPORTED when the kernel
/// was booted without the auditor (no `CEVM_AUDIT`, compatible policy), or with
/// ERROR_INVALID_PARAMETER when `json` is NULL.
///
/// # Safety
/// `json` is NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn cevm_audit_report(json: *mut *mut c_char) -> BOOL {
    on_thread(0, |b, t| {
        if json.is_null() {
            t.set_last_error(ERROR_INVALID_PARAMETER);
            return 0;
        }
        if !b.kernel.audit_enabled() {
            t.set_last_error(ERROR_NOT_SUPPORTED);
            return 0;
        }
        let lines: String = b
            .kernel
            .audit_findings()
            .iter()
            .map(|f| f.to_json() + "\n")
            .collect();
        // SAFETY: `json` is writable (checked non-NULL; the caller's contract).
        unsafe { *json = c_string(lines) };
        1
    })
}

fn c_string(s: String) -> *mut c_char {
    CString::new(s.replace('\0', " ")).map_or(std::ptr::null_mut(), CString::into_raw)
}

/// The map text of interfaces.md §2.3 for process `pid` (0: every process), freed with
/// `cevm_free_string`; NULL when `pid` names no live process.
#[unsafe(no_mangle)]
pub extern "C" fn cevm_maps(pid: DWORD) -> *mut c_char {
    guarded(std::ptr::null_mut(), || {
        let Ok(b) = state::current() else {
            return std::ptr::null_mut();
        };
        let text = if pid == 0 {
            Some(crate::maps::render_all(&b.kernel))
        } else {
            crate::maps::render_process(&b.kernel, Pid(pid))
        };
        text.map_or(std::ptr::null_mut(), c_string)
    })
}

/// Frees a string returned by `cevm_maps`, `cevm_check_invariants` or
/// `cevm_audit_report` (NULL is ignored).
///
/// # Safety
/// `s` is NULL or a string one of those functions returned, not freed before.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn cevm_free_string(s: *mut c_char) {
    if !s.is_null() {
        // SAFETY: `s` came from CString::into_raw in this library (the caller's contract).
        drop(unsafe { CString::from_raw(s) });
    }
}

/// Runs the invariant checker: TRUE when every invariant holds; else FALSE and `*why`
/// (if given) receives the reason, freed with `cevm_free_string`.
///
/// # Safety
/// `why` is NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn cevm_check_invariants(why: *mut *mut c_char) -> BOOL {
    guarded(0, || {
        let r = match state::current() {
            Ok(b) => b.kernel.check_invariants(),
            Err(e) => Err(format!("no kernel: error {e}")),
        };
        match r {
            Ok(()) => 1,
            Err(msg) => {
                if !why.is_null() {
                    // SAFETY: a non-NULL `why` is writable (the caller's contract).
                    unsafe { *why = c_string(msg) };
                }
                0
            }
        }
    })
}
