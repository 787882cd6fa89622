//! A two-level page table over the 32-bit space: 1024 tables of 1024 entries, second
//! levels allocated on first write of a non-free entry.
//!
//! Every change that takes access away from a committed page (a new protection, a
//! decommit, a release) bumps the kernel's translation generation, so every thread's
//! translation cache drops what it cached before the change.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use crate::pte::Pte;
use crate::windows::{Hook, Leaves, Shape};

const ENTRIES: usize = 1024;

type Leaf = [Pte; ENTRIES];

/// The page table of one address space.
pub struct PageTable {
    dirs: Box<[Option<Box<Leaf>>]>,
    generation: Arc<AtomicU64>,
    /// The host windows showing this table (`Config::host_windows`), `None` when off.
    windows: Option<Box<Hook>>,
}

impl std::fmt::Debug for PageTable {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let leaves = self.dirs.iter().filter(|d| d.is_some()).count();
        write!(f, "PageTable {{ {leaves} second-level tables }}")
    }
}

fn split(va: u32) -> (usize, usize) {
    ((va >> 22) as usize, (va >> 12 & 0x3FF) as usize)
}

/// Whether replacing `old` by `new` may take access away from a cached translation.
fn revokes(old: Pte, new: Pte) -> bool {
    old.is_committed() && old != new
}

impl PageTable {
    /// An empty table (every page free) whose revoking changes bump `generation`.
    pub fn new(generation: Arc<AtomicU64>) -> Self {
        Self {
            dirs: (0..ENTRIES).map(|_| None).collect(),
            generation,
            windows: None,
        }
    }

    /// Shows this table in host windows from now on, mapping what it holds already.
    pub(crate) fn attach_windows(&mut self, mut hook: Hook) {
        let dirs = &self.dirs;
        hook.sync_own(&|d| dirs[d].as_deref().map(|l| &l[..]));
        self.windows = Some(Box::new(hook));
    }

    /// The windows hook, when host windows are on.
    pub(crate) fn windows_mut(&mut self) -> Option<&mut Hook> {
        self.windows.as_deref_mut()
    }

    /// Whether host windows show this table.
    #[inline]
    pub(crate) fn shows_windows(&self) -> bool {
        self.windows.is_some()
    }

    /// The windows hook, when host windows are on.
    pub(crate) fn windows(&self) -> Option<&Hook> {
        self.windows.as_deref()
    }

