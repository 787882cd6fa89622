//! CE calling conventions for the calls whose out-parameters may be NULL: what a C
//! caller (and the future C ABI) sees. The typed API returns out-values instead, so a
//! NULL out-pointer cannot be expressed there; these wrappers add the NULL checks of
//! semantics.md and report failures through the thread's last error.

use crate::error::Error;
use crate::flags::{PageAttributes, ProcessAccess, Protection};
use crate::process::Handle;
use crate::thread::Thread;

fn null_out(t: &mut Thread, step: &'static str, what: &str) -> bool {
    let e = Error::invalid(step, format!("{what} must not be NULL"));
    t.set_last_error(e.win32());
    false
}

/// `VirtualProtectEx(h, a, n, new, lpflOldProtect)`: check 1 rejects a NULL `old` (87)
/// right after the handle checks.
pub fn virtual_protect_ex(
    t: &mut Thread,
    h: Handle,
    a: u32,
    n: u32,
    new: u32,
    old: Option<&mut u32>,
) -> bool {
    if let Err(e) = t.resolve(h, ProcessAccess::VM_OPERATION, None) {
        t.set_last_error(e.win32());
        return false;
    }
    let Some(old) = old else {
        return null_out(t, "5.3.1", "lpflOldProtect");
    };
    match t.virtual_protect_ex(h, a, n, Protection::from_bits_retain(new)) {
        Ok(p) => {
            *old = p.bits();
            true
        }
        Err(_) => false,
    }
}

/// `VirtualProtect(a, n, new, lpflOldProtect)` on the active process.
pub fn virtual_protect(t: &mut Thread, a: u32, n: u32, new: u32, old: Option<&mut u32>) -> bool {
    // The active process is resolved first, as for every call on it.
    if let Err(e) = t.resolve(Handle::CURRENT_PROCESS, ProcessAccess::empty(), None) {
        t.set_last_error(e.win32());
        return false;
    }
    let Some(old) = old else {
        return null_out(t, "5.3.1", "lpflOldProtect");
    };
    match t.virtual_protect(a, n, Protection::from_bits_retain(new)) {
        Ok(p) => {
            *old = p.bits();
            true
        }
        Err(_) => false,
    }
}

/// `AllocPhysMem(n, prot, align_mask, flags, pPhysicalAddress)`: a NULL
/// `pPhysicalAddress` is rejected with 87 among the argument checks. Returns the virtual
/// address or 0.
pub fn alloc_phys_mem(
    t: &mut Thread,
    n: u32,
    prot: u32,
    align_mask: u32,
    flags: u32,
    pa: Option<&mut u64>,
) -> u32 {
    let Some(pa) = pa else {
        return u32::from(null_out(t, "5.8", "pPhysicalAddress"));
    };
    match t.alloc_phys_mem(n, Protection::from_bits_retain(prot), align_mask, flags) {
        Ok((va, p)) => {
            *pa = p;
            va
        }
        Err(_) => 0,
    }
}

/// `VirtualSetAttributesEx(h, a, n, new, mask, lpdwOldFlags)`: the old flags are
/// optional.
pub fn virtual_set_attributes_ex(
    t: &mut Thread,
    h: Handle,
    a: u32,
    n: u32,
    new: u32,
    mask: u32,
    old: Option<&mut u32>,
) -> bool {
    match t.virtual_set_attributes_ex(
        h,
        a,
        n,
        PageAttributes::from_bits_retain(new),
        PageAttributes::from_bits_retain(mask),
    ) {
        Ok(o) => {
            if let Some(old) = old {
                *old = o.bits();
            }
            true
        }
        Err(_) => false,
    }
}

/// The process whose host window holds host address `addr`, without taking a lock (what
/// the C ABI's pointer rule and `cevm_pid_of` need); `None` when host windows are off or
/// `addr` is in no window.
pub fn window_owner(k: &crate::kernel::Kernel, addr: usize) -> Option<crate::process::Pid> {
    k.windows()?.owner(addr)
}

/// The process handle `h` names for this thread (`None` when it names none), without
/// touching the last error: the C ABI returns a window pointer of that process.
pub fn handle_process(t: &Thread, h: Handle) -> Option<crate::process::Pid> {
    t.resolve(h, ProcessAccess::empty(), None)
        .ok()
        .map(|p| p.pid())
}
