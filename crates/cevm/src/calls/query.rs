//! VirtualQuery / VirtualQueryEx (semantics.md §5.4).

use std::sync::Arc;

use crate::consts::{BLOCK_SIZE, MEMORY_BASIC_INFORMATION_SIZE, PAGE_SIZE};
use crate::error::{Error, ErrorCode, Result};
use crate::flags::{AllocType, ProcessAccess, Protection};
use crate::layout::{USER_BASE, block_floor, page_floor, user_read_ok};
use crate::process::{Handle, Process, Spaces};
use crate::pte::{PageState, ReserveKind};
use crate::thread::Thread;

/// `MEMORY_BASIC_INFORMATION` as Compact 2013 fills it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MemoryInfo {
    /// The queried address rounded down to its page.
    pub base_address: u32,
    /// The reservation's base (0 for free pages).
    pub allocation_base: u32,
    /// Always `PAGE_NOACCESS` in CE.
    pub allocation_protect: Protection,
    /// Bytes from `base_address` with the same attributes.
    pub region_size: u32,
    /// `MEM_COMMIT`, `MEM_RESERVE` or `MEM_FREE`.
    pub state: AllocType,
    /// The read-back protection (`PAGE_NOACCESS` unless committed).
    pub protect: Protection,
    /// `MEM_PRIVATE` or `MEM_IMAGE`.
    pub kind: AllocType,
}

impl Thread {
    /// `VirtualQuery` on the active process; `len` is the caller's buffer size.
    pub fn virtual_query(&mut self, a: u32, len: u32) -> Result<MemoryInfo> {
        self.on_active(|me, proc| me.query_in(proc, a, len))
    }

    /// `VirtualQueryEx`: needs only a valid handle.
    pub fn virtual_query_ex(&mut self, h: Handle, a: u32, len: u32) -> Result<MemoryInfo> {
        self.on_process(h, ProcessAccess::empty(), None, |me, p| {
            me.query_in(p, a, len)
        })
    }

    fn query_in(&self, proc: &Arc<Process>, a: u32, len: u32) -> Result<MemoryInfo> {
        // 1. The buffer must hold the structure.
        if len < MEMORY_BASIC_INFORMATION_SIZE {
            return Err(Error::new(
                ErrorCode::BadLength,
                "5.4.1",
                format!("buffer of {len} bytes is smaller than MEMORY_BASIC_INFORMATION (28)"),
            ));
        }
        // 2. Address checks.
        let page = page_floor(a);
        if page < USER_BASE {
            return Err(Error::invalid(
                "5.4.2",
                format!("0x{a:08X} lies in the first 64 KiB, which cannot be queried"),
            ));
        }
        if self.is_user() && !user_read_ok(a, 4) {
            return Err(Error::invalid(
                "5.4.2",
                format!("0x{a:08X} is not a valid user-mode address"),
            ));
        }
        // 3. Fill the structure.
        let layout = self.kernel.layout();
        let mut info = MemoryInfo {
            base_address: page,
            allocation_base: 0,
            allocation_protect: Protection::NOACCESS,
            region_size: 0,
            state: AllocType::FREE,
            protect: Protection::NOACCESS,
            kind: AllocType::PRIVATE,
        };
        if layout.is_static(a) {
            // The static mapping has no entries or records; it reads as one committed
            // region whose AllocationBase is, as outside any record, a & ~0xFFFF.
            info.allocation_base = block_floor(page);
            info.region_size = layout.static_end - page;
            info.state = AllocType::COMMIT;
            info.protect = Protection::READWRITE;
            return Ok(info);
        }
        let mut spaces = Spaces::for_range(self.kernel.nk(), proc, a, 1)?;
        let space = spaces.holding(proc.pid(), a);
        let e = space.table.get(page);
        if e.is_free() {
            let area = layout.area_of(page);
            let block_end = u64::from(block_floor(page)) + u64::from(BLOCK_SIZE);
            let next_used = space
                .records
                .range(block_end.min(u64::from(u32::MAX)) as u32..)
                .next()
                .map_or(u64::MAX, |(&b, _)| u64::from(b));
            let end = block_end.max(next_used.min(area.end)).min(area.end);
            info.region_size = (end - u64::from(page)) as u32;
            return Ok(info);
        }
        let record = space.record_at(page).copied();
        let limit = record.map_or(u64::from(page) + u64::from(PAGE_SIZE), |r| r.page_end());
        let mut end = u64::from(page) + u64::from(PAGE_SIZE);
        // The region runs on while the entries stay alike, up to the record's end: scanned
        // a second-level table's slice at a time.
        let rest = ((limit.saturating_sub(end)) / u64::from(PAGE_SIZE)) as u32;
        let mut open = true;
        space.table.for_runs(end as u32, rest, |_, run| {
            if open {
                let k = run
                    .iter()
                    .position(|x| !x.same_region(e))
                    .unwrap_or(run.len());
                end += k as u64 * u64::from(PAGE_SIZE);
                open = k == run.len();
            }
        });
        info.allocation_base = record.map_or(block_floor(page), |r| r.base);
        info.region_size = (end - u64::from(page)) as u32;
        match e.state() {
            PageState::Committed => {
                info.state = AllocType::COMMIT;
                info.protect = e.read_back();
            }
            PageState::Reserved(kind) => {
                info.state = AllocType::RESERVE;
                if kind == ReserveKind::Image {
                    info.kind = AllocType::IMAGE;
                }
            }
            PageState::Free => {}
        }
        Ok(info)
    }
}
