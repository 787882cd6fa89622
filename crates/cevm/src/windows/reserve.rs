//! The host range of one window: 4 GiB reserved with no access, aligned to 4 GiB, so the
//! host address of guest address `va` is `base + va` and its low 32 bits are `va`.

use std::ptr::NonNull;

use rustix::mm::{MapFlags, MprotectFlags, ProtFlags, mmap, mmap_anonymous, mprotect, munmap};

/// Bytes of one window.
pub(crate) const WINDOW_BYTES: usize = 1 << 32;

/// A reserved 4 GiB host range; unmapped when dropped.
#[derive(Debug)]
pub(crate) struct WindowRange {
    base: NonNull<u8>,
}

// SAFETY: the range is owned by this value (unmapped only in Drop) and only raw addresses
// into it are handed out; nothing about it is tied to the thread that reserved it.
unsafe impl Send for WindowRange {}
// SAFETY: `&WindowRange` gives out only addresses; every change to the host mappings inside
// it is made by the window sync under the lock of the space whose entries it mirrors.
unsafe impl Sync for WindowRange {}

impl WindowRange {
    /// Reserves 8 GiB with no access and no swap reservation, then gives back all but the
    /// 4 GiB-aligned 4 GiB inside it.
    pub fn new() -> std::io::Result<Self> {
        let len = 2 * WINDOW_BYTES;
        // SAFETY: a fresh private anonymous reservation at an address the host chooses;
        // nothing else refers to that range.
        let p = unsafe {
            mmap_anonymous(
                std::ptr::null_mut(),
                len,
                ProtFlags::empty(),
                MapFlags::PRIVATE | MapFlags::NORESERVE,
            )?
        };
        let start = p as usize;
        let base = start.div_ceil(WINDOW_BYTES) * WINDOW_BYTES;
        let head = base - start;
        let tail = len - head - WINDOW_BYTES;
        // SAFETY: both pieces lie inside the reservation just made and outside the kept
        // aligned range; nobody else knows about them.
        unsafe {
            if head > 0 {
                munmap(p, head)?;
            }
            if tail > 0 {
                munmap((base + WINDOW_BYTES) as *mut _, tail)?;
            }
        }
        let base = NonNull::new(base as *mut u8).ok_or(std::io::ErrorKind::OutOfMemory)?;
        Ok(Self { base })
    }

    /// The host address of guest address 0.
    pub fn base(&self) -> *mut u8 {
        self.base.as_ptr()
    }

    fn at(&self, va: u64) -> *mut std::ffi::c_void {
        debug_assert!(va < WINDOW_BYTES as u64);
        (self.base.as_ptr() as usize + va as usize) as *mut _
    }

    /// Maps `len` bytes of `fd` from `offset` at guest address `va`, shared, replacing
    /// whatever was there.
    pub fn map(
        &self,
        va: u64,
        len: usize,
        fd: rustix::fd::BorrowedFd<'_>,
        offset: u64,
        write: bool,
    ) -> std::io::Result<()> {
        let prot = if write {
            ProtFlags::READ | ProtFlags::WRITE
        } else {
            ProtFlags::READ
        };
        // SAFETY: `[va, va + len)` lies inside this window, a range this value owns and
        // that no Rust reference points into; MAP_FIXED replaces only pages of it.
        unsafe {
            mmap(
                self.at(va),
                len,
                prot,
                MapFlags::SHARED | MapFlags::FIXED,
                fd,
                offset,
            )?;
        }
        Ok(())
    }

    /// Makes `[va, va + len)` no-access again (the frames it mapped are no longer
    /// reachable through it once this returns: the host shoots down its TLB entries).
    pub fn reset(&self, va: u64, len: usize) -> std::io::Result<()> {
        // SAFETY: as in `map`: a range inside the window this value owns.
        let r = unsafe {
            mmap_anonymous(
                self.at(va),
                len,
                ProtFlags::empty(),
                MapFlags::PRIVATE | MapFlags::FIXED | MapFlags::NORESERVE,
            )
        };
        if r.is_ok() {
            return Ok(());
        }
        // SAFETY: the same range; taking all access away needs no new mapping.
        let p = unsafe { mprotect(self.at(va), len, MprotectFlags::empty()) };
        p.map_err(Into::into)
    }
}

impl Drop for WindowRange {
    fn drop(&mut self) {
        // SAFETY: the range was reserved in `new` and is owned by this value; the window
        // registry forgets its address before the last reference goes.
        let _ = unsafe { munmap(self.base.as_ptr().cast(), WINDOW_BYTES) };
    }
}
