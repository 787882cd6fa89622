//! Physical memory: RAM frames in one host arena, their reference counts and free pool,
//! contiguous allocation for AllocPhysMem, and device ranges registered by the host.
//!
//! A RAM frame's count is the number of page-table entries that map it; a frame is free
//! exactly when its count is zero. Taking a reference on a free frame (an alias made by
//! physical address) takes it out of the pool, so it is never handed out twice.
//!
//! A frame whose count drops to zero while other threads exist is free but *deferred*:
//! a thread may still be finishing an access through an old translation of it. Before a
//! deferred frame is handed out again (allocated, or referenced by physical address) the
//! pool ends the grace period of every deferred frame with one
//! grace-period wait (see `grace.rs`).

use std::sync::{Arc, Mutex, MutexGuard, RwLock};

use crate::arena::Arena;
use crate::consts::PAGE_SIZE;
use crate::frame_refs::FrameRefs;
use crate::grace::Readers;

/// A physical frame number: physical address >> 12 (physical addresses have up to 40 bits).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Pfn(pub u64);

impl Pfn {
    /// Largest frame number an entry can hold (40-bit physical addresses).
    pub const MAX: u64 = (1 << 28) - 1;

    /// The frame's physical address.
    pub fn addr(self) -> u64 {
        self.0 << 12
    }
}

/// A range of device memory registered by the host program.
#[derive(Debug)]
pub struct Device {
    /// The name the host gave it.
    pub name: String,
    /// First frame.
    pub first: Pfn,
    /// Number of frames.
    pub pages: u64,
    /// Size in bytes as registered.
    pub bytes: u64,
    buf: Arena,
}

/// Where a frame's bytes live.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FrameKind {
    /// RAM frame with this index in the arena.
    Ram(usize),
    /// A frame of a registered device.
    Device,
}

/// The frame pool: reference counts, free bitmap and the free frames not yet given back
/// to the host.
#[derive(Debug)]
struct Pool {
    refs: Vec<u32>,
    /// One bit per frame, set when the frame is free.
    free: Vec<u64>,
    /// One bit per free frame still resident (not yet given back to the host).
    dirty: Vec<u64>,
    /// One bit per free frame still in its grace period (deferred).
    deferred: Vec<u64>,
    deferred_count: usize,
    free_count: usize,
    dirty_count: usize,
    /// Lowest word of `free` that may hold a set bit.
    hint: usize,
    /// Test-only fault injection: the number of allocations left before one fails.
    fail_countdown: Option<u64>,
    /// Test-only fault injection: host-arena operations left before one fails.
    host_fail_countdown: Option<u64>,
}

fn bit(v: &[u64], i: usize) -> bool {
    v[i / 64] >> (i % 64) & 1 == 1
}

fn set_bit(v: &mut [u64], i: usize, on: bool) {
    if on {
        v[i / 64] |= 1 << (i % 64);
    } else {
        v[i / 64] &= !(1 << (i % 64));
    }
}

