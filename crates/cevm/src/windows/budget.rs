//! The host-mapping budget: how many runs all windows together may have mapped.
//!
//! Linux caps the mappings of a process at `vm.max_map_count`. A run mapped inside a
//! no-access window splits the reservation around it, so it costs up to two host
//! mappings; the budget is half the limit less a headroom for everything else the host
//! program maps. cevm keeps its own count and never fails a CE call because of it: a run
//! that finds no room stays unmapped and its pages go to the fault path.

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

/// Mappings kept free for the rest of the host program (its heap, libraries, threads).
const HEADROOM: usize = 8192;

/// The limit of runs and the count of what is used.
#[derive(Debug)]
pub(crate) struct Budget {
    limit: usize,
    used: AtomicUsize,
    /// Accessible pages currently left unmapped for the fault path.
    left: AtomicU64,
}

/// The host's `vm.max_map_count` (65 530 when it cannot be read).
fn host_limit() -> usize {
    std::fs::read_to_string("/proc/sys/vm/max_map_count")
        .ok()
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(65_530)
}

impl Budget {
    /// `limit` runs when given, else what the host allows.
    pub fn new(limit: Option<usize>) -> Self {
        let limit = limit.unwrap_or_else(|| (host_limit().saturating_sub(HEADROOM) / 2).max(64));
        Self {
            limit,
            used: AtomicUsize::new(0),
            left: AtomicU64::new(0),
        }
    }

    /// The limit in runs.
    pub fn limit(&self) -> usize {
        self.limit
    }

    /// Runs mapped now.
    pub fn used(&self) -> usize {
        self.used.load(Ordering::Relaxed)
    }

    /// Accessible pages left to the fault path now.
    pub fn left(&self) -> u64 {
        self.left.load(Ordering::Relaxed)
    }

    /// Takes room for one run; false when the budget is spent.
    pub fn try_take(&self) -> bool {
        self.used
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |u| {
                (u < self.limit).then_some(u + 1)
            })
            .is_ok()
    }

    /// Takes room for a mapping that must exist (a window's static mapping).
    pub fn force_take(&self) {
        self.used.fetch_add(1, Ordering::Relaxed);
    }

    /// Gives back room for `n` runs.
    pub fn give(&self, n: usize) {
        self.used.fetch_sub(n, Ordering::Relaxed);
    }

    /// Counts `n` more pages left to the fault path.
    pub fn leave(&self, n: u64) {
        self.left.fetch_add(n, Ordering::Relaxed);
    }

    /// Counts `n` fewer pages left to the fault path.
    pub fn unleave(&self, n: u64) {
        self.left.fetch_sub(n, Ordering::Relaxed);
    }
}
