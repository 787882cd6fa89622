//! The host-mapping sync: after entries of a page table changed, the host mappings of that
//! range in every window that shows the table are re-derived from the entries.
//!
//! A table's [`Hook`] collects the changed ranges (`mark`) while its space is locked and
//! applies them (`sync`) before the lock is released (and before any frame reference the
//! change dropped goes back to the pool). A writer that knows what it wrote says so with a
//! [`Shape`] (a range closed, or one run of consecutive frames), and the sync then maps it
//! without reading the entries back: a 16 MiB alias costs one host `mmap`, not a pass over
//! 4096 entries per window. Each window side keeps a record of its runs: the
//! accessible pages grouped into runs of consecutive frames with one protection, each
//! either mapped (one host mapping) or left to the fault path by the budget.

use std::collections::BTreeMap;
use std::sync::Arc;

use super::Windows;
use super::reserve::WindowRange;
use crate::layout::{CPU_RESERVED_BASE, KERNEL_BASE, SHARED_HEAP_BASE};
use crate::page_table::PageTable;
use crate::pte::Pte;

const PAGE: u64 = 0x1000;
/// Changed ranges kept before they are applied at once.
const MAX_DIRTY: usize = 64;

/// A view of a table's second-level tables: `leaf(d)` is table `d`, `None` when absent.
pub(crate) type Leaves<'a> = dyn Fn(usize) -> Option<&'a [Pte]> + 'a;

/// What the writer of a range knows about the entries it just wrote.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Shape {
    /// Nothing: the sync reads the entries.
    Unknown,
    /// No page of the range is accessible (reserved, freed).
    Closed,
    /// Page `k` of the range holds `entry` with frame `pfn + k`.
    Run { pfn: u64, entry: Pte },
}

impl Shape {
    /// The shape of a range marked over (or right after) one of shape `self` and one of
    /// `other`: only two closed ranges stay known.
    fn join(self, other: Shape) -> Shape {
        if self == Shape::Closed && other == Shape::Closed {
            Shape::Closed
        } else {
            Shape::Unknown
        }
    }
}

/// One run of a window: `pages` pages from its key mapping frames `pfn..pfn + pages`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Run {
    pub pages: u32,
    pub pfn: u64,
    pub write: bool,
    /// 0 for RAM, `i + 1` for the i-th device.
    pub backing: u32,
    /// Whether it has its host mapping (else the budget left it to the fault path).
    pub mapped: bool,
}

impl Run {
    pub fn len(&self) -> u64 {
        u64::from(self.pages) * PAGE
    }
}

/// What a kernel-mode access may do to a page with entry `e` (§6): `(frame, writable)`,
/// or `None` when it faults (free, reserved, no-access, unconsumed guard, auto-commit).
pub(crate) fn target(e: Pte) -> Option<(u64, bool)> {
    if !e.is_committed() || e.guard() {
        return None;
    }
    let a = e.access();
    if a.writable() {
        Some((e.pfn().0, true))
    } else if a.readable() {
        Some((e.pfn().0, false))
    } else {
        None
    }
}

/// One window's view of one table: its runs in a part of the window.
#[derive(Debug)]
pub(crate) struct Side {
    pub window: Arc<WindowRange>,
    pub pid: u32,
    pub runs: BTreeMap<u64, Run>,
}

impl Side {
    pub fn new(window: Arc<WindowRange>, pid: u32) -> Self {
        Self {
            window,
            pid,
            runs: BTreeMap::new(),
        }
    }

    /// Forgets the runs (the window itself is being reset), giving back their budget.
    fn retire(&mut self, w: &Windows) {
        for r in std::mem::take(&mut self.runs).values() {
            if r.mapped {
                w.budget.give(1);
            } else {
                w.budget.unleave(u64::from(r.pages));
            }
        }
    }

