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
pub(crate) struct FrameRefs(Vec<Pfn>);

impl FrameRefs {
    /// No frames.
    pub fn new() -> Self {
        Self(Vec::new())
    }

    /// Frames whose references the caller owns: just allocated or just referenced by the
    /// pool, or just removed from the entries that held them.
    pub fn owning(frames: Vec<Pfn>) -> Self {
        Self(frames)
    }

    /// The frames, in order.
    pub fn frames(&self) -> &[Pfn] {
        &self.0
    }

    /// How many frames.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Adds one owned reference (an entry just cleared).
    pub fn push(&mut self, pfn: Pfn) {
        self.0.push(pfn);
    }

    /// Takes over the references of `other`.
    pub fn append(&mut self, mut other: FrameRefs) {
        self.0.append(&mut other.0);
    }

    /// Hands the references over to entries the caller installs, one per frame, in order.
    pub fn install(mut self) -> std::vec::IntoIter<Pfn> {
        std::mem::take(&mut self.0).into_iter()
    }

    /// Hands the references over to whoever frees them (the pool).
    pub(crate) fn into_released(mut self) -> Vec<Pfn> {
        std::mem::take(&mut self.0)
    }
}

impl Drop for FrameRefs {
    fn drop(&mut self) {
        debug_assert!(
            self.0.is_empty() || std::thread::panicking(),
            "{} frame references dropped without being installed or released",
            self.0.len()
        );
    }
}
