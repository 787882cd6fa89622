//! The concurrency stress workload behind `cevm stress`: many host threads make random
//! calls on shared processes (aliases across them, terminations mid-flight) while a
//! checker thread runs the invariant checker; afterwards every process is ended and every
//! RAM frame must be free again.
//!
//! The data is checked as well as the counts. Each worker also commits pages of its own in
//! a process of its own (fresh `VirtualAlloc(0, n, MEM_COMMIT)`: neither an alias nor
//! auto-commit, in a process never named to the other workers, so no other worker touches
//! them through the API, not even through an address a shared region had before it was
//! released and reused), checks that they read as zero when first read, fills them with its tag (worker
//! number and a counter) and verifies the tag later. A fresh page that is not all zero, or a
//! page that holds anything but its owner's last tag, is a data violation: a write (or a
//! read) that reached a frame after it was handed to a new owner. Pages whose process was
//! terminated, or that something decommitted, simply go away: a fault or an error is not a
//! violation.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use cevm::{
    AllocType, Config, Handle, Kernel, LockFlags, Mode, Pid, ProcessAccess, Protection, Thread,
};

/// What to run.
#[derive(Debug, Clone, Copy)]
pub struct Plan {
    /// Worker threads.
    pub threads: usize,
    /// How long they run.
    pub duration: Duration,
    /// Seed of every thread's random choices (thread i uses seed + i).
    pub seed: u64,
    /// RAM of the kernel, MiB (small, so exhaustion happens too).
    pub ram_mb: u64,
}

/// What happened.
#[derive(Debug, Clone, Default)]
pub struct Report {
    /// Calls made by all workers.
    pub calls: u64,
    /// Calls that failed with an error code (expected: random arguments).
    pub failed_calls: u64,
    /// Processes terminated while others were using them.
    pub terminations: u64,
    /// Invariant checks run while the workers ran, and after.
    pub checks: u64,
    /// Invariant violations seen (each with its message).
    pub violations: Vec<String>,
    /// Data violations: a worker's own page holding bytes it did not write.
    pub data_violations: u64,
    /// Of those, freshly committed pages that were not zero.
    pub dirty_fresh_pages: u64,
    /// The messages of the first data violations of each worker.
    pub data_examples: Vec<String>,
    /// Own pages whose data was verified (fresh-zero checks and tag checks).
    pub data_checks: u64,
    /// RAM frames not free once every process has ended.
    pub leaked_frames: usize,
    /// Wall time of the run.
    pub elapsed: Duration,
}

/// A tiny deterministic generator (xorshift64*); the workload needs variety, not quality.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }

    fn pick<T: Copy>(&mut self, v: &[T]) -> Option<T> {
        (!v.is_empty()).then(|| v[self.below(v.len() as u64) as usize])
    }
}

/// Processes the workers share: the live ones and the allocations known in each.
#[derive(Default)]
struct Shared {
    processes: Vec<Pid>,
    /// (process, address, size) of committed regions someone made.
    regions: Vec<(Pid, u32, u32)>,
}

