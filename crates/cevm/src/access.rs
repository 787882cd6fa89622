//! Memory access by a thread (semantics.md §6): protection checks, one-shot guard pages,
//! auto-commit, and the exception a fault raises. The same page walk serves the calls
//! that bring pages in "as a thread would" (VirtualAllocCopyEx, LockPages,
//! Read/WriteProcessMemory).

use std::ptr::NonNull;
use std::sync::Arc;
use std::sync::atomic::Ordering;

use crate::consts::PAGE_SIZE;
use crate::error::Exception;
use crate::flags::{Access, ValidProtection};
use crate::host_range::{Direction, HostRange, copy_cached};
use crate::kernel::Kernel;
use crate::layout::{CPU_RESERVED_BASE, KERNEL_BASE, SHARED_HEAP_BASE};
use crate::phys::Pfn;
use crate::process::{Process, Spaces};
use crate::pte::{PageState, Pte, ReserveKind};
use crate::thread::{Mode, Thread};
use crate::tlb::{PERM_EXECUTE, PERM_READ, PERM_WRITE};

/// What a memory access wants to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AccessKind {
    /// Read data.
    Read,
    /// Write data.
    Write,
    /// Fetch instructions.
    Execute,
}

impl AccessKind {
    /// The `PAGE_*` base values that allow this access, as a mask of access bytes.
    fn access_mask(self) -> u8 {
        match self {
            Self::Read => 0x02 | 0x04 | 0x10 | 0x20 | 0x40,
            Self::Write => 0x04 | 0x40,
            Self::Execute => 0x10 | 0x20 | 0x40,
        }
    }

    fn allowed_by(self, a: Access) -> bool {
        match self {
            Self::Read => a.readable(),
            Self::Write => a.writable(),
            Self::Execute => a.executable(),
        }
    }
}

/// Where an address leads before page state matters.
enum Route {
    /// The kernel static mapping: this RAM frame.
    Static(Pfn),
    /// The page tables (the kernel's from the shared heap up); `read_only` when user mode
    /// may only read there.
    Tables { read_only: bool },
    /// Nothing this mode may reach.
    Fault,
}

/// What touching one page found.
enum Touch {
    Frame(Pfn),
    AutoCommit,
    Guard,
    Fault,
}

/// The protection of a page committed by an auto-commit touch.
const AUTO_COMMIT_PROT: ValidProtection = ValidProtection {
    access: Access::ReadWrite,
    guard: false,
    nocache: false,
};

impl Kernel {
    /// Where the address rules of §6 send an access to `va` in `mode`, before any page
    /// state is looked at: the one home of those rules for the full walk and the
    /// translation cache alike.
    fn route(&self, va: u32, mode: Mode) -> Route {
        let user = mode == Mode::User;
        if user && va >= KERNEL_BASE {
            return Route::Fault;
        }
        if self.layout().is_static(va) {
            let idx = ((va - KERNEL_BASE) / PAGE_SIZE) as usize;
            return Route::Static(self.memory().ram_pfn(idx));
        }
        if va >= CPU_RESERVED_BASE {
            return Route::Fault;
        }
        Route::Tables {
            read_only: user && va >= SHARED_HEAP_BASE,
        }
    }

    /// Classifies one page for an access, without changing anything.
    fn classify(
        &self,
        spaces: &mut Spaces,
        proc: &Arc<Process>,
        va: u32,
        kind: AccessKind,
        mode: Mode,
    ) -> Touch {
        match self.route(va, mode) {
            Route::Fault => Touch::Fault,
            Route::Static(pfn) => Touch::Frame(pfn),
            Route::Tables { read_only } if read_only && kind != AccessKind::Read => Touch::Fault,
            Route::Tables { .. } => {
                let e = spaces.holding(proc.pid(), va).table.get(va);
                match e.state() {
                    PageState::Committed if e.guard() => Touch::Guard,
                    PageState::Committed if kind.allowed_by(e.access()) => Touch::Frame(e.pfn()),
                    PageState::Reserved(ReserveKind::AutoCommit) => Touch::AutoCommit,
                    _ => Touch::Fault,
                }
            }
        }
    }

