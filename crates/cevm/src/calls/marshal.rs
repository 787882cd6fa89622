//! The buffer-marshalling helpers of semantics.md §7: CeOpenCallerBuffer /
//! CeCloseCallerBuffer, CeAllocAsynchronousBuffer / CeFreeAsynchronousBuffer,
//! CeFlushAsynchronousBuffer and CeAllocDuplicateBuffer / CeFreeDuplicateBuffer, in kernel
//! mode and in user mode (the thread's mode picks the build of coredll that runs).
//!
//! Each helper reads top to bottom in the order of its steps in §7. The pieces they share
//! come first: the effective size, the range rule, duplicates (made as VirtualAlloc would
//! make them, tracked in the active process's address space beside their reservation
//! record) and write-back. The alias path is VirtualAllocCopyEx / VirtualFreeEx itself;
//! reads and writes "as the thread would" are the thread's checked accesses (§6), and
//! ReadProcessMemory / WriteProcessMemory are those calls, so the inner calls set the last
//! error as they always do. The helpers never set it themselves.

use crate::access::AccessKind;
use crate::consts::MARSHAL_CICO_SIZE;
use crate::descriptor::ArgDescriptor;
use crate::flags::{AllocType, Protection};
use crate::hresult::{HResult, MarshalFailure};
use crate::layout::{SHARED_HEAP_BASE, SHARED_HEAP_END, user_read_ok, user_write_ok};
use crate::process::{Handle, Spaces};
use crate::space::Duplicate;
use crate::thread::Mode;
use crate::thread::Thread;

/// The bytes before a duplicate's data: the pointer handed out is the region base + 16.
const DUPLICATE_HEADER: u32 = 16;

/// The longest string the helpers measure, in characters (2^31 − 1).
const MAX_STRING_CHARS: u64 = 0x7FFF_FFFF;

/// How a new duplicate's bytes are copied in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum CopyIn {
    /// By the rule of §7 "Duplicates": kernel mode reads as the thread would; user mode
    /// reads directly for its own buffers, else by ReadProcessMemory of the source.
    ByRule,
    /// Always as the thread would (CeAllocDuplicateBuffer).
    Direct,
}

/// How a duplicate is written back.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum WriteBack {
    /// The rule of §7 "Write-back" for the thread's mode.
    ByRule,
    /// Always a direct write as the thread would (user-mode CeFreeDuplicateBuffer).
    Direct,
}

/// Whether `(p, size)` overlaps the shared heap (§7 "Range rule"), without wrapping.
fn shared_heap_overlap(p: u32, size: u32) -> bool {
    p < SHARED_HEAP_END && u64::from(p) + u64::from(size) > u64::from(SHARED_HEAP_BASE)
}

/// "p passes" (§7 "Range rule"): the user pointer rule of §3 for `(p, size)`, for writing
/// when the descriptor has the O bit, else for reading.
fn passes_range_rule(p: u32, size: u32, desc: ArgDescriptor) -> bool {
    if desc.has_o_bit() {
        user_write_ok(p, size)
    } else {
        user_read_ok(p, size)
    }
}

/// Whether a freeing or flushing call recomputes the copy-in/copy-out choice (cb ≤ 520
/// and no MARSHAL_FORCE_ALIAS) rather than the alias.
fn is_cico(cb: u32, desc: ArgDescriptor) -> bool {
    cb <= MARSHAL_CICO_SIZE && !desc.force_alias()
}

impl Thread {
    // ---- Shared pieces -----------------------------------------------------------------

    /// Whether a string at `p` with cb = 0 may be measured (§7 "Effective size").
    fn may_measure(&self, p: u32) -> bool {
        match self.mode {
            Mode::Kernel => {
                self.direct_caller_process_id() == self.current_process_id() || user_read_ok(p, 1)
            }
            Mode::User => self.caller_vm_process_id() == self.current_process_id(),
        }
    }

