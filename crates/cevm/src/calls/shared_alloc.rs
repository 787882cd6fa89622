//! CeVirtualSharedAlloc (semantics.md §5.11): the shared heap, read/write for the kernel
//! and read-only for user mode.

use crate::error::{Error, ErrorCode, Result};
use crate::flags::{Access, AllocType, ValidProtection};
use crate::frame_refs::FrameRefs;
use crate::layout::{SHARED_HEAP_BASE, SHARED_HEAP_END, page_span};
use crate::origin::Origin;
use crate::process::Spaces;
use crate::pte::{Pte, ReserveKind};
use crate::space::AddressSpace;
use crate::thread::Thread;

impl Thread {
    /// `CeVirtualSharedAlloc`: with `a = 0` reserves (and with `MEM_COMMIT` commits) in the
    /// shared heap; with `a` in the shared heap commits there (`action` exactly
    /// `MEM_COMMIT`). User mode may only read what it allocates.
    pub fn ce_virtual_shared_alloc(&mut self, a: u32, n: u32, action: AllocType) -> Result<u32> {
        let r = self.shared_alloc(a, n, action);
        self.track(r)
    }

    fn shared_alloc(&self, a: u32, n: u32, action: AllocType) -> Result<u32> {
        self.require_kernel(ErrorCode::AccessDenied)?;
        let both = AllocType::RESERVE | AllocType::COMMIT;
        if action.is_empty() || !both.contains(action) {
            return Err(Error::invalid(
                "5.11",
                format!(
                    "action 0x{:X} must be MEM_RESERVE, MEM_COMMIT or both",
                    action.bits()
                ),
            ));
        }
        if (n as i32) <= 0 {
            return Err(Error::non_positive("5.11", n));
        }
        let rw = ValidProtection {
            access: Access::ReadWrite,
            guard: false,
            nocache: false,
        };
        let nk = self.kernel.nk();
        let mut spaces = Spaces::lock(nk, &[nk], false)?;
        let space = spaces.get(nk.pid());
        let phys = self.kernel.memory();
        if a == 0 {
            let (_, pages) = page_span(0, n);
            let place = space.find_shared(u64::from(n)).ok_or_else(|| {
                Error::no_memory(
                    "5.11",
                    format!("no room in the shared heap for 0x{n:X} bytes"),
                )
            })?;
            let frames = if action.contains(AllocType::COMMIT) {
                phys.alloc(pages as usize).ok_or_else(|| {
                    Error::no_memory(
                        "5.11",
                        format!("not enough free RAM to commit {pages} pages"),
                    )
                })?
            } else {
                FrameRefs::new()
            };
            let base = space.take(place);
            space.reserve(base, n, ReserveKind::Plain, Origin::SharedHeap);
            space.commit_frames(base, frames, rw, false);
            return Ok(base);
        }
        if !(SHARED_HEAP_BASE..SHARED_HEAP_END).contains(&a) || action != AllocType::COMMIT {
            return Err(Error::invalid(
                "5.11",
                format!(
                    "0x{a:08X}: an explicit address must lie in the shared heap and be committed only"
                ),
            ));
        }
        let (first, pages) = page_span(a, n);
        if space.record_holding_pages(first, pages).is_none() {
            return Err(Error::invalid(
                "5.11",
                format!("0x{a:08X}+0x{n:X} is not inside one shared-heap reservation"),
            ));
        }
        let missing: Vec<u32> = AddressSpace::pages(first, pages)
            .filter(|&va| !space.table.get(va).is_committed())
            .collect();
        let frames = phys.alloc(missing.len()).ok_or_else(|| {
            Error::no_memory(
                "5.11",
                format!("not enough free RAM to commit {} pages", missing.len()),
            )
        })?;
        for (va, pfn) in missing.into_iter().zip(frames.install()) {
            space.table.set(va, Pte::committed(pfn, rw, false));
        }
        Ok(first)
    }
}
