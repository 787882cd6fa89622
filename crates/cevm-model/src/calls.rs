//! The calls of semantics.md §5 on the model, each reading top to bottom in the order of
//! the spec's checks. Every call returns `Ok(result)` or `Err(win32 code)`; [`Model::call`]
//! turns that into an [`Outcome`] and keeps the last error (set only on failure, §2).
//!
//! Where the spec is silent, deviations.md "Choices where the spec is silent" decides;
//! the few places neither says anything are marked "silent:" with the reading taken.

use std::collections::BTreeSet;

use crate::model::{HandleEntry, Kind, Lock, Mode, Model, Page, Record, State};
use crate::outcome::{Mbi, Outcome, Ret};
use crate::spec::{self, BLOCK, PAGE, access, err, mem, page};
use crate::touch::AccessKind;

/// A failed call: the Win32 code and the check of semantics.md that produced it, tagged
/// by the same convention as the library's errors (crates/cevm/DESIGN.md, "Errors").
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Fail {
    /// The code GetLastError reports.
    pub code: u32,
    /// The check (`"5.3.2"`).
    pub step: &'static str,
}

/// A failure with `code` from check `step`.
pub(crate) fn fail(code: u32, step: &'static str) -> Fail {
    Fail { code, step }
}

/// A call's result before the last error is applied.
pub type CallResult = Result<Ret, Fail>;

impl Model {
    /// Runs a call: a failure sets the last error, a success leaves it.
    pub fn call(&mut self, f: impl FnOnce(&mut Model) -> CallResult) -> Outcome {
        let ret = match f(self) {
            Ok(r) => r,
            Err(f) => {
                self.last_error = f.code;
                Ret::Fail(Some(f.step))
            }
        };
        Outcome {
            ret,
            last_error: self.last_error,
        }
    }

    fn user(&self) -> bool {
        self.ctx.mode == Mode::User
    }

    // ----- handles (§2) -----------------------------------------------------------------

    /// Resolves a handle to (process, access): unknown, closed or dead → 6. The pseudo
    /// handle is the active process with full access.
    fn resolve(&self, h: u32) -> Result<(u32, u32), Fail> {
        if h == spec::PSEUDO_PROCESS {
            if !self.alive(self.ctx.active) {
                return Err(fail(err::INVALID_HANDLE, "2"));
            }
            return Ok((self.ctx.active, access::ALL_ACCESS));
        }
        let e = self.handles.get(&h).ok_or(fail(err::INVALID_HANDLE, "2"))?;
        if !self.alive(e.pid) {
            return Err(fail(err::INVALID_HANDLE, "2"));
        }
        Ok((e.pid, e.access))
    }

    /// The §2 order: resolve (6), kernel-only rule in user mode, access mask (5).
    fn checked(&self, h: u32, need: u32, kernel_only: Option<u32>) -> Result<u32, Fail> {
        let (pid, acc) = self.resolve(h)?;
        if let Some(code) = kernel_only
            && self.user()
        {
            return Err(fail(code, "2"));
        }
        if acc & need != need {
            return Err(fail(err::ACCESS_DENIED, "2"));
        }
        Ok(pid)
    }

    /// The process a non-Ex call acts on: the active one (terminated → 6).
    fn active_or(&self, h: Option<u32>, need: u32, kernel_only: Option<u32>) -> Result<u32, Fail> {
        self.checked(h.unwrap_or(spec::PSEUDO_PROCESS), need, kernel_only)
    }

    // ----- placement (§3) ---------------------------------------------------------------

    /// Where a NULL-address reservation of `len` bytes goes in process `pid`.
    pub(crate) fn find_place(&self, pid: u32, len: u64) -> Option<u32> {
        let s = self.space(pid);
        if self.is_kernel(pid) {
            s.first_fit(u64::from(s.cursor), u64::from(spec::CPU_AREA), len)
        } else {
            let end = u64::from(spec::MAX_USER_ALLOC);
            s.first_fit(u64::from(s.cursor), end, len)
                .or_else(|| s.first_fit(u64::from(spec::USER_BASE), u64::from(s.cursor), len))
        }
    }

    /// Takes a place [`find_place`](Self::find_place) found: the cursor moves past it when
    /// it starts at the cursor.
    pub(crate) fn take_place(&mut self, pid: u32, found: u32, len: u64) {
        let end = if self.is_kernel(pid) {
            u64::from(spec::CPU_AREA)
        } else {
            u64::from(spec::MAX_USER_ALLOC)
        };
        if let Some(s) = self.space_mut(pid)
            && found == s.cursor
        {
            s.cursor = spec::block_ceil(u64::from(found) + len).min(end) as u32;
        }
    }

    /// Shared-heap placement (silent: first fit from the shared-heap cursor, then from
    /// the heap's start, the cursor moving as in §3).
    fn find_shared(&self, len: u64) -> Option<u32> {
        let s = self.space(self.nk);
        let c = u64::from(self.shared_cursor);
        s.first_fit(c, u64::from(spec::SHARED_HEAP_END), len)
            .or_else(|| s.first_fit(u64::from(spec::SHARED_HEAP), c, len))
    }

    /// Whether an explicit reservation `[a, a + len)` stays inside one area where
    /// reservations may be made (deviations.md: below the shared heap, the shared heap,
    /// or kernel VM).
    fn reservable(&self, a: u32, len: u64) -> bool {
        let (s, e) = (u64::from(a), u64::from(a) + len);
        let inside = |lo: u32, hi: u64| s >= u64::from(lo) && e <= hi;
        inside(0, u64::from(spec::SHARED_HEAP))
            || inside(spec::SHARED_HEAP, u64::from(spec::SHARED_HEAP_END))
            || inside(self.kvm_start, u64::from(spec::CPU_AREA))
    }

