//! The fault path: what a host fault inside a window means, by the §6 rules for a
//! kernel-mode thread of the window's process.
//!
//! It may be called from a SIGSEGV handler on the faulting thread, so it never waits for
//! a lock: the window is found through a lock-free table, and the process table and the
//! space are taken with `try_lock`; when one is held by someone else the answer is
//! [`WindowFault::Busy`] and the handler returns, so the access faults again and retries
//! (the holder is another thread, which finishes its call: cevm never touches window
//! memory itself, so a thread faulting in a window is not inside a cevm call and holds no
//! cevm lock). The frame pool's lock is the one lock it waits for: it is innermost, held
//! only for a moment inside a call, never across a window access.

use crate::flags::{Access, ValidProtection};
use crate::kernel::Kernel;
use crate::layout::{CPU_RESERVED_BASE, SHARED_HEAP_BASE};
use crate::pte::{PageState, Pte, ReserveKind};

use super::sync::target;

/// What a host fault in a window comes to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WindowFault {
    /// The page is mapped now (auto-commit, or a page the budget had left unmapped):
    /// run the access again.
    Retry,
    /// A CE access violation at guest address `address` (a guard page met is consumed, as
    /// a kernel-mode thread's touch would).
    AccessViolation {
        /// The guest address of the access.
        address: u32,
        /// Whether it was a write.
        write: bool,
    },
    /// Another thread holds a lock the answer needs (or no host mapping could be made
    /// just now): return from the handler and let the access fault again.
    Busy,
    /// The address is in no window.
    NotAWindow,
}

const AUTO_COMMIT_PROT: ValidProtection = ValidProtection {
    access: Access::ReadWrite,
    guard: false,
    nocache: false,
};

impl Kernel {
    /// Takes room for one run from the budget, unmapping another run when it is spent:
    /// first one of the locked table `held` (not `keep`), then one of any other space
    /// that can be locked without waiting. False when no room could be made.
    fn make_room(&self, held: &mut crate::space::AddressSpace, keep: (u32, u64)) -> bool {
        let Some(w) = self.windows() else {
            return false;
        };
        for _ in 0..4 {
            if w.budget.try_take() {
                return true;
            }
            if held
                .table
                .windows_mut()
                .is_some_and(|h| h.evict(Some(keep)))
            {
                continue;
            }
            let Some(procs) = self.try_processes() else {
                return false;
            };
            let freed = procs.iter().any(|p| {
                p.try_space()
                    .is_some_and(|mut s| s.table.windows_mut().is_some_and(|h| h.evict(None)))
            });
            if !freed {
                return false;
            }
        }
        false
    }

    /// Classifies a host fault at `host_addr` (a write when `write`) inside a window and
    /// does what §6 does for a kernel-mode thread of that window's process: an unconsumed
    /// guard page is consumed and reported; an auto-commit page is committed (zeroed,
    /// read/write) and mapped; a page the mapping budget left unmapped is mapped (another
    /// run may be unmapped for it); anything else is an access violation with the guest
    /// address. Takes no lock it would have to wait for (module comment).
    pub fn resolve_window_fault(&self, host_addr: usize, write: bool) -> WindowFault {
        let Some(w) = self.windows() else {
            return WindowFault::NotAWindow;
        };
        let Some(pid) = w.owner(host_addr) else {
            return WindowFault::NotAWindow;
        };
        let va = host_addr as u32;
        let av = WindowFault::AccessViolation { address: va, write };
        if self.layout().is_static(va) || va >= CPU_RESERVED_BASE {
            // The static mapping is always mapped read/write; the top always faults.
            return av;
        }
        let proc = if va >= SHARED_HEAP_BASE {
            self.nk().clone()
        } else {
            match self.try_process(pid) {
                Some(Some(p)) => p,
                Some(None) => return WindowFault::NotAWindow,
                None => return WindowFault::Busy,
            }
        };
        let Some(mut space) = proc.try_space() else {
            return WindowFault::Busy;
        };
        let table = &mut space.table;
        let e = table.get(va);
        match e.state() {
            PageState::Committed if e.guard() => {
                table.set(va, e.without_guard());
                table.sync_windows();
                av
            }
            PageState::Committed => match target(e) {
                Some((_, writable)) if writable || !write => {
                    let Some(side) = table
                        .windows_mut()
                        .and_then(|h| h.side_for(pid.0, u64::from(va)))
                    else {
                        return av;
                    };
                    let Some((start, run)) = side.run_at(u64::from(va & !0xFFF)) else {
                        // An entry with no host memory behind it (no RAM, no device).
                        return av;
                    };
                    if run.mapped {
                        return WindowFault::Retry;
                    }
                    if !self.make_room(&mut space, (pid.0, start)) {
                        return WindowFault::Busy;
                    }
                    let mapped = space
                        .table
                        .windows_mut()
                        .and_then(|h| h.side_for(pid.0, u64::from(va)))
                        .is_some_and(|side| side.map_taken(w, start));
                    if mapped {
                        WindowFault::Retry
                    } else {
                        WindowFault::Busy
                    }
                }
                _ => av,
            },
            PageState::Reserved(ReserveKind::AutoCommit) => {
                let Some(frames) = self.memory().alloc(1) else {
                    return av;
                };
                let pfn = frames.install().next().expect("one frame");
                table.set(va & !0xFFF, Pte::committed(pfn, AUTO_COMMIT_PROT, false));
                table.sync_windows();
                WindowFault::Retry
            }
            _ => av,
        }
    }
}
