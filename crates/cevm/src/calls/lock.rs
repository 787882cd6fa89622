//! LockPages(Ex) / UnlockPages(Ex) (semantics.md §5.7).

use std::sync::Arc;

use crate::access::AccessKind;
use crate::error::{Error, ErrorCode, Result};
use crate::flags::{LockFlags, ProcessAccess};
use crate::layout::{SHARED_HEAP_BASE, USER_BASE, page_floor, page_span};
use crate::process::{Handle, Process, Spaces};
use crate::space::LockRecord;
use crate::thread::Mode;
use crate::thread::Thread;

impl Thread {
    /// `LockPages` in the VM process V (§5.7): brings every page of `(a, n)` in (for writing
    /// with `LOCKFLAG_WRITE`) and keeps it committed until unlocked. Returns one physical
    /// address per page.
    pub fn lock_pages(&mut self, a: u32, n: u32, flags: LockFlags) -> Result<Vec<u64>> {
        self.on_vm(|me, vm| me.lock_in(vm, a, n, flags))
    }

    /// `LockPagesEx`: as [`lock_pages`](Self::lock_pages) in the process `h` names.
    pub fn lock_pages_ex(
        &mut self,
        h: Handle,
        a: u32,
        n: u32,
        flags: LockFlags,
    ) -> Result<Vec<u64>> {
        self.on_process(
            h,
            ProcessAccess::VM_OPERATION,
            Some(ErrorCode::NotSupported),
            |me, proc| me.lock_in(proc, a, n, flags),
        )
    }

    /// `UnlockPages` in the VM process V (§5.7): removes the lock record with exactly this
    /// page-aligned start and page count.
    pub fn unlock_pages(&mut self, a: u32, n: u32) -> Result<()> {
        self.on_vm(|me, vm| me.unlock_in(vm, a, n))
    }

    /// `UnlockPagesEx`: as [`unlock_pages`](Self::unlock_pages) in the process `h` names.
    pub fn unlock_pages_ex(&mut self, h: Handle, a: u32, n: u32) -> Result<()> {
        self.on_process(
            h,
            ProcessAccess::VM_OPERATION,
            Some(ErrorCode::NotSupported),
            |me, proc| {
                me.audit_unlock_pre(proc, a, n);
                me.unlock_in(proc, a, n)
            },
        )
    }

    fn check_lock_args(a: u32, n: u32) -> Result<()> {
        if page_floor(a) < USER_BASE || (n as i32) <= 0 {
            return Err(Error::invalid(
                "5.7.1",
                format!(
                    "0x{a:08X}+0x{n:X}: the address must be at least 0x00010000 and the size positive"
                ),
            ));
        }
        Ok(())
    }

    fn lock_in(&self, proc: &Arc<Process>, a: u32, n: u32, flags: LockFlags) -> Result<Vec<u64>> {
        let k = &self.kernel;
        // 1. Address, size and flags.
        Self::check_lock_args(a, n)?;
        if !LockFlags::all().contains(flags) {
            return Err(Error::invalid(
                "5.7.1",
                format!(
                    "lock flags 0x{:X} are not a subset of WRITE|QUERY_ONLY|READ",
                    flags.bits()
                ),
            ));
        }
        let (first, pages) = page_span(a, n);
        // 2. The static mapping: report frames, lock nothing.
        if k.layout().is_static(a) {
            let pa = k.static_range(a, n).ok_or_else(|| {
                Error::invalid(
                    "5.7.2",
                    format!("0x{a:08X}+0x{n:X} leaves the kernel static mapping"),
                )
            })?;
            let base = pa & !0xFFF;
            return Ok((0..u64::from(pages)).map(|i| base + i * 0x1000).collect());
        }
        // 3. Bring every page in, all or nothing. The lock record is tagged with `proc`,
        // which `Spaces` has found alive under its own lock.
        let mut spaces = Spaces::for_range(k.nk(), proc, a, n)?;
        let kind = if flags.contains(LockFlags::WRITE) {
            AccessKind::Write
        } else {
            AccessKind::Read
        };
        let mut frames = Vec::with_capacity(pages as usize);
        k.touch_pages(&mut spaces, proc, a, pages, kind, Mode::Kernel, &mut frames)
            .map_err(|e| {
                Error::no_memory(
                    "5.7.3",
                    format!(
                        "page 0x{:08X} cannot be brought in for locking",
                        e.address & !0xFFF
                    ),
                )
            })?;
        // 4–5. The frames; a lock record unless only queried.
        if !flags.contains(LockFlags::QUERY_ONLY) {
            for (start, count) in lock_parts(first, pages) {
                spaces.holding(proc.pid(), start).locks.push(LockRecord {
                    start,
                    pages: count,
                    owner: proc.pid().0,
                    whole: (first, pages),
                });
            }
            drop(spaces);
            let what = format!(
                "the lock of 0x{pages:X} pages at 0x{first:08X} made for process 0x{:X}",
                proc.pid().0
            );
            self.audit_item(
                crate::audit::ItemKind::Lock { pages },
                proc.pid(),
                first,
                what,
            );
        }
        Ok(frames.iter().map(|f| f.addr()).collect())
    }

    fn unlock_in(&self, proc: &Arc<Process>, a: u32, n: u32) -> Result<()> {
        let k = &self.kernel;
        Self::check_lock_args(a, n)?;
        if k.layout().is_static(a) {
            return k.static_range(a, n).map(|_| ()).ok_or_else(|| {
                Error::invalid(
                    "5.7.2",
                    format!("0x{a:08X}+0x{n:X} leaves the kernel static mapping"),
                )
            });
        }
        // 6. Exactly one existing record.
        let (first, pages) = page_span(a, n);
        let mut spaces = Spaces::for_range(k.nk(), proc, a, n)?;
        // A record matches only as part of the same whole LockPages range, so half of a
        // lock across the shared heap base cannot be unlocked on its own. Every part is
        // found before any is removed, and looked up again at removal because both parts
        // of a kernel lock sit in the same list.
        let pid = proc.pid().0;
        let matches = |l: &LockRecord, start: u32, count: u32| {
            l.start == start && l.pages == count && l.owner == pid && l.whole == (first, pages)
        };
        let parts = lock_parts(first, pages);
        for &(start, count) in &parts {
            if !spaces
                .holding(proc.pid(), start)
                .locks
                .iter()
                .any(|l| matches(l, start, count))
            {
                return Err(Error::invalid(
                    "5.7.6",
                    format!("no lock of 0x{pages:X} pages at 0x{first:08X} exists"),
                ));
            }
        }
        for (start, count) in parts {
            let locks = &mut spaces.holding(proc.pid(), start).locks;
            if let Some(at) = locks.iter().rposition(|l| matches(l, start, count)) {
                locks.remove(at);
            }
        }
        drop(spaces);
        self.audit_unlocked(proc.pid(), first, pages);
        Ok(())
    }
}

/// The lock record(s) of the pages `[first, first + pages)`: split at the shared heap,
/// where the pages move from the process's tables to the kernel's (semantics.md §3).
fn lock_parts(first: u32, pages: u32) -> Vec<(u32, u32)> {
    let end = u64::from(first) + u64::from(pages) * 0x1000;
    if first < SHARED_HEAP_BASE && end > u64::from(SHARED_HEAP_BASE) {
        let below = (SHARED_HEAP_BASE - first) / 0x1000;
        vec![(first, below), (SHARED_HEAP_BASE, pages - below)]
    } else {
        vec![(first, pages)]
    }
}
