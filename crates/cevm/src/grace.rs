//! The grace period: a frame whose last mapping goes away is not handed to a new owner
//! until every thread that might still be using an old translation of it has provably
//! finished that access.
//!
//! A thread's checked access that hits its translation cache takes no lock, so a release
//! in another thread cannot simply wait for it under a lock. Instead every [`Thread`]
//! owns an [`AccessSlot`]: a counter it makes odd when it enters a cached access and even
//! when it leaves, with plain stores and a compiler fence (no read-modify-write, no fence
//! instruction: the fast path stays at plain loads and stores). The rare side pays for the
//! ordering: [`Readers::synchronize`] first runs one process-wide memory barrier (Linux
//! `membarrier(MEMBARRIER_CMD_PRIVATE_EXPEDITED)`, the asymmetric fence of userspace RCU),
//! after which every access either was visible as in flight (odd) or will load the
//! translation generation already bumped by the revoking call and so miss its cache; then
//! it waits until every slot seen odd has moved on. Where the barrier is not available
//! the access path falls back to a full fence of its own.
//!
//! Frames whose last reference is dropped while other threads exist wait in the frame
//! pool's limbo ("deferred") set; the pool ends their grace period with one
//! `synchronize` only when it is about to hand one of them out again, so a release never
//! waits. See DESIGN.md, "Revocation and the grace period".
//!
//! [`Thread`]: crate::Thread

use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering, compiler_fence, fence};
use std::sync::{Arc, Mutex, OnceLock};

/// One thread's "in an access" counter: odd while a cached access is in flight.
/// Padded to its own cache lines so threads never share one.
#[derive(Debug, Default)]
#[repr(align(128))]
pub(crate) struct AccessSlot {
    seq: AtomicU64,
}

impl AccessSlot {
    /// Marks the start of a cached access. Only the owning thread writes its slot, so a
    /// plain load and store suffice.
    #[inline(always)]
    pub fn enter(&self) {
        let v = self.seq.load(Ordering::Relaxed);
        self.seq.store(v.wrapping_add(1), Ordering::Relaxed);
        compiler_fence(Ordering::SeqCst);
        if !asymmetric() {
            fence(Ordering::SeqCst);
        }
    }

    /// Marks the end of the access: every load and store of the access happens before.
    #[inline(always)]
    pub fn leave(&self) {
        compiler_fence(Ordering::SeqCst);
        let v = self.seq.load(Ordering::Relaxed);
        self.seq.store(v.wrapping_add(1), Ordering::Release);
    }
}

/// Whether the process-wide barrier is available (decided once, before any access).
static ASYMMETRIC: AtomicBool = AtomicBool::new(false);
static BARRIER_SETUP: OnceLock<bool> = OnceLock::new();

#[inline(always)]
fn asymmetric() -> bool {
    ASYMMETRIC.load(Ordering::Relaxed)
}

/// Registers this process for expedited private barriers (once).
fn setup_barrier() {
    BARRIER_SETUP.get_or_init(|| {
        #[cfg(target_os = "linux")]
        {
            use rustix::thread::{MembarrierCommand, membarrier};
            let ok = membarrier(MembarrierCommand::RegisterPrivateExpedited).is_ok();
            ASYMMETRIC.store(ok, Ordering::SeqCst);
            ok
        }
        #[cfg(not(target_os = "linux"))]
        {
            false
        }
    });
}

/// A full memory barrier on every thread of this process that is running now.
fn process_barrier() {
    #[cfg(target_os = "linux")]
    if asymmetric() {
        use rustix::thread::{MembarrierCommand, membarrier};
        // Registration succeeded, so the expedited barrier does not fail; the global one
        // (slower, no registration) is there in case it ever does. Without either the
        // readers would not be ordered, and no answer would be safe.
        let ok = membarrier(MembarrierCommand::PrivateExpedited).is_ok()
            || membarrier(MembarrierCommand::Global).is_ok();
        assert!(
            ok,
            "the process-wide memory barrier failed after registration"
        );
        return;
    }
    // Without the asymmetric barrier every access runs a full fence itself.
    fence(Ordering::SeqCst);
}

