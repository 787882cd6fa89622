//! The buffer-marshalling helpers of semantics.md §7 on the model, kernel and user mode,
//! each reading top to bottom in the order of the spec's rules.
//!
//! The helpers return an HRESULT, never set the last error themselves (the inner
//! VirtualAllocCopyEx, VirtualFreeEx, ReadProcessMemory and WriteProcessMemory set it as
//! they always do), and CeCloseCallerBuffer puts it back as it was. Duplicates are real
//! regions of the active process (VirtualAlloc(NULL, size + 16, MEM_COMMIT,
//! PAGE_READWRITE)) handed out at base + 16 and recorded in [`Model::dups`]; a record
//! lives as long as its region.
//!
//! Where §7 is silent, the reading taken is marked "silent:".

use crate::calls::Fail;
use crate::model::{Dup, Kind, Mode, Model, Page, State};
use crate::outcome::Ret;
use crate::spec::{self, PAGE, arg, hr, mem, page};
use crate::touch::AccessKind;

/// What a helper that hands out a pointer gives: the pointer (S_OK), or the HRESULT and
/// the out-pointer when it wrote one anyway (only §7.2 step 3a).
pub type Handed = Result<u32, (u32, Option<u32>)>;

/// The kind of a valid descriptor (§7 "Descriptors").
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Ty {
    Ptr,
    Pdw,
    Pi64,
    /// A string, with its character size.
    Str(u32),
}

fn descriptor(desc: u32) -> Option<Ty> {
    match desc & !arg::FORCE_ALIAS {
        arg::I_PTR | arg::O_PTR | arg::IO_PTR => Some(Ty::Ptr),
        arg::O_PDW | arg::IO_PDW => Some(Ty::Pdw),
        arg::O_PI64 | arg::IO_PI64 => Some(Ty::Pi64),
        arg::I_WSTR => Some(Ty::Str(2)),
        arg::I_ASTR => Some(Ty::Str(1)),
        _ => None,
    }
}

/// The descriptor has the O bit (0x8).
pub fn o_bit(desc: u32) -> bool {
    desc & arg::O_BIT != 0
}

fn force_alias(desc: u32) -> bool {
    desc & arg::FORCE_ALIAS != 0
}

/// §7 range rule: (p, size) passes §3's user pointer rule, for writing with the O bit.
pub fn passes(p: u32, size: u32, desc: u32) -> bool {
    if o_bit(desc) {
        spec::user_write_ok(p, size)
    } else {
        spec::user_read_ok(p, size)
    }
}

/// §7 shared-heap overlap: p < 0x7FF00000 and p + size > 0x70000000, without wrapping.
pub fn overlaps_shared_heap(p: u32, size: u32) -> bool {
    p < spec::SHARED_HEAP_END && u64::from(p) + u64::from(size) > u64::from(spec::SHARED_HEAP)
}

/// How a new duplicate's bytes come in.
enum CopyIn {
    /// Read as the thread would (§6).
    Thread,
    /// ReadProcessMemory of the source process.
    Rpm,
    /// Already read (the user-mode page-by-page string).
    Bytes(Vec<Option<u8>>),
}

impl Model {
    // ----- sizes --------------------------------------------------------------------------------

    /// §7 effective size of (p, cb, desc), `None` when invalid.
    pub fn effective_size(&mut self, p: u32, cb: u32, desc: u32) -> Option<u32> {
        match descriptor(desc)? {
            Ty::Ptr => (cb != 0).then_some(cb),
            Ty::Pdw => (cb == 4).then_some(4),
            Ty::Pi64 => (cb == 8).then_some(8),
            Ty::Str(_) if cb != 0 => Some(cb),
            Ty::Str(cs) => {
                if self.may_measure(p) {
                    self.measure(p, cs)
                } else {
                    None
                }
            }
        }
    }

    /// Whether a string of unknown length at `p` may be measured (§7 "Effective size").
    fn may_measure(&self, p: u32) -> bool {
        match self.ctx.mode {
            Mode::Kernel => {
                self.direct_caller_process_id() == self.current_process_id()
                    || spec::user_read_ok(p, 1)
            }
            Mode::User => self.caller_vm_process_id() == self.current_process_id(),
        }
    }

