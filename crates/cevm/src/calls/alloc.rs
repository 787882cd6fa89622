//! VirtualAlloc / VirtualAllocEx (semantics.md §5.1).

use std::sync::Arc;

use crate::consts::BLOCK_SIZE;
use crate::error::{Error, Result};
use crate::flags::{AllocType, ProcessAccess, Protection, ValidProtection};
use crate::frame_refs::FrameRefs;
use crate::layout::{MAX_USER_ALLOC, page_span, user_write_ok};
use crate::origin::Origin;
use crate::process::{Handle, Process, Spaces};
use crate::pte::{Pte, ReserveKind};
use crate::space::AddressSpace;
use crate::thread::Thread;

impl Thread {
    /// `VirtualAlloc`: reserves and/or commits in the active process. Returns the
    /// reservation base, or for a pure commit the page-aligned start.
    pub fn virtual_alloc(&mut self, a: u32, n: u32, t: AllocType, prot: Protection) -> Result<u32> {
        self.on_active(|me, proc| me.alloc_in(proc, a, n, t, prot))
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
        self.on_process(h, ProcessAccess::VM_OPERATION, None, |me, p| {
            me.alloc_in(p, a, n, t, prot)
        })
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
                return Err(Error::invalid(
                    "5.1.1",
                    format!("0x{a:08X}+0x{n:X} is not a valid user-mode range"),
                ));
            }
            if a >= MAX_USER_ALLOC {
                return Err(Error::invalid(
                    "5.1.1",
                    format!("user-mode allocations must lie below 0x{MAX_USER_ALLOC:08X}"),
                ));
            }
        }
        let mut spaces = Spaces::for_range(self.kernel.nk(), proc, a, 1)?;
        let space = spaces.holding(proc.pid(), a);
        // 2. A user-mode pure commit must lie inside one record's requested bytes.
        if user && pure_commit && space.record_holding_bytes(a, n).is_none() {
            return Err(Error::invalid(
                "5.1.2",
                format!(
                    "0x{a:08X}+0x{n:X} does not lie inside the requested size of one reservation"
                ),
            ));
        }
        // 3. Type, size and protection.
        if !t.is_valid_for_alloc() {
            return Err(Error::invalid(
                "5.1.3",
                format!("allocation type 0x{:X} is not valid", t.bits()),
            ));
        }
        if (n as i32) <= 0 {
            return Err(Error::non_positive("5.1.3", n));
        }
        let prot = prot
            .validate()
            .ok_or_else(|| Error::bad_protection("5.1.3", prot.bits()))?;
        let commit = t.contains(AllocType::COMMIT);
        // 4. A NULL address implies MEM_RESERVE.
        if pure_commit {
            return self.commit_existing(space, a, n, prot);
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
        let place = if a == 0 {
            Some(space.find_place(&layout, len).ok_or_else(|| {
                Error::no_memory(
                    "5.1.5",
                    format!("no run of free 64 KiB blocks holds 0x{n:X} bytes"),
                )
            })?)
        } else {
            None
        };
        let base = if let Some(place) = &place {
            place.base()
        } else {
            if a % BLOCK_SIZE != 0 {
                return Err(Error::invalid(
                    "5.1.5",
                    format!("reservation address 0x{a:08X} is not 64 KiB aligned"),
                ));
            }
            if !layout.reservable(a, len) || !space.blocks_free(a, len) {
                return Err(Error::invalid(
                    "5.1.5",
                    format!("the blocks of 0x{a:08X}+0x{n:X} are not all free"),
                ));
            }
            a
        };
        // 6. Frames for the commit, before anything changes.
        let (_, pages) = page_span(base, n);
        let frames = if commit {
            self.kernel.memory().alloc(pages as usize).ok_or_else(|| {
                Error::no_memory(
                    "5.1.6",
                    format!("not enough free RAM to commit {pages} pages"),
                )
            })?
        } else {
            FrameRefs::new()
        };
        // 7. The record, then the pages.
        if let Some(place) = place {
            space.take(place);
        }
        space.reserve(base, n, kind, Origin::Allocation);
        space.commit_frames(base, frames, prot, false);
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
            return Err(Error::invalid(
                "5.1.6",
                format!("0x{a:08X}+0x{n:X} is not a reserved run inside one reservation"),
            ));
        }
        let missing = AddressSpace::pages(first, pages)
            .filter(|&va| !space.table.get(va).is_committed())
            .count();
        let frames = self.kernel.memory().alloc(missing).ok_or_else(|| {
            Error::no_memory(
                "5.1.6",
                format!("not enough free RAM to commit {missing} pages"),
            )
        })?;
        if missing == pages as usize {
            // Nothing committed yet: one fill, which host windows map as one run.
            space.commit_frames(first, frames, prot, false);
            return Ok(first);
        }
        let mut fresh = frames.install();
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
