//! VirtualFree / VirtualFreeEx (semantics.md §5.2).

use std::sync::Arc;

use crate::error::{Error, Result};
use crate::flags::{AllocType, ProcessAccess};
use crate::layout::{MAX_USER_ALLOC, page_span};
use crate::process::{Handle, Process, Spaces};
use crate::pte::Pte;
use crate::space::AddressSpace;
use crate::thread::Thread;

impl Thread {
    /// `VirtualFree`: releases a whole reservation (`MEM_RELEASE`, size 0, `a` its base)
    /// or decommits pages (`MEM_DECOMMIT`, positive size) of the active process.
    pub fn virtual_free(&mut self, a: u32, n: u32, t: AllocType) -> Result<()> {
        self.on_active(|me, proc| me.free_named(proc, a, n, t, "VirtualFree", false))
    }

    /// `VirtualFreeEx`: as [`virtual_free`](Self::virtual_free) in the process `h` names.
    pub fn virtual_free_ex(&mut self, h: Handle, a: u32, n: u32, t: AllocType) -> Result<()> {
        self.on_process(h, ProcessAccess::VM_OPERATION, None, |me, p| {
            me.free_named(p, a, n, t, "VirtualFreeEx", true)
        })
    }

    /// A free made inside another call (the marshalling helpers): audited as VirtualFree.
    pub(crate) fn free_in(&self, proc: &Arc<Process>, a: u32, n: u32, t: AllocType) -> Result<()> {
        self.free_named(proc, a, n, t, "VirtualFree", false)
    }

    /// A free as the call `call` makes it (`ex`: a process handle was named); the auditor,
    /// when there is one, looks before and after.
    pub(crate) fn free_named(
        &self,
        proc: &Arc<Process>,
        a: u32,
        n: u32,
        t: AllocType,
        call: &str,
        ex: bool,
    ) -> Result<()> {
        let Some(aud) = self.kernel.auditor() else {
            return self.free_body(proc, a, n, t);
        };
        let pre = self.audit_free_pre(aud, proc, a, n, t, ex);
        let r = self.free_body(proc, a, n, t);
        if let (Ok(()), Some(pre)) = (&r, pre) {
            self.audit_free_post(aud, pre, call);
        }
        r
    }

    fn free_body(&self, proc: &Arc<Process>, a: u32, n: u32, t: AllocType) -> Result<()> {
        // 1. The two accepted forms.
        let release = t == AllocType::RELEASE && n == 0;
        let decommit = t == AllocType::DECOMMIT && (n as i32) > 0;
        if !release && !decommit {
            return Err(Error::invalid(
                "5.2.1",
                format!(
                    "free type 0x{:X} with size 0x{n:X}: only MEM_RELEASE with size 0 or \
                 MEM_DECOMMIT with a positive size is accepted",
                    t.bits()
                ),
            ));
        }
        // 2. User mode cannot free above the user allocation area of a process.
        if self.is_user() && a >= MAX_USER_ALLOC && !proc.is_kernel() {
            return Err(Error::invalid(
                "5.2.2",
                format!("user-mode frees must lie below 0x{MAX_USER_ALLOC:08X}"),
            ));
        }
        let mut spaces = Spaces::for_range(self.kernel.nk(), proc, a, 1)?;
        let space = spaces.holding(proc.pid(), a);
        let frames = if release {
            // 3. The exact base of a record; never a reservation with locked pages.
            let r = *space.record_based_at(a).ok_or_else(|| {
                Error::invalid(
                    "5.2.3",
                    format!("0x{a:08X} is not the base of a reservation"),
                )
            })?;
            let pages = ((r.page_end() - u64::from(r.base)) / 0x1000) as u32;
            if space.locked(r.base, pages) {
                return Err(Error::invalid(
                    "5.2.3",
                    format!("the reservation at 0x{a:08X} has locked pages"),
                ));
            }
            // The pins first (their write-back reads the entries), then the entries:
            // appended in this order the common case (no pin) moves nothing.
            let pinned = self.kernel.isolate_unpin(space, a, None);
            let mut frames = space.unreserve(a);
            frames.append(pinned);
            frames
        } else {
            // 4. Decommit inside one record; no locked page.
            let r = *space.record_holding_bytes(a, n).ok_or_else(|| {
                Error::invalid(
                    "5.2.4",
                    format!("0x{a:08X}+0x{n:X} does not lie inside one reservation"),
                )
            })?;
            let (first, pages) = page_span(a, n);
            if space.locked(first, pages) {
                return Err(Error::invalid(
                    "5.2.4",
                    format!("0x{a:08X}+0x{n:X} holds locked pages"),
                ));
            }
            let end = u64::from(first) + u64::from(pages) * u64::from(crate::consts::PAGE_SIZE);
            let mut frames =
                self.kernel
                    .isolate_unpin(space, r.base, Some((u64::from(first), end)));
            for va in AddressSpace::pages(first, pages) {
                let e = space.table.get(va);
                if e.is_committed() {
                    frames.push(e.pfn());
                    space.table.set(va, Pte::reserved(r.kind));
                }
            }
            frames
        };
        space.release_cleared(self.kernel.memory(), frames);
        Ok(())
    }
}
