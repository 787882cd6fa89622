//! The CE calls under their Win32 names with CE's prototypes (declared by the hand-written
//! CE headers in include/ce, so cbindgen leaves them out of cevm.h). Each one applies the
//! pointer rules of `ptr.rs`, calls the same `Thread` method as the Rust API (or the `ce`
//! convention for a NULL out-parameter), and writes its out-parameters only on success.
//! The Thread methods set the last error themselves; this layer sets it only for its own
//! check (a host pointer in no window, 87, before any other check of the call).
//!
//! cbindgen:ignore

#![allow(
    non_snake_case,
    clippy::missing_safety_doc,
    clippy::upper_case_acronyms
)]

use std::ffi::c_void;

use cevm::{
    AllocType, ArgDescriptor, HResult, Handle, LockFlags, PageAttributes, Pid, ProcessAccess,
    Protection, Thread,
};

use crate::ptr::{at, guest, window_ptr};
use crate::state::{Booted, on_call};

type DWORD = u32;
type BOOL = i32;
type HANDLE = *mut c_void;
type LPVOID = *mut c_void;
type HRESULT = i32;

const ERROR_INVALID_PARAMETER: u32 = 87;
const PAGE_PHYSICAL: u32 = 0x400;
const E_INVALIDARG: HRESULT = HResult::E_INVALIDARG.0 as HRESULT;
const NULL: LPVOID = std::ptr::null_mut();

fn handle(h: HANDLE) -> Handle {
    Handle(u32::try_from(h as usize).unwrap_or(u32::MAX))
}

fn as_handle(v: u32) -> HANDLE {
    v as usize as HANDLE
}

fn b(ok: bool) -> BOOL {
    BOOL::from(ok)
}

/// The guest address of pointer argument `p`, or 87 set and `None`.
fn arg(bk: &Booted, t: &mut Thread, p: *const c_void) -> Option<u32> {
    let v = guest(&bk.kernel, p);
    if v.is_none() {
        t.set_last_error(ERROR_INVALID_PARAMETER);
    }
    v
}

/// A PAGE_PHYSICAL source is a number (a physical address >> 8), taken as it is.
fn source(bk: &Booted, t: &mut Thread, p: *const c_void, prot: u32) -> Option<u32> {
    if prot & PAGE_PHYSICAL != 0 {
        let v = u32::try_from(p as usize).ok();
        if v.is_none() {
            t.set_last_error(ERROR_INVALID_PARAMETER);
        }
        return v;
    }
    arg(bk, t, p)
}

fn active(t: &Thread) -> Pid {
    t.active().pid()
}

/// The process a handle names for a result pointer (the active one when it names none).
fn of_handle(t: &Thread, h: Handle) -> Pid {
    cevm::ce::handle_process(t, h).unwrap_or_else(|| active(t))
}

// ---- 5.1 / 5.2 allocation and release -------------------------------------------------

#[unsafe(no_mangle)]
pub extern "C" fn VirtualAlloc(a: LPVOID, n: DWORD, ty: DWORD, prot: DWORD) -> LPVOID {
    on_call("VirtualAlloc", NULL, |bk, t| {
        let Some(a) = arg(bk, t, a) else { return NULL };
        match t.virtual_alloc(
            a,
            n,
            AllocType::from_bits_retain(ty),
            Protection::from_bits_retain(prot),
        ) {
            Ok(va) => window_ptr(&bk.kernel, active(t), va),
            Err(_) => NULL,
        }
    })
}

#[unsafe(no_mangle)]
pub extern "C" fn VirtualAllocEx(h: HANDLE, a: LPVOID, n: DWORD, ty: DWORD, prot: DWORD) -> LPVOID {
    on_call("VirtualAllocEx", NULL, |bk, t| {
        let Some(a) = arg(bk, t, a) else { return NULL };
        let h = handle(h);
        match t.virtual_alloc_ex(
            h,
            a,
            n,
            AllocType::from_bits_retain(ty),
            Protection::from_bits_retain(prot),
        ) {
            Ok(va) => window_ptr(&bk.kernel, of_handle(t, h), va),
            Err(_) => NULL,
        }
    })
}