/// RAM, devices and the frame pool.
#[derive(Debug)]
pub struct PhysicalMemory {
    arena: Arena,
    ram_first: Pfn,
    frames: usize,
    pool: Mutex<Pool>,
    devices: RwLock<Vec<Device>>,
    /// Freed frames kept resident before they are given back to the host in one batch.
    punch_threshold: usize,
    /// The threads whose accesses a freed frame's grace period waits for.
    readers: Arc<Readers>,
    /// Multi-frame allocations take the lowest run of consecutive free frames when one
    /// is found ([`crate::free_runs`]): host windows map such a run with one mapping.
    prefer_runs: bool,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl PhysicalMemory {
    /// RAM of `bytes` (a page multiple) at physical address `base` (page aligned).
    pub(crate) fn new(
        base: u64,
        bytes: u64,
        punch_threshold: usize,
        readers: Arc<Readers>,
        prefer_runs: bool,
    ) -> std::io::Result<Self> {
        let frames = (bytes / u64::from(PAGE_SIZE)) as usize;
        let arena = Arena::new(frames * PAGE_SIZE as usize)?;
        let words = frames.div_ceil(64);
        let mut free = vec![0u64; words];
        for i in 0..frames {
            set_bit(&mut free, i, true);
        }
        Ok(Self {
            arena,
            ram_first: Pfn(base >> 12),
            frames,
            pool: Mutex::new(Pool {
                refs: vec![0; frames],
                free,
                dirty: vec![0u64; words],
                deferred: vec![0u64; words],
                deferred_count: 0,
                free_count: frames,
                dirty_count: 0,
                hint: 0,
                fail_countdown: None,
                host_fail_countdown: None,
            }),
            devices: RwLock::new(Vec::new()),
            punch_threshold,
            readers,
            prefer_runs,
        })
    }

    /// Number of RAM frames.
    pub fn total_frames(&self) -> usize {
        self.frames
    }

    /// Number of free RAM frames.
    pub fn free_frames(&self) -> usize {
        lock(&self.pool).free_count
    }

    /// Physical address of the first RAM byte.
    pub fn ram_base(&self) -> u64 {
        self.ram_first.addr()
    }

    /// The RAM frame at `index`.
    pub fn ram_pfn(&self, index: usize) -> Pfn {
        Pfn(self.ram_first.0 + index as u64)
    }

    /// What kind of frame `pfn` is, or `None` when it is neither RAM nor a device.
    pub fn kind(&self, pfn: Pfn) -> Option<FrameKind> {
        if let Some(i) = self.ram_index(pfn) {
            return Some(FrameKind::Ram(i));
        }
        let devices = self.devices.read().unwrap_or_else(|e| e.into_inner());
        devices
            .iter()
            .any(|d| pfn.0 >= d.first.0 && pfn.0 - d.first.0 < d.pages)
            .then_some(FrameKind::Device)
    }

    /// The arena index of a RAM frame.
    pub fn ram_index(&self, pfn: Pfn) -> Option<usize> {
        let i = pfn.0.checked_sub(self.ram_first.0)?;
        (i < self.frames as u64).then_some(i as usize)
    }

    /// Registers `bytes` of device memory at physical address `pa` (page aligned). Fails
    /// when the range is empty, unaligned, beyond 40 bits, or overlaps RAM or a device.
    pub fn add_device(&self, name: &str, pa: u64, bytes: u64) -> Result<(), String> {
        if pa & 0xFFF != 0 {
            return Err(format!("device address 0x{pa:X} is not page aligned"));
        }
        if bytes == 0 || bytes > 1 << 30 {
            return Err(format!(
                "device size 0x{bytes:X} must be between 1 byte and 1 GiB"
            ));
        }
        let pages = bytes.div_ceil(u64::from(PAGE_SIZE));
        let first = pa >> 12;
        if first + pages > Pfn::MAX + 1 {
            return Err("device range goes beyond 40-bit physical addresses".into());
        }
        let overlaps = |a: u64, n: u64| first < a + n && a < first + pages;
        if overlaps(self.ram_first.0, self.frames as u64) {
            return Err(format!("device range 0x{pa:X}+0x{bytes:X} overlaps RAM"));
        }
        let mut devices = self.devices.write().unwrap_or_else(|e| e.into_inner());
        if let Some(d) = devices.iter().find(|d| overlaps(d.first.0, d.pages)) {
            return Err(format!("device range overlaps device '{}'", d.name));
        }
        if Self::count_down(&mut lock(&self.pool).host_fail_countdown) {
            return Err("the host refused memory for the device (injected)".into());
        }
        let buf = Arena::new((pages * u64::from(PAGE_SIZE)) as usize)
            .map_err(|e| format!("cannot allocate host memory for the device: {e}"))?;
        devices.push(Device {
            name: name.to_string(),
            first: Pfn(first),
            pages,
            bytes,
            buf,
        });
        Ok(())
    }

    /// The RAM arena's memfd (frame index `i` at offset `i * 4096`).
    #[cfg(target_os = "linux")]
    pub(crate) fn ram_fd(&self) -> rustix::fd::BorrowedFd<'_> {
        self.arena.fd()
    }

    /// The memfd of the device whose first frame is `first`, with its frame count.
    #[cfg(target_os = "linux")]
    pub(crate) fn device_fd(&self, first: Pfn) -> Option<(std::os::fd::OwnedFd, u64)> {
        let devices = self.devices.read().unwrap_or_else(|e| e.into_inner());
        let d = devices.iter().find(|d| d.first == first)?;
        Some((d.buf.fd().try_clone_to_owned().ok()?, d.pages))
    }

    /// `(name, physical address, bytes)` of every registered device.
    pub fn devices(&self) -> Vec<(String, u64, u64)> {
        let devices = self.devices.read().unwrap_or_else(|e| e.into_inner());
        devices
            .iter()
            .map(|d| (d.name.clone(), d.first.addr(), d.bytes))
            .collect()
    }