    /// Brings in the pages `[first, first + count pages)` of `proc` for `kind`, as a
    /// thread in `mode` touching them in order would, all or nothing. On success the
    /// frames are appended to `out` (auto-commit pages get zeroed read/write frames). On
    /// failure nothing changes except that a guard page met is consumed, and the
    /// exception names the faulting address (`start` for the first page).
    // The arguments are the walk's context (locks, process) and what a thread would do.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn touch_pages(
        &self,
        spaces: &mut Spaces,
        proc: &Arc<Process>,
        start: u32,
        count: u32,
        kind: AccessKind,
        mode: Mode,
        out: &mut Vec<Pfn>,
    ) -> Result<(), Exception> {
        let write = kind == AccessKind::Write;
        let first = start & !0xFFF;
        let base = out.len();
        if self.touch_plain_run(spaces, proc, first, count, kind, mode, out) {
            return Ok(());
        }
        out.truncate(base);
        let mut pending = Vec::new();
        for i in 0..count {
            let va64 = u64::from(first) + u64::from(i) * u64::from(PAGE_SIZE);
            let fault_at = if i == 0 { start } else { va64 as u32 };
            if va64 > u64::from(u32::MAX) {
                out.truncate(base);
                return Err(Exception::access_violation(fault_at, write));
            }
            let va = va64 as u32;
            match self.classify(spaces, proc, va, kind, mode) {
                Touch::Frame(pfn) => out.push(pfn),
                Touch::AutoCommit => {
                    pending.push((out.len(), va, fault_at));
                    out.push(Pfn(0));
                }
                Touch::Guard => {
                    let t = &mut spaces.holding(proc.pid(), va).table;
                    t.set(va, t.get(va).without_guard());
                    out.truncate(base);
                    return Err(Exception::access_violation(fault_at, write));
                }
                Touch::Fault => {
                    out.truncate(base);
                    return Err(Exception::access_violation(fault_at, write));
                }
            }
        }
        if !pending.is_empty() {
            let Some(frames) = self.memory().alloc(pending.len()) else {
                // A thread touching the pages in order would commit as many as there are
                // free frames and fault on the next one.
                let free = self.memory().free_frames();
                let at = pending.get(free).unwrap_or(&pending[0]).2;
                out.truncate(base);
                return Err(Exception::access_violation(at, write));
            };
            for (&(slot, va, _), pfn) in pending.iter().zip(frames.install()) {
                spaces
                    .holding(proc.pid(), va)
                    .table
                    .set(va, Pte::committed(pfn, AUTO_COMMIT_PROT, false));
                out[slot] = pfn;
            }
        }
        Ok(())
    }

    /// The host address and allowed accesses of the page holding `va` for a thread of
    /// `proc` in `mode`, when it is a committed, non-guard page (what a translation cache
    /// may hold).
    pub(crate) fn translate(
        &self,
        proc: &Arc<Process>,
        va: u32,
        mode: Mode,
    ) -> Option<(NonNull<u8>, u32)> {
        let read_only = match self.route(va, mode) {
            Route::Fault => return None,
            Route::Static(pfn) => {
                let host = NonNull::new(self.memory().host_ptr(pfn)?)?;
                return Some((host, PERM_READ | PERM_WRITE | PERM_EXECUTE));
            }
            Route::Tables { read_only } => read_only,
        };
        let e = {
            let mut spaces = Spaces::for_access(self.nk(), proc, va, 1).ok()?;
            spaces.holding(proc.pid(), va).table.get(va)
        };
        if !e.is_committed() || e.guard() {
            return None;
        }
        let a = e.access();
        let mut perms = 0;
        for (allowed, bit) in [
            (a.readable(), PERM_READ),
            (a.writable(), PERM_WRITE),
            (a.executable(), PERM_EXECUTE),
        ] {
            if allowed {
                perms |= bit;
            }
        }
        if read_only {
            perms &= PERM_READ;
        }
        let host = NonNull::new(self.memory().host_ptr(e.pfn())?)?;
        (perms != 0).then_some((host, perms))
    }

    /// The common case of [`touch_pages`](Self::touch_pages), table by table: a range in
    /// one page table whose pages are all committed, unguarded and allow `kind`. Returns
    /// false (having pushed some frames, changed nothing) when any page needs the full
    /// per-page path.
    #[allow(clippy::too_many_arguments)]
    fn touch_plain_run(
        &self,
        spaces: &mut Spaces,
        proc: &Arc<Process>,
        first: u32,
        count: u32,
        kind: AccessKind,
        mode: Mode,
        out: &mut Vec<Pfn>,
    ) -> bool {
        let end = u64::from(first) + u64::from(count) * u64::from(PAGE_SIZE);
        let layout = &self.layout();
        let user_table = end <= u64::from(SHARED_HEAP_BASE);
        let kernel_table = mode == Mode::Kernel
            && first >= SHARED_HEAP_BASE
            && end <= u64::from(CPU_RESERVED_BASE)
            && (end <= u64::from(KERNEL_BASE) || first >= layout.static_end);
        if !user_table && !kernel_table {
            return false;
        }
        let mask = kind.access_mask();
        let mut ok = true;
        spaces
            .holding(proc.pid(), first)
            .table
            .for_runs(first, count, |_, run| {
                // A fold, not `all`: no early exit, so the check vectorises.
                ok &= run
                    .iter()
                    .fold(true, |acc, e| acc & e.committed_allowing(mask));
                out.extend(run.iter().map(|e| e.pfn()));
            });
        ok
    }

    /// Brings the pages of `[a, a + n)` in (all or nothing) and pins them as host memory:
    /// the returned range holds the space locks until it is dropped.
    pub(crate) fn host_range<'a>(
        &'a self,
        proc: &'a Arc<Process>,
        a: u32,
        n: usize,
        kind: AccessKind,
        mode: Mode,
    ) -> Result<HostRange<'a>, Exception> {
        if n == 0 {
            return Ok(HostRange::empty());
        }
        let write = kind == AccessKind::Write;
        let end = a as u64 + n as u64;
        let count = ((end - 1) / u64::from(PAGE_SIZE) - u64::from(a) / u64::from(PAGE_SIZE) + 1)
            .min(u64::from(u32::MAX)) as u32;
        // A process that has ended has an empty space: every access faults.
        let mut spaces = Spaces::for_access(self.nk(), proc, a, n.min(u32::MAX as usize) as u32)
            .map_err(|_| Exception::access_violation(a, write))?;
        let mut frames = Vec::with_capacity(count as usize);
        self.touch_pages(&mut spaces, proc, a, count, kind, mode, &mut frames)?;
        // RAM frames that follow each other in the arena make one run, so a large copy runs
        // at memcpy speed (never across two host mappings).
        let mut runs: Vec<(NonNull<u8>, usize)> = Vec::new();
        let mut done = 0usize;
        let mut prev_ram = false;
        for (i, pfn) in frames.iter().enumerate() {
            let off = if i == 0 { (a & 0xFFF) as usize } else { 0 };
            let len = (PAGE_SIZE as usize - off).min(n - done);
            let page_va = (u64::from(a & !0xFFF) + i as u64 * u64::from(PAGE_SIZE)) as u32;
            let Some(frame) = self.memory().host_ptr(*pfn).and_then(NonNull::new) else {
                return Err(Exception::access_violation(page_va.max(a), write));
            };
            // SAFETY: frame points at a whole 4 KiB frame and off < PAGE_SIZE, so the
            // result stays inside it (and is not null).
            let host = unsafe { frame.add(off) };
            let ram = self.memory().ram_index(*pfn).is_some();
            match runs.last_mut() {
                Some((start, l))
                    if ram && prev_ram && start.as_ptr().wrapping_add(*l) == host.as_ptr() =>
                {
                    *l += len;
                }
                _ => runs.push((host, len)),
            }
            done += len;
            prev_ram = ram;
        }
        // SAFETY: each run lies in one mapping (the arena or one device buffer) for its
        // length, and the frames are mapped by entries of the spaces `spaces` keeps locked,
        // so they keep their references while the range lives.
        Ok(unsafe { HostRange::new(spaces, runs) })
    }
}