    /// Measures the string at `p` as the thread would read it: (characters + 1) ×
    /// `char_size`, or `None` on a fault or without a terminator within 2^31 − 1
    /// characters. Reads a page at a time, so the cost is bounded by the pages it meets.
    fn measure_string(&self, p: u32, char_size: u32) -> Option<u32> {
        let mut at = u64::from(p);
        let mut chars: u64 = 0;
        // A wide character split across a page boundary: its first byte.
        let mut pending: Option<u8> = None;
        let mut page = [0u8; 0x1000];
        loop {
            if at > u64::from(u32::MAX) {
                return None;
            }
            let a = at as u32;
            let len = (0x1000 - (a & 0xFFF)) as usize;
            let buf = &mut page[..len];
            self.read_bytes(a, buf).ok()?;
            let mut i = 0;
            if char_size == 1 {
                for &b in buf.iter() {
                    if b == 0 {
                        return u32::try_from(chars + 1).ok();
                    }
                    chars += 1;
                    if chars > MAX_STRING_CHARS {
                        return None;
                    }
                }
            } else {
                if let Some(lo) = pending.take() {
                    if lo == 0 && buf[0] == 0 {
                        return u32::try_from((chars + 1) * 2).ok();
                    }
                    chars += 1;
                    i = 1;
                }
                while i + 1 < len {
                    if buf[i] == 0 && buf[i + 1] == 0 {
                        return u32::try_from((chars + 1) * 2).ok();
                    }
                    chars += 1;
                    if chars > MAX_STRING_CHARS {
                        return None;
                    }
                    i += 2;
                }
                if i < len {
                    pending = Some(buf[i]);
                }
            }
            at += len as u64;
        }
    }

    /// The effective size of `(p, cb, desc)` (§7 "Effective size"); `None` when invalid.
    fn effective_size(&self, p: u32, cb: u32, desc: ArgDescriptor) -> Option<u32> {
        match desc.fixed_size(cb) {
            Ok(size) => size,
            Err(()) => {
                let char_size = desc.string_char_size()?;
                if !self.may_measure(p) {
                    return None;
                }
                self.measure_string(p, char_size)
            }
        }
    }

    /// The live duplicate of the active process handed out as `ptr`.
    pub(crate) fn live_duplicate(&self, ptr: u32) -> Option<Duplicate> {
        let base = ptr.checked_sub(DUPLICATE_HEADER)?;
        // The active process's own table: a duplicate NK.EXE made is not another
        // process's, even at a kernel address that every process's calls reach.
        let mut spaces = Spaces::lock(self.kernel.nk(), &[&self.active], false).ok()?;
        spaces
            .get(self.active.pid())
            .duplicates
            .get(&base)
            .copied()
            .filter(|d| d.ptr == ptr)
    }

    /// Makes a duplicate region of `size + 16` bytes in the active process as
    /// VirtualAlloc(NULL, size + 16, MEM_COMMIT, PAGE_READWRITE) would, records it, and
    /// returns the pointer handed out (base + 16). Sets no last error.
    fn new_duplicate(
        &mut self,
        src: u32,
        size: u32,
        desc: ArgDescriptor,
        cb: u32,
    ) -> Result<Duplicate, HResult> {
        let total = size
            .checked_add(DUPLICATE_HEADER)
            .ok_or(HResult::E_INVALIDARG)?;
        let active = self.active.clone();
        if !active.is_alive() {
            return Err(HResult::E_OUTOFMEMORY);
        }
        let base = self
            .alloc_in(&active, 0, total, AllocType::COMMIT, Protection::READWRITE)
            .map_err(|_| HResult::E_OUTOFMEMORY)?;
        let d = Duplicate {
            ptr: base + DUPLICATE_HEADER,
            source: src,
            size,
            source_process: self.caller_vm_process_id(),
            desc: desc.0,
            cb,
        };
        let mut spaces = Spaces::for_range(self.kernel.nk(), &active, base, 1)
            .map_err(|_| HResult::E_OUTOFMEMORY)?;
        let space = spaces.get(active.pid());
        // Another host thread may have released the region in between.
        if space.records.get(&base).is_none_or(|r| r.size != total) {
            return Err(HResult::E_OUTOFMEMORY);
        }
        space.duplicates.insert(base, d);
        drop(spaces);
        let what = format!(
            "the marshalling duplicate 0x{:08X} of 0x{size:X} bytes (source 0x{src:08X})",
            d.ptr
        );
        self.audit_item(crate::audit::ItemKind::Duplicate, active.pid(), base, what);
        Ok(d)
    }

