//! Frame references as a value: frames that each carry one reference the holder owns.
//!
//! Allocation and taking references make a [`FrameRefs`]; installing the frames in
//! page-table entries consumes it (the entries now hold the references); clearing entries
//! makes one again, which goes back to the pool (and its grace period). It cannot be
//! dropped by accident: it is `#[must_use]`, and dropping a non-empty one is a bug the
//! debug build reports (the invariant checker would find the count off by one).

use crate::phys::Pfn;

/// Frames that each carry one reference owned by this value.
#[must_use = "frame references must be installed in entries or given back to the pool"]
#[derive(Debug, Default)]
pub(crate) struct FrameRefs {
    frames: Vec<Pfn>,
    /// Known to be `frames[0], frames[0] + 1, …` (found by whoever made them, in a pass it
    /// made anyway; false when not known).
    consecutive: bool,
}

impl FrameRefs {
    /// No frames.
    pub fn new() -> Self {
        Self::default()
    }

    /// Frames whose references the caller owns: just allocated or just referenced by the
    /// pool, or just removed from the entries that held them.
    pub fn owning(frames: Vec<Pfn>) -> Self {
        Self {
            frames,
            consecutive: false,
        }
    }

    /// As [`owning`](Self::owning), where the maker knows whether the frames are
    /// consecutive.
    pub fn owning_known(frames: Vec<Pfn>, consecutive: bool) -> Self {
        Self {
            frames,
            consecutive,
        }
    }

    /// The first frame when the frames are known to be `first, first + 1, …`: the host
    /// windows then map them as one run without reading them.
    pub fn consecutive(&self) -> Option<Pfn> {
        if self.consecutive {
            self.frames.first().copied()
        } else {
            None
        }
    }

    /// The frames, in order.
    pub fn frames(&self) -> &[Pfn] {
        &self.frames
    }

    /// How many frames.
    pub fn len(&self) -> usize {
        self.frames.len()
    }

    /// Adds one owned reference (an entry just cleared).
    pub fn push(&mut self, pfn: Pfn) {
        self.frames.push(pfn);
        self.consecutive = false;
    }

    /// Takes over the references of `other`.
    pub fn append(&mut self, mut other: FrameRefs) {
        self.frames.append(&mut other.frames);
        self.consecutive = false;
    }

    /// Hands the references over to entries the caller installs, one per frame, in order.
    pub fn install(mut self) -> std::vec::IntoIter<Pfn> {
        std::mem::take(&mut self.frames).into_iter()
    }

    /// Hands the references over to whoever frees them (the pool).
    pub(crate) fn into_released(mut self) -> Vec<Pfn> {
        std::mem::take(&mut self.frames)
    }
}

impl Drop for FrameRefs {
    fn drop(&mut self) {
        debug_assert!(
            self.frames.is_empty() || std::thread::panicking(),
            "{} frame references dropped without being installed or released",
            self.frames.len()
        );
    }
}
