//! The model's state: plain maps and vectors, no page table.
//!
//! - RAM frames: a reference count per frame and a free pool that hands out the lowest
//!   free frame first (semantics.md §2 [cevm]: a frame reached by physical address is
//!   referenced like any other and so leaves the pool).
//! - Frame contents: per byte `Option<u8>`, where `None` means "the spec does not say":
//!   a free frame's bytes, and the bytes of a frame that was taken out of the pool by a
//!   physical-address mapping (the spec zero-fills only frames that are *handed out*).
//!   The harness fills unknown bytes of in-use frames from the kernel after each step
//!   ("learning"), so from then on they are checked like any other.
//! - Per process: reservation records (base, requested size, kind), committed pages
//!   (frame, base protection, guard, no-cache, write-through), lock records and the
//!   placement cursor. A page is reserved when it lies in a record's pages and is not
//!   committed; free otherwise. Pages at or above the shared heap live in NK.EXE's space.

use std::collections::{BTreeMap, BTreeSet};

use crate::spec::{self, BLOCK, PAGE};

/// How a reservation was made: what its uncommitted pages are (§4).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Plain reserved pages: touching faults.
    Plain,
    /// MEM_IMAGE: VirtualQuery reports MEM_IMAGE.
    Image,
    /// MEM_AUTO_COMMIT: the first touch commits a zeroed read/write page.
    Auto,
}

/// A reservation: block-aligned base and the size the caller asked for. Reservations made
/// by the calls §4 lists are VA records; the two blocks process creation reserves (§2)
/// are reservations but not VA records (§4 does not list process creation), so the calls
/// that need "one VA record" (release, decommit, protect, user commit, VirtualCopy's
/// destination) do not accept them, while those that need "one reservation" (a
/// kernel-mode commit, VirtualSetAttributes) do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Record {
    /// The base (64 KiB aligned).
    pub base: u32,
    /// The requested size in bytes, not rounded.
    pub size: u32,
    /// What its reserved pages are.
    pub kind: Kind,
    /// Made by a call (a VA record), not by process creation.
    pub va: bool,
}

impl Record {
    /// End of the requested bytes.
    pub fn byte_end(&self) -> u64 {
        u64::from(self.base) + u64::from(self.size)
    }

    /// End of its pages.
    pub fn page_end(&self) -> u64 {
        spec::page_ceil(self.byte_end())
    }

    /// End of the blocks it occupies.
    pub fn block_end(&self) -> u64 {
        spec::block_ceil(self.byte_end())
    }
}

/// A committed page.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Page {
    /// The physical frame number it maps (physical address >> 12).
    pub pfn: u64,
    /// The base protection (one of the six `PAGE_*` base values).
    pub access: u32,
    /// An unconsumed guard page.
    pub guard: bool,
    /// Uncached (PAGE_NOCACHE, the cache-disable attribute).
    pub nocache: bool,
    /// Write-through attribute (VirtualSetAttributes).
    pub write_through: bool,
}

/// What a page is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum State {
    /// In no reservation.
    Free,
    /// Reserved, not committed.
    Reserved(Kind),
    /// Committed.
    Committed(Page),
}

/// A lock record (§4): one per successful LockPages — page-aligned start, page count, and
/// the process it was made for. Its pages live in that process's tables below the shared
/// heap and in the kernel's from there up (§3), so one record may cover pages of both.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Lock {
    /// First page.
    pub start: u32,
    /// Page count.
    pub pages: u64,
    /// The process LockPages named.
    pub owner: u32,
}

/// One set of tables: a process's (below the shared heap) or the kernel's.
#[derive(Debug, Clone, Default)]
pub struct Space {
    /// Reservation records by base.
    pub records: BTreeMap<u32, Record>,
    /// Committed pages by address.
    pub pages: BTreeMap<u32, Page>,
    /// The placement cursor (§3).
    pub cursor: u32,
}

impl Space {
    /// The state of page `va`.
    pub fn state(&self, va: u32) -> State {
        if let Some(p) = self.pages.get(&va) {
            return State::Committed(*p);
        }
        match self.record_at(u64::from(va)) {
            Some(r) => State::Reserved(r.kind),
            None => State::Free,
        }
    }

