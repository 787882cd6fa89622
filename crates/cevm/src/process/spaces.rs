//! The one door to an address space: locking one or more spaces, in the global order, with
//! the liveness of the processes a call names checked under the lock.
//!
//! The rule: every process a call *names* (the process its handle or context resolves to,
//! both of a two-process call) must still be alive once the spaces are locked, or the call
//! fails with ERROR_INVALID_HANDLE. A named process's own space is always among those
//! locked, so the answer cannot change while the call runs (ending a process locks its
//! space before it marks it dead). NK.EXE's space is locked too whenever a call reaches
//! the shared heap or the kernel half, whose pages live in the kernel's tables.

use std::sync::{Arc, MutexGuard};

use crate::error::{Error, Result};
use crate::layout::SHARED_HEAP_BASE;
use crate::process::{Pid, Process};
use crate::space::AddressSpace;

/// Up to three address spaces locked together, in process-id order.
pub(crate) struct Spaces<'a> {
    // A fixed array: locking is on every call's path and must not allocate.
    locked: [Option<(Pid, MutexGuard<'a, AddressSpace>)>; 3],
    kernel: Pid,
}

impl<'a> Spaces<'a> {
    /// Locks the spaces of `named` (at most two processes) and, when `with_kernel`, the
    /// kernel's, in ascending pid order (duplicates collapse); then checks the rule above.
    pub fn lock(
        nk: &'a Arc<Process>,
        named: &[&'a Arc<Process>],
        with_kernel: bool,
    ) -> Result<Self> {
        let mut order: [Option<&'a Process>; 3] = [None; 3];
        for (slot, p) in order.iter_mut().zip(named.iter().take(2)) {
            *slot = Some(p);
        }
        if with_kernel {
            order[2] = Some(nk);
        }
        order.sort_by_key(|p| p.map_or(Pid(u32::MAX), |p| p.pid()));
        let mut locked = [None, None, None];
        let mut last = None;
        for (slot, p) in locked.iter_mut().zip(order.into_iter().flatten()) {
            if last != Some(p.pid()) {
                last = Some(p.pid());
                *slot = Some((p.pid(), p.space()));
            }
        }
        if let Some(dead) = named.iter().find(|p| !p.is_alive()) {
            return Err(Error::ended(dead.pid().0));
        }
        Ok(Self {
            locked,
            kernel: nk.pid(),
        })
    }

    /// Locks what a call on `[a, a + n)` of `proc` needs: `proc`'s space and, when the range
    /// reaches the shared heap or above, the kernel's.
    pub fn for_range(nk: &'a Arc<Process>, proc: &'a Arc<Process>, a: u32, n: u32) -> Result<Self> {
        let last = u64::from(a) + u64::from(n.max(1)) - 1;
        Self::lock(nk, &[proc], last >= u64::from(SHARED_HEAP_BASE))
    }

    /// Locks what a thread's access to `[a, a + n)` through `proc`'s context needs. An
    /// access names no process: only the tables it reaches must exist, so a thread whose
    /// process has ended still reaches the kernel's tables, and faults below them.
    pub fn for_access(
        nk: &'a Arc<Process>,
        proc: &'a Arc<Process>,
        a: u32,
        n: u32,
    ) -> Result<Self> {
        if a >= SHARED_HEAP_BASE {
            return Self::lock(nk, &[], true);
        }
        Self::for_range(nk, proc, a, n)
    }

    /// The locked space of process `pid` (every caller has locked the spaces it names).
    pub fn get(&mut self, pid: Pid) -> &mut AddressSpace {
        match self.locked.iter_mut().flatten().find(|(p, _)| *p == pid) {
            Some((_, g)) => g,
            None => unreachable!("space of {pid:?} was not locked"),
        }
    }

    /// The locked space whose tables hold `va` for process `pid`: the kernel's from the
    /// shared heap up (semantics.md §3), `pid`'s below.
    pub fn holding(&mut self, pid: Pid, va: u32) -> &mut AddressSpace {
        let owner = if va >= SHARED_HEAP_BASE {
            self.kernel
        } else {
            pid
        };
        self.get(owner)
    }
}

impl Drop for Spaces<'_> {
    /// Host windows show every change before the locks go (nothing to do when off).
    fn drop(&mut self) {
        for (_, g) in self.locked.iter_mut().flatten() {
            g.table.sync_windows();
        }
    }
}

/// Every space of `procs` locked at once, in pid order (the invariant checker's view).
pub(crate) fn lock_all(procs: &[Arc<Process>]) -> Vec<(&Process, MutexGuard<'_, AddressSpace>)> {
    let mut sorted: Vec<&Process> = procs.iter().map(|p| p.as_ref()).collect();
    sorted.sort_by_key(|p| p.pid());
    sorted.into_iter().map(|p| (p, p.space())).collect()
}

/// The space of a process being ended, locked; the caller marks it dead while it holds it.
pub(crate) fn lock_ending(proc: &Process) -> MutexGuard<'_, AddressSpace> {
    proc.space()
}