    /// Releases a duplicate's region as VirtualFree(base, 0, MEM_RELEASE) would (which
    /// also drops its record). Sets no last error.
    fn release_duplicate(&mut self, d: &Duplicate) -> Result<(), HResult> {
        let active = self.active.clone();
        self.free_in(&active, d.ptr - DUPLICATE_HEADER, 0, AllocType::RELEASE)
            .map_err(|_| HResult::E_INVALIDARG)
    }

    /// Puts `data` into the duplicate `d` (the helper's own memory, reached as kernel-mode
    /// code of the active process reaches it).
    fn fill_duplicate(&self, d: &Duplicate, data: &[u8]) -> bool {
        match self.kernel.host_range(
            &self.active,
            d.ptr,
            data.len(),
            AccessKind::Write,
            Mode::Kernel,
        ) {
            Ok(range) => {
                range.copy_from_slice(data);
                true
            }
            Err(_) => false,
        }
    }

    /// The first `n` bytes of the duplicate `d`.
    fn duplicate_bytes(&self, d: &Duplicate, n: u32) -> Option<Vec<u8>> {
        let range = self
            .kernel
            .host_range(
                &self.active,
                d.ptr,
                n as usize,
                AccessKind::Read,
                Mode::Kernel,
            )
            .ok()?;
        let mut buf = vec![0u8; n as usize];
        range.copy_to_slice(&mut buf);
        Some(buf)
    }

    /// A duplicate of `size` bytes at `src` (§7 "Duplicates"): made, then copied in; a
    /// fault frees it (E_ACCESSDENIED).
    fn make_duplicate(
        &mut self,
        src: u32,
        size: u32,
        desc: ArgDescriptor,
        cb: u32,
        how: CopyIn,
    ) -> Result<u32, HResult> {
        let d = self.new_duplicate(src, size, desc, cb)?;
        let direct = how == CopyIn::Direct
            || self.mode == Mode::Kernel
            || self.caller_vm_process_id() == self.current_process_id();
        let mut data = vec![0u8; size as usize];
        let read = if direct {
            self.read_bytes(src, &mut data).is_ok()
        } else {
            self.read_process_memory_into(Handle(d.source_process.0), src, &mut data)
                .is_ok()
        };
        if !read || !self.fill_duplicate(&d, &data) {
            let _ = self.release_duplicate(&d);
            return Err(HResult::E_ACCESSDENIED);
        }
        Ok(d.ptr)
    }

    /// The live duplicate `ptr` of the active process, checked against the cb of a freeing
    /// or flushing call ([cevm] rules of §7): E_INVALIDARG when it is not one, or when cb
    /// is larger than it.
    fn duplicate_for(&self, ptr: u32, cb: u32) -> Result<Duplicate, HResult> {
        let d = self.live_duplicate(ptr).ok_or(HResult::E_INVALIDARG)?;
        if cb > d.size {
            return Err(HResult::E_INVALIDARG);
        }
        Ok(d)
    }

    /// Writes the first `cb` bytes of duplicate `d` back to `target` (§7 "Write-back").
    fn write_back(
        &mut self,
        d: &Duplicate,
        target: u32,
        cb: u32,
        desc: ArgDescriptor,
        how: WriteBack,
    ) -> HResult {
        if !desc.has_o_bit() {
            return HResult::S_OK;
        }
        if cb == 0 {
            return HResult::E_INVALIDARG;
        }
        let Some(data) = self.duplicate_bytes(d, cb) else {
            return HResult::E_ACCESSDENIED;
        };
        let direct = match (how, self.mode) {
            (WriteBack::Direct, _) => true,
            (WriteBack::ByRule, Mode::Kernel) => {
                self.caller_vm_process_id() == d.source_process
                    && self.owner_process() != self.current_process_id()
            }
            (WriteBack::ByRule, Mode::User) => d.source_process == self.current_process_id(),
        };
        if direct {
            match self.write_bytes(target, &data) {
                Ok(()) => HResult::S_OK,
                Err(_) => HResult::E_ACCESSDENIED,
            }
        } else {
            match self.write_process_memory(Handle(d.source_process.0), target, &data) {
                Ok(_) => HResult::S_OK,
                Err(e) => HResult::from_win32(e.win32()),
            }
        }
    }