impl Thread {
    /// Copies `buf` to or from `a` (inside one page) when the translation cache holds, or
    /// can be filled with, a translation allowing `perm`; false sends the access down the
    /// full path (page crossing, guard, auto-commit, fault), which holds the space locks
    /// while it copies.
    #[inline]
    fn cached(&self, a: u32, perm: u32, mut buf: Direction<'_>) -> bool {
        self.copy_in_window(a, perm, &mut buf) || self.fill_then_retry(a, perm, &mut buf)
    }

    /// One look in the translation cache inside the thread's access window (`grace.rs`),
    /// and the copy when it hits: a frame the translation names is not handed to a new
    /// owner until the window is closed.
    #[inline(always)]
    fn copy_in_window(&self, a: u32, perm: u32, buf: &mut Direction<'_>) -> bool {
        self.slot.enter();
        let generation = self.generation.load(Ordering::Relaxed);
        let hit = self.tlb.lookup(generation, a, buf.len() as u32, perm);
        if let Some(h) = hit {
            // SAFETY: the cache holds only translations of committed frames (RAM arena or
            // device buffer, mapped for the kernel's lifetime) and `lookup` checked that
            // the bytes lie in the page; the window is open.
            unsafe { copy_cached(h.as_ptr(), buf.reborrow()) };
        }
        self.slot.leave();
        hit.is_some()
    }

