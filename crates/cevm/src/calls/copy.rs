//! VirtualCopy / VirtualCopyEx (semantics.md §5.5): map existing pages (of a process, or
//! physical pages) into a reserved range.

use std::sync::Arc;

use crate::error::{Error, ErrorCode, Result};
use crate::flags::{ProcessAccess, Protection, ValidProtection};
use crate::kernel::Kernel;
use crate::layout::{KERNEL_BASE, USER_BASE, page_span};
use crate::phys::Pfn;
use crate::process::{Handle, Process, Spaces};
use crate::space::AddressSpace;
use crate::thread::Thread;

/// Where mapped pages come from.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Source {
    /// Consecutive frames from this physical address.
    Physical(u64),
    /// Pages of a process (or the kernel's tables for addresses from the shared heap up).
    Virtual(u32),
}

impl Kernel {
    /// The frames of `count` pages from a physical address or the static mapping, or
    /// `None` when any of them is neither RAM nor a registered device.
    pub(crate) fn physical_frames(&self, pa: u64, count: u32, out: &mut Vec<Pfn>) -> bool {
        let first = pa >> 12;
        for i in 0..u64::from(count) {
            let pfn = Pfn(first + i);
            if pfn.0 > Pfn::MAX || self.memory().kind(pfn).is_none() {
                return false;
            }
            out.push(pfn);
        }
        true
    }

    /// The physical address a kernel static address maps, when `[a, a + n)` lies wholly
    /// in the static mapping.
    pub(crate) fn static_range(&self, a: u32, n: u32) -> Option<u64> {
        let layout = self.layout();
        let last = u64::from(a) + u64::from(n.max(1)) - 1;
        (layout.is_static(a) && last < u64::from(layout.static_end))
            .then(|| self.memory().ram_base() + u64::from(a - KERNEL_BASE))
    }

    /// Maps `frames` (mapped elsewhere already, or reached by physical address) into the
    /// reserved pages from `first` with `prot`, taking a reference for each new entry.
    pub(crate) fn map_frames(
        &self,
        space: &mut AddressSpace,
        first: u32,
        frames: Vec<Pfn>,
        prot: ValidProtection,
    ) {
        let refs = self.memory().take_refs(frames);
        space.commit_frames(first, refs, prot, true);
    }
}

impl Thread {
    /// `VirtualCopy`: maps `n` bytes' pages from `src` to the reserved `dst` in the active
    /// process. With `PAGE_PHYSICAL`, `src` is a physical address shifted right by 8.
    pub fn virtual_copy(&mut self, dst: u32, src: u32, n: u32, prot: Protection) -> Result<()> {
        self.on_process_at(
            "5.5.1",
            Handle::CURRENT_PROCESS,
            ProcessAccess::VM_OPERATION,
            Some(ErrorCode::NotSupported),
            |me, proc| me.copy_in(proc, dst, proc, src, n, prot),
        )
    }

    /// `VirtualCopyEx`: as [`virtual_copy`](Self::virtual_copy) from process `h_src`
    /// (`Handle::NULL` means the destination) into process `h_dst`.
    pub fn virtual_copy_ex(
        &mut self,
        h_dst: Handle,
        dst: u32,
        h_src: Handle,
        src: u32,
        n: u32,
        prot: Protection,
    ) -> Result<()> {
        self.on_process_at(
            "5.5.1",
            h_dst,
            ProcessAccess::VM_OPERATION,
            Some(ErrorCode::NotSupported),
            |me, d| {
                let s = if h_src == Handle::NULL {
                    d.clone()
                } else {
                    me.resolve(h_src, ProcessAccess::VM_OPERATION, None)
                        .map_err(|e| e.at("5.5.1"))?
                };
                me.copy_in(d, dst, &s, src, n, prot)
            },
        )
    }

    fn copy_in(
        &self,
        dst_proc: &Arc<Process>,
        dst: u32,
        src_proc: &Arc<Process>,
        src: u32,
        n: u32,
        prot: Protection,
    ) -> Result<()> {
        let physical = prot.contains(Protection::PHYSICAL);
        let source = if physical {
            Source::Physical(u64::from(src) << 8)
        } else {
            Source::Virtual(src)
        };
        let k = &self.kernel;
        let mut spaces = Spaces::lock(k.nk(), &[dst_proc, src_proc], true)?;
        // 2. The destination range inside one record's requested bytes.
        if spaces
            .holding(dst_proc.pid(), dst)
            .record_holding_bytes(dst, n)
            .is_none()
        {
            return Err(Error::invalid(
                "5.5.2",
                format!("destination 0x{dst:08X}+0x{n:X} does not lie inside one reservation"),
            ));
        }
        // 3. Destination area, size and protection.
        if !dst_proc.is_kernel() && !(USER_BASE..KERNEL_BASE).contains(&dst) {
            return Err(Error::invalid(
                "5.5.3",
                format!("destination 0x{dst:08X} is outside 0x00010000-0x7FFFFFFF"),
            ));
        }
        if (n as i32) <= 0 {
            return Err(Error::non_positive("5.5.3", n));
        }
        let vp = prot
            .difference(Protection::PHYSICAL)
            .validate()
            .ok_or_else(|| Error::bad_protection("5.5.3", prot.bits()))?;
        if physical {
            self.audit_physical_value("VirtualCopy(Ex)", src);
        }
        self.audit_strict_exposure("VirtualCopy(Ex)", dst_proc, dst, n, src, physical)?;
        let r = self.map_source(&mut spaces, dst_proc, dst, src_proc, source, n, vp);
        drop(spaces);
        if r.is_ok() {
            self.audit_copy_made(dst_proc, dst, src_proc, src, n, prot);
        }
        r
    }