/// Runs the plan and reports.
pub fn run(plan: Plan) -> Result<Report, String> {
    let kernel = Kernel::boot(Config {
        ram_bytes: plan.ram_mb << 20,
        ..Config::default()
    })
    .map_err(|e| e.to_string())?;
    let total = kernel.phys().total_frames();
    let shared = Arc::new(Mutex::new(Shared::default()));
    for i in 0..4 {
        let pid = kernel
            .create_process(&format!("shared{i}.exe"))
            .map_err(|e| e.to_string())?;
        lock(&shared).processes.push(pid);
    }
    let stop = Arc::new(AtomicBool::new(false));
    let calls = Arc::new(AtomicU64::new(0));
    let failed = Arc::new(AtomicU64::new(0));
    let terminations = Arc::new(AtomicU64::new(0));
    let data_checks = Arc::new(AtomicU64::new(0));
    let data_violations = Arc::new(Mutex::new((0u64, 0u64, Vec::<String>::new())));
    let start = Instant::now();
    let checker = {
        let (kernel, stop) = (kernel.clone(), stop.clone());
        std::thread::spawn(move || {
            let (mut checks, mut violations) = (0u64, Vec::new());
            while !stop.load(Ordering::Acquire) {
                checks += 1;
                if let Err(e) = kernel.check_invariants() {
                    violations.push(e);
                }
                std::thread::sleep(Duration::from_millis(5));
            }
            (checks, violations)
        })
    };
    let workers: Vec<_> = (0..plan.threads)
        .map(|i| {
            let kernel = kernel.clone();
            let shared = shared.clone();
            let stop = stop.clone();
            let counters = (
                calls.clone(),
                failed.clone(),
                terminations.clone(),
                data_checks.clone(),
                data_violations.clone(),
            );
            let seed = plan.seed.wrapping_add(i as u64) | 1;
            std::thread::spawn(move || {
                let mut w = Worker::new(kernel, shared, i as u64 + 1, seed);
                while !stop.load(Ordering::Acquire) {
                    w.step();
                }
                w.verify_all();
                counters.0.fetch_add(w.calls, Ordering::Relaxed);
                counters.1.fetch_add(w.failed, Ordering::Relaxed);
                counters.2.fetch_add(w.terminations, Ordering::Relaxed);
                counters.3.fetch_add(w.data_checks, Ordering::Relaxed);
                let mut all = counters.4.lock().unwrap_or_else(|e| e.into_inner());
                all.0 += w.data_violations;
                all.1 += w.dirty_fresh_pages;
                all.2.extend(w.data_examples);
            })
        })
        .collect();
    std::thread::sleep(plan.duration);
    stop.store(true, Ordering::Release);
    let mut report = Report::default();
    for w in workers {
        if w.join().is_err() {
            report.violations.push("a worker thread panicked".into());
        }
    }
    let (checks, violations) = checker
        .join()
        .map_err(|_| "the checker thread panicked".to_string())?;
    report.elapsed = start.elapsed();
    report.checks = checks + 1;
    report.violations.extend(violations);
    if let Err(e) = kernel.check_invariants() {
        report.violations.push(format!("after the run: {e}"));
    }
    let mut t = kernel.thread();
    for p in kernel.processes() {
        if !p.is_kernel() {
            let _ = t.terminate_process(Handle::from(p.pid()), 0);
        }
    }
    if let Err(e) = kernel.check_invariants() {
        report
            .violations
            .push(format!("after ending every process: {e}"));
    }
    report.leaked_frames = total - kernel.phys().free_frames();
    report.calls = calls.load(Ordering::Relaxed);
    report.failed_calls = failed.load(Ordering::Relaxed);
    report.terminations = terminations.load(Ordering::Relaxed);
    report.data_checks = data_checks.load(Ordering::Relaxed);
    let (count, dirty, examples) =
        std::mem::take(&mut *data_violations.lock().unwrap_or_else(|e| e.into_inner()));
    report.data_violations = count;
    report.dirty_fresh_pages = dirty;
    report.data_examples = examples;
    Ok(report)
}

fn lock(m: &Mutex<Shared>) -> std::sync::MutexGuard<'_, Shared> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

struct Worker {
    kernel: Kernel,
    t: Thread,
    shared: Arc<Mutex<Shared>>,
    rng: Rng,
    calls: u64,
    failed: u64,
    terminations: u64,
    /// This worker's number, from 1: the high bits of its tags.
    id: u64,
    /// The low bits of the next tag.
    counter: u64,
    /// The worker's own allocations, with the tag each last received.
    owned: Vec<Owned>,
    /// The process the worker's own pages live in: its own, never named to the other
    /// workers, so no other worker can write there on purpose (a shared region's address,
    /// released and reused for an own page, would otherwise take a legitimate write from
    /// a worker that picked the region before it went). A frame freed anywhere and reused
    /// here is still caught.
    own_process: Option<Pid>,
    data_checks: u64,
    data_violations: u64,
    dirty_fresh_pages: u64,
    data_examples: Vec<String>,
}