    /// Reads the string at `p` as the thread would, page by page (a guard page met is
    /// consumed, an auto-commit page committed): (characters + 1) × `cs`, or `None` on a
    /// fault or without a terminator within 2^31 − 1 characters. (Unknown bytes count as
    /// non-zero; the harness learns every in-use frame's bytes after each step.)
    fn measure(&mut self, p: u32, cs: u32) -> Option<u32> {
        let (vm, mode) = (self.ctx.vm, self.ctx.mode);
        let mut at: Option<(u64, u64)> = None;
        let mut i = 0u64;
        while i < 0x7FFF_FFFF {
            let mut zero = true;
            for k in 0..u64::from(cs) {
                let a = u64::from(p) + i * u64::from(cs) + k;
                if a > u64::from(u32::MAX) {
                    return None;
                }
                let pg = spec::page_floor(a);
                let pfn = match at {
                    Some((v, f)) if v == pg => f,
                    _ => {
                        let start = if i == 0 && k == 0 { p } else { pg as u32 };
                        let f = self.touch(vm, mode, start, 1, AccessKind::Read).ok()?[0];
                        at = Some((pg, f));
                        f
                    }
                };
                if self.byte(pfn, (a & 0xFFF) as usize).unwrap_or(1) != 0 {
                    zero = false;
                }
            }
            if zero {
                return u32::try_from((i + 1) * u64::from(cs)).ok();
            }
            i += 1;
        }
        None
    }

    // ----- duplicates -----------------------------------------------------------------------------

    /// Makes a duplicate of (src, size) in the active process and copies its bytes in.
    fn make_dup(&mut self, src: u32, size: u32, copy: CopyIn) -> Result<u32, u32> {
        let total = u64::from(size) + 16;
        if total > u64::from(u32::MAX) {
            return Err(hr::E_INVALIDARG);
        }
        let pid = self.ctx.active;
        // As VirtualAlloc(NULL, size + 16, MEM_COMMIT, PAGE_READWRITE) makes it: placement
        // (§3), then zeroed frames. silent: §7 lists VirtualAlloc among no inner calls
        // that set the last error, so a failure here leaves it.
        if !self.alive(pid) || (total as u32 as i32) <= 0 {
            return Err(hr::E_OUTOFMEMORY);
        }
        let base = self.find_place(pid, total).ok_or(hr::E_OUTOFMEMORY)?;
        let (first, count) = spec::page_span(base, total as u32);
        let frames = self.alloc_frames(count).ok_or(hr::E_OUTOFMEMORY)?;
        self.take_place(pid, base, total);
        self.add_record(pid, base, total as u32, Kind::Plain);
        for (i, pfn) in frames.into_iter().enumerate() {
            let va = (first + i as u64 * u64::from(PAGE)) as u32;
            self.set_page(
                pid,
                va,
                Page {
                    pfn,
                    access: page::READWRITE,
                    guard: false,
                    nocache: false,
                    write_through: false,
                },
            );
        }
        let ptr = base + 16;
        let source = self.caller_vm_process_id();
        let bytes = match copy {
            CopyIn::Thread => {
                let (vm, mode) = (self.ctx.vm, self.ctx.mode);
                self.read_as(vm, mode, src, u64::from(size), AccessKind::Read)
                    .ok()
            }
            CopyIn::Rpm => match self.read_process_memory(source, src, size) {
                Ok(Ret::Bytes(b)) => Some(b),
                Ok(_) => None,
                Err(Fail { code, .. }) => {
                    self.last_error = code;
                    None
                }
            },
            CopyIn::Bytes(b) => Some(b),
        };
        let Some(bytes) = bytes else {
            self.unreserve(pid, base);
            return Err(hr::E_ACCESSDENIED);
        };
        self.put_bytes(pid, ptr, &bytes);
        self.dups.insert(
            (pid, ptr),
            Dup {
                base,
                src,
                size,
                source,
            },
        );
        Ok(ptr)
    }

    /// Writes bytes (known or not) into committed pages of `pid`'s tables, ignoring their
    /// protection (the helper fills its own region).
    fn put_bytes(&mut self, pid: u32, va: u32, bytes: &[Option<u8>]) {
        for (i, b) in bytes.iter().enumerate() {
            let a = u64::from(va) + i as u64;
            let State::Committed(p) = self.state(pid, spec::page_floor(a)) else {
                continue;
            };
            let off = (a & 0xFFF) as usize;
            match *b {
                Some(v) => self.set_byte(p.pfn, off, v),
                None => {
                    if let Some(d) = self.data.get_mut(&p.pfn) {
                        d[off] = None;
                    }
                    self.unknown.insert(p.pfn);
                }
            }
        }
    }

    /// The first `cb` bytes of the duplicate at `ptr` of `pid` (silent: a page the driver
    /// decommitted makes them unreadable).
    fn dup_bytes(&self, pid: u32, ptr: u32, cb: u32) -> Option<Vec<u8>> {
        (0..u64::from(cb))
            .map(|i| {
                let a = u64::from(ptr) + i;
                match self.state(pid, spec::page_floor(a)) {
                    State::Committed(p) => {
                        Some(self.byte(p.pfn, (a & 0xFFF) as usize).unwrap_or(0))
                    }
                    _ => None,
                }
            })
            .collect()
    }