    /// The run holding guest address `va`, with its start.
    pub fn run_at(&self, va: u64) -> Option<(u64, Run)> {
        let (&s, r) = self.runs.range(..=va).next_back()?;
        (va < s + r.len()).then_some((s, *r))
    }

    /// Maps run `start` (left unmapped by the budget) with room already taken from the
    /// budget; gives the room back when the host refuses. Returns whether it is mapped.
    pub fn map_taken(&mut self, w: &Windows, start: u64) -> bool {
        let Some(r) = self.runs.get(&start).copied() else {
            w.budget.give(1);
            return false;
        };
        if r.mapped {
            w.budget.give(1);
            return true;
        }
        let devs = w.devices();
        if map_run(&self.window, &devs, w, start, &r).is_err() {
            w.budget.give(1);
            return false;
        }
        w.budget.unleave(u64::from(r.pages));
        self.runs.get_mut(&start).expect("run").mapped = true;
        true
    }

    /// Unmaps one mapped run other than `keep` (its pages go to the fault path), giving
    /// its room back to the budget. False when there is none.
    fn evict(&mut self, w: &Windows, keep: Option<u64>) -> bool {
        let Some(v) = self
            .runs
            .iter()
            .find(|(s, r)| r.mapped && Some(**s) != keep)
            .map(|(s, _)| *s)
        else {
            return false;
        };
        let vr = self.runs.get_mut(&v).expect("victim run");
        if self.window.reset(v, vr.len() as usize).is_err() {
            return false;
        }
        vr.mapped = false;
        w.budget.leave(u64::from(vr.pages));
        w.budget.give(1);
        true
    }

    /// Makes the host mappings of `[lo, hi)` match entries of shape `shape`: without
    /// reading them when the shape says enough, else as [`sync_range`](Self::sync_range).
    fn sync_shaped(&mut self, w: &Windows, leaf: &Leaves<'_>, lo: u64, hi: u64, shape: Shape) {
        let done = match shape {
            Shape::Unknown => false,
            Shape::Closed => self.close(w, lo, hi),
            Shape::Run { pfn, entry } => match target(entry) {
                None => self.close(w, lo, hi),
                Some((_, write)) => self.open_run(w, lo, hi, pfn, write),
            },
        };
        if !done {
            self.sync_range(w, leaf, lo, hi);
        }
    }

    /// Whether some run overlaps `[lo, hi)` without lying inside it.
    fn straddles(&self, lo: u64, hi: u64) -> bool {
        let left = self.run_at(lo).is_some_and(|(s, _)| s < lo);
        let right = hi > lo && self.run_at(hi - 1).is_some_and(|(s, r)| s + r.len() > hi);
        left || right
    }

    /// `[lo, hi)` holds no accessible page: drops the runs inside it with one host reset.
    /// False (nothing done) when a run reaches outside it, which needs the entries.
    fn close(&mut self, w: &Windows, lo: u64, hi: u64) -> bool {
        if self.straddles(lo, hi) {
            return false;
        }
        let mut mapped = 0;
        while let Some(&s) = self.runs.range(lo..hi).next().map(|(s, _)| s) {
            let r = self.runs.remove(&s).expect("run");
            if r.mapped {
                mapped += 1;
            } else {
                w.budget.unleave(u64::from(r.pages));
            }
        }
        if mapped > 0 {
            revoke(&self.window, lo, hi - lo);
            w.budget.give(mapped);
        }
        true
    }