/// Pages a worker committed itself and fills with its tag.
#[derive(Debug, Clone, Copy)]
struct Owned {
    pid: Pid,
    base: u32,
    pages: u32,
    tag: u64,
}

/// The most allocations a worker owns at once (the oldest is released for a new one).
const MAX_OWNED: usize = 8;

/// The most data violations a worker keeps the message of (all are counted).
const MAX_KEPT: usize = 8;

const PAGE: usize = 0x1000;

/// A page filled with `tag`, one little-endian copy per 8 bytes.
fn tagged_page(tag: u64) -> Vec<u8> {
    tag.to_le_bytes().repeat(PAGE / 8)
}

const RW: Protection = Protection::READWRITE;

impl Worker {
    fn count<T>(&mut self, r: cevm::Result<T>) -> Option<T> {
        self.calls += 1;
        match r {
            Ok(v) => Some(v),
            Err(_) => {
                self.failed += 1;
                None
            }
        }
    }

    fn some_process(&mut self) -> Option<Pid> {
        let procs = lock(&self.shared).processes.clone();
        self.rng.pick(&procs)
    }

    fn some_region(&mut self) -> Option<(Pid, u32, u32)> {
        let regions = lock(&self.shared).regions.clone();
        self.rng.pick(&regions)
    }

    fn size(&mut self) -> u32 {
        match self.rng.below(4) {
            0 => 1 + self.rng.below(0x100) as u32,
            1 => 0x1000,
            2 => 0x1000 * (1 + self.rng.below(16) as u32),
            _ => self.rng.below(0x40000) as u32,
        }
    }