    /// The record whose pages hold `va`.
    pub fn record_at(&self, va: u64) -> Option<Record> {
        self.records
            .values()
            .find(|r| u64::from(r.base) <= va && va < r.page_end())
            .copied()
    }

    /// The VA record whose requested bytes hold all of `[a, a + n)`.
    pub fn record_holding_bytes(&self, a: u32, n: u32) -> Option<Record> {
        let end = u64::from(a) + u64::from(n);
        self.records
            .values()
            .find(|r| r.va && r.base <= a && end <= r.byte_end())
            .copied()
    }

    /// The VA record based at `base`.
    pub fn record_based_at(&self, base: u32) -> Option<Record> {
        self.records.get(&base).filter(|r| r.va).copied()
    }

    /// The reservation whose pages hold all pages `[first, first + count pages)`.
    pub fn record_holding_pages(&self, first: u64, count: u64) -> Option<Record> {
        let end = first + count * u64::from(PAGE);
        self.records
            .values()
            .find(|r| u64::from(r.base) <= first && end <= r.page_end())
            .copied()
    }

    /// The end of the last record whose blocks meet `[start, end)`, if any: the first
    /// place a run that avoids all of them can start.
    fn conflict_end(&self, start: u64, end: u64) -> Option<u64> {
        self.records
            .values()
            .filter(|r| u64::from(r.base) < end && r.block_end() > start)
            .map(|r| r.block_end())
            .max()
    }

    /// Whether every block of `[a, a + len)` is free (§3: a block is in use when any of
    /// its pages is not free, i.e. when a record's blocks meet it).
    pub fn blocks_free(&self, a: u64, len: u64) -> bool {
        self.conflict_end(spec::block_floor(a), spec::block_ceil(a + len))
            .is_none()
    }

    /// The first run of wholly free blocks holding `len` bytes that lies in `[from, to)`.
    pub fn first_fit(&self, from: u64, to: u64, len: u64) -> Option<u32> {
        let need = spec::block_ceil(len.max(1));
        let mut at = spec::block_ceil(from);
        loop {
            if at + need > to {
                return None;
            }
            match self.conflict_end(at, at + need) {
                Some(e) => at = e,
                None => return u32::try_from(at).ok(),
            }
        }
    }
}

/// A process.
#[derive(Debug, Clone)]
pub struct Proc {
    /// Its id.
    pub pid: u32,
    /// NK.EXE.
    pub kernel: bool,
    /// Not terminated.
    pub alive: bool,
    /// Its tables (for NK.EXE: also the shared heap and the kernel half).
    pub space: Space,
}

/// An entry of the handle table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HandleEntry {
    /// The process it names.
    pub pid: u32,
    /// Its access mask.
    pub access: u32,
    /// A process id used as a handle (cannot be closed).
    pub is_pid: bool,
}

/// User or kernel mode.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Mode {
    /// Applications.
    User,
    /// Drivers and the kernel.
    Kernel,
}

/// The calling thread's context (§2 "Contexts"), with its defaults resolved.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ctx {
    /// The active process P: whose code runs (GetCurrentProcessId, 0x42, non-Ex calls).
    pub active: u32,
    /// The VM process V: whose tables hold addresses below the shared heap (§6), and
    /// which LockPages/UnlockPages use (§5.7).
    pub vm: u32,
    /// The mode.
    pub mode: Mode,
    /// The direct caller C, when the host named one.
    pub caller: Option<u32>,
    /// The owner O: the host's, else C when named, else P.
    pub owner: u32,
}

impl Ctx {
    /// §2's defaults: V = P, O = C when a caller is named, else P.
    pub fn new(
        active: u32,
        mode: Mode,
        vm: Option<u32>,
        caller: Option<u32>,
        owner: Option<u32>,
    ) -> Self {
        Ctx {
            active,
            vm: vm.unwrap_or(active),
            mode,
            caller,
            owner: owner.or(caller).unwrap_or(active),
        }
    }
}

