//! A guest range brought in and pinned as host memory: the one home of the copies between
//! guest frames and Rust buffers (in the manner of vm-memory's slices).
//!
//! A [`HostRange`] holds the space locks of the tables it was translated through, so no
//! frame it names can lose its last reference (and so change owner) while it lives; its
//! pieces are runs of consecutive frames in one host mapping, so a large copy runs at
//! memcpy speed.

use std::ptr::NonNull;

use crate::process::Spaces;

/// One run of guest bytes in one host mapping.
#[derive(Debug, Clone, Copy)]
struct Piece {
    /// Offset of the piece in the guest range.
    at: usize,
    /// Host address of its first byte.
    host: NonNull<u8>,
    len: usize,
}

/// The host memory behind `[a, a + len)` of a guest range, pinned while it lives.
pub(crate) struct HostRange<'a> {
    _locks: Option<Spaces<'a>>,
    pieces: Vec<Piece>,
    len: usize,
}

impl<'a> HostRange<'a> {
    /// An empty range (nothing to copy).
    pub fn empty() -> Self {
        Self {
            _locks: None,
            pieces: Vec::new(),
            len: 0,
        }
    }

    /// A range over `locks` made of `(host, len)` runs of consecutive guest bytes, in
    /// order; each run lies in one host mapping.
    ///
    /// # Safety
    ///
    /// Every run must be valid host memory for `len` bytes (a RAM arena or device buffer
    /// mapping of the kernel the locks belong to), and the frames behind it must keep
    /// their references while `locks` are held.
    pub unsafe fn new(locks: Spaces<'a>, runs: Vec<(NonNull<u8>, usize)>) -> Self {
        let mut pieces = Vec::with_capacity(runs.len());
        let mut at = 0;
        for (host, len) in runs {
            pieces.push(Piece { at, host, len });
            at += len;
        }
        Self {
            _locks: Some(locks),
            pieces,
            len: at,
        }
    }

    /// Copies the whole range into `out` (`out.len()` must be the range's length).
    pub fn copy_to_slice(&self, out: &mut [u8]) {
        assert_eq!(
            out.len(),
            self.len,
            "buffer and guest range differ in length"
        );
        for p in &self.pieces {
            // SAFETY: `new`'s contract makes p.host valid for p.len bytes while the locks
            // are held (they are, by self); p.at + p.len <= self.len = out.len(); `out` is
            // a Rust buffer and guest memory is never one, so they do not overlap.
            // Concurrent guest accesses to the same frames may tear the bytes, as two
            // CPUs racing on shared RAM would, but cannot reach outside the frames.
            unsafe {
                std::ptr::copy_nonoverlapping(p.host.as_ptr(), out.as_mut_ptr().add(p.at), p.len)
            };
        }
    }

    /// Copies `data` over the whole range (`data.len()` must be the range's length).
    pub fn copy_from_slice(&self, data: &[u8]) {
        assert_eq!(
            data.len(),
            self.len,
            "buffer and guest range differ in length"
        );
        for p in &self.pieces {
            // SAFETY: as in `copy_to_slice`, in the other direction.
            unsafe {
                std::ptr::copy_nonoverlapping(data.as_ptr().add(p.at), p.host.as_ptr(), p.len)
            };
        }
    }
}

/// Copies `len` bytes between a host frame address and a Rust buffer: the translation
/// cache's one copy.
///
/// # Safety
///
/// `host` must be valid for `len` bytes of a mapped frame that cannot change owner during
/// the copy (the caller is inside its access window), and the buffer must hold `len` bytes.
#[inline(always)]
pub(crate) unsafe fn copy_cached(host: *mut u8, buf: Direction<'_>) {
    match buf {
        // SAFETY: the caller's contract; buffers are never guest memory.
        Direction::Read(out) => unsafe {
            std::ptr::copy_nonoverlapping(host, out.as_mut_ptr(), out.len())
        },
        // SAFETY: as above.
        Direction::Write(data) => unsafe {
            std::ptr::copy_nonoverlapping(data.as_ptr(), host, data.len())
        },
    }
}

/// Which way a cached copy goes.
pub(crate) enum Direction<'b> {
    /// From guest memory into the buffer.
    Read(&'b mut [u8]),
    /// From the buffer into guest memory.
    Write(&'b [u8]),
}

impl Direction<'_> {
    /// The same copy, borrowed again.
    #[inline(always)]
    pub fn reborrow(&mut self) -> Direction<'_> {
        match self {
            Direction::Read(b) => Direction::Read(b),
            Direction::Write(b) => Direction::Write(b),
        }
    }

    /// The number of bytes copied.
    #[inline(always)]
    pub fn len(&self) -> usize {
        match self {
            Direction::Read(b) => b.len(),
            Direction::Write(b) => b.len(),
        }
    }
}
