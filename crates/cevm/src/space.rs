//! An address space: its page table, reservation ("VA") records, lock records, the
//! marshalling helpers' live duplicates and the placement cursors.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::AtomicU64;

use crate::consts::{BLOCK_SIZE, PAGE_SIZE};
use crate::flags::ValidProtection;
use crate::frame_refs::FrameRefs;
use crate::layout::{Layout, SHARED_HEAP_BASE, SHARED_HEAP_END};
use crate::origin::Origin;
use crate::page_table::PageTable;
use crate::pte::{Pte, ReserveKind};
use crate::windows::Shape;

/// One reservation: its block-aligned base and the byte size the caller asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Reservation {
    /// 64 KiB-aligned base.
    pub base: u32,
    /// The requested size in bytes, not rounded.
    pub size: u32,
    /// What its reserved pages are.
    pub kind: ReserveKind,
    /// What made it, and where its pages come from.
    pub origin: Origin,
}

impl Reservation {
    /// Whether it is a VA record (every reservation but the fixed blocks of a new process).
    pub fn is_record(&self) -> bool {
        self.origin != Origin::Fixed
    }

    /// End of the requested bytes (exclusive).
    pub fn byte_end(&self) -> u64 {
        u64::from(self.base) + u64::from(self.size)
    }

    /// End of its pages: the requested end rounded up to a page.
    pub fn page_end(&self) -> u64 {
        self.byte_end().div_ceil(u64::from(PAGE_SIZE)) * u64::from(PAGE_SIZE)
    }

    /// End of the blocks it occupies.
    pub fn block_end(&self) -> u64 {
        self.byte_end().div_ceil(u64::from(BLOCK_SIZE)) * u64::from(BLOCK_SIZE)
    }

    /// Whether the bytes `[a, a + n)` lie inside the requested size.
    pub fn holds_bytes(&self, a: u32, n: u32) -> bool {
        a >= self.base && u64::from(a) + u64::from(n) <= self.byte_end()
    }

    /// Whether the pages `[first, first + pages)` lie inside its page extent.
    pub fn holds_pages(&self, first: u32, pages: u32) -> bool {
        first >= self.base
            && u64::from(first) + u64::from(pages) * u64::from(PAGE_SIZE) <= self.page_end()
    }
}

/// A place found for a new reservation and not taken yet (nothing has changed): taking it
/// moves the placement cursor in the same step (see [`AddressSpace::take`]).
#[must_use = "a placement changes nothing until it is taken"]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Placement {
    base: u32,
    len: u64,
    /// End of the area the cursor moves in.
    end: u64,
    /// The shared-heap cursor rather than the process (or kernel VM) one.
    shared: bool,
}

impl Placement {
    /// Where the reservation will start.
    pub fn base(&self) -> u32 {
        self.base
    }
}

/// One successful LockPages: page-aligned start, page count and the locking process.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LockRecord {
    /// First page.
    pub start: u32,
    /// Number of pages.
    pub pages: u32,
    /// Process id of the process the lock was made for.
    pub owner: u32,
    /// The whole LockPages range `(first page, page count)` this record is part of: a
    /// range across the shared heap base is kept as one record in each table, and
    /// UnlockPages must name the whole range to remove both.
    pub whole: (u32, u32),
}

impl LockRecord {
    /// Whether the lock covers any page of `[first, first + pages)`.
    pub fn overlaps(&self, first: u32, pages: u32) -> bool {
        let a = u64::from(self.start);
        let b = a + u64::from(self.pages) * u64::from(PAGE_SIZE);
        let c = u64::from(first);
        let d = c + u64::from(pages) * u64::from(PAGE_SIZE);
        a < d && c < b
    }
}

/// A live duplicate made by a marshalling helper (semantics.md §7 "Duplicates"): a
/// committed read/write region of `size + 16` bytes whose base + 16 was handed out. It is
/// kept beside the reservation record of its region and dies with it (released by any
/// path, VirtualFree included, or with the process).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Duplicate {
    /// The pointer handed out: the region's base + 16.
    pub ptr: u32,
    /// The source pointer it was copied from.
    pub source: u32,
    /// Its size in bytes (the effective size at creation).
    pub size: u32,
    /// The source process: GetCallerVMProcessId when it was made.
    pub source_process: crate::process::Pid,
    /// The descriptor given to the helper that made it.
    pub desc: u32,
    /// The cb given to the helper that made it.
    pub cb: u32,
}

