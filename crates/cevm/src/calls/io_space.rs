//! MmMapIoSpace / MmUnmapIoSpace (semantics.md §5.9).

use crate::error::{Error, ErrorCode, Result};
use crate::flags::{Access, AllocType, ValidProtection};
use crate::layout::page_span;
use crate::origin::Origin;
use crate::process::Spaces;
use crate::pte::ReserveKind;
use crate::thread::Thread;

impl Thread {
    /// `MmMapIoSpace`: maps `n` bytes of physical memory (RAM or a device) read/write into
    /// the active process, uncached unless `cached`. Returns the address of `pa` itself.
    pub fn mm_map_io_space(&mut self, pa: u64, n: u32, cached: bool) -> Result<u32> {
        let r = self.map_io(pa, n, cached);
        if let Ok(va) = &r {
            let what = format!(
                "the MmMapIoSpace mapping at 0x{va:08X} of physical 0x{pa:X} (0x{n:X} bytes)"
            );
            let space = self.active.pid();
            self.audit_item(crate::audit::ItemKind::IoMapping, space, va & !0xFFF, what);
        }
        self.track(r)
    }

    /// `MmUnmapIoSpace`: releases a mapping made by
    /// [`mm_map_io_space`](Self::mm_map_io_space).
    pub fn mm_unmap_io_space(&mut self, p: u32, _n: u32) -> Result<()> {
        self.on_active(|me, proc| {
            me.free_named(
                proc,
                p & !0xFFF,
                0,
                AllocType::RELEASE,
                "MmUnmapIoSpace",
                false,
            )
        })
    }

    fn map_io(&self, pa: u64, n: u32, cached: bool) -> Result<u32> {
        let k = &self.kernel;
        // §2 order: the active process first (6), then the kernel-only rule (50).
        let proc = self.active_checked()?;
        self.require_kernel(ErrorCode::NotSupported)?;
        let off = (pa & 0xFFF) as u32;
        // The reservation VirtualAlloc would make: n + offset bytes, a positive size.
        let size = n
            .checked_add(off)
            .filter(|&s| (n as i32) > 0 && (s as i32) > 0);
        let Some(size) = size else {
            return Err(Error::non_positive("5.9", n));
        };
        if pa >> 40 != 0 {
            return Err(Error::invalid(
                "5.9",
                format!("physical address 0x{pa:X} is beyond 40 bits"),
            ));
        }
        let layout = k.layout();
        let mut spaces = Spaces::lock(k.nk(), &[&proc], true)?;
        let space = spaces.get(proc.pid());
        let place = space
            .find_place(&layout, u64::from(size))
            .ok_or_else(|| Error::no_memory("5.9", format!("no room for 0x{size:X} bytes")))?;
        // The frames VirtualCopy would map, found before anything changes: the fresh
        // reservation's pages are reserved and its offset is the source's, so this is the
        // only check of VirtualCopy's that can fail here.
        let (_, pages) = page_span(place.base() + off, n);
        let mut frames = Vec::with_capacity(pages as usize);
        if !k.physical_frames(pa & !0xFFF, pages, &mut frames) {
            return Err(Error::invalid(
                "5.9",
                format!("physical range 0x{pa:X}+0x{n:X} is neither RAM nor a registered device"),
            ));
        }
        let prot = ValidProtection {
            access: Access::ReadWrite,
            guard: false,
            nocache: !cached,
        };
        let base = space.take(place);
        space.reserve(base, size, ReserveKind::Plain, Origin::IoMapping { pa });
        k.map_frames(space, base, frames, prot);
        Ok(base + off)
    }
}