    /// `[lo, hi)` is one run from frame `pfn` (writable or not), over pages no run shows:
    /// maps it as it is. False (nothing done) when a run is already there, the frames are
    /// not all in one backing, or a touching run continues it (then the entries are read,
    /// so the two join: a range committed page by page stays one run).
    fn open_run(&mut self, w: &Windows, lo: u64, hi: u64, pfn: u64, write: bool) -> bool {
        let pages = (hi - lo) / PAGE;
        let devs = w.devices();
        let Some((backing, limit)) = w.backing_range(&devs, pfn) else {
            return false;
        };
        if pfn + pages > limit {
            return false;
        }
        let joins =
            |r: &Run, first: u64| r.write == write && r.backing == backing && r.pfn == first;
        // The last run starting before `hi`: any run overlapping the range makes it overlap
        // too (runs are disjoint), and one ending at `lo` may continue into it.
        if let Some((&s, r)) = self.runs.range(..hi).next_back() {
            let end = s + r.len();
            if end > lo || (end == lo && joins(r, pfn.wrapping_sub(u64::from(r.pages)))) {
                return false;
            }
        }
        if self.runs.get(&hi).is_some_and(|r| joins(r, pfn + pages)) {
            return false;
        }
        let mut r = Run {
            pages: pages as u32,
            pfn,
            write,
            backing,
            mapped: false,
        };
        self.place(w, &devs, lo, &mut r);
        self.runs.insert(lo, r);
        true
    }

    /// Gives a new run its host mapping when the budget has room, else leaves its pages to
    /// the fault path.
    fn place(&self, w: &Windows, devs: &super::Devices<'_>, start: u64, r: &mut Run) {
        if w.budget.try_take() {
            if map_run(&self.window, devs, w, start, r).is_ok() {
                r.mapped = true;
                return;
            }
            w.budget.give(1);
        }
        w.budget.leave(u64::from(r.pages));
    }

    /// Re-derives the runs of `[lo, hi)` from the entries (`leaf(d)` is second-level
    /// table `d`, `None` when absent) and makes the host mappings match.
    fn sync_range(&mut self, w: &Windows, leaf: &Leaves<'_>, mut lo: u64, mut hi: u64) {
        // Take in the runs overlapping or touching the range, so runs can merge (the one
        // before `lo` too when a run starts at `lo`).
        if let Some((&s, r)) = self.runs.range(..lo).next_back()
            && s + r.len() >= lo
        {
            lo = s;
        }
        let mut old: Vec<(u64, Run)> = Vec::new();
        while let Some((&s, _)) = self.runs.range(lo..=hi).next() {
            let r = self.runs.remove(&s).expect("run");
            hi = hi.max(s + r.len());
            old.push((s, r));
        }
        let devs = w.devices();
        w.pages_rederived
            .fetch_add((hi - lo) / PAGE, std::sync::atomic::Ordering::Relaxed);
        // The runs the entries ask for.
        let mut new: Vec<(u64, Run)> = Vec::new();
        let mut va = lo;
        while va < hi {
            let d = (va >> 22) as usize;
            let leaf_end = (((va >> 22) + 1) << 22).min(hi);
            let Some(l) = leaf(d) else {
                va = leaf_end;
                continue;
            };
            let end = ((leaf_end - 1) >> 12 & 0x3FF) as usize + 1;
            let mut i = ((va >> 12) & 0x3FF) as usize;
            while i < end {
                let e = l[i];
                i += 1;
                let Some((pfn, write)) = target(e) else {
                    continue;
                };
                let Some((backing, limit)) = w.backing_range(&devs, pfn) else {
                    continue;
                };
                let at = (va & !0x3F_FFFF) + ((i as u64 - 1) << 12);
                // The fast case: the following entries are this one with the next frames
                // (same flags) inside the same backing; one compare per page, counted in
                // a register.
                let room = (limit - pfn - 1).min((end - i) as u64) as usize;
                let k = same_run_len(&l[i..i + room], e.bits());
                i += k;
                let pages = 1 + k as u32;
                match new.last_mut() {
                    Some((s, r))
                        if *s + r.len() == at
                            && r.write == write
                            && r.backing == backing
                            && r.pfn + u64::from(r.pages) == pfn =>
                    {
                        r.pages += pages
                    }
                    _ => new.push((
                        at,
                        Run {
                            pages,
                            pfn,
                            write,
                            backing,
                            mapped: false,
                        },
                    )),
                }
            }
            va = leaf_end;
        }
        // Take away first: old mappings not kept go back to no access.
        for (s, r) in &old {
            let same = new.binary_search_by_key(s, |(k, _)| *k).ok().filter(|&j| {
                let n = &new[j].1;
                n.pages == r.pages && n.pfn == r.pfn && n.write == r.write
            });
            if !r.mapped {
                w.budget.unleave(u64::from(r.pages));
                continue;
            }
            if let Some(j) = same
                && new[j].1.backing == r.backing
            {
                new[j].1.mapped = true;
                continue;
            }
            revoke(&self.window, *s, r.len());
            w.budget.give(1);
        }
        for (s, r) in new.iter_mut() {
            if !r.mapped {
                self.place(w, &devs, *s, r);
            }
        }
        self.runs.extend(new);
    }