    pub(crate) fn add_record(&mut self, owner: u32, base: u32, size: u32, kind: Kind) {
        if let Some(s) = self.space_mut(owner) {
            s.records.insert(
                base,
                Record {
                    base,
                    size,
                    kind,
                    va: true,
                },
            );
        }
    }

    // ----- §5.1 VirtualAlloc --------------------------------------------------------------

    /// VirtualAlloc (`h = None`) / VirtualAllocEx.
    pub fn virtual_alloc(
        &mut self,
        h: Option<u32>,
        a: u32,
        n: u32,
        t: u32,
        prot: u32,
    ) -> CallResult {
        let pid = self.active_or(h, access::VM_OPERATION, None)?;
        let user = self.user();
        let pure_commit = a != 0 && t & mem::RESERVE == 0;
        // 1.
        if user && a != 0 && (!spec::user_write_ok(a, n) || a >= spec::MAX_USER_ALLOC) {
            return Err(fail(err::INVALID_PARAMETER, "5.1.1"));
        }
        let owner = self.owner(pid, u64::from(a));
        // 2.
        if user && pure_commit && self.space(owner).record_holding_bytes(a, n).is_none() {
            return Err(fail(err::INVALID_PARAMETER, "5.1.2"));
        }
        // 3.
        if !spec::alloc_type_valid(t) || (n as i32) <= 0 || !spec::protection_valid(prot) {
            return Err(fail(err::INVALID_PARAMETER, "5.1.3"));
        }
        let new = page_of(prot, 0);
        if pure_commit {
            return self.commit(owner, a, n, new);
        }
        // 4, 5.
        let kind = if t & mem::AUTO_COMMIT != 0 {
            Kind::Auto
        } else if t & mem::IMAGE != 0 {
            Kind::Image
        } else {
            Kind::Plain
        };
        let len = u64::from(n);
        let (base, owner) = if a == 0 {
            (
                self.find_place(pid, len)
                    .ok_or(fail(err::NOT_ENOUGH_MEMORY, "5.1.5"))?,
                pid,
            )
        } else {
            if a % BLOCK != 0
                || !self.reservable(a, len)
                || !self.space(owner).blocks_free(u64::from(a), len)
            {
                return Err(fail(err::INVALID_PARAMETER, "5.1.5"));
            }
            (a, owner)
        };
        // 6.
        let (first, count) = spec::page_span(base, n);
        let frames = if t & mem::COMMIT != 0 {
            self.alloc_frames(count)
                .ok_or(fail(err::NOT_ENOUGH_MEMORY, "5.1.6"))?
        } else {
            Vec::new()
        };
        // 7.
        if a == 0 {
            self.take_place(pid, base, len);
        }
        self.add_record(owner, base, n, kind);
        for (i, pfn) in frames.into_iter().enumerate() {
            let va = (first + i as u64 * u64::from(PAGE)) as u32;
            self.set_page(owner, va, Page { pfn, ..new });
        }
        // 8.
        Ok(Ret::Value(base))
    }

    /// §5.1 step 6 for a pure commit: one reserved-or-committed run inside one record;
    /// new pages get zeroed frames, committed ones keep frame and data.
    fn commit(&mut self, owner: u32, a: u32, n: u32, new: Page) -> CallResult {
        let (first, count) = spec::page_span(a, n);
        if self
            .space(owner)
            .record_holding_pages(first, count)
            .is_none()
        {
            return Err(fail(err::INVALID_PARAMETER, "5.1.6"));
        }
        let pages: Vec<u32> = (0..count)
            .map(|i| (first + i * u64::from(PAGE)) as u32)
            .collect();
        let missing = pages
            .iter()
            .filter(|&&va| !matches!(self.space(owner).state(va), State::Committed(_)))
            .count();
        let mut frames = self
            .alloc_frames(missing as u64)
            .ok_or(fail(err::NOT_ENOUGH_MEMORY, "5.1.6"))?
            .into_iter();
        for va in pages {
            match self.space(owner).state(va) {
                State::Committed(old) => self.set_page(
                    owner,
                    va,
                    Page {
                        pfn: old.pfn,
                        write_through: old.write_through,
                        ..new
                    },
                ),
                _ => {
                    if let Some(pfn) = frames.next() {
                        self.set_page(owner, va, Page { pfn, ..new });
                    }
                }
            }
        }
        Ok(Ret::Value(first as u32))
    }

    // ----- §5.2 VirtualFree ---------------------------------------------------------------