    /// Frees the duplicate `ptr`: the [cevm] checks, the write-back to `target` (when
    /// `how` is given), then the release whatever it gave; returns the write-back result.
    fn free_duplicate(
        &mut self,
        ptr: u32,
        target: u32,
        cb: u32,
        desc: ArgDescriptor,
        how: Option<WriteBack>,
    ) -> Result<(), HResult> {
        let d = self.duplicate_for(ptr, cb)?;
        let hr = match how {
            Some(how) => self.write_back(&d, target, cb, desc, how),
            None => HResult::S_OK,
        };
        self.release_duplicate(&d)?;
        ok_or(hr)
    }

    /// The user-mode page-by-page read of a string of unknown length in another process
    /// (§7.1): the duplicate holds the bytes from `p` to the end of the page that holds the
    /// terminator. Reading one more page at a time gives the same result, error and last
    /// error as re-reading the growing chunk from `p` each time.
    fn duplicate_foreign_string(
        &mut self,
        p: u32,
        desc: ArgDescriptor,
        char_size: u32,
    ) -> Result<u32, HResult> {
        let source = Handle(self.caller_vm_process_id().0);
        let mut data: Vec<u8> = Vec::new();
        let mut chunk = 0x1000 - (p & 0xFFF);
        loop {
            if !user_read_ok(p, chunk) {
                return Err(HResult::E_ACCESSDENIED);
            }
            // Each round of CE's loop first allocates the chunk's duplicate: without the
            // frames for it the round fails, and nothing larger than RAM is ever read.
            let pages = (u64::from(chunk) + u64::from(DUPLICATE_HEADER)).div_ceil(0x1000);
            if pages > self.kernel.phys().free_frames() as u64 {
                return Err(HResult::E_OUTOFMEMORY);
            }
            let from = data.len() as u32;
            let mut more = vec![0u8; (chunk - from) as usize];
            self.read_process_memory_into(source, p + from, &mut more)
                .map_err(|_| HResult::E_ACCESSDENIED)?;
            data.extend_from_slice(&more);
            // Scan only what was just read, on character boundaries counted from p; a
            // character split by the previous page end is complete now and scanned too.
            let start = (from as usize) / char_size as usize * char_size as usize;
            let found = data[start..]
                .chunks_exact(char_size as usize)
                .any(|c| c.iter().all(|&b| b == 0));
            if found {
                break;
            }
            chunk = chunk.checked_add(0x1000).ok_or(HResult::E_ACCESSDENIED)?;
        }
        let d = self.new_duplicate(p, chunk, desc, 0)?;
        if !self.fill_duplicate(&d, &data) {
            let _ = self.release_duplicate(&d);
            return Err(HResult::E_ACCESSDENIED);
        }
        Ok(d.ptr)
    }

    // ---- §7.1 --------------------------------------------------------------------------

    /// `CeOpenCallerBuffer` (§7.1): the pointer a server uses for its caller's buffer
    /// `(src, cb, desc)`: `src` itself, or a duplicate (always in user mode, or with
    /// `force_duplicate`). On failure nothing is written.
    pub fn ce_open_caller_buffer(
        &mut self,
        src: u32,
        cb: u32,
        desc: ArgDescriptor,
        force_duplicate: bool,
    ) -> Result<u32, MarshalFailure> {
        match self.mode {
            Mode::Kernel => {
                // 1–2. NULL source; effective size.
                if src == 0 {
                    return Err(HResult::E_INVALIDARG.into());
                }
                let size = self
                    .effective_size(src, cb, desc)
                    .ok_or(HResult::E_INVALIDARG)?;
                // 3. The range rule, unless kernel code calls kernel code.
                if self.direct_caller_process_id() != self.current_process_id()
                    && !passes_range_rule(src, size, desc)
                {
                    return Err(HResult::E_ACCESSDENIED.into());
                }
                // 4–5. A duplicate when forced, or for an input buffer in the shared heap.
                if force_duplicate || (!desc.has_o_bit() && shared_heap_overlap(src, size)) {
                    return Ok(self.make_duplicate(src, size, desc, cb, CopyIn::ByRule)?);
                }
                // 6. Used in place.
                Ok(src)
            }
            Mode::User => {
                if src == 0 {
                    return Err(HResult::E_INVALIDARG.into());
                }
                match self.effective_size(src, cb, desc) {
                    Some(size) => {
                        if !passes_range_rule(src, size, desc) {
                            return Err(HResult::E_ACCESSDENIED.into());
                        }
                        Ok(self.make_duplicate(src, size, desc, cb, CopyIn::ByRule)?)
                    }
                    None => {
                        let foreign = self.caller_vm_process_id() != self.current_process_id();
                        let exact = desc == ArgDescriptor::I_WSTR || desc == ArgDescriptor::I_ASTR;
                        match desc.string_char_size() {
                            Some(char_size) if cb == 0 && foreign && exact => {
                                Ok(self.duplicate_foreign_string(src, desc, char_size)?)
                            }
                            _ => Err(HResult::E_INVALIDARG.into()),
                        }
                    }
                }
            }
        }
    }