    /// One random action; every call's failure is fine, a panic or violation is not.
    fn step(&mut self) {
        let Some(pid) = self.some_process() else {
            let p = self.kernel.create_process("late.exe");
            if let Some(p) = self.count(p) {
                lock(&self.shared).processes.push(p);
            }
            return;
        };
        let mode = if self.rng.below(3) == 0 {
            Mode::User
        } else {
            Mode::Kernel
        };
        if self.t.enter(pid, mode, None).is_err() {
            return;
        }
        let h = Handle::from(pid);
        match self.rng.below(15) {
            12 => self.own_new(),
            13 => self.verify_one(),
            14 => self.release_one(),
            0..=2 => {
                let n = self.size();
                let r = self.t.virtual_alloc(0, n, AllocType::COMMIT, RW);
                if let Some(a) = self.count(r) {
                    lock(&self.shared).regions.push((pid, a, n));
                }
            }
            3 => {
                let Some((p, a, _)) = self.some_region() else {
                    return;
                };
                // Out of the shared list first: once released, the address can be reused
                // by another worker's own pages, which no shared entry may name.
                lock(&self.shared)
                    .regions
                    .retain(|&(q, b, _)| (q, b) != (p, a));
                let r = self
                    .t
                    .virtual_free_ex(Handle::from(p), a & !0xFFFF, 0, AllocType::RELEASE);
                self.count(r);
            }
            4..=5 => {
                let Some((src, a, n)) = self.some_region() else {
                    return;
                };
                let Some(dst) = self.some_process() else {
                    return;
                };
                self.t.enter(dst, Mode::Kernel, Some(src)).ok();
                let off = self.rng.below(u64::from(n.max(1))) as u32;
                let prot = if self.rng.below(2) == 0 {
                    RW
                } else {
                    Protection::READONLY
                };
                let r = self.t.virtual_alloc_copy_ex(
                    Handle::from(src),
                    Handle::from(dst),
                    a + off,
                    (n - off).max(1),
                    prot,
                );
                if let Some(p) = self.count(r) {
                    lock(&self.shared).regions.push((dst, p & !0xFFFF, n - off));
                }
            }
            6 => {
                let Some((p, a, n)) = self.some_region() else {
                    return;
                };
                if p == pid {
                    let v = self.rng.next() as u32;
                    let _ = self.t.write_u32(a + self.rng.below(u64::from(n)) as u32, v);
                    let _ = self.t.read_u32(a);
                    self.calls += 2;
                }
            }
            7 => {
                let Some((p, a, n)) = self.some_region() else {
                    return;
                };
                let prot = [
                    Protection::READONLY,
                    RW,
                    Protection::NOACCESS,
                    RW | Protection::GUARD,
                ][self.rng.below(4) as usize];
                let r = self.t.virtual_protect_ex(Handle::from(p), a, n, prot);
                self.count(r);
            }
            8 => {
                let Some((p, a, n)) = self.some_region() else {
                    return;
                };
                self.t.enter(p, Mode::Kernel, None).ok();
                let r = self.t.lock_pages(a, n, LockFlags::READ);
                if self.count(r).is_some() {
                    let r = self.t.unlock_pages(a, n);
                    self.count(r);
                }
            }
            9 => {
                let Some((p, a, n)) = self.some_region() else {
                    return;
                };
                let r = self
                    .t
                    .read_process_memory(Handle::from(p), a, n.min(0x2000));
                self.count(r);
                let r = self.t.virtual_free_ex(h, a, n, AllocType::DECOMMIT);
                self.count(r);
            }
            10 => {
                let r = self.t.open_process(ProcessAccess::VM_OPERATION, false, pid);
                if let Some(oh) = self.count(r) {
                    let r = self.t.virtual_alloc_ex(
                        oh,
                        0,
                        0x1000,
                        AllocType::RESERVE,
                        Protection::NOACCESS,
                    );
                    self.count(r);
                    let r = self.t.close_handle(oh);
                    self.count(r);
                }
            }
            _ => {
                // Rarely end a process other threads are using, and start a new one.
                if self.rng.below(20) == 0 {
                    let r = self.t.terminate_process(h, 0);
                    if self.count(r).is_some() {
                        self.terminations += 1;
                        let mut s = lock(&self.shared);
                        s.processes.retain(|&q| q != pid);
                        s.regions.retain(|&(q, _, _)| q != pid);
                        drop(s);
                        let p = self.kernel.create_process("respawn.exe");
                        if let Some(p) = self.count(p) {
                            lock(&self.shared).processes.push(p);
                        }
                    }
                }
            }
        }
    }
}

impl Worker {
    /// Worker number `id` (from 1) with its random seed.
    fn new(kernel: Kernel, shared: Arc<Mutex<Shared>>, id: u64, seed: u64) -> Self {
        Self {
            t: kernel.thread(),
            kernel,
            shared,
            rng: Rng(seed),
            calls: 0,
            failed: 0,
            terminations: 0,
            id,
            counter: 0,
            owned: Vec::new(),
            own_process: None,
            data_checks: 0,
            data_violations: 0,
            dirty_fresh_pages: 0,
            data_examples: Vec::new(),
        }
    }

    fn data_violation(&mut self, message: String) {
        self.data_violations += 1;
        if self.data_examples.len() < MAX_KEPT {
            self.data_examples.push(message);
        }
    }

