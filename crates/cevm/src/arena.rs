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

// SAFETY: the arena is a plain block of memory owned by this value; the pointer is never
// reallocated, and all access goes through raw-pointer copies documented at each use.
unsafe impl Send for Arena {}
// SAFETY: as above; concurrent guest accesses to the same bytes are the guest's business
// (like two CPUs touching shared RAM) and are performed with raw copies, never references.
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
    /// The caller keeps `index` below `len / PAGE_SIZE`.
    pub fn frame_ptr(&self, index: usize) -> *mut u8 {
        debug_assert!(index * (PAGE_SIZE as usize) < self.len);
        // SAFETY: the offset stays inside the mapping because index < frame count.
        unsafe { self.base.as_ptr().add(index * PAGE_SIZE as usize) }
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