    /// §7 write-back of duplicate `d` (handed out at `ptr`) to `dest`: `cb` bytes, only
    /// with the O bit. `direct_user` makes a user-mode write direct whatever the source
    /// (CeFreeDuplicateBuffer, §7.4).
    fn write_back(
        &mut self,
        d: Dup,
        ptr: u32,
        dest: u32,
        cb: u32,
        desc: u32,
        direct_user: bool,
    ) -> u32 {
        if !o_bit(desc) {
            return hr::S_OK;
        }
        if cb == 0 {
            return hr::E_INVALIDARG;
        }
        let Some(bytes) = self.dup_bytes(self.ctx.active, ptr, cb) else {
            return hr::E_ACCESSDENIED;
        };
        let direct = match self.ctx.mode {
            Mode::Kernel => {
                self.caller_vm_process_id() == d.source
                    && self.owner_process() != self.current_process_id()
            }
            Mode::User => direct_user || d.source == self.ctx.active,
        };
        if direct {
            let (vm, mode) = (self.ctx.vm, self.ctx.mode);
            match self.write_as(vm, mode, dest, &bytes) {
                Ok(()) => hr::S_OK,
                Err(_) => hr::E_ACCESSDENIED,
            }
        } else {
            match self.write_process_memory(d.source, dest, &bytes) {
                Ok(_) => hr::S_OK,
                Err(Fail { code, .. }) => {
                    self.last_error = code;
                    hr::from_win32(code)
                }
            }
        }
    }

    /// The live duplicate handed out at `ptr` by the active process.
    fn live_dup(&self, ptr: u32) -> Option<Dup> {
        self.dups.get(&(self.ctx.active, ptr)).copied()
    }

    /// Frees the duplicate at `ptr` ([cevm]: not a live duplicate, or `cb` larger than
    /// it → E_INVALIDARG, nothing changes), writing it back to `dest` first when
    /// `write_back`; the region goes whatever the write-back gave.
    fn free_dup(
        &mut self,
        ptr: u32,
        dest: u32,
        cb: u32,
        desc: u32,
        write_back: bool,
        direct_user: bool,
    ) -> u32 {
        let Some(d) = self.live_dup(ptr) else {
            return hr::E_INVALIDARG;
        };
        if cb > d.size {
            return hr::E_INVALIDARG;
        }
        let r = if write_back {
            self.write_back(d, ptr, dest, cb, desc, direct_user)
        } else {
            hr::S_OK
        };
        // silent: released as VirtualFree(base, 0, MEM_RELEASE) would (which drops the
        // record with the region). If that fails — the driver locked its pages, §5.2
        // [cevm] — the region and the duplicate stay, the result is E_INVALIDARG and the
        // last error is left (the library's reading; §7 says nothing of this case).
        let saved = self.last_error;
        let released = self.virtual_free(None, d.base, 0, mem::RELEASE).is_ok();
        self.last_error = saved;
        if released { r } else { hr::E_INVALIDARG }
    }

    /// Writes the duplicate at `ptr` back to `dest` and keeps it (§7.3).
    fn flush_dup(&mut self, ptr: u32, dest: u32, cb: u32, desc: u32) -> u32 {
        let Some(d) = self.live_dup(ptr) else {
            return hr::E_INVALIDARG;
        };
        if cb > d.size {
            return hr::E_INVALIDARG;
        }
        self.write_back(d, ptr, dest, cb, desc, false)
    }

    // ----- §7.1 ---------------------------------------------------------------------------------

    /// CeOpenCallerBuffer(ppDest, pSrc, cb, desc, ForceDuplicate).
    pub fn ce_open_caller_buffer(&mut self, src: u32, cb: u32, desc: u32, force: bool) -> Handed {
        let invalid = Err((hr::E_INVALIDARG, None));
        // 1.
        if src == 0 {
            return invalid;
        }
        match self.ctx.mode {
            Mode::Kernel => {
                // 2.
                let Some(size) = self.effective_size(src, cb, desc) else {
                    return invalid;
                };
                // 3.
                if self.direct_caller_process_id() != self.current_process_id()
                    && !passes(src, size, desc)
                {
                    return Err((hr::E_ACCESSDENIED, None));
                }
                // 4, 5.
                if force || (!o_bit(desc) && overlaps_shared_heap(src, size)) {
                    return self
                        .make_dup(src, size, CopyIn::Thread)
                        .map_err(|h| (h, None));
                }
                // 6.
                Ok(src)
            }
            Mode::User => match self.effective_size(src, cb, desc) {
                Some(size) => {
                    if !passes(src, size, desc) {
                        return Err((hr::E_ACCESSDENIED, None));
                    }
                    let copy = if self.caller_vm_process_id() == self.current_process_id() {
                        CopyIn::Thread
                    } else {
                        CopyIn::Rpm
                    };
                    self.make_dup(src, size, copy).map_err(|h| (h, None))
                }
                None if cb == 0
                    && (desc == arg::I_WSTR || desc == arg::I_ASTR)
                    && self.caller_vm_process_id() != self.current_process_id() =>
                {
                    let cs = if desc == arg::I_WSTR { 2 } else { 1 };
                    self.string_page_by_page(src, cs).map_err(|h| (h, None))
                }
                None => invalid,
            },
        }
    }

