//! VirtualAlloc / VirtualAllocEx (semantics.md §5.1).

use std::sync::Arc;

use crate::consts::BLOCK_SIZE;
use crate::error::{Error, Result};
use crate::flags::{AllocType, ProcessAccess, Protection, ValidProtection};
use crate::layout::{MAX_USER_ALLOC, page_span, user_write_ok};
use crate::phys::Pfn;
use crate::process::{Handle, Process};
use crate::pte::{Pte, ReserveKind};
use crate::space::AddressSpace;
use crate::thread::Thread;

impl Thread {
    /// `VirtualAlloc`: reserves and/or commits in the active process. Returns the
    /// reservation base, or for a pure commit the page-aligned start.
    pub fn virtual_alloc(&mut self, a: u32, n: u32, t: AllocType, prot: Protection) -> Result<u32> {
        let r = self
            .active_checked()
            .and_then(|p| self.alloc_in(&p, a, n, t, prot));
        self.track(r)
    }

    /// `VirtualAllocEx`: as [`virtual_alloc`](Self::virtual_alloc) in the process `h`
    /// names (needs `PROCESS_VM_OPERATION`).
    pub fn virtual_alloc_ex(
        &mut self,
        h: Handle,
        a: u32,
        n: u32,
        t: AllocType,
        prot: Protection,
    ) -> Result<u32> {
        let r = self
            .resolve(h, ProcessAccess::VM_OPERATION, None)
            .and_then(|p| self.alloc_in(&p, a, n, t, prot));
        self.track(r)
    }

    pub(crate) fn alloc_in(
        &self,
        proc: &Arc<Process>,
        a: u32,
        n: u32,
        t: AllocType,
        prot: Protection,
    ) -> Result<u32> {
        let user = self.is_user();
        let pure_commit = a != 0 && !t.contains(AllocType::RESERVE);
        // 1. The user pointer rule and the user allocation ceiling.
        if user && a != 0 {
            if !user_write_ok(a, n) {
                return Err(Error::invalid(format!(
                    "0x{a:08X}+0x{n:X} is not a valid user-mode range"
                )));
            }
            if a >= MAX_USER_ALLOC {
                return Err(Error::invalid(format!(
                    "user-mode allocations must lie below 0x{MAX_USER_ALLOC:08X}"
                )));
            }
        }
        let owner = self.kernel.table_owner(proc, a);
        let mut space = owner.space();
        if !owner.is_alive() {
            return Err(Error::bad_handle("the process has been terminated"));
        }
        // 2. A user-mode pure commit must lie inside one record's requested bytes.
        if user && pure_commit && space.record_holding_bytes(a, n).is_none() {
            return Err(Error::invalid(format!(
                "0x{a:08X}+0x{n:X} does not lie inside the requested size of one reservation"
            )));
        }
        // 3. Type, size and protection.
        if !t.is_valid_for_alloc() {
            return Err(Error::invalid(format!(
                "allocation type 0x{:X} is not valid",
                t.bits()
            )));
        }
        if (n as i32) <= 0 {
            return Err(Error::invalid(format!("size 0x{n:X} must be positive")));
        }
        let prot = prot.validate().ok_or_else(|| {
            Error::invalid(format!("protection 0x{:X} is not valid", prot.bits()))
        })?;
        let commit = t.contains(AllocType::COMMIT);
        // 4. A NULL address implies MEM_RESERVE.
        if pure_commit {
            return self.commit_existing(&mut space, a, n, prot);
        }
        let kind = if t.contains(AllocType::AUTO_COMMIT) {
            ReserveKind::AutoCommit
        } else if t.contains(AllocType::IMAGE) {
            ReserveKind::Image
        } else {
            ReserveKind::Plain
        };
        // 5. Where the reservation goes.
        let layout = self.kernel.layout();
        let len = u64::from(n);
        let base = if a == 0 {
            space.find_place(&layout, len).ok_or_else(|| {
                Error::no_memory(format!("no run of free 64 KiB blocks holds 0x{n:X} bytes"))
            })?
        } else {
            if a % BLOCK_SIZE != 0 {
                return Err(Error::invalid(format!(
                    "reservation address 0x{a:08X} is not 64 KiB aligned"
                )));
            }
            if !layout.reservable(a, len) || !space.blocks_free(a, len) {
                return Err(Error::invalid(format!(
                    "the blocks of 0x{a:08X}+0x{n:X} are not all free"
                )));
            }
            a
        };
        // 6. Frames for the commit, before anything changes.
        let (_, pages) = page_span(base, n);
        let mut frames = Vec::new();
        if commit && !self.kernel.phys().alloc(pages as usize, &mut frames) {
            return Err(Error::no_memory(format!(
                "not enough free RAM to commit {pages} pages"
            )));
        }
        // 7. The record, then the pages.
        if a == 0 {
            space.take_place(&layout, base, len);
        }
        space.reserve(base, n, kind);
        for (va, pfn) in AddressSpace::pages(base, pages).zip(frames) {
            space.table.set(va, Pte::committed(pfn, prot, false));
        }
        Ok(base)
    }

    /// Step 6 for a pure commit: the pages must be one reserved-or-committed run inside
    /// one reservation; new pages get zeroed frames, committed ones keep theirs.
    fn commit_existing(
        &self,
        space: &mut AddressSpace,
        a: u32,
        n: u32,
        prot: ValidProtection,
    ) -> Result<u32> {
        let (first, pages) = page_span(a, n);
        if space.record_holding_pages(first, pages).is_none()
            || AddressSpace::pages(first, pages).any(|va| space.table.get(va).is_free())
        {
            return Err(Error::invalid(format!(
                "0x{a:08X}+0x{n:X} is not a reserved run inside one reservation"
            )));
        }
        let missing = AddressSpace::pages(first, pages)
            .filter(|&va| !space.table.get(va).is_committed())
            .count();
        let mut frames: Vec<Pfn> = Vec::with_capacity(missing);
        if !self.kernel.phys().alloc(missing, &mut frames) {
            return Err(Error::no_memory(format!(
                "not enough free RAM to commit {missing} pages"
            )));
        }
        let mut fresh = frames.into_iter();
        for va in AddressSpace::pages(first, pages) {
            let e = space.table.get(va);
            let new = if e.is_committed() {
                e.with_protection(prot)
            } else {
                match fresh.next() {
                    Some(pfn) => Pte::committed(pfn, prot, false),
                    None => continue,
                }
            };
            space.table.set(va, new);
        }
        Ok(first)
    }
}