    /// Checks the record against the entries: every accessible page is in exactly the run
    /// its entry asks for, and no run covers anything else.
    fn check(
        &self,
        w: &Windows,
        table: &PageTable,
        keep: &dyn Fn(u64) -> bool,
    ) -> Result<(), String> {
        let devs = w.devices();
        let mut last_end = 0;
        for (&s, r) in &self.runs {
            if s < last_end {
                return Err(format!("window of {}: runs overlap at 0x{s:08X}", self.pid));
            }
            last_end = s + r.len();
            for k in 0..u64::from(r.pages) {
                let va = s + k * PAGE;
                let want = target(table.get(va as u32));
                if !keep(va) || want != Some((r.pfn + k, r.write)) {
                    return Err(format!(
                        "window of {}: page 0x{va:08X} is in a run of frame 0x{:X} ({}) but its \
                         entry allows {want:?}",
                        self.pid,
                        r.pfn + k,
                        if r.write { "rw" } else { "r" }
                    ));
                }
            }
        }
        let mut err = None;
        table.for_each_used(|va, e| {
            if err.is_some() || !keep(u64::from(va)) {
                return;
            }
            if let Some((pfn, _)) = target(e)
                && w.backing(&devs, pfn).is_some()
                && self.run_at(u64::from(va)).is_none()
            {
                err = Some(format!(
                    "window of {}: accessible page 0x{va:08X} is in no run",
                    self.pid
                ));
            }
        });
        err.map_or(Ok(()), Err)
    }
}

/// How many of `rest` continue the run of entry `first` (raw bits): entry `k` must equal
/// `first` with the frame number `k + 1` higher (the frame field is bits 32 and up and the
/// caller keeps the frames inside one backing, so the addition cannot carry out of it).
/// Compares sixteen at a time without branches, so the common long run goes at memory speed.
fn same_run_len(rest: &[Pte], first: u64) -> usize {
    const STEP: u64 = 1 << 32;
    let mut k = 0;
    let mut want = first.wrapping_add(STEP);
    for chunk in rest.chunks_exact(16) {
        let mut diff = 0;
        let mut x = want;
        for e in chunk {
            diff |= e.bits() ^ x;
            x = x.wrapping_add(STEP);
        }
        if diff != 0 {
            break;
        }
        want = x;
        k += 16;
    }
    while k < rest.len() && rest[k].bits() == want {
        want = want.wrapping_add(STEP);
        k += 1;
    }
    k
}

/// Takes every mapping of `[va, va + len)` away (back to no access).
fn revoke(window: &WindowRange, va: u64, len: u64) {
    if let Err(e) = window.reset(va, len as usize) {
        // A mapping that cannot be taken away would leave a frame reachable after its
        // owner let go of it: stop rather than go on unsafely.
        eprintln!("cevm: cannot revoke a host window mapping: {e}");
        std::process::abort();
    }
}

fn map_run(
    window: &WindowRange,
    devs: &super::Devices<'_>,
    w: &Windows,
    start: u64,
    r: &Run,
) -> std::io::Result<()> {
    let (fd, offset) = w.fd_of(devs, r.backing, r.pfn);
    window.map(start, r.len() as usize, fd, offset, r.write)
}