    /// Steps 4–7 of VirtualCopy, shared with MmMapIoSpace: offsets, source frames,
    /// destination pages, then the mapping; nothing changes unless all checks pass.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn map_source(
        &self,
        spaces: &mut Spaces,
        dst_proc: &Arc<Process>,
        dst: u32,
        src_proc: &Arc<Process>,
        source: Source,
        n: u32,
        prot: ValidProtection,
    ) -> Result<()> {
        let k = &self.kernel;
        // 4. Page offsets agree.
        let src_off = match source {
            Source::Physical(pa) => (pa & 0xFFF) as u32,
            Source::Virtual(s) => s & 0xFFF,
        };
        if dst & 0xFFF != src_off {
            return Err(Error::invalid(
                "5.5.4",
                format!(
                    "destination page offset 0x{:X} differs from the source's 0x{src_off:X}",
                    dst & 0xFFF
                ),
            ));
        }
        // 5. The source frames.
        let (first, pages) = page_span(dst, n);
        let mut frames = Vec::with_capacity(pages as usize);
        match source {
            Source::Physical(pa) => {
                if !k.physical_frames(pa, pages, &mut frames) {
                    return Err(Error::invalid(
                        "5.5.5",
                        format!(
                            "physical range 0x{pa:X}+0x{n:X} is neither RAM nor a registered device"
                        ),
                    ));
                }
            }
            Source::Virtual(s) => {
                if let Some(pa) = k.static_range(s, n) {
                    k.physical_frames(pa, pages, &mut frames);
                } else {
                    // A range running past 4 GiB meets 0xFFFFF000 first, which is
                    // never committed, so the walk cannot wrap.
                    for va in AddressSpace::pages(s & !0xFFF, pages) {
                        let e = spaces.holding(src_proc.pid(), va).table.get(va);
                        if !e.is_committed() {
                            return Err(Error::invalid(
                                "5.5.5",
                                format!("source page 0x{va:08X} is not committed"),
                            ));
                        }
                        frames.push(e.pfn());
                    }
                }
            }
        }
        // 6. Every destination page reserved and not committed.
        let space = spaces.holding(dst_proc.pid(), first);
        if AddressSpace::pages(first, pages).any(|va| {
            let e = space.table.get(va);
            e.is_free() || e.is_committed()
        }) {
            return Err(Error::invalid(
                "5.5.6",
                format!(
                    "destination 0x{dst:08X}+0x{n:X} holds pages that are not reserved-and-uncommitted"
                ),
            ));
        }
        // The isolate policy: the partial pages of an exposing mapping of a virtual or
        // kernel-static source into a process get private bounce frames (none free: 8,
        // as audit.md's policy says, and nothing changed).
        let plan = match source {
            Source::Virtual(_)
                if !dst_proc.is_kernel()
                    && k.exposure_policy() == crate::audit::ExposurePolicy::Isolate =>
            {
                crate::audit::bounce_plan(dst & 0xFFF, n, pages)
            }
            _ => Vec::new(),
        };
        if plan.is_empty() {
            // 7. Map with the requested protection.
            k.map_frames(space, first, frames, prot);
            return Ok(());
        }
        let bounce = k.memory().alloc(plan.len()).ok_or_else(|| {
            Error::no_memory(
                "audit",
                "no free frame for the isolate policy's bounce pages",
            )
        })?;
        let Some(base) = space.record_holding_bytes(dst, n).map(|r| r.base) else {
            k.memory().release(bounce);
            return Err(Error::invalid(
                "5.5.2",
                "the destination reservation is gone",
            ));
        };
        let (entries, pin) = k.isolate_entries(
            first,
            k.memory().take_refs(frames),
            &plan,
            bounce,
            prot.access.writable(),
        );
        space.commit_frames(first, entries, prot, true);
        space
            .isolated
            .entry(base)
            .or_insert_with(|| crate::space::IsolatePin { pages: Vec::new() })
            .pages
            .extend(pin);
        Ok(())
    }
}