/// Every thread's access slot, and how many threads exist.
#[derive(Debug)]
pub(crate) struct Readers {
    slots: Mutex<Vec<Arc<AccessSlot>>>,
    live: AtomicUsize,
}

impl Readers {
    pub fn new() -> Arc<Self> {
        setup_barrier();
        Arc::new(Self {
            slots: Mutex::new(Vec::new()),
            live: AtomicUsize::new(0),
        })
    }

    /// A slot for a new thread.
    pub fn register(&self) -> Arc<AccessSlot> {
        let slot = Arc::new(AccessSlot::default());
        let mut slots = self.slots.lock().unwrap_or_else(|e| e.into_inner());
        slots.push(slot.clone());
        self.live.store(slots.len(), Ordering::SeqCst);
        slot
    }

    /// Forgets the slot of a thread that is gone.
    pub fn unregister(&self, slot: &Arc<AccessSlot>) {
        let mut slots = self.slots.lock().unwrap_or_else(|e| e.into_inner());
        slots.retain(|s| !Arc::ptr_eq(s, slot));
        self.live.store(slots.len(), Ordering::SeqCst);
    }

    /// Whether a thread other than the caller could hold a translation. Every call that
    /// revokes a mapping is made by a thread, so with one thread alive that thread is the
    /// caller, which is not inside an access while it makes the call.
    pub fn others_may_translate(&self) -> bool {
        self.live.load(Ordering::SeqCst) > 1
    }

    /// Waits until every access that might use a translation from before this call has
    /// finished. The caller has already bumped the translation generation for what it
    /// revoked. Never takes a lock an access holds (accesses in flight hold none), so it
    /// may be called with any kernel lock held.
    pub fn synchronize(&self) {
        process_barrier();
        let slots: Vec<Arc<AccessSlot>> =
            self.slots.lock().unwrap_or_else(|e| e.into_inner()).clone();
        for slot in &slots {
            let seen = slot.seq.load(Ordering::Acquire);
            if seen & 1 == 0 {
                continue;
            }
            let mut spins = 0u32;
            while slot.seq.load(Ordering::Acquire) == seen {
                spins += 1;
                if spins < 128 {
                    std::hint::spin_loop();
                } else {
                    std::thread::yield_now();
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_slot_is_odd_only_inside_an_access() {
        let r = Readers::new();
        let s = r.register();
        assert_eq!(s.seq.load(Ordering::Relaxed) & 1, 0);
        s.enter();
        assert_eq!(s.seq.load(Ordering::Relaxed) & 1, 1);
        s.leave();
        assert_eq!(s.seq.load(Ordering::Relaxed) & 1, 0);
    }

    #[test]
    fn synchronize_waits_for_an_access_in_flight() {
        let r = Readers::new();
        let s = r.register();
        let _me = r.register();
        assert!(r.others_may_translate());
        s.enter();
        let done = Arc::new(AtomicBool::new(false));
        let waiter = {
            let (r, done) = (r.clone(), done.clone());
            std::thread::spawn(move || {
                r.synchronize();
                done.store(true, Ordering::SeqCst);
            })
        };
        std::thread::sleep(std::time::Duration::from_millis(50));
        assert!(
            !done.load(Ordering::SeqCst),
            "the grace period ended while an access was in flight"
        );
        s.leave();
        waiter.join().unwrap();
        assert!(done.load(Ordering::SeqCst));
    }

    #[test]
    fn one_thread_alone_needs_no_grace_period() {
        let r = Readers::new();
        let s = r.register();
        assert!(!r.others_may_translate());
        r.unregister(&s);
        assert!(!r.others_may_translate());
    }
}