/// Whether a kernel-half address is shown from NK's tables (the static mapping and the
/// CPU-reserved top are not).
fn kernel_half_keeps(static_end: u64) -> impl Fn(u64) -> bool {
    move |va| {
        va >= u64::from(SHARED_HEAP_BASE)
            && !(u64::from(KERNEL_BASE)..static_end).contains(&va)
            && va < u64::from(CPU_RESERVED_BASE)
    }
}

/// The windows a page table is shown in, and its changes not applied yet.
#[derive(Debug)]
pub(crate) struct Hook {
    windows: Arc<Windows>,
    dirty: Vec<(u64, u64, Shape)>,
    /// The lower part (below the shared heap) of this table's own window.
    own: Side,
    /// NK.EXE's table only: the kernel half of every window.
    high: Option<Vec<Side>>,
}

impl Hook {
    /// A hook for a process table shown in `own`'s lower part; `kernel` for NK.EXE's, whose
    /// kernel half is shown in every window added with [`add_window`](Self::add_window).
    pub fn new(windows: Arc<Windows>, own: Side, kernel: bool) -> Self {
        Self {
            windows,
            dirty: Vec::new(),
            own,
            high: kernel.then(Vec::new),
        }
    }

    /// Notes that the entries of `[va, va + pages pages)` changed to entries of shape
    /// `shape`; true when enough is pending that it should be applied now.
    #[inline]
    pub fn mark(&mut self, va: u32, pages: u32, shape: Shape) -> bool {
        if pages == 0 {
            return false;
        }
        let a = u64::from(va & !0xFFF);
        let b = a + u64::from(pages) * PAGE;
        let change = (a, b, shape);
        if let Some(last) = self.dirty.last_mut()
            && let Some(joined) = join(*last, change)
        {
            *last = joined;
            return false;
        }
        self.dirty.push(change);
        self.dirty.len() > MAX_DIRTY
    }

    /// Whether changes wait to be applied.
    pub fn pending(&self) -> bool {
        !self.dirty.is_empty()
    }

    /// Applies every pending change to the host mappings.
    pub fn sync(&mut self, leaf: &Leaves<'_>) {
        // Taken out while the sides are updated, and put back empty: its room is kept.
        let mut dirty = std::mem::take(&mut self.dirty);
        let heap = u64::from(SHARED_HEAP_BASE);
        let keeps = kernel_half_keeps(self.windows.static_end);
        for (a, b, shape) in dirty.drain(..) {
            if a < heap {
                // The lower piece starts where the range does: it keeps the shape.
                self.own
                    .sync_shaped(&self.windows, leaf, a, b.min(heap), shape);
            }
            let Some(high) = self.high.as_mut() else {
                continue;
            };
            for (lo, hi) in kernel_pieces(a.max(heap), b, self.windows.static_end) {
                debug_assert!(keeps(lo));
                // A piece cut from the range keeps a run's shape only if it starts where
                // the range does.
                let piece = match shape {
                    Shape::Run { .. } if lo != a => Shape::Unknown,
                    s => s,
                };
                for side in high.iter_mut() {
                    side.sync_shaped(&self.windows, leaf, lo, hi, piece);
                }
            }
        }
        self.dirty = dirty;
    }

    /// Adds a window to the kernel half (NK.EXE's hook only) and maps that half in it from
    /// the entries.
    pub fn add_window(&mut self, side: Side, leaf: &Leaves<'_>) {
        let w = self.windows.clone();
        let Some(high) = self.high.as_mut() else {
            return;
        };
        high.push(side);
        let side = high.last_mut().expect("just pushed");
        for (lo, hi) in kernel_pieces(u64::from(SHARED_HEAP_BASE), 1 << 32, w.static_end) {
            side.sync_range(&w, leaf, lo, hi);
        }
    }