    /// The device holding `pfn`, by name.
    pub fn device_name(&self, pfn: Pfn) -> Option<String> {
        let devices = self.devices.read().unwrap_or_else(|e| e.into_inner());
        devices
            .iter()
            .find(|d| pfn.0 >= d.first.0 && pfn.0 - d.first.0 < d.pages)
            .map(|d| d.name.clone())
    }

    /// Host pointer to the 4 KiB of frame `pfn`, or `None` for a frame that is neither
    /// RAM nor device memory.
    pub fn host_ptr(&self, pfn: Pfn) -> Option<*mut u8> {
        if let Some(i) = self.ram_index(pfn) {
            return Some(self.arena.frame_ptr(i));
        }
        let devices = self.devices.read().unwrap_or_else(|e| e.into_inner());
        let d = devices
            .iter()
            .find(|d| pfn.0 >= d.first.0 && pfn.0 - d.first.0 < d.pages)?;
        // Device buffers are never dropped while the kernel lives, so the pointer stays valid.
        Some(d.buf.frame_ptr((pfn.0 - d.first.0) as usize))
    }

    /// Copies the 4 KiB of frame `pfn` into `out`; false for a frame that is neither RAM
    /// nor device memory.
    pub fn copy_frame(&self, pfn: Pfn, out: &mut [u8]) -> bool {
        let Some(p) = self.host_ptr(pfn) else {
            return false;
        };
        let n = out.len().min(PAGE_SIZE as usize);
        // SAFETY: `host_ptr` points at a whole frame of the RAM arena or a device buffer,
        // both mapped for the kernel's lifetime (`self` is borrowed from it); `out` is a
        // Rust buffer, never guest memory, and n <= PAGE_SIZE. Concurrent guest stores
        // may tear the copy but cannot make it touch memory outside the frame.
        unsafe { std::ptr::copy_nonoverlapping(p, out.as_mut_ptr(), n) };
        true
    }

    /// Test-only fault injection: the `n`-th frame allocation from now (1 = the next) fails
    /// as if RAM were exhausted; `None` turns it off.
    #[cfg(any(test, feature = "fault-injection"))]
    pub fn fail_nth_allocation(&self, n: Option<u64>) {
        lock(&self.pool).fail_countdown = n;
    }

    /// Whether an injected failure (of either kind) is still waiting to happen.
    #[cfg(any(test, feature = "fault-injection"))]
    pub fn injection_pending(&self) -> bool {
        let pool = lock(&self.pool);
        pool.fail_countdown.is_some() || pool.host_fail_countdown.is_some()
    }

    /// Test-only fault injection: the `n`-th host-arena operation from now (giving freed
    /// frames back, mapping a device buffer) fails as if the host refused; `None` turns it
    /// off.
    #[cfg(any(test, feature = "fault-injection"))]
    pub fn fail_nth_host_operation(&self, n: Option<u64>) {
        lock(&self.pool).host_fail_countdown = n;
    }

    fn count_down(counter: &mut Option<u64>) -> bool {
        match *counter {
            Some(1) => {
                *counter = None;
                true
            }
            Some(n) => {
                *counter = Some(n.saturating_sub(1));
                false
            }
            None => false,
        }
    }

    fn injected_failure(pool: &mut Pool) -> bool {
        Self::count_down(&mut pool.fail_countdown)
    }

    /// Hands out `count` zeroed frames, each with one reference, lowest free frames first
    /// (with `prefer_runs`, the lowest run of `count` consecutive free frames when one is
    /// found); all or nothing (`None`: not enough free frames).
    pub fn alloc(&self, count: usize) -> Option<FrameRefs> {
        let mut pool = lock(&self.pool);
        if count == 0 {
            return Some(FrameRefs::new());
        }
        if Self::injected_failure(&mut pool) || pool.free_count < count {
            return None;
        }
        if self.prefer_runs
            && count > 1
            && let Some(i) =
                crate::free_runs::lowest_free_run(&pool.free, pool.hint * 64, self.frames, count)
        {
            return Some(self.take_run(&mut pool, i, count));
        }
        let mut out = Vec::with_capacity(count);
        let start = 0;
        let mut w = pool.hint;
        // First the lowest free frames, then (if any is deferred) the grace period, then
        // take them: the order of hand-out is the same with or without other threads.
        let mut word = pool.free[w];
        while out.len() - start < count {
            if word == 0 {
                w += 1;
                word = pool.free[w];
                continue;
            }
            let i = w * 64 + word.trailing_zeros() as usize;
            word &= word - 1;
            out.push(self.ram_pfn(i));
        }
        // Every word below `w` gives up all its free frames below.
        pool.hint = w;
        let index = |p: &Pfn| (p.0 - self.ram_first.0) as usize;
        self.end_grace_if_any(&mut pool, out[start..].iter().map(index));
        let first = out[0].0;
        let mut off = 0;
        for (k, p) in out[start..].iter().enumerate() {
            off |= p.0 ^ (first + k as u64);
            self.take(&mut pool, index(p));
        }
        Some(FrameRefs::owning_known(out, off == 0))
    }

