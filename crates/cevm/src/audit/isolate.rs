//! The `isolate` policy's bounce pages (audit.md "Policies"): an exposing alias's partial
//! first and last pages map private frames that hold only the requested bytes. Each such
//! page is recorded in its space's `isolated` pins (`space.rs`) with the source frame it
//! stands for; the pin holds one reference on that source frame, so the write-back on
//! decommit, release or process end always has a live frame to copy into.

use crate::consts::PAGE_SIZE;
use crate::frame_refs::FrameRefs;
use crate::kernel::Kernel;
use crate::phys::Pfn;
use crate::space::{AddressSpace, BouncePage};

/// The partial pages of a mapping of `n` bytes at page offset `po` over `pages` pages:
/// (page index, first requested byte, end of the requested bytes) within the page.
pub(crate) fn bounce_plan(po: u32, n: u32, pages: u32) -> Vec<(u32, u32, u32)> {
    let end = ((u64::from(po) + u64::from(n)) % u64::from(PAGE_SIZE)) as u32;
    if pages == 1 {
        return if po != 0 || end != 0 {
            vec![(0, po, if end == 0 { PAGE_SIZE } else { end })]
        } else {
            Vec::new()
        };
    }
    let mut plan = Vec::new();
    if po != 0 {
        plan.push((0, po, PAGE_SIZE));
    }
    if end != 0 {
        plan.push((pages - 1, 0, end));
    }
    plan
}

impl Kernel {
    /// The entries of an isolated mapping whose pages from `first` map `source` (one
    /// owned reference each): the partial pages of `plan` take the `bounce` frames,
    /// filled with the source's requested bytes, and their source references go to the
    /// returned bounce pages (the pin).
    pub(crate) fn isolate_entries(
        &self,
        first: u32,
        source: FrameRefs,
        plan: &[(u32, u32, u32)],
        bounce: FrameRefs,
        writable: bool,
    ) -> (FrameRefs, Vec<BouncePage>) {
        let mut bounce = bounce.install();
        let mut entries = Vec::with_capacity(source.len());
        let mut pin = Vec::with_capacity(plan.len());
        for (i, pfn) in source.install().enumerate() {
            let part = plan.iter().find(|p| p.0 == i as u32);
            match part.and_then(|&(_, lo, hi)| Some((lo, hi, bounce.next()?))) {
                Some((lo, hi, b)) => {
                    self.copy_frame_bytes(pfn, b, lo, hi);
                    pin.push(BouncePage {
                        va: first + i as u32 * PAGE_SIZE,
                        bounce: b,
                        source: pfn,
                        lo,
                        hi,
                        writable,
                    });
                    entries.push(b);
                }
                None => entries.push(pfn),
            }
        }
        // Bounce frames left over (none: the plan and the allocation have one length).
        let rest: Vec<Pfn> = bounce.collect();
        if !rest.is_empty() {
            self.memory().release(FrameRefs::owning(rest));
        }
        (FrameRefs::owning(entries), pin)
    }

    /// Copies bytes `[lo, hi)` of frame `from` into the same bytes of frame `to`.
    pub(crate) fn copy_frame_bytes(&self, from: Pfn, to: Pfn, lo: u32, hi: u32) {
        let mem = self.memory();
        let (Some(src), Some(dst)) = (mem.host_ptr(from), mem.host_ptr(to)) else {
            return;
        };
        if from == to || lo >= hi || hi > PAGE_SIZE {
            return;
        }
        // SAFETY: `host_ptr` gives the start of a whole 4 KiB frame of the RAM arena or a
        // device buffer, both mapped for the kernel's lifetime; lo < hi <= 4096 keeps both
        // ranges inside their frames, and two different frames never overlap. Concurrent
        // guest stores may tear the copy (as on hardware) but cannot move it outside them.
        unsafe {
            std::ptr::copy_nonoverlapping(
                src.add(lo as usize),
                dst.add(lo as usize),
                (hi - lo) as usize,
            )
        };
    }

    /// Ends the bounce pages of the alias reserved at `base` whose page lies in `range`
    /// (all of them for `None`): a writable alias copies each page's requested bytes back
    /// into its source frame (only while the entry still maps the bounce frame), and the
    /// pin's reference on the source frame is returned for release.
    pub(crate) fn isolate_unpin(
        &self,
        space: &mut AddressSpace,
        base: u32,
        range: Option<(u64, u64)>,
    ) -> FrameRefs {
        let mut refs = FrameRefs::new();
        let Some(pin) = space.isolated.get_mut(&base) else {
            return refs;
        };
        let (gone, kept): (Vec<_>, Vec<_>) = std::mem::take(&mut pin.pages)
            .into_iter()
            .partition(|p| range.is_none_or(|(s, e)| (s..e).contains(&u64::from(p.va))));
        pin.pages = kept;
        if pin.pages.is_empty() {
            space.isolated.remove(&base);
        }
        for p in gone {
            let e = space.table.get(p.va);
            if p.writable && e.is_committed() && e.pfn() == p.bounce {
                self.copy_frame_bytes(p.bounce, p.source, p.lo, p.hi);
            }
            refs.push(p.source);
        }
        refs
    }
}
