//! Memory access by a thread (semantics.md §6), and the multi-page "touch as a thread
//! would" that VirtualAllocCopyEx, LockPages and Read/WriteProcessMemory use.
//!
//! Multi-page touches are all or nothing (deviations.md, "Multi-page touches"): every
//! page is checked in order before anything changes; the first failing page decides, and
//! the only side effect of a failure is that a guard page met there is consumed.
//! Auto-commit pages are committed (lowest free frames, in page order) only when the whole
//! range succeeds.

use crate::model::{Kind, Mode, Model, Page, State};
use crate::spec::{self, PAGE};

/// What an access wants.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AccessKind {
    /// Read data.
    Read,
    /// Write data.
    Write,
    /// Fetch an instruction.
    Execute,
}

/// An access violation: the faulting address and whether the access was a write.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Fault {
    /// Where.
    pub address: u32,
    /// A write.
    pub write: bool,
}

enum Look {
    Frame(u64),
    AutoCommit,
    Guard,
    Fault,
}

impl Model {
    /// What touching page `va` of process `pid` in `mode` for `kind` finds (§6).
    fn look(&self, pid: u32, mode: Mode, va: u64, kind: AccessKind) -> Look {
        if va > u64::from(u32::MAX) {
            return Look::Fault;
        }
        if mode == Mode::User
            && (va >= u64::from(spec::KERNEL_BASE)
                || (va >= u64::from(spec::SHARED_HEAP) && kind != AccessKind::Read))
        {
            return Look::Fault;
        }
        if self.is_static(va) {
            // The static mapping maps all of RAM, cached, for the kernel: every access
            // (the kernel's own code runs there, so executing too) reaches the frame.
            return Look::Frame(self.static_pfn(va));
        }
        if va >= u64::from(spec::CPU_AREA) {
            return Look::Fault;
        }
        match self.state(pid, va) {
            State::Committed(p) if p.guard => Look::Guard,
            State::Committed(p) if allowed(kind, p.access) => Look::Frame(p.pfn),
            State::Reserved(Kind::Auto) => Look::AutoCommit,
            _ => Look::Fault,
        }
    }

    /// Brings in `count` pages from the page holding `start`, as a thread of process `pid`
    /// in `mode` touching them in order would; all or nothing. Returns each page's frame.
    pub fn touch(
        &mut self,
        pid: u32,
        mode: Mode,
        start: u32,
        count: u64,
        kind: AccessKind,
    ) -> Result<Vec<u64>, Fault> {
        let write = kind == AccessKind::Write;
        let first = spec::page_floor(u64::from(start));
        let mut frames = Vec::new();
        let mut pending: Vec<(usize, u64, u32)> = Vec::new();
        for i in 0..count {
            let va = first + i * u64::from(PAGE);
            let at = if i == 0 { start } else { va as u32 };
            match self.look(pid, mode, va, kind) {
                Look::Frame(pfn) => frames.push(pfn),
                Look::AutoCommit => {
                    pending.push((frames.len(), va, at));
                    frames.push(0);
                }
                Look::Guard => {
                    let owner = self.owner(pid, va);
                    if let Some(s) = self.space_mut(owner)
                        && let Some(p) = s.pages.get_mut(&(va as u32))
                    {
                        p.guard = false;
                    }
                    return Err(Fault { address: at, write });
                }
                Look::Fault => return Err(Fault { address: at, write }),
            }
        }
        if !pending.is_empty() {
            let free = self.free_frames() as usize;
            if free < pending.len() {
                // Touching in order, the first auto-commit page that finds no frame faults.
                return Err(Fault {
                    address: pending[free].2,
                    write,
                });
            }
            let new = self.alloc_frames(pending.len() as u64).unwrap_or_default();
            for (&(slot, va, _), &pfn) in pending.iter().zip(&new) {
                let owner = self.owner(pid, va);
                self.set_page(
                    owner,
                    va as u32,
                    Page {
                        pfn,
                        access: spec::page::READWRITE,
                        guard: false,
                        nocache: false,
                        write_through: false,
                    },
                );
                frames[slot] = pfn;
            }
        }
        Ok(frames)
    }

    /// Reads `len` bytes at `a` as a thread of `pid` in `mode`; bytes the spec does not
    /// determine are `None`.
    pub fn read_as(
        &mut self,
        pid: u32,
        mode: Mode,
        a: u32,
        len: u64,
        kind: AccessKind,
    ) -> Result<Vec<Option<u8>>, Fault> {
        if len == 0 {
            return Ok(Vec::new());
        }
        let (_, count) = spec::page_span_u64(u64::from(a), len);
        let frames = self.touch(pid, mode, a, count, kind)?;
        let first_page = u64::from(a) >> 12;
        Ok((0..len)
            .map(|i| {
                let va = u64::from(a) + i;
                let pfn = frames[((va >> 12) - first_page) as usize];
                self.byte(pfn, (va & 0xFFF) as usize)
            })
            .collect())
    }

    /// Writes `data` at `a` as a thread of `pid` in `mode`; all or nothing.
    pub fn write_as(&mut self, pid: u32, mode: Mode, a: u32, data: &[u8]) -> Result<(), Fault> {
        if data.is_empty() {
            return Ok(());
        }
        let (_, count) = spec::page_span_u64(u64::from(a), data.len() as u64);
        let frames = self.touch(pid, mode, a, count, AccessKind::Write)?;
        let first_page = u64::from(a) >> 12;
        for (i, &b) in data.iter().enumerate() {
            let va = u64::from(a) + i as u64;
            let pfn = frames[((va >> 12) - first_page) as usize];
            self.set_byte(pfn, (va & 0xFFF) as usize, b);
        }
        Ok(())
    }

    /// A read by the calling thread (§6: below the shared heap, the VM process's tables).
    pub fn thread_read(&mut self, a: u32, len: u64) -> Result<Vec<Option<u8>>, Fault> {
        let (pid, mode) = (self.ctx.vm, self.ctx.mode);
        self.read_as(pid, mode, a, len, AccessKind::Read)
    }

    /// A write by the calling thread (§6).
    pub fn thread_write(&mut self, a: u32, data: &[u8]) -> Result<(), Fault> {
        let (pid, mode) = (self.ctx.vm, self.ctx.mode);
        self.write_as(pid, mode, a, data)
    }

    /// An instruction fetch by the calling thread (§6).
    pub fn thread_execute(&mut self, a: u32) -> Result<(), Fault> {
        let (pid, mode) = (self.ctx.vm, self.ctx.mode);
        self.read_as(pid, mode, a, 1, AccessKind::Execute)
            .map(|_| ())
    }
}

/// Whether a committed page's base protection allows `kind` (§6).
fn allowed(kind: AccessKind, access: u32) -> bool {
    match kind {
        AccessKind::Read => spec::readable(access),
        AccessKind::Write => spec::writable(access),
        AccessKind::Execute => spec::executable(access),
    }
}