    /// Ends the grace period of every deferred frame when any of `frames` is deferred:
    /// one barrier and one wait for the accesses in flight, with the pool locked.
    fn end_grace_if_any(&self, pool: &mut Pool, mut frames: impl Iterator<Item = usize>) {
        if pool.deferred_count == 0 || !frames.any(|i| bit(&pool.deferred, i)) {
            return;
        }
        self.readers.synchronize();
        pool.deferred.iter_mut().for_each(|w| *w = 0);
        pool.deferred_count = 0;
    }

    /// Removes free frame `i` from the pool with one reference, zeroed.
    /// Always zeroed, even a frame never handed out or given back to the host: kernel
    /// code may have written it through the static mapping while it was free.
    fn take(&self, pool: &mut Pool, i: usize) {
        debug_assert!(
            !bit(&pool.deferred, i),
            "frame {i} handed out in its grace period"
        );
        set_bit(&mut pool.free, i, false);
        pool.free_count -= 1;
        pool.refs[i] = 1;
        if bit(&pool.dirty, i) {
            set_bit(&mut pool.dirty, i, false);
            pool.dirty_count -= 1;
        }
        self.arena.zero_frame(i);
    }

    /// Takes the free frames `i..i + count` (ending the grace period if any is in it).
    fn take_run(&self, pool: &mut Pool, i: usize, count: usize) -> FrameRefs {
        self.end_grace_if_any(pool, i..i + count);
        for j in i..i + count {
            self.take(pool, j);
        }
        FrameRefs::owning_known((i..i + count).map(|j| self.ram_pfn(j)).collect(), true)
    }

    /// Finds `count` physically contiguous free frames whose physical address satisfies
    /// `(pa & align_mask) == 0`, zeroes them and gives each one reference.
    pub fn alloc_contiguous(&self, count: usize, align_mask: u64) -> Option<FrameRefs> {
        let mut pool = lock(&self.pool);
        if count == 0 || Self::injected_failure(&mut pool) || pool.free_count < count {
            return None;
        }
        let mut i = 0usize;
        while i + count <= self.frames {
            if self.ram_pfn(i).addr() & align_mask != 0 {
                i += 1;
                continue;
            }
            match (i..i + count).find(|&j| !bit(&pool.free, j)) {
                Some(busy) => i = busy + 1,
                None => return Some(self.take_run(&mut pool, i, count)),
            }
        }
        None
    }

    /// Takes one more reference on each frame of `pfns` (for new entries that map frames
    /// others map already, or frames reached by physical address); a free RAM frame leaves
    /// the pool with its bytes as they are. Device frames are not counted.
    pub fn take_refs(&self, pfns: Vec<Pfn>) -> FrameRefs {
        self.add_refs(&pfns);
        FrameRefs::owning(pfns)
    }

    /// As [`take_refs`](Self::take_refs), for frames the caller knows to be consecutive
    /// (or not).
    pub fn take_refs_known(&self, pfns: Vec<Pfn>, consecutive: bool) -> FrameRefs {
        debug_assert!(
            !consecutive || pfns.windows(2).all(|w| w[1].0 == w[0].0 + 1),
            "frames said to be consecutive are not"
        );
        self.add_refs(&pfns);
        FrameRefs::owning_known(pfns, consecutive)
    }

    fn add_refs(&self, pfns: &[Pfn]) {
        let mut pool = lock(&self.pool);
        let indices = pfns.iter().filter_map(|&p| self.ram_index(p));
        self.end_grace_if_any(&mut pool, indices);
        // The loop of a large alias: keep everything it reads in locals.
        let Pool {
            refs,
            free,
            dirty,
            free_count,
            dirty_count,
            ..
        } = &mut *pool;
        let first = self.ram_first.0;
        for &pfn in pfns {
            let Some(r) = refs.get_mut(pfn.0.wrapping_sub(first) as usize) else {
                continue;
            };
            if *r == 0 {
                let i = (pfn.0 - first) as usize;
                set_bit(free, i, false);
                *free_count -= 1;
                if bit(dirty, i) {
                    set_bit(dirty, i, false);
                    *dirty_count -= 1;
                }
            }
            *r = r.saturating_add(1);
        }
    }