    /// `CeCloseCallerBuffer` (§7.1): frees what CeOpenCallerBuffer made (writing an output
    /// duplicate back). Keeps the last error as it was.
    pub fn ce_close_caller_buffer(
        &mut self,
        dest: u32,
        src: u32,
        cb: u32,
        desc: ArgDescriptor,
    ) -> Result<(), HResult> {
        let saved = self.last_error();
        self.audit_marshal("CeCloseCallerBuffer", dest, src, cb, desc);
        let r = if dest == 0 || src == 0 {
            Err(HResult::E_INVALIDARG)
        } else if dest != src {
            self.free_duplicate(dest, src, cb, desc, Some(WriteBack::ByRule))
        } else if self.mode == Mode::Kernel {
            Ok(())
        } else {
            Err(HResult::E_INVALIDARG)
        };
        self.set_last_error(saved);
        r
    }

    // ---- §7.2 --------------------------------------------------------------------------

    /// `CeAllocAsynchronousBuffer` (§7.2): a pointer to the caller's buffer that stays
    /// usable after the call returns: `src` itself, a duplicate (cb ≤ 520) or an alias
    /// made by VirtualAllocCopyEx (kernel mode). In the shared-heap case the duplicate is
    /// made and the call still fails ([`MarshalFailure::written`]).
    pub fn ce_alloc_asynchronous_buffer(
        &mut self,
        src: u32,
        cb: u32,
        desc: ArgDescriptor,
    ) -> Result<u32, MarshalFailure> {
        // 1–2. NULL source; effective size.
        if src == 0 {
            return Err(HResult::E_INVALIDARG.into());
        }
        let size = self
            .effective_size(src, cb, desc)
            .ok_or(HResult::E_INVALIDARG)?;
        if self.mode == Mode::User {
            return Ok(src);
        }
        // 4. Not a caller's user pointer: already marshalled.
        if !passes_range_rule(src, size, desc) {
            return Ok(src);
        }
        // 3a. An input buffer in the shared heap: duplicated, and still E_INVALIDARG.
        if !desc.has_o_bit() && shared_heap_overlap(src, size) {
            let written = self
                .make_duplicate(src, size, desc, cb, CopyIn::ByRule)
                .ok();
            return Err(MarshalFailure {
                hr: HResult::E_INVALIDARG,
                written,
            });
        }
        // 3b. Small buffers are copied in and out.
        if is_cico(cb, desc) {
            return Ok(self.make_duplicate(src, size, desc, cb, CopyIn::ByRule)?);
        }
        // 3c. An alias of the caller's pages in the active process.
        let prot = if desc.has_o_bit() {
            Protection::READWRITE
        } else {
            Protection::READONLY
        };
        let vm = Handle(self.caller_vm_process_id().0);
        let r = self
            .virtual_alloc_copy_ex(vm, Handle::CURRENT_PROCESS, src, size, prot)
            .map_err(|_| HResult::from_win32(self.last_error()).into());
        if let Ok(ptr) = &r {
            self.audit_helper_alias(*ptr, cb, desc);
        }
        r
    }