    /// VirtualFree (`h = None`) / VirtualFreeEx.
    pub fn virtual_free(&mut self, h: Option<u32>, a: u32, n: u32, t: u32) -> CallResult {
        let pid = self.active_or(h, access::VM_OPERATION, None)?;
        // 1.
        let release = t == mem::RELEASE && n == 0;
        let decommit = t == mem::DECOMMIT && (n as i32) > 0;
        if !release && !decommit {
            return Err(fail(err::INVALID_PARAMETER, "5.2.1"));
        }
        // 2.
        if self.user() && a >= spec::MAX_USER_ALLOC && !self.is_kernel(pid) {
            return Err(fail(err::INVALID_PARAMETER, "5.2.2"));
        }
        let owner = self.owner(pid, u64::from(a));
        if release {
            // 3.
            let r = self
                .space(owner)
                .record_based_at(a)
                .ok_or(fail(err::INVALID_PARAMETER, "5.2.3"))?;
            let pages = (r.page_end() - u64::from(r.base)) / u64::from(PAGE);
            if self.locked(owner, u64::from(r.base), pages) {
                return Err(fail(err::INVALID_PARAMETER, "5.2.3"));
            }
            self.unreserve(owner, a);
            return Ok(Ret::Done);
        }
        // 4.
        if self.space(owner).record_holding_bytes(a, n).is_none() {
            return Err(fail(err::INVALID_PARAMETER, "5.2.4"));
        }
        let (first, count) = spec::page_span(a, n);
        if self.locked(owner, first, count) {
            return Err(fail(err::INVALID_PARAMETER, "5.2.4"));
        }
        for i in 0..count {
            let va = (first + i * u64::from(PAGE)) as u32;
            let removed = self.space_mut(owner).and_then(|s| s.pages.remove(&va));
            if let Some(p) = removed {
                self.drop_ref(p.pfn);
            }
        }
        Ok(Ret::Done)
    }

    // ----- §5.3 VirtualProtect --------------------------------------------------------------

    /// VirtualProtect (`h = None`) / VirtualProtectEx; `old_null` passes a NULL
    /// lpflOldProtect.
    pub fn virtual_protect(
        &mut self,
        h: Option<u32>,
        a: u32,
        n: u32,
        new: u32,
        old_null: bool,
    ) -> CallResult {
        let pid = self.active_or(h, access::VM_OPERATION, None)?;
        // 1.
        if old_null {
            return Err(fail(err::INVALID_PARAMETER, "5.3.1"));
        }
        // 2. (In user mode, §3's pointer rule for writing too: "applied to user-mode
        // calls"; deviations.md.)
        let owner = self.owner(pid, u64::from(a));
        if self.user() && !spec::user_write_ok(a, n) {
            return Err(fail(err::INVALID_PARAMETER, "3"));
        }
        if (n as i32) <= 0 || self.space(owner).record_holding_bytes(a, n).is_none() {
            return Err(fail(err::INVALID_PARAMETER, "5.3.2"));
        }
        // 3.
        if !spec::protection_valid(new) {
            return Err(fail(err::INVALID_PARAMETER, "5.3.3"));
        }
        // 4.
        let (first, count) = spec::page_span(a, n);
        if self.locked(owner, first, count) {
            return Err(fail(err::SHARING_VIOLATION, "5.3.4"));
        }
        // 5.
        let mut pages = Vec::new();
        for i in 0..count {
            let va = (first + i * u64::from(PAGE)) as u32;
            match self.space(owner).state(va) {
                State::Committed(p) => pages.push((va, p)),
                _ => return Err(fail(err::INVALID_PARAMETER, "5.3.5")),
            }
        }
        // 6.
        let old = read_back(&pages[0].1);
        let np = page_of(new, 0);
        for (va, p) in pages {
            self.set_page(
                owner,
                va,
                Page {
                    pfn: p.pfn,
                    write_through: p.write_through,
                    ..np
                },
            );
        }
        Ok(Ret::Value(old))
    }

    // ----- §5.4 VirtualQuery ------------------------------------------------------------------

    /// VirtualQuery (`h = None`) / VirtualQueryEx.
    pub fn virtual_query(&mut self, h: Option<u32>, a: u32, len: u32) -> CallResult {
        let pid = self.active_or(h, 0, None)?;
        self.query(pid, a, len, self.user()).map(Ret::Query)
    }

    /// The body of VirtualQuery for process `pid`, with the caller's mode.
    pub fn query(&self, pid: u32, a: u32, len: u32, user: bool) -> Result<Mbi, Fail> {
        // 1.
        if len < spec::MBI_SIZE {
            return Err(fail(err::BAD_LENGTH, "5.4.1"));
        }
        // 2.
        let pg = a & !(PAGE - 1);
        if pg < spec::USER_BASE || (user && !spec::user_read_ok(a, 4)) {
            return Err(fail(err::INVALID_PARAMETER, "5.4.2"));
        }
        // 3.
        let mut mbi = Mbi {
            base_address: pg,
            allocation_base: 0,
            allocation_protect: page::NOACCESS,
            region_size: 0,
            state: mem::FREE,
            protect: page::NOACCESS,
            kind: mem::PRIVATE,
        };
        if self.is_static(u64::from(pg)) {
            // deviations.md: the static mapping reads as one committed read/write region;
            // it has no record, so AllocationBase is a & ~0xFFFF (§5.4).
            mbi.allocation_base = pg & !(BLOCK - 1);
            mbi.region_size = self.static_end - pg;
            mbi.state = mem::COMMIT;
            mbi.protect = page::READWRITE;
            return Ok(mbi);
        }
        let s = self.space(self.owner(pid, u64::from(pg)));
        let st = s.state(pg);
        let pg64 = u64::from(pg);
        match st {
            State::Free => {
                let area_end = self.area_end(pg64);
                let mut end = spec::block_floor(pg64) + u64::from(BLOCK);
                while end < area_end && s.blocks_free(end, u64::from(BLOCK)) {
                    end += u64::from(BLOCK);
                }
                mbi.region_size = (end.min(area_end) - pg64) as u32;
            }
            State::Reserved(_) | State::Committed(_) => {
                let r = s.record_at(pg64);
                let limit = r.map_or(pg64 + u64::from(PAGE), |r| r.page_end());
                let mut end = pg64 + u64::from(PAGE);
                while end < limit && same_region(s.state(end as u32), st) {
                    end += u64::from(PAGE);
                }
                mbi.allocation_base = r.map_or(pg & !(BLOCK - 1), |r| r.base);
                mbi.region_size = (end - pg64) as u32;
                match st {
                    State::Committed(p) => {
                        mbi.state = mem::COMMIT;
                        mbi.protect = read_back(&p);
                    }
                    State::Reserved(k) => {
                        mbi.state = mem::RESERVE;
                        if k == Kind::Image {
                            mbi.kind = mem::IMAGE;
                        }
                    }
                    State::Free => {}
                }
            }
        }
        Ok(mbi)
    }