    /// Drops the references `refs` owns; frames whose count reaches zero go back to the
    /// pool (deferred while other threads exist; past the resident threshold, back to the
    /// host).
    pub fn release(&self, refs: FrameRefs) {
        let pfns = refs.into_released();
        let mut pool = lock(&self.pool);
        let defer = self.readers.others_may_translate();
        for pfn in pfns {
            let Some(i) = self.ram_index(pfn) else {
                continue;
            };
            debug_assert!(
                pool.refs[i] > 0,
                "frame {i} released more often than mapped"
            );
            if pool.refs[i] == 0 {
                continue;
            }
            pool.refs[i] -= 1;
            if pool.refs[i] == 0 {
                set_bit(&mut pool.free, i, true);
                set_bit(&mut pool.dirty, i, true);
                pool.free_count += 1;
                pool.dirty_count += 1;
                pool.hint = pool.hint.min(i / 64);
                if defer && !bit(&pool.deferred, i) {
                    set_bit(&mut pool.deferred, i, true);
                    pool.deferred_count += 1;
                }
            }
        }
        if pool.dirty_count > self.punch_threshold {
            self.punch_dirty(&mut pool);
        }
    }

    /// Gives every free frame that still holds bytes back to the host, in contiguous runs.
    fn punch_dirty(&self, pool: &mut Pool) {
        let mut i = 0;
        while i < self.frames {
            if !bit(&pool.dirty, i) {
                i += 1;
                continue;
            }
            let start = i;
            while i < self.frames && bit(&pool.dirty, i) {
                i += 1;
            }
            // A refused hole only means the host keeps the memory: frames are zeroed when
            // handed out either way, so they leave the resident list regardless.
            if !Self::count_down(&mut pool.host_fail_countdown) {
                self.arena.release_frames(start, i - start);
            }
            for j in start..i {
                set_bit(&mut pool.dirty, j, false);
            }
            pool.dirty_count -= i - start;
        }
    }

    /// The reference count of every RAM frame, for the invariant checker.
    pub fn ref_counts(&self) -> Vec<u32> {
        lock(&self.pool).refs.clone()
    }

    /// Whether RAM frame `index` is in the free pool.
    pub fn is_free(&self, index: usize) -> bool {
        bit(&lock(&self.pool).free, index)
    }