    /// §7.1 user mode: a string of another process read page by page with
    /// ReadProcessMemory until the terminator; the duplicate holds the bytes from `src`
    /// to the end of the page holding the terminator (its last byte). Reading only the
    /// new page each time is the same as re-reading from `src`: the pages before it
    /// were read without fault, so they read again without one and without change.
    fn string_page_by_page(&mut self, src: u32, cs: u32) -> Result<u32, u32> {
        let source = self.caller_vm_process_id();
        let mut bytes: Vec<Option<u8>> = Vec::new();
        let mut total = u64::from(PAGE - (src & 0xFFF));
        let mut scanned = 0u64;
        loop {
            if total > u64::from(u32::MAX) || !spec::user_read_ok(src, total as u32) {
                return Err(hr::E_ACCESSDENIED);
            }
            // silent: as CE's loop, each round first needs the frames of a duplicate of
            // the chunk read so far (total + 16 bytes, from a block-aligned base) → else
            // E_OUTOFMEMORY (the library's reading, deviations.md).
            if (total + 16).div_ceil(u64::from(PAGE)) > self.free_frames() {
                return Err(hr::E_OUTOFMEMORY);
            }
            let from = src + bytes.len() as u32;
            let n = (total - bytes.len() as u64) as u32;
            match self.read_process_memory(source, from, n) {
                Ok(Ret::Bytes(b)) => bytes.extend(b),
                Ok(_) => return Err(hr::E_ACCESSDENIED),
                Err(Fail { code, .. }) => {
                    self.last_error = code;
                    return Err(hr::E_ACCESSDENIED);
                }
            }
            let c = cs as usize;
            while (scanned as usize + 1) * c <= bytes.len() {
                let at = scanned as usize * c;
                if bytes[at..at + c].iter().all(|b| *b == Some(0)) {
                    let size = bytes.len() as u32;
                    return self.make_dup(src, size, CopyIn::Bytes(bytes));
                }
                scanned += 1;
            }
            total += u64::from(PAGE);
        }
    }

    /// CeCloseCallerBuffer(pDest, pSrc, cb, desc): the last error stays as it was.
    pub fn ce_close_caller_buffer(&mut self, dest: u32, src: u32, cb: u32, desc: u32) -> u32 {
        let saved = self.last_error;
        let r = if dest == 0 || src == 0 {
            hr::E_INVALIDARG
        } else if dest != src {
            self.free_dup(dest, src, cb, desc, true, false)
        } else if self.ctx.mode == Mode::Kernel {
            hr::S_OK
        } else {
            hr::E_INVALIDARG
        };
        self.last_error = saved;
        r
    }

    // ----- §7.2 ---------------------------------------------------------------------------------

    /// CeAllocAsynchronousBuffer(ppAsync, pSrc, cb, desc).
    pub fn ce_alloc_asynchronous_buffer(&mut self, src: u32, cb: u32, desc: u32) -> Handed {
        let invalid = Err((hr::E_INVALIDARG, None));
        // 1.
        if src == 0 {
            return invalid;
        }
        // 2.
        let Some(size) = self.effective_size(src, cb, desc) else {
            return invalid;
        };
        if self.ctx.mode == Mode::User {
            return Ok(src);
        }
        // 3.
        if passes(src, size, desc) {
            // a. E_INVALIDARG whatever making the duplicate gave ("still returns").
            if !o_bit(desc) && overlaps_shared_heap(src, size) {
                let made = self.make_dup(src, size, CopyIn::Thread).ok();
                return Err((hr::E_INVALIDARG, made));
            }
            // b.
            if cb <= arg::CICO_SIZE && !force_alias(desc) {
                return self
                    .make_dup(src, size, CopyIn::Thread)
                    .map_err(|h| (h, None));
            }
            // c.
            let prot = if o_bit(desc) {
                page::READWRITE
            } else {
                page::READONLY
            };
            let from = self.caller_vm_process_id();
            return match self.virtual_alloc_copy_ex(from, spec::PSEUDO_PROCESS, src, size, prot) {
                Ok(Ret::Value(v)) => Ok(v),
                Ok(_) => Err((hr::E_OUTOFMEMORY, None)),
                Err(Fail { code, .. }) => {
                    self.last_error = code;
                    Err((hr::from_win32(code), None))
                }
            };
        }
        // 4.
        Ok(src)
    }