    /// The end of the §3 layout area holding `a` (the gap between the static mapping's
    /// end and kernel VM start, if RAM is not a multiple of 4 MiB, counts as kernel VM).
    pub fn area_end(&self, a: u64) -> u64 {
        let bounds = [
            u64::from(spec::USER_BASE),
            u64::from(spec::DLL_BASE),
            u64::from(spec::MAPPED_VIEWS),
            u64::from(spec::SHARED_HEAP),
            u64::from(spec::SHARED_HEAP_END),
            u64::from(spec::KERNEL_BASE),
            u64::from(self.static_end),
            u64::from(spec::CPU_AREA),
            1 << 32,
        ];
        bounds.into_iter().find(|&b| b > a).unwrap_or(1 << 32)
    }

    // ----- §5.5 VirtualCopy -------------------------------------------------------------------

    /// VirtualCopy (`ex = None`) / VirtualCopyEx(`hDst`, `hSrc`).
    pub fn virtual_copy(
        &mut self,
        ex: Option<(u32, u32)>,
        dst: u32,
        src: u32,
        n: u32,
        prot: u32,
    ) -> CallResult {
        // 1.
        let (dpid, spid) = match ex {
            None => {
                let p = self
                    .active_or(None, access::VM_OPERATION, Some(err::NOT_SUPPORTED))
                    .map_err(|f| fail(f.code, "5.5.1"))?;
                (p, p)
            }
            Some((hd, hs)) => {
                let d = self
                    .checked(hd, access::VM_OPERATION, Some(err::NOT_SUPPORTED))
                    .map_err(|f| fail(f.code, "5.5.1"))?;
                let s = if hs == 0 {
                    d
                } else {
                    self.checked(hs, access::VM_OPERATION, None)
                        .map_err(|f| fail(f.code, "5.5.1"))?
                };
                (d, s)
            }
        };
        // 2.
        let downer = self.owner(dpid, u64::from(dst));
        if self.space(downer).record_holding_bytes(dst, n).is_none() {
            return Err(fail(err::INVALID_PARAMETER, "5.5.2"));
        }
        // 3.
        let physical = prot & page::PHYSICAL != 0;
        let vprot = prot & !page::PHYSICAL;
        if (!self.is_kernel(dpid) && !(spec::USER_BASE..spec::KERNEL_BASE).contains(&dst))
            || (n as i32) <= 0
            || !spec::protection_valid(vprot)
        {
            return Err(fail(err::INVALID_PARAMETER, "5.5.3"));
        }
        // 4.
        let full = if physical {
            u64::from(src) << 8
        } else {
            u64::from(src)
        };
        if u64::from(dst & 0xFFF) != full & 0xFFF {
            return Err(fail(err::INVALID_PARAMETER, "5.5.4"));
        }
        // 5.
        let (first, count) = spec::page_span(dst, n);
        // "A kernel static address → its RAM frames": a source range wholly in the static
        // mapping (silent: one that runs out of it is a virtual range, whose static pages
        // have no committed entries, unlike §5.6's "consecutive frames").
        let src_end = u64::from(src) + u64::from(n) - 1;
        let frames = if physical {
            self.consecutive_frames(full >> 12, count)
        } else if self.is_static(u64::from(src)) && self.is_static(src_end) {
            self.consecutive_frames(self.static_pfn(u64::from(src)), count)
        } else {
            self.committed_frames(spid, u64::from(src), count)
        };
        let Some(frames) = frames else {
            return Err(fail(err::INVALID_PARAMETER, "5.5.5"));
        };
        // 6.
        let pages: Vec<u32> = (0..count)
            .map(|i| (first + i * u64::from(PAGE)) as u32)
            .collect();
        if pages
            .iter()
            .any(|&va| !matches!(self.space(downer).state(va), State::Reserved(_)))
        {
            return Err(fail(err::INVALID_PARAMETER, "5.5.6"));
        }
        // 7.
        let np = page_of(vprot, 0);
        for (va, pfn) in pages.into_iter().zip(frames) {
            self.add_ref(pfn);
            self.set_page(downer, va, Page { pfn, ..np });
        }
        Ok(Ret::Done)
    }

    /// `count` consecutive frames from `first`, each RAM or a device frame.
    fn consecutive_frames(&self, first: u64, count: u64) -> Option<Vec<u64>> {
        (first..first + count)
            .map(|f| self.frame_exists(f).then_some(f))
            .collect()
    }

    /// The frames of `count` committed pages of `pid` from the page holding `src`.
    fn committed_frames(&self, pid: u32, src: u64, count: u64) -> Option<Vec<u64>> {
        let first = spec::page_floor(src);
        (0..count)
            .map(|i| match self.state(pid, first + i * u64::from(PAGE)) {
                State::Committed(p) => Some(p.pfn),
                _ => None,
            })
            .collect()
    }

    // ----- §5.6 VirtualAllocCopyEx -----------------------------------------------------------