    /// A miss: translate under the space lock, cache the result under the generation
    /// read before the entry, then look once more inside the window. The second look hits
    /// only when nothing was revoked since, so a translation filled outside the window is
    /// never used after a revocation it did not see.
    #[inline(never)]
    fn fill_then_retry(&self, a: u32, perm: u32, buf: &mut Direction<'_>) -> bool {
        if (a & 0xFFF) + buf.len() as u32 > 0x1000 {
            return false;
        }
        let filled_at = self.generation.load(Ordering::Acquire);
        let Some((host, perms)) = self.kernel.translate(&self.vm, a, self.mode) else {
            return false;
        };
        self.tlb.insert(filled_at, a, perms, host);
        perms & perm != 0 && self.copy_in_window(a, perm, buf)
    }

    fn load<const N: usize>(&self, a: u32, kind: AccessKind) -> Result<[u8; N], Exception> {
        let perm = match kind {
            AccessKind::Read => PERM_READ,
            AccessKind::Write => PERM_WRITE,
            AccessKind::Execute => PERM_EXECUTE,
        };
        let mut buf = [0u8; N];
        if self.cached(a, perm, Direction::Read(&mut buf)) {
            return Ok(buf);
        }
        self.kernel
            .host_range(&self.vm, a, N, kind, self.mode)?
            .copy_to_slice(&mut buf);
        Ok(buf)
    }

    /// Reads one byte at `a`.
    pub fn read_u8(&self, a: u32) -> Result<u8, Exception> {
        Ok(self.load::<1>(a, AccessKind::Read)?[0])
    }

    /// Reads a little-endian 16-bit value at `a` (may cross a page).
    pub fn read_u16(&self, a: u32) -> Result<u16, Exception> {
        Ok(u16::from_le_bytes(self.load::<2>(a, AccessKind::Read)?))
    }

    /// Reads a little-endian 32-bit value at `a` (may cross a page).
    pub fn read_u32(&self, a: u32) -> Result<u32, Exception> {
        Ok(u32::from_le_bytes(self.load::<4>(a, AccessKind::Read)?))
    }

    /// Reads `buf.len()` bytes at `a`; all or nothing.
    pub fn read_bytes(&self, a: u32, buf: &mut [u8]) -> Result<(), Exception> {
        if buf.len() <= 0x1000 && self.cached(a, PERM_READ, Direction::Read(&mut *buf)) {
            return Ok(());
        }
        self.kernel
            .host_range(&self.vm, a, buf.len(), AccessKind::Read, self.mode)?
            .copy_to_slice(buf);
        Ok(())
    }

    /// Writes `data` at `a`; all or nothing.
    pub fn write_bytes(&self, a: u32, data: &[u8]) -> Result<(), Exception> {
        if data.len() <= 0x1000 && self.cached(a, PERM_WRITE, Direction::Write(data)) {
            return Ok(());
        }
        self.kernel
            .host_range(&self.vm, a, data.len(), AccessKind::Write, self.mode)?
            .copy_from_slice(data);
        Ok(())
    }

    /// A fixed-size store: the cached path copies exactly N bytes (no length-generic copy).
    fn store<const N: usize>(&self, a: u32, data: [u8; N]) -> Result<(), Exception> {
        if self.cached(a, PERM_WRITE, Direction::Write(&data)) {
            return Ok(());
        }
        self.write_bytes(a, &data)
    }

    /// Writes one byte at `a`.
    pub fn write_u8(&self, a: u32, v: u8) -> Result<(), Exception> {
        self.store(a, [v])
    }

    /// Writes a little-endian 16-bit value at `a`.
    pub fn write_u16(&self, a: u32, v: u16) -> Result<(), Exception> {
        self.store(a, v.to_le_bytes())
    }

    /// Writes a little-endian 32-bit value at `a`.
    pub fn write_u32(&self, a: u32, v: u32) -> Result<(), Exception> {
        self.store(a, v.to_le_bytes())
    }

    /// Fetches an instruction byte at `a`: needs an `EXECUTE_*` protection.
    pub fn execute(&self, a: u32) -> Result<(), Exception> {
        self.load::<1>(a, AccessKind::Execute).map(|_| ())
    }
}