/// A live duplicate (§7 "Duplicates"): a committed read/write region of `size + 16`
/// bytes at `base` in the process that made it, handed out at `base + 16`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Dup {
    /// The region's base (a VA record of the process that holds it).
    pub base: u32,
    /// The source pointer.
    pub src: u32,
    /// The size copied in (the effective size).
    pub size: u32,
    /// The source process: GetCallerVMProcessId when it was made.
    pub source: u32,
}

/// A registered device range.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Device {
    /// First frame number.
    pub first: u64,
    /// Frame count.
    pub pages: u64,
}

/// How the world is built: RAM and devices.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WorldConfig {
    /// RAM bytes (a multiple of 64 KiB).
    pub ram_bytes: u64,
    /// Physical address of RAM (page aligned).
    pub ram_base: u64,
    /// Device ranges: (physical address, bytes), page aligned, page multiples.
    pub devices: Vec<(u64, u64)>,
    /// User processes created at boot.
    pub processes: u8,
}

impl Default for WorldConfig {
    fn default() -> Self {
        Self {
            ram_bytes: 2 << 20,
            ram_base: 0,
            devices: vec![(0x1000_0000, 0x4000)],
            processes: 2,
        }
    }
}

/// The whole reference model.
#[derive(Debug, Clone)]
pub struct Model {
    /// First RAM frame number.
    pub ram_first: u64,
    /// RAM frame count.
    pub ram_frames: u64,
    /// End of the kernel static mapping.
    pub static_end: u32,
    /// Start of kernel virtual memory.
    pub kvm_start: u32,
    /// Registered devices.
    pub devices: Vec<Device>,
    /// Reference count per RAM frame.
    pub refs: Vec<u32>,
    /// Known bytes of in-use frames (absent: nothing known).
    pub data: BTreeMap<u64, Vec<Option<u8>>>,
    /// In-use frames that may hold unknown bytes, to be learned from the kernel.
    pub unknown: BTreeSet<u64>,
    /// Every process ever created, live or not.
    pub procs: BTreeMap<u32, Proc>,
    /// Process ids in creation order (NK.EXE first).
    pub created: Vec<u32>,
    /// The handle table.
    pub handles: BTreeMap<u32, HandleEntry>,
    /// The next handle value.
    pub next_handle: u32,
    /// NK.EXE's id.
    pub nk: u32,
    /// The shared-heap placement cursor.
    pub shared_cursor: u32,
    /// The calling thread's context.
    pub ctx: Ctx,
    /// The other thread's context and last error (GetLastError is per thread, §2);
    /// `SwitchThread` exchanges them with the calling thread's.
    pub other: (Ctx, u32),
    /// Lock records, oldest first.
    pub locks: Vec<Lock>,
    /// The calling thread's last error.
    pub last_error: u32,
    /// Live duplicates by (process holding it, pointer handed out).
    pub dups: BTreeMap<(u32, u32), Dup>,
    /// Host windows are on: a multi-frame allocation takes the lowest run of consecutive
    /// free frames among the first [`RUNS_LOOKED_AT`] free runs, when one is long enough.
    pub prefer_runs: bool,
}

/// Free runs a multi-frame allocation looks at (with host windows) before it settles for
/// the lowest free frames.
pub const RUNS_LOOKED_AT: usize = 256;