    /// VirtualAllocCopyEx(hSrc, hDst, p, n, prot).
    pub fn virtual_alloc_copy_ex(
        &mut self,
        hsrc: u32,
        hdst: u32,
        p: u32,
        n: u32,
        prot: u32,
    ) -> CallResult {
        // 1.
        let spid = self
            .checked(hsrc, access::VM_OPERATION, Some(err::NOT_SUPPORTED))
            .map_err(|f| fail(f.code, "5.6.1"))?;
        // 2.
        let physical = prot & page::PHYSICAL != 0;
        let vprot = prot & !page::PHYSICAL;
        if (n as i32) <= 0 || p < spec::USER_BASE || !spec::protection_valid(vprot) {
            return Err(fail(err::INVALID_PARAMETER, "5.6.2"));
        }
        // 3.
        let dpid = if hdst == 0 {
            self.nk
        } else {
            self.checked(hdst, access::VM_OPERATION, None)
                .map_err(|f| fail(f.code, "5.6.3"))?
        };
        // 4.
        let full = if physical {
            u64::from(p) << 8
        } else {
            u64::from(p)
        };
        let po = (full & 0xFFF) as u32;
        let bo = (full & 0xFFFF) as u32;
        let size = n + bo;
        let count = (u64::from(n) + u64::from(po)).div_ceil(u64::from(PAGE));
        let base = self
            .find_place(dpid, u64::from(size))
            .ok_or(fail(err::NOT_ENOUGH_MEMORY, "5.6.4"))?;
        // 6. (8: every failure from here reports 8, changing nothing but a consumed guard.)
        let frames = if physical {
            self.consecutive_frames(full >> 12, count)
        } else if self.is_static(u64::from(p)) {
            self.consecutive_frames(self.static_pfn(u64::from(p)), count)
        } else {
            let kind = if prot & page::READWRITE != 0 {
                AccessKind::Write
            } else {
                AccessKind::Read
            };
            self.touch(spid, Mode::Kernel, p, count, kind).ok()
        };
        let frames = frames.ok_or(fail(err::NOT_ENOUGH_MEMORY, "5.6.6"))?;
        // 5, 7, 9.
        self.take_place(dpid, base, u64::from(size));
        self.add_record(dpid, base, size, Kind::Plain);
        let start = base + (bo - po);
        let np = page_of(vprot, 0);
        for (i, pfn) in frames.into_iter().enumerate() {
            self.add_ref(pfn);
            self.set_page(dpid, start + i as u32 * PAGE, Page { pfn, ..np });
        }
        // 10.
        Ok(Ret::Value(base + bo))
    }

    // ----- §5.7 LockPages / UnlockPages --------------------------------------------------------

    /// The process LockPages/UnlockPages act on: the handle's for the Ex forms, the VM
    /// process V for the plain ones (§5.7; V's id is a full-access handle, §2).
    fn lock_target(&self, h: Option<u32>) -> Result<u32, Fail> {
        let h = h.unwrap_or(self.ctx.vm);
        self.checked(h, access::VM_OPERATION, Some(err::NOT_SUPPORTED))
    }

    /// LockPages (`h = None`) / LockPagesEx.
    pub fn lock_pages(&mut self, h: Option<u32>, a: u32, n: u32, flags: u32) -> CallResult {
        let pid = self.lock_target(h)?;
        // 1.
        let all = spec::lockflag::WRITE | spec::lockflag::QUERY_ONLY | spec::lockflag::READ;
        if (a & !(PAGE - 1)) < spec::USER_BASE || (n as i32) <= 0 || flags & !all != 0 {
            return Err(fail(err::INVALID_PARAMETER, "5.7.1"));
        }
        let (first, count) = spec::page_span(a, n);
        // 2.
        if self.is_static(u64::from(a)) {
            if !self.is_static(u64::from(a) + u64::from(n) - 1) {
                return Err(fail(err::INVALID_PARAMETER, "5.7.2"));
            }
            let pfns = (0..count)
                .map(|i| self.static_pfn(first + i * u64::from(PAGE)) << 12)
                .collect();
            return Ok(Ret::Pfns(pfns));
        }
        // 3.
        let kind = if flags & spec::lockflag::WRITE != 0 {
            AccessKind::Write
        } else {
            AccessKind::Read
        };
        let frames = self
            .touch(pid, Mode::Kernel, a, count, kind)
            .map_err(|_| fail(err::NOT_ENOUGH_MEMORY, "5.7.3"))?;
        // 5, 6.
        if flags & spec::lockflag::QUERY_ONLY == 0 {
            self.locks.push(Lock {
                start: first as u32,
                pages: count,
                owner: pid,
            });
        }
        // 4.
        Ok(Ret::Pfns(frames.into_iter().map(|f| f << 12).collect()))
    }

    /// UnlockPages (`h = None`) / UnlockPagesEx.
    pub fn unlock_pages(&mut self, h: Option<u32>, a: u32, n: u32) -> CallResult {
        let pid = self.lock_target(h)?;
        // Step 1's address and size rules; step 2's static range; then step 6.
        if (a & !(PAGE - 1)) < spec::USER_BASE || (n as i32) <= 0 {
            return Err(fail(err::INVALID_PARAMETER, "5.7.1"));
        }
        if self.is_static(u64::from(a)) {
            if !self.is_static(u64::from(a) + u64::from(n) - 1) {
                return Err(fail(err::INVALID_PARAMETER, "5.7.2"));
            }
            return Ok(Ret::Done);
        }
        let (first, count) = spec::page_span(a, n);
        let i = self
            .locks
            .iter()
            .position(|l| u64::from(l.start) == first && l.pages == count && l.owner == pid)
            .ok_or(fail(err::INVALID_PARAMETER, "5.7.6"))?;
        self.locks.remove(i);
        Ok(Ret::Done)
    }