    /// Whether `pid` still lives, for a violation's message: a process that has ended
    /// since means the read raced its termination.
    fn process_state(&self, pid: Pid) -> &'static str {
        if self.kernel.process(pid).is_some() {
            "its process is alive"
        } else {
            "its process has ended since"
        }
    }

    fn next_tag(&mut self) -> u64 {
        self.counter += 1;
        (self.id << 40) | (self.counter & 0xFF_FFFF_FFFF)
    }

    /// Commits 1 to 4 fresh pages in `pid` (the thread is in it), checks they read as zero,
    /// and tags them.
    fn own_new(&mut self) {
        if self.owned.len() >= MAX_OWNED {
            self.release_one();
        }
        let pid = match self.own_process {
            Some(p) => p,
            None => {
                let p = self.kernel.create_process(&format!("own{}.exe", self.id));
                let Some(p) = self.count(p) else {
                    return;
                };
                self.own_process = Some(p);
                p
            }
        };
        if self.t.enter(pid, Mode::Kernel, None).is_err() {
            return;
        }
        let pages = 1 + self.rng.below(4) as u32;
        let r = self
            .t
            .virtual_alloc(0, pages * PAGE as u32, AllocType::COMMIT, RW);
        let Some(base) = self.count(r) else {
            return;
        };
        let mut buf = vec![0u8; PAGE];
        for i in 0..pages {
            let a = base + i * PAGE as u32;
            self.calls += 1;
            if self.t.read_bytes(a, &mut buf).is_err() {
                // The process ended (or the page was decommitted) under us: gone.
                return;
            }
            self.data_checks += 1;
            if let Some(at) = buf.iter().position(|&b| b != 0) {
                let word = word_at(&buf, at);
                let state = self.process_state(pid);
                self.dirty_fresh_pages += 1;
                self.data_violation(format!(
                    "worker {}: freshly committed page 0x{a:08X} of pid 0x{:08X} is not zero: \
                     0x{word:016X} at +0x{:X}{}; {state}",
                    self.id,
                    pid.0,
                    at & !7,
                    whose(word)
                ));
                return;
            }
        }
        let mut own = Owned {
            pid,
            base,
            pages,
            tag: 0,
        };
        if self.write_tag(&mut own) {
            self.owned.push(own);
        }
    }

    /// Fills `own` with a new tag; false when its pages went away.
    fn write_tag(&mut self, own: &mut Owned) -> bool {
        let tag = self.next_tag();
        let page = tagged_page(tag);
        for i in 0..own.pages {
            self.calls += 1;
            if self
                .t
                .write_bytes(own.base + i * PAGE as u32, &page)
                .is_err()
            {
                return false;
            }
        }
        own.tag = tag;
        true
    }

    /// Checks that `own` still holds its tag; false when its pages went away (its process
    /// ended, something decommitted them) or it holds something else (a violation).
    fn verify(&mut self, own: &Owned) -> bool {
        if self.t.enter(own.pid, Mode::Kernel, None).is_err() {
            return false;
        }
        let mut buf = vec![0u8; PAGE];
        for i in 0..own.pages {
            let a = own.base + i * PAGE as u32;
            self.calls += 1;
            if self.t.read_bytes(a, &mut buf).is_err() {
                return false;
            }
            self.data_checks += 1;
            let expected = own.tag.to_le_bytes();
            if let Some(at) = buf
                .chunks_exact(8)
                .position(|w| w != expected.as_slice())
                .map(|w| w * 8)
            {
                let word = word_at(&buf, at);
                let state = self.process_state(own.pid);
                self.data_violation(format!(
                    "worker {}: page 0x{a:08X} of pid 0x{:08X} holds 0x{word:016X} at +0x{at:X} \
                     instead of its tag 0x{:016X}{}; {state}",
                    self.id,
                    own.pid.0,
                    own.tag,
                    whose(word)
                ));
                return false;
            }
        }
        true
    }

    /// Verifies one of the worker's own allocations and gives it a new tag.
    fn verify_one(&mut self) {
        if self.owned.is_empty() {
            return;
        }
        let i = self.rng.below(self.owned.len() as u64) as usize;
        let mut own = self.owned[i];
        if self.verify(&own) && self.write_tag(&mut own) {
            self.owned[i] = own;
        } else {
            self.owned.swap_remove(i);
        }
    }

    /// Verifies the oldest own allocation, then releases it (its frames go back to the
    /// pool, where other workers' fresh pages will find them).
    fn release_one(&mut self) {
        if self.owned.is_empty() {
            return;
        }
        let own = self.owned.remove(0);
        if self.verify(&own) {
            let r = self.t.virtual_free(own.base, 0, AllocType::RELEASE);
            self.count(r);
        }
    }

    /// The last look at every own allocation, once the workers have stopped.
    fn verify_all(&mut self) {
        for own in std::mem::take(&mut self.owned) {
            self.verify(&own);
        }
    }
}