    /// CeFreeAsynchronousBuffer(pAsync, pSrc, cb, desc): the choice recomputed from its
    /// own arguments.
    pub fn ce_free_asynchronous_buffer(&mut self, a: u32, src: u32, cb: u32, desc: u32) -> u32 {
        if a == 0 || src == 0 {
            return hr::E_INVALIDARG;
        }
        if a == src || self.ctx.mode == Mode::User {
            return hr::S_OK;
        }
        if !o_bit(desc) && overlaps_shared_heap(src, cb) {
            return self.free_dup(a, src, cb, desc, false, false);
        }
        if cb <= arg::CICO_SIZE && !force_alias(desc) {
            return self.free_dup(a, src, cb, desc, true, false);
        }
        // An alias is expected: [cevm] a live duplicate here → E_INVALIDARG.
        if self.live_dup(a).is_some() {
            return hr::E_INVALIDARG;
        }
        match self.virtual_free(Some(spec::PSEUDO_PROCESS), a & !0xFFFF, 0, mem::RELEASE) {
            Ok(_) => hr::S_OK,
            Err(Fail { code, .. }) => {
                self.last_error = code;
                hr::from_win32(code)
            }
        }
    }

    // ----- §7.3 ---------------------------------------------------------------------------------

    /// CeFlushAsynchronousBuffer(pAsync, pSrc, pSrcUnmarshalled, cb, desc).
    pub fn ce_flush_asynchronous_buffer(
        &mut self,
        a: u32,
        src: u32,
        src_unmarshalled: u32,
        cb: u32,
        desc: u32,
    ) -> u32 {
        if a == 0 || src == 0 {
            return hr::E_INVALIDARG;
        }
        if !o_bit(desc) {
            return hr::from_win32(spec::err::NOT_SUPPORTED);
        }
        if self.ctx.mode == Mode::Kernel && a != src {
            if cb <= arg::CICO_SIZE && !force_alias(desc) {
                return self.flush_dup(a, src, cb, desc);
            }
            if self.live_dup(a).is_some() {
                return hr::E_INVALIDARG;
            }
            return hr::S_OK;
        }
        if src_unmarshalled != 0 && src_unmarshalled != src {
            return self.flush_dup(src, src_unmarshalled, cb, desc);
        }
        hr::E_INVALIDARG
    }

    // ----- §7.4 ---------------------------------------------------------------------------------

    /// CeAllocDuplicateBuffer(ppDest, pSrc, cb, desc): always a duplicate, read directly.
    pub fn ce_alloc_duplicate_buffer(&mut self, src: u32, cb: u32, desc: u32) -> Handed {
        if src == 0 {
            return Err((hr::E_INVALIDARG, None));
        }
        let Some(size) = self.effective_size(src, cb, desc) else {
            return Err((hr::E_INVALIDARG, None));
        };
        self.make_dup(src, size, CopyIn::Thread)
            .map_err(|h| (h, None))
    }

    /// CeFreeDuplicateBuffer(pDest, pSrc, cb, desc): write-back by the rule in kernel
    /// mode, by a direct write in user mode.
    pub fn ce_free_duplicate_buffer(&mut self, dest: u32, src: u32, cb: u32, desc: u32) -> u32 {
        if dest == 0 || src == 0 {
            return hr::E_INVALIDARG;
        }
        self.free_dup(dest, src, cb, desc, true, true)
    }
}

#[cfg(test)]
mod tests {
    //! Spec examples of §2, §5.13 and §7 on the model alone.

    use super::*;
    use crate::model::{Ctx, WorldConfig};
    use crate::spec::{err, lockflag};

    struct World {
        m: Model,
        app: u32,
        drv: u32,
        /// A committed read/write buffer of 0x3000 bytes in app.exe.
        buf: u32,
    }

    /// NK.EXE, app.exe with a buffer of 0x3000 bytes holding 1, 2, 3, …, and udevice.exe.
    fn world() -> World {
        let mut m = Model::boot(&WorldConfig::default());
        let app = m.create_process().expect("app");
        let drv = m.create_process().expect("udevice");
        m.ctx = Ctx::new(app, Mode::User, None, None, None);
        let Ok(Ret::Value(buf)) = m.virtual_alloc(None, 0, 0x3000, mem::COMMIT, page::READWRITE)
        else {
            panic!("buffer")
        };
        let bytes: Vec<u8> = (0..0x3000u32).map(|i| (i % 251) as u8 + 1).collect();
        m.thread_write(buf, &bytes).expect("fill");
        World { m, app, drv, buf }
    }

    impl World {
        /// A kernel-mode driver called by app.exe: P = NK.EXE, V = C = O = app, kernel.
        fn kernel_driver(&mut self) {
            let nk = self.m.nk;
            self.m.ctx = Ctx::new(nk, Mode::Kernel, Some(self.app), Some(self.app), None);
        }

        /// A user-mode driver in udevice.exe called by app.exe: P = V = udevice, C = O = app.
        fn user_driver(&mut self) {
            self.m.ctx = Ctx::new(self.drv, Mode::User, None, Some(self.app), None);
        }

        fn app_bytes(&mut self, a: u32, n: u64) -> Vec<Option<u8>> {
            self.m
                .read_as(self.app, Mode::Kernel, a, n, AccessKind::Read)
                .expect("app bytes")
        }

