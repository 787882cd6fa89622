//! The host memory that holds guest RAM: one arena mapped once for the kernel's lifetime.
//!
//! On Linux it is a `memfd_create` file mapped shared, so frames can later be mapped again
//! into other host windows, and freed frames go back to the host with
//! `fallocate(PUNCH_HOLE)`. Elsewhere it is an anonymous mapping and freed frames are simply
//! zeroed on reuse.

use std::ptr::NonNull;

use crate::consts::PAGE_SIZE;

/// A fixed-size block of host memory that guest RAM frames live in.
#[derive(Debug)]
pub struct Arena {
    base: NonNull<u8>,
    len: usize,
    #[cfg(target_os = "linux")]
    fd: rustix::fd::OwnedFd,
}

// SAFETY: the arena owns its mapping (unmapped only in Drop) and the pointer never changes;
// nothing about it is tied to the thread that made it.
unsafe impl Send for Arena {}
// SAFETY: `&Arena` hands out only raw pointers (`frame_ptr`), never references into the
// mapping. The bytes are guest memory: several host threads may copy to and from the same
// frame at once, exactly as several CPUs may touch one RAM page, and every such copy is a
// raw `copy_nonoverlapping` between the mapping and a Rust buffer (host_range.rs, the
// translation cache, frame contents), so a race can tear the guest's bytes but never
// creates an aliasing reference or touches memory outside the mapping. `zero_frame` and
// `release_frames` are called only for frames the pool owns (free, past their grace
// period), which no guest access can reach.
unsafe impl Sync for Arena {}

impl Arena {
    /// Maps an arena of `len` bytes (a multiple of the page size), zero-filled.
    pub fn new(len: usize) -> std::io::Result<Self> {
        #[cfg(target_os = "linux")]
        {
            use rustix::fs::{MemfdFlags, ftruncate, memfd_create};
            use rustix::mm::{MapFlags, ProtFlags, mmap};
            let fd = memfd_create("cevm-ram", MemfdFlags::CLOEXEC)?;
            ftruncate(&fd, len as u64)?;
            // SAFETY: a fresh shared mapping of our own memfd, at an address the kernel
            // chooses; nothing else refers to that range.
            let p = unsafe {
                mmap(
                    std::ptr::null_mut(),
                    len.max(1),
                    ProtFlags::READ | ProtFlags::WRITE,
                    MapFlags::SHARED,
                    &fd,
                    0,
                )?
            };
            let base = NonNull::new(p.cast::<u8>()).ok_or(std::io::ErrorKind::OutOfMemory)?;
            Ok(Self { base, len, fd })
        }
        #[cfg(not(target_os = "linux"))]
        {
            use rustix::mm::{MapFlags, ProtFlags, mmap_anonymous};
            // SAFETY: a fresh private anonymous mapping at an address the kernel chooses.
            let p = unsafe {
                mmap_anonymous(
                    std::ptr::null_mut(),
                    len.max(1),
                    ProtFlags::READ | ProtFlags::WRITE,
                    MapFlags::PRIVATE,
                )?
            };
            let base = NonNull::new(p.cast::<u8>()).ok_or(std::io::ErrorKind::OutOfMemory)?;
            Ok(Self { base, len })
        }
    }

    /// Host pointer to frame `index` (frame-relative, not a physical frame number).
    ///
    /// # Panics
    ///
    /// When `index` is not a frame of the arena.
    pub fn frame_ptr(&self, index: usize) -> *mut u8 {
        let off = index
            .checked_mul(PAGE_SIZE as usize)
            .filter(|&o| o < self.len)
            .unwrap_or_else(|| panic!("frame {index} is outside the arena"));
        // SAFETY: off < len, so the result stays inside the mapping.
        unsafe { self.base.as_ptr().add(off) }
    }

    /// The memfd holding the arena's bytes (offset of frame `index` is `index * 4096`),
    /// which host windows map again.
    #[cfg(target_os = "linux")]
    pub fn fd(&self) -> rustix::fd::BorrowedFd<'_> {
        use rustix::fd::AsFd;
        self.fd.as_fd()
    }

    /// Fills frame `index` with zeros.
    pub fn zero_frame(&self, index: usize) {
        // SAFETY: frame_ptr points at PAGE_SIZE bytes inside the live mapping.
        unsafe { std::ptr::write_bytes(self.frame_ptr(index), 0, PAGE_SIZE as usize) };
    }

    /// Gives `count` frames starting at `index` back to the host. Returns whether the
    /// host took them (otherwise they stay resident with their bytes).
    pub fn release_frames(&self, index: usize, count: usize) -> bool {
        #[cfg(target_os = "linux")]
        {
            use rustix::fs::{FallocateFlags, fallocate};
            let off = (index * PAGE_SIZE as usize) as u64;
            let len = (count * PAGE_SIZE as usize) as u64;
            fallocate(
                &self.fd,
                FallocateFlags::PUNCH_HOLE | FallocateFlags::KEEP_SIZE,
                off,
                len,
            )
            .is_ok()
        }
        #[cfg(not(target_os = "linux"))]
        {
            let _ = (index, count);
            false
        }
    }
}

impl Drop for Arena {
    fn drop(&mut self) {
        // SAFETY: the mapping was made in `new` with this base and length and no pointer
        // into it outlives the arena (the kernel owns it and frees it last).
        let _ = unsafe { rustix::mm::munmap(self.base.as_ptr().cast(), self.len.max(1)) };
    }
}