    // ----- §5.8 AllocPhysMem / FreePhysMem ------------------------------------------------------

    /// AllocPhysMem; `pa_null` passes a NULL pPhysicalAddress.
    pub fn alloc_phys_mem(
        &mut self,
        n: u32,
        prot: u32,
        align_mask: u32,
        flags: u32,
        pa_null: bool,
    ) -> CallResult {
        // §2: AllocPhysMem in user mode fails with 87.
        if self.user() {
            return Err(fail(err::INVALID_PARAMETER, "2"));
        }
        if self.ctx.active != self.nk
            || (n as i32) <= 0
            || !spec::protection_valid(prot)
            || pa_null
            || flags != 0
        {
            return Err(fail(err::INVALID_PARAMETER, "5.8"));
        }
        let nk = self.nk;
        let count = u64::from(n).div_ceil(u64::from(PAGE));
        let base = self
            .find_place(nk, u64::from(n))
            .ok_or(fail(err::NOT_ENOUGH_MEMORY, "5.8"))?;
        let pfn0 = self
            .alloc_contiguous(count, u64::from(align_mask))
            .ok_or(fail(err::NOT_ENOUGH_MEMORY, "5.8"))?;
        self.take_place(nk, base, u64::from(n));
        self.add_record(nk, base, n, Kind::Plain);
        let np = page_of(prot | page::NOCACHE, 0);
        for i in 0..count {
            self.set_page(
                nk,
                base + i as u32 * PAGE,
                Page {
                    pfn: pfn0 + i,
                    ..np
                },
            );
        }
        Ok(Ret::Phys {
            va: base,
            pa: pfn0 << 12,
        })
    }

    /// FreePhysMem(p) = VirtualFreeEx(current, p, 0, MEM_RELEASE).
    pub fn free_phys_mem(&mut self, p: u32) -> CallResult {
        self.virtual_free(Some(spec::PSEUDO_PROCESS), p, 0, mem::RELEASE)
    }

    // ----- §5.9 MmMapIoSpace / MmUnmapIoSpace ---------------------------------------------------

    /// MmMapIoSpace(pa, n, cached).
    pub fn mm_map_io_space(&mut self, pa: u64, n: u32, cached: bool) -> CallResult {
        let pid = self.active_or(None, 0, Some(err::NOT_SUPPORTED))?;
        // The reservation is VirtualAlloc's ((int)size > 0) and the mapping VirtualCopy's
        // ((int)n > 0); a physical address past 40 bits cannot be passed shifted by 8.
        let po = pa & 0xFFF;
        let size = u64::from(n) + po;
        if (n as i32) <= 0 || size > 0x7FFF_FFFF || pa >> 40 != 0 {
            return Err(fail(err::INVALID_PARAMETER, "5.9"));
        }
        let base = self
            .find_place(pid, size)
            .ok_or(fail(err::NOT_ENOUGH_MEMORY, "5.9"))?;
        let count = size.div_ceil(u64::from(PAGE));
        let frames = self
            .consecutive_frames(pa >> 12, count)
            .ok_or(fail(err::INVALID_PARAMETER, "5.9"))?;
        self.take_place(pid, base, size);
        self.add_record(pid, base, size as u32, Kind::Plain);
        let mut prot = page::READWRITE;
        if !cached {
            prot |= page::NOCACHE;
        }
        let np = page_of(prot, 0);
        for (i, pfn) in frames.into_iter().enumerate() {
            self.add_ref(pfn);
            self.set_page(pid, base + i as u32 * PAGE, Page { pfn, ..np });
        }
        Ok(Ret::Value(base + po as u32))
    }

    /// MmUnmapIoSpace(p, n) = VirtualFree(p & ~0xFFF, 0, MEM_RELEASE).
    pub fn mm_unmap_io_space(&mut self, p: u32) -> CallResult {
        self.virtual_free(None, p & !(PAGE - 1), 0, mem::RELEASE)
    }

    // ----- §5.10 VirtualSetAttributes -----------------------------------------------------------

    /// VirtualSetAttributes (`h = None`) / VirtualSetAttributesEx.
    pub fn virtual_set_attributes(
        &mut self,
        h: Option<u32>,
        a: u32,
        n: u32,
        new: u32,
        mask: u32,
    ) -> CallResult {
        let pid = self.active_or(h, access::VM_OPERATION, Some(err::NOT_SUPPORTED))?;
        if (n as i32) <= 0 {
            return Err(fail(err::INVALID_PARAMETER, "5.10"));
        }
        let (first, count) = spec::page_span(a, n);
        let owner = self.owner(pid, first);
        if self
            .space(owner)
            .record_holding_pages(first, count)
            .is_none()
        {
            return Err(fail(err::INVALID_PARAMETER, "5.10"));
        }
        let mut pages = Vec::new();
        for i in 0..count {
            let va = (first + i * u64::from(PAGE)) as u32;
            match self.space(owner).state(va) {
                State::Committed(p) => pages.push((va, p)),
                _ => return Err(fail(err::INVALID_PARAMETER, "5.10")),
            }
        }
        let old = attributes(&pages[0].1);
        let mask = mask & (spec::ATTR_WRITE_THROUGH | spec::ATTR_CACHE_DISABLE);
        for (va, p) in pages {
            let attrs = (attributes(&p) & !mask) | (new & mask);
            self.set_page(
                owner,
                va,
                Page {
                    nocache: attrs & spec::ATTR_CACHE_DISABLE != 0,
                    write_through: attrs & spec::ATTR_WRITE_THROUGH != 0,
                    ..p
                },
            );
        }
        Ok(Ret::Value(old))
    }