        fn kernel_bytes(&mut self, a: u32, n: u64) -> Vec<Option<u8>> {
            let nk = self.m.nk;
            self.m
                .read_as(nk, Mode::Kernel, a, n, AccessKind::Read)
                .expect("kernel bytes")
        }
    }

    #[test]
    fn identity_in_the_four_contexts_of_section_2() {
        let mut w = world();
        let (nk, app, drv) = (w.m.nk, w.app, w.drv);
        // [current, caller VM, direct caller, owner, GetCallerProcess]
        w.kernel_driver();
        assert_eq!(w.m.ids(), [nk, app, app, app, app]);
        w.user_driver();
        assert_eq!(w.m.ids(), [drv, app, app, app, app]);
        w.m.ctx = Ctx::new(app, Mode::User, None, None, None);
        assert_eq!(w.m.ids(), [app, app, app, app, 0]);
        // A kernel component calling a kernel-mode driver directly on app's thread.
        w.m.ctx = Ctx::new(nk, Mode::Kernel, Some(app), Some(nk), Some(app));
        assert_eq!(w.m.ids(), [nk, app, nk, app, nk]);
        // Kernel mode with no caller named: the direct caller is V.
        w.m.ctx = Ctx::new(nk, Mode::Kernel, None, None, None);
        assert_eq!(w.m.ids(), [nk, nk, nk, nk, nk]);
    }

    #[test]
    fn a_kernel_driver_touches_its_callers_buffer_and_locks_it_by_the_vm_process() {
        let mut w = world();
        let expect = w.app_bytes(w.buf + 0x10, 4);
        w.kernel_driver();
        assert_eq!(w.m.thread_read(w.buf + 0x10, 4).expect("read"), expect);
        let Ok(Ret::Pfns(pfns)) = w.m.lock_pages(None, w.buf, 0x1000, lockflag::READ) else {
            panic!("lock")
        };
        let State::Committed(p) = w.m.state(w.app, u64::from(w.buf)) else {
            panic!("committed")
        };
        assert_eq!(pfns, vec![p.pfn << 12]);
        assert_eq!(w.m.locks.last().map(|l| l.owner), Some(w.app));
        assert_eq!(w.m.unlock_pages(None, w.buf, 0x1000), Ok(Ret::Done));
    }

    #[test]
    fn async_buffer_of_520_bytes_is_a_copy_and_of_521_an_alias() {
        let mut w = world();
        w.kernel_driver();
        let src = w.buf + 0x123;
        let copy =
            w.m.ce_alloc_asynchronous_buffer(src, 520, arg::I_PTR)
                .expect("copy");
        assert!(copy >= w.m.kvm_start, "a duplicate in NK.EXE: {copy:#x}");
        assert_eq!(copy & 0xFFFF, 16, "handed out at base + 16");
        assert!(w.m.dups.contains_key(&(w.m.nk, copy)));
        assert_eq!(w.kernel_bytes(copy, 520), w.app_bytes(src, 520));
        let alias =
            w.m.ce_alloc_asynchronous_buffer(src, 521, arg::I_PTR)
                .expect("alias");
        assert_eq!(alias & 0xFFFF, src & 0xFFFF, "§5.6 step 10");
        assert!(!w.m.dups.contains_key(&(w.m.nk, alias)));
        let State::Committed(p) = w.m.state(w.m.nk, u64::from(alias & !0xFFF)) else {
            panic!("alias mapped")
        };
        assert_eq!(p.access, page::READONLY, "no O bit → PAGE_READONLY");
        assert_eq!(
            w.m.ce_free_asynchronous_buffer(alias, src, 521, arg::I_PTR),
            hr::S_OK
        );
        assert_eq!(w.m.state(w.m.nk, u64::from(alias & !0xFFF)), State::Free);
        // The 520 line is on the cb passed: FORCE_ALIAS aliases a 4-byte buffer.
        let forced =
            w.m.ce_alloc_asynchronous_buffer(src, 4, arg::I_PTR | arg::FORCE_ALIAS)
                .expect("forced alias");
        assert_eq!(forced & 0xFFFF, src & 0xFFFF);
        assert_eq!(w.m.last_error, 0);
    }