    /// Checks the pool's own bookkeeping: free bits match zero counts and the counters.
    pub fn check_pool(&self) -> Result<(), String> {
        let pool = lock(&self.pool);
        let mut free = 0;
        for i in 0..self.frames {
            let f = bit(&pool.free, i);
            if f != (pool.refs[i] == 0) {
                return Err(format!(
                    "frame {i}: free bit {f} but reference count {}",
                    pool.refs[i]
                ));
            }
            if bit(&pool.dirty, i) && !f {
                return Err(format!("frame {i} is marked dirty but is in use"));
            }
            if bit(&pool.deferred, i) && !f {
                return Err(format!("frame {i} is in its grace period but in use"));
            }
            free += usize::from(f);
        }
        if free != pool.free_count {
            return Err(format!(
                "free count {} but {free} frames are free",
                pool.free_count
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pool(frames: u64) -> PhysicalMemory {
        PhysicalMemory::new(0, frames * 4096, 0, Readers::new(), false).unwrap()
    }

    #[test]
    fn frames_are_handed_out_zeroed_and_counted() {
        let pm = pool(16);
        let v = pm.alloc(2).unwrap();
        assert_eq!(v.frames(), &[Pfn(0), Pfn(1)]);
        let p = pm.host_ptr(Pfn(0)).unwrap();
        // SAFETY: p points at a live 4 KiB frame.
        unsafe { *p = 0xAA };
        let mut frames = v.install();
        pm.release(FrameRefs::owning(vec![frames.next().unwrap()]));
        assert_eq!(pm.free_frames(), 15);
        let w = pm.alloc(1).unwrap();
        assert_eq!(w.frames(), &[Pfn(0)], "lowest free frame first");
        // SAFETY: as above.
        assert_eq!(unsafe { *p }, 0, "reused frames come back zeroed");
        pm.release(w);
        pm.release(FrameRefs::owning(frames.collect()));
        pm.check_pool().unwrap();
    }

    #[test]
    fn allocation_is_all_or_nothing() {
        let pm = pool(4);
        assert!(pm.alloc(5).is_none());
        assert_eq!(pm.free_frames(), 4);
    }

    #[test]
    fn contiguous_allocation_respects_alignment() {
        let pm = pool(64);
        let one = pm.alloc(1).unwrap();
        let run = pm.alloc_contiguous(4, 0x3FFF).unwrap();
        assert_eq!(run.frames()[0].addr(), 0x4000);
        assert_eq!(run.len(), 4);
        assert_eq!(pm.free_frames(), 64 - 5);
        assert!(pm.alloc_contiguous(61, 0).is_none());
        pm.release(one);
        pm.release(run);
    }

    #[test]
    fn a_reference_on_a_free_frame_takes_it_out_of_the_pool() {
        let pm = pool(4);
        let taken = pm.take_refs(vec![Pfn(0)]);
        let v = pm.alloc(1).unwrap();
        assert_eq!(v.frames(), &[Pfn(1)]);
        pm.check_pool().unwrap();
        pm.release(taken);
        pm.release(v);
        assert_eq!(pm.free_frames(), 4);
    }

    #[test]
    fn devices_must_not_overlap() {
        let pm = pool(4);
        assert!(
            pm.add_device("uart", 0x1000, 0x100).is_err(),
            "overlaps RAM"
        );
        pm.add_device("uart", 0x1000_0000, 0x100).unwrap();
        assert!(pm.add_device("gpio", 0x1000_0000, 0x1000).is_err());
        assert!(pm.add_device("odd", 0x2000_0800, 0x1000).is_err());
        assert_eq!(pm.kind(Pfn(0x10000)), Some(FrameKind::Device));
        assert_eq!(pm.kind(Pfn(0x10001)), None);
    }

    #[test]
    fn a_refused_punch_still_hands_frames_out_zeroed() {
        let pm = pool(4);
        let v = pm.alloc(1).unwrap();
        let p = pm.host_ptr(v.frames()[0]).unwrap();
        // SAFETY: p points at a live 4 KiB frame.
        unsafe { p.add(100).write(0x5A) };
        pm.fail_nth_host_operation(Some(1));
        pm.release(v);
        let v = pm.alloc(1).unwrap();
        // SAFETY: as above.
        assert_eq!(unsafe { p.add(100).read() }, 0);
        pm.release(v);
        pm.check_pool().unwrap();
        pm.fail_nth_host_operation(Some(1));
        assert!(pm.add_device("uart", 0x1000_0000, 0x1000).is_err());
        assert!(
            pm.add_device("uart", 0x1000_0000, 0x1000).is_ok(),
            "only the n-th fails"
        );
    }

    #[test]
    fn a_freed_frame_is_not_handed_out_while_an_access_to_it_is_in_flight() {
        let readers = Readers::new();
        let reader = readers.register();
        let _allocator = readers.register();
        let pm = Arc::new(PhysicalMemory::new(0, 4 * 4096, 0, readers, false).unwrap());
        let v = pm.alloc(1).unwrap();
        // A thread is inside an access through an old translation of the frame when the
        // frame's last mapping goes away.
        reader.enter();
        pm.release(v);
        assert_eq!(pm.free_frames(), 4, "a deferred frame still counts as free");
        pm.check_pool().unwrap();
        let done = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let taker = {
            let (pm, done) = (pm.clone(), done.clone());
            std::thread::spawn(move || {
                let w = pm.alloc(1).unwrap();
                done.store(true, std::sync::atomic::Ordering::SeqCst);
                w.into_released()
            })
        };
        std::thread::sleep(std::time::Duration::from_millis(50));
        assert!(
            !done.load(std::sync::atomic::Ordering::SeqCst),
            "the frame was handed out while the access was in flight"
        );
        reader.leave();
        let got = taker.join().unwrap();
        assert_eq!(got, vec![Pfn(0)], "lowest free first, as before");
        pm.release(FrameRefs::owning(got));
        pm.check_pool().unwrap();
    }

    #[test]
    fn fault_injection_fails_the_nth_allocation() {
        let pm = pool(8);
        pm.fail_nth_allocation(Some(2));
        let a = pm.alloc(1).unwrap();
        assert!(pm.alloc(1).is_none());
        let b = pm.alloc(1).unwrap();
        assert_eq!(pm.free_frames(), 6);
        pm.release(a);
        pm.release(b);
    }
}