    // ----- §5.11 CeVirtualSharedAlloc -------------------------------------------------------------

    /// CeVirtualSharedAlloc(a, n, action).
    pub fn ce_virtual_shared_alloc(&mut self, a: u32, n: u32, action: u32) -> CallResult {
        if self.user() {
            return Err(fail(err::ACCESS_DENIED, "2"));
        }
        let both = mem::RESERVE | mem::COMMIT;
        if action == 0 || action & !both != 0 || (n as i32) <= 0 {
            return Err(fail(err::INVALID_PARAMETER, "5.11"));
        }
        let nk = self.nk;
        let rw = page_of(page::READWRITE, 0);
        if a == 0 {
            let len = u64::from(n);
            let base = self
                .find_shared(len)
                .ok_or(fail(err::NOT_ENOUGH_MEMORY, "5.11"))?;
            let (_, count) = spec::page_span(base, n);
            let frames = if action & mem::COMMIT != 0 {
                self.alloc_frames(count)
                    .ok_or(fail(err::NOT_ENOUGH_MEMORY, "5.11"))?
            } else {
                Vec::new()
            };
            if base == self.shared_cursor {
                self.shared_cursor = spec::block_ceil(u64::from(base) + len)
                    .min(u64::from(spec::SHARED_HEAP_END))
                    as u32;
            }
            self.add_record(nk, base, n, Kind::Plain);
            for (i, pfn) in frames.into_iter().enumerate() {
                self.set_page(nk, base + i as u32 * PAGE, Page { pfn, ..rw });
            }
            return Ok(Ret::Value(base));
        }
        if !(spec::SHARED_HEAP..spec::SHARED_HEAP_END).contains(&a) || action != mem::COMMIT {
            return Err(fail(err::INVALID_PARAMETER, "5.11"));
        }
        let (first, count) = spec::page_span(a, n);
        if self.space(nk).record_holding_pages(first, count).is_none() {
            return Err(fail(err::INVALID_PARAMETER, "5.11"));
        }
        // silent: pages already committed are left as they are.
        let missing: Vec<u32> = (0..count)
            .map(|i| (first + i * u64::from(PAGE)) as u32)
            .filter(|&va| !matches!(self.space(nk).state(va), State::Committed(_)))
            .collect();
        let frames = self
            .alloc_frames(missing.len() as u64)
            .ok_or(fail(err::NOT_ENOUGH_MEMORY, "5.11"))?;
        for (va, pfn) in missing.into_iter().zip(frames) {
            self.set_page(nk, va, Page { pfn, ..rw });
        }
        Ok(Ret::Value(first as u32))
    }

    // ----- §5.12 Read/WriteProcessMemory -----------------------------------------------------------

    /// ReadProcessMemory(h, a, n): the bytes read.
    pub fn read_process_memory(&mut self, h: u32, a: u32, n: u32) -> CallResult {
        let pid = self.checked(h, access::VM_READ, None)?;
        if n == 0 {
            return Ok(Ret::Bytes(Vec::new()));
        }
        if (n as i32) < 0 || (self.user() && !spec::user_read_ok(a, n)) {
            return Err(fail(err::INVALID_PARAMETER, "5.12"));
        }
        self.read_as(pid, Mode::Kernel, a, u64::from(n), AccessKind::Read)
            .map(Ret::Bytes)
            .map_err(|_| fail(err::INVALID_PARAMETER, "5.12"))
    }

    /// WriteProcessMemory(h, a, data): the byte count written.
    pub fn write_process_memory(&mut self, h: u32, a: u32, data: &[u8]) -> CallResult {
        let pid = self.checked(h, access::VM_WRITE, None)?;
        let n = data.len() as u32;
        if n == 0 {
            return Ok(Ret::Value(0));
        }
        if (n as i32) < 0 || (self.user() && !spec::user_write_ok(a, n)) {
            return Err(fail(err::INVALID_PARAMETER, "5.12"));
        }
        self.write_as(pid, Mode::Kernel, a, data)
            .map_err(|_| fail(err::INVALID_PARAMETER, "5.12"))?;
        Ok(Ret::Value(n))
    }

    // ----- processes and handles (§2, deviations.md) ------------------------------------------------

    /// OpenProcess(access, FALSE, pid): unknown id → 87.
    pub fn open_process(&mut self, acc: u32, pid: u32) -> CallResult {
        if !self.alive(pid) {
            return Err(fail(err::INVALID_PARAMETER, "2"));
        }
        let h = self.next_handle;
        self.next_handle += 4;
        self.handles.insert(
            h,
            HandleEntry {
                pid,
                access: acc,
                is_pid: false,
            },
        );
        Ok(Ret::Value(h))
    }

    /// CloseHandle(h): the pseudo handle closes as a no-op; process ids cannot be closed.
    pub fn close_handle(&mut self, h: u32) -> CallResult {
        if h == spec::PSEUDO_PROCESS {
            return Ok(Ret::Done);
        }
        match self.handles.get(&h) {
            Some(e) if !e.is_pid => {
                self.handles.remove(&h);
                Ok(Ret::Done)
            }
            _ => Err(fail(err::INVALID_HANDLE, "2")),
        }
    }