    #[test]
    fn an_input_buffer_overlapping_the_shared_heap_is_duplicated_and_still_fails() {
        let mut w = world();
        let nk = w.m.nk;
        w.m.ctx = Ctx::new(nk, Mode::Kernel, None, None, None);
        let Ok(Ret::Value(heap)) = w.m.ce_virtual_shared_alloc(0, 0x1000, mem::COMMIT) else {
            panic!("shared heap")
        };
        w.kernel_driver();
        let r = w.m.ce_alloc_asynchronous_buffer(heap, 16, arg::I_PTR);
        let Err((hr::E_INVALIDARG, Some(dup))) = r else {
            panic!("3a: {r:X?}")
        };
        assert!(w.m.dups.contains_key(&(nk, dup)), "the duplicate is live");
        // The free recomputes the same branch: no write-back, S_OK, the region goes.
        assert_eq!(
            w.m.ce_free_asynchronous_buffer(dup, heap, 16, arg::I_PTR),
            hr::S_OK
        );
        assert!(w.m.dups.is_empty());
        assert_eq!(w.m.state(nk, u64::from(dup & !0xFFF)), State::Free);
        // With the O bit the same pointer fails the write range rule: used as it is.
        assert_eq!(
            w.m.ce_alloc_asynchronous_buffer(heap, 16, arg::IO_PTR),
            Ok(heap)
        );
    }

    #[test]
    fn open_caller_buffer_uses_a_user_buffer_in_place_and_refuses_a_kernel_pointer() {
        let mut w = world();
        w.kernel_driver();
        assert_eq!(
            w.m.ce_open_caller_buffer(w.buf, 0x100, arg::IO_PTR, false),
            Ok(w.buf)
        );
        assert_eq!(
            w.m.ce_open_caller_buffer(0x8000_1000, 0x100, arg::I_PTR, false),
            Err((hr::E_ACCESSDENIED, None))
        );
        // Kernel code calling kernel code: no range check.
        let nk = w.m.nk;
        w.m.ctx = Ctx::new(nk, Mode::Kernel, None, None, None);
        assert_eq!(
            w.m.ce_open_caller_buffer(0x8000_1000, 0x100, arg::I_PTR, false),
            Ok(0x8000_1000)
        );
        assert_eq!(
            w.m.ce_open_caller_buffer(w.buf, 3, arg::O_PDW, false),
            Err((hr::E_INVALIDARG, None)),
            "PDW types need cb = 4"
        );
    }

    #[test]
    fn a_wide_string_of_unknown_length_is_measured_to_its_terminator() {
        let mut w = world();
        let s = w.buf + 0x1FFC;
        w.m.write_as(w.app, Mode::Kernel, s, &[b'h', 0, b'i', 0, b'!', 0, 0, 0])
            .expect("string");
        w.kernel_driver();
        let dup =
            w.m.ce_alloc_duplicate_buffer(s, 0, arg::I_WSTR)
                .expect("duplicate");
        assert_eq!(w.m.dups[&(w.m.nk, dup)].size, 8, "(3 characters + 1) × 2");
        // A user-mode driver may not measure another process's string: only the exact
        // ARG_I_WSTR of CeOpenCallerBuffer is read page by page.
        w.user_driver();
        assert_eq!(
            w.m.ce_alloc_duplicate_buffer(s, 0, arg::I_WSTR),
            Err((hr::E_INVALIDARG, None))
        );
        assert_eq!(
            w.m.ce_open_caller_buffer(s, 0, arg::I_WSTR | arg::FORCE_ALIAS, false),
            Err((hr::E_INVALIDARG, None))
        );
        let page_by_page =
            w.m.ce_open_caller_buffer(s, 0, arg::I_WSTR, false)
                .expect("page by page");
        let d = w.m.dups[&(w.drv, page_by_page)];
        assert_eq!(d.size, 0x1004, "to the end of the terminator's page");
        assert_eq!(d.source, w.app);
    }

    #[test]
    fn close_caller_buffer_writes_back_and_keeps_the_last_error() {
        let mut w = world();
        w.kernel_driver();
        w.m.last_error = 1234;
        let src = w.buf + 0x40;
        let dup =
            w.m.ce_open_caller_buffer(src, 8, arg::IO_PTR, true)
                .expect("forced duplicate");
        w.m.write_as(w.m.nk, Mode::Kernel, dup, &[0xAA; 8])
            .expect("driver writes");
        assert_eq!(
            w.m.ce_close_caller_buffer(w.buf, src, 8, arg::IO_PTR),
            hr::E_INVALIDARG,
            "[cevm] not a duplicate"
        );
        assert_eq!(
            w.m.ce_close_caller_buffer(dup, src, 8, arg::IO_PTR),
            hr::S_OK
        );
        assert_eq!(w.app_bytes(src, 8), vec![Some(0xAA); 8]);
        assert_eq!(w.m.last_error, 1234);
        // Closing a buffer used in place: S_OK in kernel mode, E_INVALIDARG in user mode.
        assert_eq!(
            w.m.ce_close_caller_buffer(src, src, 8, arg::IO_PTR),
            hr::S_OK
        );
        w.user_driver();
        assert_eq!(
            w.m.ce_close_caller_buffer(src, src, 8, arg::IO_PTR),
            hr::E_INVALIDARG
        );
    }