impl Model {
    /// A booted model: RAM, devices and NK.EXE (no user process yet).
    pub fn boot(cfg: &WorldConfig) -> Self {
        let ram_frames = cfg.ram_bytes / u64::from(PAGE);
        let static_end = (u64::from(spec::KERNEL_BASE) + cfg.ram_bytes) as u32;
        let four_mib = 0x40_0000u64;
        let kvm_start = (u64::from(static_end).div_ceil(four_mib) * four_mib) as u32;
        let devices: Vec<Device> = cfg
            .devices
            .iter()
            .map(|&(pa, bytes)| Device {
                first: pa >> 12,
                pages: bytes.div_ceil(u64::from(PAGE)),
            })
            .collect();
        let mut unknown = BTreeSet::new();
        for d in &devices {
            for f in d.first..d.first + d.pages {
                unknown.insert(f);
            }
        }
        let nk = spec::FIRST_HANDLE;
        let mut procs = BTreeMap::new();
        procs.insert(
            nk,
            Proc {
                pid: nk,
                kernel: true,
                alive: true,
                space: Space {
                    cursor: kvm_start,
                    ..Space::default()
                },
            },
        );
        let mut handles = BTreeMap::new();
        handles.insert(
            nk,
            HandleEntry {
                pid: nk,
                access: spec::access::ALL_ACCESS,
                is_pid: true,
            },
        );
        Model {
            ram_first: cfg.ram_base >> 12,
            ram_frames,
            static_end,
            kvm_start,
            devices,
            refs: vec![0; ram_frames as usize],
            data: BTreeMap::new(),
            unknown,
            procs,
            created: vec![nk],
            handles,
            next_handle: nk + 4,
            nk,
            shared_cursor: spec::SHARED_HEAP,
            ctx: Ctx::new(nk, Mode::Kernel, None, None, None),
            other: (Ctx::new(nk, Mode::Kernel, None, None, None), 0),
            locks: Vec::new(),
            last_error: 0,
            dups: BTreeMap::new(),
            prefer_runs: false,
        }
    }

    // ----- frames -------------------------------------------------------------------

    /// The RAM index of frame `pfn`.
    pub fn ram_index(&self, pfn: u64) -> Option<usize> {
        let i = pfn.checked_sub(self.ram_first)?;
        (i < self.ram_frames).then_some(i as usize)
    }

    /// Whether `pfn` is RAM or a registered device frame.
    pub fn frame_exists(&self, pfn: u64) -> bool {
        self.ram_index(pfn).is_some() || self.is_device(pfn)
    }

    /// Whether `pfn` is a device frame.
    pub fn is_device(&self, pfn: u64) -> bool {
        self.devices
            .iter()
            .any(|d| pfn >= d.first && pfn - d.first < d.pages)
    }

    /// Number of free RAM frames.
    pub fn free_frames(&self) -> u64 {
        self.refs.iter().filter(|&&r| r == 0).count() as u64
    }

    /// Hands out `count` zeroed frames, lowest free first; all or nothing.
    pub fn alloc_frames(&mut self, count: u64) -> Option<Vec<u64>> {
        let free: Vec<usize> = (0..self.refs.len())
            .filter(|&i| self.refs[i] == 0)
            .collect();
        if (free.len() as u64) < count {
            return None;
        }
        let chosen: Vec<usize> = match self.run_of(&free, count as usize) {
            Some(first) => (first..first + count as usize).collect(),
            None => free.iter().take(count as usize).copied().collect(),
        };
        let mut out = Vec::new();
        for &i in &chosen {
            let pfn = self.ram_first + i as u64;
            self.refs[i] = 1;
            self.data.insert(pfn, vec![Some(0); PAGE as usize]);
            self.unknown.remove(&pfn);
            out.push(pfn);
        }
        Some(out)
    }

    /// With `prefer_runs` and more than one frame: the first frame of the lowest maximal
    /// run of free frames (`free`, ascending) at least `count` long, among the first
    /// [`RUNS_LOOKED_AT`] such runs.
    fn run_of(&self, free: &[usize], count: usize) -> Option<usize> {
        if !self.prefer_runs || count < 2 {
            return None;
        }
        let mut runs = 0;
        let mut k = 0;
        while k < free.len() && runs < RUNS_LOOKED_AT {
            let start = free[k];
            let mut len = 1;
            while k + len < free.len() && free[k + len] == start + len {
                len += 1;
            }
            if len >= count {
                return Some(start);
            }
            runs += 1;
            k += len;
        }
        None
    }

