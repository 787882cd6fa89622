//! VirtualAllocCopyEx (semantics.md §5.6): reserve a new region in a destination process
//! and make it an alias of a source process's pages, or of physical pages.

use crate::access::AccessKind;
use crate::consts::PAGE_SIZE;
use crate::error::{Error, ErrorCode, Result};
use crate::flags::{ProcessAccess, Protection};
use crate::layout::USER_BASE;
use crate::origin::{AliasSource, Origin};
use crate::process::Handle;
use crate::process::Spaces;
use crate::pte::ReserveKind;
use crate::space::Reservation;
use crate::thread::Mode;
use crate::thread::Thread;

impl Thread {
    /// `VirtualAllocCopyEx`: reserves `n + (source & 0xFFFF)` bytes in `h_dst`
    /// (`Handle::NULL`: the kernel) and maps the source's pages there with `prot`.
    /// Returns the alias of `p`, which keeps the source's low 16 bits; release it with
    /// `virtual_free_ex(h_dst, result & !0xFFFF, 0, MEM_RELEASE)`.
    ///
    /// With `PAGE_PHYSICAL`, `p` is a physical address shifted right by 8. Whole pages are
    /// aliased, so an unaligned buffer exposes the neighbouring bytes of its first and
    /// last page (the documented security issue).
    pub fn virtual_alloc_copy_ex(
        &mut self,
        h_src: Handle,
        h_dst: Handle,
        p: u32,
        n: u32,
        prot: Protection,
    ) -> Result<u32> {
        let r = self.alloc_copy(h_src, h_dst, p, n, prot);
        if let (Ok(addr), Some(_)) = (&r, self.kernel.auditor()) {
            let dst = if h_dst == Handle::NULL {
                Some(self.kernel.nk().clone())
            } else {
                self.lookup(h_dst).ok().map(|(d, _)| d)
            };
            if let Some(dst) = dst {
                self.audit_alias_made(&dst, *addr, prot);
            }
        }
        self.track(r)
    }