    /// `CeFreeAsynchronousBuffer` (§7.2): undoes CeAllocAsynchronousBuffer, recomputing its
    /// choice from these arguments (the cb passed here).
    pub fn ce_free_asynchronous_buffer(
        &mut self,
        async_ptr: u32,
        src: u32,
        cb: u32,
        desc: ArgDescriptor,
    ) -> Result<(), HResult> {
        self.audit_marshal("CeFreeAsynchronousBuffer", async_ptr, src, cb, desc);
        if async_ptr == 0 || src == 0 {
            return Err(HResult::E_INVALIDARG);
        }
        if async_ptr == src || self.mode == Mode::User {
            return Ok(());
        }
        if !desc.has_o_bit() && shared_heap_overlap(src, cb) {
            return self.free_duplicate(async_ptr, src, cb, desc, None);
        }
        if is_cico(cb, desc) {
            return self.free_duplicate(async_ptr, src, cb, desc, Some(WriteBack::ByRule));
        }
        // An alias: a live duplicate here is a mismatched free ([cevm]).
        if self.live_duplicate(async_ptr).is_some() {
            return Err(HResult::E_INVALIDARG);
        }
        self.virtual_free_ex(
            Handle::CURRENT_PROCESS,
            async_ptr & !0xFFFF,
            0,
            AllocType::RELEASE,
        )
        .map_err(|_| HResult::from_win32(self.last_error()))
    }

    // ---- §7.3 --------------------------------------------------------------------------

    /// `CeFlushAsynchronousBuffer` (§7.3): writes an output buffer's duplicate back while
    /// keeping it.
    pub fn ce_flush_asynchronous_buffer(
        &mut self,
        async_ptr: u32,
        src: u32,
        src_unmarshalled: u32,
        cb: u32,
        desc: ArgDescriptor,
    ) -> Result<(), HResult> {
        self.audit_marshal("CeFlushAsynchronousBuffer", async_ptr, src, cb, desc);
        if async_ptr == 0 || src == 0 {
            return Err(HResult::E_INVALIDARG);
        }
        if !desc.has_o_bit() {
            return Err(HResult::from_win32(
                crate::error::ErrorCode::NotSupported.code(),
            ));
        }
        if self.mode == Mode::Kernel && async_ptr != src {
            if !is_cico(cb, desc) {
                // An alias: nothing to do, but a live duplicate here is a mismatch ([cevm]).
                if self.live_duplicate(async_ptr).is_some() {
                    return Err(HResult::E_INVALIDARG);
                }
                return Ok(());
            }
            let d = self.duplicate_for(async_ptr, cb)?;
            return ok_or(self.write_back(&d, src, cb, desc, WriteBack::ByRule));
        }
        if src_unmarshalled != 0 && src_unmarshalled != src {
            let d = self.duplicate_for(src, cb)?;
            return ok_or(self.write_back(&d, src_unmarshalled, cb, desc, WriteBack::ByRule));
        }
        Err(HResult::E_INVALIDARG)
    }

    // ---- §7.4 --------------------------------------------------------------------------

    /// `CeAllocDuplicateBuffer` (§7.4): always a duplicate, copied in as the thread reads;
    /// no range check.
    pub fn ce_alloc_duplicate_buffer(
        &mut self,
        src: u32,
        cb: u32,
        desc: ArgDescriptor,
    ) -> Result<u32, MarshalFailure> {
        if src == 0 {
            return Err(HResult::E_INVALIDARG.into());
        }
        let size = self
            .effective_size(src, cb, desc)
            .ok_or(HResult::E_INVALIDARG)?;
        Ok(self.make_duplicate(src, size, desc, cb, CopyIn::Direct)?)
    }

    /// `CeFreeDuplicateBuffer` (§7.4): writes an output duplicate back to `src` (by the
    /// write-back rule in kernel mode, directly in user mode) and frees it.
    pub fn ce_free_duplicate_buffer(
        &mut self,
        dest: u32,
        src: u32,
        cb: u32,
        desc: ArgDescriptor,
    ) -> Result<(), HResult> {
        if dest == 0 || src == 0 {
            return Err(HResult::E_INVALIDARG);
        }
        let how = match self.mode {
            Mode::Kernel => WriteBack::ByRule,
            Mode::User => WriteBack::Direct,
        };
        self.free_duplicate(dest, src, cb, desc, Some(how))
    }
}

/// An HRESULT as a result.
fn ok_or(hr: HResult) -> Result<(), HResult> {
    if hr.is_ok() { Ok(()) } else { Err(hr) }
}