    /// The lowest run of `count` free frames whose physical address has no bit of `mask`
    /// set, zeroed and referenced once.
    pub fn alloc_contiguous(&mut self, count: u64, mask: u64) -> Option<u64> {
        let n = self.refs.len() as u64;
        let mut i = 0u64;
        while i + count <= n {
            let pa = (self.ram_first + i) << 12;
            let all_free = (i..i + count).all(|j| self.refs[j as usize] == 0);
            if pa & mask == 0 && all_free {
                for j in i..i + count {
                    let pfn = self.ram_first + j;
                    self.refs[j as usize] = 1;
                    self.data.insert(pfn, vec![Some(0); PAGE as usize]);
                    self.unknown.remove(&pfn);
                }
                return Some(self.ram_first + i);
            }
            i += 1;
        }
        None
    }

    /// One more entry maps `pfn`. A free RAM frame leaves the pool as it is (its bytes
    /// unknown); device frames are not counted.
    pub fn add_ref(&mut self, pfn: u64) {
        if let Some(i) = self.ram_index(pfn) {
            if self.refs[i] == 0 {
                self.unknown.insert(pfn);
            }
            self.refs[i] += 1;
        }
    }

    /// One entry mapping `pfn` went away; the last one returns the frame to the pool.
    pub fn drop_ref(&mut self, pfn: u64) {
        if let Some(i) = self.ram_index(pfn) {
            self.refs[i] = self.refs[i].saturating_sub(1);
            if self.refs[i] == 0 {
                self.data.remove(&pfn);
                self.unknown.remove(&pfn);
            }
        }
    }

    /// Whether the frame's bytes are stable (in use, or a device frame).
    fn in_use(&self, pfn: u64) -> bool {
        match self.ram_index(pfn) {
            Some(i) => self.refs[i] > 0,
            None => self.is_device(pfn),
        }
    }

    /// A byte of a frame, `None` when the spec does not determine it.
    pub fn byte(&self, pfn: u64, off: usize) -> Option<u8> {
        if !self.in_use(pfn) {
            return None;
        }
        self.data.get(&pfn).and_then(|v| v[off])
    }

    /// Writes a byte of a frame (a free frame's bytes stay unknown).
    pub fn set_byte(&mut self, pfn: u64, off: usize, v: u8) {
        if !self.in_use(pfn) {
            return;
        }
        self.data
            .entry(pfn)
            .or_insert_with(|| vec![None; PAGE as usize])[off] = Some(v);
    }

    /// Fills the unknown bytes of an in-use frame with what the kernel holds.
    pub fn learn(&mut self, pfn: u64, bytes: &[u8]) {
        if !self.in_use(pfn) {
            return;
        }
        let d = self
            .data
            .entry(pfn)
            .or_insert_with(|| vec![None; PAGE as usize]);
        for (slot, &b) in d.iter_mut().zip(bytes) {
            if slot.is_none() {
                *slot = Some(b);
            }
        }
    }

    // ----- processes and tables -------------------------------------------------------

    /// Creates a process (§2): first block reserved with the kernel-data page committed
    /// read-only, the DLL barrier block reserved. Fails with 8 without a free frame.
    pub fn create_process(&mut self) -> Result<u32, u32> {
        let frames = self.alloc_frames(1).ok_or(spec::err::NOT_ENOUGH_MEMORY)?;
        let pid = self.next_handle;
        self.next_handle += 4;
        let mut space = Space {
            cursor: spec::USER_BASE,
            ..Space::default()
        };
        for base in [0, spec::DLL_BASE] {
            space.records.insert(
                base,
                Record {
                    base,
                    size: BLOCK,
                    kind: Kind::Plain,
                    va: false,
                },
            );
        }
        space.pages.insert(
            spec::KDATA_PAGE,
            Page {
                pfn: frames[0],
                access: spec::page::READONLY,
                guard: false,
                nocache: false,
                write_through: false,
            },
        );
        self.procs.insert(
            pid,
            Proc {
                pid,
                kernel: false,
                alive: true,
                space,
            },
        );
        self.created.push(pid);
        self.handles.insert(
            pid,
            HandleEntry {
                pid,
                access: spec::access::ALL_ACCESS,
                is_pid: true,
            },
        );
        Ok(pid)
    }

    /// The process whose tables hold `va` when process `pid` is named (§3).
    pub fn owner(&self, pid: u32, va: u64) -> u32 {
        if va >= u64::from(spec::SHARED_HEAP) {
            self.nk
        } else {
            pid
        }
    }