/// One partial page of an alias under the `isolate` policy: its entry maps the private
/// `bounce` frame holding only the requested bytes `[lo, hi)` of the page; `source` is the
/// frame it stands for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BouncePage {
    /// The alias page.
    pub va: u32,
    /// The private frame its entry maps.
    pub bounce: crate::phys::Pfn,
    /// The source frame, on which the pin holds one reference.
    pub source: crate::phys::Pfn,
    /// The requested bytes of the page: `[lo, hi)`.
    pub lo: u32,
    /// End of the requested bytes (exclusive).
    pub hi: u32,
    /// Whether the mapping was made writable: only then is there a write-back.
    pub writable: bool,
}

/// The bounce pages of one isolated alias. Each holds one reference on its source frame
/// (counted by the invariant checker), dropped when the page is decommitted or released.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IsolatePin {
    /// Its partial pages.
    pub pages: Vec<BouncePage>,
}

/// The memory of one process (or of the kernel, whose tables also hold the shared heap
/// and the kernel half for everyone).
#[derive(Debug)]
pub struct AddressSpace {
    /// The page table.
    pub table: PageTable,
    /// Reservation records by base.
    pub records: BTreeMap<u32, Reservation>,
    /// Lock records, in the order they were made.
    pub locks: Vec<LockRecord>,
    /// Live duplicates of the marshalling helpers, by the base of their region.
    pub duplicates: BTreeMap<u32, Duplicate>,
    /// Isolated aliases' bounce pages, by the base of their reservation.
    pub isolated: BTreeMap<u32, IsolatePin>,
    /// Where NULL-address placement starts (user area or kernel VM).
    pub cursor: u32,
    /// Where shared-heap placement starts (kernel only).
    pub shared_cursor: u32,
    /// Lowest address the cursor may take (start of its placement area).
    pub cursor_floor: u32,
    /// Whether this is the kernel's space.
    pub kernel: bool,
}

impl AddressSpace {
    /// An empty space whose placement cursor starts at `cursor` and never falls below
    /// `floor`, the start of its placement area.
    pub fn new(kernel: bool, floor: u32, cursor: u32, generation: Arc<AtomicU64>) -> Self {
        Self {
            table: PageTable::new(generation),
            records: BTreeMap::new(),
            locks: Vec::new(),
            duplicates: BTreeMap::new(),
            isolated: BTreeMap::new(),
            cursor,
            shared_cursor: SHARED_HEAP_BASE,
            cursor_floor: floor,
            kernel,
        }
    }

    /// The VA record whose requested bytes contain all of `[a, a + n)` (`n` may be 0).
    pub fn record_holding_bytes(&self, a: u32, n: u32) -> Option<&Reservation> {
        let (_, r) = self.records.range(..=a).next_back()?;
        (r.is_record() && r.holds_bytes(a, n)).then_some(r)
    }

    /// The reservation (a VA record or a fixed block) whose page extent holds all of the
    /// pages `[first, first + pages)`: what a kernel-mode commit needs (§5.1).
    pub fn record_holding_pages(&self, first: u32, pages: u32) -> Option<&Reservation> {
        let (_, r) = self.records.range(..=first).next_back()?;
        r.holds_pages(first, pages).then_some(r)
    }

    /// The VA record based exactly at `base`.
    pub fn record_based_at(&self, base: u32) -> Option<&Reservation> {
        self.records.get(&base).filter(|r| r.is_record())
    }

    /// Reserves a block the kernel sets up for a new process (not a VA record).
    pub fn reserve_fixed(&mut self, base: u32, size: u32) {
        self.reserve(base, size, ReserveKind::Plain, Origin::Fixed);
    }

    /// The record whose requested bytes or pages contain `a`.
    pub fn record_at(&self, a: u32) -> Option<&Reservation> {
        let (_, r) = self.records.range(..=a).next_back()?;
        (u64::from(a) < r.page_end()).then_some(r)
    }

    /// The record whose block extent contains `a` (the block is in use by it).
    pub fn record_block_at(&self, a: u32) -> Option<&Reservation> {
        let (_, r) = self.records.range(..=a).next_back()?;
        (u64::from(a) < r.block_end()).then_some(r)
    }

