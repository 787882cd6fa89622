//! Memory access by a thread (semantics.md §6): protection checks, one-shot guard pages,
//! auto-commit, and the exception a fault raises. The same page walk serves the calls
//! that bring pages in "as a thread would" (VirtualAllocCopyEx, LockPages,
//! Read/WriteProcessMemory).

use std::sync::Arc;

use crate::consts::PAGE_SIZE;
use crate::error::Exception;
use crate::flags::{Access, ValidProtection};
use crate::kernel::{Kernel, Mode, Spaces};
use crate::layout::{CPU_RESERVED_BASE, KERNEL_BASE, SHARED_HEAP_BASE};
use crate::phys::Pfn;
use crate::process::Process;
use crate::pte::{PageState, Pte, ReserveKind};
use crate::thread::Thread;
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
        if self.0.layout.is_static(va) {
            let idx = ((va - KERNEL_BASE) / PAGE_SIZE) as usize;
            return Route::Static(self.0.phys.ram_pfn(idx));
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
                let owner = self.table_owner(proc, va).pid();
                let e = spaces.get(owner).table.get(va);
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
                    let owner = self.table_owner(proc, va).pid();
                    let t = &mut spaces.get(owner).table;
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
            let mut frames = Vec::with_capacity(pending.len());
            if !self.0.phys.alloc(pending.len(), &mut frames) {
                // A thread touching the pages in order would commit as many as there are
                // free frames and fault on the next one.
                let free = self.0.phys.free_frames();
                let at = pending.get(free).unwrap_or(&pending[0]).2;
                out.truncate(base);
                return Err(Exception::access_violation(at, write));
            }
            for (&(slot, va, _), &pfn) in pending.iter().zip(&frames) {
                let owner = self.table_owner(proc, va).pid();
                spaces
                    .get(owner)
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
    ) -> Option<(usize, u32)> {
        let read_only = match self.route(va, mode) {
            Route::Fault => return None,
            Route::Static(pfn) => {
                let host = self.0.phys.host_ptr(pfn)?;
                return Some((host as usize, PERM_READ | PERM_WRITE | PERM_EXECUTE));
            }
            Route::Tables { read_only } => read_only,
        };
        let e = self.table_owner(proc, va).space().table.get(va);
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
        let host = self.0.phys.host_ptr(e.pfn())?;
        (perms != 0).then_some((host as usize, perms))
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
        let layout = &self.0.layout;
        let user_table = end <= u64::from(SHARED_HEAP_BASE);
        let kernel_table = mode == Mode::Kernel
            && first >= SHARED_HEAP_BASE
            && end <= u64::from(CPU_RESERVED_BASE)
            && (end <= u64::from(KERNEL_BASE) || first >= layout.static_end);
        if !user_table && !kernel_table {
            return false;
        }
        let owner = self.table_owner(proc, first).pid();
        let mask = kind.access_mask();
        let mut ok = true;
        spaces.get(owner).table.for_runs(first, count, |_, run| {
            ok &= run.iter().all(|e| e.committed_allowing(mask));
            out.extend(run.iter().map(|e| e.pfn()));
        });
        ok
    }

    /// Locks what an access to `[a, a + n)` of `proc` needs: the process's space and, when
    /// the range reaches the shared heap or above, the kernel's.
    pub(crate) fn lock_for<'a>(&'a self, proc: &'a Arc<Process>, a: u32, n: u32) -> Spaces<'a> {
        let last = u64::from(a) + u64::from(n.max(1)) - 1;
        let owner_first = self.table_owner(proc, a);
        if last >= u64::from(SHARED_HEAP_BASE) {
            Spaces::lock(&[owner_first, &self.0.nk])
        } else {
            Spaces::lock(&[owner_first])
        }
    }

    /// Runs `f` on each host piece of `[a, a + n)` after bringing the pages in; all or
    /// nothing.
    pub(crate) fn with_host_range(
        &self,
        proc: &Arc<Process>,
        a: u32,
        n: usize,
        kind: AccessKind,
        mode: Mode,
        mut f: impl FnMut(usize, *mut u8, usize),
    ) -> Result<(), Exception> {
        if n == 0 {
            return Ok(());
        }
        let write = kind == AccessKind::Write;
        let end = a as u64 + n as u64;
        let count = ((end - 1) / u64::from(PAGE_SIZE) - u64::from(a) / u64::from(PAGE_SIZE) + 1)
            .min(u64::from(u32::MAX)) as u32;
        let mut spaces = self.lock_for(proc, a, n.min(u32::MAX as usize) as u32);
        let mut frames = Vec::with_capacity(count as usize);
        self.touch_pages(&mut spaces, proc, a, count, kind, mode, &mut frames)?;
        // RAM frames that follow each other in the arena are handed over as one piece, so
        // a large copy runs at memcpy speed (never across two host mappings).
        let mut done = 0usize;
        let mut piece: Option<(usize, *mut u8, usize)> = None;
        let mut prev_ram = false;
        for (i, pfn) in frames.iter().enumerate() {
            let off = if i == 0 { (a & 0xFFF) as usize } else { 0 };
            let len = (PAGE_SIZE as usize - off).min(n - done);
            let page_va = (u64::from(a & !0xFFF) + i as u64 * u64::from(PAGE_SIZE)) as u32;
            let Some(p) = self.0.phys.host_ptr(*pfn) else {
                return Err(Exception::access_violation(page_va.max(a), write));
            };
            // SAFETY: p points at a whole 4 KiB frame; off + len <= PAGE_SIZE.
            let p = unsafe { p.add(off) };
            let ram = self.0.phys.ram_index(*pfn).is_some();
            piece = match piece {
                Some((at, start, l)) if ram && prev_ram && start.wrapping_add(l) == p => {
                    Some((at, start, l + len))
                }
                Some((at, start, l)) => {
                    f(at, start, l);
                    Some((done, p, len))
                }
                None => Some((done, p, len)),
            };
            done += len;
            prev_ram = ram;
        }
        if let Some((at, start, l)) = piece {
            f(at, start, l);
        }
        Ok(())
    }
}