/// The little-endian 8-byte word holding byte `at`.
fn word_at(buf: &[u8], at: usize) -> u64 {
    let start = at & !7;
    let mut w = [0u8; 8];
    w.copy_from_slice(&buf[start..start + 8]);
    u64::from_le_bytes(w)
}

/// " (a tag of worker N)" when `word` looks like one.
fn whose(word: u64) -> String {
    let id = word >> 40;
    if (1..=256).contains(&id) {
        format!(" (a tag of worker {id})")
    } else {
        String::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A worker in a fresh process of a small kernel, with one allocation of its own.
    fn owner() -> (Kernel, Pid, Worker) {
        let kernel = Kernel::boot(Config {
            ram_bytes: 8 << 20,
            ..Config::default()
        })
        .unwrap();
        let pid = kernel.create_process("p.exe").unwrap();
        let mut w = Worker::new(kernel.clone(), Arc::default(), 3, 1);
        w.own_process = Some(pid);
        w.own_new();
        assert_eq!(w.owned.len(), 1, "{:?}", w.data_examples);
        assert_eq!(w.data_violations, 0);
        (kernel, pid, w)
    }

    #[test]
    fn an_untouched_own_page_keeps_its_tag_through_verify_and_retag() {
        let (_, _, mut w) = owner();
        let first = w.owned[0].tag;
        w.verify_one();
        w.verify_one();
        assert_eq!(w.data_violations, 0, "{:?}", w.data_examples);
        assert_eq!(w.owned.len(), 1);
        assert_eq!(w.owned[0].tag, first + 2);
        assert_eq!(first >> 40, 3, "the tag carries the worker number");
    }

    #[test]
    fn a_word_written_behind_the_owner_is_a_data_violation_naming_it() {
        let (kernel, pid, mut w) = owner();
        let own = w.owned[0];
        let mut other = kernel.thread();
        other.enter(pid, Mode::Kernel, None).unwrap();
        let last_page = own.base + (own.pages - 1) * PAGE as u32;
        other.write_u32(last_page + 0x18, 0xDEAD_BEEF).unwrap();
        w.verify_one();
        assert_eq!(w.data_violations, 1);
        assert!(w.owned.is_empty());
        let msg = &w.data_examples[0];
        assert!(
            msg.contains(&format!("page 0x{last_page:08X}")) && msg.contains("at +0x18"),
            "{msg}"
        );
    }

    #[test]
    fn pages_of_a_terminated_process_go_away_without_a_violation() {
        let (kernel, pid, mut w) = owner();
        kernel
            .thread()
            .terminate_process(Handle::from(pid), 0)
            .unwrap();
        w.verify_one();
        assert_eq!(w.data_violations, 0);
        assert!(w.owned.is_empty());
    }

    #[test]
    fn own_pages_decommitted_by_someone_else_go_away_without_a_violation() {
        let (kernel, pid, mut w) = owner();
        let own = w.owned[0];
        let mut other = kernel.thread();
        other.enter(pid, Mode::Kernel, None).unwrap();
        other
            .virtual_free(own.base, own.pages * PAGE as u32, AllocType::DECOMMIT)
            .unwrap();
        w.verify_one();
        assert_eq!(w.data_violations, 0);
        assert!(w.owned.is_empty());
    }
}