    /// Runs `f` on the hook with a view of the second-level tables (NK.EXE's table adds
    /// a window to its kernel half this way).
    pub(crate) fn with_windows(&mut self, f: impl FnOnce(&mut Hook, &Leaves<'_>)) {
        let Self { dirs, windows, .. } = self;
        if let Some(h) = windows.as_deref_mut() {
            f(h, &|d| dirs[d].as_deref().map(|l| &l[..]));
        }
    }

    /// Applies every change not yet shown to the host windows (nothing when off). Called
    /// when the space's lock is released and before frames a change let go of are freed.
    #[inline]
    pub(crate) fn sync_windows(&mut self) {
        if let Some(h) = self.windows.as_deref_mut()
            && h.pending()
        {
            let dirs = &self.dirs;
            h.sync(&|d| dirs[d].as_deref().map(|l| &l[..]));
        }
    }

    /// Notes a change for the host windows; `shape` (looked at only when windows are on) is
    /// what the writer knows of the entries it wrote.
    #[inline]
    fn mark(&mut self, va: u32, pages: u32, shape: Shape) {
        if let Some(h) = self.windows.as_deref_mut()
            && h.mark(va, pages, shape)
        {
            self.sync_windows();
        }
    }

    fn shoot_down(&self) {
        self.generation.fetch_add(1, Ordering::Release);
    }

    /// The entry of the page holding `va`.
    #[inline]
    pub fn get(&self, va: u32) -> Pte {
        let (d, i) = split(va);
        match &self.dirs[d] {
            Some(leaf) => leaf[i],
            None => Pte::FREE,
        }
    }

    /// Sets the entry of the page holding `va`.
    #[inline]
    pub fn set(&mut self, va: u32, e: Pte) {
        let (d, i) = split(va);
        match &mut self.dirs[d] {
            Some(leaf) => {
                let old = std::mem::replace(&mut leaf[i], e);
                if revokes(old, e) {
                    self.shoot_down();
                }
                if old != e {
                    self.mark(va, 1, Shape::Unknown);
                }
            }
            None if e.is_free() => {}
            slot @ None => {
                let mut leaf = Box::new([Pte::FREE; ENTRIES]);
                leaf[i] = e;
                *slot = Some(leaf);
                self.mark(va, 1, Shape::Unknown);
            }
        }
    }

    /// Calls `f` with the first address and the entries of each piece of `[first, first +
    /// count pages)` that lies in one second-level table, in order (an absent table reads
    /// as free entries). The range must not pass 4 GiB.
    pub fn for_runs(&self, first: u32, count: u32, mut f: impl FnMut(u32, &[Pte])) {
        static FREE_LEAF: Leaf = [Pte::FREE; ENTRIES];
        let mut va = u64::from(first & !0xFFF);
        let end = va + u64::from(count) * 0x1000;
        while va < end {
            let (d, i) = split(va as u32);
            let n = ((end - va) / 0x1000).min((ENTRIES - i) as u64) as usize;
            let leaf = self.dirs[d].as_deref().unwrap_or(&FREE_LEAF);
            f(va as u32, &leaf[i..i + n]);
            va += (n as u64) * 0x1000;
        }
    }

    /// Lets `f` rewrite the entries of each piece of `[first, first + count pages)` that
    /// lies in one second-level table, in order, allocating tables as needed. The range
    /// must not pass 4 GiB.
    pub fn update_runs(
        &mut self,
        first: u32,
        count: u32,
        shape: Shape,
        mut f: impl FnMut(u32, &mut [Pte]),
    ) {
        let mut va = u64::from(first & !0xFFF);
        let end = va + u64::from(count) * 0x1000;
        let mut had_committed = false;
        while va < end {
            let (d, i) = split(va as u32);
            let n = ((end - va) / 0x1000).min((ENTRIES - i) as u64) as usize;
            let leaf = self.dirs[d].get_or_insert_with(|| Box::new([Pte::FREE; ENTRIES]));
            let run = &mut leaf[i..i + n];
            // A fold, not `any`: no early exit, so the scan vectorises.
            had_committed |= run.iter().fold(false, |acc, e| acc | e.is_committed());
            f(va as u32, run);
            va += (n as u64) * 0x1000;
        }
        // Conservative: any rewrite of a committed entry may take access away.
        if had_committed {
            self.shoot_down();
        }
        self.mark(first, count, shape);
    }

    /// Lets `f` fill the entries of each piece of `[first, first + count pages)`, none of
    /// them committed (a range just placed, or reserved pages being committed): nothing
    /// can be revoked, so there is no scan for committed entries and no shoot-down.
    /// `shape` says what `f` writes, for the host windows.
    pub fn fill_uncommitted_runs(
        &mut self,
        first: u32,
        count: u32,
        shape: Shape,
        mut f: impl FnMut(u32, &mut [Pte]),
    ) {
        let mut va = u64::from(first & !0xFFF);
        let end = va + u64::from(count) * 0x1000;
        while va < end {
            let (d, i) = split(va as u32);
            let n = ((end - va) / 0x1000).min((ENTRIES - i) as u64) as usize;
            let leaf = self.dirs[d].get_or_insert_with(|| Box::new([Pte::FREE; ENTRIES]));
            let run = &mut leaf[i..i + n];
            debug_assert!(
                run.iter().all(|e| !e.is_committed()),
                "filling committed entries"
            );
            f(va as u32, run);
            va += (n as u64) * 0x1000;
        }
        // Nothing was revoked, but the host windows must show what was filled in.
        self.mark(first, count, shape);
    }

    /// Lets `f` rewrite each entry of `[first, first + count pages)` with its address;
    /// `shape` says what `f` writes, for the host windows.
    pub fn update_range(
        &mut self,
        first: u32,
        count: u32,
        shape: Shape,
        mut f: impl FnMut(u32, &mut Pte),
    ) {
        self.update_runs(first, count, shape, |va, run| {
            for (k, e) in run.iter_mut().enumerate() {
                f(va.wrapping_add((k as u32) << 12), e);
            }
        });
    }

    /// Calls `f` with the address and entry of every page that is not free, in order.
    pub fn for_each_used(&self, mut f: impl FnMut(u32, Pte)) {
        for (d, leaf) in self.dirs.iter().enumerate() {
            let Some(leaf) = leaf else { continue };
            for (i, e) in leaf.iter().enumerate() {
                if !e.is_free() {
                    f(((d << 22) | (i << 12)) as u32, *e);
                }
            }
        }
    }

    /// Frees every second-level table (every page becomes free).
    pub fn clear(&mut self) {
        for d in self.dirs.iter_mut() {
            *d = None;
        }
        // The process has ended: its window is reset whole (`Windows::close`).
        if let Some(h) = self.windows.take() {
            h.retire();
        }
        self.shoot_down();
    }
}
