//! AllocPhysMem / FreePhysMem (semantics.md §5.8).

use crate::error::{Error, Result};
use crate::flags::{AllocType, Protection};
use crate::origin::Origin;
use crate::process::Spaces;
use crate::pte::ReserveKind;
use crate::thread::Thread;

impl Thread {
    /// `AllocPhysMem`: physically contiguous, zeroed RAM whose physical address satisfies
    /// `(pa & align_mask) == 0`, mapped uncached in the kernel. Returns the virtual and
    /// the physical address. Only the kernel process in kernel mode may call it.
    pub fn alloc_phys_mem(
        &mut self,
        n: u32,
        prot: Protection,
        align_mask: u32,
        flags: u32,
    ) -> Result<(u32, u64)> {
        let r = self.alloc_phys(n, prot, align_mask, flags);
        if let Ok((va, pa)) = &r {
            let what =
                format!("the AllocPhysMem block at 0x{va:08X} (physical 0x{pa:X}, 0x{n:X} bytes)");
            self.audit_item(
                crate::audit::ItemKind::PhysBlock,
                self.kernel.kernel_pid(),
                *va,
                what,
            );
        }
        self.track(r)
    }

    /// `FreePhysMem`: releases what [`alloc_phys_mem`](Self::alloc_phys_mem) returned.
    pub fn free_phys_mem(&mut self, p: u32) -> Result<()> {
        self.on_active(|me, proc| {
            me.free_named(proc, p, 0, AllocType::RELEASE, "FreePhysMem", false)
        })
    }

    fn alloc_phys(
        &self,
        n: u32,
        prot: Protection,
        align_mask: u32,
        flags: u32,
    ) -> Result<(u32, u64)> {
        let k = &self.kernel;
        if self.is_user() {
            return Err(Error::invalid(
                "2",
                "AllocPhysMem is not available in user mode",
            ));
        }
        if !self.active.is_kernel() {
            return Err(Error::invalid(
                "5.8",
                "AllocPhysMem is only available to the kernel process",
            ));
        }
        if (n as i32) <= 0 {
            return Err(Error::non_positive("5.8", n));
        }
        let vp = prot
            .validate()
            .ok_or_else(|| Error::bad_protection("5.8", prot.bits()))?;
        if flags != 0 {
            return Err(Error::invalid(
                "5.8",
                format!("flags 0x{flags:X} must be 0"),
            ));
        }
        let layout = k.layout();
        let nk = k.nk();
        let mut spaces = Spaces::lock(nk, &[nk], false)?;
        let space = spaces.get(nk.pid());
        let place = space.find_place(&layout, u64::from(n)).ok_or_else(|| {
            Error::no_memory("5.8", format!("no room in kernel memory for 0x{n:X} bytes"))
        })?;
        let pages = n.div_ceil(0x1000);
        let frames = k
            .memory()
            .alloc_contiguous(pages as usize, u64::from(align_mask))
            .ok_or_else(|| {
                Error::no_memory(
                    "5.8",
                    format!(
                        "no {pages} contiguous free frames with alignment mask 0x{align_mask:X}"
                    ),
                )
            })?;
        let pa = frames.frames()[0].addr();
        let base = space.take(place);
        space.reserve(base, n, ReserveKind::Plain, Origin::PhysAlloc { pa });
        let prot = crate::flags::ValidProtection {
            nocache: true,
            ..vp
        };
        // The entries take over the allocation's references.
        space.commit_frames(base, frames, prot, true);
        Ok((base, pa))
    }
}