    /// Whether every block of `[a, a + len)` is free (no record occupies it).
    pub fn blocks_free(&self, a: u32, len: u64) -> bool {
        let end = u64::from(a) + len;
        if self.record_block_at(a).is_some() {
            return false;
        }
        self.records
            .range(a..)
            .next()
            .is_none_or(|(&b, _)| u64::from(b) >= end)
    }

    /// The first run of wholly free blocks of `len` bytes in `[start, end)`.
    pub fn find_free(&self, start: u32, end: u64, len: u64) -> Option<u32> {
        let blocks = len.div_ceil(u64::from(BLOCK_SIZE)) * u64::from(BLOCK_SIZE);
        let mut at = u64::from(start).div_ceil(u64::from(BLOCK_SIZE)) * u64::from(BLOCK_SIZE);
        if let Some(r) = self.record_block_at(at.min(u64::from(u32::MAX)) as u32) {
            at = at.max(r.block_end());
        }
        for (&b, r) in self.records.range(at.min(u64::from(u32::MAX)) as u32..) {
            if u64::from(b) >= end {
                break;
            }
            if u64::from(b) >= at + blocks {
                return Some(at as u32);
            }
            at = at.max(r.block_end());
        }
        (at + blocks <= end).then_some(at as u32)
    }

    /// NULL-address placement (semantics.md §3): first fit upward from the cursor, then
    /// (processes only) from the start of the area up to the cursor. Changes nothing until
    /// the place is taken.
    pub fn find_place(&self, layout: &Layout, len: u64) -> Option<Placement> {
        let (start, end) = layout.placement_area(self.kernel);
        let cursor = self.cursor;
        let base = self
            .find_free(cursor, end, len)
            .or_else(|| (!self.kernel).then(|| self.find_free(start, u64::from(cursor), len))?)?;
        Some(Placement {
            base,
            len,
            end,
            shared: false,
        })
    }

    /// Placement in the shared heap (kernel space only), with its own cursor and the
    /// same rule. Changes nothing until the place is taken.
    pub fn find_shared(&self, len: u64) -> Option<Placement> {
        let end = u64::from(SHARED_HEAP_END);
        let cursor = self.shared_cursor;
        let base = self
            .find_free(cursor, end, len)
            .or_else(|| self.find_free(SHARED_HEAP_BASE, u64::from(cursor), len))?;
        Some(Placement {
            base,
            len,
            end,
            shared: true,
        })
    }

    /// Takes a place found by [`find_place`](Self::find_place) or
    /// [`find_shared`](Self::find_shared), once everything else the call needs is known to
    /// succeed: the cursor moves past it when it starts at the cursor. Returns its base.
    pub fn take(&mut self, place: Placement) -> u32 {
        let cursor = if place.shared {
            &mut self.shared_cursor
        } else {
            &mut self.cursor
        };
        advance(cursor, place.base, place.len, place.end);
        place.base
    }

    /// Adds a record and marks its pages reserved.
    pub fn reserve(&mut self, base: u32, size: u32, kind: ReserveKind, origin: Origin) {
        let r = Reservation {
            base,
            size,
            kind,
            origin,
        };
        let pages = ((r.page_end() - u64::from(base)) / u64::from(PAGE_SIZE)) as u32;
        let e = Pte::reserved(kind);
        // A new reservation covers free pages only.
        self.table
            .fill_uncommitted_runs(base, pages, Shape::Closed, |_, run| run.fill(e));
        self.records.insert(base, r);
    }

    /// Adds a record whose pages from `first_mapped` on map `frames` (as copies or
    /// physical mappings) with `prot`, the pages before them reserved, in one pass over the
    /// table; the entries take over the frames' references.
    pub fn reserve_mapped(
        &mut self,
        r: Reservation,
        first_mapped: u32,
        frames: FrameRefs,
        prot: ValidProtection,
    ) {
        let pages = ((r.page_end() - u64::from(r.base)) / u64::from(PAGE_SIZE)) as u32;
        let lead = (first_mapped - r.base) / PAGE_SIZE;
        let reserved = Pte::reserved(r.kind);
        let template = Pte::committed(crate::phys::Pfn(0), prot, true);
        // A placed reservation covers free pages only.
        self.table
            .fill_uncommitted_runs(r.base, lead, Shape::Closed, |_, run| run.fill(reserved));
        let mapped = frames.len() as u32;
        let shape = self.run_shape(&frames, template);
        let mut rest = frames.install();
        self.table
            .fill_uncommitted_runs(first_mapped, mapped, shape, |_, run| {
                for (e, pfn) in run.iter_mut().zip(rest.by_ref()) {
                    *e = template.with_pfn(pfn);
                }
            });
        debug_assert!(rest.next().is_none(), "more frames than alias pages");
        let tail = first_mapped + mapped * PAGE_SIZE;
        self.table
            .fill_uncommitted_runs(tail, pages - lead - mapped, Shape::Closed, |_, run| {
                run.fill(reserved)
            });
        self.records.insert(r.base, r);
    }