    fn alloc_copy(
        &self,
        h_src: Handle,
        h_dst: Handle,
        p: u32,
        n: u32,
        prot: Protection,
    ) -> Result<u32> {
        let k = &self.kernel;
        // 1. The source handle: valid, kernel mode, PROCESS_VM_OPERATION.
        let src_proc = self
            .resolve(
                h_src,
                ProcessAccess::VM_OPERATION,
                Some(ErrorCode::NotSupported),
            )
            .map_err(|e| e.at("5.6.1"))?;
        // 2. Size, source value and protection.
        if (n as i32) <= 0 {
            return Err(Error::non_positive("5.6.2", n));
        }
        if p < USER_BASE {
            return Err(Error::invalid(
                "5.6.2",
                format!("source value 0x{p:08X} is below 0x00010000"),
            ));
        }
        let physical = prot.contains(Protection::PHYSICAL);
        let vp = prot
            .difference(Protection::PHYSICAL)
            .validate()
            .ok_or_else(|| Error::bad_protection("5.6.2", prot.bits()))?;
        if physical {
            self.audit_physical_value("VirtualAllocCopyEx", p);
        }
        // 3. The destination handle: NULL is the kernel.
        let dst_proc = if h_dst == Handle::NULL {
            k.nk().clone()
        } else {
            self.resolve(h_dst, ProcessAccess::VM_OPERATION, None)
                .map_err(|e| e.at("5.6.3"))?
        };
        // The strict policy refuses an exposing alias before anything changes.
        let offset = if physical { p << 8 } else { p };
        self.audit_strict_exposure("VirtualAllocCopyEx", &dst_proc, offset, n, p, physical)?;
        // 4. Offsets and the reservation size.
        let full: u64 = if physical {
            u64::from(p) << 8
        } else {
            u64::from(p)
        };
        let po = (full & 0xFFF) as u32;
        let bo = (full & 0xFFFF) as u32;
        let size = n + bo;
        let pages = (u64::from(n) + u64::from(po)).div_ceil(u64::from(PAGE_SIZE)) as u32;
        let layout = k.layout();
        let mut spaces = Spaces::lock(k.nk(), &[&dst_proc, &src_proc], true)?;
        let no_room = || {
            Error::no_memory(
                "5.6.4",
                format!("no room for 0x{size:X} bytes in the destination"),
            )
        };
        let place = spaces
            .get(dst_proc.pid())
            .find_place(&layout, u64::from(size))
            .ok_or_else(no_room)?;
        // 6. The source frames: physical, static, or touched as a thread would.
        let mut frames = Vec::with_capacity(pages as usize);
        // Whether the frames are known to be consecutive, so the host windows map the
        // alias as one run without reading it back: physical and static sources always
        // are; a virtual source when one run of its own window covers it.
        let mut consecutive = true;
        let found = if physical {
            k.physical_frames(full & !0xFFF, pages, &mut frames)
        } else if let Some(pa) = k.static_range(p, 1) {
            // A kernel-static source maps the consecutive frames from its own, even
            // when the range runs past the static mapping (semantics.md §5.6 step 6).
            k.physical_frames(pa & !0xFFF, pages, &mut frames)
        } else {
            let kind = if prot.contains(Protection::READWRITE) {
                AccessKind::Write
            } else {
                AccessKind::Read
            };
            let touched = k
                .touch_pages(
                    &mut spaces,
                    &src_proc,
                    p,
                    pages,
                    kind,
                    Mode::Kernel,
                    &mut frames,
                )
                .is_ok();
            let source = &spaces.holding(src_proc.pid(), p).table;
            consecutive = source.windows().is_some_and(|h| h.one_run(p, pages));
            touched
        };
        // 8. Any failure from here on reports ERROR_NOT_ENOUGH_MEMORY.
        if !found {
            return Err(Error::no_memory(
                "5.6.6",
                format!("the source 0x{p:08X}+0x{n:X} cannot be brought in for this protection"),
            ));
        }
        // The isolate policy: the partial pages get private bounce frames, taken before
        // anything changes (none free: 8).
        let plan = if !physical
            && !dst_proc.is_kernel()
            && k.exposure_policy() == crate::audit::ExposurePolicy::Isolate
        {
            crate::audit::bounce_plan(po, n, pages)
        } else {
            Vec::new()
        };
        let bounce = if plan.is_empty() {
            crate::frame_refs::FrameRefs::new()
        } else {
            k.memory().alloc(plan.len()).ok_or_else(|| {
                Error::no_memory(
                    "audit",
                    "no free frame for the isolate policy's bounce pages",
                )
            })?
        };
        // 5, 7, 9. Reserve, map the alias pages after the leading offset, add the record.
        let space = spaces.get(dst_proc.pid());
        let base = space.take(place);
        let first_page = base + (bo - po);
        let refs = k.memory().take_refs_known(frames, consecutive);
        let (frames, pin) = if plan.is_empty() {
            // No bounce page (every alias but an isolated exposing one): the frames go to
            // the entries as they are, with no extra pass.
            let _ = bounce.install();
            (refs, Vec::new())
        } else {
            k.isolate_entries(first_page, refs, &plan, bounce, vp.access.writable())
        };
        let source = if physical {
            AliasSource::Physical { pa: full }
        } else {
            AliasSource::Virtual {
                pid: src_proc.pid(),
                address: p,
            }
        };
        let record = Reservation {
            base,
            size,
            kind: ReserveKind::Plain,
            origin: Origin::Alias {
                requested: (base + bo, n),
                source,
            },
        };
        space.reserve_mapped(record, first_page, frames, vp);
        if !pin.is_empty() {
            space
                .isolated
                .insert(base, crate::space::IsolatePin { pages: pin });
        }
        // 10. The result keeps the source's low 16 bits.
        Ok(base + bo)
    }
}