    /// The space of process `pid` (an empty one for an unknown id).
    pub fn space(&self, pid: u32) -> &Space {
        static EMPTY: std::sync::OnceLock<Space> = std::sync::OnceLock::new();
        match self.procs.get(&pid) {
            Some(p) => &p.space,
            None => EMPTY.get_or_init(Space::default),
        }
    }

    /// The space of process `pid`, mutable.
    pub fn space_mut(&mut self, pid: u32) -> Option<&mut Space> {
        self.procs.get_mut(&pid).map(|p| &mut p.space)
    }

    /// The state of page `va` as process `pid` sees it (its tables or the kernel's).
    pub fn state(&self, pid: u32, va: u64) -> State {
        if va > u64::from(u32::MAX) {
            return State::Free;
        }
        self.space(self.owner(pid, va)).state(va as u32)
    }

    /// Whether `va` lies in the kernel static mapping.
    pub fn is_static(&self, va: u64) -> bool {
        va >= u64::from(spec::KERNEL_BASE) && va < u64::from(self.static_end)
    }

    /// The frame the static mapping maps at `va` (which must be static).
    pub fn static_pfn(&self, va: u64) -> u64 {
        self.ram_first + (va - u64::from(spec::KERNEL_BASE)) / u64::from(PAGE)
    }

    /// Whether `pid` is NK.EXE.
    pub fn is_kernel(&self, pid: u32) -> bool {
        pid == self.nk
    }

    /// Whether process `pid` exists and is alive.
    pub fn alive(&self, pid: u32) -> bool {
        self.procs.get(&pid).is_some_and(|p| p.alive)
    }

    /// Whether a lock record covers a page of `[first, first + count pages)` in the tables
    /// of process `space` (its own below the shared heap, the kernel's from there up).
    pub fn locked(&self, space: u32, first: u64, count: u64) -> bool {
        let end = first + count * u64::from(PAGE);
        let heap = u64::from(spec::SHARED_HEAP);
        self.locks.iter().any(|l| {
            let lo = first.max(u64::from(l.start));
            let hi = end.min(u64::from(l.start) + l.pages * u64::from(PAGE));
            (lo < hi.min(heap) && self.owner(l.owner, lo) == space)
                || (lo.max(heap) < hi && self.nk == space)
        })
    }

    /// Removes record `base` from the space of `owner`, dropping its frames' references and
    /// moving the right cursor down (§3).
    pub fn unreserve(&mut self, owner: u32, base: u32) {
        let nk = self.nk;
        let kvm_start = self.kvm_start;
        let Some(space) = self.space_mut(owner) else {
            return;
        };
        let Some(r) = space.records.remove(&base) else {
            return;
        };
        // A duplicate lives as long as its region (§7 "Duplicates").
        self.dups
            .retain(|&(p, _), d| !(p == owner && d.base == base));
        let Some(space) = self.space_mut(owner) else {
            return;
        };
        let committed: Vec<u32> = space
            .pages
            .range(r.base..)
            .take_while(|(va, _)| u64::from(**va) < r.page_end())
            .map(|(&va, _)| va)
            .collect();
        let mut frames = Vec::new();
        for va in committed {
            if let Some(p) = space.pages.remove(&va) {
                frames.push(p.pfn);
            }
        }
        let in_shared = (spec::SHARED_HEAP..spec::SHARED_HEAP_END).contains(&base);
        if owner == nk {
            if !in_shared && base >= kvm_start && base < space.cursor {
                space.cursor = base;
            }
        } else if base >= spec::USER_BASE && base < space.cursor {
            space.cursor = base;
        }
        if owner == nk && in_shared && base < self.shared_cursor {
            self.shared_cursor = base;
        }
        for f in frames {
            self.drop_ref(f);
        }
    }

    /// Maps page `va` of `owner`'s tables to `page` (the caller has taken the frame's
    /// reference).
    pub fn set_page(&mut self, owner: u32, va: u32, page: Page) {
        if let Some(s) = self.space_mut(owner) {
            s.pages.insert(va, page);
        }
    }
}