    /// Removes the record at `base`, frees its pages and moves the cursor down if the
    /// reservation lay below it. Returns the references its entries held.
    pub fn unreserve(&mut self, base: u32) -> FrameRefs {
        let mut frames = FrameRefs::new();
        let Some(r) = self.records.remove(&base) else {
            return frames;
        };
        self.duplicates.remove(&base);
        // Pins not ended by a write-back (a path that releases without one) give their
        // source references back with the entries'.
        if let Some(pin) = self.isolated.remove(&base) {
            for p in pin.pages {
                frames.push(p.source);
            }
        }
        let pages = ((r.page_end() - u64::from(base)) / u64::from(PAGE_SIZE)) as u32;
        self.table.update_range(base, pages, Shape::Closed, |_, e| {
            if e.is_committed() {
                frames.push(e.pfn());
            }
            *e = Pte::FREE;
        });
        if (SHARED_HEAP_BASE..SHARED_HEAP_END).contains(&base) {
            if base < self.shared_cursor {
                self.shared_cursor = base;
            }
        } else if base < self.cursor && base >= self.cursor_floor {
            self.cursor = base;
        }
        frames
    }

    /// Gives back the references of entries this space just cleared: its host windows let
    /// go of the frames first, so no window maps a frame the pool may hand out again.
    /// Called with the space still locked, so no observer sees counts without entries.
    pub fn release_cleared(&mut self, phys: &crate::phys::PhysicalMemory, refs: FrameRefs) {
        self.table.sync_windows();
        phys.release(refs);
    }

    /// Commits the pages from `first` with `frames` (one page each, in order) and `prot`;
    /// the entries take over the references.
    pub fn commit_frames(
        &mut self,
        first: u32,
        frames: FrameRefs,
        prot: ValidProtection,
        mapped: bool,
    ) {
        let count = frames.len() as u32;
        let template = Pte::committed(crate::phys::Pfn(0), prot, mapped);
        let shape = self.run_shape(&frames, template);
        let mut next = frames.install();
        // The pages are reserved, not committed: nothing is revoked.
        self.table
            .fill_uncommitted_runs(first, count, shape, |_, run| {
                for (e, pfn) in run.iter_mut().zip(next.by_ref()) {
                    *e = template.with_pfn(pfn);
                }
            });
    }

    /// What the entries `template` with `frames` will be, for the host windows (looked at
    /// only when they are on): one run when the frames are known to be consecutive.
    fn run_shape(&self, frames: &FrameRefs, template: Pte) -> Shape {
        if !self.table.shows_windows() {
            return Shape::Unknown;
        }
        match frames.consecutive() {
            Some(first) => Shape::Run {
                pfn: first.0,
                entry: template.with_pfn(first),
            },
            None => Shape::Unknown,
        }
    }

    /// Whether any lock record covers a page of `[first, first + pages)`.
    pub fn locked(&self, first: u32, pages: u32) -> bool {
        self.locks.iter().any(|l| l.overlaps(first, pages))
    }

    /// Iterates the page addresses of `[first, first + pages)`.
    pub fn pages(first: u32, pages: u32) -> impl Iterator<Item = u32> {
        (0..pages).map(move |i| first.wrapping_add(i.wrapping_mul(PAGE_SIZE)))
    }
}

/// The cursor rule of §3: a reservation found at the cursor moves it to the reservation's
/// block-rounded end (never past the area's `end`).
fn advance(cursor: &mut u32, found: u32, len: u64, end: u64) {
    if found == *cursor {
        let e = (u64::from(found) + len).div_ceil(u64::from(BLOCK_SIZE)) * u64::from(BLOCK_SIZE);
        *cursor = e.min(end) as u32;
    }
}