    /// TerminateProcess(h, code): needs PROCESS_TERMINATE; NK.EXE cannot be terminated.
    pub fn terminate_process(&mut self, h: u32) -> CallResult {
        let (pid, acc) = self.resolve(h)?;
        if acc & access::TERMINATE == 0 || self.is_kernel(pid) {
            return Err(fail(err::ACCESS_DENIED, "2"));
        }
        self.end_process(pid);
        Ok(Ret::Done)
    }

    /// Ends a process: its handles close, its locks die, its space is released.
    pub fn end_process(&mut self, pid: u32) {
        self.handles.retain(|_, e| e.pid != pid);
        self.locks.retain(|l| l.owner != pid);
        self.dups.retain(|&(p, _), _| p != pid);
        let bases: Vec<u32> = self.space(pid).records.keys().copied().collect();
        for b in bases {
            self.unreserve(pid, b);
        }
        if let Some(p) = self.procs.get_mut(&pid) {
            p.alive = false;
        }
    }

    // ----- §5.13 ------------------------------------------------------------------------------------

    /// GlobalMemoryStatus, field by field.
    pub fn global_memory_status(&self) -> [u32; 8] {
        let total = self.ram_frames;
        let free = self.free_frames();
        let s = self.space(self.ctx.active);
        let mut used = BTreeSet::new();
        for r in s.records.values() {
            let mut b = u64::from(r.base);
            while b < r.block_end() {
                used.insert(b);
                b += u64::from(BLOCK);
            }
        }
        let blocks = (u64::from(spec::USER_BASE)..u64::from(spec::MAX_USER_ALLOC))
            .step_by(BLOCK as usize)
            .filter(|b| !used.contains(b))
            .count() as u64;
        [
            32,
            (100 - free * 100 / total.max(1)) as u32,
            (total * u64::from(PAGE)).min(u64::from(u32::MAX)) as u32,
            (free * u64::from(PAGE)).min(u64::from(u32::MAX)) as u32,
            0,
            0,
            spec::MAX_USER_ALLOC,
            (blocks * u64::from(BLOCK)) as u32,
        ]
    }

    /// GetSystemInfo, field by field (§5.13).
    pub fn system_info(&self) -> [u32; 8] {
        [0, PAGE, spec::USER_BASE, 0x7FFF_FFFF, 1, 1, 586, BLOCK]
    }

    /// GetCurrentProcessId (§5.13): P.
    pub fn current_process_id(&self) -> u32 {
        self.ctx.active
    }

    /// GetOwnerProcess (§5.13): O.
    pub fn owner_process(&self) -> u32 {
        self.ctx.owner
    }

    /// GetCallerVMProcessId (§5.13): V in kernel mode; in user mode C when named, else O.
    pub fn caller_vm_process_id(&self) -> u32 {
        match self.ctx.mode {
            Mode::Kernel => self.ctx.vm,
            Mode::User => self.ctx.caller.unwrap_or(self.ctx.owner),
        }
    }

    /// GetDirectCallerProcessId (§5.13): C when named, else V (kernel) or O (user).
    pub fn direct_caller_process_id(&self) -> u32 {
        match self.ctx.mode {
            Mode::Kernel => self.ctx.caller.unwrap_or(self.ctx.vm),
            Mode::User => self.ctx.caller.unwrap_or(self.ctx.owner),
        }
    }

    /// GetCallerProcess (§5.13): as GetDirectCallerProcessId in kernel mode; in user mode
    /// C when named, else 0.
    pub fn caller_process(&self) -> u32 {
        match self.ctx.mode {
            Mode::Kernel => self.direct_caller_process_id(),
            Mode::User => self.ctx.caller.unwrap_or(0),
        }
    }

    /// The five identity calls in the order of [`Ret::Ids`]: GetCurrentProcessId,
    /// GetCallerVMProcessId, GetDirectCallerProcessId, GetOwnerProcess, GetCallerProcess.
    pub fn ids(&self) -> [u32; 5] {
        [
            self.current_process_id(),
            self.caller_vm_process_id(),
            self.direct_caller_process_id(),
            self.owner_process(),
            self.caller_process(),
        ]
    }
}

/// A committed page with the protection `prot` (valid) and frame `pfn`.
fn page_of(prot: u32, pfn: u64) -> Page {
    Page {
        pfn,
        access: spec::base_access(prot),
        guard: prot & page::GUARD != 0,
        nocache: prot & page::NOCACHE != 0,
        write_through: false,
    }
}

/// §5.4 read-back of a committed page.
pub fn read_back(p: &Page) -> u32 {
    let mut v = spec::read_back(p.access);
    if p.guard {
        v |= page::GUARD;
    }
    if p.nocache {
        v |= page::NOCACHE;
    }
    v
}

/// The VirtualSetAttributes bits of a committed page.
fn attributes(p: &Page) -> u32 {
    let mut v = 0;
    if p.write_through {
        v |= spec::ATTR_WRITE_THROUGH;
    }
    if p.nocache {
        v |= spec::ATTR_CACHE_DISABLE;
    }
    v
}

/// §5.4: pages continue a region when they have the same state, protection, guard and
/// cache bits — compared as VirtualQuery reports them (the read-back), so PAGE_EXECUTE
/// and PAGE_EXECUTE_READ pages, which behave alike, share a region, and the
/// write-through attribute, which no query field shows, does not split one (silent:
/// read so that two adjacent regions never report identical fields).
fn same_region(a: State, b: State) -> bool {
    match (a, b) {
        (State::Reserved(x), State::Reserved(y)) => x == y,
        (State::Committed(x), State::Committed(y)) => read_back(&x) == read_back(&y),
        _ => false,
    }
}