    /// Maps the lower part of the own window from the entries (a new table's first sync).
    pub fn sync_own(&mut self, leaf: &Leaves<'_>) {
        let w = self.windows.clone();
        self.own
            .sync_range(&w, leaf, 0, u64::from(SHARED_HEAP_BASE));
    }

    /// Drops the kernel half of process `pid`'s window (NK.EXE's hook only).
    pub fn remove_window(&mut self, pid: u32) {
        let w = self.windows.clone();
        if let Some(high) = self.high.as_mut()
            && let Some(i) = high.iter().position(|s| s.pid == pid)
        {
            high.swap_remove(i).retire(&w);
        }
    }

    /// Forgets the own window's lower part (its process ended; the window is reset whole).
    pub fn retire(mut self) {
        let w = self.windows.clone();
        self.own.retire(&w);
        if let Some(high) = self.high.as_mut() {
            for s in high.iter_mut() {
                s.retire(&w);
            }
        }
    }

    /// Unmaps one mapped run of any side of this table except run `keep` of the side
    /// `(pid, va)` names, to make room in the budget (the fault path). False when none.
    pub fn evict(&mut self, keep: Option<(u32, u64)>) -> bool {
        let w = self.windows.clone();
        let heap = u64::from(SHARED_HEAP_BASE);
        let own_keep = keep.filter(|k| k.0 == self.own.pid && k.1 < heap);
        if self.own.evict(&w, own_keep.map(|k| k.1)) {
            return true;
        }
        for s in self.high.iter_mut().flatten() {
            let k = keep.filter(|k| k.0 == s.pid && k.1 >= heap).map(|k| k.1);
            if s.evict(&w, k) {
                return true;
            }
        }
        false
    }

    /// Whether this table's entries for `[va, va + pages pages)` are known (from the
    /// runs, without reading the entries) to map consecutive frames: one run covers them
    /// and no change waits to be applied.
    pub fn one_run(&self, va: u32, pages: u32) -> bool {
        let (va, len) = (u64::from(va & !0xFFF), u64::from(pages) * PAGE);
        let side = if va < u64::from(SHARED_HEAP_BASE) {
            Some(&self.own)
        } else {
            self.high.as_ref().and_then(|h| h.first())
        };
        !self.pending()
            && side
                .and_then(|s| s.run_at(va))
                .is_some_and(|(s, r)| va + len <= s + r.len())
    }

    /// The side of the window of `pid` that shows guest address `va`, if this table
    /// shows it.
    pub fn side_for(&mut self, pid: u32, va: u64) -> Option<&mut Side> {
        if va < u64::from(SHARED_HEAP_BASE) {
            return (self.own.pid == pid).then_some(&mut self.own);
        }
        self.high.as_mut()?.iter_mut().find(|s| s.pid == pid)
    }

    /// Checks every side's record against the entries.
    pub fn check(&self, table: &PageTable) -> Result<(), String> {
        if self.pending() {
            return Err(format!(
                "window of {}: changes left unapplied",
                self.own.pid
            ));
        }
        let heap = u64::from(SHARED_HEAP_BASE);
        self.own.check(&self.windows, table, &|va| va < heap)?;
        let keeps = kernel_half_keeps(self.windows.static_end);
        for s in self.high.iter().flatten() {
            s.check(&self.windows, table, &keeps)?;
        }
        Ok(())
    }

    /// Runs mapped and pages left, over every side.
    pub fn count(&self) -> (usize, u64) {
        let mut n = (0, 0);
        for s in std::iter::once(&self.own).chain(self.high.iter().flatten()) {
            for r in s.runs.values() {
                if r.mapped {
                    n.0 += 1;
                } else {
                    n.1 += u64::from(r.pages);
                }
            }
        }
        n
    }
}