impl Thread {
    /// The host address of `len` bytes at `a` for `perm`, from the translation cache or
    /// by filling it; `None` sends the access down the full path (page crossing, guard,
    /// auto-commit, fault).
    #[inline]
    fn fast(&self, a: u32, len: u32, perm: u32) -> Option<*mut u8> {
        let generation = self
            .kernel
            .0
            .generation
            .load(std::sync::atomic::Ordering::Acquire);
        if let Some(h) = self.tlb.lookup(generation, a, len, perm) {
            return Some(h as *mut u8);
        }
        if (a & 0xFFF) + len > 0x1000 {
            return None;
        }
        let (host, perms) = self.kernel.translate(&self.vm, a, self.mode)?;
        self.tlb.insert(generation, a, perms, host);
        (perms & perm != 0).then(|| (host + (a & 0xFFF) as usize) as *mut u8)
    }

    fn load<const N: usize>(&self, a: u32, kind: AccessKind) -> Result<[u8; N], Exception> {
        let perm = match kind {
            AccessKind::Read => PERM_READ,
            AccessKind::Write => PERM_WRITE,
            AccessKind::Execute => PERM_EXECUTE,
        };
        if let Some(p) = self.fast(a, N as u32, perm) {
            let mut buf = [0u8; N];
            // SAFETY: `fast` returned a host address with N bytes inside one mapped frame
            // (RAM arena or device buffer), both alive as long as the kernel this thread
            // holds.
            unsafe { std::ptr::copy_nonoverlapping(p, buf.as_mut_ptr(), N) };
            return Ok(buf);
        }
        let mut buf = [0u8; N];
        self.kernel
            .with_host_range(&self.vm, a, N, kind, self.mode, |done, p, len| {
                // SAFETY: p is valid for len bytes of a mapped frame and buf has room.
                unsafe { std::ptr::copy_nonoverlapping(p, buf.as_mut_ptr().add(done), len) };
            })?;
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
        if buf.len() <= 0x1000 {
            if let Some(p) = self.fast(a, buf.len() as u32, PERM_READ) {
                // SAFETY: p is valid for buf.len() bytes of one mapped frame (see `fast`).
                unsafe { std::ptr::copy_nonoverlapping(p, buf.as_mut_ptr(), buf.len()) };
                return Ok(());
            }
        }
        self.kernel.with_host_range(
            &self.vm,
            a,
            buf.len(),
            AccessKind::Read,
            self.mode,
            |done, p, len| {
                // SAFETY: p is valid for len bytes; buf[done..done + len] is in bounds.
                unsafe { std::ptr::copy_nonoverlapping(p, buf.as_mut_ptr().add(done), len) };
            },
        )
    }

    /// Writes `data` at `a`; all or nothing.
    pub fn write_bytes(&self, a: u32, data: &[u8]) -> Result<(), Exception> {
        if data.len() <= 0x1000 {
            if let Some(p) = self.fast(a, data.len() as u32, PERM_WRITE) {
                // SAFETY: p is valid for data.len() bytes of one mapped frame (see `fast`).
                unsafe { std::ptr::copy_nonoverlapping(data.as_ptr(), p, data.len()) };
                return Ok(());
            }
        }
        self.kernel.with_host_range(
            &self.vm,
            a,
            data.len(),
            AccessKind::Write,
            self.mode,
            |done, p, len| {
                // SAFETY: p is valid for len bytes; data[done..done + len] is in bounds.
                unsafe { std::ptr::copy_nonoverlapping(data.as_ptr().add(done), p, len) };
            },
        )
    }

    /// Writes one byte at `a`.
    pub fn write_u8(&self, a: u32, v: u8) -> Result<(), Exception> {
        self.write_bytes(a, &[v])
    }

    /// Writes a little-endian 16-bit value at `a`.
    pub fn write_u16(&self, a: u32, v: u16) -> Result<(), Exception> {
        self.write_bytes(a, &v.to_le_bytes())
    }

    /// Writes a little-endian 32-bit value at `a`.
    pub fn write_u32(&self, a: u32, v: u32) -> Result<(), Exception> {
        self.write_bytes(a, &v.to_le_bytes())
    }

    /// Fetches an instruction byte at `a`: needs an `EXECUTE_*` protection.
    pub fn execute(&self, a: u32) -> Result<(), Exception> {
        self.load::<1>(a, AccessKind::Execute).map(|_| ())
    }
}