    #[test]
    fn a_free_with_a_larger_cb_than_the_duplicate_changes_nothing() {
        let mut w = world();
        w.kernel_driver();
        let src = w.buf;
        let dup =
            w.m.ce_alloc_asynchronous_buffer(src, 16, arg::IO_PTR)
                .expect("copy");
        let before = w.app_bytes(src, 16);
        w.m.write_as(w.m.nk, Mode::Kernel, dup, &[0x55; 16])
            .expect("driver writes");
        assert_eq!(
            w.m.ce_free_asynchronous_buffer(dup, src, 17, arg::IO_PTR),
            hr::E_INVALIDARG
        );
        assert_eq!(w.app_bytes(src, 16), before, "no write-back");
        assert!(w.m.dups.contains_key(&(w.m.nk, dup)), "still live");
        // An alias is expected for cb > 520: a live duplicate there is refused too.
        assert_eq!(
            w.m.ce_free_asynchronous_buffer(dup, src, 0x1000, arg::IO_PTR),
            hr::E_INVALIDARG
        );
        assert_eq!(
            w.m.ce_flush_asynchronous_buffer(dup, src, 0, 8, arg::IO_PTR),
            hr::S_OK
        );
        assert_eq!(w.app_bytes(src, 16)[..8], [Some(0x55); 8]);
        assert_eq!(
            w.m.ce_flush_asynchronous_buffer(dup, src, 0, 8, arg::I_PTR),
            hr::from_win32(err::NOT_SUPPORTED)
        );
        assert_eq!(
            w.m.ce_free_asynchronous_buffer(dup, src, 16, arg::IO_PTR),
            hr::S_OK
        );
        assert_eq!(w.app_bytes(src, 16), vec![Some(0x55); 16]);
        assert!(w.m.dups.is_empty());
    }

    #[test]
    fn write_back_uses_write_process_memory_when_the_owner_is_the_active_process() {
        let mut w = world();
        let nk = w.m.nk;
        // P = V = O = NK.EXE: the write-back goes through WriteProcessMemory, whose
        // failure on a read-only page is 87 and becomes HRESULT_FROM_WIN32(87).
        w.m.ctx = Ctx::new(nk, Mode::Kernel, None, None, None);
        let Ok(Ret::Value(k)) =
            w.m.virtual_alloc(None, 0, 0x1000, mem::COMMIT, page::READWRITE)
        else {
            panic!("kernel buffer")
        };
        let dup =
            w.m.ce_alloc_duplicate_buffer(k, 8, arg::IO_PTR)
                .expect("dup");
        let mut old = 0;
        if let Ok(Ret::Value(o)) = w.m.virtual_protect(None, k, 8, page::READONLY, false) {
            old = o;
        }
        assert_eq!(old, page::READWRITE);
        assert_eq!(
            w.m.ce_free_duplicate_buffer(dup, k, 8, arg::IO_PTR),
            hr::from_win32(err::INVALID_PARAMETER)
        );
        assert_eq!(w.m.last_error, err::INVALID_PARAMETER);
        assert!(w.m.dups.is_empty(), "freed whatever the write-back gave");
        // A driver called by app writes back directly: the same read-only page faults,
        // E_ACCESSDENIED, and the last error stays.
        w.m.last_error = 0;
        w.m.ctx = Ctx::new(nk, Mode::Kernel, Some(w.app), Some(w.app), None);
        let dup =
            w.m.ce_alloc_duplicate_buffer(k, 8, arg::IO_PTR)
                .expect("dup");
        assert_eq!(
            w.m.ce_free_duplicate_buffer(dup, k, 8, arg::IO_PTR),
            hr::E_ACCESSDENIED
        );
        assert_eq!(w.m.last_error, 0);
    }

    #[test]
    fn a_failed_copy_in_frees_the_duplicate() {
        let mut w = world();
        w.kernel_driver();
        let free_before = w.m.free_frames();
        // The buffer's last page is followed by free memory: reading past it faults.
        assert_eq!(
            w.m.ce_alloc_duplicate_buffer(w.buf + 0x2FF0, 0x20, arg::O_PTR),
            Err((hr::E_ACCESSDENIED, None))
        );
        assert_eq!(w.m.free_frames(), free_before);
        assert!(w.m.dups.is_empty());
        // An O-only buffer is still copied in.
        let dup =
            w.m.ce_alloc_duplicate_buffer(w.buf, 0x20, arg::O_PTR)
                .expect("dup");
        assert_eq!(w.kernel_bytes(dup, 0x20), w.app_bytes(w.buf, 0x20));
    }

    #[test]
    fn a_duplicate_dies_with_its_process() {
        let mut w = world();
        w.user_driver();
        let dup =
            w.m.ce_open_caller_buffer(w.buf, 0x10, arg::I_PTR, false)
                .expect("user-mode duplicate");
        assert_eq!(w.m.dups[&(w.drv, dup)].source, w.app);
        w.m.end_process(w.drv);
        assert!(w.m.dups.is_empty());
    }
}