/// A pending change `(lo, hi, shape)` and the next one as one change, when they overlap
/// or touch and joining them loses nothing a writer said (`None`: keep both).
fn join(last: (u64, u64, Shape), next: (u64, u64, Shape)) -> Option<(u64, u64, Shape)> {
    let (a, b, shape) = next;
    // The next writer rewrote all of the last range (a reservation, then its commit): what
    // it says holds for the whole.
    if a <= last.0 && b >= last.1 {
        return Some(next);
    }
    let overlaps = a < last.1 && b > last.0;
    let touches = a == last.1 || b == last.0;
    let alike = matches!(
        (last.2, shape),
        (Shape::Unknown, Shape::Unknown) | (Shape::Closed, Shape::Closed)
    );
    (overlaps || (touches && alike)).then(|| (last.0.min(a), last.1.max(b), last.2.join(shape)))
}

/// The parts of `[a, b)` (inside the kernel half) shown from NK.EXE's tables.
fn kernel_pieces(a: u64, b: u64, static_end: u64) -> impl Iterator<Item = (u64, u64)> {
    let top = u64::from(CPU_RESERVED_BASE);
    let k = u64::from(KERNEL_BASE);
    [(a, b.min(k)), (a.max(static_end), b.min(top))]
        .into_iter()
        .filter(|(lo, hi)| lo < hi)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::flags::{Access, ValidProtection};
    use crate::phys::Pfn;

    fn run(pfn: u64) -> Shape {
        let prot = ValidProtection {
            access: Access::ReadWrite,
            guard: false,
            nocache: false,
        };
        Shape::Run {
            pfn,
            entry: Pte::committed(Pfn(pfn), prot, true),
        }
    }

    #[test]
    fn touching_changes_join_only_when_nothing_said_is_lost() {
        use Shape::{Closed, Unknown};
        // Per-page changes of unknown shape gather into one range.
        assert_eq!(
            join((0, 0x1000, Unknown), (0x1000, 0x2000, Unknown)),
            Some((0, 0x2000, Unknown))
        );
        // Two closed ranges stay one closed range.
        assert_eq!(
            join((0x1000, 0x2000, Closed), (0, 0x1000, Closed)),
            Some((0, 0x2000, Closed))
        );
        // A reserved lead and the alias run after it stay apart: the run keeps its shape.
        assert_eq!(join((0, 0x1000, Closed), (0x1000, 0x9000, run(7))), None);
        assert_eq!(
            join((0x1000, 0x9000, run(7)), (0x9000, 0xA000, Closed)),
            None
        );
        // Two runs that merely touch stay apart too.
        assert_eq!(join((0, 0x1000, run(1)), (0x1000, 0x2000, run(2))), None);
        // Apart and not touching: kept apart.
        assert_eq!(join((0, 0x1000, Unknown), (0x3000, 0x4000, Unknown)), None);
    }

    #[test]
    fn a_change_over_all_of_the_last_one_says_what_the_whole_holds() {
        use Shape::{Closed, Unknown};
        // A reservation placed, then committed whole in the same call.
        assert_eq!(
            join((0x1000, 0x9000, Closed), (0x1000, 0x9000, run(7))),
            Some((0x1000, 0x9000, run(7)))
        );
        assert_eq!(
            join((0x2000, 0x3000, run(7)), (0x1000, 0x9000, Closed)),
            Some((0x1000, 0x9000, Closed))
        );
        assert_eq!(
            join((0x2000, 0x3000, Closed), (0, 0x9000, Unknown)),
            Some((0, 0x9000, Unknown))
        );
    }

    #[test]
    fn a_change_over_a_known_range_makes_its_shape_unknown() {
        use Shape::{Closed, Unknown};
        assert_eq!(
            join((0, 0x8000, run(3)), (0x2000, 0x3000, Unknown)),
            Some((0, 0x8000, Unknown))
        );
        assert_eq!(
            join((0, 0x8000, Closed), (0x2000, 0x3000, run(3))),
            Some((0, 0x8000, Unknown))
        );
        assert_eq!(
            join((0, 0x8000, Closed), (0x7000, 0x9000, Closed)),
            Some((0, 0x9000, Closed))
        );
    }
}