#[unsafe(no_mangle)]
pub extern "C" fn VirtualFree(a: LPVOID, n: DWORD, ty: DWORD) -> BOOL {
    on_call("VirtualFree", 0, |bk, t| {
        let Some(a) = arg(bk, t, a) else { return 0 };
        b(t.virtual_free(a, n, AllocType::from_bits_retain(ty))
            .is_ok())
    })
}

#[unsafe(no_mangle)]
pub extern "C" fn VirtualFreeEx(h: HANDLE, a: LPVOID, n: DWORD, ty: DWORD) -> BOOL {
    on_call("VirtualFreeEx", 0, |bk, t| {
        let Some(a) = arg(bk, t, a) else { return 0 };
        b(
            t.virtual_free_ex(handle(h), a, n, AllocType::from_bits_retain(ty))
                .is_ok(),
        )
    })
}

// ---- 5.3 protection -------------------------------------------------------------------

#[unsafe(no_mangle)]
pub unsafe extern "C" fn VirtualProtect(a: LPVOID, n: DWORD, new: DWORD, old: *mut DWORD) -> BOOL {
    on_call("VirtualProtect", 0, |bk, t| {
        let Some(a) = arg(bk, t, a) else { return 0 };
        // SAFETY: a non-NULL lpflOldProtect is writable host memory (CE's contract).
        let old = unsafe { old.as_mut() };
        b(cevm::ce::virtual_protect(t, a, n, new, old))
    })
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn VirtualProtectEx(
    h: HANDLE,
    a: LPVOID,
    n: DWORD,
    new: DWORD,
    old: *mut DWORD,
) -> BOOL {
    on_call("VirtualProtectEx", 0, |bk, t| {
        let Some(a) = arg(bk, t, a) else { return 0 };
        // SAFETY: a non-NULL lpflOldProtect is writable host memory (CE's contract).
        let old = unsafe { old.as_mut() };
        b(cevm::ce::virtual_protect_ex(t, handle(h), a, n, new, old))
    })
}

// ---- 5.4 query ------------------------------------------------------------------------

/// MEMORY_BASIC_INFORMATION as the host sees it (pointers at host width).
#[repr(C)]
pub struct MemoryBasicInformation {
    base_address: LPVOID,
    allocation_base: LPVOID,
    allocation_protect: DWORD,
    region_size: DWORD,
    state: DWORD,
    protect: DWORD,
    kind: DWORD,
}

const MBI_SIZE: DWORD = std::mem::size_of::<MemoryBasicInformation>() as DWORD;

fn query(
    bk: &Booted,
    t: &mut Thread,
    h: Option<Handle>,
    a: *const c_void,
    out: *mut MemoryBasicInformation,
    len: DWORD,
) -> DWORD {
    let Some(a) = arg(bk, t, a) else { return 0 };
    // The host structure is larger than CE's 28 bytes: a shorter buffer is refused by the
    // call's own length check (step 1), which sees a length too small for any structure.
    let len = if len < MBI_SIZE { 0 } else { len };
    if len != 0 && out.is_null() {
        t.set_last_error(ERROR_INVALID_PARAMETER);
        return 0;
    }
    let r = match h {
        None => t.virtual_query(a, len),
        Some(h) => t.virtual_query_ex(h, a, len),
    };
    let Ok(m) = r else { return 0 };
    let pid = match h {
        None => active(t),
        Some(h) => of_handle(t, h),
    };
    let base = bk.kernel.window(pid);
    // SAFETY: `out` is non-NULL (checked above, len != 0 on success) and, by CE's contract,
    // writable for dwLength >= sizeof(MEMORY_BASIC_INFORMATION) bytes.
    unsafe {
        out.write(MemoryBasicInformation {
            base_address: at(base, m.base_address),
            allocation_base: at(base, m.allocation_base),
            allocation_protect: m.allocation_protect.bits(),
            region_size: m.region_size,
            state: m.state.bits(),
            protect: m.protect.bits(),
            kind: m.kind.bits(),
        })
    };
    MBI_SIZE
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn VirtualQuery(
    a: *const c_void,
    out: *mut MemoryBasicInformation,
    len: DWORD,
) -> DWORD {
    on_call("VirtualQuery", 0, |bk, t| query(bk, t, None, a, out, len))
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn VirtualQueryEx(
    h: HANDLE,
    a: *const c_void,
    out: *mut MemoryBasicInformation,
    len: DWORD,
) -> DWORD {
    on_call("VirtualQueryEx", 0, |bk, t| {
        query(bk, t, Some(handle(h)), a, out, len)
    })
}

// ---- 5.5 / 5.6 VirtualCopy and VirtualAllocCopyEx ---------------------------------------

#[unsafe(no_mangle)]
pub extern "C" fn VirtualCopy(dst: LPVOID, src: LPVOID, n: DWORD, prot: DWORD) -> BOOL {
    on_call("VirtualCopy", 0, |bk, t| {
        let Some(d) = arg(bk, t, dst) else { return 0 };
        let Some(s) = source(bk, t, src, prot) else {
            return 0;
        };
        b(t.virtual_copy(d, s, n, Protection::from_bits_retain(prot))
            .is_ok())
    })
}

#[unsafe(no_mangle)]
pub extern "C" fn VirtualCopyEx(
    h_dst: HANDLE,
    dst: LPVOID,
    h_src: HANDLE,
    src: LPVOID,
    n: DWORD,
    prot: DWORD,
) -> BOOL {
    on_call("VirtualCopyEx", 0, |bk, t| {
        let Some(d) = arg(bk, t, dst) else { return 0 };
        let Some(s) = source(bk, t, src, prot) else {
            return 0;
        };
        b(t.virtual_copy_ex(
            handle(h_dst),
            d,
            handle(h_src),
            s,
            n,
            Protection::from_bits_retain(prot),
        )
        .is_ok())
    })
}

#[unsafe(no_mangle)]
pub extern "C" fn VirtualAllocCopyEx(
    h_src: HANDLE,
    h_dst: HANDLE,
    p: LPVOID,
    n: DWORD,
    prot: DWORD,
) -> LPVOID {
    on_call("VirtualAllocCopyEx", NULL, |bk, t| {
        let Some(s) = source(bk, t, p, prot) else {
            return NULL;
        };
        let hd = handle(h_dst);
        match t.virtual_alloc_copy_ex(handle(h_src), hd, s, n, Protection::from_bits_retain(prot)) {
            Ok(va) => {
                let pid = if hd == Handle::NULL {
                    bk.kernel.kernel_pid()
                } else {
                    of_handle(t, hd)
                };
                window_ptr(&bk.kernel, pid, va)
            }
            Err(_) => NULL,
        }
    })
}

// ---- 5.7 page locking -----------------------------------------------------------------

fn write_pfns(pfns: *mut DWORD, v: &[u64]) {
    if !pfns.is_null() {
        for (i, pa) in v.iter().enumerate() {
            // SAFETY: a non-NULL pPFNs holds one DWORD per page of the range (CE's contract).
            unsafe { pfns.add(i).write(*pa as u32) };
        }
    }
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn LockPages(a: LPVOID, n: DWORD, pfns: *mut DWORD, flags: i32) -> BOOL {
    on_call("LockPages", 0, |bk, t| {
        let Some(a) = arg(bk, t, a) else { return 0 };
        match t.lock_pages(a, n, LockFlags::from_bits_retain(flags as u32)) {
            Ok(v) => {
                write_pfns(pfns, &v);
                1
            }
            Err(_) => 0,
        }
    })
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn LockPagesEx(
    h: HANDLE,
    a: LPVOID,
    n: DWORD,
    pfns: *mut DWORD,
    flags: DWORD,
) -> BOOL {
    on_call("LockPagesEx", 0, |bk, t| {
        let Some(a) = arg(bk, t, a) else { return 0 };
        match t.lock_pages_ex(handle(h), a, n, LockFlags::from_bits_retain(flags)) {
            Ok(v) => {
                write_pfns(pfns, &v);
                1
            }
            Err(_) => 0,
        }
    })
}

#[unsafe(no_mangle)]
pub extern "C" fn UnlockPages(a: LPVOID, n: DWORD) -> BOOL {
    on_call("UnlockPages", 0, |bk, t| {
        let Some(a) = arg(bk, t, a) else { return 0 };
        b(t.unlock_pages(a, n).is_ok())
    })
}

#[unsafe(no_mangle)]
pub extern "C" fn UnlockPagesEx(h: HANDLE, a: LPVOID, n: DWORD) -> BOOL {
    on_call("UnlockPagesEx", 0, |bk, t| {
        let Some(a) = arg(bk, t, a) else { return 0 };
        b(t.unlock_pages_ex(handle(h), a, n).is_ok())
    })
}

// ---- 5.8 / 5.9 physical and device memory ---------------------------------------------

#[unsafe(no_mangle)]
pub unsafe extern "C" fn AllocPhysMem(
    n: DWORD,
    prot: DWORD,
    align_mask: DWORD,
    flags: DWORD,
    pa: *mut u32,
) -> LPVOID {
    on_call("AllocPhysMem", NULL, |bk, t| {
        let mut p = 0u64;
        let out = if pa.is_null() { None } else { Some(&mut p) };
        let va = cevm::ce::alloc_phys_mem(t, n, prot, align_mask, flags, out);
        if va == 0 {
            return NULL;
        }
        // SAFETY: pa is non-NULL here (a NULL one fails the call above) and writable.
        unsafe { pa.write(p as u32) };
        window_ptr(&bk.kernel, active(t), va)
    })
}

#[unsafe(no_mangle)]
pub extern "C" fn FreePhysMem(p: LPVOID) -> BOOL {
    on_call("FreePhysMem", 0, |bk, t| {
        let Some(a) = arg(bk, t, p) else { return 0 };
        b(t.free_phys_mem(a).is_ok())
    })
}

#[unsafe(no_mangle)]
pub extern "C" fn MmMapIoSpace(pa: i64, n: DWORD, cached: u8) -> LPVOID {
    on_call("MmMapIoSpace", NULL, |bk, t| {
        match t.mm_map_io_space(pa as u64, n, cached != 0) {
            Ok(va) => window_ptr(&bk.kernel, active(t), va),
            Err(_) => NULL,
        }
    })
}

#[unsafe(no_mangle)]
pub extern "C" fn MmUnmapIoSpace(p: LPVOID, n: DWORD) {
    on_call("MmUnmapIoSpace", (), |bk, t| {
        let Some(a) = arg(bk, t, p) else { return };
        let _ = t.mm_unmap_io_space(a, n);
    })
}

// ---- 5.10 attributes, 5.11 the shared heap -------------------------------------------

#[unsafe(no_mangle)]
pub unsafe extern "C" fn VirtualSetAttributes(
    a: LPVOID,
    n: DWORD,
    new: DWORD,
    mask: DWORD,
    old: *mut DWORD,
) -> BOOL {
    on_call("VirtualSetAttributes", 0, |bk, t| {
        let Some(a) = arg(bk, t, a) else { return 0 };
        match t.virtual_set_attributes(
            a,
            n,
            PageAttributes::from_bits_retain(new),
            PageAttributes::from_bits_retain(mask),
        ) {
            Ok(o) => {
                // SAFETY: a non-NULL lpdwOldFlags is writable host memory.
                if let Some(old) = unsafe { old.as_mut() } {
                    *old = o.bits();
                }
                1
            }
            Err(_) => 0,
        }
    })
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn VirtualSetAttributesEx(
    h: HANDLE,
    a: LPVOID,
    n: DWORD,
    new: DWORD,
    mask: DWORD,
    old: *mut DWORD,
) -> BOOL {
    on_call("VirtualSetAttributesEx", 0, |bk, t| {
        let Some(a) = arg(bk, t, a) else { return 0 };
        // SAFETY: a non-NULL lpdwOldFlags is writable host memory.
        let old = unsafe { old.as_mut() };
        b(cevm::ce::virtual_set_attributes_ex(
            t,
            handle(h),
            a,
            n,
            new,
            mask,
            old,
        ))
    })
}

#[unsafe(no_mangle)]
pub extern "C" fn CeVirtualSharedAlloc(a: LPVOID, n: DWORD, action: DWORD) -> LPVOID {
    on_call("CeVirtualSharedAlloc", NULL, |bk, t| {
        let Some(a) = arg(bk, t, a) else { return NULL };
        match t.ce_virtual_shared_alloc(a, n, AllocType::from_bits_retain(action)) {
            Ok(va) => window_ptr(&bk.kernel, active(t), va),
            Err(_) => NULL,
        }
    })
}

// ---- 5.12 process memory, processes and handles ----------------------------------------

#[unsafe(no_mangle)]
pub unsafe extern "C" fn ReadProcessMemory(
    h: HANDLE,
    base: *const c_void,
    buf: LPVOID,
    n: DWORD,
    done: *mut DWORD,
) -> BOOL {
    on_call("ReadProcessMemory", 0, |bk, t| {
        let Some(a) = arg(bk, t, base) else { return 0 };
        if buf.is_null() && n != 0 {
            t.set_last_error(ERROR_INVALID_PARAMETER);
            return 0;
        }
        let mut empty = [0u8; 0];
        let slice: &mut [u8] = if n == 0 {
            &mut empty
        } else {
            // SAFETY: lpBuffer is writable host memory of nSize bytes (CE's contract).
            unsafe { std::slice::from_raw_parts_mut(buf.cast::<u8>(), n as usize) }
        };
        match t.read_process_memory_into(handle(h), a, slice) {
            Ok(()) => {
                if !done.is_null() {
                    // SAFETY: a non-NULL lpNumberOfBytesRead is writable.
                    unsafe { done.write(n) };
                }
                1
            }
            Err(_) => 0,
        }
    })
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn WriteProcessMemory(
    h: HANDLE,
    base: LPVOID,
    buf: *const c_void,
    n: DWORD,
    done: *mut DWORD,
) -> BOOL {
    on_call("WriteProcessMemory", 0, |bk, t| {
        let Some(a) = arg(bk, t, base) else { return 0 };
        if buf.is_null() && n != 0 {
            t.set_last_error(ERROR_INVALID_PARAMETER);
            return 0;
        }
        let slice: &[u8] = if n == 0 {
            &[]
        } else {
            // SAFETY: lpBuffer is readable host memory of nSize bytes (CE's contract).
            unsafe { std::slice::from_raw_parts(buf.cast::<u8>(), n as usize) }
        };
        match t.write_process_memory(handle(h), a, slice) {
            Ok(w) => {
                if !done.is_null() {
                    // SAFETY: a non-NULL lpNumberOfBytesWritten is writable.
                    unsafe { done.write(w as DWORD) };
                }
                1
            }
            Err(_) => 0,
        }
    })
}

#[unsafe(no_mangle)]
pub extern "C" fn OpenProcess(access: DWORD, inherit: BOOL, pid: DWORD) -> HANDLE {
    on_call("OpenProcess", NULL, |_, t| {
        match t.open_process(
            ProcessAccess::from_bits_retain(access),
            inherit != 0,
            Pid(pid),
        ) {
            Ok(h) => as_handle(h.0),
            Err(_) => NULL,
        }
    })
}

#[unsafe(no_mangle)]
pub extern "C" fn CloseHandle(h: HANDLE) -> BOOL {
    on_call("CloseHandle", 0, |_, t| {
        b(t.close_handle(handle(h)).is_ok())
    })
}

#[unsafe(no_mangle)]
pub extern "C" fn TerminateProcess(h: HANDLE, code: DWORD) -> BOOL {
    on_call("TerminateProcess", 0, |_, t| {
        b(t.terminate_process(handle(h), code).is_ok())
    })
}

#[unsafe(no_mangle)]
pub extern "C" fn GetCurrentProcess() -> HANDLE {
    as_handle(Handle::CURRENT_PROCESS.0)
}

#[unsafe(no_mangle)]
pub extern "C" fn GetCurrentProcessId() -> DWORD {
    on_call("GetCurrentProcessId", 0, |_, t| t.current_process_id().0)
}

#[unsafe(no_mangle)]
pub extern "C" fn GetCallerVMProcessId() -> DWORD {
    on_call("GetCallerVMProcessId", 0, |_, t| t.caller_vm_process_id().0)
}

#[unsafe(no_mangle)]
pub extern "C" fn GetDirectCallerProcessId() -> DWORD {
    on_call("GetDirectCallerProcessId", 0, |_, t| {
        t.direct_caller_process_id().0
    })
}

#[unsafe(no_mangle)]
pub extern "C" fn GetCallerProcess() -> HANDLE {
    on_call("GetCallerProcess", NULL, |_, t| {
        as_handle(t.caller_process())
    })
}

#[unsafe(no_mangle)]
pub extern "C" fn GetOwnerProcess() -> HANDLE {
    on_call("GetOwnerProcess", NULL, |_, t| {
        as_handle(t.owner_process().0)
    })
}

#[unsafe(no_mangle)]
pub extern "C" fn GetLastError() -> DWORD {
    on_call("GetLastError", 0, |_, t| t.last_error())
}

#[unsafe(no_mangle)]
pub extern "C" fn SetLastError(e: DWORD) {
    on_call("SetLastError", (), |_, t| t.set_last_error(e))
}

// ---- 5.13 system information -----------------------------------------------------------

/// SYSTEM_INFO with CE's field types (pointers at host width).
#[repr(C)]
pub struct SystemInfo {
    processor_architecture: u16,
    reserved: u16,
    page_size: DWORD,
    minimum_application_address: LPVOID,
    maximum_application_address: LPVOID,
    active_processor_mask: DWORD,
    number_of_processors: DWORD,
    processor_type: DWORD,
    allocation_granularity: DWORD,
    processor_level: u16,
    processor_revision: u16,
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn GetSystemInfo(out: *mut SystemInfo) {
    if out.is_null() {
        return;
    }
    on_call("GetSystemInfo", (), |bk, t| {
        let s = t.get_system_info();
        let pid = active(t);
        // SAFETY: a non-NULL lpSystemInfo is writable host memory.
        unsafe {
            out.write(SystemInfo {
                processor_architecture: s.processor_architecture,
                reserved: 0,
                page_size: s.page_size,
                minimum_application_address: window_ptr(
                    &bk.kernel,
                    pid,
                    s.minimum_application_address,
                ),
                maximum_application_address: window_ptr(
                    &bk.kernel,
                    pid,
                    s.maximum_application_address,
                ),
                active_processor_mask: s.active_processor_mask,
                number_of_processors: s.number_of_processors,
                processor_type: s.processor_type,
                allocation_granularity: s.allocation_granularity,
                processor_level: 0,
                processor_revision: 0,
            })
        };
    })
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn GlobalMemoryStatus(out: *mut [DWORD; 8]) {
    if out.is_null() {
        return;
    }
    on_call("GlobalMemoryStatus", (), |_, t| {
        let m = t.global_memory_status();
        // SAFETY: a non-NULL lpBuffer is a writable MEMORYSTATUS (eight DWORDs).
        unsafe {
            out.write([
                m.length,
                m.memory_load,
                m.total_phys,
                m.avail_phys,
                m.total_page_file,
                m.avail_page_file,
                m.total_virtual,
                m.avail_virtual,
            ])
        };
    })
}

// ---- §7 the marshalling helpers --------------------------------------------------------

fn hr(h: HResult) -> HRESULT {
    h.0 as HRESULT
}

/// The pointer handed out for a helper's result `out` given source pointer `src`: the very
/// pointer the caller passed when the buffer is used in place, else a window pointer of the
/// active process (duplicates and aliases live there).
fn handed(bk: &Booted, t: &Thread, src_ptr: LPVOID, src: u32, out: u32) -> LPVOID {
    if out == src {
        src_ptr
    } else {
        window_ptr(&bk.kernel, active(t), out)
    }
}

fn open_like(
    name: &'static str,
    pp: *mut LPVOID,
    src_ptr: LPVOID,
    f: impl FnOnce(&mut Thread, u32) -> Result<u32, cevm::MarshalFailure>,
) -> HRESULT {
    on_call(name, E_INVALIDARG, |bk, t| {
        if pp.is_null() {
            return E_INVALIDARG;
        }
        let Some(src) = guest(&bk.kernel, src_ptr) else {
            return E_INVALIDARG;
        };
        match f(t, src) {
            Ok(out) => {
                // SAFETY: ppDest is non-NULL and writable (CE's contract).
                unsafe { pp.write(handed(bk, t, src_ptr, src, out)) };
                0
            }
            Err(e) => {
                if let Some(w) = e.written {
                    // SAFETY: as above.
                    unsafe { pp.write(handed(bk, t, src_ptr, src, w)) };
                }
                hr(e.hr)
            }
        }
    })
}

fn free_like(
    name: &'static str,
    dest: LPVOID,
    src: LPVOID,
    f: impl FnOnce(&mut Thread, u32, u32) -> Result<(), HResult>,
) -> HRESULT {
    on_call(name, E_INVALIDARG, |bk, t| {
        let (Some(d), Some(s)) = (guest(&bk.kernel, dest), guest(&bk.kernel, src)) else {
            return E_INVALIDARG;
        };
        match f(t, d, s) {
            Ok(()) => 0,
            Err(e) => hr(e),
        }
    })
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn CeOpenCallerBuffer(
    pp_dest: *mut LPVOID,
    src: LPVOID,
    cb: DWORD,
    desc: DWORD,
    force_duplicate: BOOL,
) -> HRESULT {
    open_like("CeOpenCallerBuffer", pp_dest, src, |t, s| {
        t.ce_open_caller_buffer(s, cb, ArgDescriptor(desc), force_duplicate != 0)
    })
}

#[unsafe(no_mangle)]
pub extern "C" fn CeCloseCallerBuffer(
    dest: LPVOID,
    src: LPVOID,
    cb: DWORD,
    desc: DWORD,
) -> HRESULT {
    free_like("CeCloseCallerBuffer", dest, src, |t, d, s| {
        t.ce_close_caller_buffer(d, s, cb, ArgDescriptor(desc))
    })
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn CeAllocAsynchronousBuffer(
    pp_async: *mut LPVOID,
    src: LPVOID,
    cb: DWORD,
    desc: DWORD,
) -> HRESULT {
    open_like("CeAllocAsynchronousBuffer", pp_async, src, |t, s| {
        t.ce_alloc_asynchronous_buffer(s, cb, ArgDescriptor(desc))
    })
}

#[unsafe(no_mangle)]
pub extern "C" fn CeFreeAsynchronousBuffer(
    p_async: LPVOID,
    src: LPVOID,
    cb: DWORD,
    desc: DWORD,
) -> HRESULT {
    free_like("CeFreeAsynchronousBuffer", p_async, src, |t, d, s| {
        t.ce_free_asynchronous_buffer(d, s, cb, ArgDescriptor(desc))
    })
}

#[unsafe(no_mangle)]
pub extern "C" fn CeFlushAsynchronousBuffer(
    p_async: LPVOID,
    src: LPVOID,
    src_unmarshalled: LPVOID,
    cb: DWORD,
    desc: DWORD,
) -> HRESULT {
    on_call("CeFlushAsynchronousBuffer", E_INVALIDARG, |bk, t| {
        let k = &bk.kernel;
        let (Some(d), Some(s), Some(u)) =
            (guest(k, p_async), guest(k, src), guest(k, src_unmarshalled))
        else {
            return E_INVALIDARG;
        };
        match t.ce_flush_asynchronous_buffer(d, s, u, cb, ArgDescriptor(desc)) {
            Ok(()) => 0,
            Err(e) => hr(e),
        }
    })
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn CeAllocDuplicateBuffer(
    pp_dest: *mut LPVOID,
    src: LPVOID,
    cb: DWORD,
    desc: DWORD,
) -> HRESULT {
    open_like("CeAllocDuplicateBuffer", pp_dest, src, |t, s| {
        t.ce_alloc_duplicate_buffer(s, cb, ArgDescriptor(desc))
    })
}

#[unsafe(no_mangle)]
pub extern "C" fn CeFreeDuplicateBuffer(
    dest: LPVOID,
    src: LPVOID,
    cb: DWORD,
    desc: DWORD,
) -> HRESULT {
    free_like("CeFreeDuplicateBuffer", dest, src, |t, d, s| {
        t.ce_free_duplicate_buffer(d, s, cb, ArgDescriptor(desc))
    })
}
